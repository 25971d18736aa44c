//! The versioned JSON Lines schema of lifecycle events (schema version 1):
//! what an implementation, a converted host log or an implementation model
//! records, and what `lockstep conform` reads.
//!
//! One object per line:
//!
//! ```text
//! {"v":1,"seq":4,"time_ms":1500,"actor":"start#2","event":"sem.acquire","resource":"host-start"}
//! ```
//!
//! * `v` (required): the schema version, `1`.
//! * `seq` (required): the event's position, strictly increasing.
//! * `time_ms` (required): when it happened, in milliseconds from any origin;
//!   never decreasing.
//! * `actor` (optional): who did it (`start#2`, `restart#1`, a thread or
//!   operation id). Any naming works: conformance binds each trace actor to
//!   one model actor the first time it matches, and keeps that binding. An
//!   empty or missing actor matches any model actor.
//! * `event` (required): one of [`EVENTS`].
//! * every other key is a field of the event; its value must be a string,
//!   number or boolean (kept as text).
//!
//! Blank lines are skipped. Anything else that is not such an object is an
//! error naming its line, never a panic. Event names starting with `x-` are
//! private extensions: they are kept but never matched against a model.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::trace::TraceEvent;

/// The schema version this module reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// The `kind` of a [`TraceEvent`] that carries a lifecycle event (what
/// implementation models emit with `rt::emit`); see [`from_trace`].
pub const LIFECYCLE_KIND: &str = "lifecycle";

/// Every event name of schema version 1: name, fields, meaning.
pub const EVENTS: &[(&str, &str, &str)] = &[
    ("host.state", "from?, to", "the host's state changed (Default, Starting, Initialized, Running, Error, Stopping, Stopped, Offline)"),
    ("start.begin", "attempt?, op?", "a start attempt (or a restart's start) is inside the start critical section and begins building a host"),
    ("start.succeed", "op?", "the attempt's host started"),
    ("start.fail", "error?, op?", "the attempt failed (error: storage, worker, metadata, config, init, other)"),
    ("start.cancel", "op?", "the attempt observed its cancellation and gave up"),
    ("start.retry", "delay_ms?, op?", "the failed attempt scheduled a new attempt after a backoff delay"),
    ("restart.requested", "reason?", "someone asked for a restart (reason: file-watch, admin, specialization, health, inline, ...)"),
    ("restart.started", "", "the restart holds the start semaphore and begins its start"),
    ("restart.finished", "", "the restart's start returned"),
    ("sem.wait", "resource?", "a probe: the actor queues on a semaphore (names the waiters of a deadlock; not a model step)"),
    ("sem.acquire", "resource?", "the actor holds a semaphore permit"),
    ("sem.release", "resource?", "the actor gave its permit back"),
    ("channel.init", "", "a worker channel is being created (worker process starting)"),
    ("channel.ready", "", "the worker channel is initialized"),
    ("channel.fail", "reason?", "the worker channel failed to start (reason: start-stream-timeout, init-timeout, ...)"),
    ("channel.shutdown", "", "worker channels were shut down"),
    ("stop.begin", "", "the service began stopping"),
    ("stop.done", "", "the service stopped"),
    ("checkpoint.write", "partition, offset?, sequence?", "an Event Hubs checkpoint was written (sequence: of the last processed event)"),
    ("event.processed", "partition, sequence, ok?", "the function returned for an Event Hubs event (ok: it succeeded)"),
    ("ownership.claim", "partition, owner", "a processor claimed a partition"),
    ("health.report", "status", "a probe: an observer saw the host's health (status: running, no-script-host, error, ...); it changes nothing"),
    ("trace.end", "", "the observer stopped looking at time_ms (nothing else happened until then)"),
];

/// Events that observe without changing anything: they extend the observed
/// time window but are not steps of the system.
pub const PROBE_EVENTS: &[&str] = &["health.report", "sem.wait", "trace.end"];

/// One lifecycle event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub seq: u64,
    pub time_ms: u64,
    /// Who did it; empty when unknown.
    pub actor: String,
    pub event: String,
    pub fields: BTreeMap<String, String>,
    /// The 1-based line of the input it came from (0 when built in code).
    pub line: usize,
}

