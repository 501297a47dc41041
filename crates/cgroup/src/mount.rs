//! Detection of the host's cgroup layout from `/proc/self/mountinfo` and the filesystem magic.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{CgroupError, Result};
use crate::fs::{self, FsProbe, RealFs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};
use crate::parse::{parse_mountinfo, MountInfo};
use crate::types::{Controller, Version};

/// How the host mounts cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// Only the v2 unified hierarchy (with controllers).
    V2,
    /// v1 controllers plus a v2 hierarchy (usually empty of controllers, at
    /// `/sys/fs/cgroup/unified`), as systemd's "hybrid" mode mounts them.
    Hybrid,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::V1 => "v1",
            Mode::V2 => "v2",
            Mode::Hybrid => "hybrid",
        })
    }
}

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// Where it is mounted; limitcheck's cgroups go below it.
    pub mount_point: PathBuf,
    /// The controllers it carries: for v1 from the mount options (`cpu,cpuacct` co-mounted gives
    /// two), for v2 from `cgroup.controllers` of its root.
    pub controllers: Vec<Controller>,
    /// A v1 named hierarchy without controllers (`name=systemd`).
    pub name: Option<String>,
    /// v1 controllers limitcheck does not model (`net_cls`, `net_prio`, `perf_event`, `rdma`,
    /// `misc`), kept so that the hierarchy can be mounted again as it is (in a container).
    pub other_controllers: Vec<String>,
}

/// Every cgroup v1 subsystem name the kernel has (the first column of `/proc/cgroups`).
const V1_SUBSYSTEMS: [&str; 16] = [
    "cpuset",
    "cpu",
    "cpuacct",
    "io",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// The host's cgroup layout: what [`Layout::detect`] found.
#[derive(Clone, Debug, Serialize)]
pub struct Layout {
    /// v1, v2 or hybrid.
    pub mode: Mode,
    /// Every hierarchy, in mountinfo order (duplicates of a controller dropped).
    pub hierarchies: Vec<Hierarchy>,
    #[serde(skip)]
    pub(crate) probe: ProbeBox,
}

#[derive(Clone)]
pub(crate) struct ProbeBox(pub(crate) std::sync::Arc<dyn FsProbe>);

impl std::fmt::Debug for ProbeBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FsProbe")
    }
}

/// The mountinfo file of this process.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

impl Layout {
    /// Detects the layout of this host from [`MOUNTINFO`], checking each hierarchy's filesystem
    /// magic with `statfs`.
    pub fn detect() -> Result<Layout> {
        let text = fs::read(Path::new(MOUNTINFO))?;
        Self::from_mountinfo(&text, std::sync::Arc::new(RealFs)).map_err(|e| match e {
            CgroupError::NoCgroupFs { .. } => CgroupError::NoCgroupFs {
                path: MOUNTINFO.into(),
            },
            e => e.at(Path::new(MOUNTINFO)),
        })
    }

    /// Detects a layout from mountinfo text, asking `probe` for filesystem magics. A v2
    /// hierarchy's controllers are read from its `cgroup.controllers`, so a fixture tree must
    /// provide that file.
    pub fn from_mountinfo(text: &str, probe: std::sync::Arc<dyn FsProbe>) -> Result<Layout> {
        let mounts = parse_mountinfo(text)?;
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        let mut have_v2 = false;
        for m in &mounts {
            let Some(mut h) = hierarchy_of(m) else {
                continue;
            };
            let magic = probe
                .magic(&h.mount_point)
                .map_err(|source| CgroupError::Read {
                    path: h.mount_point.clone(),
                    source,
                })?;
            let want = match h.version {
                Version::V1 => CGROUP_SUPER_MAGIC,
                Version::V2 => CGROUP2_SUPER_MAGIC,
            };
            if magic != want {
                return Err(CgroupError::NotCgroupFs {
                    path: h.mount_point,
                    magic,
                });
            }
            match h.version {
                Version::V2 => {
                    if have_v2 {
                        continue; // the same tree mounted twice: use the first
                    }
                    have_v2 = true;
                    h.controllers = fs::read_with(&h.mount_point, "cgroup.controllers", |t| {
                        Ok(t.split_whitespace()
                            .filter_map(Controller::from_kernel_name)
                            .collect())
                    })?;
                }
                Version::V1 => {
                    let dup = hierarchies.iter().any(|o| {
                        o.version == Version::V1
                            && ((o.name.is_some() && o.name == h.name)
                                || o.controllers.iter().any(|c| h.controllers.contains(c)))
                    });
                    if dup {
                        continue;
                    }
                }
            }
            hierarchies.push(h);
        }
        let v1_controllers = hierarchies
            .iter()
            .any(|h| h.version == Version::V1 && !h.controllers.is_empty());
        let mode = match (v1_controllers, have_v2) {
            (true, true) => Mode::Hybrid,
            (true, false) => Mode::V1,
            (false, true) => Mode::V2,
            (false, false) => {
                return Err(CgroupError::NoCgroupFs {
                    path: PathBuf::new(),
                })
            }
        };
        Ok(Layout {
            mode,
            hierarchies,
            probe: ProbeBox(probe),
        })
    }

