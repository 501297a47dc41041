//! Another OCI runtime (runc, crun, youki, lcrun's own binary), driven only through the OCI
//! command line, as docker and containerd drive it: `create --bundle`, `start`, `state`,
//! `pause`, `resume`, `update`, `kill`, `delete --force`, each with `--root` of its own.
//!
//! The bundle is the one lcrun would run (the host-made rootfs); its `config.json` is written
//! with `linux.cgroupsPath` `/limitcheck/<id>` and the initial limits in `linux.resources`, as
//! an engine would. The cgroup measured is the one the runtime put the container's init in,
//! read from `/proc/<pid>/cgroup`, not the one asked for. Updates go through
//! `<runtime> update` with the runtime's own flags (`--cpu-quota`, `--cpu-period`,
//! `--memory`, ...), or `-r -` with a `linux.resources` JSON where no flag can say it.
//!
//! A process that runs containers this way should be a child subreaper
//! ([`become_subreaper`]): the runtime's `create` exits and leaves the container's init
//! orphaned; a subreaper gets it as a child and so learns how it ended.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use limitcheck_cgroup::{Cgroup, Controller, Layout, Limit, Max, ThrottleKind};
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use serde_json::{json, Map, Value};

use crate::container::ExitInfo;
use crate::error::{Result, RuntimeError};

/// The file in a bundle directory that says which runtime created its container, so that a
/// sweep can remove it with the same runtime (`{"program": ..., "root": ...}`).
pub const RUNTIME_RECORD: &str = "runtime.json";

/// Makes this process a child subreaper (prctl `PR_SET_CHILD_SUBREAPER`): the inits the
/// runtimes leave orphaned become its children, and their exit statuses its to read.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// An OCI runtime binary and the state root it is run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRuntime {
    /// The program.
    pub program: PathBuf,
    /// Its `--root`.
    pub root: PathBuf,
}

impl OciRuntime {
    /// `program` with `--root root`.
    pub fn new(program: impl Into<PathBuf>, root: impl Into<PathBuf>) -> Self {
        OciRuntime {
            program: program.into(),
            root: root.into(),
        }
    }

