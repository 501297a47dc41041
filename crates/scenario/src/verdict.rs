//! Judging expectations on recorded samples: pure functions, so that recorded samples can be
//! replayed into them (the report path's deterministic mode).
//!
//! # Fail or inconclusive
//!
//! A ceiling (`max`, the upper side of `approx`) is judged on the measurement alone: contention
//! cannot raise usage. A shortfall below `min` or the lower side of `approx` is a **fail** only
//! when the host's counters show the limit, not the host, held the container back; when they
//! show the container was starved by load that is not limitcheck's, it is **inconclusive**,
//! with the figures. For CPU usage, with `d` the shortfall in CPUs, on the container's CPUs
//! (its cpuset, else all) over the window ([`crate::host::load`]):
//!
//! 1. the container got its CPU quota (measured >= 95% of quota/period) — the limit held it:
//!    **fail**;
//! 2. it was throttled in >= 80% of its periods yet used under 80% of its quota — a throttle in
//!    a period means the quota ran out in it, so only the kernel losing runtime (the CFS
//!    slice-expiry pattern) gives both: **fail**;
//! 3. its tasks waited for a CPU (its cgroup's PSI `some`) half the window or more while the
//!    idle CPU time in the sample intervals in which it was not throttled is >= `d` — CPUs
//!    were free and it did not get them: **fail** (without PSI, on idle time alone). A
//!    container that sleeps by design (a duty cycle) leaves its CPUs idle while it sleeps,
//!    which is why waiting is asked for; one held at its quota leaves them idle while it is
//!    throttled, which is why only unthrottled intervals count (under bursty foreign load a
//!    container can be throttled in some periods and starved in others);
//! 4. its tasks hardly waited (PSI `some` under 5% and under `d` / its CPUs: lacking `d` CPU,
//!    some task of it must have waited at least that share of the time) — nothing starved
//!    them: **fail**;
//! 5. idle + foreign load >= `d` — what was missing went to other processes: **inconclusive**;
//! 6. otherwise limitcheck's own containers took it (the scenario's contention is its subject):
//!    **fail**.
//!
//! The cgroup's CPU pressure counts throttled time too (measured here: 100% for a hog held at
//! its quota), so it shows that the container wanted CPU, not who held it back; the rules
//! above say who.
//!
//! Other metrics below their bound (throttling, memory, workload progress) are inconclusive
//! when foreign load shared the container's CPUs (>= 10% of them) and its tasks felt it (its
//! CPU pressure at 5% or more, where known) — idle time is no evidence either way for them: a
//! workload that sleeps by design leaves its CPUs idle — and memory ones also under host
//! memory pressure (PSI `some` >= 10%) or when the host's MemAvailable fell below the
//! shortfall.

use crate::host::HostSample;
use crate::model::{Expect, Metric, Scenario, Tolerance};
use crate::sample::Sample;
use limitcheck_record::MachineStall;

pub use limitcheck_record::{Context, ExpectResult, Verdict};

fn at_or_before(samples: &[&Sample], t: f64) -> Option<usize> {
    samples.iter().rposition(|s| s.t <= t + 1e-9)
}

/// Why a metric could not be measured over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unmeasured {
    /// The host does not report the metric (a skip).
    #[error("this host does not report it")]
    NotReported,
    /// Per-CPU usage on a host without it (a skip).
    #[error("per-CPU usage exists only on cgroup v1 (cpuacct.usage_percpu)")]
    PerCpuV1Only,
    /// Too few samples for a counter's difference (an error).
    #[error("fewer than two samples in the window")]
    TooFewSamples,
    /// No sample at all in the window (an error).
    #[error("no sample in the window")]
    NoSample,
}

impl Unmeasured {
    /// Skip for what the host lacks, error for what the run lacks.
    pub fn verdict(self) -> Verdict {
        match self {
            Unmeasured::NotReported | Unmeasured::PerCpuV1Only => Verdict::Skip,
            Unmeasured::TooFewSamples | Unmeasured::NoSample => Verdict::Error,
        }
    }
}

/// The metric over `[a, b]` from one container's samples (in time order), or why not.
pub fn measure(metric: Metric, samples: &[&Sample], a: f64, b: f64) -> Result<f64, Unmeasured> {
    let inside: Vec<&Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.t >= a - 1e-9 && s.t <= b + 1e-9)
        .collect();
    // Counters are read as differences between the sample at (or just before) each end.
    let ia = at_or_before(samples, a).or(if inside.is_empty() {
        None
    } else {
        samples.iter().position(|s| s.t >= a)
    });
    let ib = at_or_before(samples, b);
    let ends = match (ia, ib) {
        (Some(x), Some(y)) if y > x => Some((x, y)),
        _ => None,
    };
    // A counter is read at the first sample from the start, and the last to the end, that has
    // it (a workload's counters file appears a moment after the container starts).
    let delta = |f: &dyn Fn(&Sample) -> Option<u64>| -> Result<(f64, f64), Unmeasured> {
        let (x, y) = ends.ok_or(Unmeasured::TooFewSamples)?;
        let first = (x..=y).find_map(|i| f(samples[i]).map(|v| (v, samples[i].t)));
        let last = (x..=y)
            .rev()
            .find_map(|i| f(samples[i]).map(|v| (v, samples[i].t)));
        match (first, last) {
            (Some((v0, t0)), Some((v1, t1))) if t1 > t0 => {
                Ok((v1.saturating_sub(v0) as f64, t1 - t0))
            }
            (Some(_), Some(_)) => Err(Unmeasured::TooFewSamples),
            _ => Err(Unmeasured::NotReported),
        }
    };
    let values = |f: &dyn Fn(&Sample) -> Option<u64>| -> Result<Vec<f64>, Unmeasured> {
        let v: Vec<f64> = inside
            .iter()
            .filter_map(|s| f(s))
            .map(|x| x as f64)
            .collect();
        if v.is_empty() {
            Err(if inside.is_empty() {
                Unmeasured::NoSample
            } else {
                Unmeasured::NotReported
            })
        } else {
            Ok(v)
        }
    };
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let maxv = |v: Vec<f64>| v.into_iter().fold(f64::MIN, f64::max);
    match metric {
        Metric::CpuUsage => delta(&|s| s.cpu_ns).map(|(d, dt)| d / 1e9 / dt),
        Metric::CpuUsageOn(n) => delta(&|s| {
            s.per_cpu_ns
                .as_ref()
                .and_then(|v| v.get(n as usize).copied())
        })
        .map(|(d, dt)| d / 1e9 / dt)
        .map_err(|e| match e {
            Unmeasured::NotReported => Unmeasured::PerCpuV1Only,
            e => e,
        }),
        Metric::CpuUsagePeak(ms) => peak_rate(&inside, f64::from(ms) / 1e3),
        Metric::CpuThrottled => {
            let (p, _) = delta(&|s| s.nr_periods)?;
            let (t, _) = delta(&|s| s.nr_throttled)?;
            Ok(if p > 0.0 { t / p } else { 0.0 })
        }
        Metric::CpuThrottledTime => delta(&|s| s.throttled_ns).map(|(d, dt)| d / 1e9 / dt),
        Metric::MemoryUsage => values(&|s| s.memory).map(mean),
        Metric::MemoryUsageMax => values(&|s| s.memory).map(maxv),
        Metric::MemoryWorkingSet => values(&|s| s.working_set).map(mean),
        Metric::MemoryFile => values(&|s| s.file).map(mean),
        Metric::MemoryFileMin => {
            values(&|s| s.file).map(|v| v.into_iter().fold(f64::MAX, f64::min))
        }
        Metric::MemorySwap => values(&|s| s.swap).map(mean),
        Metric::MemorySwapMax => values(&|s| s.swap).map(maxv),
        Metric::IoReadBps => delta(&|s| s.io_read_bytes).map(|(d, dt)| d / dt),
        Metric::IoWriteBps => delta(&|s| s.io_write_bytes).map(|(d, dt)| d / dt),
        // The last full sample by the end has it (a fast one reads CPU figures alone).
        Metric::MemoryPeak => {
            match ib.and_then(|i| samples[..=i].iter().rev().find_map(|s| s.peak)) {
                Some(p) => Ok(p as f64),
                None => values(&|s| s.memory).map(maxv),
            }
        }
        Metric::MemoryOomKills => delta(&|s| s.oom_kills).map(|(d, _)| d),
        Metric::MemoryFailcnt => delta(&|s| s.failcnt).map(|(d, _)| d),
        Metric::PidsCurrent => values(&|s| s.pids).map(mean),
        Metric::PidsMaxSeen => values(&|s| s.pids).map(maxv),
        Metric::WorkloadRespawns => delta(&|s| s.respawns).map(|(d, _)| d),
        Metric::WorkloadFailedForks => delta(&|s| s.failed_forks).map(|(d, _)| d),
        Metric::WorkloadOpsPerS => delta(&|s| s.bogo_ops).map(|(d, dt)| d / dt),
    }
}

/// The most CPUs used over any span of `w` seconds between samples in `inside`: for each
/// sample, the rate since the latest sample at least `w` before it (so a span is `w` plus up
/// to one interval, which the model keeps under a tenth of `w`).
fn peak_rate(inside: &[&Sample], w: f64) -> Result<f64, Unmeasured> {
    let with: Vec<(f64, u64)> = inside
        .iter()
        .filter_map(|s| Some((s.t, s.cpu_ns?)))
        .collect();
    if with.is_empty() {
        return Err(if inside.is_empty() {
            Unmeasured::NoSample
        } else {
            Unmeasured::NotReported
        });
    }
    let mut best: Option<f64> = None;
    let mut i = 0;
    for j in 0..with.len() {
        while i + 1 < j && with[i + 1].0 <= with[j].0 - w + 1e-9 {
            i += 1;
        }
        let (t0, c0) = with[i];
        let (t1, c1) = with[j];
        if t1 - t0 >= w - 1e-9 {
            let r = c1.saturating_sub(c0) as f64 / 1e9 / (t1 - t0);
            best = Some(best.map_or(r, |b: f64| b.max(r)));
        }
    }
    best.ok_or(Unmeasured::TooFewSamples)
}

/// Whether `m` meets the expectation's bounds; the reason in words either way.
pub fn within(e: &Expect, m: f64) -> (bool, String) {
    let show = |v: f64| {
        if e.metric.is_bytes() {
            format!("{:.1} MiB", v / 1048576.0)
        } else if e.metric.is_byte_rate() {
            format!("{:.2} MiB/s", v / 1048576.0)
        } else {
            format!("{v:.3}")
        }
    };
    if let Some((v, tol)) = e.approx {
        let band = match tol {
            Tolerance::Relative(r) => r * v.abs(),
            Tolerance::Absolute(a) => a,
        };
        if (m - v).abs() > band {
            return (
                false,
                format!(
                    "measured {} is outside {} ± {}",
                    show(m),
                    show(v),
                    show(band)
                ),
            );
        }
    }
    if let Some(min) = e.min {
        if m < min {
            return (
                false,
                format!("measured {} is below the minimum {}", show(m), show(min)),
            );
        }
    }
    if let Some(max) = e.max {
        if m > max {
            return (
                false,
                format!("measured {} is above the maximum {}", show(m), show(max)),
            );
        }
    }
    (true, format!("measured {}", show(m)))
}

/// How long after `a` the metric, over a trailing sub-window of `w` seconds, first came within
/// tolerance of `approx`.
pub fn settle_time(e: &Expect, samples: &[&Sample], a: f64, b: f64, w: f64) -> Option<f64> {
    let (v, _) = e.approx?;
    let _ = v;
    samples
        .iter()
        .filter(|s| s.t >= a + w && s.t <= b)
        .find(|s| measure(e.metric, samples, s.t - w, s.t).is_ok_and(|m| within(e, m).0))
        .map(|s| s.t - w - a)
        .map(|t| t.max(0.0))
}

/// What `only` asks of the host a run was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// The cgroup version limits are written through.
    pub version: limitcheck_cgroup::Version,
    /// Whether the CPUs are emulated ([`crate::host::emulated`]).
    pub emulated: bool,
    /// The kernel's tick, ns ([`crate::host::tick_ns`]; 0: unknown).
    pub tick_ns: u64,
}

/// The longest tick `only = "native"` allows: 4 ms, HZ=250 (Debian's; 1000 elsewhere).
pub const NATIVE_TICK_NS: u64 = 4_000_000;

