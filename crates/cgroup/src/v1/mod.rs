//! cgroup v1: one directory per hierarchy, one module per controller.
//!
//! On a hybrid host the cgroup also gets a directory in the v2 hierarchy (which usually carries no
//! controllers): it gives per-cgroup PSI, `cgroup.kill` and `cgroup.events`, as runc and systemd
//! use it.

pub mod blkio;
pub mod cpu;
pub mod cpuacct;
pub mod cpuset;
pub mod freezer;
pub mod memory;
pub mod pids;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::backend::{self, Backend};
use crate::error::{CgroupError, Result};
use crate::limits::{Limit, LimitKind};
use crate::stats::Stats;
use crate::types::{Controller, Max, Version};
use crate::{shares_to_weight, weight_to_shares};

/// The directories of one v1 cgroup.
#[derive(Debug, Clone)]
pub struct V1 {
    pub(crate) dirs: BTreeMap<Controller, PathBuf>,
    pub(crate) unified: Option<PathBuf>,
}

impl V1 {
    fn dir(&self, c: Controller) -> Result<&Path> {
        self.dirs
            .get(&c)
            .map(PathBuf::as_path)
            .ok_or_else(|| CgroupError::MissingController {
                controller: c.v1_name(),
                hint: format!(
                    "this cgroup was made without the {c} controller; create it with {c} in its controllers"
                ),
            })
    }

    fn v2_only(what: &str, hint: &str) -> CgroupError {
        CgroupError::Unsupported {
            what: what.to_string(),
            version: "cgroup v1",
            hint: hint.to_string(),
        }
    }
}

impl Backend for V1 {
    fn version(&self) -> Version {
        Version::V1
    }

    fn set(&self, limit: &Limit) -> Result<()> {
        let d = |c| self.dir(c);
        match limit {
            Limit::CpuMax {
                quota_us,
                period_us,
            } => cpu::set_max(d(Controller::Cpu)?, *quota_us, *period_us),
            Limit::CpuBurst(b) => cpu::set_burst(d(Controller::Cpu)?, *b),
            Limit::CpuShares(s) => cpu::set_shares(d(Controller::Cpu)?, *s),
            Limit::CpuWeight(w) => cpu::set_shares(d(Controller::Cpu)?, weight_to_shares(*w)),
            Limit::CpusetCpus(l) => cpuset::set(d(Controller::Cpuset)?, cpuset::CPUS, l),
            Limit::CpusetMems(l) => cpuset::set(d(Controller::Cpuset)?, cpuset::MEMS, l),
            Limit::MemoryMax(m) => memory::set(d(Controller::Memory)?, memory::LIMIT, *m),
            Limit::MemorySwapMax(m) => memory::set(d(Controller::Memory)?, memory::MEMSW_LIMIT, *m),
            Limit::MemorySoftLimit(m) => {
                memory::set(d(Controller::Memory)?, memory::SOFT_LIMIT, *m)
            }
            Limit::MemoryHigh(_) => Err(Self::v2_only(
                "memory.high",
                "v1 has no throttling threshold; use the soft limit (memory_soft_limit) or the hard limit",
            )),
            Limit::MemoryLow(_) | Limit::MemoryMin(_) => Err(Self::v2_only(
                "memory.low/memory.min protection",
                "v1 has no memory protection; the soft limit is the nearest",
            )),
            Limit::PidsMax(m) => pids::set_max(d(Controller::Pids)?, *m),
            Limit::Freezer(s) => freezer::set(d(Controller::Freezer)?, *s),
            Limit::BlkioWeight(w) => blkio::set_weight(d(Controller::Io)?, *w),
            Limit::IoThrottle { device, kind, rate } => {
                blkio::set_throttle(d(Controller::Io)?, kind.v1_file(), *device, *rate)
            }
        }
    }

    fn set_memory_and_swap(&self, memory: Max, memory_swap: Max) -> Result<()> {
        memory::set_both(self.dir(Controller::Memory)?, memory, memory_swap)
    }

