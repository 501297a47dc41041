//! Booting a kernel with `qemu-system-x86_64`: the command line, the wait (with a timeout and
//! a live view of the console), what the exit means, and the KVM probe.
//!
//! The guest reports its exit status through the isa-debug-exit device (port 0xf4): writing
//! `v` makes qemu exit with `(v << 1) | 1`. The guest writes [`EXIT_BASE`]` | code`, so a
//! status of 0 can only mean the guest reset or powered off, which `-no-reboot` and the
//! kernel's `panic=-1` turn a panic into.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::kernel::Kernel;

/// The isa-debug-exit I/O port.
pub const EXIT_PORT: u64 = 0xf4;
/// Added to the guest's exit code before it is written to [`EXIT_PORT`].
pub const EXIT_BASE: u8 = 0x20;

/// The qemu binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// How the guest's code is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation, `-cpu host`.
    Kvm,
    /// Software emulation (qemu's TCG), multi-threaded, `-cpu max`.
    Tcg,
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

/// One VM to boot.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The kernel.
    pub kernel: Kernel,
    /// The initramfs.
    pub initrd: PathBuf,
    /// A raw disk image, the guest's first virtio-blk disk.
    pub disk: Option<PathBuf>,
    /// The kernel command line (console and panic settings are added).
    pub append: String,
    /// Guest memory, MiB.
    pub memory_mib: u32,
    /// Virtual CPUs.
    pub cpus: u32,
    /// How they are laid out (sockets, cores, threads, NUMA nodes); none: `cpus` sockets of
    /// one core, one node.
    pub topology: Option<Topology>,
    /// Acceleration.
    pub accel: Accel,
    /// Where the console (first serial port) goes.
    pub console: PathBuf,
    /// Where the second serial port (the results stream) goes.
    pub results: PathBuf,
    /// Stop the guest after this long.
    pub timeout: Duration,
}

/// A guest's CPU topology (`limitcheck vm --topology sockets=2,cores=4,threads=2,nodes=2`):
/// sockets × cores × threads virtual CPUs, spread evenly over `nodes` NUMA nodes (whole
/// sockets each), with the memory split evenly among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    /// Sockets (packages).
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core (SMT siblings).
    pub threads: u32,
    /// NUMA nodes.
    pub nodes: u32,
}

impl std::str::FromStr for Topology {
    type Err = String;

    /// `sockets=2,cores=4,threads=2,nodes=2`; each key optional (1 by default), none twice.
    fn from_str(s: &str) -> Result<Topology, String> {
        let mut t = Topology {
            sockets: 1,
            cores: 1,
            threads: 1,
            nodes: 1,
        };
        let mut seen = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                format!("{part:?}: give key=value, e.g. sockets=2,cores=8,threads=2,nodes=2")
            })?;
            let n: u32 = v
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("{k}={v}: give a whole number of at least 1"))?;
            if seen.contains(&k) {
                return Err(format!("{k} is given twice"));
            }
            seen.push(k);
            match k {
                "sockets" => t.sockets = n,
                "cores" => t.cores = n,
                "threads" => t.threads = n,
                "nodes" => t.nodes = n,
                _ => return Err(format!("{k:?} is not sockets, cores, threads or nodes")),
            }
        }
        if seen.is_empty() {
            return Err("give e.g. sockets=2,cores=8,threads=2,nodes=2".into());
        }
        if t.cpus() > 288 {
            return Err(format!(
                "{} virtual CPUs: at most 288 (q35's limit)",
                t.cpus()
            ));
        }
        if t.sockets % t.nodes != 0 {
            return Err(format!(
                "nodes={}: each NUMA node holds whole sockets, so nodes must divide sockets={}",
                t.nodes, t.sockets
            ));
        }
        Ok(t)
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sockets={},cores={},threads={},nodes={}",
            self.sockets, self.cores, self.threads, self.nodes
        )
    }
}

impl Topology {
    /// The virtual CPUs it makes.
    pub fn cpus(&self) -> u32 {
        self.sockets * self.cores * self.threads
    }

