//! What limitcheck's integration tests share.
//!
//! Tests that need root or a kernel feature skip with a printed reason (never silently pass):
//! [`skip`] writes past the test harness's output capture, so the reason is in every log.
//! [`host`] is the usual gate: root, a cgroup filesystem, and the controllers the test needs.

#![deny(missing_docs)]

pub mod images;
pub mod ktap;

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

/// What the kernel's own test tooling tests limitcheck's KTAP and kselftest target with, taken
/// from Debian's `linux-source-*` package (scripts/deb-packages.txt): `tools/testing/kunit`
/// (kunit_parser.py), `tools/testing/selftests` (Makefile, lib.mk, kselftest/runner.sh,
/// run_kselftest.sh) and `scripts/subarch.include` its Makefile reads. Unpacked once from the
/// tarball into target/kernel-tools/ (about 15 s; into a temp dir renamed into place, so tests
/// at once share one); returns the `linux-source-X.Y` directory. Without the package, prints
/// why and returns `None`.
pub fn kernel_tools(test: &str) -> Option<std::path::PathBuf> {
    let mut tarballs: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/src")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("linux-source-") && n.ends_with(".tar.xz"))
        })
        .collect();
    tarballs.sort();
    let Some(tarball) = tarballs.pop() else {
        skip(
            test,
            "no /usr/src/linux-source-*.tar.xz: install Debian's linux-source-6.1 (the kernel's \
             kunit_parser.py and kselftest runner come from it)",
        );
        return None;
    };
    let name = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.xz"))
        .expect("a linux-source-*.tar.xz name")
        .to_string();
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/kernel-tools");
    let done = base.join(&name);
    if done
        .join("tools/testing/selftests/kselftest/runner.sh")
        .exists()
    {
        return Some(done);
    }
    std::fs::create_dir_all(&base).expect("create target/kernel-tools");
    let tmp = base.join(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&tmp)
        .arg("--wildcards")
        .args([
            format!("{name}/tools/testing/kunit/*"),
            format!("{name}/tools/testing/selftests/kselftest/*"),
            format!("{name}/tools/testing/selftests/Makefile"),
            format!("{name}/tools/testing/selftests/lib.mk"),
            format!("{name}/tools/testing/selftests/run_kselftest.sh"),
            format!("{name}/tools/testing/selftests/kselftest*"),
            format!("{name}/scripts/subarch.include"),
        ])
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "tar -xJf {}: {}",
        tarball.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // Another test may have finished first: either copy is whole.
    if std::fs::rename(tmp.join(&name), &done).is_err() {
        assert!(
            done.exists(),
            "cannot move the kernel's tools into {}",
            done.display()
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Some(done)
}
