//! The container's init: what runs inside the new namespaces, from the runtime's own binary.
//!
//! The runtime clones a child into the new namespaces and has it execute the runtime binary
//! again with [`INIT_ENV`] set (as `runc init` does). A fresh process image is single-threaded,
//! so the setup below may allocate and do I/O freely even when the runtime library is used from
//! a multi-threaded program. Any binary that embeds this crate calls [`run_if_init`] first thing
//! in `main`.
//!
//! Protocol on the socket at fd 3, one JSON message a line: the runtime sends an
//! [`InitConfig`]; init sets the container up and answers `Ready` or `Error`; then it blocks on
//! the exec fifo until `start`, and executes the user process.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimitType, Spec};
use serde::{Deserialize, Serialize};

use crate::console;
use crate::error::{Result, RuntimeError};
use crate::hooks;
use crate::rootfs::{self, MountContext};
use crate::syscall::{RealSyscall, Syscall};

/// Set in the environment of the runtime binary when it must act as a container init; its value
/// is the fd of the socket to the runtime.
pub const INIT_ENV: &str = "_LIMITCHECK_RUNTIME_INIT";

/// Where the socket to the runtime is in the init.
pub const INIT_FD: RawFd = 3;

/// The first message to an init: make a container, or run a process in one.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum InitRequest {
    /// Set a new container up and wait for `start`.
    Create(Box<InitConfig>),
    /// Join a running container and execute a process in it.
    Exec(Box<crate::exec::ExecConfig>),
}

/// What the runtime tells the init.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitConfig {
    /// The container id (for hooks' state).
    pub id: String,
    /// The bundle (for hooks' state).
    pub bundle: PathBuf,
    /// The init's pid on the host (for hooks' state).
    pub pid: i32,
    /// The spec.
    pub spec: Spec,
    /// The root filesystem on the host.
    pub rootfs: PathBuf,
    /// The exec fifo on the host.
    pub fifo: PathBuf,
    /// Namespaces to join by path (those the spec gives a path for).
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Whether to unshare a cgroup namespace (done by init, after the runtime has put it in the
    /// container's cgroup, so that the namespace's root is that cgroup).
    pub cgroup_ns: bool,
    /// Whether the init runs in a new user namespace (its maps are written before this message).
    pub user_ns: bool,
    /// Whether the init has a UTS namespace that is not the caller's (then the hostname and
    /// domain name are set).
    pub uts_ns: bool,
    /// The container's cgroup below each hierarchy's root.
    pub cgroup_rel: PathBuf,
    /// The `tasks` files of the container's cgroup on v1 hierarchies: the init moves itself
    /// by writing `0` into each, first thing (see `limitcheck_cgroup::Mover::split_v1`); the
    /// runtime moves it into the others.
    #[serde(default)]
    pub join_tasks: Vec<PathBuf>,
    /// How the root is entered (see [`crate::isolation::RootEntry`]).
    pub root_entry: crate::isolation::RootEntry,
}

/// What the init answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InitMsg {
    /// The pty master of a terminal container is attached to this message.
    Console {
        /// The pty's slave path inside the container.
        name: String,
    },
    /// Set up; waiting on the fifo.
    Ready,
    /// Init to runtime: mounts are done, run the prestart and createRuntime hooks now.
    RunHooks,
    /// Runtime to init: the hooks ran.
    HooksDone,
    /// Runtime to init: you are in the container's cgroup now (the runtime moves the init
    /// while the init sets up its mounts: on cgroup v1 the first move into a cgroup waits for
    /// an RCU grace period, several milliseconds, and that wait overlaps the init's work).
    Joined,
    /// Exec: the process that will run has this host pid.
    ExecStarted {
        /// Its pid on the host.
        pid: i32,
    },
    /// Setup failed.
    Error {
        /// Why, with the field or path at fault.
        message: String,
    },
}

/// If this process was started as a container init, runs it and never returns.
pub fn run_if_init() {
    if std::env::var_os(INIT_ENV).is_none() {
        return;
    }
    // SAFETY: the runtime passed this fd to us and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(INIT_FD) };
    std::process::exit(main(sock));
}

/// The init in a child cloned from a single-threaded runtime (no exec): returns the exit code
/// when setup fails; on success it executes the user process and never returns.
pub fn main_in_child() -> i32 {
    // SAFETY: the runtime put our end of the socket at INIT_FD for us.
    let sock = unsafe { OwnedFd::from_raw_fd(INIT_FD) };
    main(sock)
}

