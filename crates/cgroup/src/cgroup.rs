//! The cgroup handle: create, join, list, kill, remove; limits, stats and raw files.

use std::collections::BTreeSet;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::backend::Backend;
use crate::error::{CgroupError, Result};
use crate::fs::{self, read_with, write_in};
use crate::limits::{Limit, LimitKind};
use crate::mount::Layout;
use crate::parse::parse_pids;
use crate::stats::Stats;
use crate::types::{Controller, FreezerState, Version};
use crate::v1::{cpuset, V1};
use crate::v2::{self, V2};

/// The parent directory limitcheck's cgroups go under, in every hierarchy.
pub const DEFAULT_PARENT: &str = "limitcheck";

/// How long [`Cgroup::remove`] and [`Cgroup::kill_all`] wait for tasks to drain.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Cgroup::kill_all`] waits for a v1 cgroup to freeze before it signals its tasks
/// anyway, on each pass.
const FREEZE_BEFORE_KILL: Duration = Duration::from_millis(200);

const PROCS: &str = "cgroup.procs";

/// Sleeps between polls of the kernel: 1 ms first, doubling up to 10 ms, so that what is
/// usually ready at once (an exited task leaving its cgroup) costs a millisecond, not ten.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(1),
        }
    }
}

impl Backoff {
    /// Sleeps for the next interval.
    pub fn wait(&mut self) {
        std::thread::sleep(self.next);
        self.next = (self.next * 2).min(Duration::from_millis(10));
    }
}

/// Builds a [`Cgroup`]: see [`Layout::cgroup`].
#[derive(Debug, Clone)]
pub struct CgroupBuilder<'a> {
    layout: &'a Layout,
    parent: PathBuf,
    name: Option<String>,
    controllers: Option<Vec<Controller>>,
}

impl Layout {
    /// Starts building a cgroup under [`DEFAULT_PARENT`] with a unique name and every default
    /// controller the host has.
    ///
    /// ```no_run
    /// use limitcheck_cgroup::{Layout, Limit, Max};
    /// let layout = Layout::detect()?;
    /// let cg = layout.cgroup().create()?;
    /// cg.set(&Limit::CpuMax { quota_us: Max::Value(50_000), period_us: 100_000 })?;
    /// cg.add_pid(std::process::id() as i32)?;
    /// # Ok::<(), limitcheck_cgroup::CgroupError>(())
    /// ```
    pub fn cgroup(&self) -> CgroupBuilder<'_> {
        CgroupBuilder {
            layout: self,
            parent: PathBuf::from(DEFAULT_PARENT),
            name: None,
            controllers: None,
        }
    }
}

impl<'a> CgroupBuilder<'a> {
    /// The parent path below each hierarchy's root (default [`DEFAULT_PARENT`]).
    pub fn parent(mut self, parent: impl Into<PathBuf>) -> Self {
        self.parent = parent.into();
        self
    }

    /// A fixed name instead of a unique one (the runtime names cgroups after container ids).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The controllers to use. Each must be available: asking for one the host lacks is an
    /// error, where the default set silently leaves out what the host does not have.
    pub fn controllers(mut self, controllers: &[Controller]) -> Self {
        self.controllers = Some(controllers.to_vec());
        self
    }

    fn resolve_controllers(&self) -> Result<Vec<Controller>> {
        let available = self.layout.available();
        match &self.controllers {
            None => Ok(Controller::DEFAULT
                .into_iter()
                .filter(|c| available.contains(c))
                .collect()),
            Some(list) => {
                for c in list {
                    if !available.contains(c) {
                        return Err(CgroupError::MissingController {
                            controller: c.v1_name(),
                            hint: format!(
                                "this host ({} mode) does not offer it; `limitcheck doctor` lists what it has",
                                self.layout.mode
                            ),
                        });
                    }
                }
                let mut list = list.clone();
                list.sort();
                list.dedup();
                Ok(list)
            }
        }
    }

