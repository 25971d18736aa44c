//! Self-contained HTML report of a run or counterexample (`replay --format html`):
//! one file, no network, readable offline and attachable to a bug.
//!
//! * header: model, variant, level, strategy, seed, verdict and property;
//! * bounds and figures, and the exact replay command (with the schedule);
//! * the deadlock, if any: the wait-for graph in words and as an SVG picture;
//! * the timeline as SVG: one lane (`<g class="lane">`) per task in order of
//!   first appearance, one marker per event (hover for its text), bars for
//!   held resources and dashed bars for waits, a dashed rule where virtual
//!   time moves, and a mark on every task stuck in the deadlock; a marker links
//!   to its row in the event table;
//! * the events as a table (step, time, task, what happened), then notes and
//!   per-property verdicts.
//!
//! A ten-line inline script (no network, no libraries) checks that the SVG laid
//! out and records `data-rendered="ok"` and `data-lanes` on `<body>`, which the
//! headless-browser test reads back. Nothing depends on wall time: the same
//! report gives the same bytes.

use super::waitfor_text::{explain_deadlock, nodes, task_of};
use super::{event_text, tasks_in_order, TraceEvent};
use crate::report::{Report, WaitEdge};
use crate::world::format_millis;

const LABEL_WIDTH: usize = 150;
const STEP_WIDTH: usize = 26;
const LANE_HEIGHT: usize = 38;
const TOP: usize = 34;

