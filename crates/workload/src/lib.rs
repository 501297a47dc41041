//! limitcheck's built-in workloads: load whose behaviour is known exactly, run from the
//! limitcheck binary itself inside a container, and reporting what it did.
//!
//! The stressors follow stress-ng's where it has them: `cpu` (N workers burning CPU, with an
//! optional duty cycle), `vm` (N workers writing anonymous memory, respawned when the OOM
//! killer takes them), plus `fork` (hold N processes, count refused forks, for `pids.max`) and
//! `burst` (threads that run and sleep in a fixed rhythm, for CFS bandwidth behaviour) and
//! `kernel` (CPU time spent in one long system call after another: reads of /dev/zero),
//! `fibtest` (Dave Chiluk's pattern: a fast thread and slow threads pinned one per CPU, for
//! quota stranded on many CPUs), `io` (files written or read a MiB at a time, through the page cache or with O_DIRECT, for
//! memory limits on page cache and for io.max / blkio throttles).
//!
//! ```no_run
//! use std::time::Duration;
//! use limitcheck_workload::{run, Options, Stressor};
//! let report = run(
//!     &Stressor::Vm { workers: 2, bytes: 256 << 20, keep: false, hang: Duration::ZERO, leave: None },
//!     &Options { timeout: Some(Duration::from_secs(10)), ..Default::default() },
//! )?;
//! println!("{} pages written, {} respawns", report.bogo_ops, report.respawns);
//! # Ok::<(), limitcheck_workload::WorkloadError>(())
//! ```
//!
//! Sizes are per worker (the seed's "256M each"), unlike stress-ng's `--vm-bytes`, which is a
//! total shared by the workers.

#![deny(missing_docs)]

mod error;
pub mod pool;
mod shared;
pub mod stressors;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use error::{Result, WorkloadError};
pub use shared::SharedCounters;

/// A stressor and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "stressor", rename_all = "lowercase")]
pub enum Stressor {
    /// `workers` processes burning CPU; `load` percent of each 100 ms wall-clock slice.
    Cpu {
        /// Worker processes.
        workers: usize,
        /// Duty cycle, 1..=100 percent; `None` is 100.
        load: Option<u8>,
    },
    /// `workers` processes each writing `bytes` of anonymous memory, pass after pass.
    Vm {
        /// Worker processes.
        workers: usize,
        /// Bytes per worker.
        bytes: u64,
        /// Hold the mapping and rewrite it instead of unmapping after each pass.
        keep: bool,
        /// Sleep between passes.
        #[serde(serialize_with = "seconds")]
        hang: Duration,
        /// Leave this much of the machine's memory available: each worker writes
        /// (MemAvailable at its start − `leave`) / workers, at most `bytes` (global memory
        /// pressure sized to the machine, for what only whole-machine reclaim shows).
        #[serde(skip_serializing_if = "Option::is_none")]
        leave: Option<u64>,
    },
    /// One worker holding `processes` live children.
    Fork {
        /// Children to keep alive.
        processes: usize,
    },
    /// One worker with `threads` threads running `run` then sleeping `sleep`.
    Burst {
        /// Threads.
        threads: usize,
        /// Busy time per period.
        #[serde(serialize_with = "seconds")]
        run: Duration,
        /// Sleep per period.
        #[serde(serialize_with = "seconds")]
        sleep: Duration,
    },
    /// `workers` processes burning CPU in the kernel: each bogo-op is one read(2) from
    /// /dev/zero (the kernel clears the buffer) sized to take `call` of CPU time.
    Kernel {
        /// Worker processes.
        workers: usize,
        /// CPU time per read(2), the size found by timing reads of 1 MiB at the start.
        #[serde(serialize_with = "seconds")]
        call: Duration,
    },
    /// fibtest's pattern: one worker whose `fast` threads compute without a pause and whose
    /// other threads each do one bogo-op and sleep `sleep`; thread k pinned to the k-th CPU the
    /// process may run on.
    Fibtest {
        /// Threads that never sleep (fibtest's `-f`, 1 by default).
        fast: usize,
        /// Threads in all (fibtest's `-t`); `None`: one per CPU the process may run on.
        #[serde(skip_serializing_if = "Option::is_none")]
        threads: Option<usize>,
        /// A slow thread's sleep after each bogo-op (fibtest: 10 ms).
        #[serde(serialize_with = "seconds")]
        sleep: Duration,
    },
    /// `workers` processes each moving a file of `bytes` in `dir`, one MiB at a time.
    Io {
        /// Worker processes.
        workers: usize,
        /// The size of each worker's file: a whole number of MiB.
        bytes: u64,
        /// Read the file pass after pass (written once first) instead of writing it.
        read: bool,
        /// O_DIRECT: around the page cache.
        direct: bool,
        /// Sleep between passes (a file written once and left cold: `hang` longer than the
        /// run).
        #[serde(serialize_with = "seconds")]
        hang: Duration,
        /// Where the files go (a container's disk-backed `/var/tmp` by default).
        dir: PathBuf,
    },
}

