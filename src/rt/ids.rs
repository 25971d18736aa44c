//! Identifiers of tasks and objects within one run, and step footprints.
//!
//! Ids are dense creation-order indices: runs are replayed from scratch, so
//! the same schedule prefix always yields the same ids. Each task and object
//! also has a *stable* id (a hash of its creator's stable id and the creation
//! index within that creator), used where two different interleavings must
//! agree on identity (state fingerprints, cached sleep sets).

use std::fmt;

/// A task of the current run (creation order; the main task is `t0`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

impl TaskId {
    pub const MAIN: TaskId = TaskId(0);
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// A registered runtime object (semaphore, shared cell, channel, ...) of the current run.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjId(pub u32);

impl ObjId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// How a step touched an object.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The objects one step touched. Two steps are dependent iff they touch a
/// common object and at least one of them writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    accesses: Vec<(ObjId, Access)>,
}

impl Footprint {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.accesses.clear();
    }

    /// Adds one access; a write subsumes a read of the same object.
    pub fn add(&mut self, obj: ObjId, access: Access) {
        for entry in self.accesses.iter_mut() {
            if entry.0 == obj {
                if access == Access::Write {
                    entry.1 = Access::Write;
                }
                return;
            }
        }
        self.accesses.push((obj, access));
    }

    /// Adds every access of `other`.
    pub fn union_with(&mut self, other: &Footprint) {
        for &(obj, access) in &other.accesses {
            self.add(obj, access);
        }
    }

    pub fn accesses(&self) -> &[(ObjId, Access)] {
        &self.accesses
    }

    pub fn is_empty(&self) -> bool {
        self.accesses.is_empty()
    }

    /// Whether the two steps do not commute (a common object, one write).
    pub fn conflicts_with(&self, other: &Footprint) -> bool {
        self.accesses.iter().any(|&(obj, a)| {
            other
                .accesses
                .iter()
                .any(|&(o, b)| o == obj && (a == Access::Write || b == Access::Write))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commute_writes_conflict() {
        let mut r1 = Footprint::new();
        r1.add(ObjId(1), Access::Read);
        let mut r2 = Footprint::new();
        r2.add(ObjId(1), Access::Read);
        assert!(!r1.conflicts_with(&r2));
        r2.add(ObjId(1), Access::Write);
        assert_eq!(r2.accesses(), &[(ObjId(1), Access::Write)]);
        assert!(r1.conflicts_with(&r2));
        let mut other = Footprint::new();
        other.add(ObjId(2), Access::Write);
        assert!(!other.conflicts_with(&r2));
    }
}
