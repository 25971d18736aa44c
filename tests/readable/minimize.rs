//! Minimization: long random counterexamples shrink to (nearly) the BFS length at
//! the protocol level, and to one preemption and no fault at the implementation
//! level; BFS counterexamples are left alone with a note saying they are shortest.

use lockstep::explore::minimize::{self, DEFAULT_BUDGET};
use lockstep::explore::protocol::{self, ProtocolOptions};
use lockstep::explore::schedules::{self, Schedule};
use lockstep::explore::{CheckOptions, Strategy};
use lockstep::report::{Bounds, Report, Verdict};
use lockstep_models::host::HostSpec;

use super::toys::noisy_deadlock;

/// Bounds with room for long random walks.
const WIDE: [(&str, i64); 4] = [
    ("attempts", 7),
    ("restarts", 3),
    ("storage_failures", 2),
    ("worker_timeouts", 2),
];

fn random_check(seed: u64) -> Report {
    let seed = seed.to_string();
    let mut args = vec![
        "check",
        "host",
        "--variant",
        "pre-10766",
        "--strategy",
        "random",
        "--seed",
        &seed,
        "--budget-schedules",
        "50",
        "--json",
    ];
    let bounds: Vec<String> = WIDE.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for b in &bounds {
        args.extend(["--bound", b.as_str()]);
    }
    let (code, out) = crate::cli::cli(&args);
    assert_eq!(code, 1, "{out}");
    serde_json::from_str(out.trim()).unwrap()
}

fn steps(report: &Report) -> u64 {
    report.trace.iter().filter(|e| e.kind != "init").count() as u64
}

/// The BFS shortest deadlock at the same bounds (stopping at the first violation).
fn bfs_shortest() -> u64 {
    let bounds: Bounds = WIDE.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let model = HostSpec::new("pre-10766", &bounds).unwrap();
    let popts = ProtocolOptions {
        stop_at_first: true,
        liveness: false,
    };
    let (report, traces) = protocol::check_with(&model, &CheckOptions::default(), &popts);
    assert_eq!(report.verdict, Verdict::Violated);
    let deadlock = traces
        .get("deadlock")
        .expect("BFS finds the deadlock first");
    deadlock.iter().filter(|e| e.kind != "init").count() as u64
}

#[test]
fn long_random_walks_shrink_to_the_bfs_length_plus_a_small_constant() {
    let shortest = bfs_shortest();
    assert_eq!(shortest, 7);
    // (seed, steps as found, steps after minimization): pinned.
    for (seed, found, shrunk) in [(35, 29, 7), (15, 37, 11)] {
        let report = random_check(seed);
        assert_eq!(report.property.as_deref(), Some("deadlock"));
        assert_eq!(report.minimized_from, Some(found), "seed {seed}");
        assert_eq!(steps(&report), shrunk, "seed {seed}");
        assert!(
            shrunk <= shortest + 4,
            "seed {seed}: {shrunk} > {shortest} + 4"
        );
        let note = report
            .notes
            .iter()
            .find(|n| n.starts_with("minimized:"))
            .unwrap();
        assert!(
            note.contains(&format!("{found} -> {shrunk} steps")),
            "{note}"
        );
        assert!(
            note.contains("1-minimal") && note.contains("re-verified"),
            "{note}"
        );
        // The shrunk schedule replays to the same deadlock.
        let schedule = report.schedule.clone().unwrap();
        let replay = report.replay.clone();
        assert!(
            replay.ends_with(&format!("--schedule {schedule}")),
            "{replay}"
        );
        assert!(!report.wait_for.is_empty());
    }
}

#[test]
fn bfs_counterexamples_are_kept_and_said_to_be_shortest() {
    let report = super::pre_10766_report();
    assert_eq!(report.minimized_from, None);
    assert!(report
        .notes
        .iter()
        .any(|n| n.starts_with("shortest counterexample: BFS explores by depth")));
}

#[test]
fn a_noisy_random_schedule_shrinks_to_one_preemption_and_no_fault() {
    let model = noisy_deadlock();
    let opts = CheckOptions {
        strategy: Strategy::Random,
        seed: 3,
        budget_schedules: 500,
        ..CheckOptions::default()
    };
    let report = schedules::check(&model, &opts);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let found: Schedule = report.schedule.as_deref().unwrap().parse().unwrap();
    let shrunk =
        minimize::schedules::shrink_schedule(&model, &found, "deadlock", DEFAULT_BUDGET).unwrap();
    assert_eq!(
        (
            shrunk.preemptions_after,
            shrunk.faults_after,
            shrunk.one_minimal
        ),
        (1, 0, true),
        "{shrunk:?}"
    );
    assert!(shrunk.preemptions_before > 1, "{shrunk:?}");
    insta::assert_snapshot!(
        "noisy_deadlock_shrunk",
        format!(
            "{} decisions, {} preemptions, {} faults -> {} decisions, {} preemption, {} faults\n{}",
            shrunk.before,
            shrunk.preemptions_before,
            shrunk.faults_before,
            shrunk.after,
            shrunk.preemptions_after,
            shrunk.faults_after,
            shrunk.schedule
        )
    );
    let again = schedules::replay(&model, &shrunk.schedule).unwrap();
    assert_eq!(again.property.as_deref(), Some("deadlock"));
    assert_eq!(again.wait_for.len(), 2);

    // The report-level entry point does the same and records the figures.
    let mut report = report;
    minimize::schedules::shrink_report(&model, &mut report);
    assert_eq!(report.minimized_from, Some(shrunk.before as u64));
    assert_eq!(report.schedule, Some(shrunk.schedule.to_string()));
    assert!(report
        .notes
        .iter()
        .any(|n| n.starts_with("minimized:") && n.contains("re-verified by replay")));
}
