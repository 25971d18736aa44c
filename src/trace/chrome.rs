//! Chrome Trace Event Format renderer (opens in Perfetto and `chrome://tracing`).
//!
//! * one track (`tid`) per task, named by `thread_name` metadata, in order of
//!   first appearance; all tracks in process 1 (`lockstep`);
//! * an instant event (`ph: "i"`) per trace event, named by its text, with its
//!   fields and step as `args`;
//! * complete events (`ph: "X"`) for intervals: an `acquire` ... `release` of
//!   the same resource by the same task is a span named after the resource
//!   (`cat: "hold"`); a `wait` (or `block`) until the task's next event (its
//!   `wake`, normally) is an `awaiting` span (`cat: "wait"`). Spans still open
//!   at the end of the trace run to its end with `args.open = "true"`: in a
//!   deadlock that is exactly who holds what and who waits for ever.
//!
//! `ts` is virtual time in microseconds. Virtual time often stands still for
//! many steps, so events sharing a millisecond are spread 1 µs apart in step
//! order (compressed to fit the millisecond if there are more than 1,000).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{event_text, resource_of, tasks_in_order, TraceEvent};

/// The trace as Chrome Trace Event JSON (one event per line).
pub fn to_chrome_json(events: &[TraceEvent]) -> String {
    let tasks = tasks_in_order(events);
    let tid = |task: &str| tasks.iter().position(|t| *t == task).map_or(0, |i| i + 1);
    let ts = spread_timestamps(events);
    let end = ts.iter().copied().max().unwrap_or(0) + 1;

    let mut out: Vec<Value> = vec![object([
        ("args", object([("name", Value::from("lockstep"))])),
        ("name", Value::from("process_name")),
        ("ph", Value::from("M")),
        ("pid", Value::from(1)),
        ("tid", Value::from(0)),
    ])];
    for task in &tasks {
        out.push(object([
            ("args", object([("name", Value::from(*task))])),
            ("name", Value::from("thread_name")),
            ("ph", Value::from("M")),
            ("pid", Value::from(1)),
            ("tid", Value::from(tid(task))),
        ]));
    }
    for (event, &at) in events.iter().zip(&ts) {
        let fields = event
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), Value::from(v.as_str())));
        let args = object(fields.chain([("step", Value::from(event.step))]));
        out.push(object([
            ("args", args),
            ("cat", Value::from(event.kind.as_str())),
            ("name", Value::from(event_text(event))),
            ("ph", Value::from("i")),
            ("pid", Value::from(1)),
            ("s", Value::from("t")),
            ("tid", Value::from(tid(&event.task))),
            ("ts", Value::from(at)),
        ]));
    }
    for span in spans(events, &ts, end) {
        let resource = span
            .resource
            .as_deref()
            .map(|r| ("resource", Value::from(r)));
        let open = span.open.then(|| ("open", Value::from("true")));
        out.push(object([
            ("args", object(resource.into_iter().chain(open))),
            ("cat", Value::from(span.category)),
            ("dur", Value::from((span.end - span.start).max(1))),
            ("name", Value::from(span.name.as_str())),
            ("ph", Value::from("X")),
            ("pid", Value::from(1)),
            ("tid", Value::from(tid(&span.task))),
            ("ts", Value::from(span.start)),
        ]));
    }

    let lines: Vec<String> = out.iter().map(Value::to_string).collect();
    format!(
        "{{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n{}\n]}}\n",
        lines.join(",\n")
    )
}

/// A JSON object with its keys in sorted order whatever serde_json's map
/// flavour (its `preserve_order` feature would otherwise keep insertion order).
fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let sorted: BTreeMap<&str, Value> = pairs.into_iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Map<_, _>>(),
    )
}

/// Microsecond timestamps: virtual time, plus the position among the events
/// of the same millisecond.
fn spread_timestamps(events: &[TraceEvent]) -> Vec<u64> {
    let mut per_ms: BTreeMap<u64, u64> = BTreeMap::new();
    for e in events {
        *per_ms.entry(e.time_ms).or_insert(0) += 1;
    }
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
    events
        .iter()
        .map(|e| {
            let k = seen.entry(e.time_ms).or_insert(0);
            let n = per_ms.get(&e.time_ms).copied().unwrap_or(1);
            let offset = if n <= 1_000 { *k } else { *k * 1_000 / n };
            *k += 1;
            e.time_ms.saturating_mul(1_000).saturating_add(offset)
        })
        .collect()
}

/// An interval on one task's track.
#[derive(Debug)]
struct Span {
    task: String,
    name: String,
    category: &'static str,
    resource: Option<String>,
    start: u64,
    end: u64,
    open: bool,
    start_step: usize,
}