    /// qemu's options for it with `memory_mib` of guest memory: `-smp` and, with more than
    /// one node, a RAM backend and a `-numa node` per node (its CPUs consecutive: whole
    /// sockets, as qemu numbers them socket by socket) and the distances qemu gives by
    /// default.
    pub fn qemu_args(&self, memory_mib: u32) -> Vec<String> {
        let mut a = vec![
            "-smp".to_string(),
            format!(
                "cpus={},sockets={},cores={},threads={}",
                self.cpus(),
                self.sockets,
                self.cores,
                self.threads
            ),
        ];
        if self.nodes > 1 {
            let per = self.cpus() / self.nodes;
            for n in 0..self.nodes {
                // The last node takes what an uneven split leaves.
                let mib = if n + 1 == self.nodes {
                    memory_mib - memory_mib / self.nodes * (self.nodes - 1)
                } else {
                    memory_mib / self.nodes
                };
                a.push("-object".into());
                a.push(format!("memory-backend-ram,id=m{n},size={mib}M"));
                a.push("-numa".into());
                a.push(format!(
                    "node,nodeid={n},cpus={}-{},memdev=m{n}",
                    n * per,
                    (n + 1) * per - 1
                ));
            }
        }
        a
    }
}

/// How a boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote its exit code to the debug-exit port.
    Exited(u8),
    /// The kernel panicked (the console's panic line).
    Panicked(String),
    /// Still running at the timeout; stopped.
    TimedOut,
    /// The guest reset or powered off without reporting an exit code, and printed no panic.
    Stopped,
    /// Stopped because the run was interrupted (SIGINT/SIGTERM).
    Interrupted,
    /// qemu itself failed (bad option, missing accelerator, crash): its status and stderr.
    QemuFailed(String),
}

/// The qemu command line for `m`.
pub fn command(m: &Machine) -> Command {
    let mut c = Command::new(QEMU);
    c.args(["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"]);
    c.args(["-machine", "q35"]);
    match m.accel {
        Accel::Kvm => c.args(["-accel", "kvm", "-cpu", "host"]),
        Accel::Tcg => c.args(["-accel", "tcg,thread=multi", "-cpu", "max"]),
    };
    match &m.topology {
        None => {
            c.args(["-smp", &m.cpus.to_string()]);
        }
        Some(t) => {
            c.args(t.qemu_args(m.memory_mib));
        }
    }
    c.args(["-m", &m.memory_mib.to_string()]);
    c.arg("-kernel").arg(&m.kernel.path);
    c.arg("-initrd").arg(&m.initrd);
    if let Some(d) = &m.disk {
        // cache=unsafe: the image is thrown away after the run, so flushes need not reach
        // the host's disk (what the guest measures is its own block layer and page cache).
        c.arg("-drive").arg(format!(
            "file={},format=raw,if=none,id=scratch,cache=unsafe",
            d.display()
        ));
        c.args(["-device", "virtio-blk-pci,drive=scratch"]);
    }
    let append = format!("console=ttyS0 panic=-1 {}", m.append);
    c.args(["-append", append.trim()]);
    c.arg("-serial")
        .arg(format!("file:{}", m.console.display()));
    c.arg("-serial")
        .arg(format!("file:{}", m.results.display()));
    c.args([
        "-device",
        &format!("isa-debug-exit,iobase={EXIT_PORT:#x},iosize=0x04"),
    ]);
    c.args(["-monitor", "none", "-display", "none"]);
    c.stdin(Stdio::null());
    c
}

/// Follows a file that another process appends to, handing out whole lines.
pub struct Tail {
    path: PathBuf,
    pos: u64,
    partial: Vec<u8>,
}

impl Tail {
    /// Follows `path` from its start.
    pub fn new(path: &Path) -> Tail {
        Tail {
            path: path.to_path_buf(),
            pos: 0,
            partial: Vec::new(),
        }
    }

    /// Calls `each` with every new complete line.
    pub fn poll(&mut self, each: &mut dyn FnMut(&str)) {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.pos)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if let Ok(n) = f.read_to_end(&mut buf) {
            self.pos += n as u64;
            self.partial.extend_from_slice(&buf);
            while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.partial.drain(..=i).collect();
                let s = String::from_utf8_lossy(&line);
                each(s.trim_end_matches(['\n', '\r']));
            }
        }
    }
}

