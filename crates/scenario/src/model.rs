//! The scenario file: TOML as people write it (see `scenarios/README.md`), parsed and checked
//! into a [`Scenario`]. Every error names the file, the line where the toml parser knows it, the
//! key, and the fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use limitcheck_cgroup::units::{parse_duration, parse_size};
use limitcheck_cgroup::{CpuList, Limit, Max};
use limitcheck_workload::{Stressor, WorkloadError};
use serde::{Deserialize, Serialize};

/// A problem in a scenario file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}{}: {key}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// The line, when known.
    pub line: Option<usize>,
    /// The key, e.g. `step[1].set.cpus`.
    pub key: String,
    /// What is wrong and what to write instead.
    pub reason: String,
}

/// A number or a string (`memory = "256M"` or `memory = 268435456`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum NumOrStr {
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
}

impl NumOrStr {
    /// The value as an error message quotes it: a number as it is, a string in quotes.
    fn quoted(&self) -> String {
        match self {
            NumOrStr::Num(n) => n.to_string(),
            NumOrStr::Str(s) => format!("{s:?}"),
        }
    }
}

/// The workload table: a stressor and its options by their flag names.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkloadDef {
    /// `cpu`, `kernel`, `vm`, `fork`, `burst`, `fibtest` or `io`.
    pub kind: String,
    /// Worker processes (cpu, vm, io).
    pub workers: Option<u32>,
    /// Bytes per worker (vm), each worker's file (io).
    pub bytes: Option<NumOrStr>,
    /// Hold the mapping (vm).
    pub keep: Option<bool>,
    /// Leave this much of the machine's memory available (vm; needs `whole_machine`).
    pub leave: Option<NumOrStr>,
    /// Sleep between passes (vm, io).
    pub hang: Option<String>,
    /// Duty cycle percent (cpu).
    pub load: Option<u32>,
    /// Processes to hold (fork).
    pub processes: Option<u32>,
    /// Threads (burst; fibtest: in all, one per CPU allowed by default).
    pub threads: Option<u32>,
    /// Threads that never pause (fibtest).
    pub fast: Option<u32>,
    /// CPU time per read(2) (kernel).
    pub call: Option<String>,
    /// Busy time per period (burst).
    pub run: Option<String>,
    /// Sleep per period (burst), after each bogo-op of a slow thread (fibtest).
    pub sleep: Option<String>,
    /// Read the file instead of writing it (io).
    pub read: Option<bool>,
    /// O_DIRECT (io).
    pub direct: Option<bool>,
}

/// Limits as the file gives them (container tables and `set` of steps).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsDef {
    /// docker's `--cpus`: quota = cpus × period.
    pub cpus: Option<f64>,
    /// CFS quota, µs (-1: none).
    pub cpu_quota: Option<i64>,
    /// CFS period, µs.
    pub cpu_period: Option<u64>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
    /// CPU weight (v2's, 1..=10000; shares by runc's conversion on v1).
    pub cpu_weight: Option<u64>,
    /// CFS burst, µs.
    pub cpu_burst: Option<u64>,
    /// CPUs to pin to (`0`, `0-1`).
    pub cpuset: Option<String>,
    /// Memory limit (`256M`, bytes, -1: none).
    pub memory: Option<NumOrStr>,
    /// Memory + swap limit.
    pub memory_swap: Option<NumOrStr>,
    /// v2 memory.high: the throttling threshold (-1: none).
    pub memory_high: Option<NumOrStr>,
    /// v2 memory.low: best-effort protection from reclaim.
    pub memory_low: Option<NumOrStr>,
    /// v2 memory.min: hard protection from reclaim.
    pub memory_min: Option<NumOrStr>,
    /// v1 memory.soft_limit_in_bytes (-1: none).
    pub memory_soft_limit: Option<NumOrStr>,
    /// Task limit (-1: none).
    pub pids: Option<i64>,
    /// Bytes read per second from the disk under /var/tmp (`10M`; -1: none), docker's
    /// `--device-read-bps` on that disk.
    pub io_read_bps: Option<NumOrStr>,
    /// Bytes written per second to it.
    pub io_write_bps: Option<NumOrStr>,
}

/// The device of [`LimitsDef::io_read_bps`] and `io_write_bps` until the run knows it: the
/// whole disk under the containers' /var/tmp ([`crate::runner::scratch_disk`]).
pub const SCRATCH_DISK: limitcheck_cgroup::DeviceNumber =
    limitcheck_cgroup::DeviceNumber { major: 0, minor: 0 };

/// Kubernetes' resources (`cpu = "500m"`, `memory = "50Mi"`).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct K8sDef {
    /// CPU quantity.
    pub cpu: Option<String>,
    /// Memory quantity.
    pub memory: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerFile {
    name: Option<String>,
    workload: Option<WorkloadDef>,
    command: Option<Vec<String>>,
    image: Option<String>,
    rootfs: Option<String>,
    requests: Option<K8sDef>,
    limits: Option<K8sDef>,
    exit: Option<NumOrStr>,
    oom_score_adj: Option<NumOrStr>,
    group: Option<String>,
    pod: Option<String>,
    #[serde(flatten)]
    resources: LimitsDef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PodFile {
    name: Option<String>,
    requests: Option<K8sDef>,
    limits: Option<K8sDef>,
    pids: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    name: Option<String>,
    parent: Option<String>,
    #[serde(flatten)]
    resources: LimitsDef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteDef {
    file: String,
    value: Option<NumOrStr>,
    /// Values written in turn by a repeated step (`every`).
    values: Option<Vec<NumOrStr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    at: String,
    container: Option<String>,
    group: Option<String>,
    set: Option<LimitsDef>,
    write: Option<WriteDef>,
    via: Option<String>,
    expect: Option<String>,
    action: Option<String>,
    only: Option<String>,
    every: Option<String>,
    until: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFile {
    metric: String,
    container: Option<String>,
    group: Option<String>,
    window: Vec<String>,
    approx: Option<NumOrStr>,
    tolerance: Option<NumOrStr>,
    min: Option<NumOrStr>,
    max: Option<NumOrStr>,
    only: Option<String>,
    settles_within: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    description: Option<String>,
    duration: String,
    interval: Option<String>,
    only: Option<String>,
    runtime: Option<String>,
    #[serde(default)]
    swap: bool,
    #[serde(default)]
    whole_machine: bool,
    min_cpus: Option<i64>,
    #[serde(default)]
    group: Vec<GroupFile>,
    #[serde(default)]
    pod: Vec<PodFile>,
    #[serde(default)]
    container: Vec<ContainerFile>,
    #[serde(default)]
    step: Vec<StepFile>,
    #[serde(default)]
    expect: Vec<ExpectFile>,
}

/// Where something applies (`only = "v1" | "v2" | "native" | "emulated"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Only {
    /// Limits written through cgroup v1 (pure v1 or hybrid hosts).
    V1,
    /// Pure cgroup v2.
    V2,
    /// CPUs that run the code themselves (bare metal, or a KVM/Xen/Hyper-V guest) and a tick
    /// of 4 ms or less (HZ=250 or more): the ticks come on time, so bounds argued from a
    /// 4 ms tick hold.
    Native,
    /// Emulated CPUs (QEMU's TCG, `limitcheck vm` without KVM), whose ticks come late.
    Emulated,
}

impl Only {
    /// As the file spells it: `v1`, `v2`, `native`, `emulated`.
    pub fn tag(&self) -> &'static str {
        match self {
            Only::V1 => "v1",
            Only::V2 => "v2",
            Only::Native => "native",
            Only::Emulated => "emulated",
        }
    }
}

impl std::fmt::Display for Only {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Only::V1 => "cgroup V1",
            Only::V2 => "cgroup V2",
            Only::Native => "native CPUs (not emulated) and a tick of 4 ms or less",
            Only::Emulated => "emulated CPUs",
        })
    }
}

/// The smallest memory limit a scenario may give: docker's minimum (6 MiB), below which the
/// container's init and the workload's parent are OOM-killed before the workload runs.
pub const MEMORY_FLOOR: u64 = 6 << 20;

/// What a container runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Run {
    /// A built-in stressor: the arguments after `limitcheck stress`.
    Workload(Vec<String>),
    /// Any command (found in the host-made rootfs: the host's /usr; in an image container,
    /// the image's `Cmd` replaced by it, its `Entrypoint` kept, as `docker run IMAGE ARGS`).
    Command(Vec<String>),
    /// The image's own `Entrypoint` and `Cmd` (an image container without `command`).
    Image,
}

/// The image a container's root is made from (`image = "oci:DIR:TAG"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Where it is (relative paths from the scenario file's directory).
    pub source: limitcheck_image::Source,
    /// How the root is made (`rootfs = "overlay" | "copy"`).
    pub how: limitcheck_image::rootfs::How,
}

/// A container of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// Its name in the scenario.
    pub name: String,
    /// What it runs.
    pub run: Run,
    /// Its limits from the start.
    pub limits: Vec<Limit>,
    /// The image its root is made from; none: the host-made rootfs.
    pub image: Option<ImageSpec>,
    /// How its process may end before the scenario's end (`exit = 0`, `exit = "oom-kill"`);
    /// without it, a process that ends early (other than by a `kill` step) makes the scenario
    /// an error: a dead workload is never judged as a measurement.
    pub exit: Option<Exit>,
    /// Its process's `oom_score_adj` (`process.oomScoreAdj`, `--oom-score-adj`), -1000 to
    /// 1000: -1000 exempts it from the OOM killer, memory.oom.group's kills included. A
    /// workload's workers still take 1000 for themselves (they, not their parent, are what
    /// the OOM killer should take).
    pub oom_score_adj: Option<i32>,
    /// The group its cgroup is made in (index into [`Scenario::groups`]); none: on its own
    /// under `limitcheck/`.
    pub group: Option<usize>,
}

/// A group (`[[group]]`): a cgroup of its own with limits, holding containers and other
/// groups, made before them and removed after them — a pod, a QoS class, the trunk of
/// LTP's cfs_bandwidth01 tree.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// Its name in the scenario.
    pub name: String,
    /// Its cgroup directory's name: its name, or the kubelet's (`pod<uid>`) for a pod.
    pub dir: String,
    /// What it stands for, when limitcheck made it: `Burstable pod (the kubelet's
    /// ResourceConfigForPod)`, `the kubelet's burstable QoS cgroup`; empty for a `[[group]]`.
    pub about: String,
    /// The group it is made in (index into [`Scenario::groups`]; always an earlier one).
    pub parent: Option<usize>,
    /// Its limits from the start.
    pub limits: Vec<Limit>,
}

/// An end a container's process is allowed before the scenario's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exits with this status.
    Status(i32),
    /// The OOM killer ends it (SIGKILL with OOM kills counted in its cgroup): what a limit
    /// lowered below what the workload holds may do on cgroup v2.
    OomKill,
}

pub use limitcheck_record::{Tolerance, Via};

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Typed limits (portable across hierarchies).
    Set(Vec<Limit>),
    /// A raw write of one cgroup file, as in the seed.
    Write {
        /// The file, e.g. `memory.limit_in_bytes`.
        file: String,
        /// What is written.
        value: String,
    },
    /// Freeze the container.
    Pause,
    /// Thaw it.
    Resume,
    /// SIGKILL its processes.
    Kill,
}

impl Change {
    /// Whether it ends the processes it reaches: a `kill`, or a raw write of `1` into
    /// cgroup v2's `cgroup.kill` (their end is then expected, not a dead workload).
    pub fn kills(&self) -> bool {
        match self {
            Change::Kill => true,
            Change::Write { file, value } => file == "cgroup.kill" && value.trim() == "1",
            _ => false,
        }
    }
}

/// A step of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When, from the start of the containers.
    pub at: Duration,
    /// Which container or group: a unit index (see [`Scenario::unit_name`]): the containers
    /// first, then the groups.
    pub container: usize,
    /// What it does.
    pub change: Change,
    /// How.
    pub via: Via,
    /// The expected outcome: `ok`, or an errno name such as `EBUSY`.
    pub expect: String,
    /// The hierarchy it applies on.
    pub only: Option<Only>,
}

