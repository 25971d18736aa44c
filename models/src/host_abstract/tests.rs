//! Verdicts of shared/spec/host-abstract.md, found by exploration.

use lockstep::explore::protocol::{check, check_detailed};
use lockstep::explore::{CheckOptions, Strategy};
use lockstep::report::{Bounds, Report, Verdict};

use super::HostAbstract;

fn bounds(r: i64, f: i64, a: i64) -> Bounds {
    Bounds::from([
        ("R".to_string(), r),
        ("F".to_string(), f),
        ("A".to_string(), a),
    ])
}

fn run(variant: &str, r: i64, f: i64, a: i64) -> Report {
    let model = HostAbstract::new(variant, &bounds(r, f, a)).expect("valid bounds");
    check(&model, &CheckOptions::default())
}

fn verdict_of(report: &Report, name: &str) -> Verdict {
    report
        .properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.verdict)
        .unwrap_or_else(|| panic!("no property {name} in {:?}", report.properties))
}

#[test]
fn scratch_counts() {
    for r in 0..=4 {
        let rep = run("fixed", r, 3, 4);
        eprintln!(
            "fixed R={r}: {:?} {} states {:?}",
            rep.verdict, rep.states, rep.notes
        );
    }
    let rep = run("buggy", 1, 1, 2);
    eprintln!("{}", serde_json::to_string_pretty(&rep).unwrap());
}