    fn relative(&self) -> Result<PathBuf> {
        let name = match &self.name {
            Some(n) => n.clone(),
            None => unique_name(),
        };
        let rel = self.parent.join(&name);
        let ok = !name.is_empty()
            && !name.contains('/')
            && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !ok {
            return Err(CgroupError::InvalidValue {
                what: format!("cgroup path {}", rel.display()),
                reason: "parent and name must be relative, without `..`, and the name one path component".into(),
            });
        }
        Ok(rel)
    }

    /// Where the cgroup's directories are (or would be), one per hierarchy in use.
    fn plan(&self, rel: &Path, controllers: &[Controller]) -> Vec<(PathBuf, Vec<Controller>)> {
        let mut out: Vec<(PathBuf, Vec<Controller>)> = Vec::new();
        for c in controllers {
            let Some(h) = self.layout.hierarchy_of(*c) else {
                continue;
            };
            match out.iter_mut().find(|(m, _)| *m == h.mount_point) {
                Some((_, cs)) => cs.push(*c),
                None => out.push((h.mount_point.clone(), vec![*c])),
            }
        }
        if self.layout.version() == Version::V2 && out.is_empty() {
            if let Some(u) = self.layout.unified() {
                out.push((u.mount_point.clone(), Vec::new()));
            }
        }
        out.into_iter().map(|(m, cs)| (m.join(rel), cs)).collect()
    }

    /// Creates the cgroup: its directory in every hierarchy of its controllers (plus the v2
    /// companion on hybrid hosts), with v2 controllers enabled down the path and v1 cpusets
    /// filled from their parents. On failure nothing is left behind.
    pub fn create(self) -> Result<Cgroup> {
        let controllers = self.resolve_controllers()?;
        let rel = self.relative()?;
        // Another cgroup's removal may delete the shared parent between our mkdirs: retry.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_create(&rel, &controllers) {
                Err(e) if attempt < 5 && e.errno() == Some(nix::errno::Errno::ENOENT) => continue,
                r => return r,
            }
        }
    }

    fn try_create(&self, rel: &Path, controllers: &[Controller]) -> Result<Cgroup> {
        let version = self.layout.version();
        let mut cg = Cgroup {
            rel: rel.to_path_buf(),
            backend: Box::new(V1 {
                dirs: Default::default(),
                unified: None,
            }),
            dirs: Vec::new(),
            roots: Vec::new(),
            owned: true,
            removed: false,
        };
        // Dropping `cg` on an error removes whatever was made so far.
        let mut v1_dirs = std::collections::BTreeMap::new();
        let mut unified = None;
        let mut v2 = None;
        for (dir, cs) in self.plan(rel, controllers) {
            let root = strip_rel(&dir, rel);
            self.layout.check_fs(&root, version)?;
            cg.roots.push(root.clone());
            make_dirs(
                &root,
                rel,
                version,
                cs.contains(&Controller::Cpuset),
                &cs,
                &mut cg,
            )?;
            match version {
                Version::V1 => {
                    for c in cs {
                        v1_dirs.insert(c, dir.clone());
                    }
                }
                Version::V2 => {
                    v2 = Some(V2 {
                        dir,
                        controllers: controllers.to_vec(),
                    })
                }
            }
        }
        if version == Version::V1 {
            if let Some(u) = self.layout.unified() {
                let dir = u.mount_point.join(rel);
                self.layout.check_fs(&u.mount_point, Version::V2)?;
                cg.roots.push(u.mount_point.clone());
                make_dirs(&u.mount_point, rel, Version::V2, false, &[], &mut cg)?;
                unified = Some(dir);
            }
            cg.backend = Box::new(V1 {
                dirs: v1_dirs,
                unified,
            });
        } else if let Some(v2) = v2 {
            cg.backend = Box::new(v2);
        }
        Ok(cg)
    }

    /// Opens an existing cgroup (made by another process, e.g. the runtime's `create`). The
    /// handle does not own it: dropping it removes nothing.
    pub fn open(self) -> Result<Cgroup> {
        self.open_with(true)
    }

    /// Like [`CgroupBuilder::open`], but takes whichever of the cgroup's directories exist (a
    /// cgroup half-removed by a process that died, or one of whose directories something
    /// outside removed): what removing it needs.
    pub fn open_partial(self) -> Result<Cgroup> {
        self.open_with(false)
    }

    fn open_with(self, all: bool) -> Result<Cgroup> {
        let controllers = self.resolve_controllers()?;
        if self.name.is_none() {
            return Err(CgroupError::InvalidValue {
                what: "cgroup to open".into(),
                reason: "give its name".into(),
            });
        }
        let rel = self.relative()?;
        let version = self.layout.version();
        let mut dirs = Vec::new();
        let mut roots = Vec::new();
        let mut v1_dirs = std::collections::BTreeMap::new();
        let mut backend: Box<dyn Backend> = Box::new(V1 {
            dirs: Default::default(),
            unified: None,
        });
        for (dir, cs) in self.plan(&rel, &controllers) {
            if !dir.is_dir() && !all {
                continue;
            }
            if !dir.is_dir() {
                return Err(CgroupError::Dir {
                    op: "open",
                    path: dir,
                    source: io::Error::from_raw_os_error(libc::ENOENT),
                });
            }
            dirs.push(dir.clone());
            roots.push(strip_rel(&dir, &rel));
            match version {
                Version::V1 => cs.into_iter().for_each(|c| {
                    v1_dirs.insert(c, dir.clone());
                }),
                Version::V2 => {
                    backend = Box::new(V2 {
                        dir,
                        controllers: controllers.clone(),
                    })
                }
            }
        }
        if version == Version::V1 {
            let unified = self
                .layout
                .unified()
                .map(|u| u.mount_point.join(&rel))
                .filter(|d| d.is_dir());
            if let Some(u) = &unified {
                dirs.push(u.clone());
                roots.push(strip_rel(u, &rel));
            }
            backend = Box::new(V1 {
                dirs: v1_dirs,
                unified,
            });
        }
        Ok(Cgroup {
            rel,
            backend,
            dirs,
            roots,
            owned: false,
            removed: false,
        })
    }
}

