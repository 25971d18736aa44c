//! Every scenario file under `scenarios/` (except `scenarios/slow/`, which runs
//! only with `LOCKSTEP_SLOW=1`): each variant must meet the expectation the file
//! states, and running it twice must give a byte-identical trace (JSONL).

use lockstep::cli::commands_scenarios::{load, run_variant, scenario_files};
use lockstep_models::registry::registry;

fn scenario_root() -> String {
    format!("{}/../scenarios", env!("CARGO_MANIFEST_DIR"))
}

fn fast_scenarios() -> Vec<String> {
    let slow = std::env::var("LOCKSTEP_SLOW").is_ok_and(|v| v == "1");
    scenario_files(&scenario_root())
        .into_iter()
        .filter(|p| slow || !p.contains("/slow/"))
        .filter(|p| !p.contains("/negative/"))
        .collect()
}

#[test]
fn every_scenario_meets_its_expectation_and_is_deterministic() {
    let registry = registry();
    let files = fast_scenarios();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &files {
        let scenario = load(path).unwrap_or_else(|e| panic!("{}", e.0));
        if registry.find(&scenario.model).is_none() {
            failures.push(format!(
                "{path}: model `{}` is not registered",
                scenario.model
            ));
            continue;
        }
        for variant in scenario.variants() {
            let (first, met) = run_variant(&registry, &scenario, &variant, None)
                .unwrap_or_else(|e| panic!("{path} [{variant}]: {}", e.0));
            checked += 1;
            if !met {
                failures.push(format!(
                    "{path} [{variant}]: expected {:?}, got {} {:?}\n  replay: {}",
                    scenario.expected_for(&variant),
                    first.verdict.as_str(),
                    first.property,
                    first.replay
                ));
            }
            if first.verdict == lockstep::Verdict::Violated {
                failures.extend(replay_reproduces(path, &variant, &first));
                snapshot_counterexample(path, &variant, &first);
            }
            let (second, _) = run_variant(&registry, &scenario, &variant, None).unwrap();
            let (a, b) = (
                lockstep::trace::to_jsonl(&first.trace),
                lockstep::trace::to_jsonl(&second.trace),
            );
            if a != b {
                failures.push(format!(
                    "{path} [{variant}]: two runs gave different traces"
                ));
            }
            if first.schedule != second.schedule
                || first.states != second.states
                || first.schedules != second.schedules
            {
                failures.push(format!(
                    "{path} [{variant}]: two runs gave different figures"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} scenario failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{checked} scenario variants checked twice");
}

/// Runs the replay command a violation printed (in-process) and checks that it
/// reproduces the violation with a byte-identical trace.
fn replay_reproduces(path: &str, variant: &str, report: &lockstep::Report) -> Option<String> {
    if !report.replay.starts_with("lockstep replay ") {
        return Some(format!(
            "{path} [{variant}]: no replay command printed (got `{}`)",
            report.replay
        ));
    }
    let mut args: Vec<&str> = report.replay.split_whitespace().skip(1).collect();
    args.extend(["--format", "json"]);
    let (code, jsonl) = crate::cli::cli(&args);
    if code != 1 {
        return Some(format!(
            "{path} [{variant}]: `{}` exited {code}, not 1",
            report.replay
        ));
    }
    let replayed = lockstep::trace::from_jsonl(&jsonl).ok()?;
    (replayed != report.trace).then(|| {
        format!(
            "{path} [{variant}]: `{}` gave a different trace",
            report.replay
        )
    })
}

/// Pins the counterexample of a violated scenario variant as an insta snapshot
/// (the one-line-per-event list form).
fn snapshot_counterexample(path: &str, variant: &str, report: &lockstep::Report) {
    let file = std::path::Path::new(path)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let dir = std::path::Path::new(path)
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let name = format!("{dir}__{file}__{variant}");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(format!(
        "{} {} ({})",
        report.model,
        report.variant,
        report.property.clone().unwrap_or_default()
    ));
    settings.bind(|| {
        insta::assert_snapshot!(name, lockstep::trace::render_list(&report.trace));
    });
}

/// Negative scenarios (`scenarios/negative/`) are files with mistakes: each
/// must be rejected with a positioned error (exit 2), never a panic.
#[test]
fn negative_scenarios_are_rejected_with_positions() {
    let files: Vec<String> = scenario_files(&scenario_root())
        .into_iter()
        .filter(|p| p.contains("/negative/"))
        .collect();
    for path in &files {
        let err = match load(path) {
            Err(e) => e.0,
            Ok(scenario) => {
                // Parsed, so the mistake must be semantic: running must refuse it.
                let registry = registry();
                match scenario.variants().first() {
                    Some(v) => match run_variant(&registry, &scenario, v, None) {
                        Err(e) => e.0,
                        Ok(_) => panic!("{path}: a negative scenario was accepted"),
                    },
                    None => panic!("{path}: no variants"),
                }
            }
        };
        assert!(
            err.contains(".toml"),
            "{path}: error does not name the file: {err}"
        );
        // `file.toml:line:column: ...`, also when the model rejected a bound.
        let position = err.split_once(".toml:").map(|(_, rest)| {
            rest.splitn(3, ':')
                .take(2)
                .all(|n| n.parse::<u32>().is_ok())
        });
        assert_eq!(position, Some(true), "{path}: error has no position: {err}");
    }
}
