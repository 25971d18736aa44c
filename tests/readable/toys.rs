//! Small models for the readability tests: a two-lock protocol model and
//! implementation models whose variants add a no-op step, reorder locks, or
//! surround a deadlock with noise tasks and an irrelevant fault choice.

use std::future::Future;
use std::pin::Pin;

use lockstep::explore::schedules::ImplModel;
use lockstep::explore::{Model, Property, PropertyKind};
use lockstep::report::{Bounds, WaitEdge};
use lockstep::rt;

/// How the two-lock protocol model differs from the plain one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockVariant {
    /// A takes L1 then L2; B takes L2 then L1: they can deadlock.
    Plain,
    /// As plain, but A first takes a no-op `log` step (a "small code change").
    WithNoop,
    /// B takes the locks in A's order: the recorded deadlock path no longer exists.
    SameOrder,
}

/// Two workers, two locks. State: per worker the index of its next step, and
/// who holds each lock.
pub struct TwoLocks(pub LockVariant);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LockState {
    pub pc: [u8; 2],
    pub holder: [Option<u8>; 2],
}

impl TwoLocks {
    /// Worker `w`'s steps: `log`, `take-l1` / `take-l2` (lock index), `release`.
    fn steps(&self, w: u8) -> Vec<&'static str> {
        match (self.0, w) {
            (LockVariant::WithNoop, 0) => vec!["log", "take-l1", "take-l2", "release"],
            (_, 0) | (LockVariant::SameOrder, _) => vec!["take-l1", "take-l2", "release"],
            _ => vec!["take-l2", "take-l1", "release"],
        }
    }
}

