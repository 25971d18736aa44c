//! The progress bar of the schedule explorers (DFS, random, PCT) and of sweeps:
//! schedules done out of the budget, states, violations, rate. Drawn on stderr,
//! and only when the caller enabled it (the CLI does so when stdout and stderr
//! are terminals and `--json` is off), so piped output never carries it.
//! Display only: it reads counters, never feeds a decision.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Redraws at most this often per second.
const HZ: u8 = 4;

/// Runs between two updates of the bar (a power of two: runs are cheap).
const EVERY: u64 = 64;

/// An optional progress bar; a disabled one does nothing.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar named `what` (`dfs`, `random`, `sweep`) counting `unit` up to `budget`.
    pub fn new(enabled: bool, what: &str, unit: &str, budget: u64) -> Self {
        Progress::with_target(
            enabled,
            what,
            unit,
            budget,
            ProgressDrawTarget::stderr_with_hz(HZ),
        )
    }

    /// The same bar drawn into `target` (tests draw into a hidden one).
    pub fn with_target(
        enabled: bool,
        what: &str,
        unit: &str,
        budget: u64,
        target: ProgressDrawTarget,
    ) -> Self {
        if !enabled {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(budget.max(1)), target);
        // Short enough for an 80-column terminal (a wrapped bar redraws badly).
        let template =
            format!("{{spinner}} {{prefix}} {{human_pos}}/{{human_len}} {unit} [{{bar:16}}] {{msg}}, {{elapsed}}");
        bar.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar.set_message(message(0, 0));
        Progress(Some(bar))
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Records `done` runs with `states` distinct states and `violations`
    /// failing runs so far (the bar is redrawn every 64 runs).
    pub fn update(&self, done: u64, states: u64, violations: u64) {
        if let Some(bar) = &self.0 {
            if done.is_multiple_of(EVERY) || done == bar.length().unwrap_or(0) {
                bar.set_position(done);
                bar.set_message(message(states, violations));
            }
        }
    }

    /// Like [`Progress::update`], with a label for what runs now (a sweep's
    /// scenario and variant).
    pub fn update_labelled(&self, done: u64, violations: u64, label: &str) {
        if let Some(bar) = &self.0 {
            bar.set_position(done);
            bar.set_message(format!(
                "{} violation{}, {label}",
                thousands(violations),
                if violations == 1 { "" } else { "s" }
            ));
        }
    }

    /// Removes the bar (a report follows on stdout).
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn message(states: u64, violations: u64) -> String {
    let mut m = String::new();
    if states > 0 {
        m.push_str(&format!("{} states, ", thousands(states)));
    }
    m.push_str(&format!(
        "{} violation{}",
        thousands(violations),
        if violations == 1 { "" } else { "s" }
    ));
    m
}

fn thousands(n: u64) -> String {
    crate::cli::output::thousands(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_bar_draws_nothing_and_an_enabled_one_counts() {
        let off = Progress::new(false, "dfs", "schedules", 10);
        assert!(!off.enabled());
        off.update(64, 5, 0);
        off.finish();
        let on = Progress::with_target(true, "dfs", "schedules", 128, ProgressDrawTarget::hidden());
        assert!(on.enabled());
        on.update(64, 1234, 1);
        let bar = on.0.as_ref().unwrap();
        assert_eq!(bar.position(), 64);
        assert_eq!(bar.message(), "1,234 states, 1 violation");
        on.update(65, 1300, 1); // between redraws
        assert_eq!(bar.position(), 64);
        on.update_labelled(3, 2, "host [fix-11825]");
        assert_eq!(bar.message(), "2 violations, host [fix-11825]");
    }
}
