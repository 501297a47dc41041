//! Typed statistics that read the same on cgroup v1 and v2.
//!
//! # Kernel support
//!
//! | field | cgroup v1 | cgroup v2 |
//! |---|---|---|
//! | [`CpuStats::usage_ns`] | `cpuacct.usage` | `cpu.stat` `usage_usec` × 1000 |
//! | [`CpuStats::user_ns`], [`CpuStats::system_ns`] | `cpuacct.usage_user`/`_sys` (else `cpuacct.stat` ticks) | `cpu.stat` `user_usec`, `system_usec` |
//! | [`CpuStats::per_cpu_ns`] | `cpuacct.usage_percpu` | — (the kernel gives none) |
//! | [`Throttling`] | `cpu.stat` `nr_periods`, `nr_throttled`, `throttled_time` (ns), `nr_bursts`, `burst_time` | `cpu.stat` `nr_periods`, `nr_throttled`, `throttled_usec`, `nr_bursts`, `burst_usec` |
//! | [`MemoryStats::usage`] | `memory.usage_in_bytes` | `memory.current` |
//! | [`MemoryStats::peak`] | `memory.max_usage_in_bytes` | `memory.peak` (5.19+) |
//! | [`MemoryStats::failcnt`] | `memory.failcnt` | — (see `events_max`) |
//! | [`MemoryStats::oom`] | — | `memory.events` `oom` |
//! | [`MemoryStats::oom_kill`] | `memory.oom_control` `oom_kill` (4.13+) | `memory.events` `oom_kill` |
//! | [`MemoryStats::anon`], `file`, `inactive_file` | `memory.stat` `total_rss`, `total_cache`, `total_inactive_file` | `memory.stat` `anon`, `file`, `inactive_file` |
//! | [`PidsStats::current`] | `pids.current` | `pids.current` |
//! | [`PressureStats`] | the v2 companion cgroup on hybrid hosts; none on pure v1 | `cpu.pressure`, `memory.pressure`, `io.pressure` |

use std::collections::BTreeMap;

use serde::Serialize;

use crate::types::Pressure;

/// Everything [`crate::Cgroup::stats`] reads, each part `None` when its controller is not in use.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// CPU accounting and throttling.
    pub cpu: Option<CpuStats>,
    /// Memory accounting and OOM events.
    pub memory: Option<MemoryStats>,
    /// Task count.
    pub pids: Option<PidsStats>,
    /// Block I/O done, all devices together.
    pub io: Option<IoStats>,
    /// Pressure stall information for this cgroup.
    pub pressure: Option<PressureStats>,
}

/// CPU time used by the cgroup, cumulative since it was created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CpuStats {
    /// Total CPU time, ns.
    pub usage_ns: u64,
    /// User-mode CPU time, ns.
    pub user_ns: Option<u64>,
    /// Kernel-mode CPU time, ns.
    pub system_ns: Option<u64>,
    /// CPU time per CPU, ns (v1 only).
    pub per_cpu_ns: Option<Vec<u64>>,
    /// CFS bandwidth throttling counters, when the cpu controller is in use.
    pub throttling: Option<Throttling>,
}

/// CFS bandwidth counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Throttling {
    /// Enforcement periods that have elapsed (with runnable tasks).
    pub nr_periods: u64,
    /// Periods in which the cgroup ran out of quota.
    pub nr_throttled: u64,
    /// Total time tasks were throttled, ns.
    pub throttled_ns: u64,
    /// Periods in which burst was used (5.14+).
    pub nr_bursts: Option<u64>,
    /// Total burst time used, ns (5.14+).
    pub burst_ns: Option<u64>,
}

