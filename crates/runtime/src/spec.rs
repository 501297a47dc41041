//! Loading and validating an OCI bundle's `config.json`, and turning `linux.resources` into
//! cgroup limits.
//!
//! Every error names the file, the JSON path of the field and what to do, e.g.
//! `config.json: linux.resources.cpu.quota: -5 is negative; use -1 for no limit or a positive
//! number of µs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use limitcheck_cgroup::{CpuList, DeviceNumber, Limit, Max, ThrottleKind};
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

use crate::error::{Result, RuntimeError};

/// A spec checked for what the runtime needs, with its rootfs resolved.
#[derive(Debug, Clone)]
pub struct ValidSpec {
    /// The spec.
    pub spec: Spec,
    /// The bundle directory (absolute).
    pub bundle: PathBuf,
    /// The root filesystem (absolute).
    pub rootfs: PathBuf,
    /// Where the spec came from, for messages.
    pub origin: String,
}

fn err(origin: &str, field: impl Into<String>, reason: impl Into<String>) -> RuntimeError {
    RuntimeError::Spec {
        file: origin.to_string(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// The default config of `lcrun spec`: runc's (an interactive `sh` on a terminal, pid, network,
/// ipc, uts, mount and cgroup namespaces, runc's three capabilities, masked and read-only paths,
/// every device denied but the defaults), with the hostname `lcrun`.
pub fn default_spec() -> Spec {
    let mut spec = Spec::default();
    spec.set_hostname(Some("lcrun".into()));
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
    }
    if let Some(r) = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.resources_mut().as_mut())
    {
        let deny_all = oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .expect("valid device rule");
        r.set_devices(Some(vec![deny_all]));
    }
    spec
}

/// The fields of `spec` that are set but that lcrun does not enforce (it has no seccomp,
/// AppArmor, SELinux, Intel RDT, ... support, and writes only the cgroup limits limitcheck
/// measures): the container runs without them, so callers must say so. runc and crun apply
/// most of them.
pub fn not_enforced(spec: &Spec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(l) = spec.linux() {
        for (field, set) in [
            ("linux.seccomp", l.seccomp().is_some()),
            ("linux.mountLabel", l.mount_label().is_some()),
            ("linux.intelRdt", l.intel_rdt().is_some()),
            ("linux.memoryPolicy", l.memory_policy().is_some()),
            ("linux.personality", l.personality().is_some()),
            ("linux.netDevices", l.net_devices().is_some()),
        ] {
            if set {
                out.push(field);
            }
        }
    }
    if let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        let m = r.memory().as_ref();
        let c = r.cpu().as_ref();
        let b = r.block_io().as_ref();
        for (field, set) in [
            (
                "linux.resources.memory.swappiness",
                m.is_some_and(|m| m.swappiness().is_some()),
            ),
            (
                "linux.resources.memory.disableOOMKiller",
                m.is_some_and(|m| m.disable_oom_killer() == Some(true)),
            ),
            (
                "linux.resources.memory.kernel",
                m.is_some_and(|m| m.kernel().is_some()),
            ),
            (
                "linux.resources.memory.kernelTCP",
                m.is_some_and(|m| m.kernel_tcp().is_some()),
            ),
            (
                "linux.resources.cpu.realtimeRuntime",
                c.is_some_and(|c| c.realtime_runtime().is_some()),
            ),
            (
                "linux.resources.cpu.realtimePeriod",
                c.is_some_and(|c| c.realtime_period().is_some()),
            ),
            (
                "linux.resources.cpu.idle",
                c.is_some_and(|c| c.idle().is_some()),
            ),
            (
                "linux.resources.blockIO.leafWeight",
                b.is_some_and(|b| b.leaf_weight().is_some()),
            ),
            (
                "linux.resources.blockIO.weightDevice",
                b.is_some_and(|b| b.weight_device().as_ref().is_some_and(|w| !w.is_empty())),
            ),
            (
                "linux.resources.hugepageLimits",
                r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
            ),
            ("linux.resources.network", r.network().is_some()),
            ("linux.resources.rdma", r.rdma().is_some()),
            ("linux.resources.unified", r.unified().is_some()),
        ] {
            if set {
                out.push(field);
            }
        }
    }
    if let Some(p) = spec.process() {
        for (field, set) in [
            ("process.apparmorProfile", p.apparmor_profile().is_some()),
            ("process.selinuxLabel", p.selinux_label().is_some()),
            ("process.ioPriority", p.io_priority().is_some()),
            ("process.scheduler", p.scheduler().is_some()),
            ("process.execCPUAffinity", p.exec_cpu_affinity().is_some()),
        ] {
            if set {
                out.push(field);
            }
        }
    }
    out
}

