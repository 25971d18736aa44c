//! Tests of the `migration` protocol model: every verdict is found by lockstep's
//! BFS checker, never written down.

use lockstep::explore::{protocol, CheckOptions};
use lockstep::report::{Bounds, Report, Verdict};

use super::{MigrationSpec, PlantedBug};

fn spec(variant: &str, overrides: &[(&str, i64)]) -> MigrationSpec {
    let mut bounds: Bounds = MigrationSpec::default_bounds();
    for (k, v) in overrides {
        bounds.insert(k.to_string(), *v);
    }
    MigrationSpec::new(variant, &bounds).unwrap()
}

fn bfs(model: &MigrationSpec) -> Report {
    protocol::check(model, &CheckOptions::default())
}

#[test]
fn explore_figures() {
    for (variant, bounds) in [
        ("separate-groups", vec![("batch_size", 2), ("events", 3)]),
        ("separate-groups", vec![("partitions", 1)]),
        ("shared-group", vec![("partitions", 1)]),
        ("separate-groups", vec![("instances_per_app", 2), ("partitions", 1), ("events", 1)]),
        ("separate-groups", vec![("instances_per_app", 2), ("events", 1)]),
        ("separate-groups", vec![("instances_per_app", 2)]),
        ("separate-groups", vec![("batch_size", 2)]),
        ("separate-groups", vec![("crashes", 1)]),
        ("shared-group", vec![("instances_per_app", 2)]),
    ] {
        let opts = CheckOptions { max_seconds: 60, ..CheckOptions::default() };
        let r = protocol::check(&spec(variant, &bounds), &opts);
        eprintln!("{variant} {bounds:?}: {} {:?} states {} len {} {}ms", r.verdict.as_str(), r.property, r.states, r.trace.len(), r.elapsed_ms);
        for p in &r.properties { eprintln!("   {} {}", p.name, p.verdict.as_str()); }
        for n in &r.notes { eprintln!("   note {n}"); }
    }
    let r = bfs(&spec("separate-groups", &[]).with_planted_bug(PlantedBug::NewAppStartsAtLatest));
    eprintln!("latest: {} {:?} states {} len {}", r.verdict.as_str(), r.property, r.states, r.trace.len());
    let _ = Verdict::Holds;
}