    /// The runtime's name (its file name): `runc`.
    pub fn name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string())
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--root").arg(&self.root);
        die_with_parent(&mut c);
        c
    }

    /// Runs one of its subcommands to the end; its standard error is the failure's reason.
    fn call(&self, op: &'static str, args: &[&str], stdin: Option<&[u8]>) -> Result<String> {
        let mut c = self.command();
        c.arg(op).args(args);
        let out = run_to_end(c, stdin).map_err(|e| self.cannot_run(op, e))?;
        if !out.status.success() {
            return Err(RuntimeError::External {
                runtime: self.name(),
                op,
                status: out.status.to_string(),
                said: said(&out.stderr),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn cannot_run(&self, op: &'static str, e: std::io::Error) -> RuntimeError {
        RuntimeError::External {
            runtime: self.name(),
            op,
            status: "not started".into(),
            said: format!("cannot run {}: {e}", self.program.display()),
        }
    }

    /// Its version line (`runc --version`'s first).
    pub fn version(&self) -> Result<String> {
        let out = Command::new(&self.program)
            .arg("--version")
            .output()
            .map_err(|e| self.cannot_run("--version", e))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string())
    }

    /// Creates container `id` from the bundle in `dir` whose spec is `spec`: writes
    /// `config.json` (cgroup `/limitcheck/<id>` unless the spec names one, as a container in
    /// a scenario's group does; `limits` as `linux.resources`) and
    /// [`RUNTIME_RECORD`], and runs `create`. The container's stdio is `stdio` (passed through
    /// by the runtime, as with `docker run -d`); the runtime's own complaints go there too,
    /// and the failure's reason quotes them.
    pub fn create(
        &self,
        id: &str,
        dir: &Path,
        spec: &Spec,
        limits: &[Limit],
        stdio: [OwnedFd; 3],
    ) -> Result<OciContainer> {
        let mut spec = spec.clone();
        let mut linux = spec.linux().clone().unwrap_or_default();
        if linux.cgroups_path().is_none() {
            linux.set_cgroups_path(Some(
                Path::new("/")
                    .join(limitcheck_cgroup::DEFAULT_PARENT)
                    .join(id),
            ));
        }
        linux.set_resources(None);
        spec.set_linux(Some(linux));
        let mut config = serde_json::to_value(&spec).map_err(|e| RuntimeError::Spec {
            file: dir.join("config.json").display().to_string(),
            field: "(whole)".into(),
            reason: e.to_string(),
        })?;
        config["linux"]["resources"] = resources_json(limits);
        let config_path = dir.join("config.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&config).expect("a JSON value serializes"),
        )
        .map_err(RuntimeError::io("write", &config_path))?;
        let record = dir.join(RUNTIME_RECORD);
        std::fs::write(
            &record,
            serde_json::to_vec(&json!({ "program": self.program, "root": self.root }))
                .expect("serializes"),
        )
        .map_err(RuntimeError::io("write", &record))?;
        std::fs::create_dir_all(&self.root).map_err(RuntimeError::io("create", &self.root))?;
        let pid_file = dir.join("init.pid");
        let [stdin, stdout, stderr] = stdio;
        let log = dir.join("runtime-create.log");
        let status = self
            .command()
            .arg("create")
            .arg("--bundle")
            .arg(dir)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id)
            .current_dir(dir)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(
                std::fs::File::create(&log)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::from(stderr)),
            )
            .status()
            .map_err(|e| self.cannot_run("create", e))?;
        let complaint = std::fs::read(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if !status.success() {
            // Whatever it left (state, a cgroup) goes now: its own delete first, then what
            // that left (youki 0.7 leaves the state of a failed create, and cannot delete it).
            let _ = self.remove(id);
            let _ = std::fs::remove_dir_all(self.root.join(id));
            return Err(RuntimeError::External {
                runtime: self.name(),
                op: "create",
                status: status.to_string(),
                said: said(&complaint),
            });
        }
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| RuntimeError::External {
                runtime: self.name(),
                op: "create",
                status: status.to_string(),
                said: format!("it wrote no pid into {}", pid_file.display()),
            })?;
        let layout = Layout::detect()?;
        let place = cgroup_of(pid, &layout)?;
        Ok(OciContainer {
            rt: self.clone(),
            id: id.to_string(),
            pid,
            place,
            layout,
            reaped: std::sync::Mutex::new(None),
        })
    }

    /// Removes container `id` whatever its state (`delete --force`), then its cgroup
    /// `/limitcheck/<id>` if the runtime left it. True if there was something to remove.
    pub fn remove(&self, id: &str) -> Result<bool> {
        let had_state = self.root.join(id).exists();
        let deleted = self.call("delete", &["--force", id], None);
        let layout = Layout::detect()?;
        let cg = layout
            .cgroup()
            .name(id)
            .controllers(&layout.available())
            .open_partial()?;
        let had_cgroup = !cg.dirs().is_empty();
        if had_cgroup {
            cg.destroy()?;
        }
        tidy_cgroup_parents(Some(id));
        match deleted {
            Err(e) if had_state && self.root.join(id).exists() => Err(e),
            _ => Ok(had_state || had_cgroup),
        }
    }
}

/// The mount points of every cgroup filesystem here, v1 named hierarchies (`name=systemd`,
/// which limitcheck does not model but runc and docker fill) included.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    limitcheck_cgroup::tree::mount_points()
}

/// Removes what another runtime or an engine left under `/limitcheck` in hierarchies
/// limitcheck does not model: `child` if it is empty, then the `limitcheck` parent if that is
/// (an rmdir of a non-empty directory fails and leaves it).
pub fn tidy_cgroup_parents(child: Option<&str>) {
    for mp in cgroup_mounts() {
        let parent = mp.join(limitcheck_cgroup::DEFAULT_PARENT);
        if let Some(c) = child {
            let _ = std::fs::remove_dir(parent.join(c));
        }
        let _ = std::fs::remove_dir(&parent);
    }
}

/// Makes `cmd`'s process die with the thread that starts it (SIGKILL, `PR_SET_PDEATHSIG`):
/// a runtime or engine call in flight when limitcheck is killed does not finish after its
/// guardian has looked (a `create` completing then would leave a container behind).
pub(crate) fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Runs `cmd` to its end with `stdin` fed to it (from a thread of its own, so that a
/// program that writes before it reads cannot block on a full pipe), its output captured.
pub(crate) fn run_to_end(
    mut cmd: Command,
    stdin: Option<&[u8]>,
) -> std::io::Result<std::process::Output> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let feeder = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || pipe.write_all(&data)))
        }
        _ => None,
    };
    let out = child.wait_with_output();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    out
}