impl LifecycleEvent {
    pub fn new(seq: u64, time_ms: u64, actor: impl Into<String>, event: impl Into<String>) -> Self {
        LifecycleEvent {
            seq,
            time_ms,
            actor: actor.into(),
            event: event.into(),
            fields: BTreeMap::new(),
            line: 0,
        }
    }

    pub fn with(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.fields.insert(key.into(), value.to_string());
        self
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = line;
        self
    }

    /// Whether this event only observes (see [`PROBE_EVENTS`]).
    pub fn is_probe(&self) -> bool {
        PROBE_EVENTS.contains(&self.event.as_str())
    }

    /// Whether this is a private `x-` extension event.
    pub fn is_extension(&self) -> bool {
        self.event.starts_with("x-")
    }

    /// The compact JSON object of this event (keys: v, seq, time_ms, actor,
    /// event, then the fields in name order).
    pub fn to_json_line(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("v".into(), Value::from(SCHEMA_VERSION));
        map.insert("seq".into(), Value::from(self.seq));
        map.insert("time_ms".into(), Value::from(self.time_ms));
        if !self.actor.is_empty() {
            map.insert("actor".into(), Value::from(self.actor.clone()));
        }
        map.insert("event".into(), Value::from(self.event.clone()));
        for (k, v) in &self.fields {
            map.insert(k.clone(), Value::from(v.clone()));
        }
        // serde_json's default map keeps insertion order only with
        // `preserve_order`; write the keys by hand so the order is fixed.
        let mut out = String::from("{");
        let mut first = true;
        let mut push = |key: &str, value: &Value| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&Value::from(key).to_string());
            out.push(':');
            out.push_str(&value.to_string());
        };
        for key in ["v", "seq", "time_ms", "actor", "event"] {
            if let Some(value) = map.get(key) {
                push(key, value);
            }
        }
        for (k, v) in &self.fields {
            push(k, &Value::from(v.clone()));
        }
        out.push('}');
        out
    }

    /// `event` by `actor` with fields as `k=v`, for messages.
    pub fn describe(&self) -> String {
        let mut text = self.event.clone();
        if !self.actor.is_empty() {
            text.push_str(" by ");
            text.push_str(&self.actor);
        }
        for (k, v) in &self.fields {
            text.push_str(&format!(" {k}={v}"));
        }
        text
    }

    /// As a [`TraceEvent`] (kind [`LIFECYCLE_KIND`], the event name in field
    /// `event`), for the report's `trace`.
    pub fn to_trace_event(&self, step: u64) -> TraceEvent {
        let task = if self.actor.is_empty() {
            "?"
        } else {
            &self.actor
        };
        let mut ev = TraceEvent::new(step, self.time_ms, task, LIFECYCLE_KIND)
            .with("event", &self.event)
            .with("seq", self.seq);
        if self.line > 0 {
            ev = ev.with("line", self.line);
        }
        for (k, v) in &self.fields {
            ev.fields.insert(k.clone(), v.clone());
        }
        ev
    }
}

/// Writes events as JSON Lines (each line ends in `\n`).
pub fn to_jsonl(events: &[LifecycleEvent]) -> String {
    events
        .iter()
        .map(|e| e.to_json_line() + "\n")
        .collect::<String>()
}

/// A line of input that is not a schema-v1 lifecycle event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SchemaError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Whether `name` is an event of schema version 1 (or an `x-` extension).
pub fn is_known_event(name: &str) -> bool {
    name.starts_with("x-") || EVENTS.iter().any(|(n, _, _)| *n == name)
}

