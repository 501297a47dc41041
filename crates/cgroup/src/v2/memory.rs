//! v2 `memory` controller.

use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::fs::{read_opt, read_with, write_in};
use crate::parse::{parse_flat_keyed, parse_max, parse_u64};
use crate::stats::MemoryStats;
use crate::types::Max;

/// Hard limit; lowering it below usage reclaims and then OOM-kills (no EBUSY as on v1).
pub const MAX: &str = "memory.max";
/// Throttling threshold.
pub const HIGH: &str = "memory.high";
/// Best-effort protection.
pub const LOW: &str = "memory.low";
/// Hard protection.
pub const MIN: &str = "memory.min";
/// Swap in use (bytes).
pub const SWAP_CURRENT: &str = "memory.swap.current";
/// Swap limit (swap only, not memory+swap as on v1).
pub const SWAP_MAX: &str = "memory.swap.max";
/// Current usage.
pub const CURRENT: &str = "memory.current";
/// Peak usage (5.19+).
pub const PEAK: &str = "memory.peak";
/// `low`, `high`, `max`, `oom`, `oom_kill`, `oom_group_kill` counters.
pub const EVENTS: &str = "memory.events";
/// Detailed accounting.
pub const STAT: &str = "memory.stat";

/// Reads a `max`-or-bytes file.
pub fn get(dir: &Path, file: &'static str) -> Result<Max> {
    read_with(dir, file, |t| parse_max(file, t))
}

/// Writes a `max`-or-bytes file.
pub fn set(dir: &Path, file: &'static str, max: Max) -> Result<()> {
    write_in(dir, file, &max.v2_text())
}

/// Reads memory+swap: `memory.swap.max` + `memory.max` (unlimited when either is).
pub fn get_memory_swap(dir: &Path) -> Result<Max> {
    let swap = read_opt(dir, SWAP_MAX, |t| parse_max(SWAP_MAX, t))?.ok_or_else(no_swap)?;
    Ok(match (get(dir, MAX)?, swap) {
        (Max::Value(m), Max::Value(s)) => Max::Value(m.saturating_add(s)),
        _ => Max::Unlimited,
    })
}

fn no_swap() -> CgroupError {
    CgroupError::Unsupported {
        what: "the memory+swap limit".into(),
        version: "cgroup v2 without memory.swap.max",
        hint: "the kernel lacks CONFIG_MEMCG_SWAP or swap accounting is off (swapaccount=0)".into(),
    }
}

/// The `memory.swap.max` that makes memory+swap equal `memory_swap` given `memory`.
pub fn swap_for(memory: Max, memory_swap: Max) -> Result<Max> {
    match (memory, memory_swap) {
        (_, Max::Unlimited) => Ok(Max::Unlimited),
        (Max::Value(m), Max::Value(t)) if t >= m => Ok(Max::Value(t - m)),
        (Max::Value(m), Max::Value(t)) => Err(CgroupError::InvalidValue {
            what: "memory+swap limit".into(),
            reason: format!("{t} bytes is below the memory limit of {m} bytes; it must be at least the memory limit"),
        }),
        (Max::Unlimited, Max::Value(t)) => Err(CgroupError::InvalidValue {
            what: "memory+swap limit".into(),
            reason: format!("{t} bytes of memory+swap needs a memory limit; set the memory limit first"),
        }),
    }
}

/// Sets memory+swap alone, computing `memory.swap.max` from the current `memory.max`.
pub fn set_memory_swap(dir: &Path, memory_swap: Max) -> Result<()> {
    if !dir.join(SWAP_MAX).exists() {
        return Err(no_swap());
    }
    let swap = swap_for(get(dir, MAX)?, memory_swap)?;
    set(dir, SWAP_MAX, swap)
}

/// Sets memory and memory+swap (v2 files are independent, so no ordering is needed).
pub fn set_both(dir: &Path, memory: Max, memory_swap: Max) -> Result<()> {
    let swap = swap_for(memory, memory_swap)?;
    set(dir, MAX, memory)?;
    if !dir.join(SWAP_MAX).exists() {
        return Err(no_swap());
    }
    set(dir, SWAP_MAX, swap)
}

/// Builds the stats from the text of the files (pure, for tests and replay).
pub fn stats_from(
    current: &str,
    peak: Option<&str>,
    events: Option<&str>,
    stat: &str,
) -> Result<MemoryStats> {
    let stat = parse_flat_keyed(STAT, stat)?;
    let events = events.map(|t| parse_flat_keyed(EVENTS, t)).transpose()?;
    let ev = |k: &str| events.as_ref().and_then(|m| m.get(k).copied());
    let get = |k: &str| stat.get(k).copied().unwrap_or(0);
    Ok(MemoryStats {
        usage: parse_u64(CURRENT, current)?,
        peak: peak.map(|t| parse_u64(PEAK, t)).transpose()?,
        failcnt: None,
        events_max: ev("max"),
        events_high: ev("high"),
        oom: ev("oom"),
        oom_kill: ev("oom_kill"),
        under_oom: None,
        anon: get("anon"),
        file: get("file"),
        swap: None,
        inactive_file: get("inactive_file"),
        working_set: 0,
        stat,
    }
    .with_working_set())
}

/// Reads the memory statistics.
pub fn stats(dir: &Path) -> Result<MemoryStats> {
    let text = |f: &str| read_with(dir, f, |t| Ok(t.to_string()));
    let opt = |f: &str| read_opt(dir, f, |t| Ok(t.to_string()));
    let (current, stat) = (text(CURRENT)?, text(STAT)?);
    let (peak, events) = (opt(PEAK)?, opt(EVENTS)?);
    let mut s = stats_from(&current, peak.as_deref(), events.as_deref(), &stat)
        .map_err(|e| e.at(&dir.join(STAT)))?;
    s.swap = opt(SWAP_CURRENT)?.and_then(|t| t.trim().parse().ok());
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_v2_literal() {
        let s = stats_from(
            "104857600\n",
            Some("209715200\n"),
            Some("low 0\nhigh 0\nmax 37\noom 2\noom_kill 1\noom_group_kill 0\n"),
            "anon 100663296\nfile 4194304\nkernel 1000\ninactive_file 1048576\nactive_file 3145728\n",
        )
        .unwrap();
        assert_eq!(s.usage, 104857600);
        assert_eq!(s.peak, Some(209715200));
        assert_eq!(s.oom, Some(2));
        assert_eq!(s.oom_kill, Some(1));
        assert_eq!(s.events_max, Some(37));
        assert_eq!(s.anon, 100663296);
        assert_eq!(s.working_set, 104857600 - 1048576);
        assert_eq!(s.stat["kernel"], 1000);
    }

    #[test]
    fn swap_arithmetic() {
        let mib = |n: u64| Max::Value(n << 20);
        assert_eq!(swap_for(mib(256), mib(512)).unwrap(), mib(256));
        assert_eq!(swap_for(mib(256), Max::Unlimited).unwrap(), Max::Unlimited);
        assert_eq!(swap_for(mib(256), mib(256)).unwrap(), Max::Value(0));
        let e = swap_for(mib(256), mib(100)).unwrap_err();
        assert!(e.to_string().contains("at least the memory limit"), "{e}");
        assert!(swap_for(Max::Unlimited, mib(100)).is_err());
    }
}
