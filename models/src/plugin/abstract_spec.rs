//! How `host-abstract` shows itself in a lifecycle trace: the
//! [`Observable`] mapping of its steps to schema events, so traces of
//! implementations (the plug-in driver's runs, `teamhost`, hand-written
//! JSONL) can be checked against it.
//!
//! | step | events (in order, by the acting actor) |
//! |---|---|
//! | Wake, Take | none (internal) |
//! | Request | `restart.requested` |
//! | Acquire | `sem.acquire`, then optionally `host.state to=Starting` or `to=Default` (the real host never reports Starting; a restart reports Default) |
//! | BuildFail | `start.fail` (any error: the abstract fault stands for storage and worker failures alike), `host.state to=Error`, `sem.release` |
//! | BuildOk (fixed, cancelled) | `start.cancel`, `sem.release`, `host.state to=Stopped` |
//! | Load (buggy, no channel) | `restart.requested reason=inline` |
//! | Load (fixed, no channel, none pending) | `restart.requested reason=no-channel`, then as BuildOk if cancelled |
//! | Finish | `host.state to=Running`, `sem.release` |
//!
//! Other events (`channel.*`, `start.retry`, `restart.started`, ...) are not
//! modelled at this level and are skipped. Requests and storage failures are
//! environment steps (they may never
//! come). The longest bounded wait is the host's: 180 s (backoff cap 120 s
//! plus a worker channel start of about 70 s, rounded down).

use lockstep::conform::{LifecycleEvent, Observable, ObservedEvent};
use lockstep::explore::Model;
use lockstep::report::WaitEdge;

use crate::host_abstract::Step;
use crate::host_abstract::{HaAction, HaState, HostAbstract, Pc, Status, Variant};

/// The event names `host-abstract` shows (everything else is skipped).
pub const OBSERVED: [&str; 6] = [
    "host.state",
    "restart.requested",
    "sem.acquire",
    "sem.release",
    "start.cancel",
    "start.fail",
];

/// The host's longest bounded wait without an observable step (see module docs).
pub const HOST_LONGEST_WAIT_MS: u64 = 180_000;

fn state_name(s: Status) -> &'static str {
    match s {
        Status::Default => "Default",
        Status::Starting => "Starting",
        Status::Running => "Running",
        Status::Error => "Error",
        Status::Stopped => "Stopped",
    }
}

impl Observable for HostAbstract {
    fn observe(&self, before: &HaState, action: &HaAction, after: &HaState) -> Vec<ObservedEvent> {
        let who = self.actor(action);
        let ev = |name: &'static str| ObservedEvent::new(name).by(who.clone());
        let state = |s: Status| ev("host.state").with("to", state_name(s));
        let cancelled = |out: &mut Vec<ObservedEvent>| {
            if after.pc(action.slot as usize) != Pc::Load
                && after.pc(action.slot as usize) != Pc::Finish
            {
                out.push(ev("start.cancel"));
                out.push(ev("sem.release"));
                out.push(state(Status::Stopped));
            }
        };
        let mut out = Vec::new();
        match action.step {
            Step::Wake | Step::Take | Step::InlAcquire => {}
            Step::Request => out.push(ev("restart.requested")),
            Step::Acquire => {
                out.push(ev("sem.acquire"));
                out.push(ev("host.state").with("to", "Starting|Default").optional());
            }
            Step::BuildFail => {
                out.push(ev("start.fail"));
                out.push(state(Status::Error));
                out.push(ev("sem.release"));
            }
            Step::BuildOk => {
                if self.variant_kind() == Variant::Fixed {
                    cancelled(&mut out);
                }
            }
            Step::Load => match self.variant_kind() {
                Variant::Buggy => {
                    if after.pc(action.slot as usize) == Pc::InlWait {
                        out.push(ev("restart.requested").with("reason", "inline"));
                    }
                }
                Variant::Fixed => {
                    if after.restart_req() && !before.restart_req() {
                        out.push(ev("restart.requested").with("reason", "no-channel"));
                    }
                    cancelled(&mut out);
                }
            },
            Step::Finish => {
                out.push(state(Status::Running));
                out.push(ev("sem.release"));
            }
        }
        out
    }

    fn observes(&self, event: &str) -> bool {
        OBSERVED.contains(&event)
    }

    fn is_environment(&self, action: &HaAction) -> bool {
        matches!(action.step, Step::Request | Step::BuildFail)
    }

    /// At rest, except that a requester who never asks is fine too.
    fn settled(&self, s: &HaState) -> bool {
        let (r, _, a) = self.rfa();
        let slots = (a + r + 1) as usize;
        (0..slots).all(|slot| {
            let pc = s.pc(slot);
            let is_starter = slot < a as usize;
            let is_requester = !is_starter && slot < (a + r) as usize;
            matches!(
                (is_starter, is_requester, pc),
                (true, _, Pc::Idle | Pc::Done)
                    | (_, true, Pc::Idle | Pc::Done)
                    | (false, false, Pc::Idle)
            )
        })
    }

    fn longest_bounded_wait_ms(&self) -> u64 {
        HOST_LONGEST_WAIT_MS
    }