/// Reads `bundle/config.json`, reporting a JSON error with the path of the field at fault.
pub fn load_bundle(bundle: &Path) -> Result<ValidSpec> {
    let bundle = std::path::absolute(bundle).map_err(RuntimeError::io("resolve", bundle))?;
    let file = bundle.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(RuntimeError::io("read", &file))?;
    let origin = file.display().to_string();
    let de = &mut serde_json::Deserializer::from_str(&text);
    let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        err(
            &origin,
            if field == "." {
                "(document)".into()
            } else {
                field
            },
            e.into_inner().to_string(),
        )
    })?;
    validate(spec, &bundle, origin)
}

/// Checks an in-memory spec whose relative paths are relative to `bundle`.
pub fn validate(spec: Spec, bundle: &Path, origin: String) -> Result<ValidSpec> {
    let o = origin.as_str();
    let root = spec.root().as_ref().ok_or_else(|| {
        err(
            o,
            "root",
            "missing; give root.path, the root filesystem directory",
        )
    })?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    if !rootfs.is_dir() {
        return Err(err(
            o,
            "root.path",
            format!(
                "{} is not a directory; point it at the bundle's root filesystem",
                rootfs.display()
            ),
        ));
    }
    let process = spec.process().as_ref().ok_or_else(|| {
        err(
            o,
            "process",
            "missing; give process.args, the program to run",
        )
    })?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(err(
            o,
            "process.args",
            "empty; give the program to run and its arguments",
        ));
    }
    if !process.cwd().is_absolute() {
        return Err(err(
            o,
            "process.cwd",
            format!("{:?} must be an absolute path", process.cwd()),
        ));
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(err(
                o,
                format!("mounts[{i}].destination"),
                format!("{:?} must be an absolute path", m.destination()),
            ));
        }
    }
    if let Some(linux) = spec.linux() {
        let mut seen = HashSet::new();
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if !seen.insert(ns.typ()) {
                return Err(err(
                    o,
                    format!("linux.namespaces[{i}].type"),
                    format!("{:?} is listed twice", ns.typ()),
                ));
            }
            if ns.typ() == LinuxNamespaceType::Time {
                return Err(err(
                    o,
                    format!("linux.namespaces[{i}].type"),
                    "time namespaces are not supported by lcrun",
                ));
            }
            if let Some(p) = ns.path() {
                if !p.exists() {
                    return Err(err(
                        o,
                        format!("linux.namespaces[{i}].path"),
                        format!("{} does not exist", p.display()),
                    ));
                }
            }
        }
        let new_user_ns = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
        if new_user_ns {
            for (field, maps) in [
                ("linux.uidMappings", linux.uid_mappings()),
                ("linux.gidMappings", linux.gid_mappings()),
            ] {
                if maps.as_ref().is_none_or(|m| m.is_empty()) {
                    return Err(err(o, field, "a new user namespace needs mappings, e.g. [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]"));
                }
            }
        }
        if let Some(r) = linux.resources() {
            resource_limits(r, o)?;
        }
    }
    crate::isolation::check(&spec, &crate::isolation::Namespaces::of(&spec), o)?;
    Ok(ValidSpec {
        rootfs,
        bundle: bundle.to_path_buf(),
        spec,
        origin,
    })
}

