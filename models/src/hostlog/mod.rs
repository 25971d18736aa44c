//! Real Azure Functions host logs as lifecycle events: a parser that turns
//! the host's log lines (state changes, startup operations, restarts,
//! cancellations, worker process failures, "no script host" health reports)
//! into schema-v1 events, for `lockstep conform --from host-log`.
//!
//! # Input
//!
//! One entry per line: a timestamp, optionally a `[Level]` and a category
//! followed by `: `, then the message. Accepted timestamps:
//! `[2026-06-12T10:00:00.123Z]`, `2026-06-12T10:00:00.123Z`,
//! `2026-06-12 10:00:00.123` (fraction and `Z` optional). Times become
//! milliseconds from the first entry.
//!
//! * A recognised message (see [`templates::TEMPLATES`]) becomes zero or more
//!   events. Lines without a timestamp continue the previous entry (exception
//!   text): they refine a failure's `error` (`timed out` -> `worker`,
//!   `storage`/`RequestFailed`/`blob` -> `storage`) and are counted.
//! * Anything else is **skipped and counted**, never guessed at; the counts
//!   and the first few skipped lines are in [`ParsedLog::notes`].
//!
//! # What is inferred
//!
//! The host does not log its semaphore. The parser infers it from the code
//! (`WebJobsScriptHostService`): a start operation logs "starting" inside
//! `_hostStartSemaphore` (so: `sem.acquire`) and "completed" just before its
//! `finally` releases it (`sem.release`); a restart holds it from "Restarting
//! host." to "Host restarted." (or "Skipping restart"). Actors are named from
//! operation ids: the first start is `start#1`, retries `start#2..`, external
//! restarts `restart#1..`. A restart requested with a worker-channel reason
//! while a start holds the semaphore is the metadata provider restarting
//! *inside* that start (`reason=inline`, actor = the start).

pub mod templates;

use std::collections::BTreeMap;

use lockstep::conform::LifecycleEvent;

use templates::{recognise, Meaning};

/// The result of parsing a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedLog {
    pub events: Vec<LifecycleEvent>,
    /// Lines with a recognised message.
    pub understood: usize,
    /// Lines with a timestamp but no recognised message (skipped).
    pub unknown: usize,
    /// Lines without a timestamp (continuations of the previous entry).
    pub continuations: usize,
    /// What to tell the user (counts, the first unknown lines).
    pub notes: Vec<String>,
}

/// Why a log could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LogError {}

