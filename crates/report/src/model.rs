//! summary.json as the reports read it (schema 1, written by limitcheck-scenario's runner and
//! documented in scenarios/README.md).

use std::path::Path;

use serde::Deserialize;

use crate::ReportError;

/// The run.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    /// Schema version.
    pub schema: u32,
    /// Run id.
    pub run_id: String,
    /// The host it ran on.
    pub host: Host,
    /// Scenarios in the order run.
    pub scenarios: Vec<Scenario>,
    /// Set when the run was made inside a VM by `limitcheck vm` (the host fills it in).
    #[serde(default)]
    pub vm: Option<Vm>,
}

/// How `limitcheck vm` ran it.
#[derive(Debug, Clone, Deserialize)]
pub struct Vm {
    /// The kernel file booted.
    pub kernel_file: String,
    /// kvm or tcg.
    pub accel: String,
    /// Why that accelerator.
    pub accel_reason: String,
    /// How the guest ended.
    pub outcome: String,
}

/// Host facts.
#[derive(Debug, Clone, Deserialize)]
pub struct Host {
    /// Kernel release.
    pub kernel: String,
    /// v1, hybrid or v2.
    pub cgroup_mode: String,
    /// CPUs.
    pub cpus: usize,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// limitcheck's version.
    pub limitcheck_version: String,
}

/// One scenario's result.
#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// pass, fail, inconclusive, skip, error.
    pub verdict: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Duration, s.
    pub duration_s: f64,
    /// Sampling interval, s.
    pub interval_s: f64,
    /// Samples taken.
    #[serde(default)]
    pub samples: usize,
    /// Mean and worst sample lateness, ms.
    #[serde(default)]
    pub jitter_ms: [f64; 2],
    /// Container names.
    #[serde(default)]
    pub containers: Vec<String>,
    /// Judged expectations.
    #[serde(default)]
    pub expectations: Vec<Expectation>,
    /// Steps.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Limits read back at the start and after each step.
    #[serde(default)]
    pub limits: Vec<LimitPoint>,
    /// Every attempt (more than one when an inconclusive verdict was retried); the last is
    /// this result.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
}

/// One attempt at a scenario.
#[derive(Debug, Clone, Deserialize)]
pub struct Attempt {
    /// Its verdict.
    pub verdict: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

impl Scenario {
    /// `inconclusive, inconclusive, pass`: the attempts' verdicts, when there was a retry.
    pub fn attempts_text(&self) -> Option<String> {
        (self.attempts.len() > 1).then(|| {
            self.attempts
                .iter()
                .map(|a| a.verdict.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

/// A container's limits at a moment.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitPoint {
    /// Seconds from the start.
    pub t: f64,
    /// Container.
    pub container: String,
    /// CPU limit in CPUs.
    pub cpus: Option<f64>,
    /// Memory limit, bytes.
    pub memory_bytes: Option<u64>,
}

/// A judged expectation.
#[derive(Debug, Clone, Deserialize)]
pub struct Expectation {
    /// Metric name.
    pub metric: String,
    /// Container.
    pub container: String,
    /// [from, to], s.
    pub window: [f64; 2],
    /// Expected value.
    pub expected: Option<f64>,
    /// `{"relative": 0.05}` or `{"absolute": 1.0}`.
    pub tolerance: Option<serde_json::Value>,
    /// Lower bound.
    pub min: Option<f64>,
    /// Upper bound.
    pub max: Option<f64>,
    /// What was measured.
    pub measured: Option<f64>,
    /// Settling time, s.
    pub settled_after_s: Option<f64>,
    /// pass, fail, skip, error.
    pub verdict: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

impl Expectation {
    /// Whether values are bytes.
    pub fn is_bytes(&self) -> bool {
        self.metric.starts_with("memory.")
            && !matches!(self.metric.as_str(), "memory.oom_kills" | "memory.failcnt")
    }

    /// A value in the metric's unit, for people: `256.0 MiB`, `0.500`.
    pub fn show(&self, v: f64) -> String {
        if self.is_bytes() {
            format!("{:.1} MiB", v / 1048576.0)
        } else {
            format!("{v:.3}")
        }
    }

    /// The band around `expected` in the metric's unit.
    pub fn band(&self) -> Option<f64> {
        let e = self.expected?;
        let t = self.tolerance.as_ref()?;
        if let Some(r) = t.get("relative").and_then(|v| v.as_f64()) {
            Some(r * e.abs())
        } else {
            t.get("absolute").and_then(|v| v.as_f64())
        }
    }

    /// What was expected, in words: `1.000 ± 0.050`, `≤ 256.0 MiB`, `≥ 0.800`.
    pub fn expected_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = self.expected {
            match self.band() {
                Some(b) => parts.push(format!("{} ± {}", self.show(e), self.show(b))),
                None => parts.push(self.show(e)),
            }
        }
        if let Some(m) = self.min {
            parts.push(format!("≥ {}", self.show(m)));
        }
        if let Some(m) = self.max {
            parts.push(format!("≤ {}", self.show(m)));
        }
        parts.join(", ")
    }

    /// A stable name: `cpu.usage of hog over 2-6 s`.
    pub fn name(&self) -> String {
        format!(
            "{} of {} over {}-{} s",
            self.metric, self.container, self.window[0], self.window[1]
        )
    }
}

/// A step as recorded.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    /// Planned time, s.
    pub at: f64,
    /// Actual time, s.
    pub actual: Option<f64>,
    /// Container.
    pub container: String,
    /// What was done.
    pub what: String,
    /// file or runtime.
    pub via: String,
    /// Expected outcome.
    pub expected: String,
    /// Outcome.
    pub outcome: Option<String>,
    /// pass, fail, skip.
    pub verdict: String,
}

/// Reads a run's summary.json: `path` is the run directory or the file itself.
pub fn load(path: &Path) -> Result<Summary, ReportError> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let err = |reason: String| ReportError::Read {
        path: file.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(&file).map_err(|e| err(e.to_string()))?;
    let s: Summary = serde_json::from_str(&text)
        .map_err(|e| err(format!("not a limitcheck summary.json: {e}")))?;
    if s.schema != 1 {
        return Err(err(format!(
            "schema {} is not one this limitcheck reads (1)",
            s.schema
        )));
    }
    Ok(s)
}
