//! Instance lifecycle (start, crash, graceful stop, relinquish), record expiry and the
//! load-balancing cycle (spec B.6): renew, list, claim or steal one partition,
//! stop lost partitions (awaiting their handlers), restart faulted pumps.
//!
//! Time is abstracted: an ownership record may expire only while its owner cannot
//! renew it (crashed, shutting down, its cycle blocked in a stop, or its last renew
//! threw). A live owner whose cycle runs renews well within the interval.

use std::collections::BTreeMap;
use std::time::Duration;

use lockstep::world::checkpoint_store::{ClaimRequest, ClientId, OwnershipRecord, Version};

use super::config::PlantedBug;
use super::spec::EventHubsSpec;
use super::state::{EhState, Ghost, Lb, Life, Pump, PumpPhase, EXPIRATION, GROUP, NOW};

impl EventHubsSpec {
    pub(super) fn start(&self, s: &mut EhState, i: usize) -> Option<()> {
        let inst = &mut s.instances[i];
        (inst.life == Life::NotStarted).then_some(())?;
        inst.life = Life::Running;
        Some(())
    }

    /// The process dies: in-flight work is lost, nothing is written, its records
    /// stay owned until they expire.
    pub(super) fn crash(&self, s: &mut EhState, i: usize) -> Option<()> {
        (s.crashes_used < self.config.crashes).then_some(())?;
        let inst = &mut s.instances[i];
        matches!(inst.life, Life::Running | Life::ShuttingDown).then_some(())?;
        inst.life = Life::Crashed;
        inst.lb = Lb::Idle;
        inst.owned.iter_mut().for_each(|o| *o = None);
        inst.pumps.iter_mut().for_each(|p| *p = None);
        inst.renew_failed = false;
        inst.fn_cancelled = false;
        for p in 0..self.partitions() {
            let _ = s.hub.close_receiver(GROUP, p as u32, i as u32);
        }
        s.crashes_used += 1;
        Some(())
    }

    /// Listener StopAsync (not in drain mode, spec B.4.4): cancel fnToken and
    /// listenerToken, stop the run loop and every partition (their handlers finish).
    pub(super) fn stop_listener(&self, s: &mut EhState, i: usize) -> Option<()> {
        (s.stops_used < self.config.stops).then_some(())?;
        let inst = &mut s.instances[i];
        (inst.life == Life::Running).then_some(())?;
        inst.life = Life::ShuttingDown;
        inst.fn_cancelled = true;
        inst.lb = Lb::Idle;
        inst.pumps
            .iter_mut()
            .flatten()
            .for_each(|pump| pump.stop_requested = true);
        s.stops_used += 1;
        Some(())
    }

    /// After every partition stopped: relinquish ownership (empty owner, on the ETag).
    pub(super) fn relinquish(&self, s: &mut EhState, i: usize, fails: bool) -> Option<()> {
        let inst = &s.instances[i];
        (inst.life == Life::ShuttingDown && inst.pumps.iter().flatten().all(Pump::finished))
            .then_some(())?;
        let requests: Vec<ClaimRequest> = inst
            .owned
            .iter()
            .enumerate()
            .filter_map(|(p, v)| {
                v.map(|v| ClaimRequest {
                    partition: p as u32,
                    owner: None,
                    expected: Some(v),
                })
            })
            .collect();
        self.store_call(s, i, fails)?;
        let _ = s.store.claim_ownership(i as ClientId, NOW, &requests);
        for p in 0..self.partitions() {
            let _ = s.hub.close_receiver(GROUP, p as u32, i as u32);
        }
        let inst = &mut s.instances[i];
        inst.owned.iter_mut().for_each(|o| *o = None);
        inst.pumps.iter_mut().for_each(|p| *p = None);
        inst.life = Life::Stopped;
        Some(())
    }

    /// A record ages past the expiration interval because its owner cannot renew:
    /// it crashed, stopped without relinquishing, or its last renew threw. An owner
    /// whose cycle waits for a stop (or whose shutdown waits for handlers) renews in
    /// time unless the awaited handler is inside an invocation that can retry for
    /// ever (unbounded retries); finite retry delays are taken to fit within the
    /// expiration interval.
    pub(super) fn expire(&self, s: &mut EhState, p: usize) -> Option<()> {
        self.may_expire(s, p).then_some(())?;
        s.store.backdate(p as u32, Duration::ZERO);
        Some(())
    }