/// A metric an expectation judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Metric {
    /// CPUs used, averaged over the window.
    CpuUsage,
    /// CPUs used on one CPU (v1 only).
    CpuUsageOn(u32),
    /// The most CPUs used over any interval this many milliseconds long inside the window
    /// (`cpu.usage.peak100ms`): a quota's overshoot period by period, where `cpu.usage`
    /// averages it away.
    CpuUsagePeak(u32),
    /// Share of enforcement periods that were throttled.
    CpuThrottled,
    /// Seconds throttled per second.
    CpuThrottledTime,
    /// Memory use, bytes, averaged over the window.
    MemoryUsage,
    /// Highest memory use sampled in the window.
    MemoryUsageMax,
    /// Working set (usage − inactive file), averaged.
    MemoryWorkingSet,
    /// Page cache charged to the cgroup (memory.stat `file`, v1 `total_cache`), averaged.
    MemoryFile,
    /// The least page cache sampled in the window (reclaimed to at most this at some time:
    /// for pressure whose moment the machine's speed sets).
    MemoryFileMin,
    /// Swap the cgroup uses, averaged.
    MemorySwap,
    /// Most swap sampled in the window.
    MemorySwapMax,
    /// The kernel's peak (max_usage_in_bytes / memory.peak) at the window's end.
    MemoryPeak,
    /// OOM kills in the window.
    MemoryOomKills,
    /// Times the limit was hit in the window (v1 failcnt, v2 events max).
    MemoryFailcnt,
    /// Tasks, averaged.
    PidsCurrent,
    /// Most tasks sampled in the window.
    PidsMaxSeen,
    /// Workers the stressor forked again in the window.
    WorkloadRespawns,
    /// Forks refused in the window.
    WorkloadFailedForks,
    /// Bogo-ops per second over the window.
    WorkloadOpsPerS,
    /// Bytes read from block devices per second over the window.
    IoReadBps,
    /// Bytes written to block devices per second over the window.
    IoWriteBps,
}

impl Metric {
    /// Whether it is a rate of work done (I/O bytes, the workload's operations, per second):
    /// what a stalled machine does less of.
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            Metric::WorkloadOpsPerS | Metric::IoReadBps | Metric::IoWriteBps
        )
    }

    /// Whether it counts events a change can cause while it is being made: a memory.max
    /// written below usage reclaims and OOM-kills before the write returns (and the workload
    /// forks again after). Such a count's window keeps its start at a step.
    pub fn counts_events(self) -> bool {
        matches!(
            self,
            Metric::MemoryOomKills
                | Metric::MemoryFailcnt
                | Metric::WorkloadRespawns
                | Metric::WorkloadFailedForks
        )
    }

    /// Every metric name the file accepts (cpu.usage.cpuN aside).
    pub const NAMES: [(&'static str, Metric); 20] = [
        ("cpu.usage", Metric::CpuUsage),
        ("cpu.throttled", Metric::CpuThrottled),
        ("cpu.throttled_time", Metric::CpuThrottledTime),
        ("memory.usage", Metric::MemoryUsage),
        ("memory.usage.max", Metric::MemoryUsageMax),
        ("memory.working_set", Metric::MemoryWorkingSet),
        ("memory.file", Metric::MemoryFile),
        ("memory.file.min", Metric::MemoryFileMin),
        ("memory.swap", Metric::MemorySwap),
        ("memory.swap.max", Metric::MemorySwapMax),
        ("memory.peak", Metric::MemoryPeak),
        ("memory.oom_kills", Metric::MemoryOomKills),
        ("memory.failcnt", Metric::MemoryFailcnt),
        ("pids.current", Metric::PidsCurrent),
        ("pids.current.max", Metric::PidsMaxSeen),
        ("workload.respawns", Metric::WorkloadRespawns),
        ("workload.failed_forks", Metric::WorkloadFailedForks),
        ("workload.ops_per_s", Metric::WorkloadOpsPerS),
        ("io.read_bps", Metric::IoReadBps),
        ("io.write_bps", Metric::IoWriteBps),
    ];

    /// Parses a metric name.
    pub fn parse(s: &str) -> Option<Metric> {
        if let Some(n) = s.strip_prefix("cpu.usage.cpu") {
            return n.parse().ok().map(Metric::CpuUsageOn);
        }
        if let Some(ms) = s
            .strip_prefix("cpu.usage.peak")
            .and_then(|x| x.strip_suffix("ms"))
        {
            return ms
                .parse()
                .ok()
                .filter(|ms| *ms > 0)
                .map(Metric::CpuUsagePeak);
        }
        Metric::NAMES.iter().find(|(n, _)| *n == s).map(|(_, m)| *m)
    }

    /// The metric's name.
    pub fn name(&self) -> String {
        match self {
            Metric::CpuUsageOn(n) => format!("cpu.usage.cpu{n}"),
            Metric::CpuUsagePeak(ms) => format!("cpu.usage.peak{ms}ms"),
            m => Metric::NAMES
                .iter()
                .find(|(_, x)| x == m)
                .map(|(n, _)| n.to_string())
                .unwrap_or_default(),
        }
    }

    /// Whether values are bytes per second (bounds accept sizes: `"10M"` per second).
    pub fn is_byte_rate(&self) -> bool {
        matches!(self, Metric::IoReadBps | Metric::IoWriteBps)
    }

    /// Whether values are bytes (bounds then accept sizes).
    pub fn is_bytes(&self) -> bool {
        matches!(
            self,
            Metric::MemoryUsage
                | Metric::MemoryUsageMax
                | Metric::MemoryWorkingSet
                | Metric::MemoryFile
                | Metric::MemoryFileMin
                | Metric::MemorySwap
                | Metric::MemorySwapMax
                | Metric::MemoryPeak
        )
    }
}

/// An expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// The metric.
    pub metric: Metric,
    /// Which container or group: a unit index (see [`Scenario::unit_name`]).
    pub container: usize,
    /// From, to (relative to the start).
    pub window: (Duration, Duration),
    /// Expected value and tolerance.
    pub approx: Option<(f64, Tolerance)>,
    /// Lower bound.
    pub min: Option<f64>,
    /// Upper bound.
    pub max: Option<f64>,
    /// The hierarchy it applies on.
    pub only: Option<Only>,
    /// The metric must be within tolerance of `approx` this soon after the window starts.
    pub settles_within: Option<Duration>,
}

/// A checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The file it came from.
    pub file: PathBuf,
    /// How long it runs.
    pub duration: Duration,
    /// Sampling interval.
    pub interval: Duration,
    /// The hierarchy it applies on.
    pub only: Option<Only>,
    /// It needs swap (`swap = true`): a skip on a host with none; in `limitcheck vm` the
    /// guest's swap file is switched on for it and off after.
    pub swap: bool,
    /// It uses the whole machine's memory (`whole_machine = true`: global memory pressure,
    /// a vm workload's `leave`): it runs only where the run may (the `limitcheck vm` guest,
    /// a machine made for the run) and is a skip elsewhere — never on a shared host.
    pub whole_machine: bool,
    /// The online CPUs it needs (`min_cpus`: a pattern that shows only on many CPUs, such as
    /// fibtest's); a skip on a machine with fewer.
    pub min_cpus: Option<usize>,
    /// The runtime or engine it is about (`runc`, `docker`, `podman:runc`; see
    /// [`crate::lane`]): it runs there when the command line names none, and only in that
    /// lane when it does.
    pub runtime: Option<String>,
    /// Its containers.
    pub containers: Vec<ContainerSpec>,
    /// Its groups (`[[group]]`), parents before their children.
    pub groups: Vec<GroupSpec>,
    /// Its timeline.
    pub steps: Vec<Step>,
    /// Its expectations.
    pub expects: Vec<Expect>,
}

impl Scenario {
    /// How many units steps and expectations can name: the containers, then the groups.
    pub fn units(&self) -> usize {
        self.containers.len() + self.groups.len()
    }

    /// The group a unit index names, if it names one (an index past the containers).
    pub fn group_of_unit(&self, unit: usize) -> Option<usize> {
        unit.checked_sub(self.containers.len())
            .filter(|g| *g < self.groups.len())
    }

    /// The unit index of group `g`.
    pub fn unit_of_group(&self, g: usize) -> usize {
        self.containers.len() + g
    }

    /// A unit's name: a container's or a group's.
    pub fn unit_name(&self, unit: usize) -> &str {
        match self.group_of_unit(unit) {
            Some(g) => &self.groups[g].name,
            None => &self.containers[unit].name,
        }
    }

    /// Every unit's name, containers first: the names a run records its samples under.
    pub fn unit_names(&self) -> Vec<String> {
        (0..self.units())
            .map(|u| self.unit_name(u).to_string())
            .collect()
    }

    /// A unit's own limits, as the file gave them.
    pub fn unit_limits(&self, unit: usize) -> &[Limit] {
        match self.group_of_unit(unit) {
            Some(g) => &self.groups[g].limits,
            None => &self.containers[unit].limits,
        }
    }

    /// The groups a unit is in, as unit indexes, the nearest first.
    pub fn ancestors(&self, unit: usize) -> Vec<usize> {
        let mut g = match self.group_of_unit(unit) {
            Some(g) => self.groups[g].parent,
            None => self.containers.get(unit).and_then(|c| c.group),
        };
        let mut out = Vec::new();
        while let Some(x) = g {
            out.push(self.unit_of_group(x));
            g = self.groups[x].parent;
        }
        out
    }

    /// A group's path below the scenario's tree: `trunk/leaf`, `kubepods/burstable/podweb`.
    pub fn group_path(&self, g: usize) -> PathBuf {
        let unit = self.unit_of_group(g);
        self.ancestors(unit)
            .into_iter()
            .rev()
            .chain([unit])
            .filter_map(|u| self.group_of_unit(u))
            .map(|x| self.groups[x].dir.as_str())
            .collect()
    }
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            line: None,
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn duration(&self, key: &str, s: &str) -> Result<Duration, ScenarioError> {
        parse_duration(s).map_err(|e| self.err(key, e.to_string()))
    }

    fn bytes(&self, key: &str, v: &NumOrStr) -> Result<Max, ScenarioError> {
        match v {
            NumOrStr::Num(n) if *n == -1.0 => Ok(Max::Unlimited),
            NumOrStr::Num(n) if *n >= 1.0 && n.fract() == 0.0 => Ok(Max::Value(*n as u64)),
            NumOrStr::Num(n) => Err(self.err(
                key,
                format!("{n} is not a number of bytes; write e.g. \"256M\" or -1 for none"),
            )),
            NumOrStr::Str(s) if s == "-1" || s == "max" => Ok(Max::Unlimited),
            NumOrStr::Str(s) => parse_size(s)
                .map(Max::Value)
                .map_err(|e| self.err(key, e.to_string())),
        }
    }

    /// A memory limit: a size no smaller than [`MEMORY_FLOOR`], or -1.
    fn memory(&self, key: &str, v: &NumOrStr) -> Result<Max, ScenarioError> {
        let m = self.bytes(key, v)?;
        match m {
            Max::Value(b) if b < MEMORY_FLOOR => Err(self.err(
                key,
                format!(
                    "{b} bytes is below the {} MiB a container needs to start (docker's \
                     minimum too); give e.g. \"64M\"",
                    MEMORY_FLOOR >> 20
                ),
            )),
            m => Ok(m),
        }
    }

    fn only(&self, key: &str, s: &Option<String>) -> Result<Option<Only>, ScenarioError> {
        match s.as_deref() {
            None => Ok(None),
            Some("v1") => Ok(Some(Only::V1)),
            Some("v2") => Ok(Some(Only::V2)),
            Some("native") => Ok(Some(Only::Native)),
            Some("emulated") => Ok(Some(Only::Emulated)),
            Some(o) => Err(self.err(
                key,
                format!("{o:?} is not \"v1\", \"v2\", \"native\" or \"emulated\""),
            )),
        }
    }