    /// The version limits are written through: v2 on a pure v2 host, v1 otherwise.
    pub fn version(&self) -> Version {
        match self.mode {
            Mode::V2 => Version::V2,
            Mode::V1 | Mode::Hybrid => Version::V1,
        }
    }

    /// The v2 hierarchy, if one is mounted (on hybrid hosts it carries no or few controllers but
    /// gives per-cgroup PSI, `cgroup.kill` and `cgroup.events`).
    pub fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }

    /// Where a controller lives: the hierarchy that limitcheck uses for it.
    pub fn hierarchy_of(&self, c: Controller) -> Option<&Hierarchy> {
        match self.version() {
            Version::V1 => self
                .hierarchies
                .iter()
                .find(|h| h.version == Version::V1 && h.controllers.contains(&c)),
            Version::V2 => {
                let h = self.unified()?;
                // cpuacct and freezer are built into v2; devices are not a v2 controller.
                match c {
                    Controller::Cpuacct => h.controllers.contains(&Controller::Cpu).then_some(h),
                    Controller::Freezer => Some(h),
                    Controller::Devices => None,
                    c => h.controllers.contains(&c).then_some(h),
                }
            }
        }
    }

    /// The controllers limitcheck can use on this host.
    pub fn available(&self) -> Vec<Controller> {
        Controller::ALL
            .into_iter()
            .filter(|c| self.hierarchy_of(*c).is_some())
            .collect()
    }

    /// Fails with a clear message when the filesystem at `path` is not the cgroup filesystem of
    /// `version` (on a hybrid host, a path under the tmpfs at `/sys/fs/cgroup` is not).
    pub(crate) fn check_fs(&self, path: &Path, version: Version) -> Result<()> {
        let magic = self
            .probe
            .0
            .magic(path)
            .map_err(|source| CgroupError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let want = match version {
            Version::V1 => CGROUP_SUPER_MAGIC,
            Version::V2 => CGROUP2_SUPER_MAGIC,
        };
        if magic == want {
            Ok(())
        } else {
            Err(CgroupError::NotCgroupFs {
                path: path.to_path_buf(),
                magic,
            })
        }
    }
}

fn hierarchy_of(m: &MountInfo) -> Option<Hierarchy> {
    match m.fstype.as_str() {
        "cgroup2" => Some(Hierarchy {
            version: Version::V2,
            mount_point: PathBuf::from(&m.mount_point),
            controllers: Vec::new(),
            name: None,
            other_controllers: Vec::new(),
        }),
        "cgroup" => {
            let controllers: Vec<Controller> = m
                .super_options
                .iter()
                .filter_map(|o| Controller::from_kernel_name(o))
                .collect();
            let name = m
                .super_options
                .iter()
                .find_map(|o| o.strip_prefix("name=").map(str::to_string));
            let other_controllers = m
                .super_options
                .iter()
                .filter(|o| {
                    V1_SUBSYSTEMS.contains(&o.as_str()) && Controller::from_kernel_name(o).is_none()
                })
                .cloned()
                .collect();
            Some(Hierarchy {
                version: Version::V1,
                mount_point: PathBuf::from(&m.mount_point),
                controllers,
                name,
                other_controllers,
            })
        }
        _ => None,
    }
}