/// Fields naming the object an event touches (for hold and wait bars).
const OBJECT_FIELDS: [&str; 5] = ["resource", "sem", "semaphore", "mutex", "on"];

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fff}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #dde}\
.verdict{font-weight:600;padding:1px 8px;border-radius:4px}.violated{background:#fde2e1;color:#9b1c1c}\
.holds{background:#def7e5;color:#14532d}.inconclusive{background:#fef3c7;color:#78350f}\
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}\
th{color:#556}pre{background:#f4f5f8;padding:8px 10px;border-radius:4px;white-space:pre-wrap;word-break:break-all}\
.scroll{overflow-x:auto;border:1px solid #e3e5ec;border-radius:4px}.muted{color:#667;font-size:12px}\
.events td:nth-child(1),.events td:nth-child(2){font-variant-numeric:tabular-nums;color:#556}\
svg text{font:12px system-ui,sans-serif}";

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole report as one HTML document.
pub fn to_html(report: &Report) -> String {
    let mut h = String::new();
    let title = format!(
        "lockstep: {} {} ({}) — {}{}",
        report.model,
        report.variant,
        report.level,
        report.verdict.as_str(),
        report
            .property
            .as_deref()
            .map_or(String::new(), |p| format!(": {p}"))
    );
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    ));
    h.push_str(&format!(
        "<h1>{} <span class=\"muted\">{}</span></h1>\n",
        esc(&format!("{} {}", report.model, report.variant)),
        esc(&format!(
            "level {}, strategy {}, seed {}",
            report.level, report.strategy, report.seed
        ))
    ));
    let verdict = report.verdict.as_str();
    h.push_str(&format!(
        "<p><span class=\"verdict {verdict}\">{}</span> {}</p>\n",
        verdict.to_uppercase(),
        esc(report.property.as_deref().unwrap_or(""))
    ));
    header_tables(&mut h, report);
    if !report.wait_for.is_empty() {
        h.push_str("<h2>Deadlock: who waits on whom</h2>\n");
        h.push_str(&format!(
            "<p>{}</p>\n",
            esc(&explain_deadlock(&report.wait_for)).replace('\n', "<br>")
        ));
        h.push_str(&waitfor_svg(&report.wait_for));
    }
    if !report.trace.is_empty() {
        let stuck: Vec<&str> = report.wait_for.iter().map(|e| task_of(&e.task)).collect();
        h.push_str(&format!(
            "<h2>Timeline ({} events)</h2>\n<div class=\"scroll\">\n",
            report.trace.len()
        ));
        h.push_str(&timeline_svg(&report.trace, &stuck));
        h.push_str("</div>\n<h2>Events</h2>\n");
        event_table(&mut h, &report.trace);
    }
    footer_tables(&mut h, report);
    h.push_str(SCRIPT);
    h.push_str("</body>\n</html>\n");
    h
}

const SCRIPT: &str =
    "<script>\n(function(){var l=document.querySelectorAll('svg.timeline g.lane'),ok=true;\
for(var i=0;i<l.length;i++){var b=l[i].getBBox();if(!(b.width>0&&b.height>0))ok=false;}\
var t=document.querySelector('svg.timeline');if(t&&!(t.getBBox().width>0))ok=false;\
document.body.setAttribute('data-lanes',String(l.length));\
document.body.setAttribute('data-rendered',ok?'ok':'broken');})();\n</script>\n";

fn header_tables(h: &mut String, report: &Report) {
    h.push_str("<h2>Bounds and figures</h2>\n<table>\n");
    let bounds: Vec<String> = report
        .bounds
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let rows = [
        (
            "bounds",
            if bounds.is_empty() {
                "(none)".to_string()
            } else {
                bounds.join(" ")
            },
        ),
        ("states", report.states.to_string()),
        ("schedules", report.schedules.to_string()),
        (
            "counterexample",
            match report.minimized_from {
                Some(from) => format!(
                    "{} events (minimized from {from} steps)",
                    report.trace.len()
                ),
                None => format!("{} events", report.trace.len()),
            },
        ),
    ];
    for (k, v) in rows {
        h.push_str(&format!("<tr><th>{k}</th><td>{}</td></tr>\n", esc(&v)));
    }
    h.push_str("</table>\n");
    if !report.replay.is_empty() {
        h.push_str("<h2>Reproduce</h2>\n");
        h.push_str(&format!(
            "<pre><code>{}</code></pre>\n",
            esc(&report.replay)
        ));
    }
    if let Some(s) = &report.schedule {
        h.push_str(&format!(
            "<p class=\"muted\">schedule: <code>{}</code></p>\n",
            esc(s)
        ));
    }
    if let Some(s) = &report.semantic_schedule {
        h.push_str(&format!(
            "<p class=\"muted\">semantic schedule (replays by task and operation, survives \
             small code changes): <code>{}</code></p>\n",
            esc(s)
        ));
    }
}

fn footer_tables(h: &mut String, report: &Report) {
    if !report.notes.is_empty() {
        h.push_str("<h2>Notes</h2>\n<ul>\n");
        for n in &report.notes {
            h.push_str(&format!("<li>{}</li>\n", esc(n)));
        }
        h.push_str("</ul>\n");
    }
    if !report.properties.is_empty() {
        h.push_str("<h2>Properties</h2>\n<table>\n<tr><th>property</th><th>kind</th><th>verdict</th></tr>\n");
        for p in &report.properties {
            let v = p.verdict.as_str();
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><span class=\"verdict {v}\">{v}</span></td></tr>\n",
                esc(&p.name),
                esc(&p.kind)
            ));
        }
        h.push_str("</table>\n");
    }
}

fn event_table(h: &mut String, events: &[TraceEvent]) {
    h.push_str("<table class=\"events\">\n<tr><th>step</th><th>time</th><th>task</th><th>what happened</th></tr>\n");
    for e in events {
        // Protocol counterexamples carry the action and the state after it: show both.
        let what = match (e.fields.get("action"), e.fields.get("state")) {
            (Some(a), Some(s)) => format!("{}<div class=\"muted\">{}</div>", esc(a), esc(s)),
            (None, Some(s)) if e.kind == "init" => {
                format!("initial state<div class=\"muted\">{}</div>", esc(s))
            }
            _ => esc(&event_text(e)),
        };
        h.push_str(&format!(
            "<tr id=\"step-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{what}</td></tr>\n",
            e.step,
            e.step,
            format_millis(e.time_ms),
            esc(&e.task)
        ));
    }
    h.push_str("</table>\n");
}