fn strip_rel(dir: &Path, rel: &Path) -> PathBuf {
    let mut root = dir.to_path_buf();
    for _ in rel.components() {
        root.pop();
    }
    root
}

/// Makes `root/rel`, creating missing parents; on v2 enables `controllers` in each level's
/// `cgroup.subtree_control`; on v1 cpuset fills each new level's cpus and mems.
fn make_dirs(
    root: &Path,
    rel: &Path,
    version: Version,
    cpuset_v1: bool,
    controllers: &[Controller],
    cg: &mut Cgroup,
) -> Result<()> {
    let mut level = root.to_path_buf();
    let n = rel.components().count();
    for (i, comp) in rel.components().enumerate() {
        if version == Version::V2 {
            enable_v2_controllers(&level, controllers)?;
        }
        level.push(comp);
        let leaf = i + 1 == n;
        match std::fs::create_dir(&level) {
            Ok(()) => {
                if leaf {
                    cg.dirs.push(level.clone());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !leaf => {}
            Err(source) => {
                return Err(CgroupError::Dir {
                    op: "create",
                    path: level,
                    source,
                })
            }
        }
        if cpuset_v1 && version == Version::V1 {
            cpuset::inherit_from_parent(&level)?;
        }
    }
    Ok(())
}

fn enable_v2_controllers(dir: &Path, controllers: &[Controller]) -> Result<()> {
    let enabled: Vec<String> = read_with(dir, v2::SUBTREE_CONTROL, |t| {
        Ok(t.split_whitespace().map(str::to_string).collect())
    })?;
    for c in controllers.iter().filter_map(|c| c.v2_name()) {
        if !enabled.iter().any(|e| e == c) {
            write_in(dir, v2::SUBTREE_CONTROL, &format!("+{c}"))?;
        }
    }
    Ok(())
}

/// The pid of the process that made a cgroup named by [`unique_name`] (`run-<pid>-…`) or by
/// the doctor's probe (`doctor-<pid>`); `None` for other names, which are never swept.
pub(crate) fn owner_pid(name: &str) -> Option<i32> {
    let mut it = name.split('-');
    match (it.next(), it.next()) {
        (Some("run" | "doctor"), Some(pid)) => pid.parse().ok(),
        _ => None,
    }
}

impl Layout {
    /// Removes cgroups under [`DEFAULT_PARENT`] that a limitcheck process made and could not
    /// remove because it died (SIGKILL, a crash): those whose owner pid, part of their name, no
    /// longer runs. What still runs in them is killed first. Returns what was removed. Cgroups
    /// with other names (a runtime's containers) are left alone.
    pub fn sweep_stale(&self) -> Result<Vec<PathBuf>> {
        let mut names = BTreeSet::new();
        for h in &self.hierarchies {
            let parent = h.mount_point.join(DEFAULT_PARENT);
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let dead = owner_pid(&name).is_some_and(|pid| {
                    pid != std::process::id() as i32 && !Path::new(&format!("/proc/{pid}")).exists()
                });
                if dead && e.path().is_dir() {
                    names.insert(name);
                }
            }
        }
        let mut removed = Vec::new();
        for name in names {
            let cg = self
                .cgroup()
                .name(&name)
                .controllers(&self.available())
                .open_partial()?;
            removed.extend(cg.dirs().iter().cloned());
            cg.destroy()?;
        }
        Ok(removed)
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    format!("run-{}-{:x}-{n}", std::process::id(), t)
}

/// Moves processes into a cgroup's directories ([`Cgroup::mover`]).
#[derive(Debug, Clone)]
pub struct Mover {
    dirs: Vec<PathBuf>,
}

impl Mover {
    /// Splits off the directories on cgroup v1 hierarchies: there a single-threaded process
    /// can move itself by writing `0` into each one's `tasks`, which (a single thread moving
    /// itself) skips the kernel's global cgroup_threadgroup_rwsem and the RCU grace period
    /// its writer side waits for — what makes the first write into `cgroup.procs` take
    /// 5-15 ms. Returns those directories and a mover of the others (v2).
    pub fn split_v1(self) -> (Vec<PathBuf>, Mover) {
        let (v2, v1): (Vec<PathBuf>, Vec<PathBuf>) = self.dirs.into_iter().partition(|d| {
            nix::sys::statfs::statfs(d.as_path())
                .is_ok_and(|f| f.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        });
        (v1, Mover { dirs: v2 })
    }

    /// Whether it has no directory to move processes into.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Moves a process (all its threads) into the cgroup, in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for d in &self.dirs {
            write_in(d, PROCS, &pid.to_string())?;
        }
        Ok(())
    }
}

/// A cgroup made or opened by limitcheck: one directory per v1 hierarchy in use (plus the v2
/// companion on hybrid hosts), or one v2 directory.
///
/// A cgroup this process created is owned: dropping the handle kills what runs in it and removes
/// it, so that no run, passed or failed, leaves a cgroup behind. Call [`Cgroup::keep`] to hand
/// it over (the runtime keeps a container's cgroup between `create` and `delete`).
#[derive(Debug)]
pub struct Cgroup {
    rel: PathBuf,
    backend: Box<dyn Backend>,
    dirs: Vec<PathBuf>,
    roots: Vec<PathBuf>,
    owned: bool,
    removed: bool,
}

impl Cgroup {
    /// The cgroup's path below each hierarchy's root, e.g. `limitcheck/run-42-…-0`.
    pub fn relative_path(&self) -> &Path {
        &self.rel
    }

    /// The cgroup version its limits are written through.
    pub fn version(&self) -> Version {
        self.backend.version()
    }

    /// Every directory of the cgroup.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Stops owning the cgroup: dropping the handle will leave it in place.
    pub fn keep(mut self) -> Self {
        self.owned = false;
        self
    }

    /// Moves a process (all its threads) into the cgroup, in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        self.mover().add_pid(pid)
    }

    /// What moves processes into this cgroup, apart from it: to move one from another thread.
    pub fn mover(&self) -> Mover {
        Mover {
            dirs: self.dirs.clone(),
        }
    }

    /// The processes in the cgroup (the union over its directories), ascending.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut all = BTreeSet::new();
        for d in &self.dirs {
            match read_with(d, PROCS, parse_pids) {
                Ok(p) => all.extend(p),
                // A directory removed from outside holds nothing (its tasks were moved out
                // first, or they could not have removed it).
                Err(CgroupError::Read { source, .. })
                    if source.kind() == io::ErrorKind::NotFound && !d.exists() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(all.into_iter().collect())
    }

    /// Writes one limit.
    pub fn set(&self, limit: &Limit) -> Result<()> {
        self.backend.set(limit)
    }

    /// Reads one limit.
    pub fn get(&self, kind: LimitKind) -> Result<Limit> {
        self.backend.get(kind)
    }

    /// Writes several limits in order, except that a memory limit and a memory+swap limit given
    /// together are written in the order the kernel accepts.
    pub fn apply(&self, limits: &[Limit]) -> Result<()> {
        let mem = limits.iter().find_map(|l| match l {
            Limit::MemoryMax(m) => Some(*m),
            _ => None,
        });
        let swap = limits.iter().find_map(|l| match l {
            Limit::MemorySwapMax(m) => Some(*m),
            _ => None,
        });
        for l in limits {
            match (l, mem, swap) {
                (Limit::MemoryMax(_), Some(m), Some(s)) => {
                    self.backend.set_memory_and_swap(m, s)?
                }
                (Limit::MemorySwapMax(_), Some(_), Some(_)) => {}
                (l, _, _) => self.backend.set(l)?,
            }
        }
        Ok(())
    }

    /// Reads every statistic of the controllers in use.
    pub fn stats(&self) -> Result<Stats> {
        self.backend.stats()
    }

    /// Reads the CPU statistics alone (usage, per CPU on v1, throttling): a fraction of
    /// [`Cgroup::stats`]'s cost, for sampling fast. `None` without CPU accounting.
    pub fn cpu_stats(&self) -> Result<Option<crate::stats::CpuStats>> {
        self.backend.cpu_stats()
    }

    /// Where a cgroup file of this name is, e.g. `memory.limit_in_bytes` → the memory hierarchy.
    pub fn file_path(&self, name: &str) -> Result<PathBuf> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(CgroupError::InvalidValue {
                what: format!("cgroup file {name:?}"),
                reason: "give a file name of the cgroup, such as memory.max or cpu.cfs_quota_us"
                    .into(),
            });
        }
        self.backend.file_path(name)
    }

    /// Reads any file of the cgroup by name.
    pub fn read_raw(&self, name: &str) -> Result<String> {
        fs::read(&self.file_path(name)?)
    }

    /// Writes any file of the cgroup by name. The kernel's errno is kept:
    /// `err.errno() == Some(Errno::EBUSY)` when a v1 memory limit cannot be lowered.
    pub fn write_raw(&self, name: &str, value: &str) -> Result<()> {
        fs::write(&self.file_path(name)?, value)
    }

    /// Freezes every task and waits until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<()> {
        self.freeze_within(DRAIN_TIMEOUT)
    }

    /// [`Cgroup::freeze`], waiting at most `timeout` for every task to be frozen; on the
    /// error the cgroup is left freezing (thaw it).
    fn freeze_within(&self, timeout: Duration) -> Result<()> {
        self.set(&Limit::Freezer(FreezerState::Frozen))?;
        let start = Instant::now();
        let mut backoff = Backoff::default();
        loop {
            if self.get(LimitKind::Freezer)? == Limit::Freezer(FreezerState::Frozen) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(CgroupError::StillBusy {
                    path: self.dirs.first().cloned().unwrap_or_default(),
                    pids: self.pids().unwrap_or_default(),
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            backoff.wait();
        }
    }

    /// Thaws every task.
    pub fn thaw(&self) -> Result<()> {
        self.set(&Limit::Freezer(FreezerState::Thawed))
    }

    /// Kills every process in the cgroup with SIGKILL and waits until none is left. Uses
    /// `cgroup.kill` where the kernel has it (v2, or the v2 companion on hybrid hosts, 5.14+);
    /// otherwise freezes, signals each task, and thaws, until the cgroup is empty. A task
    /// its CPU quota throttles dies only when it next runs: [`Cgroup::unthrottle`] first
    /// when the cgroup is going away.
    pub fn kill_all(&self) -> Result<()> {
        let kill_file = self
            .dirs
            .iter()
            .map(|d| d.join(v2::KILL))
            .find(|p| p.exists());
        let can_freeze = self.get(LimitKind::Freezer).is_ok();
        let start = Instant::now();
        let mut backoff = Backoff::default();
        loop {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            if start.elapsed() > DRAIN_TIMEOUT {
                return Err(CgroupError::StillBusy {
                    path: self.dirs.first().cloned().unwrap_or_default(),
                    pids,
                    waited_ms: start.elapsed().as_millis() as u64,
                });
            }
            match &kill_file {
                Some(f) => {
                    fs::write(f, "1")?;
                    // A task may be in the v1 directories and not the v2 companion (its mover
                    // died between the two writes): cgroup.kill does not reach it.
                    for pid in &pids {
                        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                    }
                }
                None => {
                    // Frozen tasks cannot fork away from the signal; they die once thawed.
                    // Thawed whether or not the freeze completed: a task of a cgroup left
                    // FREEZING enters the refrigerator before it acts on its SIGKILL
                    // (get_signal() calls try_to_freeze() first; freezing() does not look
                    // at fatal signals), and stays there. A task starved of the CPU (a
                    // best-effort pod's at 2 shares beside a hog, under TCG) takes longer
                    // to freeze than to die, so the freeze is given a moment, not the
                    // whole drain: until 2026-12-03 it was given 5 s, failed, and its
                    // container could not be removed (k8s-pods-qos, Debian 6.1's v1 guest).
                    if can_freeze {
                        let _ = self.freeze_within(FREEZE_BEFORE_KILL);
                    }
                    for pid in self.pids()? {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                    if can_freeze {
                        self.thaw()?;
                    }
                }
            }
            backoff.wait();
        }
    }

    /// Lets the cgroup's tasks run (and die): lifts its CPU quota, puts its weight back to the
    /// default, thaws it; see [`crate::tree::unthrottle`]. Best effort.
    pub fn unthrottle(&self) {
        for d in &self.dirs {
            crate::tree::unthrottle(d);
        }
    }

    /// Removes the cgroup's directories, retrying while exiting tasks drain (up to
    /// [`DRAIN_TIMEOUT`]), then the parents it made when they are empty. It does not kill:
    /// call [`Cgroup::kill_all`] first, or use [`Cgroup::destroy`].
    pub fn remove(mut self) -> Result<()> {
        self.remove_dirs()
    }

    /// Kills everything in the cgroup, then removes it.
    pub fn destroy(mut self) -> Result<()> {
        self.kill_all()?;
        self.remove_dirs()
    }

    fn remove_dirs(&mut self) -> Result<()> {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        // Leaves first: the v2 companion and the controller directories.
        for d in self.dirs.iter().rev() {
            loop {
                match std::fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        if start.elapsed() > DRAIN_TIMEOUT {
                            let pids = read_with(d, PROCS, parse_pids).unwrap_or_default();
                            return Err(CgroupError::StillBusy {
                                path: d.clone(),
                                pids,
                                waited_ms: start.elapsed().as_millis() as u64,
                            });
                        }
                        backoff.wait();
                    }
                    Err(source) => {
                        return Err(CgroupError::Dir {
                            op: "remove",
                            path: d.clone(),
                            source,
                        })
                    }
                }
            }
        }
        self.removed = true;
        // Then the shared parents (`limitcheck/`), if no other run uses them.
        for root in &self.roots {
            let mut p = root.join(&self.rel);
            while p.pop() && p != *root {
                if std::fs::remove_dir(&p).is_err() {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if self.owned && !self.removed {
            let _ = self.kill_all();
            let _ = self.remove_dirs();
        }
    }
}
