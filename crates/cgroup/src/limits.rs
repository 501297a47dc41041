//! Typed limits that read and write the same on cgroup v1 and v2.
//!
//! A [`Limit`] is one knob with its value; [`crate::Cgroup::set`] writes it to the file(s) of the
//! host's cgroup version and [`crate::Cgroup::get`] reads it back as the same type. Units are the
//! kernel's: bytes, microseconds, counts.
//!
//! # Kernel support
//!
//! | limit | cgroup v1 | cgroup v2 |
//! |---|---|---|
//! | [`Limit::CpuMax`] | `cpu.cfs_quota_us` + `cpu.cfs_period_us` | `cpu.max` |
//! | [`Limit::CpuBurst`] | `cpu.cfs_burst_us` (5.14+) | `cpu.max.burst` (5.14+) |
//! | [`Limit::CpuShares`] | `cpu.shares` | `cpu.weight`, converted by [`crate::shares_to_weight`] |
//! | [`Limit::CpuWeight`] | `cpu.shares`, converted by [`crate::weight_to_shares`] | `cpu.weight` |
//! | [`Limit::CpusetCpus`], [`Limit::CpusetMems`] | `cpuset.cpus`, `cpuset.mems` | same names |
//! | [`Limit::MemoryMax`] | `memory.limit_in_bytes` | `memory.max` |
//! | [`Limit::MemorySwapMax`] (memory **+** swap) | `memory.memsw.limit_in_bytes` (needs swap accounting) | `memory.swap.max` + `memory.max` |
//! | [`Limit::MemoryHigh`] | — (unsupported) | `memory.high` |
//! | [`Limit::MemoryLow`] | — | `memory.low` |
//! | [`Limit::MemoryMin`] | — | `memory.min` |
//! | [`Limit::MemorySoftLimit`] | `memory.soft_limit_in_bytes` | `memory.low` (as runc maps a memory reservation) |
//! | [`Limit::PidsMax`] | `pids.max` | `pids.max` |
//! | [`Limit::Freezer`] | `freezer.state` | `cgroup.freeze` (5.2+) |
//! | [`Limit::BlkioWeight`] (10..=1000) | `blkio.weight` or `blkio.bfq.weight` | `io.weight` or `io.bfq.weight`, converted to 1..=10000 |
//! | [`Limit::IoThrottle`] | `blkio.throttle.{read,write}_{bps,iops}_device` | `io.max` |

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::{Controller, CpuList, DeviceNumber, FreezerState, Max, ThrottleKind};

/// One limit and its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "limit", content = "value")]
pub enum Limit {
    /// CPU bandwidth: at most `quota_us` of CPU time every `period_us` (docker's `--cpus=1` is
    /// quota 100000, period 100000).
    CpuMax {
        /// CPU time per period, µs; unlimited for no bandwidth limit.
        quota_us: Max,
        /// The period, µs (1000..=1000000).
        period_us: u64,
    },
    /// Unused quota that may be carried into a later period, µs.
    CpuBurst(u64),
    /// v1 CPU shares (2..=262144, default 1024).
    CpuShares(u64),
    /// v2 CPU weight (1..=10000, default 100).
    CpuWeight(u64),
    /// CPUs the tasks may run on.
    CpusetCpus(CpuList),
    /// Memory nodes the tasks may allocate from.
    CpusetMems(CpuList),
    /// Hard memory limit, bytes.
    MemoryMax(Max),
    /// Memory plus swap, bytes (docker's `--memory-swap`), on both versions.
    MemorySwapMax(Max),
    /// v2 throttling threshold, bytes.
    MemoryHigh(Max),
    /// v2 best-effort protection, bytes.
    MemoryLow(u64),
    /// v2 hard protection, bytes.
    MemoryMin(u64),
    /// v1 soft limit, bytes (v2: `memory.low`).
    MemorySoftLimit(Max),
    /// Maximum number of tasks.
    PidsMax(Max),
    /// Frozen or thawed.
    Freezer(FreezerState),
    /// Block-I/O weight in OCI/v1 units (10..=1000).
    BlkioWeight(u64),
    /// A per-device block-I/O throttle; unlimited removes it.
    IoThrottle {
        /// The block device.
        device: DeviceNumber,
        /// What is throttled.
        kind: ThrottleKind,
        /// Bytes or operations per second.
        rate: Max,
    },
}