/// The cgroup limits `linux.resources` asks for, checked, in the order to apply them. Devices
/// (v1) are handled apart by the runtime.
pub fn resource_limits(r: &LinuxResources, origin: &str) -> Result<Vec<Limit>> {
    let mut out = Vec::new();
    if let Some(cpu) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(s) = cpu.shares() {
            if s != 0 {
                if !(2..=262_144).contains(&s) {
                    return Err(err(
                        origin,
                        format!("{f}.shares"),
                        format!("{s} is outside 2..=262144"),
                    ));
                }
                out.push(Limit::CpuShares(s));
            }
        }
        let period = match cpu.period() {
            Some(p) if !(1_000..=1_000_000).contains(&p) => {
                return Err(err(
                    origin,
                    format!("{f}.period"),
                    format!("{p} µs is outside 1000..=1000000 µs (1 ms to 1 s)"),
                ))
            }
            p => p,
        };
        let quota = match cpu.quota() {
            Some(q) if q < -1 => {
                return Err(err(
                    origin,
                    format!("{f}.quota"),
                    format!("{q} is negative; use -1 for no limit or a positive number of µs"),
                ))
            }
            Some(q) if q > 0 && q < 1000 => {
                return Err(err(
                    origin,
                    format!("{f}.quota"),
                    format!("{q} µs is below the kernel's 1000 µs minimum"),
                ))
            }
            Some(-1) => Some(Max::Unlimited),
            Some(0) | None => None,
            Some(q) => Some(Max::Value(q as u64)),
        };
        if quota.is_some() || period.is_some() {
            out.push(Limit::CpuMax {
                quota_us: quota.unwrap_or(Max::Unlimited),
                period_us: period.unwrap_or(100_000),
            });
        }
        if let Some(b) = cpu.burst() {
            out.push(Limit::CpuBurst(b));
        }
        for (name, v, mk) in [
            (
                "cpus",
                cpu.cpus(),
                Limit::CpusetCpus as fn(CpuList) -> Limit,
            ),
            ("mems", cpu.mems(), Limit::CpusetMems),
        ] {
            if let Some(text) = v.as_deref().filter(|t| !t.is_empty()) {
                let list = text.parse::<CpuList>().map_err(|e| {
                    err(
                        origin,
                        format!("{f}.{name}"),
                        format!("{text:?} is not a list like 0-2,4: {e}"),
                    )
                })?;
                out.push(mk(list));
            }
        }
    }
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        let bytes = |name: &str, v: Option<i64>| -> Result<Option<Max>> {
            match v {
                None | Some(0) => Ok(None),
                Some(-1) => Ok(Some(Max::Unlimited)),
                Some(v) if v < 0 => Err(err(
                    origin,
                    format!("{f}.{name}"),
                    format!("{v} is negative; use -1 for no limit or a number of bytes"),
                )),
                Some(v) => Ok(Some(Max::Value(v as u64))),
            }
        };
        let limit = bytes("limit", m.limit())?;
        let swap = bytes("swap", m.swap())?;
        if let (Some(Max::Value(l)), Some(Max::Value(s))) = (limit, swap) {
            if s < l {
                return Err(err(
                    origin,
                    format!("{f}.swap"),
                    format!("{s} is below memory.limit {l}; swap is memory+swap and must be at least the limit"),
                ));
            }
        }
        if let Some(l) = limit {
            out.push(Limit::MemoryMax(l));
        }
        if let Some(s) = swap {
            out.push(Limit::MemorySwapMax(s));
        }
        if let Some(r) = bytes("reservation", m.reservation())? {
            out.push(Limit::MemorySoftLimit(r));
        }
    }
    if let Some(p) = r.pids() {
        out.push(Limit::PidsMax(if p.limit() <= 0 {
            Max::Unlimited
        } else {
            Max::Value(p.limit() as u64)
        }));
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        if let Some(w) = b.weight() {
            if !(10..=1000).contains(&w) {
                return Err(err(
                    origin,
                    format!("{f}.weight"),
                    format!("{w} is outside 10..=1000"),
                ));
            }
            out.push(Limit::BlkioWeight(u64::from(w)));
        }
        let lists = [
            (
                "throttleReadBpsDevice",
                b.throttle_read_bps_device(),
                ThrottleKind::ReadBps,
            ),
            (
                "throttleWriteBpsDevice",
                b.throttle_write_bps_device(),
                ThrottleKind::WriteBps,
            ),
            (
                "throttleReadIOPSDevice",
                b.throttle_read_iops_device(),
                ThrottleKind::ReadIops,
            ),
            (
                "throttleWriteIOPSDevice",
                b.throttle_write_iops_device(),
                ThrottleKind::WriteIops,
            ),
        ];
        for (_, list, kind) in lists {
            for d in list.iter().flatten() {
                let device = DeviceNumber {
                    major: d.major() as u32,
                    minor: d.minor() as u32,
                };
                let rate = if d.rate() == 0 {
                    Max::Unlimited
                } else {
                    Max::Value(d.rate())
                };
                out.push(Limit::IoThrottle { device, kind, rate });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder};

    fn res(cpu_quota: Option<i64>, mem: Option<i64>) -> LinuxResources {
        let mut b = LinuxResourcesBuilder::default();
        if let Some(q) = cpu_quota {
            b = b.cpu(
                LinuxCpuBuilder::default()
                    .quota(q)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            );
        }
        if let Some(m) = mem {
            b = b.memory(LinuxMemoryBuilder::default().limit(m).build().unwrap());
        }
        b.build().unwrap()
    }

    #[test]
    fn quota_and_memory_become_limits() {
        let l = resource_limits(&res(Some(50_000), Some(256 << 20)), "t").unwrap();
        assert!(l.contains(&Limit::CpuMax {
            quota_us: Max::Value(50_000),
            period_us: 100_000
        }));
        assert!(l.contains(&Limit::MemoryMax(Max::Value(256 << 20))));
    }

    #[test]
    fn negative_quota_names_the_field() {
        let e = resource_limits(&res(Some(-5), None), "config.json").unwrap_err();
        let t = e.to_string();
        assert!(t.contains("linux.resources.cpu.quota"), "{t}");
        assert!(t.contains("config.json"), "{t}");
        let ok = resource_limits(&res(Some(-1), None), "c").unwrap();
        assert_eq!(
            ok[0],
            Limit::CpuMax {
                quota_us: Max::Unlimited,
                period_us: 100_000
            }
        );
    }

    #[test]
    fn negative_memory_names_the_field() {
        let e = resource_limits(&res(None, Some(-7)), "c").unwrap_err();
        assert!(
            e.to_string().contains("linux.resources.memory.limit"),
            "{e}"
        );
    }
}
