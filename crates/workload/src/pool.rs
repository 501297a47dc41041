//! The parent of a stressor: forks the workers, respawns those the OOM killer took, rewrites a
//! live counters file, stops everything on timeout or SIGTERM/SIGINT, and reaps every process.
//!
//! Signals are blocked and taken with `sigtimedwait`, so no SIGCHLD or SIGTERM can slip between
//! two checks. Each worker leads its own process group (the fork stressor's children are killed
//! with it) and dies with its parent (`PR_SET_PDEATHSIG`); the parent is a child subreaper and
//! reaps every descendant before it reports, so nothing outlives a stressor.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::error::{Result, WorkloadError};

/// How to run the workers.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// How many worker processes.
    pub workers: usize,
    /// Stop after this long; `None` runs until a signal.
    pub timeout: Option<Duration>,
    /// Fork a worker again when SIGKILL (the OOM killer) ended it, as stress-ng does.
    pub respawn_killed: bool,
    /// The workers' `oom_score_adj` (1000 makes them the OOM killer's first choice, not the
    /// parent).
    pub oom_score_adj: Option<i32>,
    /// A file rewritten every `tick` with the live counters, for a sampler to read.
    pub counters_file: Option<PathBuf>,
    /// How often the counters file is rewritten.
    pub tick: Duration,
}

/// Why the pool stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The timeout passed.
    Timeout,
    /// SIGTERM or SIGINT.
    Signal(Signal),
    /// Every worker finished on its own.
    Done,
}

/// What the pool observed.
#[derive(Debug, Clone)]
pub struct PoolOutcome {
    /// Wall time from the first fork to the last reap.
    pub wall: Duration,
    /// Workers forked again after a SIGKILL.
    pub respawns: u64,
    /// CPU time of all reaped workers (user, system).
    pub cpu: (Duration, Duration),
    /// Why it stopped.
    pub stop: Stop,
}

fn reset_worker_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: resetting a disposition has no preconditions.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
    let _ = SigSet::empty().thread_set_mask();
}

fn spawn(index: usize, opts: &PoolOptions, worker: &dyn Fn(usize) -> i32) -> Result<Pid> {
    let parent = Pid::this();
    // SAFETY: stressors are run from a single-threaded parent (the limitcheck stress command);
    // the child runs the worker and leaves with _exit.
    match unsafe { fork() } {
        Err(errno) => Err(WorkloadError::Sys {
            op: format!("fork worker {index}"),
            errno,
        }),
        Ok(ForkResult::Child) => {
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            if nix::unistd::getppid() != parent {
                // SAFETY: leaving the child at once.
                unsafe { libc::_exit(0) };
            }
            reset_worker_signals();
            if let Some(adj) = opts.oom_score_adj {
                let _ = std::fs::write("/proc/self/oom_score_adj", adj.to_string());
            }
            let code = worker(index);
            // SAFETY: a worker never returns into the parent's code.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => Ok(child),
    }
}

fn sigtimedwait(set: &SigSet, timeout: Duration) -> Option<Signal> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: valid set and timespec pointers; no siginfo wanted.
    let r = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts) };
    if r > 0 {
        Signal::try_from(r).ok()
    } else {
        None
    }
}

fn children_cpu() -> (Duration, Duration) {
    let r = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN);
    match r {
        Ok(u) => {
            let d = |tv: nix::sys::time::TimeVal| {
                Duration::from_secs(tv.tv_sec() as u64) + Duration::from_micros(tv.tv_usec() as u64)
            };
            (d(u.user_time()), d(u.system_time()))
        }
        Err(_) => (Duration::ZERO, Duration::ZERO),
    }
}

