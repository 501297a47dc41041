//! v2 `cpu` controller: `cpu.max`, `cpu.max.burst`, `cpu.weight`, `cpu.stat`.

use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::fs::{feature_file, read_with, write_in};
use crate::parse::{parse_cpu_max, parse_flat_keyed, parse_u64};
use crate::stats::{CpuStats, Throttling};
use crate::types::Max;

/// `QUOTA PERIOD` in µs; QUOTA may be `max`.
pub const MAX: &str = "cpu.max";
/// Burst, µs (5.14+).
pub const MAX_BURST: &str = "cpu.max.burst";
/// Relative weight, 1..=10000.
pub const WEIGHT: &str = "cpu.weight";
/// Usage and throttling, µs. Present even without the cpu controller (usage only).
pub const STAT: &str = "cpu.stat";

/// Writes quota and period in one write.
pub fn set_max(dir: &Path, quota: Max, period_us: u64) -> Result<()> {
    write_in(dir, MAX, &format!("{} {period_us}", quota.v2_text()))
}

/// Reads (quota, period).
pub fn get_max(dir: &Path) -> Result<(Max, u64)> {
    read_with(dir, MAX, parse_cpu_max)
}

fn burst_file(dir: &Path) -> Result<&'static str> {
    feature_file(
        dir,
        &[MAX_BURST],
        "CPU burst",
        "this kernel (no cpu.max.burst)",
        "CFS burst needs Linux 5.14 or later",
    )
}

/// Reads the burst.
pub fn get_burst(dir: &Path) -> Result<u64> {
    read_with(dir, burst_file(dir)?, |t| parse_u64(MAX_BURST, t))
}

/// Writes the burst.
pub fn set_burst(dir: &Path, burst_us: u64) -> Result<()> {
    write_in(dir, burst_file(dir)?, &burst_us.to_string())
}

/// Reads `cpu.weight`.
pub fn get_weight(dir: &Path) -> Result<u64> {
    read_with(dir, WEIGHT, |t| parse_u64(WEIGHT, t))
}

/// Writes `cpu.weight`.
pub fn set_weight(dir: &Path, weight: u64) -> Result<()> {
    write_in(dir, WEIGHT, &weight.to_string())
}

/// Parses v2 `cpu.stat` (µs) into ns-based stats. Throttling is present only when the cpu
/// controller is enabled for the cgroup.
pub fn parse_stats(text: &str) -> Result<CpuStats> {
    let m = parse_flat_keyed(STAT, text)?;
    let us = |k: &str| m.get(k).map(|v| v * 1000);
    let usage_ns =
        us("usage_usec").ok_or_else(|| CgroupError::parse(STAT, text, "no `usage_usec` line"))?;
    let throttling = match (m.get("nr_periods"), m.get("nr_throttled")) {
        (Some(p), Some(t)) => Some(Throttling {
            nr_periods: *p,
            nr_throttled: *t,
            throttled_ns: us("throttled_usec").unwrap_or(0),
            nr_bursts: m.get("nr_bursts").copied(),
            burst_ns: us("burst_usec"),
        }),
        _ => None,
    };
    Ok(CpuStats {
        usage_ns,
        user_ns: us("user_usec"),
        system_ns: us("system_usec"),
        per_cpu_ns: None,
        throttling,
    })
}

/// Reads the CPU statistics.
pub fn stats(dir: &Path) -> Result<CpuStats> {
    read_with(dir, STAT, parse_stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_v2_literal() {
        let s = parse_stats(
            "usage_usec 2000123\nuser_usec 1990000\nsystem_usec 10123\nnr_periods 20\nnr_throttled 19\nthrottled_usec 950000\nnr_bursts 0\nburst_usec 0\n",
        )
        .unwrap();
        assert_eq!(s.usage_ns, 2_000_123_000);
        assert_eq!(s.system_ns, Some(10_123_000));
        let t = s.throttling.unwrap();
        assert_eq!(t.nr_throttled, 19);
        assert_eq!(t.throttled_ns, 950_000_000);
        assert_eq!(t.nr_bursts, Some(0));
        assert!(s.per_cpu_ns.is_none());
        // Without the cpu controller the kernel still gives usage, but no throttling.
        let bare = parse_stats("usage_usec 5\nuser_usec 3\nsystem_usec 2\n").unwrap();
        assert!(bare.throttling.is_none());
        assert!(parse_stats("user_usec 3\n").is_err());
    }
}
