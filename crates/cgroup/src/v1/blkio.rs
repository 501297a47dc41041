//! v1 `blkio` controller: weight and per-device throttles.

use std::path::Path;

use crate::error::Result;
use crate::fs::{feature_file, read_opt, read_with, write_in};
use crate::parse::{parse_default_weight, parse_device_values};
use crate::types::{DeviceNumber, Max};

/// Weight with the CFQ scheduler (kernels before 5.0).
pub const WEIGHT: &str = "blkio.weight";
/// Weight with the BFQ scheduler.
pub const BFQ_WEIGHT: &str = "blkio.bfq.weight";
/// Read bytes/s per device.
pub const THROTTLE_READ_BPS: &str = "blkio.throttle.read_bps_device";
/// Write bytes/s per device.
pub const THROTTLE_WRITE_BPS: &str = "blkio.throttle.write_bps_device";
/// Read operations/s per device.
pub const THROTTLE_READ_IOPS: &str = "blkio.throttle.read_iops_device";
/// Write operations/s per device.
pub const THROTTLE_WRITE_IOPS: &str = "blkio.throttle.write_iops_device";

fn weight_file(dir: &Path) -> Result<&'static str> {
    feature_file(
        dir,
        &[WEIGHT, BFQ_WEIGHT],
        "block-I/O weight",
        "cgroup v1 here (no blkio.weight nor blkio.bfq.weight)",
        "enable the BFQ I/O scheduler (CONFIG_IOSCHED_BFQ, CONFIG_BFQ_GROUP_IOSCHED)",
    )
}

/// Reads the default weight (10..=1000).
pub fn get_weight(dir: &Path) -> Result<u64> {
    let f = weight_file(dir)?;
    read_with(dir, f, |t| parse_default_weight(f, t))
}

/// Writes the default weight (10..=1000).
pub fn set_weight(dir: &Path, weight: u64) -> Result<()> {
    write_in(dir, weight_file(dir)?, &weight.to_string())
}

/// Reads one device's throttle from `file` (unlimited when the device has no rule).
pub fn get_throttle(dir: &Path, file: &'static str, dev: DeviceNumber) -> Result<Max> {
    let rules = read_opt(dir, file, |t| parse_device_values(file, t))?.unwrap_or_default();
    Ok(rules
        .into_iter()
        .find(|(d, _)| *d == dev)
        .map_or(Max::Unlimited, |(_, v)| Max::Value(v)))
}

/// Writes one device's throttle; unlimited writes `0`, which removes the rule.
pub fn set_throttle(dir: &Path, file: &'static str, dev: DeviceNumber, rate: Max) -> Result<()> {
    write_in(dir, file, &format!("{dev} {}", rate.value().unwrap_or(0)))
}
