//! Schedules (the decisions of one run, as a compact printable and parseable
//! string) and the [`Scheduler`] oracle the executor consults at every decision.
//!
//! String form: decisions separated by `.`; `tN` runs task N for one step,
//! `cK` answers a `choose` with K; a run of identical decisions is written
//! `t1*4`. The empty schedule prints as `-`. Example: `t0*3.t1.c2.t2*2`.

use std::fmt;
use std::str::FromStr;

use crate::rt::{Footprint, TaskId};

/// One decision of a run.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// Run this task for one step.
    Task(u32),
    /// The value returned by a `choose` call.
    Choice(u32),
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Task(t) => write!(f, "t{t}"),
            Decision::Choice(c) => write!(f, "c{c}"),
        }
    }
}

/// The sequence of decisions of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Schedule {
    pub decisions: Vec<Decision>,
}

impl Schedule {
    pub fn new(decisions: Vec<Decision>) -> Self {
        Schedule { decisions }
    }
    pub fn len(&self) -> usize {
        self.decisions.len()
    }
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decisions.is_empty() {
            return f.write_str("-");
        }
        let mut i = 0;
        let mut first = true;
        while i < self.decisions.len() {
            let d = self.decisions[i];
            let mut run = 1;
            while i + run < self.decisions.len() && self.decisions[i + run] == d {
                run += 1;
            }
            if !first {
                f.write_str(".")?;
            }
            first = false;
            if run == 1 {
                write!(f, "{d}")?;
            } else {
                write!(f, "{d}*{run}")?;
            }
            i += run;
        }
        Ok(())
    }
}

/// Why a schedule string did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad schedule at element {index} (`{element}`): {reason}")]
pub struct ScheduleParseError {
    /// 0-based index of the `.`-separated element.
    pub index: usize,
    pub element: String,
    pub reason: String,
}

impl FromStr for Schedule {
    type Err = ScheduleParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut decisions = Vec::new();
        if s.is_empty() || s == "-" {
            return Ok(Schedule { decisions });
        }
        for (index, element) in s.split('.').enumerate() {
            let err = |reason: &str| ScheduleParseError {
                index,
                element: element.to_string(),
                reason: reason.to_string(),
            };
            let (head, count) = match element.split_once('*') {
                Some((head, count)) => {
                    let n: usize = count
                        .parse()
                        .map_err(|_| err("repeat count is not a number"))?;
                    if n == 0 {
                        return Err(err("repeat count must be at least 1"));
                    }
                    if n > 10_000_000 {
                        return Err(err("repeat count is implausibly large"));
                    }
                    (head, n)
                }
                None => (element, 1),
            };
            let mut chars = head.chars();
            let kind = chars.next().ok_or_else(|| err("empty element"))?;
            let num: u32 = chars
                .as_str()
                .parse()
                .map_err(|_| err("expected `t<task>` or `c<value>`"))?;
            let d = match kind {
                't' => Decision::Task(num),
                'c' => Decision::Choice(num),
                _ => return Err(err("expected `t<task>` or `c<value>`")),
            };
            decisions.resize(decisions.len() + count, d);
        }
        Ok(Schedule { decisions })
    }
}

/// What the executor shows a scheduler when a task must be picked.
#[derive(Debug)]
pub struct TaskPoint<'a> {
    /// Runnable tasks, ascending.
    pub enabled: &'a [TaskId],
    /// Stable ids of `enabled` (same order): equal across interleavings for
    /// the same logical task.
    pub stable_ids: &'a [u64],
    /// The task that took the previous step.
    pub prev: Option<TaskId>,
    /// Steps taken so far.
    pub step: u64,
    /// Whether a property violation has already been recorded in this run
    /// (the run will fail; explorers should let it finish rather than prune it).
    pub failing: bool,
}

/// What the executor reports after each step.
#[derive(Debug)]
pub struct StepInfo<'a> {
    pub task: TaskId,
    /// Every object the step touched (announced op plus synchronous accesses).
    pub footprint: &'a Footprint,
    /// The world's fingerprint after the step, if the scheduler asked for it.
    pub fingerprint: Option<u64>,
    /// Steps taken so far, including this one.
    pub step: u64,
    pub failing: bool,
}

/// The single oracle of a run: picks the next task and answers `choose`.
///
/// Returning `None` abandons the run (status `Abandoned`): explorers use it to
/// prune, replay uses it when the schedule does not fit the code.
pub trait Scheduler {
    fn next_task(&mut self, point: &TaskPoint<'_>) -> Option<TaskId>;
    fn next_choice(&mut self, label: &str, n: usize) -> Option<usize>;
    fn after_step(&mut self, _info: &StepInfo<'_>) {}
    /// Whether [`StepInfo::fingerprint`] should be computed (costs a pass over the world).
    fn wants_fingerprints(&self) -> bool {
        false
    }
    /// Asked after each step when [`Scheduler::wants_fingerprints`]: whether
    /// this step's [`StepInfo::fingerprint`] is needed (a scheduler replaying a
    /// known prefix does not look at it, and the pass over the world is the
    /// dearest part of a step).
    fn fingerprint_needed(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_run_length() {
        let s = Schedule::new(vec![
            Decision::Task(0),
            Decision::Task(0),
            Decision::Task(0),
            Decision::Task(1),
            Decision::Choice(2),
            Decision::Task(12),
            Decision::Task(12),
        ]);
        let text = s.to_string();
        assert_eq!(text, "t0*3.t1.c2.t12*2");
        assert_eq!(text.parse::<Schedule>().unwrap(), s);
        assert_eq!("-".parse::<Schedule>().unwrap(), Schedule::default());
        assert_eq!(Schedule::default().to_string(), "-");
    }

    #[test]
    fn parse_errors_are_values() {
        let e = "t0.x1".parse::<Schedule>().unwrap_err();
        assert_eq!(e.index, 1);
        assert!("t0.t".parse::<Schedule>().is_err());
        assert!("t0*0".parse::<Schedule>().is_err());
        assert!("t0*z".parse::<Schedule>().is_err());
        assert!("t0..t1".parse::<Schedule>().is_err());
    }
}
