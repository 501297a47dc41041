//! cgroup access for limitcheck: v1, v2 and hybrid hosts behind one API.
//!
//! This crate is the layer everything else in limitcheck stands on. It detects how the host
//! mounts cgroups ([`Layout::detect`]: v1, v2 or hybrid, from `/proc/self/mountinfo` and the
//! filesystem magic), creates cgroups under `limitcheck/` in every hierarchy in use
//! ([`Layout::cgroup`]), moves processes in, kills and removes them, and reads and writes
//! limits ([`Limit`]) and statistics ([`Stats`]) that mean the same on both versions. Raw file
//! access ([`Cgroup::write_raw`]) keeps the kernel's errno, so an `EBUSY` reaches the verdict as
//! `EBUSY`.
//!
//! ```no_run
//! use limitcheck_cgroup::{Layout, Limit, Max};
//!
//! let layout = Layout::detect()?;
//! let cg = layout.cgroup().create()?;            // e.g. /sys/fs/cgroup/cpu/limitcheck/run-…
//! cg.set(&Limit::CpuMax { quota_us: Max::Value(100_000), period_us: 100_000 })?; // --cpus=1
//! cg.add_pid(1234)?;
//! let used = cg.stats()?.cpu.map(|c| c.usage_ns);
//! match cg.write_raw("memory.limit_in_bytes", "104857600") {
//!     Err(e) if e.errno() == Some(nix::errno::Errno::EBUSY) => println!("v1 refused: {e}"),
//!     r => r?,
//! }
//! cg.destroy()?;                                 // kill what runs, remove every directory
//! # Ok::<(), limitcheck_cgroup::CgroupError>(())
//! ```
//!
//! Pure parsers of every file format are in [`parse`] (and the `stats_from`/`parse_*` functions
//! of the controller modules), tested on literal kernel text. The version-specific code is in
//! [`v1`] and [`v2`], one module per controller, every kernel file a named constant. The tables
//! in [`limits`] and [`stats`] say which file backs which field on each version.

#![deny(missing_docs)]

mod backend;
mod cgroup;
pub mod doctor;
mod error;
pub mod fs;
pub mod limits;
mod mount;
pub mod parse;
pub mod stats;
pub mod tree;
mod types;
pub mod units;
pub mod v1;
pub mod v2;

pub use backend::{CPU_PRESSURE, IO_PRESSURE, MEMORY_PRESSURE};
pub use cgroup::{Backoff, Cgroup, CgroupBuilder, Mover, DEFAULT_PARENT, DRAIN_TIMEOUT};
pub use error::{CgroupError, Result};
pub use limits::{Limit, LimitKind};
pub use mount::{Hierarchy, Layout, Mode, MOUNTINFO};
pub use stats::{CpuStats, MemoryStats, PidsStats, PressureStats, Stats, Throttling};
pub use types::{
    shares_to_weight, weight_to_shares, Controller, CpuList, DeviceNumber, FreezerState, Max,
    Pressure, PressureLine, ThrottleKind, Version,
};

/// Re-exported so callers match errnos with the same `nix` version.
pub use nix;
