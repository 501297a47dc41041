//! What this host can and cannot check: the data behind `limitcheck doctor`.
//!
//! [`HostReport::gather`] detects the cgroup layout, reads the kernel version, swap and PSI
//! state, and — when it may (root) — creates a short-lived probe cgroup to see which files a
//! non-root cgroup really has on this kernel (the root cgroup lacks most of them), then removes
//! it. [`HostReport::limitations`] says in plain words what a scenario will not be able to check
//! here and why.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::mount::{Layout, Mode};
use crate::types::{Controller, Version};
use crate::{v1, v2};

/// Everything `limitcheck doctor` reports.
#[derive(Clone, Debug, Serialize)]
pub struct HostReport {
    /// `uname -r`.
    pub kernel_release: String,
    /// `uname -v`.
    pub kernel_version: String,
    /// The cgroup mode, or why none was found.
    pub mode: Result<Mode, String>,
    /// Each controller and where it is, `None` when absent.
    pub controllers: Vec<ControllerReport>,
    /// Where the v2 hierarchy is mounted, if any.
    pub unified: Option<PathBuf>,
    /// Whether this process runs as root (needed to create cgroups).
    pub root: bool,
    /// Total swap, bytes (from `/proc/meminfo`).
    pub swap_total_bytes: Option<u64>,
    /// Kernel features found, each with the file that proves it.
    pub features: Vec<Feature>,
    /// Why the probe cgroup could not be made, if it could not.
    pub probe_error: Option<String>,
    /// Cgroups left by limitcheck processes that died, which this run removed.
    pub swept: Vec<PathBuf>,
}

/// One controller's availability.
#[derive(Clone, Debug, Serialize)]
pub struct ControllerReport {
    /// The controller.
    pub controller: Controller,
    /// Its hierarchy's version, when available.
    pub version: Option<Version>,
    /// Its hierarchy's mount point, when available.
    pub mount_point: Option<PathBuf>,
}

/// A feature and whether this host has it.
#[derive(Clone, Debug, Serialize)]
pub struct Feature {
    /// Short name (`swap accounting`, `CPU burst`, ...).
    pub name: &'static str,
    /// `Some(true)` present, `Some(false)` absent, `None` unknown (could not probe).
    pub present: Option<bool>,
    /// The file that was looked at, or a note.
    pub evidence: String,
    /// What a scenario loses when it is absent (`None`: nothing, limitcheck works around it).
    pub if_absent: Option<&'static str>,
}

/// One thing scenarios cannot check here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limitation {
    /// What cannot be checked.
    pub what: String,
    /// Why.
    pub why: String,
}

impl HostReport {
    /// Gathers the report for this host. Never fails: what cannot be read is reported as such.
    pub fn gather() -> HostReport {
        let uts = nix::sys::utsname::uname().ok();
        let s = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let layout = Layout::detect();
        let root = nix::unistd::geteuid().is_root();
        let meminfo = {
            use procfs::Current;
            procfs::Meminfo::current().ok()
        };
        let mut report = HostReport {
            kernel_release: s(|u| u.release()),
            kernel_version: s(|u| u.version()),
            mode: layout.as_ref().map(|l| l.mode).map_err(|e| e.to_string()),
            controllers: Controller::ALL
                .into_iter()
                .map(|c| {
                    let h = layout.as_ref().ok().and_then(|l| l.hierarchy_of(c));
                    ControllerReport {
                        controller: c,
                        version: h.map(|h| h.version),
                        mount_point: h.map(|h| h.mount_point.clone()),
                    }
                })
                .collect(),
            unified: layout
                .as_ref()
                .ok()
                .and_then(|l| l.unified())
                .map(|u| u.mount_point.clone()),
            root,
            swap_total_bytes: meminfo.map(|m| m.swap_total),
            features: Vec::new(),
            probe_error: None,
            swept: Vec::new(),
        };
        let host_psi = std::fs::read_to_string("/proc/pressure/cpu").is_ok();
        report.features.push(Feature {
            name: "host PSI",
            present: Some(host_psi),
            evidence: "/proc/pressure/cpu".into(),
            if_absent: Some("pressure stall information (boot without psi=0, CONFIG_PSI=y)"),
        });
        let Ok(layout) = layout else {
            return report;
        };
        if !root {
            report.probe_error = Some(
                "not running as root: cannot create a probe cgroup, so per-cgroup features are unknown"
                    .into(),
            );
            report.features.extend(probe_features(&layout, None));
            return report;
        }
        match layout.sweep_stale() {
            Ok(swept) => report.swept = swept,
            Err(e) => report.probe_error = Some(format!("cannot remove stale cgroups: {e}")),
        }
        let probe = layout
            .cgroup()
            .name(format!("doctor-{}", std::process::id()))
            .create();
        match probe {
            Ok(cg) => {
                report
                    .features
                    .extend(probe_features(&layout, Some(cg.dirs())));
                if let Err(e) = cg.destroy() {
                    report.probe_error = Some(format!("the probe cgroup was not removed: {e}"));
                }
            }
            Err(e) => {
                report.probe_error = Some(format!("cannot create a probe cgroup: {e}"));
                report.features.extend(probe_features(&layout, None));
            }
        }
        report
    }

