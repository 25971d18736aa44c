//! Zeroed slot arrays for the visited tables. Large ones are mapped straight
//! from the OS (and given back on drop), with transparent huge pages
//! requested: tables grow by replacement, and through the allocator the
//! freed generations would stay in the heap as fragments (RSS several times
//! the live table); random probes into a large table otherwise also miss
//! the TLB on nearly every access. Mappings start on a 2 MiB boundary,
//! since only whole aligned 2 MiB pieces can be huge pages: host-abstract
//! R=6 and R=7 on one thread ran 4-6% faster than with the mappings where
//! mmap put them (about 60% of a table huge-backed, against nearly all).

use std::ops::{Deref, DerefMut};

/// Element types for which all-zero bytes are a valid value.
///
/// # Safety
/// Implement only for plain integers and arrays of them.
pub unsafe trait ZeroSlot: Copy + Send + Sync + 'static {}
// SAFETY: plain integers and arrays of them: every bit pattern is valid.
unsafe impl ZeroSlot for u32 {}
// SAFETY: as above.
unsafe impl ZeroSlot for u64 {}
// SAFETY: as above.
unsafe impl ZeroSlot for [u32; 3] {}
// SAFETY: as above.
unsafe impl ZeroSlot for [u32; 8] {}
// SAFETY: as above.
unsafe impl ZeroSlot for [u64; 2] {}

/// Below this many bytes a slot array is an ordinary boxed slice.
const MAP_AT: usize = 1 << 20;
/// The transparent huge page size (x86-64, and aarch64 with 4 KiB pages).
const HUGE: usize = 2 << 20;

/// A fixed-length, zero-initialised array of slots: a pointer and a length
/// whatever backs it, so indexing (every probe) does not branch on the kind.
pub struct Slots<T: ZeroSlot> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
    /// Mapped from the OS (else a leaked `Box<[T]>`): how Drop gives it back.
    mapped: bool,
}

// SAFETY: a Slots owns its memory exclusively, like a Box; T is Send + Sync.
unsafe impl<T: ZeroSlot> Send for Slots<T> {}
// SAFETY: shared access only hands out `&[T]`.
unsafe impl<T: ZeroSlot> Sync for Slots<T> {}

impl<T: ZeroSlot> Slots<T> {
    /// `len` zeroed slots.
    pub fn zeroed(len: usize) -> Self {
        #[cfg(target_os = "linux")]
        if let Some(slots) = Self::map(len) {
            return slots;
        }
        // SAFETY: all-zero bytes are a valid T (ZeroSlot).
        let zero: T = unsafe { std::mem::zeroed() };
        let boxed = Box::leak(vec![zero; len].into_boxed_slice());
        Slots {
            ptr: std::ptr::NonNull::from(boxed).cast::<T>(),
            len,
            mapped: false,
        }
    }

