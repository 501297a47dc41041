//! cgroup v2: one directory in the unified hierarchy, one module per controller.
//!
//! `cpuset` and `pids` use the same file names and formats as v1 and share
//! [`crate::v1::cpuset`] and [`crate::v1::pids`].

pub mod cpu;
pub mod freezer;
pub mod io;
pub mod memory;

use std::path::{Path, PathBuf};

use crate::backend::{self, Backend};
use crate::error::{CgroupError, Result};
use crate::limits::{blkio_weight_to_io_weight, io_weight_to_blkio_weight, Limit, LimitKind};
use crate::stats::Stats;
use crate::types::{Controller, Max, Version};
use crate::v1::{cpuset, pids};
use crate::{shares_to_weight, weight_to_shares};

/// `cgroup.controllers`: what the parent lets this cgroup use.
pub const CONTROLLERS: &str = "cgroup.controllers";
/// `cgroup.subtree_control`: what this cgroup gives its children.
pub const SUBTREE_CONTROL: &str = "cgroup.subtree_control";
/// `cgroup.kill` (5.14+): writing `1` kills every process in the subtree.
pub const KILL: &str = "cgroup.kill";

/// The directory of one v2 cgroup, and the controllers enabled for it.
#[derive(Debug, Clone)]
pub struct V2 {
    pub(crate) dir: PathBuf,
    pub(crate) controllers: Vec<Controller>,
}

impl V2 {
    fn dir(&self, c: Controller) -> Result<&Path> {
        let enabled = match c {
            Controller::Freezer => true,
            Controller::Cpuacct => self.controllers.contains(&Controller::Cpu),
            c => self.controllers.contains(&c),
        };
        if enabled {
            Ok(&self.dir)
        } else {
            Err(CgroupError::MissingController {
                controller: c.v2_name().unwrap_or(c.v1_name()),
                hint: format!(
                    "it is not enabled for {} (see cgroup.controllers of its parent)",
                    self.dir.display()
                ),
            })
        }
    }
}

impl Backend for V2 {
    fn version(&self) -> Version {
        Version::V2
    }

    fn set(&self, limit: &Limit) -> Result<()> {
        let d = |c| self.dir(c);
        match limit {
            Limit::CpuMax {
                quota_us,
                period_us,
            } => cpu::set_max(d(Controller::Cpu)?, *quota_us, *period_us),
            Limit::CpuBurst(b) => cpu::set_burst(d(Controller::Cpu)?, *b),
            Limit::CpuShares(s) => cpu::set_weight(d(Controller::Cpu)?, shares_to_weight(*s)),
            Limit::CpuWeight(w) => cpu::set_weight(d(Controller::Cpu)?, *w),
            Limit::CpusetCpus(l) => cpuset::set(d(Controller::Cpuset)?, cpuset::CPUS, l),
            Limit::CpusetMems(l) => cpuset::set(d(Controller::Cpuset)?, cpuset::MEMS, l),
            Limit::MemoryMax(m) => memory::set(d(Controller::Memory)?, memory::MAX, *m),
            Limit::MemorySwapMax(m) => memory::set_memory_swap(d(Controller::Memory)?, *m),
            Limit::MemoryHigh(m) => memory::set(d(Controller::Memory)?, memory::HIGH, *m),
            Limit::MemoryLow(v) | Limit::MemorySoftLimit(Max::Value(v)) => {
                memory::set(d(Controller::Memory)?, memory::LOW, Max::Value(*v))
            }
            Limit::MemorySoftLimit(Max::Unlimited) => {
                memory::set(d(Controller::Memory)?, memory::LOW, Max::Value(0))
            }
            Limit::MemoryMin(v) => memory::set(d(Controller::Memory)?, memory::MIN, Max::Value(*v)),
            Limit::PidsMax(m) => pids::set_max(d(Controller::Pids)?, *m),
            Limit::Freezer(s) => freezer::set(d(Controller::Freezer)?, *s),
            Limit::BlkioWeight(w) => {
                io::set_weight(d(Controller::Io)?, blkio_weight_to_io_weight(*w))
            }
            Limit::IoThrottle { device, kind, rate } => {
                io::set_throttle(d(Controller::Io)?, *device, *kind, *rate)
            }
        }
    }

