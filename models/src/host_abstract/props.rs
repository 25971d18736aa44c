//! The properties of `host-abstract` (spec section "Properties") plus the
//! `sometimes` properties that keep a pass from being vacuous.

use lockstep::explore::Property;

use super::{HaState, HostAbstract, Pc, Status, Variant};

/// 2. `sem + #actors holding the permit == 1`.
fn semaphore(m: &HostAbstract, s: &HaState) -> bool {
    m.permit_consistent(s)
}

/// 1b. In a state with no enabled step (an `at_terminal` property, so the
/// checker only asks there): `st == Running`, or `st == Error` with
/// `attempts == A`; and the permit is free.
fn quiescent_ok(m: &HostAbstract, s: &HaState) -> bool {
    let settled = s.st() == Status::Running || (s.st() == Status::Error && s.attempts() == m.a);
    settled && s.sem() == 1
}

fn running(_: &HostAbstract, s: &HaState) -> bool {
    s.st() == Status::Running
}

fn storage_failed(_: &HostAbstract, s: &HaState) -> bool {
    s.fails() > 0
}

fn attempt_cancelled(_: &HostAbstract, s: &HaState) -> bool {
    s.cancel()
}

fn restart_completed(m: &HostAbstract, s: &HaState) -> bool {
    (m.a..m.a + m.r).any(|slot| s.pc(slot as usize) == Pc::Done)
}

fn async_restart_taken(_: &HostAbstract, s: &HaState) -> bool {
    s.restart_active()
}

fn inline_restart(m: &HostAbstract, s: &HaState) -> bool {
    (0..m.slots()).any(|slot| s.pc(slot) == Pc::InlWait)
}

/// Safety first, then liveness, then the `sometimes` guards that apply to
/// these bounds (a guard that cannot be reached by construction, e.g. a
/// storage failure with `F = 0`, is left out rather than failing the check).
pub(super) fn properties(m: &HostAbstract) -> Vec<Property<HostAbstract>> {
    let mut props = vec![
        Property::at_terminal("quiescent-ok", quiescent_ok),
        Property::always("semaphore", semaphore),
        Property::eventually("eventually-running", running),
        Property::eventually_always("eventually-always-running", running),
        Property::sometimes("host-running", running),
    ];
    // A storage failure kills the channel; a later start (a second Starter
    // or a Requester) then sees it inactive in LoadMetadata.
    if m.f >= 1 {
        props.push(Property::sometimes("storage-failure", storage_failed));
        if m.a >= 2 || m.r >= 1 {
            props.push(match m.variant {
                Variant::Fixed => Property::sometimes("async-restart-taken", async_restart_taken),
                Variant::Buggy => Property::sometimes("inline-restart", inline_restart),
            });
        }
    }
    if m.r >= 1 {
        props.push(Property::sometimes("attempt-cancelled", attempt_cancelled));
        props.push(Property::sometimes("restart-completed", restart_completed));
    }
    props
}
