//! Value types shared by limits, stats and detection.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The cgroup version a hierarchy speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// cgroup v1: one hierarchy per controller (or per group of co-mounted controllers).
    V1,
    /// cgroup v2: one unified hierarchy.
    V2,
}

impl Version {
    /// `cgroup v1` or `cgroup v2`, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Version::V1 => "cgroup v1",
            Version::V2 => "cgroup v2",
        }
    }
}

/// A resource controller limitcheck knows how to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    /// CPU bandwidth (quota/period, burst) and weight (shares).
    Cpu,
    /// v1 CPU accounting (`cpuacct.*`); on v2 its numbers are in `cpu.stat`.
    Cpuacct,
    /// CPU and memory-node placement.
    Cpuset,
    /// Memory limits and accounting.
    Memory,
    /// Process-count limit.
    Pids,
    /// Freeze/thaw (v1 `freezer.state`; on v2 the core file `cgroup.freeze`).
    Freezer,
    /// Block I/O weight and throttles (v1 `blkio`, v2 `io`).
    Io,
    /// v1 device access lists (v2 uses eBPF instead and has no such controller).
    Devices,
    /// Huge-page limits.
    Hugetlb,
}

impl Controller {
    /// Every controller, in a stable order.
    pub const ALL: [Controller; 9] = [
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Memory,
        Controller::Pids,
        Controller::Freezer,
        Controller::Io,
        Controller::Devices,
        Controller::Hugetlb,
    ];

    /// The controllers a cgroup gets by default: all that limitcheck measures or limits.
    /// `devices` and `hugetlb` are left to callers that ask for them.
    pub const DEFAULT: [Controller; 7] = [
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Memory,
        Controller::Pids,
        Controller::Freezer,
        Controller::Io,
    ];

    /// The kernel's name of the controller on cgroup v1 (as in mount options and
    /// `/proc/cgroups`).
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
            Controller::Io => "blkio",
            Controller::Devices => "devices",
            Controller::Hugetlb => "hugetlb",
        }
    }

    /// The name in v2 `cgroup.controllers`, or `None` where v2 has no such controller (cpuacct is
    /// part of cpu, the freezer is core, devices are eBPF).
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Cpu => Some("cpu"),
            Controller::Cpuset => Some("cpuset"),
            Controller::Memory => Some("memory"),
            Controller::Pids => Some("pids"),
            Controller::Io => Some("io"),
            Controller::Hugetlb => Some("hugetlb"),
            Controller::Cpuacct | Controller::Freezer | Controller::Devices => None,
        }
    }

    /// Finds a controller by its v1 or v2 kernel name.
    pub fn from_kernel_name(name: &str) -> Option<Controller> {
        Controller::ALL
            .into_iter()
            .find(|c| c.v1_name() == name || c.v2_name() == Some(name))
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.v1_name())
    }
}

/// A limit that may be unlimited: `max` on v2, `-1` (or a huge number) on v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Max {
    /// No limit.
    Unlimited,
    /// A limit, in the unit of the file (bytes, µs, count).
    Value(u64),
}

impl Max {
    /// The value, or `None` when unlimited.
    pub fn value(self) -> Option<u64> {
        match self {
            Max::Unlimited => None,
            Max::Value(v) => Some(v),
        }
    }

    /// The text v2 files take: `max` or the number.
    pub fn v2_text(self) -> String {
        match self {
            Max::Unlimited => "max".into(),
            Max::Value(v) => v.to_string(),
        }
    }

    /// The text v1 files take: `-1` or the number.
    pub fn v1_text(self) -> String {
        match self {
            Max::Unlimited => "-1".into(),
            Max::Value(v) => v.to_string(),
        }
    }
}

impl fmt::Display for Max {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Max::Unlimited => f.write_str("max"),
            Max::Value(v) => write!(f, "{v}"),
        }
    }
}

/// A sorted, de-duplicated list of CPU or memory-node ids, shown in the kernel's `0-3,5` form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CpuList(Vec<u32>);

impl CpuList {
    /// Makes a list from ids in any order.
    pub fn new(mut ids: Vec<u32>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        CpuList(ids)
    }

    /// The ids, ascending.
    pub fn ids(&self) -> &[u32] {
        &self.0
    }

    /// Whether the list is empty (a fresh v1 cpuset cgroup has empty `cpus` and `mems`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                end += 1;
                i += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

impl FromStr for CpuList {
    type Err = crate::CgroupError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::parse::parse_cpu_list(s)
    }
}

/// A block device number, `MAJ:MIN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceNumber {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

impl fmt::Display for DeviceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// Which block-I/O throttle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleKind {
    /// Bytes read per second.
    ReadBps,
    /// Bytes written per second.
    WriteBps,
    /// Read operations per second.
    ReadIops,
    /// Write operations per second.
    WriteIops,
}

impl ThrottleKind {
    /// The v2 `io.max` key (`rbps`, `wbps`, `riops`, `wiops`).
    pub fn v2_key(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => "rbps",
            ThrottleKind::WriteBps => "wbps",
            ThrottleKind::ReadIops => "riops",
            ThrottleKind::WriteIops => "wiops",
        }
    }

    /// The v1 file (`blkio.throttle.read_bps_device`, ...).
    pub fn v1_file(self) -> &'static str {
        match self {
            ThrottleKind::ReadBps => crate::v1::blkio::THROTTLE_READ_BPS,
            ThrottleKind::WriteBps => crate::v1::blkio::THROTTLE_WRITE_BPS,
            ThrottleKind::ReadIops => crate::v1::blkio::THROTTLE_READ_IOPS,
            ThrottleKind::WriteIops => crate::v1::blkio::THROTTLE_WRITE_IOPS,
        }
    }
}

