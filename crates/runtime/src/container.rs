//! The container lifecycle on the runtime's side: create, start, state, kill, pause, resume,
//! update, stats, ps, wait, delete.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
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
use crate::init::{clone_flag, InitConfig, InitMsg, INIT_ENV, INIT_FD};
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

fn high_fd(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: fd is open for the duration of this call.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let n = nix::fcntl::fcntl(b.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))
        .map_err(RuntimeError::sys("duplicate a file descriptor"))?;
    // SAFETY: fcntl returned a new fd that we own.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(n) })
}

fn cstring(s: impl AsRef<std::ffi::OsStr>) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(s.as_ref().as_bytes())
        .map_err(|_| RuntimeError::Init("a path or argument holds a NUL byte".into()))
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
    let cg = layout
        .cgroup()
        .parent(&parent)
        .name(&name)
        .controllers(&controllers)
        .create()?;
    guard.cgroup = Some(cg);
    let cg = guard.cgroup.as_ref().expect("just set");
    if let Some(r) = linux.and_then(|l| l.resources().as_ref()) {
        cg.apply(&resource_limits(r, &spec.origin)?)?;
        crate::devices::apply(cg, r)?;
    }
    let cgroup_rel = cg.relative_path().to_path_buf();

    let fifo = dir.join(EXEC_FIFO);
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
    for ns in &namespaces {
        match ns.path() {
            Some(p) => join.push((ns.typ(), p.clone())),
            None if ns.typ() == LinuxNamespaceType::Cgroup => {}
            None => flags |= clone_flag(ns.typ()),
        }
    }

    let (parent_sock, child_sock) = crate::console::seqpacket_pair()?;
    let child_fd = high_fd(child_sock.as_raw_fd())?;
    drop(child_sock);
    let stdio: Option<[OwnedFd; 3]> = match &opts.stdio {
        Some([a, b, c]) => Some([
            high_fd(a.as_raw_fd())?,
            high_fd(b.as_raw_fd())?,
            high_fd(c.as_raw_fd())?,
        ]),
        None => None,
    };
    let exe_path =
        std::fs::canonicalize(&rt.init_exe).map_err(RuntimeError::io("resolve", &rt.init_exe))?;
    let exe = cstring(&exe_path)?;
    let argv = [cstring("lcrun")?, cstring("init")?];
    let envp = [cstring(format!("{INIT_ENV}={INIT_FD}"))?];
    let argv_p: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let envp_p: Vec<*const libc::c_char> = envp
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let child_raw = child_fd.as_raw_fd();
    let stdio_raw = stdio
        .as_ref()
        .map(|s| [s[0].as_raw_fd(), s[1].as_raw_fd(), s[2].as_raw_fd()]);
    let mut stack = vec![0u8; 256 * 1024];
    // In a new user namespace the child must not execute the init before its uid and gid maps
    // are written: exec as an unmapped user would drop every capability. It waits on this pipe.
    let (maps_r, maps_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(RuntimeError::sys("pipe"))?;
    let wait_maps = new(LinuxNamespaceType::User);
    let maps_raw = maps_r.as_raw_fd();
    let cb = Box::new(|| -> isize {
        // Only async-signal-safe calls here: this may be a copy of a multi-threaded process.
        // SAFETY: read, dup2, sigprocmask, execve and _exit on values prepared before the clone.
        unsafe {
            if wait_maps {
                let mut b = 0u8;
                if libc::read(maps_raw, (&mut b as *mut u8).cast(), 1) != 1 {
                    libc::_exit(125);
                }
                // Become the namespace's root while we hold every capability in it, so that
                // the exec below keeps them.
                libc::setgroups(0, std::ptr::null());
                if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
                    libc::_exit(124);
                }
            }
            if let Some(s) = stdio_raw {
                for (i, fd) in s.iter().enumerate() {
                    if libc::dup2(*fd, i as libc::c_int) < 0 {
                        libc::_exit(126);
                    }
                }
            }
            if libc::dup2(child_raw, INIT_FD) < 0 {
                libc::_exit(126);
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            libc::execve(exe.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
            libc::_exit(127)
        }
    });
    // SAFETY: the callback makes only async-signal-safe calls and ends in execve or _exit.
    let pid = unsafe { nix::sched::clone(cb, &mut stack, flags, Some(libc::SIGCHLD)) }.map_err(
        RuntimeError::sys(format!("clone the container init ({flags:?})")),
    )?;
    guard.pid = Some(pid);
    drop(child_fd);
    drop(stdio);

    drop(maps_r);
    cg.add_pid(pid.as_raw())?;
    if wait_maps {
        write_id_maps(pid, spec)?;
        nix::unistd::write(&maps_w, &[1])
            .map_err(RuntimeError::sys("release the container init"))?;
    }
    drop(maps_w);
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
        uts_ns: new(LinuxNamespaceType::Uts),
        cgroup_rel,
    };
    crate::console::send_msg(parent_sock.as_raw_fd(), &cfg, None)?;
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
                let annotations = spec
                    .spec
                    .annotations()
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let state = crate::hooks::state_json(
                    spec.spec.version(),
                    id,
                    "creating",
                    pid.as_raw(),
                    &spec.bundle,
                    &annotations,
                );
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
            Some((InitMsg::HooksDone, _)) => {}
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
    let pid_start_time = proc_stat(pid.as_raw()).map(|s| s.1).unwrap_or(0);
    let state = State {
        oci_version: spec.spec.version().clone(),
        id: id.to_string(),
        status: Status::Created,
        pid: pid.as_raw(),
        bundle: spec.bundle.clone(),
        annotations: spec
            .spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        rootfs: spec.rootfs.clone(),
        created: now_rfc3339(),
        cgroup: CgroupRef {
            parent,
            name,
            controllers,
        },
        pid_start_time,
        hooks: spec.spec.hooks().clone(),
    };
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
        let layout = Layout::detect()?;
        let r = &self.state.cgroup;
        Ok(layout
            .cgroup()
            .parent(&r.parent)
            .name(&r.name)
            .controllers(&r.controllers)
            .open()?)
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
        loop {
            let mut pfd = [nix::poll::PollFd::new(
                fd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(100u16)) {
                Ok(n) if n > 0 => {
                    let mut b = [0u8; 1];
                    match nix::unistd::read(fd.as_raw_fd(), &mut b) {
                        Ok(1) => break,
                        Ok(_) | Err(Errno::EAGAIN) => {}
                        Err(e) => return Err(RuntimeError::sys("read the exec fifo")(e)),
                    }
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(RuntimeError::sys("poll the exec fifo")(e)),
            }
            if !self.alive() {
                return Err(RuntimeError::Init(
                    "the container's init exited before start".into(),
                ));
            }
        }
        let _ = std::fs::remove_file(&fifo);
        self.state.status = Status::Running;
        self.state.save(&self.dir)?;
        // A failing poststart hook is a warning: the container runs on (OCI runtime spec).
        let poststart = self
            .state
            .hooks
            .as_ref()
            .and_then(|h| h.poststart().as_ref());
        if let Err(e) = crate::hooks::run("poststart", poststart, &self.hook_state("running")) {
            eprintln!("warning: {e}");
        }
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

    /// Waits for the init to exit. The process that created the container reaps it and gets
    /// its exit code or signal; any other process can only watch it go (code and signal `None`).
    /// `forward` signals received meanwhile are passed to the init (block them first with
    /// [`block_signals`], before [`Runtime::create`], so that none is lost).
    pub fn wait(&self, forward: &[Signal]) -> Result<ExitInfo> {
        let pid = Pid::from_raw(self.state.pid);
        let (code, signal) = if self.child {
            let mut set = SigSet::empty();
            set.add(Signal::SIGCHLD);
            for s in forward {
                set.add(*s);
            }
            loop {
                match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(_, c)) => break (Some(c), None),
                    Ok(WaitStatus::Signaled(_, s, _)) => break (None, Some(s as i32)),
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(RuntimeError::sys(format!("wait for {pid}"))(e)),
                }
                if forward.is_empty() {
                    match waitpid(pid, None) {
                        Ok(WaitStatus::Exited(_, c)) => break (Some(c), None),
                        Ok(WaitStatus::Signaled(_, s, _)) => break (None, Some(s as i32)),
                        Ok(_) | Err(Errno::EINTR) => continue,
                        Err(e) => return Err(RuntimeError::sys(format!("wait for {pid}"))(e)),
                    }
                }
                // Blocked signals queue up: take one and forward it, or notice SIGCHLD.
                if let Ok(sig) = set.wait() {
                    if sig != Signal::SIGCHLD {
                        let _ = kill(pid, sig);
                    }
                }
            }
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

    /// Deletes the container: kills what still runs (a created container always; a running or
    /// paused one only with `force`), removes its cgroup and its state directory.
    pub fn delete(self, force: bool) -> Result<()> {
        let status = self.status();
        if matches!(status, Status::Running | Status::Paused) && !force {
            return Err(self.bad_state("delete", status, "; stop it first or use --force"));
        }
        let cg = self.cgroup();
        if let Ok(cg) = &cg {
            if status == Status::Paused {
                let _ = cg.thaw();
            }
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
        if let Err(e) = crate::hooks::run("poststop", poststop, &self.hook_state("stopped")) {
            eprintln!("warning: {e}");
        }
        Ok(())
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
