//! The implementation-level function app with its circuit breaker: async Rust on
//! `lockstep::rt`, one await per await of the real code, in virtual time.
//!
//! Tasks: one pump per partition and app generation (`I<i>.p<p>`: read the
//! checkpoint, open the receiver, receive, single dispatch with the retry
//! policy, record each eventual failure in the failure store and check the
//! rolling count it returns, checkpoint), the control plane (`control-plane`:
//! on a break event waits up to `break_latency`, stops the app by cancelling the
//! function token and awaiting every pump, starts a new generation on resume) and
//! the operator (`operator`: resumes the app some time after each stop).
//! Properties are judged where they happen (`rt::always` / `rt::sometimes`).

use std::time::Duration;

use lockstep::rt::{self, mpsc, CancellationToken, CancellationTokenSource, JoinHandle};
use lockstep::world::checkpoint_store::Checkpoint;
use lockstep::world::eventhubs::StartPosition;

use super::config::PlantedBug;
use super::impl_world::{AppWorld, ControlMsg};
use super::state::GROUP;

/// Receive MaximumWaitTime: a caught-up pump receives again after it.
pub const RECEIVE_WAIT: Duration = Duration::from_secs(60);

/// How a delivery (TryExecute with retries) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    Succeeded,
    Failed,
    Cancelled,
}

/// One partition's pump in one app generation.
struct Pump {
    world: AppWorld,
    p: u32,
    instance: u32,
    generation: u32,
    token: CancellationToken,
}

impl Pump {
    async fn run(self) {
        rt::yield_now().await; // await the checkpoint read
        if self.token.is_cancelled() {
            return;
        }
        let (p, w) = (self.p, &self.world);
        let Ok(stored) = w.ckpts[p as usize].write(|s| s.get_checkpoint(self.instance, 0)) else {
            return;
        };
        let mut start = stored.map_or(0, |c| c.next_sequence());
        if w.cfg.planted == PlantedBug::ResumePastCheckpoint && self.generation > 0 {
            start = w.positions[p as usize].read(|pos| pos.received_hi);
        }
        let expected = w.positions[p as usize].write(|pos| {
            pos.next_expected = start;
            pos.received_hi = start;
            pos.resume_expect.take()
        });
        if let Some(at) = expected {
            rt::always("l6-resume-at-checkpoint", start == at, || {
                format!("p{p} resumed at {start}, the checkpoint at stop time was {at}")
            });
        }
        let opened = w.hubs[p as usize].write(|h| {
            h.open_receiver(GROUP, 0, self.instance, Some(0), StartPosition::At(start))
                .is_ok()
        });
        if !opened {
            return;
        }
        loop {
            rt::yield_now().await; // await the receive
            if self.token.is_cancelled() {
                return;
            }
            let max = w.cfg.config.batch_size as usize;
            let batch: Vec<u64> = w.hubs[p as usize].write(|h| {
                h.receive(GROUP, 0, self.instance, max)
                    .map(|b| b.iter().map(|e| e.sequence_number).collect())
                    .unwrap_or_default()
            });
            let Some(&last) = batch.last() else {
                if rt::sleep_cancellable(RECEIVE_WAIT, &self.token).await {
                    return;
                }
                continue;
            };
            w.positions[p as usize].write(|pos| pos.received_hi = last + 1);
            for &seq in &batch {
                if self.token.is_cancelled() {
                    break;
                }
                match self.deliver(seq).await {
                    Delivery::Succeeded => {}
                    Delivery::Failed => self.record_failure().await,
                    Delivery::Cancelled => break,
                }
            }
            // The gate: no checkpoint once the function token is cancelled. A write
            // that passed the gate completes even if the stop comes meanwhile.
            if self.token.is_cancelled() {
                return;
            }
            rt::yield_now().await; // await the checkpoint write
            self.write_checkpoint(last + 1);
        }
    }