fn send(sock: &OwnedFd, msg: &InitMsg, fd: Option<RawFd>) {
    let _ = console::send_msg(sock.as_raw_fd(), msg, fd);
}

fn main(sock: OwnedFd) -> i32 {
    let cfg: InitConfig = match console::recv_msg(sock.as_raw_fd()) {
        Ok(Some((InitRequest::Create(c), _))) => *c,
        Ok(Some((InitRequest::Exec(c), _))) => return crate::exec::exec_main(sock, *c),
        Ok(None) => return 1,
        Err(e) => {
            let message = format!("bad init config: {e}");
            send(&sock, &InitMsg::Error { message }, None);
            return 1;
        }
    };
    let ready = match setup(&cfg, &sock) {
        Ok(r) => r,
        Err(e) => {
            let message = e.init_message();
            send(&sock, &InitMsg::Error { message }, None);
            return 1;
        }
    };
    send(&sock, &InitMsg::Ready, None);
    drop(sock);
    let e = start_user_process(&cfg.spec, ready);
    let _ = writeln!(std::io::stderr(), "lcrun init: {e}");
    127
}

/// What setup leaves for the moment `start` opens the fifo.
struct Prepared {
    fifo: OwnedFd,
    /// `/proc/self/fd` opened before a chroot, when the container's root has no /proc.
    fd_dir: Option<OwnedFd>,
    exe: CString,
    /// The state startContainer hooks read.
    start_hooks_state: Vec<u8>,
}

