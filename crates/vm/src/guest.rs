//! The guest side: what runs as `/init` inside the VM.
//!
//! PID 1 mounts proc, sys, dev and the chosen cgroup layout, makes the root pivotable (a
//! container cannot `pivot_root` away from the initramfs's rootfs, so the root is moved onto a
//! bind mount of itself, as `switch_root` would), then forks the runner and reaps every orphan
//! as an init does. The runner runs the scenarios exactly as `limitcheck run` does on a host,
//! streams the run directory to the second serial port ([`crate::transport`]), and PID 1 hands
//! the exit status to qemu through the isa-debug-exit port. If anything fails, the error is
//! printed on the console and sent as `LCVM-ERROR`, and the status is 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use nix::mount::{mount, MsFlags};
use serde::{Deserialize, Serialize};

use limitcheck_scenario::RunError;

use crate::console::PROGRESS;
use crate::error::{io, sys};
use crate::initramfs::{GUEST_BUSYBOX, GUEST_CONFIG, GUEST_EXE, GUEST_SETUP};
use crate::qemu::{EXIT_BASE, EXIT_PORT};
use crate::transport;
use crate::VmError;

/// The cgroup layout a guest mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupLayout {
    /// Pure cgroup v2 (`cgroup_no_v1=all`), mounted at /sys/fs/cgroup.
    V2,
    /// Every v1 controller on its own hierarchy (cpu and cpuacct together), no v2.
    V1,
    /// v1 controllers, and an empty v2 hierarchy at /sys/fs/cgroup/unified (systemd's hybrid).
    Hybrid,
}

impl CgroupLayout {
    /// What the kernel command line needs for this layout.
    pub fn kernel_args(self) -> &'static str {
        match self {
            CgroupLayout::V2 => "cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1",
            CgroupLayout::V1 | CgroupLayout::Hybrid => "",
        }
    }
}

impl std::fmt::Display for CgroupLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupLayout::V2 => "v2",
            CgroupLayout::V1 => "v1",
            CgroupLayout::Hybrid => "hybrid",
        })
    }
}

/// The guest's instructions, `/limitcheck/guest.json` in the initramfs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestConfig {
    /// The cgroup layout to mount.
    pub cgroup: CgroupLayout,
    /// The scenario files (guest paths), in order.
    pub scenarios: Vec<PathBuf>,
    /// The run id (the host's).
    pub run_id: String,
    /// The host's limitcheck version.
    pub version: String,
    /// Whether [`crate::initramfs::GUEST_SETUP`] is to be run before the scenarios.
    #[serde(default)]
    pub setup_script: bool,
}

/// True when this process is the VM guest's init.
pub fn is_guest_init() -> bool {
    std::process::id() == 1 && Path::new(GUEST_CONFIG).exists()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{PROGRESS}{line}");
    let _ = out.flush();
}

fn mnt(
    src: &str,
    target: &str,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), VmError> {
    let _ = std::fs::create_dir_all(target);
    mount(Some(src), target, Some(fstype), flags, data)
        .map_err(sys(format!("mount {fstype} on {target}")))
}

/// Moves `/` onto a bind mount of itself so that `pivot_root` works under it.
fn make_root_pivotable() -> Result<(), VmError> {
    let new = "/.limitcheck-root";
    std::fs::create_dir_all(new).map_err(io("create", new))?;
    mount(
        Some("/"),
        new,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys(format!("bind / on {new}")))?;
    nix::unistd::chdir(new).map_err(sys(format!("chdir {new}")))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(sys(format!("move {new} to /")))?;
    nix::unistd::chroot(".").map_err(sys("chroot ."))?;
    nix::unistd::chdir("/").map_err(sys("chdir /"))
}

/// The controllers the kernel command line keeps off v1 (`cgroup_no_v1=memory,pids` or
/// `all`).
pub fn no_v1(cmdline: &str) -> Vec<String> {
    cmdline
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("cgroup_no_v1="))
        .flat_map(|l| l.split(','))
        .map(str::to_string)
        .collect()
}

