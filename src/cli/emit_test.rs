//! Counterexample to regression test: `lockstep replay ... --emit-test` prints a
//! `#[test]` that replays the recorded steps and fails while the violation still
//! reproduces, ready to paste into a regression suite; [`Regression`] is what
//! that test calls.
//!
//! The test replays the *semantic* schedule (steps named by task and operation),
//! so it keeps working after small code changes. Where a recorded step no longer
//! fits (the fix changed what happens there), it follows the recording up to
//! that step, lets the run go on, and passes unless the violation shows; the
//! note it prints names the step where the recording diverged.

use super::registry::{Params, Registry, ReplayWhat, Request};
use crate::report::{Report, Verdict};

/// The expression the emitted test uses to get the registry.
pub const DEFAULT_REGISTRY_EXPR: &str = "lockstep_models::registry::registry()";

/// A recorded counterexample, as an emitted test states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regression<'a> {
    pub model: &'a str,
    pub variant: &'a str,
    pub level: &'a str,
    /// Bounds the counterexample was found within (others take their defaults).
    pub bounds: &'a [(&'a str, i64)],
    pub params: &'a [(&'a str, &'a str)],
    /// A semantic schedule (or an index schedule).
    pub schedule: &'a str,
    /// The property the recording violated.
    pub property: &'a str,
}

impl Regression<'_> {
    /// Replays the recording on the model `registry` provides.
    pub fn replay(&self, registry: &Registry) -> Result<Report, String> {
        let entry = registry
            .find(self.model)
            .ok_or_else(|| format!("the registry has no model `{}`", self.model))?;
        let level = entry
            .levels
            .get(self.level)
            .ok_or_else(|| format!("model `{}` has no level `{}`", self.model, self.level))?;
        let mut request = Request {
            variant: self.variant.to_string(),
            bounds: level.default_bounds.clone(),
            params: self
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Params>(),
            // Where the code changed, follow the recording as far as it fits.
            follow_prefix: true,
            ..Request::default()
        };
        for (k, v) in self.bounds {
            request.bounds.insert(k.to_string(), *v);
        }
        (level.replay)(&request, &ReplayWhat::Schedule(self.schedule.to_string()))
    }

    /// Panics, with the timeline and the replay command, while the recorded steps
    /// still violate the property. Where the code changed so that a recorded step
    /// no longer fits, the replay follows the recording up to there and then runs
    /// on (implementation level: default policy to the end of the run); the test
    /// passes if that shows no violation, and says where the recording diverged.
    pub fn assert_fixed(&self, registry: &Registry) {
        match self.replay(registry) {
            Ok(report)
                if report.verdict == Verdict::Violated
                    && report.property.as_deref() == Some(self.property) =>
            {
                panic!(
                    "{} {} ({}) still violates `{}` along the recorded steps:\n{}\nreproduce: {}",
                    self.model,
                    self.variant,
                    self.level,
                    self.property,
                    crate::trace::render_list(&report.trace),
                    report.replay
                )
            }
            Ok(report) => {
                let drift = ["recorded step", "diverges at step"];
                for note in report
                    .notes
                    .iter()
                    .filter(|n| drift.iter().any(|d| n.contains(d)))
                {
                    eprintln!("note: {note}");
                }
            }
            Err(e) => panic!(
                "the recorded counterexample no longer replays on this model: {e}\n(if the \
                 change was intended, re-record it with `lockstep replay ... --emit-test`)"
            ),
        }
    }
}

/// `regression_host_pre_10766_spec_deadlock`: a Rust identifier from words.
pub fn test_name(parts: &[&str]) -> String {
    let mut name = String::from("regression");
    for part in parts {
        name.push('_');
        let mut last_underscore = true;
        for c in part.chars() {
            if c.is_ascii_alphanumeric() {
                name.push(c.to_ascii_lowercase());
                last_underscore = false;
            } else if !last_underscore {
                name.push('_');
                last_underscore = true;
            }
        }
        while name.ends_with('_') {
            name.pop();
        }
    }
    name
}

/// The `#[test]` source for the violated `report`, replayed from `request` on
/// the registry's model `model` (its registered name, which the report's own
/// `model` need not be). `command` is the replay command shown in a comment.
pub fn emit(
    model: &str,
    report: &Report,
    request: &Request,
    command: &str,
    registry_expr: &str,
) -> Result<String, String> {
    if report.verdict != Verdict::Violated {
        return Err("the replay shows no violation: there is no counterexample to emit".into());
    }
    let property = report
        .property
        .as_deref()
        .ok_or("the report names no violated property")?;
    let schedule = report
        .semantic_schedule
        .clone()
        .or_else(|| report.schedule.clone())
        .ok_or("the report has no schedule to replay")?;
    let steps = match schedule.parse::<crate::explore::semantic::SemanticSchedule>() {
        Ok(s) if crate::explore::semantic::looks_semantic(&schedule) => s.len(),
        _ => report.trace.iter().filter(|e| e.kind != "init").count(),
    };
    let name = test_name(&[model, &request.variant, &report.level, property]);
    let mut s = String::new();
    s.push_str(&format!(
        "/// Regression test: {model} {} ({} level) violated `{property}` along these {steps}\n",
        request.variant, report.level
    ));
    s.push_str(
        "/// steps. It replays them by task and operation (up to any step the code no\n\
         /// longer takes) and fails while the violation still reproduces.\n",
    );
    s.push_str(&format!("/// Emitted by: {command}\n"));
    s.push_str(&format!("#[test]\nfn {name}() {{\n"));
    s.push_str(&format!("    let registry = {registry_expr};\n"));
    s.push_str("    lockstep::cli::emit_test::Regression {\n");
    s.push_str(&format!("        model: {model:?},\n"));
    s.push_str(&format!("        variant: {:?},\n", request.variant));
    s.push_str(&format!("        level: {:?},\n", report.level));
    if request.bounds.is_empty() {
        s.push_str("        bounds: &[],\n");
    } else {
        s.push_str("        bounds: &[\n");
        for (k, v) in &request.bounds {
            s.push_str(&format!("            ({k:?}, {v}),\n"));
        }
        s.push_str("        ],\n");
    }
    if request.params.is_empty() {
        s.push_str("        params: &[],\n");
    } else {
        s.push_str("        params: &[\n");
        for (k, v) in &request.params {
            s.push_str(&format!("            ({k:?}, {v:?}),\n"));
        }
        s.push_str("        ],\n");
    }
    // One recorded step per line: a diff of the test reads like a diff of the story.
    let parts: Vec<&str> = schedule.split('.').collect();
    s.push_str("        schedule: concat!(\n");
    for (i, part) in parts.iter().enumerate() {
        let sep = if i + 1 < parts.len() { "." } else { "" };
        s.push_str(&format!("            {:?},\n", format!("{part}{sep}")));
    }
    s.push_str("        ),\n");
    s.push_str(&format!("        property: {property:?},\n"));
    s.push_str("    }\n    .assert_fixed(&registry);\n}\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers() {
        assert_eq!(
            test_name(&["host", "pre-10766", "spec", "deadlock"]),
            "regression_host_pre_10766_spec_deadlock"
        );
        assert_eq!(test_name(&["a b", "--x--"]), "regression_a_b_x");
    }

    #[test]
    fn a_report_without_violation_emits_nothing() {
        let report = Report::new("m", "v", "spec", "bfs", Default::default());
        let request = Request::default();
        let err = emit("m", &report, &request, "cmd", DEFAULT_REGISTRY_EXPR).unwrap_err();
        assert!(err.contains("no violation"));
    }
}