    /// One TryExecute of `seq` with the retry policy.
    async fn deliver(&self, seq: u64) -> Delivery {
        let (p, w) = (self.p as usize, &self.world);
        let expected = w.positions[p].write(|pos| {
            let e = pos.next_expected;
            pos.next_expected = seq + 1;
            e
        });
        rt::always("s2-in-order-within-pump", expected == seq, || {
            format!("p{p} invoked e{seq}, the next event was e{expected}")
        });
        let redelivery = w.marks[p].write(|m| {
            let mark = &mut m[seq as usize];
            mark.deliveries = mark.deliveries.saturating_add(1);
            std::mem::take(&mut mark.in_flight_at_stop)
        });
        if redelivery {
            w.part_stats[p].write(|s| s.redelivered += 1);
            rt::sometimes("sometimes-inflight-redelivered", true);
        }
        let mut attempt = 0;
        loop {
            self.execution_starts();
            if rt::sleep_cancellable(w.cfg.execution, &self.token).await {
                return Delivery::Cancelled;
            }
            if w.downstream_up.get() {
                w.marks[p].write(|m| m[seq as usize].succeeded = true);
                return Delivery::Succeeded;
            }
            if attempt >= w.cfg.config.max_retries {
                w.marks[p].write(|m| m[seq as usize].failed = true);
                w.part_stats[p].write(|s| s.failures += 1);
                return Delivery::Failed;
            }
            attempt += 1;
            if rt::sleep_cancellable(w.cfg.retry_delay, &self.token).await {
                return Delivery::Cancelled;
            }
        }
    }

    /// L6: an execution starting more than T_break after the crossing.
    fn execution_starts(&self) {
        let w = &self.world;
        let now = rt::now();
        let t_break = Duration::from_secs(u64::from(w.cfg.config.t_break_secs()));
        let crossing = w.crossing.read(|c| c.at);
        w.part_stats[self.p as usize].write(|s| {
            s.executions += 1;
            if let Some(at) = crossing {
                s.after_crossing += 1;
                let since = (now - at).as_millis() as u64;
                s.latest_after_ms = s.latest_after_ms.max(since);
            }
        });
        if let Some(at) = crossing {
            rt::always("l6-stops-within-bound", now <= at + t_break, || {
                format!(
                    "p{} started an execution {} ms after the crossing at {} ms (T_break {} ms)",
                    self.p,
                    (now - at).as_millis(),
                    at.as_millis(),
                    t_break.as_millis()
                )
            });
        }
    }

    /// Records an eventual failure and checks the count the store returns.
    async fn record_failure(&self) {
        rt::yield_now().await; // await the failure-store call
        if self.token.is_cancelled() {
            return;
        }
        let w = &self.world;
        let lag = Duration::from_secs(u64::from(w.cfg.config.lag));
        let staleness = if !lag.is_zero() && rt::choose_bool("failure-store read lags") {
            lag
        } else {
            Duration::ZERO
        };
        let key = w.cfg.variant.counter_key(self.instance);
        let now = rt::now();
        let recorded = w.failures.write(|f| {
            f.record(key, self.instance, now, staleness)
                .map(|count| (count, f.true_count(None, now)))
        });
        let Ok((count, total)) = recorded else {
            w.part_stats[self.p as usize].write(|s| s.unrecorded += 1);
            return;
        };
        let threshold = u64::from(w.cfg.config.threshold);
        if total > threshold {
            let first = w.crossing.write(|c| {
                c.at.is_none().then(|| {
                    c.at = Some(now);
                    c.first = c.first.or(Some(now));
                })
            });
            if first.is_some() {
                rt::emit("threshold-crossed", &[("total", &total.to_string())]);
            }
        }
        if count > threshold {
            rt::sometimes("sometimes-breaker-opened", true);
            w.part_stats[self.p as usize].write(|s| s.breaks_sent += 1);
            let _ = w
                .control
                .send(ControlMsg::Break {
                    instance: self.instance,
                })
                .await;
        }
    }

    fn write_checkpoint(&self, next: u64) {
        let (p, w) = (self.p, &self.world);
        let offset = w.hubs[p as usize].read(|h| {
            h.events(0)
                .ok()
                .and_then(|e| e.get(next as usize - 1))
                .map_or(0, |e| e.offset)
        });
        let checkpoint = Checkpoint {
            partition: 0,
            sequence_number: next - 1,
            offset,
            client: self.instance,
        };
        w.ckpts[p as usize].write(|s| s.update_checkpoint(self.instance, checkpoint).is_ok());
    }
}

/// One generation of the app: its function token and its pumps.
struct Generation {
    fn_token: CancellationTokenSource,
    pumps: Vec<JoinHandle<()>>,
}

fn start_generation(world: &AppWorld, generation: u32) -> Generation {
    let fn_token = CancellationTokenSource::new(format!("app.g{generation}.fnToken"));
    let c = world.cfg.config;
    let pumps = (0..c.partitions)
        .map(|p| {
            let instance = c.owner_of(p);
            let pump = Pump {
                world: world.clone(),
                p,
                instance,
                generation,
                token: fn_token.token(),
            };
            rt::spawn(format!("I{instance}.p{p}"), pump.run())
        })
        .collect();
    Generation { fn_token, pumps }
}

