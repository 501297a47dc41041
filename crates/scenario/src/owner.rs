//! Who owns a run's containers, and what happens to them when the owner dies.
//!
//! Each `limitcheck run` records itself under the runtime root (`runs/<run-id>.json`: its pid
//! and the start time of that pid, so that a reused pid is not mistaken for it) and starts a
//! **guardian**: a small process of its own session (`limitcheck guard`, as containerd-shim
//! is per container) that waits on a pidfd of the run. When the run ends in any way — SIGKILL,
//! an OOM kill, a panic, the terminal closing — the guardian wakes at once, kills and removes
//! the run's containers (their processes, cgroups and state, whatever they run) and bundles,
//! removes the record and exits. A run that ends normally stops its guardian first.
//!
//! [`sweep_dead`] removes at the start of a run, and in `limitcheck cleanup`, what runs whose
//! owner is dead left (if their guardian was killed too), and keeps what live runs own: two
//! runs on one host never touch each other's containers. `limitcheck vm` is owned the same
//! way, its work directory (the initramfs, the guest's scratch files) recorded as scratch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use limitcheck_cgroup::Layout;
use limitcheck_runtime::oci_cli::OciRuntime;
use limitcheck_runtime::Runtime;
use serde::{Deserialize, Serialize};

use crate::error::RunError;

/// A run's ownership record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id (its containers are `lcr-<run-id>-...`).
    pub run_id: String,
    /// The process running it.
    pub pid: u32,
    /// That process's start time (clock ticks since boot, `/proc/<pid>/stat` field 22).
    pub start_ticks: u64,
    /// Directories the run works in and removes when it ends (`limitcheck vm`'s `.vm-work`,
    /// with its initramfs): removed too if it dies first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scratch: Vec<PathBuf>,
}

impl RunRecord {
    /// Whether the process that made the record still runs (the same process, not a reuse of
    /// its pid).
    pub fn alive(&self) -> bool {
        start_ticks(self.pid) == Some(self.start_ticks)
    }

    /// The prefix of this run's container ids.
    pub fn prefix(&self) -> String {
        container_prefix(&self.run_id)
    }
}

/// The prefix of a run's container ids: `lcr-<run-id>-`.
pub fn container_prefix(run_id: &str) -> String {
    format!("lcr-{run_id}-")
}

/// A process's start time in clock ticks since boot, or None when it does not run.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn runs_dir(root: &Path) -> PathBuf {
    root.join("runs")
}

fn record_path(root: &Path, run_id: &str) -> PathBuf {
    runs_dir(root).join(format!("{run_id}.json"))
}

/// Every run recorded under `root`.
pub fn records(root: &Path) -> Vec<RunRecord> {
    let Ok(rd) = std::fs::read_dir(runs_dir(root)) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}

/// The runs under `root` whose owner still runs, other than this process's.
pub fn live_runs(root: &Path) -> Vec<RunRecord> {
    records(root)
        .into_iter()
        .filter(|r| r.pid != std::process::id() && r.alive())
        .collect()
}

/// This run's ownership: its record and its guardian, both gone when it is dropped.
pub struct Ownership {
    root: PathBuf,
    run_id: String,
    guardian: Option<std::process::Child>,
}

impl Ownership {
    /// Records this process as the owner of run `run_id` under `root`, with its `scratch`
    /// directories (absolute), and starts its guardian (`exe guard ...`, `exe` being the
    /// limitcheck binary).
    pub fn claim(
        root: &Path,
        run_id: &str,
        exe: &Path,
        scratch: &[PathBuf],
    ) -> Result<Ownership, RunError> {
        use std::os::unix::process::CommandExt;
        let dir = runs_dir(root);
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let me = std::process::id();
        let rec = RunRecord {
            run_id: run_id.to_string(),
            pid: me,
            start_ticks: start_ticks(me).ok_or(RunError::StartTime { pid: me })?,
            scratch: scratch.to_vec(),
        };
        let path = record_path(root, run_id);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&rec).expect("a record serializes"))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| RunError::Io {
                action: "write",
                path: path.clone(),
                source,
            })?;
        let mut own = Ownership {
            root: root.to_path_buf(),
            run_id: run_id.to_string(),
            guardian: None,
        };
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("guard")
            .arg("--root")
            .arg(root)
            .args(["--run-id", run_id])
            .args(["--owner-pid", &me.to_string()])
            .args(["--owner-start", &rec.start_ticks.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe. Its own session: a closed terminal's SIGHUP, a
        // Ctrl-C or a kill of the run's process group does not reach it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        own.guardian = Some(cmd.spawn().map_err(|source| RunError::Guardian {
            exe: exe.to_path_buf(),
            source,
        })?);
        Ok(own)
    }
}

impl Drop for Ownership {
    fn drop(&mut self) {
        // A run that ends normally has removed its containers itself: the guardian goes first,
        // so that it does not race the record's removal.
        if let Some(mut g) = self.guardian.take() {
            let _ = g.kill();
            let _ = g.wait();
        }
        let _ = std::fs::remove_file(record_path(&self.root, &self.run_id));
        let _ = std::fs::remove_dir(runs_dir(&self.root));
    }
}

