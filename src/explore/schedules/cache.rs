//! The visited-state table of schedule DFS: 64-bit world fingerprints mapped
//! to the sleep set and depth they were explored with.
//!
//! An open-addressing table keyed by the fingerprint itself (already a hash),
//! so lookups are deterministic and allocation-free. Each slot holds the
//! fingerprint next to the entry index, so a probe touches one cache line
//! (the table is far larger than the CPU caches on big checks).

/// What exploring a state covered: the stable ids of the tasks that were
/// asleep (not explored) there, and the shallowest depth it was seen at.
pub(crate) struct Visit {
    pub sleep: Vec<u64>,
    pub depth: u32,
}

pub(crate) struct StateCache {
    /// (fingerprint, index + 1 into `entries`); index 0 = empty slot.
    slots: Vec<(u64, u32)>,
    entries: Vec<(u64, Visit)>,
}

/// What a lookup decided.
pub(crate) enum Lookup {
    /// Seen with a sleep set contained in the current one, at most as deep: prune.
    Covered,
    /// Seen, but the current visit may explore more; the entry was widened.
    Revisit,
    /// Never seen; now recorded.
    New,
}

impl StateCache {
    pub(crate) fn new() -> Self {
        StateCache {
            slots: vec![(0, 0); 1 << 12],
            entries: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn find(&self, fp: u64) -> (usize, Option<usize>) {
        let mask = self.slots.len() - 1;
        let mut i = (fp as usize) & mask;
        loop {
            match self.slots[i] {
                (_, 0) => return (i, None),
                (f, e) if f == fp => return (i, Some(e as usize - 1)),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let mut slots = vec![(0u64, 0u32); self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (k, (fp, _)) in self.entries.iter().enumerate() {
            let mut i = (*fp as usize) & mask;
            while slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = (*fp, k as u32 + 1);
        }
        self.slots = slots;
    }

    /// Looks `fp` up with the current (sorted) sleep set and depth, recording the visit.
    pub(crate) fn visit(&mut self, fp: u64, sleep: &[u64], depth: u32) -> Lookup {
        match self.find(fp) {
            (_, Some(e)) => {
                let visit = &mut self.entries[e].1;
                let subset = visit.sleep.iter().all(|s| sleep.binary_search(s).is_ok());
                if subset && visit.depth <= depth {
                    return Lookup::Covered;
                }
                // After this visit, everything outside the intersection is explored.
                visit.sleep.retain(|s| sleep.binary_search(s).is_ok());
                visit.depth = visit.depth.min(depth);
                Lookup::Revisit
            }
            (slot, None) => {
                self.entries.push((
                    fp,
                    Visit {
                        sleep: sleep.to_vec(),
                        depth,
                    },
                ));
                self.slots[slot] = (fp, self.entries.len() as u32);
                if self.entries.len() * 2 > self.slots.len() {
                    self.grow();
                }
                Lookup::New
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_only_when_covered() {
        let mut c = StateCache::new();
        assert!(matches!(c.visit(7, &[1, 2], 5), Lookup::New));
        assert!(matches!(c.visit(7, &[1, 2, 3], 5), Lookup::Covered));
        assert!(matches!(c.visit(7, &[1], 5), Lookup::Revisit));
        // Now stored sleep is {1}: {1,3} covers it, but a shallower visit does not.
        assert!(matches!(c.visit(7, &[1, 3], 6), Lookup::Covered));
        assert!(matches!(c.visit(7, &[1, 3], 2), Lookup::Revisit));
        for fp in 0..10_000u64 {
            c.visit(fp.wrapping_mul(0x9e37_79b9_7f4a_7c15), &[], 0);
        }
        assert!(c.len() >= 10_000);
        assert!(matches!(c.visit(7, &[1, 3], 9), Lookup::Covered));
    }
}
