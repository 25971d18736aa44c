//! `lockstep sweep`: one run per seed, judged as one run (a `sometimes` it did
//! not reach is not a violation of that run); `sometimes` properties are judged
//! over the whole sweep; planted bugs are still found.

use std::future::Future;
use std::pin::Pin;

use lockstep::cli::{ModelEntry, Registry};
use lockstep::explore::schedules::ImplModel;
use lockstep::explore::PropertyKind;
use lockstep::report::Bounds;
use lockstep::rt;

use super::{cli, json};

fn host_seed_story() -> String {
    format!(
        "{}/../scenarios/host/impl-storage-outage-seed.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The sweep's row for `variant`.
fn row<'a>(summary: &'a serde_json::Value, variant: &str) -> &'a serde_json::Value {
    summary["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variant"] == variant)
        .unwrap_or_else(|| panic!("no row for {variant} in {summary}"))
}

#[test]
fn a_sweep_of_the_fixed_host_finds_no_violation_and_still_finds_the_deadlock() {
    let story = host_seed_story();
    let (code, out) = cli(&["sweep", &story, "--seeds", "1..21", "--json"]);
    let summary = json(&out);
    // Under exhaustive DFS fix-11825 holds here; a random run that takes no
    // storage outage must not be reported as a violation.
    let fixed = row(&summary, "fix-11825");
    assert_eq!(fixed["runs"], 20, "{fixed}");
    assert_eq!(fixed["violations"], 0, "{fixed}");
    assert_eq!(
        fixed["sometimes_unreached"],
        serde_json::json!([]),
        "{fixed}"
    );
    assert_eq!(fixed["ok"], true, "{fixed}");
    // The planted bug (the #10766 deadlock) is still found, with a replay.
    let buggy = row(&summary, "pre-10766");
    assert!(buggy["violations"].as_u64().unwrap() > 0, "{buggy}");
    assert_eq!(buggy["property"], "deadlock", "{buggy}");
    assert!(buggy["replay"].as_str().unwrap().contains("--schedule"));
    assert_eq!(code, 0, "every variant met its expectation: {out}");
}

/// A toy whose `variant` picks the bug: `outage` is a fault half the runs take.
struct Coin {
    variant: String,
}

impl ImplModel for Coin {
    fn name(&self) -> String {
        "coin".into()
    }
    fn variant(&self) -> String {
        self.variant.clone()
    }
    fn bounds(&self) -> Bounds {
        Bounds::new()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let variant = self.variant.clone();
        Box::pin(async move {
            let outage = rt::choose_bool("outage");
            rt::yield_now().await;
            rt::sometimes("outage-seen", outage);
            // The planted vacuity: an event the code can never produce.
            rt::sometimes("recovered", variant != "vacuous" && outage);
            // The planted bug: an outage breaks an invariant.
            rt::always("survives-outage", variant != "buggy" || !outage, || {
                "the outage broke the invariant".into()
            });
        })
    }
    fn properties(&self) -> Vec<(String, PropertyKind)> {
        vec![
            ("outage-seen".into(), PropertyKind::Sometimes),
            ("recovered".into(), PropertyKind::Sometimes),
            ("survives-outage".into(), PropertyKind::Always),
        ]
    }
}

fn coin_registry() -> Registry {
    let entry = ModelEntry::new(
        "coin",
        "a fault half the runs take",
        &["ok", "vacuous", "buggy"],
    )
    .with_impl(Bounds::new(), |variant, _, _, _| {
        Ok(Coin {
            variant: variant.to_string(),
        })
    })
    .default_level("impl");
    Registry {
        models: vec![entry],
        ..Default::default()
    }
}

/// Sweeps a scenario of the coin model expecting every variant to hold.
fn sweep_coin(seeds: &str, shard: Option<&str>) -> (i32, serde_json::Value) {
    let dir = std::env::temp_dir().join(format!("lockstep-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("coin.toml");
    std::fs::write(
        &path,
        "model = \"coin\"\nvariants = [\"ok\", \"vacuous\", \"buggy\"]\n[expect]\nverdict = \"holds\"\n",
    )
    .unwrap();
    let mut argv: Vec<String> = [
        "lockstep",
        "sweep",
        path.to_str().unwrap(),
        "--seeds",
        seeds,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(shard) = shard {
        argv.extend(["--shard".to_string(), shard.to_string()]);
    }
    argv.push("--json".into());
    let mut out = Vec::new();
    let code = lockstep::cli::run_cli(&coin_registry(), &argv, &mut out);
    (code, json(&String::from_utf8(out).unwrap()))
}

#[test]
fn a_sweep_judges_sometimes_over_all_runs_and_finds_a_planted_bug() {
    let (code, summary) = sweep_coin("0..20", None);
    assert_eq!(code, 1, "{summary}");
    let ok = row(&summary, "ok");
    assert_eq!(ok["violations"], 0, "{ok}");
    assert_eq!(
        ok["ok"], true,
        "each sometimes is reached by some run: {ok}"
    );
    let vacuous = row(&summary, "vacuous");
    assert_eq!(vacuous["violations"], 0, "{vacuous}");
    assert_eq!(
        vacuous["sometimes_unreached"],
        serde_json::json!(["recovered"])
    );
    assert_eq!(
        vacuous["ok"], false,
        "no run reached `recovered`: {vacuous}"
    );
    let buggy = row(&summary, "buggy");
    let found = buggy["violations"].as_u64().unwrap();
    assert!(found > 0 && found < 20, "about half the runs: {buggy}");
    assert_eq!(buggy["property"], "survives-outage", "{buggy}");
    assert_eq!(buggy["ok"], false);
}

#[test]
fn a_shard_lists_the_sometimes_it_missed_without_failing_on_them() {
    let (_, summary) = sweep_coin("0..20", Some("1/4"));
    let vacuous = row(&summary, "vacuous");
    assert_eq!(vacuous["runs"], 5);
    assert_eq!(
        vacuous["sometimes_unreached"],
        serde_json::json!(["recovered"])
    );
    assert_eq!(
        vacuous["ok"], true,
        "the union of the shards judges: {vacuous}"
    );
}
