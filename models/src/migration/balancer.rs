//! The operator's steps (deploy the new app, stop the old one), instance crash and
//! relinquish, record expiry, and the load-balancing cycle of spec B.6 on the
//! instance's own group store: renew, list, claim or steal one partition, stop
//! lost partitions (awaiting their handlers), restart faulted pumps.
//!
//! Time is abstracted as in the `eventhubs` model: a record may expire only when
//! its owner can no longer renew it (crashed); a live owner renews in time.

use std::time::Duration;

use lockstep::world::checkpoint_store::{ClaimRequest, ClientId, OwnershipRecord, Version};

use super::spec::MigrationSpec;
use super::state::{App, Ghost, Lb, Life, MigState, Phase, Pump, EXPIRATION, NOW};

impl MigrationSpec {
    /// The new app is deployed: its instances start (they own nothing yet).
    pub(super) fn deploy_new_app(&self, s: &mut MigState) -> Option<()> {
        (s.phase == Phase::OldOnly).then_some(())?;
        s.phase = Phase::Both;
        for i in s.members(App::New) {
            s.instances[i].life = Life::Running;
        }
        Some(())
    }

    /// The operator stops the old app: every live old instance's listener stops
    /// (not in drain mode, spec B.4.4): fnToken cancelled, run loop stopped, each
    /// partition stopped (in-flight handlers finish), then ownership relinquished.
    pub(super) fn stop_old_app(&self, s: &mut MigState) -> Option<()> {
        (s.phase == Phase::Both).then_some(())?;
        s.phase = Phase::OldStopped;
        for i in s.members(App::Old) {
            let inst = &mut s.instances[i];
            if inst.life == Life::Running {
                inst.life = Life::ShuttingDown;
                inst.fn_cancelled = true;
                inst.lb = Lb::Idle;
                inst.pumps.iter_mut().flatten().for_each(Pump::request_stop);
            }
        }
        Some(())
    }

    /// The process dies: in-flight work is lost, nothing is written, its records
    /// stay owned until they expire. Final (a restarted process is a new instance,
    /// which these bounds do not add).
    pub(super) fn crash(&self, s: &mut MigState, i: usize) -> Option<()> {
        (s.crashes_used < self.config.crashes && s.instances[i].live()).then_some(())?;
        let group = s.group_of(i);
        let inst = &mut s.instances[i];
        inst.life = Life::Crashed;
        inst.lb = Lb::Idle;
        inst.owned = Default::default();
        inst.pumps = Default::default();
        inst.fn_cancelled = false;
        for p in 0..self.partitions() {
            let _ = s.hub.close_receiver(group, p as u32, i as u32);
        }
        s.crashes_used += 1;
        Some(())
    }

    /// After every partition stopped: relinquish ownership (empty owner, on the ETag).
    pub(super) fn relinquish(&self, s: &mut MigState, i: usize) -> Option<()> {
        let inst = &s.instances[i];
        (inst.life == Life::ShuttingDown && inst.pumps.iter().flatten().all(Pump::finished))
            .then_some(())?;
        let requests: Vec<ClaimRequest> = (0..self.partitions())
            .filter_map(|p| {
                inst.owned[p].map(|v| ClaimRequest {
                    partition: p as u32,
                    owner: None,
                    expected: Some(v),
                })
            })
            .collect();
        let _ = s
            .store_of_mut(i)
            .claim_ownership(i as ClientId, NOW, &requests);
        let group = s.group_of(i);
        for p in 0..self.partitions() {
            let _ = s.hub.close_receiver(group, p as u32, i as u32);
        }
        let inst = &mut s.instances[i];
        inst.owned = Default::default();
        inst.pumps = Default::default();
        inst.life = Life::Stopped;
        Some(())
    }

    /// The record of an owner that cannot renew any more ages past the interval.
    pub(super) fn expire(&self, s: &mut MigState, g: usize, p: usize) -> Option<()> {
        self.may_expire(s, g, p).then_some(())?;
        s.stores[g].backdate(p as u32, Duration::ZERO);
        Some(())
    }

    /// Whether [`Self::expire`] is enabled for partition `p` of group `g`.
    pub(super) fn may_expire(&self, s: &MigState, g: usize, p: usize) -> bool {
        s.stores[g]
            .ownership(p as u32)
            .filter(|r| r.is_active(NOW, EXPIRATION))
            .and_then(|r| r.owner)
            .is_some_and(|owner| {
                matches!(
                    s.instances[owner as usize].life,
                    Life::Crashed | Life::Stopped
                )
            })
    }

    /// Whether a renew would change nothing: every believed record is still active
    /// at the believed version.
    pub(super) fn renew_is_noop(&self, s: &MigState, i: usize) -> bool {
        let store = s.store_of(i);
        s.instances[i].owned.iter().enumerate().all(|(p, v)| {
            v.is_none_or(|v| {
                store
                    .ownership(p as u32)
                    .is_some_and(|r| r.version == v && r.is_active(NOW, EXPIRATION))
            })
        })
    }

    /// Whether reconciling (cycle steps 3-5) would change nothing.
    pub(super) fn reconcile_is_noop(&self, s: &MigState, i: usize) -> bool {
        let inst = &s.instances[i];
        (0..self.partitions()).all(|p| match (&inst.owned[p], &inst.pumps[p]) {
            (Some(_), Some(pump)) => !pump.finished(),
            (None, None) => true,
            _ => false,
        })
    }

