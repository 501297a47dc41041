//! The sampler: reads each container's cgroup (and the workload's live counters) from the host
//! every interval, on CLOCK_MONOTONIC, recording how late each sample was.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use limitcheck_cgroup::Cgroup;

use crate::host::HostSample;
use serde::Serialize;

/// One reading of one container.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    /// Seconds since the containers started.
    pub t: f64,
    /// Container index.
    pub container: usize,
    /// How late the sample was against its schedule, ms.
    pub jitter_ms: f64,
    /// CPU time, ns.
    pub cpu_ns: Option<u64>,
    /// CPU time per CPU, ns (v1).
    pub per_cpu_ns: Option<Vec<u64>>,
    /// CFS periods.
    pub nr_periods: Option<u64>,
    /// Throttled periods.
    pub nr_throttled: Option<u64>,
    /// Throttled time, ns.
    pub throttled_ns: Option<u64>,
    /// Memory usage, bytes.
    pub memory: Option<u64>,
    /// Working set, bytes.
    pub working_set: Option<u64>,
    /// The kernel's peak, bytes.
    pub peak: Option<u64>,
    /// OOM kills so far.
    pub oom_kills: Option<u64>,
    /// Limit hits so far (v1 failcnt, v2 events max).
    pub failcnt: Option<u64>,
    /// Tasks.
    pub pids: Option<u64>,
    /// The workload's bogo-ops so far.
    pub bogo_ops: Option<u64>,
    /// The workload's respawns so far.
    pub respawns: Option<u64>,
    /// The workload's refused forks so far.
    pub failed_forks: Option<u64>,
    /// The cgroup's CPU pressure, `some` total, µs (v2, or the v2 companion on hybrid hosts).
    pub cpu_pressure_us: Option<u64>,
    /// The cgroup's memory pressure, `some` total, µs.
    pub memory_pressure_us: Option<u64>,
}

/// What the sampler watches for one container.
pub struct Target {
    /// The container's cgroup (opened, not owned).
    pub cgroup: Cgroup,
    /// The workload's live counters file, seen from the host (`/proc/<pid>/root/...`).
    pub counters: Option<std::path::PathBuf>,
}

/// Reads one sample of a target.
pub fn read(target: &Target, container: usize, t: f64, jitter_ms: f64) -> Sample {
    let mut s = Sample {
        t,
        container,
        jitter_ms,
        ..Default::default()
    };
    if let Ok(st) = target.cgroup.stats() {
        if let Some(c) = st.cpu {
            s.cpu_ns = Some(c.usage_ns);
            s.per_cpu_ns = c.per_cpu_ns;
            if let Some(th) = c.throttling {
                s.nr_periods = Some(th.nr_periods);
                s.nr_throttled = Some(th.nr_throttled);
                s.throttled_ns = Some(th.throttled_ns);
            }
        }
        if let Some(m) = st.memory {
            s.memory = Some(m.usage);
            s.working_set = Some(m.working_set);
            s.peak = m.peak;
            s.oom_kills = m.oom_kill;
            s.failcnt = m.failcnt.or(m.events_max);
        }
        s.pids = st.pids.map(|p| p.current);
        if let Some(p) = st.pressure {
            s.cpu_pressure_us = p.cpu.map(|x| x.some.total_us);
            s.memory_pressure_us = p.memory.map(|x| x.some.total_us);
        }
    }
    let counters = target
        .counters
        .as_ref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    if let Some(v) = counters {
        s.bogo_ops = v["bogo_ops"].as_u64();
        s.respawns = v["respawns"].as_u64();
        s.failed_forks = v["failed_forks"].as_u64();
    }
    s
}

/// Samples every target, and the host, every `interval` from `t0` until `stop` is set; returns
/// the samples, and keeps the last two of each container in `latest`.
pub fn run(
    targets: Vec<Target>,
    t0: Instant,
    interval: Duration,
    stop: Arc<AtomicBool>,
    latest: Latest,
) -> (Vec<Sample>, Vec<HostSample>) {
    // Files stay open between samples: a quarter of the cost of opening them each time.
    limitcheck_cgroup::fs::with_open_files(|| sample_loop(&targets, t0, interval, &stop, &latest))
}