/// The control plane (orchestrator + resource API): stops the app within
/// `break_latency` of a break event, restarts it on the operator's word.
pub async fn control_plane(
    world: AppWorld,
    mut inbox: mpsc::Receiver<ControlMsg>,
    operator: mpsc::Sender<bool>,
) {
    let mut generation = 0;
    let mut current = Some(start_generation(&world, generation));
    while let Some(msg) = inbox.recv().await {
        match msg {
            ControlMsg::Break { .. } if world.cfg.planted == PlantedBug::NeverStops => {}
            ControlMsg::Break { .. } => {
                let Some(running) = current.take() else {
                    continue; // already stopped (or stopping): the event is a duplicate
                };
                world.app.write(|a| a.breaking = true);
                // The reaction takes 1/4, 2/4, 3/4 or all of `break_latency`.
                let latency = Duration::from_secs(u64::from(world.cfg.config.break_latency));
                let quarters = 1 + rt::choose("stop latency (quarters)", 4) as u32;
                rt::sleep(latency * quarters / 4).await;
                stop(&world, running).await;
                let _ = operator.send(true).await;
            }
            ControlMsg::Resume => {
                if current.is_none() {
                    generation += 1;
                    world.crossing.write(|c| c.at = None);
                    for part in &world.part_stats {
                        part.write(|s| s.after_crossing = 0);
                    }
                    world.app.write(|a| {
                        a.stopped = false;
                        a.resumes_used += 1;
                    });
                    rt::sometimes("sometimes-resumed", true);
                    world.check_unqualified_claim();
                    current = Some(start_generation(&world, generation));
                }
            }
            ControlMsg::Shutdown => break,
        }
    }
    if let Some(running) = current {
        running.fn_token.cancel();
        for pump in running.pumps {
            pump.await;
        }
    }
    let _ = operator.send(false).await;
}

/// The non-drain stop: cancel the function token, await every pump; then mark
/// the events received but not checkpointed (they will be redelivered) and
/// remember each partition's checkpoint for the resume.
async fn stop(world: &AppWorld, running: Generation) {
    running.fn_token.cancel();
    for pump in running.pumps {
        pump.await;
    }
    let mut in_flight = 0;
    for p in 0..world.cfg.config.partitions {
        let received_hi = world.positions[p as usize].read(|pos| pos.received_hi);
        if world.cfg.planted == PlantedBug::CheckpointOnStop
            && received_hi > world.checkpoint_next(p)
        {
            let checkpoint = Checkpoint {
                partition: 0,
                sequence_number: received_hi - 1,
                offset: 0,
                client: world.cfg.config.owner_of(p),
            };
            world.ckpts[p as usize]
                .write(|s| s.update_checkpoint(checkpoint.client, checkpoint).is_ok());
        }
        let ckpt = world.checkpoint_next(p);
        // Counted once per event: one still flagged from an earlier stop (received
        // again but not yet invoked) is not counted twice.
        in_flight += world.marks[p as usize].write(|m| {
            let range = ckpt as usize..received_hi.max(ckpt) as usize;
            let mut fresh = 0;
            for mark in &mut m[range] {
                fresh += u64::from(!std::mem::replace(&mut mark.in_flight_at_stop, true));
            }
            fresh
        });
        world.positions[p as usize].write(|pos| pos.resume_expect = Some(ckpt));
    }
    world.fold_run_figures();
    let ms = rt::now().as_millis() as u64;
    world.ctl_stats.write(|s| {
        s.stops += 1;
        s.in_flight_at_stop += in_flight;
        s.first_stop_ms = Some(s.first_stop_ms.unwrap_or(ms));
    });
    world.app.write(|a| {
        a.breaking = false;
        a.stopped = true;
    });
    rt::sometimes("sometimes-app-stopped", true);
    rt::emit("app-stopped", &[("in_flight", &in_flight.to_string())]);
}

/// The operator: after each stop, resumes the app a chosen while later, as long
/// as resumes are left. `true` on the channel is a stop, `false` the end.
pub async fn operator(world: AppWorld, mut stops: mpsc::Receiver<bool>) {
    while let Some(true) = stops.recv().await {
        if world.app.read(|a| a.resumes_used) >= world.cfg.config.resumes {
            continue;
        }
        let delays = world.cfg.resume_delays;
        rt::sleep(delays[rt::choose("resume delay", delays.len())]).await;
        let _ = world.control.send(ControlMsg::Resume).await;
    }
}
