//! The registry of every model this crate provides: what `lockstep list`,
//! `check`, `run`, `replay`, the headline and `bench` can use.

use lockstep::cli::{BenchSection, HeadlineItem, ModelEntry, Registry};
use lockstep::explore::Strategy;

use crate::host_abstract::HostAbstract;

/// The `host-abstract` benchmark protocol (shared/spec/host-abstract.md).
fn host_abstract() -> ModelEntry {
    ModelEntry::new(
        "host-abstract",
        "the small host start/restart benchmark protocol (bounds R, F, A)",
        &["buggy", "fixed"],
    )
    .with_spec(HostAbstract::default_bounds(), |variant, bounds, params| {
        reject_params(params)?;
        HostAbstract::new(variant, bounds)
    })
}

/// Models without knobs refuse `--param` rather than ignore it.
pub fn reject_params(params: &lockstep::cli::Params) -> Result<(), String> {
    match params.keys().next() {
        Some(k) => Err(format!("this model takes no parameter `{k}`")),
        None => Ok(()),
    }
}

fn benches() -> Vec<BenchSection> {
    vec![
        BenchSection {
            name: "host fix-11825, protocol level, growing bounds".to_string(),
            run: Box::new(|opts| crate::bench_host::spec_grid(opts.quick)),
        },
        BenchSection {
            name: "host fix-11825, implementation level, exhaustive DFS with and without reduction"
                .to_string(),
            run: Box::new(|opts| crate::bench_host::impl_reduction(opts.quick)),
        },
        BenchSection {
            name: "host-abstract fixed, F=3, A=4 (protocol BFS)".to_string(),
            run: Box::new(|opts| {
                let r_values: Vec<u32> = if opts.quick {
                    (1..=4).collect()
                } else {
                    (1..=7).collect()
                };
                let mut threads = vec![1];
                if opts.threads > 1 {
                    threads.push(opts.threads);
                }
                serde_json::to_value(crate::bench::host_abstract_rows(&r_values, &threads))
                    .unwrap_or_default()
            }),
        },
        crate::eventhubs::bench_section(),
        crate::breaker::bench_section(),
    ]
}

/// The headline: every host variant at the protocol level (shortest
/// counterexamples, proof figures) and at the implementation level (the async
/// re-implementation explored schedule by schedule), each at its default bounds.
fn headline() -> Vec<HeadlineItem> {
    let mut items = crate::host::headline_items();
    let impl_items: Vec<HeadlineItem> = items
        .iter()
        .map(|item| HeadlineItem {
            level: "impl".into(),
            bounds: crate::host::HostImpl::default_bounds(),
            strategy: Strategy::Dfs,
            ..item.clone()
        })
        .collect();
    items.extend(impl_items);
    items
}

/// Everything this crate registers with the CLI.
pub fn registry() -> Registry {
    crate::plugin::hooks::with_conformance(Registry {
        models: vec![
            crate::host::registry_entry(),
            host_abstract(),
            crate::eventhubs::registry_entry(),
            crate::migration::registry_entry(),
            crate::breaker::registry_entry(),
        ],
        // The headline: every host variant, counterexamples and proof figures.
        headline: headline(),
        benches: benches(),
        scenario_dirs: vec!["scenarios".to_string()],
    })
}
