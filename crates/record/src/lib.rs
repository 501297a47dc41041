//! The run record: one typed model of what a `limitcheck run` writes into its run directory and
//! what every reader reads back — the reports, `compare`, the VM lane, the replay tests.
//!
//! | file | type | written by |
//! |---|---|---|
//! | `summary.json` | [`Summary`] (schema [`SCHEMA`]) | [`write_run`], [`write_summary`] |
//! | `samples.csv` | rows of [`Sample`], one per container per sample | [`write_run`] / [`read_samples`] |
//! | `host.csv` | rows of [`HostSample`], one per sample | [`write_run`] / [`read_host`] |
//! | `running-samples.csv`, `running-host.csv` | the running scenario's rows, as taken | [`Journal`] / [`load_run`] |
//!
//! Everything here is Serialize + Deserialize and round-trips (see the tests). Fields added
//! after schema 1 was first written default when absent, so older runs still load.

#![deny(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The summary.json schema this crate writes and reads.
pub const SCHEMA: u32 = 1;

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Measured as expected.
    Pass,
    /// Measured otherwise: the limit was not enforced as expected.
    Fail,
    /// Measured short, with the host's counters showing load that is not limitcheck's took
    /// what was missing: neither a pass nor a failed limit. Run it again on a quieter host.
    Inconclusive,
    /// Not applicable here (the reason says why); never counts as a pass.
    Skip,
    /// Could not be judged or run.
    Error,
}

impl Verdict {
    /// The word summary.json uses: `pass`, `fail`, `inconclusive`, `skip`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Skip => "skip",
            Verdict::Error => "error",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tolerance around an expected value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tolerance {
    /// A fraction of the expected value (`"5%"` is 0.05).
    Relative(f64),
    /// An absolute amount in the metric's unit.
    Absolute(f64),
}

impl Tolerance {
    /// The band around `v` in the metric's unit.
    pub fn band(self, v: f64) -> f64 {
        match self {
            Tolerance::Relative(r) => r * v.abs(),
            Tolerance::Absolute(a) => a,
        }
    }
}

/// How a step changes a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Write the cgroup file directly.
    File,
    /// Ask the runtime (`update`, as `docker update`).
    Runtime,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::File => "file",
            Via::Runtime => "runtime",
        })
    }
}

/// One reading of one container (a row of samples.csv).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Page cache, bytes (memory.stat `file` on v2, `total_cache` on v1).
    #[serde(default)]
    pub file: Option<u64>,
    /// Swap in use, bytes.
    #[serde(default)]
    pub swap: Option<u64>,
    /// Bytes read from block devices so far (v2 io.stat, v1 blkio io_service_bytes).
    #[serde(default)]
    pub io_read_bytes: Option<u64>,
    /// Bytes written to block devices so far.
    #[serde(default)]
    pub io_write_bytes: Option<u64>,
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

/// The live counters a workload (`limitcheck stress --counters FILE`) keeps in its container,
/// rewritten every tick: written by the workload, read by the sampler, one type for both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Seconds since the workload started.
    #[serde(default)]
    pub elapsed_s: f64,
    /// Work done so far.
    #[serde(default)]
    pub bogo_ops: u64,
    /// Each worker's share of it.
    #[serde(default)]
    pub per_worker: Vec<u64>,
    /// Workers started again after they died.
    #[serde(default)]
    pub respawns: u64,
    /// fork(2) calls refused (the fork stressor; none for the others).
    #[serde(default)]
    pub failed_forks: Option<u64>,
    /// Processes alive (the fork stressor).
    #[serde(default)]
    pub alive: Option<u64>,
}

/// The key of the check that ends a live counters file: `,"check":<fnv-1a 64 of the text before>}`.
const LIVE_CHECK: &str = ",\"check\":";

impl Counters {
    /// The live counters file's text for write number `seq`: this record as one JSON object,
    /// `{"seq":N,...,"check":H}`, where `H` is the 64-bit FNV-1a hash of the text before
    /// `,"check"`, padded with spaces to at least `width` bytes.
    ///
    /// The writer overwrites the file in place (no truncation, no rename), so a write allocates
    /// no page once the file has its size: the workload's own bookkeeping then charges nothing
    /// to a memory cgroup that sits at its limit. A reader can see a write half done (tmpfs
    /// copies without a lock the reader takes); the check tells, see [`Counters::from_live`].
    pub fn to_live(&self, seq: u64, width: usize) -> Vec<u8> {
        #[derive(Serialize)]
        struct Live<'a> {
            seq: u64,
            #[serde(flatten)]
            counters: &'a Counters,
        }
        let mut text = serde_json::to_vec(&Live {
            seq,
            counters: self,
        })
        .expect("counters serialize");
        text.pop(); // the closing brace
        let check = fnv1a(&text);
        text.extend_from_slice(format!("{LIVE_CHECK}{check}}}\n").as_bytes());
        if text.len() < width {
            text.resize(width, b' ');
        }
        text
    }

    /// Reads a live counters file's text: `None` when it is not whole (a write seen half
    /// done: its check does not match) or not a counters record.
    pub fn from_live(bytes: &[u8]) -> Option<Counters> {
        let text = std::str::from_utf8(bytes).ok()?.trim_end();
        let at = text.rfind(LIVE_CHECK)?;
        let check: u64 = text[at + LIVE_CHECK.len()..]
            .strip_suffix('}')?
            .parse()
            .ok()?;
        if fnv1a(&text.as_bytes()[..at]) != check {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One reading of the host (a row of host.csv).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostSample {
    /// Seconds since the containers started.
    pub t: f64,
    /// Each online CPU's busy time (user, nice, system, irq, softirq, steal), ns.
    pub busy_ns: Vec<u64>,
    /// Each online CPU's idle time (idle and iowait), ns.
    pub idle_ns: Vec<u64>,
    /// limitcheck's own CPU time (all its threads: the sampler, the runner), ns.
    pub self_ns: u64,
    /// Host-wide CPU pressure, `some` total, µs (`None`: the kernel has no PSI).
    pub cpu_pressure_us: Option<u64>,
    /// Host-wide memory pressure, `some` total, µs.
    pub memory_pressure_us: Option<u64>,
    /// MemAvailable, bytes.
    pub mem_available: Option<u64>,
}

/// A time one CPU ran nothing, not even limitcheck's real-time witness thread on it: the
/// machine stalled that CPU (a vCPU its host stopped). Seconds since the containers started
/// (negative: before); the stall lies within `from`-`to` (the witness's last wake-up before
/// it and its first after it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MachineStall {
    /// The CPU.
    pub cpu: u32,
    /// The last time it was seen running, s.
    pub from: f64,
    /// The first time it was seen running again, s.
    pub to: f64,
}

/// The host over one window, on one set of CPUs, in CPUs (CPU-seconds per second).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// The CPUs considered (the container's cpuset, or every online CPU).
    pub cpus: Vec<u32>,
    /// Busy time on them of everything that is not limitcheck (its containers and itself).
    pub foreign_cpus: f64,
    /// Idle time on them.
    pub idle_cpus: f64,
    /// limitcheck's own process (its sampler, stall witness and runner) on them, shared out
    /// in proportion: the instrument's cost, neither the scenario's containers nor the host's.
    #[serde(default)]
    pub self_cpus: f64,
    /// Idle time on them in the sample intervals in which the container was not throttled
    /// (all of them without a quota): CPUs free while nothing but the scheduler kept the
    /// container off them. Idle time while it is throttled is the quota doing its job.
    #[serde(default)]
    pub idle_unthrottled_cpus: Option<f64>,
    /// Host-wide CPU pressure: the share of the window in which some task waited for a CPU.
    pub cpu_pressure: Option<f64>,
    /// Host-wide memory pressure: the share in which some task waited for memory.
    pub memory_pressure: Option<f64>,
    /// The least MemAvailable seen, bytes.
    pub mem_available_min: Option<u64>,
}

