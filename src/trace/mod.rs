//! Traces: structured events, JSON Lines, and readable renderers.

pub mod event;

pub use event::TraceEvent;