impl Platform {
    /// This host, writing limits through `version`.
    pub fn here(version: limitcheck_cgroup::Version) -> Self {
        Platform {
            version,
            emulated: crate::host::emulated(),
            tick_ns: crate::host::tick_ns(),
        }
    }

    /// The host a recorded run was on (its summary's host facts).
    pub fn of(host: &limitcheck_record::HostInfo) -> Self {
        Platform {
            version: if host.cgroup_mode == "v2" {
                limitcheck_cgroup::Version::V2
            } else {
                limitcheck_cgroup::Version::V1
            },
            emulated: host.emulated,
            tick_ns: host.tick_ns,
        }
    }

    /// Why something marked `only` does not apply here, in words.
    pub fn mismatch(&self, only: crate::model::Only) -> String {
        use crate::model::Only;
        match only {
            Only::V1 | Only::V2 => {
                format!("{only}; this host writes limits through {:?}", self.version)
            }
            Only::Native if !self.emulated => format!(
                "{only}; this kernel's tick is {}",
                match self.tick_ns {
                    0 => "unknown".to_string(),
                    t => format!("{} ms (HZ={})", t as f64 / 1e6, 1_000_000_000 / t),
                }
            ),
            Only::Native | Only::Emulated => format!(
                "{only}; this host's CPUs are {}",
                if self.emulated {
                    "emulated (QEMU's TCG)"
                } else {
                    "not emulated"
                }
            ),
        }
    }
}

/// Whether something marked `only` applies on `platform`.
pub fn applies(only: Option<crate::model::Only>, platform: Platform) -> bool {
    use crate::model::Only;
    use limitcheck_cgroup::Version;
    match only {
        None => true,
        Some(Only::V1) => platform.version == Version::V1,
        Some(Only::V2) => platform.version == Version::V2,
        Some(Only::Native) => {
            !platform.emulated && platform.tick_ns > 0 && platform.tick_ns <= NATIVE_TICK_NS
        }
        Some(Only::Emulated) => platform.emulated,
    }
}

/// Everything a run recorded that the verdicts are judged on.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    /// The containers' samples.
    pub samples: &'a [Sample],
    /// The host's samples (empty: none were taken; shortfalls are then judged as failures).
    pub host: &'a [HostSample],
    /// The limits read back at the start and after each step.
    pub limits: &'a [crate::runner::LimitPoint],
    /// The steps as done.
    pub steps: &'a [crate::runner::StepResult],
    /// The container that died early, if one did: then nothing is judged.
    pub died: Option<&'a limitcheck_record::Death>,
    /// The times the machine stalled a CPU, as the witness saw them.
    pub stalls: &'a [MachineStall],
    /// The containers whose workload was still starting when the clock started.
    pub unstarted: &'a [String],
}

/// How far an engine's own figure may be from the kernel's before it is a finding: docker
/// computes CPU % between two of its own readings a second apart (so a reading lags), and its
/// memory leaves out inactive page cache; 5% (at least 0.05 CPU, 8 MiB, one task) is what the
/// figures of the seed scenarios under docker 20.10 and podman 4.3 stay within here.
pub const ENGINE_AGREEMENT: f64 = 0.05;

/// Sets each expectation's [`EngineView`](limitcheck_record::EngineView): the engine's own
/// figure (`docker stats`) for the same container over the same window, and whether it agrees
/// with the kernel's measurement — for `cpu.usage`, `memory.usage(.max)` and
/// `pids.current(.max)`, the figures `docker stats` shows. A reading covers the second or so
/// before it, so only readings 1.5 s or more into the window count. For a `.max` the
/// engine's sparse readings can only fall short of the kernel's peak: it disagrees only by
/// reading more. The verdicts are not
/// touched: the kernel's counters judge the limit; the engine's disagreeing is a finding.
pub fn beside_engine(
    expectations: &mut [ExpectResult],
    samples: &[limitcheck_record::EngineSample],
    source: &str,
) {
    type Pick = fn(&limitcheck_record::EngineSample) -> Option<f64>;
    for e in expectations.iter_mut() {
        let Some(m) = e.measured else { continue };
        let (pick, floor): (Pick, f64) = match e.metric.as_str() {
            "cpu.usage" => (|s| s.cpus, 0.05),
            "memory.usage" | "memory.usage.max" => {
                (|s| s.memory_bytes.map(|b| b as f64), 8.0 * 1048576.0)
            }
            "pids.current" | "pids.current.max" => (|s| s.pids.map(|p| p as f64), 1.0),
            _ => continue,
        };
        // A container's first reading covers no known span (podman's said 1.31-1.54 CPU of a
        // 1-CPU hog here, in four runs): the figures start at its second. (A CI run's only
        // reading in a window, 0.36 beside the kernel's 0.99, is thought to have been a
        // first one that came 2.5 s late: its stream's times were not kept.)
        let v: Vec<f64> = samples
            .iter()
            .filter(|s| s.container == e.container)
            .skip(1)
            .filter(|s| s.t >= e.window[0] + 1.5 && s.t <= e.window[1])
            .filter_map(pick)
            .collect();
        if v.is_empty() {
            continue;
        }
        let value = if e.metric.ends_with(".max") {
            v.iter().copied().fold(f64::MIN, f64::max)
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        };
        let slack = floor.max(ENGINE_AGREEMENT * m.abs());
        // The highest of the engine's readings, a second apart, misses the peaks of a usage
        // that swings (OOM kills freeing a worker: 147 MB beside the kernel's 256 MiB here);
        // it can only disagree by seeing more than the kernel's 10 Hz samples did.
        let agrees = if e.metric.ends_with(".max") {
            value <= m + slack
        } else {
            (value - m).abs() <= slack
        };
        e.engine = Some(limitcheck_record::EngineView {
            source: source.to_string(),
            value,
            readings: v.len(),
            agrees,
        });
    }
}

/// The verdicts of one scenario.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Every expectation, judged.
    pub expectations: Vec<ExpectResult>,
    /// The scenario's verdict: fail over error over inconclusive over pass; skip when every
    /// expectation was skipped.
    pub verdict: Verdict,
    /// Why, for anything but a pass.
    pub reason: String,
}

/// How a measurement misses its bounds.
enum Miss {
    /// Above a ceiling: judged on the measurement alone.
    Above,
    /// Below the lower bound by this much.
    Below(f64),
}

fn miss(e: &Expect, m: f64) -> Option<Miss> {
    let mut low: Option<f64> = e.min;
    let mut high: Option<f64> = e.max;
    if let Some((v, tol)) = e.approx {
        let band = match tol {
            Tolerance::Relative(r) => r * v.abs(),
            Tolerance::Absolute(a) => a,
        };
        low = Some(low.map_or(v - band, |l| l.max(v - band)));
        high = Some(high.map_or(v + band, |h| h.min(v + band)));
    }
    match (low, high) {
        (_, Some(h)) if m > h => Some(Miss::Above),
        (Some(l), _) if m < l => Some(Miss::Below(l - m)),
        _ => None,
    }
}

/// A unit's CPUs: its own cpuset, else the nearest group's above it (empty: all).
fn cpuset_of(s: &Scenario, unit: usize) -> Vec<u32> {
    std::iter::once(unit)
        .chain(s.ancestors(unit))
        .find_map(|u| {
            s.unit_limits(u).iter().find_map(|l| match l {
                limitcheck_cgroup::Limit::CpusetCpus(list) => Some(list.ids().to_vec()),
                _ => None,
            })
        })
        .unwrap_or_default()
}

/// The least CPU quota in effect for a unit during `[a, b]`, in CPUs: its own, or a group's
/// above it (a container in a group gets no more than the group's quota).
fn quota_in(
    s: &Scenario,
    limits: &[crate::runner::LimitPoint],
    unit: usize,
    a: f64,
    b: f64,
) -> Option<f64> {
    std::iter::once(unit)
        .chain(s.ancestors(unit))
        .filter_map(|u| {
            let mine: Vec<&crate::runner::LimitPoint> = limits
                .iter()
                .filter(|l| l.container == s.unit_name(u))
                .collect();
            let before = mine.iter().rev().find(|l| l.t <= a + 1e-9);
            before
                .into_iter()
                .chain(mine.iter().filter(|l| l.t > a + 1e-9 && l.t <= b))
                .filter_map(|l| l.cpus)
                .reduce(f64::min)
        })
        .reduce(f64::min)
}

fn context(
    s: &Scenario,
    e: &Expect,
    rec: &Recording,
    rows: &[&Sample],
    a: f64,
    b: f64,
) -> Option<Context> {
    let cpusets: Vec<Vec<u32>> = (0..s.containers.len()).map(|c| cpuset_of(s, c)).collect();
    let on = match e.metric {
        Metric::CpuUsageOn(n) => vec![n],
        _ => cpuset_of(s, e.container),
    };
    let mut host = crate::host::load(rec.host, rec.samples, &cpusets, &on, a, b)?;
    let quota_cpus = quota_in(s, rec.limits, e.container, a, b);
    host.idle_unthrottled_cpus = idle_unthrottled(rec.host, rows, &host.cpus, a, b);
    let pressure = |f: &dyn Fn(&Sample) -> Option<u64>| -> Option<f64> {
        let first = rows.iter().find(|x| x.t >= a - 1e-9 && f(x).is_some())?;
        let last = rows
            .iter()
            .rev()
            .find(|x| x.t <= b + 1e-9 && f(x).is_some())?;
        (last.t > first.t).then(|| {
            (f(last)?.saturating_sub(f(first)?) as f64 / 1e6 / (last.t - first.t))
                .min(1.0)
                .into()
        })?
    };
    Some(Context {
        host,
        usage_cpus: measure(Metric::CpuUsage, rows, a, b).ok(),
        quota_cpus,
        throttled: quota_cpus.and_then(|_| measure(Metric::CpuThrottled, rows, a, b).ok()),
        container_cpu_pressure: pressure(&|x| x.cpu_pressure_us),
        container_memory_pressure: pressure(&|x| x.memory_pressure_us),
    })
}

/// Idle time on `cpus` summed over the container's sample intervals inside `[a, b]` in which
/// its throttled-period count did not grow, per second of the window. The host's and the
/// container's samples of one tick share their time stamp.
fn idle_unthrottled(
    host: &[HostSample],
    rows: &[&Sample],
    cpus: &[u32],
    a: f64,
    b: f64,
) -> Option<f64> {
    // Host samples are in time order: a binary search, not a scan, per interval.
    let at = |t: f64| {
        let i = host.partition_point(|h| h.t < t - 1e-9);
        host.get(i).filter(|h| (h.t - t).abs() < 1e-9)
    };
    // The samples of full rounds (the host is not read in a fast one).
    let inside: Vec<&&Sample> = rows
        .iter()
        .filter(|x| x.t >= a - 1e-9 && x.t <= b + 1e-9 && at(x.t).is_some())
        .collect();
    let mut idle_ns = 0.0;
    let mut span = 0.0;
    for w in inside.windows(2) {
        let (x, y) = (w[0], w[1]);
        let (Some(h0), Some(h1)) = (at(x.t), at(y.t)) else {
            continue;
        };
        span += y.t - x.t;
        let throttled = matches!((x.nr_throttled, y.nr_throttled), (Some(p), Some(q)) if q > p);
        if throttled {
            continue;
        }
        idle_ns += cpus
            .iter()
            .filter_map(|&c| {
                Some(
                    h1.idle_ns
                        .get(c as usize)?
                        .saturating_sub(*h0.idle_ns.get(c as usize)?),
                )
            })
            .sum::<u64>() as f64;
    }
    (span > 0.0).then(|| idle_ns / 1e9 / span)
}