/// Which limit to read: a [`Limit`] without its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// See [`Limit::CpuMax`].
    CpuMax,
    /// See [`Limit::CpuBurst`].
    CpuBurst,
    /// See [`Limit::CpuShares`].
    CpuShares,
    /// See [`Limit::CpuWeight`].
    CpuWeight,
    /// See [`Limit::CpusetCpus`].
    CpusetCpus,
    /// See [`Limit::CpusetMems`].
    CpusetMems,
    /// See [`Limit::MemoryMax`].
    MemoryMax,
    /// See [`Limit::MemorySwapMax`].
    MemorySwapMax,
    /// See [`Limit::MemoryHigh`].
    MemoryHigh,
    /// See [`Limit::MemoryLow`].
    MemoryLow,
    /// See [`Limit::MemoryMin`].
    MemoryMin,
    /// See [`Limit::MemorySoftLimit`].
    MemorySoftLimit,
    /// See [`Limit::PidsMax`].
    PidsMax,
    /// See [`Limit::Freezer`].
    Freezer,
    /// See [`Limit::BlkioWeight`].
    BlkioWeight,
    /// See [`Limit::IoThrottle`].
    IoThrottle(DeviceNumber, ThrottleKind),
}

impl Limit {
    /// Which limit this is.
    pub fn kind(&self) -> LimitKind {
        match self {
            Limit::CpuMax { .. } => LimitKind::CpuMax,
            Limit::CpuBurst(_) => LimitKind::CpuBurst,
            Limit::CpuShares(_) => LimitKind::CpuShares,
            Limit::CpuWeight(_) => LimitKind::CpuWeight,
            Limit::CpusetCpus(_) => LimitKind::CpusetCpus,
            Limit::CpusetMems(_) => LimitKind::CpusetMems,
            Limit::MemoryMax(_) => LimitKind::MemoryMax,
            Limit::MemorySwapMax(_) => LimitKind::MemorySwapMax,
            Limit::MemoryHigh(_) => LimitKind::MemoryHigh,
            Limit::MemoryLow(_) => LimitKind::MemoryLow,
            Limit::MemoryMin(_) => LimitKind::MemoryMin,
            Limit::MemorySoftLimit(_) => LimitKind::MemorySoftLimit,
            Limit::PidsMax(_) => LimitKind::PidsMax,
            Limit::Freezer(_) => LimitKind::Freezer,
            Limit::BlkioWeight(_) => LimitKind::BlkioWeight,
            Limit::IoThrottle { device, kind, .. } => LimitKind::IoThrottle(*device, *kind),
        }
    }
}

impl LimitKind {
    /// The controller that holds this limit.
    pub fn controller(self) -> Controller {
        match self {
            LimitKind::CpuMax
            | LimitKind::CpuBurst
            | LimitKind::CpuShares
            | LimitKind::CpuWeight => Controller::Cpu,
            LimitKind::CpusetCpus | LimitKind::CpusetMems => Controller::Cpuset,
            LimitKind::MemoryMax
            | LimitKind::MemorySwapMax
            | LimitKind::MemoryHigh
            | LimitKind::MemoryLow
            | LimitKind::MemoryMin
            | LimitKind::MemorySoftLimit => Controller::Memory,
            LimitKind::PidsMax => Controller::Pids,
            LimitKind::Freezer => Controller::Freezer,
            LimitKind::BlkioWeight | LimitKind::IoThrottle(..) => Controller::Io,
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            LimitKind::CpuMax => "cpu quota/period",
            LimitKind::CpuBurst => "cpu burst",
            LimitKind::CpuShares => "cpu shares",
            LimitKind::CpuWeight => "cpu weight",
            LimitKind::CpusetCpus => "cpuset cpus",
            LimitKind::CpusetMems => "cpuset mems",
            LimitKind::MemoryMax => "memory limit",
            LimitKind::MemorySwapMax => "memory+swap limit",
            LimitKind::MemoryHigh => "memory.high",
            LimitKind::MemoryLow => "memory.low",
            LimitKind::MemoryMin => "memory.min",
            LimitKind::MemorySoftLimit => "memory soft limit",
            LimitKind::PidsMax => "pids limit",
            LimitKind::Freezer => "freezer state",
            LimitKind::BlkioWeight => "block-I/O weight",
            LimitKind::IoThrottle(d, k) => {
                return write!(f, "block-I/O throttle {} on {d}", k.v2_key())
            }
        };
        f.write_str(s)
    }
}

