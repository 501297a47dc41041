//! The stall witness: one thread pinned to each online CPU at real-time priority
//! (`SCHED_FIFO` 1), waking every [`PERIOD`]. A real-time thread preempts every ordinary task
//! the moment its timer fires, so when one wakes [`LATE`] or more behind, its CPU ran nothing
//! at all for that long: the machine stalled it (a vCPU the hypervisor stopped — QEMU's TCG
//! threads on a busy host, an overcommitted cloud VM without steal time). Running again, the
//! kernel charges the whole gap to whatever ran there, so a container under a 1 ms quota can
//! be charged 67 ms in one 100 ms window while its vCPU was stopped; the verdicts use what the
//! witness saw to tell that from a quota the kernel did not hold.
//!
//! The witness costs one wake-up per CPU every 5 ms: a thread that sleeps to each millisecond
//! costs 1.5-3% of a core on this VM type (README, "Speed"), so 0.3-0.6% at 5 ms; the same
//! loop in Python, an upper bound, measured 0.78% of a CPU here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use limitcheck_record::MachineStall;

/// How often each witness thread wakes.
pub const PERIOD: Duration = Duration::from_millis(5);

/// How late a wake-up must be to be a stall: on this machine (a 2-vCPU VM) with a busy loop
/// on each CPU, 4,000 wake-ups a CPU over 20 s came 0.02 ms late at the median and 0.12 ms at
/// worst; the stalls that spoiled CPU verdicts in the TCG guests were 40-125 ms, and the
/// witness there sees 15-90 ms ones every few hundred ms.
pub const LATE: Duration = Duration::from_millis(10);

/// The running witness threads.
pub struct Witness {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<Vec<Raw>, String>>>,
}

/// A stall as a witness thread saw it: its CPU, its last wake-up before, its first after.
type Raw = (u32, Instant, Instant);

/// What the witness saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The stalls, in order of their start.
    pub stalls: Vec<MachineStall>,
    /// Why (some of) the CPUs had no witness, if they had none: then a stall there went unseen.
    pub unavailable: Option<String>,
}

impl Witness {
    /// Starts a witness on every online CPU.
    pub fn start() -> Witness {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = online_cpus()
            .into_iter()
            .map(|cpu| {
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name(format!("witness-{cpu}"))
                    .spawn(move || watch(cpu, &stop))
            })
            .filter_map(Result::ok)
            .collect();
        Witness { stop, threads }
    }

    /// Stops the threads, and returns what they saw, in seconds from `t0` (negative: before).
    pub fn finish(mut self, t0: Instant) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let secs = |i: Instant| {
            if i >= t0 {
                i.duration_since(t0).as_secs_f64()
            } else {
                -t0.duration_since(i).as_secs_f64()
            }
        };
        let mut seen = Seen::default();
        let mut errors = Vec::new();
        for t in std::mem::take(&mut self.threads) {
            match t.join() {
                Ok(Ok(s)) => {
                    seen.stalls
                        .extend(s.into_iter().map(|(cpu, from, to)| MachineStall {
                            cpu,
                            from: secs(from),
                            to: secs(to),
                        }))
                }
                Ok(Err(e)) => errors.push(e),
                Err(_) => errors.push("a witness thread panicked".into()),
            }
        }
        seen.stalls.sort_by(|a, b| a.from.total_cmp(&b.from));
        if !errors.is_empty() {
            errors.dedup();
            seen.unavailable = Some(errors.join("; "));
        }
        seen
    }
}

impl Drop for Witness {
    /// A witness not finished (the scenario stopped early) ends its threads all the same.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The online CPUs (from `/sys/devices/system/cpu/online`; CPU 0 alone if it cannot be read).
fn online_cpus() -> Vec<u32> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| limitcheck_cgroup::parse::parse_cpu_list(&s).ok())
        .map(|l| l.ids().to_vec())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![0])
}

/// One CPU's witness: pins itself, takes SCHED_FIFO 1, and wakes every [`PERIOD`] until
/// `stop`, noting each wake-up [`LATE`] or more behind.
fn watch(cpu: u32, stop: &AtomicBool) -> Result<Vec<Raw>, String> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu as usize)
        .map_err(|e| format!("CPU {cpu}: {e}"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("cannot pin a thread to CPU {cpu}: {e}"))?;
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: sched_setscheduler on the calling thread (0) with a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        return Err(format!(
            "cannot run at real-time priority (SCHED_FIFO): {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut out = Vec::new();
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let due = last + PERIOD;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        if now.saturating_duration_since(due) >= LATE {
            // Nothing ran here between the last wake-up and this one at the worst.
            out.push((cpu, last, now));
        }
        last = now;
    }
    Ok(out)
}