/// The v1 hierarchies to mount: each enabled controller alone, but cpu with cpuacct and
/// net_cls with net_prio (as systemd mounts them). From /proc/cgroups, less those the
/// kernel command line keeps off v1.
pub fn v1_hierarchies(proc_cgroups: &str, cmdline: &str) -> Vec<String> {
    let off = no_v1(cmdline);
    if off.iter().any(|c| c == "all") {
        return Vec::new();
    }
    let enabled: Vec<&str> = proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[3] == "1" && !off.iter().any(|o| o == f[0])).then_some(f[0])
        })
        .collect();
    let mut out = Vec::new();
    for c in &enabled {
        let name = match *c {
            "cpuacct" if enabled.contains(&"cpu") => continue,
            "net_prio" if enabled.contains(&"net_cls") => continue,
            "cpu" if enabled.contains(&"cpuacct") => "cpu,cpuacct".to_string(),
            "net_cls" if enabled.contains(&"net_prio") => "net_cls,net_prio".to_string(),
            other => other.to_string(),
        };
        out.push(name);
    }
    out
}

fn mount_cgroups(layout: CgroupLayout) -> Result<(), VmError> {
    let nosx = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if layout == CgroupLayout::V2 {
        return mnt(
            "cgroup2",
            "/sys/fs/cgroup",
            "cgroup2",
            nosx,
            Some("nsdelegate"),
        );
    }
    mnt("tmpfs", "/sys/fs/cgroup", "tmpfs", nosx, Some("mode=755"))?;
    let table = std::fs::read_to_string("/proc/cgroups").map_err(io("read", "/proc/cgroups"))?;
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let hierarchies = v1_hierarchies(&table, &cmdline);
    if hierarchies.is_empty() {
        return Err(VmError::NoV1 {
            layout: layout.to_string(),
            fix: if no_v1(&cmdline).iter().any(|c| c == "all") {
                "its command line has cgroup_no_v1=all: drop it from --append, or use --cgroup v2"
            } else {
                "built without v1 support?; use --cgroup v2"
            },
        });
    }
    let mut mounted = 0;
    for h in &hierarchies {
        let target = format!("/sys/fs/cgroup/{h}");
        let _ = std::fs::create_dir_all(&target);
        // A controller /proc/cgroups lists may still have no v1 hierarchy: since 6.11/6.12
        // memcg v1 and cpuset v1 are build options (CONFIG_MEMCG_V1, CONFIG_CPUSETS_V1), and
        // Debian's 6.12 refuses a v1 cpuset mount with EINVAL. Left out, said so; what needs
        // it is skipped ("the cpuset controller is not available").
        match mount(
            Some("cgroup"),
            target.as_str(),
            Some("cgroup"),
            nosx,
            Some(h.as_str()),
        ) {
            Ok(()) => mounted += 1,
            Err(e @ (nix::errno::Errno::EINVAL | nix::errno::Errno::ENODEV)) => {
                say(&format!(
                    "guest: no v1 {h} hierarchy in this kernel (mount: {e}; built without its v1 \
                     support, e.g. CONFIG_CPUSETS_V1 or CONFIG_MEMCG_V1?): scenarios that need it \
                     are skipped"
                ));
                let _ = std::fs::remove_dir(&target);
                continue;
            }
            Err(e) => return Err(sys(format!("mount cgroup on {target}"))(e)),
        }
        if h.contains(',') {
            for part in h.split(',') {
                let _ = std::os::unix::fs::symlink(h, format!("/sys/fs/cgroup/{part}"));
            }
        }
    }
    if mounted == 0 {
        return Err(VmError::NoV1 {
            layout: layout.to_string(),
            fix: "it mounts none of the v1 hierarchies /proc/cgroups lists; use --cgroup v2",
        });
    }
    if layout == CgroupLayout::Hybrid {
        mnt(
            "cgroup2",
            "/sys/fs/cgroup/unified",
            "cgroup2",
            nosx,
            Some("nsdelegate"),
        )?;
    }
    Ok(())
}

fn setup(cfg: &GuestConfig) -> Result<(), VmError> {
    let nosx = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    make_root_pivotable()?;
    mnt("proc", "/proc", "proc", nosx, None)?;
    mnt("sysfs", "/sys", "sysfs", nosx, None)?;
    mnt(
        "devtmpfs",
        "/dev",
        "devtmpfs",
        MsFlags::MS_NOSUID,
        Some("mode=0755"),
    )?;
    mnt(
        "devpts",
        "/dev/pts",
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )?;
    mnt(
        "tmpfs",
        "/dev/shm",
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None,
    )?;
    mnt(
        "tmpfs",
        "/run",
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=755"),
    )?;
    mnt(
        "tmpfs",
        "/tmp",
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None,
    )?;
    mount_cgroups(cfg.cgroup)?;
    let _ = nix::unistd::sethostname("limitcheck-vm");
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    if cmdline.split_whitespace().any(|a| a == crate::DISK_ARG) {
        match crate::disk::attach_in_guest() {
            Ok(what) => {
                let swap = match crate::disk::make_swap_file(
                    Path::new(crate::disk::GUEST_SWAP),
                    crate::disk::SWAP_BYTES,
                ) {
                    Ok(()) => format!(
                        "; a {} MiB swap file for the scenarios that need swap",
                        crate::disk::SWAP_BYTES >> 20
                    ),
                    Err(e) => format!("; no swap file ({e})"),
                };
                say(&format!("guest: disk {what}{swap}"))
            }
            Err(why) => say(&format!(
                "guest: no disk ({why}): scenarios with an io workload are skipped"
            )),
        }
    }
    Ok(())
}

