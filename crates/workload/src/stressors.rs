//! The stressors: what each worker process does. Each one counts its work in shared counters
//! so that the parent can report it, live and at the end.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::shared::SharedCounters;

/// Work units of the CPU method per bogo-op.
pub const CPU_OPS_PER_BOGO: u32 = 4096;

/// One bogo-op of the CPU method: a fixed mix of 64-bit integer (an LCG) and floating-point
/// arithmetic, kept in registers, whose result is observed so the compiler cannot drop it.
#[inline(never)]
pub fn cpu_bogo_op(state: &mut (u64, f64)) {
    let (mut x, mut y) = *state;
    for _ in 0..CPU_OPS_PER_BOGO {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        y = y * 0.999_999_9 + (x >> 40) as f64 * 1e-12;
    }
    *state = black_box((x, y));
}

/// Sleeps until the CLOCK_MONOTONIC instant `t` (absolute, so that oversleeping does not drift).
fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// The wall-clock slice of `--load`: busy for `load`% of each, asleep for the rest.
pub const LOAD_SLICE: Duration = Duration::from_millis(100);

/// A CPU worker: bogo-ops forever; with `load` (1..=99 percent) a duty cycle against the wall
/// clock: busy from the start of each 100 ms slice until `load`% of it has passed, then asleep
/// until the next slice. Throttling shortens the CPU a slice gets, not the offered load.
pub fn cpu(index: usize, counters: &SharedCounters, load: Option<u8>) -> i32 {
    let mut state = (index as u64 + 1, 1.0);
    match load.filter(|l| *l < 100) {
        None => loop {
            cpu_bogo_op(&mut state);
            counters.add(index, 1);
        },
        Some(load) => {
            let busy = LOAD_SLICE.mul_f64(f64::from(load) / 100.0);
            let mut slice = Instant::now();
            loop {
                while slice.elapsed() < busy {
                    cpu_bogo_op(&mut state);
                    counters.add(index, 1);
                }
                slice += LOAD_SLICE;
                // Behind (throttled, descheduled)? Skip to the slice we are in.
                let now = Instant::now();
                while slice + LOAD_SLICE <= now {
                    slice += LOAD_SLICE;
                }
                sleep_until(slice);
            }
        }
    }
}

/// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID): not the time it waited or was
/// throttled.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A kernel worker: reads /dev/zero into one buffer (touched once first, so that no page fault
/// is in the loop) again and again, each read(2) one bogo-op: CPU time spent in the kernel,
/// which returns to user space only between reads (what task-based CFS throttling, Linux
/// 6.18, waits for). The buffer is sized so that a read takes `call` of CPU time: timed reads
/// (CPU time, so neither throttling nor waiting counts) rescale it until one is within 10%,
/// six at most; the size is printed on stderr. On an error it prints it and exits 1.
pub fn kernel(index: usize, counters: &SharedCounters, call: Duration) -> i32 {
    use std::io::Read;
    const MIB: usize = 1 << 20;
    let fail = |what: &str, e: std::io::Error| {
        eprintln!("limitcheck stress kernel: cannot {what} /dev/zero: {e}");
        1
    };
    let mut f = match std::fs::File::open("/dev/zero") {
        Ok(f) => f,
        Err(e) => return fail("open", e),
    };
    // A MiB costs less in a cache than from memory, so the size is found at the size: from a
    // first guess, each timed read rescales the buffer until one takes `call` within 10%.
    let mut mib = 32usize;
    let mut buf = vec![1u8; mib * MIB];
    let mut took = Duration::ZERO;
    for _ in 0..6 {
        let t = thread_cpu();
        if let Err(e) = f.read_exact(&mut buf) {
            return fail("read", e);
        }
        took = (thread_cpu() - t).max(Duration::from_micros(1));
        let ratio = call.as_secs_f64() / took.as_secs_f64();
        let next = ((mib as f64 * ratio).round() as usize).clamp(1, 1024);
        if (0.9..=1.1).contains(&ratio) || next == mib {
            break;
        }
        mib = next;
        buf = vec![1u8; mib * MIB];
    }
    if index == 0 {
        eprintln!(
            "limitcheck stress kernel: reads of {mib} MiB ({:.1} ms of CPU at the last timed one)",
            took.as_secs_f64() * 1e3
        );
    }
    loop {
        if let Err(e) = f.read_exact(&mut buf) {
            return fail("read", e);
        }
        counters.add(index, 1);
    }
}

