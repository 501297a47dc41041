//! `cpuset` controller (the file names are the same on v1 and v2).

use std::path::Path;

use crate::error::Result;
use crate::fs::{read_with, write_in};
use crate::parse::parse_cpu_list;
use crate::types::CpuList;

/// CPUs the tasks may use.
pub const CPUS: &str = "cpuset.cpus";
/// Memory nodes the tasks may use.
pub const MEMS: &str = "cpuset.mems";
/// v2: the CPUs actually granted.
pub const CPUS_EFFECTIVE: &str = "cpuset.cpus.effective";
/// v2: the memory nodes actually granted.
pub const MEMS_EFFECTIVE: &str = "cpuset.mems.effective";

/// Reads a CPU or node list file.
pub fn get(dir: &Path, file: &str) -> Result<CpuList> {
    read_with(dir, file, parse_cpu_list)
}

/// Writes a CPU or node list file.
pub fn set(dir: &Path, file: &str, list: &CpuList) -> Result<()> {
    write_in(dir, file, &list.to_string())
}

/// A new v1 cpuset cgroup starts with empty `cpus` and `mems`, and no task can join it until they
/// are set: copy them from the parent where they are empty (what runc does).
pub fn inherit_from_parent(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in [CPUS, MEMS] {
        if get(dir, file)?.is_empty() {
            let from = get(parent, file)?;
            set(dir, file, &from)?;
        }
    }
    Ok(())
}