/// Pairs acquire/release per (task, resource) and wait/next-event per task.
fn spans(events: &[TraceEvent], ts: &[u64], end: u64) -> Vec<Span> {
    let mut done = Vec::new();
    // Open holds per (task, resource): a stack of (start ts, step), so nested
    // permits of one resource close innermost first.
    let mut holds: BTreeMap<(String, String), Vec<(u64, usize)>> = BTreeMap::new();
    let mut waits: BTreeMap<String, Span> = BTreeMap::new();

    for (i, (event, &at)) in events.iter().zip(ts).enumerate() {
        if let Some(mut span) = waits.remove(&event.task) {
            span.end = at;
            span.open = false;
            done.push(span);
        }
        let resource = resource_of(event).map(str::to_string);
        match (event.kind.as_str(), resource) {
            ("acquire", Some(r)) => holds
                .entry((event.task.clone(), r))
                .or_default()
                .push((at, i)),
            ("release", Some(r)) => {
                let key = (event.task.clone(), r);
                if let Some((start, start_step)) = holds.get_mut(&key).and_then(Vec::pop) {
                    let (task, r) = key;
                    let name = r.clone();
                    done.push(Span {
                        task,
                        name,
                        category: "hold",
                        resource: Some(r),
                        start,
                        end: at,
                        open: false,
                        start_step,
                    });
                }
            }
            ("wait" | "block", resource) => {
                let span = Span {
                    task: event.task.clone(),
                    name: "awaiting".into(),
                    category: "wait",
                    resource,
                    start: at,
                    end,
                    open: true,
                    start_step: i,
                };
                waits.insert(event.task.clone(), span);
            }
            _ => {}
        }
    }
    for ((task, r), stack) in holds {
        for (start, start_step) in stack {
            let name = r.clone();
            let resource = Some(r.clone());
            let task = task.clone();
            done.push(Span {
                task,
                name,
                category: "hold",
                resource,
                start,
                end,
                open: true,
                start_step,
            });
        }
    }
    done.extend(waits.into_values());
    done.sort_by_key(|s| (s.start_step, s.category));
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::sample_trace;

    #[test]
    fn snapshot_chrome_trace() {
        insta::assert_snapshot!("chrome", to_chrome_json(&sample_trace()));
    }

    #[test]
    fn output_is_valid_json_with_expected_spans() {
        let json: Value =
            serde_json::from_str(&to_chrome_json(&sample_trace())).expect("valid JSON");
        let events = json["traceEvents"].as_array().expect("array");
        let spans: Vec<(String, u64, u64, u64)> = events
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| {
                let name = e["name"].as_str().unwrap_or_default().to_string();
                (
                    name,
                    e["tid"].as_u64().unwrap_or(0),
                    e["ts"].as_u64().unwrap_or(0),
                    e["dur"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        // start#1 (tid 2) holds host-start from its acquire (0 ms, 3rd event of
        // the ms) to its release (1500 ms, 3rd event of that ms); start#2
        // (tid 3) awaits from 0 ms until its wake, then holds until 2250 ms.
        assert!(
            spans.contains(&("host-start".into(), 2, 2, 1_500_002 - 2)),
            "{spans:?}"
        );
        assert!(
            spans.contains(&("awaiting".into(), 3, 4, 1_500_003 - 4)),
            "{spans:?}"
        );
        assert!(
            spans.contains(&("host-start".into(), 3, 1_500_004, 2_250_000 - 1_500_004)),
            "{spans:?}"
        );
    }

    #[test]
    fn unreleased_holds_and_endless_waits_stay_open_to_the_end() {
        let trace = vec![
            TraceEvent::new(0, 0, "a", "acquire").with("resource", "s"),
            TraceEvent::new(1, 0, "b", "wait")
                .with("resource", "s")
                .with("holder", "a"),
            TraceEvent::new(2, 5, "a", "wait").with("resource", "latch"),
        ];
        let json: Value = serde_json::from_str(&to_chrome_json(&trace)).expect("valid JSON");
        let open = json["traceEvents"]
            .as_array()
            .expect("array")
            .iter()
            .filter(|e| e["ph"] == "X" && e["args"]["open"] == "true")
            .count();
        assert_eq!(open, 3);
    }

    #[test]
    fn crowded_milliseconds_are_compressed_not_overflowed() {
        let trace: Vec<TraceEvent> = (0..2_500)
            .map(|i| TraceEvent::new(i, 7, "t", "x"))
            .collect();
        let ts = spread_timestamps(&trace);
        assert_eq!((ts[0], ts[2_499]), (7_000, 7_999));
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    }
}