/// The last lines of what a runtime printed, on one line.
pub(crate) fn said(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    // A Rust runtime run with RUST_BACKTRACE set (youki) ends its error with a backtrace: the
    // words are before it.
    let frame = |l: &str| {
        let t = l.trim_start();
        t.starts_with("at ")
            || t.split_once(": ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| {
            !l.trim_start()
                .to_ascii_lowercase()
                .starts_with("stack backtrace")
        })
        .filter(|l| !l.trim().is_empty() && !frame(l))
        .collect();
    if lines.is_empty() {
        return "(it printed nothing)".into();
    }
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// Where the runtime put process `pid`: the parent and name of its cgroup (as in the cpu
/// hierarchy's line of `/proc/<pid>/cgroup`, or the v2 line), and the controllers whose
/// hierarchies hold it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupPlace {
    /// The parent, below each hierarchy's root.
    pub parent: PathBuf,
    /// The cgroup's own name.
    pub name: String,
    /// The controllers it is in there.
    pub controllers: Vec<Controller>,
}

/// Reads where `pid` is from `/proc/<pid>/cgroup`.
pub fn cgroup_of(pid: i32, layout: &Layout) -> Result<CgroupPlace> {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).map_err(RuntimeError::io("read", &path))?;
    place_from(&text, layout).ok_or_else(|| {
        RuntimeError::Init(format!(
            "{path} names no cgroup limitcheck can measure: {}",
            text.trim().replace('\n', "; ")
        ))
    })
}

/// [`cgroup_of`] on the text of a `/proc/<pid>/cgroup`.
pub fn place_from(text: &str, layout: &Layout) -> Option<CgroupPlace> {
    let mut v1: Vec<(Vec<&str>, &str)> = Vec::new();
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrls.is_empty() {
            v2 = Some(path);
        } else {
            v1.push((ctrls.split(',').collect(), path));
        }
    }
    let pure_v2 = layout.version() == limitcheck_cgroup::Version::V2;
    let main = if pure_v2 {
        v2?
    } else {
        v1.iter()
            .find(|(c, _)| c.contains(&"cpu"))
            .map(|(_, p)| *p)?
    };
    let rel = Path::new(main.trim_start_matches('/'));
    let name = rel.file_name()?.to_string_lossy().into_owned();
    let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    let available = layout.available();
    let controllers = available
        .into_iter()
        .filter(|c| {
            pure_v2
                || v1
                    .iter()
                    .any(|(names, p)| *p == main && names.contains(&c.v1_name()))
            // v1 controllers that live in the v2 tree on a hybrid host (none modeled
            // today) would be here.
        })
        .collect();
    Some(CgroupPlace {
        parent,
        name,
        controllers,
    })
}

/// A container another runtime made.
#[derive(Debug)]
pub struct OciContainer {
    rt: OciRuntime,
    id: String,
    pid: i32,
    place: CgroupPlace,
    layout: Layout,
    reaped: std::sync::Mutex<Option<(Option<i32>, Option<i32>)>>,
}

impl OciContainer {
    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The init's host pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its cgroup, where the runtime put it.
    pub fn cgroup(&self) -> Result<Cgroup> {
        Ok(self.builder().open()?)
    }