/// What the host and the container's cgroup did over an expectation's window: the evidence a
/// shortfall is judged on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The host on the container's CPUs.
    #[serde(flatten)]
    pub host: Load,
    /// The container's CPU usage over the window, CPUs.
    pub usage_cpus: Option<f64>,
    /// Its CPU quota in the window (the least in effect), CPUs.
    pub quota_cpus: Option<f64>,
    /// The share of its CFS periods that were throttled.
    pub throttled: Option<f64>,
    /// Its cgroup's CPU pressure (PSI `some`): the share of the window its tasks waited for a
    /// CPU.
    pub container_cpu_pressure: Option<f64>,
    /// Its cgroup's memory pressure.
    pub container_memory_pressure: Option<f64>,
}

/// A judged expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default)]
    pub settled_after_s: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words.
    #[serde(default)]
    pub reason: String,
    /// What the host did meanwhile (None where no host samples were taken).
    #[serde(default)]
    pub context: Option<Context>,
    /// What the container engine itself reported for the same container and window (`docker
    /// stats`), beside the kernel's measurement; None without an engine, or for a metric it
    /// does not report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineView>,
    /// Where it applies, as the scenario's `only` said (`v1`, `v2`, `native`, `emulated`);
    /// None: everywhere. Part of its [`name`](Self::name): two expectations on one metric,
    /// container and window that differ in it are two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
}

/// An engine's own figure for an expectation (`docker stats`' CPU %, memory, PIDs over the
/// window), beside the kernel's: a disagreement is a finding about what the engine shows its
/// users, not a verdict on the limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineView {
    /// Where it comes from: `docker stats`, `podman stats`.
    pub source: String,
    /// Its value, in the metric's unit (CPUs, bytes, tasks).
    pub value: f64,
    /// How many of its readings fell in the window.
    pub readings: usize,
    /// Whether it agrees with the kernel's measurement (see the judge's `beside_engine`).
    pub agrees: bool,
}

/// One reading of an engine's own figures for a container (a line of `docker stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineSample {
    /// Seconds since the containers started, when the line was read.
    pub t: f64,
    /// The scenario's container name.
    pub container: String,
    /// CPU use, in CPUs (docker's `CPUPerc` / 100).
    pub cpus: Option<f64>,
    /// Memory use, bytes (docker's `MemUsage`, which leaves out inactive page cache).
    pub memory_bytes: Option<u64>,
    /// Tasks (docker's `PIDs`).
    pub pids: Option<u64>,
}

impl ExpectResult {
    /// Whether values are bytes.
    pub fn is_bytes(&self) -> bool {
        self.metric.starts_with("memory.")
            && !matches!(self.metric.as_str(), "memory.oom_kills" | "memory.failcnt")
    }

    /// The metric's unit, as machine formats name it (KCIDB's `number.unit`, LAVA's
    /// `--units`): `CPUs`, `bytes`, `tasks`, `ratio` (throttled periods), `s/s` (throttled
    /// seconds per second), `events` (OOM kills, failcnt, respawns, refused forks), `ops/s`.
    pub fn unit(&self) -> &'static str {
        let m = self.metric.as_str();
        if self.is_bytes() {
            "bytes"
        } else if m.starts_with("io.") {
            "bytes/s"
        } else if m == "cpu.throttled" {
            "ratio"
        } else if m == "cpu.throttled_time" {
            "s/s"
        } else if m.starts_with("cpu.") {
            "CPUs"
        } else if m.starts_with("pids.") {
            "tasks"
        } else if m == "workload.ops_per_s" {
            "ops/s"
        } else {
            "events"
        }
    }

    /// A value in the metric's unit, for people: `256.0 MiB`, `0.500`.
    pub fn show(&self, v: f64) -> String {
        if self.is_bytes() {
            format!("{:.1} MiB", v / 1048576.0)
        } else if self.metric.starts_with("io.") {
            format!("{:.2} MiB/s", v / 1048576.0)
        } else {
            format!("{v:.3}")
        }
    }

    /// The band around `expected` in the metric's unit.
    pub fn band(&self) -> Option<f64> {
        Some(self.tolerance?.band(self.expected?))
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

    /// A stable name: `cpu.usage of hog over 2-6 s`, `... (only v2)` when marked `only`.
    pub fn name(&self) -> String {
        match &self.only {
            Some(o) => format!("{} (only {o})", self.base_name()),
            None => self.base_name(),
        }
    }

    /// The name without `only`: what runs before it was recorded named the expectation.
    pub fn base_name(&self) -> String {
        format!(
            "{} of {} over {}-{} s",
            self.metric, self.container, self.window[0], self.window[1]
        )
    }
}

/// A step as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// Planned time, s.
    pub at: f64,
    /// Actual time of the write, s (None when skipped).
    pub actual: Option<f64>,
    /// When the change returned, s: the write, or the runtime's or engine's `update`, done
    /// (None when skipped, and in older runs). Settling is counted from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<f64>,
    /// Container name.
    pub container: String,
    /// What was done, e.g. `cpu.cfs_quota_us = 50000` or `set cpus 0.5`.
    pub what: String,
    /// `file` or `runtime`.
    pub via: Via,
    /// Expected outcome.
    pub expected: String,
    /// What happened: `ok` or the errno's name (`EBUSY`), or `error: ...`.
    pub outcome: Option<String>,
    /// Limits the change did not name that it changed anyway, `before -> after` (the update
    /// that resets the CPU period, runc#4225, or clears the burst, runc#4210): each fails it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Limits a runtime's or engine's update named, said it applied, and the kernel does not
    /// hold afterwards, `asked, read back` (youki 0.7's `update` reads only `--pids-limit` and
    /// `-r`, and exits 0 on `--cpu-quota`): each fails it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applied: Vec<String>,
    /// Verdict.
    pub verdict: Verdict,
}

