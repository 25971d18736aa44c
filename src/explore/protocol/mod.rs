//! Explicit-state checkers for protocol models (placeholder until merged).
use crate::explore::{CheckOptions, Model};
use crate::report::Report;
pub fn check<M: Model>(model: &M, opts: &CheckOptions) -> Report {
    let _ = opts;
    Report::new(
        &model.name(),
        &model.variant(),
        "spec",
        "bfs",
        model.bounds(),
    )
}