    fn builder(&self) -> limitcheck_cgroup::CgroupBuilder<'_> {
        self.layout
            .cgroup()
            .parent(&self.place.parent)
            .name(&self.place.name)
            .controllers(&self.place.controllers)
    }

    /// `start`.
    pub fn start(&self) -> Result<()> {
        self.rt.call("start", &[&self.id], None).map(|_| ())
    }

    /// `pause`.
    pub fn pause(&self) -> Result<()> {
        self.rt.call("pause", &[&self.id], None).map(|_| ())
    }

    /// `resume`.
    pub fn resume(&self) -> Result<()> {
        self.rt.call("resume", &[&self.id], None).map(|_| ())
    }

    /// `update` with the runtime's flags for `limits`, or `-r -` and a `linux.resources` JSON
    /// when a flag cannot say one of them. The arguments it was given are returned.
    pub fn update(&self, limits: &[Limit]) -> Result<Vec<String>> {
        let (args, stdin) = match update_flags(limits) {
            Some(flags) => (flags, None),
            None => (
                vec!["-r".to_string(), "-".to_string()],
                Some(resources_json(limits).to_string()),
            ),
        };
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push(&self.id);
        self.rt
            .call("update", &all, stdin.as_deref().map(str::as_bytes))?;
        Ok(args)
    }

    /// Whether the init has ended, without waiting: how, when this process is its parent (a
    /// subreaper) and reaps it, or with code and signal `None` when it cannot know.
    pub fn try_wait(&self) -> Result<Option<ExitInfo>> {
        if let Some((code, signal)) = *self.reaped.lock().expect("not poisoned") {
            return Ok(Some(exit(code, signal)));
        }
        let r = match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(WaitStatus::Exited(_, c)) => (Some(c), None),
            Ok(WaitStatus::Signaled(_, s, _)) => (None, Some(s as i32)),
            Ok(_) => return Ok(None),
            // Not this process's child: watch it go.
            Err(Errno::ECHILD) => {
                if crate::state::proc_stat(self.pid).is_some_and(|(state, _)| state != 'Z') {
                    return Ok(None);
                }
                (None, None)
            }
            Err(e) => return Err(RuntimeError::sys(format!("wait for {}", self.pid))(e)),
        };
        *self.reaped.lock().expect("not poisoned") = Some(r);
        Ok(Some(exit(r.0, r.1)))
    }

    /// `delete --force` (what still runs is killed), then the cgroup if the runtime left it,
    /// and the init reaped.
    pub fn delete(self) -> Result<()> {
        let r = self.rt.remove(&self.id);
        if self.reaped.lock().expect("not poisoned").is_none() {
            for _ in 0..200 {
                match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) => {
                        std::thread::sleep(std::time::Duration::from_millis(5))
                    }
                    _ => break,
                }
            }
        }
        r.map(|_| ())
    }
}

fn exit(code: Option<i32>, signal: Option<i32>) -> ExitInfo {
    ExitInfo {
        code,
        signal,
        oom_killed: false,
    }
}

pub(crate) fn max_i64(m: Max) -> i64 {
    match m {
        Max::Unlimited => -1,
        Max::Value(v) => v as i64,
    }
}

/// The `linux.resources` (runtime-spec field names) that say `limits`. A limit without a
/// `linux.resources` field of its own goes into `unified` (cgroup v2 file names).
pub fn resources_json(limits: &[Limit]) -> Value {
    let mut cpu = Map::new();
    let mut memory = Map::new();
    let mut r = Map::new();
    let mut unified = Map::new();
    let mut block_io = Map::new();
    for l in limits {
        match l {
            Limit::CpuMax {
                quota_us,
                period_us,
            } => {
                cpu.insert("quota".into(), json!(max_i64(*quota_us)));
                cpu.insert("period".into(), json!(period_us));
            }
            Limit::CpuBurst(b) => {
                cpu.insert("burst".into(), json!(b));
            }
            Limit::CpuShares(s) => {
                cpu.insert("shares".into(), json!(s));
            }
            Limit::CpuWeight(w) => {
                unified.insert("cpu.weight".into(), json!(w.to_string()));
            }
            Limit::CpusetCpus(c) => {
                cpu.insert("cpus".into(), json!(c.to_string()));
            }
            Limit::CpusetMems(m) => {
                cpu.insert("mems".into(), json!(m.to_string()));
            }
            Limit::MemoryMax(m) => {
                memory.insert("limit".into(), json!(max_i64(*m)));
            }
            Limit::MemorySwapMax(m) => {
                memory.insert("swap".into(), json!(max_i64(*m)));
            }
            Limit::MemorySoftLimit(m) => {
                memory.insert("reservation".into(), json!(max_i64(*m)));
            }
            Limit::MemoryHigh(m) => {
                unified.insert("memory.high".into(), json!(m.to_string()));
            }
            Limit::MemoryLow(v) => {
                unified.insert("memory.low".into(), json!(v.to_string()));
            }
            Limit::MemoryMin(v) => {
                unified.insert("memory.min".into(), json!(v.to_string()));
            }
            Limit::PidsMax(m) => {
                r.insert("pids".into(), json!({ "limit": max_i64(*m) }));
            }
            Limit::BlkioWeight(w) => {
                block_io.insert("weight".into(), json!(w));
            }
            // runc writes `major:minor rate` to blkio.throttle.* (v1) or io.max (v2, where a
            // rate of 0 is `max`); 0 lifts the throttle on both.
            Limit::IoThrottle { device, kind, rate } => {
                let field = match kind {
                    ThrottleKind::ReadBps => "throttleReadBpsDevice",
                    ThrottleKind::WriteBps => "throttleWriteBpsDevice",
                    ThrottleKind::ReadIops => "throttleReadIOPSDevice",
                    ThrottleKind::WriteIops => "throttleWriteIOPSDevice",
                };
                let rate = match rate {
                    Max::Unlimited => 0,
                    Max::Value(v) => *v,
                };
                if let Value::Array(a) = block_io.entry(field).or_insert_with(|| json!([])) {
                    a.push(json!({"major": device.major, "minor": device.minor, "rate": rate}));
                }
            }
            Limit::Freezer(_) => {}
        }
    }
    if !block_io.is_empty() {
        r.insert("blockIO".into(), Value::Object(block_io));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }
    if !memory.is_empty() {
        r.insert("memory".into(), Value::Object(memory));
    }
    if !unified.is_empty() {
        r.insert("unified".into(), Value::Object(unified));
    }
    Value::Object(r)
}