/// Where the guest writes its run.
pub const GUEST_RUN_DIR: &str = "/run/limitcheck-vm/run";

/// Runs the scenarios and streams the run to the results port; returns the exit status.
fn run_scenarios(cfg: &GuestConfig, results: &mut std::fs::File) -> Result<u8, VmError> {
    let layout = limitcheck_cgroup::Layout::detect().map_err(RunError::from)?;
    say(&format!(
        "guest: kernel {}, cgroup {} (asked for {}), {} CPUs",
        nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        layout.mode,
        cfg.cgroup,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    ));
    if cfg.setup_script {
        say(&format!(
            "guest: running the --guest-setup script ({GUEST_SETUP})"
        ));
        let st = std::process::Command::new(GUEST_BUSYBOX)
            .args(["sh", GUEST_SETUP])
            .status()
            .map_err(io("run", GUEST_SETUP))?;
        if !st.success() {
            return Err(VmError::SetupScript { status: st });
        }
    }
    let opts = limitcheck_scenario::runner::RunOptions {
        runtime_root: PathBuf::from("/run/limitcheck"),
        exe: PathBuf::from(GUEST_EXE),
        scratch: limitcheck_scenario::runner::scratch_dir(&cfg.run_id),
        swap_device: Some(PathBuf::from(crate::disk::GUEST_SWAP)).filter(|p| p.exists()),
        // The guest is the run's own machine: its memory may all be used.
        whole_machine: true,
        run_dir: PathBuf::from(GUEST_RUN_DIR),
        run_id: cfg.run_id.clone(),
        stop: Arc::new(AtomicBool::new(false)),
        kmsg_markers: true,
        retries: limitcheck_scenario::runner::DEFAULT_RETRIES,
        retry_pause: limitcheck_scenario::runner::DEFAULT_RETRY_PAUSE,
        step_deadline: limitcheck_scenario::runner::STEP_DEADLINE,
        runtime: None,
        engine: None,
        lane: limitcheck_scenario::lane::LCRUN.into(),
        // A scenario about another runtime asks for it in the guest too (where only
        // limitcheck is: it is a skip saying so).
        lanes_chosen: false,
    };
    // After each scenario its results go out at once (a later copy replaces an earlier one on
    // the host), drained from the UART: a kernel that panics or hangs in a later scenario
    // still leaves the earlier ones in the report.
    let run_dir = Path::new(GUEST_RUN_DIR);
    let summary = limitcheck_scenario::suite::run_all(
        &cfg.scenarios,
        &opts,
        &cfg.version,
        &mut |l| say(l),
        None,
        &mut |_| {
            for name in ["summary.json", "samples.csv", "host.csv"] {
                if let Ok(data) = std::fs::read(run_dir.join(name)) {
                    if let Err(e) = transport::file(results, name, &data) {
                        say(&format!("guest: cannot send {name}: {e}"));
                    }
                }
            }
            let _ = nix::sys::termios::tcdrain(&*results);
        },
    )?;
    let code = limitcheck_scenario::suite::exit_code(&summary.scenarios);
    let n = transport::dir(results, Path::new(GUEST_RUN_DIR))
        .map_err(io("send the run over", "/dev/ttyS1"))?;
    say(&format!("guest: sent {n} file(s); exit status {code}"));
    Ok(code)
}

fn open_results_port() -> Result<std::fs::File, VmError> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/ttyS1")
        .map_err(io("open the results port", "/dev/ttyS1"))?;
    // Raw output: no newline translation (the stream is text, but be exact).
    if let Ok(mut t) = nix::sys::termios::tcgetattr(&f) {
        nix::sys::termios::cfmakeraw(&mut t);
        let _ = nix::sys::termios::cfsetspeed(&mut t, nix::sys::termios::BaudRate::B115200);
        let _ = nix::sys::termios::tcsetattr(&f, nix::sys::termios::SetArg::TCSANOW, &t);
    }
    Ok(f)
}

