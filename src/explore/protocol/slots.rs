//! Zeroed slot arrays for the visited tables. Large ones are mapped straight
//! from the OS (and given back on drop): through the allocator, the freed
//! generations of a growing table would stay in the heap as fragments (RSS
//! several times the live table).
//!
//! A mapping reserves far more address space than it needs ([`RESERVE`],
//! `MAP_NORESERVE`: untouched pages cost no memory), so a table grows by
//! lengthening in place. Each growth faults in its new pages in one call
//! (`MADV_POPULATE_WRITE`) before they are read. Both matter with two
//! threads: moving a mapping (`mremap`), or writing a page that a read had
//! mapped to the shared zero page, makes the kernel flush the other core's
//! TLB by interrupt, and that was 14% of host-abstract R=7 on two threads.
//!
//! Small pages, not transparent huge pages (`MADV_NOHUGEPAGE`): on this
//! machine (a VM) the kernel took 12-15% of the host-abstract R=7 run to
//! zero fresh 2 MiB pages, small pages cost about 1%, and the TLB misses
//! they add cost less than that. With all three, R=7 went from 3.66-3.70 s
//! to 3.28-3.53 s on one thread and from 1.9-2.05 s to 1.76-1.85 s on two.
//! R=8 stayed at 9-10 s on two threads: its 70 MB shard tables outrun the
//! TLB's reach on small pages, presumably costing what the zeroing saves.

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
/// Address space a mapping reserves (32 GiB), so that it can grow in place.
/// Untouched, it costs no memory; if the OS refuses it (`overcommit_memory
/// = 2`, `ulimit -v`), a mapping of the needed size is taken instead and
/// growth moves it.
const RESERVE: usize = 1 << 35;
/// The page size populated ranges are aligned to (x86-64, and the aarch64
/// default). With bigger pages the kernel refuses unaligned ranges, and
/// those pages fault in on first use instead.
const PAGE: usize = 4096;