fn setup(cfg: &InitConfig, sock: &OwnedFd) -> Result<Prepared> {
    // Before anything else (a mount namespace joined by path may hide these paths): this
    // single-threaded init moves itself, which needs no RCU grace period.
    for t in &cfg.join_tasks {
        std::fs::write(t, "0").map_err(RuntimeError::io("move the init into", t))?;
    }
    nix::sys::stat::umask(Mode::empty());
    if cfg.user_ns {
        nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .map_err(RuntimeError::sys("setresgid 0 in the user namespace"))?;
        nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(RuntimeError::sys("setresuid 0 in the user namespace"))?;
    }
    // Open them all first: once a mount namespace is joined, the other paths may not resolve.
    let mut fds = Vec::new();
    for (typ, path) in &cfg.join {
        let fd = open(
            path.as_path(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RuntimeError::sys(format!("open {}", path.display())))?;
        // SAFETY: fd was just opened and is owned here.
        fds.push((typ, path, unsafe { OwnedFd::from_raw_fd(fd) }));
    }
    for (typ, path, fd) in fds {
        nix::sched::setns(fd, clone_flag(*typ))
            .map_err(RuntimeError::sys(format!("setns {}", path.display())))?;
    }
    // The cgroup namespace's root is the cgroup the init is in when it unshares it: its own,
    // once the runtime says it moved it there. Everything before needs no cgroup.
    let mut joined = false;
    let mut join_cgroup = || -> Result<()> {
        if joined {
            return Ok(());
        }
        match console::recv_msg::<InitMsg>(sock.as_raw_fd())? {
            Some((InitMsg::Joined, _)) => {}
            Some((InitMsg::Error { message }, _)) => return Err(RuntimeError::Init(message)),
            other => {
                return Err(RuntimeError::Init(format!(
                    "expected the runtime's word that the init is in its cgroup, got {other:?}"
                )))
            }
        }
        if cfg.cgroup_ns {
            nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
                .map_err(RuntimeError::sys("unshare the cgroup namespace"))?;
        }
        joined = true;
        Ok(())
    };
    nix::unistd::setsid().map_err(RuntimeError::sys("setsid"))?;
    let fifo = open(
        cfg.fifo.as_path(),
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(RuntimeError::sys(format!("open {}", cfg.fifo.display())))?;
    // SAFETY: just opened, owned here.
    let fifo = unsafe { OwnedFd::from_raw_fd(fifo) };

    let sys = RealSyscall;
    // Without a mount namespace of its own the container shares the caller's mounts: nothing
    // is mounted and the root is entered with chroot (see crate::isolation).
    use crate::isolation::RootEntry;
    let mounts = cfg.root_entry != RootEntry::Chroot;
    let mut fd_dir = None;
    let spec_hooks = cfg.spec.hooks().as_ref();
    #[allow(deprecated)]
    let runtime_hooks =
        spec_hooks.is_some_and(|h| h.prestart().is_some() || h.create_runtime().is_some());
    let ctx = MountContext {
        layout: limitcheck_cgroup::Layout::detect().ok(),
        cgroup_ns: cfg.cgroup_ns,
        cgroup_rel: cfg.cgroup_rel.clone(),
        can_mknod: !cfg.user_ns,
    };
    // Hooks see every mount made before them, as the spec says: nothing is deferred then.
    let any_hooks = runtime_hooks || spec_hooks.is_some_and(|h| h.create_container().is_some());
    let mut deferred = Vec::new();
    if mounts {
        deferred = rootfs::prepare(
            &sys,
            &cfg.spec,
            &cfg.rootfs,
            &ctx,
            &mut join_cgroup,
            !any_hooks,
        )?;
    }
    if deferred.is_empty() {
        join_cgroup()?;
    }
    if runtime_hooks {
        console::send_msg(sock.as_raw_fd(), &InitMsg::RunHooks, None)?;
        match console::recv_msg::<InitMsg>(sock.as_raw_fd())? {
            Some((InitMsg::HooksDone, _)) => {}
            Some((InitMsg::Error { message }, _)) => return Err(RuntimeError::Init(message)),
            other => {
                return Err(RuntimeError::Init(format!(
                    "unexpected answer to RunHooks: {other:?}"
                )))
            }
        }
    }
    let state = |status| hooks::spec_state(&cfg.spec, &cfg.id, status, cfg.pid, &cfg.bundle);
    hooks::run(
        "createContainer",
        spec_hooks.and_then(|h| h.create_container().as_ref()),
        &state("creating"),
    )?;
    if cfg.root_entry == RootEntry::Pivot {
        rootfs::pivot(&sys, &cfg.rootfs)?;
    } else if mounts {
        rootfs::chroot_into(&sys, &cfg.rootfs)?;
    } else {
        // The container's root has no /proc mounted: write them through the caller's, and keep
        // a handle on this process's fd directory to reopen the exec fifo through after the
        // chroot (closed on exec, like the fifo itself).
        write_sysctls(&cfg.spec)?;
        let dir = open(
            "/proc/self/fd",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RuntimeError::sys("open /proc/self/fd"))?;
        // SAFETY: just opened, owned here.
        fd_dir = Some(unsafe { OwnedFd::from_raw_fd(dir) });
        rootfs::enter_by_chroot(&sys, &cfg.spec, &cfg.rootfs)?;
    }
    if cfg.uts_ns {
        if let Some(h) = cfg.spec.hostname() {
            sys.sethostname(h)?;
        }
        if let Some(d) = cfg.spec.domainname() {
            // SAFETY: a pointer and length of a live string.
            if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
                return Err(RuntimeError::sys(format!("setdomainname {d}"))(
                    nix::errno::Errno::last(),
                ));
            }
        }
    }
    if !deferred.is_empty() {
        join_cgroup()?;
        rootfs::mount_deferred(&sys, &deferred, &ctx)?;
    }
    if mounts {
        write_sysctls(&cfg.spec)?;
        // After the sysctls (they write /proc/sys), as runc orders it.
        rootfs::finish(&sys, &cfg.spec)?;
    }
    let process = cfg.spec.process().as_ref().expect("validated: process");
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(RuntimeError::io("write", "/proc/self/oom_score_adj"))?;
    }
    for r in process.rlimits().iter().flatten() {
        set_rlimit(r.typ(), r.soft(), r.hard())?;
    }
    let args = process.args().as_ref().expect("validated: args");
    let env = process.env().as_deref().unwrap_or_default();
    let exe = find_executable(&args[0], env, process.cwd())?;
    // A terminal is made inside the container's own devpts; the runtime gets the master.
    if process.terminal() == Some(true) {
        console::attach_terminal(sock.as_raw_fd(), process.console_size().as_ref())?;
    }
    // Identity and privileges last, before `Ready`: whatever fails here (a capability the
    // host's bounding set lacks, an unknown user) fails `create`, as with runc.
    crate::process::finalize(process)?;
    Ok(Prepared {
        start_hooks_state: state("created"),
        fifo,
        fd_dir,
        exe: CString::new(exe.into_os_string().into_encoded_bytes())
            .map_err(|_| RuntimeError::Init("executable path has a NUL byte".into()))?,
    })
}

/// The clone(2) flag of a namespace type.
pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::empty(),
    }
}

