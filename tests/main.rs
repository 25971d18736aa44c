//! The repository's integration tests: one binary, one module per concern.

mod cli;
mod conform;
mod engines;
mod hygiene;
mod readable;
mod scenarios;
