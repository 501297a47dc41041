//! The seam between the version-independent [`crate::Cgroup`] and the v1 and v2 code.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fs::read_opt;
use crate::limits::{Limit, LimitKind};
use crate::parse::parse_pressure;
use crate::stats::{PressureStats, Stats};
use crate::types::{Max, Version};

/// What a cgroup version must provide. Implemented by [`crate::v1::V1`] and [`crate::v2::V2`].
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    /// v1 or v2.
    fn version(&self) -> Version;
    /// Writes one limit.
    fn set(&self, limit: &Limit) -> Result<()>;
    /// Writes the memory limit and the memory+swap limit in an order the kernel accepts.
    fn set_memory_and_swap(&self, memory: Max, memory_swap: Max) -> Result<()>;
    /// Reads one limit.
    fn get(&self, kind: LimitKind) -> Result<Limit>;
    /// Reads every statistic of the controllers in use.
    fn stats(&self) -> Result<Stats>;
    /// Reads the CPU statistics alone (what a fast sample needs): `None` without CPU
    /// accounting.
    fn cpu_stats(&self) -> Result<Option<crate::stats::CpuStats>>;
    /// The path of a cgroup file by its kernel name (`memory.max`, `cpu.cfs_quota_us`).
    fn file_path(&self, name: &str) -> Result<PathBuf>;
}

/// PSI file names, the same wherever a v2 directory exists.
pub const CPU_PRESSURE: &str = "cpu.pressure";
/// Memory PSI.
pub const MEMORY_PRESSURE: &str = "memory.pressure";
/// I/O PSI.
pub const IO_PRESSURE: &str = "io.pressure";

/// Reads the three PSI files of a v2 directory; `None` when the kernel has PSI off.
pub(crate) fn pressure(dir: &Path) -> Result<Option<PressureStats>> {
    let p = PressureStats {
        cpu: read_opt(dir, CPU_PRESSURE, parse_pressure)?,
        memory: read_opt(dir, MEMORY_PRESSURE, parse_pressure)?,
        io: read_opt(dir, IO_PRESSURE, parse_pressure)?,
    };
    Ok((p.cpu.is_some() || p.memory.is_some() || p.io.is_some()).then_some(p))
}
