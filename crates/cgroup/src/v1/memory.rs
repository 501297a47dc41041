//! v1 `memory` controller.

use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::fs::{read_opt, read_with, write_in};
use crate::parse::{parse_flat_keyed, parse_max, parse_u64};
use crate::stats::MemoryStats;
use crate::types::Max;

/// Hard limit, bytes (`-1` to remove).
pub const LIMIT: &str = "memory.limit_in_bytes";
/// Memory+swap limit, bytes; only with swap accounting (`swapaccount=1`).
pub const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";
/// Soft limit, bytes.
pub const SOFT_LIMIT: &str = "memory.soft_limit_in_bytes";
/// Current usage, bytes.
pub const USAGE: &str = "memory.usage_in_bytes";
/// Peak usage, bytes.
pub const MAX_USAGE: &str = "memory.max_usage_in_bytes";
/// Times usage hit the limit.
pub const FAILCNT: &str = "memory.failcnt";
/// `oom_kill_disable`, `under_oom`, `oom_kill`.
pub const OOM_CONTROL: &str = "memory.oom_control";
/// Detailed accounting.
pub const STAT: &str = "memory.stat";

/// Reads a byte limit file ([`LIMIT`], [`MEMSW_LIMIT`], [`SOFT_LIMIT`]).
pub fn get(dir: &Path, file: &'static str) -> Result<Max> {
    if file == MEMSW_LIMIT && !dir.join(MEMSW_LIMIT).exists() {
        return Err(no_swap_accounting());
    }
    read_with(dir, file, |t| parse_max(file, t))
}

/// Writes a byte limit file. Lowering [`LIMIT`] below what the kernel can reclaim fails with
/// `EBUSY`, and the error keeps it.
pub fn set(dir: &Path, file: &'static str, max: Max) -> Result<()> {
    if file == MEMSW_LIMIT && !dir.join(MEMSW_LIMIT).exists() {
        return Err(no_swap_accounting());
    }
    write_in(dir, file, &max.v1_text())
}

/// Sets memory and memory+swap together in the order the kernel accepts: memory+swap must stay
/// at or above memory, so it goes first when it grows (or becomes unlimited) and last when it
/// shrinks.
pub fn set_both(dir: &Path, memory: Max, memsw: Max) -> Result<()> {
    let current = get(dir, LIMIT)?;
    let memsw_first = match (memsw, current) {
        (Max::Unlimited, _) => true,
        (Max::Value(_), Max::Unlimited) => false,
        (Max::Value(new), Max::Value(cur)) => new >= cur,
    };
    if memsw_first {
        set(dir, MEMSW_LIMIT, memsw)?;
        set(dir, LIMIT, memory)
    } else {
        set(dir, LIMIT, memory)?;
        set(dir, MEMSW_LIMIT, memsw)
    }
}

fn no_swap_accounting() -> CgroupError {
    CgroupError::Unsupported {
        what: "the memory+swap limit".into(),
        version: "cgroup v1 without swap accounting",
        hint: format!("{MEMSW_LIMIT} is missing: boot with swapaccount=1"),
    }
}

/// Builds the stats from the text of the files (pure, for tests and replay).
pub fn stats_from(
    usage: &str,
    max_usage: Option<&str>,
    failcnt: Option<&str>,
    oom_control: Option<&str>,
    stat: &str,
) -> Result<MemoryStats> {
    let stat = parse_flat_keyed(STAT, stat)?;
    // total_* include descendants; a leaf has the same numbers in both.
    let pick = |k: &str| {
        stat.get(&format!("total_{k}"))
            .or_else(|| stat.get(k))
            .copied()
            .unwrap_or(0)
    };
    let oom = oom_control
        .map(|t| parse_flat_keyed(OOM_CONTROL, t))
        .transpose()?;
    Ok(MemoryStats {
        usage: parse_u64(USAGE, usage)?,
        peak: max_usage.map(|t| parse_u64(MAX_USAGE, t)).transpose()?,
        failcnt: failcnt.map(|t| parse_u64(FAILCNT, t)).transpose()?,
        events_max: None,
        events_high: None,
        oom: None,
        oom_kill: oom.as_ref().and_then(|m| m.get("oom_kill").copied()),
        under_oom: oom
            .as_ref()
            .and_then(|m| m.get("under_oom"))
            .map(|v| *v != 0),
        anon: pick("rss"),
        file: pick("cache"),
        swap: stat.get("total_swap").or_else(|| stat.get("swap")).copied(),
        inactive_file: pick("inactive_file"),
        working_set: 0,
        stat,
    }
    .with_working_set())
}

/// Reads the memory statistics.
pub fn stats(dir: &Path) -> Result<MemoryStats> {
    let text = |f: &str| read_with(dir, f, |t| Ok(t.to_string()));
    let opt = |f: &str| read_opt(dir, f, |t| Ok(t.to_string()));
    let usage = text(USAGE)?;
    let stat = text(STAT)?;
    let (max_usage, failcnt, oom) = (opt(MAX_USAGE)?, opt(FAILCNT)?, opt(OOM_CONTROL)?);
    stats_from(
        &usage,
        max_usage.as_deref(),
        failcnt.as_deref(),
        oom.as_deref(),
        &stat,
    )
    .map_err(|e| e.at(&dir.join(STAT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_v1_literal() {
        let s = stats_from(
            "268435456\n",
            Some("268435456\n"),
            Some("1234\n"),
            Some("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            "cache 4096\nrss 260046848\ninactive_file 4096\ntotal_cache 8192\ntotal_rss 264241152\ntotal_inactive_file 8192\n",
        )
        .unwrap();
        assert_eq!(s.usage, 268435456);
        assert_eq!(s.anon, 264241152);
        assert_eq!(s.file, 8192);
        assert_eq!(s.working_set, 268435456 - 8192);
        assert_eq!(s.oom_kill, Some(2));
        assert_eq!(s.under_oom, Some(false));
        assert_eq!(s.failcnt, Some(1234));
        assert_eq!(s.oom, None);
    }

    #[test]
    fn working_set_never_negative() {
        let s = stats_from("10\n", None, None, None, "total_inactive_file 4096\n").unwrap();
        assert_eq!(s.working_set, 0);
    }
}