fn object_of(e: &TraceEvent) -> Option<&str> {
    OBJECT_FIELDS
        .iter()
        .find_map(|k| e.fields.get(*k))
        .map(String::as_str)
}

/// The colour of an event marker, by kind.
fn colour(kind: &str) -> &'static str {
    match kind {
        "acquire" | "acquired" | "lock" => "#2563eb",
        "release" | "unlock" => "#60a5fa",
        "wait" | "block" | "lock-wait" | "block-thread" => "#d97706",
        "wake" | "timer-fired" | "timer" => "#65a30d",
        "spawn" | "finish" => "#7c3aed",
        "fault" | "violation" | "cancel" => "#dc2626",
        "choose" => "#db2777",
        _ => "#475569",
    }
}

/// An interval on one lane: (task, start index, end index, label, dashed).
type Bar = (usize, usize, usize, String, bool);

/// Hold bars (acquire .. release of one object by one task) and wait bars
/// (wait / block .. the task's next event); open ones run to the end.
fn bars(events: &[TraceEvent], lane: &dyn Fn(&str) -> usize) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut holds: Vec<(usize, String, usize)> = Vec::new();
    let mut waits: Vec<(usize, String, usize)> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let l = lane(&e.task);
        if let Some(pos) = waits.iter().position(|w| w.0 == l) {
            let (l, what, start) = waits.remove(pos);
            out.push((l, start, i, what, true));
        }
        let object = object_of(e).map(str::to_string);
        match (e.kind.as_str(), object) {
            ("acquire" | "acquired" | "lock", Some(o)) => holds.push((l, o, i)),
            ("release" | "unlock", Some(o)) => {
                if let Some(pos) = holds.iter().rposition(|h| h.0 == l && h.1 == o) {
                    let (l, o, start) = holds.remove(pos);
                    out.push((l, start, i, o, false));
                }
            }
            ("wait" | "block" | "lock-wait", o) => {
                waits.push((l, format!("waits on {}", o.unwrap_or_default()), i))
            }
            _ => {}
        }
    }
    let end = events.len();
    out.extend(holds.into_iter().map(|(l, o, s)| (l, s, end, o, false)));
    out.extend(waits.into_iter().map(|(l, w, s)| (l, s, end, w, true)));
    out
}