    /// `health.report status=running` needs a running host; any other
    /// status (`no-script-host`, `error`, ...) needs one that is not.
    fn admits_probe(&self, s: &HaState, probe: &LifecycleEvent) -> bool {
        if probe.event != "health.report" {
            return true;
        }
        let running = s.st() == Status::Running;
        match probe.fields.get("status").map(String::as_str) {
            Some("running") => running,
            Some(_) => !running,
            None => true,
        }
    }
}

impl HostAbstract {
    /// The wait-for edges of a stuck state (who waits on the permit, who holds it).
    pub fn wait_edges(&self, s: &HaState) -> Vec<WaitEdge> {
        let (r, _, a) = self.rfa();
        let slots = (a + r + 1) as usize;
        let name = |slot: usize| {
            let action = HaAction {
                slot: slot as u8,
                step: Step::Acquire,
            };
            self.actor(&action)
        };
        let holder = (0..slots).find(|&k| s.pc(k).holds_permit()).map(name);
        (0..slots)
            .filter(|&k| matches!(s.pc(k), Pc::WaitSem | Pc::InlWait))
            .map(|k| WaitEdge {
                task: name(k),
                resource: "start_sem".to_string(),
                holder: holder.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use lockstep::conform::{check_trace, parse_jsonl, ConformOptions};
    use lockstep::report::{Bounds, Verdict};

    use super::*;

    fn model(variant: &str, r: i64, f: i64) -> HostAbstract {
        let bounds = Bounds::from([
            ("R".to_string(), r),
            ("F".to_string(), f),
            ("A".to_string(), f + 1),
        ]);
        HostAbstract::new(variant, &bounds).unwrap()
    }

    fn jsonl(rows: &[(u64, &str, &str, &str)]) -> Vec<LifecycleEvent> {
        let text: String = rows
            .iter()
            .enumerate()
            .map(|(i, (t, actor, event, extra))| {
                format!(
                    "{{\"v\":1,\"seq\":{},\"time_ms\":{t},\"actor\":\"{actor}\",\"event\":\"{event}\"{extra}}}\n",
                    i + 1
                )
            })
            .collect();
        parse_jsonl(&text).unwrap()
    }

    /// The seed story at the abstract level: storage failure, retry, inline restart.
    fn seed_story() -> Vec<LifecycleEvent> {
        jsonl(&[
            (0, "s1", "sem.acquire", ""),
            (0, "s1", "host.state", ",\"to\":\"Starting\""),
            (10, "s1", "start.fail", ",\"error\":\"storage\""),
            (10, "s1", "host.state", ",\"to\":\"Error\""),
            (10, "s1", "sem.release", ""),
            (1010, "s2", "sem.acquire", ""),
            (1010, "s2", "host.state", ",\"to\":\"Starting\""),
            (1020, "s2", "restart.requested", ",\"reason\":\"inline\""),
            (1020, "s2", "sem.wait", ""),
            (
                600_000,
                "",
                "health.report",
                ",\"status\":\"no-script-host\"",
            ),
        ])
    }

    #[test]
    fn the_seed_story_conforms_to_buggy_and_is_a_deadlock_witness() {
        let out = check_trace(
            &model("buggy", 0, 1),
            &seed_story(),
            &ConformOptions::default(),
        );
        assert_eq!(out.verdict, Verdict::Violated, "{:#?}", out.notes);
        assert_eq!(out.property.as_deref(), Some("deadlock"));
        assert!(out.rejection.is_none());
        assert_eq!(out.wait_for.len(), 1);
        assert_eq!(out.held_at_end[0].holder, "s2");
    }

    #[test]
    fn the_seed_story_is_rejected_by_fixed_at_the_inline_restart() {
        let out = check_trace(
            &model("fixed", 0, 1),
            &seed_story(),
            &ConformOptions::default(),
        );
        // The deadlock (from the trace's own evidence) is the headline; the
        // rejection says where the trace left the fixed protocol.
        assert_eq!(out.property.as_deref(), Some("deadlock"));
        let r = out.rejection.as_ref().unwrap();
        assert_eq!(r.line, 8);
        assert!(
            r.allowed.iter().any(|a| a.contains("reason=no-channel")),
            "{:?}",
            r.allowed
        );
        // Still a deadlock witness from the trace's own evidence.
        assert!(out
            .properties
            .iter()
            .any(|p| p.name == "deadlock" && p.verdict == Verdict::Violated));
    }

    #[test]
    fn a_healthy_fixed_restart_conforms() {
        let events = jsonl(&[
            (0, "s1", "sem.acquire", ""),
            (0, "s1", "host.state", ",\"to\":\"Starting\""),
            (5, "r1", "restart.requested", ""),
            (6, "s1", "start.cancel", ""),
            (6, "s1", "sem.release", ""),
            (6, "s1", "host.state", ",\"to\":\"Stopped\""),
            (7, "r1", "sem.acquire", ""),
            (7, "r1", "host.state", ",\"to\":\"Starting\""),
            (9, "r1", "host.state", ",\"to\":\"Running\""),
            (9, "r1", "sem.release", ""),
            (400_000, "", "health.report", ",\"status\":\"running\""),
        ]);
        let out = check_trace(&model("fixed", 1, 1), &events, &ConformOptions::default());
        assert_eq!(out.verdict, Verdict::Holds, "{:#?}", out.notes);
        assert!(out.quiescent);
    }
}