/// Parses JSON Lines of schema version 1. Never panics: the first bad line
/// is reported with its number and what is wrong with it.
pub fn parse_jsonl(input: &str) -> Result<Vec<LifecycleEvent>, SchemaError> {
    let mut events: Vec<LifecycleEvent> = Vec::new();
    for (index, raw) in input.split('\n').enumerate() {
        let line = index + 1;
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        if text.trim().is_empty() {
            continue;
        }
        let err = |message: String| SchemaError { line, message };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            err(format!("not JSON: {msg} (column {})", e.column().max(1)))
        })?;
        let Value::Object(map) = value else {
            return Err(err("expected a JSON object".into()));
        };
        let version = map
            .get("v")
            .ok_or_else(|| err("missing `v` (the schema version)".into()))?;
        if version.as_u64() != Some(SCHEMA_VERSION) {
            return Err(err(format!(
                "unsupported schema version {version} (this lockstep reads version {SCHEMA_VERSION})"
            )));
        }
        let uint = |key: &str| -> Result<u64, SchemaError> {
            match map.get(key) {
                None => Err(err(format!("missing `{key}`"))),
                Some(v) => v
                    .as_u64()
                    .ok_or_else(|| err(format!("`{key}` must be a non-negative integer, got {v}"))),
            }
        };
        let seq = uint("seq")?;
        let time_ms = uint("time_ms")?;
        let event = match map.get("event") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(err(format!("`event` must be a string, got {other}"))),
            None => return Err(err("missing `event`".into())),
        };
        if !is_known_event(&event) {
            return Err(err(format!(
                "unknown event `{event}` (schema v{SCHEMA_VERSION} events: {}; private events start with `x-`)",
                EVENTS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
            )));
        }
        let actor = match map.get("actor") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(err(format!("`actor` must be a string, got {other}"))),
        };
        let mut fields = BTreeMap::new();
        for (key, value) in &map {
            if matches!(key.as_str(), "v" | "seq" | "time_ms" | "event" | "actor") {
                continue;
            }
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(err(format!(
                        "field `{key}` must be a string, number or boolean, got {other}"
                    )))
                }
            };
            fields.insert(key.clone(), text);
        }
        if let Some(prev) = events.last() {
            if seq <= prev.seq {
                return Err(err(format!(
                    "`seq` {seq} does not increase (line {} has seq {})",
                    prev.line, prev.seq
                )));
            }
            if time_ms < prev.time_ms {
                return Err(err(format!(
                    "`time_ms` {time_ms} goes back in time (line {} has {})",
                    prev.line, prev.time_ms
                )));
            }
        }
        events.push(LifecycleEvent {
            seq,
            time_ms,
            actor,
            event,
            fields,
            line,
        });
    }
    Ok(events)
}

/// The lifecycle events inside a trace of an implementation model: every
/// event of kind [`LIFECYCLE_KIND`] (name in field `event`, actor in field
/// `actor` or else the task), numbered from 1. This is how the built-in
/// implementation models' counterexamples are checked against their spec.
pub fn from_trace(trace: &[TraceEvent]) -> Vec<LifecycleEvent> {
    let mut out = Vec::new();
    for ev in trace.iter().filter(|e| e.kind == LIFECYCLE_KIND) {
        let Some(name) = ev.fields.get("event") else {
            continue;
        };
        let actor = ev.fields.get("actor").cloned().unwrap_or(ev.task.clone());
        let mut le = LifecycleEvent::new(out.len() as u64 + 1, ev.time_ms, actor, name.clone());
        for (k, v) in &ev.fields {
            if !matches!(k.as_str(), "event" | "actor" | "seq" | "line") {
                le.fields.insert(k.clone(), v.clone());
            }
        }
        out.push(le);
    }
    out
}

