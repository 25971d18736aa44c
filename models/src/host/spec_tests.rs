//! Tests of the host protocol model: verdicts found by exploration.

use lockstep::explore::Model;
use lockstep::report::Bounds;

use super::spec::{HostEnv, HostSpec};
use super::test_bfs::explore;

fn bounds(pairs: &[(&str, i64)]) -> Bounds {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn probe() {
    for v in ["pre-10766", "fix-11142", "fix-11825"] {
        let m = HostSpec::new(v, &Bounds::new()).unwrap();
        let o = explore(&m, 5_000_000);
        println!("{v}: states={} edges={} deadlock={:?} violated={:?} unreached={:?}", o.states, o.edges,
            o.deadlock.as_ref().map(|p| p.len()), o.violated.keys().collect::<Vec<_>>(), o.sometimes_unreached);
        if let Some(p) = &o.deadlock {
            for a in p { println!("   {}: {}", m.actor(a), m.format_action(a)); }
        }
        for (k, p) in &o.violated {
            println!("  {k} ({} steps)", p.len());
            for a in p { println!("   {}: {}", m.actor(a), m.format_action(a)); }
        }
    }
    let _ = (bounds(&[]), HostEnv::default());
}