/// Where `limitcheck stress io` writes unless told: in a container of limitcheck's, a
/// directory on the disk of the host (or of the VM guest), not a tmpfs.
pub const IO_DIR: &str = "/var/tmp";

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// How long to run and where to publish live counters.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stop after this long; `None` runs until SIGTERM or SIGINT.
    pub timeout: Option<Duration>,
    /// A JSON file rewritten every 100 ms with the live counters.
    pub counters_file: Option<PathBuf>,
}

/// The final record of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The stressor and its parameters.
    #[serde(flatten)]
    pub stressor: Stressor,
    /// What one bogo-op is.
    pub unit: &'static str,
    /// Total bogo-ops.
    pub bogo_ops: u64,
    /// Bogo-ops per second of wall time.
    pub ops_per_s: f64,
    /// Bogo-ops per worker (per thread for `burst` and `fibtest`).
    pub per_worker: Vec<u64>,
    /// Workers forked again after the OOM killer (SIGKILL) ended them.
    pub respawns: u64,
    /// Forks refused (the `fork` stressor).
    pub failed_forks: Option<u64>,
    /// Processes alive at the end (the `fork` stressor).
    pub alive: Option<u64>,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// User CPU time of the workers, seconds.
    pub cpu_user_s: f64,
    /// System CPU time of the workers, seconds.
    pub cpu_system_s: f64,
    /// `timeout`, `SIGTERM`, `SIGINT` or `done`.
    pub stopped_by: String,
}

/// Limits beyond which a parameter is surely a mistake.
pub const MAX_WORKERS: usize = 4096;

fn arg(option: &'static str, reason: impl Into<String>) -> WorkloadError {
    WorkloadError::Arg {
        option,
        reason: reason.into(),
    }
}

fn host_memory() -> Option<u64> {
    use procfs::Current;
    let m = procfs::Meminfo::current().ok()?;
    Some(m.mem_total + m.swap_total)
}