/// Page size for touching memory.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// A VM worker: maps `bytes` of anonymous memory and writes every byte of every page (with a
/// pattern that changes each pass); then, like stress-ng's default, unmaps and starts again, or
/// with `keep` holds the mapping and writes it again. `hang` sleeps between passes. Counts
/// pages written.
pub fn vm(
    index: usize,
    counters: &SharedCounters,
    bytes: usize,
    keep: bool,
    hang: Duration,
) -> i32 {
    let page = page_size();
    let mut held: Option<*mut u8> = None;
    let mut pattern = index as u8;
    loop {
        let p = match held {
            Some(p) => p,
            None => {
                // SAFETY: a fresh private anonymous mapping.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        bytes,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    // Out of address space or overcommit refused: wait and retry, as stress-ng.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                p.cast::<u8>()
            }
        };
        pattern = pattern.wrapping_add(1);
        let mut done = 0u64;
        let mut off = 0;
        while off < bytes {
            let n = page.min(bytes - off);
            // SAFETY: [off, off + n) lies inside the mapping of `bytes` bytes.
            unsafe { std::ptr::write_bytes(p.add(off), pattern, n) };
            off += n;
            done += 1;
            if done == 256 {
                counters.add(index, done);
                done = 0;
            }
        }
        counters.add(index, done);
        if keep {
            held = Some(p);
        } else {
            // SAFETY: unmapping what this pass mapped.
            unsafe { libc::munmap(p.cast(), bytes) };
        }
        if !hang.is_zero() {
            std::thread::sleep(hang);
        }
    }
}

/// Counter slots of the fork stressor.
pub mod fork_slots {
    /// Processes alive now (a gauge).
    pub const ALIVE: usize = 0;
    /// Forks refused (EAGAIN: `pids.max` or `RLIMIT_NPROC`).
    pub const FAILED: usize = 1;
    /// Forks that succeeded.
    pub const FORKED: usize = 2;
}

/// A fork worker: keeps `processes` children alive (each sleeping), forking again as they die,
/// and counts refused forks. The children die with it (`PR_SET_PDEATHSIG`) and with its process
/// group.
pub fn fork(counters: &SharedCounters, processes: usize) -> i32 {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut alive = 0usize;
    loop {
        while let Ok(s) = waitpid(nix::unistd::Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            if matches!(s, WaitStatus::StillAlive) {
                break;
            }
            alive = alive.saturating_sub(1);
        }
        while alive < processes {
            // SAFETY: the worker is single-threaded; the child only sleeps.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {
                    // SAFETY: prctl and pause with no memory involved.
                    unsafe {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                        loop {
                            libc::pause();
                        }
                    }
                }
                Ok(nix::unistd::ForkResult::Parent { .. }) => {
                    alive += 1;
                    counters.add(fork_slots::FORKED, 1);
                }
                Err(_) => {
                    counters.add(fork_slots::FAILED, 1);
                    break;
                }
            }
        }
        counters.set(fork_slots::ALIVE, alive as u64);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A burst worker: `threads` threads that each run for `run`, then sleep for `sleep`, in a
