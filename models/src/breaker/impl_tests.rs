//! Implementation-level tests of the `breaker` model: seeded random schedules
//! on lockstep's executor per variant, must-find planted bugs, and the run at
//! scale on small sizes (its figures).

use lockstep::explore::schedules;
use lockstep::explore::{CheckOptions, Strategy};
use lockstep::report::{Bounds, Report};
use lockstep::Verdict;

use super::config::{Claim, PlantedBug};
use super::impl_model::{run_at_scale, BreakerImpl};

fn random(model: &BreakerImpl, schedules: u64, seed: u64) -> Report {
    let opts = CheckOptions {
        strategy: Strategy::Random,
        seed,
        budget_schedules: schedules,
        ..CheckOptions::default()
    };
    let report = schedules::check(model, &opts);
    eprintln!(
        "{} {} {:?} schedules={} ms={}",
        report.variant,
        report.verdict.as_str(),
        report.property,
        report.schedules,
        report.elapsed_ms
    );
    report
}

fn model(variant: &str, claim: Claim) -> BreakerImpl {
    BreakerImpl::new(variant, &Bounds::new(), claim).expect("valid bounds")
}

#[test]
fn shared_counter_keeps_l6_s1_s2_under_random_schedules() {
    let report = random(&model("shared-counter", Claim::Qualified), 200, 3);
    assert_eq!(report.verdict, Verdict::Holds, "{:?}", report.properties);
    assert!(report
        .properties
        .iter()
        .any(|p| p.name == "sometimes-inflight-redelivered" && p.verdict == Verdict::Holds));
}

#[test]
fn per_instance_counter_stops_too_late() {
    let report = random(&model("per-instance-counter", Claim::Qualified), 200, 3);
    assert_eq!(report.verdict, Verdict::Violated);
    assert_eq!(report.property.as_deref(), Some("l6-stops-within-bound"));
}

#[test]
fn the_unqualified_claim_fails_at_the_implementation_level() {
    let report = random(&model("shared-counter", Claim::Unqualified), 200, 3);
    assert_eq!(
        report.property.as_deref(),
        Some("every-event-succeeds-or-reprocessed")
    );
}

#[test]
fn planted_bugs_are_found_by_random_schedules() {
    for (bug, property) in [
        (PlantedBug::NeverStops, "l6-stops-within-bound"),
        (PlantedBug::ResumePastCheckpoint, "l6-resume-at-checkpoint"),
        (
            PlantedBug::CheckpointOnStop,
            "s1-no-skip-without-invocation",
        ),
    ] {
        let planted = model("shared-counter", Claim::Qualified).with_planted(bug);
        let report = random(&planted, 200, 3);
        assert_eq!(report.verdict, Verdict::Violated, "{bug:?}");
        assert_eq!(report.property.as_deref(), Some(property), "{bug:?}");
    }
}

#[test]
fn the_run_at_scale_breaks_resumes_and_finishes_on_small_sizes() {
    let run = run_at_scale(1, 2, 4, 2_000).expect("valid sizes");
    eprintln!("{run:?}");
    assert_eq!(run.status, "completed");
    let s = run.stats;
    assert!(s.stops >= 1 && s.first_crossing_ms.is_some(), "{s:?}");
    // Every event in flight at a stop was delivered again before the run completed.
    assert!(
        s.redelivered >= 1 && s.in_flight_at_stop == s.redelivered,
        "{s:?}"
    );
    // Sequential pumps, 10 ms executions, T_break = 10 s: at most 4 x 1,001.
    assert!(s.max_after_crossing <= 4 * 1_001, "{s:?}");
    assert!(s.max_after_crossing_ms <= 10_000, "{s:?}");
    for seed in 2..=4 {
        let s = run_at_scale(seed, 2, 4, 2_000).expect("valid sizes").stats;
        assert_eq!(s.in_flight_at_stop, s.redelivered, "seed {seed}: {s:?}");
    }
    let again = run_at_scale(1, 2, 4, 2_000).expect("valid sizes");
    assert_eq!((again.stats, again.steps), (run.stats, run.steps));
}
