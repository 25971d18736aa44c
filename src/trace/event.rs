//! Trace events: the structured record of what happened in a run or counterexample.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One event of a trace. Serialized as one JSON object per line (JSONL).
///
/// `fields` is a `BTreeMap` so the serialized form is byte-stable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Position in the trace, from 0.
    pub step: u64,
    /// Virtual time in milliseconds (0 for protocol models without time).
    pub time_ms: u64,
    /// The task or actor that took the step (`start#2`, `Requester[0]`, ...).
    pub task: String,
    /// What happened: `acquire`, `release`, `spawn`, `state`, `action`, ...
    pub kind: String,
    /// Details, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl TraceEvent {
    pub fn new(step: u64, time_ms: u64, task: impl Into<String>, kind: impl Into<String>) -> Self {
        TraceEvent {
            step,
            time_ms,
            task: task.into(),
            kind: kind.into(),
            fields: BTreeMap::new(),
        }
    }
    pub fn with(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.fields.insert(key.into(), value.to_string());
        self
    }
}