/// Removes run `run_id`'s containers (killing what runs in them, removing their cgroups and
/// state) and bundles under `root`; returns what was removed.
pub fn remove_run(root: &Path, run_id: &str) -> Vec<String> {
    remove_where(
        root,
        &|id| id.starts_with(&container_prefix(run_id)),
        &mut Vec::new(),
        SETTLE,
    )
}

/// Removes the containers and bundles `doomed` names; what could not be removed goes to
/// `failed`, with why.
fn remove_where(
    root: &Path,
    doomed: &dyn Fn(&str) -> bool,
    failed: &mut Vec<String>,
    settle: Duration,
) -> Vec<String> {
    let mut out = Vec::new();
    let rt = Runtime::new(root);
    // Every directory, not only `list()`'s containers: one killed inside `create` has no
    // state.json yet.
    let ids: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for id in ids {
        if !doomed(&id) {
            continue;
        }
        let removed = match rt.load(&id) {
            Ok(c) => c.delete(true).map(|()| true),
            // Killed inside `create`, before its state was written: no process or cgroup yet.
            Err(_) => rt.remove_unfinished(&id),
        };
        match removed {
            Ok(true) => out.push(format!("container {id}")),
            Ok(false) => {}
            Err(e) => failed.push(format!("container {id}: {e}")),
        }
    }
    let bundles = root.join("bundles");
    if let Ok(rd) = std::fs::read_dir(&bundles) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !doomed(&name) {
                continue;
            }
            // A container another runtime or an engine made: removed by it (and its cgroup
            // by us, if it left it), before its bundle.
            match remove_external(&e.path(), &name, settle) {
                Ok(Some(what)) => out.push(what),
                Ok(None) => {}
                Err(err) => {
                    failed.push(err);
                    continue;
                }
            }
            // An image container's overlay root is unmounted first; the bundle is never
            // removed through a mount.
            match limitcheck_image::rootfs::remove(&e.path()) {
                Ok(()) => out.push(format!("bundle {}", e.path().display())),
                Err(err) => failed.push(format!("bundle {}: {err}", e.path().display())),
            }
        }
    }
    let _ = std::fs::remove_dir(&bundles);
    // Other runtimes' state roots, once they hold no container. A doomed run's entry still
    // there is what a runtime left of a failed create (its bundle, and so its delete, went
    // above): no process or cgroup of it is known, so the state goes as it is.
    let oci = root.join("oci");
    if let Ok(rd) = std::fs::read_dir(&oci) {
        for e in rd.flatten() {
            for c in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                let id = c.file_name().to_string_lossy().into_owned();
                if doomed(&id) && std::fs::remove_dir_all(c.path()).is_ok() {
                    out.push(format!(
                        "state {} (left by its runtime)",
                        c.path().display()
                    ));
                }
            }
            let _ = std::fs::remove_dir(e.path());
        }
    }
    let _ = std::fs::remove_dir(&oci);
    // The scenarios' group trees (`limitcheck/lcg-<run-id>-…`), once their containers are
    // gone: a tree is doomed when a container of its run would be.
    for name in limitcheck_cgroup::tree::names_under_parent("lcg-") {
        if !doomed(&format!("lcr-{}", &name["lcg-".len()..])) {
            continue;
        }
        let rel = Path::new(limitcheck_cgroup::DEFAULT_PARENT).join(&name);
        match limitcheck_cgroup::tree::remove_tree(&rel) {
            Ok(dirs) if !dirs.is_empty() => out.push(format!("group cgroups {name}")),
            Ok(_) => {}
            Err(e) => failed.push(format!("group cgroups {name}: {e}")),
        }
    }
    out
}

/// How long after its bundle was made a container another runtime or an engine was asked
/// to create may still appear (its daemon finishing the request of a killed run).
pub const SETTLE: Duration = Duration::from_secs(5);

/// Removes the container another runtime or an engine made from `bundle` (named `name` by
/// the runtime), if any; says what it removed. A run killed while that runtime's `create`
/// was in flight may see the container appear after it looked (the engine's daemon finishes
/// a request whose client died): one not found is looked for again until `settle` has passed
/// since the bundle was made.
fn remove_external(bundle: &Path, name: &str, settle: Duration) -> Result<Option<String>, String> {
    let made = std::fs::metadata(bundle)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    loop {
        let r = if let Some(ext) = recorded_runtime(bundle) {
            ext.remove(name)
                .map(|found| found.then(|| format!("{} container {name}", ext.name())))
                .map_err(|e| format!("{} container {name}: {e}", ext.name()))
        } else if let Some((eng, cname)) = limitcheck_runtime::engine::Engine::recorded(bundle) {
            eng.remove(&cname)
                .map(|found| found.then(|| format!("{} container {cname}", eng.kind)))
                .map_err(|e| format!("{} container {cname}: {e}", eng.kind))
        } else {
            return Ok(None);
        };
        let young = made.elapsed().is_ok_and(|age| age < settle);
        match r {
            Ok(None) if young => std::thread::sleep(Duration::from_millis(100)),
            r => return r,
        }
    }
}