/// The semaphore story of an executor trace: `acquire` / `acquired`, `release` and
/// `acquire-wait` events of the `lockstep::rt` semaphore named `semaphore`
/// as `sem.acquire`, `sem.release` and `sem.wait` by the task. Check them
/// with [`crate::conform::ConformOptions::only`] set to the `sem.*` events.
pub fn from_rt_semaphore(trace: &[TraceEvent], semaphore: &str) -> Vec<LifecycleEvent> {
    let mut out = Vec::new();
    for ev in trace {
        let named = ev.fields.get("semaphore").map(String::as_str) == Some(semaphore)
            || ev.fields.get("resource").map(String::as_str) == Some(semaphore);
        let event = match ev.kind.as_str() {
            // `acquired`: a permit handed over by a release.
            "acquire" | "acquired" if named => "sem.acquire",
            "release" if named => "sem.release",
            "acquire-wait" if named => "sem.wait",
            _ => continue,
        };
        out.push(
            LifecycleEvent::new(out.len() as u64 + 1, ev.time_ms, ev.task.clone(), event)
                .with("resource", semaphore),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_key_order() {
        let events = vec![
            LifecycleEvent::new(1, 0, "start#1", "sem.acquire").with("resource", "host-start"),
            LifecycleEvent::new(2, 1500, "", "host.state").with("to", "Error"),
        ];
        let text = to_jsonl(&events);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"v":1,"seq":1,"time_ms":0,"actor":"start#1","event":"sem.acquire","resource":"host-start"}"#
        );
        let back = parse_jsonl(&text).unwrap();
        assert_eq!(back[0].line, 1);
        assert_eq!(back[1].fields["to"], "Error");
        assert_eq!(back[1].actor, "");
    }

    #[test]
    fn bad_lines_are_named() {
        let cases = [
            ("{", "not JSON"),
            ("[1]", "expected a JSON object"),
            (
                r#"{"seq":1,"time_ms":0,"event":"sem.acquire"}"#,
                "missing `v`",
            ),
            (
                r#"{"v":2,"seq":1,"time_ms":0,"event":"sem.acquire"}"#,
                "unsupported schema version 2",
            ),
            (
                r#"{"v":1,"time_ms":0,"event":"sem.acquire"}"#,
                "missing `seq`",
            ),
            (
                r#"{"v":1,"seq":-1,"time_ms":0,"event":"sem.acquire"}"#,
                "`seq` must be",
            ),
            (
                r#"{"v":1,"seq":1,"time_ms":0,"event":"sem.grab"}"#,
                "unknown event `sem.grab`",
            ),
            (
                r#"{"v":1,"seq":1,"time_ms":0,"event":"sem.acquire","x":[1]}"#,
                "field `x`",
            ),
            (
                r#"{"v":1,"seq":1,"time_ms":0,"event":"sem.acquire","actor":3}"#,
                "`actor` must be",
            ),
        ];
        for (line, want) in cases {
            let input = format!("\n{line}\n");
            let err = parse_jsonl(&input).unwrap_err();
            assert_eq!(err.line, 2, "{line}");
            assert!(err.message.contains(want), "{line}: {}", err.message);
        }
        let order = "{\"v\":1,\"seq\":2,\"time_ms\":5,\"event\":\"sem.acquire\"}\n{\"v\":1,\"seq\":2,\"time_ms\":6,\"event\":\"sem.release\"}";
        assert!(parse_jsonl(order)
            .unwrap_err()
            .message
            .contains("does not increase"));
        let time = "{\"v\":1,\"seq\":1,\"time_ms\":5,\"event\":\"sem.acquire\"}\n{\"v\":1,\"seq\":2,\"time_ms\":4,\"event\":\"sem.release\"}";
        assert!(parse_jsonl(time)
            .unwrap_err()
            .message
            .contains("back in time"));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for text in [
            "\u{0}",
            "{\"v\":1e400}",
            "{\"v\":1,\"seq\":1,\"time_ms\":1,\"event\":\"x-mine\",\"k\":true}",
            "\"str\"",
            "null",
        ] {
            let _ = parse_jsonl(text);
        }
        let ok = parse_jsonl("{\"v\":1,\"seq\":1,\"time_ms\":1,\"event\":\"x-mine\",\"k\":true}")
            .unwrap();
        assert!(ok[0].is_extension());
        assert_eq!(ok[0].fields["k"], "true");
    }

    #[test]
    fn lifecycle_trace_events_convert() {
        let trace = vec![
            TraceEvent::new(0, 0, "start#1", "acquire").with("resource", "host-start"),
            TraceEvent::new(1, 10, "start#1", LIFECYCLE_KIND)
                .with("event", "sem.acquire")
                .with("resource", "host-start"),
            TraceEvent::new(2, 20, "main", LIFECYCLE_KIND)
                .with("event", "restart.requested")
                .with("actor", "restart#1"),
        ];
        let events = from_trace(&trace);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].actor, "start#1");
        assert_eq!(events[1].actor, "restart#1");
        assert_eq!(events[1].seq, 2);
        assert!(!events[1].fields.contains_key("actor"));
    }
}