/// Boots `m` and waits for it to end (or the timeout, or `stop`). Every console line goes to
/// `on_console` as it arrives. qemu's own messages are kept in `<console>.qemu`.
pub fn boot(
    m: &Machine,
    on_console: &mut dyn FnMut(&str),
    stop: &AtomicBool,
) -> std::io::Result<Outcome> {
    for p in [&m.console, &m.results] {
        std::fs::write(p, b"")?;
    }
    let qemu_log = m.console.with_extension("qemu.log");
    let log = std::fs::File::create(&qemu_log)?;
    let mut cmd = command(m);
    cmd.stdout(log.try_clone()?).stderr(log);
    // If limitcheck dies (even by SIGKILL), qemu goes with it: no guest left running.
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot start {QEMU}: {e} (apt-get install qemu-system-x86)"),
        )
    })?;
    let start = Instant::now();
    let mut tail = Tail::new(&m.console);
    let status = loop {
        tail.poll(on_console);
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if start.elapsed() > m.timeout || stop.load(Ordering::Relaxed) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    tail.poll(on_console);
    let console = std::fs::read_to_string(&m.console).unwrap_or_default();
    let findings = crate::console::scan(&console);
    let Some(status) = status else {
        return Ok(if stop.load(Ordering::Relaxed) {
            Outcome::Interrupted
        } else if let Some(p) = findings.panic {
            // panic=-1 failed to reboot: still a panic.
            Outcome::Panicked(p)
        } else {
            Outcome::TimedOut
        });
    };
    use std::os::unix::process::ExitStatusExt;
    let qemu_said = || {
        std::fs::read_to_string(&qemu_log)
            .unwrap_or_default()
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    };
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) if c & 1 == 1 && c > 2 * EXIT_BASE as i32 => {
            Outcome::Exited(((c - 1) / 2) as u8 - EXIT_BASE)
        }
        (Some(0), _) => match findings.panic {
            Some(p) => Outcome::Panicked(p),
            None => Outcome::Stopped,
        },
        (Some(c), _) => Outcome::QemuFailed(format!("{QEMU} exited with {c}: {}", qemu_said())),
        (None, Some(sig)) => Outcome::QemuFailed(format!(
            "{QEMU} was killed by signal {sig}: {}",
            qemu_said()
        )),
        _ => Outcome::QemuFailed(format!("{QEMU} ended: {status}")),
    })
}

/// Why KVM is or is not used.
#[derive(Debug, Clone)]
pub struct AccelChoice {
    /// The choice.
    pub accel: Accel,
    /// Why, in words (shown to the user and kept in the run's vm.json).
    pub reason: String,
    /// A probe guest decided it (it booted, or it did not: a timeout, qemu refusing), so it
    /// holds for this kernel and qemu until the host reboots; not when no probe ran or it
    /// could not run.
    pub probed: bool,
}

/// Chooses KVM only when it really boots `kernel`: `/dev/kvm` must open, and a probe guest
/// (this kernel, `probe_initrd`, `-cpu host`) must reach its init and report through the
/// debug-exit port within `timeout`. On some hosts `/dev/kvm` exists but qemu aborts on an
/// MSR write with `-cpu host`, or the guest hangs: both fall back to TCG, with the reason.
pub fn choose_accel(
    kernel: &Kernel,
    probe_initrd: &Path,
    work: &Path,
    timeout: Duration,
) -> AccelChoice {
    let tcg = |reason: String| AccelChoice {
        accel: Accel::Tcg,
        reason,
        probed: false,
    };
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return tcg(format!(
            "software emulation (TCG): /dev/kvm cannot be opened ({e})"
        ));
    }
    let m = Machine {
        kernel: kernel.clone(),
        initrd: probe_initrd.to_path_buf(),
        disk: None,
        append: "quiet".into(),
        memory_mib: 256,
        cpus: 1,
        topology: None,
        accel: Accel::Kvm,
        console: work.join("kvm-probe.console.log"),
        results: work.join("kvm-probe.results"),
        timeout,
    };
    let t0 = Instant::now();
    let outcome = boot(&m, &mut |_| {}, &AtomicBool::new(false));
    let spent = t0.elapsed().as_secs_f64();
    for p in [
        &m.console,
        &m.results,
        &m.console.with_extension("qemu.log"),
    ] {
        let _ = std::fs::remove_file(p);
    }
    match outcome {
        Ok(Outcome::Exited(PROBE_CODE)) => AccelChoice {
            accel: Accel::Kvm,
            reason: format!("KVM: the probe guest booted and reported in {spent:.1}s"),
            probed: true,
        },
        Ok(Outcome::QemuFailed(why)) => AccelChoice {
            probed: true,
            ..tcg(format!(
                "software emulation (TCG): /dev/kvm exists but the KVM probe failed: {why}"
            ))
        },
        Ok(Outcome::TimedOut) => AccelChoice {
            probed: true,
            ..tcg(format!(
                "software emulation (TCG): /dev/kvm exists but the KVM probe guest did not reach its init in {:.0}s",
                timeout.as_secs_f64()
            ))
        },
        Ok(other) => tcg(format!(
            "software emulation (TCG): the KVM probe guest ended as {other:?}"
        )),
        Err(e) => tcg(format!("software emulation (TCG): the KVM probe could not run: {e}")),
    }
}