    fn set_memory_and_swap(&self, mem: Max, memory_swap: Max) -> Result<()> {
        memory::set_both(self.dir(Controller::Memory)?, mem, memory_swap)
    }

    fn get(&self, kind: LimitKind) -> Result<Limit> {
        let d = |c| self.dir(c);
        let mem = |file| memory::get(d(Controller::Memory)?, file);
        let bytes = |m: Max| m.value().unwrap_or(u64::MAX);
        Ok(match kind {
            LimitKind::CpuMax => {
                let (quota_us, period_us) = cpu::get_max(d(Controller::Cpu)?)?;
                Limit::CpuMax {
                    quota_us,
                    period_us,
                }
            }
            LimitKind::CpuBurst => Limit::CpuBurst(cpu::get_burst(d(Controller::Cpu)?)?),
            LimitKind::CpuShares => {
                Limit::CpuShares(weight_to_shares(cpu::get_weight(d(Controller::Cpu)?)?))
            }
            LimitKind::CpuWeight => Limit::CpuWeight(cpu::get_weight(d(Controller::Cpu)?)?),
            LimitKind::CpusetCpus => {
                Limit::CpusetCpus(cpuset::get(d(Controller::Cpuset)?, cpuset::CPUS)?)
            }
            LimitKind::CpusetMems => {
                Limit::CpusetMems(cpuset::get(d(Controller::Cpuset)?, cpuset::MEMS)?)
            }
            LimitKind::MemoryMax => Limit::MemoryMax(mem(memory::MAX)?),
            LimitKind::MemorySwapMax => {
                Limit::MemorySwapMax(memory::get_memory_swap(d(Controller::Memory)?)?)
            }
            LimitKind::MemoryHigh => Limit::MemoryHigh(mem(memory::HIGH)?),
            LimitKind::MemoryLow => Limit::MemoryLow(bytes(mem(memory::LOW)?)),
            LimitKind::MemoryMin => Limit::MemoryMin(bytes(mem(memory::MIN)?)),
            LimitKind::MemorySoftLimit => Limit::MemorySoftLimit(match mem(memory::LOW)? {
                Max::Value(0) => Max::Unlimited,
                m => m,
            }),
            LimitKind::PidsMax => Limit::PidsMax(pids::get_max(d(Controller::Pids)?)?),
            LimitKind::Freezer => Limit::Freezer(freezer::get(d(Controller::Freezer)?)?),
            LimitKind::BlkioWeight => Limit::BlkioWeight(io_weight_to_blkio_weight(
                io::get_weight(d(Controller::Io)?)?,
            )),
            LimitKind::IoThrottle(device, kind) => Limit::IoThrottle {
                device,
                kind,
                rate: io::get_throttle(d(Controller::Io)?, device, kind)?,
            },
        })
    }

    fn cpu_stats(&self) -> Result<Option<crate::stats::CpuStats>> {
        // cpu.stat exists in every v2 cgroup; throttling appears with the cpu controller.
        Ok(Some(cpu::stats(&self.dir)?))
    }

    fn stats(&self) -> Result<Stats> {
        let on = |c: Controller| self.controllers.contains(&c);
        Ok(Stats {
            cpu: self.cpu_stats()?,
            memory: on(Controller::Memory)
                .then(|| memory::stats(&self.dir))
                .transpose()?,
            pids: on(Controller::Pids)
                .then(|| pids::stats(&self.dir))
                .transpose()?,
            io: on(Controller::Io)
                .then(|| std::fs::read_to_string(self.dir.join("io.stat")).ok())
                .flatten()
                .map(|t| crate::stats::IoStats::from_v2(&t)),
            pressure: backend::pressure(&self.dir)?,
        })
    }

    fn file_path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.dir.join(name))
    }
}
