//! Semantic schedules: a counterexample written as the steps it takes, each named by
//! the task (or actor) that takes it and the operation it performs, instead of by
//! index. An index schedule (`0.0.1.2`, `t0*3.t1.c2`) means nothing once the code
//! gains or loses a step; a semantic one (`start#1:boot.start#1:enter`) still
//! replays after a small change, or says exactly which recorded step no longer fits.
//!
//! * String form (this file): steps separated by `.`; a step is `task:op`; an
//!   answer to a nondeterministic `choose` is `?label=value`; a run of identical
//!   elements is written `element*n`. Characters that would break the form
//!   (`.`, `:`, `*`, `%`, `?`, quotes, white space) are percent-encoded.
//! * [`protocol`]: protocol models; a step is ([`Model::actor`],
//!   [`Model::action_name`]).
//! * [`schedules`]: implementation models; a step is (task name, the first
//!   operation the task performs in that step, read from the full trace).
//!
//! Both followers tolerate two kinds of drift, and note each: a step the code
//! inserted (the named task has one extra step before the recorded one; at most
//! [`MAX_INSERTED`] in a row) and a recorded step that no longer exists (the
//! task's next enabled operation is its following recorded one).
//!
//! [`Model::actor`]: crate::explore::Model::actor
//! [`Model::action_name`]: crate::explore::Model::action_name

use std::fmt;
use std::str::FromStr;

pub mod protocol;
pub mod schedules;

/// How many unrecorded steps of one task in a row a follower accepts as
/// "inserted by a code change" before it reports a divergence.
pub const MAX_INSERTED: usize = 3;

/// One element of a semantic schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SemStep {
    /// `task` takes a step that performs `op`.
    Step { task: String, op: String },
    /// A `choose(label, n)` answered with `value`.
    Choice { label: String, value: u32 },
}

impl SemStep {
    pub fn step(task: impl Into<String>, op: impl Into<String>) -> Self {
        SemStep::Step {
            task: task.into(),
            op: op.into(),
        }
    }
}

impl fmt::Display for SemStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SemStep::Step { task, op } => write!(f, "{}:{}", escape(task), escape(op)),
            SemStep::Choice { label, value } => write!(f, "?{}={value}", escape(label)),
        }
    }
}

/// The steps of one run or path, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SemanticSchedule {
    pub steps: Vec<SemStep>,
}

impl SemanticSchedule {
    pub fn len(&self) -> usize {
        self.steps.len()
    }
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for SemanticSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        while i < self.steps.len() {
            let run = self.steps[i..]
                .iter()
                .take_while(|s| **s == self.steps[i])
                .count();
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{}", self.steps[i])?;
            if run > 1 {
                write!(f, "*{run}")?;
            }
            i += run;
        }
        Ok(())
    }
}

/// Whether a `--schedule` argument is a semantic schedule (it names a step
/// `task:op` or a choice `?label=value`) rather than an index schedule.
pub fn looks_semantic(text: &str) -> bool {
    let text = text.trim();
    text.contains(':') || text.starts_with('?')
}

/// Why a semantic schedule string did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad semantic schedule at element {index} (`{element}`): {reason}")]
pub struct SemanticParseError {
    /// 0-based index of the `.`-separated element.
    pub index: usize,
    pub element: String,
    pub reason: String,
}

impl FromStr for SemanticSchedule {
    type Err = SemanticParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let mut steps = Vec::new();
        if text.is_empty() || text == "-" {
            return Ok(SemanticSchedule { steps });
        }
        for (index, element) in text.split('.').enumerate() {
            let err = |reason: &str| SemanticParseError {
                index,
                element: element.to_string(),
                reason: reason.to_string(),
            };
            let (body, count) = match element.rsplit_once('*') {
                Some((body, n)) => {
                    let n: usize = n.parse().map_err(|_| err("repeat count is not a number"))?;
                    if n == 0 || n > 1_000_000 {
                        return Err(err("repeat count must be in 1..=1000000"));
                    }
                    (body, n)
                }
                None => (element, 1),
            };
            let step = if let Some(choice) = body.strip_prefix('?') {
                let (label, value) = choice
                    .rsplit_once('=')
                    .ok_or_else(|| err("a choice is written `?label=value`"))?;
                SemStep::Choice {
                    label: unescape(label).map_err(|r| err(&r))?,
                    value: value
                        .parse()
                        .map_err(|_| err("the value of a choice is a number"))?,
                }
            } else {
                let (task, op) = body
                    .split_once(':')
                    .ok_or_else(|| err("a step is written `task:operation`"))?;
                if task.is_empty() || op.is_empty() {
                    return Err(err("a step needs both a task and an operation"));
                }
                SemStep::Step {
                    task: unescape(task).map_err(|r| err(&r))?,
                    op: unescape(op).map_err(|r| err(&r))?,
                }
            };
            steps.extend(std::iter::repeat_n(step, count));
        }
        Ok(SemanticSchedule { steps })
    }
}

/// Percent-encodes the characters that carry meaning in the string form.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '.' | ':' | '*' | '%' | '?' | '\'' | '"' | '\\' | '`')
            || c.is_whitespace()
            || c.is_control()
        {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reverses [`escape`]; a malformed `%` sequence is an error.
pub fn unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("`%` at byte {i} is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the %-escapes do not form UTF-8".to_string())
}

/// A step that no longer fits the code: where, what was expected, what was possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based index of the recorded step that does not fit.
    pub step: usize,
    /// The recorded step, as written in the schedule.
    pub expected: String,
    pub reason: String,
    /// The steps that were possible instead (`task:op` or `task`).
    pub possible: Vec<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "semantic schedule diverges at step {} (`{}`): {}",
            self.step, self.expected, self.reason
        )?;
        if !self.possible.is_empty() {
            write!(f, "; possible here: {}", self.possible.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Divergence {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_escapes_and_runs() {
        let s = SemanticSchedule {
            steps: vec![
                SemStep::step("environment", "setup(bundle=0,stop=1)"),
                SemStep::step("a#1", "acquire(s.1)"),
                SemStep::step("a#1", "acquire(s.1)"),
                SemStep::Choice {
                    label: "storage fault?".into(),
                    value: 1,
                },
                SemStep::step("b:2", "run"),
            ],
        };
        let text = s.to_string();
        assert_eq!(
            text,
            "environment:setup(bundle=0,stop=1).a#1:acquire(s%2E1)*2.?storage%20fault%3F=1.b%3A2:run"
        );
        assert_eq!(text.parse::<SemanticSchedule>().unwrap(), s);
        assert!(looks_semantic(&text));
        assert!(!looks_semantic("0.1.2") && !looks_semantic("t0*3.c1"));
        assert_eq!("-".parse::<SemanticSchedule>().unwrap().len(), 0);
    }

    #[test]
    fn parse_errors_name_the_element() {
        let e = "a:b.nocolon".parse::<SemanticSchedule>().unwrap_err();
        assert_eq!(e.index, 1);
        assert!("a:b*0".parse::<SemanticSchedule>().is_err());
        assert!("?x=y".parse::<SemanticSchedule>().is_err());
        assert!("a:%zz".parse::<SemanticSchedule>().is_err());
        assert!(":op".parse::<SemanticSchedule>().is_err());
    }
}
