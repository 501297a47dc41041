//! The VM lane's fixed costs, under software emulation (TCG) on Debian's 6.1 kernel:
//!
//! - `boot_to_init/bzimage` vs `boot_to_init/pvh_vmlinux`: qemu start to the guest's init
//!   reporting through the debug-exit port (the probe guest), booting Debian's vmlinuz through
//!   the firmware vs the vmlinux extracted from it by PVH (what `limitcheck vm` picks);
//! - `initramfs/build`: writing the guest's initramfs (busybox, the stripped limitcheck
//!   binary and its libraries, 14 scenarios) on the host.
//!
//! `cargo bench -p limitcheck-benches --bench vm` (needs qemu-system-x86, busybox-static; the
//! kernel is fetched with apt-get download into ~/.cache/limitcheck).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use limitcheck_vm::kernel::{self, Kernel};
use limitcheck_vm::qemu::{self, Accel, Machine, Outcome};

fn boot(k: &Kernel, initrd: &Path, dir: &Path) {
    let m = Machine {
        kernel: k.clone(),
        initrd: initrd.to_path_buf(),
        disk: None,
        append: "quiet".into(),
        memory_mib: 256,
        cpus: 1,
        topology: None,
        accel: Accel::Tcg,
        console: dir.join("c.log"),
        results: dir.join("r.out"),
        timeout: Duration::from_secs(120),
    };
    let out = qemu::boot(&m, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(out, Outcome::Exited(qemu::PROBE_CODE));
}

fn benches(c: &mut Criterion) {
    if let Err(e) = qemu::check_installed() {
        eprintln!("vm benches skipped: {e}");
        return;
    }
    let cache = kernel::cache_dir();
    let bz = Kernel::open(
        &kernel::fetch_debian(kernel::DEBIAN_DEFAULT_PACKAGE, &cache, &mut |l| {
            eprintln!("{l}")
        })
        .unwrap(),
    )
    .unwrap();
    let (pvh, _) = kernel::prefer_vmlinux(&bz, &cache);
    let dir = std::env::temp_dir().join(format!("limitcheck-bench-vm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let busybox = limitcheck_vm::initramfs::find_busybox().unwrap();
    let probe = dir.join("probe.cpio");
    limitcheck_vm::build_probe_initramfs(&busybox, &probe).unwrap();

    let mut g = c.benchmark_group("boot_to_init");
    g.sample_size(10).measurement_time(Duration::from_secs(40));
    g.bench_function("bzimage", |b| b.iter(|| boot(&bz, &probe, &dir)));
    g.bench_function("pvh_vmlinux", |b| b.iter(|| boot(&pvh, &probe, &dir)));
    g.finish();

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let exe = root.join("target/release/limitcheck");
    if exe.exists() {
        let scenarios: Vec<PathBuf> = std::fs::read_dir(root.join("scenarios"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        let o = limitcheck_vm::VmOptions {
            kernels: vec![bz.clone()],
            cgroup: limitcheck_vm::guest::CgroupLayout::V2,
            append: String::new(),
            scenarios,
            run_dir: dir.clone(),
            run_id: "bench".into(),
            version: "bench".into(),
            exe,
            busybox,
            accel: limitcheck_vm::AccelMode::Tcg,
            memory_mib: 1024,
            cpus: 1,
            topology: None,
            timeout: None,
            stop: Arc::new(AtomicBool::new(false)),
            verbose: false,
            guest_setup: None,
        };
        let mut g = c.benchmark_group("initramfs");
        g.sample_size(10);
        g.bench_function("build", |b| {
            b.iter(|| limitcheck_vm::build_initramfs(&o, &dir.join("guest.cpio")).unwrap())
        });
        g.finish();
    } else {
        eprintln!("initramfs/build skipped: build target/release/limitcheck first");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(vm, benches);
criterion_main!(vm);
