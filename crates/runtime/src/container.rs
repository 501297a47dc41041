//! The container lifecycle on the runtime's side: create, start, state, kill, pause, resume,
//! update, stats, ps, wait, delete.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use limitcheck_cgroup::{Cgroup, Controller, Layout, Limit, Stats};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType;

use crate::error::{Result, RuntimeError};
use crate::init::{clone_flag, InitConfig, InitMsg, InitRequest};
use crate::spec::{resource_limits, ValidSpec};
use crate::state::{check_id, now_rfc3339, proc_stat, CgroupRef, State, Status, EXEC_FIFO};

/// How a container's process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExitInfo {
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Whether the kernel's OOM killer killed a process in the container's cgroup.
    pub oom_killed: bool,
}

impl ExitInfo {
    /// The shell's convention: the code, or 128 + the signal.
    pub fn shell_code(&self) -> i32 {
        self.code.unwrap_or_else(|| 128 + self.signal.unwrap_or(0))
    }
}

/// Options of [`Runtime::create`].
#[derive(Debug, Default)]
pub struct CreateOptions {
    /// Where to send the pty master of a terminal container (runc's `--console-socket`);
    /// without it the creating process keeps the master ([`Container::take_console`]).
    pub console_socket: Option<PathBuf>,
    /// The container's stdin, stdout and stderr; `None` inherits this process's.
    pub stdio: Option<[OwnedFd; 3]>,
    /// Where to write the init's pid (runc's `--pid-file`).
    pub pid_file: Option<PathBuf>,
}

/// A runtime: where state lives and which binary acts as the container init.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
    init_exe: PathBuf,
}

impl Runtime {
    /// A runtime with state under `root` (e.g. [`crate::state::DEFAULT_ROOT`]), using this
    /// process's own executable as the container init (it must call
    /// [`crate::init::run_if_init`] at the start of `main`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Runtime {
            root: root.into(),
            init_exe: PathBuf::from("/proc/self/exe"),
        }
    }

    /// Uses another executable as the container init (one that calls
    /// [`crate::init::run_if_init`]).
    pub fn with_init_exe(mut self, exe: impl Into<PathBuf>) -> Self {
        self.init_exe = exe.into();
        self
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ids of every container under the root.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return Ok(out);
        };
        for e in rd.flatten() {
            if e.path().join(crate::state::STATE_FILE).exists() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes what a `create` killed before it wrote `state.json` left of container `id`: its
    /// directory (at most an exec fifo; no process or cgroup exists yet at that point). Returns
    /// whether there was one. A directory with a `state.json` is a container: use
    /// [`Container::delete`].
    pub fn remove_unfinished(&self, id: &str) -> Result<bool> {
        check_id(id)?;
        let dir = self.root.join(id);
        if !dir.is_dir() || dir.join(crate::state::STATE_FILE).exists() {
            return Ok(false);
        }
        std::fs::remove_dir_all(&dir).map_err(RuntimeError::io("remove", &dir))?;
        Ok(true)
    }

    /// Loads an existing container.
    pub fn load(&self, id: &str) -> Result<Container> {
        check_id(id)?;
        let dir = self.root.join(id);
        if !dir.join(crate::state::STATE_FILE).exists() {
            return Err(RuntimeError::NotFound {
                id: id.into(),
                path: dir,
            });
        }
        let state = State::load(&dir)?;
        Ok(Container {
            dir,
            state,
            child: false,
            console: None,
            layout: Default::default(),
        })
    }

    /// Creates a container: its cgroup with the spec's resources, its namespaces and root
    /// filesystem, and an init that waits for [`Container::start`]. On failure nothing is left:
    /// no process, cgroup or state directory.
    pub fn create(&self, id: &str, spec: &ValidSpec, opts: CreateOptions) -> Result<Container> {
        check_id(id)?;
        std::fs::create_dir_all(&self.root).map_err(RuntimeError::io("create", &self.root))?;
        let dir = self.root.join(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RuntimeError::Exists { id: id.into() })
            }
            Err(e) => return Err(RuntimeError::io("create", &dir)(e)),
        }
        let mut guard = CreateGuard {
            dir: dir.clone(),
            cgroup: None,
            pid: None,
        };
        let c = create_in(self, &mut guard, id, spec, opts)?;
        // Success: the container owns all of it now.
        guard.dir = PathBuf::new();
        guard.cgroup.take().map(Cgroup::keep);
        guard.pid = None;
        Ok(c)
    }
}

