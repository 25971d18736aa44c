//! Text output of reports: verdict line, bounds, figures, counterexample,
//! wait-for cycle, and the exact replay command (madsim-style `note: run with`).

use std::io::Write;

use crate::report::{Report, Verdict};
use crate::trace::TraceEvent;

/// Thousands separators for figures (`1234567` -> `1,234,567`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `restarts=1 storage_failures=1` (name order).
pub fn bounds_text(report: &Report) -> String {
    if report.bounds.is_empty() {
        return "(none)".to_string();
    }
    report
        .bounds
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The figures of a search: `1,234 states, 56 schedules in 12 ms`.
pub fn figures(report: &Report) -> String {
    let mut parts = Vec::new();
    if report.states > 0 || report.level == "spec" {
        parts.push(format!("{} states", thousands(report.states)));
    }
    if report.schedules > 0 || report.level == "impl" {
        parts.push(format!("{} schedules", thousands(report.schedules)));
    }
    format!(
        "{} in {} ms",
        parts.join(", "),
        thousands(report.elapsed_ms)
    )
}

/// One line per event: `  3 [  1.000s] start#2          acquire resource=sem`.
pub fn render_events(trace: &[TraceEvent]) -> String {
    let width = trace
        .iter()
        .map(|e| e.task.len())
        .max()
        .unwrap_or(0)
        .min(28);
    let mut out = String::new();
    for e in trace {
        let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(
            "{:>4} [{:>4}.{:03}s] {:<width$} {} {}\n",
            e.step,
            e.time_ms / 1000,
            e.time_ms % 1000,
            e.task,
            e.kind,
            fields.join(" "),
            width = width
        ));
    }
    out
}

/// Prints a whole report for a person.
pub fn print_report(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let verdict = match report.verdict {
        Verdict::Holds => "HOLDS",
        Verdict::Violated => "VIOLATED",
        Verdict::Inconclusive => "INCONCLUSIVE",
    };
    writeln!(
        out,
        "{} {} (level {}, strategy {}, seed {})",
        report.model, report.variant, report.level, report.strategy, report.seed
    )?;
    writeln!(out, "  bounds:   {}", bounds_text(report))?;
    match &report.property {
        Some(p) => writeln!(out, "  verdict:  {verdict}: {p}")?,
        None => writeln!(out, "  verdict:  {verdict}")?,
    }
    writeln!(out, "  explored: {}", figures(report))?;
    if !report.properties.is_empty() {
        writeln!(out, "  properties:")?;
        for p in &report.properties {
            writeln!(
                out,
                "    {:<36} {:<18} {}",
                p.name,
                p.kind,
                p.verdict.as_str()
            )?;
        }
    }
    for note in &report.notes {
        writeln!(out, "  note: {note}")?;
    }
    for also in &report.also_violated {
        writeln!(
            out,
            "  also violated: {} (first in run {}); replay: {}",
            also.property, also.run, also.replay
        )?;
    }
    if !report.trace.is_empty() {
        writeln!(out, "  counterexample ({} events):", report.trace.len())?;
        for line in render_events(&report.trace).lines() {
            writeln!(out, "  {line}")?;
        }
    }
    if !report.wait_for.is_empty() {
        writeln!(out, "  wait-for cycle:")?;
        for edge in &report.wait_for {
            match &edge.holder {
                Some(h) => writeln!(
                    out,
                    "    {} waits on {} held by {}",
                    edge.task, edge.resource, h
                )?,
                None => writeln!(
                    out,
                    "    {} waits on {} (no holder)",
                    edge.task, edge.resource
                )?,
            }
        }
    }
    if !report.wait_for.is_empty() {
        let words = crate::trace::waitfor_text::explain_deadlock(&report.wait_for);
        for (i, line) in words.lines().enumerate() {
            let lead = if i == 0 {
                "  in words: "
            } else {
                "            "
            };
            writeln!(out, "{lead}{line}")?;
        }
    }
    if let Some(s) = &report.schedule {
        writeln!(out, "  schedule: {s}")?;
    }
    if let Some(s) = &report.semantic_schedule {
        writeln!(
            out,
            "  semantic schedule (replays by task and operation): '{s}'"
        )?;
    }
    if let Some(coverage) = &report.coverage {
        for line in crate::explore::coverage::render(coverage).lines() {
            writeln!(out, "  {line}")?;
        }
    }
    match report.verdict {
        Verdict::Holds => writeln!(
            out,
            "  proved within bounds {} ({}, exhaustive unless a note says otherwise)",
            bounds_text(report),
            figures(report)
        )?,
        _ if !report.replay.is_empty() => {
            writeln!(out, "note: run with `{}` to reproduce", report.replay)?
        }
        _ => {}
    }
    Ok(())
}

/// Prints a report as the `--json` object (one line).
pub fn print_json(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let json = serde_json::to_string(report).map_err(std::io::Error::other)?;
    writeln!(out, "{json}")
}