    /// Whether [`Self::expire`] is enabled for `p`.
    pub(super) fn may_expire(&self, s: &EhState, p: usize) -> bool {
        let Some(record) = s.store.ownership(p as u32) else {
            return false;
        };
        let Some(owner) = record.owner.filter(|_| record.is_active(NOW, EXPIRATION)) else {
            return false;
        };
        let owner = &s.instances[owner as usize];
        let blocked = matches!(owner.life, Life::ShuttingDown) || owner.lb == Lb::Stopping;
        let awaits_endless_handler = self.config.infinite_retries()
            && owner.pumps.iter().flatten().any(|pump| {
                pump.stop_requested
                    && matches!(
                        pump.phase,
                        PumpPhase::Sequential(_) | PumpPhase::Concurrent(_)
                    )
            });
        match owner.life {
            Life::Crashed | Life::Stopped => true,
            Life::Running | Life::ShuttingDown => {
                owner.renew_failed || (blocked && awaits_endless_handler)
            }
            Life::NotStarted => false,
        }
    }

    /// Whether a successful renew would change nothing: no earlier renew threw and
    /// every believed record is still active at the believed version.
    pub(super) fn renew_is_noop(&self, s: &EhState, i: usize) -> bool {
        let inst = &s.instances[i];
        !inst.renew_failed
            && inst.owned.iter().enumerate().all(|(p, v)| {
                v.is_none_or(|v| {
                    s.store
                        .ownership(p as u32)
                        .is_some_and(|r| r.version == v && r.is_active(NOW, EXPIRATION))
                })
            })
    }

    /// Whether reconciling (cycle steps 3-5) would change nothing: every believed
    /// partition has a live pump and no other partition has one.
    pub(super) fn reconcile_is_noop(&self, s: &EhState, i: usize) -> bool {
        let inst = &s.instances[i];
        (0..self.partitions()).all(|p| match (&inst.owned[p], &inst.pumps[p]) {
            (Some(_), Some(pump)) => !pump.finished(),
            (None, None) => true,
            _ => false,
        })
    }

    /// Whether [`Self::lb_resume`] is enabled.
    pub(super) fn may_resume(&self, s: &EhState, i: usize) -> bool {
        let inst = &s.instances[i];
        inst.life == Life::Running
            && inst.lb == Lb::Stopping
            && (0..self.partitions()).all(|p| {
                inst.owned[p].is_some() || inst.pumps[p].as_ref().is_none_or(Pump::finished)
            })
    }

    /// Prepares a store call that fails (consuming one outage) or succeeds.
    /// `None` when a failure is asked for but the budget is spent.
    pub(super) fn store_call(&self, s: &mut EhState, i: usize, fails: bool) -> Option<()> {
        if fails {
            (s.outages_used < self.config.outages).then_some(())?;
            s.outages_used += 1;
            s.store.fail_next(i as ClientId, 1);
        }
        Some(())
    }

    /// Renew every believed record; a lost condition drops it. On a store failure the
    /// beliefs are kept (spec B.6 step 2.1) and `false` is returned.
    ///
    /// Abstraction: a record that is still active at the believed version is not
    /// rewritten. In real time the renewal only refreshes its timestamp (which this
    /// model does not have) and bumps its ETag, which can make a concurrent claim
    /// that listed the old ETag fail; that failure leaves the state as if the
    /// claimer had not cycled yet, so skipping it removes only stuttering (and the
    /// unfair livelock "renew between every list and claim" it would otherwise add).
    /// Expired records are rewritten (re-activated) and lost ones dropped.
    pub(super) fn renew(&self, s: &mut EhState, i: usize, fails: bool) -> Option<bool> {
        let current = |p: usize, v: Version| {
            s.store
                .ownership(p as u32)
                .is_some_and(|r| r.version == v && r.is_active(NOW, EXPIRATION))
        };
        let requests: Vec<ClaimRequest> = s.instances[i]
            .owned
            .iter()
            .enumerate()
            .filter_map(|(p, v)| v.filter(|v| !current(p, *v)).map(|v| (p, v)))
            .map(|(p, v)| ClaimRequest {
                partition: p as u32,
                owner: Some(i as u32),
                expected: Some(v),
            })
            .collect();
        self.store_call(s, i, fails)?;
        match s.store.claim_ownership(i as ClientId, NOW, &requests) {
            Ok(wins) => {
                let inst = &mut s.instances[i];
                for request in &requests {
                    inst.owned[request.partition as usize] = None;
                }
                for win in wins {
                    inst.owned[win.record.partition as usize] = Some(win.record.version);
                }
                inst.renew_failed = false;
                Some(true)
            }
            Err(_) => {
                s.instances[i].renew_failed = true;
                Some(false)
            }
        }
    }