/// A container's limits at a moment, read back from its cgroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitPoint {
    /// Seconds from the start.
    pub t: f64,
    /// Container name.
    pub container: String,
    /// CPU quota / period, in CPUs (`None`: no quota).
    pub cpus: Option<f64>,
    /// Memory limit, bytes (`None`: none).
    pub memory_bytes: Option<u64>,
}

/// What stopped a container's workload before the scenario's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Its process ended (exited, or was killed).
    #[default]
    Ended,
    /// Something outside the scenario froze its cgroup.
    FrozenFromOutside,
    /// Something outside the scenario removed one of its cgroup directories.
    CgroupRemoved,
}

/// A container whose process ended before the scenario did, when the scenario did not allow
/// it, or that something outside the run froze or took the cgroup of: the scenario is an
/// error and nothing is judged (a dead or disturbed workload is not a failed limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Death {
    /// Container name.
    pub container: String,
    /// What happened to it.
    #[serde(default)]
    pub cause: Cause,
    /// When it was seen ended, s from the start.
    pub t: f64,
    /// How: `exited with status 2`, `was killed by signal 9 (SIGKILL)`, `was killed by the OOM
    /// killer (...)`, `freezer.state reads FROZEN`, `/sys/fs/cgroup/cpu/... is gone`.
    pub how: String,
    /// What the scenario allowed instead (`exit = 0 is allowed`), if anything.
    pub allowed: Option<String>,
    /// Its log file.
    pub log: PathBuf,
    /// The last lines of its log, joined with ` | `.
    pub log_tail: String,
}

/// One attempt at a scenario (the last is the scenario's result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Its verdict.
    pub verdict: Verdict,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Its judged expectations.
    #[serde(default)]
    pub expectations: Vec<ExpectResult>,
}

/// A scenario's result: summary.json's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Name.
    pub name: String,
    /// File.
    pub file: PathBuf,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Why (for skip, error, inconclusive and fail).
    #[serde(default)]
    pub reason: String,
    /// Sampling interval, s.
    pub interval_s: f64,
    /// Duration, s.
    pub duration_s: f64,
    /// Samples taken.
    #[serde(default)]
    pub samples: usize,
    /// Mean and worst lateness of samples, ms.
    #[serde(default)]
    pub jitter_ms: [f64; 2],
    /// The names samples are recorded under, in order: the containers, then the groups
    /// (`[[group]]`, sampled the same way; listed again in `groups`).
    #[serde(default)]
    pub containers: Vec<String>,
    /// Which of `containers` are groups: cgroups limitcheck made to hold containers (a pod,
    /// a QoS class, a trunk).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Per container, in `containers`' order: milliseconds from the start of its `create` to
    /// the return of its `start` (the two calls' time; the runner creates every container,
    /// then starts each), as the harness sees it with the runtime it ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_ms: Vec<f64>,
    /// Judged expectations.
    #[serde(default)]
    pub expectations: Vec<ExpectResult>,
    /// Steps.
    #[serde(default)]
    pub steps: Vec<StepResult>,
    /// The CPU and memory limits of each container as read back from the kernel at the start
    /// and after every step (what the charts draw as limit lines).
    #[serde(default)]
    pub limits: Vec<LimitPoint>,
    /// Every attempt, in order (more than one when an inconclusive verdict was retried).
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The container that died early, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub died: Option<Death>,
    /// The runtime it ran on, when that is its own (`runtime = "runc"` in a run that named
    /// none), not the run's ([`HostInfo::runtime`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// What reported the engine's own figures (`docker stats`), when an engine ran the
    /// containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_source: Option<String>,
    /// The engine's own readings, as they came, for every container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engine_samples: Vec<EngineSample>,
    /// The run ended during it (SIGINT or SIGTERM, or a kill read back from its journal): its
    /// verdict is an error and its samples are those taken before the end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The times a CPU stalled during the run, as limitcheck's witness threads saw them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stalls: Vec<MachineStall>,
    /// Why stalls could not be watched for (then none are listed), if they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_witness: Option<String>,
    /// The containers whose built-in workload had not reported its first counters when the
    /// clock started (the runner waits for them up to a deadline): still starting under
    /// their limits (an emulated CPU under a small quota takes seconds to start a process).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unstarted: Vec<String>,
    /// The samples (in samples.csv, not in summary.json).
    #[serde(skip)]
    pub sample_rows: Vec<Sample>,
    /// The host's samples (in host.csv).
    #[serde(skip)]
    pub host_rows: Vec<HostSample>,
}

impl ScenarioResult {
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

    /// What the stall witness saw: `the machine stalled a CPU 3 times (the longest 84 ms, CPU
    /// 2 at 3.30s)`, or why it could not watch; `None` when it saw nothing.
    pub fn stalls_text(&self) -> Option<String> {
        if let Some(why) = &self.stall_witness {
            return Some(format!("stalls not watched for: {why}"));
        }
        let worst = self
            .stalls
            .iter()
            .max_by(|a, b| (a.to - a.from).total_cmp(&(b.to - b.from)))?;
        Some(format!(
            "the machine stalled a CPU {} time(s) (the longest {:.0} ms, CPU {} at {:.2}s)",
            self.stalls.len(),
            (worst.to - worst.from) * 1e3,
            worst.cpu,
            worst.from
        ))
    }

    /// This result as an attempt.
    pub fn attempt(&self) -> Attempt {
        Attempt {
            verdict: self.verdict,
            reason: self.reason.clone(),
            expectations: self.expectations.clone(),
        }
    }
}

/// The host facts summary.json records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// `uname -r`.
    pub kernel: String,
    /// v1, hybrid or v2.
    pub cgroup_mode: String,
    /// Online CPUs.
    pub cpus: usize,
    /// MemTotal, bytes.
    pub memory_bytes: u64,
    /// limitcheck's version.
    pub limitcheck_version: String,
    /// The runtime the containers ran with: `lcrun (library)`, or another one's `--version`
    /// line and path (`runc version 1.1.5+ds1 (/usr/sbin/runc)`). Older runs lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Whether its CPUs are emulated (QEMU's TCG, as in `limitcheck vm`'s lanes): timer
    /// ticks come late there, and expectations marked `only = "native"` are skipped.
    #[serde(default)]
    pub emulated: bool,
    /// The kernel's tick, ns (1/HZ: the resolution of CLOCK_MONOTONIC_COARSE); 0 if unknown.
    #[serde(default)]
    pub tick_ns: u64,
}

