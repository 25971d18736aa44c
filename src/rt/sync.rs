//! A poison-free synchronous lock for the primitives' internal state.
//!
//! The executor is single-threaded, so contention never happens; a lock that
//! is already taken can only mean re-entrant use (for example `Shared::read`
//! inside `Shared::write` of the same object), which is reported with a clear
//! panic instead of hanging. Poisoning is ignored: a panic inside a model task
//! is caught and reported by the executor, and the state stays inspectable.

use std::sync::{Mutex, MutexGuard, TryLockError};

#[derive(Debug, Default)]
pub(crate) struct Lock<T>(Mutex<T>);

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Self {
        Lock(Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        match self.0.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => panic!(
                "lockstep: re-entrant access to a runtime object (e.g. Shared::read inside \
                 Shared::write of the same object); split the access into two calls"
            ),
        }
    }
}