    /// The partitions a cycle may claim (spec B.6 step 2.4), with the version last
    /// seen for each; the pick among them is random in the SDK, so every one is a branch.
    pub(super) fn claim_candidates(&self, s: &EhState, i: usize) -> Vec<(u8, Option<Version>)> {
        let all: Vec<OwnershipRecord> = (0..self.partitions())
            .filter_map(|p| s.store.ownership(p as u32).copied())
            .collect();
        greedy_candidates(
            &all,
            NOW,
            self.expiration_seen(),
            i as ClientId,
            self.partitions(),
        )
    }

    /// The expiration interval the balancer applies when it lists (the planted
    /// [`PlantedBug::IgnoresExpiry`] never sees a record expire).
    fn expiration_seen(&self) -> Duration {
        if self.planted == PlantedBug::IgnoresExpiry {
            Duration::MAX
        } else {
            EXPIRATION
        }
    }

    /// One cycle up to the claim: renew, list, and either start a claim of `claim`
    /// (which must be a candidate) or, with nothing to claim, reconcile at once.
    pub(super) fn lb_cycle(
        &self,
        s: &mut EhState,
        i: usize,
        renew_fails: bool,
        claim: Option<u8>,
    ) -> Option<()> {
        let inst = &s.instances[i];
        (inst.life == Life::Running && inst.lb == Lb::Idle).then_some(())?;
        if !self.renew(s, i, renew_fails)? {
            claim.is_none().then_some(())?;
            self.reconcile(s, i);
            return Some(());
        }
        let candidates = self.claim_candidates(s, i);
        match claim {
            None => {
                candidates.is_empty().then_some(())?;
                self.reconcile(s, i);
            }
            Some(partition) => {
                let (_, expected) = *candidates.iter().find(|(p, _)| *p == partition)?;
                s.instances[i].lb = Lb::Claiming {
                    partition,
                    expected,
                };
            }
        }
        Some(())
    }

