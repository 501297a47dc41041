//! Starting a container init: clone(2) into new namespaces, then execute the runtime binary
//! again as the init (see [`crate::init`]).

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::error::{Result, RuntimeError};
use crate::init::{INIT_ENV, INIT_FD};

/// A started init, blocked until [`Spawned::release`] when it waits for its id maps.
#[derive(Debug)]
pub struct Spawned {
    /// Its pid on the host.
    pub pid: Pid,
    /// The runtime's end of the message socket.
    pub sock: OwnedFd,
    /// The executable the init runs.
    pub exe: PathBuf,
    release: Option<OwnedFd>,
}

impl Spawned {
    /// Lets an init that waits for its user namespace's maps go on; a no-op otherwise.
    pub fn release(&mut self) -> Result<()> {
        if let Some(w) = self.release.take() {
            nix::unistd::write(&w, &[1])
                .map_err(RuntimeError::sys("release the container init"))?;
        }
        Ok(())
    }
}

fn high_fd(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: fd is open for the duration of this call.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let n = nix::fcntl::fcntl(b.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))
        .map_err(RuntimeError::sys("duplicate a file descriptor"))?;
    // SAFETY: fcntl returned a new fd that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn cstring(s: impl AsRef<std::ffi::OsStr>) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(s.as_ref().as_bytes())
        .map_err(|_| RuntimeError::Init("a path or argument holds a NUL byte".into()))
}

/// Whether this process has a single thread: then a cloned child may run arbitrary code (no
/// other thread can hold a lock it inherits), and the init runs without executing the runtime
/// binary again, as crun does. With more threads (a library user, a test harness) the child
/// executes `init_exe` first.
pub fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

/// Clones a child with `flags` that becomes a container init, its message socket at fd 3 and
/// `stdio` (or ours) at 0..2: directly when this process is single-threaded, else by
/// executing `init_exe`. With `wait_maps`, the child first waits for [`Spawned::release`], then
/// becomes its new user namespace's root, so that it keeps every capability in that namespace.
///
/// With `pid_ns`, the child is cloned into that existing PID namespace: this thread enters it
/// for its children (`pid_for_children`) just for the clone, and goes back to its own after.
pub fn spawn_init(
    init_exe: &Path,
    flags: CloneFlags,
    pid_ns: Option<&Path>,
    stdio: Option<&[OwnedFd; 3]>,
    wait_maps: bool,
) -> Result<Spawned> {
    let (parent_sock, child_sock) = crate::console::seqpacket_pair()?;
    // Above fd 10, so that the dup2s into 0..3 below clobber none of them.
    let child_fd = high_fd(child_sock.as_raw_fd())?;
    drop(child_sock);
    let stdio: Option<[OwnedFd; 3]> = match stdio {
        Some([a, b, c]) => Some([
            high_fd(a.as_raw_fd())?,
            high_fd(b.as_raw_fd())?,
            high_fd(c.as_raw_fd())?,
        ]),
        None => None,
    };
    let exe_path =
        std::fs::canonicalize(init_exe).map_err(RuntimeError::io("resolve", init_exe))?;
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
    let (maps_r, maps_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(RuntimeError::sys("pipe"))?;
    let maps_raw = maps_r.as_raw_fd();
    let maps_w_raw = maps_w.as_raw_fd();
    let parent_raw = parent_sock.as_raw_fd();
    let direct = single_threaded();
    // The direct init runs the whole setup on this stack (zero pages cost nothing until used).
    let mut stack = vec![0u8; if direct { 8 << 20 } else { 256 << 10 }];
    let cb = Box::new(|| -> isize {
        // Only async-signal-safe calls here: this may be a copy of a multi-threaded process.
        // SAFETY: read, setgroups, setres[ug]id, dup2, sigprocmask, execve and _exit on values
        // prepared before the clone.
        unsafe {
            // The runtime's ends: held here too, they would keep the child waiting forever
            // for a runtime killed before it released it (no EOF on the socket or the pipe).
            libc::close(parent_raw);
            libc::close(maps_w_raw);
            if wait_maps {
                let mut b = 0u8;
                if libc::read(maps_raw, (&mut b as *mut u8).cast(), 1) != 1 {
                    libc::_exit(125);
                }
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
            if direct {
                // Nothing else of the runtime's (other containers' sockets, open files): what
                // execve's close-on-exec does for the exec'd init.
                libc::syscall(libc::SYS_close_range, INIT_FD as u32 + 1, u32::MAX, 0u32);
                // _exit, not exit: buffers inherited from the parent must not be flushed twice.
                libc::_exit(crate::init::main_in_child());
            }
            libc::execve(exe.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
            libc::_exit(127)
        }
    });
    let restore = match pid_ns {
        Some(p) => Some(enter_pid_ns_for_children(p)?),
        None => None,
    };
    // SAFETY: the callback makes only async-signal-safe calls and ends in execve or _exit.
    let cloned = unsafe { nix::sched::clone(cb, &mut stack, flags, Some(libc::SIGCHLD)) };
    if let Some(own) = restore {
        nix::sched::setns(own, CloneFlags::CLONE_NEWPID).map_err(RuntimeError::sys(
            "go back to the runtime's own PID namespace",
        ))?;
    }
    let pid = cloned.map_err(RuntimeError::sys(format!(
        "clone the container init ({flags:?})"
    )))?;
    Ok(Spawned {
        pid,
        sock: parent_sock,
        exe: exe_path,
        release: wait_maps.then_some(maps_w),
    })
}

/// Makes this thread's next children start in the PID namespace at `path`; returns this
/// thread's own `pid_for_children` to go back to.
fn enter_pid_ns_for_children(path: &Path) -> Result<OwnedFd> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(OwnedFd::from)
            .map_err(RuntimeError::io("open", p))
    };
    let own = open(Path::new("/proc/thread-self/ns/pid_for_children"))?;
    let target = open(path)?;
    nix::sched::setns(target, CloneFlags::CLONE_NEWPID).map_err(RuntimeError::sys(format!(
        "enter the PID namespace {} (linux.namespaces)",
        path.display()
    )))?;
    Ok(own)
}
