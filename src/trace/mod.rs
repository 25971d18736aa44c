//! Traces: structured events, JSON Lines, and readable renderers.
//!
//! A trace is a `Vec<`[`TraceEvent`]`>`: `step` (0-based position), `time_ms`
//! (virtual time), `task` (who took the step), `kind` (what happened) and
//! string `fields`. The renderers, one per file, turn it into:
//!
//! * [`jsonl`]: JSON Lines, one compact object per event (and back);
//! * [`text`]: an aligned timeline with one column per task, and a compact list;
//! * [`mermaid`]: a Mermaid `sequenceDiagram`;
//! * [`chrome`]: Chrome Trace Event Format JSON (Perfetto, `chrome://tracing`);
//! * [`html`]: one self-contained HTML file (SVG timeline, wait-for graph, bounds,
//!   replay command);
//! * [`waitfor_text`]: a deadlock's wait-for graph in words and as a Mermaid flowchart.
//!
//! # Field conventions
//!
//! The runtime and the models emit these kinds; renderers give them special
//! shapes. Any other kind or field is still rendered (as `kind key=value ...`),
//! never rejected.
//!
//! | kind | meaning | fields |
//! |---|---|---|
//! | `spawn` | `task` started a new task | `child` (the new task's name) |
//! | `finish` | the task ended | `value` (outcome, optional) |
//! | `acquire` | took a permit / lock | `resource` (or `sem`), `permits` |
//! | `release` | gave it back | `resource` (or `sem`) |
//! | `wait` | blocked on a resource | `resource`, `holder` (who holds it, if known) |
//! | `wake` | unblocked | `resource` (optional) |
//! | `timer` | a timer of the task fired (sleep / timeout elapsed) | `detail` |
//! | `cancel` | a cancellation was requested or observed | `resource` (the token), `detail` |
//! | `choose` | a nondeterministic choice was made | `value` (the choice), `detail` |
//! | `state` | a model-level state change | `value` (the new state), `detail` |
//! | `emit` | an event the model emitted | `detail` |
//!
//! Common fields: `resource` names the object touched (a semaphore, mutex,
//! token, latch); `sem` is accepted as an alias; `holder` the task holding
//! it; `value` a new value or outcome; `detail` free text.

pub mod chrome;
pub mod event;
pub mod html;
pub mod jsonl;
pub mod mermaid;
pub mod text;
pub mod waitfor_text;

pub use chrome::to_chrome_json;
pub use event::TraceEvent;
pub use html::to_html;
pub use jsonl::{from_jsonl, to_jsonl, TraceParseError};
pub use mermaid::to_mermaid;
pub use text::{render_list, render_timeline, render_timeline_with, TimelineOptions};

/// Fields shown first, in this order; the rest follow alphabetically, `detail` last.
const LEADING_FIELDS: [&str; 6] = ["resource", "sem", "child", "holder", "value", "permits"];

/// The resource an event names (`resource`, or its alias `sem`).
pub fn resource_of(event: &TraceEvent) -> Option<&str> {
    event
        .fields
        .get("resource")
        .or_else(|| event.fields.get("sem"))
        .map(String::as_str)
}

/// How [`event_text_with`] shows the resource an event names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceStyle {
    /// `acquire resource=host-start` (lists, JSON-like precision).
    Keyed,
    /// `acquire host-start` (narrow timeline columns).
    Bare,
    /// `acquire` (the diagram's arrow already points at the resource).
    Omitted,
}

/// `kind` followed by the fields as `key=value` (leading fields first,
/// `detail` last; values with spaces are quoted). The one-line description
/// every renderer uses.
pub fn event_text(event: &TraceEvent) -> String {
    event_text_with(event, ResourceStyle::Keyed)
}

/// [`event_text`] with the resource shown as `style` says.
pub fn event_text_with(event: &TraceEvent, style: ResourceStyle) -> String {
    let mut text = event.kind.clone();
    let resource_key = ["resource", "sem"]
        .into_iter()
        .find(|k| event.fields.contains_key(*k));
    let leading = LEADING_FIELDS
        .iter()
        .filter_map(|k| event.fields.get_key_value(*k));
    let others = event
        .fields
        .iter()
        .filter(|(k, _)| !LEADING_FIELDS.contains(&k.as_str()) && k.as_str() != "detail");
    let detail = event.fields.get_key_value("detail");
    for (key, value) in leading.chain(others).chain(detail) {
        let is_resource = Some(key.as_str()) == resource_key;
        match style {
            ResourceStyle::Omitted if is_resource => continue,
            ResourceStyle::Bare if is_resource => text.push(' '),
            _ => {
                text.push(' ');
                text.push_str(key);
                text.push('=');
            }
        }
        if value.is_empty() || value.contains(char::is_whitespace) || value.contains('"') {
            text.push_str(&format!("{value:?}"));
        } else {
            text.push_str(value);
        }
    }
    text
}