/// A shortfall of `d` judged against the context (see the module's documentation).
fn shortfall(e: &Expect, m: f64, d: f64, cx: Option<&Context>) -> (Verdict, String) {
    let Some(cx) = cx else {
        return (
            Verdict::Fail,
            "no host samples to tell a busy host from a failed limit".into(),
        );
    };
    let h = &cx.host;
    let n = h.cpus.len() as f64;
    let waited = cx.container_cpu_pressure;
    let figures = format!(
        "foreign load {:.2} CPU and {:.2} idle on CPUs {}{}{}",
        h.foreign_cpus,
        h.idle_cpus,
        h.cpus
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(","),
        waited.map_or(String::new(), |p| format!(
            ", the container waited for a CPU {:.0}% of the time",
            p * 100.0
        )),
        cx.throttled.map_or(String::new(), |t| format!(
            ", throttled in {:.0}% of periods",
            t * 100.0
        )),
    );
    // Idle time says nothing here: a duty-cycle workload leaves its CPUs idle while it sleeps
    // (cfs-burst's plain container: 0.26 CPU idle on its CPU while a busy loop shared it).
    let cpu_starved = h.foreign_cpus >= 0.1 * n && waited.is_none_or(|p| p >= 0.05);
    match e.metric {
        Metric::CpuUsage | Metric::CpuUsageOn(_) => {
            if let (Metric::CpuUsage, Some(q)) = (e.metric, cx.quota_cpus) {
                if m >= 0.95 * q {
                    return (Verdict::Fail, format!("it got its quota of {q:.3} CPU: the limit, not the host, held it there ({figures})"));
                }
            }
            if let (Metric::CpuUsage, Some(q), Some(t)) = (e.metric, cx.quota_cpus, cx.throttled) {
                if t >= 0.8 && m < 0.8 * q {
                    return (Verdict::Fail, format!("throttled in {:.0}% of its periods while using {m:.3} of its {q:.3}-CPU quota: runtime was lost (the CFS slice-expiry pattern) ({figures})", t * 100.0));
                }
            }
            let free = h.idle_unthrottled_cpus.unwrap_or(h.idle_cpus);
            // Idle time is the cause only where it, not the other processes, could have given
            // what it lacked: 0.02 CPU idle beside 0.71 of a busy loop's is scheduling noise
            // (k8s-pods-qos beside one busy loop, 0.015 short), which the rules below weigh.
            let idle_explains = free >= h.foreign_cpus || h.foreign_cpus < d;
            if free >= d && idle_explains && waited.is_none_or(|p| p >= 0.5) {
                return (Verdict::Fail, format!("{free:.2} CPU was idle while it was not throttled, more than the {d:.3} it lacked, and its tasks waited: the CPUs were free ({figures})"));
            }
            // Lacking d CPU on n CPUs, some task of it waited at least d/n of the time: under
            // that (and under 5%) nothing starved it. A sleeper short by a little need only
            // have waited a little (cfs-burst's burst container: 0.167 of 0.174, 4% waiting).
            if waited.is_some_and(|p| p < 0.05_f64.min(d / n)) {
                return (
                    Verdict::Fail,
                    format!("its tasks hardly waited for a CPU: nothing starved it ({figures})"),
                );
            }
            if h.idle_cpus + h.foreign_cpus >= d {
                return (Verdict::Inconclusive, format!("starved by the host: it lacked {d:.3} CPU and other processes took {:.2} ({figures})", h.foreign_cpus));
            }
            // The instrument's own cost (its sampler and stall witness, whose wake-ups cost
            // 3-8% of a CPU under TCG): not the limit's doing, and not the host's.
            if h.idle_cpus + h.foreign_cpus + h.self_cpus >= d {
                return (
                    Verdict::Inconclusive,
                    format!(
                        "limitcheck itself took what it lacked: it lacked {d:.3} CPU and \
                         limitcheck's sampler and stall witness used {:.2} there ({figures})",
                        h.self_cpus
                    ),
                );
            }
            (
                Verdict::Fail,
                format!("limitcheck's own containers took what it lacked ({figures})"),
            )
        }
        m if m.is_bytes() => {
            if h.memory_pressure.is_some_and(|p| p >= 0.1)
                || h.mem_available_min.is_some_and(|a| (a as f64) < d)
            {
                return (Verdict::Inconclusive, format!(
                    "the host was short of memory: memory pressure {}, MemAvailable down to {} MiB ({figures})",
                    h.memory_pressure.map_or("n/a".into(), |p| format!("{:.0}%", p * 100.0)),
                    h.mem_available_min.map_or("n/a".into(), |a| format!("{}", a >> 20)),
                ));
            }
            starved_or(
                cpu_starved,
                format!("neither CPUs nor memory were short on the host ({figures})"),
                &figures,
            )
        }
        _ => starved_or(
            cpu_starved,
            format!("no other process took its CPUs ({figures})"),
            &figures,
        ),
    }
}

/// A sample interval in which a container was charged CPU time the machine may not have
/// run: its clock jumped. A vCPU stopped while the container ran on it (an emulated machine,
/// or an overcommitted one without steal time) and, running again, the kernel charged the
/// whole gap to the container: `+72.6 ms in 1.8 ms` on a 3-vCPU TCG guest, which made a 10 ms
/// quota's 100 ms peak 0.76. Not a limit's doing. Told by the charge itself when it is more
/// than every CPU could run in the interval, or by the stall witness
/// ([`crate::witness`]) when a CPU ran nothing during it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stall {
    /// When the interval ended, s.
    t: f64,
    /// Its length, s.
    dt: f64,
    /// CPU-seconds charged in it.
    charged: f64,
    /// What the witness saw during it, if that (not the charge alone) tells the stall.
    seen: Option<MachineStall>,
}

/// The machine a recording was made on, as far as stalls go.
#[derive(Debug, Clone, Copy)]
struct Machine<'a> {
    /// Its online CPUs.
    cpus: usize,
    /// Its tick, s.
    tick_s: f64,
    /// The stalls the witness saw.
    seen: &'a [MachineStall],
}

/// The stalled intervals in `rows` (one container's samples): an interval charged more than
/// every CPU for it plus a tick on each (the counters are brought up to date at a tick or a
/// switch, so a reading may catch up that much), and 1 ms; or one during which (or a tick
/// after which: the charge lands when the CPU next accounts) the witness saw a CPU stall. A
/// stall before the first sample makes the first sample's whole count an interval.
fn stalls(rows: &[&Sample], m: Machine) -> Vec<Stall> {
    let mut with: Vec<(f64, u64)> = rows.iter().filter_map(|s| Some((s.t, s.cpu_ns?))).collect();
    if let (Some(first), Some(early)) = (
        with.first().copied(),
        m.seen.iter().map(|st| st.from).reduce(f64::min),
    ) {
        if early < first.0 {
            with.insert(0, (early - 1e-3, 0));
        }
    }
    let pad = m.tick_s + 2e-3;
    with.windows(2)
        .filter_map(|w| {
            let (dt, charged) = (w[1].0 - w[0].0, w[1].1.saturating_sub(w[0].1) as f64 / 1e9);
            if dt <= 0.0 || charged <= 0.0 {
                return None;
            }
            let stall = |seen| Stall {
                t: w[1].0,
                dt,
                charged,
                seen,
            };
            if charged > m.cpus as f64 * (dt + m.tick_s) + 1e-3 {
                return Some(stall(None));
            }
            m.seen
                .iter()
                .filter(|st| st.from < w[1].0 && st.to + pad > w[0].0)
                .max_by(|a, b| (a.to - a.from).total_cmp(&(b.to - b.from)))
                .map(|st| stall(Some(*st)))
        })
        .collect()
}

/// What the worst of `found` says, for a reason.
fn describe(found: &[Stall], cpus: usize) -> Option<String> {
    let worst = found
        .iter()
        .max_by(|a, b| a.charged.total_cmp(&b.charged))?;
    let mut seen: Vec<MachineStall> = found.iter().filter_map(|st| st.seen).collect();
    seen.dedup();
    let times = found.iter().filter(|st| st.seen.is_none()).count() + seen.len();
    Some(match worst.seen {
        None => format!(
            "the machine stalled {times} time(s) in the window (at {:.3}s +{:.1} ms of CPU \
             charged in {:.1} ms, more than its {cpus} CPUs can run: a vCPU stopped while the \
             container ran and the gap was charged to it)",
            worst.t,
            worst.charged * 1e3,
            worst.dt * 1e3
        ),
        Some(st) => format!(
            "the machine stalled {times} time(s) in the window (CPU {} ran nothing, not even \
             limitcheck's real-time witness, for {:.0} ms from {:.3}s; +{:.1} ms of CPU were \
             charged in the {:.1} ms to {:.3}s: a vCPU stopped while the container ran and \
             the gap was charged to it)",
            st.cpu,
            (st.to - st.from) * 1e3,
            st.from,
            worst.charged * 1e3,
            worst.dt * 1e3,
            worst.t
        ),
    })
}

/// `rows` with what each stall charged taken out of the CPU counter from then on: the least
/// the container can have used (the stalled intervals count as none).
fn without_stalls(rows: &[&Sample], stalls: &[Stall]) -> Vec<Sample> {
    let mut taken = 0u64;
    rows.iter()
        .map(|s| {
            let mut s = (*s).clone();
            if let Some(st) = stalls.iter().find(|st| (st.t - s.t).abs() < 1e-9) {
                taken += (st.charged * 1e9) as u64;
            }
            s.cpu_ns = s.cpu_ns.map(|c| c.saturating_sub(taken));
            s
        })
        .collect()
}

/// A stall before or in the window whose charge, a debt the quota repays (`quota` CPUs:
/// charged / quota seconds of nothing), reaches into the window and is as large as what the
/// window lacked (`lacked` CPUs over `from`-`to`): a shortfall there is the stall's (the v2
/// lane: +51.3 ms charged at 0.518 s to a 1 ms quota's two workers, then no CPU at all until
/// 5.2 s). A debt smaller than the shortfall explains none of it (a must-fail scenario held
/// at its 0.35 quota, 0.35 CPU short for 3 s, beside a 41.5 ms charge: a failure).
fn stall_debt(
    rows: &[&Sample],
    m: Machine,
    quota: f64,
    lacked: f64,
    (from, to): (f64, f64),
) -> Option<String> {
    let st = stalls(rows, m)
        .into_iter()
        .filter(|st| st.t <= to && quota > 0.0 && st.t + st.charged / quota >= from)
        .filter(|st| st.charged + 1e-9 >= lacked * (to - from))
        .max_by(|a, b| a.charged.total_cmp(&b.charged))?;
    let what = match st.seen {
        None => format!(
            "+{:.1} ms of CPU charged in {:.1} ms, more than its {} CPUs can run",
            st.charged * 1e3,
            st.dt * 1e3,
            m.cpus
        ),
        Some(w) => format!(
            "CPU {} ran nothing for {:.0} ms from {:.3}s, and +{:.1} ms of CPU were charged \
             in the {:.1} ms to then",
            w.cpu,
            (w.to - w.from) * 1e3,
            w.from,
            st.charged * 1e3,
            st.dt * 1e3
        ),
    };
    Some(format!(
        "but the machine stalled at {:.3}s ({what}): a debt its quota of {quota:.3} CPU repays \
         until {:.1}s, into the window",
        st.t,
        st.t + st.charged / quota
    ))
}

/// Why unit `unit`'s expectation cannot be judged from `from` on, if its workload was still
/// starting then: the runner named it as still starting when the clock started, and its
/// first counters (`rows` are its samples) came after `from`, or never.
fn still_starting(
    s: &Scenario,
    unit: usize,
    rec: &Recording,
    rows: &[&Sample],
    from: f64,
) -> Option<String> {
    let name = &s.containers.get(unit)?.name;
    if !rec.unstarted.contains(name) {
        return None;
    }
    let deadline = crate::runner::WORKLOAD_START_DEADLINE.as_secs_f64();
    match rows.iter().find(|r| r.bogo_ops.is_some()).map(|r| r.t) {
        Some(t) if t <= from + 1e-9 => None,
        Some(t) => Some(format!(
            "its workload was still starting when the window opened: the runner waited {deadline:.0} s \
             for its first counters, which came {t:.3} s after the clock started; the window \
             would measure a process starting under its limits (a slow or emulated CPU under a \
             small quota), not the workload"
        )),
        None => Some(format!(
            "its workload never started in the run: the runner waited {deadline:.0} s for its \
             first counters and none came after; the run measured a process starting under \
             its limits (a slow or emulated CPU under a small quota), not the workload"
        )),
    }
}

/// The share of the machine's CPU time over `from`-`to` that the witness saw stalled (each
/// stall counted from a witness period after its last wake-up: it slept that long anyway).
fn stalled_share(m: Machine, from: f64, to: f64) -> f64 {
    if m.cpus == 0 || to <= from {
        return 0.0;
    }
    let period = crate::witness::PERIOD.as_secs_f64();
    let stalled: f64 = m
        .seen
        .iter()
        .map(|st| (st.to.min(to) - (st.from + period).max(from)).max(0.0))
        .sum();
    (stalled / (m.cpus as f64 * (to - from))).min(1.0)
}

