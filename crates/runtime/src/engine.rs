//! A container engine (docker, podman) driven through its command line, as the seed's
//! experiments ran: `docker run --cpus=1 … stress-ng`, changed with `docker update`.
//!
//! The image is the host-made rootfs (its skeleton: empty mount points, a minimal `/etc`, the
//! merged-/usr symlinks) imported from a tarball (`docker import`, no download), and each
//! container gets the host-made bundle's mounts as the engine's own flags: the host's `/usr`,
//! `/bin`, `/lib*` bound read-only, a `/tmp` tmpfs as its working directory, the limitcheck
//! binary under `/opt/limitcheck/bin`. Limits are the engine's flags (`--cpus`, `--cpu-quota`,
//! `--cpu-period`, `-m`, `--memory-swap`, `--pids-limit`, `--cpuset-cpus`, `--cpu-shares`);
//! `update` steps are `docker update`/`podman update`; the cgroup measured is where the engine
//! put the init (`inspect`'s pid, then `/proc/<pid>/cgroup`).

use std::path::{Path, PathBuf};
use std::process::Command;

use limitcheck_cgroup::{Cgroup, Layout, Limit};
use oci_spec::runtime::Spec;
use serde_json::json;

use crate::container::ExitInfo;
use crate::error::{Result, RuntimeError};
use crate::oci_cli::{cgroup_of, CgroupPlace};

/// The file in a bundle directory that says which engine holds its container, for sweeps.
pub const ENGINE_RECORD: &str = "engine.json";

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// docker (dockerd through the docker CLI).
    Docker,
    /// podman (rootful; daemonless).
    Podman,
}

impl EngineKind {
    /// `docker` or `podman`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

/// An engine's CLI and the global flags every call gets (`-H unix:///…` for a docker daemon
/// of one's own; podman's `--root`, `--runroot`, `--cgroup-manager cgroupfs`, `--runtime`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Engine {
    /// docker or podman.
    pub kind: String,
    /// The program.
    pub program: PathBuf,
    /// Global flags, before the subcommand.
    pub global: Vec<String>,
}

/// The image the host-made rootfs is imported as.
pub const IMAGE: &str = "limitcheck-hostfs:1";

impl Engine {
    /// `kind` run as `program` with `global` flags.
    pub fn new(kind: EngineKind, program: impl Into<PathBuf>, global: Vec<String>) -> Self {
        Engine {
            kind: kind.name().to_string(),
            program: program.into(),
            global,
        }
    }

    /// docker through the daemon `DOCKER_HOST` names (else the default one), named in every
    /// call (`-H`), so that a sweep by a later run (or the guardian) reaches the same daemon.
    pub fn docker() -> Self {
        let global = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .map(|h| vec!["-H".to_string(), h])
            .unwrap_or_default();
        Engine::new(EngineKind::Docker, "docker", global)
    }

    /// Rootful podman as limitcheck runs it: `--cgroup-manager cgroupfs` (no systemd needed),
    /// its OCI runtime `runtime` if given (`--runtime`; else podman's configured one), and the
    /// storage that `CONTAINERS_STORAGE_CONF` names, if set, as `--root`/`--runroot` flags, so
    /// that a later run's sweep reaches the same containers without that variable.
    pub fn podman(runtime: Option<&Path>) -> Result<Self> {
        let mut global = vec!["--cgroup-manager".to_string(), "cgroupfs".to_string()];
        if let Some(conf) = std::env::var_os("CONTAINERS_STORAGE_CONF").filter(|v| !v.is_empty()) {
            let conf = PathBuf::from(conf);
            let text = std::fs::read_to_string(&conf).map_err(RuntimeError::io("read", &conf))?;
            for (key, flag) in [("graphroot", "--root"), ("runroot", "--runroot")] {
                if let Some(v) = storage_conf_value(&text, key) {
                    global.push(flag.into());
                    global.push(v);
                }
            }
        }
        if let Some(r) = runtime {
            global.push("--runtime".into());
            global.push(r.display().to_string());
        }
        Ok(Engine::new(EngineKind::Podman, "podman", global))
    }

    fn is_docker(&self) -> bool {
        self.kind == "docker"
    }