/// Undoes a failed create.
/// The thread moving the init into its cgroup; joined on drop (an early error too), so that
/// no write into the cgroup races its removal.
struct Joining(Option<std::thread::JoinHandle<limitcheck_cgroup::Result<()>>>);

impl Joining {
    fn join(&mut self) -> Result<()> {
        match self.0.take() {
            None => Ok(()),
            Some(h) => h
                .join()
                .map_err(|_| RuntimeError::Init("the thread moving the init panicked".into()))?
                .map_err(RuntimeError::from),
        }
    }
}

impl Drop for Joining {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

struct CreateGuard {
    dir: PathBuf,
    cgroup: Option<Cgroup>,
    pid: Option<Pid>,
}

impl Drop for CreateGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn cgroup_place(spec: &ValidSpec, id: &str) -> Result<(PathBuf, String)> {
    let Some(p) = spec
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone())
    else {
        return Ok((
            PathBuf::from(limitcheck_cgroup::DEFAULT_PARENT),
            id.to_string(),
        ));
    };
    let text = p.to_string_lossy();
    if text.contains(':') {
        return Err(RuntimeError::Spec {
            file: spec.origin.clone(),
            field: "linux.cgroupsPath".into(),
            reason: format!("{text:?} is a systemd slice path; lcrun drives cgroupfs directly: give a path like /limitcheck/{id}"),
        });
    }
    let rel = p.strip_prefix("/").unwrap_or(&p);
    let name = rel.file_name().map(|n| n.to_string_lossy().into_owned());
    match name {
        Some(n) => Ok((rel.parent().map(Path::to_path_buf).unwrap_or_default(), n)),
        None => Err(RuntimeError::Spec {
            file: spec.origin.clone(),
            field: "linux.cgroupsPath".into(),
            reason: format!("{text:?} names no cgroup"),
        }),
    }
}

