//! Counters shared between a stressor's parent and its forked workers: one anonymous shared
//! mapping of atomic 64-bit slots, made before the fork.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, WorkloadError};

/// A fixed number of atomic counters visible to every process forked after it was made.
#[derive(Debug)]
pub struct SharedCounters {
    ptr: *mut AtomicU64,
    len: usize,
}

// SAFETY: the slots are atomics in a mapping that lives as long as the value.
unsafe impl Send for SharedCounters {}
// SAFETY: as above.
unsafe impl Sync for SharedCounters {}

impl SharedCounters {
    /// Maps `len` zeroed counters.
    pub fn new(len: usize) -> Result<Self> {
        let len = len.max(1);
        let bytes = len * std::mem::size_of::<AtomicU64>();
        // SAFETY: an anonymous shared mapping with no address hint.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(WorkloadError::Sys {
                op: format!("map {bytes} bytes of shared counters"),
                errno: nix::errno::Errno::last(),
            });
        }
        Ok(SharedCounters { ptr: p.cast(), len })
    }

    fn slot(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.len, "counter {i} out of {}", self.len);
        // SAFETY: i is in bounds; the mapping is zero-initialised memory of atomics.
        unsafe { &*self.ptr.add(i) }
    }

    /// Adds to counter `i`.
    pub fn add(&self, i: usize, n: u64) {
        self.slot(i).fetch_add(n, Ordering::Relaxed);
    }

    /// Sets counter `i` (a gauge).
    pub fn set(&self, i: usize, n: u64) {
        self.slot(i).store(n, Ordering::Relaxed);
    }

    /// Reads counter `i`.
    pub fn get(&self, i: usize) -> u64 {
        self.slot(i).load(Ordering::Relaxed)
    }

    /// How many counters there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none (never: at least one is mapped).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SharedCounters {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what new() mapped.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len * std::mem::size_of::<AtomicU64>());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_cross_a_fork() {
        let c = SharedCounters::new(2).unwrap();
        c.add(1, 5);
        // SAFETY: the child only touches the atomics and _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                c.add(0, 7);
                c.add(1, 1);
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(c.get(0), 7);
                assert_eq!(c.get(1), 6);
            }
        }
    }
}