/// Parses `(year, month, day, hour, min, sec, millis)` from the start of
/// `text`; returns milliseconds since 2000-01-01 and the rest of the line.
fn timestamp(text: &str) -> Option<(u64, &str)> {
    let (inner, bracketed) = match text.strip_prefix('[') {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let b = inner.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u64> {
        let s = inner.get(from..from + n)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let year = digits(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (month, day) = (digits(5, 2)?, digits(8, 2)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (hour, min, sec) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let frac = &inner[start..end];
        millis = frac
            .get(..3.min(frac.len()))
            .and_then(|f| format!("{f:0<3}").parse().ok())?;
        at = end;
    }
    if b.get(at) == Some(&b'Z') {
        at += 1;
    }
    if bracketed {
        if b.get(at) != Some(&b']') {
            return None;
        }
        at += 1;
    }
    // Days from a fixed origin; months as 31 days is enough for ordering and
    // for differences within a month, and logs span minutes.
    let days = (year.saturating_sub(2000) * 372) + (month - 1) * 31 + (day - 1);
    let ms = ((days * 24 + hour) * 60 + min) * 60_000 + sec * 1000 + millis;
    Some((ms, inner[at..].trim_start()))
}

/// Drops `[Level]` and a `Category: ` prefix (a dotted name without spaces).
fn message_of(rest: &str) -> &str {
    let mut msg = rest.trim();
    if let Some(after) = msg.strip_prefix('[') {
        if let Some(close) = after.find(']') {
            msg = after[close + 1..].trim_start();
        }
    }
    if let Some((head, tail)) = msg.split_once(": ") {
        if !head.is_empty() && !head.contains(' ') && head.contains('.') && !head.contains('\'') {
            msg = tail.trim_start();
        }
    }
    msg
}

/// Per-log state while parsing.
#[derive(Default)]
struct Parser {
    events: Vec<LifecycleEvent>,
    /// Operation id -> (actor, is a restart's own operation).
    ops: BTreeMap<String, (String, bool)>,
    starts: usize,
    restarts: usize,
    /// The actor holding the start semaphore, as far as the log shows.
    holder: Option<String>,
    /// External restarts requested, waiting for "Restarting host." (FIFO).
    queued_restarts: Vec<String>,
    /// The restart actor inside its critical section.
    restart_holding: Option<String>,
}

impl Parser {
    fn push(&mut self, time: u64, line: usize, actor: &str, event: &str, fields: &[(&str, &str)]) {
        let mut ev =
            LifecycleEvent::new(self.events.len() as u64 + 1, time, actor, event).at_line(line);
        for (k, v) in fields {
            ev.fields.insert((*k).to_string(), (*v).to_string());
        }
        self.events.push(ev);
    }

    fn actor_of(&mut self, op: &str) -> String {
        if let Some((actor, _)) = self.ops.get(op) {
            return actor.clone();
        }
        self.starts += 1;
        let actor = format!("start#{}", self.starts);
        self.ops.insert(op.to_string(), (actor.clone(), false));
        actor
    }

    fn is_restart_op(&self, op: &str) -> bool {
        self.ops.get(op).is_some_and(|(_, r)| *r)
    }

    /// Applies one recognised message.
    fn apply(&mut self, meaning: Meaning, holes: &[String], t: u64, line: usize) {
        let hole = |i: usize| holes.get(i).map(String::as_str).unwrap_or("");
        match meaning {
            Meaning::OpCreated => {
                let op = hole(0).to_string();
                if let Some(restart) = self.restart_holding.clone().filter(|_| hole(1).is_empty()) {
                    self.ops.insert(op, (restart, true));
                } else {
                    self.actor_of(&op);
                }
            }
            Meaning::OpStarting => {
                let op = hole(0).to_string();
                let actor = self.actor_of(&op);
                if !self.is_restart_op(&op) {
                    self.holder = Some(actor.clone());
                    self.push(
                        t,
                        line,
                        &actor,
                        "sem.acquire",
                        &[("resource", "host-start")],
                    );
                }
                self.push(t, line, &actor, "start.begin", &[("op", &op)]);
            }
            Meaning::OpCompleted => {
                let op = hole(0).to_string();
                if !self.is_restart_op(&op) {
                    let actor = self.actor_of(&op);
                    self.holder = None;
                    self.push(
                        t,
                        line,
                        &actor,
                        "sem.release",
                        &[("resource", "host-start")],
                    );
                }
            }
            Meaning::HostError | Meaning::HostErrorInactive => {
                let op = hole(0).to_string();
                let actor = self.actor_of(&op);
                let inactive = if meaning == Meaning::HostErrorInactive {
                    "true"
                } else {
                    "false"
                };
                self.push(
                    t,
                    line,
                    &actor,
                    "start.fail",
                    &[("op", &op), ("error", "other"), ("inactive", inactive)],
                );
            }
            Meaning::OpCanceled | Meaning::CancellationRequested => {
                let op = hole(0).to_string();
                let actor = self.actor_of(&op);
                self.push(t, line, &actor, "start.cancel", &[("op", &op)]);
            }
            Meaning::StateChanged => {
                self.push(
                    t,
                    line,
                    "",
                    "host.state",
                    &[("from", hole(0)), ("to", hole(1))],
                );
            }
            Meaning::RestartRequested => {
                let reason = hole(0);
                let channel_reason = reason.to_ascii_lowercase().contains("worker channel");
                match (&self.holder, channel_reason) {
                    (Some(holder), true) => {
                        let holder = holder.clone();
                        self.push(
                            t,
                            line,
                            &holder,
                            "restart.requested",
                            &[("reason", "inline"), ("detail", reason)],
                        );
                        self.push(t, line, &holder, "sem.wait", &[("resource", "host-start")]);
                    }
                    _ => {
                        self.restarts += 1;
                        let actor = format!("restart#{}", self.restarts);
                        self.queued_restarts.push(actor.clone());
                        self.push(t, line, &actor, "restart.requested", &[("detail", reason)]);
                    }
                }
            }
            Meaning::Restarting => {
                let actor = if self.queued_restarts.is_empty() {
                    self.restarts += 1;
                    format!("restart#{}", self.restarts)
                } else {
                    self.queued_restarts.remove(0)
                };
                self.holder = Some(actor.clone());
                self.restart_holding = Some(actor.clone());
                self.push(
                    t,
                    line,
                    &actor,
                    "sem.acquire",
                    &[("resource", "host-start")],
                );
                self.push(t, line, &actor, "restart.started", &[]);
            }
            Meaning::Restarted | Meaning::SkipRestart => {
                let actor = self
                    .restart_holding
                    .take()
                    .unwrap_or_else(|| "restart#?".to_string());
                if meaning == Meaning::Restarted {
                    self.push(t, line, &actor, "restart.finished", &[]);
                }
                self.holder = None;
                self.push(
                    t,
                    line,
                    &actor,
                    "sem.release",
                    &[("resource", "host-start")],
                );
            }
            Meaning::Stopping => self.push(t, line, "stop", "stop.begin", &[]),
            Meaning::ShutdownCompleted | Meaning::ShutdownTimedOut => {
                self.push(t, line, "stop", "stop.done", &[])
            }
            Meaning::RetryAfterDelay => {
                let actor = self.holder.clone().unwrap_or_default();
                self.push(t, line, &actor, "start.retry", &[]);
            }
            Meaning::WorkerStartFailed => {
                self.push(
                    t,
                    line,
                    "worker",
                    "channel.fail",
                    &[("reason", "start-failed")],
                );
            }
            Meaning::WorkerReady => self.push(t, line, "worker", "channel.ready", &[]),
            Meaning::JobHostStarted | Meaning::HostStarted => {
                let actor = self.holder.clone().unwrap_or_default();
                if !self
                    .events
                    .iter()
                    .rev()
                    .take(4)
                    .any(|e| e.event == "start.succeed" && e.actor == actor)
                {
                    self.push(t, line, &actor, "start.succeed", &[]);
                }
            }
            Meaning::NoScriptHost => {
                self.push(
                    t,
                    line,
                    "",
                    "health.report",
                    &[("status", "no-script-host")],
                );
            }
            // The restart it starts logs "Restart requested" itself.
            Meaning::UnhealthyRestart
            | Meaning::Building
            | Meaning::Initializing
            | Meaning::StartingHostInstance
            | Meaning::CancelingForRestart
            | Meaning::RestartBeforeStart
            | Meaning::StartingAfterDelay
            | Meaning::ActiveHostChanging
            | Meaning::NoJobFunctions
            | Meaning::InitCanceledByRuntime => {}
        }
    }

    /// A continuation line refines the last failure's error kind.
    fn continuation(&mut self, text: &str) {
        let lower = text.to_ascii_lowercase();
        let kind = if lower.contains("timed out") || lower.contains("timeout") {
            "worker"
        } else if lower.contains("storage")
            || lower.contains("requestfailed")
            || lower.contains("blob")
        {
            "storage"
        } else {
            return;
        };
        if let Some(last) = self.events.last_mut() {
            match last.event.as_str() {
                "start.fail" if last.fields.get("error").map(String::as_str) == Some("other") => {
                    last.fields.insert("error".into(), kind.into());
                }
                "channel.fail" if kind == "worker" => {
                    last.fields.insert("reason".into(), "timeout".into());
                }
                _ => {}
            }
        }
    }
}

/// Parses a host log. Fails only if no line has a timestamp (not a log).
pub fn parse_host_log(text: &str) -> Result<ParsedLog, LogError> {
    let mut parser = Parser::default();
    let mut out = ParsedLog::default();
    let mut origin: Option<u64> = None;
    let mut last_time = 0;
    let mut last_line = 0;
    let mut unknown_samples = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let Some((stamp, rest)) = timestamp(line.trim_start()) else {
            out.continuations += 1;
            parser.continuation(line);
            continue;
        };
        let origin = *origin.get_or_insert(stamp);
        // Clock steps backwards (another writer) are clamped, never reordered.
        let t = stamp.saturating_sub(origin).max(last_time);
        last_time = t;
        last_line = line_no;
        let message = message_of(rest);
        match recognise(message) {
            Some((template, holes)) => {
                out.understood += 1;
                parser.apply(template.meaning, &holes, t, line_no);
            }
            None => {
                out.unknown += 1;
                if unknown_samples.len() < 3 {
                    unknown_samples.push(format!("line {line_no}: {}", truncate(message, 80)));
                }
            }
        }
    }
    if origin.is_none() {
        return Err(LogError {
            line: 1,
            message: "no line starts with a timestamp: not a host log (expected e.g. `[2026-06-12T10:00:00.123Z] message`)".into(),
        });
    }
    // Any later line, understood or not, shows the host was still there (and
    // still logging) then: the observation lasts until the last entry.
    if parser.events.last().is_none_or(|e| e.time_ms < last_time) {
        parser.push(last_time, last_line, "", "trace.end", &[]);
    }
    out.events = parser.events;
    out.notes.push(format!(
        "host log: {} line(s) understood, {} unknown line(s) skipped, {} continuation line(s), {} event(s)",
        out.understood,
        out.unknown,
        out.continuations,
        out.events.len()
    ));
    for sample in unknown_samples {
        out.notes.push(format!("skipped (unknown): {sample}"));
    }
    Ok(out)
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let cut: String = text.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_three_shapes() {
        let (a, rest) = timestamp("[2026-06-12T10:00:01.5Z] hello").unwrap();
        assert_eq!(rest, "hello");
        let (b, _) = timestamp("2026-06-12T10:00:02.000 [Information] x").unwrap();
        let (c, _) = timestamp("2026-06-12 10:00:03 x").unwrap();
        assert_eq!((b - a, c - b), (500, 1000));
        assert!(timestamp("at Microsoft.Azure.WebJobs...").is_none());
        assert!(timestamp("[2026-13-12T10:00:00Z] x").is_none());
        assert!(timestamp("2026-06-12T10:00").is_none());
    }

    #[test]
    fn level_and_category_prefixes_are_dropped() {
        assert_eq!(
            message_of("[Information] Host.General: Restarting host."),
            "Restarting host."
        );
        assert_eq!(
            message_of("Restart requested. Reason 'a: b'"),
            "Restart requested. Reason 'a: b'"
        );
    }

    #[test]
    fn unknown_lines_are_counted_and_not_a_log_is_an_error() {
        let log = "[2026-06-12T10:00:00Z] Host lock lease acquired by instance ID '1'.\n\
                   [2026-06-12T10:00:01Z] Restarting host.\n\
                   \tat Foo.Bar()\n\
                   [2026-06-12T10:00:02Z] something else\n";
        let parsed = parse_host_log(log).unwrap();
        assert_eq!(
            (parsed.understood, parsed.unknown, parsed.continuations),
            (1, 2, 1)
        );
        assert!(parsed.notes[0].contains("2 unknown line(s) skipped"));
        assert_eq!(parsed.events[0].event, "sem.acquire");
        assert!(parse_host_log("hello\nworld\n").is_err());
        assert!(parse_host_log("").is_err());
    }
}