/// The flags that say one limit, or `None` when there is none: runc's `update` flags (which
/// crun and youki share), or with `engine` docker's and podman's (`run` and `update`), which
/// say a quota over the default 100 ms period as `--cpus`, as people write it, and shares as
/// `--cpu-shares`.
pub(crate) fn flags_of(l: &Limit, engine: bool) -> Option<Vec<String>> {
    let flag = |name: &str, v: String| Some(vec![format!("--{name}"), v]);
    match l {
        Limit::CpuMax {
            quota_us: Max::Value(q),
            period_us: 100_000,
        } if engine => flag("cpus", format!("{}", *q as f64 / 100_000.0)),
        Limit::CpuMax {
            quota_us,
            period_us,
        } => Some(vec![
            "--cpu-quota".into(),
            max_i64(*quota_us).to_string(),
            "--cpu-period".into(),
            period_us.to_string(),
        ]),
        Limit::CpuShares(s) => flag(
            if engine { "cpu-shares" } else { "cpu-share" },
            s.to_string(),
        ),
        Limit::CpusetCpus(c) => flag("cpuset-cpus", c.to_string()),
        Limit::CpusetMems(m) => flag("cpuset-mems", m.to_string()),
        Limit::MemoryMax(m) => flag("memory", max_i64(*m).to_string()),
        Limit::MemorySwapMax(m) => flag("memory-swap", max_i64(*m).to_string()),
        Limit::MemorySoftLimit(m) => flag("memory-reservation", max_i64(*m).to_string()),
        Limit::PidsMax(m) => flag("pids-limit", max_i64(*m).to_string()),
        Limit::BlkioWeight(w) => flag("blkio-weight", w.to_string()),
        // docker's and podman's `run` name the device by its node (`/dev/vda:10485760`);
        // runc's update has no such flag.
        Limit::IoThrottle {
            device,
            kind,
            rate: Max::Value(r),
        } if engine => {
            let node = device_node(*device)?;
            let name = match kind {
                ThrottleKind::ReadBps => "device-read-bps",
                ThrottleKind::WriteBps => "device-write-bps",
                ThrottleKind::ReadIops => "device-read-iops",
                ThrottleKind::WriteIops => "device-write-iops",
            };
            flag(name, format!("{}:{r}", node.display()))
        }
        _ => None,
    }
}

/// The device node of block device `dev` (`/dev/vda` for 254:0): its `DEVNAME` in sysfs,
/// where that node is that device (a host without udev has no `/dev/block` links).
fn device_node(dev: limitcheck_cgroup::DeviceNumber) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{dev}/uevent")).ok()?;
    let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
    let node = Path::new("/dev").join(name);
    let st = nix::sys::stat::stat(&node).ok()?;
    let is_block = std::fs::metadata(&node).ok()?.file_type().is_block_device();
    let (major, minor) = (
        nix::sys::stat::major(st.st_rdev) as u32,
        nix::sys::stat::minor(st.st_rdev) as u32,
    );
    (is_block && major == dev.major && minor == dev.minor).then_some(node)
}

