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
    }
}
