//! The `lockstep` command: the harness CLI over this crate's model registry.

fn main() {
    std::process::exit(lockstep::cli::main_with(
        lockstep_models::registry::registry(),
    ));
}