/// The `update` flags (runc's, which crun and youki share) that say `limits`, or `None` when
/// one of them has no flag (burst, v2-only files, I/O throttles).
pub fn update_flags(limits: &[Limit]) -> Option<Vec<String>> {
    let each: Option<Vec<Vec<String>>> = limits.iter().map(|l| flags_of(l, false)).collect();
    each.map(|v| v.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a runtime said is its words, not the backtrace a Rust runtime prints after them
    /// when RUST_BACKTRACE is set.
    #[test]
    fn what_a_runtime_said_leaves_out_its_backtrace() {
        let youki = b"ERROR youki: failed to create container: v1 cgroup feature is required\n\nStack backtrace:\n   0: anyhow::error::<impl anyhow::Error>::msg\n             at /root/.cargo/registry/src/anyhow-1.0/src/error.rs:83:36\n   8: __libc_start_main_impl\n             at ./csu/../csu/libc-start.c:360:3\n   9: <unknown>\n";
        assert_eq!(
            said(youki),
            "ERROR youki: failed to create container: v1 cgroup feature is required"
        );
        assert_eq!(said(b""), "(it printed nothing)");
        assert_eq!(said(b"a\nb\nc\nd\n"), "b | c | d");
    }

    #[test]
    fn limits_become_the_runtimes_flags_or_a_resources_document() {
        let quota = Limit::CpuMax {
            quota_us: Max::Value(50_000),
            period_us: 100_000,
        };
        assert_eq!(
            update_flags(&[quota.clone(), Limit::MemoryMax(Max::Value(1 << 27))]).unwrap(),
            [
                "--cpu-quota",
                "50000",
                "--cpu-period",
                "100000",
                "--memory",
                "134217728"
            ]
        );
        assert_eq!(
            update_flags(&[Limit::PidsMax(Max::Unlimited)]).unwrap(),
            ["--pids-limit", "-1"]
        );
        // Burst has no flag: the whole update goes as a document.
        assert_eq!(
            update_flags(&[quota.clone(), Limit::CpuBurst(20_000)]),
            None
        );
        assert_eq!(
            resources_json(&[
                quota,
                Limit::CpuBurst(20_000),
                Limit::MemoryHigh(Max::Unlimited)
            ]),
            json!({"cpu": {"quota": 50000, "period": 100000, "burst": 20000},
                   "unified": {"memory.high": "max"}})
        );
        // I/O throttles are the spec's blockIO device lists, beside the weight; an unlimited
        // rate is 0 (runc: no throttle).
        let dev = limitcheck_cgroup::DeviceNumber {
            major: 254,
            minor: 0,
        };
        let io = |kind, rate| Limit::IoThrottle {
            device: dev,
            kind,
            rate,
        };
        assert_eq!(
            resources_json(&[
                Limit::BlkioWeight(300),
                io(ThrottleKind::WriteBps, Max::Value(10 << 20)),
                io(ThrottleKind::ReadIops, Max::Unlimited),
            ]),
            json!({"blockIO": {
                "weight": 300,
                "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 10485760}],
                "throttleReadIOPSDevice": [{"major": 254, "minor": 0, "rate": 0}]
            }})
        );
    }

    #[test]
    fn engines_say_a_quota_over_100_ms_as_cpus_and_have_no_flag_for_burst() {
        use crate::engine::{limit_flags, without_flags};
        let half = Limit::CpuMax {
            quota_us: Max::Value(50_000),
            period_us: 100_000,
        };
        let odd = Limit::CpuMax {
            quota_us: Max::Value(50_000),
            period_us: 50_000,
        };
        assert_eq!(
            limit_flags(&[half, Limit::CpuShares(512)]),
            ["--cpus", "0.5", "--cpu-shares", "512"]
        );
        assert_eq!(
            limit_flags(&[odd]),
            ["--cpu-quota", "50000", "--cpu-period", "50000"]
        );
        assert_eq!(
            update_flags(&[Limit::CpuShares(512)]).unwrap(),
            ["--cpu-share", "512"]
        );
        assert_eq!(
            without_flags(&[Limit::CpuBurst(1), Limit::PidsMax(Max::Value(20))]),
            [Limit::CpuBurst(1)]
        );
    }

    #[test]
    fn the_cgroup_is_read_where_the_runtime_put_the_init() {
        let Ok(layout) = Layout::detect() else {
            return;
        };
        let text = match layout.version() {
            limitcheck_cgroup::Version::V2 => "0::/limitcheck/lcr-x\n".to_string(),
            _ => "12:pids:/limitcheck/lcr-x\n4:cpu,cpuacct:/limitcheck/lcr-x\n3:memory:/elsewhere\n0::/limitcheck/lcr-x\n".to_string(),
        };
        let p = place_from(&text, &layout).unwrap();
        assert_eq!(p.parent, Path::new("limitcheck"));
        assert_eq!(p.name, "lcr-x");
        if layout.version() != limitcheck_cgroup::Version::V2 {
            assert!(p.controllers.contains(&Controller::Cpu), "{p:?}");
            assert!(!p.controllers.contains(&Controller::Memory), "{p:?}");
        }
    }
}
