//! How the `migration` model is offered to the CLI (`lockstep check migration
//! --variant separate-groups|shared-group [--level spec|impl] [--bound k=v ...]`).

use lockstep::cli::ModelEntry;

use super::config::Variant;
use super::impl_model::MigrationImpl;
use super::spec::MigrationSpec;

/// The `migration` model at the protocol level (default) and the implementation
/// level. It takes no `--param`.
pub fn registry_entry() -> ModelEntry {
    ModelEntry::new(
        "migration",
        "consumer-group migration: old and new function app on one hub (spec B.7; bounds \
         partitions, events, instances_per_app, crashes, batch_size)",
        &Variant::NAMES,
    )
    .with_spec(
        MigrationSpec::default_bounds(),
        |variant, bounds, params| {
            crate::registry::reject_params(params)?;
            MigrationSpec::new(variant, bounds)
        },
    )
    .with_impl(MigrationImpl::default_bounds(), MigrationImpl::from_params)
}