/// A fixed-length, zero-initialised array of slots: a pointer and a length
/// whatever backs it, so indexing (every probe) does not branch on the kind.
pub struct Slots<T: ZeroSlot> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
    /// Mapped from the OS (else a leaked `Box<[T]>`): how Drop gives it back.
    mapped: bool,
    /// Bytes mapped from `ptr` (0 when boxed): the slots may grow into them
    /// without moving.
    reserved: usize,
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
            reserved: 0,
        }
    }

    #[cfg(target_os = "linux")]
    fn map(len: usize) -> Option<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        if bytes < MAP_AT {
            return None;
        }
        Self::map_reserving(len, bytes.max(RESERVE)).or_else(|| Self::map_reserving(len, bytes))
    }

    /// `len` zeroed slots in a mapping of `reserve` bytes (at least theirs),
    /// or None if the OS refuses it.
    #[cfg(target_os = "linux")]
    fn map_reserving(len: usize, reserve: usize) -> Option<Self> {
        let reserved = reserve.checked_next_multiple_of(PAGE)?;
        // SAFETY: an anonymous private mapping; the kernel zero-fills it,
        // and Drop unmaps exactly these `reserved` bytes.
        unsafe {
            let raw = libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            if raw == libc::MAP_FAILED {
                return None;
            }
            // A hint only: failure (e.g. no THP support) changes nothing.
            libc::madvise(raw, reserved, libc::MADV_NOHUGEPAGE);
            let start = raw.cast::<u8>();
            populate(start, 0, len * std::mem::size_of::<T>());
            Some(Slots {
                ptr: std::ptr::NonNull::new(start.cast::<T>())?,
                len,
                mapped: true,
                reserved,
            })
        }
    }

    /// Grows to `len` slots (`len >= self.len()`), keeping the first ones
    /// and zeroing the rest. A mapping whose reservation has room just
    /// lengthens (populating the added pages); otherwise its pages are
    /// moved (`mremap`, no copy) to the head of a fresh mapping, so only the
    /// added part is new memory for the kernel to zero, and the peak is the
    /// new size alone rather than old plus new.
    pub fn extend_zeroed(&mut self, len: usize) {
        assert!(len >= self.len);
        #[cfg(target_os = "linux")]
        if self.mapped {
            if len * std::mem::size_of::<T>() <= self.reserved {
                // The reserved bytes past `len` were never written: zero.
                let size = std::mem::size_of::<T>();
                // SAFETY: the range lies inside the reservation.
                unsafe { populate(self.ptr.as_ptr().cast(), self.len * size, len * size) };
                self.len = len;
                return;
            }
            if let Some(mut grown) = Self::map(len) {
                // SAFETY: moves this whole mapping (its reservation, so
                // nothing of it stays behind) over the head of `grown`,
                // which is larger (it holds `len` slots, more than fit
                // here) and whose pages there it replaces; the old range is
                // unmapped by the move, so `self` is forgotten, not dropped.
                let moved = unsafe {
                    libc::mremap(
                        self.ptr.as_ptr().cast(),
                        self.reserved,
                        self.reserved,
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

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val::<[T]>(self)
    }
}

/// Faults in bytes `from..to` of the mapping at `start` for writing, in one
/// call, so that no read maps them to the zero page first (see the module
/// doc). A hint: kernels before 5.14 refuse it and the pages fault in on
/// first use instead.
///
/// # Safety
/// The range must lie inside the mapping.
#[cfg(target_os = "linux")]
unsafe fn populate(start: *mut u8, from: usize, to: usize) {
    let from = from / PAGE * PAGE;
    if to > from {
        // SAFETY: the caller's range, widened down to its first page, which
        // is inside the mapping too (mappings are page-aligned).
        unsafe {
            libc::madvise(start.add(from).cast(), to - from, libc::MADV_POPULATE_WRITE);
        }
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
        // SAFETY: `map_reserving` (or a move) mapped exactly this many
        // bytes from `ptr`.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::munmap(ptr.cast(), self.reserved);
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
                // Mapped, with room to grow in place.
                assert!(s.mapped);
                assert!(s.reserved >= RESERVE, "{}", s.reserved);
            }
            assert_eq!(s.len(), len);
            assert!(s.iter().all(|&v| v == 0));
            s[len - 1] = 7;
            let c = s.clone();
            assert_eq!(c[len - 1], 7);
            assert_eq!(s.bytes(), len * 8);
        }
    }

    /// Fills `s` with 1, 2, ..., extends it to `to` and checks that the
    /// head kept its values, the tail is zero and the new end is writable.
    fn extend_and_check(mut s: Slots<u64>, to: usize) -> Slots<u64> {
        let from = s.len();
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
        s[to - 1] = 9;
        assert_eq!(s[to - 1], 9);
        s
    }

    #[test]
    fn extended_slots_keep_their_head_and_zero_their_tail() {
        // Boxed to boxed, boxed to mapped, and within a mapping's
        // reservation (in place: the same address).
        for (from, to) in [
            (16, 100),
            (1000, 1 << 18),
            (1 << 17, (1 << 17) + 5),
            (1 << 18, 3 << 18),
        ] {
            let s: Slots<u64> = Slots::zeroed(from);
            let (at, mapped) = (s.as_ptr(), s.mapped);
            let s = extend_and_check(s, to);
            if mapped {
                assert_eq!(s.as_ptr(), at, "{from} -> {to} moved");
            }
        }
    }

    /// Past its reservation a mapping moves to a bigger one (the path a
    /// table larger than [`RESERVE`] takes, or one whose reservation the OS
    /// refused), keeping its contents, whether or not it had filled its
    /// reservation.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_mapping_outgrowing_its_reservation_moves_with_its_contents() {
        let from = 1 << 17;
        for spare in [0, 5 * PAGE] {
            let s: Slots<u64> =
                Slots::map_reserving(from, from * 8 + spare).expect("a 1 MiB mapping");
            assert_eq!(s.reserved, from * 8 + spare);
            let s = extend_and_check(s, 3 << 17);
            assert!(s.mapped && s.reserved >= RESERVE);
        }
    }
}