/// fixed rhythm (the pattern of the CFS bandwidth slice-expiry bug, Kubernetes issue 67577),
/// counting the bogo-ops each completed.
pub fn burst(counters: Arc<SharedCounters>, threads: usize, run: Duration, sleep: Duration) -> i32 {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let c = Arc::clone(&counters);
            std::thread::spawn(move || {
                let mut state = (t as u64 + 1, 1.0);
                let mut period = Instant::now();
                loop {
                    while period.elapsed() < run {
                        cpu_bogo_op(&mut state);
                        c.add(t, 1);
                    }
                    period += run + sleep;
                    let now = Instant::now();
                    while period + run + sleep <= now {
                        period += run + sleep;
                    }
                    sleep_until(period);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    0
}

/// The CPUs this process may run on (its affinity: a container's cpuset), in order.
pub fn allowed_cpus() -> Vec<usize> {
    use nix::sched::{sched_getaffinity, CpuSet};
    match sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Pins the calling thread to CPU `cpu`.
fn pin_to(cpu: usize) -> nix::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
}

/// A slow fibtest thread's work between sleeps: 100 steps of the LCG (fibtest: 100 Fibonacci
/// steps), well under a microsecond: what such a thread costs is its wake-up, not its work.
#[inline(never)]
fn slow_step(x: &mut u64) {
    for _ in 0..100 {
        *x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    *x = black_box(*x);
}

/// fibtest's pattern (Dave Chiluk's test for the CFS bandwidth bug that commit de53fd7aedb1
/// fixed): `threads` threads, thread k pinned to the k-th of `cpus` (round robin); the first
/// `fast` compute without a pause (bogo-ops), the others are slow: 100 steps (counted as one),
/// then a sleep of `sleep` (fibtest: a hundred Fibonacci steps and 10 ms). Each slow thread wakes on a CPU of its own,
/// so every CPU's run queue of the cgroup asks the quota pool for a slice of its own, which it
/// barely uses: a kernel that lets those slices expire, or strands them, takes the quota from
/// the fast thread while the cgroup uses far less than its quota. Counts bogo-ops per thread.
/// A thread that cannot be pinned prints why and ends the worker (exit 1): the pattern would
/// not be the one asked for.
pub fn fibtest(
    counters: Arc<SharedCounters>,
    cpus: &[usize],
    fast: usize,
    threads: usize,
    sleep: Duration,
) -> i32 {
    if cpus.is_empty() {
        eprintln!("limitcheck stress fibtest: this process may run on no CPU (sched_getaffinity)");
        return 1;
    }
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let c = Arc::clone(&counters);
            let cpu = cpus[t % cpus.len()];
            std::thread::spawn(move || {
                if let Err(e) = pin_to(cpu) {
                    eprintln!("limitcheck stress fibtest: cannot pin thread {t} to CPU {cpu}: {e}");
                    std::process::exit(1);
                }
                let mut state = (t as u64 + 1, 1.0);
                if t < fast {
                    loop {
                        cpu_bogo_op(&mut state);
                        c.add(t, 1);
                    }
                }
                loop {
                    slow_step(&mut state.0);
                    c.add(t, 1);
                    std::thread::sleep(sleep);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    0
}

/// The unit of the io stressor: each read or write moves one MiB, aligned for O_DIRECT.
pub const IO_CHUNK: usize = 1 << 20;

/// A buffer of [`IO_CHUNK`] bytes aligned to 4096, as O_DIRECT wants.
struct Aligned(*mut u8);

impl Aligned {
    fn layout() -> std::alloc::Layout {
        std::alloc::Layout::from_size_align(IO_CHUNK, 4096).expect("a valid layout")
    }
    fn new(fill: u8) -> Aligned {
        // SAFETY: a non-zero size; checked for null below.
        let p = unsafe { std::alloc::alloc(Self::layout()) };
        if p.is_null() {
            std::alloc::handle_alloc_error(Self::layout());
        }
        // SAFETY: p holds IO_CHUNK bytes.
        unsafe { std::ptr::write_bytes(p, fill, IO_CHUNK) };
        Aligned(p)
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in new with this layout.
        unsafe { std::alloc::dealloc(self.0, Self::layout()) };
    }
}

/// An io worker: owns the file `path` of `bytes` (a whole number of MiB) and moves it one
/// MiB at a time, pass after pass: writes it (`read` false), or writes it once uncounted and
/// then reads it (`read` true); through the page cache, or with `direct` around it (O_DIRECT,
/// so each chunk is a bio the block layer sees at once: what io.max and blkio throttle without
/// writeback in between). `hang` sleeps between passes. Counts MiB moved. On an error it
/// prints it and exits 1.
pub fn io(
    index: usize,
    counters: &SharedCounters,
    path: &std::path::Path,
    bytes: u64,
    (read, direct): (bool, bool),
    hang: Duration,
) -> i32 {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let fail = |what: &str, e: std::io::Error| -> i32 {
        eprintln!("limitcheck stress io: {what} {}: {e}", path.display());
        1
    };
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).mode(0o600);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    let f = match o.open(path) {
        Ok(f) => f,
        Err(e) => return fail("cannot open", e),
    };
    let buf = Aligned::new(index as u8);
    // SAFETY: buf holds IO_CHUNK bytes for as long as it lives.
    let chunk = unsafe { std::slice::from_raw_parts_mut(buf.0, IO_CHUNK) };
    let chunks = bytes / IO_CHUNK as u64;
    if read {
        for c in 0..chunks {
            if let Err(e) = f.write_all_at(chunk, c * IO_CHUNK as u64) {
                return fail("cannot write", e);
            }
        }
    }
    let mut pattern = index as u8;
    loop {
        pattern = pattern.wrapping_add(1);
        for c in 0..chunks {
            let off = c * IO_CHUNK as u64;
            let r = if read {
                f.read_exact_at(chunk, off)
            } else {
                // One byte per page changes each pass, so every write dirties its pages.
                for p in (0..IO_CHUNK).step_by(4096) {
                    chunk[p] = pattern;
                }
                f.write_all_at(chunk, off)
            };
            if let Err(e) = r {
                return fail(if read { "cannot read" } else { "cannot write" }, e);
            }
            counters.add(index, 1);
        }
        if !hang.is_zero() {
            std::thread::sleep(hang);
        }
    }
}