fn create_in(
    rt: &Runtime,
    guard: &mut CreateGuard,
    id: &str,
    spec: &ValidSpec,
    opts: CreateOptions,
) -> Result<Container> {
    let dir = guard.dir.clone();
    let linux = spec.spec.linux().as_ref();
    let layout = Layout::detect()?;
    let (parent, name) = cgroup_place(spec, id)?;
    let controllers: Vec<Controller> = Controller::DEFAULT
        .into_iter()
        .chain([Controller::Devices])
        .filter(|c| layout.available().contains(c))
        .collect();
    // state.json first, saying `creating` and where the cgroup will be: if this process is
    // killed mid-way, `state`, `list` and `delete --force` still find what it made.
    let mut state = State {
        oci_version: spec.spec.version().clone(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        bundle: spec.bundle.clone(),
        annotations: crate::hooks::annotations(&spec.spec),
        rootfs: spec.rootfs.clone(),
        created: now_rfc3339(),
        cgroup: CgroupRef {
            parent: parent.clone(),
            name: name.clone(),
            controllers: controllers.clone(),
        },
        pid_start_time: 0,
        hooks: spec.spec.hooks().clone(),
    };
    state.save(&dir)?;
    let cg = layout
        .cgroup()
        .parent(&parent)
        .name(&name)
        .controllers(&controllers)
        .create()
        .map_err(|e| match e.errno() {
            // Someone else's cgroup: adopting it would apply our limits to their processes and
            // kill them on delete.
            Some(Errno::EEXIST) => RuntimeError::Spec {
                file: spec.origin.clone(),
                field: "linux.cgroupsPath".into(),
                reason: format!(
                    "the cgroup {} already exists; lcrun makes a cgroup of its own for each container and never adopts one: give a path that does not exist yet",
                    parent.join(&name).display()
                ),
            },
            _ => e.into(),
        })?;
    guard.cgroup = Some(cg);
    let cg = guard.cgroup.as_ref().expect("just set");
    let cgroup_rel = cg.relative_path().to_path_buf();
    let limits = match linux.and_then(|l| l.resources().as_ref()) {
        Some(r) => Some((resource_limits(r, &spec.origin)?, r)),
        None => None,
    };
    let fifo = dir.join(EXEC_FIFO);

    // New namespaces come from clone flags, except cgroup: the init unshares it once it is in
    // its cgroup, so that the namespace's root is that cgroup. Namespaces with a path are
    // joined by the init.
    let namespaces: Vec<_> = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let new = |t| {
        namespaces
            .iter()
            .any(|n| n.typ() == t && n.path().is_none())
    };
    let mut flags = CloneFlags::empty();
    let mut join = Vec::new();
    // A PID namespace is joined by the clone itself: setns(2) into one moves only the
    // children of the caller, so the runtime enters it for the clone (see spawn_init).
    let mut pid_ns = None;
    for ns in &namespaces {
        match ns.path() {
            Some(p) if ns.typ() == LinuxNamespaceType::Pid => pid_ns = Some(p.as_path()),
            Some(p) => join.push((ns.typ(), p.clone())),
            None if ns.typ() == LinuxNamespaceType::Cgroup => {}
            None => flags |= clone_flag(ns.typ()),
        }
    }

    let isolation = crate::isolation::Namespaces::of(&spec.spec);
    let wait_maps = new(LinuxNamespaceType::User);
    let mut spawned =
        crate::spawn::spawn_init(&rt.init_exe, flags, pid_ns, opts.stdio.as_ref(), wait_maps)?;
    let pid = spawned.pid;
    guard.pid = Some(pid);
    state.pid = pid.as_raw();
    state.pid_start_time = proc_stat(pid.as_raw()).map(|s| s.1).unwrap_or(0);
    // The move into the cgroup runs beside the rest: the first write of a pid into a
    // cgroup.procs waits for an RCU grace period (the kernel's cgroup_threadgroup_rwsem turns
    // to its writer mode; 5-15 ms here, most of a container's lifecycle), during which this
    // process writes the limits, device rules, fifo and state, and the init gets its config
    // and sets up its root; the init waits for `Joined` before what depends on its cgroup
    // (the cgroup namespace and its fresh cgroup mounts, made last) and before `Ready`, and no
    // limit is missing by then: the user process runs only once `start` opens the fifo.
    // On v1 hierarchies the init moves itself, with no grace period to wait for (it is
    // single-threaded, and not in a user namespace of its own whose root may lack the right).
    let (join_tasks, mover) = if wait_maps {
        (Vec::new(), cg.mover())
    } else {
        let (v1, rest) = cg.mover().split_v1();
        (v1.into_iter().map(|d| d.join("tasks")).collect(), rest)
    };
    let mut joining = Joining(
        (!mover.is_empty()).then(|| std::thread::spawn(move || mover.add_pid(pid.as_raw()))),
    );
    if let Some((l, r)) = &limits {
        cg.apply(l)?;
        crate::devices::apply(cg, r)?;
    }
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622))
        .map_err(RuntimeError::sys(format!("mkfifo {}", fifo.display())))?;
    // Past the umask: the init may run as another user (a user namespace's root) and must be
    // able to open it for writing.
    nix::sys::stat::fchmodat(
        None,
        &fifo,
        Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(RuntimeError::sys(format!("chmod {}", fifo.display())))?;
    state.save(&dir)?;
    if wait_maps {
        write_id_maps(pid, spec)?;
    }
    spawned.release()?;
    let (parent_sock, exe_path) = (spawned.sock, spawned.exe);
    let cfg = InitConfig {
        id: id.to_string(),
        bundle: spec.bundle.clone(),
        pid: pid.as_raw(),
        spec: spec.spec.clone(),
        rootfs: spec.rootfs.clone(),
        fifo: fifo.clone(),
        join,
        cgroup_ns: new(LinuxNamespaceType::Cgroup),
        user_ns: new(LinuxNamespaceType::User),
        uts_ns: isolation.own(LinuxNamespaceType::Uts),
        root_entry: isolation.root_entry(),
        cgroup_rel,
        join_tasks,
    };
    crate::console::send_msg(
        parent_sock.as_raw_fd(),
        &InitRequest::Create(Box::new(cfg)),
        None,
    )?;
    match joining.join() {
        Ok(()) => crate::console::send_msg(parent_sock.as_raw_fd(), &InitMsg::Joined, None)?,
        Err(e) => {
            let message = format!("cannot move the init into its cgroup: {e}");
            let _ = crate::console::send_msg(
                parent_sock.as_raw_fd(),
                &InitMsg::Error { message },
                None,
            );
            return Err(e);
        }
    }
    let mut console = None;
    loop {
        match crate::console::recv_msg::<InitMsg>(parent_sock.as_raw_fd())? {
            Some((InitMsg::Ready, _)) => break,
            Some((InitMsg::Console { name }, fd)) => {
                let fd = fd.ok_or_else(|| {
                    RuntimeError::Init("the console message carried no pty".into())
                })?;
                console = Some((fd, name));
            }
            Some((InitMsg::Error { message }, _)) => return Err(RuntimeError::Init(message)),
            Some((InitMsg::RunHooks, _)) => {
                // runtime-tools and runc's users read `created` here (hooks_stdin).
                let state =
                    crate::hooks::spec_state(&spec.spec, id, "created", pid.as_raw(), &spec.bundle);
                let h = spec.spec.hooks().as_ref();
                #[allow(deprecated)]
                let r =
                    crate::hooks::run("prestart", h.and_then(|h| h.prestart().as_ref()), &state)
                        .and_then(|()| {
                            crate::hooks::run(
                                "createRuntime",
                                h.and_then(|h| h.create_runtime().as_ref()),
                                &state,
                            )
                        });
                match r {
                    Ok(()) => crate::console::send_msg(
                        parent_sock.as_raw_fd(),
                        &InitMsg::HooksDone,
                        None,
                    )?,
                    Err(e) => {
                        let message = e.to_string();
                        let _ = crate::console::send_msg(
                            parent_sock.as_raw_fd(),
                            &InitMsg::Error { message },
                            None,
                        );
                        return Err(e);
                    }
                }
            }
            Some((InitMsg::HooksDone | InitMsg::Joined | InitMsg::ExecStarted { .. }, _)) => {}
            None => {
                let status = waitpid(pid, None).ok();
                guard.pid = None;
                return Err(RuntimeError::Init(format!(
                    "the init ended before it was ready ({status:?}); is {} a runtime binary that calls run_if_init?",
                    exe_path.display()
                )));
            }
        }
    }
    if let (Some((fd, name)), Some(path)) = (&console, &opts.console_socket) {
        crate::console::send_to_console_socket(path, fd, name)?;
    }
    state.status = Status::Created;
    state.save(&dir)?;
    if let Some(pf) = &opts.pid_file {
        std::fs::write(pf, pid.as_raw().to_string())
            .map_err(RuntimeError::io("write the pid file", pf))?;
    }
    Ok(Container {
        dir,
        state,
        child: true,
        console: console.map(|(fd, _)| fd),
        layout: layout.into(),
    })
}