    /// Whether limitcheck can run scenarios here at all (a cgroup layout and root).
    pub fn usable(&self) -> bool {
        self.mode.is_ok() && self.root && self.probe_error.is_none()
    }

    /// What scenarios cannot check on this host, and why.
    pub fn limitations(&self) -> Vec<Limitation> {
        let mut out = Vec::new();
        let mut add = |what: &str, why: String| {
            out.push(Limitation {
                what: what.to_string(),
                why,
            })
        };
        let mode = match &self.mode {
            Ok(m) => *m,
            Err(e) => {
                add("anything", format!("no usable cgroup filesystem: {e}"));
                return out;
            }
        };
        if !self.root {
            add(
                "anything that creates a cgroup",
                "limitcheck must run as root to create cgroups and containers".into(),
            );
        }
        if let Some(e) = &self.probe_error {
            add("per-cgroup features", e.clone());
        }
        for c in &self.controllers {
            if c.mount_point.is_none() && Controller::DEFAULT.contains(&c.controller) {
                add(
                    &format!("{} limits and statistics", c.controller),
                    format!(
                        "the {} controller is not mounted or not enabled",
                        c.controller
                    ),
                );
            }
        }
        if self.swap_total_bytes == Some(0) {
            add(
                "swap use, and memory+swap limits as distinct from memory limits",
                "swap is off: a workload over its memory limit is OOM-killed at once instead of swapping".into(),
            );
        }
        let v1 = mode != Mode::V2;
        if v1 {
            add(
                "memory.high, memory.low and memory.min",
                "they exist only on cgroup v2; this host writes memory limits through v1".into(),
            );
            add(
                "the v2 behaviour of lowering memory.max below usage (reclaim, then OOM kill)",
                "on v1 the same write fails with EBUSY when memory cannot be reclaimed; scenarios see the v1 behaviour".into(),
            );
        } else {
            add(
                "per-CPU usage",
                "cgroup v2 has no cpuacct.usage_percpu; only the total and user/system split"
                    .into(),
            );
            add(
                "the v1 EBUSY on lowering a memory limit below usage",
                "on v2 memory.max reclaims and then OOM-kills instead".into(),
            );
        }
        for f in &self.features {
            if let (Some(false), Some(lost)) = (f.present, f.if_absent) {
                add(lost, format!("{} is absent ({})", f.name, f.evidence));
            }
        }
        out
    }
}