/// A rate (I/O, the workload's operations) short of its minimum while the machine stalled its
/// CPUs: work that could not be done while nothing ran. If the rate over the time the CPUs
/// did run (`measured / (1 - stalled share)`) reaches the minimum, the shortfall is the
/// stalls' (the v2 lane's buffered writeback: 7.57 MiB/s for 10 ± 15%, on a TCG guest whose
/// vCPUs the witness sees stopped 15-90 ms every few hundred ms).
fn stalled_rate(
    e: &Expect,
    measured: f64,
    lacked: f64,
    m: Machine,
    from: f64,
    to: f64,
) -> Option<String> {
    let share = stalled_share(m, from, to);
    let need = measured + lacked;
    let scaled = measured / (1.0 - share);
    let show = if e.metric.is_byte_rate() {
        format!("{:.2} MiB/s", scaled / 1048576.0)
    } else {
        format!("{scaled:.3}")
    };
    (share > 0.0 && share < 1.0 && scaled >= need).then(|| {
        format!(
            "but the machine stalled its CPUs for {:.0}% of the window (the witness saw {} \
             stall(s)): over the time they ran it came to {show}",
            share * 100.0,
            m.seen
                .iter()
                .filter(|st| st.to > from && st.from < to)
                .count()
        )
    })
}

/// An expectation on CPU time that a stall may have pushed over its maximum: fail only if
/// it is still over with the stalls' charges taken out, else inconclusive, saying so.
fn above_with_stalls(
    e: &Expect,
    rows: &[&Sample],
    from: f64,
    to: f64,
    m: Machine,
) -> Option<(Verdict, String)> {
    if !matches!(e.metric, Metric::CpuUsage | Metric::CpuUsagePeak(_)) {
        return None;
    }
    let reach = match e.metric {
        Metric::CpuUsagePeak(ms) => f64::from(ms) / 1e3,
        _ => 0.0,
    };
    let found: Vec<Stall> = stalls(rows, m)
        .into_iter()
        .filter(|st| st.t > from - reach - 1e-9 && st.t - st.dt < to)
        .collect();
    let what = describe(&found, m.cpus)?;
    let kept = without_stalls(rows, &found);
    let refs: Vec<&Sample> = kept.iter().collect();
    match measure(e.metric, &refs, from, to) {
        Ok(v) if matches!(miss(e, v), Some(Miss::Above)) => Some((
            Verdict::Fail,
            format!("{what}; without those intervals still {v:.3}"),
        )),
        Ok(v) => Some((
            Verdict::Inconclusive,
            format!("{what}; without those intervals {v:.3}"),
        )),
        Err(_) => Some((Verdict::Inconclusive, what)),
    }
}

/// A value that settled late (or never) after a change: a failure, unless over the span it
/// had to settle in it measured short of its tolerance while the host's load took what it
/// lacked (a starved container settles late through no fault of the limit: cpu-halving beside
/// two busy loops, 0.599 s for 0.5). The verdict, and what to add to the reason.
fn unsettled(
    s: &Scenario,
    e: &Expect,
    rec: &Recording,
    rows: &[&Sample],
    from: f64,
    to: f64,
) -> (Verdict, String) {
    let Ok(m) = measure(e.metric, rows, from, to) else {
        return (Verdict::Fail, String::new());
    };
    match miss(e, m) {
        Some(Miss::Below(d)) => {
            let cx = context(s, e, rec, rows, from, to);
            let (v, because) = shortfall(e, m, d, cx.as_ref());
            (
                v,
                format!("; over {from:.3}-{to:.3}s it measured {m:.3}, short: {because}"),
            )
        }
        _ => (Verdict::Fail, String::new()),
    }
}

/// Inconclusive when foreign load starved the container, else a failure for `otherwise`.
fn starved_or(starved: bool, otherwise: String, figures: &str) -> (Verdict, String) {
    if starved {
        (
            Verdict::Inconclusive,
            format!("other processes shared its CPUs while its tasks waited ({figures})"),
        )
    } else {
        (Verdict::Fail, otherwise)
    }
}

