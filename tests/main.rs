//! The repository's integration tests: one binary, one module per concern.

mod cli;
mod conform;
mod conform_eventhubs;
mod engines;
mod hygiene;
mod readable;
mod scenarios;
