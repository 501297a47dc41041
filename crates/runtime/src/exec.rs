//! Running another process in a running container (`lcrun exec`): the init joins the
//! container's namespaces and cgroup, forks into its PID namespace, applies the process's
//! identity and privileges, and executes it; its parent mirrors the exit status.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::{open, OFlag};
use nix::sys::signal::kill;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Gid, Pid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Process};
use serde::{Deserialize, Serialize};

use crate::console;
use crate::error::{Result, RuntimeError};
use crate::init::{clone_flag, find_executable, set_rlimit, InitMsg};

/// What the runtime tells an exec init.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecConfig {
    /// Namespaces to join, in order (user first, mount last).
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// The process to run.
    pub process: Process,
    /// The container's root (`/proc/<pid>/root`, opened before joining) to chroot into after
    /// joining: a container that entered its root with chroot is not at its mount namespace's
    /// root, and one in our own mount namespace is reached by no setns.
    #[serde(default)]
    pub root: Option<PathBuf>,
}

/// The order namespaces are joined in: user first (it grants the capabilities for the rest),
/// mount last (so the paths of the others still resolve on the host).
pub const JOIN_ORDER: [(LinuxNamespaceType, &str); 7] = [
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Pid, "pid"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Mount, "mnt"),
];

/// The namespaces of `pid` that differ from this process's.
pub fn namespaces_of(pid: i32) -> Vec<(LinuxNamespaceType, PathBuf)> {
    JOIN_ORDER
        .iter()
        .filter_map(|(t, name)| {
            let theirs = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
            let differs = std::fs::read_link(&theirs).ok()?
                != std::fs::read_link(format!("/proc/self/ns/{name}")).ok()?;
            differs.then_some((*t, theirs))
        })
        .collect()
}

/// The exec init's main: never returns to the runtime's code.
pub fn exec_main(sock: OwnedFd, cfg: ExecConfig) -> i32 {
    let fail = |sock: &OwnedFd, e: RuntimeError| {
        let message = e.init_message();
        let _ = console::send_msg(sock.as_raw_fd(), &InitMsg::Error { message }, None);
        1
    };
    if let Err(e) = join(&cfg) {
        return fail(&sock, e);
    }
    // SAFETY: the exec init is single-threaded (a fresh exec of the runtime binary).
    match unsafe { fork() } {
        Err(e) => fail(
            &sock,
            RuntimeError::sys("fork into the container's PID namespace")(e),
        ),
        Ok(ForkResult::Child) => {
            let e = run_child(&sock, &cfg.process);
            let _ = fail(&sock, e);
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            let _ = console::send_msg(
                sock.as_raw_fd(),
                &InitMsg::ExecStarted {
                    pid: child.as_raw(),
                },
                None,
            );
            drop(sock);
            mirror(child)
        }
    }
}

fn join(cfg: &ExecConfig) -> Result<()> {
    // Open them all first: after joining the mount namespace, /proc/<pid> paths change meaning.
    let mut fds = Vec::new();
    for (t, path) in &cfg.join {
        let fd = open(
            path.as_path(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(RuntimeError::sys(format!("open {}", path.display())))?;
        // SAFETY: just opened, owned here.
        fds.push((*t, unsafe { OwnedFd::from_raw_fd(fd) }, path));
    }
    let root = match &cfg.root {
        Some(r) => {
            let fd = open(
                r.as_path(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(RuntimeError::sys(format!("open {}", r.display())))?;
            // SAFETY: just opened, owned here.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        None => None,
    };
    for (t, fd, path) in fds {
        nix::sched::setns(fd, clone_flag(t))
            .map_err(RuntimeError::sys(format!("setns {}", path.display())))?;
        if t == LinuxNamespaceType::User {
            nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
                .map_err(RuntimeError::sys("setresgid 0 in the user namespace"))?;
            nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
                .map_err(RuntimeError::sys("setresuid 0 in the user namespace"))?;
        }
    }
    if let Some(fd) = root {
        nix::unistd::fchdir(fd.as_raw_fd())
            .map_err(RuntimeError::sys("fchdir the container's root"))?;
        nix::unistd::chroot(".").map_err(RuntimeError::sys("chroot into the container's root"))?;
        nix::unistd::chdir("/").map_err(RuntimeError::sys("chdir /"))?;
    }
    Ok(())
}

fn run_child(sock: &OwnedFd, p: &Process) -> RuntimeError {
    let go = || -> Result<(CString, Vec<CString>, Vec<CString>)> {
        nix::unistd::setsid().map_err(RuntimeError::sys("setsid"))?;
        if p.terminal() == Some(true) {
            console::attach_terminal(sock.as_raw_fd(), p.console_size().as_ref())?;
        }
        for r in p.rlimits().iter().flatten() {
            set_rlimit(r.typ(), r.soft(), r.hard())?;
        }
        let args = p.args().as_deref().unwrap_or_default();
        let arg0 = args.first().ok_or_else(|| RuntimeError::Spec {
            file: "process".into(),
            field: "args".into(),
            reason: "empty; give the program to run".into(),
        })?;
        let env = p.env().as_deref().unwrap_or_default();
        let exe = find_executable(arg0, env, p.cwd())?;
        crate::process::finalize(p)?;
        let c = |s: &str| {
            CString::new(s).map_err(|_| RuntimeError::Init("NUL byte in an argument".into()))
        };
        Ok((
            c(&exe.to_string_lossy())?,
            args.iter().map(|a| c(a)).collect::<Result<_>>()?,
            env.iter().map(|a| c(a)).collect::<Result<_>>()?,
        ))
    };
    match go() {
        Err(e) => e,
        Ok((exe, args, env)) => {
            let _ = console::send_msg(sock.as_raw_fd(), &InitMsg::Ready, None);
            match nix::unistd::execve(&exe, &args, &env) {
                Err(e) => RuntimeError::sys(format!("execute {exe:?}"))(e),
                Ok(never) => match never {},
            }
        }
    }
}

/// Waits for the process and ends the same way: its exit code, or its signal.
fn mirror(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                // SAFETY: resetting a disposition and unblocking before raising the signal.
                unsafe {
                    libc::signal(sig as libc::c_int, libc::SIG_DFL);
                }
                let mut set = nix::sys::signal::SigSet::empty();
                set.add(sig);
                let _ = set.thread_unblock();
                let _ = kill(Pid::this(), sig);
                return 128 + sig as i32;
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}

/// Turns an exit status into (code, signal).
pub(crate) fn status_of(s: WaitStatus) -> Option<(Option<i32>, Option<i32>)> {
    match s {
        WaitStatus::Exited(_, c) => Some((Some(c), None)),
        WaitStatus::Signaled(_, sig, _) => Some((None, Some(sig as i32))),
        _ => None,
    }
}
