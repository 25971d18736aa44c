//! How the `host` protocol model shows itself in a lifecycle trace: the
//! [`Observable`] mapping of its transition logs to schema-v1 events, chosen
//! to match what the real host logs (see `docs/conformance.md`), so host logs
//! and implementation traces can be checked against `pre-10766`,
//! `fix-11142` and `fix-11825`.
//!
//! | model event | trace event | real log line |
//! |---|---|---|
//! | a start or restart enters its critical section (`Enter`) | `sem.acquire` | "Startup operation '…' starting." / "Restarting host." |
//! | `ReleasedSem`, `HandedSemTo` | `sem.release` | "Startup operation '…' completed." / "Host restarted." |
//! | `StateTo(s)` and the error handler's `Error` (only real changes) | `host.state to=s` | "Host state changed from … to …." |
//! | `ErrorHandler` | `start.fail` | "A host error has occurred …" |
//! | `Cancelled(_)` | `start.cancel` | "Host startup operation '…' was canceled." |
//! | `Backoff` | `start.retry` | "Will start a new host after delay." |
//! | an external restart passes `_hostStarted` | `restart.requested` | "Restart requested. Reason '…'" |
//! | `InlineRestart` | `restart.requested reason=inline` | the same line, from inside a start |
//! | `StopAsync`, `StopDone` | `host.state`, `stop.begin` / `stop.done`, `host.state` | "Stopping host..." / "Host shutdown completed." |
//!
//! The semaphore grant (`TookSem`, the grant half of `HandedSemTo`) is not
//! shown: the host logs it only when the new holder's code runs (`Enter`).
//! Worker channel events are not modelled at this level of observation and
//! are skipped.

use lockstep::conform::{LifecycleEvent, Observable, ObservedEvent};
use lockstep::explore::Model;

use super::spec::HostSpec;
use super::spec_action::{Action, Step};
use super::spec_log::Ev;
use super::spec_state::{HostSt, HostState, Pc, StopPc};
use crate::plugin::abstract_spec::HOST_LONGEST_WAIT_MS;

/// The event names the host model shows.
pub const HOST_OBSERVED: [&str; 10] = [
    "host.state",
    "restart.requested",
    "sem.acquire",
    "sem.release",
    "start.cancel",
    "start.fail",
    "start.retry",
    "stop.begin",
    "stop.done",
    "restart.finished",
];

fn state_name(s: HostState) -> &'static str {
    match s {
        HostState::Default => "Default",
        HostState::Running => "Running",
        HostState::Error => "Error",
        HostState::Stopping => "Stopping",
        HostState::Stopped => "Stopped",
        HostState::Offline => "Offline",
    }
}

impl Observable for HostSpec {
    fn observe(&self, before: &HostSt, action: &Action, after: &HostSt) -> Vec<ObservedEvent> {
        let who = self.actor(action);
        let ev = |name: &'static str| ObservedEvent::new(name).by(who.clone());
        let mut out = Vec::new();
        // The state as the log has last reported it while walking this step.
        let mut shown = before.state;
        let mut show_state = |out: &mut Vec<ObservedEvent>, to: HostState| {
            if to != shown {
                shown = to;
                out.push(
                    ObservedEvent::new("host.state")
                        .by(who.clone())
                        .with("to", state_name(to)),
                );
            }
        };
        let requester = self.is_requester(action.actor);
        let entering = matches!(action.step, Step::Enter { .. });
        if entering && !action.log.contains(Ev::RestartSkippedStopping) {
            out.push(ev("sem.acquire"));
        }
        for e in action.log.events() {
            match e {
                Ev::ReleasedSem | Ev::HandedSemTo(_) => {
                    if requester && !action.log.contains(Ev::RestartSkippedStopping) {
                        out.push(ev("restart.finished").optional());
                    }
                    out.push(ev("sem.release"));
                }
                Ev::StateTo(s) => show_state(&mut out, s),
                Ev::ErrorHandler { active } => {
                    out.push(ev("start.fail"));
                    if active {
                        show_state(&mut out, HostState::Error);
                    }
                }
                Ev::Cancelled(_) => out.push(ev("start.cancel")),
                Ev::Backoff { .. } => out.push(ev("start.retry")),
                Ev::CancelledOps(_)
                    if matches!(action.step, Step::Request { .. } | Step::LatchObserved) =>
                {
                    out.push(ev("restart.requested"));
                }
                Ev::InlineRestart => {
                    out.push(ev("restart.requested").with("reason", "inline"));
                }
                Ev::StopAsync => {
                    show_state(&mut out, HostState::Stopping);
                    out.push(ev("stop.begin"));
                }
                _ => {}
            }
        }
        if action.step == Step::StopDone {
            out.insert(0, ev("stop.done"));
        }
        // State assignments the transition log does not spell out (Unsync's
        // "Default unless Error"): the log still reports the change.
        if after.state != shown {
            let to = after.state;
            out.push(
                ObservedEvent::new("host.state")
                    .by(who.clone())
                    .with("to", state_name(to)),
            );
        }
        out
    }

    fn observes(&self, event: &str) -> bool {
        HOST_OBSERVED.contains(&event)
    }

    fn is_environment(&self, action: &Action) -> bool {
        match action.step {
            Step::Request { .. } | Step::AppStopping | Step::StopAsync => true,
            Step::Enter { config_error } => config_error,
            Step::HostStart { storage_error } => storage_error,
            Step::DispatcherInit { init_error } => init_error,
            Step::Worker { outcome } => outcome != super::WorkerOutcome::Ready,
            _ => false,
        }
    }

    /// At rest, or only waiting for a shutdown that may never come.
    fn settled(&self, s: &HostSt) -> bool {
        let mut relaxed = *s;
        if matches!(relaxed.stop, StopPc::Idle | StopPc::Flagged) {
            relaxed.stop = StopPc::Absent;
        }
        self.at_rest(&relaxed)
    }

    fn longest_bounded_wait_ms(&self) -> u64 {
        HOST_LONGEST_WAIT_MS
    }

    fn admits_probe(&self, s: &HostSt, probe: &LifecycleEvent) -> bool {
        if probe.event != "health.report" {
            return true;
        }
        let running = s.state == HostState::Running;
        match probe.fields.get("status").map(String::as_str) {
            Some("running") => running,
            Some(_) => !running,
            None => true,
        }
    }
}

/// Whether actor `a` of `s` is stuck in the inline restart (for tests).
pub fn inline_waiting(s: &HostSt) -> bool {
    s.actors.iter().any(|a| a.pc == Pc::InlineWait)
}
