//! A single random run does not judge `sometimes` properties (one run need not
//! reach every interesting event); a check over several runs does.

use super::tests::{opts, TestModel};
use super::*;
use crate::explore::{CheckOptions, PropertyKind, Strategy};
use crate::report::Verdict;
use crate::rt;

/// A `sometimes` that only some runs reach: a fault one run in two takes.
fn sometimes_faulty() -> TestModel {
    TestModel::new("sometimes-faulty", || async {
        let outage = rt::choose_bool("outage");
        rt::yield_now().await;
        rt::sometimes("outage-seen", outage);
    })
    .property("outage-seen", PropertyKind::Sometimes)
}

#[test]
fn a_single_random_run_does_not_fail_on_a_sometimes_it_did_not_reach() {
    let model = sometimes_faulty();
    let mut missed = 0;
    for seed in 0..20 {
        let one = CheckOptions {
            seed,
            budget_schedules: 1,
            ..opts(Strategy::Random)
        };
        let r = check(&model, &one);
        assert_eq!(r.verdict, Verdict::Holds, "seed {seed}: {:?}", r.notes);
        let p = r
            .properties
            .iter()
            .find(|p| p.name == "outage-seen")
            .unwrap();
        if p.verdict == Verdict::Inconclusive {
            missed += 1;
            assert!(
                r.notes
                    .iter()
                    .any(|n| n.contains("not reached in this run")),
                "{:?}",
                r.notes
            );
        }
    }
    assert!(missed > 0, "some single runs must miss the outage");
    // Over many runs the property is reached, and judged.
    let many = check(&model, &opts(Strategy::Random));
    assert_eq!(many.verdict, Verdict::Holds);
    // A `sometimes` no run can reach still fails a multi-run random check.
    let vacuous = TestModel::new("vacuous", || async {
        rt::sometimes("never", false);
    })
    .property("never", PropertyKind::Sometimes);
    let r = check(&vacuous, &opts(Strategy::Random));
    assert_eq!(r.verdict, Verdict::Violated);
    assert_eq!(r.property.as_deref(), Some("never"));
}
