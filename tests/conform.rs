//! Regression-proofing other implementations: the plug-in API (teamhost and
//! its planted mutant), trace conformance of JSONL traces (a hand-edited
//! missing release), real host logs (the seed story, #11824, a healthy
//! restart), and bad input that must give clear errors, never a panic.

use std::sync::Arc;

use lockstep::conform::{check_trace, from_trace, parse_jsonl, ConformOptions};
use lockstep::explore::schedules;
use lockstep::explore::{CheckOptions, Strategy};
use lockstep::report::{Bounds, Verdict};
use lockstep_models::host_abstract::HostAbstract;
use lockstep_models::hostlog::parse_host_log;
use lockstep_models::plugin::{HostPlugin, PluginModel};
use proptest::prelude::*;

use crate::cli::cli;

fn sample(name: &str) -> String {
    format!("{}/../scenarios/logs/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).expect("one JSON object on stdout")
}

fn teamhost(variant: &str) -> PluginModel {
    let plugin: Arc<dyn HostPlugin> = Arc::new(teamhost::TeamHostPlugin);
    let bounds = Bounds::from([("R".to_string(), 1), ("F".to_string(), 1)]);
    PluginModel::new(plugin, variant, &bounds).expect("teamhost builds")
}

fn dfs() -> CheckOptions {
    CheckOptions {
        strategy: Strategy::Dfs,
        // The plug-in uses its own primitives: no reduction (what `register` does).
        no_reduction: true,
        ..CheckOptions::default()
    }
}

// ---- plug-in API ------------------------------------------------------------------------

#[test]
fn teamhost_holds_exhaustively_through_the_plugin_api() {
    let report = schedules::check(&teamhost("ok"), &dfs());
    assert_eq!(report.verdict, Verdict::Holds, "{:#?}", report.notes);
    assert!(
        report.schedules > 100,
        "explored {} schedules",
        report.schedules
    );
    for p in [
        "conforms-to-spec",
        "restart-during-start",
        "storage-outage",
        "ends-running",
    ] {
        let found = report.properties.iter().find(|r| r.name == p);
        assert_eq!(
            found.map(|r| r.verdict),
            Some(Verdict::Holds),
            "{p}: {:?}",
            report.properties
        );
    }
}

#[test]
fn the_inline_restart_mutant_is_caught_and_its_trace_agrees_with_the_buggy_spec() {
    let model = teamhost("mutant-inline-restart");
    let report = schedules::check(&model, &dfs());
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let violated: Vec<&str> = report
        .properties
        .iter()
        .filter(|p| p.verdict == Verdict::Violated)
        .map(|p| p.name.as_str())
        .collect();
    assert!(violated.contains(&"conforms-to-spec"), "{violated:?}");
    // The counterexample replays byte for byte.
    let schedule: schedules::Schedule = report.schedule.clone().unwrap().parse().unwrap();
    let again = schedules::replay(&model, &schedule).unwrap();
    assert_eq!(again.trace, report.trace);
    // The two levels agree: the implementation's counterexample, as lifecycle
    // events, is a run of the buggy protocol model that ends deadlocked.
    let mut events = from_trace(&report.trace);
    let end = events.last().unwrap().time_ms + 600_000;
    events.push(lockstep::conform::LifecycleEvent::new(
        events.len() as u64 + 1,
        end,
        "",
        "trace.end",
    ));
    let bounds = Bounds::from([
        ("R".to_string(), 1),
        ("F".to_string(), 1),
        ("A".to_string(), 2),
    ]);
    let buggy = HostAbstract::new("buggy", &bounds).unwrap();
    let out = check_trace(&buggy, &events, &ConformOptions::default());
    assert!(out.rejection.is_none(), "{:#?}", out.notes);
    assert_eq!(
        out.property.as_deref(),
        Some("deadlock"),
        "{:#?}",
        out.notes
    );
}

#[test]
fn random_and_pct_find_the_mutant_too() {
    for strategy in [Strategy::Random, Strategy::Pct] {
        let opts = CheckOptions {
            strategy: strategy.clone(),
            budget_schedules: 2_000,
            seed: 7,
            ..CheckOptions::default()
        };
        let report = schedules::check(&teamhost("mutant-inline-restart"), &opts);
        assert_eq!(report.verdict, Verdict::Violated, "{strategy:?}");
    }
}

/// The built-in host implementation model goes through the same plug-in API
/// (model `host-plugin`): the fix holds exhaustively, the original deadlocks.
#[test]
fn the_builtin_host_model_is_checked_through_the_plugin_api() {
    let (code, out) = cli(&["check", "host-plugin", "--variant", "fix-11825", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(v["level"], "impl");
    assert!(v["schedules"].as_u64().unwrap() > 100, "{out}");
    assert!(v["states"].as_u64().unwrap() > 10_000, "{out}");
    let (code, out) = cli(&["check", "host-plugin", "--variant", "pre-10766", "--json"]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["property"], "deadlock");
    assert!(v["replay"]
        .as_str()
        .unwrap()
        .starts_with("lockstep replay host-plugin --variant pre-10766"));
}

#[test]
fn plugin_bounds_and_variants_are_validated() {
    let plugin: Arc<dyn HostPlugin> = Arc::new(teamhost::TeamHostPlugin);
    let err = |v: &str, b: &[(&str, i64)]| {
        let bounds = b.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        PluginModel::new(plugin.clone(), v, &bounds).err().unwrap()
    };
    assert!(err("nope", &[]).contains("unknown variant"));
    assert!(err("ok", &[("Q", 1)]).contains("unknown bound"));
    assert!(err("ok", &[("R", 99)]).contains("out of range"));
    assert!(err("ok", &[("S", 2)]).contains("out of range 0..=1"));
}

// ---- the built-in host implementation model, projected -------------------------------------

/// Runs of the built-in `host` implementation model (written directly on
/// `lockstep::rt`), reduced to their semaphore operations, are runs of the
/// `host` protocol model of the same variant: the two levels agree.
#[test]
fn host_impl_runs_conform_to_the_host_spec_on_the_semaphore() {
    use lockstep::conform::{from_rt_semaphore, LifecycleEvent};
    use lockstep_models::host::{HostImpl, HostSpec};
    let only = Some(vec!["sem.acquire".to_string(), "sem.release".to_string()]);
    let opts = ConformOptions {
        only,
        ..ConformOptions::default()
    };
    for variant in ["pre-10766", "fix-11142", "fix-11825"] {
        let bounds = HostImpl::default_bounds();
        let model = HostImpl::new(variant, &bounds).unwrap();
        let spec = HostSpec::new(variant, &bounds).unwrap();
        let (mut deadlocks, mut checked) = (0, 0);
        for seed in 0..16 {
            let report = schedules::replay_seed(&model, &Strategy::Random, seed, 3).unwrap();
            let mut events = from_rt_semaphore(&report.trace, "host-start-semaphore");
            if events.is_empty() {
                continue; // a shutdown came before any start took the semaphore
            }
            checked += 1;
            let end = report.trace.last().map_or(0, |e| e.time_ms) + 600_000;
            events.push(LifecycleEvent::new(
                events.len() as u64 + 1,
                end,
                "",
                "trace.end",
            ));
            let out = check_trace(&spec, &events, &opts);
            assert!(
                out.rejection.is_none(),
                "{variant} seed {seed}: {:#?}",
                out.notes
            );
            if report.property.as_deref() == Some("deadlock") {
                deadlocks += 1;
                assert!(
                    !out.held_at_end.is_empty(),
                    "{variant} seed {seed}: {:#?}",
                    out.notes
                );
            }
        }
        assert!(
            checked >= 5,
            "{variant}: only {checked} runs took the semaphore"
        );
        if variant == "fix-11825" {
            assert_eq!(deadlocks, 0);
        }
    }
}

// ---- JSONL traces -----------------------------------------------------------------------

#[test]
fn a_recorded_restart_trace_conforms() {
    let (code, out) = cli(&[
        "conform",
        "--model",
        "host-abstract",
        &sample("teamhost-restart.jsonl"),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(v["level"], "conform");
    assert_eq!(v["verdict"], "holds");
    assert_eq!(v["trace"].as_array().map(Vec::len), Some(0));
}

#[test]
fn a_hand_edited_trace_with_a_missing_release_is_rejected_at_the_next_acquire() {
    let (code, out) = cli(&[
        "conform",
        "--model",
        "host-abstract",
        "--variant",
        "fixed",
        &sample("missing-release.jsonl"),
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["property"], "conformance");
    let notes: Vec<String> = serde_json::from_value(v["notes"].clone()).unwrap();
    assert!(
        notes[0].starts_with("line 16: `sem.acquire by restart-service`"),
        "{notes:?}"
    );
    assert!(
        notes[1].contains("sem.release by Requester[0] (trace actor restart#1)"),
        "{notes:?}"
    );
    // The trace stops at the rejected event.
    assert_eq!(v["trace"].as_array().map(Vec::len), Some(16));
}

#[test]
fn conform_is_deterministic() {
    let args = ["conform", "--from", "host-log", "--json"];
    let run = || {
        let mut a = args.to_vec();
        let path = sample("seed-story-10766.log");
        a.push(&path);
        let (code, out) = cli(&a);
        let mut v = json(&out);
        v["elapsed_ms"] = 0.into();
        (code, v)
    };
    assert_eq!(run(), run());
}

// ---- real host logs ---------------------------------------------------------------------

#[test]
fn the_seed_story_log_is_a_deadlock_witness() {
    let log = sample("seed-story-10766.log");
    let (code, out) = cli(&["conform", "--from", "host-log", &log, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(
        (v["model"].as_str(), v["variant"].as_str()),
        (Some("host"), Some("fix-11825"))
    );
    assert_eq!(v["property"], "deadlock");
    let notes = v["notes"].to_string();
    // Against the fixed spec it leaves the model at the inline restart (log line 21).
    assert!(
        notes.contains("line 21: `restart.requested by start#2"),
        "{notes}"
    );
    assert!(notes.contains("held by start#2"), "{notes}");
    // Against the spec of the code it came from, it conforms and ends deadlocked.
    let (code, out) = cli(&[
        "conform",
        "--from",
        "host-log",
        "--variant",
        "pre-10766",
        &log,
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["property"], "deadlock");
    assert!(
        !v["notes"].to_string().contains("does not conform"),
        "{out}"
    );
    assert!(
        v["wait_for"][0]["task"]
            .as_str()
            .unwrap()
            .starts_with("start#2"),
        "{out}"
    );
    // And at the abstract level too.
    let (code, out) = cli(&[
        "conform",
        "--model",
        "host-abstract",
        "--from",
        "host-log",
        "--variant",
        "buggy",
        &log,
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["property"], "deadlock");
    assert!(
        !v["notes"].to_string().contains("does not conform"),
        "{out}"
    );
    assert_eq!(v["wait_for"][0]["task"], "Starter[1]");
}

/// The log converted to schema-v1 JSON Lines (`--print-events`, committed as
/// the `.jsonl` sample) is the same evidence: same verdict from any language.
#[test]
fn the_converted_seed_story_gives_the_same_verdict_as_jsonl() {
    let (code, printed) = cli(&[
        "conform",
        "--from",
        "host-log",
        "--print-events",
        &sample("seed-story-10766.log"),
    ]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(sample("seed-story-10766.jsonl")).unwrap();
    assert_eq!(printed, committed, "regenerate with --print-events");
    let (code, out) = cli(&[
        "conform",
        "--model",
        "host",
        &sample("seed-story-10766.jsonl"),
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(json(&out)["property"], "deadlock");
}

#[test]
fn the_11824_log_is_a_deadlock_witness() {
    let log = sample("issue-11824.log");
    let (code, out) = cli(&["conform", "--from", "host-log", &log, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["property"], "deadlock");
    assert!(
        v["notes"]
            .to_string()
            .contains("line 15: `restart.requested by start#2"),
        "{out}"
    );
    // #11142 did not fix this path: the log is a run of that variant, deadlocked.
    let (code, out) = cli(&[
        "conform",
        "--from",
        "host-log",
        "--variant",
        "fix-11142",
        &log,
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    assert_eq!(v["property"], "deadlock");
    assert!(
        !v["notes"].to_string().contains("does not conform"),
        "{out}"
    );
    let parsed = parse_host_log(&std::fs::read_to_string(&log).unwrap()).unwrap();
    let fail = parsed
        .events
        .iter()
        .find(|e| e.event == "start.fail")
        .unwrap();
    assert_eq!(
        fail.fields["error"], "worker",
        "the timeout continuation line refines the error"
    );
    assert!(parsed
        .events
        .iter()
        .any(|e| e.event == "channel.fail" && e.fields["reason"] == "timeout"));
}

#[test]
fn a_healthy_restart_log_conforms() {
    for model in ["host", "host-abstract"] {
        let (code, out) = cli(&[
            "conform",
            "--model",
            model,
            "--from",
            "host-log",
            &sample("healthy-restart.log"),
            "--json",
        ]);
        assert_eq!(code, 0, "{out}");
        let v = json(&out);
        assert_eq!(v["verdict"], "holds");
        // The log runs on for minutes after the restart: liveness is judged.
        let eventually = v["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "eventually")
            .map(|p| p["verdict"].clone());
        assert_eq!(eventually, Some("holds".into()), "{out}");
    }
}

#[test]
fn unknown_log_lines_are_skipped_and_counted() {
    let text = std::fs::read_to_string(sample("healthy-restart.log")).unwrap();
    let parsed = parse_host_log(&text).unwrap();
    assert_eq!(parsed.unknown, 3);
    assert!(
        parsed.notes[0].contains("3 unknown line(s) skipped"),
        "{:?}",
        parsed.notes
    );
    assert!(parsed
        .notes
        .iter()
        .any(|n| n.contains("line 13: File change of type")));
    let (_, out) = cli(&[
        "conform",
        "--from",
        "host-log",
        &sample("healthy-restart.log"),
        "--json",
    ]);
    assert!(json(&out)["notes"][0]
        .as_str()
        .unwrap()
        .contains("3 unknown line(s) skipped"));
}

// ---- bad input --------------------------------------------------------------------------

#[test]
fn malformed_input_gives_clear_errors_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("lockstep-conform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().to_string()
    };
    let bad_json = write(
        "bad.jsonl",
        "{\"v\":1,\"seq\":1,\"time_ms\":0,\"event\":\"sem.acquire\"}\n{oops\n",
    );
    assert_eq!(
        cli(&["conform", "--model", "host-abstract", &bad_json]).0,
        2
    );
    let bad_event = write(
        "event.jsonl",
        "{\"v\":1,\"seq\":1,\"time_ms\":0,\"event\":\"sem.grab\"}\n",
    );
    assert_eq!(
        cli(&["conform", "--model", "host-abstract", &bad_event]).0,
        2
    );
    let not_a_log = write("log.txt", "hello\nworld\n");
    assert_eq!(cli(&["conform", "--from", "host-log", &not_a_log]).0, 2);
    assert_eq!(
        cli(&[
            "conform",
            "--model",
            "host-abstract",
            "/nonexistent/trace.jsonl"
        ])
        .0,
        2
    );
    assert_eq!(cli(&["conform", "--from", "pcap", &bad_json]).0, 2);
    assert_eq!(cli(&["conform", "--model", "nope", &bad_json]).0, 2);
    let good = sample("teamhost-restart.jsonl");
    assert_eq!(
        cli(&[
            "conform",
            "--model",
            "host-abstract",
            "--variant",
            "wobbly",
            &good
        ])
        .0,
        2
    );
    assert_eq!(
        cli(&[
            "conform",
            "--model",
            "host-abstract",
            "--bound",
            "R=x",
            &good
        ])
        .0,
        2
    );
    // A budget too small for the trace is inconclusive (exit 3), not an error.
    assert_eq!(
        cli(&[
            "conform",
            "--model",
            "host-abstract",
            "--budget-states",
            "1",
            &good
        ])
        .0,
        3
    );
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_either_parser(text in "\\PC{0,300}") {
        let _ = parse_jsonl(&text);
        let _ = parse_host_log(&text);
    }

    #[test]
    fn mangled_sample_logs_never_panic_the_checker(cut in 0usize..4000, junk in "[ -~]{0,40}") {
        let text = std::fs::read_to_string(sample("seed-story-10766.log")).unwrap();
        let at = text.char_indices().map(|(i, _)| i).find(|&i| i >= cut.min(text.len())).unwrap_or(text.len());
        let mangled = format!("{}{junk}\n{}", &text[..at], &text[at..]);
        if let Ok(parsed) = parse_host_log(&mangled) {
            let bounds = Bounds::from([("R".to_string(), 1), ("F".to_string(), 1), ("A".to_string(), 2)]);
            let model = HostAbstract::new("fixed", &bounds).unwrap();
            let _ = check_trace(&model, &parsed.events, &ConformOptions::default());
        }
    }
}