/// Runs `worker(index)` in `opts.workers` forked processes until the timeout, a signal, or
/// all of them exit 0. `on_tick(elapsed, respawns)` is called every tick (the counters file is
/// written with its result). A worker that exits non-zero, or dies of a signal other than a respawned SIGKILL,
/// stops the pool with an error.
pub fn run(
    opts: &PoolOptions,
    worker: &dyn Fn(usize) -> i32,
    on_tick: &dyn Fn(Duration, u64) -> limitcheck_record::Counters,
) -> Result<PoolOutcome> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGCHLD, Signal::SIGINT, Signal::SIGTERM] {
        set.add(s);
    }
    let old = set
        .thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .map_err(|errno| WorkloadError::Sys {
            op: "block signals".into(),
            errno,
        })?;
    // Orphans (a fork worker's children) come back to us, so that we can reap them all before
    // we report: nothing of a stressor outlives it.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut pids: Vec<Option<Pid>> = vec![None; opts.workers];
    let mut respawns = 0;
    let mut live = opts
        .counters_file
        .as_deref()
        .map(LiveFile::create)
        .transpose()?;
    let result = (|| -> Result<Stop> {
        for (i, slot) in pids.iter_mut().enumerate() {
            *slot = Some(spawn(i, opts, worker)?);
        }
        // The first counters once every worker is forked: a reader waiting for them (the
        // runner, before it starts the next container and the clock) knows the workers exist.
        if let Some(f) = &mut live {
            f.write(&on_tick(start.elapsed(), 0))?;
        }
        let deadline = opts.timeout.map(|t| start + t);
        // The next write a tick after the first, not at once again.
        let mut next_tick = Instant::now() + opts.tick;
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(Stop::Timeout);
            }
            if now >= next_tick {
                if let Some(f) = &mut live {
                    f.write(&on_tick(now - start, respawns))?;
                }
                next_tick = now + opts.tick;
            }
            let mut wait = next_tick.saturating_duration_since(now);
            if let Some(d) = deadline {
                wait = wait.min(d.saturating_duration_since(now));
            }
            match sigtimedwait(&set, wait) {
                Some(Signal::SIGCHLD) | None => {}
                Some(sig) => return Ok(Stop::Signal(sig)),
            }
            // Reap whatever ended, and respawn what the OOM killer took.
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                    Ok(status) => {
                        let Some(pid) = status.pid() else { break };
                        let Some(i) = pids.iter().position(|p| *p == Some(pid)) else {
                            continue;
                        };
                        pids[i] = None;
                        match status {
                            WaitStatus::Signaled(_, Signal::SIGKILL, _) if opts.respawn_killed => {
                                respawns += 1;
                                pids[i] = Some(spawn(i, opts, worker)?);
                            }
                            WaitStatus::Exited(_, 0) => {}
                            other => {
                                return Err(WorkloadError::Worker {
                                    index: i,
                                    reason: format!("{other:?}"),
                                })
                            }
                        }
                    }
                    Err(Errno::EINTR) => continue,
                    Err(errno) => {
                        return Err(WorkloadError::Sys {
                            op: "wait for workers".into(),
                            errno,
                        })
                    }
                }
            }
            if pids.iter().all(Option::is_none) {
                return Ok(Stop::Done);
            }
        }
    })();
    // Stop and reap everything, whatever happened above.
    for pid in pids.iter().flatten() {
        let _ = kill(Pid::from_raw(-pid.as_raw()), Signal::SIGKILL);
        let _ = kill(*pid, Signal::SIGKILL);
    }
    // Reap every descendant, workers and orphans alike.
    while let Ok(_) | Err(Errno::EINTR) = waitpid(Pid::from_raw(-1), None) {}
    let _ = old.thread_set_mask();
    let stop = result?;
    let after = children_cpu();
    Ok(PoolOutcome {
        wall: start.elapsed(),
        respawns,
        cpu: (
            after.0.saturating_sub(cpu_before.0),
            after.1.saturating_sub(cpu_before.1),
        ),
        stop,
    })
}

/// The live counters file: written in place, never truncated or renamed, so that after its
/// first write (made before any worker starts) rewriting it allocates nothing. A rename or a
/// truncation would put a new page on the workload's memory cgroup at every tick; with the
/// workload at its limit that charge makes the parent itself a reclaim and OOM candidate.
/// The format (a check against half-done writes) is [`limitcheck_record::Counters::to_live`].
struct LiveFile {
    path: PathBuf,
    file: std::fs::File,
    seq: u64,
    width: usize,
}

impl LiveFile {
    /// One page: the file's size, whatever the record's length (it varies with the numbers).
    const WIDTH: usize = 4096;

    fn create(path: &std::path::Path) -> Result<LiveFile> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)
            .map_err(|source| WorkloadError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(LiveFile {
            path: path.to_path_buf(),
            file,
            seq: 0,
            width: Self::WIDTH,
        })
    }

    fn write(&mut self, c: &limitcheck_record::Counters) -> Result<()> {
        use std::os::unix::fs::FileExt;
        self.seq += 1;
        let text = c.to_live(self.seq, self.width);
        self.width = self.width.max(text.len());
        self.file
            .write_all_at(&text, 0)
            .map_err(|source| WorkloadError::Io {
                path: self.path.display().to_string(),
                source,
            })
    }
}
