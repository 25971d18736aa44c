//! Plain-text renderers: an aligned per-task timeline and a compact event list.
//!
//! Timeline: virtual time on the left, one column per task (in order of first
//! appearance), each event's text in its task's column, cut with `…` to the
//! column width so columns stay aligned:
//!
//! ```text
//!      time │ main                         │ start#1                      │ start#2
//! ──────────┼──────────────────────────────┼──────────────────────────────┼────────
//!    0.000s │ spawn child=start#1          │                              │
//!    0.000s │                              │ acquire host-start           │
//!    0.000s │                              │                              │ wait host-start holder=star…
//! ```
//!
//! List: one line per event, `[   1.000s] start#2      acquire sem=host-start`.

use super::{event_text, event_text_with, tasks_in_order, truncate, ResourceStyle, TraceEvent};
use crate::world::format_millis;

/// Layout of the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineOptions {
    /// Characters per task column (texts longer than this are cut with `…`).
    pub column_width: usize,
}

impl Default for TimelineOptions {
    fn default() -> Self {
        TimelineOptions { column_width: 28 }
    }
}

/// The timeline with default options.
pub fn render_timeline(events: &[TraceEvent]) -> String {
    render_timeline_with(events, TimelineOptions::default())
}

/// The timeline: a header row of task names, a rule, then one row per event.
pub fn render_timeline_with(events: &[TraceEvent], options: TimelineOptions) -> String {
    let width = options.column_width.max(1);
    let tasks = tasks_in_order(events);
    let times: Vec<String> = events.iter().map(|e| format_millis(e.time_ms)).collect();
    let time_width = times.iter().map(String::len).max().unwrap_or(0).max(9);

    let mut out = String::new();
    let header: Vec<String> = tasks.iter().map(|t| truncate(t, width)).collect();
    push_row(
        &mut out,
        &format!("{:>time_width$}", "time"),
        &header,
        width,
    );
    let rule: Vec<String> = std::iter::once("─".repeat(time_width + 1))
        .chain(tasks.iter().map(|_| "─".repeat(width + 2)))
        .collect();
    out.push_str(&rule.join("┼"));
    out.push('\n');

    for (event, time) in events.iter().zip(&times) {
        let cells: Vec<String> = tasks
            .iter()
            .map(|t| {
                if *t == event.task {
                    truncate(&event_text_with(event, ResourceStyle::Bare), width)
                } else {
                    String::new()
                }
            })
            .collect();
        push_row(&mut out, &format!("{time:>time_width$}"), &cells, width);
    }
    out
}

/// `time │ cell │ cell`, cells padded to `width`, trailing spaces trimmed.
fn push_row(out: &mut String, time: &str, cells: &[String], width: usize) {
    let mut line = time.to_string();
    for cell in cells {
        line.push_str(" │ ");
        line.push_str(cell);
        let pad = width.saturating_sub(cell.chars().count());
        line.extend(std::iter::repeat_n(' ', pad));
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// One line per event: `[   1.000s] start#2      acquire sem=host-start`.
pub fn render_list(events: &[TraceEvent]) -> String {
    let task_width = events
        .iter()
        .map(|e| e.task.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    let mut out = String::new();
    for event in events {
        let task = &event.task;
        let pad = task_width - task.chars().count();
        out.push_str(&format!(
            "[{:>9}] {task}{} {}\n",
            format_millis(event.time_ms),
            " ".repeat(pad),
            event_text(event)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::sample_trace;

    #[test]
    fn snapshot_timeline() {
        insta::assert_snapshot!("timeline", render_timeline(&sample_trace()));
    }

    #[test]
    fn snapshot_list() {
        insta::assert_snapshot!("list", render_list(&sample_trace()));
    }

    #[test]
    fn list_line_format() {
        let ev = TraceEvent::new(7, 1_000, "start#2", "acquire").with("sem", "host-start");
        assert_eq!(
            render_list(&[ev]),
            "[   1.000s] start#2      acquire sem=host-start\n"
        );
    }

    #[test]
    fn columns_stay_aligned_with_long_texts_and_narrow_columns() {
        let trace = sample_trace();
        let out = render_timeline_with(&trace, TimelineOptions { column_width: 8 });
        for line in out.lines().skip(2) {
            // Every separator sits at the same character offsets on every row.
            let offsets: Vec<usize> = line
                .chars()
                .enumerate()
                .filter(|(_, c)| *c == '│')
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                offsets[..offsets.len().min(3)],
                [10, 21, 32][..offsets.len().min(3)],
                "{line}"
            );
        }
        assert!(out.contains("acquire…"));
        assert_eq!(render_timeline(&[]), "     time\n──────────\n");
    }
}