fn write_id_maps(pid: Pid, spec: &ValidSpec) -> Result<()> {
    let linux = spec.spec.linux().as_ref();
    for (file, maps) in [
        ("uid_map", linux.and_then(|l| l.uid_mappings().as_ref())),
        ("gid_map", linux.and_then(|l| l.gid_mappings().as_ref())),
    ] {
        let text: String = maps
            .into_iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let path = PathBuf::from(format!("/proc/{}/{file}", pid.as_raw()));
        std::fs::write(&path, text).map_err(RuntimeError::io("write", &path))?;
    }
    Ok(())
}

/// A container known to the runtime.
#[derive(Debug)]
pub struct Container {
    dir: PathBuf,
    state: State,
    /// Whether this process created it (and so is the parent of its init and can reap it).
    child: bool,
    /// The pty master of a terminal container, when this process created it.
    console: Option<OwnedFd>,
    /// The host's cgroup layout, detected once.
    layout: std::sync::OnceLock<Layout>,
}

impl Container {
    /// Its id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Takes the pty master of a terminal container created by this process.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// The host pid of its init.
    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// The stored state (its `status` is the last written; see [`Container::status`]).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The container's directory under the runtime root.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn hook_state(&self, status: &str) -> Vec<u8> {
        let s = &self.state;
        crate::hooks::state_json(
            &s.oci_version,
            &s.id,
            status,
            s.pid,
            &s.bundle,
            &s.annotations,
        )
    }

    fn alive(&self) -> bool {
        match proc_stat(self.state.pid) {
            None => false,
            Some((state, start)) => state != 'Z' && start == self.state.pid_start_time,
        }
    }

    /// The live status, derived from the process, the fifo and the freezer.
    pub fn status(&self) -> Status {
        if self.state.pid == 0 {
            return Status::Creating;
        }
        if !self.alive() {
            return Status::Stopped;
        }
        if self.state.status == Status::Creating {
            // create has not finished (or was killed: `delete` removes what it left).
            return Status::Creating;
        }
        let frozen = self
            .cgroup()
            .ok()
            .and_then(|cg| cg.get(limitcheck_cgroup::LimitKind::Freezer).ok())
            == Some(Limit::Freezer(limitcheck_cgroup::FreezerState::Frozen));
        if frozen {
            Status::Paused
        } else if self.dir.join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    /// The container's cgroup.
    pub fn cgroup(&self) -> Result<Cgroup> {
        Ok(self.cgroup_builder()?.open()?)
    }

    /// Whichever of the container's cgroup directories still exist (one may have been removed
    /// from outside): what `delete` kills through and removes.
    fn cgroup_remains(&self) -> Result<Cgroup> {
        Ok(self.cgroup_builder()?.open_partial()?)
    }

    fn cgroup_builder(&self) -> Result<limitcheck_cgroup::CgroupBuilder<'_>> {
        let layout = match self.layout.get() {
            Some(l) => l,
            None => {
                let l = Layout::detect()?;
                self.layout.get_or_init(|| l)
            }
        };
        let r = &self.state.cgroup;
        Ok(layout
            .cgroup()
            .parent(&r.parent)
            .name(&r.name)
            .controllers(&r.controllers))
    }

    fn bad_state(&self, op: &'static str, status: Status, hint: &str) -> RuntimeError {
        RuntimeError::BadState {
            id: self.state.id.clone(),
            op,
            status: status.to_string(),
            hint: hint.to_string(),
        }
    }

    /// Lets the init execute the user process.
    pub fn start(&mut self) -> Result<()> {
        self.start_within(None)
    }

    /// [`Container::start`], giving up after `deadline` if the init has not reached its
    /// process by then: an init starved of CPU by the container's own limits (a weight of 1
    /// on a CPU another container holds at 10000) may take minutes to get there, and a caller
    /// with a timeline of its own must not wait for it. The container is left as it is (not
    /// running): delete it.
    pub fn start_within(&mut self, deadline: Option<std::time::Duration>) -> Result<()> {
        let began = std::time::Instant::now();
        let status = self.status();
        if status != Status::Created {
            return Err(self.bad_state(
                "start",
                status,
                "; only a created container can be started",
            ));
        }
        let fifo = self.dir.join(EXEC_FIFO);
        let fd = open(
            &fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RuntimeError::sys(format!("open {}", fifo.display())))?;
        // SAFETY: just opened, owned here.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        // The init writes "0" once it is past the fifo, then whatever stops its process from
        // running (a failing startContainer hook, execve's error), and the fifo closes at the
        // execve (close-on-exec) or at its exit: read to the end.
        let mut got: Vec<u8> = Vec::new();
        loop {
            let mut pfd = [nix::poll::PollFd::new(
                fd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)) {
                Ok(n) if n > 0 => {
                    let mut b = [0u8; 4096];
                    match nix::unistd::read(fd.as_raw_fd(), &mut b) {
                        Ok(0) if !got.is_empty() => break,
                        Ok(n) => got.extend_from_slice(&b[..n]),
                        Err(Errno::EAGAIN) => {}
                        Err(e) => return Err(RuntimeError::sys("read the exec fifo")(e)),
                    }
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(RuntimeError::sys("poll the exec fifo")(e)),
            }
            if got.is_empty() && !self.alive() {
                return Err(RuntimeError::Init(
                    "the container's init exited before start".into(),
                ));
            }
            if let Some(d) = deadline.filter(|d| began.elapsed() > *d) {
                return Err(RuntimeError::Init(format!(
                    "the container's init did not reach its process within {:.0} s of start \
                     ({}): it got no CPU to run on (is it starved by its own limits?)",
                    d.as_secs_f64(),
                    if got.is_empty() {
                        "it has not passed the exec fifo"
                    } else {
                        "it passed the exec fifo but has not exec'd"
                    }
                )));
            }
        }
        let _ = std::fs::remove_file(&fifo);
        if got.len() > 1 {
            // The fifo closes at the init's exit_files(), before the kernel makes it a zombie
            // in exit_notify(); in between it drops its namespaces (a mount namespace's
            // teardown waits for an RCU grace period) and, as its pid namespace's init, reaps
            // that namespace. A `state` or `delete` right after this failed `start` could find
            // it still running (CI saw `delete` refused so once). It is on its way out: wait.
            let gone_by = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while self.alive() && std::time::Instant::now() < gone_by {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            return Err(RuntimeError::Init(format!(
                "the container's process did not start: {}",
                String::from_utf8_lossy(&got[1..])
            )));
        }
        self.state.status = Status::Running;
        self.state.save(&self.dir)?;
        // A failing poststart hook is a warning: the container runs on (OCI runtime spec).
        let poststart = self
            .state
            .hooks
            .as_ref()
            .and_then(|h| h.poststart().as_ref());
        crate::hooks::run_warning_only("poststart", poststart, &self.hook_state("running"));
        Ok(())
    }

    /// Sends a signal to the init.
    pub fn kill(&self, sig: Signal) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.bad_state("kill", status, "; nothing runs in it"));
        }
        kill(Pid::from_raw(self.state.pid), sig)
            .map_err(RuntimeError::sys(format!("kill {} {sig}", self.state.pid)))
    }

    /// Freezes every process of the container.
    pub fn pause(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Running && status != Status::Created {
            return Err(self.bad_state("pause", status, ""));
        }
        Ok(self.cgroup()?.freeze()?)
    }

    /// Thaws a paused container.
    pub fn resume(&self) -> Result<()> {
        let status = self.status();
        if status != Status::Paused {
            return Err(self.bad_state(
                "resume",
                status,
                "; only a paused container can be resumed",
            ));
        }
        Ok(self.cgroup()?.thaw()?)
    }

    /// Changes the resources of a live container, as `docker update` does.
    pub fn update(&self, limits: &[Limit]) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.bad_state("update", status, ""));
        }
        Ok(self.cgroup()?.apply(limits)?)
    }

    /// Reads the container's cgroup statistics.
    pub fn stats(&self) -> Result<Stats> {
        Ok(self.cgroup()?.stats()?)
    }

    /// The host pids of every process in the container.
    pub fn ps(&self) -> Result<Vec<i32>> {
        Ok(self.cgroup()?.pids()?)
    }

    /// Whether the init has ended, without waiting: how, when this process created it (it is
    /// reaped then), or with code and signal `None` when another process did.
    pub fn try_wait(&self) -> Result<Option<ExitInfo>> {
        let (code, signal) = if self.child {
            match waitpid(Pid::from_raw(self.state.pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(s) => match crate::exec::status_of(s) {
                    Some(r) => r,
                    None => return Ok(None),
                },
                // Reaped already (by an earlier call): it has ended.
                Err(Errno::ECHILD) => (None, None),
                Err(e) => return Err(RuntimeError::sys(format!("wait for {}", self.state.pid))(e)),
            }
        } else if self.alive() {
            return Ok(None);
        } else {
            (None, None)
        };
        Ok(Some(ExitInfo {
            code,
            signal,
            oom_killed: false,
        }))
    }

    /// Waits for the init to exit. The process that created the container reaps it and gets
    /// its exit code or signal; any other process can only watch it go (code and signal `None`).
    /// `forward` signals received meanwhile are passed to the init (block them first with
    /// [`block_signals`], before [`Runtime::create`], so that none is lost).
    pub fn wait(&self, forward: &[Signal]) -> Result<ExitInfo> {
        let pid = Pid::from_raw(self.state.pid);
        let (code, signal) = if self.child {
            wait_forwarding(pid, pid, forward)?
        } else {
            let mut backoff = limitcheck_cgroup::Backoff::default();
            while self.alive() {
                backoff.wait();
            }
            (None, None)
        };
        let oom_killed = self
            .stats()
            .ok()
            .and_then(|s| s.memory)
            .and_then(|m| m.oom_kill)
            .is_some_and(|n| n > 0);
        Ok(ExitInfo {
            code,
            signal,
            oom_killed,
        })
    }

    /// Deletes the container: removes its cgroup and its state directory. One that is not
    /// stopped (creating, created, running, paused) is refused and left as it is, unless `force`:
    /// then what still runs is killed first (OCI runtime spec, "delete").
    pub fn delete(self, force: bool) -> Result<()> {
        let status = self.status();
        if status != Status::Stopped && !force {
            return Err(self.bad_state("delete", status, "; stop it first or use --force"));
        }
        let cg = self.cgroup_remains();
        if let Ok(cg) = &cg {
            if status == Status::Paused {
                let _ = cg.thaw();
            }
            // Its tasks die only once they run: a throttled group's may wait seconds.
            cg.unthrottle();
            cg.kill_all()?;
        }
        if self.alive() {
            let _ = kill(Pid::from_raw(self.state.pid), Signal::SIGKILL);
        }
        if self.child {
            let start = Instant::now();
            let mut backoff = limitcheck_cgroup::Backoff::default();
            while start.elapsed() < Duration::from_secs(5) {
                match waitpid(Pid::from_raw(self.state.pid), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) => backoff.wait(),
                    _ => break,
                }
            }
        }
        if let Ok(cg) = cg {
            cg.remove()?;
        }
        std::fs::remove_dir_all(&self.dir).map_err(RuntimeError::io("remove", &self.dir))?;
        let poststop = self
            .state
            .hooks
            .as_ref()
            .and_then(|h| h.poststop().as_ref());
        crate::hooks::run_warning_only("poststop", poststop, &self.hook_state("stopped"));
        Ok(())
    }
}