    #[cfg(target_os = "linux")]
    fn map(len: usize) -> Option<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        if bytes < MAP_AT {
            return None;
        }
        // Huge pages only back whole, aligned 2 MiB pieces: map 2 MiB more
        // than needed, round the start up, and give back what lies outside.
        let mapped = bytes.checked_add(HUGE)?.next_multiple_of(HUGE);
        // SAFETY: an anonymous private mapping of `mapped` bytes; the kernel
        // zero-fills it. Its unused head and tail are unmapped here, and the
        // rest exactly once, in Drop.
        unsafe {
            let raw = libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if raw == libc::MAP_FAILED {
                return None;
            }
            let head = (raw as usize).next_multiple_of(HUGE) - raw as usize;
            let kept = Self::kept_bytes(len);
            let start = raw.cast::<u8>().add(head);
            if head > 0 {
                libc::munmap(raw, head);
            }
            let tail = mapped - head - kept;
            if tail > 0 {
                libc::munmap(start.add(kept).cast(), tail);
            }
            // A hint only: failure (e.g. THP disabled) changes nothing.
            libc::madvise(start.cast(), kept, libc::MADV_HUGEPAGE);
            let ptr = std::ptr::NonNull::new(start.cast::<T>())?;
            Some(Slots {
                ptr,
                len,
                mapped: true,
            })
        }
    }

    /// Grows to `len` slots (`len >= self.len()`), keeping the first ones
    /// and zeroing the rest. A mapping whose last huge page has room just
    /// lengthens; otherwise its pages are moved (`mremap`, no copy) to the
    /// head of a fresh, aligned mapping, so only the added part is new
    /// memory for the kernel to zero, and the peak is the new size alone
    /// rather than old plus new.
    pub fn extend_zeroed(&mut self, len: usize) {
        assert!(len >= self.len);
        #[cfg(target_os = "linux")]
        if self.mapped {
            if len * std::mem::size_of::<T>() <= Self::kept_bytes(self.len) {
                // The slack of the last huge page was never written: zero.
                self.len = len;
                return;
            }
            if let Some(mut grown) = Self::map(len) {
                let kept = Self::kept_bytes(self.len);
                // SAFETY: moves this mapping's `kept` bytes over the head of
                // `grown` (at least that large: `len > self.len`), which
                // replaces those pages; the old range is unmapped by the
                // move, so `self` is forgotten instead of dropped.
                let moved = unsafe {
                    libc::mremap(
                        self.ptr.as_ptr().cast(),
                        kept,
                        kept,
                        libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                        grown.ptr.as_ptr().cast::<libc::c_void>(),
                    )
                };
                if moved != libc::MAP_FAILED {
                    std::mem::swap(self, &mut grown);
                    std::mem::forget(grown);
                    return;
                }
                // Fall through to copying; `grown` is unmapped on drop.
            }
        }
        let mut grown = Slots::zeroed(len);
        grown[..self.len].copy_from_slice(self);
        *self = grown;
    }

    /// Bytes a mapping of `len` slots keeps mapped: whole huge pages.
    #[cfg(target_os = "linux")]
    fn kept_bytes(len: usize) -> usize {
        (len * std::mem::size_of::<T>()).next_multiple_of(HUGE)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val::<[T]>(self)
    }
}

impl<T: ZeroSlot> Deref for Slots<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` holds `len` initialised (zeroed or written) T.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: ZeroSlot> DerefMut for Slots<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in Deref, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: ZeroSlot> Drop for Slots<T> {
    fn drop(&mut self) {
        let ptr = self.ptr.as_ptr();
        if !self.mapped {
            // SAFETY: `zeroed` leaked exactly this boxed slice.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, self.len)) });
            return;
        }
        // SAFETY: `map` kept exactly this many bytes mapped from `ptr`.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::munmap(ptr.cast(), Self::kept_bytes(self.len));
        }
    }
}

impl<T: ZeroSlot> Clone for Slots<T> {
    fn clone(&self) -> Self {
        let mut copy = Slots::zeroed(self.len());
        copy.copy_from_slice(self);
        copy
    }
}

impl<T: ZeroSlot> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Slots({} x {} bytes)",
            self.len(),
            std::mem::size_of::<T>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_slots_start_zeroed_and_hold_writes() {
        for len in [16, 1 << 18, (1 << 17) + 3] {
            let mut s: Slots<u64> = Slots::zeroed(len);
            if len * 8 >= MAP_AT && cfg!(target_os = "linux") {
                // Mapped, and starting on a huge page boundary.
                assert_eq!(s.as_ptr() as usize % HUGE, 0);
            }
            assert_eq!(s.len(), len);
            assert!(s.iter().all(|&v| v == 0));
            s[len - 1] = 7;
            let c = s.clone();
            assert_eq!(c[len - 1], 7);
            assert_eq!(s.bytes(), len * 8);
        }
    }

    #[test]
    fn extended_slots_keep_their_head_and_zero_their_tail() {
        // Boxed to boxed, boxed to mapped, within a mapping's last huge
        // page, and mapped to a bigger mapping (moved, not copied).
        for (from, to) in [
            (16, 100),
            (1000, 1 << 18),
            (1 << 17, (1 << 17) + 5),
            (1 << 18, 3 << 18),
        ] {
            let mut s: Slots<u64> = Slots::zeroed(from);
            for (i, v) in s.iter_mut().enumerate() {
                *v = i as u64 + 1;
            }
            s.extend_zeroed(to);
            assert_eq!(s.len(), to);
            assert!(s[..from]
                .iter()
                .enumerate()
                .all(|(i, &v)| v == i as u64 + 1));
            assert!(s[from..].iter().all(|&v| v == 0), "{from} -> {to}");
            if to * 8 >= MAP_AT && cfg!(target_os = "linux") {
                assert_eq!(s.as_ptr() as usize % HUGE, 0);
            }
            s[to - 1] = 9;
            assert_eq!(s[to - 1], 9);
        }
    }
}