impl HostInfo {
    /// "2 CPUs", or "2 emulated CPUs (QEMU's TCG)" where they were.
    pub fn cpus_text(&self) -> String {
        if self.emulated {
            format!("{} emulated CPUs (QEMU's TCG)", self.cpus)
        } else {
            format!("{} CPUs", self.cpus)
        }
    }
}

/// How `limitcheck vm` ran a run (filled in on the host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmInfo {
    /// The kernel file booted.
    pub kernel_file: String,
    /// kvm or tcg.
    pub accel: String,
    /// Why that accelerator.
    pub accel_reason: String,
    /// How the guest ended.
    pub outcome: String,
}

/// summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Schema version of this file ([`SCHEMA`]).
    pub schema: u32,
    /// The run's id.
    pub run_id: String,
    /// The host.
    pub host: HostInfo,
    /// One entry per scenario, in the order run.
    pub scenarios: Vec<ScenarioResult>,
    /// The scenarios the run set out to run, in order (empty in records older than this field).
    #[serde(default)]
    pub planned: Vec<String>,
    /// Whether the run finished. False from its first write until its last: a run killed in
    /// between (SIGKILL, a crash, a guest that panicked) or interrupted keeps it false, and the
    /// reports say it was interrupted. Records older than this field are taken as finished.
    #[serde(default = "finished")]
    pub complete: bool,
    /// Set when the run was made inside a VM by `limitcheck vm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<VmInfo>,
    /// The scenario running when this was written, as it stood at its start (its samples go
    /// to the [`Journal`] as they are taken); none between scenarios. [`load_run`] turns it
    /// into an interrupted result with the journal's samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<ScenarioResult>,
}

fn finished() -> bool {
    true
}

impl Summary {
    /// `interrupted after 3 of 15 scenarios (not run: a, b, ...)` for a run that did not finish.
    pub fn interrupted_text(&self) -> Option<String> {
        if self.complete {
            return None;
        }
        let cut = self
            .scenarios
            .iter()
            .find(|s| s.interrupted)
            .or(self.running.as_ref());
        let done: Vec<&str> = self
            .scenarios
            .iter()
            .chain(cut)
            .map(|s| s.name.as_str())
            .collect();
        let missing: Vec<&str> = self
            .planned
            .iter()
            .map(String::as_str)
            .filter(|p| !done.contains(p))
            .collect();
        Some(format!(
            "interrupted{} after {} of {} scenario(s){}",
            cut.map_or(String::new(), |c| format!(" during {}", c.name)),
            self.scenarios.iter().filter(|s| !s.interrupted).count(),
            self.planned.len().max(self.scenarios.len()),
            if missing.is_empty() {
                String::new()
            } else {
                format!(" (not run: {})", missing.join(", "))
            }
        ))
    }
}

/// What went wrong reading or writing a record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not what a run writes.
    #[error("{}{}: {reason}", path.display(), line.map_or(String::new(), |l| format!(":{l}")))]
    Format {
        /// The file.
        path: PathBuf,
        /// The line, where known.
        line: Option<u64>,
        /// What is wrong.
        reason: String,
    },
}

fn format_err(path: &Path, line: Option<u64>, reason: impl Into<String>) -> RecordError {
    RecordError::Format {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

fn csv_err(path: &Path, e: csv::Error) -> RecordError {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => RecordError::Io {
            path: path.to_path_buf(),
            source,
        },
        k => format_err(path, line, format!("{k:?}")),
    }
}

/// Reads summary.json: `path` is the run directory or the file itself.
pub fn load_summary(path: &Path) -> Result<Summary, RecordError> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| RecordError::Io {
        path: file.clone(),
        source,
    })?;
    let s: Summary = serde_json::from_str(&text).map_err(|e| {
        format_err(
            &file,
            Some(e.line() as u64),
            format!("not a limitcheck summary.json: {e}"),
        )
    })?;
    if s.schema != SCHEMA {
        return Err(format_err(
            &file,
            None,
            format!(
                "schema {} is not one this limitcheck reads ({SCHEMA})",
                s.schema
            ),
        ));
    }
    Ok(s)
}

const SAMPLE_COLUMNS: [&str; 23] = [
    "scenario",
    "container",
    "t_s",
    "jitter_ms",
    "cpu_ns",
    "nr_periods",
    "nr_throttled",
    "throttled_ns",
    "memory_bytes",
    "working_set_bytes",
    "peak_bytes",
    "oom_kills",
    "failcnt",
    "pids",
    "bogo_ops",
    "respawns",
    "failed_forks",
    "cpu_pressure_us",
    "memory_pressure_us",
    "file_bytes",
    "io_read_bytes",
    "io_write_bytes",
    "swap_bytes",
];

