//! Tests of the implementation level: the async apps under lockstep's schedule
//! explorers.

use lockstep::explore::schedules;
use lockstep::explore::{CheckOptions, Strategy};
use lockstep::report::{Bounds, Verdict};

use super::impl_model::MigrationImpl;
use super::PlantedBug;

fn model(variant: &str, overrides: &[(&str, i64)]) -> MigrationImpl {
    let mut bounds = Bounds::new();
    for (k, v) in overrides {
        bounds.insert(k.to_string(), *v);
    }
    MigrationImpl::new(variant, &bounds).unwrap()
}

fn random(runs: u64, seed: u64) -> CheckOptions {
    CheckOptions {
        strategy: Strategy::Random,
        budget_schedules: runs,
        seed,
        ..CheckOptions::default()
    }
}

#[test]
fn impl_figures() {
    for (variant, bounds) in [
        ("separate-groups", vec![]),
        ("shared-group", vec![]),
        ("separate-groups", vec![("instances_per_app", 2)]),
        ("separate-groups", vec![("crashes", 1)]),
    ] {
        let r = schedules::check(&model(variant, &bounds), &random(100, 7));
        eprintln!("{variant} {bounds:?}: {} {:?} schedules {} {}ms", r.verdict.as_str(), r.property, r.schedules, r.elapsed_ms);
        for p in &r.properties { eprintln!("   {} {}", p.name, p.verdict.as_str()); }
        for n in &r.notes { eprintln!("   note {n}"); }
        if r.verdict == Verdict::Violated {
            let mut r2 = r.clone();
            lockstep::explore::minimize::schedules::shrink_report(&model(variant, &bounds), &mut r2);
            eprintln!("   minimized {:?} trace {} -> {}", r2.minimized_from, r.trace.len(), r2.trace.len());
            for n in &r2.notes { eprintln!("   note {n}"); }
        }
    }
    let m = model("separate-groups", &[]).with_planted_bug(PlantedBug::NewAppStartsAtLatest);
    let r = schedules::check(&m, &random(100, 7));
    eprintln!("latest: {} {:?} schedules {}", r.verdict.as_str(), r.property, r.schedules);
}