impl Stressor {
    /// Refuses parameters that cannot mean what was intended, saying why.
    pub fn validate(&self) -> Result<()> {
        let workers = |n: usize, opt| {
            if n == 0 || n > MAX_WORKERS {
                Err(arg(opt, format!("{n} is outside 1..={MAX_WORKERS}")))
            } else {
                Ok(())
            }
        };
        match self {
            Stressor::Cpu { workers: n, load } => {
                workers(*n, "--workers")?;
                if let Some(l) = load {
                    if *l == 0 || *l > 100 {
                        return Err(arg("--load", format!("{l} is outside 1..=100 percent")));
                    }
                }
            }
            Stressor::Vm {
                workers: n,
                bytes,
                leave,
                ..
            } => {
                workers(*n, "--workers")?;
                let page = stressors::page_size() as u64;
                if *bytes < page {
                    return Err(arg(
                        "--bytes",
                        format!("{bytes} bytes is less than a page ({page}); give e.g. 256m"),
                    ));
                }
                if let Some(total) = host_memory().filter(|_| leave.is_none()) {
                    if *bytes > total {
                        return Err(arg(
                            "--bytes",
                            format!(
                                "{} MiB per worker is more than this host's memory and swap ({} MiB); the size is per worker",
                                bytes >> 20,
                                total >> 20
                            ),
                        ));
                    }
                }
            }
            Stressor::Fork { processes } => {
                if *processes == 0 || *processes > 1 << 20 {
                    return Err(arg(
                        "--processes",
                        format!("{processes} is outside 1..=1048576"),
                    ));
                }
            }
            Stressor::Io {
                workers: n,
                bytes,
                dir,
                ..
            } => {
                workers(*n, "--workers")?;
                let mib = stressors::IO_CHUNK as u64;
                if *bytes < mib || bytes % mib != 0 {
                    return Err(arg(
                        "--bytes",
                        format!(
                            "{bytes} bytes is not a whole number of MiB (the io stressor \
                             moves one MiB at a time); give e.g. 256m"
                        ),
                    ));
                }
                if !dir.is_absolute() {
                    return Err(arg(
                        "--dir",
                        format!("{} is not an absolute path", dir.display()),
                    ));
                }
            }
            Stressor::Kernel { workers: n, call } => {
                workers(*n, "--workers")?;
                if call.is_zero() || *call > Duration::from_secs(1) {
                    return Err(arg(
                        "--call",
                        format!(
                            "{} ms of CPU per read is outside (0, 1000]; give e.g. 20ms",
                            call.as_millis()
                        ),
                    ));
                }
            }
            Stressor::Fibtest {
                fast,
                threads,
                sleep,
            } => {
                workers(*fast, "--fast")?;
                if let Some(t) = threads {
                    workers(*t, "--threads")?;
                    if t < fast {
                        return Err(arg(
                            "--threads",
                            format!("{t} threads in all is fewer than the {fast} fast ones"),
                        ));
                    }
                }
                if sleep.is_zero() {
                    return Err(arg(
                        "--sleep",
                        "a slow thread needs a sleep above zero, e.g. 10ms (fibtest's)",
                    ));
                }
            }
            Stressor::Burst { threads, run, .. } => {
                workers(*threads, "--threads")?;
                if run.is_zero() {
                    return Err(arg(
                        "--run",
                        "a burst needs a run time above zero, e.g. 5ms",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The arguments of `limitcheck stress` that run this stressor (`cpu --workers 2 --load
    /// 50`): what a container's command line is made of, so that a scenario's workload and the
    /// stressor it runs are checked by one [`Stressor::validate`].
    pub fn args(&self) -> Vec<String> {
        let us = |d: &Duration| format!("{}us", d.as_micros());
        let mut a: Vec<String> = Vec::new();
        let mut flag = |k: &str, v: String| {
            a.push(format!("--{k}"));
            a.push(v);
        };
        let kind = match self {
            Stressor::Cpu { workers, load } => {
                flag("workers", workers.to_string());
                if let Some(l) = load {
                    flag("load", l.to_string());
                }
                "cpu"
            }
            Stressor::Vm {
                workers,
                bytes,
                keep,
                hang,
                leave,
            } => {
                flag("workers", workers.to_string());
                flag("bytes", bytes.to_string());
                if let Some(l) = leave {
                    flag("leave", l.to_string());
                }
                if !hang.is_zero() {
                    flag("hang", us(hang));
                }
                if *keep {
                    a.push("--keep".into());
                }
                "vm"
            }
            Stressor::Fork { processes } => {
                flag("processes", processes.to_string());
                "fork"
            }
            Stressor::Burst {
                threads,
                run,
                sleep,
            } => {
                flag("threads", threads.to_string());
                flag("run", us(run));
                flag("sleep", us(sleep));
                "burst"
            }
            Stressor::Kernel { workers, call } => {
                flag("workers", workers.to_string());
                flag("call", us(call));
                "kernel"
            }
            Stressor::Fibtest {
                fast,
                threads,
                sleep,
            } => {
                flag("fast", fast.to_string());
                if let Some(t) = threads {
                    flag("threads", t.to_string());
                }
                flag("sleep", us(sleep));
                "fibtest"
            }
            Stressor::Io {
                workers,
                bytes,
                read,
                direct,
                hang,
                dir,
            } => {
                flag("workers", workers.to_string());
                flag("bytes", bytes.to_string());
                if !hang.is_zero() {
                    flag("hang", us(hang));
                }
                if dir.as_os_str() != IO_DIR {
                    flag("dir", dir.display().to_string());
                }
                if *read {
                    a.push("--read".into());
                }
                if *direct {
                    a.push("--direct".into());
                }
                "io"
            }
        };
        a.insert(0, kind.to_string());
        a
    }

    fn unit(&self) -> &'static str {
        match self {
            Stressor::Cpu { .. } | Stressor::Burst { .. } => {
                "4096 steps of 64-bit LCG and floating-point arithmetic"
            }
            Stressor::Fibtest { .. } => {
                "4096 steps of 64-bit LCG and floating-point arithmetic (a slow thread counts \
                 one per wake-up: 100 LCG steps)"
            }
            Stressor::Kernel { .. } => "one read(2) from /dev/zero of --call's CPU time",
            Stressor::Vm { .. } => "one page written",
            Stressor::Fork { .. } => "one successful fork",
            Stressor::Io { read: false, .. } => "one MiB written",
            Stressor::Io { read: true, .. } => "one MiB read",
        }
    }

    fn slots(&self) -> usize {
        match self {
            Stressor::Cpu { workers, .. }
            | Stressor::Kernel { workers, .. }
            | Stressor::Vm { workers, .. }
            | Stressor::Io { workers, .. } => *workers,
            Stressor::Fork { .. } => 3,
            Stressor::Burst { threads, .. } => *threads,
            Stressor::Fibtest { threads, .. } => {
                threads.unwrap_or_else(|| stressors::allowed_cpus().len().max(1))
            }
        }
    }

    fn processes(&self) -> usize {
        match self {
            Stressor::Cpu { workers, .. }
            | Stressor::Kernel { workers, .. }
            | Stressor::Vm { workers, .. }
            | Stressor::Io { workers, .. } => *workers,
            Stressor::Fork { .. } | Stressor::Burst { .. } | Stressor::Fibtest { .. } => 1,
        }
    }
}

fn summary(s: &Stressor, c: &SharedCounters) -> (u64, Vec<u64>, Option<u64>, Option<u64>) {
    match s {
        Stressor::Fork { .. } => {
            let forked = c.get(stressors::fork_slots::FORKED);
            (
                forked,
                vec![forked],
                Some(c.get(stressors::fork_slots::FAILED)),
                Some(c.get(stressors::fork_slots::ALIVE)),
            )
        }
        _ => {
            let per: Vec<u64> = (0..c.len()).map(|i| c.get(i)).collect();
            (per.iter().sum(), per, None, None)
        }
    }
}

/// A file of the io stressor, removed when dropped (the workers are gone by then).
struct IoFile(PathBuf);

impl Drop for IoFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// ramfs's statfs type (linux/magic.h), which libc does not name.
const RAMFS_MAGIC: libc::__fsword_t = 0x8584_58f6;

/// Whether a filesystem of this statfs type keeps its files in memory (tmpfs, ramfs): no
/// disk's page cache under it, so no place for the io stressor.
pub fn in_memory_fs(t: nix::sys::statfs::FsType) -> bool {
    t == nix::sys::statfs::TMPFS_MAGIC || t == nix::sys::statfs::FsType(RAMFS_MAGIC)
}

/// The io stressor's files, one per worker, in its directory: checked writable and not on a
/// tmpfs first, where page cache could not be told from memory the workload holds.
fn io_files(s: &Stressor) -> Result<Vec<IoFile>> {
    let Stressor::Io { workers, dir, .. } = s else {
        return Ok(Vec::new());
    };
    let fs = nix::sys::statfs::statfs(dir).map_err(|errno| WorkloadError::Sys {
        op: format!("--dir {}: statfs", dir.display()),
        errno,
    })?;
    if in_memory_fs(fs.filesystem_type()) {
        return Err(arg(
            "--dir",
            format!(
                "{} is on a tmpfs or ramfs: its pages are memory, not a disk's page cache; \
                 give a directory on a disk",
                dir.display()
            ),
        ));
    }
    Ok((0..*workers)
        .map(|i| IoFile(dir.join(format!("limitcheck-io-{}-{i}", std::process::id()))))
        .collect())
}

/// A vm worker's size under `leave`: its share of what is available beyond `leave` now
/// (MemAvailable, which counts page cache the kernel can reclaim), at most `bytes`, at least
/// a page.
fn vm_share(bytes: u64, leave: u64, workers: usize) -> u64 {
    use procfs::Current;
    let available = procfs::Meminfo::current()
        .ok()
        .and_then(|m| m.mem_available)
        .unwrap_or(0);
    let share = available.saturating_sub(leave) / workers.max(1) as u64;
    share.min(bytes).max(stressors::page_size() as u64)
}

/// Runs a stressor until the timeout or SIGTERM/SIGINT and returns its final record. Must be
/// called from a single-threaded process (it forks workers that run Rust code).
pub fn run(s: &Stressor, o: &Options) -> Result<Report> {
    s.validate()?;
    let files = io_files(s)?;
    let counters = Arc::new(SharedCounters::new(s.slots())?);
    let opts = pool::PoolOptions {
        workers: s.processes(),
        timeout: o.timeout,
        respawn_killed: matches!(s, Stressor::Vm { .. }),
        oom_score_adj: matches!(s, Stressor::Vm { .. }).then_some(1000),
        counters_file: o.counters_file.clone(),
        tick: Duration::from_millis(100),
    };
    let worker = |i: usize| -> i32 {
        match s {
            Stressor::Cpu { load, .. } => stressors::cpu(i, &counters, *load),
            Stressor::Kernel { call, .. } => stressors::kernel(i, &counters, *call),
            Stressor::Vm {
                workers,
                bytes,
                keep,
                hang,
                leave,
            } => {
                let size = match leave {
                    Some(l) => vm_share(*bytes, *l, *workers),
                    None => *bytes,
                };
                stressors::vm(i, &counters, size as usize, *keep, *hang)
            }
            Stressor::Fork { processes } => stressors::fork(&counters, *processes),
            Stressor::Burst {
                threads,
                run,
                sleep,
            } => stressors::burst(Arc::clone(&counters), *threads, *run, *sleep),
            Stressor::Fibtest { fast, sleep, .. } => stressors::fibtest(
                Arc::clone(&counters),
                &stressors::allowed_cpus(),
                *fast,
                counters.len(),
                *sleep,
            ),
            Stressor::Io {
                bytes,
                read,
                direct,
                hang,
                ..
            } => stressors::io(i, &counters, &files[i].0, *bytes, (*read, *direct), *hang),
        }
    };
    let live = |elapsed: Duration, respawns: u64| {
        let (bogo_ops, per_worker, failed_forks, alive) = summary(s, &counters);
        limitcheck_record::Counters {
            elapsed_s: elapsed.as_secs_f64(),
            bogo_ops,
            per_worker,
            respawns,
            failed_forks,
            alive,
        }
    };
    let out = pool::run(&opts, &worker, &live);
    drop(files);
    let out = out?;
    let (bogo_ops, per_worker, failed_forks, alive) = summary(s, &counters);
    let wall_s = out.wall.as_secs_f64();
    Ok(Report {
        stressor: s.clone(),
        unit: s.unit(),
        bogo_ops,
        ops_per_s: if wall_s > 0.0 {
            bogo_ops as f64 / wall_s
        } else {
            0.0
        },
        per_worker,
        respawns: out.respawns,
        failed_forks,
        alive,
        wall_s,
        cpu_user_s: out.cpu.0.as_secs_f64(),
        cpu_system_s: out.cpu.1.as_secs_f64(),
        stopped_by: match out.stop {
            pool::Stop::Timeout => "timeout".into(),
            pool::Stop::Done => "done".into(),
            pool::Stop::Signal(sig) => sig.as_str().into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `leave`'s share: what is available beyond it, split between the workers, capped by
    /// `bytes`, never less than a page.
    #[test]
    fn a_vm_share_leaves_what_it_is_told() {
        use procfs::Current;
        let available = procfs::Meminfo::current().unwrap().mem_available.unwrap();
        let page = stressors::page_size() as u64;
        let one = vm_share(u64::MAX, 0, 1);
        // MemAvailable moves with the rest of the host between the two reads: within 5%.
        assert!(
            one.abs_diff(available) < available / 20,
            "{one} vs {available}"
        );
        let two = vm_share(u64::MAX, 0, 2);
        assert!(
            two.abs_diff(available / 2) < available / 20,
            "{two} vs {available}"
        );
        assert_eq!(vm_share(1 << 20, 0, 1), 1 << 20);
        assert_eq!(vm_share(1 << 30, u64::MAX, 1), page);
    }
}