impl Model for TwoLocks {
    type State = LockState;
    type Action = (u8, &'static str);

    fn name(&self) -> String {
        "two-locks".into()
    }
    fn variant(&self) -> String {
        format!("{:?}", self.0)
    }
    fn bounds(&self) -> Bounds {
        Bounds::new()
    }
    fn init_states(&self) -> Vec<LockState> {
        vec![LockState {
            pc: [0, 0],
            holder: [None, None],
        }]
    }
    fn actions(&self, s: &LockState, out: &mut Vec<(u8, &'static str)>) {
        for w in 0..2u8 {
            let Some(&step) = self.steps(w).get(s.pc[w as usize] as usize) else {
                continue;
            };
            let enabled = match step {
                "take-l1" => s.holder[0].is_none(),
                "take-l2" => s.holder[1].is_none(),
                _ => true,
            };
            if enabled {
                out.push((w, step));
            }
        }
    }
    fn next_state(&self, s: &LockState, &(w, step): &(u8, &'static str)) -> Option<LockState> {
        let mut n = s.clone();
        match step {
            "take-l1" => n.holder[0] = Some(w),
            "take-l2" => n.holder[1] = Some(w),
            "release" => n.holder = [None, None],
            _ => {}
        }
        n.pc[w as usize] += 1;
        Some(n)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::sometimes(
            "both-done",
            |m: &TwoLocks, s: &LockState| {
                (0..2u8).all(|w| s.pc[w as usize] as usize == m.steps(w).len())
            },
        )]
    }
    fn at_rest(&self, s: &LockState) -> bool {
        (0..2u8).all(|w| s.pc[w as usize] as usize == self.steps(w).len())
    }
    fn actor(&self, a: &(u8, &'static str)) -> String {
        ["A", "B"][a.0 as usize].to_string()
    }
    fn action_name(&self, a: &(u8, &'static str)) -> String {
        a.1.to_string()
    }
    fn wait_for(&self, s: &LockState) -> Vec<WaitEdge> {
        let mut edges = Vec::new();
        for w in 0..2u8 {
            let lock = match self.steps(w).get(s.pc[w as usize] as usize) {
                Some(&"take-l1") => 0,
                Some(&"take-l2") => 1,
                _ => continue,
            };
            if let Some(h) = s.holder[lock] {
                edges.push(WaitEdge {
                    task: ["A", "B"][w as usize].into(),
                    resource: format!("L{}", lock + 1),
                    holder: Some(["A", "B"][h as usize].into()),
                });
            }
        }
        edges
    }
}

type MainFn = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Sync>;

/// An implementation model from a closure.
pub struct Toy {
    pub name: &'static str,
    pub variant: &'static str,
    pub properties: Vec<(String, PropertyKind)>,
    main: MainFn,
}

impl Toy {
    pub fn new<F, Fut>(name: &'static str, variant: &'static str, main: F) -> Self
    where
        F: Fn() -> Fut + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Toy {
            name,
            variant,
            properties: Vec::new(),
            main: Box::new(move || Box::pin(main())),
        }
    }
}

impl ImplModel for Toy {
    fn name(&self) -> String {
        self.name.into()
    }
    fn variant(&self) -> String {
        self.variant.into()
    }
    fn bounds(&self) -> Bounds {
        Bounds::new()
    }
    fn main(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        (self.main)()
    }
    fn properties(&self) -> Vec<(String, PropertyKind)> {
        self.properties.clone()
    }
}

/// Two tasks take two semaphores in opposite order; `extra_yield` adds a no-op
/// step (`yield_now`) at the start of task `a`.
pub fn opposite_order(extra_yield: bool) -> Toy {
    let variant = if extra_yield { "with-yield" } else { "plain" };
    Toy::new("opposite-order", variant, move || async move {
        let s1 = rt::Semaphore::new("s1", 1);
        let s2 = rt::Semaphore::new("s2", 1);
        let (a1, a2) = (s1.clone(), s2.clone());
        rt::spawn("a", async move {
            if extra_yield {
                rt::yield_now().await;
            }
            let _p = a1.acquire().await;
            let _q = a2.acquire().await;
        });
        rt::spawn("b", async move {
            let _p = s2.acquire().await;
            let _q = s1.acquire().await;
        });
    })
}

/// The same deadlock among three noise tasks and a fault choice that does not
/// matter: random schedules find it with many preemptions; one is enough.
pub fn noisy_deadlock() -> Toy {
    Toy::new("noisy-deadlock", "buggy", || async {
        let s1 = rt::Semaphore::new("s1", 1);
        let s2 = rt::Semaphore::new("s2", 1);
        for _ in 0..3 {
            rt::spawn("noise", async {
                for _ in 0..4 {
                    rt::yield_now().await;
                }
            });
        }
        let (a1, a2) = (s1.clone(), s2.clone());
        rt::spawn("a", async move {
            let _p = a1.acquire().await;
            rt::yield_now().await;
            let _q = a2.acquire().await;
        });
        rt::spawn("b", async move {
            let _fault = rt::choose("storage-fault", 2);
            let _p = s2.acquire().await;
            rt::yield_now().await;
            let _q = s1.acquire().await;
        });
    })
}

/// A fault of severity 0..=3 sends task `b` down the opposite lock order, which
/// can deadlock with `a`; any severity will do, so the minimizer should lower it to 1.
pub fn faulty_order() -> Toy {
    Toy::new("faulty-order", "fault", || async {
        let s1 = rt::Semaphore::new("s1", 1);
        let s2 = rt::Semaphore::new("s2", 1);
        let (a1, a2) = (s1.clone(), s2.clone());
        rt::spawn("a", async move {
            let _p = a1.acquire().await;
            rt::yield_now().await;
            let _q = a2.acquire().await;
        });
        rt::spawn("b", async move {
            if rt::choose("fault", 4) == 0 {
                let _p = s1.acquire().await;
                let _q = s2.acquire().await;
            } else {
                let _p = s2.acquire().await;
                rt::yield_now().await;
                let _q = s1.acquire().await;
            }
        });
    })
}

/// The textbook deadlock while `main` keeps running: main spawns `a` and `b`,
/// then takes three more steps; `b` first draws a harmless choice. A random
/// schedule switches away from main early; the deadlock needs one preemption
/// (of `a` between its two acquires) once main is done, which the minimizer
/// only finds by moving a switch past main's last steps together with the
/// switches after it.
pub fn main_keeps_running() -> Toy {
    Toy::new("main-keeps-running", "buggy", || async {
        let s1 = rt::Semaphore::new("s1", 1);
        let s2 = rt::Semaphore::new("s2", 1);
        let (a1, a2) = (s1.clone(), s2.clone());
        rt::spawn("a", async move {
            rt::yield_now().await;
            let _p = a1.acquire().await;
            rt::yield_now().await;
            let _q = a2.acquire().await;
        });
        rt::spawn("b", async move {
            let _harmless = rt::choose("fault", 2);
            let _p = s2.acquire().await;
            rt::yield_now().await;
            let _q = s1.acquire().await;
        });
        for _ in 0..3 {
            rt::yield_now().await;
        }
    })
}