/// Looks for the files of per-cgroup features in the probe cgroup's directories; with no probe,
/// in the hierarchies' roots where that proves anything, else reports them unknown.
fn probe_features(layout: &Layout, probe: Option<&[PathBuf]>) -> Vec<Feature> {
    let version = layout.version();
    // PSI files exist but refuse reads when the kernel runs with psi=0, so they must be read;
    // cgroup.kill is write-only, so it can only be seen to exist.
    let find = |file: &str| -> Option<bool> {
        let ok = |p: &Path| match file.ends_with(".pressure") {
            true => std::fs::read(p).is_ok(),
            false => p.exists(),
        };
        probe.map(|dirs| dirs.iter().any(|d| ok(&d.join(file))))
    };
    let pick = |v1_file: &'static str, v2_file: &'static str| match version {
        Version::V1 => v1_file,
        Version::V2 => v2_file,
    };
    let mut out = Vec::new();
    let mut feat = |name, file: &'static str, if_absent| {
        out.push(Feature {
            name,
            present: find(file),
            evidence: file.to_string(),
            if_absent,
        })
    };
    feat(
        "swap accounting",
        pick(v1::memory::MEMSW_LIMIT, v2::memory::SWAP_MAX),
        Some("memory+swap limits (v1: boot with swapaccount=1)"),
    );
    feat(
        "CPU burst",
        pick(v1::cpu::CFS_BURST, v2::cpu::MAX_BURST),
        Some("CPU burst limits and burst counters (Linux 5.14+)"),
    );
    feat(
        "memory peak",
        pick(v1::memory::MAX_USAGE, v2::memory::PEAK),
        Some("the kernel's own peak memory figure (Linux 5.19+ on v2); peaks come from samples"),
    );
    feat(
        "pids peak",
        v1::pids::PEAK,
        Some("the kernel's own peak task count (Linux 6.1+); peaks come from samples"),
    );
    feat(
        "per-cgroup PSI",
        crate::CPU_PRESSURE,
        Some("per-container pressure stall information (needs a v2 hierarchy and PSI)"),
    );
    feat(
        "cgroup.kill",
        v2::KILL,
        None, // killing falls back to freezing and signalling each task
    );
    if version == Version::V1 {
        feat(
            "per-CPU usage",
            v1::cpuacct::USAGE_PERCPU,
            Some("per-CPU usage charts"),
        );
    }
    let weight = match (version, probe) {
        (_, None) => None,
        (Version::V1, Some(d)) => {
            Some(d.iter().any(|d| {
                d.join(v1::blkio::WEIGHT).exists() || d.join(v1::blkio::BFQ_WEIGHT).exists()
            }))
        }
        (Version::V2, Some(d)) => Some(
            d.iter()
                .any(|d| d.join(v2::io::WEIGHT).exists() || d.join(v2::io::BFQ_WEIGHT).exists()),
        ),
    };
    out.push(Feature {
        name: "block-I/O weight",
        present: weight,
        evidence: match version {
            Version::V1 => format!("{} or {}", v1::blkio::WEIGHT, v1::blkio::BFQ_WEIGHT),
            Version::V2 => format!("{} or {}", v2::io::WEIGHT, v2::io::BFQ_WEIGHT),
        },
        if_absent: Some("block-I/O weight limits (needs the BFQ scheduler, or io.cost on v2)"),
    });
    out
}

impl fmt::Display for HostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "kernel        {} ({})",
            self.kernel_release, self.kernel_version
        )?;
        match &self.mode {
            Ok(m) => {
                let detail = match m {
                    Mode::V1 => "v1 controllers only".to_string(),
                    Mode::V2 => "unified v2 hierarchy".to_string(),
                    Mode::Hybrid => format!(
                        "v1 controllers; v2 at {} for PSI, cgroup.kill and events",
                        self.unified.as_deref().unwrap_or(Path::new("?")).display()
                    ),
                };
                writeln!(f, "cgroup mode   {m} ({detail})")?;
            }
            Err(e) => writeln!(f, "cgroup mode   none: {e}")?,
        }
        writeln!(
            f,
            "user          {}",
            if self.root { "root" } else { "not root" }
        )?;
        match self.swap_total_bytes {
            Some(0) => writeln!(f, "swap          off")?,
            Some(b) => writeln!(f, "swap          {} MiB", b >> 20)?,
            None => writeln!(f, "swap          unknown (no SwapTotal in /proc/meminfo)")?,
        }
        writeln!(f, "\ncontrollers")?;
        for c in &self.controllers {
            match (&c.version, &c.mount_point) {
                (Some(v), Some(m)) => {
                    let v = if *v == Version::V1 { "v1" } else { "v2" };
                    writeln!(f, "  {:<9} {v}  {}", c.controller.to_string(), m.display())?
                }
                _ => writeln!(f, "  {:<9} --  not available", c.controller.to_string())?,
            }
        }
        writeln!(f, "\nfeatures")?;
        for feat in &self.features {
            let state = match feat.present {
                Some(true) => "yes",
                Some(false) => "no ",
                None => "?  ",
            };
            writeln!(f, "  {:<18} {state}  {}", feat.name, feat.evidence)?;
        }
        if let Some(e) = &self.probe_error {
            writeln!(f, "\nnote: {e}")?;
        }
        if !self.swept.is_empty() {
            writeln!(f, "\nremoved cgroups left by limitcheck runs that died:")?;
            for d in &self.swept {
                writeln!(f, "  {}", d.display())?;
            }
        }
        let lim = self.limitations();
        if lim.is_empty() {
            writeln!(
                f,
                "\nScenarios can check everything limitcheck knows on this host."
            )?;
        } else {
            writeln!(f, "\nWhat scenarios cannot check on this host:")?;
            for l in lim {
                writeln!(f, "  - {}: {}", l.what, l.why)?;
            }
            let other = if matches!(self.mode, Ok(crate::Mode::V2)) {
                "v1"
            } else {
                "v2"
            };
            writeln!(
                f,
                "\nThe other cgroup version or another kernel: run the scenarios in a VM with \
                 `limitcheck vm --kernel debian --cgroup {other} SCENARIO...` (--append \"...\" for kernel options)."
            )?;
        }
        Ok(())
    }
}