    pub(super) fn may_resume(&self, s: &MigState, i: usize) -> bool {
        let inst = &s.instances[i];
        inst.life == Life::Running
            && inst.lb == Lb::Stopping
            && (0..self.partitions()).all(|p| {
                inst.owned[p].is_some() || inst.pumps[p].as_ref().is_none_or(Pump::finished)
            })
    }

    /// Renews every believed record that is no longer current; a lost condition
    /// drops it (another instance stole it). A record still active at the believed
    /// version is not rewritten (its renewal would only refresh the timestamp this
    /// model does not have, see the `eventhubs` model's `renew`).
    pub(super) fn renew(&self, s: &mut MigState, i: usize) {
        let requests: Vec<ClaimRequest> = {
            let store = s.store_of(i);
            let current = |p: usize, v: Version| {
                store
                    .ownership(p as u32)
                    .is_some_and(|r| r.version == v && r.is_active(NOW, EXPIRATION))
            };
            (0..self.partitions())
                .filter_map(|p| s.instances[i].owned[p].map(|v| (p, v)))
                .filter(|&(p, v)| !current(p, v))
                .map(|(p, v)| ClaimRequest {
                    partition: p as u32,
                    owner: Some(i as u32),
                    expected: Some(v),
                })
                .collect()
        };
        let wins = s
            .store_of_mut(i)
            .claim_ownership(i as ClientId, NOW, &requests)
            .unwrap_or_default();
        let inst = &mut s.instances[i];
        for request in &requests {
            inst.owned[request.partition as usize] = None;
        }
        for win in wins {
            inst.owned[win.record.partition as usize] = Some(win.record.version);
        }
    }

    /// The partitions a cycle may claim, with the version last seen of each.
    pub(super) fn claim_candidates(&self, s: &MigState, i: usize) -> Vec<(u8, Option<Version>)> {
        let store = s.store_of(i);
        let records: Vec<OwnershipRecord> = (0..self.partitions())
            .filter_map(|p| store.ownership(p as u32).copied())
            .collect();
        greedy_candidates(&records, NOW, EXPIRATION, i as ClientId, self.partitions())
    }

    /// One cycle up to the claim: renew, list, then either start the claim of
    /// `claim` (a candidate) or, with nothing to claim, reconcile at once.
    pub(super) fn lb_cycle(&self, s: &mut MigState, i: usize, claim: Option<u8>) -> Option<()> {
        let inst = &s.instances[i];
        (inst.life == Life::Running && inst.lb == Lb::Idle).then_some(())?;
        self.renew(s, i);
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

    /// The conditional claim chosen by the cycle, then reconcile. Judges S6.
    pub(super) fn lb_claim(&self, s: &mut MigState, i: usize) -> Option<()> {
        let Lb::Claiming {
            partition,
            expected,
        } = s.instances[i].lb
        else {
            return None;
        };
        (s.instances[i].life == Life::Running).then_some(())?;
        let request = ClaimRequest {
            partition: u32::from(partition),
            owner: Some(i as u32),
            expected,
        };
        let wins = s
            .store_of_mut(i)
            .claim_ownership(i as ClientId, NOW, &[request])
            .unwrap_or_default();
        for win in wins {
            let bypassed = match (win.previous, expected) {
                (Some(prev), Some(v)) => prev.version != v,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if bypassed {
                s.ghost.set(Ghost::S6_CAS_BYPASSED);
            }
            s.instances[i].owned[usize::from(partition)] = Some(win.record.version);
        }
        s.instances[i].lb = Lb::Idle;
        self.reconcile(s, i);
        Some(())
    }

    /// Steps 3-5: start newly owned partitions, stop lost ones (the cycle then
    /// awaits them), restart owned ones whose task finished.
    fn reconcile(&self, s: &mut MigState, i: usize) {
        let group = s.group_of(i);
        let mut stopping = false;
        for p in 0..self.partitions() {
            let owned = s.instances[i].owned[p].is_some();
            let pump = &mut s.instances[i].pumps[p];
            match pump {
                None if owned => *pump = Some(Pump::fresh()),
                Some(running) if !owned => {
                    running.request_stop();
                    if running.finished() {
                        *pump = None;
                        let _ = s.hub.close_receiver(group, p as u32, i as u32);
                    } else {
                        stopping = true;
                    }
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

    /// Step 5: owned partitions whose task completed are started again.
    fn restart_finished(&self, s: &mut MigState, i: usize) {
        let group = s.group_of(i);
        for p in 0..self.partitions() {
            let inst = &mut s.instances[i];
            if inst.owned[p].is_some() && inst.pumps[p].as_ref().is_some_and(Pump::finished) {
                inst.pumps[p] = Some(Pump::fresh());
                let _ = s.hub.close_receiver(group, p as u32, i as u32);
            }
        }
    }

    /// The awaited stops completed: close those processors, then step 5.
    pub(super) fn lb_resume(&self, s: &mut MigState, i: usize) -> Option<()> {
        self.may_resume(s, i).then_some(())?;
        let group = s.group_of(i);
        for p in 0..self.partitions() {
            if s.instances[i].owned[p].is_none() && s.instances[i].pumps[p].is_some() {
                s.instances[i].pumps[p] = None;
                let _ = s.hub.close_receiver(group, p as u32, i as u32);
            }
        }
        self.restart_finished(s, i);
        s.instances[i].lb = Lb::Idle;
        Some(())
    }
}

/// The greedy claim choice is the Event Hubs model's (spec B.6 step 2.4): the
/// same SDK balancer, shared rather than copied.
pub use crate::eventhubs::greedy_candidates;
