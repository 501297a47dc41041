//! FIXTURE tests: cgroup v2 (and v1 co-mounted) code paths against a tree of plain files in a
//! temporary directory, because this host runs cgroup v1 hybrid and cannot host a v2 hierarchy
//! with controllers. The files hold literal text in the kernel's formats; the kernel's reactions
//! (reclaim, errno, effective values) are not modelled — the real v2 lane (issue 7) proves those.
//! Every test here is named `fixture_*`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use limitcheck_cgroup::fs::{FsProbe, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC};
use limitcheck_cgroup::nix::errno::Errno;
use limitcheck_cgroup::{
    CgroupError, Controller, DeviceNumber, FreezerState, Layout, Limit, LimitKind, Max, Mode,
    ThrottleKind, Version,
};

const MIB: u64 = 1 << 20;

/// Answers statfs for the fixture: paths under a v2 root are cgroup2, under a v1 root cgroup,
/// anything else tmpfs.
struct FixtureFs {
    v1: Vec<PathBuf>,
    v2: Vec<PathBuf>,
}

impl FsProbe for FixtureFs {
    fn magic(&self, path: &Path) -> io::Result<i64> {
        if !path.exists() {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        Ok(if self.v2.iter().any(|r| path.starts_with(r)) {
            CGROUP2_SUPER_MAGIC
        } else if self.v1.iter().any(|r| path.starts_with(r)) {
            CGROUP_SUPER_MAGIC
        } else {
            TMPFS_MAGIC
        })
    }
}

fn put(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (f, text) in files {
        fs::write(dir.join(f), text).unwrap();
    }
}

fn read(dir: &Path, f: &str) -> String {
    fs::read_to_string(dir.join(f)).unwrap()
}

/// A pure v2 host: root with controllers, `limitcheck/` and a leaf `c1` as the kernel makes them.
fn v2_host() -> (tempfile::TempDir, Layout, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cgroup");
    let controllers = "cpuset cpu io memory hugetlb pids rdma misc\n";
    put(
        &root,
        &[
            ("cgroup.controllers", controllers),
            ("cgroup.subtree_control", "cpuset cpu io memory pids\n"),
        ],
    );
    put(
        &root.join("limitcheck"),
        &[
            ("cgroup.controllers", controllers),
            ("cgroup.subtree_control", "cpuset cpu io memory pids\n"),
        ],
    );
    let leaf = root.join("limitcheck/c1");
    put(
        &leaf,
        &[
            ("cgroup.procs", "4242\n"),
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
            ("cgroup.kill", ""),
            ("cpu.max", "max 100000\n"),
            ("cpu.max.burst", "0\n"),
            ("cpu.weight", "100\n"),
            (
                "cpu.stat",
                "usage_usec 2000123\nuser_usec 1990000\nsystem_usec 10123\nnr_periods 20\nnr_throttled 19\nthrottled_usec 950000\nnr_bursts 0\nburst_usec 0\n",
            ),
            ("cpuset.cpus", "\n"),
            ("cpuset.mems", "\n"),
            ("memory.max", "max\n"),
            ("memory.high", "max\n"),
            ("memory.low", "0\n"),
            ("memory.min", "0\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "104857600\n"),
            ("memory.peak", "209715200\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 37\noom 2\noom_kill 1\noom_group_kill 0\n",
            ),
            (
                "memory.stat",
                "anon 100663296\nfile 4194304\ninactive_file 1048576\nactive_file 3145728\n",
            ),
            ("pids.max", "max\n"),
            ("pids.current", "1\n"),
            ("pids.events", "max 0\n"),
            ("io.max", ""),
            ("io.weight", "default 100\n"),
            (
                "cpu.pressure",
                "some avg10=50.00 avg60=20.00 avg300=5.00 total=1000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            ),
            (
                "memory.pressure",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            ),
            (
                "io.pressure",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            ),
        ],
    );
    let mountinfo = format!(
        "25 1 0:22 / {} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
        root.display()
    );
    let probe = Arc::new(FixtureFs {
        v1: vec![],
        v2: vec![root.clone()],
    });
    let layout = Layout::from_mountinfo(&mountinfo, probe).unwrap();
    (tmp, layout, leaf)
}

#[test]
fn fixture_v2_detection_and_controllers() {
    let (_tmp, layout, _) = v2_host();
    assert_eq!(layout.mode, Mode::V2);
    assert_eq!(layout.version(), Version::V2);
    let have = layout.available();
    for c in [
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Memory,
        Controller::Pids,
        Controller::Io,
        Controller::Freezer,
        Controller::Hugetlb,
    ] {
        assert!(have.contains(&c), "{c} missing from {have:?}");
    }
    assert!(!have.contains(&Controller::Devices));
}

#[test]
fn fixture_v2_limits_are_written_in_v2_formats_and_read_back() {
    let (_tmp, layout, leaf) = v2_host();
    let cg = layout.cgroup().name("c1").open().unwrap();
    assert_eq!(cg.version(), Version::V2);

    let quota = Limit::CpuMax {
        quota_us: Max::Value(50_000),
        period_us: 100_000,
    };
    cg.set(&quota).unwrap();
    assert_eq!(read(&leaf, "cpu.max"), "50000 100000");
    assert_eq!(cg.get(LimitKind::CpuMax).unwrap(), quota);
    cg.set(&Limit::CpuMax {
        quota_us: Max::Unlimited,
        period_us: 100_000,
    })
    .unwrap();
    assert_eq!(read(&leaf, "cpu.max"), "max 100000");

    cg.set(&Limit::CpuShares(1024)).unwrap();
    assert_eq!(read(&leaf, "cpu.weight"), "100");
    cg.set(&Limit::CpuShares(2000)).unwrap();
    assert_eq!(read(&leaf, "cpu.weight"), "170");
    cg.set(&Limit::CpuBurst(20_000)).unwrap();
    assert_eq!(read(&leaf, "cpu.max.burst"), "20000");

    cg.set(&Limit::MemoryMax(Max::Value(256 * MIB))).unwrap();
    assert_eq!(read(&leaf, "memory.max"), "268435456");
    // memory+swap is the v1/docker meaning: v2's swap.max gets the difference.
    cg.set(&Limit::MemorySwapMax(Max::Value(512 * MIB)))
        .unwrap();
    assert_eq!(read(&leaf, "memory.swap.max"), "268435456");
    assert_eq!(
        cg.get(LimitKind::MemorySwapMax).unwrap(),
        Limit::MemorySwapMax(Max::Value(512 * MIB))
    );
    let err = cg
        .set(&Limit::MemorySwapMax(Max::Value(100 * MIB)))
        .unwrap_err();
    assert!(matches!(err, CgroupError::InvalidValue { .. }), "{err}");
    cg.apply(&[
        Limit::MemorySwapMax(Max::Value(300 * MIB)),
        Limit::MemoryMax(Max::Value(100 * MIB)),
    ])
    .unwrap();
    assert_eq!(read(&leaf, "memory.max"), (100 * MIB).to_string());
    assert_eq!(read(&leaf, "memory.swap.max"), (200 * MIB).to_string());

    cg.set(&Limit::MemoryHigh(Max::Value(64 * MIB))).unwrap();
    assert_eq!(read(&leaf, "memory.high"), "67108864");
    cg.set(&Limit::MemorySoftLimit(Max::Value(32 * MIB)))
        .unwrap();
    assert_eq!(read(&leaf, "memory.low"), "33554432");
    cg.set(&Limit::MemoryMin(MIB)).unwrap();
    assert_eq!(read(&leaf, "memory.min"), "1048576");
    cg.set(&Limit::PidsMax(Max::Unlimited)).unwrap();
    assert_eq!(read(&leaf, "pids.max"), "max");

    cg.set(&Limit::BlkioWeight(500)).unwrap();
    assert_eq!(read(&leaf, "io.weight"), "default 4950");
    let dev = DeviceNumber { major: 8, minor: 0 };
    cg.set(&Limit::IoThrottle {
        device: dev,
        kind: ThrottleKind::ReadBps,
        rate: Max::Value(MIB),
    })
    .unwrap();
    assert_eq!(read(&leaf, "io.max"), "8:0 rbps=1048576");
    assert_eq!(
        cg.get(LimitKind::IoThrottle(dev, ThrottleKind::ReadBps))
            .unwrap(),
        Limit::IoThrottle {
            device: dev,
            kind: ThrottleKind::ReadBps,
            rate: Max::Value(MIB)
        }
    );

    // The freezer is core on v2: asked for but not yet reported frozen reads as freezing.
    cg.set(&Limit::Freezer(FreezerState::Frozen)).unwrap();
    assert_eq!(read(&leaf, "cgroup.freeze"), "1");
    assert_eq!(
        cg.get(LimitKind::Freezer).unwrap(),
        Limit::Freezer(FreezerState::Freezing)
    );
    fs::write(leaf.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    assert_eq!(
        cg.get(LimitKind::Freezer).unwrap(),
        Limit::Freezer(FreezerState::Frozen)
    );
    // Raw access goes to the one directory.
    assert_eq!(cg.file_path("memory.max").unwrap(), leaf.join("memory.max"));
    assert_eq!(cg.pids().unwrap(), vec![4242]);
}

#[test]
fn fixture_v2_stats_come_from_v2_files() {
    let (_tmp, layout, _) = v2_host();
    let cg = layout.cgroup().name("c1").open().unwrap();
    let s = cg.stats().unwrap();
    let cpu = s.cpu.unwrap();
    assert_eq!(cpu.usage_ns, 2_000_123_000);
    assert_eq!(cpu.throttling.unwrap().throttled_ns, 950_000_000);
    assert!(cpu.per_cpu_ns.is_none());
    let m = s.memory.unwrap();
    assert_eq!(m.usage, 100 * MIB);
    assert_eq!(m.oom_kill, Some(1));
    assert_eq!(m.working_set, 100 * MIB - MIB);
    assert_eq!(s.pids.unwrap().events_max, Some(0));
    assert_eq!(s.pressure.unwrap().cpu.unwrap().some.avg10, 50.0);
}

#[test]
fn fixture_v2_a_file_the_kernel_lacks_is_enoent_and_never_created() {
    let (_tmp, layout, leaf) = v2_host();
    fs::remove_file(leaf.join("cpu.max.burst")).unwrap();
    let cg = layout.cgroup().name("c1").open().unwrap();
    let err = cg.set(&Limit::CpuBurst(1)).unwrap_err();
    assert!(matches!(err, CgroupError::Unsupported { .. }), "{err}");
    let err = cg.write_raw("memory.oom.group", "1").unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOENT));
    assert!(!leaf.join("memory.oom.group").exists());
    // A v1 file name read on v2 is simply absent.
    assert_eq!(
        cg.read_raw("memory.limit_in_bytes").unwrap_err().errno(),
        Some(Errno::ENOENT)
    );
}

#[test]
fn fixture_v2_create_enables_controllers_down_the_path() {
    let (_tmp, layout, _) = v2_host();
    let root = layout.unified().unwrap().mount_point.clone();
    // A fresh parent level whose subtree_control enables nothing yet.
    fs::write(root.join("limitcheck/cgroup.subtree_control"), "").unwrap();
    let cg = layout
        .cgroup()
        .name("c2")
        .controllers(&[Controller::Pids])
        .create()
        .unwrap();
    assert!(root.join("limitcheck/c2").is_dir());
    // Only the missing controller was written (the root already had it).
    assert_eq!(
        read(&root, "cgroup.subtree_control"),
        "cpuset cpu io memory pids\n"
    );
    assert_eq!(
        read(&root.join("limitcheck"), "cgroup.subtree_control"),
        "+pids"
    );
    let dirs = cg.dirs().to_vec();
    cg.remove().unwrap();
    assert!(!dirs[0].exists());
}

#[test]
fn fixture_refuses_a_hierarchy_that_is_not_a_cgroup_filesystem() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cgroup");
    put(&root, &[("cgroup.controllers", "cpu memory\n")]);
    let mountinfo = format!("25 1 0:22 / {} rw - cgroup2 cgroup2 rw\n", root.display());
    // The probe says tmpfs: as on a hybrid host where a path under /sys/fs/cgroup is not cgroupfs.
    let probe = Arc::new(FixtureFs {
        v1: vec![],
        v2: vec![],
    });
    let err = Layout::from_mountinfo(&mountinfo, probe).unwrap_err();
    assert!(matches!(err, CgroupError::NotCgroupFs { .. }), "{err}");
    assert!(err.to_string().contains("refusing"), "{err}");
}

#[test]
fn fixture_no_cgroup_filesystem_is_a_clear_error() {
    let probe = Arc::new(FixtureFs {
        v1: vec![],
        v2: vec![],
    });
    let err = Layout::from_mountinfo("22 1 0:20 / /proc rw - proc proc rw\n", probe).unwrap_err();
    assert!(matches!(err, CgroupError::NoCgroupFs { .. }), "{err}");
}

#[test]
fn fixture_v1_comounted_cpu_cpuacct_share_one_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("sys/fs/cgroup");
    let cpu = base.join("cpu,cpuacct");
    let mem = base.join("memory");
    let systemd = base.join("systemd");
    for d in [&cpu, &mem, &systemd] {
        fs::create_dir_all(d).unwrap();
    }
    let mountinfo = format!(
        "30 23 0:26 / {base} ro - tmpfs tmpfs ro,mode=755\n\
         31 30 0:27 / {systemd} rw - cgroup cgroup rw,xattr,name=systemd\n\
         32 30 0:28 / {cpu} rw - cgroup cgroup rw,cpu,cpuacct\n\
         33 30 0:29 / {mem} rw - cgroup cgroup rw,memory\n\
         34 30 0:29 / {mem} rw - cgroup cgroup rw,memory\n",
        base = base.display(),
        systemd = systemd.display(),
        cpu = cpu.display(),
        mem = mem.display(),
    );
    let probe = Arc::new(FixtureFs {
        v1: vec![cpu.clone(), mem.clone(), systemd.clone()],
        v2: vec![],
    });
    let layout = Layout::from_mountinfo(&mountinfo, probe).unwrap();
    assert_eq!(layout.mode, Mode::V1);
    assert_eq!(
        layout.hierarchy_of(Controller::Cpu).unwrap().mount_point,
        layout
            .hierarchy_of(Controller::Cpuacct)
            .unwrap()
            .mount_point
    );
    assert_eq!(
        layout.hierarchies.len(),
        3,
        "the duplicate memory mount is dropped"
    );
    assert!(layout.unified().is_none());
    let cg = layout
        .cgroup()
        .name("x")
        .controllers(&[Controller::Cpu, Controller::Cpuacct, Controller::Memory])
        .create()
        .unwrap();
    let mut dirs = cg.dirs().to_vec();
    dirs.sort();
    assert_eq!(
        dirs,
        vec![cpu.join("limitcheck/x"), mem.join("limitcheck/x")]
    );
    assert_eq!(
        cg.file_path("cpuacct.usage").unwrap(),
        cpu.join("limitcheck/x/cpuacct.usage")
    );
    assert_eq!(
        cg.file_path("memory.limit_in_bytes").unwrap(),
        mem.join("limitcheck/x/memory.limit_in_bytes")
    );
    // The plain directories have no kernel files: writes fail with ENOENT and create nothing.
    let err = cg.set(&Limit::MemoryMax(Max::Value(MIB))).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::ENOENT));
    assert!(!mem.join("limitcheck/x/memory.limit_in_bytes").exists());
    // v2-only limits are refused on v1 with a hint.
    let err = cg.set(&Limit::MemoryHigh(Max::Value(MIB))).unwrap_err();
    assert!(matches!(err, CgroupError::Unsupported { .. }), "{err}");
    cg.remove().unwrap();
    assert!(
        !cpu.join("limitcheck").exists(),
        "the empty parent is removed too"
    );
    assert!(!mem.join("limitcheck").exists());
}