/// Tells qemu the exit status; powers off if the port is not there.
fn exit_vm(code: u8) -> ! {
    use std::os::unix::fs::FileExt;
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open("/dev/port") {
        let _ = f.write_at(&[EXIT_BASE | code], EXIT_PORT);
    }
    // Without isa-debug-exit: power off (qemu exits 0, read as "stopped without reporting").
    let _ = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// The guest's init. Never returns: the VM ends.
pub fn run_guest_init() -> ! {
    let code = match guest_main() {
        Ok(code) => code,
        Err(e) => {
            say(&format!("guest: error: {e}"));
            if let Ok(mut port) = open_results_port() {
                let _ = transport::begin(&mut port);
                let _ = transport::error(&mut port, &e.to_string());
                let _ = transport::exit(&mut port, 2);
                let _ = nix::sys::termios::tcdrain(&port);
            }
            2
        }
    };
    exit_vm(code)
}

fn guest_main() -> Result<u8, VmError> {
    let text = std::fs::read_to_string(GUEST_CONFIG).map_err(io("read", GUEST_CONFIG))?;
    let cfg: GuestConfig = serde_json::from_str(&text).map_err(|source| VmError::Config {
        path: GUEST_CONFIG.into(),
        source,
    })?;
    setup(&cfg)?;
    // The runner is a child; PID 1 reaps every orphan, as on a host.
    // SAFETY: single-threaded here (no thread has been started).
    match unsafe { nix::unistd::fork() }.map_err(sys("fork"))? {
        nix::unistd::ForkResult::Child => {
            let code = (|| {
                let mut port = open_results_port()?;
                let port_err = || io("write to the results port", "/dev/ttyS1");
                transport::begin(&mut port).map_err(port_err())?;
                let r = run_scenarios(&cfg, &mut port);
                let code = match r {
                    Ok(c) => c,
                    Err(e) => {
                        say(&format!("guest: error: {e}"));
                        let _ = transport::error(&mut port, &e.to_string());
                        2
                    }
                };
                transport::exit(&mut port, code).map_err(port_err())?;
                port.flush().map_err(port_err())?;
                // Every byte out of the UART before the VM ends.
                nix::sys::termios::tcdrain(&port).map_err(sys("tcdrain /dev/ttyS1"))?;
                Ok::<u8, VmError>(code)
            })()
            .unwrap_or_else(|e| {
                say(&format!("guest: error: {e}"));
                2
            });
            std::process::exit(code as i32);
        }
        nix::unistd::ForkResult::Parent { child } => loop {
            match nix::sys::wait::waitpid(None, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(pid, c)) if pid == child => {
                    return Ok(c as u8)
                }
                Ok(nix::sys::wait::WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                    return Err(VmError::RunnerKilled { signal: sig });
                }
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(sys("waitpid")(e)),
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_hierarchies_pair_cpu_with_cpuacct_and_skip_disabled() {
        let t = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
                 cpuset\t0\t1\t1\ncpu\t0\t1\t1\ncpuacct\t0\t1\t1\nblkio\t0\t1\t0\n\
                 memory\t0\t1\t1\nnet_cls\t0\t1\t1\nnet_prio\t0\t1\t1\npids\t0\t1\t1\n";
        assert_eq!(
            v1_hierarchies(t, "console=ttyS0"),
            vec![
                "cpuset",
                "cpu,cpuacct",
                "memory",
                "net_cls,net_prio",
                "pids"
            ]
        );
        assert_eq!(
            v1_hierarchies(t, "quiet cgroup_no_v1=memory,net_prio"),
            vec!["cpuset", "cpu,cpuacct", "net_cls", "pids"]
        );
        assert!(v1_hierarchies(t, "cgroup_no_v1=all").is_empty());
    }

    #[test]
    fn only_v2_needs_kernel_arguments() {
        assert!(CgroupLayout::V2.kernel_args().contains("cgroup_no_v1=all"));
        assert_eq!(CgroupLayout::V1.kernel_args(), "");
        assert_eq!(
            serde_json::to_string(&CgroupLayout::Hybrid).unwrap(),
            "\"hybrid\""
        );
    }
}
