//! Test harness: real child processes with known behaviour, and skip-with-reason for hosts that
//! cannot run a test.
//!
//! Children are forked from the test process and block on a pipe until the test has put them in
//! a cgroup, so that every CPU cycle and page they use is charged to that cgroup. After fork the
//! child calls only async-signal-safe libc functions (read, mmap, pause, _exit) and never
//! allocates, because the test binary is multi-threaded.

#![allow(dead_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult, Pid};

/// What a child does once started.
#[derive(Clone, Copy, Debug)]
pub enum Work {
    /// Burn CPU forever.
    Spin,
    /// Map `bytes` of anonymous memory and write every page; then hold it (sleep forever) or
    /// exit 0.
    Alloc { bytes: usize, hold: bool },
}

/// A forked child. Dropping it kills and reaps it.
pub struct Child {
    pub pid: i32,
    go: Option<OwnedFd>,
    reaped: bool,
}

pub fn spawn(work: Work) -> Child {
    let (r, w) = pipe().expect("pipe");
    // SAFETY: the child only makes async-signal-safe calls and ends in _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(w);
            let mut b = [0u8; 1];
            // SAFETY: plain syscalls on a valid fd and buffer.
            unsafe {
                if libc::read(r.as_raw_fd(), b.as_mut_ptr().cast(), 1) != 1 {
                    libc::_exit(3);
                }
            }
            run(work)
        }
        ForkResult::Parent { child } => {
            drop(r);
            Child {
                pid: child.as_raw(),
                go: Some(w),
                reaped: false,
            }
        }
    }
}

fn run(work: Work) -> ! {
    // SAFETY: raw syscalls and writes into memory this function mapped itself.
    unsafe {
        match work {
            Work::Spin => {
                let mut x: u64 = 1;
                loop {
                    x = std::ptr::read_volatile(&x)
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1);
                    std::ptr::write_volatile(&mut x, x);
                }
            }
            Work::Alloc { bytes, hold } => {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                if p == libc::MAP_FAILED {
                    libc::_exit(4);
                }
                let p = p as *mut u8;
                let mut off = 0;
                while off < bytes {
                    std::ptr::write_volatile(p.add(off), 1);
                    off += 4096;
                }
                if hold {
                    loop {
                        libc::pause();
                    }
                }
                libc::_exit(0)
            }
        }
    }
}

impl Child {
    /// Lets the child run.
    pub fn start(&mut self) {
        let w = self.go.take().expect("started twice");
        nix::unistd::write(&w, &[1]).expect("start child");
    }

    /// Waits for the child to end, at most `timeout`; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<WaitStatus> {
        let start = Instant::now();
        loop {
            match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)).expect("waitpid") {
                WaitStatus::StillAlive => {}
                s => {
                    self.reaped = true;
                    return Some(s);
                }
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(self.pid), None);
        }
    }
}

pub use limitcheck_testkit::{cgroup, eventually, host, skip};
