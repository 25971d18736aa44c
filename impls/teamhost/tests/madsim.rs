//! teamhost under madsim: the same implementation, on madsim's executor with
//! simulated time (backoff sleeps take no wall time), an environment written
//! for madsim, and the same conformance check against `host-abstract`.
//!
//! Build with its own target dir (the cfg changes every crate's fingerprint):
//!
//! ```text
//! RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim cargo test -p teamhost --test madsim
//! ```
//!
//! Without `--cfg madsim` this file compiles to nothing.
#![cfg(madsim)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockstep::conform::{check_trace, ConformOptions, LifecycleEvent};
use lockstep::report::Bounds;
use lockstep_models::host_abstract::HostAbstract;
use lockstep_models::plugin::{BoxFuture, BuildError, HostEnv, HostPlugin, HostState};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// The environment on madsim: simulated time and tasks, seeded storage faults.
struct MadEnv {
    failures_left: Mutex<u32>,
    rng: Mutex<ChaCha8Rng>,
    channel: AtomicBool,
    state: Mutex<HostState>,
    events: Mutex<Vec<LifecycleEvent>>,
}

impl MadEnv {
    fn new(seed: u64, failures: u32) -> Self {
        MadEnv {
            failures_left: Mutex::new(failures),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            channel: AtomicBool::new(true),
            state: Mutex::new(HostState::Default),
            events: Mutex::new(Vec::new()),
        }
    }
    fn draw(&self, n: u32) -> u32 {
        self.rng.lock().unwrap().next_u32() % n
    }
}

impl HostEnv for MadEnv {
    fn now_ms(&self) -> u64 {
        madsim::time::TimeHandle::current().elapsed().as_millis() as u64
    }
    fn sleep(&self, ms: u64) -> BoxFuture<()> {
        Box::pin(madsim::time::sleep(Duration::from_millis(ms)))
    }
    fn spawn(&self, _name: &str, _daemon: bool, task: BoxFuture<()>) {
        drop(madsim::task::spawn(task));
    }
    fn build_host(&self, _actor: &str) -> BoxFuture<Result<(), BuildError>> {
        let latency = u64::from(self.draw(50));
        let fail = {
            let mut left = self.failures_left.lock().unwrap();
            let fail = *left > 0 && self.draw(2) == 1;
            if fail {
                *left -= 1;
            }
            fail
        };
        Box::pin(async move {
            madsim::time::sleep(Duration::from_millis(latency)).await;
            if fail {
                Err(BuildError::Storage)
            } else {
                Ok(())
            }
        })
    }
    fn worker_channel_ready(&self) -> bool {
        self.channel.load(Ordering::SeqCst)
    }
    fn set_state(&self, actor: &str, state: HostState) {
        *self.state.lock().unwrap() = state;
        match state {
            HostState::Error => self.channel.store(false, Ordering::SeqCst),
            HostState::Running => self.channel.store(true, Ordering::SeqCst),
            _ => {}
        }
        self.emit(actor, "host.state", &[("to", state.name())]);
    }
    fn emit(&self, actor: &str, event: &str, fields: &[(&str, &str)]) {
        let mut events = self.events.lock().unwrap();
        let mut ev = LifecycleEvent::new(events.len() as u64 + 1, self.now_ms(), actor, event);
        for (k, v) in fields {
            ev.fields.insert((*k).to_string(), (*v).to_string());
        }
        events.push(ev);
    }
}

/// One simulated run: boot, one restart after a random delay, ten minutes of
/// simulated time. Returns the end state and the recorded events.
fn run(variant: &str, seed: u64) -> (HostState, Vec<LifecycleEvent>) {
    let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    let variant = variant.to_string();
    runtime.block_on(async move {
        let env = Arc::new(MadEnv::new(seed, 1));
        let service = teamhost::TeamHostPlugin
            .build(&variant, env.clone())
            .unwrap();
        let boot = service.clone();
        drop(madsim::task::spawn(async move { boot.start().await }));
        let delay = u64::from(env.draw(3_000));
        let s = service.clone();
        drop(madsim::task::spawn(async move {
            madsim::time::sleep(Duration::from_millis(delay)).await;
            s.restart("restart#1", "admin").await;
        }));
        madsim::time::sleep(Duration::from_secs(600)).await;
        let state = *env.state.lock().unwrap();
        let mut events = env.events.lock().unwrap().clone();
        let end = env.now_ms();
        events.push(LifecycleEvent::new(
            events.len() as u64 + 1,
            end,
            "",
            "trace.end",
        ));
        (state, events)
    })
}

fn spec(variant: &str) -> HostAbstract {
    let bounds = Bounds::from([
        ("R".to_string(), 1),
        ("F".to_string(), 1),
        ("A".to_string(), 2),
    ]);
    HostAbstract::new(variant, &bounds).unwrap()
}

#[test]
fn teamhost_under_madsim_ends_running_and_conforms() {
    for seed in 0..40 {
        let (state, events) = run("ok", seed);
        assert_eq!(state, HostState::Running, "seed {seed}");
        let out = check_trace(&spec("fixed"), &events, &ConformOptions::default());
        assert!(out.rejection.is_none(), "seed {seed}: {:#?}", out.notes);
        assert_eq!(out.property, None, "seed {seed}: {:#?}", out.notes);
    }
}

#[test]
fn the_mutant_deadlocks_under_madsim_and_lockstep_says_so() {
    let mut deadlocked = 0;
    for seed in 0..40 {
        let (state, events) = run("mutant-inline-restart", seed);
        if state == HostState::Running {
            continue;
        }
        deadlocked += 1;
        let out = check_trace(&spec("fixed"), &events, &ConformOptions::default());
        assert_eq!(
            out.property.as_deref(),
            Some("deadlock"),
            "seed {seed}: {:#?}",
            out.notes
        );
        assert!(
            out.rejection.is_some(),
            "the fixed spec rejects the inline restart"
        );
    }
    assert!(
        deadlocked > 0,
        "some seed hits the storage failure and deadlocks"
    );
}

#[test]
fn same_seed_same_events() {
    assert_eq!(run("ok", 7).1, run("ok", 7).1);
}
