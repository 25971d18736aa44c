//! Readable counterexamples (issue 5): renderers of the host `pre-10766` deadlock,
//! deadlock explanations, minimization at both levels, semantic schedules that
//! survive an inserted step, emitted regression tests, coverage, and the HTML
//! report in a headless browser.

mod coverage;
mod emitted;
mod impl_cli;
mod minimize;
mod renderers;
mod semantic;
mod toys;

use lockstep::report::Report;

/// The host `pre-10766` counterexample as `lockstep check host --variant pre-10766`
/// reports it (BFS, default bounds), with the elapsed time zeroed for snapshots.
pub fn pre_10766_report() -> Report {
    let (code, out) = crate::cli::cli(&["check", "host", "--variant", "pre-10766", "--json"]);
    assert_eq!(code, 1, "{out}");
    let mut report: Report = serde_json::from_str(out.trim()).expect("a report");
    report.elapsed_ms = 0;
    report
}
