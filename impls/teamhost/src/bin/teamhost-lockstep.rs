//! The team's own `lockstep` binary: lockstep's CLI over the built-in models
//! plus `teamhost`, registered through the plug-in API. This is what the
//! team's CI runs (`teamhost-lockstep check teamhost --variant ok`).

use std::sync::Arc;

fn main() {
    let mut registry = lockstep_models::registry::registry();
    registry
        .models
        .push(lockstep_models::plugin::register(Arc::new(
            teamhost::TeamHostPlugin,
        )));
    std::process::exit(lockstep::cli::main_with(registry));
}
