//! The fast liveness pass (fingerprint mode): one DFS over the whole
//! reachable graph that both proves it acyclic and, in post-order, computes
//! for up to 8 `eventually p` properties whether a state can reach a
//! terminal state along `!p` states only:
//! `bad(s) = !p(s) && (terminal(s) || any successor bad)`.
//! On an acyclic graph `<> p` fails exactly when an initial state is bad, and
//! `<>[] p` is decided by terminal states (the main pass). A back edge ends
//! the pass: the caller then runs the general cycle-aware passes.
//!
//! Memory: 9 bytes per slot (fingerprint + status byte) at 72-90% load,
//! plus the DFS stack (each frame keeps its successors, whose slots are
//! prefetched when the frame is pushed).

use super::dfs::CHECK_EVERY;
use super::hash::fingerprint;
use super::{Ctx, Stop};
use crate::explore::model::Model;

/// Status byte of a state that is on the DFS stack (its bits are not known yet).
const IN_PROGRESS: u8 = 0x80;
/// Properties one pass handles (one status bit each, below `IN_PROGRESS`).
pub const GROUP: usize = 7;

/// Fingerprint -> status byte, open addressing like `visited::FpTable`;
/// a slot is `[fingerprint, status]` so a probe touches one cache line.
struct FpMap {
    slots: Vec<[u64; 2]>,
    len: usize,
}

#[inline(always)]
fn home(fp: u64, cap: usize) -> usize {
    (((fp & 0xFFFF_FFFF) * cap as u64) >> 32) as usize
}

impl FpMap {
    fn new() -> Self {
        FpMap {
            slots: vec![[0; 2]; 16],
            len: 0,
        }
    }
    #[inline]
    fn slot(&self, fp: u64) -> (usize, bool) {
        let cap = self.slots.len();
        let mut i = home(fp, cap);
        loop {
            match self.slots[i][0] {
                0 => return (i, false),
                f if f == fp => return (i, true),
                _ => i = if i + 1 == cap { 0 } else { i + 1 },
            }
        }
    }
    #[inline]
    fn get(&self, fp: u64) -> Option<u8> {
        let (i, found) = self.slot(fp);
        found.then(|| self.slots[i][1] as u8)
    }
    /// Sets `fp`'s value, inserting it if needed.
    fn set(&mut self, fp: u64, val: u8) {
        if (self.len + 1) * 10 > self.slots.len() * 9 {
            let cap = self.slots.len() + self.slots.len() / 4;
            let old = std::mem::replace(&mut self.slots, super::visited::zeroed(cap));
            for slot in old.into_iter().filter(|s| s[0] != 0) {
                let (i, _) = self.slot(slot[0]);
                self.slots[i] = slot;
            }
        }
        let (i, found) = self.slot(fp);
        if !found {
            self.len += 1;
        }
        self.slots[i] = [fp, u64::from(val)];
    }
    fn prefetch(&self, fp: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(slot) = self.slots.get(home(fp, self.slots.len())) {
            // SAFETY: a pure cache hint on an in-bounds address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    (slot as *const [u64; 2]).cast::<i8>(),
                )
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = fp;
    }
}

struct Frame<S> {
    fp: u64,
    succs: Vec<(u64, S)>,
    next: usize,
    terminal: bool,
    /// Bit k: property `props[k]` does not hold here.
    not_p: u8,
    /// OR of the successors' bad bits.
    acc: u8,
}

/// Result of the pass: `None` if the graph has a cycle, else per property
/// of `props` whether some initial state is bad, and the states visited.
pub fn bad_initial<M: Model>(
    ctx: &Ctx<M>,
    props: &[usize],
) -> Result<(Option<Vec<bool>>, u64), Stop> {
    debug_assert!(props.len() <= GROUP);
    let (model, table) = (ctx.model, &ctx.table);
    let not_p = |s: &M::State| -> u8 {
        props.iter().enumerate().fold(0, |bits, (k, &p)| {
            bits | (u8::from(!table.holds(p, model, s)) << k)
        })
    };
    let mut map = FpMap::new();
    let mut frames: Vec<Frame<M::State>> = Vec::new();
    let mut depth = 0usize;
    let mut actions = Vec::new();
    let mut push = |frames: &mut Vec<Frame<M::State>>,
                    depth: &mut usize,
                    map: &mut FpMap,
                    s: M::State,
                    fp: u64| {
        map.set(fp, IN_PROGRESS);
        actions.clear();
        model.actions(&s, &mut actions);
        if *depth == frames.len() {
            frames.push(Frame {
                fp,
                succs: Vec::new(),
                next: 0,
                terminal: false,
                not_p: 0,
                acc: 0,
            });
        }
        let frame = &mut frames[*depth];
        frame.fp = fp;
        frame.next = 0;
        frame.acc = 0;
        frame.terminal = actions.is_empty();
        frame.not_p = not_p(&s);
        frame.succs.clear();
        for action in &actions {
            if let Some(next) = model.next_state(&s, action) {
                let nfp = fingerprint(&next);
                map.prefetch(nfp);
                frame.succs.push((nfp, next));
            }
        }
        *depth += 1;
    };
    let mut bad = 0u8;
    for init in model.init_states() {
        let fp = fingerprint(&init);
        match map.get(fp) {
            Some(bits) => {
                bad |= bits;
                continue;
            }
            None => push(&mut frames, &mut depth, &mut map, init, fp),
        }
        while depth > 0 {
            let top = &mut frames[depth - 1];
            if top.next < top.succs.len() {
                let (fp, ref state) = top.succs[top.next];
                top.next += 1;
                match map.get(fp) {
                    None => {
                        let state = state.clone();
                        push(&mut frames, &mut depth, &mut map, state, fp);
                        if map.len as u64 & (CHECK_EVERY - 1) == 0
                            || map.len as u64 > ctx.opts.budget_states
                        {
                            ctx.progress.update("liveness", map.len as u64, &ctx.clock);
                            if let Some(stop) = ctx.budget_stop(map.len as u64) {
                                return Err(stop);
                            }
                        }
                    }
                    Some(IN_PROGRESS) => return Ok((None, map.len as u64)),
                    Some(bits) => top.acc |= bits,
                }
                continue;
            }
            let bits = if top.terminal {
                top.not_p
            } else {
                top.not_p & top.acc
            };
            let fp = top.fp;
            map.set(fp, bits);
            depth -= 1;
            if depth > 0 {
                frames[depth - 1].acc |= bits;
            } else {
                bad |= bits;
            }
        }
    }
    Ok((
        Some((0..props.len()).map(|k| bad >> k & 1 == 1).collect()),
        map.len as u64,
    ))
}