    /// The flags that make podman's container like the host-made bundle's in what limitcheck
    /// does not set: podman writes its own rlimits (nofile 1048576, nproc the kernel's
    /// pid_max) and a pids limit of 2048 into every container, where lcrun's and docker's
    /// inherit the host's and set none. Raising an rlimit past one's own needs
    /// CAP_SYS_RESOURCE, which a CI sandbox may lack (then every podman container fails with
    /// `setrlimit RLIMIT_NOFILE: Operation not permitted`); so the container gets this
    /// process's own limits, nproc no higher than podman's (it lowers its own to pid_max).
    fn podman_defaults(limits: &[Limit]) -> Vec<String> {
        use nix::sys::resource::{getrlimit, Resource};
        let mut v = Vec::new();
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            v.push("--ulimit".into());
            v.push(format!("nofile={soft}:{hard}"));
        }
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NPROC) {
            let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(u64::MAX);
            v.push("--ulimit".into());
            v.push(format!("nproc={}:{}", soft.min(pid_max), hard.min(pid_max)));
        }
        if !limits.iter().any(|l| matches!(l, Limit::PidsMax(_))) {
            v.push("--pids-limit".into());
            v.push("-1".into());
        }
        v
    }

    /// Runs `op args…` to its end; the engine's standard error is a failure's reason.
    fn call(&self, op: &'static str, args: &[&str], stdin: Option<&[u8]>) -> Result<String> {
        let mut c = Command::new(&self.program);
        crate::oci_cli::die_with_parent(&mut c);
        c.args(&self.global).arg(op).args(args);
        let out = crate::oci_cli::run_to_end(c, stdin).map_err(|e| RuntimeError::External {
            runtime: self.kind.clone(),
            op,
            status: "not started".into(),
            said: format!("cannot run {}: {e}", self.program.display()),
        })?;
        if !out.status.success() {
            return Err(RuntimeError::External {
                runtime: self.kind.clone(),
                op,
                status: out.status.to_string(),
                said: crate::oci_cli::said(&out.stderr),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Its version (`docker version`'s server line, `podman --version`).
    pub fn version(&self) -> Result<String> {
        if self.is_docker() {
            let v = self.call("version", &["--format", "{{.Server.Version}}"], None)?;
            Ok(format!("docker {v} (server)"))
        } else {
            let v = self.call("version", &["--format", "podman {{.Client.Version}}"], None)?;
            // With the OCI runtime it was given, which is what differs between podman lanes.
            match self.global.iter().position(|g| g == "--runtime") {
                Some(i) => Ok(format!(
                    "{v} with {}",
                    self.global.get(i + 1).map_or("?", String::as_str)
                )),
                None => Ok(v),
            }
        }
    }

    /// Imports the host-made rootfs `rootfs` as [`IMAGE`] unless it is there already.
    pub fn ensure_image(&self, rootfs: &Path) -> Result<()> {
        if self.call("image", &["inspect", IMAGE], None).is_ok() {
            return Ok(());
        }
        let tar = Command::new("tar")
            .arg("-C")
            .arg(rootfs)
            .args(["-c", "."])
            .output()
            .map_err(RuntimeError::io("run tar on", rootfs))?;
        if !tar.status.success() {
            return Err(RuntimeError::External {
                runtime: "tar".into(),
                op: "-c",
                status: tar.status.to_string(),
                said: String::from_utf8_lossy(&tar.stderr).trim().to_string(),
            });
        }
        self.call("import", &["-", IMAGE], Some(&tar.stdout))
            .map(|_| ())
    }

    /// Creates container `name` from the host-made bundle `spec` (its process, environment,
    /// working directory and mounts as the engine's flags; the parent of its cgroupsPath, if
    /// it has one, as `--cgroup-parent`) with `limits` as the engine's flags, and records it
    /// in the bundle directory `dir` for sweeps.
    pub fn create(
        &self,
        name: &str,
        dir: &Path,
        spec: &Spec,
        limits: &[Limit],
    ) -> Result<EngineContainer> {
        let record = dir.join(ENGINE_RECORD);
        std::fs::write(
            &record,
            serde_json::to_vec(&json!({ "engine": self, "name": name })).expect("serializes"),
        )
        .map_err(RuntimeError::io("write", &record))?;
        let mut args: Vec<String> = vec![
            "--name".into(),
            name.into(),
            "--network".into(),
            "none".into(),
            "--label".into(),
            "limitcheck=1".into(),
            // Its cgroup under limitcheck's own tree (`/limitcheck/<container id>`), where
            // sweeps and the leftover checks look, not the engine's default `/docker`; in a
            // group, under the group's cgroup (the bundle's cgroupsPath names it).
            "--cgroup-parent".into(),
            spec.linux()
                .as_ref()
                .and_then(|l| l.cgroups_path().as_ref())
                .and_then(|p| p.parent())
                .filter(|p| p.starts_with("/"))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| format!("/{}", limitcheck_cgroup::DEFAULT_PARENT)),
        ];
        if let Some(p) = spec.process() {
            args.push("--workdir".into());
            args.push(p.cwd().display().to_string());
            for e in p.env().iter().flatten() {
                args.push("--env".into());
                args.push(e.clone());
            }
            if let Some(adj) = p.oom_score_adj() {
                args.push(format!("--oom-score-adj={adj}"));
            }
        }
        for m in spec.mounts().iter().flatten() {
            let dest = m.destination().display().to_string();
            match (m.typ().as_deref(), m.source()) {
                (Some("bind"), Some(src)) => {
                    let ro = if m.options().iter().flatten().any(|o| o == "ro") {
                        ",readonly"
                    } else {
                        ""
                    };
                    args.push("--mount".into());
                    args.push(format!(
                        "type=bind,source={},target={dest}{ro}",
                        src.display()
                    ));
                }
                (Some("tmpfs"), _) if dest == "/tmp" => {
                    let size = m
                        .options()
                        .iter()
                        .flatten()
                        .find(|o| o.starts_with("size="))
                        .cloned()
                        .unwrap_or_else(|| format!("size={}", crate::hostfs::TMP_SIZE));
                    args.push("--tmpfs".into());
                    args.push(format!("/tmp:rw,exec,{size},mode=1777"));
                }
                // /proc, /dev, /sys and the like: the engine makes its own.
                _ => {}
            }
        }
        if !self.is_docker() {
            // podman would put its conmon in `<cgroup parent>/conmon` and leave that cgroup
            // behind (a conmon still running `podman container cleanup` when `rm` returns):
            // conmon stays in limitcheck's own cgroup instead.
            args.push("--cgroups=no-conmon".into());
            args.extend(Self::podman_defaults(limits));
        }
        args.extend(limit_flags(limits));
        args.push(IMAGE.into());
        if let Some(p) = spec.process() {
            args.extend(p.args().iter().flatten().cloned());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.call("create", &refs, None)?;
        Ok(EngineContainer {
            engine: self.clone(),
            name: name.into(),
            pid: 0,
            start_ticks: None,
            place: None,
            layout: Layout::detect()?,
        })
    }

    /// Removes container `name` (`rm -f`). True if there was one.
    pub fn remove(&self, name: &str) -> Result<bool> {
        if self
            .call("inspect", &["--type", "container", name], None)
            .is_err()
        {
            return Ok(false);
        }
        let r = self.call("rm", &["-f", name], None).map(|_| true);
        crate::oci_cli::tidy_cgroup_parents(None);
        r
    }

    /// The engine a bundle's container was made with, if any.
    pub fn recorded(bundle: &Path) -> Option<(Engine, String)> {
        #[derive(serde::Deserialize)]
        struct Rec {
            engine: Engine,
            name: String,
        }
        let text = std::fs::read(bundle.join(ENGINE_RECORD)).ok()?;
        let r: Rec = serde_json::from_slice(&text).ok()?;
        Some((r.engine, r.name))
    }
}

/// The value of `key` in a containers-storage.conf (`graphroot = "/var/lib/containers"`).
fn storage_conf_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The engine's flags for `limits` (`docker run`'s and `docker update`'s, which podman
/// shares): a quota over the default 100 ms period as `--cpus`, as people write it. A limit
/// without a flag is left out (see [`without_flags`]).
pub fn limit_flags(limits: &[Limit]) -> Vec<String> {
    limits
        .iter()
        .filter_map(|l| crate::oci_cli::flags_of(l, true))
        .flatten()
        .collect()
}

/// The limits of `limits` an engine has no flag for.
pub fn without_flags(limits: &[Limit]) -> Vec<Limit> {
    limits
        .iter()
        .filter(|l| crate::oci_cli::flags_of(l, true).is_none())
        .cloned()
        .collect()
}

/// A container an engine holds.
#[derive(Debug)]
pub struct EngineContainer {
    engine: Engine,
    name: String,
    pid: i32,
    start_ticks: Option<u64>,
    place: Option<CgroupPlace>,
    layout: Layout,
}

/// The start time of `pid` while it runs (not once it is a zombie): what tells it from a
/// later process with the same pid.
fn start_ticks(pid: i32) -> Option<u64> {
    crate::state::proc_stat(pid)
        .filter(|(state, _)| *state != 'Z')
        .map(|(_, start)| start)
}

impl EngineContainer {
    /// Its name.
    pub fn id(&self) -> &str {
        &self.name
    }

    /// Its init's host pid (0 before start).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its cgroup, where the engine put the init.
    pub fn cgroup(&self) -> Result<Cgroup> {
        let p = self.place.as_ref().ok_or_else(|| {
            RuntimeError::Init(format!(
                "{} has no cgroup to measure: it is not started, or ended at once",
                self.name
            ))
        })?;
        Ok(self
            .layout
            .cgroup()
            .parent(&p.parent)
            .name(&p.name)
            .controllers(&p.controllers)
            .open()?)
    }

    /// `start`, then where its init is.
    pub fn start(&mut self) -> Result<()> {
        self.engine.call("start", &[&self.name], None)?;
        let pid = self
            .engine
            .call("inspect", &["--format", "{{.State.Pid}}", &self.name], None)?;
        self.pid = pid.trim().parse().unwrap_or(0);
        if self.pid <= 0 {
            // It ended before it could be looked at (`true`): no pid, no cgroup; try_wait says
            // how it ended.
            return Ok(());
        }
        self.start_ticks = start_ticks(self.pid);
        self.place = Some(cgroup_of(self.pid, &self.layout)?);
        Ok(())
    }

    /// `pause`.
    pub fn pause(&self) -> Result<()> {
        self.engine.call("pause", &[&self.name], None).map(|_| ())
    }

    /// `unpause`.
    pub fn resume(&self) -> Result<()> {
        self.engine.call("unpause", &[&self.name], None).map(|_| ())
    }

    /// `update` with the engine's flags; a limit it has no flag for is refused (EINVAL, named),
    /// as are I/O throttles, which only `run` takes.
    pub fn update(&self, limits: &[Limit]) -> Result<Vec<String>> {
        let refused = without_flags(limits)
            .into_iter()
            .chain(
                limits
                    .iter()
                    .filter(|l| matches!(l, Limit::IoThrottle { .. }))
                    .cloned(),
            )
            .next();
        if let Some(l) = refused {
            return Err(RuntimeError::Spec {
                file: format!("{} update", self.engine.kind),
                field: l.kind().to_string(),
                reason: format!(
                    "{} update has no flag for {l}; use via = \"file\"",
                    self.engine.kind
                ),
            });
        }
        let mut args = limit_flags(limits);
        let all: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .chain([self.name.as_str()])
            .collect();
        self.engine.call("update", &all, None)?;
        args.push(self.name.clone());
        Ok(args)
    }

    /// Whether the init has ended: watched through `/proc` (it is the engine's shim's child,
    /// not ours); once gone, `inspect` says how.
    pub fn try_wait(&self) -> Result<Option<ExitInfo>> {
        if self.pid > 0 && self.start_ticks.is_some() && start_ticks(self.pid) == self.start_ticks {
            return Ok(None);
        }
        let state = self.engine.call(
            "inspect",
            &[
                "--format",
                "{{.State.Running}} {{.State.ExitCode}} {{.State.OOMKilled}}",
                &self.name,
            ],
            None,
        )?;
        let f: Vec<&str> = state.split_whitespace().collect();
        if f.first() == Some(&"true") {
            return Ok(None);
        }
        let code: Option<i32> = f.get(1).and_then(|c| c.parse().ok());
        let oom = f.get(2) == Some(&"true");
        // Engines report a signal's death as 128 + the signal, as a shell does.
        let (code, signal) = match code {
            Some(c) if c > 128 && c < 128 + 65 => (None, Some(c - 128)),
            c => (c, None),
        };
        Ok(Some(ExitInfo {
            code,
            signal,
            oom_killed: oom,
        }))
    }

    /// Its log (`logs`), written into `path`.
    pub fn save_log(&self, path: &Path) -> Result<()> {
        let mut c = Command::new(&self.engine.program);
        c.args(&self.engine.global).arg("logs").arg(&self.name);
        let out = c
            .output()
            .map_err(RuntimeError::io("run", &self.engine.program))?;
        let mut text = out.stdout;
        text.extend_from_slice(&out.stderr);
        std::fs::write(path, text).map_err(RuntimeError::io("write", path))
    }

    /// `rm -f`.
    pub fn delete(self) -> Result<()> {
        self.engine.remove(&self.name).map(|_| ())
    }
}

/// One line of the engine's own figures for a container (`docker stats --format '{{json .}}'`).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStat {
    /// The container's name, as the engine knows it.
    pub name: String,
    /// CPU use in CPUs: docker's `CPUPerc` (100% is one CPU) / 100.
    pub cpus: Option<f64>,
    /// Memory use, bytes: the first half of `MemUsage` (`1.5MiB / 23.4GiB`).
    pub memory_bytes: Option<u64>,
    /// Tasks: `PIDs`.
    pub pids: Option<u64>,
}

/// A size as docker and podman print it: `1.5MiB`, `512KiB`, `0B`, `2.1GB`, `1.5kB`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.trim().parse().ok()?;
    let mul = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1048576.0,
        "GiB" => 1073741824.0,
        "TiB" => 1099511627776.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    Some((n * mul).round() as u64)
}

/// One line of `docker stats --format '{{json .}}'` (or podman's, whose keys differ in case),
/// with the terminal codes docker puts between frames removed; None for a line that is not one.
pub fn parse_stats_line(line: &str) -> Option<EngineStat> {
    // docker clears the screen before each frame even when not on a terminal: ESC [ 2 J ...
    let mut clean = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        clean.push(c);
    }
    let start = clean.find('{')?;
    let v: serde_json::Value = serde_json::from_str(clean[start..].trim()).ok()?;
    let obj = v.as_object()?;
    let get = |keys: &[&str]| {
        obj.iter()
            .find(|(k, _)| keys.iter().any(|w| k.eq_ignore_ascii_case(w)))
            .map(|(_, v)| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let name = get(&["Name"])?;
    let cpus = get(&["CPUPerc", "CPU", "cpu_percent"])
        .and_then(|c| c.trim().trim_end_matches('%').trim().parse::<f64>().ok())
        .map(|p| p / 100.0);
    let memory_bytes =
        get(&["MemUsage", "mem_usage"]).and_then(|m| parse_size(m.split('/').next().unwrap_or("")));
    let pids = get(&["PIDs", "PIDS"]).and_then(|p| p.trim().parse().ok());
    Some(EngineStat {
        name,
        cpus,
        memory_bytes,
        pids,
    })
}

/// The records in a stream of `stats` output, line by line: docker writes a clear-screen code
/// and then a record a line; podman a JSON array over several lines. Each flat `{...}`,
/// wherever its lines break, is one record.
#[derive(Debug, Default)]
pub struct Records {
    pending: String,
}

impl Records {
    /// The records `line` completes.
    pub fn push(&mut self, line: &str) -> Vec<EngineStat> {
        self.pending.push_str(line);
        let mut out = Vec::new();
        while let Some(a) = self.pending.find('{') {
            let Some(b) = self.pending[a..].find('}') else {
                self.pending.drain(..a);
                return out;
            };
            out.extend(parse_stats_line(&self.pending[a..a + b + 1]));
            self.pending.drain(..a + b + 1);
        }
        self.pending.clear();
        out
    }
}

/// The engine's own figures for some containers as they stream (`docker stats`), read by a
/// thread until [`StatsStream::finish`].
pub struct StatsStream {
    child: std::process::Child,
    reader: Option<std::thread::JoinHandle<Vec<(std::time::Instant, EngineStat)>>>,
}

impl Engine {
    /// Starts `stats` for `names` (docker: a frame a second; podman: `--interval 1`).
    pub fn stats(&self, names: &[&str]) -> Result<StatsStream> {
        use std::io::BufRead;
        let mut c = Command::new(&self.program);
        crate::oci_cli::die_with_parent(&mut c);
        c.args(&self.global)
            .arg("stats")
            .args(["--no-trunc", "--format", "{{json .}}"]);
        if !self.is_docker() {
            c.args(["--interval", "1"]);
        }
        c.args(names)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().map_err(RuntimeError::io("run", &self.program))?;
        let out = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            // docker's CLI redraws twice a second from the daemon's readings once a second: a
            // record the same as the container's last is the same reading again.
            let mut split = Records::default();
            let mut last: Vec<EngineStat> = Vec::new();
            for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
                for st in split.push(&line) {
                    if !last.contains(&st) {
                        last.retain(|l| l.name != st.name);
                        last.push(st.clone());
                        got.push((std::time::Instant::now(), st));
                    }
                }
            }
            got
        });
        Ok(StatsStream {
            child,
            reader: Some(reader),
        })
    }
}