/// Task names in order of first appearance (as actor, or as a spawned `child`).
pub fn tasks_in_order(events: &[TraceEvent]) -> Vec<&str> {
    let mut tasks: Vec<&str> = Vec::new();
    for event in events {
        let child = if event.kind == "spawn" {
            event.fields.get("child")
        } else {
            None
        };
        for name in std::iter::once(event.task.as_str()).chain(child.map(String::as_str)) {
            if !tasks.contains(&name) {
                tasks.push(name);
            }
        }
    }
    tasks
}

/// `text` cut to at most `width` characters, ending in `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// The hand-made trace the renderer snapshot tests share: three tasks, a
/// semaphore handoff, a timer, a state change, an unknown kind and a long detail.
#[cfg(test)]
pub(crate) fn sample_trace() -> Vec<TraceEvent> {
    type Row<'a> = (u64, &'a str, &'a str, &'a [(&'a str, &'a str)]);
    let rows: [Row; 15] = [
        (0, "main", "spawn", &[("child", "start#1")]),
        (0, "main", "spawn", &[("child", "start#2")]),
        (0, "start#1", "acquire", &[("resource", "host-start")]),
        (0, "start#1", "state", &[("value", "Starting")]),
        (
            0,
            "start#2",
            "wait",
            &[("resource", "host-start"), ("holder", "start#1")],
        ),
        (
            0,
            "start#1",
            "wait",
            &[("resource", "timer"), ("detail", "sleep 1.5s")],
        ),
        (
            1_500,
            "start#1",
            "timer",
            &[("detail", "sleep 1.5s elapsed")],
        ),
        (
            1_500,
            "start#1",
            "emit",
            &[(
                "detail",
                "storage outage injected at start#1/build (fault rule 0)",
            )],
        ),
        (1_500, "start#1", "release", &[("resource", "host-start")]),
        (1_500, "start#2", "wake", &[("resource", "host-start")]),
        (1_500, "start#2", "acquire", &[("sem", "host-start")]),
        (1_500, "start#1", "finish", &[("value", "error")]),
        (2_000, "start#2", "state", &[("value", "Running")]),
        (
            2_000,
            "start#2",
            "checkpoint",
            &[("offset", "42"), ("partition", "0")],
        ),
        (2_250, "start#2", "release", &[("resource", "host-start")]),
    ];
    rows.iter()
        .enumerate()
        .map(|(step, (time, task, kind, fields))| {
            fields.iter().fold(
                TraceEvent::new(step as u64, *time, *task, *kind),
                |ev, (k, v)| ev.with(*k, v),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_text_orders_and_quotes_fields() {
        let ev = TraceEvent::new(0, 0, "t", "wait")
            .with("detail", "two words")
            .with("zeta", "1")
            .with("holder", "start#1")
            .with("resource", "host-start");
        assert_eq!(
            event_text(&ev),
            r#"wait resource=host-start holder=start#1 zeta=1 detail="two words""#
        );
        assert_eq!(event_text(&TraceEvent::new(0, 0, "t", "finish")), "finish");
        let bare = event_text_with(&ev, ResourceStyle::Bare);
        assert_eq!(
            bare,
            r#"wait host-start holder=start#1 zeta=1 detail="two words""#
        );
        let sem = TraceEvent::new(0, 0, "t", "acquire")
            .with("sem", "s")
            .with("resource", "r");
        assert_eq!(
            event_text_with(&sem, ResourceStyle::Omitted),
            "acquire sem=s"
        );
    }

    #[test]
    fn tasks_appear_in_first_appearance_order() {
        assert_eq!(
            tasks_in_order(&sample_trace()),
            ["main", "start#1", "start#2"]
        );
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcd", 4), "abcd");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 0), "");
    }
}