/// Waits for our child `child` to end, passing `forward` signals (blocked beforehand with
/// [`block_signals`]) on to `target`. Race-free: a blocked SIGCHLD cannot be missed.
fn wait_forwarding(
    child: Pid,
    target: Pid,
    forward: &[Signal],
) -> Result<(Option<i32>, Option<i32>)> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in forward {
        set.add(*s);
    }
    loop {
        let flag = if forward.is_empty() {
            None
        } else {
            Some(WaitPidFlag::WNOHANG)
        };
        match waitpid(child, flag) {
            Ok(s) => {
                if let Some(r) = crate::exec::status_of(s) {
                    return Ok(r);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(RuntimeError::sys(format!("wait for {child}"))(e)),
        }
        if !forward.is_empty() {
            // Blocked signals queue up: take one and forward it, or notice SIGCHLD.
            if let Ok(sig) = set.wait() {
                if sig != Signal::SIGCHLD {
                    let _ = kill(target, sig);
                }
            }
        }
    }
}

/// Options of [`Runtime::exec`].
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// The process's stdin, stdout and stderr; `None` inherits this process's.
    pub stdio: Option<[OwnedFd; 3]>,
    /// Where to send the pty master of a terminal process.
    pub console_socket: Option<PathBuf>,
    /// Where to write the process's host pid.
    pub pid_file: Option<PathBuf>,
}