    fn limits(&self, key: &str, d: &LimitsDef) -> Result<Vec<Limit>, ScenarioError> {
        let mut out = Vec::new();
        let period = d.cpu_period.unwrap_or(100_000);
        if !(1_000..=1_000_000).contains(&period) {
            return Err(self.err(
                format!("{key}.cpu_period"),
                format!("{period} µs is outside 1000..=1000000"),
            ));
        }
        match (d.cpus, d.cpu_quota) {
            (Some(_), Some(_)) => {
                return Err(self.err(format!("{key}.cpus"), "give cpus or cpu_quota, not both"))
            }
            (Some(c), None) => {
                if !(c > 0.0 && c <= 1024.0) {
                    return Err(self.err(
                        format!("{key}.cpus"),
                        format!("{c} is not a positive number of CPUs, e.g. 1.5"),
                    ));
                }
                let quota = (c * period as f64).round() as u64;
                out.push(Limit::CpuMax {
                    quota_us: Max::Value(quota.max(1000)),
                    period_us: period,
                });
            }
            (None, Some(q)) => {
                let quota = match q {
                    -1 => Max::Unlimited,
                    q if q >= 1000 => Max::Value(q as u64),
                    q => {
                        return Err(self.err(
                            format!("{key}.cpu_quota"),
                            format!(
                                "{q} µs: give -1 for none or at least 1000 (the kernel's minimum)"
                            ),
                        ))
                    }
                };
                out.push(Limit::CpuMax {
                    quota_us: quota,
                    period_us: period,
                });
            }
            (None, None) if d.cpu_period.is_some() => {
                out.push(Limit::CpuMax {
                    quota_us: Max::Unlimited,
                    period_us: period,
                });
            }
            (None, None) => {}
        }
        if let Some(s) = d.cpu_shares {
            if !(2..=262_144).contains(&s) {
                return Err(self.err(
                    format!("{key}.cpu_shares"),
                    format!("{s} is outside 2..=262144"),
                ));
            }
            out.push(Limit::CpuShares(s));
        }
        if let Some(w) = d.cpu_weight {
            if d.cpu_shares.is_some() {
                return Err(self.err(
                    format!("{key}.cpu_weight"),
                    "give cpu_shares or cpu_weight, not both (they are one setting: v1's shares, \
                     v2's weight)",
                ));
            }
            if !(1..=10_000).contains(&w) {
                return Err(self.err(
                    format!("{key}.cpu_weight"),
                    format!("{w} is outside 1..=10000 (cgroup v2's cpu.weight)"),
                ));
            }
            out.push(Limit::CpuWeight(w));
        }
        if let Some(b) = d.cpu_burst {
            out.push(Limit::CpuBurst(b));
        }
        if let Some(c) = &d.cpuset {
            let list: CpuList = c.parse().map_err(|e| {
                self.err(
                    format!("{key}.cpuset"),
                    format!("{c:?} is not a CPU list like 0-1: {e}"),
                )
            })?;
            out.push(Limit::CpusetCpus(list));
        }
        let memory = match &d.memory {
            Some(m) => Some(self.memory(&format!("{key}.memory"), m)?),
            None => None,
        };
        if let Some(m) = memory {
            out.push(Limit::MemoryMax(m));
        }
        if let Some(m) = &d.memory_swap {
            let swap = self.bytes(&format!("{key}.memory_swap"), m)?;
            if let (Some(Max::Value(mem)), Max::Value(total)) = (memory, swap) {
                if total < mem {
                    return Err(self.err(
                        format!("{key}.memory_swap"),
                        format!(
                            "{total} bytes is below memory ({mem}): memory_swap is memory plus \
                             swap, as docker's --memory-swap; give at least the memory limit"
                        ),
                    ));
                }
            }
            out.push(Limit::MemorySwapMax(swap));
        }
        if let Some(m) = &d.memory_high {
            out.push(Limit::MemoryHigh(
                self.memory(&format!("{key}.memory_high"), m)?,
            ));
        }
        for (k, v, protect) in [
            (
                "memory_low",
                &d.memory_low,
                Limit::MemoryLow as fn(u64) -> Limit,
            ),
            ("memory_min", &d.memory_min, Limit::MemoryMin),
        ] {
            if let Some(v) = v {
                let zero = matches!(v, NumOrStr::Num(n) if *n == 0.0)
                    || matches!(v, NumOrStr::Str(s) if s.trim() == "0");
                if zero {
                    out.push(protect(0));
                    continue;
                }
                match self.bytes(&format!("{key}.{k}"), v)? {
                    Max::Value(b) => out.push(protect(b)),
                    Max::Unlimited => {
                        return Err(self.err(
                            format!("{key}.{k}"),
                            "give the bytes to protect, e.g. \"64M\" (0 for none)",
                        ))
                    }
                }
            }
        }
        for (k, v, kind) in [
            (
                "io_read_bps",
                &d.io_read_bps,
                limitcheck_cgroup::ThrottleKind::ReadBps,
            ),
            (
                "io_write_bps",
                &d.io_write_bps,
                limitcheck_cgroup::ThrottleKind::WriteBps,
            ),
        ] {
            if let Some(v) = v {
                let rate = self.bytes(&format!("{key}.{k}"), v)?;
                out.push(Limit::IoThrottle {
                    device: SCRATCH_DISK,
                    kind,
                    rate,
                });
            }
        }
        if let Some(m) = &d.memory_soft_limit {
            out.push(Limit::MemorySoftLimit(
                self.bytes(&format!("{key}.memory_soft_limit"), m)?,
            ));
        }
        if let Some(p) = d.pids {
            out.push(Limit::PidsMax(if p <= 0 {
                Max::Unlimited
            } else {
                Max::Value(p as u64)
            }));
        }
        Ok(out)
    }

    /// Kubernetes' conversion (kubelet): requests.cpu → shares = milliCPU × 1024 / 1000 (min 2);
    /// limits.cpu → quota = milliCPU × period / 1000; limits.memory → the memory limit.
    /// requests.memory has no cgroup v1 effect (kubelet uses it only for memory.min on v2 with
    /// MemoryQoS) and is not written.
    fn k8s(
        &self,
        key: &str,
        req: &Option<K8sDef>,
        lim: &Option<K8sDef>,
    ) -> Result<Vec<Limit>, ScenarioError> {
        let milli = |k: &str, s: &str| self.milli_cpu(k, s);
        let mut out = Vec::new();
        if let Some(cpu) = req.as_ref().and_then(|r| r.cpu.as_deref()) {
            let m = milli(&format!("{key}.requests.cpu"), cpu)?;
            out.push(Limit::CpuShares((m * 1024 / 1000).max(2)));
        }
        if let Some(cpu) = lim.as_ref().and_then(|l| l.cpu.as_deref()) {
            let m = milli(&format!("{key}.limits.cpu"), cpu)?;
            out.push(Limit::CpuMax {
                quota_us: Max::Value((m * 100).max(1000)),
                period_us: 100_000,
            });
        }
        if let Some(mem) = lim.as_ref().and_then(|l| l.memory.as_deref()) {
            let m = self.memory(
                &format!("{key}.limits.memory"),
                &NumOrStr::Str(mem.to_string()),
            )?;
            out.push(Limit::MemoryMax(m));
        }
        if let Some(mem) = req.as_ref().and_then(|r| r.memory.as_deref()) {
            parse_size(mem)
                .map_err(|e| self.err(format!("{key}.requests.memory"), e.to_string()))?;
        }
        Ok(out)
    }

    /// A Kubernetes CPU quantity (`"500m"`, `"1.5"`) in milliCPU.
    fn milli_cpu(&self, k: &str, s: &str) -> Result<u64, ScenarioError> {
        let v = match s.strip_suffix('m') {
            Some(m) => m.parse::<f64>().ok(),
            None => s.parse::<f64>().ok().map(|c| c * 1000.0),
        };
        match v {
            // 1m is Kubernetes' smallest; 1024 CPUs docker's and this crate's largest.
            Some(v) if (1.0..=1_024_000.0).contains(&v) => Ok(v.round() as u64),
            Some(v) if v.is_finite() && v > 0.0 => {
                Err(self.err(k, format!("{s:?} is {v} milliCPU, outside 1m..=1024 CPUs")))
            }
            _ => Err(self.err(
                k,
                format!("{s:?} is not a CPU quantity like \"500m\" or \"1\""),
            )),
        }
    }

    /// Kubernetes' requests and limits as numbers (milliCPU, bytes), checked: a limit below
    /// its request is refused, as the API server refuses it.
    fn k8s_resources(
        &self,
        key: &str,
        req: &Option<K8sDef>,
        lim: &Option<K8sDef>,
    ) -> Result<crate::pod::Resources, ScenarioError> {
        let cpu = |which: &str, d: &Option<K8sDef>| {
            d.as_ref()
                .and_then(|d| d.cpu.as_deref())
                .map(|c| self.milli_cpu(&format!("{key}.{which}.cpu"), c))
                .transpose()
        };
        let memory = |which: &str, d: &Option<K8sDef>| {
            d.as_ref()
                .and_then(|d| d.memory.as_deref())
                .map(|m| {
                    let k = format!("{key}.{which}.memory");
                    let v = NumOrStr::Str(m.to_string());
                    let b = if which == "limits" {
                        self.memory(&k, &v)?
                    } else {
                        self.bytes(&k, &v)?
                    };
                    match b {
                        Max::Value(b) => Ok(b),
                        Max::Unlimited => Err(self.err(k, "give a size, e.g. \"64Mi\"")),
                    }
                })
                .transpose()
        };
        let r = crate::pod::Resources {
            cpu_request: cpu("requests", req)?,
            cpu_limit: cpu("limits", lim)?,
            memory_request: memory("requests", req)?,
            memory_limit: memory("limits", lim)?,
        };
        for (what, rq, l) in [
            ("cpu", r.cpu_request, r.cpu_limit),
            ("memory", r.memory_request, r.memory_limit),
        ] {
            if let (Some(rq), Some(l)) = (rq, l) {
                if rq > l {
                    return Err(self.err(
                        format!("{key}.requests.{what}"),
                        format!(
                            "the request is above the limit ({rq} > {l}); Kubernetes refuses \
                             that: lower the request or raise the limit"
                        ),
                    ));
                }
            }
        }
        Ok(r)
    }