pub(crate) fn set_rlimit(t: PosixRlimitType, soft: u64, hard: u64) -> Result<()> {
    let res = match serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
    {
        Some(name) => rlimit_resource(&name),
        None => None,
    }
    .ok_or_else(|| RuntimeError::Spec {
        file: "config.json".into(),
        field: "process.rlimits".into(),
        reason: format!("{t:?} is not supported"),
    })?;
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit with a valid resource and a pointer to a local struct.
    if unsafe { libc::setrlimit(res, &lim) } != 0 {
        return Err(RuntimeError::Sys {
            op: format!("setrlimit {t:?} soft {soft} hard {hard}"),
            errno: nix::errno::Errno::last(),
        });
    }
    Ok(())
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

/// Finds the program in the container: a path with a slash as given (relative to cwd), else the
/// first match in the process's `PATH`.
pub(crate) fn find_executable(arg0: &str, env: &[String], cwd: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exe = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if arg0.contains('/') {
        let p = cwd.join(arg0);
        return if is_exe(&p) {
            Ok(PathBuf::from(arg0))
        } else {
            Err(RuntimeError::Spec {
                file: "config.json".into(),
                field: "process.args[0]".into(),
                reason: format!("{arg0} is not an executable file in the container"),
            })
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(crate::hostfs::DEFAULT_PATH);
    path.split(':')
        .map(|d| Path::new(d).join(arg0))
        .find(|p| is_exe(p))
        .ok_or_else(|| RuntimeError::Spec {
            file: "config.json".into(),
            field: "process.args[0]".into(),
            reason: format!("{arg0:?} was not found in the container's PATH ({path})"),
        })
}

/// Writes the spec's sysctls (checked by [`crate::isolation`]: only namespaced ones).
fn write_sysctls(spec: &Spec) -> Result<()> {
    for (k, v) in spec
        .linux()
        .iter()
        .flat_map(|l| l.sysctl().iter().flatten())
    {
        // `net/ipv4/conf/eth0.100/rp_filter` keeps its dots; `net.ipv4.ip_forward` has none.
        let rel = if k.contains('/') {
            k.clone()
        } else {
            k.replace('.', "/")
        };
        let path = Path::new("/proc/sys").join(rel);
        std::fs::write(&path, v).map_err(RuntimeError::io("write sysctl", &path))?;
    }
    Ok(())
}

/// Waits for `start`, then runs the startContainer hooks and executes the user process.
/// Returns only on failure, which it also writes into the exec fifo: `start` reads on until the
/// fifo closes (at execve, which closes it, or at exit) and reports what it got, so a process
/// that never ran fails `start` instead of passing it.
fn start_user_process(spec: &Spec, ready: Prepared) -> RuntimeError {
    // Opening the fifo for writing blocks until `start` opens it for reading. It is reopened
    // from its O_PATH fd through /proc, as runc does.
    let n = ready.fifo.as_raw_fd().to_string();
    let w = match &ready.fd_dir {
        Some(dir) => nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            n.as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ),
        None => open(
            format!("/proc/self/fd/{n}").as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ),
    };
    let w = match w {
        Ok(fd) => fd,
        Err(e) => return RuntimeError::sys("open the exec fifo")(e),
    };
    // SAFETY: just opened, owned here.
    let w = unsafe { OwnedFd::from_raw_fd(w) };
    if let Err(e) = nix::unistd::write(&w, b"0") {
        return RuntimeError::sys("write the exec fifo")(e);
    }
    drop(ready.fifo);
    drop(ready.fd_dir);
    let e = exec_user_process(spec, &ready.exe, &ready.start_hooks_state);
    let _ = nix::unistd::write(&w, e.init_message().as_bytes());
    // Kept open until this process exits: `start` reads the fifo to its end, and the end must
    // mean the init is on its way out (`start` then waits for it to be gone: the fifo closes
    // some way before the kernel's exit is done).
    std::mem::forget(w);
    e
}

fn exec_user_process(spec: &Spec, exe: &CString, start_hooks_state: &[u8]) -> RuntimeError {
    let start_hooks = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref());
    if let Err(e) = hooks::run("startContainer", start_hooks, start_hooks_state) {
        return e;
    }
    let process = spec.process().as_ref().expect("validated: process");
    let args: Vec<CString> = process
        .args()
        .iter()
        .flatten()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let env: Vec<CString> = process
        .env()
        .iter()
        .flatten()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    match nix::unistd::execve(exe, &args, &env) {
        Err(e) => RuntimeError::sys(format!("execute {exe:?}"))(e),
        Ok(never) => match never {},
    }
}