/// The code the probe guest reports.
pub const PROBE_CODE: u8 = 7;

/// A guest `/init` (busybox script) that reports `code` through the debug-exit port, as the
/// limitcheck guest does, and nothing else.
pub fn report_init_script(code: u8) -> String {
    format!(
        "#!/bin/busybox sh\n/bin/busybox mount -t devtmpfs dev /dev\n/bin/busybox printf '\\{:03o}' | /bin/busybox dd of=/dev/port bs=1 seek={} count=1\n/bin/busybox sleep 60\n",
        EXIT_BASE | code,
        EXIT_PORT
    )
}

/// The probe guest's `/init`: reports [`PROBE_CODE`].
pub fn probe_init_script() -> String {
    report_init_script(PROBE_CODE)
}

/// Whether qemu is installed, with the fix when not.
pub fn check_installed() -> Result<String, crate::VmError> {
    let out =
        Command::new(QEMU)
            .arg("--version")
            .output()
            .map_err(|e| crate::VmError::Program {
                program: QEMU.into(),
                why: format!("not installed ({e}): apt-get install qemu-system-x86"),
            })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelFormat;

    #[test]
    fn the_probe_script_writes_the_probe_code_in_octal() {
        let s = probe_init_script();
        assert!(s.contains(&format!("\\{:03o}", 0x27)), "{s}");
        assert!(s.contains("seek=244"), "{s}");
    }

    #[test]
    fn the_command_line_never_uses_cpu_host_under_tcg() {
        let m = Machine {
            kernel: Kernel {
                path: "/k".into(),
                format: KernelFormat::BzImage,
                version: "6.1".into(),
            },
            initrd: "/i".into(),
            disk: None,
            append: "cgroup_no_v1=all".into(),
            memory_mib: 512,
            cpus: 2,
            topology: None,
            accel: Accel::Tcg,
            console: "/c".into(),
            results: "/r".into(),
            timeout: Duration::from_secs(1),
        };
        let args: Vec<String> = command(&m)
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.contains("-accel tcg,thread=multi -cpu max"),
            "{joined}"
        );
        assert!(!joined.contains("host"), "{joined}");
        assert!(
            joined.contains("console=ttyS0 panic=-1 cgroup_no_v1=all"),
            "{joined}"
        );
        assert!(joined.contains("isa-debug-exit,iobase=0xf4"), "{joined}");
    }

    #[test]
    fn a_topology_reads_and_lays_out_its_nodes() {
        let t: Topology = "sockets=2,cores=8,threads=2,nodes=2".parse().unwrap();
        assert_eq!(t.cpus(), 32);
        assert_eq!(
            t.qemu_args(2048),
            [
                "-smp",
                "cpus=32,sockets=2,cores=8,threads=2",
                "-object",
                "memory-backend-ram,id=m0,size=1024M",
                "-numa",
                "node,nodeid=0,cpus=0-15,memdev=m0",
                "-object",
                "memory-backend-ram,id=m1,size=1024M",
                "-numa",
                "node,nodeid=1,cpus=16-31,memdev=m1",
            ]
        );
        let one: Topology = "cores=16".parse().unwrap();
        assert_eq!(one.cpus(), 16);
        assert_eq!(
            one.qemu_args(512),
            ["-smp", "cpus=16,sockets=1,cores=16,threads=1"]
        );
        assert_eq!(one.to_string().parse::<Topology>().unwrap(), one);
        for bad in [
            "",
            "cores=0",
            "cores=2,cores=4",
            "dies=2",
            "sockets=3,nodes=2",
            "cores",
            "sockets=300",
        ] {
            assert!(bad.parse::<Topology>().is_err(), "{bad}");
        }
    }
}
