//! The repository's integration tests: one binary, one module per concern.

mod cli;
mod hygiene;
mod scenarios;
