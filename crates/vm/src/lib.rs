//! The kernel gate: scenarios run inside a VM booted from a chosen kernel, with the cgroup
//! layout chosen (`limitcheck vm --kernel PATH --cgroup v2 SCENARIO...`).
//!
//! The host builds an initramfs ([`initramfs`]: busybox-static, the limitcheck binary and its
//! libraries, the scenarios, a [`guest::GuestConfig`]) and boots the kernel with
//! `qemu-system-x86_64` ([`qemu`]: KVM only when a probe boot shows it works, else TCG). In the
//! guest, limitcheck is `/init` ([`guest`]): it mounts the cgroup layout, runs the scenarios as
//! `limitcheck run` would, and streams the run directory back over the second serial port
//! ([`transport`]). The host then reads the console log ([`console`]) for panics, WARNs, BUGs
//! and Oopses, writes `vm.json` and `console.log` into the run directory, and renders the
//! report. Several kernels give a [`matrix`].
//!
//! Exit statuses extend `limitcheck run`'s: 0 passed, 1 a verdict failed, 2 could not run,
//! 6 inconclusive, [`EXIT_PANIC`], [`EXIT_HUNG`], [`EXIT_KERNEL_PROBLEM`]; the worst wins, in
//! the order of [`severity`].

#![deny(missing_docs)]

pub mod console;
pub mod cpio;
pub mod disk;
pub mod error;
pub mod guest;
pub mod initramfs;
pub mod kernel;
pub mod matrix;
pub mod qemu;
pub mod transport;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::io;
pub use crate::error::VmError;
use crate::guest::{CgroupLayout, GuestConfig};
use crate::initramfs::{Initramfs, GUEST_CONFIG, GUEST_EXE, GUEST_SCENARIOS, GUEST_SETUP};
use crate::kernel::Kernel;
use crate::qemu::{Accel, AccelChoice, Machine, Outcome};
use limitcheck_report::ReportError;

/// On the guest's command line when it has a scratch disk ([`disk`]).
pub const DISK_ARG: &str = "limitcheck.disk=1";

/// The guest kernel panicked.
pub const EXIT_PANIC: u8 = 3;
/// The guest hung: stopped at the timeout.
pub const EXIT_HUNG: u8 = 4;
/// The guest kernel printed a WARN, BUG or Oops, or tainted.
pub const EXIT_KERNEL_PROBLEM: u8 = 5;

/// How bad an exit status is: 0, then 6 (inconclusive: nothing failed), then 1, 2, 3, 4, 5.
pub fn severity(code: u8) -> u8 {
    match code {
        0 => 0,
        limitcheck_scenario::suite::EXIT_INCONCLUSIVE => 1,
        c => c.saturating_add(1),
    }
}

/// The worse of two exit statuses.
pub fn worst(a: u8, b: u8) -> u8 {
    if severity(b) > severity(a) {
        b
    } else {
        a
    }
}

/// How to choose the accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelMode {
    /// KVM if the probe boot works, else TCG.
    Auto,
    /// KVM, or an error if the probe boot fails (never `-cpu host` unprobed).
    Kvm,
    /// TCG, no probe.
    Tcg,
}

/// What `limitcheck vm` does.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// The kernels, booted in turn.
    pub kernels: Vec<Kernel>,
    /// The cgroup layout the guest mounts.
    pub cgroup: CgroupLayout,
    /// Extra kernel command line.
    pub append: String,
    /// The scenario files (host paths, already validated).
    pub scenarios: Vec<PathBuf>,
    /// The run directory.
    pub run_dir: PathBuf,
    /// The run id.
    pub run_id: String,
    /// limitcheck's version.
    pub version: String,
    /// The limitcheck binary to put in the guest.
    pub exe: PathBuf,
    /// A statically linked busybox.
    pub busybox: PathBuf,
    /// Acceleration.
    pub accel: AccelMode,
    /// Guest memory, MiB.
    pub memory_mib: u32,
    /// Virtual CPUs.
    pub cpus: u32,
    /// Their layout (`--topology`); none: `cpus` sockets, one node.
    pub topology: Option<qemu::Topology>,
    /// Stop a guest after this long (None: 180 s plus four times the scenarios' durations).
    pub timeout: Option<Duration>,
    /// Set by SIGINT/SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// Show every console line, not only the guest's progress.
    pub verbose: bool,
    /// A busybox `sh` script run in the guest after its mounts, before the scenarios.
    pub guest_setup: Option<PathBuf>,
}

/// One kernel's run, also written as `vm.json`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct KernelRun {
    /// The kernel file.
    pub kernel: PathBuf,
    /// Its version.
    pub version: String,
    /// Its label (directory name in a matrix).
    pub label: String,
    /// Where its run went.
    pub dir: PathBuf,
    /// kvm or tcg.
    pub accel: String,
    /// Why.
    pub accel_reason: String,
    /// The cgroup layout asked for.
    pub cgroup: String,
    /// How the guest ended, in words.
    pub outcome: String,
    /// The exit status this kernel's run gives.
    pub exit_code: u8,
    /// The guest's error, if it could not run.
    pub error: Option<String>,
    /// Kernel problems seen on the console: (scenario or null, line).
    pub kernel_problems: Vec<(Option<String>, String)>,
    /// Files received; files damaged in transit.
    pub files_received: usize,
    /// Files that arrived damaged.
    pub files_damaged: Vec<String>,
    /// Wall-clock seconds from qemu's start to its end.
    pub wall_s: f64,
}