impl StatsStream {
    /// Stops the stream and returns every reading, with when it was read.
    pub fn finish(mut self) -> Vec<(std::time::Instant, EngineStat)> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reader
            .take()
            .and_then(|r| r.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for StatsStream {
    /// A stream never outlives its scenario, however it ended.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_lines_are_read_as_docker_and_podman_print_them() {
        // docker 20.10, not on a terminal: the clear-screen code, then the record.
        let docker = "\u{1b}[2J\u{1b}[H{\"BlockIO\":\"0B / 0B\",\"CPUPerc\":\"49.87%\",\"Container\":\"lcr-1-x-hog\",\"ID\":\"4f2c\",\"MemPerc\":\"0.01%\",\"MemUsage\":\"2.5MiB / 23.47GiB\",\"Name\":\"lcr-1-x-hog\",\"NetIO\":\"0B / 0B\",\"PIDs\":\"3\"}";
        assert_eq!(
            parse_stats_line(docker),
            Some(EngineStat {
                name: "lcr-1-x-hog".into(),
                cpus: Some(0.4987),
                memory_bytes: Some(2621440),
                pids: Some(3),
            })
        );
        // podman 4.3.1 `stats --format '{{json .}}'`: an array over several lines.
        let podman = "[\n {\n  \"id\": \"7ea022f2382f\",\n  \"name\": \"lcr-1-x-vm\",\n  \"cpu_time\": \"1.065684221s\",\n  \"cpu_percent\": \"150.20%\",\n  \"avg_cpu\": \"52.02%\",\n  \"mem_usage\": \"268.4MB / 25.28GB\",\n  \"mem_percent\": \"0.00%\",\n  \"net_io\": \"0B / 0B\",\n  \"block_io\": \"0B / 0B\",\n  \"pids\": \"4\"\n }\n]";
        let mut split = Records::default();
        let mut got = Vec::new();
        for line in podman.lines().chain(podman.lines()) {
            got.extend(split.push(line));
        }
        assert_eq!(got.len(), 2, "{got:?}");
        let p = got[0].clone();
        assert_eq!(p.name, "lcr-1-x-vm");
        assert!((p.cpus.unwrap() - 1.502).abs() < 1e-9);
        assert_eq!(p.memory_bytes, Some(268_400_000));
        assert_eq!(p.pids, Some(4));
        assert_eq!(parse_stats_line("CONTAINER ID   NAME   CPU %"), None);
        // docker's records a line each, and a line that is not one.
        let mut split = Records::default();
        assert_eq!(split.push(docker).len(), 1);
        assert_eq!(split.push("\u{1b}[J").len(), 0);
        assert_eq!(split.push(docker).len(), 1);
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("1.5kB"), Some(1500));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("12 parsecs"), None);
    }
}
