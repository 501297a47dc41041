//! Judging expectations on recorded samples: pure functions, so that recorded samples can be
//! replayed into them (the report path's deterministic mode).

use serde::Serialize;

use crate::model::{Expect, Metric, Tolerance};
use crate::sample::Sample;

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Measured as expected.
    Pass,
    /// Measured otherwise.
    Fail,
    /// Not applicable here (the reason says why); never counts as a pass.
    Skip,
    /// Could not be judged or run.
    Error,
}

/// The judged expectation, as summary.json lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectResult {
    /// Metric name.
    pub metric: String,
    /// Container name.
    pub container: String,
    /// [from, to] in seconds.
    pub window: [f64; 2],
    /// Expected value, if `approx` was given.
    pub expected: Option<f64>,
    /// Tolerance, as given.
    pub tolerance: Option<Tolerance>,
    /// Lower bound.
    pub min: Option<f64>,
    /// Upper bound.
    pub max: Option<f64>,
    /// What was measured.
    pub measured: Option<f64>,
    /// For `settles_within`: seconds from the window's start until within tolerance.
    pub settled_after_s: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
}

fn at_or_before(samples: &[&Sample], t: f64) -> Option<usize> {
    samples.iter().rposition(|s| s.t <= t + 1e-9)
}

/// The metric over `[a, b]` from one container's samples (in time order), or why not.
pub fn measure(metric: Metric, samples: &[&Sample], a: f64, b: f64) -> Result<f64, String> {
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
    let delta = |f: &dyn Fn(&Sample) -> Option<u64>| -> Result<(f64, f64), String> {
        let (x, y) = ends.ok_or("fewer than two samples in the window")?;
        let first = (x..=y).find_map(|i| f(samples[i]).map(|v| (v, samples[i].t)));
        let last = (x..=y)
            .rev()
            .find_map(|i| f(samples[i]).map(|v| (v, samples[i].t)));
        match (first, last) {
            (Some((v0, t0)), Some((v1, t1))) if t1 > t0 => {
                Ok((v1.saturating_sub(v0) as f64, t1 - t0))
            }
            (Some(_), Some(_)) => Err("fewer than two samples in the window".into()),
            _ => Err("this host does not report it".into()),
        }
    };
    let values = |f: &dyn Fn(&Sample) -> Option<u64>| -> Result<Vec<f64>, String> {
        let v: Vec<f64> = inside
            .iter()
            .filter_map(|s| f(s))
            .map(|x| x as f64)
            .collect();
        if v.is_empty() {
            Err(if inside.is_empty() {
                "no sample in the window".into()
            } else {
                "this host does not report it".into()
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
        .map_err(|e| {
            if e.contains("does not report") {
                "per-CPU usage exists only on cgroup v1 (cpuacct.usage_percpu)".into()
            } else {
                e
            }
        }),
        Metric::CpuThrottled => {
            let (p, _) = delta(&|s| s.nr_periods)?;
            let (t, _) = delta(&|s| s.nr_throttled)?;
            Ok(if p > 0.0 { t / p } else { 0.0 })
        }
        Metric::CpuThrottledTime => delta(&|s| s.throttled_ns).map(|(d, dt)| d / 1e9 / dt),
        Metric::MemoryUsage => values(&|s| s.memory).map(mean),
        Metric::MemoryUsageMax => values(&|s| s.memory).map(maxv),
        Metric::MemoryWorkingSet => values(&|s| s.working_set).map(mean),
        Metric::MemoryPeak => match ib.and_then(|i| samples[i].peak) {
            Some(p) => Ok(p as f64),
            None => values(&|s| s.memory).map(maxv),
        },
        Metric::MemoryOomKills => delta(&|s| s.oom_kills).map(|(d, _)| d),
        Metric::MemoryFailcnt => delta(&|s| s.failcnt).map(|(d, _)| d),
        Metric::PidsCurrent => values(&|s| s.pids).map(mean),
        Metric::PidsMaxSeen => values(&|s| s.pids).map(maxv),
        Metric::WorkloadRespawns => delta(&|s| s.respawns).map(|(d, _)| d),
        Metric::WorkloadFailedForks => delta(&|s| s.failed_forks).map(|(d, _)| d),
        Metric::WorkloadOpsPerS => delta(&|s| s.bogo_ops).map(|(d, dt)| d / dt),
    }
}

/// Whether `m` meets the expectation's bounds; the reason in words either way.
pub fn within(e: &Expect, m: f64) -> (bool, String) {
    let show = |v: f64| {
        if e.metric.is_bytes() {
            format!("{:.1} MiB", v / 1048576.0)
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

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn means_and_missing_data() {
        let s = samples(1.0);
        let r: Vec<&Sample> = s.iter().collect();
        assert_eq!(measure(Metric::MemoryUsage, &r, 1.0, 3.0).unwrap(), 120.0);
        assert_eq!(
            measure(Metric::MemoryUsageMax, &r, 1.0, 3.0).unwrap(),
            130.0
        );
        assert!(measure(Metric::CpuUsageOn(0), &r, 1.0, 3.0)
            .unwrap_err()
            .contains("v1"));
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
}