/// Judges every expectation of `s` on what a run recorded, on a host writing limits through
/// `version`: a pure function, so a recorded run can be judged again.
pub fn judge(s: &Scenario, platform: Platform, rec: &Recording) -> Judged {
    if let Some(d) = rec.died {
        use limitcheck_record::Cause;
        let what = match d.cause {
            Cause::Ended => format!("its process {}", d.how),
            Cause::FrozenFromOutside => format!(
                "its cgroup was frozen from outside the run ({}, and no step of the scenario \
                 froze it)",
                d.how
            ),
            Cause::CgroupRemoved => {
                format!("its cgroup was removed from outside the run ({})", d.how)
            }
        };
        return Judged {
            expectations: Vec::new(),
            verdict: Verdict::Error,
            reason: format!(
                "container {}: {what} (seen at {:.2} s, before the scenario's end at {:.1} s): \
                 a dead or disturbed workload is not judged{}; the end of its log ({}): {}",
                d.container,
                d.t,
                s.duration.as_secs_f64(),
                d.allowed
                    .as_ref()
                    .map_or(String::new(), |a| format!(" ({a})")),
                d.log.display(),
                d.log_tail
            ),
        };
    }
    let mut fails = Vec::new();
    let mut doubts = Vec::new();
    for st in rec.steps {
        if st.verdict == Verdict::Error {
            fails.push(format!(
                "step at {}s ({}): {}; a limit the kernel did not apply is not judged",
                st.at,
                st.what,
                st.outcome.clone().unwrap_or_default()
            ));
        }
        if st.verdict == Verdict::Fail && !st.changed.is_empty() {
            fails.push(format!(
                "step at {}s ({}): it changed what it did not name: {}",
                st.at,
                st.what,
                st.changed.join("; ")
            ));
        } else if st.verdict == Verdict::Fail {
            fails.push(format!(
                "step at {}s ({}): expected {}, got {}",
                st.at,
                st.what,
                st.expected,
                st.outcome.clone().unwrap_or_default()
            ));
        }
    }
    let mut out = Vec::new();
    for e in &s.expects {
        let (a, b) = (e.window.0.as_secs_f64(), e.window.1.as_secs_f64());
        let rows: Vec<&Sample> = rec
            .samples
            .iter()
            .filter(|x| x.container == e.container)
            .collect();
        let mut res = ExpectResult {
            metric: e.metric.name(),
            container: s.unit_name(e.container).to_string(),
            window: [a, b],
            expected: e.approx.map(|x| x.0),
            tolerance: e.approx.map(|x| x.1),
            min: e.min,
            max: e.max,
            measured: None,
            settled_after_s: None,
            verdict: Verdict::Pass,
            reason: String::new(),
            context: None,
            engine: None,
            only: e.only.map(|o| o.tag().to_string()),
        };
        if !applies(e.only, platform) {
            res.verdict = Verdict::Skip;
            res.reason = format!("only on {}", e.only.unwrap());
            out.push(res);
            continue;
        }
        // With settles_within, the window opens at the step: the value is judged once the
        // allowed settling time has passed, and the settling itself is judged apart.
        // Settling is the kernel's, counted from when the change at the window's start
        // returned: a runtime's or an engine's update takes its own time to get there
        // (docker's: a few hundred ms), which is reported, not judged as settling.
        let origin = rec
            .steps
            .iter()
            .filter(|st| st.container == s.unit_name(e.container))
            .filter(|st| (st.at - a).abs() < 1e-3)
            .filter_map(|st| st.done)
            .fold(a, f64::max)
            .min(b);
        // A window that a step's return moved opens at the first sample after it: counters
        // are read from the sample at or before a window's start, and that one's interval
        // straddles the change (freeze-kill-100 on v1: 12.7 ms used in 1.0-1.1 s by 100
        // tasks entering the freezer, which reported them frozen at 1.027 s, made 0.016 CPU
        // of a window that then measured none). Not a count of events the change itself
        // causes while it is made: memory-oom-group's memory.max write returned at 1.2 s,
        // after the OOM kills it made at 1.17 s, and a window opened then counted none.
        let origin = if e.metric.counts_events() { a } else { origin };
        let from = (origin + e.settles_within.map_or(0.0, |d| d.as_secs_f64())).min(b);
        let from = if origin > a + 1e-6 {
            rows.iter()
                .map(|r| r.t)
                .find(|&t| t >= from - 1e-9)
                .filter(|&t| t < b)
                .unwrap_or(from)
        } else {
            from
        };
        res.context = context(s, e, rec, &rows, from, b);
        // The machine's CPUs and tick, against which a stall is told apart (a tick of 10 ms
        // where it is unknown).
        let machine = Machine {
            cpus: rec.host.first().map_or(0, |h| h.busy_ns.len()),
            tick_s: match platform.tick_ns {
                0 => 0.01,
                t => t as f64 / 1e9,
            },
            seen: rec.stalls,
        };
        let cpus = machine.cpus;
        // A workload still starting when the clock started (the runner waits for it up to
        // a deadline) is judged only from its first counters on: before them the window
        // measures the start of a process (an exec, its loader, its page faults), not the
        // workload.
        if let Some(why) = still_starting(s, e.container, rec, &rows, from) {
            res.verdict = Verdict::Inconclusive;
            res.reason = why;
        } else {
            match measure(e.metric, &rows, from, b) {
                Err(why) => {
                    res.verdict = why.verdict();
                    res.reason = why.to_string();
                }
                Ok(m) => {
                    res.measured = Some(m);
                    let (_, why) = within(e, m);
                    res.reason = why;
                    match miss(e, m) {
                        None => {}
                        Some(Miss::Above) => {
                            res.verdict = Verdict::Fail;
                            if let Some((v, because)) = (cpus > 0)
                                .then(|| above_with_stalls(e, &rows, from, b, machine))
                                .flatten()
                            {
                                res.verdict = v;
                                res.reason = format!("{}: {because}", res.reason);
                            }
                        }
                        Some(Miss::Below(d)) => {
                            let (v, because) = shortfall(e, m, d, res.context.as_ref());
                            res.verdict = v;
                            res.reason = format!("{}: {because}", res.reason);
                            let quota = res.context.as_ref().and_then(|c| c.quota_cpus);
                            if let (Verdict::Fail, Metric::CpuUsage, Some(q), true) =
                                (v, e.metric, quota, cpus > 0)
                            {
                                if let Some(why) = stall_debt(&rows, machine, q, d, (from, b)) {
                                    res.verdict = Verdict::Inconclusive;
                                    res.reason = format!("{}; {why}", res.reason);
                                }
                            }
                            if let (Verdict::Fail, true) = (res.verdict, e.metric.is_rate()) {
                                if let Some(why) = stalled_rate(e, m, d, machine, from, b) {
                                    res.verdict = Verdict::Inconclusive;
                                    res.reason = format!("{}; {why}", res.reason);
                                }
                            }
                        }
                    }
                    if let (Some(limit), Verdict::Pass) = (e.settles_within, res.verdict) {
                        let w = (s.interval.as_secs_f64() * 5.0).max(0.5);
                        let late = if origin - a >= 0.05 {
                            format!(" (counted from {origin:.3}s, when the change returned)")
                        } else {
                            String::new()
                        };
                        // The span the value had to settle in, and a trailing window after it.
                        let span = (origin + limit.as_secs_f64() + w).min(b);
                        match settle_time(e, &rows, origin, b, w) {
                            Some(t) if t > limit.as_secs_f64() => {
                                res.settled_after_s = Some(t);
                                let (v, because) = unsettled(s, e, rec, &rows, origin, span);
                                res.verdict = v;
                                res.reason = format!(
                                    "settled after {t:.3}s{late}, more than {:.3}s{because}",
                                    limit.as_secs_f64()
                                );
                            }
                            Some(t) => {
                                res.settled_after_s = Some(t);
                                res.reason = format!("{}; settled after {t:.3}s{late}", res.reason);
                            }
                            None => {
                                let (v, because) = unsettled(s, e, rec, &rows, origin, span);
                                res.verdict = v;
                                res.reason = format!("never settled within the window{because}");
                            }
                        }
                    }
                }
            }
        }
        let what = format!(
            "{} of {} over {a}-{b}s: {}",
            res.metric, res.container, res.reason
        );
        match res.verdict {
            Verdict::Fail => fails.push(what),
            Verdict::Error => fails.push(format!(
                "{} could not be measured: {}",
                res.metric, res.reason
            )),
            Verdict::Inconclusive => doubts.push(what),
            _ => {}
        }
        out.push(res);
    }
    let any = |v: Verdict| out.iter().any(|x| x.verdict == v);
    let verdict = if any(Verdict::Fail) || rec.steps.iter().any(|x| x.verdict == Verdict::Fail) {
        Verdict::Fail
    } else if any(Verdict::Error) || rec.steps.iter().any(|x| x.verdict == Verdict::Error) {
        Verdict::Error
    } else if any(Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else if !out.is_empty() && out.iter().all(|x| x.verdict == Verdict::Skip) {
        Verdict::Skip
    } else {
        Verdict::Pass
    };
    let reason = match verdict {
        Verdict::Skip => "every expectation was skipped on this host".into(),
        Verdict::Inconclusive => doubts.join("; "),
        _ => fails.join("; "),
    };
    Judged {
        expectations: out,
        verdict,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step of `container` asked at `at` that went as expected (`ok`), returned at `done`.
    fn done_step(
        container: &str,
        at: f64,
        done: Option<f64>,
        what: &str,
        via: crate::model::Via,
    ) -> crate::runner::StepResult {
        crate::runner::StepResult {
            at,
            actual: Some(at),
            done,
            container: container.into(),
            what: what.into(),
            via,
            expected: "ok".into(),
            outcome: Some("ok".into()),
            changed: Vec::new(),
            not_applied: Vec::new(),
            verdict: Verdict::Pass,
        }
    }

    /// The first expectation of `sc` judged on `samples` and `steps` alone (no host rows).
    fn first_judged(
        sc: &Scenario,
        platform: Platform,
        samples: &[Sample],
        steps: &[crate::runner::StepResult],
    ) -> ExpectResult {
        judge(
            sc,
            platform,
            &Recording {
                samples,
                host: &[],
                limits: &[],
                steps,
                died: None,
                stalls: &[],
                unstarted: &[],
            },
        )
        .expectations[0]
            .clone()
    }

    /// A host with Debian's 4 ms tick, writing limits through `version`.
    fn debian_tick(version: limitcheck_cgroup::Version, emulated: bool) -> Platform {
        Platform {
            version,
            emulated,
            tick_ns: 4_000_000,
        }
    }
    use crate::model::Expect;

    fn samples(rate_cpus: f64) -> Vec<Sample> {
        (0..=40)
            .map(|i| {
                let t = i as f64 * 0.1;
                Sample {
                    t,
                    cpu_ns: Some((t * rate_cpus * 1e9) as u64),
                    memory: Some(100 + i),
                    ..Default::default()
                }
            })
            .collect()
    }

    fn expect(metric: Metric, approx: f64) -> Expect {
        Expect {
            metric,
            container: 0,
            window: (
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(3),
            ),
            approx: Some((approx, Tolerance::Relative(0.05))),
            min: None,
            max: None,
            only: None,
            settles_within: None,
        }
    }

    #[test]
    fn cpu_usage_is_the_rate_of_cpu_time() {
        let s = samples(0.5);
        let r: Vec<&Sample> = s.iter().collect();
        let m = measure(Metric::CpuUsage, &r, 1.0, 3.0).unwrap();
        assert!((m - 0.5).abs() < 1e-6, "{m}");
        assert!(within(&expect(Metric::CpuUsage, 0.5), m).0);
        let (ok, why) = within(&expect(Metric::CpuUsage, 0.8), m);
        assert!(!ok && why.contains("outside"), "{why}");
    }

    /// `only = "native"` needs CPUs that are not emulated and a tick of 4 ms or less; the
    /// reason a skip gives names what this host lacks.
    #[test]
    fn native_and_emulated_follow_the_hosts_cpus_and_tick() {
        use crate::model::Only;
        let p = |emulated, tick_ns| Platform {
            version: limitcheck_cgroup::Version::V2,
            emulated,
            tick_ns,
        };
        let debian = p(false, 4_000_000);
        assert!(applies(Some(Only::Native), debian));
        assert!(applies(Some(Only::Native), p(false, 1_000_000)));
        assert!(!applies(Some(Only::Emulated), debian));
        assert!(applies(Some(Only::V2), debian) && !applies(Some(Only::V1), debian));
        let tcg = p(true, 4_000_000);
        assert!(!applies(Some(Only::Native), tcg) && applies(Some(Only::Emulated), tcg));
        assert!(tcg
            .mismatch(Only::Native)
            .ends_with("this host's CPUs are emulated (QEMU's TCG)"));
        let hz100 = p(false, 10_000_000);
        assert!(!applies(Some(Only::Native), hz100));
        assert!(hz100
            .mismatch(Only::Native)
            .ends_with("this kernel's tick is 10 ms (HZ=100)"));
        assert!(!applies(Some(Only::Native), p(false, 0)));
        assert_eq!(
            debian.mismatch(Only::V1),
            "cgroup V1; this host writes limits through V2"
        );
        // A recorded run from before the host facts had them: not emulated, tick unknown.
        let old: limitcheck_record::HostInfo = serde_json::from_str(
            r#"{"kernel":"6.1","cgroup_mode":"v2","cpus":2,"memory_bytes":1,"limitcheck_version":"0.1.0"}"#,
        )
        .unwrap();
        assert_eq!(Platform::of(&old), p(false, 0));
    }

    /// A hog under a 50 ms quota every 100 ms, sampled every millisecond: it runs the first
    /// 50 ms of each period, except one period it overruns by 4 ms (a tick late) and pays it
    /// back in the next. The average stays 0.5; the peak over any 100 ms is 0.54.
    #[test]
    fn the_peak_over_a_span_shows_one_periods_overrun() {
        let run = |k: usize| match k {
            12 => 54,
            13 => 46,
            _ => 50,
        };
        let mut used = 0u64;
        let s: Vec<Sample> = (0..=3000)
            .map(|i| {
                let t = i as f64 / 1e3;
                if i > 0 {
                    let (k, ms) = ((i - 1) / 100, (i - 1) % 100);
                    if ms < run(k) {
                        used += 1_000_000;
                    }
                }
                Sample {
                    t,
                    cpu_ns: Some(used),
                    ..Default::default()
                }
            })
            .collect();
        let r: Vec<&Sample> = s.iter().collect();
        let avg = measure(Metric::CpuUsage, &r, 1.0, 3.0).unwrap();
        assert!((avg - 0.5).abs() < 0.003, "{avg}");
        let peak = measure(Metric::CpuUsagePeak(100), &r, 1.0, 3.0).unwrap();
        assert!((peak - 0.54).abs() < 1e-9, "{peak}");
        // Outside the overrun the peak is the quota exactly.
        let calm = measure(Metric::CpuUsagePeak(100), &r, 1.4, 3.0).unwrap();
        assert!((calm - 0.5).abs() < 1e-9, "{calm}");
        // A span longer than the window: too few samples, an error.
        assert_eq!(
            measure(Metric::CpuUsagePeak(100), &r, 1.0, 1.05).unwrap_err(),
            Unmeasured::TooFewSamples
        );
        assert_eq!(
            Metric::parse("cpu.usage.peak100ms"),
            Some(Metric::CpuUsagePeak(100))
        );
        assert_eq!(Metric::CpuUsagePeak(100).name(), "cpu.usage.peak100ms");
        assert_eq!(Metric::parse("cpu.usage.peak0ms"), None);
        assert_eq!(Metric::parse("cpu.usage.peak100"), None);
    }

    #[test]
    fn means_and_missing_data() {
        let s = samples(1.0);
        let r: Vec<&Sample> = s.iter().collect();
        assert_eq!(measure(Metric::MemoryUsage, &r, 1.0, 3.0).unwrap(), 120.0);
        assert_eq!(
            measure(Metric::MemoryUsageMax, &r, 1.0, 3.0).unwrap(),
            130.0
        );
        assert_eq!(
            measure(Metric::CpuUsageOn(0), &r, 1.0, 3.0).unwrap_err(),
            Unmeasured::PerCpuV1Only
        );
        assert!(measure(Metric::CpuUsage, &r, 10.0, 12.0).is_err());
    }

    #[test]
    fn settling_finds_the_step() {
        // 1 CPU until 2 s, then 0.5.
        let s: Vec<Sample> = (0..=40)
            .map(|i| {
                let t = i as f64 * 0.1;
                let ns = if t <= 2.0 { t } else { 2.0 + (t - 2.0) * 0.5 };
                Sample {
                    t,
                    cpu_ns: Some((ns * 1e9) as u64),
                    ..Default::default()
                }
            })
            .collect();
        let r: Vec<&Sample> = s.iter().collect();
        let e = expect(Metric::CpuUsage, 0.5);
        let st = settle_time(&e, &r, 2.0, 4.0, 0.5).unwrap();
        assert!(st < 0.15, "{st}");
    }

    /// A two-CPU host over 0-4 s: `foreign` CPUs of other load, the container's `rate`, the
    /// rest idle; the container's cgroup waited `waited` of the time; throttled in
    /// `throttled` of its periods.
    fn recorded(
        rate: f64,
        foreign: f64,
        waited: f64,
        throttled: f64,
    ) -> (Vec<Sample>, Vec<HostSample>) {
        let mut samples = Vec::new();
        let mut host = Vec::new();
        for i in 0..=40u64 {
            let t = i as f64 * 0.1;
            let ns = |cpus: f64| (t * cpus * 1e9) as u64;
            samples.push(Sample {
                t,
                cpu_ns: Some(ns(rate)),
                nr_periods: Some(i),
                nr_throttled: Some((i as f64 * throttled) as u64),
                cpu_pressure_us: Some((t * waited * 1e6) as u64),
                ..Default::default()
            });
            let busy = rate + foreign;
            host.push(HostSample {
                t,
                busy_ns: vec![ns(busy / 2.0); 2],
                idle_ns: vec![ns((2.0 - busy) / 2.0); 2],
                ..Default::default()
            });
        }
        (samples, host)
    }

    fn scenario(limits: &str, expect: &str) -> Scenario {
        let text = format!(
            "duration = \"4s\"\n[[container]]\nworkload = {{ kind = \"cpu\", workers = 2 }}\n{limits}\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\n{expect}\n"
        );
        crate::model::parse(&text, std::path::Path::new("t.toml")).unwrap()
    }

    fn judged(
        s: &Scenario,
        quota: Option<f64>,
        rec: (Vec<Sample>, Vec<HostSample>),
    ) -> ExpectResult {
        let limits = vec![crate::runner::LimitPoint {
            t: 0.0,
            container: s.containers[0].name.clone(),
            cpus: quota,
            memory_bytes: None,
        }];
        let j = judge(
            s,
            debian_tick(limitcheck_cgroup::Version::V1, false),
            &Recording {
                samples: &rec.0,
                host: &rec.1,
                limits: &limits,
                steps: &[],
                died: None,
                stalls: &[],
                unstarted: &[],
            },
        );
        assert_eq!(j.expectations.len(), 1);
        j.expectations[0].clone()
    }

    /// A 10 ms quota's hog on a 3-CPU machine, sampled every 2 ms, whose vCPU stopped for
    /// 70 ms at 2.0 s: the kernel charged the whole gap to it (+70 ms in 2 ms, as a TCG guest
    /// of the v2 lane did). Its ceiling is then inconclusive, saying so; the same hog really
    /// escaping its quota for 300 ms (1 CPU, within what the machine can run) still fails.
    #[test]
    fn a_stalled_machines_charge_is_inconclusive_a_real_overrun_fails() {
        let text =
            "duration = \"4s\"\ninterval = \"2ms\"\n[[container]]\nworkload = { kind = \"cpu\" }\n\
                    cpu_quota = 10000\n[[expect]]\nmetric = \"cpu.usage.peak100ms\"\n\
                    window = [\"1s\", \"4s\"]\nmax = 0.4\n\
                    [[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\nmax = 0.103\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        // The quota's 10 ms at the start of each period, plus `extra` CPU-seconds by time t.
        let rec = |extra: &dyn Fn(f64) -> f64| -> (Vec<Sample>, Vec<HostSample>) {
            let samples = (0..=2000)
                .map(|i| {
                    let t = i as f64 * 0.002;
                    let periods = (t / 0.1).floor();
                    let used = periods * 0.01 + (t - periods * 0.1).min(0.01) + extra(t);
                    Sample {
                        t,
                        cpu_ns: Some((used * 1e9) as u64),
                        ..Default::default()
                    }
                })
                .collect();
            let host = (0..=40)
                .map(|i| HostSample {
                    t: i as f64 * 0.1,
                    busy_ns: vec![0; 3],
                    idle_ns: vec![(i as u64) * 100_000_000; 3],
                    ..Default::default()
                })
                .collect();
            (samples, host)
        };
        let run = |r: &(Vec<Sample>, Vec<HostSample>)| {
            judge(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V2, true),
                &Recording {
                    samples: &r.0,
                    host: &r.1,
                    limits: &[],
                    steps: &[],
                    died: None,
                    stalls: &[],
                    unstarted: &[],
                },
            )
        };
        let stalled = rec(&|t| if t >= 2.0 { 0.07 } else { 0.0 });
        let j = run(&stalled);
        let peak = &j.expectations[0];
        assert_eq!(peak.verdict, Verdict::Inconclusive, "{}", peak.reason);
        assert!(peak.measured.unwrap() > 0.7, "{:?}", peak.measured);
        assert!(
            peak.reason.contains("the machine stalled 1 time(s)")
                && peak.reason.contains("+70.0 ms of CPU charged in 2.0 ms")
                && peak.reason.contains("without those intervals 0.1"),
            "{}",
            peak.reason
        );
        // The average over 3 s rose by 0.023 with it: inconclusive too.
        assert_eq!(j.expectations[1].verdict, Verdict::Inconclusive);
        assert_eq!(j.verdict, Verdict::Inconclusive);
        // 300 ms at a whole CPU from 2.0 s: no interval beyond the machine, a failure.
        let escaped = rec(&|t| (t - 2.0).clamp(0.0, 0.3));
        let j = run(&escaped);
        assert_eq!(
            j.expectations[0].verdict,
            Verdict::Fail,
            "{}",
            j.expectations[0].reason
        );
        assert!(!j.expectations[0].reason.contains("stalled"));
        assert_eq!(j.verdict, Verdict::Fail);
        // Both: the stall taken out, the escape is still over: a failure that says so.
        let both = rec(&|t| (t - 2.0).clamp(0.0, 0.3) + if t >= 3.0 { 0.07 } else { 0.0 });
        let peak = &run(&both).expectations[0];
        assert_eq!(peak.verdict, Verdict::Fail, "{}", peak.reason);
        assert!(
            peak.reason.contains("without those intervals still"),
            "{}",
            peak.reason
        );
    }

    /// The CI's v2 lane: a 10 ms quota's hog charged 67 ms over 30 ms at 2.0 s, which three
    /// CPUs can run, so the charge alone cannot tell a stall from an escape. Where the witness
    /// saw a CPU run nothing for 70 ms then, the ceiling is inconclusive; with no stall seen,
    /// or one seen a second away, the same samples fail. A stall before the first sample,
    /// charged to the container before it (the v1 lane: 97 ms in the first 1.5 ms under a 1 ms
    /// quota), is a debt that explains a shortfall; without it the shortfall fails.
    #[test]
    fn a_stall_the_witness_saw_explains_a_charge_three_cpus_could_run() {
        let text =
            "duration = \"4s\"\ninterval = \"2ms\"\n[[container]]\nworkload = { kind = \"cpu\" }\n\
                    cpu_quota = 10000\n[[expect]]\nmetric = \"cpu.usage.peak100ms\"\n\
                    window = [\"1s\", \"4s\"]\nmax = 0.4\n\
                    [[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\nmin = 0.09\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let rec = |extra: &dyn Fn(f64) -> f64, start: f64| -> (Vec<Sample>, Vec<HostSample>) {
            let samples = (0..=2000)
                .map(|i| {
                    let t = i as f64 * 0.002;
                    let periods = (t / 0.1).floor();
                    let used = periods * 0.01 + (t - periods * 0.1).min(0.01) + extra(t);
                    Sample {
                        t,
                        cpu_ns: Some(((used + start) * 1e9) as u64),
                        ..Default::default()
                    }
                })
                .collect();
            let host = (0..=40)
                .map(|i| HostSample {
                    t: i as f64 * 0.1,
                    busy_ns: vec![0; 3],
                    idle_ns: vec![(i as u64) * 100_000_000; 3],
                    ..Default::default()
                })
                .collect();
            (samples, host)
        };
        let limits = [crate::runner::LimitPoint {
            t: 0.0,
            container: sc.containers[0].name.clone(),
            cpus: Some(0.1),
            memory_bytes: None,
        }];
        let run = |r: &(Vec<Sample>, Vec<HostSample>), seen: &[MachineStall]| {
            judge(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V2, true),
                &Recording {
                    samples: &r.0,
                    host: &r.1,
                    limits: &limits,
                    steps: &[],
                    died: None,
                    stalls: seen,
                    unstarted: &[],
                },
            )
        };
        let charged = rec(&|t| 0.067 * ((t - 2.0) / 0.03).clamp(0.0, 1.0), 0.0);
        let at = |from: f64| MachineStall {
            cpu: 1,
            from,
            to: from + 0.07,
        };
        let peak = run(&charged, &[at(1.965)]).expectations[0].clone();
        assert_eq!(peak.verdict, Verdict::Inconclusive, "{}", peak.reason);
        assert!(
            peak.reason.contains(
                "CPU 1 ran nothing, not even limitcheck's real-time witness, for 70 ms from 1.965s"
            ) && peak.reason.contains("without those intervals 0.1"),
            "{}",
            peak.reason
        );
        for seen in [&[][..], &[at(0.9)][..]] {
            let peak = run(&charged, seen).expectations[0].clone();
            assert_eq!(peak.verdict, Verdict::Fail, "{seen:?}: {}", peak.reason);
            assert!(
                seen.is_empty() != peak.reason.contains("without those intervals still 0.770"),
                "{}",
                peak.reason
            );
        }
        // 200 ms charged before the first sample (2 s of the quota), then nothing until the
        // quota has repaid it: short of 0.09 over 1-4 s.
        let base = |t: f64| (t / 0.1).floor() * 0.01 + (t - (t / 0.1).floor() * 0.1).min(0.01);
        let debt = rec(&|t| -base(t.min(2.0)), 0.2);
        let e = run(&debt, &[at(-0.08)]).expectations[1].clone();
        assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.reason);
        assert!(e.reason.contains("repays until 2.0s"), "{}", e.reason);
        assert!(
            e.reason
                .contains("CPU 1 ran nothing for 70 ms from -0.080s"),
            "{}",
            e.reason
        );
        let e = run(&debt, &[]).expectations[1].clone();
        assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
    }

    /// A writer throttled to 10 MiB/s that wrote 7.6 MiB/s (short of 10 ± 15%): on a machine
    /// whose CPUs the witness saw stalled a quarter of the time the shortfall is the stalls'
    /// (7.6 over the 76% they ran is 10.05); with none seen, or a few (7.6 / 0.95 = 8.0, still
    /// short), it fails.
    #[test]
    fn a_rate_short_while_the_machine_stalled_is_inconclusive() {
        let text = "duration = \"6s\"\ninterval = \"50ms\"\n[[container]]\n\
                    workload = { kind = \"io\", bytes = \"256M\" }\n[[expect]]\nmetric = \"io.write_bps\"\n\
                    window = [\"2s\", \"6s\"]\napprox = \"10M\"\ntolerance = \"15%\"\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let samples: Vec<Sample> = (0..=120u64)
            .map(|i| Sample {
                t: i as f64 * 0.05,
                io_write_bytes: Some((i as f64 * 0.05 * 7.6 * 1048576.0) as u64),
                cpu_ns: Some(i * 1_000_000),
                ..Default::default()
            })
            .collect();
        let host: Vec<HostSample> = (0..=60u64)
            .map(|i| HostSample {
                t: i as f64 * 0.1,
                busy_ns: vec![0; 3],
                idle_ns: vec![i * 100_000_000; 3],
                ..Default::default()
            })
            .collect();
        // Stalls of 80 ms (75 past the witness's period) on each of 3 CPUs: every 300 ms is
        // a quarter of their time.
        let every = |gap: f64| -> Vec<MachineStall> {
            (0..3u32)
                .flat_map(|cpu| {
                    (0..((4.0 / gap) as u32)).map(move |k| {
                        let from = 2.0 + k as f64 * gap + cpu as f64 * 0.01;
                        MachineStall {
                            cpu,
                            from,
                            to: from + 0.08,
                        }
                    })
                })
                .collect()
        };
        let on = |seen: &[MachineStall]| {
            judge(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V2, true),
                &Recording {
                    samples: &samples,
                    host: &host,
                    limits: &[],
                    steps: &[],
                    died: None,
                    stalls: seen,
                    unstarted: &[],
                },
            )
            .expectations[0]
                .clone()
        };
        let e = on(&every(0.3));
        assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.reason);
        assert!(
            e.reason.contains("the machine stalled its CPUs for 2")
                && e.reason.contains("over the time they ran it came to 10.0"),
            "{}",
            e.reason
        );
        for seen in [Vec::new(), every(1.5)] {
            let e = on(&seen);
            assert_eq!(e.verdict, Verdict::Fail, "{}: {}", seen.len(), e.reason);
        }
    }

    /// A 1 ms quota's hog charged +50 ms by a stall at 0.5 s repays it: no CPU until 5.5 s.
    /// Its shortfall over 1-4 s is the stall's (inconclusive); without the stall, a failure.
    #[test]
    fn a_stalls_debt_explains_a_shortfall_after_it() {
        let text = "duration = \"4s\"\ninterval = \"10ms\"\n[[container]]\n\
                    workload = { kind = \"cpu\" }\ncpu_quota = 1000\n[[expect]]\n\
                    metric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\nmin = 0.008\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let rec = |stall: bool| -> (Vec<Sample>, Vec<HostSample>) {
            let samples = (0..=400u64)
                .map(|i| {
                    let t = i as f64 * 0.01;
                    let used = match (stall, t) {
                        (true, t) if t >= 0.5 => 0.005 + 0.05,
                        (_, t) => t * 0.01,
                    }
                    .min(if stall { 1.0 } else { t * 0.002 + 0.0 });
                    Sample {
                        t,
                        cpu_ns: Some((used * 1e9) as u64),
                        nr_periods: Some(i / 10),
                        nr_throttled: Some(i / 10),
                        cpu_pressure_us: Some(i * 9_000),
                        ..Default::default()
                    }
                })
                .collect();
            let host = (0..=40u64)
                .map(|i| HostSample {
                    t: i as f64 * 0.1,
                    busy_ns: vec![0; 3],
                    idle_ns: vec![i * 100_000_000; 3],
                    ..Default::default()
                })
                .collect();
            (samples, host)
        };
        let limits = [crate::runner::LimitPoint {
            t: 0.0,
            container: sc.containers[0].name.clone(),
            cpus: Some(0.01),
            memory_bytes: None,
        }];
        let on = |r: &(Vec<Sample>, Vec<HostSample>)| {
            judge(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V2, true),
                &Recording {
                    samples: &r.0,
                    host: &r.1,
                    limits: &limits,
                    steps: &[],
                    died: None,
                    stalls: &[],
                    unstarted: &[],
                },
            )
            .expectations[0]
                .clone()
        };
        let e = on(&rec(true));
        assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.reason);
        assert!(
            e.reason
                .contains("a debt its quota of 0.010 CPU repays until 5.5s"),
            "{}",
            e.reason
        );
        let e = on(&rec(false));
        assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
        assert!(!e.reason.contains("stalled"), "{}", e.reason);
    }

    /// A stall's debt explains a shortfall only as far as it goes: a hog held at its 0.35
    /// quota, 0.3 CPU short of 0.665 for 3 s, beside a 41.5 ms charge at 2.4 s, fails (the
    /// quota, not the stall, held it: tests/must-fail's a-cpu-above-quota beside a busy loop,
    /// judged inconclusive before).
    #[test]
    fn a_small_stall_does_not_excuse_a_large_shortfall() {
        let text = "duration = \"4s\"\ninterval = \"10ms\"\n[[container]]\n\
                    workload = { kind = \"cpu\", workers = 2 }\ncpu_quota = 35000\n\
                    [[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\n\
                    approx = 0.7\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let samples: Vec<Sample> = (0..=400u64)
            .map(|i| {
                let t = i as f64 * 0.01;
                let charge = if t >= 2.4 { 0.0415 } else { 0.0 };
                Sample {
                    t,
                    cpu_ns: Some(((t * 0.35 + charge) * 1e9) as u64),
                    nr_periods: Some(i / 10),
                    nr_throttled: Some(i / 10),
                    cpu_pressure_us: Some(i * 9_000),
                    ..Default::default()
                }
            })
            .collect();
        let host: Vec<HostSample> = (0..=400u64)
            .map(|i| HostSample {
                t: i as f64 * 0.01,
                busy_ns: vec![i * 10_000_000, i * 3_500_000],
                idle_ns: vec![0, i * 6_500_000],
                ..Default::default()
            })
            .collect();
        let limits = [crate::runner::LimitPoint {
            t: 0.0,
            container: sc.containers[0].name.clone(),
            cpus: Some(0.35),
            memory_bytes: None,
        }];
        let j = judge(
            &sc,
            debian_tick(limitcheck_cgroup::Version::V1, true),
            &Recording {
                samples: &samples,
                host: &host,
                limits: &limits,
                steps: &[],
                died: None,
                stalls: &[],
                unstarted: &[],
            },
        );
        let e = &j.expectations[0];
        assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
        assert!(e.reason.contains("it got its quota"), "{}", e.reason);
    }

    /// A workload the runner named as still starting is judged only from its first counters
    /// on: a window that opens before them is inconclusive, saying when they came (or that
    /// none did); one that opens after them is judged; and a workload not named is judged
    /// whatever its counters (a container without them, `command`, never waits).
    #[test]
    fn a_workload_still_starting_is_not_judged_before_it_reports() {
        let text = "duration = \"4s\"\ninterval = \"100ms\"\n[[container]]\n\
                    workload = { kind = \"cpu\" }\ncpu_quota = 10000\n[[expect]]\n\
                    metric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\nmin = 0.09\n\
                    [[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"2.5s\", \"4s\"]\n\
                    min = 0.09\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        // The start uses the quota as the hog would: only the counters tell them apart.
        let samples = |up: Option<f64>| -> Vec<Sample> {
            (0..=40u64)
                .map(|i| {
                    let t = i as f64 * 0.1;
                    Sample {
                        t,
                        cpu_ns: Some((t * 0.1 * 1e9) as u64),
                        bogo_ops: up.filter(|&u| t >= u).map(|u| ((t - u) * 1e4) as u64),
                        ..Default::default()
                    }
                })
                .collect()
        };
        let on = |rows: &[Sample], unstarted: &[String]| {
            judge(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V2, false),
                &Recording {
                    samples: rows,
                    host: &[],
                    limits: &[],
                    steps: &[],
                    died: None,
                    stalls: &[],
                    unstarted,
                },
            )
        };
        let named = [sc.containers[0].name.clone()];
        let late = on(&samples(Some(2.0)), &named);
        assert_eq!(late.expectations[0].verdict, Verdict::Inconclusive);
        assert!(
            late.expectations[0]
                .reason
                .contains("which came 2.000 s after the clock started"),
            "{}",
            late.expectations[0].reason
        );
        assert_eq!(
            late.expectations[1].verdict,
            Verdict::Pass,
            "{:?}",
            late.expectations[1]
        );
        assert_eq!(late.verdict, Verdict::Inconclusive);
        let never = on(&samples(None), &named);
        for e in &never.expectations {
            assert_eq!(e.verdict, Verdict::Inconclusive);
            assert!(
                e.reason.contains("never started in the run"),
                "{}",
                e.reason
            );
        }
        // Not named: judged as measured, counters or not.
        for rows in [samples(None), samples(Some(2.0))] {
            let j = on(&rows, &[]);
            assert!(
                j.expectations.iter().all(|e| e.verdict == Verdict::Pass),
                "{j:?}"
            );
        }
    }

    /// Halved at 2 s, a hog gets 0.3 CPU for 0.45 s before its 0.5: settling is late. With
    /// other processes taking both CPUs meanwhile and the hog waiting, that is the host's
    /// doing (inconclusive); with the CPUs idle, it is a failure.
    #[test]
    fn a_starved_container_settling_late_is_inconclusive() {
        let text = "duration = \"4s\"\ninterval = \"50ms\"\n[[container]]\n\
                    workload = { kind = \"cpu\", workers = 2 }\ncpus = 1.0\n[[step]]\n\
                    at = \"2s\"\nset = { cpus = 0.5 }\n[[expect]]\nmetric = \"cpu.usage\"\n\
                    window = [\"2s\", \"4s\"]\napprox = 0.5\ntolerance = \"5%\"\n\
                    settles_within = \"300ms\"\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let rate = |t: f64| match t {
            t if t < 2.0 => 1.0,
            t if t < 2.45 => 0.3,
            _ => 0.5,
        };
        // The busy loops take what the hog leaves of the two CPUs until 2.8 s.
        let load = |t: f64| match t {
            t if t < 2.0 => 0.0,
            t if t < 2.45 => 1.7,
            t if t < 2.8 => 1.5,
            _ => 0.0,
        };
        let rec = |foreign: f64| -> (Vec<Sample>, Vec<HostSample>) {
            let (mut used, mut other, mut samples, mut host) = (0.0, 0.0, vec![], vec![]);
            for i in 0..=80u64 {
                let t = i as f64 * 0.05;
                if i > 0 {
                    used += rate(t - 0.025) * 0.05;
                    other += load(t - 0.025) * foreign * 0.05;
                }
                samples.push(Sample {
                    t,
                    cpu_ns: Some((used * 1e9) as u64),
                    nr_periods: Some(i / 2),
                    nr_throttled: Some(0),
                    cpu_pressure_us: Some((t * 0.8 * 1e6) as u64),
                    ..Default::default()
                });
                let busy = (used + other) / 2.0;
                host.push(HostSample {
                    t,
                    busy_ns: vec![(busy * 1e9) as u64; 2],
                    idle_ns: vec![((t - busy) * 1e9) as u64; 2],
                    ..Default::default()
                });
            }
            (samples, host)
        };
        let step = done_step(
            &sc.containers[0].name,
            2.0,
            Some(2.0),
            "set cpus 0.5",
            crate::model::Via::File,
        );
        let limits = [
            crate::runner::LimitPoint {
                t: 0.0,
                container: sc.containers[0].name.clone(),
                cpus: Some(1.0),
                memory_bytes: None,
            },
            crate::runner::LimitPoint {
                t: 2.0,
                container: sc.containers[0].name.clone(),
                cpus: Some(0.5),
                memory_bytes: None,
            },
        ];
        let on = |r: &(Vec<Sample>, Vec<HostSample>)| {
            let j = judge(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V1, false),
                &Recording {
                    samples: &r.0,
                    host: &r.1,
                    limits: &limits,
                    steps: std::slice::from_ref(&step),
                    died: None,
                    stalls: &[],
                    unstarted: &[],
                },
            );
            j.expectations[0].clone()
        };
        let starved = on(&rec(1.0));
        assert_eq!(starved.verdict, Verdict::Inconclusive, "{}", starved.reason);
        assert!(
            starved.reason.starts_with("settled after")
                && starved.reason.contains("short: starved by the host"),
            "{}",
            starved.reason
        );
        let idle = on(&rec(0.0));
        assert_eq!(idle.verdict, Verdict::Fail, "{}", idle.reason);
        assert!(idle.reason.starts_with("settled after"), "{}", idle.reason);
    }

    /// A change through a runtime or an engine that returned 0.4 s after it was asked (docker
    /// update) is judged for settling from when it returned; the kernel then took 0.1 s.
    #[test]
    fn settling_counts_from_when_the_change_returned() {
        let text = "duration = \"4s\"\n[[container]]\nworkload = { kind = \"cpu\", workers = 2 }\n\
                    cpus = 1.0\n[[step]]\nat = \"2s\"\nset = { cpus = 0.5 }\nvia = \"runtime\"\n\
                    [[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"2s\", \"4s\"]\napprox = 0.5\n\
                    tolerance = \"5%\"\nsettles_within = \"300ms\"\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        // 1 CPU until 2.5 s (the update returned at 2.4, the kernel's next period), then 0.5.
        let samples: Vec<Sample> = (0..=80)
            .map(|i| {
                let t = i as f64 * 0.05;
                let ns = if t <= 2.5 { t } else { 2.5 + (t - 2.5) * 0.5 };
                Sample {
                    t,
                    cpu_ns: Some((ns * 1e9) as u64),
                    ..Default::default()
                }
            })
            .collect();
        let step = |done: Option<f64>| {
            done_step(
                &sc.containers[0].name,
                2.0,
                done,
                "set cpus 0.5",
                crate::model::Via::Runtime,
            )
        };
        let judge_with = |done: Option<f64>| {
            let steps = [step(done)];
            first_judged(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V1, false),
                &samples,
                &steps,
            )
        };
        let e = judge_with(Some(2.4));
        assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
        assert!(e.reason.contains("counted from 2.400s"), "{}", e.reason);
        assert!(e.settled_after_s.unwrap() < 0.3, "{:?}", e.settled_after_s);
        // Counted from when it was asked, the engine's 0.4 s would be judged as the kernel's:
        // the window would take in 0.2 s of the old limit and fail.
        let e = judge_with(None);
        assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
        assert!(e.reason.contains("is outside 0.500"), "{}", e.reason);
    }

    /// freeze-kill-100 on the v1 lane: a pod of 100 tasks paused at 1 s, the freezer
    /// reporting them frozen at 1.027 s; they used 12.7 ms in the 1.0-1.1 s sample interval
    /// (entering the freezer) and nothing after. Its window opens at the pause step: judged
    /// from the first sample after the freezer's report it holds (none used); counted from
    /// the sample before the report, as when the step recorded no return, it took in the
    /// freezing and fails.
    #[test]
    fn a_window_a_step_moved_opens_at_the_first_sample_after_the_step_returned() {
        let text = "duration = \"2s\"\n[[container]]\nworkload = { kind = \"cpu\" }\n\
                    [[step]]\nat = \"1s\"\naction = \"pause\"\n\
                    [[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"1.9s\"]\nmax = 0.01\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let samples: Vec<Sample> = (0..=20)
            .map(|i| {
                let t = i as f64 * 0.1;
                let ms = if i <= 10 { t * 30.0 } else { 30.0 + 12.7 };
                Sample {
                    t,
                    cpu_ns: Some((ms * 1e6) as u64),
                    ..Default::default()
                }
            })
            .collect();
        let judge_with = |done: Option<f64>| {
            let steps = [done_step(
                &sc.containers[0].name,
                1.0,
                done,
                "pause",
                crate::model::Via::File,
            )];
            first_judged(
                &sc,
                debian_tick(limitcheck_cgroup::Version::V1, true),
                &samples,
                &steps,
            )
        };
        let e = judge_with(Some(1.027));
        assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
        assert_eq!(e.measured, Some(0.0), "{}", e.reason);
        let e = judge_with(None);
        assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
        assert!(e.measured.unwrap() > 0.014, "{}", e.reason);
    }

    /// memory-oom-group in Debian 6.12's v2 guest: the memory.max write of the step at 1 s
    /// reclaimed and OOM-killed (five kills, seen at 1.171 s) before it returned at 1.2 s. A
    /// count of OOM kills over a window opening at the step counts them; cpu.usage's window
    /// over the same step still opens once the write returned.
    #[test]
    fn oom_kills_a_step_makes_before_it_returns_count_in_its_window() {
        let text = "duration = \"3s\"\n[[container]]\nworkload = { kind = \"vm\", bytes = \"100M\" }\n\
                    exit = \"oom-kill\"\n\
                    [[step]]\nat = \"1s\"\nset = { memory = \"200M\" }\n\
                    [[expect]]\nmetric = \"memory.oom_kills\"\nwindow = [\"1s\", \"3s\"]\nmin = 1\n";
        let sc = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let samples: Vec<Sample> = [0.911, 1.072, 1.171, 1.229, 1.3, 2.0, 3.0]
            .iter()
            .map(|&t| Sample {
                t,
                cpu_ns: Some((t * 1e9) as u64),
                oom_kills: Some(if t > 1.1 { 5 } else { 0 }),
                ..Default::default()
            })
            .collect();
        let steps = [done_step(
            &sc.containers[0].name,
            1.0,
            Some(1.2),
            "set memory 200 MiB",
            crate::model::Via::File,
        )];
        let e = first_judged(
            &sc,
            debian_tick(limitcheck_cgroup::Version::V2, true),
            &samples,
            &steps,
        );
        assert_eq!(e.verdict, Verdict::Pass, "{}", e.reason);
        assert_eq!(e.measured, Some(5.0), "{}", e.reason);
    }

    #[test]
    fn a_shortfall_the_foreign_load_explains_is_inconclusive() {
        // Two hogs, no limit, min 1.7; one foreign CPU: they got 1.0.
        let s = scenario("", "min = 1.7");
        let e = judged(&s, None, recorded(1.0, 1.0, 0.8, 0.0));
        assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.reason);
        assert!(e.reason.contains("foreign load 1.00 CPU"), "{}", e.reason);
        let cx = e.context.unwrap();
        assert!((cx.host.foreign_cpus - 1.0).abs() < 0.01 && cx.host.idle_cpus < 0.01);
        // The same shortfall on an idle host is a failure: the CPUs were free.
        let e = judged(&s, None, recorded(1.0, 0.0, 0.8, 0.0));
        assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
        assert!(e.reason.contains("the CPUs were free"), "{}", e.reason);
    }

    /// One expectation judged on a recording: its verdict and a phrase of its reason.
    fn check(
        limits: &str,
        expect: &str,
        quota: Option<f64>,
        rec: (Vec<Sample>, Vec<HostSample>),
        verdict: Verdict,
        phrase: &str,
    ) {
        let e = judged(&scenario(limits, expect), quota, rec);
        assert_eq!(e.verdict, verdict, "{}", e.reason);
        assert!(e.reason.contains(phrase), "{}", e.reason);
    }

    #[test]
    fn a_shortfall_the_quota_explains_fails_however_busy_the_host() {
        // 0.7 expected under a 0.35 quota, the host full of foreign load.
        let tol = "approx = 0.7\ntolerance = \"5%\"";
        let rec = recorded(0.35, 1.65, 1.0, 1.0);
        check(
            "cpus = 0.35",
            tol,
            Some(0.35),
            rec,
            Verdict::Fail,
            "got its quota",
        );
    }

    #[test]
    fn a_ceiling_is_judged_on_the_measurement_alone() {
        let rec = recorded(0.5, 1.5, 1.0, 0.0);
        check(
            "cpus = 0.6",
            "max = 0.3",
            Some(0.6),
            rec,
            Verdict::Fail,
            "above the maximum",
        );
    }

    #[test]
    fn throttled_below_quota_is_the_kernel_losing_runtime() {
        // Throttled in every period yet 0.6 of a 1.5 quota, even with foreign load.
        let tol = "approx = 1.5\ntolerance = \"5%\"";
        let rec = recorded(0.6, 1.4, 1.0, 1.0);
        check(
            "cpus = 1.5",
            tol,
            Some(1.5),
            rec,
            Verdict::Fail,
            "slice-expiry",
        );
    }

    /// A duty-cycle container (its own CPU, 1) short by 0.007 of its minimum while foreign load
    /// shared that CPU: it waited 4% of the time, more than the 0.7% its shortfall needs.
    #[test]
    fn a_sleeper_short_by_a_little_need_only_have_waited_a_little() {
        let rec = recorded(0.167, 0.5, 0.04, 0.0);
        check(
            "cpuset = \"1\"",
            "min = 0.174",
            None,
            rec,
            Verdict::Inconclusive,
            "starved",
        );
    }

    #[test]
    fn a_container_that_did_not_wait_was_not_starved() {
        // Short by 0.5 with foreign load on the host, but its tasks never waited for a CPU.
        let rec = recorded(1.0, 1.0, 0.01, 0.0);
        check("", "min = 1.5", None, rec, Verdict::Fail, "hardly waited");
        // Short by 0.03 beside 1.0 CPU of foreign load, with 0.05 CPU idle: the idle slivers
        // are scheduling noise beside a busy loop, not the cause: starved, inconclusive.
        let rec = recorded(0.95, 1.0, 0.8, 0.0);
        check(
            "",
            "min = 0.98",
            None,
            rec,
            Verdict::Inconclusive,
            "starved by the host",
        );
        // The same shortfall with the CPUs idle and nothing else running still fails.
        let rec = recorded(0.95, 0.0, 0.8, 0.0);
        check(
            "",
            "min = 0.98",
            None,
            rec,
            Verdict::Fail,
            "the CPUs were free",
        );
    }

    #[test]
    fn without_host_samples_a_shortfall_fails_and_says_why() {
        let s = scenario("", "min = 1.7");
        let (samples, _) = recorded(1.0, 1.0, 0.8, 0.0);
        let e = judged(&s, None, (samples, Vec::new()));
        assert_eq!(e.verdict, Verdict::Fail);
        assert!(e.reason.contains("no host samples"), "{}", e.reason);
    }

    #[test]
    fn the_scenario_verdict_ranks_fail_error_inconclusive_pass() {
        let text = "duration = \"4s\"\n[[container]]\nworkload = { kind = \"cpu\", workers = 2 }\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\nmin = 1.7\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"4s\"]\nmax = 1.9\n";
        let s = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let on = |rec: (Vec<Sample>, Vec<HostSample>)| {
            let r = Recording {
                samples: &rec.0,
                host: &rec.1,
                limits: &[],
                steps: &[],
                died: None,
                stalls: &[],
                unstarted: &[],
            };
            let here = debian_tick(limitcheck_cgroup::Version::V1, false);
            judge(&s, here, &r)
        };
        let j = on(recorded(1.0, 1.0, 0.8, 0.0));
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reason.contains("starved by the host"), "{}", j.reason);
        // Both CPUs of the 2-CPU host (more would be a stalled machine's charge, not a use).
        let j = on(recorded(2.0, 0.0, 0.8, 0.0));
        assert_eq!(j.verdict, Verdict::Fail);
    }

    /// Bursty foreign load (a build's compilers coming and going): in every other 0.1 s
    /// interval the container gets its whole 1.0-CPU quota and is throttled while 0.5 CPU
    /// stays idle; in the others it is starved to 0.8 with no CPU idle. It measures 0.9.
    #[test]
    fn idle_time_while_throttled_is_not_a_free_cpu() {
        let s = scenario("cpus = 1.0", "approx = 1.0\ntolerance = \"5%\"");
        let (mut samples, mut host) = (Vec::new(), Vec::new());
        let (mut cpu, mut thr, mut busy, mut idle) = (0.0, 0, 0.0, 0.0);
        for i in 0..=40u64 {
            let t = i as f64 * 0.1;
            samples.push(Sample {
                t,
                cpu_ns: Some((cpu * 1e9) as u64),
                nr_periods: Some(i),
                nr_throttled: Some(thr),
                cpu_pressure_us: Some((t * 0.9e6) as u64),
                ..Default::default()
            });
            host.push(HostSample {
                t,
                busy_ns: vec![(busy * 1e9 / 2.0) as u64; 2],
                idle_ns: vec![(idle * 1e9 / 2.0) as u64; 2],
                ..Default::default()
            });
            let (c, foreign) = if i % 2 == 0 { (1.0, 0.5) } else { (0.8, 1.2) };
            cpu += c * 0.1;
            busy += (c + foreign) * 0.1;
            idle += (2.0 - c - foreign) * 0.1;
            thr += u64::from(i % 2 == 0);
        }
        let e = judged(&s, Some(1.0), (samples, host));
        let cx = e.context.clone().unwrap();
        assert!((cx.host.idle_cpus - 0.25).abs() < 0.02, "{cx:?}");
        assert!(cx.host.idle_unthrottled_cpus.unwrap() < 0.01, "{cx:?}");
        assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.reason);
    }

    /// 128M expected held, 64M measured: inconclusive when the host was short of memory
    /// (memory PSI 30%), a failure when it was not and its CPUs were free.
    #[test]
    fn a_memory_shortfall_under_host_memory_pressure_is_inconclusive() {
        let text = "duration = \"4s\"\n[[container]]\nworkload = { kind = \"vm\", workers = 1, bytes = \"128M\", keep = true }\n[[expect]]\nmetric = \"memory.usage\"\nwindow = [\"1s\", \"4s\"]\napprox = \"128M\"\ntolerance = \"5%\"\n";
        let s = crate::model::parse(text, std::path::Path::new("t.toml")).unwrap();
        let run = |pressure: f64| {
            let (mut samples, mut host) = recorded(0.3, 0.0, 0.0, 0.0);
            for x in &mut samples {
                x.memory = Some(64 << 20);
            }
            for h in &mut host {
                h.memory_pressure_us = Some((h.t * pressure * 1e6) as u64);
                h.mem_available = Some(20 << 30);
            }
            judged(&s, None, (samples, host))
        };
        let e = run(0.3);
        assert_eq!(e.verdict, Verdict::Inconclusive, "{}", e.reason);
        assert!(e.reason.contains("short of memory"), "{}", e.reason);
        let e = run(0.0);
        assert_eq!(e.verdict, Verdict::Fail, "{}", e.reason);
    }

    /// The engine's figures are set beside the kernel's over the same window (readings from
    /// 1.5 s in), mean or max as the metric is, agreeing within 5% (0.05 CPU, 8 MiB, a task);
    /// the verdict is not touched; a metric docker stats does not show gets none.
    #[test]
    fn the_engines_own_figures_are_set_beside_the_kernels() {
        use limitcheck_record::EngineSample;
        let exp = |metric: &str, measured: f64| ExpectResult {
            metric: metric.into(),
            container: "hog".into(),
            window: [2.0, 6.0],
            expected: None,
            tolerance: None,
            min: None,
            max: None,
            measured: Some(measured),
            settled_after_s: None,
            verdict: Verdict::Pass,
            reason: String::new(),
            context: None,
            engine: None,
            only: None,
        };
        let at = |t: f64, cpus: f64, mib: u64, pids: u64| EngineSample {
            t,
            container: "hog".into(),
            cpus: Some(cpus),
            memory_bytes: Some(mib << 20),
            pids: Some(pids),
        };
        let samples = vec![
            at(2.5, 9.0, 900, 90), // too early in the window: covers the second before it
            at(4.0, 0.50, 100, 3),
            at(5.0, 0.52, 104, 4),
            at(6.5, 9.0, 900, 90), // after the window
            EngineSample {
                container: "other".into(),
                ..at(4.5, 9.0, 900, 90)
            },
        ];
        let mut es = vec![
            exp("cpu.usage", 0.50),
            exp("cpu.usage", 0.80),
            exp("memory.usage.max", 104.0 * 1048576.0),
            exp("pids.current", 3.5),
            exp("memory.oom_kills", 3.0),
        ];
        beside_engine(&mut es, &samples, "docker stats");
        let v = es[0].engine.as_ref().unwrap();
        assert_eq!((v.source.as_str(), v.readings), ("docker stats", 2));
        assert!((v.value - 0.51).abs() < 1e-9 && v.agrees, "{v:?}");
        let v = es[1].engine.as_ref().unwrap();
        assert!(!v.agrees, "0.51 beside 0.80 is a finding: {v:?}");
        assert_eq!(es[1].verdict, Verdict::Pass);
        let v = es[2].engine.as_ref().unwrap();
        assert_eq!(v.value, 104.0 * 1048576.0);
        assert!(v.agrees);
        // A stream whose first reading came inside the window: that one is not a figure.
        let late = [
            at(4.0, 0.36, 100, 3),
            at(5.0, 0.99, 100, 3),
            at(5.5, 1.01, 100, 3),
        ];
        let mut one = vec![exp("cpu.usage", 1.0)];
        beside_engine(&mut one, &late, "podman stats");
        let v = one[0].engine.as_ref().unwrap();
        assert_eq!(v.readings, 2, "{v:?}");
        assert!((v.value - 1.0).abs() < 1e-9 && v.agrees, "{v:?}");
        // A max the engine's sparse readings fall short of agrees; one above the kernel's
        // does not.
        let mut peaks = vec![
            exp("memory.usage.max", 256.0 * 1048576.0),
            exp("memory.usage.max", 90.0 * 1048576.0),
        ];
        beside_engine(&mut peaks, &samples, "podman stats");
        assert!(peaks[0].engine.as_ref().unwrap().agrees);
        assert!(!peaks[1].engine.as_ref().unwrap().agrees);
        assert!(es[3].engine.as_ref().unwrap().agrees);
        assert!(es[4].engine.is_none());
    }
}
