//! The CLI contract: commands, exit codes (0 holds, 1 violated, 2 bad input,
//! 3 inconclusive), `--json` keys, and the replay command a failure prints.

use lockstep_models::registry::registry;

mod progress;
mod sweep;

/// Runs the CLI in-process; returns (exit code, stdout).
pub fn cli(args: &[&str]) -> (i32, String) {
    let mut argv = vec!["lockstep".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let mut out = Vec::new();
    let code = lockstep::cli::run_cli(&registry(), &argv, &mut out);
    (code, String::from_utf8(out).expect("utf-8 output"))
}

pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).expect("one JSON object on stdout")
}

#[test]
fn json_report_has_the_contract_keys() {
    let (code, out) = cli(&[
        "check",
        "host-abstract",
        "--variant",
        "fixed",
        "--bound",
        "R=1",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    for key in [
        "model",
        "variant",
        "level",
        "strategy",
        "bounds",
        "verdict",
        "property",
        "states",
        "schedules",
        "elapsed_ms",
        "trace",
        "replay",
        "seed",
    ] {
        assert!(v.get(key).is_some(), "missing key {key} in {out}");
    }
    assert_eq!(v["verdict"], "holds");
    assert_eq!(v["bounds"]["R"], 1);
    assert!(v["states"].as_u64().unwrap() > 0);
    assert_eq!(v["trace"].as_array().unwrap().len(), 0);
}

#[test]
fn a_violation_exits_1_and_its_replay_command_reproduces_it() {
    let (code, out) = cli(&[
        "check",
        "host-abstract",
        "--variant",
        "buggy",
        "--bound",
        "F=1",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v = json(&out);
    assert_eq!(v["verdict"], "violated");
    assert_eq!(v["property"], "deadlock");
    let replay = v["replay"].as_str().unwrap().to_string();
    assert!(
        replay.starts_with("lockstep replay host-abstract --variant buggy"),
        "{replay}"
    );
    // Run the printed command (minus the program name) and compare traces.
    let args: Vec<&str> = replay.split_whitespace().skip(1).collect();
    let mut with_json = args.clone();
    with_json.extend(["--format", "json"]);
    let (code, jsonl) = cli(&with_json);
    assert_eq!(code, 1, "replay must reproduce the violation");
    let replayed = lockstep::trace::from_jsonl(&jsonl).unwrap();
    let original: Vec<lockstep::trace::TraceEvent> =
        serde_json::from_value(v["trace"].clone()).unwrap();
    assert_eq!(replayed, original, "replay must give the identical trace");
}

#[test]
fn bad_input_exits_2_never_panics() {
    assert_eq!(cli(&["check", "no-such-model"]).0, 2);
    assert_eq!(cli(&["check", "host-abstract", "--variant", "nope"]).0, 2);
    assert_eq!(
        cli(&[
            "check",
            "host-abstract",
            "--variant",
            "fixed",
            "--bound",
            "Q=1"
        ])
        .0,
        2
    );
    assert_eq!(
        cli(&[
            "check",
            "host-abstract",
            "--variant",
            "fixed",
            "--bound",
            "R=x"
        ])
        .0,
        2
    );
    assert_eq!(
        cli(&[
            "check",
            "host-abstract",
            "--variant",
            "fixed",
            "--strategy",
            "zig"
        ])
        .0,
        2
    );
    assert_eq!(
        cli(&[
            "replay",
            "host-abstract",
            "--variant",
            "buggy",
            "--schedule",
            "0.x"
        ])
        .0,
        2
    );
    assert_eq!(
        cli(&[
            "replay",
            "host-abstract",
            "--variant",
            "buggy",
            "--schedule",
            "7.7.7"
        ])
        .0,
        2
    );
    assert_eq!(cli(&["run", "does/not/exist.toml"]).0, 2);
    assert_eq!(cli(&["sweep", "x.toml", "--seeds", "5..1"]).0, 2);
    assert_eq!(cli(&["frobnicate"]).0, 2);
}

#[test]
fn an_exhausted_budget_is_inconclusive_exit_3() {
    let (code, out) = cli(&[
        "check",
        "host-abstract",
        "--variant",
        "fixed",
        "--bound",
        "R=3",
        "--budget-states",
        "100",
        "--json",
    ]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(json(&out)["verdict"], "inconclusive");
}

#[test]
fn list_names_models_and_variants() {
    let (code, out) = cli(&["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("host-abstract") && out.contains("buggy, fixed"),
        "{out}"
    );
}