fn cell(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// `dir/.NAME.tmp`: where NAME is written before it is renamed into place.
fn temp_of(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    file.with_file_name(format!(".{name}.tmp"))
}

fn sample_head(ncpu: usize) -> Vec<String> {
    let mut head: Vec<String> = SAMPLE_COLUMNS.iter().map(|c| c.to_string()).collect();
    head.extend((0..ncpu).map(|i| format!("cpu{i}_ns")));
    head
}

fn sample_record(scenario: &str, containers: &[String], x: &Sample, ncpu: usize) -> Vec<String> {
    let mut rec = vec![
        scenario.to_string(),
        containers.get(x.container).cloned().unwrap_or_default(),
        format!("{:.6}", x.t),
        format!("{:.3}", x.jitter_ms),
    ];
    rec.extend(
        [
            x.cpu_ns,
            x.nr_periods,
            x.nr_throttled,
            x.throttled_ns,
            x.memory,
            x.working_set,
            x.peak,
            x.oom_kills,
            x.failcnt,
            x.pids,
            x.bogo_ops,
            x.respawns,
            x.failed_forks,
            x.cpu_pressure_us,
            x.memory_pressure_us,
            x.file,
            x.io_read_bytes,
            x.io_write_bytes,
            x.swap,
        ]
        .map(cell),
    );
    rec.extend((0..ncpu).map(|i| cell(x.per_cpu_ns.as_ref().and_then(|v| v.get(i).copied()))));
    rec
}

fn host_head(ncpu: usize) -> Vec<String> {
    let mut head: Vec<String> = [
        "scenario",
        "t_s",
        "self_ns",
        "cpu_pressure_us",
        "memory_pressure_us",
        "mem_available_bytes",
    ]
    .map(String::from)
    .to_vec();
    for i in 0..ncpu {
        head.push(format!("cpu{i}_busy_ns"));
        head.push(format!("cpu{i}_idle_ns"));
    }
    head
}

fn host_record(scenario: &str, h: &HostSample, ncpu: usize) -> Vec<String> {
    let mut rec = vec![
        scenario.to_string(),
        format!("{:.6}", h.t),
        h.self_ns.to_string(),
        cell(h.cpu_pressure_us),
        cell(h.memory_pressure_us),
        cell(h.mem_available),
    ];
    for i in 0..ncpu {
        rec.push(cell(h.busy_ns.get(i).copied()));
        rec.push(cell(h.idle_ns.get(i).copied()));
    }
    rec
}

/// Writes a CSV file whole to its temporary name and renames it into place.
fn write_csv(
    file: &Path,
    head: Vec<String>,
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), RecordError> {
    let io = |source| RecordError::Io {
        path: file.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_path(temp_of(file)).map_err(|e| csv_err(file, e))?;
    w.write_record(&head).map_err(|e| csv_err(file, e))?;
    for rec in rows {
        w.write_record(&rec).map_err(|e| csv_err(file, e))?;
    }
    w.flush().map_err(io)?;
    drop(w);
    std::fs::rename(temp_of(file), file).map_err(io)
}

/// Writes summary.json, samples.csv and host.csv into `dir`. Each is written to a temporary
/// file and renamed into place, so that a kill at any moment leaves each file whole (the old
/// one or the new); summary.json goes last, after the samples it describes. Then the journal
/// ([`Journal`]) is removed: written only between two writes of the summary, it is of a
/// scenario this summary has recorded, or of an attempt it dropped.
pub fn write_run(dir: &Path, summary: &Summary) -> Result<(), RecordError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RecordError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;

    let ncpu = summary
        .scenarios
        .iter()
        .flat_map(|s| s.sample_rows.iter())
        .filter_map(|x| x.per_cpu_ns.as_ref().map(Vec::len))
        .max()
        .unwrap_or(0);
    write_csv(
        &dir.join("samples.csv"),
        sample_head(ncpu),
        summary.scenarios.iter().flat_map(|s| {
            s.sample_rows
                .iter()
                .map(move |x| sample_record(&s.name, &s.containers, x, ncpu))
        }),
    )?;

    let ncpu = summary
        .scenarios
        .iter()
        .flat_map(|s| s.host_rows.iter())
        .map(|h| h.busy_ns.len())
        .max()
        .unwrap_or(0);
    write_csv(
        &dir.join("host.csv"),
        host_head(ncpu),
        summary.scenarios.iter().flat_map(|s| {
            s.host_rows
                .iter()
                .map(move |h| host_record(&s.name, h, ncpu))
        }),
    )?;

    write_summary(dir, summary)
}

/// Writes summary.json alone (temp + rename), then removes the journal: for a summary whose
/// scenarios' samples are already in samples.csv and host.csv (the mark that a scenario
/// starts, or that the run finished), so they are not rewritten.
pub fn write_summary(dir: &Path, summary: &Summary) -> Result<(), RecordError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RecordError::Io { path, source }
    };
    let file = dir.join("summary.json");
    let json = serde_json::to_string_pretty(summary).expect("a summary serializes") + "\n";
    std::fs::write(temp_of(&file), json).map_err(io(&file))?;
    std::fs::rename(temp_of(&file), &file).map_err(io(&file))?;
    // A journal is begun after the summary naming its scenario as running is written: any
    // journal here now is of a scenario (or attempt) this summary has recorded or dropped.
    for f in JOURNAL_FILES {
        match std::fs::remove_file(dir.join(f)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&dir.join(f))(e)),
            _ => {}
        }
    }
    Ok(())
}

/// The journal's files in a run directory: the running scenario's samples and host samples,
/// in samples.csv's and host.csv's columns.
pub const JOURNAL_FILES: [&str; 2] = ["running-samples.csv", "running-host.csv"];

/// The samples of the scenario that is running, appended as they are taken (one write per
/// sample, no buffering past it), so a run killed ten minutes into a scenario keeps ten minutes
/// of samples: [`load_run`] reads them back for the scenario [`Summary::running`] names. Begun
/// after that summary is written, afresh for each attempt; the next [`write_run`] removes it.
pub struct Journal {
    scenario: String,
    containers: Vec<String>,
    samples: (PathBuf, Option<csv::Writer<std::fs::File>>),
    host: (PathBuf, Option<csv::Writer<std::fs::File>>),
    ncpu: [usize; 2],
}

impl Journal {
    /// A journal in `dir` for the scenario `scenario` with these containers (files are made
    /// at the first sample).
    pub fn new(dir: &Path, scenario: &str, containers: &[String]) -> Journal {
        Journal {
            scenario: scenario.to_string(),
            containers: containers.to_vec(),
            samples: (dir.join(JOURNAL_FILES[0]), None),
            host: (dir.join(JOURNAL_FILES[1]), None),
            ncpu: [0, 0],
        }
    }

    /// Appends one round of samples: each container's, and the host's taken with them (a
    /// fast round, of CPU figures alone, has none; the first round must have it).
    pub fn append(
        &mut self,
        host: Option<&HostSample>,
        samples: &[Sample],
    ) -> Result<(), RecordError> {
        fn open(
            slot: &mut (PathBuf, Option<csv::Writer<std::fs::File>>),
            head: Vec<String>,
        ) -> Result<&mut csv::Writer<std::fs::File>, RecordError> {
            if slot.1.is_none() {
                let mut w = csv::Writer::from_path(&slot.0).map_err(|e| csv_err(&slot.0, e))?;
                w.write_record(&head).map_err(|e| csv_err(&slot.0, e))?;
                slot.1 = Some(w);
            }
            Ok(slot.1.as_mut().expect("just opened"))
        }
        if self.samples.1.is_none() {
            self.ncpu = [
                samples
                    .iter()
                    .filter_map(|x| x.per_cpu_ns.as_ref().map(Vec::len))
                    .max()
                    .unwrap_or(0),
                host.map_or(0, |h| h.busy_ns.len()),
            ];
        }
        let [ncpu, host_ncpu] = self.ncpu;
        let path = self.samples.0.clone();
        let w = open(&mut self.samples, sample_head(ncpu))?;
        for x in samples {
            w.write_record(sample_record(&self.scenario, &self.containers, x, ncpu))
                .map_err(|e| csv_err(&path, e))?;
        }
        // Written out with each full round (at least every 10 ms): a fast round's rows wait
        // in the buffer for the next.
        let Some(host) = host else {
            return Ok(());
        };
        w.flush()
            .map_err(|source| RecordError::Io { path, source })?;
        let path = self.host.0.clone();
        let w = open(&mut self.host, host_head(host_ncpu))?;
        w.write_record(host_record(&self.scenario, host, host_ncpu))
            .map_err(|e| csv_err(&path, e))?;
        w.flush().map_err(|source| RecordError::Io { path, source })
    }
}

