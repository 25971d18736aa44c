//! Semantic schedules: a counterexample recorded before a small code change (a
//! no-op step inserted) still replays by task and operation; one that no longer
//! fits says exactly where it diverged.

use lockstep::explore::schedules::{self, Schedule};
use lockstep::explore::semantic::schedules::{run_full, PrefixScheduler};
use lockstep::explore::semantic::{self, SemanticSchedule};
use lockstep::explore::{protocol, walk, CheckOptions, Strategy};
use lockstep::rt::RunStatus;

use super::toys::{opposite_order, LockVariant, TwoLocks};

#[test]
fn protocol_replay_by_name_survives_an_inserted_noop_step() {
    let plain = TwoLocks(LockVariant::Plain);
    let report = protocol::check(&plain, &CheckOptions::default());
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let indices = walk::schedule_of_trace(&plain, &report.trace).expect("a path");
    assert_eq!(indices, "0.1");
    let parsed: Vec<u32> = walk::parse_schedule(&indices)
        .unwrap()
        .into_iter()
        .map(|i| i as u32)
        .collect();
    let named = semantic::protocol::of_path(&plain, &parsed).unwrap();
    assert_eq!(named.to_string(), "A:take-l1.B:take-l2");

    // The code gains a step: the index schedule now means something else.
    let changed = TwoLocks(LockVariant::WithNoop);
    let by_index = walk::replay(&changed, &indices).unwrap();
    assert_eq!(by_index.property, None, "{:?}", by_index.trace);

    // By name it still reaches the deadlock, and says what changed.
    let followed = semantic::protocol::follow(&changed, &named).unwrap();
    assert_eq!(
        followed.notes,
        ["a step not in the recording, `A:log`, runs before recorded step 1"]
    );
    let replayed = walk::replay(&changed, &followed.index_schedule()).unwrap();
    assert_eq!(replayed.property.as_deref(), Some("deadlock"));
    assert_eq!(replayed.wait_for.len(), 2);
}

#[test]
fn a_recording_that_no_longer_fits_names_the_first_diverging_step() {
    let named: SemanticSchedule = "A:take-l1.B:take-l2".parse().unwrap();
    let err = semantic::protocol::follow(&TwoLocks(LockVariant::SameOrder), &named).unwrap_err();
    assert_eq!(err.step, 2);
    assert_eq!(err.expected, "B:take-l2");
    assert_eq!(err.possible, ["A:take-l2"]);
    assert_eq!(
        err.to_string(),
        "semantic schedule diverges at step 2 (`B:take-l2`): B has no enabled action here; \
         possible here: A:take-l2"
    );
}

#[test]
fn implementation_replay_by_name_survives_an_inserted_yield() {
    let plain = opposite_order(false);
    let opts = CheckOptions {
        strategy: Strategy::Dfs,
        ..CheckOptions::default()
    };
    let report = schedules::check(&plain, &opts);
    assert_eq!(report.property.as_deref(), Some("deadlock"));
    let recorded: Schedule = report.schedule.as_deref().unwrap().parse().unwrap();
    let named = semantic::schedules::of_run(&report.trace, &recorded).unwrap();
    insta::assert_snapshot!("opposite_order_semantic", named.to_string());

    let changed = opposite_order(true);
    let by_index = schedules::replay(&changed, &recorded);
    assert!(
        by_index
            .as_ref()
            .map_or(true, |r| r.property.as_deref() != Some("deadlock")),
        "the index schedule should no longer fit: {by_index:?}"
    );

    let followed = semantic::schedules::follow(&changed, &named).unwrap();
    assert_eq!(followed.notes.len(), 1, "{:?}", followed.notes);
    assert!(followed.notes[0].starts_with("a step not in the recording, `a#1:run`"));
    let (outcome, _) = run_full(
        &changed,
        PrefixScheduler::then_default(followed.schedule.decisions.clone()),
    );
    match outcome.status {
        RunStatus::Deadlock { cycle, .. } => assert!(cycle),
        other => panic!("expected the deadlock, got {other:?}"),
    }
}

#[test]
fn cli_replays_a_semantic_schedule_like_its_index_schedule() {
    let by_index = crate::cli::cli(&[
        "replay",
        "host",
        "--variant",
        "pre-10766",
        "--level",
        "spec",
        "--schedule",
        "0.0.0.1.0.0.0",
        "--format",
        "json",
    ]);
    let by_name = crate::cli::cli(&[
        "replay",
        "host",
        "--variant",
        "pre-10766",
        "--level",
        "spec",
        "--schedule",
        &super::pre_10766_report().semantic_schedule.unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(by_index.0, 1);
    assert_eq!(by_index, by_name);
    let bad = crate::cli::cli(&[
        "replay",
        "host",
        "--variant",
        "pre-10766",
        "--level",
        "spec",
        "--schedule",
        "start#1:boot.nobody:teleport",
    ]);
    assert_eq!(bad.0, 2, "a schedule that does not fit is bad input");
}