    fn get(&self, kind: LimitKind) -> Result<Limit> {
        let d = |c| self.dir(c);
        Ok(match kind {
            LimitKind::CpuMax => {
                let (quota_us, period_us) = cpu::get_max(d(Controller::Cpu)?)?;
                Limit::CpuMax {
                    quota_us,
                    period_us,
                }
            }
            LimitKind::CpuBurst => Limit::CpuBurst(cpu::get_burst(d(Controller::Cpu)?)?),
            LimitKind::CpuShares => Limit::CpuShares(cpu::get_shares(d(Controller::Cpu)?)?),
            LimitKind::CpuWeight => {
                Limit::CpuWeight(shares_to_weight(cpu::get_shares(d(Controller::Cpu)?)?))
            }
            LimitKind::CpusetCpus => {
                Limit::CpusetCpus(cpuset::get(d(Controller::Cpuset)?, cpuset::CPUS)?)
            }
            LimitKind::CpusetMems => {
                Limit::CpusetMems(cpuset::get(d(Controller::Cpuset)?, cpuset::MEMS)?)
            }
            LimitKind::MemoryMax => {
                Limit::MemoryMax(memory::get(d(Controller::Memory)?, memory::LIMIT)?)
            }
            LimitKind::MemorySwapMax => {
                Limit::MemorySwapMax(memory::get(d(Controller::Memory)?, memory::MEMSW_LIMIT)?)
            }
            LimitKind::MemorySoftLimit => {
                Limit::MemorySoftLimit(memory::get(d(Controller::Memory)?, memory::SOFT_LIMIT)?)
            }
            LimitKind::MemoryHigh | LimitKind::MemoryLow | LimitKind::MemoryMin => {
                return Err(Self::v2_only(
                    &kind.to_string(),
                    "v1 has no such file; see the soft limit",
                ))
            }
            LimitKind::PidsMax => Limit::PidsMax(pids::get_max(d(Controller::Pids)?)?),
            LimitKind::Freezer => Limit::Freezer(freezer::get(d(Controller::Freezer)?)?),
            LimitKind::BlkioWeight => Limit::BlkioWeight(blkio::get_weight(d(Controller::Io)?)?),
            LimitKind::IoThrottle(device, kind) => Limit::IoThrottle {
                device,
                kind,
                rate: blkio::get_throttle(d(Controller::Io)?, kind.v1_file(), device)?,
            },
        })
    }

    fn cpu_stats(&self) -> Result<Option<crate::stats::CpuStats>> {
        match self.dirs.get(&Controller::Cpuacct) {
            Some(acct) => {
                let mut s = cpuacct::stats(acct)?;
                if let Some(cpu_dir) = self.dirs.get(&Controller::Cpu) {
                    s.throttling = Some(cpu::throttling(cpu_dir)?);
                }
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    fn stats(&self) -> Result<Stats> {
        Ok(Stats {
            cpu: self.cpu_stats()?,
            memory: self
                .dirs
                .get(&Controller::Memory)
                .map(|d| memory::stats(d))
                .transpose()?,
            pids: self
                .dirs
                .get(&Controller::Pids)
                .map(|d| pids::stats(d))
                .transpose()?,
            io: self
                .dirs
                .get(&Controller::Io)
                .and_then(|d| {
                    std::fs::read_to_string(d.join("blkio.throttle.io_service_bytes")).ok()
                })
                .map(|t| crate::stats::IoStats::from_v1(&t)),
            pressure: match &self.unified {
                Some(u) => backend::pressure(u)?,
                None => None,
            },
        })
    }

    fn file_path(&self, name: &str) -> Result<PathBuf> {
        let prefix = name.split('.').next().unwrap_or_default();
        if let Some(c) = Controller::ALL.into_iter().find(|c| c.v1_name() == prefix) {
            return Ok(self.dir(c)?.join(name));
        }
        if name.ends_with(".pressure")
            || matches!(name, "cgroup.kill" | "cgroup.events" | "cgroup.freeze")
        {
            return match &self.unified {
                Some(u) => Ok(u.join(name)),
                None => Err(CgroupError::Unsupported {
                    what: name.to_string(),
                    version: "pure cgroup v1",
                    hint: "the file exists only in a v2 hierarchy, which this host does not mount"
                        .into(),
                }),
            };
        }
        if matches!(prefix, "cgroup" | "tasks" | "notify_on_release") {
            if let Some(first) = self.dirs.values().next() {
                return Ok(first.join(name));
            }
        }
        Err(CgroupError::InvalidValue {
            what: format!("cgroup file {name:?}"),
            reason: "its name does not start with a controller this cgroup uses \
                     (cpu., cpuacct., cpuset., memory., pids., freezer., blkio., ...)"
                .into(),
        })
    }
}