/// The state of a cgroup's freezer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// Tasks run.
    Thawed,
    /// v1 only: freezing is in progress (some tasks not yet frozen).
    Freezing,
    /// Every task is frozen.
    Frozen,
}

/// One line of a PSI file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PressureLine {
    /// Share of the last 10 s in which tasks stalled, in percent.
    pub avg10: f64,
    /// Same over 60 s.
    pub avg60: f64,
    /// Same over 300 s.
    pub avg300: f64,
    /// Total stall time, µs.
    pub total_us: u64,
}

/// A PSI file: `some` and, except for host-wide CPU on old kernels, `full`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pressure {
    /// Some tasks stalled.
    pub some: PressureLine,
    /// All non-idle tasks stalled.
    pub full: Option<PressureLine>,
}

/// Converts OCI/v1 CPU shares (2..=262144, default 1024) to a v2 `cpu.weight` (1..=10000,
/// default 100).
///
/// This is the log-quadratic mapping adopted by crun 1.23 and runc 1.3.2 (opencontainers/cgroups
/// 0.0.3, after kubernetes/kubernetes#131216): with `l = log2(shares)`,
/// `weight = ceil(10^((l² + 125·l) / 612 − 7/34))`. It maps 2 → 1, 1024 → 100 and
/// 262144 → 10000, so the defaults of both versions agree (the older linear formula
/// `1 + (shares − 2)·9999/262142` of runc ≤ 1.3.1 mapped 1024 to 39). Shares of 0 mean "unset"
/// and are not converted.
///
/// ```
/// use limitcheck_cgroup::{shares_to_weight, weight_to_shares};
/// assert_eq!(shares_to_weight(1024), 100);
/// assert_eq!(shares_to_weight(2), 1);
/// assert_eq!(shares_to_weight(262144), 10000);
/// assert_eq!(weight_to_shares(100), 1024);
/// ```
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    // Rounding to 9 decimals first keeps exact powers (10^2.0000000001) from ceiling up.
    let w = (10f64.powf(exponent) * 1e9).round() / 1e9;
    (w.ceil() as u64).clamp(1, 10_000)
}

/// The inverse of [`shares_to_weight`]: the largest shares that map to this weight (the forward
/// mapping rounds up, so several shares give one weight). Used to read `cpu.weight` as shares and
/// to write a weight on v1; `shares_to_weight(weight_to_shares(w)) == w`.
pub fn weight_to_shares(weight: u64) -> u64 {
    let weight = weight.clamp(1, 10_000) as f64;
    // Solve l² + 125 l − 612 (log10 w + 7/34) = 0 for l ≥ 0.
    let c = 612.0 * (weight.log10() + 7.0 / 34.0);
    let l = (-125.0 + (125.0f64 * 125.0 + 4.0 * c).sqrt()) / 2.0;
    (((2f64.powf(l)) + 1e-6).floor() as u64).clamp(2, 262_144)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_weight_roundtrip_is_monotonic_and_close() {
        let mut last = 0;
        for shares in [2u64, 10, 100, 512, 1024, 2048, 4096, 65536, 262144] {
            let w = shares_to_weight(shares);
            assert!(w >= last, "weight must not decrease: {shares} -> {w}");
            last = w;
            // ceil() loses precision at small shares (10 -> 4 -> 14), so the inverse is exact
            // only up to the weight: the shares it gives must map to the same weight again.
            let back = weight_to_shares(w);
            assert_eq!(shares_to_weight(back), w, "{shares} -> {w} -> {back}");
        }
        // Values runc >= 1.3.2 documents: --cpu-shares 2000 gives cpu.weight 170.
        assert_eq!(shares_to_weight(2000), 170);
    }

    #[test]
    fn every_weight_survives_the_round_trip() {
        for w in 1..=10_000 {
            assert_eq!(shares_to_weight(weight_to_shares(w)), w, "weight {w}");
        }
    }

    #[test]
    fn cpu_list_display() {
        assert_eq!(CpuList::new(vec![5, 0, 1, 2, 2]).to_string(), "0-2,5");
        assert_eq!(CpuList::new(vec![]).to_string(), "");
        assert_eq!(CpuList::new(vec![1, 3]).to_string(), "1,3");
    }

    #[test]
    fn max_text() {
        assert_eq!(Max::Unlimited.v1_text(), "-1");
        assert_eq!(Max::Unlimited.v2_text(), "max");
        assert_eq!(Max::Value(7).v2_text(), "7");
    }

    #[test]
    fn controller_names() {
        assert_eq!(Controller::from_kernel_name("blkio"), Some(Controller::Io));
        assert_eq!(Controller::from_kernel_name("io"), Some(Controller::Io));
        assert_eq!(Controller::from_kernel_name("name=systemd"), None);
        assert_eq!(Controller::Cpuacct.v2_name(), None);
    }
}
