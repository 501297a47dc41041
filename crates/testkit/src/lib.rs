//! What limitcheck's integration tests share.
//!
//! Tests that need root or a kernel feature skip with a printed reason (never silently pass):
//! [`skip`] writes past the test harness's output capture, so the reason is in every log.
//! [`host`] is the usual gate: root, a cgroup filesystem, and the controllers the test needs.

#![deny(missing_docs)]

use std::io::Write;
use std::time::{Duration, Instant};

use limitcheck_cgroup::{Controller, Layout};

/// Prints why a test is skipped, on stderr directly (past the harness's capture).
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The host layout when the test can run here: root, a cgroup filesystem, and `needs`.
/// Otherwise prints why and returns `None`.
pub fn host(test: &str, needs: &[Controller]) -> Option<Layout> {
    if !limitcheck_cgroup::nix::unistd::geteuid().is_root() {
        skip(test, "needs root to create cgroups");
        return None;
    }
    let layout = match Layout::detect() {
        Ok(l) => l,
        Err(e) => {
            skip(test, &format!("no cgroup filesystem: {e}"));
            return None;
        }
    };
    let have = layout.available();
    if let Some(c) = needs.iter().find(|c| !have.contains(c)) {
        skip(
            test,
            &format!("the {c} controller is not available on this host"),
        );
        return None;
    }
    Some(layout)
}

/// A fresh cgroup with exactly `controllers`, when the test can run here (see [`host`]). The
/// handle owns it: dropping it kills what runs inside and removes it.
pub fn cgroup(test: &str, controllers: &[Controller]) -> Option<limitcheck_cgroup::Cgroup> {
    let layout = host(test, controllers)?;
    Some(
        layout
            .cgroup()
            .controllers(controllers)
            .create()
            .expect("create a test cgroup"),
    )
}

/// Polls `f` every 20 ms until it returns true or `timeout` passes; the last answer.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Unrelated busy loops on the host (`sh -c 'while :; do :; done'`, as a user's stray job or a
/// CI neighbour would be), killed with their process group and reaped when dropped — also
/// when the test panics.
pub struct BusyLoops(Vec<std::process::Child>);

impl BusyLoops {
    /// Starts `n` steady loops.
    pub fn start(n: usize) -> BusyLoops {
        Self::spawn(n, "while :; do :; done")
    }

    /// Starts `n` bursty loops, as a build's compilers come and go: busy for 0.3 s, idle for
    /// 0.2 s, over and over.
    pub fn bursty(n: usize) -> BusyLoops {
        Self::spawn(
            n,
            "while :; do timeout 0.3 sh -c 'while :; do :; done'; sleep 0.2; done",
        )
    }

    fn spawn(n: usize, script: &str) -> BusyLoops {
        use std::os::unix::process::CommandExt;
        BusyLoops(
            (0..n)
                .map(|_| {
                    std::process::Command::new("sh")
                        .args(["-c", script])
                        .process_group(0)
                        .spawn()
                        .expect("sh starts")
                })
                .collect(),
        )
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SAFETY: kill(2) of the loop's own process group.
            unsafe {
                libc::kill(-(c.id() as i32), libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }
}
