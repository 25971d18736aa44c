//! Virtual time: the [`VirtualTime`] value type and a deadline-ordered [`TimerQueue`].
//!
//! Nothing here reads a clock. Time only moves when whoever owns the queue
//! (the executor, a protocol model) decides it does.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the virtual clock, in nanoseconds since the start of the run.
///
/// Displayed with millisecond precision: `12.500s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtualTime(u64);

impl VirtualTime {
    pub const ZERO: VirtualTime = VirtualTime(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        VirtualTime(nanos)
    }
    pub const fn from_millis(millis: u64) -> Self {
        VirtualTime(millis.saturating_mul(1_000_000))
    }
    pub const fn from_secs(secs: u64) -> Self {
        VirtualTime(secs.saturating_mul(1_000_000_000))
    }
    /// Saturates at `u64::MAX` nanoseconds (about 584 years).
    pub fn from_duration(d: Duration) -> Self {
        VirtualTime(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    pub const fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }
    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: VirtualTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl From<Duration> for VirtualTime {
    fn from(d: Duration) -> Self {
        VirtualTime::from_duration(d)
    }
}

impl From<VirtualTime> for Duration {
    fn from(t: VirtualTime) -> Self {
        t.as_duration()
    }
}

impl Add<Duration> for VirtualTime {
    type Output = VirtualTime;
    fn add(self, d: Duration) -> VirtualTime {
        VirtualTime(self.0.saturating_add(VirtualTime::from_duration(d).0))
    }
}

impl Sub<VirtualTime> for VirtualTime {
    type Output = Duration;
    fn sub(self, earlier: VirtualTime) -> Duration {
        self.since(earlier)
    }
}

impl fmt::Display for VirtualTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format_millis(self.as_millis());
        f.pad(&text)
    }
}

/// `12500` -> `12.500s`: the one time format of every renderer.
pub fn format_millis(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1_000, ms % 1_000)
}

/// Identifies one scheduled timer, for cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    pub deadline: VirtualTime,
    /// Insertion order, unique per queue: breaks ties FIFO.
    pub seq: u64,
}

/// Timers in deadline order, FIFO among equal deadlines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TimerQueue<K> {
    timers: BTreeMap<TimerId, K>,
    next_seq: u64,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            timers: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K> TimerQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `key` at `deadline`.
    pub fn push(&mut self, deadline: VirtualTime, key: K) -> TimerId {
        let id = TimerId {
            deadline,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.timers.insert(id, key);
        id
    }

    /// Removes a timer; returns its key if it was still pending.
    pub fn cancel(&mut self, id: TimerId) -> Option<K> {
        self.timers.remove(&id)
    }

    /// The earliest deadline, if any timer is pending.
    pub fn next_deadline(&self) -> Option<VirtualTime> {
        self.timers.keys().next().map(|id| id.deadline)
    }

    /// The earliest timer without removing it.
    pub fn peek(&self) -> Option<(TimerId, &K)> {
        self.timers.iter().next().map(|(id, k)| (*id, k))
    }

    /// Removes and returns the earliest timer whose deadline is `<= now`.
    pub fn pop_due(&mut self, now: VirtualTime) -> Option<(TimerId, K)> {
        let first = *self.timers.keys().next()?;
        if first.deadline > now {
            return None;
        }
        self.timers.remove(&first).map(|k| (first, k))
    }

    /// Removes and returns the earliest timer whatever its deadline (the
    /// executor advances the clock to it when nothing else can run).
    pub fn pop_next(&mut self) -> Option<(TimerId, K)> {
        let first = *self.timers.keys().next()?;
        self.timers.remove(&first).map(|k| (first, k))
    }

    pub fn len(&self) -> usize {
        self.timers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }
    /// Pending timers in firing order.
    pub fn iter(&self) -> impl Iterator<Item = (TimerId, &K)> {
        self.timers.iter().map(|(id, k)| (*id, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_conversions() {
        assert_eq!(VirtualTime::from_millis(12_500).to_string(), "12.500s");
        assert_eq!(VirtualTime::ZERO.to_string(), "0.000s");
        assert_eq!(
            format!("{:>9}", VirtualTime::from_millis(1_000)),
            "   1.000s"
        );
        let t = VirtualTime::from_secs(2) + Duration::from_micros(1_500);
        assert_eq!(t.as_millis(), 2_001);
        assert_eq!(t.as_micros(), 2_001_500);
        assert_eq!(t - VirtualTime::from_secs(2), Duration::from_micros(1_500));
        assert_eq!(VirtualTime::ZERO - t, Duration::ZERO);
        assert_eq!(
            VirtualTime::from_duration(Duration::MAX).as_nanos(),
            u64::MAX
        );
    }

    #[test]
    fn timers_fire_in_deadline_order_fifo_among_equals() {
        let mut q = TimerQueue::new();
        q.push(VirtualTime::from_millis(30), "c");
        q.push(VirtualTime::from_millis(10), "a1");
        let dropped = q.push(VirtualTime::from_millis(20), "x");
        q.push(VirtualTime::from_millis(10), "a2");
        assert_eq!(q.cancel(dropped), Some("x"));
        assert_eq!(q.cancel(dropped), None);
        assert_eq!(q.next_deadline(), Some(VirtualTime::from_millis(10)));
        assert_eq!(q.pop_due(VirtualTime::from_millis(5)), None);
        let due: Vec<_> =
            std::iter::from_fn(|| q.pop_due(VirtualTime::from_millis(10)).map(|(_, k)| k))
                .collect();
        assert_eq!(due, ["a1", "a2"]);
        assert_eq!(
            q.pop_next().map(|(id, k)| (id.deadline.as_millis(), k)),
            Some((30, "c"))
        );
        assert!(q.is_empty());
    }
}