/// A v1 layout as systemd mounts it on a v1 distribution (and as `limitcheck vm --cgroup v1`
/// does): the hierarchies of controllers limitcheck does not model keep their names, so a
/// container's cgroup mount can mount them again (found in the v1 VM lane, where an empty
/// option list made that mount fail with EPERM).
#[test]
fn fixture_v1_unmodelled_controllers_keep_their_names() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("sys/fs/cgroup");
    let net = base.join("net_cls,net_prio");
    let perf = base.join("perf_event");
    let mem = base.join("memory");
    for d in [&net, &perf, &mem] {
        fs::create_dir_all(d).unwrap();
    }
    let mountinfo = format!(
        "30 23 0:26 / {base} rw - tmpfs tmpfs rw,mode=755\n\
         31 30 0:27 / {net} rw - cgroup cgroup rw,net_cls,net_prio\n\
         32 30 0:28 / {perf} rw - cgroup cgroup rw,perf_event\n\
         33 30 0:29 / {mem} rw - cgroup cgroup rw,memory\n",
        base = base.display(),
        net = net.display(),
        perf = perf.display(),
        mem = mem.display(),
    );
    let probe = Arc::new(FixtureFs {
        v1: vec![net.clone(), perf.clone(), mem.clone()],
        v2: vec![],
    });
    let layout = Layout::from_mountinfo(&mountinfo, probe).unwrap();
    assert_eq!(layout.mode, Mode::V1);
    assert_eq!(layout.hierarchies.len(), 3);
    let by_path = |p: &Path| {
        layout
            .hierarchies
            .iter()
            .find(|h| h.mount_point == p)
            .unwrap()
    };
    assert_eq!(by_path(&net).other_controllers, vec!["net_cls", "net_prio"]);
    assert_eq!(by_path(&perf).other_controllers, vec!["perf_event"]);
    assert!(by_path(&mem).other_controllers.is_empty());
    assert_eq!(by_path(&mem).controllers, vec![Controller::Memory]);
}
