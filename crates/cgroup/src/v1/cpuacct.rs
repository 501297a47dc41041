//! v1 `cpuacct` controller: CPU time, user/system split, per-CPU usage.

use std::path::Path;

use crate::error::Result;
use crate::fs::{read_opt, read_with};
use crate::parse::{parse_flat_keyed, parse_u64, parse_u64_list};
use crate::stats::CpuStats;

/// Total CPU time, ns.
pub const USAGE: &str = "cpuacct.usage";
/// User CPU time, ns.
pub const USAGE_USER: &str = "cpuacct.usage_user";
/// System CPU time, ns.
pub const USAGE_SYS: &str = "cpuacct.usage_sys";
/// Per-CPU time, ns, space separated.
pub const USAGE_PERCPU: &str = "cpuacct.usage_percpu";
/// User and system time in USER_HZ ticks (older kernels' only split).
pub const STAT: &str = "cpuacct.stat";

/// Reads CPU accounting (without throttling, which lives in the cpu controller).
pub fn stats(dir: &Path) -> Result<CpuStats> {
    let usage_ns = read_with(dir, USAGE, |t| parse_u64(USAGE, t))?;
    let user = read_opt(dir, USAGE_USER, |t| parse_u64(USAGE_USER, t))?;
    let sys = read_opt(dir, USAGE_SYS, |t| parse_u64(USAGE_SYS, t))?;
    let (user_ns, system_ns) = match (user, sys) {
        (Some(u), Some(s)) => (Some(u), Some(s)),
        _ => match read_opt(dir, STAT, |t| parse_flat_keyed(STAT, t))? {
            Some(m) => {
                let ns_per_tick = 1_000_000_000 / clock_ticks();
                (
                    m.get("user").map(|v| v * ns_per_tick),
                    m.get("system").map(|v| v * ns_per_tick),
                )
            }
            None => (None, None),
        },
    };
    let per_cpu_ns = read_opt(dir, USAGE_PERCPU, |t| parse_u64_list(USAGE_PERCPU, t))?;
    Ok(CpuStats {
        usage_ns,
        user_ns,
        system_ns,
        per_cpu_ns,
        throttling: None,
    })
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}