/// The host paths of the programs the scenarios' `command`s run (found on the containers'
/// `PATH`, in the host-made rootfs's order), each once.
pub fn scenario_programs(scenarios: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for s in scenarios
        .iter()
        .filter_map(|f| limitcheck_scenario::model::load(f).ok())
    {
        // An image container runs the image's programs, not the host's.
        for c in s.containers.iter().filter(|c| c.image.is_none()) {
            let limitcheck_scenario::model::Run::Command(cmd) = &c.run else {
                continue;
            };
            let found = if cmd[0].contains('/') {
                Some(PathBuf::from(&cmd[0]))
            } else {
                limitcheck_runtime::hostfs::DEFAULT_PATH
                    .split(':')
                    .map(|d| Path::new(d).join(&cmd[0]))
                    .find(|p| p.is_file())
            };
            if let Some(p) = found {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// The images the scenario file `host` names that exist on the host, each with where the
/// guest's copy of the scenario, at `guest`, finds it.
fn scenario_images(host: &Path, guest: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Ok(s) = limitcheck_scenario::model::load(host) else {
        return Vec::new();
    };
    let (hbase, gbase) = (
        host.parent().unwrap_or(Path::new(".")),
        guest.parent().unwrap_or(Path::new("/")),
    );
    s.containers
        .iter()
        .filter_map(|c| c.image.as_ref())
        .filter_map(|i| {
            let p = i.source.path();
            let rel = p.strip_prefix(hbase).ok()?;
            p.exists().then(|| {
                (
                    p.to_path_buf(),
                    limitcheck_image::build::normalize(&gbase.join(rel)),
                )
            })
        })
        .collect()
}

/// Copies the host file or directory tree `host` to `guest` in the initramfs.
fn add_tree(ir: &mut Initramfs, host: &Path, guest: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(host)?;
    let name = guest.to_string_lossy().trim_start_matches('/').to_string();
    if meta.is_dir() {
        ir.add_dir(&name)?;
        for entry in std::fs::read_dir(host)? {
            let entry = entry?;
            add_tree(ir, &entry.path(), &guest.join(entry.file_name()))?;
        }
        return Ok(());
    }
    let data = std::fs::read(host)?;
    ir.add_file(&name, meta.permissions().mode() & 0o7777, &data)
}

/// Picks the timeout from the scenarios' durations.
fn default_timeout(files: &[PathBuf]) -> Duration {
    let total: f64 = files
        .iter()
        .filter_map(|f| limitcheck_scenario::model::load(f).ok())
        .map(|s| s.duration.as_secs_f64())
        .sum();
    Duration::from_secs_f64(180.0 + 4.0 * total)
}

/// The guest path of the `i`-th scenario file: its own directory, its own file name (a
/// scenario without `name` is named after its file, as on a host).
fn guest_scenario_path(i: usize, f: &Path) -> PathBuf {
    Path::new(GUEST_SCENARIOS)
        .join(format!("{:02}", i + 1))
        .join(f.file_name().unwrap_or_default())
}

/// Completes the guest's summary.json on the host: the scenario files by their host paths,
/// and `vm` (kernel, accelerator, outcome) for the report.
fn annotate_summary(o: &VmOptions, summary: &Path, vm: limitcheck_record::VmInfo) {
    // A summary that did not arrive, or arrived damaged, is left as it is (the run is then
    // reported as incomplete).
    let Ok(mut s) = limitcheck_record::load_summary(summary) else {
        return;
    };
    for sc in &mut s.scenarios {
        if let Some(host) = o
            .scenarios
            .iter()
            .enumerate()
            .find(|(i, f)| guest_scenario_path(*i, f) == sc.file)
            .map(|(_, f)| f.clone())
        {
            sc.file = host;
        }
    }
    s.vm = Some(vm);
    let _ = std::fs::write(
        summary,
        serde_json::to_string_pretty(&s).expect("serializes") + "\n",
    );
}

/// Copies `exe` to `dest` without its debug info (`objcopy --strip-debug`: most of a release
/// build with debug = 1); where objcopy (binutils) is missing or fails, as it is.
pub fn copy_stripped(exe: &Path, dest: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_file(dest);
    match std::process::Command::new("objcopy")
        .arg("--strip-debug")
        .arg(exe)
        .arg(dest)
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        _ => std::fs::copy(exe, dest).map(|_| ()),
    }
}

/// Writes the guest's initramfs into `path`.
pub fn build_initramfs(o: &VmOptions, path: &Path) -> Result<(), VmError> {
    let e = |x: std::io::Error| io("write the initramfs", path)(x);
    let mut ir = Initramfs::create(path).map_err(e)?;
    ir.add_busybox(&o.busybox).map_err(e)?;
    // Debug info is most of a release build with debug = 1: strip it for the guest (a smaller
    // initramfs unpacks faster under emulation). Without objcopy (binutils), as it is.
    let stripped = path.with_extension("limitcheck");
    let exe = if copy_stripped(&o.exe, &stripped).is_ok() {
        stripped.clone()
    } else {
        o.exe.clone()
    };
    ir.add_executable(&exe, GUEST_EXE).map_err(e)?;
    let _ = std::fs::remove_file(&stripped);
    ir.add_symlink("init", GUEST_EXE.trim_start_matches('/'))
        .map_err(e)?;
    // The programs the scenarios' `command`s name, with their libraries, so that they run in
    // the guest's host-made rootfs as on the host (stress-ng for seed-2-4-stress-ng). One the
    // host lacks is left out: the scenario then fails in the guest as it would on the host.
    for prog in scenario_programs(&o.scenarios) {
        // (A script or an odd binary ldd cannot read goes in alone: it then runs, or fails, in
        // the guest as it would on a host without its libraries.)
        for lib in initramfs::shared_libraries(&prog).unwrap_or_default() {
            ir.add_host_path(&lib).map_err(e)?;
        }
        // With every symlink on the way (/usr/bin/sh -> dash), as the host has it.
        ir.add_host_path(&prog).map_err(e)?;
    }
    let mut guest_files = Vec::new();
    let mut images = std::collections::BTreeSet::new();
    for (i, f) in o.scenarios.iter().enumerate() {
        let g = guest_scenario_path(i, f);
        let data = std::fs::read(f).map_err(io("read", f))?;
        ir.add_file(&g.to_string_lossy(), 0o644, &data).map_err(e)?;
        // The images its containers name, where the guest's copy of the scenario finds them
        // (`oci:../images/x` from /scenarios/NN/ is /scenarios/images/x); one not built on the
        // host is left out, and the scenario is skipped in the guest as on the host.
        for (host, guest) in scenario_images(f, &g) {
            if images.insert(guest.clone()) {
                add_tree(&mut ir, &host, &guest).map_err(e)?;
            }
        }
        guest_files.push(g);
    }
    if let Some(script) = &o.guest_setup {
        let data = std::fs::read(script).map_err(io("read the --guest-setup script", script))?;
        ir.add_file(GUEST_SETUP, 0o755, &data).map_err(e)?;
    }
    let cfg = GuestConfig {
        cgroup: o.cgroup,
        scenarios: guest_files,
        run_id: o.run_id.clone(),
        version: o.version.clone(),
        setup_script: o.guest_setup.is_some(),
    };
    let json = serde_json::to_vec_pretty(&cfg).expect("serializes");
    ir.add_file(GUEST_CONFIG, 0o644, &json).map_err(e)?;
    ir.finish().map_err(e)?;
    Ok(())
}

/// Writes a probe initramfs (busybox and a script reporting [`qemu::PROBE_CODE`]).
pub fn build_probe_initramfs(busybox: &Path, path: &Path) -> Result<(), VmError> {
    build_script_initramfs(busybox, &qemu::probe_init_script(), path)
}

/// Writes an initramfs whose `/init` is `script` (a `#!/bin/busybox sh` script): for probes,
/// and for tests of what happens when a guest misbehaves.
pub fn build_script_initramfs(busybox: &Path, script: &str, path: &Path) -> Result<(), VmError> {
    let e = |x: std::io::Error| io("write the initramfs", path)(x);
    let mut ir = Initramfs::create(path).map_err(e)?;
    ir.add_busybox(busybox).map_err(e)?;
    ir.add_file("init", 0o755, script.as_bytes()).map_err(e)?;
    ir.finish().map_err(e)?;
    Ok(())
}

/// Boots one kernel with `initrd` and collects what it gave into `dir`.
#[allow(clippy::too_many_arguments)]
pub fn boot_and_collect(
    o: &VmOptions,
    kernel: &Kernel,
    initrd: &Path,
    disk: Option<&Path>,
    accel: &AccelChoice,
    dir: &Path,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<KernelRun, VmError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let m = Machine {
        kernel: kernel.clone(),
        initrd: initrd.to_path_buf(),
        disk: disk.map(Path::to_path_buf),
        append: format!(
            "{} {} {}",
            o.cgroup.kernel_args(),
            if disk.is_some() { DISK_ARG } else { "" },
            o.append
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "),
        memory_mib: o.memory_mib,
        cpus: o.cpus,
        topology: o.topology,
        accel: accel.accel,
        console: dir.join("console.log"),
        results: dir.join("results.stream"),
        timeout,
    };
    let t0 = Instant::now();
    let verbose = o.verbose;
    let outcome = qemu::boot(
        &m,
        &mut |line| {
            for part in console::split_records(line) {
                if let Some(p) = part.strip_prefix(console::PROGRESS) {
                    progress(p);
                } else if verbose {
                    progress(&format!("console: {part}"));
                }
            }
        },
        &o.stop,
    )
    .map_err(VmError::Boot)?;
    let wall_s = t0.elapsed().as_secs_f64();
    let stream = std::fs::read_to_string(&m.results).unwrap_or_default();
    let received = transport::parse(&stream);
    received
        .write_into(dir)
        .map_err(io("write the guest's files into", dir))?;
    if received.damaged.is_empty() {
        let _ = std::fs::remove_file(&m.results);
    }
    let qemu_log = m.console.with_extension("qemu.log");
    if std::fs::metadata(&qemu_log).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&qemu_log);
    }
    let findings = console::scan(&std::fs::read_to_string(&m.console).unwrap_or_default());
    let (mut outcome_text, mut code) = match &outcome {
        Outcome::Exited(c) => (format!("the guest finished with status {c}"), *c),
        Outcome::Panicked(p) => (format!("the guest kernel panicked: {p}"), EXIT_PANIC),
        Outcome::TimedOut => (
            format!(
                "the guest hung: stopped after {:.0}s (--timeout)",
                timeout.as_secs_f64()
            ),
            EXIT_HUNG,
        ),
        Outcome::Stopped => (
            "the guest stopped without reporting an exit status (no panic on the console)".into(),
            2,
        ),
        Outcome::Interrupted => ("interrupted: the guest was stopped".into(), 2),
        Outcome::QemuFailed(why) => (why.clone(), 2),
    };
    if let Some(e) = &received.error {
        code = worst(code, 2);
        progress(&format!("guest error: {e}"));
    }
    if let Outcome::Exited(c) = outcome {
        if received.exit != Some(c) || !received.damaged.is_empty() {
            // The guest finished but its results did not all arrive: the run is not judged.
            code = worst(code, 2);
            outcome_text = format!(
                "{outcome_text}, but its results arrived incomplete ({}; the stream is kept in results.stream)",
                if received.damaged.is_empty() {
                    "the stream has no end".to_string()
                } else {
                    received.damaged.join("; ")
                }
            );
        }
    }
    // A kernel problem, seen on the console or by the guest's watch over a scenario
    // (a failed kernel.health verdict), is its own exit status.
    let health_failed = limitcheck_record::load_summary(&dir.join("summary.json")).is_ok_and(|s| {
        s.scenarios.iter().any(|sc| {
            sc.expectations.iter().any(|e| {
                e.metric == "kernel.health" && e.verdict == limitcheck_record::Verdict::Fail
            })
        })
    });
    if (!findings.problems.is_empty() || health_failed) && severity(code) < severity(EXIT_PANIC) {
        code = EXIT_KERNEL_PROBLEM;
    }
    let run = KernelRun {
        kernel: kernel.path.clone(),
        version: kernel.version.clone(),
        label: kernel.label(),
        dir: dir.to_path_buf(),
        accel: accel.accel.to_string(),
        accel_reason: accel.reason.clone(),
        cgroup: o.cgroup.to_string(),
        outcome: outcome_text,
        exit_code: code,
        error: received.error.clone(),
        kernel_problems: findings
            .problems
            .iter()
            .map(|p| (p.scenario.clone(), p.line.clone()))
            .collect(),
        files_received: received.files.len(),
        files_damaged: received.damaged.clone(),
        wall_s,
    };
    annotate_summary(
        o,
        &dir.join("summary.json"),
        limitcheck_record::VmInfo {
            kernel_file: kernel.path.display().to_string(),
            accel: run.accel.clone(),
            accel_reason: run.accel_reason.clone(),
            outcome: run.outcome.clone(),
        },
    );
    std::fs::write(
        dir.join("vm.json"),
        serde_json::to_string_pretty(&run).expect("serializes") + "\n",
    )
    .map_err(io("write", dir.join("vm.json")))?;
    if dir.join("summary.json").exists() {
        limitcheck_report::render(dir).map_err(|source| VmError::Report {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(run)
}

/// The KVM probe's outcomes, remembered for the host's current boot: where `/dev/kvm` exists
/// but cannot boot a kernel (this project's machines), the probe waits its whole 20 s before
/// TCG is chosen, and every `limitcheck vm` paid that again. An outcome is kept per kernel
/// file (path, size, mtime) and qemu version, in `~/.cache/limitcheck/kvm-probe.json`, and
/// used only while `/proc/sys/kernel/random/boot_id` is the same: a reboot, a new kernel or
/// a new qemu probes again (deleting the file does too). Only a guest that booted (KVM) or
/// one that did not (a timeout, qemu refusing) is kept, never a probe that could not run.
mod probe_cache {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use crate::kernel::Kernel;
    use crate::qemu::{Accel, AccelChoice};

    #[derive(serde::Serialize, serde::Deserialize, Default)]
    struct File {
        boot_id: String,
        /// Key (kernel file, qemu) -> (KVM works, the probe's reason).
        outcomes: BTreeMap<String, (bool, String)>,
    }

    fn path() -> PathBuf {
        crate::kernel::cache_dir().join("kvm-probe.json")
    }

    fn boot_id() -> Option<String> {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn key(k: &Kernel, qemu: &str) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&k.path).ok()?;
        Some(format!(
            "{} {} {} | {qemu}",
            k.path.display(),
            m.len(),
            m.mtime()
        ))
    }

    fn load(file: &Path, boot: &str) -> Option<File> {
        let f: File = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
        (f.boot_id == boot).then_some(f)
    }

    pub fn get(k: &Kernel, qemu: &str) -> Option<AccelChoice> {
        get_in(&path(), &boot_id()?, k, qemu)
    }

    pub fn put(k: &Kernel, qemu: &str, c: &AccelChoice) {
        if let Some(boot) = boot_id() {
            put_in(&path(), &boot, k, qemu, c);
        }
    }

    fn get_in(file: &Path, boot: &str, k: &Kernel, qemu: &str) -> Option<AccelChoice> {
        let (kvm, reason) = load(file, boot)?.outcomes.get(&key(k, qemu)?)?.clone();
        Some(AccelChoice {
            probed: true,
            accel: if kvm { Accel::Kvm } else { Accel::Tcg },
            reason: format!(
                "{reason} (the probe's outcome earlier in this boot, kept in {}: delete it to \
                 probe again)",
                file.display()
            ),
        })
    }

    fn put_in(file: &Path, boot: &str, k: &Kernel, qemu: &str, c: &AccelChoice) {
        let (Some(key), true) = (key(k, qemu), c.probed) else {
            return;
        };
        let mut f = load(file, boot).unwrap_or_default();
        f.boot_id = boot.to_string();
        f.outcomes
            .insert(key, (c.accel == Accel::Kvm, c.reason.clone()));
        let tmp = file.with_extension(format!("json.{}", std::process::id()));
        let ok = file
            .parent()
            .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && serde_json::to_vec_pretty(&f)
                .ok()
                .is_some_and(|b| std::fs::write(&tmp, b).is_ok());
        if ok && std::fs::rename(&tmp, file).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn kernel(dir: &Path, name: &str, bytes: &[u8]) -> Kernel {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            Kernel {
                path,
                format: crate::kernel::KernelFormat::BzImage,
                version: "6.1.0-test".into(),
            }
        }

        #[test]
        fn an_outcome_is_kept_for_one_boot_one_kernel_one_qemu() {
            let d = tempfile::tempdir().unwrap();
            let file = d.path().join("cache").join("kvm-probe.json");
            let k = kernel(d.path(), "vmlinuz-1", b"kernel one");
            let timed_out = AccelChoice {
                accel: Accel::Tcg,
                reason: "software emulation (TCG): the probe guest did not reach its init".into(),
                probed: true,
            };
            assert!(get_in(&file, "boot-a", &k, "qemu 7.2").is_none());
            put_in(&file, "boot-a", &k, "qemu 7.2", &timed_out);
            let c = get_in(&file, "boot-a", &k, "qemu 7.2").unwrap();
            assert_eq!(c.accel, Accel::Tcg);
            assert!(c.probed);
            assert!(c.reason.starts_with(&timed_out.reason), "{}", c.reason);
            assert!(
                c.reason.contains("delete it to probe again"),
                "{}",
                c.reason
            );
            // Another boot, another qemu, another kernel file: probed again.
            assert!(get_in(&file, "boot-b", &k, "qemu 7.2").is_none());
            assert!(get_in(&file, "boot-a", &k, "qemu 8.0").is_none());
            let k2 = kernel(d.path(), "vmlinuz-2", b"kernel two");
            assert!(get_in(&file, "boot-a", &k2, "qemu 7.2").is_none());
            // What no probe decided is never kept.
            let unprobed = AccelChoice {
                accel: Accel::Tcg,
                reason: "the KVM probe could not run".into(),
                probed: false,
            };
            put_in(&file, "boot-a", &k2, "qemu 7.2", &unprobed);
            assert!(get_in(&file, "boot-a", &k2, "qemu 7.2").is_none());
            // A new boot's first outcome replaces the old boot's.
            let kvm = AccelChoice {
                accel: Accel::Kvm,
                reason: "KVM: the probe guest booted".into(),
                probed: true,
            };
            put_in(&file, "boot-b", &k2, "qemu 7.2", &kvm);
            assert_eq!(
                get_in(&file, "boot-b", &k2, "qemu 7.2").unwrap().accel,
                Accel::Kvm
            );
            assert!(get_in(&file, "boot-b", &k, "qemu 7.2").is_none());
        }
    }
}

/// Runs the scenarios on every kernel in turn. `progress` gets a line per event.
pub fn run(o: &VmOptions, progress: &mut dyn FnMut(&str)) -> Result<Vec<KernelRun>, VmError> {
    let qemu_version = qemu::check_installed()?;
    std::fs::create_dir_all(&o.run_dir).map_err(io("create", &o.run_dir))?;
    let work = tempfile_dir(&o.run_dir)?;
    let result = (|| {
        let initrd = work.join("initramfs.cpio");
        build_initramfs(o, &initrd)?;
        let size = std::fs::metadata(&initrd).map(|m| m.len()).unwrap_or(0);
        progress(&format!(
            "initramfs: {:.1} MiB ({} scenario(s), busybox {}, {})",
            size as f64 / (1024.0 * 1024.0),
            o.scenarios.len(),
            o.busybox.display(),
            o.exe.display()
        ));
        let timeout = o.timeout.unwrap_or_else(|| default_timeout(&o.scenarios));
        let mut runs = Vec::new();
        for (i, k) in o.kernels.iter().enumerate() {
            if o.stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let (k, how) = &kernel::prefer_vmlinux(k, &kernel::cache_dir());
            let accel = if o.accel == AccelMode::Tcg {
                AccelChoice {
                    accel: Accel::Tcg,
                    reason: "software emulation (TCG): --accel tcg".into(),
                    probed: false,
                }
            } else {
                // auto and kvm alike: never -cpu host without the probe (this boot's, for
                // this kernel and qemu, may be remembered: see probe_cache).
                let c = match probe_cache::get(k, &qemu_version) {
                    Some(c) => c,
                    None => {
                        let probe = work.join("probe.cpio");
                        build_probe_initramfs(&o.busybox, &probe)?;
                        let c = qemu::choose_accel(k, &probe, &work, Duration::from_secs(20));
                        probe_cache::put(k, &qemu_version, &c);
                        c
                    }
                };
                if o.accel == AccelMode::Kvm && c.accel != Accel::Kvm {
                    return Err(VmError::NoKvm {
                        kernel: k.version.clone(),
                        reason: c.reason,
                    });
                }
                c
            };
            let dir = if o.kernels.len() == 1 {
                o.run_dir.clone()
            } else {
                o.run_dir.join(format!("{}-{}", i + 1, k.label()))
            };
            progress(&format!(
                "BOOT {} ({}; {how}) with cgroup {}; {}; {qemu_version}",
                k.version,
                o.kernels[i].path.display(),
                o.cgroup,
                accel.reason
            ));
            let (initrd_k, disk) = guest_disk(&initrd, &work, i, &o.kernels[i].path, progress)?;
            let r = boot_and_collect(
                o,
                k,
                &initrd_k,
                disk.as_deref(),
                &accel,
                &dir,
                timeout,
                progress,
            )?;
            if initrd_k != initrd {
                let _ = std::fs::remove_file(&initrd_k);
            }
            if let Some(d) = &disk {
                let _ = std::fs::remove_file(d);
            }
            progress(&format!(
                "END  {}: {} in {:.1}s; exit status {}",
                k.version, r.outcome, r.wall_s, r.exit_code
            ));
            for (s, line) in &r.kernel_problems {
                progress(&format!(
                    "KERNEL {}: {line}",
                    s.as_deref().unwrap_or("(outside any scenario)")
                ));
            }
            runs.push(r);
        }
        if runs.len() > 1 {
            matrix::write(&o.run_dir, &runs)?;
        }
        Ok(runs)
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// The initramfs and disk image for kernel `i` (its file `vmlinuz`): a scratch disk for the
/// guest's `/var/tmp`, and, when the kernel's package has the modules it needs, `initrd` with
/// them appended (a copy in `work`). Without a disk (no mkfs.ext4) the guest runs as before
/// and the scenarios that need one are skipped.
fn guest_disk(
    initrd: &Path,
    work: &Path,
    i: usize,
    vmlinuz: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(PathBuf, Option<PathBuf>), VmError> {
    let image = work.join(format!("disk-{i}.img"));
    if let Err(why) = disk::make_image(&image) {
        let _ = std::fs::remove_file(&image);
        progress(&format!(
            "disk: none ({why}); scenarios with an io workload are skipped"
        ));
        return Ok((initrd.to_path_buf(), None));
    }
    let gib = disk::DISK_BYTES >> 30;
    match disk::modules_for(vmlinuz) {
        Ok(mods) => {
            let own = work.join(format!("initramfs-{i}.cpio"));
            std::fs::copy(initrd, &own).map_err(io("copy", initrd))?;
            disk::append_modules(&own, &mods).map_err(io("write", &own))?;
            let names: Vec<&str> = mods.iter().map(|(n, _)| n.as_str()).collect();
            progress(&format!(
                "disk: {gib} GiB ext4 on virtio-blk at the guest's /var/tmp; modules from the \
                 kernel's package: {}",
                if names.is_empty() {
                    "none needed (built in)".to_string()
                } else {
                    names.join(", ")
                }
            ));
            Ok((own, Some(image)))
        }
        Err(why) => {
            progress(&format!(
                "disk: {gib} GiB ext4 on virtio-blk, used if the kernel has virtio-blk and ext4 \
                 built in ({why})"
            ));
            Ok((initrd.to_path_buf(), Some(image)))
        }
    }
}

/// Where a run works (the initramfs, probe images): `<run dir>/.vm-work`, removed at its end
/// (and, if it is killed, by its guardian or the next run's sweep).
pub fn work_dir(run_dir: &Path) -> PathBuf {
    run_dir.join(".vm-work")
}

fn tempfile_dir(run_dir: &Path) -> Result<PathBuf, VmError> {
    let d = work_dir(run_dir);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(io("create", &d))?;
    Ok(d)
}

/// The exit status of runs on several kernels: the worst.
pub fn exit_code(runs: &[KernelRun]) -> u8 {
    runs.iter().map(|r| r.exit_code).reduce(worst).unwrap_or(2)
}

/// A run directory as KTAP, whatever made it (`limitcheck report --ktap`): a VM run (its
/// vm.json) as [`ktap`] gives it, a matrix (matrix.json) as lanes — of kernels when its
/// columns are VM runs, else of runtimes —, or a plain run.
pub fn ktap_dir(dir: &Path) -> Result<(String, u8), ReportError> {
    let read_vm = |d: &Path| -> Result<Option<KernelRun>, ReportError> {
        let f = d.join("vm.json");
        if !f.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&f).map_err(|e| ReportError::Read {
            path: f.display().to_string(),
            reason: e.to_string(),
        })?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ReportError::Read {
                path: f.display().to_string(),
                reason: e.to_string(),
            })
    };
    let planned = |d: &Path| {
        limitcheck_record::load_summary(d)
            .map(|s| s.planned)
            .unwrap_or_default()
    };
    // The kernel run's files sit where it ran; read them where they are now.
    let here = |mut r: KernelRun, d: &Path| {
        r.dir = d.to_path_buf();
        r
    };
    if let Some(r) = read_vm(dir)? {
        return Ok(ktap(&[here(r, dir)], &planned(dir)));
    }
    let columns = limitcheck_report::matrix::columns(dir)?;
    if columns.is_empty() {
        return Ok(limitcheck_report::ktap::render(&limitcheck_report::load(
            dir,
        )?));
    }
    let mut runs = Vec::new();
    for (_, d) in &columns {
        match read_vm(d)? {
            Some(r) => runs.push(here(r, d)),
            None => break,
        }
    }
    if runs.len() == columns.len() {
        let p = planned(&columns[0].1);
        return Ok(ktap(&runs, &p));
    }
    let mut lanes = Vec::new();
    for (label, d) in columns {
        lanes.push((label, limitcheck_report::load(&d)?));
    }
    Ok(limitcheck_report::ktap::render_lanes(&lanes))
}

/// `git bisect run`'s skip status: this commit cannot be tested.
pub const BISECT_SKIP: u8 = 125;

/// The exit status for `git bisect run` (`limitcheck vm --bisect`), and why: 0 good (every
/// verdict passed, or skipped); 1 bad (a limit was not enforced, or the kernel panicked,
/// printed a WARN, BUG or Oops, or tainted while scenarios ran); 125 skip (this kernel cannot
/// be judged: it did not boot or panicked before any scenario ran, the guest hung or could not
/// run, a scenario erred, or stayed inconclusive). Never 2-124 or 126-127, which `git bisect
/// run` would take as bad or abort on.
pub fn bisect_code(r: &KernelRun) -> (u8, String) {
    let ran = limitcheck_record::load_summary(&r.dir.join("summary.json"))
        .map(|s| s.scenarios.len())
        .unwrap_or(0);
    match r.exit_code {
        0 => (0, "good: every verdict passed".into()),
        1 => (1, "bad: a limit was not enforced (a verdict failed)".into()),
        EXIT_KERNEL_PROBLEM => (
            1,
            "bad: the kernel printed a WARN, BUG or Oops, or tainted".into(),
        ),
        EXIT_PANIC if ran > 0 => (1, format!("bad: {}", r.outcome)),
        EXIT_PANIC => (
            BISECT_SKIP,
            format!("skip: {} before any scenario ran", r.outcome),
        ),
        EXIT_HUNG => (BISECT_SKIP, format!("skip: {}", r.outcome)),
        suite_code if suite_code == limitcheck_scenario::suite::EXIT_INCONCLUSIVE => (
            BISECT_SKIP,
            "skip: a scenario stayed inconclusive (the host's own load took what was missing)"
                .into(),
        ),
        _ => (
            BISECT_SKIP,
            format!(
                "skip: the run could not judge this kernel: {}",
                r.error.as_deref().unwrap_or(&r.outcome)
            ),
        ),
    }
}

/// The runs as KTAP (`limitcheck vm --ktap`), with kselftest's exit status: per kernel, a
/// first test `kernel_health` (the guest booted, ran and ended without a panic, a hang, a
/// WARN, BUG, Oops or taint: `not ok` on a panic or a kernel problem, `# TIMEOUT` on a hang,
/// `# ERROR` when the guest could not run), then its scenarios; the scenario a hung guest was
/// in is `# TIMEOUT`, and those a dead guest never ran are `# ERROR` (a panic, a failed qemu)
/// or SKIP (a hang), each saying why. Several kernels: a test per kernel, named by its version.
/// `planned` are the scenarios' names, for a kernel whose guest sent back nothing.
pub fn ktap(runs: &[KernelRun], planned: &[String]) -> (String, u8) {
    use limitcheck_record::Verdict;
    use limitcheck_report::ktap::{Live, Missing};
    let (mut live, mut out) = Live::new(runs.len(), planned.len() + 1);
    for r in runs {
        let s = limitcheck_report::load(&r.dir).unwrap_or_else(|_| limitcheck_record::Summary {
            schema: limitcheck_record::SCHEMA,
            run_id: String::new(),
            host: limitcheck_record::HostInfo {
                kernel: r.version.clone(),
                cgroup_mode: r.cgroup.clone(),
                cpus: 0,
                memory_bytes: 0,
                limitcheck_version: String::new(),
                runtime: None,
                emulated: false,
                tick_ns: 0,
            },
            scenarios: Vec::new(),
            planned: planned.to_vec(),
            complete: false,
            vm: None,
            running: None,
        });
        let count = s.planned.len().max(s.scenarios.len()).max(planned.len());
        out.push_str(&live.begin_lane(count + 1));
        let boot = format!(
            "kernel {} ({}, {}, cgroup {}): {}",
            r.version, r.label, r.accel, r.cgroup, r.outcome
        );
        out.push_str(&live.diagnostic(&boot));
        let problems: Vec<&str> = r
            .kernel_problems
            .iter()
            .map(|(_, l)| l.as_str())
            .take(3)
            .collect();
        let guest_failed = r.error.is_some()
            || !r.files_damaged.is_empty()
            || !r.outcome.starts_with("the guest finished");
        let missing = match r.exit_code {
            EXIT_PANIC => {
                out.push_str(&live.extra("kernel_health", Verdict::Fail, &r.outcome));
                Missing::Error(r.outcome.clone())
            }
            EXIT_HUNG => {
                out.push_str(&live.extra_timeout("kernel_health", &r.outcome));
                Missing::Timeout(r.outcome.clone())
            }
            _ if guest_failed => {
                let why = r.error.clone().unwrap_or_else(|| r.outcome.clone());
                out.push_str(&live.extra("kernel_health", Verdict::Error, &why));
                Missing::Error(why)
            }
            EXIT_KERNEL_PROBLEM => {
                let why = if problems.is_empty() {
                    "the kernel tainted during a scenario (its kernel.health failed)".to_string()
                } else {
                    problems.join(" | ")
                };
                out.push_str(&live.extra("kernel_health", Verdict::Fail, &why));
                Missing::NotRun
            }
            _ => {
                out.push_str(&live.extra("kernel_health", Verdict::Pass, ""));
                Missing::NotRun
            }
        };
        out.push_str(&live.end_lane(&r.version, &s, &missing));
    }
    let (totals, code) = live.finish();
    out.push_str(&totals);
    (out, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenarios_images_go_where_its_guest_copy_finds_them() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("scenarios")).unwrap();
        std::fs::create_dir_all(t.path().join("images/built/blobs")).unwrap();
        let f = t.path().join("scenarios/i.toml");
        std::fs::write(
            &f,
            "duration = \"2s\"\n[[container]]\nimage = \"oci:../images/built:latest\"\n\
             [[container]]\nname = \"b\"\nimage = \"oci:../images/not-built\"\n",
        )
        .unwrap();
        let g = guest_scenario_path(0, &f);
        let found = scenario_images(&f, &g);
        // The one the host has, at the guest path the relative reference resolves to; the one
        // not built is left out (skipped in the guest, as on the host).
        assert_eq!(
            found,
            [(
                t.path().join("scenarios/../images/built"),
                Path::new(GUEST_SCENARIOS).join("images/built")
            )]
        );
    }

    #[test]
    fn scenario_programs_are_found_on_the_containers_path_once() {
        let t = tempfile::tempdir().unwrap();
        let write = |name: &str, cmd: &str| {
            let p = t.path().join(name);
            let text = format!("duration = \"2s\"\n[[container]]\ncommand = {cmd}\n");
            std::fs::write(&p, text).unwrap();
            p
        };
        let files = [
            write("a.toml", "[\"sh\", \"-c\", \"true\"]"),
            write("b.toml", "[\"sh\"]"),
            write("c.toml", "[\"no-such-program-anywhere\"]"),
        ];
        let found = scenario_programs(&files);
        // The first match on the containers' PATH, as the container would run it.
        let sh = limitcheck_runtime::hostfs::DEFAULT_PATH
            .split(':')
            .map(|d| Path::new(d).join("sh"))
            .find(|p| p.is_file())
            .unwrap();
        assert_eq!(found, vec![sh]);
    }

    /// The errors carry what failed and on which path, as types (not text to parse).
    #[test]
    fn errors_name_the_path_that_failed() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("no-such-scenario.toml");
        let o = VmOptions {
            kernels: Vec::new(),
            cgroup: CgroupLayout::V2,
            append: String::new(),
            scenarios: vec![missing.clone()],
            run_dir: t.path().join("run"),
            run_id: "r".into(),
            version: "0".into(),
            exe: std::env::current_exe().unwrap(),
            busybox: match initramfs::find_busybox() {
                Ok(b) => b,
                Err(e) => {
                    limitcheck_testkit::skip("errors_name_the_path_that_failed", &e.to_string());
                    return;
                }
            },
            accel: AccelMode::Tcg,
            memory_mib: 256,
            cpus: 1,
            topology: None,
            timeout: None,
            stop: Arc::new(AtomicBool::new(false)),
            verbose: false,
            guest_setup: None,
        };
        match build_initramfs(&o, &t.path().join("i.cpio")) {
            Err(VmError::Io {
                action,
                path,
                source,
            }) => {
                assert_eq!((action, path), ("read", missing.clone()));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected the missing scenario's read error, got {other:?}"),
        }
        // The message names it, for the user.
        let text = build_initramfs(&o, &t.path().join("i.cpio"))
            .unwrap_err()
            .to_string();
        assert!(text.contains(&missing.display().to_string()), "{text}");
        let gone = t.path().join("gone");
        match matrix::write(&gone, &[]) {
            Err(VmError::Io { path, .. }) => assert!(path.starts_with(&gone), "{path:?}"),
            other => panic!("expected a write error in {gone:?}, got {other:?}"),
        }
    }
}