/// A CSV file read by column name.
struct Table {
    path: PathBuf,
    head: csv::StringRecord,
    rows: csv::Reader<std::io::Cursor<Vec<u8>>>,
}

impl Table {
    /// Opens `path`; `torn` (a journal a kill may have cut mid-line) drops an unfinished last
    /// line instead of calling the file broken.
    fn open(path: &Path, torn: bool) -> Result<Table, RecordError> {
        let mut bytes = std::fs::read(path).map_err(|source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if torn {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.truncate(keep);
        }
        let mut rows = csv::Reader::from_reader(std::io::Cursor::new(bytes));
        let head = rows.headers().map_err(|e| csv_err(path, e))?.clone();
        Ok(Table {
            path: path.to_path_buf(),
            head,
            rows,
        })
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.head.iter().position(|h| h == name)
    }

    fn count(&self, pattern: impl Fn(usize) -> String) -> usize {
        (0..)
            .take_while(|&i| self.col(&pattern(i)).is_some())
            .count()
    }
}

/// One row of a [`Table`], with typed getters that name the file, line and column on error.
struct Row<'a> {
    table: &'a Table,
    rec: csv::StringRecord,
}

impl Row<'_> {
    fn line(&self) -> Option<u64> {
        self.rec.position().map(|p| p.line())
    }

    fn text(&self, name: &str) -> &str {
        self.table
            .col(name)
            .and_then(|i| self.rec.get(i))
            .unwrap_or("")
    }

    fn num(&self, name: &str) -> Result<Option<u64>, RecordError> {
        let v = self.text(name);
        if v.is_empty() {
            return Ok(None);
        }
        v.parse().map(Some).map_err(|_| {
            format_err(
                &self.table.path,
                self.line(),
                format!("{name} = {v:?} is not a count"),
            )
        })
    }

    fn real(&self, name: &str) -> Result<f64, RecordError> {
        let v = self.text(name);
        v.parse().map_err(|_| {
            format_err(
                &self.table.path,
                self.line(),
                format!("{name} = {v:?} is not a number"),
            )
        })
    }
}

fn rows(t: &mut Table) -> Result<Vec<csv::StringRecord>, RecordError> {
    let path = t.path.clone();
    t.rows
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| csv_err(&path, e))
}

/// Reads samples.csv back: each row's scenario and sample, the container's index found in
/// `containers(scenario)` (the scenario's container names, as summary.json lists them).
pub fn read_samples(
    path: &Path,
    containers: &dyn Fn(&str) -> Vec<String>,
) -> Result<Vec<(String, Sample)>, RecordError> {
    samples_of(path, false, containers)
}

fn samples_of(
    path: &Path,
    torn: bool,
    containers: &dyn Fn(&str) -> Vec<String>,
) -> Result<Vec<(String, Sample)>, RecordError> {
    let mut t = Table::open(path, torn)?;
    let ncpu = t.count(|i| format!("cpu{i}_ns"));
    let mut out = Vec::new();
    for rec in rows(&mut t)? {
        let r = Row { table: &t, rec };
        let scenario = r.text("scenario").to_string();
        let name = r.text("container");
        let container = containers(&scenario)
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| {
                format_err(
                    path,
                    r.line(),
                    format!("scenario {scenario:?} has no container {name:?}"),
                )
            })?;
        let mut per_cpu = Vec::new();
        for i in 0..ncpu {
            per_cpu.extend(r.num(&format!("cpu{i}_ns"))?);
        }
        out.push((
            scenario,
            Sample {
                t: r.real("t_s")?,
                container,
                jitter_ms: r.real("jitter_ms")?,
                cpu_ns: r.num("cpu_ns")?,
                per_cpu_ns: (!per_cpu.is_empty()).then_some(per_cpu),
                nr_periods: r.num("nr_periods")?,
                nr_throttled: r.num("nr_throttled")?,
                throttled_ns: r.num("throttled_ns")?,
                memory: r.num("memory_bytes")?,
                working_set: r.num("working_set_bytes")?,
                file: r.num("file_bytes")?,
                io_read_bytes: r.num("io_read_bytes")?,
                io_write_bytes: r.num("io_write_bytes")?,
                swap: r.num("swap_bytes")?,
                peak: r.num("peak_bytes")?,
                oom_kills: r.num("oom_kills")?,
                failcnt: r.num("failcnt")?,
                pids: r.num("pids")?,
                bogo_ops: r.num("bogo_ops")?,
                respawns: r.num("respawns")?,
                failed_forks: r.num("failed_forks")?,
                cpu_pressure_us: r.num("cpu_pressure_us")?,
                memory_pressure_us: r.num("memory_pressure_us")?,
            },
        ));
    }
    Ok(out)
}

/// Reads host.csv back: each scenario's host samples, in the file's order.
pub fn read_host(path: &Path) -> Result<Vec<(String, HostSample)>, RecordError> {
    host_of(path, false)
}

fn host_of(path: &Path, torn: bool) -> Result<Vec<(String, HostSample)>, RecordError> {
    let mut t = Table::open(path, torn)?;
    let ncpu = t.count(|i| format!("cpu{i}_busy_ns"));
    let mut out = Vec::new();
    for rec in rows(&mut t)? {
        let r = Row { table: &t, rec };
        let mut h = HostSample {
            t: r.real("t_s")?,
            self_ns: r.num("self_ns")?.unwrap_or(0),
            cpu_pressure_us: r.num("cpu_pressure_us")?,
            memory_pressure_us: r.num("memory_pressure_us")?,
            mem_available: r.num("mem_available_bytes")?,
            ..Default::default()
        };
        for i in 0..ncpu {
            h.busy_ns
                .push(r.num(&format!("cpu{i}_busy_ns"))?.unwrap_or(0));
            h.idle_ns
                .push(r.num(&format!("cpu{i}_idle_ns"))?.unwrap_or(0));
        }
        out.push((r.text("scenario").to_string(), h));
    }
    Ok(out)
}

