//! Conformance hooks of the built-in models: which protocol models
//! `lockstep conform` checks traces against, and which input formats they
//! read (`host-log`).

use lockstep::cli::conform::ParsedTrace;
use lockstep::cli::Registry;
use lockstep::report::Bounds;

use crate::host::HostSpec;
use crate::host_abstract::HostAbstract;
use crate::hostlog::parse_host_log;

/// Bounds for checking traces and logs against `host-abstract`: one external
/// restart, one failure, two attempts (the shape of the sample logs).
pub fn conform_bounds() -> Bounds {
    Bounds::from([
        ("R".to_string(), 1),
        ("F".to_string(), 1),
        ("A".to_string(), 2),
    ])
}

/// `host-log` input: a host log parsed into lifecycle events.
pub fn host_log_source(text: &str) -> Result<ParsedTrace, String> {
    let parsed = parse_host_log(text).map_err(|e| e.to_string())?;
    Ok(ParsedTrace {
        events: parsed.events,
        notes: parsed.notes,
    })
}

/// Adds the conformance hooks to the registry's built-in models.
pub fn with_conformance(mut registry: Registry) -> Registry {
    for entry in registry.models.iter_mut() {
        if entry.name == "host" {
            let taken = std::mem::replace(entry, lockstep::cli::ModelEntry::new("", "", &[]));
            *entry = taken
                .with_conform(
                    "fix-11825",
                    HostSpec::default_bounds(),
                    HostSpec::from_params,
                )
                .with_trace_source("host-log", host_log_source);
        }
        if entry.name == "host-abstract" {
            let taken = std::mem::replace(entry, lockstep::cli::ModelEntry::new("", "", &[]));
            *entry = taken
                .with_conform("fixed", conform_bounds(), |variant, bounds, params| {
                    crate::registry::reject_params(params)?;
                    HostAbstract::new(variant, bounds)
                })
                .with_trace_source("host-log", host_log_source);
        }
    }
    // The built-in host implementation model, through the plug-in API.
    registry
        .models
        .push(crate::plugin::register(std::sync::Arc::new(
            crate::host::plugin_adapter::BuiltinHostPlugin,
        )));
    registry
}