    /// The conditional claim chosen by the cycle, then reconcile.
    pub(super) fn lb_claim(&self, s: &mut EhState, i: usize, fails: bool) -> Option<()> {
        let Lb::Claiming {
            partition,
            expected,
        } = s.instances[i].lb
        else {
            return None;
        };
        (s.instances[i].life == Life::Running).then_some(())?;
        self.store_call(s, i, fails)?;
        let request = ClaimRequest {
            partition: u32::from(partition),
            owner: Some(i as u32),
            expected,
        };
        if let Ok(wins) = s.store.claim_ownership(i as ClientId, NOW, &[request]) {
            for win in wins {
                let bypassed = match (win.previous, expected) {
                    (Some(prev), Some(v)) => prev.version != v,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if bypassed {
                    s.ghost.set(Ghost::S6_CAS_BYPASSED);
                }
                if win.previous.is_some_and(|prev| {
                    prev.is_active(NOW, EXPIRATION) && prev.owner != Some(i as u32)
                }) {
                    s.ghost.set(Ghost::STEAL);
                }
                let crashed_owner = win
                    .previous
                    .and_then(|prev| prev.owner)
                    .is_some_and(|o| s.instances[o as usize].life == Life::Crashed);
                if crashed_owner {
                    s.ghost.set(Ghost::FAILOVER);
                }
                s.instances[i].owned[usize::from(partition)] = Some(win.record.version);
            }
        }
        s.instances[i].lb = Lb::Idle;
        self.reconcile(s, i);
        Some(())
    }

    /// Steps 3-5 of the cycle: start newly owned partitions, stop lost ones (the
    /// cycle then awaits them), restart owned ones whose task finished.
    fn reconcile(&self, s: &mut EhState, i: usize) {
        let mut stopping = false;
        for p in 0..self.partitions() {
            let owned = s.instances[i].owned[p].is_some();
            let pump = &mut s.instances[i].pumps[p];
            match pump {
                None if owned => *pump = Some(Pump::fresh()),
                Some(running) if !owned && !running.finished() => {
                    running.stop_requested = true;
                    stopping = true;
                }
                Some(finished) if !owned && finished.finished() => {
                    *pump = None;
                    let _ = s.hub.close_receiver(GROUP, p as u32, i as u32);
                }
                _ => {}
            }
        }
        if stopping {
            s.instances[i].lb = Lb::Stopping;
        } else {
            self.restart_finished(s, i);
            s.instances[i].lb = Lb::Idle;
        }
    }

    /// Step 5: owned partitions whose task completed are stopped and started again.
    fn restart_finished(&self, s: &mut EhState, i: usize) {
        if self.planted == PlantedBug::NoRestartOfFaulted {
            return;
        }
        for p in 0..self.partitions() {
            let inst = &mut s.instances[i];
            if inst.owned[p].is_some() && inst.pumps[p].as_ref().is_some_and(Pump::finished) {
                inst.pumps[p] = Some(Pump::fresh());
                let _ = s.hub.close_receiver(GROUP, p as u32, i as u32);
            }
        }
    }

    /// The awaited stops completed: close those processors (OwnershipLost, which
    /// cancels their lostToken now that nothing runs), then step 5.
    pub(super) fn lb_resume(&self, s: &mut EhState, i: usize) -> Option<()> {
        self.may_resume(s, i).then_some(())?;
        for p in 0..self.partitions() {
            if s.instances[i].owned[p].is_none() && s.instances[i].pumps[p].is_some() {
                s.instances[i].pumps[p] = None;
                let _ = s.hub.close_receiver(GROUP, p as u32, i as u32);
            }
        }
        self.restart_finished(s, i);
        s.instances[i].lb = Lb::Idle;
        Some(())
    }
}

/// The greedy load balancer's claim choice (spec B.6 step 2.4), shared by the
/// protocol and the implementation level: from every ownership record (as listed),
/// the partitions `me` may claim with the version it last saw of each. The SDK
/// picks one at random, so callers branch on all of them.
pub fn greedy_candidates(
    records: &[OwnershipRecord],
    now: Duration,
    expiration: Duration,
    me: ClientId,
    partitions: usize,
) -> Vec<(u8, Option<Version>)> {
    let active: Vec<&OwnershipRecord> = records
        .iter()
        .filter(|r| r.is_active(now, expiration))
        .collect();
    let mut count: BTreeMap<ClientId, usize> = BTreeMap::new();
    count.insert(me, 0);
    for r in &active {
        if let Some(o) = r.owner {
            *count.entry(o).or_insert(0) += 1;
        }
    }
    let mine = count[&me];
    let min = partitions / count.len();
    let max = min + 1;
    let may_claim = mine < min || (mine == min && !count.values().any(|c| *c < min));
    if !may_claim {
        return Vec::new();
    }
    let seen = |p: usize| {
        records
            .iter()
            .find(|r| r.partition as usize == p)
            .map(|r| r.version)
    };
    let unclaimed: Vec<usize> = (0..partitions)
        .filter(|p| !active.iter().any(|r| r.partition as usize == *p))
        .collect();
    let held_by = |pred: &dyn Fn(usize) -> bool| -> Vec<usize> {
        active
            .iter()
            .filter(|r| r.owner.is_some_and(|o| o != me && pred(count[&o])))
            .map(|r| r.partition as usize)
            .collect()
    };
    let picks = if !unclaimed.is_empty() {
        unclaimed
    } else {
        let over = held_by(&|c| c > max);
        if !over.is_empty() {
            over
        } else if mine < min {
            held_by(&|c| c == max)
        } else {
            Vec::new()
        }
    };
    picks.into_iter().map(|p| (p as u8, seen(p))).collect()
}
