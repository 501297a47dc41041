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
    /// working directory and mounts as the engine's flags) with `limits` as the engine's
    /// flags, and records it in the bundle directory `dir` for sweeps.
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
            // sweeps and the leftover checks look, not the engine's default `/docker`.
            "--cgroup-parent".into(),
            format!("/{}", limitcheck_cgroup::DEFAULT_PARENT),
        ];
        if let Some(p) = spec.process() {
            args.push("--workdir".into());
            args.push(p.cwd().display().to_string());
            for e in p.env().iter().flatten() {
                args.push("--env".into());
                args.push(e.clone());
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
        // podman keeps its conmon in `<cgroup parent>/conmon`.
        crate::oci_cli::tidy_cgroup_parents((!self.is_docker()).then_some("conmon"));
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

    /// `update` with the engine's flags; a limit it has no flag for is refused (EINVAL, named).
    pub fn update(&self, limits: &[Limit]) -> Result<Vec<String>> {
        if let Some(l) = without_flags(limits).first() {
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