/// Reads a whole run (its directory, or its summary.json): the summary with each scenario's
/// samples and host samples filled in from samples.csv and host.csv (left empty when a file
/// is absent), and a scenario a kill cut short read back from its journal.
pub fn load_run(path: &Path) -> Result<Summary, RecordError> {
    let mut s = load_summary(path)?;
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    let names: Vec<(String, Vec<String>)> = s
        .scenarios
        .iter()
        .map(|x| (x.name.clone(), x.containers.clone()))
        .collect();
    let containers = |n: &str| {
        names
            .iter()
            .find(|(x, _)| x == n)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    let samples = dir.join("samples.csv");
    if samples.exists() {
        for (n, row) in read_samples(&samples, &containers)? {
            if let Some(sc) = s.scenarios.iter_mut().find(|x| x.name == n) {
                sc.sample_rows.push(row);
            }
        }
    }
    let host = dir.join("host.csv");
    if host.exists() {
        for (n, row) in read_host(&host)? {
            if let Some(sc) = s.scenarios.iter_mut().find(|x| x.name == n) {
                sc.host_rows.push(row);
            }
        }
    }
    if let Some(mut r) = s.running.take() {
        // Killed during a scenario: what its journal kept is its record.
        let journal = dir.join(JOURNAL_FILES[0]);
        if journal.exists() {
            let names = r.containers.clone();
            r.sample_rows = samples_of(&journal, true, &|_| names.clone())?
                .into_iter()
                .map(|(_, x)| x)
                .collect();
        }
        let journal = dir.join(JOURNAL_FILES[1]);
        if journal.exists() {
            r.host_rows = host_of(&journal, true)?
                .into_iter()
                .map(|(_, h)| h)
                .collect();
        }
        r.samples = r.sample_rows.len();
        let last = r.sample_rows.last().map_or(0.0, |x| x.t);
        r.verdict = Verdict::Error;
        r.reason = format!(
            "interrupted {last:.1} s into its {:.1} s: the run ended during it ({} sample(s) \
             kept, nothing judged)",
            r.duration_s, r.samples
        );
        r.interrupted = true;
        s.scenarios.push(r);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {

    fn live_sample() -> Counters {
        Counters {
            elapsed_s: 1.5,
            bogo_ops: 19,
            per_worker: vec![9, 10],
            respawns: 9,
            failed_forks: Some(3),
            alive: None,
        }
    }

    #[test]
    fn live_counters_round_trip_padded_and_refuse_a_torn_read() {
        let c = live_sample();
        let old = c.to_live(7, 512);
        assert_eq!(old.len(), 512);
        assert_eq!(Counters::from_live(&old), Some(c.clone()));
        // A plain JSON reader still reads it (the extra keys are ignored).
        let plain: Counters = serde_json::from_slice(&old).unwrap();
        assert_eq!(plain, c);
        let mut newer = c.clone();
        newer.bogo_ops = 20;
        newer.respawns = 10;
        let new = newer.to_live(8, 512);
        assert_eq!(Counters::from_live(&new), Some(newer.clone()));
        // A reader that overtook the writer, or was overtaken, at any byte sees a mix: it
        // reads nothing, or one of the two records whole (a cut in the padding), never a
        // third value made of both.
        let mut refused = 0;
        for cut in 1..old.len() {
            for mix in [
                [&new[..cut], &old[cut..]].concat(),
                [&old[..cut], &new[cut..]].concat(),
            ] {
                match Counters::from_live(&mix) {
                    None => refused += 1,
                    Some(x) => assert!(x == c || x == newer, "cut at {cut}: {x:?}"),
                }
            }
        }
        assert!(refused > 100, "{refused}");
        assert_eq!(Counters::from_live(b""), None);
        assert_eq!(Counters::from_live(b"{\"bogo_ops\":1}"), None);
    }

    #[test]
    fn a_live_record_longer_than_its_width_is_kept_whole() {
        let c = live_sample();
        let text = c.to_live(1, 8);
        assert!(text.len() > 8);
        assert_eq!(Counters::from_live(&text), Some(c));
    }
    use super::*;

    fn summary() -> Summary {
        let e = ExpectResult {
            metric: "cpu.usage".into(),
            container: "hog".into(),
            window: [1.0, 4.0],
            expected: Some(1.5),
            tolerance: Some(Tolerance::Relative(0.05)),
            min: None,
            max: None,
            measured: Some(1.014),
            settled_after_s: None,
            verdict: Verdict::Inconclusive,
            reason: "starved by the host".into(),
            context: Some(Context {
                host: Load {
                    cpus: vec![0, 1],
                    foreign_cpus: 0.98,
                    idle_cpus: 0.0,
                    self_cpus: 0.01,
                    idle_unthrottled_cpus: Some(0.0),
                    cpu_pressure: Some(0.5),
                    memory_pressure: None,
                    mem_available_min: Some(1 << 34),
                },
                usage_cpus: Some(1.014),
                quota_cpus: Some(1.5),
                throttled: Some(0.0),
                container_cpu_pressure: Some(0.94),
                container_memory_pressure: None,
            }),
            engine: Some(EngineView {
                source: "docker stats".into(),
                value: 1.02,
                readings: 3,
                agrees: true,
            }),
            only: None,
        };
        let mut sc = ScenarioResult {
            name: "seed-2-4".into(),
            file: "scenarios/seed-2-4-cpu-quota.toml".into(),
            description: "quota, raised".into(),
            verdict: Verdict::Inconclusive,
            reason: "starved".into(),
            interval_s: 0.1,
            duration_s: 4.0,
            samples: 2,
            jitter_ms: [0.1, 0.5],
            containers: vec!["hog".into(), "other, with a comma".into(), "pod".into()],
            groups: vec!["pod".into()],
            startup_ms: vec![12.5, 31.0],
            expectations: vec![e],
            steps: vec![StepResult {
                at: 2.0,
                actual: Some(2.0004),
                done: Some(2.0101),
                container: "hog".into(),
                what: "cpu.cfs_quota_us = 150000".into(),
                via: Via::File,
                expected: "ok".into(),
                outcome: Some("ok".into()),
                changed: Vec::new(),
                not_applied: vec![
                    "cpu quota 50000/100000 µs asked, cpu quota 100000/100000 µs read back".into(),
                ],
                verdict: Verdict::Pass,
            }],
            limits: vec![LimitPoint {
                t: 0.0,
                container: "hog".into(),
                cpus: Some(1.0),
                memory_bytes: None,
            }],
            attempts: Vec::new(),
            died: None,
            runtime: Some("runc version 1.1.5".into()),
            engine_source: Some("docker stats".into()),
            engine_samples: vec![EngineSample {
                t: 1.5,
                container: "hog".into(),
                cpus: Some(1.02),
                memory_bytes: Some(1 << 20),
                pids: Some(2),
            }],
            interrupted: false,
            stalls: vec![MachineStall {
                cpu: 1,
                from: 2.5,
                to: 2.58,
            }],
            stall_witness: None,
            unstarted: Vec::new(),
            sample_rows: vec![
                Sample {
                    t: 0.1,
                    container: 0,
                    jitter_ms: 0.25,
                    cpu_ns: Some(100_000_000),
                    per_cpu_ns: Some(vec![60_000_000, 40_000_000]),
                    nr_periods: Some(1),
                    cpu_pressure_us: Some(5),
                    ..Default::default()
                },
                Sample {
                    t: 0.2,
                    container: 1,
                    memory: Some(1 << 20),
                    per_cpu_ns: Some(vec![0, 0]),
                    ..Default::default()
                },
            ],
            host_rows: vec![HostSample {
                t: 0.1,
                busy_ns: vec![1, 2],
                idle_ns: vec![3, 4],
                self_ns: 5,
                cpu_pressure_us: Some(6),
                memory_pressure_us: None,
                mem_available: Some(7),
            }],
        };
        sc.attempts = vec![sc.attempt(), sc.attempt()];
        Summary {
            schema: SCHEMA,
            run_id: "20261201T110000".into(),
            host: HostInfo {
                kernel: "6.18".into(),
                cgroup_mode: "hybrid".into(),
                cpus: 2,
                memory_bytes: 1 << 34,
                limitcheck_version: "0.1.0".into(),
                runtime: Some("runc version 1.1.5 (/usr/sbin/runc)".into()),
                emulated: false,
                tick_ns: 0,
            },
            scenarios: vec![sc],
            planned: vec!["seed-2-4".into(), "never-ran".into()],
            complete: false,
            vm: None,
            running: None,
        }
    }

    #[test]
    fn a_run_round_trips_through_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = summary();
        write_run(dir.path(), &s).unwrap();
        let back = load_run(dir.path()).unwrap();
        assert_eq!(back, s);
        // Written whole and renamed into place: no temporary file is left.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["host.csv", "samples.csv", "summary.json"]);
        assert_eq!(
            back.scenarios[0].attempts_text().as_deref(),
            Some("inconclusive, inconclusive")
        );
        assert_eq!(
            back.scenarios[0].stalls_text().as_deref(),
            Some("the machine stalled a CPU 1 time(s) (the longest 80 ms, CPU 1 at 2.50s)")
        );
        assert_eq!(
            back.interrupted_text().as_deref(),
            Some("interrupted after 1 of 2 scenario(s) (not run: never-ran)")
        );
    }

    /// A run killed during its second scenario: the journal kept that scenario's samples (the
    /// last line cut in half by the kill), load_run makes it an interrupted error with them,
    /// and the next write after the scenario ends removes the journal.
    #[test]
    fn a_run_killed_during_a_scenario_keeps_the_samples_it_took() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = summary();
        s.planned.insert(1, "second".into());
        let mut second = s.scenarios[0].clone();
        second.name = "second".into();
        second.sample_rows.clear();
        second.host_rows.clear();
        second.expectations.clear();
        second.attempts.clear();
        second.samples = 0;
        s.running = Some(second.clone());
        write_run(dir.path(), &s).unwrap();
        let mut j = Journal::new(dir.path(), "second", &second.containers);
        let first = &s.scenarios[0];
        for k in 0..3 {
            let mut rows = first.sample_rows.clone();
            rows.iter_mut().for_each(|x| x.t += k as f64);
            let mut h = first.host_rows[0].clone();
            h.t += k as f64;
            j.append(Some(&h), &rows).unwrap();
        }
        // The kill came in the middle of a fourth line.
        let file = dir.path().join(JOURNAL_FILES[0]);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("second,hog,3.1000");
        std::fs::write(&file, text).unwrap();

        let back = load_run(dir.path()).unwrap();
        assert_eq!(back.scenarios.len(), 2);
        let cut = &back.scenarios[1];
        assert_eq!((cut.name.as_str(), cut.verdict), ("second", Verdict::Error));
        assert!(cut.interrupted && back.running.is_none());
        assert_eq!((cut.sample_rows.len(), cut.host_rows.len()), (6, 3));
        assert_eq!(cut.sample_rows[5].t, 2.2);
        assert_eq!(
            cut.sample_rows[2].per_cpu_ns,
            Some(vec![60_000_000, 40_000_000])
        );
        assert!(
            cut.reason.contains("interrupted 2.2 s into its 4.0 s"),
            "{}",
            cut.reason
        );
        assert_eq!(
            back.interrupted_text().as_deref(),
            Some("interrupted during second after 1 of 3 scenario(s) (not run: never-ran)")
        );

        // The scenario ends: it joins samples.csv and its journal goes.
        s.running = None;
        second.sample_rows = cut.sample_rows.clone();
        s.scenarios.push(second);
        write_run(dir.path(), &s).unwrap();
        assert!(JOURNAL_FILES.iter().all(|f| !dir.path().join(f).exists()));
        assert_eq!(
            load_run(dir.path()).unwrap().scenarios[1].sample_rows.len(),
            6
        );
    }

    #[test]
    fn verdicts_and_tolerances_keep_their_json_words() {
        let v = serde_json::to_value(summary()).unwrap();
        let sc = &v["scenarios"][0];
        assert_eq!(sc["verdict"], "inconclusive");
        assert_eq!(sc["expectations"][0]["tolerance"]["relative"], 0.05);
        assert_eq!(sc["expectations"][0]["context"]["foreign_cpus"], 0.98);
        assert_eq!(sc["steps"][0]["via"], "file");
        assert!(sc.get("sample_rows").is_none() && v.get("vm").is_none());
    }

    #[test]
    fn an_older_summary_without_the_newer_fields_loads() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"schema": 1, "run_id": "r", "host": {"kernel": "6.1", "cgroup_mode": "v2",
            "cpus": 2, "memory_bytes": 1, "limitcheck_version": "0.1.0"},
            "scenarios": [{"name": "a", "file": "a.toml", "verdict": "pass", "interval_s": 0.1,
            "duration_s": 3.0, "expectations": [{"metric": "cpu.usage", "container": "c",
            "window": [1.0, 2.0], "expected": null, "tolerance": null, "min": null, "max": 1.0,
            "measured": 0.5, "verdict": "pass"}]}]}"#;
        std::fs::write(dir.path().join("summary.json"), text).unwrap();
        let s = load_run(dir.path()).unwrap();
        assert!(s.complete && s.interrupted_text().is_none());
        assert_eq!(s.scenarios[0].expectations[0].context, None);
        assert!(s.scenarios[0].attempts.is_empty());
    }

    #[test]
    fn bad_files_name_the_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), &summary()).unwrap();
        let csv = dir.path().join("host.csv");
        let text = std::fs::read_to_string(&csv)
            .unwrap()
            .replace(",5,", ",five,");
        std::fs::write(&csv, text).unwrap();
        let e = load_run(dir.path()).unwrap_err().to_string();
        assert!(e.contains("host.csv:2") && e.contains("self_ns"), "{e}");
        std::fs::write(dir.path().join("summary.json"), "{\"schema\": 2}").unwrap();
        let e = load_summary(dir.path()).unwrap_err().to_string();
        assert!(e.contains("summary.json"), "{e}");
    }
}