/// The state root of containers run with another OCI runtime (`--runtime NAME`):
/// `<root>/oci/<NAME>`.
pub fn oci_root(root: &Path, name: &str) -> PathBuf {
    root.join("oci").join(name)
}

/// The runtime a bundle's container was made with, if not lcrun's library.
fn recorded_runtime(bundle: &Path) -> Option<OciRuntime> {
    #[derive(Deserialize)]
    struct Rec {
        program: PathBuf,
        root: PathBuf,
    }
    let text = std::fs::read(bundle.join(limitcheck_runtime::oci_cli::RUNTIME_RECORD)).ok()?;
    let r: Rec = serde_json::from_slice(&text).ok()?;
    Some(OciRuntime::new(r.program, r.root))
}

/// Removes a dead run's scratch directories; says which.
fn remove_scratch(r: &RunRecord) -> Vec<String> {
    r.scratch
        .iter()
        .filter(|d| d.is_absolute() && std::fs::remove_dir_all(d).is_ok())
        .map(|d| format!("work directory {}", d.display()))
        .collect()
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct Sweep {
    /// What dead runs left and the sweep removed.
    pub removed: Vec<String>,
    /// Live runs whose containers it left alone, in words.
    pub kept: Vec<String>,
    /// What it could not remove, and why.
    pub failed: Vec<String>,
}

/// Removes what dead runs left under `root` — containers named `lcr-*` not owned by a live
/// run, their bundles, the records of dead owners, cgroups of dead limitcheck processes — and
/// keeps what live runs own.
pub fn sweep_dead(root: &Path, layout: &Layout) -> Sweep {
    let mut sweep = Sweep::default();
    let all = records(root);
    let live: Vec<&RunRecord> = all
        .iter()
        .filter(|r| r.pid == std::process::id() || r.alive())
        .collect();
    for r in &live {
        sweep
            .kept
            .push(format!("run {} (pid {}): its owner runs", r.run_id, r.pid));
    }
    let prefixes: Vec<String> = live.iter().map(|r| r.prefix()).collect();
    sweep.removed = remove_where(
        root,
        &|id| id.starts_with("lcr-") && !prefixes.iter().any(|p| id.starts_with(p)),
        &mut sweep.failed,
        SETTLE,
    );
    for r in all.iter().filter(|r| !live.contains(r)) {
        sweep.removed.extend(remove_scratch(r));
        if std::fs::remove_file(record_path(root, &r.run_id)).is_ok() {
            sweep.removed.push(format!(
                "the record of run {} (pid {} is gone)",
                r.run_id, r.pid
            ));
        }
    }
    let _ = std::fs::remove_dir(runs_dir(root));
    for d in layout.sweep_stale().unwrap_or_default() {
        sweep.removed.push(format!("cgroup {}", d.display()));
    }
    // The `conmon` cgroup podman made under `/limitcheck` before limitcheck asked it for none
    // (`--cgroups=no-conmon`), once its conmon has gone.
    limitcheck_runtime::oci_cli::tidy_cgroup_parents(Some("conmon"));
    sweep
}

/// The guardian (`limitcheck guard`): waits until the process `owner_pid` (started at
/// `owner_start` ticks) ends, then removes run `run_id`'s containers and bundles under `root`
/// and its record. Returns what it removed.
pub fn guard(
    root: &Path,
    run_id: &str,
    owner_pid: u32,
    owner_start: u64,
) -> Result<Vec<String>, RunError> {
    // SAFETY: pidfd_open(2) with no flags; the fd is closed by OwnedFd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, owner_pid as libc::c_int, 0) };
    let pidfd = (fd >= 0).then(|| {
        // SAFETY: a fresh fd from pidfd_open.
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) }
    });
    // Opened on the right process only if it is still the one that started us.
    if let Some(pidfd) = pidfd.filter(|_| start_ticks(owner_pid) == Some(owner_start)) {
        let raw = std::os::fd::AsRawFd::as_raw_fd(&pidfd);
        loop {
            let mut p = libc::pollfd {
                fd: raw,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd, valid for the call.
            let n = unsafe { libc::poll(&mut p, 1, -1) };
            if n > 0 {
                break;
            }
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(RunError::Io {
                    action: "wait (poll) for its owner, the process",
                    path: format!("/proc/{owner_pid}").into(),
                    source: std::io::Error::last_os_error(),
                });
            }
        }
    }
    let mut removed = remove_run(root, run_id);
    let record = std::fs::read(record_path(root, run_id))
        .ok()
        .and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok());
    if let Some(r) = record {
        removed.extend(remove_scratch(&r));
    }
    let _ = std::fs::remove_file(record_path(root, run_id));
    let _ = std::fs::remove_dir(runs_dir(root));
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = std::process::id();
        let start = start_ticks(me).unwrap();
        let rec = RunRecord {
            run_id: "r".into(),
            pid: me,
            start_ticks: start,
            scratch: Vec::new(),
        };
        assert!(rec.alive());
        let reused = RunRecord {
            start_ticks: start + 1,
            ..rec.clone()
        };
        assert!(!reused.alive());
        assert_eq!(rec.prefix(), "lcr-r-");
    }
}
