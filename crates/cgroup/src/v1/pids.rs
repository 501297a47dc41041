//! `pids` controller (the files are the same on v1 and v2).

use std::path::Path;

use crate::error::Result;
use crate::fs::{read_opt, read_with, write_in};
use crate::parse::{parse_flat_keyed, parse_max, parse_u64};
use crate::stats::PidsStats;
use crate::types::Max;

/// The task limit (`max` for none).
pub const MAX: &str = "pids.max";
/// Tasks now.
pub const CURRENT: &str = "pids.current";
/// Highest task count seen (6.1+).
pub const PEAK: &str = "pids.peak";
/// `max N`: forks refused.
pub const EVENTS: &str = "pids.events";

/// Reads `pids.max`.
pub fn get_max(dir: &Path) -> Result<Max> {
    read_with(dir, MAX, |t| parse_max(MAX, t))
}

/// Writes `pids.max`.
pub fn set_max(dir: &Path, max: Max) -> Result<()> {
    write_in(dir, MAX, &max.v2_text())
}

/// Reads the task counters.
pub fn stats(dir: &Path) -> Result<PidsStats> {
    Ok(PidsStats {
        current: read_with(dir, CURRENT, |t| parse_u64(CURRENT, t))?,
        peak: read_opt(dir, PEAK, |t| parse_u64(PEAK, t))?,
        events_max: read_opt(dir, EVENTS, |t| parse_flat_keyed(EVENTS, t))?
            .and_then(|m| m.get("max").copied()),
    })
}
