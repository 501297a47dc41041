//! v1 `cpu` controller: CFS bandwidth, burst, shares, throttling counters.

use std::path::Path;

use crate::error::{CgroupError, Result};
use crate::fs::{feature_file, read_with, write_in};
use crate::parse::{parse_flat_keyed, parse_i64, parse_u64};
use crate::stats::Throttling;
use crate::types::Max;

/// CPU time allowed per period, µs; `-1` for unlimited.
pub const CFS_QUOTA: &str = "cpu.cfs_quota_us";
/// The enforcement period, µs.
pub const CFS_PERIOD: &str = "cpu.cfs_period_us";
/// Burst allowance, µs (5.14+).
pub const CFS_BURST: &str = "cpu.cfs_burst_us";
/// Relative CPU weight.
pub const SHARES: &str = "cpu.shares";
/// Throttling counters.
pub const STAT: &str = "cpu.stat";

/// Writes quota and period. The period goes first (as runc does); when the kernel refuses that
/// order with `EINVAL` (the old quota does not fit the new period), the quota goes first.
pub fn set_max(dir: &Path, quota: Max, period_us: u64) -> Result<()> {
    let quota_text = quota.v1_text();
    let period_text = period_us.to_string();
    match write_in(dir, CFS_PERIOD, &period_text) {
        Err(e) if e.errno() == Some(nix::errno::Errno::EINVAL) => {
            write_in(dir, CFS_QUOTA, &quota_text)?;
            write_in(dir, CFS_PERIOD, &period_text).map_err(|_| e)
        }
        r => {
            r?;
            write_in(dir, CFS_QUOTA, &quota_text)
        }
    }
}

/// Reads (quota, period).
pub fn get_max(dir: &Path) -> Result<(Max, u64)> {
    let quota = read_with(dir, CFS_QUOTA, |t| {
        let v = parse_i64(CFS_QUOTA, t)?;
        Ok(if v < 0 {
            Max::Unlimited
        } else {
            Max::Value(v as u64)
        })
    })?;
    let period = read_with(dir, CFS_PERIOD, |t| parse_u64(CFS_PERIOD, t))?;
    Ok((quota, period))
}

fn burst_file(dir: &Path) -> Result<&'static str> {
    feature_file(
        dir,
        &[CFS_BURST],
        "CPU burst",
        "this kernel (no cpu.cfs_burst_us)",
        "CFS burst needs Linux 5.14 or later",
    )
}

/// Reads the burst, or an `Unsupported` error on kernels before 5.14.
pub fn get_burst(dir: &Path) -> Result<u64> {
    read_with(dir, burst_file(dir)?, |t| parse_u64(CFS_BURST, t))
}

/// Writes the burst.
pub fn set_burst(dir: &Path, burst_us: u64) -> Result<()> {
    write_in(dir, burst_file(dir)?, &burst_us.to_string())
}

/// Reads `cpu.shares`.
pub fn get_shares(dir: &Path) -> Result<u64> {
    read_with(dir, SHARES, |t| parse_u64(SHARES, t))
}

/// Writes `cpu.shares`.
pub fn set_shares(dir: &Path, shares: u64) -> Result<()> {
    write_in(dir, SHARES, &shares.to_string())
}

/// Parses v1 `cpu.stat` text (times in ns).
pub fn parse_throttling(text: &str) -> Result<Throttling> {
    let m = parse_flat_keyed(STAT, text)?;
    let need = |k: &str| {
        m.get(k)
            .copied()
            .ok_or_else(|| CgroupError::parse(STAT, text, format!("no `{k}` line")))
    };
    Ok(Throttling {
        nr_periods: need("nr_periods")?,
        nr_throttled: need("nr_throttled")?,
        throttled_ns: need("throttled_time")?,
        nr_bursts: m.get("nr_bursts").copied(),
        burst_ns: m.get("burst_time").copied(),
    })
}

/// Reads the throttling counters.
pub fn throttling(dir: &Path) -> Result<Throttling> {
    read_with(dir, STAT, parse_throttling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_v1() {
        let t = parse_throttling(
            "nr_periods 21\nnr_throttled 20\nthrottled_time 1023456789\nnr_bursts 1\nburst_time 5000\n",
        )
        .unwrap();
        assert_eq!(t.nr_throttled, 20);
        assert_eq!(t.throttled_ns, 1023456789);
        assert_eq!(t.burst_ns, Some(5000));
        let old = parse_throttling("nr_periods 1\nnr_throttled 0\nthrottled_time 0\n").unwrap();
        assert_eq!(old.nr_bursts, None);
        assert!(parse_throttling("nr_periods 1\n").is_err());
    }
}
