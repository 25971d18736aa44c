//! [`History`]: an append-only log carried in world state but left out of its identity.
//!
//! World types derive `Hash`/`Eq` so the explorer can fingerprint them. A log
//! of what already happened (faults that fired, buggify activations) does not
//! change what can happen next, so two states that differ only in their logs
//! are the same state: `History` hashes to nothing and always compares equal.
//! Counters that do change the future (occurrence counts) live outside it.

use std::hash::{Hash, Hasher};

/// An append-only list that does not take part in `Hash`/`Eq`.
#[derive(Clone, Debug)]
pub struct History<T>(Vec<T>);

impl<T> Default for History<T> {
    fn default() -> Self {
        History(Vec::new())
    }
}

impl<T> History<T> {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, entry: T) {
        self.0.push(entry);
    }
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> Hash for History<T> {
    fn hash<H: Hasher>(&self, _state: &mut H) {}
}

impl<T> PartialEq for History<T> {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl<T> Eq for History<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of<T: Hash>(v: &T) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn logs_do_not_change_identity() {
        let a: History<u32> = History::new();
        let mut b = History::new();
        b.push(7);
        assert_eq!(a, b);
        assert_eq!(hash_of(&(1, &a)), hash_of(&(1, &b)));
        assert_eq!(b.as_slice(), &[7]);
    }
}