    fn workload(&self, key: &str, w: &WorkloadDef) -> Result<Stressor, ScenarioError> {
        let allowed: &[&str] = match w.kind.as_str() {
            "cpu" => &["workers", "load"],
            "vm" => &["workers", "bytes", "keep", "hang", "leave"],
            "fork" => &["processes"],
            "burst" => &["threads", "run", "sleep"],
            "fibtest" => &["fast", "threads", "sleep"],
            "kernel" => &["workers", "call"],
            "io" => &["workers", "bytes", "read", "direct", "hang"],
            k => {
                return Err(self.err(
                    format!("{key}.kind"),
                    format!("{k:?} is not cpu, kernel, vm, fork, burst, fibtest or io"),
                ))
            }
        };
        let given = [
            ("workers", w.workers.is_some()),
            ("load", w.load.is_some()),
            ("bytes", w.bytes.is_some()),
            ("keep", w.keep.is_some()),
            ("leave", w.leave.is_some()),
            ("hang", w.hang.is_some()),
            ("processes", w.processes.is_some()),
            ("threads", w.threads.is_some()),
            ("fast", w.fast.is_some()),
            ("call", w.call.is_some()),
            ("run", w.run.is_some()),
            ("sleep", w.sleep.is_some()),
            ("read", w.read.is_some()),
            ("direct", w.direct.is_some()),
        ];
        for (k, g) in given {
            if g && !allowed.contains(&k) {
                return Err(self.err(
                    format!("{key}.{k}"),
                    format!("the {} stressor takes {}", w.kind, allowed.join(", ")),
                ));
            }
        }
        let n = |v: Option<u32>| v.unwrap_or(1) as usize;
        let dur = |k: &str, v: &Option<String>| -> Result<Duration, ScenarioError> {
            match v {
                Some(d) => self.duration(&format!("{key}.{k}"), d),
                None => Err(self.err(
                    format!("{key}.{k}"),
                    format!(
                        "a {} workload needs {k}, e.g. run = \"5ms\", sleep = \"95ms\"",
                        w.kind
                    ),
                )),
            }
        };
        let per_worker = || -> Result<u64, ScenarioError> {
            match &w.bytes {
                None => Err(self.err(
                    format!("{key}.bytes"),
                    format!(
                        "a {} workload needs bytes per worker, e.g. bytes = \"256M\"",
                        w.kind
                    ),
                )),
                Some(b) => match self.bytes(&format!("{key}.bytes"), b)? {
                    Max::Value(v) => Ok(v),
                    Max::Unlimited => Err(self.err(
                        format!("{key}.bytes"),
                        "give a size per worker, e.g. \"256M\" (not -1)",
                    )),
                },
            }
        };
        let stressor = match w.kind.as_str() {
            "io" => Stressor::Io {
                workers: n(w.workers),
                bytes: per_worker()?,
                read: w.read.unwrap_or(false),
                direct: w.direct.unwrap_or(false),
                hang: match &w.hang {
                    Some(h) => self.duration(&format!("{key}.hang"), h)?,
                    None => Duration::ZERO,
                },
                dir: limitcheck_workload::IO_DIR.into(),
            },
            "cpu" => Stressor::Cpu {
                workers: n(w.workers),
                load: match w.load {
                    None => None,
                    Some(l) => Some(u8::try_from(l).map_err(|_| {
                        self.err(
                            format!("{key}.load"),
                            format!("{l} is outside 1..=100 percent"),
                        )
                    })?),
                },
            },
            "vm" => Stressor::Vm {
                workers: n(w.workers),
                bytes: per_worker()?,
                keep: w.keep.unwrap_or(false),
                hang: match &w.hang {
                    Some(h) => self.duration(&format!("{key}.hang"), h)?,
                    None => Duration::ZERO,
                },
                leave: match &w.leave {
                    None => None,
                    Some(l) => match self.bytes(&format!("{key}.leave"), l)? {
                        Max::Value(v) => Some(v),
                        Max::Unlimited => {
                            return Err(self.err(
                                format!("{key}.leave"),
                                "give the memory to leave available, e.g. \"400M\" (not -1)",
                            ))
                        }
                    },
                },
            },
            "fork" => Stressor::Fork {
                processes: match w.processes {
                    Some(p) => p as usize,
                    None => {
                        return Err(self.err(
                            format!("{key}.processes"),
                            "a fork workload needs processes = N",
                        ))
                    }
                },
            },
            "kernel" => Stressor::Kernel {
                workers: n(w.workers),
                call: match &w.call {
                    Some(d) => self.duration(&format!("{key}.call"), d)?,
                    None => Duration::from_millis(20),
                },
            },
            "fibtest" => Stressor::Fibtest {
                fast: n(w.fast),
                threads: w.threads.map(|t| t as usize),
                sleep: match &w.sleep {
                    Some(d) => self.duration(&format!("{key}.sleep"), d)?,
                    None => Duration::from_millis(10),
                },
            },
            _ => Stressor::Burst {
                threads: n(w.threads),
                run: dur("run", &w.run)?,
                sleep: dur("sleep", &w.sleep)?,
            },
        };
        // The stressor's own checks: what `limitcheck stress` would refuse in the container,
        // refused here with the key.
        stressor.validate().map_err(|e| match e {
            WorkloadError::Arg { option, reason } => {
                self.err(format!("{key}.{}", option.trim_start_matches("--")), reason)
            }
            e => self.err(key, e.to_string()),
        })?;
        Ok(stressor)
    }
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
}

/// Parses and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        line: None,
        key: "(file)".into(),
        reason: format!("cannot read it: {e}"),
    })?;
    parse(&text, path)
}

/// Parses and checks scenario text that came from `path`.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let f: ScenarioFile = toml::from_str(text).map_err(|e| ScenarioError {
        file: file.clone(),
        line: line_of(text, e.span()),
        key: "(toml)".into(),
        reason: e.message().to_string(),
    })?;
    check(f, path).map_err(|mut e| {
        e.line = locate(text, &e.key).or(e.line);
        e
    })
}

/// The line of the key an error names, e.g. `expect[1].window`: the line in the second
/// `[[expect]]` table that sets `window` (or the table's header when the key is not written
/// there), or the top-level line for `duration`.
pub fn locate(text: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let sets = |l: &str, k: &str| {
        let t = l.trim_start();
        t.strip_prefix(k)
            .is_some_and(|rest| rest.trim_start().starts_with('=') || rest.starts_with('.'))
    };
    let (table, rest) = match key.split_once('[') {
        Some((table, rest)) if !table.contains('.') => (Some(table), rest),
        _ => (None, key),
    };
    let (start, end) = match table {
        None => (
            0,
            lines
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .unwrap_or(lines.len()),
        ),
        Some(table) => {
            let (n, _) = rest.split_once(']')?;
            let n: usize = n.parse().ok()?;
            let header = format!("[[{table}]]");
            let h = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.trim() == header)
                .nth(n)?
                .0;
            let end = lines[h + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map_or(lines.len(), |p| h + 1 + p);
            (h, end)
        }
    };
    let field = match table {
        None => key.split('.').next(),
        Some(_) => key
            .split_once("].")
            .map(|(_, f)| f.split('.').next().unwrap_or(f)),
    };
    field
        .and_then(|field| (start..end).find(|&i| sets(lines[i], field)))
        .or(table.map(|_| start))
        .map(|i| i + 1)
}