/// Memory use and limit events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryStats {
    /// Current usage, bytes (page cache included).
    pub usage: u64,
    /// Highest usage seen, bytes.
    pub peak: Option<u64>,
    /// v1: how many times usage hit the limit.
    pub failcnt: Option<u64>,
    /// v2: times the limit was hit (`memory.events` `max`).
    pub events_max: Option<u64>,
    /// v2: times usage went over `memory.high`.
    pub events_high: Option<u64>,
    /// v2: OOM events (the OOM killer was invoked or an allocation failed).
    pub oom: Option<u64>,
    /// Processes killed by the OOM killer in this cgroup.
    pub oom_kill: Option<u64>,
    /// v1: whether the cgroup is under OOM right now.
    pub under_oom: Option<bool>,
    /// Anonymous memory, bytes.
    pub anon: u64,
    /// Page cache, bytes.
    pub file: u64,
    /// Swap in use by the cgroup, bytes (v2 `memory.swap.current`, v1 `total_swap` in
    /// memory.stat); None without swap accounting.
    pub swap: Option<u64>,
    /// Inactive page cache, bytes.
    pub inactive_file: u64,
    /// Usage minus inactive page cache, floored at 0: the "working set" docker, cAdvisor and the
    /// kubelet report and evict on.
    pub working_set: u64,
    /// Every key of `memory.stat` as the kernel gave it.
    pub stat: BTreeMap<String, u64>,
}

/// Task count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PidsStats {
    /// Tasks in the cgroup now.
    pub current: u64,
    /// Highest task count seen (`pids.peak`, 6.1+).
    pub peak: Option<u64>,
    /// Forks refused by `pids.max` (`pids.events` `max`).
    pub events_max: Option<u64>,
}

/// Block I/O the cgroup did, bytes since it was created, every device together: v2 `io.stat`
/// (`rbytes`, `wbytes`), v1 `blkio.throttle.io_service_bytes` (`Read`, `Write`; counted where
/// blk-throttle sees the bios, so direct I/O and reads, while buffered writes are the
/// flusher's on v1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IoStats {
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
}

impl IoStats {
    /// From v2's `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N ...` per device.
    pub fn from_v2(text: &str) -> IoStats {
        let mut s = IoStats::default();
        for kv in text.lines().flat_map(|l| l.split_whitespace().skip(1)) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v: u64 = v.parse().unwrap_or(0);
            match k {
                "rbytes" => s.read_bytes += v,
                "wbytes" => s.write_bytes += v,
                _ => {}
            }
        }
        s
    }

    /// From v1's `blkio.throttle.io_service_bytes`: `MAJ:MIN Read N` lines, and `Total N`.
    pub fn from_v1(text: &str) -> IoStats {
        let mut s = IoStats::default();
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if let [_, op, n] = f[..] {
                let n: u64 = n.parse().unwrap_or(0);
                match op {
                    "Read" => s.read_bytes += n,
                    "Write" => s.write_bytes += n,
                    _ => {}
                }
            }
        }
        s
    }
}

/// Pressure stall information of the cgroup.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PressureStats {
    /// CPU pressure.
    pub cpu: Option<Pressure>,
    /// Memory pressure.
    pub memory: Option<Pressure>,
    /// I/O pressure.
    pub io: Option<Pressure>,
}

impl MemoryStats {
    /// Fills `working_set` from `usage` and `inactive_file`.
    pub(crate) fn with_working_set(mut self) -> Self {
        self.working_set = self.usage.saturating_sub(self.inactive_file);
        self
    }
}

#[cfg(test)]
mod io_tests {
    use super::IoStats;

    #[test]
    fn io_bytes_add_up_over_devices_in_both_formats() {
        let v2 = "254:0 rbytes=1048576 wbytes=4096 rios=1 wios=1 dbytes=0 dios=0\n\
                  8:0 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n";
        assert_eq!(
            IoStats::from_v2(v2),
            IoStats {
                read_bytes: 1048586,
                write_bytes: 4116
            }
        );
        let v1 = "254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\n254:0 Async 12288\n\
                  254:0 Discard 0\n254:0 Total 12288\n8:0 Read 1\n8:0 Write 2\nTotal 12291\n";
        assert_eq!(
            IoStats::from_v1(v1),
            IoStats {
                read_bytes: 4097,
                write_bytes: 8194
            }
        );
        assert_eq!(IoStats::from_v2(""), IoStats::default());
    }
}
