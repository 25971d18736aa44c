//! Mermaid `sequenceDiagram` renderer: tasks and resources as participants.
//!
//! * participants: tasks in order of first appearance, then every resource an
//!   event names (`resource` / `sem`) in order of first appearance;
//! * `acquire`/`release`/`wait`/`cancel` on a resource: an arrow task → resource
//!   (`wait` dashed); `wake`: a dashed arrow resource → task;
//! * `spawn`: an arrow parent → child;
//! * `state`: a note beside the task;
//! * anything else: a self-arrow with the event text;
//! * when virtual time moves, a note across all participants gives the new time.
//!
//! Mermaid reads `;` as a statement break and `#name;` as an entity code, so
//! every `;` is written as the entity `#59;` (rendered back as `;`); with no
//! bare `;` left, no `#` can start an entity by accident.

use super::{event_text_with, resource_of, tasks_in_order, ResourceStyle, TraceEvent};
use crate::world::format_millis;

/// The trace as a Mermaid sequence diagram.
pub fn to_mermaid(events: &[TraceEvent]) -> String {
    let tasks = tasks_in_order(events);
    let mut resources: Vec<&str> = Vec::new();
    for event in events {
        if let Some(r) = resource_of(event) {
            if !resources.contains(&r) && !tasks.contains(&r) {
                resources.push(r);
            }
        }
    }
    let id_of = |name: &str| -> String {
        match tasks.iter().position(|t| *t == name) {
            Some(i) => format!("t{i}"),
            None => format!(
                "r{}",
                resources.iter().position(|r| *r == name).unwrap_or(0)
            ),
        }
    };

    let mut out = String::from("sequenceDiagram\n");
    for (i, task) in tasks.iter().enumerate() {
        out.push_str(&format!("    participant t{i} as {}\n", escape(task)));
    }
    for (i, resource) in resources.iter().enumerate() {
        out.push_str(&format!("    participant r{i} as {}\n", escape(resource)));
    }
    let span = match (tasks.first(), resources.last().or(tasks.last())) {
        (Some(first), Some(last)) if first != last => format!("{},{}", id_of(first), id_of(last)),
        (Some(only), _) => id_of(only),
        _ => String::new(),
    };

    let mut last_time = None;
    for event in events {
        if last_time != Some(event.time_ms) {
            out.push_str(&format!(
                "    Note over {span}: {}\n",
                format_millis(event.time_ms)
            ));
            last_time = Some(event.time_ms);
        }
        let me = id_of(&event.task);
        let style = if resource_of(event).is_some() {
            ResourceStyle::Omitted
        } else {
            ResourceStyle::Keyed
        };
        let text = escape(&event_text_with(event, style));
        let line = match (
            event.kind.as_str(),
            resource_of(event),
            event.fields.get("child"),
        ) {
            ("spawn", _, Some(child)) => format!("{me}->>{}: {text}", id_of(child)),
            ("state", _, _) => format!("Note right of {me}: {text}"),
            ("wake", Some(r), _) => format!("{}-->>{me}: {text}", id_of(r)),
            ("wait", Some(r), _) => format!("{me}-->>{}: {text}", id_of(r)),
            (_, Some(r), _) => format!("{me}->>{}: {text}", id_of(r)),
            _ => format!("{me}->>{me}: {text}"),
        };
        out.push_str("    ");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Makes text safe inside a Mermaid statement (one line, no statement breaks).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ';' => out.push_str("#59;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::sample_trace;

    #[test]
    fn snapshot_sequence_diagram() {
        insta::assert_snapshot!("mermaid", to_mermaid(&sample_trace()));
    }

    #[test]
    fn escapes_and_copes_with_empty_and_odd_input() {
        assert_eq!(escape("a#1;b\nc"), "a#1#59;b c");
        assert_eq!(to_mermaid(&[]), "sequenceDiagram\n");
        let odd = TraceEvent::new(0, 0, "x", "spawn"); // no child field
        assert!(to_mermaid(&[odd]).ends_with("    t0->>t0: spawn\n"));
    }
}