fn check(f: ScenarioFile, path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let cx = Ctx { file: &file };
    let name = f.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    });
    let duration = cx.duration("duration", &f.duration)?;
    if duration.is_zero() {
        return Err(cx.err(
            "duration",
            "a scenario must run for some time, e.g. \"12s\"",
        ));
    }
    let interval = cx.duration("interval", f.interval.as_deref().unwrap_or("100ms"))?;
    if interval < Duration::from_millis(1) || interval > duration {
        return Err(cx.err(
            "interval",
            "give a sampling interval between 1ms and the duration, e.g. \"100ms\" (below \
             5ms only the CPU figures are read every interval, the rest every 10ms)",
        ));
    }
    if f.container.is_empty() {
        return Err(cx.err(
            "container",
            "a scenario needs at least one [[container]] with a workload or command",
        ));
    }
    let mut groups = check_groups(&cx, &f.group)?;
    // Pods become groups: kubepods, its QoS cgroups, a group per pod (see `pods`).
    let mut pods = check_pods(&cx, &f.pod, &mut groups)?;
    let group_named = |groups: &[GroupSpec], key: &str, name: &str| {
        groups.iter().position(|g| g.name == name).ok_or_else(|| {
            cx.err(
                key,
                if groups.is_empty() {
                    format!("no group is named {name:?}: the scenario has no [[group]]")
                } else {
                    format!(
                        "no group is named {name:?}; the groups are {}",
                        groups
                            .iter()
                            .map(|g| g.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            )
        })
    };
    let mut containers = Vec::new();
    for (i, c) in f.container.iter().enumerate() {
        let key = format!("container[{i}]");
        let name = c.name.clone().unwrap_or_else(|| "main".into());
        if containers.iter().any(|x: &ContainerSpec| x.name == name) {
            return Err(cx.err(format!("{key}.name"), format!("{name:?} is used twice")));
        }
        if groups.iter().any(|g| g.name == name) {
            return Err(cx.err(
                format!("{key}.name"),
                format!(
                    "{name:?} is also a group's or a pod's name; steps and expectations name \
                     either, so give the container another"
                ),
            ));
        }
        if !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(cx.err(format!("{key}.name"), "use letters, digits, - and _"));
        }
        let in_pod = match (&c.pod, &c.group) {
            (Some(_), Some(_)) => {
                return Err(cx.err(
                    format!("{key}.pod"),
                    "a container goes in a pod or in a group, not both (a pod is a group made \
                     the kubelet's way)",
                ))
            }
            (Some(p), None) => Some(pods.iter().position(|x| x.name == *p).ok_or_else(|| {
                cx.err(
                    format!("{key}.pod"),
                    format!("no [[pod]] is named {p:?}; write its [[pod]] table with name = {p:?}"),
                )
            })?),
            _ => None,
        };
        let group = match in_pod {
            Some(k) => Some(pods[k].group),
            None => c
                .group
                .as_deref()
                .map(|g| group_named(&groups, &format!("{key}.group"), g))
                .transpose()?,
        };
        let image = match &c.image {
            None => {
                if c.rootfs.is_some() {
                    return Err(cx.err(
                        format!("{key}.rootfs"),
                        "rootfs says how an image's root is made: give image = \"oci:DIR:TAG\" \
                         too, or remove it (the host-made rootfs is always read-only binds)",
                    ));
                }
                None
            }
            Some(i) => {
                let base = path.parent().unwrap_or(Path::new("."));
                let source = limitcheck_image::Source::parse(i, base)
                    .map_err(|e| cx.err(format!("{key}.image"), e))?;
                let how = match &c.rootfs {
                    None => limitcheck_image::rootfs::How::Auto,
                    Some(r) => r
                        .parse()
                        .map_err(|e: String| cx.err(format!("{key}.rootfs"), e))?,
                };
                if c.workload.is_some() {
                    return Err(cx.err(
                        format!("{key}.workload"),
                        "a built-in workload runs limitcheck's own binary, which needs the \
                         host's libraries; an image container runs the image's programs: give \
                         command = [...] (or nothing, for the image's own command)",
                    ));
                }
                Some(ImageSpec { source, how })
            }
        };
        let mut stressor = None;
        let run = match (&c.workload, &c.command) {
            (Some(w), None) => {
                let st = cx.workload(&format!("{key}.workload"), w)?;
                if matches!(st, Stressor::Vm { leave: Some(_), .. }) && !f.whole_machine {
                    return Err(cx.err(
                        format!("{key}.workload.leave"),
                        "leave fills the machine's memory: add whole_machine = true at the top \
                         of the file (the scenario then runs only in limitcheck vm's guest), or \
                         give bytes alone",
                    ));
                }
                let args = st.args();
                stressor = Some(st);
                Run::Workload(args)
            }
            (None, Some(cmd)) if !cmd.is_empty() => Run::Command(cmd.clone()),
            (Some(_), Some(_)) => return Err(cx.err(&key, "give workload or command, not both")),
            (None, None) if image.is_some() => Run::Image,
            _ => {
                return Err(cx.err(
                    &key,
                    "give workload = { kind = \"cpu\", workers = 2 } or command = [\"...\"]",
                ))
            }
        };
        let mut limits = cx.limits(&key, &c.resources)?;
        match in_pod {
            None => limits.extend(cx.k8s(&key, &c.requests, &c.limits)?),
            Some(k) => {
                let docker_form = [
                    ("cpus", c.resources.cpus.is_some()),
                    ("cpu_quota", c.resources.cpu_quota.is_some()),
                    ("cpu_period", c.resources.cpu_period.is_some()),
                    ("cpu_shares", c.resources.cpu_shares.is_some()),
                    ("cpu_weight", c.resources.cpu_weight.is_some()),
                    ("memory", c.resources.memory.is_some()),
                    ("memory_swap", c.resources.memory_swap.is_some()),
                ];
                if let Some((k, _)) = docker_form.iter().find(|(_, given)| *given) {
                    return Err(cx.err(
                        format!("{key}.{k}"),
                        "a pod's container takes requests and limits as Kubernetes gives them \
                         (requests = { cpu = \"250m\" }, limits = { memory = \"64Mi\" }): the \
                         kubelet's conversion sets its cgroup",
                    ));
                }
                let r = cx.k8s_resources(&key, &c.requests, &c.limits)?;
                let pod_level = Some(&pods[k].resources).filter(|p| !p.is_empty());
                limits.extend(crate::pod::container_limits(pod_level, &r));
                pods[k].members.push(r);
            }
        }
        // The workload's processes must fit under the container's own pids limit: its parent
        // (the container's init) and each worker.
        // (The fork stressor is made to hit pids.max.)
        let workers = match &stressor {
            Some(
                Stressor::Cpu { workers, .. }
                | Stressor::Kernel { workers, .. }
                | Stressor::Vm { workers, .. }
                | Stressor::Io { workers, .. },
            ) => *workers as u64,
            _ => 0,
        };
        if let Some(Limit::PidsMax(Max::Value(p))) =
            limits.iter().find(|l| matches!(l, Limit::PidsMax(_)))
        {
            if workers > 0 && workers + 1 > *p {
                return Err(cx.err(
                    format!("{key}.pids"),
                    format!(
                        "pids = {p} leaves no room for the workload: {workers} workers and \
                         their parent need {}",
                        workers + 1
                    ),
                ));
            }
        }
        let exit = match &c.exit {
            None => None,
            Some(NumOrStr::Num(e)) if (0.0..=255.0).contains(e) && e.fract() == 0.0 => {
                Some(Exit::Status(*e as i32))
            }
            Some(NumOrStr::Str(s)) if s == "oom-kill" => Some(Exit::OomKill),
            Some(e) => {
                return Err(cx.err(
                    format!("{key}.exit"),
                    format!(
                        "{} is not an exit status 0 to 255, nor \"oom-kill\"",
                        e.quoted()
                    ),
                ))
            }
        };
        let oom_score_adj = match &c.oom_score_adj {
            None => None,
            Some(NumOrStr::Num(a)) if (-1000.0..=1000.0).contains(a) && a.fract() == 0.0 => {
                Some(*a as i32)
            }
            Some(a) => {
                return Err(cx.err(
                    format!("{key}.oom_score_adj"),
                    format!(
                        "{} is not an oom_score_adj: write a whole number from -1000 (never \
                         OOM-killed) to 1000 (killed first)",
                        a.quoted()
                    ),
                ))
            }
        };
        if let Some(g) = group {
            within_cpuset(&cx, &format!("{key}.cpuset"), &limits, &groups, g)?;
        }
        containers.push(ContainerSpec {
            name,
            run,
            limits,
            image,
            exit,
            oom_score_adj,
            group,
        });
    }
    finish_pods(&cx, &pods, &mut groups)?;
    let n_containers = containers.len();
    let find = |key: &str,
                name: &Option<String>,
                group: &Option<String>|
     -> Result<usize, ScenarioError> {
        match (name, group) {
            (Some(_), Some(_)) => Err(cx.err(
                format!("{key}.group"),
                "name a container or a group, not both",
            )),
            (None, Some(g)) => Ok(n_containers + group_named(&groups, &format!("{key}.group"), g)?),
            (None, None) if containers.len() == 1 => Ok(0),
            (None, None) => Err(cx.err(
                format!("{key}.container"),
                "name the container (or the group): the scenario has several",
            )),
            (Some(n), None) => containers.iter().position(|c| &c.name == n).ok_or_else(|| {
                cx.err(
                    format!("{key}.container"),
                    if groups.iter().any(|g| &g.name == n) {
                        format!("{n:?} is a group: write group = {n:?}")
                    } else {
                        format!("no container is named {n:?}")
                    },
                )
            }),
        }
    };
    let mut steps = Vec::new();
    for (i, s) in f.step.iter().enumerate() {
        let key = format!("step[{i}]");
        let at = cx.duration(&format!("{key}.at"), &s.at)?;
        if at >= duration {
            return Err(cx.err(
                format!("{key}.at"),
                format!("{} is not before the end ({})", s.at, f.duration),
            ));
        }
        let container = find(&key, &s.container, &s.group)?;
        // A repeated step (`every` ... `until`): its times, from `at`.
        let times: Vec<Duration> = match (&s.every, &s.until) {
            (None, None) => vec![at],
            (Some(e), Some(u)) => {
                let every = cx.duration(&format!("{key}.every"), e)?;
                let until = cx.duration(&format!("{key}.until"), u)?;
                if every < Duration::from_millis(1) {
                    return Err(cx.err(format!("{key}.every"), "give at least 1ms"));
                }
                if until < at || until >= duration {
                    return Err(cx.err(
                        format!("{key}.until"),
                        format!(
                            "{u} must be from at ({}) to before the end ({})",
                            s.at, f.duration
                        ),
                    ));
                }
                let n =
                    ((until - at).as_secs_f64() / every.as_secs_f64() + 1e-9).floor() as usize + 1;
                if n > 10_000 {
                    return Err(cx.err(
                        format!("{key}.every"),
                        format!("{n} repetitions: at most 10000; give a longer interval"),
                    ));
                }
                (0..n).map(|k| at + every * k as u32).collect()
            }
            (Some(_), None) => {
                return Err(cx.err(
                    format!("{key}.until"),
                    "a step repeated every ... needs until = \"...\", its last time",
                ))
            }
            (None, Some(_)) => {
                return Err(cx.err(
                    format!("{key}.every"),
                    "until says when a repeated step stops: give every = \"100ms\" too",
                ))
            }
        };
        let text = |v: &NumOrStr| match v {
            NumOrStr::Num(n) if n.fract() == 0.0 => format!("{}", *n as i64),
            NumOrStr::Num(n) => n.to_string(),
            NumOrStr::Str(s) => s.clone(),
        };
        // The values a write gives, one per repetition, in turn.
        let mut values: Vec<String> = Vec::new();
        if let Some(w) = &s.write {
            values = match (&w.value, &w.values) {
                (Some(v), None) => vec![text(v)],
                (None, Some(vs)) if !vs.is_empty() && s.every.is_some() => {
                    vs.iter().map(text).collect()
                }
                (None, Some(_)) if s.every.is_none() => {
                    return Err(cx.err(
                        format!("{key}.write.values"),
                        "values are written in turn by a repeated step: give every and until, \
                         or write one value = \"...\"",
                    ))
                }
                _ => {
                    return Err(cx.err(
                        format!("{key}.write"),
                        "give value = \"...\" (or, with every, values = [\"...\", ...])",
                    ))
                }
            };
        }
        let change = match (&s.set, &s.write, s.action.as_deref()) {
            (Some(set), None, None) => Change::Set(cx.limits(&format!("{key}.set"), set)?),
            (None, Some(w), None) => Change::Write {
                file: w.file.clone(),
                value: values[0].clone(),
            },
            (None, None, Some("pause")) => Change::Pause,
            (None, None, Some("resume")) => Change::Resume,
            (None, None, Some("kill")) => Change::Kill,
            (None, None, Some(a)) => {
                return Err(cx.err(
                    format!("{key}.action"),
                    format!("{a:?} is not pause, resume or kill"),
                ))
            }
            _ => {
                return Err(cx.err(
                    &key,
                    "give exactly one of set = {...}, write = {...} or action = \"pause\"",
                ))
            }
        };
        let via = match s.via.as_deref() {
            None | Some("file") => Via::File,
            Some("runtime") => Via::Runtime,
            Some(v) => {
                return Err(cx.err(
                    format!("{key}.via"),
                    format!("{v:?} is not \"file\" or \"runtime\""),
                ))
            }
        };
        if via == Via::Runtime && container >= n_containers {
            return Err(cx.err(
                format!("{key}.via"),
                "a group has no runtime to update it (it is limitcheck's own cgroup): give via \
                 = \"file\" or leave via out",
            ));
        }
        if via == Via::Runtime && !matches!(change, Change::Set(_)) {
            return Err(cx.err(
                format!("{key}.via"),
                "via = \"runtime\" takes set = {...} (the runtime updates typed limits)",
            ));
        }
        let expect = s.expect.clone().unwrap_or_else(|| "ok".into());
        if expect != "ok" && !expect.starts_with('E') {
            return Err(cx.err(
                format!("{key}.expect"),
                format!("{expect:?} is not \"ok\" or an errno name like \"EBUSY\""),
            ));
        }
        let only = cx.only(&format!("{key}.only"), &s.only)?;
        for (k, at) in times.into_iter().enumerate() {
            let change = match &change {
                Change::Write { file, .. } => Change::Write {
                    file: file.clone(),
                    value: values[k % values.len()].clone(),
                },
                c => c.clone(),
            };
            steps.push(Step {
                at,
                container,
                change,
                via,
                expect: expect.clone(),
                only,
            });
        }
    }
    steps.sort_by_key(|s| s.at);
    let mut expects = Vec::new();
    for (i, e) in f.expect.iter().enumerate() {
        let key = format!("expect[{i}]");
        let metric = Metric::parse(&e.metric).ok_or_else(|| {
            cx.err(
                format!("{key}.metric"),
                format!(
                    "{:?} is not a metric; use one of {}, cpu.usage.cpuN, or \
                     cpu.usage.peakNms",
                    e.metric,
                    Metric::NAMES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if let Metric::CpuUsagePeak(ms) = metric {
            // Ten samples per span at least: the span a peak is read over is one interval
            // longer at worst, which dilutes it by up to a tenth.
            let most = Duration::from_millis(u64::from(ms)) / 10;
            if interval > most {
                return Err(cx.err(
                    format!("{key}.metric"),
                    format!(
                        "{} needs a sample every {} ms at least (a tenth of its span), and \
                         the scenario samples every {} ms: give interval = \"{}ms\" or less",
                        e.metric,
                        most.as_secs_f64() * 1e3,
                        interval.as_secs_f64() * 1e3,
                        most.as_millis().max(1)
                    ),
                ));
            }
        }
        let container = find(&key, &e.container, &e.group)?;
        if container >= n_containers
            && matches!(
                metric,
                Metric::WorkloadRespawns | Metric::WorkloadFailedForks | Metric::WorkloadOpsPerS
            )
        {
            return Err(cx.err(
                format!("{key}.metric"),
                format!(
                    "{} counts a container's workload; a group runs none of its own: name one \
                     of its containers",
                    e.metric
                ),
            ));
        }
        if e.window.len() != 2 {
            return Err(cx.err(
                format!("{key}.window"),
                "give [from, to], e.g. [\"2s\", \"6s\"]",
            ));
        }
        let (a, b) = (
            cx.duration(&format!("{key}.window"), &e.window[0])?,
            cx.duration(&format!("{key}.window"), &e.window[1])?,
        );
        if a >= b || b > duration {
            return Err(cx.err(
                format!("{key}.window"),
                format!(
                    "[{}, {}] must run forwards and end by the duration ({})",
                    e.window[0], e.window[1], f.duration
                ),
            ));
        }
        let value = |k: &str, v: &NumOrStr| -> Result<f64, ScenarioError> {
            match v {
                NumOrStr::Num(n) => Ok(*n),
                NumOrStr::Str(s) if metric.is_bytes() || metric.is_byte_rate() => parse_size(s)
                    .map(|b| b as f64)
                    .map_err(|er| cx.err(format!("{key}.{k}"), er.to_string())),
                NumOrStr::Str(s) => Err(cx.err(
                    format!("{key}.{k}"),
                    format!("{s:?}: {} takes a number", e.metric),
                )),
            }
        };
        let tolerance = match &e.tolerance {
            None => Tolerance::Relative(0.05),
            Some(NumOrStr::Str(s)) if s.ends_with('%') => {
                let p: f64 = s.trim_end_matches('%').trim().parse().map_err(|_| {
                    cx.err(
                        format!("{key}.tolerance"),
                        format!("{s:?} is not a percentage like \"5%\""),
                    )
                })?;
                Tolerance::Relative(p / 100.0)
            }
            Some(v) => Tolerance::Absolute(value("tolerance", v)?),
        };
        let approx = e
            .approx
            .as_ref()
            .map(|v| value("approx", v))
            .transpose()?
            .map(|v| (v, tolerance));
        let min = e.min.as_ref().map(|v| value("min", v)).transpose()?;
        let max = e.max.as_ref().map(|v| value("max", v)).transpose()?;
        if approx.is_none() && min.is_none() && max.is_none() {
            return Err(cx.err(&key, "give approx (with tolerance), min or max"));
        }
        let settles_within = e
            .settles_within
            .as_deref()
            .map(|s| cx.duration(&format!("{key}.settles_within"), s))
            .transpose()?;
        if settles_within.is_some() && approx.is_none() {
            return Err(cx.err(
                format!("{key}.settles_within"),
                "needs approx: settling is reaching approx within tolerance",
            ));
        }
        expects.push(Expect {
            metric,
            container,
            window: (a, b),
            approx,
            min,
            max,
            only: cx.only(&format!("{key}.only"), &e.only)?,
            settles_within,
        });
    }
    Ok(Scenario {
        name,
        description: f.description.unwrap_or_default(),
        file: path.to_path_buf(),
        duration,
        interval,
        only: cx.only("only", &f.only)?,
        swap: f.swap,
        whole_machine: f.whole_machine,
        min_cpus: match f.min_cpus {
            None => None,
            Some(n) if (1..=4096).contains(&n) => Some(n as usize),
            Some(n) => {
                return Err(cx.err(
                    "min_cpus",
                    format!(
                        "{n} is outside 1..=4096: give the online CPUs the scenario needs, \
                         e.g. min_cpus = 8"
                    ),
                ))
            }
        },
        runtime: match f.runtime.as_deref().map(str::trim) {
            None => None,
            Some("") => {
                return Err(cx.err(
                    "runtime",
                    "give a runtime (runc, crun, youki, lcrun, a path) or an engine (docker, \
                     podman, podman:runc), or leave the key out",
                ))
            }
            Some(r) if crate::lane::is_engine(r) => {
                if let Some(why) = crate::lane::engine_syntax(r) {
                    return Err(cx.err("runtime", why));
                }
                Some(r.to_string())
            }
            Some(r) => Some(r.to_string()),
        },
        containers,
        groups,
        steps,
        expects,
    })
}

/// A `[[pod]]` while its containers are read.
struct PodDraft {
    name: String,
    resources: crate::pod::Resources,
    pids: Option<Max>,
    /// Its group's index.
    group: usize,
    /// Its containers' requests and limits.
    members: Vec<crate::pod::Resources>,
}

/// The kubelet's cgroups, below the scenario's tree: `kubepods`, its QoS cgroups `burstable`
/// and `besteffort`, then `pod<name>` in one of them (or in kubepods, when Guaranteed).
const KUBEPODS: &str = "kubepods";

/// The `[[pod]]` tables: each becomes a group, after `kubepods`, `burstable` and
/// `besteffort` (appended to `groups`); their limits and parents are set once their
/// containers are known ([`finish_pods`]).
fn check_pods(
    cx: &Ctx,
    files: &[PodFile],
    groups: &mut Vec<GroupSpec>,
) -> Result<Vec<PodDraft>, ScenarioError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    for reserved in [KUBEPODS, "burstable", "besteffort"] {
        if let Some(i) = groups.iter().position(|g| g.name == reserved) {
            return Err(cx.err(
                format!("group[{i}].name"),
                format!(
                    "{reserved:?} is the kubelet's QoS cgroup, which the scenario's pods make; \
                     name this group otherwise"
                ),
            ));
        }
    }
    let kubepods = groups.len();
    let qos = |name: &str, parent, about: &str| GroupSpec {
        name: name.into(),
        dir: name.into(),
        about: about.into(),
        parent,
        limits: Vec::new(),
    };
    groups.push(qos(
        KUBEPODS,
        None,
        "the kubelet's pods cgroup (node allocatable: no limit written here)",
    ));
    groups.push(qos(
        "burstable",
        Some(kubepods),
        "the kubelet's burstable QoS cgroup: shares of its pods' CPU requests",
    ));
    groups.push(qos(
        "besteffort",
        Some(kubepods),
        "the kubelet's besteffort QoS cgroup: shares 2",
    ));
    let mut pods: Vec<PodDraft> = Vec::new();
    for (i, p) in files.iter().enumerate() {
        let key = format!("pod[{i}]");
        let Some(name) = p.name.clone() else {
            return Err(cx.err(
                &key,
                "a pod needs a name (its containers say pod = \"NAME\")",
            ));
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(cx.err(format!("{key}.name"), "use letters, digits, - and _"));
        }
        if groups.iter().any(|g| g.name == name) {
            return Err(cx.err(
                format!("{key}.name"),
                format!("{name:?} is used twice (pods and groups share their names)"),
            ));
        }
        let resources = cx.k8s_resources(&key, &p.requests, &p.limits)?;
        let pids = match p.pids {
            None => None,
            Some(n) if n <= 0 => Some(Max::Unlimited),
            Some(n) => Some(Max::Value(n as u64)),
        };
        groups.push(GroupSpec {
            dir: format!("pod{name}"),
            name: name.clone(),
            about: String::new(),
            parent: Some(kubepods),
            limits: Vec::new(),
        });
        pods.push(PodDraft {
            name,
            resources,
            pids,
            group: groups.len() - 1,
            members: Vec::new(),
        });
    }
    Ok(pods)
}

/// Each pod's class, its cgroup's limits and its place (kubepods, burstable or besteffort),
/// and the burstable QoS cgroup's shares, now that their containers are read.
fn finish_pods(cx: &Ctx, pods: &[PodDraft], groups: &mut [GroupSpec]) -> Result<(), ScenarioError> {
    use crate::pod::{self, QosClass};
    let Some(first) = pods.first() else {
        return Ok(());
    };
    let kubepods = first.group - 3;
    let mut burstable_milli = 0;
    for (i, p) in pods.iter().enumerate() {
        if p.members.is_empty() {
            return Err(cx.err(
                format!("pod[{i}]"),
                format!(
                    "pod {:?} has no container: give one pod = {:?} in its [[container]]",
                    p.name, p.name
                ),
            ));
        }
        let level = Some(&p.resources).filter(|r| !r.is_empty());
        let (class, mut limits) = pod::pod_limits(level, &p.members);
        if let Some(n) = p.pids {
            limits.push(Limit::PidsMax(n));
        }
        let g = &mut groups[p.group];
        g.parent = Some(match class {
            QosClass::Guaranteed => kubepods,
            QosClass::Burstable => kubepods + 1,
            QosClass::BestEffort => kubepods + 2,
        });
        g.about = format!("{class} pod (the kubelet's ResourceConfigForPod)");
        g.limits = limits;
        if class == QosClass::Burstable {
            burstable_milli += pod::pod_cpu_request(level, &p.members);
        }
    }
    groups[kubepods + 1].limits = vec![Limit::CpuShares(pod::milli_cpu_to_shares(burstable_milli))];
    groups[kubepods + 2].limits = vec![Limit::CpuShares(pod::MIN_SHARES)];
    Ok(())
}

/// The `[[group]]` tables: names unique, each parent named before its child.
fn check_groups(cx: &Ctx, files: &[GroupFile]) -> Result<Vec<GroupSpec>, ScenarioError> {
    let mut groups: Vec<GroupSpec> = Vec::new();
    for (i, g) in files.iter().enumerate() {
        let key = format!("group[{i}]");
        let Some(name) = g.name.clone() else {
            return Err(cx.err(
                &key,
                "a group needs a name (containers say group = \"NAME\" to go in it)",
            ));
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(cx.err(format!("{key}.name"), "use letters, digits, - and _"));
        }
        if groups.iter().any(|x| x.name == name) {
            return Err(cx.err(format!("{key}.name"), format!("{name:?} is used twice")));
        }
        let parent = match &g.parent {
            None => None,
            Some(p) if *p == name => {
                return Err(cx.err(format!("{key}.parent"), "a group cannot hold itself"))
            }
            Some(p) => Some(groups.iter().position(|x| &x.name == p).ok_or_else(|| {
                cx.err(
                    format!("{key}.parent"),
                    format!(
                        "no group {p:?} is defined above this one: write the parent's [[group]] \
                         first"
                    ),
                )
            })?),
        };
        let limits = cx.limits(&key, &g.resources)?;
        if let Some(p) = parent {
            within_cpuset(cx, &format!("{key}.cpuset"), &limits, &groups, p)?;
        }
        groups.push(GroupSpec {
            dir: name.clone(),
            about: String::new(),
            name,
            parent,
            limits,
        });
    }
    Ok(groups)
}

/// A cpuset inside group `g` must be a subset of the nearest cpuset above it (the kernel
/// refuses the write with EINVAL on v1, and narrows it silently on v2).
fn within_cpuset(
    cx: &Ctx,
    key: &str,
    limits: &[Limit],
    groups: &[GroupSpec],
    g: usize,
) -> Result<(), ScenarioError> {
    let cpuset = |l: &[Limit]| {
        l.iter().find_map(|l| match l {
            Limit::CpusetCpus(c) => Some(c.clone()),
            _ => None,
        })
    };
    let Some(mine) = cpuset(limits) else {
        return Ok(());
    };
    let mut at = Some(g);
    while let Some(x) = at {
        if let Some(theirs) = cpuset(&groups[x].limits) {
            if !mine.ids().iter().all(|c| theirs.ids().contains(c)) {
                return Err(cx.err(
                    key,
                    format!(
                        "{mine} is not within group {}'s cpuset {theirs}: give CPUs of it",
                        groups[x].name
                    ),
                ));
            }
            return Ok(());
        }
        at = groups[x].parent;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "duration = \"3s\"\n[[container]]\nworkload = { kind = \"cpu\" }\n\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"2s\"]\nmax = 1\n\n[[expect]]\nwindow = [\"1s\", \"2s\"]\nmetric = \"x\"\nmax = 1\n";

    #[test]
    fn locate_finds_the_key_in_its_table() {
        assert_eq!(locate(TEXT, "duration"), Some(1));
        assert_eq!(locate(TEXT, "container[0].workload.kind"), Some(3));
        assert_eq!(locate(TEXT, "expect[0].window"), Some(7));
        assert_eq!(locate(TEXT, "expect[1].metric"), Some(12));
        // A key the table does not write, or the table itself: the table's header.
        assert_eq!(locate(TEXT, "expect[1].approx"), Some(10));
        assert_eq!(locate(TEXT, "expect[1]"), Some(10));
        assert_eq!(locate(TEXT, "step[0].at"), None);
    }

    #[test]
    fn errors_carry_the_line_of_the_key() {
        let e = parse(TEXT, Path::new("t.toml")).unwrap_err();
        assert_eq!(e.line, Some(12), "{e}");
        assert_eq!(e.key, "expect[1].metric");
        assert!(
            e.to_string()
                .starts_with("t.toml:12: expect[1].metric: \"x\" is not a metric"),
            "{e}"
        );
    }

    #[test]
    fn a_valid_file_checks() {
        let text = TEXT.replace("\"x\"", "\"cpu.usage\"");
        let s = parse(&text, Path::new("ok.toml")).unwrap();
        assert_eq!(s.name, "ok");
        assert_eq!(s.expects.len(), 2);
        assert_eq!(s.containers[0].name, "main");
        assert_eq!(s.interval, Duration::from_millis(100));
        assert_eq!(s.containers[0].exit, None);
    }

    /// The key an error names for a one-container scenario with `container` lines.
    fn refused_key(container: &str) -> String {
        let text = format!("duration = \"2s\"\n[[container]]\n{container}\n");
        match parse(&text, Path::new("v.toml")) {
            Ok(_) => "(accepted)".into(),
            Err(e) => {
                assert!(e.line.is_some(), "{e}");
                e.key
            }
        }
    }

    #[test]
    fn an_image_container_is_checked_and_its_path_is_the_scenario_files() {
        let text = "duration = \"2s\"\n[[container]]\nimage = \"oci:../images/bb:v1\"\n";
        let s = parse(text, Path::new("/x/scenarios/i.toml")).unwrap();
        let c = &s.containers[0];
        assert_eq!(c.run, Run::Image);
        let img = c.image.as_ref().unwrap();
        assert_eq!(
            img.source,
            limitcheck_image::Source::Layout {
                dir: "/x/scenarios/../images/bb".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(img.how, limitcheck_image::rootfs::How::Auto);
        let img = |rest: &str| refused_key(&format!("image = \"oci:img\"\n{rest}"));
        assert_eq!(img("rootfs = \"zfs\""), "container[0].rootfs");
        assert_eq!(
            img("workload = { kind = \"cpu\" }"),
            "container[0].workload"
        );
        assert_eq!(img("rootfs = \"copy\"\ncommand = [\"sh\"]"), "(accepted)");
        assert_eq!(
            refused_key("image = \"docker://busybox\""),
            "container[0].image"
        );
        assert_eq!(refused_key("image = \"busybox\""), "container[0].image");
        assert_eq!(
            refused_key("command = [\"true\"]\nrootfs = \"copy\""),
            "container[0].rootfs"
        );
    }

    #[test]
    fn values_are_checked_as_the_kernel_and_the_stressor_would() {
        let cpu = |rest: &str| refused_key(&format!("workload = {{ kind = \"cpu\"{rest} }}"));
        assert_eq!(cpu(", workers = 0"), "container[0].workload.workers");
        assert_eq!(cpu(", workers = 100000"), "container[0].workload.workers");
        assert_eq!(cpu(", load = 300"), "container[0].workload.load");
        assert_eq!(cpu(", load = 0"), "container[0].workload.load");
        assert_eq!(cpu(", workers = 2, load = 50"), "(accepted)");
        let vm = "workload = { kind = \"vm\", bytes = \"1\" }";
        assert_eq!(refused_key(vm), "container[0].workload.bytes");
        let hog = "workload = { kind = \"cpu\", workers = 3 }\n";
        for (limits, key) in [
            ("limits = { cpu = \"1e30\" }", "container[0].limits.cpu"),
            ("limits = { cpu = \"0.0001m\" }", "container[0].limits.cpu"),
            ("requests = { cpu = \"1e30\" }", "container[0].requests.cpu"),
            ("limits = { memory = \"1k\" }", "container[0].limits.memory"),
            ("memory = \"1k\"", "container[0].memory"),
            ("memory = \"5M\"", "container[0].memory"),
            (
                "memory = \"256M\"\nmemory_swap = \"128M\"",
                "container[0].memory_swap",
            ),
            ("cpus = 1e30", "container[0].cpus"),
            ("cpus = 0", "container[0].cpus"),
            ("cpu_period = 100", "container[0].cpu_period"),
            ("pids = 3", "container[0].pids"),
        ] {
            assert_eq!(refused_key(&format!("{hog}{limits}")), key, "{limits}");
        }
        for ok in [
            "memory = \"6M\"",
            "memory = -1",
            "memory = \"256M\"\nmemory_swap = \"256M\"",
            "pids = 4",
            "limits = { cpu = \"1024\" }",
        ] {
            assert_eq!(refused_key(&format!("{hog}{ok}")), "(accepted)", "{ok}");
        }
        // The fork stressor exists to hit pids.max.
        assert_eq!(
            refused_key("workload = { kind = \"fork\", processes = 100 }\npids = 20"),
            "(accepted)"
        );
    }

    #[test]
    fn an_allowed_exit_status_is_0_to_255() {
        let base = "duration = \"2s\"\n[[container]]\ncommand = [\"true\"]\n";
        let s = parse(&format!("{base}exit = 0\n"), Path::new("e.toml")).unwrap();
        assert_eq!(s.containers[0].exit, Some(Exit::Status(0)));
        let s = parse(&format!("{base}exit = \"oom-kill\"\n"), Path::new("e.toml")).unwrap();
        assert_eq!(s.containers[0].exit, Some(Exit::OomKill));
        for bad in ["300", "-1", "1.5", "\"signal\""] {
            let e = parse(&format!("{base}exit = {bad}\n"), Path::new("e.toml")).unwrap_err();
            assert_eq!(e.key, "container[0].exit", "{e}");
            assert_eq!(e.line, Some(4), "{e}");
        }
    }

    #[test]
    fn a_peak_needs_ten_samples_per_span() {
        let text = |interval: &str| {
            format!(
                "duration = \"2s\"\ninterval = \"{interval}\"\n[[container]]\nworkload = \
                 {{ kind = \"cpu\", workers = 1 }}\n[[expect]]\nmetric = \
                 \"cpu.usage.peak100ms\"\nwindow = [\"0s\", \"2s\"]\nmax = 0.6\n"
            )
        };
        let s = parse(&text("10ms"), Path::new("p.toml")).unwrap();
        assert_eq!(s.expects[0].metric, Metric::CpuUsagePeak(100));
        let e = parse(&text("20ms"), Path::new("p.toml")).unwrap_err();
        assert_eq!(e.key, "expect[0].metric", "{e}");
        assert!(e.to_string().contains("interval = \"10ms\""), "{e}");
    }

    #[test]
    fn oom_score_adj_is_the_kernels_range() {
        let base = "duration = \"2s\"\n[[container]]\ncommand = [\"true\"]\n";
        for (v, want) in [("-1000", -1000), ("0", 0), ("1000", 1000)] {
            let s = parse(&format!("{base}oom_score_adj = {v}\n"), Path::new("o.toml")).unwrap();
            assert_eq!(s.containers[0].oom_score_adj, Some(want));
        }
        for bad in ["-1001", "1001", "2.5", "\"low\""] {
            let e = parse(
                &format!("{base}oom_score_adj = {bad}\n"),
                Path::new("o.toml"),
            )
            .unwrap_err();
            assert_eq!(e.key, "container[0].oom_score_adj", "{e}");
            assert_eq!(e.line, Some(4), "{e}");
        }
    }

    /// `runtime = "…"` names a runtime or an engine the scenario is about; an empty one or an
    /// engine spelled wrong is an error naming the line, the key and the fix.
    #[test]
    fn a_scenarios_own_runtime_is_checked() {
        let base = "duration = \"3s\"\n[[container]]\nworkload = { kind = \"cpu\" }\n";
        for ok in [
            "runc",
            "/usr/sbin/runc",
            "docker",
            "podman",
            "podman:runc",
            "lcrun",
        ] {
            let s = parse(&format!("runtime = \"{ok}\"\n{base}"), Path::new("r.toml")).unwrap();
            assert_eq!(s.runtime.as_deref(), Some(ok));
        }
        assert_eq!(parse(base, Path::new("r.toml")).unwrap().runtime, None);
        for (bad, says) in [
            ("", "give a runtime"),
            ("docker:runc", "docker's OCI runtime is its daemon's"),
            ("podman:", "give docker, podman or podman:RUNTIME"),
        ] {
            let e2 =
                parse(&format!("runtime = \"{bad}\"\n{base}"), Path::new("r.toml")).unwrap_err();
            assert_eq!(e2.key, "runtime", "{e2}");
            assert_eq!(e2.line, Some(1), "{e2}");
            assert!(e2.to_string().contains(says), "{e2}");
        }
    }

    /// `text` with `from` replaced by `to` must be refused, at a line: the key and the message.
    fn refused_edit(text: &str, from: &str, to: &str) -> (String, String) {
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from} is not in the text");
        let e = parse(&edited, Path::new("t.toml")).unwrap_err();
        assert!(e.line.is_some(), "{e}");
        (e.key.clone(), e.to_string())
    }

    const TREE: &str = "duration = \"4s\"\n\
[[group]]\nname = \"trunk\"\ncpus = 1.5\ncpuset = \"0-1\"\n\
[[group]]\nname = \"leaf\"\nparent = \"trunk\"\ncpu_quota = 3000\ncpu_period = 10000\n\
[[container]]\nname = \"a\"\ngroup = \"leaf\"\nworkload = { kind = \"cpu\" }\n\
[[container]]\nname = \"b\"\nworkload = { kind = \"cpu\" }\n\
[[step]]\nat = \"1s\"\ngroup = \"trunk\"\nset = { cpus = 0.5 }\n\
[[expect]]\nmetric = \"cpu.usage\"\ngroup = \"leaf\"\nwindow = [\"1s\", \"2s\"]\nmax = 0.3\n";

    /// Groups in groups: units are the containers then the groups, each group's path and a
    /// unit's groups follow the parents, and steps and expectations name a group by index.
    #[test]
    fn groups_nest_and_are_units_after_the_containers() {
        let s = parse(TREE, Path::new("tree.toml")).unwrap();
        assert_eq!(s.unit_names(), ["a", "b", "trunk", "leaf"]);
        assert_eq!(s.groups[1].parent, Some(0));
        assert_eq!(s.group_path(1), Path::new("trunk/leaf"));
        assert_eq!(s.containers[0].group, Some(1));
        assert_eq!(s.containers[1].group, None);
        assert_eq!(s.ancestors(0), [3, 2]);
        assert_eq!(s.ancestors(1), Vec::<usize>::new());
        assert_eq!(s.ancestors(3), [2]);
        assert_eq!(s.steps[0].container, 2);
        assert_eq!(s.expects[0].container, 3);
        assert_eq!(s.group_of_unit(3), Some(1));
        assert_eq!(s.group_of_unit(1), None);
        assert_eq!(
            s.groups[1].limits,
            [Limit::CpuMax {
                quota_us: Max::Value(3000),
                period_us: 10000
            }]
        );
    }

    /// Each mistake in a tree is refused at its key, with the fix.
    #[test]
    fn a_wrong_tree_is_refused_at_its_key() {
        let refused = |from: &str, to: &str| refused_edit(TREE, from, to);
        let (key, why) = refused("parent = \"trunk\"", "parent = \"nowhere\"");
        assert_eq!(key, "group[1].parent");
        assert!(
            why.contains("no group \"nowhere\" is defined above"),
            "{why}"
        );
        // A parent written after its child.
        let (key, _) = refused("name = \"trunk\"", "name = \"trunk\"\nparent = \"leaf\"");
        assert_eq!(key, "group[0].parent");
        let (key, why) = refused("name = \"b\"", "name = \"trunk\"");
        assert_eq!(key, "container[1].name");
        assert!(why.contains("is also a group's or a pod's name"), "{why}");
        let (key, why) = refused("group = \"leaf\"\nworkload", "group = \"lef\"\nworkload");
        assert_eq!(key, "container[0].group");
        assert!(why.contains("the groups are trunk, leaf"), "{why}");
        let (key, _) = refused(
            "group = \"trunk\"\nset",
            "container = \"a\"\ngroup = \"trunk\"\nset",
        );
        assert_eq!(key, "step[0].group");
        let (key, why) = refused(
            "set = { cpus = 0.5 }",
            "set = { cpus = 0.5 }\nvia = \"runtime\"",
        );
        assert_eq!(key, "step[0].via");
        assert!(why.contains("a group has no runtime"), "{why}");
        let (key, why) = refused(
            "metric = \"cpu.usage\"\ngroup",
            "metric = \"workload.ops_per_s\"\ngroup",
        );
        assert_eq!(key, "expect[0].metric");
        assert!(why.contains("a group runs none of its own"), "{why}");
        let (key, why) = refused("group = \"trunk\"\nset", "container = \"trunk\"\nset");
        assert_eq!(key, "step[0].container");
        assert!(why.contains("write group = \"trunk\""), "{why}");
        let (key, why) = refused(
            "name = \"a\"\ngroup = \"leaf\"",
            "name = \"a\"\ngroup = \"leaf\"\ncpuset = \"2\"",
        );
        assert_eq!(key, "container[0].cpuset");
        assert!(why.contains("not within group trunk's cpuset 0-1"), "{why}");
        let (key, _) = refused("[[group]]\nname = \"leaf\"", "[[group]]\nnom = \"leaf\"");
        assert_eq!(key, "(toml)");
    }

    const PODS: &str = "duration = \"4s\"\n\
[[pod]]\nname = \"web\"\n\
[[pod]]\nname = \"api\"\nlimits = { cpu = \"1\", memory = \"128Mi\" }\n\
[[container]]\nname = \"a\"\npod = \"web\"\nworkload = { kind = \"cpu\" }\nrequests = { cpu = \"250m\" }\n\
[[container]]\nname = \"b\"\npod = \"api\"\nworkload = { kind = \"cpu\" }\n";

    /// Pods become the kubelet's groups: kubepods, its QoS cgroups, a pod<name> each in the
    /// one its class says, with the kubelet's values.
    #[test]
    fn pods_become_the_kubelets_tree() {
        let s = parse(PODS, Path::new("pods.toml")).unwrap();
        let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["kubepods", "burstable", "besteffort", "web", "api"]);
        assert_eq!(s.group_path(3), Path::new("kubepods/burstable/podweb"));
        // Pod-level limits, requests defaulted to them: Guaranteed, right under kubepods.
        assert_eq!(s.group_path(4), Path::new("kubepods/podapi"));
        assert!(
            s.groups[4].about.starts_with("Guaranteed pod"),
            "{}",
            s.groups[4].about
        );
        assert_eq!(
            s.groups[4].limits,
            [
                Limit::CpuShares(1024),
                Limit::CpuMax {
                    quota_us: Max::Value(100_000),
                    period_us: 100_000
                },
                Limit::MemoryMax(Max::Value(128 << 20))
            ]
        );
        assert_eq!(s.groups[1].limits, [Limit::CpuShares(256)]);
        assert_eq!(s.groups[2].limits, [Limit::CpuShares(2)]);
        assert_eq!(s.containers[0].group, Some(3));
        assert_eq!(s.containers[0].limits, [Limit::CpuShares(256)]);
        // A container without limits of its own takes the pod's.
        assert_eq!(s.containers[1].limits.len(), 3);
        assert_eq!(s.ancestors(1), [6, 2]);
    }

    #[test]
    fn a_wrong_pod_is_refused_at_its_key() {
        let refused = |from: &str, to: &str| refused_edit(PODS, from, to);
        let (key, why) = refused("pod = \"web\"", "pod = \"wbe\"");
        assert_eq!(key, "container[0].pod");
        assert!(why.contains("no [[pod]] is named \"wbe\""), "{why}");
        let (key, _) = refused("pod = \"web\"", "pod = \"web\"\ngroup = \"api\"");
        assert_eq!(key, "container[0].pod");
        let (key, why) = refused("pod = \"web\"", "pod = \"web\"\ncpus = 1");
        assert_eq!(key, "container[0].cpus");
        assert!(
            why.contains("requests and limits as Kubernetes gives them"),
            "{why}"
        );
        let (key, why) = refused("pod = \"api\"", "pod = \"web\"");
        assert_eq!(key, "pod[1]");
        assert!(why.contains("pod \"api\" has no container"), "{why}");
        let (key, why) = refused(
            "requests = { cpu = \"250m\" }",
            "requests = { cpu = \"250m\" }\nlimits = { cpu = \"200m\" }",
        );
        assert_eq!(key, "container[0].requests.cpu");
        assert!(why.contains("Kubernetes refuses"), "{why}");
        let (key, _) = refused(
            "[[pod]]\nname = \"web\"",
            "[[group]]\nname = \"burstable\"\n[[pod]]\nname = \"web\"",
        );
        assert_eq!(key, "group[0].name");
        let (key, _) = refused("name = \"a\"", "name = \"web\"");
        assert_eq!(key, "container[0].name");
        let (key, _) = refused("[[pod]]\nname = \"api\"", "[[pod]]\nname = \"web\"");
        assert_eq!(key, "pod[1].name");
    }

    #[test]
    fn weights_and_memory_protection_are_checked() {
        let base = "duration = \"2s\"\n[[container]]\nworkload = { kind = \"cpu\" }\n";
        let limits = |extra: &str| {
            parse(&format!("{base}{extra}\n"), Path::new("w.toml"))
                .map(|s| s.containers[0].limits.clone())
        };
        assert_eq!(
            limits("cpu_weight = 10000").unwrap(),
            [Limit::CpuWeight(10000)]
        );
        assert_eq!(
            limits("memory_high = \"64M\"\nmemory_low = 0\nmemory_min = \"16M\"\nmemory_soft_limit = -1").unwrap(),
            [
                Limit::MemoryHigh(Max::Value(64 << 20)),
                Limit::MemoryLow(0),
                Limit::MemoryMin(16 << 20),
                Limit::MemorySoftLimit(Max::Unlimited)
            ]
        );
        for (bad, key) in [
            ("cpu_weight = 0", "container[0].cpu_weight"),
            ("cpu_weight = 10001", "container[0].cpu_weight"),
            (
                "cpu_weight = 100\ncpu_shares = 1024",
                "container[0].cpu_weight",
            ),
            ("memory_high = \"1M\"", "container[0].memory_high"),
            ("memory_min = -1", "container[0].memory_min"),
        ] {
            assert_eq!(limits(bad).unwrap_err().key, key, "{bad}");
        }
    }

    /// io_read_bps / io_write_bps throttle the disk under /var/tmp, found when the scenario
    /// runs; 0 (no I/O at all) is refused as any size of 0 is.
    #[test]
    fn io_throttles_name_the_scratch_disk() {
        let base = "duration = \"2s\"\n[[container]]\nworkload = { kind = \"io\", bytes = \"8M\", direct = true }\n";
        let limits = |extra: &str| {
            parse(&format!("{base}{extra}\n"), Path::new("io.toml"))
                .map(|s| s.containers[0].limits.clone())
        };
        use limitcheck_cgroup::ThrottleKind;
        assert_eq!(
            limits("io_read_bps = \"10M\"\nio_write_bps = -1").unwrap(),
            [
                Limit::IoThrottle {
                    device: SCRATCH_DISK,
                    kind: ThrottleKind::ReadBps,
                    rate: Max::Value(10 << 20)
                },
                Limit::IoThrottle {
                    device: SCRATCH_DISK,
                    kind: ThrottleKind::WriteBps,
                    rate: Max::Unlimited
                }
            ]
        );
        let e = limits("io_write_bps = 0").unwrap_err();
        assert_eq!(e.key, "container[0].io_write_bps");
        let e = parse(
            "duration = \"2s\"\n[[container]]\nworkload = { kind = \"io\", bytes = \"1500k\" }\n",
            Path::new("io.toml"),
        )
        .unwrap_err();
        assert_eq!(e.key, "container[0].workload.bytes", "{e}");
    }

    /// A fibtest workload runs as `limitcheck stress fibtest` with the keys given (the
    /// threads left to the CPUs the container may use, the sleep fibtest's 10 ms), a kernel
    /// one with its call; `min_cpus` is kept, and a count outside 1..=4096 or a key the
    /// stressor does not take is named.
    #[test]
    fn fibtest_and_min_cpus() {
        let file = |top: &str, w: &str| {
            format!(
                "duration = \"2s\"\n{top}[[container]]\nworkload = {{ kind = \"fibtest\"{w} }}\n"
            )
        };
        let s = parse(&file("min_cpus = 12\n", ""), Path::new("f.toml")).unwrap();
        assert_eq!(s.min_cpus, Some(12));
        let Run::Workload(args) = &s.containers[0].run else {
            panic!("{:?}", s.containers[0].run)
        };
        let tail: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .skip_while(|a| *a != "fibtest")
            .collect();
        assert_eq!(tail, ["fibtest", "--fast", "1", "--sleep", "10000us"]);
        let s = parse(
            &file("", ", fast = 2, threads = 4, sleep = \"5ms\""),
            Path::new("f.toml"),
        )
        .unwrap();
        assert_eq!(s.min_cpus, None);
        let Run::Workload(args) = &s.containers[0].run else {
            panic!()
        };
        assert!(args.ends_with(&[
            "fibtest".into(),
            "--fast".into(),
            "2".into(),
            "--threads".into(),
            "4".into(),
            "--sleep".into(),
            "5000us".into()
        ]));
        let s = parse(
            "duration = \"2s\"\n[[container]]\nworkload = { kind = \"kernel\", call = \"5ms\" }\n",
            Path::new("k.toml"),
        )
        .unwrap();
        let Run::Workload(args) = &s.containers[0].run else {
            panic!()
        };
        assert!(args.ends_with(&[
            "kernel".into(),
            "--workers".into(),
            "1".into(),
            "--call".into(),
            "5000us".into()
        ]));
        for (top, w, key) in [
            ("min_cpus = 0\n", "", "min_cpus"),
            ("", ", run = \"5ms\"", "container[0].workload.run"),
            (
                "",
                ", fast = 3, threads = 2",
                "container[0].workload.threads",
            ),
        ] {
            let e = parse(&file(top, w), Path::new("f.toml")).unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert_eq!(e.line, Some(if key == "min_cpus" { 2 } else { 3 }), "{e}");
        }
    }

    /// A vm workload's `leave` fills the machine: only with `whole_machine = true`, and not -1.
    #[test]
    fn leave_needs_a_whole_machine() {
        let file = |top: &str, leave: &str| {
            format!(
                "duration = \"2s\"\n{top}[[container]]\nworkload = {{ kind = \"vm\", bytes = \"1G\", leave = {leave} }}\n"
            )
        };
        let e = parse(&file("", "\"400M\""), Path::new("l.toml")).unwrap_err();
        assert_eq!(e.key, "container[0].workload.leave", "{e}");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().contains("whole_machine = true"), "{e}");
        let s = parse(
            &file("whole_machine = true\n", "\"400M\""),
            Path::new("l.toml"),
        )
        .unwrap();
        assert!(s.whole_machine);
        let Run::Workload(args) = &s.containers[0].run else {
            panic!("{:?}", s.containers[0].run)
        };
        let at = args.iter().position(|a| a == "--leave").expect("--leave");
        assert_eq!(args[at + 1], (400u64 << 20).to_string());
        let e = parse(&file("whole_machine = true\n", "-1"), Path::new("l.toml")).unwrap_err();
        assert_eq!(e.key, "container[0].workload.leave", "{e}");
        let e = parse(
            "duration = \"2s\"\n[[container]]\nworkload = { kind = \"cpu\", leave = \"1M\" }\n",
            Path::new("l.toml"),
        )
        .unwrap_err();
        assert_eq!(e.key, "container[0].workload.leave", "{e}");
    }

    /// `every` ... `until` repeats a step; a write's `values` are written in turn.
    #[test]
    fn a_repeated_step_expands_and_cycles_its_values() {
        let base = "duration = \"3s\"\n[[container]]\nworkload = { kind = \"cpu\" }\n[[step]]\nat = \"1s\"\n";
        let parse_step = |rest: &str| parse(&format!("{base}{rest}\n"), Path::new("r.toml"));
        let s = parse_step(
            "every = \"250ms\"\nuntil = \"2s\"\nwrite = { file = \"cpu.max\", values = [\"1000 10000\", 5000] }",
        )
        .unwrap();
        let got: Vec<(f64, String)> = s
            .steps
            .iter()
            .map(|st| match &st.change {
                Change::Write { value, .. } => (st.at.as_secs_f64(), value.clone()),
                c => panic!("{c:?}"),
            })
            .collect();
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], (1.0, "1000 10000".to_string()));
        assert_eq!(got[1], (1.25, "5000".to_string()));
        assert_eq!(got[4], (2.0, "1000 10000".to_string()));
        let s = parse_step("every = \"1s\"\nuntil = \"2s\"\naction = \"pause\"").unwrap();
        assert_eq!(s.steps.len(), 2);
        for (rest, key) in [
            ("every = \"100ms\"\naction = \"pause\"", "step[0].until"),
            ("until = \"2s\"\naction = \"pause\"", "step[0].every"),
            (
                "every = \"100ms\"\nuntil = \"3s\"\naction = \"pause\"",
                "step[0].until",
            ),
            (
                "every = \"100us\"\nuntil = \"2s\"\naction = \"pause\"",
                "step[0].every",
            ),
            (
                "write = { file = \"cpu.max\", values = [\"1\"] }",
                "step[0].write.values",
            ),
            ("write = { file = \"cpu.max\" }", "step[0].write"),
        ] {
            assert_eq!(parse_step(rest).unwrap_err().key, key, "{rest}");
        }
    }
}