/// The last two samples of each container, for a live display.
pub type Latest = Arc<std::sync::Mutex<Vec<[Option<Sample>; 2]>>>;

fn sample_loop(
    targets: &[Target],
    t0: Instant,
    interval: Duration,
    stop: &AtomicBool,
    latest: &Latest,
) -> (Vec<Sample>, Vec<HostSample>) {
    let mut out = Vec::new();
    let mut host = Vec::new();
    let mut k: u32 = 0;
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
        // The host first, then the containers, under the same time stamp.
        host.push(crate::host::read(t));
        for (i, target) in targets.iter().enumerate() {
            let s = read(target, i, t, jitter);
            if let Ok(mut l) = latest.lock() {
                if let Some(pair) = l.get_mut(i) {
                    pair[0] = pair[1].take();
                    pair[1] = Some(s.clone());
                }
            }
            out.push(s);
        }
        k += 1;
        // Fell behind by more than a sample: skip the missed ones rather than bunch up.
        let now = Instant::now();
        while t0 + interval * k < now {
            k += 1;
        }
    }
    (out, host)
}

/// Reads samples.csv back (as [`crate::runner::write_outputs`] writes it): each row's scenario
/// and sample, with the container's index found in `containers(scenario)`.
pub fn read_csv(
    path: &std::path::Path,
    containers: &dyn Fn(&str) -> Vec<String>,
) -> Result<Vec<(String, Sample)>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(&e))?;
    let head = r.headers().map_err(|e| bad(&e))?.clone();
    let col = |name: &str| head.iter().position(|h| h == name);
    let ncpu = (0..)
        .take_while(|i| col(&format!("cpu{i}_ns")).is_some())
        .count();
    let mut out = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(&e))?;
        let at = |name: &str| col(name).and_then(|i| rec.get(i)).unwrap_or("");
        let num = |name: &str| -> Result<Option<u64>, String> {
            let v = at(name);
            if v.is_empty() {
                return Ok(None);
            }
            v.parse()
                .map(Some)
                .map_err(|_| bad(&format!("line {}: {name} = {v:?} is not a number", n + 2)))
        };
        let real = |name: &str| -> Result<f64, String> {
            at(name)
                .parse()
                .map_err(|_| bad(&format!("line {}: {name} = {:?}", n + 2, at(name))))
        };
        let scenario = at("scenario").to_string();
        let container = containers(&scenario)
            .iter()
            .position(|c| c == at("container"))
            .ok_or_else(|| {
                bad(&format!(
                    "line {}: no container {:?}",
                    n + 2,
                    at("container")
                ))
            })?;
        let per_cpu: Vec<u64> = (0..ncpu)
            .map(|i| num(&format!("cpu{i}_ns")))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        out.push((
            scenario,
            Sample {
                t: real("t_s")?,
                container,
                jitter_ms: real("jitter_ms")?,
                cpu_ns: num("cpu_ns")?,
                per_cpu_ns: (!per_cpu.is_empty()).then_some(per_cpu),
                nr_periods: num("nr_periods")?,
                nr_throttled: num("nr_throttled")?,
                throttled_ns: num("throttled_ns")?,
                memory: num("memory_bytes")?,
                working_set: num("working_set_bytes")?,
                peak: num("peak_bytes")?,
                oom_kills: num("oom_kills")?,
                failcnt: num("failcnt")?,
                pids: num("pids")?,
                bogo_ops: num("bogo_ops")?,
                respawns: num("respawns")?,
                failed_forks: num("failed_forks")?,
                cpu_pressure_us: num("cpu_pressure_us")?,
                memory_pressure_us: num("memory_pressure_us")?,
            },
        ));
    }
    Ok(out)
}
