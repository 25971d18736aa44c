//! The faults of an implementation-level run and the time-bounded liveness
//! properties judged on them, in virtual time:
//!
//! * **L3 failover**: after a crash at `t`, by `t + expiry + 2 x interval` (plus one
//!   stopped handler's batch and the plan's latencies), every partition the
//!   crashed instance held is held (active record) by a live instance. Judged
//!   when nothing else disturbed that window: no other crash or stop, storage of
//!   the live instances healthy throughout, a finite retry policy.
//! * **L5 recovery after a storage outage**: one interval (plus the same
//!   allowances) after an instance's storage recovers, none of its partition
//!   tasks that faulted on a store call is still faulted while the instance
//!   holds the partition: each was restarted, reading the durable checkpoint, or
//!   given up. Judged when the instance is alive, not stopping, its storage stays
//!   healthy until the deadline, and retries are finite.
//!
//! Each monitor holds the run open (`World::pending`) until it has judged.

use std::time::Duration;

use lockstep::rt;

use super::impl_processor::Processor;
use super::impl_world::{
    LifecycleEvent, StorageWindows, World, EXPIRATION, GREEDY_DELAY, GROUP_NAME, JUDGE_MARGIN,
    LB_INTERVAL,
};

/// When a run gives up (and judges what it has).
pub const RUN_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The slack every deadline gets on top of the spec's bound: a stopped handler's
/// batch, one claim per partition at the greedy delay, the plan's latency for
/// the few calls of a cycle, and a margin for steps at equal virtual times.
fn allowance(world: &World, windows: &StorageWindows) -> Duration {
    let cfg = world.cfg;
    cfg.handler_allowance()
        + GREEDY_DELAY * u32::from(cfg.partitions)
        + windows.latency * 8
        + JUDGE_MARGIN
}

/// L3's deadline after a crash.
pub fn failover_bound(world: &World, windows: &StorageWindows) -> Duration {
    EXPIRATION + LB_INTERVAL * 2 + allowance(world, windows)
}

/// L5's deadline after storage recovers.
pub fn recovery_bound(world: &World, windows: &StorageWindows) -> Duration {
    LB_INTERVAL + allowance(world, windows)
}

fn live(procs: &[Processor]) -> Vec<u32> {
    procs
        .iter()
        .filter(|p| !p.crash.is_cancelled() && !p.stopping.is_cancelled())
        .map(|p| p.id)
        .collect()
}

/// Sleeps until `at` (or the end of the run); false if the run ended first.
async fn sleep_until(world: &World, at: Duration) -> bool {
    let now = rt::now();
    now >= at || !rt::sleep_cancellable(at - now, &world.done.token()).await
}

/// The crash fault: at a chosen time (0, 1 or 2 intervals in) a chosen instance
/// crashes; then L3 is judged on the partitions it held.
pub async fn crash_and_judge_failover(
    world: World,
    procs: Vec<Processor>,
    windows: StorageWindows,
) {
    let at = LB_INTERVAL * rt::choose("fault time (intervals)", 3) as u32;
    if sleep_until(&world, at).await {
        let victim = &procs[rt::choose("fault victim", procs.len())];
        victim.crash.cancel();
        rt::sometimes("sometimes-crash", true);
        let t_crash = rt::now();
        let held: Vec<u32> = world.store.read(|s| {
            (0..s.partition_count())
                .filter(|&p| {
                    s.ownership(GROUP_NAME, p).is_some_and(|r| {
                        r.owner == Some(victim.id) && r.is_active(t_crash, EXPIRATION)
                    })
                })
                .collect()
        });
        world.lifecycle.write(|l| {
            l.push(LifecycleEvent {
                at: t_crash,
                instance: victim.id,
                crash: true,
            })
        });
        let deadline = t_crash + failover_bound(&world, &windows);
        if sleep_until(&world, deadline).await {
            judge_failover(&world, &procs, &windows, victim.id, t_crash, &held);
        }
    }
    world.pending.write(|n| *n -= 1);
}

fn judge_failover(
    world: &World,
    procs: &[Processor],
    windows: &StorageWindows,
    victim: u32,
    t_crash: Duration,
    held: &[u32],
) {
    let now = rt::now();
    let survivors = live(procs);
    let undisturbed = world.lifecycle.read(|l| {
        !l.iter()
            .any(|e| e.instance != victim && e.at >= t_crash && e.at <= now)
    });
    let premise = world.cfg.finite_retries()
        && undisturbed
        && !survivors.is_empty()
        && survivors.iter().all(|&i| windows.healthy(i, t_crash, now));
    if !premise {
        return;
    }
    rt::sometimes("sometimes-failover", !held.is_empty());
    for &p in held {
        let record = world.store.read(|s| s.ownership(GROUP_NAME, p));
        let taken_over = record.is_some_and(|r| {
            r.is_active(now, EXPIRATION) && r.owner.is_some_and(|o| survivors.contains(&o))
        });
        rt::always("l3-failover", taken_over, || {
            format!(
                "p{p}: P{victim} crashed at {:?}; at {:?} the record is {record:?}, not held by \
                 a live instance",
                t_crash, now
            )
        });
    }
}

/// Spawns one L5 monitor per recovery (end of a storage-fault window) of each
/// instance whose windows are predictable, and counts them as pending.
pub fn spawn_recovery_monitors(world: &World, procs: &[Processor], windows: &StorageWindows) {
    for (i, per) in windows.per_instance.iter().enumerate() {
        let Some(per) = per else { continue };
        for &(_, recovered) in per {
            if recovered >= RUN_LIMIT {
                continue;
            }
            let (world, procs, windows) = (world.clone(), procs.to_vec(), windows.clone());
            world.pending.write(|n| *n += 1);
            rt::spawn(format!("monitor.P{i}"), async move {
                judge_recovery(&world, &procs, &windows, i as u32, recovered).await;
                world.pending.write(|n| *n -= 1);
            });
        }
    }
}

async fn judge_recovery(
    world: &World,
    procs: &[Processor],
    windows: &StorageWindows,
    instance: u32,
    recovered: Duration,
) {
    if !sleep_until(world, recovered).await {
        return;
    }
    let stalled_before = |world: &World| -> Vec<(usize, Duration)> {
        world.stalled[instance as usize].read(|s| {
            s.iter()
                .enumerate()
                .filter_map(|(p, t)| t.filter(|t| *t < recovered).map(|t| (p, t)))
                .collect()
        })
    };
    let at_recovery = stalled_before(world);
    let deadline = recovered + recovery_bound(world, windows);
    if !sleep_until(world, deadline).await {
        return;
    }
    let premise = world.cfg.finite_retries()
        && live(procs).contains(&instance)
        && windows.healthy(instance, recovered, deadline);
    if !premise {
        return;
    }
    rt::sometimes("sometimes-storage-recovery", !at_recovery.is_empty());
    let still = stalled_before(world);
    rt::always("l5-recovery-after-storage-outage", still.is_empty(), || {
        let (p, since) = still[0];
        format!(
            "P{instance}/p{p} faulted on storage at {since:?}; storage recovered at \
             {recovered:?}, yet at {deadline:?} the task is still not restarted"
        )
    });
}