/// A process started in a container by [`Runtime::exec`].
#[derive(Debug)]
pub struct ExecProcess {
    /// The process's host pid.
    pub pid: i32,
    /// The helper that joined the container and mirrors the process's exit (our child).
    helper: Pid,
    /// The pty master, for a terminal process without a console socket.
    pub console: Option<OwnedFd>,
}

impl ExecProcess {
    /// Waits for the process to end, forwarding `forward` signals to it.
    pub fn wait(&self, forward: &[Signal]) -> Result<ExitInfo> {
        let (code, signal) = wait_forwarding(self.helper, Pid::from_raw(self.pid), forward)?;
        Ok(ExitInfo {
            code,
            signal,
            oom_killed: false,
        })
    }
}

impl Runtime {
    /// Runs `process` in a running container: in all its namespaces and its cgroup, with the
    /// process's user, capabilities, rlimits, environment and working directory.
    pub fn exec(
        &self,
        c: &Container,
        process: oci_spec::runtime::Process,
        opts: ExecOptions,
    ) -> Result<ExecProcess> {
        let status = c.status();
        if !matches!(status, Status::Running | Status::Created) {
            return Err(c.bad_state(
                "exec in",
                status,
                "; only a created or running container runs new processes",
            ));
        }
        let cg = c.cgroup()?;
        let join = crate::exec::namespaces_of(c.pid());
        let mut spawned = crate::spawn::spawn_init(
            &self.init_exe,
            CloneFlags::empty(),
            None,
            opts.stdio.as_ref(),
            false,
        )?;
        spawned.release()?;
        let (helper, sock) = (spawned.pid, spawned.sock);
        let fail = |e: RuntimeError| {
            let _ = kill(helper, Signal::SIGKILL);
            let _ = waitpid(helper, None);
            e
        };
        cg.add_pid(helper.as_raw()).map_err(|e| fail(e.into()))?;
        // The init's root, which is not its mount namespace's when it entered it by chroot.
        let root = Some(PathBuf::from(format!("/proc/{}/root", c.pid())));
        let cfg = crate::exec::ExecConfig {
            join,
            process,
            root,
        };
        crate::console::send_msg(sock.as_raw_fd(), &InitRequest::Exec(Box::new(cfg)), None)
            .map_err(fail)?;
        let (mut pid, mut console) = (0, None);
        loop {
            match crate::console::recv_msg::<InitMsg>(sock.as_raw_fd()).map_err(fail)? {
                Some((InitMsg::ExecStarted { pid: p }, _)) => pid = p,
                Some((InitMsg::Console { name }, Some(fd))) => console = Some((fd, name)),
                Some((InitMsg::Ready, _)) => break,
                Some((InitMsg::Error { message }, _)) => {
                    return Err(fail(RuntimeError::Init(message)))
                }
                Some(_) => {}
                None => {
                    return Err(fail(RuntimeError::Init(
                        "the exec helper ended before the process started".into(),
                    )))
                }
            }
        }
        if let (Some((fd, name)), Some(path)) = (&console, &opts.console_socket) {
            crate::console::send_to_console_socket(path, fd, name)?;
        }
        if let Some(pf) = &opts.pid_file {
            std::fs::write(pf, pid.to_string())
                .map_err(RuntimeError::io("write the pid file", pf))?;
        }
        Ok(ExecProcess {
            pid,
            helper,
            console: console.map(|(fd, _)| fd),
        })
    }
}

/// Blocks `signals` (and SIGCHLD) in this thread, so that [`Container::wait`] can take them one
/// by one without a race. The container init unblocks them before it executes.
pub fn block_signals(signals: &[Signal]) -> Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in signals {
        set.add(*s);
    }
    set.thread_block()
        .map_err(RuntimeError::sys("block signals"))
}
