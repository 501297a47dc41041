//! v2 `io` controller: weight and `io.max` throttles.

use std::path::Path;

use crate::error::Result;
use crate::fs::{feature_file, read_with, write_in};
use crate::parse::{parse_default_weight, parse_io_max};
use crate::types::{DeviceNumber, Max, ThrottleKind};

/// `default N` and `MAJ:MIN N` lines, 1..=10000.
pub const WEIGHT: &str = "io.weight";
/// The same with the BFQ scheduler.
pub const BFQ_WEIGHT: &str = "io.bfq.weight";
/// Per-device `rbps= wbps= riops= wiops=` limits.
pub const MAX: &str = "io.max";

fn weight_file(dir: &Path) -> Result<&'static str> {
    feature_file(
        dir,
        &[WEIGHT, BFQ_WEIGHT],
        "block-I/O weight",
        "cgroup v2 here (no io.weight nor io.bfq.weight)",
        "use the BFQ scheduler or a kernel with io.cost/io.weight",
    )
}

/// Reads the default weight (1..=10000).
pub fn get_weight(dir: &Path) -> Result<u64> {
    let f = weight_file(dir)?;
    read_with(dir, f, |t| parse_default_weight(f, t))
}

/// Writes the default weight (1..=10000).
pub fn set_weight(dir: &Path, weight: u64) -> Result<()> {
    write_in(dir, weight_file(dir)?, &format!("default {weight}"))
}

/// Reads one device's throttle.
pub fn get_throttle(dir: &Path, dev: DeviceNumber, kind: ThrottleKind) -> Result<Max> {
    let all = read_with(dir, MAX, parse_io_max)?;
    Ok(all
        .get(&dev)
        .and_then(|m| m.get(kind.v2_key()).copied())
        .unwrap_or(Max::Unlimited))
}

/// Writes one device's throttle (`max` removes it).
pub fn set_throttle(dir: &Path, dev: DeviceNumber, kind: ThrottleKind, rate: Max) -> Result<()> {
    write_in(
        dir,
        MAX,
        &format!("{dev} {}={}", kind.v2_key(), rate.v2_text()),
    )
}