fn bytes(m: &Max) -> String {
    match m {
        Max::Unlimited => "unlimited".into(),
        Max::Value(v) if v % (1 << 20) == 0 => format!("{} MiB", v >> 20),
        Max::Value(v) => format!("{v} bytes"),
    }
}

impl fmt::Display for Limit {
    /// As people say it: `cpu quota 50000/100000 µs`, `memory 256 MiB`, `pids 20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::CpuMax {
                quota_us,
                period_us,
            } => match quota_us {
                Max::Unlimited => write!(f, "cpu quota unlimited (period {period_us} µs)"),
                Max::Value(q) => write!(
                    f,
                    "cpu quota {q}/{period_us} µs ({:.2} CPUs)",
                    *q as f64 / *period_us as f64
                ),
            },
            Limit::CpuBurst(b) => write!(f, "cpu burst {b} µs"),
            Limit::CpuShares(s) => write!(f, "cpu shares {s}"),
            Limit::CpuWeight(w) => write!(f, "cpu weight {w}"),
            Limit::CpusetCpus(l) => write!(f, "cpuset cpus {l}"),
            Limit::CpusetMems(l) => write!(f, "cpuset mems {l}"),
            Limit::MemoryMax(m) => write!(f, "memory {}", bytes(m)),
            Limit::MemorySwapMax(m) => write!(f, "memory+swap {}", bytes(m)),
            Limit::MemoryHigh(m) => write!(f, "memory.high {}", bytes(m)),
            Limit::MemoryLow(v) => write!(f, "memory.low {}", bytes(&Max::Value(*v))),
            Limit::MemoryMin(v) => write!(f, "memory.min {}", bytes(&Max::Value(*v))),
            Limit::MemorySoftLimit(m) => write!(f, "memory soft limit {}", bytes(m)),
            Limit::PidsMax(m) => write!(f, "pids {m}"),
            Limit::Freezer(s) => write!(f, "freezer {s:?}"),
            Limit::BlkioWeight(w) => write!(f, "block-I/O weight {w}"),
            Limit::IoThrottle { device, kind, rate } => {
                write!(f, "{} {rate} on {device}", kind.v2_key())
            }
        }
    }
}

/// Converts a v1/OCI block-I/O weight (10..=1000) to v2 `io.weight` (1..=10000), as runc does.
pub fn blkio_weight_to_io_weight(w: u64) -> u64 {
    let w = w.clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

/// The inverse of [`blkio_weight_to_io_weight`].
pub fn io_weight_to_blkio_weight(w: u64) -> u64 {
    let w = w.clamp(1, 10_000);
    10 + ((w - 1) * 990 + 9998 / 2) / 9999
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_weight_conversion() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10000);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        for w in [10, 100, 500, 1000] {
            assert_eq!(io_weight_to_blkio_weight(blkio_weight_to_io_weight(w)), w);
        }
    }

    #[test]
    fn limits_read_as_people_say_them() {
        let q = Limit::CpuMax {
            quota_us: Max::Value(50_000),
            period_us: 100_000,
        };
        assert_eq!(q.to_string(), "cpu quota 50000/100000 µs (0.50 CPUs)");
        assert_eq!(
            Limit::MemoryMax(Max::Value(256 << 20)).to_string(),
            "memory 256 MiB"
        );
        assert_eq!(Limit::PidsMax(Max::Unlimited).to_string(), "pids max");
    }

    #[test]
    fn kinds_map_to_controllers() {
        assert_eq!(LimitKind::MemorySwapMax.controller(), Controller::Memory);
        assert_eq!(
            Limit::CpuMax {
                quota_us: Max::Value(50000),
                period_us: 100000
            }
            .kind(),
            LimitKind::CpuMax
        );
    }
}