/// The timeline: one lane per task, one marker per event; `stuck` tasks get a
/// deadlock mark at the end of their lane.
pub fn timeline_svg(events: &[TraceEvent], stuck: &[&str]) -> String {
    let tasks = tasks_in_order(events);
    let lane = |task: &str| tasks.iter().position(|t| *t == task).unwrap_or(0);
    let x = |i: usize| LABEL_WIDTH + STEP_WIDTH / 2 + i * STEP_WIDTH;
    let y = |l: usize| TOP + l * LANE_HEIGHT + LANE_HEIGHT / 2;
    let width = LABEL_WIDTH + (events.len() + 2) * STEP_WIDTH;
    let height = TOP + tasks.len() * LANE_HEIGHT + 10;
    let mut s = format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"timeline, one lane per task\">\n"
    );
    // Time rules where virtual time moves.
    let mut last = None;
    for (i, e) in events.iter().enumerate() {
        if last != Some(e.time_ms) {
            let xi = x(i) - STEP_WIDTH / 2;
            s.push_str(&format!(
                "<line x1=\"{xi}\" y1=\"14\" x2=\"{xi}\" y2=\"{}\" stroke=\"#cbd5e1\" stroke-dasharray=\"3 3\"/>\
                 <text x=\"{}\" y=\"12\" fill=\"#64748b\">{}</text>\n",
                height - 6,
                xi + 2,
                format_millis(e.time_ms)
            ));
            last = Some(e.time_ms);
        }
    }
    for (l, task) in tasks.iter().enumerate() {
        let yl = y(l);
        s.push_str(&format!(
            "<g class=\"lane\" data-task=\"{}\"><rect x=\"0\" y=\"{}\" width=\"{width}\" height=\"{LANE_HEIGHT}\" \
             fill=\"{}\"/><text x=\"8\" y=\"{}\" font-weight=\"600\">{}</text>\
             <line x1=\"{LABEL_WIDTH}\" y1=\"{yl}\" x2=\"{}\" y2=\"{yl}\" stroke=\"#94a3b8\"/></g>\n",
            esc(task),
            yl - LANE_HEIGHT / 2,
            if l % 2 == 0 { "#f8fafc" } else { "#ffffff" },
            yl + 4,
            esc(&super::truncate(task, 20)),
            width - 8
        ));
    }
    for (l, start, end, label, dashed) in bars(events, &lane) {
        let (x1, x2) = (x(start), x(end.min(events.len())).max(x(start) + 4));
        s.push_str(&format!(
            "<rect x=\"{x1}\" y=\"{}\" width=\"{}\" height=\"8\" rx=\"3\" fill=\"{}\" \
             fill-opacity=\"0.35\"{}><title>{}</title></rect>\n",
            y(l) + 6,
            x2 - x1,
            if dashed { "#f59e0b" } else { "#3b82f6" },
            if dashed {
                " stroke=\"#d97706\" stroke-dasharray=\"4 2\""
            } else {
                ""
            },
            esc(&label)
        ));
    }
    for (i, e) in events.iter().enumerate() {
        let (xi, yl) = (x(i), y(lane(&e.task)));
        if let (true, Some(child)) = (e.kind == "spawn", e.fields.get("child")) {
            s.push_str(&format!(
                "<line x1=\"{xi}\" y1=\"{yl}\" x2=\"{xi}\" y2=\"{}\" stroke=\"#7c3aed\" stroke-width=\"1.5\"/>\n",
                y(lane(child))
            ));
        }
        let text = format!(
            "step {} · {} · {}: {}",
            e.step,
            format_millis(e.time_ms),
            e.task,
            event_text(e)
        );
        s.push_str(&format!(
            "<a href=\"#step-{}\"><circle class=\"event\" cx=\"{xi}\" cy=\"{yl}\" r=\"6\" fill=\"{}\">\
             <title>{}</title></circle></a><text x=\"{xi}\" y=\"{}\" text-anchor=\"middle\" \
             font-size=\"9\" fill=\"#64748b\">{}</text>\n",
            e.step,
            colour(&e.kind),
            esc(&text),
            yl - 9,
            e.step
        ));
    }
    for task in stuck {
        if let Some(l) = tasks.iter().position(|t| t == task) {
            s.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" fill=\"#dc2626\" font-weight=\"700\">✖ stuck</text>\n",
                x(events.len()) - 8,
                y(l) + 4
            ));
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The wait-for graph: tasks (boxes) and resources (rounded) on a circle,
/// `waits on` arrows task -> resource, dashed `held by` arrows resource -> holder.
pub fn waitfor_svg(edges: &[WaitEdge]) -> String {
    let (tasks, resources) = nodes(edges);
    // (identity, label, is a task)
    let names: Vec<(&str, &str, bool)> = tasks
        .iter()
        .map(|(id, label)| (*id, *label, true))
        .chain(resources.iter().map(|r| (*r, *r, false)))
        .collect();
    let n = names.len().max(1);
    let radius = 70.0 + 28.0 * n as f64;
    let circle: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let angle = std::f64::consts::PI + 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            (radius * angle.cos(), radius * angle.sin())
        })
        .collect();
    // Fit the drawing to the nodes (two nodes lie on one line: no tall empty box).
    let min_x = circle.iter().map(|p| p.0).fold(f64::MAX, f64::min) - 120.0;
    let max_x = circle.iter().map(|p| p.0).fold(f64::MIN, f64::max) + 120.0;
    let min_y = circle.iter().map(|p| p.1).fold(f64::MAX, f64::min) - 60.0;
    let max_y = circle.iter().map(|p| p.1).fold(f64::MIN, f64::max) + 60.0;
    let pos: Vec<(f64, f64)> = circle.iter().map(|(x, y)| (x - min_x, y - min_y)).collect();
    let (cx, cy) = (-min_x, -min_y);
    let (width, height) = ((max_x - min_x) as usize, (max_y - min_y) as usize);
    let at = |name: &str, task: bool| {
        let id = if task { task_of(name) } else { name };
        names
            .iter()
            .position(|(m, _, t)| *m == id && *t == task)
            .map_or((cx, cy), |i| pos[i])
    };
    let mut s = format!(
        "<svg class=\"waitfor\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"wait-for graph\">\n<defs>\
         <marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" \
         orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#334155\"/></marker></defs>\n"
    );
    let mut arrow = |from: (f64, f64), to: (f64, f64), label: &str, dashed: bool| {
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        // Bend to the right of the direction, so A->B and B->A do not overlap.
        let (bx, by) = (
            (from.0 + to.0) / 2.0 - uy * 34.0,
            (from.1 + to.1) / 2.0 + ux * 34.0,
        );
        let (sx, sy) = (from.0 + ux * 46.0, from.1 + uy * 22.0);
        let (ex, ey) = (to.0 - ux * 50.0, to.1 - uy * 24.0);
        s.push_str(&format!(
            "<path d=\"M{sx:.1} {sy:.1}Q{bx:.1} {by:.1} {ex:.1} {ey:.1}\" fill=\"none\" stroke=\"#334155\" \
             stroke-width=\"1.6\" marker-end=\"url(#arrow)\"{}/>\
             <text x=\"{bx:.1}\" y=\"{by:.1}\" text-anchor=\"middle\" fill=\"#334155\">{label}</text>\n",
            if dashed { " stroke-dasharray=\"5 3\"" } else { "" }
        ));
    };
    for e in edges {
        arrow(at(&e.task, true), at(&e.resource, false), "waits on", false);
        if let Some(h) = &e.holder {
            arrow(at(&e.resource, false), at(h, true), "held by", true);
        }
    }
    for ((_, name, task), (x, y)) in names.iter().zip(&pos) {
        let label = esc(&super::truncate(name, 28));
        let w = 16.0 + 7.0 * label.chars().count().min(28) as f64;
        let (rx, fill) = if *task {
            (4.0, "#e0e7ff")
        } else {
            (18.0, "#fef3c7")
        };
        s.push_str(&format!(
            "<g class=\"{}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"32\" rx=\"{rx}\" fill=\"{fill}\" \
             stroke=\"#334155\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>\
             <title>{}</title></g>\n",
            if *task { "task" } else { "resource" },
            x - w / 2.0,
            y - 16.0,
            y + 4.0,
            esc(name)
        ));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Bounds, Verdict};
    use crate::trace::sample_trace;

    #[test]
    fn one_lane_per_task_and_everything_escaped() {
        let mut report = Report::new("m", "v<1>", "impl", "dfs", Bounds::new());
        report.verdict = Verdict::Violated;
        report.property = Some("deadlock".into());
        report.trace = sample_trace();
        report.replay = "lockstep replay m --variant 'v<1>' --schedule t0".into();
        report.wait_for = vec![WaitEdge {
            task: "start#2".into(),
            resource: "host-start".into(),
            holder: Some("start#1".into()),
        }];
        let html = to_html(&report);
        assert_eq!(html.matches("<g class=\"lane\"").count(), 3);
        assert!(html.contains("v&lt;1&gt;") && !html.contains("v<1>"));
        assert!(html.contains("start#2 waits on host-start held by start#1"));
        assert!(!html.contains("<link") && !html.contains("src="));
        assert_eq!(html, to_html(&report), "deterministic");
    }
}
