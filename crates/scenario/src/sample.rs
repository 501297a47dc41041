//! The sampler: reads each container's cgroup (and the workload's live counters) from the host
//! every interval, on CLOCK_MONOTONIC, recording how late each sample was.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use limitcheck_cgroup::Cgroup;

use crate::host::HostSample;
pub use limitcheck_record::Sample;

/// What the sampler watches for one container.
pub struct Target {
    /// The container's cgroup (opened, not owned).
    pub cgroup: Cgroup,
    /// The workload's live counters file, seen from the host (`/proc/<pid>/root/...`).
    pub counters: Option<std::path::PathBuf>,
}

/// Reads one sample of a target.
pub fn read(target: &Target, container: usize, t: f64, jitter_ms: f64) -> Sample {
    let mut s = read_cpu(target, container, t, jitter_ms);
    if let Ok(st) = target.cgroup.stats() {
        if let Some(m) = st.memory {
            s.memory = Some(m.usage);
            s.working_set = Some(m.working_set);
            s.file = Some(m.file);
            s.swap = m.swap;
            s.peak = m.peak;
            s.oom_kills = m.oom_kill;
            s.failcnt = m.failcnt.or(m.events_max);
        }
        s.pids = st.pids.map(|p| p.current);
        if let Some(io) = st.io {
            s.io_read_bytes = Some(io.read_bytes);
            s.io_write_bytes = Some(io.write_bytes);
        }
        if let Some(p) = st.pressure {
            s.cpu_pressure_us = p.cpu.map(|x| x.some.total_us);
            s.memory_pressure_us = p.memory.map(|x| x.some.total_us);
        }
    }
    let counters = target
        .counters
        .as_ref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|b| limitcheck_record::Counters::from_live(&b));
    if let Some(c) = counters {
        s.bogo_ops = Some(c.bogo_ops);
        s.respawns = Some(c.respawns);
        s.failed_forks = c.failed_forks;
    }
    s
}

/// Reads a fast sample of a target: its CPU figures alone (usage, per CPU on v1,
/// throttling), what sub-period behaviour needs at 1 kHz; the rest stays empty.
pub fn read_cpu(target: &Target, container: usize, t: f64, jitter_ms: f64) -> Sample {
    let mut s = Sample {
        t,
        container,
        jitter_ms,
        ..Default::default()
    };
    if let Ok(Some(c)) = target.cgroup.cpu_stats() {
        s.cpu_ns = Some(c.usage_ns);
        s.per_cpu_ns = c.per_cpu_ns;
        if let Some(th) = c.throttling {
            s.nr_periods = Some(th.nr_periods);
            s.nr_throttled = Some(th.nr_throttled);
            s.throttled_ns = Some(th.throttled_ns);
        }
    }
    s
}

/// The sampling interval below which not every round is a full one: a full round (the host,
/// and every statistic of each target) costs about 60 µs here, a fast one (CPU figures
/// alone) a few; below this interval full rounds are taken every [`FULL_EVERY`] and fast ones
/// between them.
pub const FAST_BELOW: Duration = Duration::from_millis(5);

/// How often a full round is taken when the interval is below [`FAST_BELOW`].
pub const FULL_EVERY: Duration = Duration::from_millis(10);

/// Every how many rounds a full one is taken at `interval`: each, at 5 ms and above; below
/// it, one every 10 ms.
pub fn full_every(interval: Duration) -> u32 {
    if interval >= FAST_BELOW || interval.is_zero() {
        1
    } else {
        (FULL_EVERY.as_nanos() as f64 / interval.as_nanos() as f64).ceil() as u32
    }
}

/// Where each round of samples goes as it is taken, besides memory: the run's journal, and
/// the first error writing it (the runner stops the scenario on it).
pub struct Sink {
    /// The journal.
    pub journal: limitcheck_record::Journal,
    /// The first write error, once there is one (nothing more is written).
    pub error: Arc<std::sync::Mutex<Option<String>>>,
}

impl Sink {
    fn append(&mut self, host: Option<&HostSample>, samples: &[Sample]) {
        let Ok(mut err) = self.error.lock() else {
            return;
        };
        if err.is_none() {
            if let Err(e) = self.journal.append(host, samples) {
                *err = Some(format!("cannot write the samples as they are taken: {e}"));
            }
        }
    }
}

/// Samples every target, and the host, every `interval` from `t0` until `stop` is set, each
/// round appended to `sink` as it is taken; returns the samples, and keeps the last two of
/// each container in `latest`.
pub fn run(
    targets: Vec<Target>,
    t0: Instant,
    interval: Duration,
    stop: Arc<AtomicBool>,
    latest: Latest,
    mut sink: Sink,
) -> (Vec<Sample>, Vec<HostSample>) {
    // Files stay open between samples: a quarter of the cost of opening them each time.
    limitcheck_cgroup::fs::with_open_files(|| {
        sample_loop(&targets, t0, interval, &stop, &latest, &mut sink)
    })
}

/// The last two samples of each container, for a live display.
pub type Latest = Arc<std::sync::Mutex<Vec<[Option<Sample>; 2]>>>;

fn sample_loop(
    targets: &[Target],
    t0: Instant,
    interval: Duration,
    stop: &AtomicBool,
    latest: &Latest,
    sink: &mut Sink,
) -> (Vec<Sample>, Vec<HostSample>) {
    let mut out = Vec::new();
    let mut host = Vec::new();
    let mut k: u32 = 0;
    let every = full_every(interval);
    while !stop.load(Ordering::Relaxed) {
        let due = t0 + interval * k;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let at = Instant::now();
        let jitter = at.saturating_duration_since(due).as_secs_f64() * 1e3;
        let t = at.duration_since(t0).as_secs_f64();
        // The host first, then the containers, under the same time stamp; in a fast round
        // the containers' CPU figures alone.
        let full = k % every == 0;
        if full {
            host.push(crate::host::read(t));
        }
        for (i, target) in targets.iter().enumerate() {
            if !full {
                out.push(read_cpu(target, i, t, jitter));
                continue;
            }
            let s = read(target, i, t, jitter);
            if let Ok(mut l) = latest.lock() {
                if let Some(pair) = l.get_mut(i) {
                    pair[0] = pair[1].take();
                    pair[1] = Some(s.clone());
                }
            }
            out.push(s);
        }
        sink.append(
            full.then(|| host.last().expect("just pushed")),
            &out[out.len() - targets.len()..],
        );
        k += 1;
        // Fell behind by more than a sample: skip the missed ones rather than bunch up.
        let now = Instant::now();
        while t0 + interval * k < now {
            k += 1;
        }
    }
    (out, host)
}
