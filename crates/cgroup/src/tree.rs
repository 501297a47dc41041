//! Whole trees of cgroups: what a scenario's groups make (`limitcheck/lcg-<run>-<scenario>/
//! trunk/leaf/<container>`), removed at once, deepest first, in every cgroup filesystem
//! mounted here — the hierarchies limitcheck models, and those it does not (a v1 `name=systemd`
//! hierarchy, where runc makes directories too).
//!
//! A cgroup with children cannot be removed (`rmdir` says EBUSY), and neither can one with
//! tasks: [`remove_tree`] goes leaves first, kills what is left in each directory (thawing it
//! first: a frozen task cannot die), and waits for it to drain, up to [`DRAIN_TIMEOUT`].

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cgroup::{Backoff, DEFAULT_PARENT, DRAIN_TIMEOUT};
use crate::error::{CgroupError, Result};
use crate::parse::parse_pids;

/// The mount point of every cgroup filesystem (v1 or v2) in this process's mount namespace,
/// named v1 hierarchies included.
pub fn mount_points() -> Vec<PathBuf> {
    let text = std::fs::read_to_string(crate::MOUNTINFO).unwrap_or_default();
    mount_points_in(&text)
}

/// [`mount_points`] of mountinfo text.
pub fn mount_points_in(mountinfo: &str) -> Vec<PathBuf> {
    let mut seen = BTreeSet::new();
    mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let fstype = post.split_whitespace().next()?;
            let mp = pre.split_whitespace().nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(mp))
        })
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// The names of the directories right under [`DEFAULT_PARENT`] in any cgroup filesystem
/// that start with `prefix` (e.g. the group trees `lcg-…`).
pub fn names_under_parent(prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for mp in mount_points() {
        let Ok(rd) = std::fs::read_dir(mp.join(DEFAULT_PARENT)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && e.path().is_dir() {
                out.insert(name);
            }
        }
    }
    out
}

/// Every directory of the tree at `top`, children before their parents.
fn post_order(top: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(top) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                post_order(&e.path(), out);
            }
        }
    }
    out.push(top.to_path_buf());
}

/// How many CPUs' worth of quota [`unthrottle`] gives a cgroup that has a quota: more than any
/// machine's, the same on every level (v1 refuses a child more than its parent).
pub const UNTHROTTLED_CPUS: u64 = 1024;

/// Lets the tasks of the cgroup directory `dir` run, so that they can die: a CPU quota it has
/// becomes [`UNTHROTTLED_CPUS`] CPUs (a new quota also clears the runtime debt and unthrottles
/// at once), its weight goes back to the default (`cpu.weight` 100, `cpu.shares` 1024),
/// `cpu.idle` to 0, and it is thawed — each only where it differs. A task held off the CPU dies
/// of a SIGKILL only when it next runs: before 6.18's throttling at the return to user space a
/// throttled one waits for its next runtime, which a debt can put seconds away (a 1 ms quota
/// charged 60 ms by a stalled vCPU: 6 s), and a best-effort pod's container at 2 shares beside
/// two busy loops did not die in 5 s (k8s-pods-qos, CI). The quota is raised, not removed:
/// `max` on the last limited group turns the kernel's cfs-bandwidth static key off, patching
/// kernel text while other CPUs run through it, which hung one in seven 4-vCPU TCG guests
/// (the freezer's static key did the same: freeze-kill-100). Best effort: nothing is said of a
/// failure.
pub fn unthrottle(dir: &Path) {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let write = |f: &str, v: &str| {
        let _ = std::fs::write(dir.join(f), v);
    };
    if let Some(text) = read("cpu.max") {
        let mut it = text.split_whitespace();
        if let (Some(q), Some(Ok(period))) = (it.next(), it.next().map(str::parse::<u64>)) {
            if q != "max" {
                write(
                    "cpu.max",
                    &format!("{} {period}", period * UNTHROTTLED_CPUS),
                );
            }
        }
    }
    if let (Some(q), Some(Ok(period))) = (
        read("cpu.cfs_quota_us"),
        read("cpu.cfs_period_us").map(|p| p.trim().parse::<u64>()),
    ) {
        if q.trim() != "-1" {
            write("cpu.cfs_quota_us", &(period * UNTHROTTLED_CPUS).to_string());
        }
    }
    for (file, value) in [
        ("cpu.weight", "100"),
        ("cpu.shares", "1024"),
        ("cpu.idle", "0"),
        ("freezer.state", "THAWED"),
        ("cgroup.freeze", "0"),
    ] {
        if read(file).is_some_and(|v| v.trim() != value) {
            write(file, value);
        }
    }
}

/// [`unthrottle`] on every directory of the tree at `rel` in every cgroup filesystem mounted
/// here, parents first: before its tasks are killed, so that they can die.
pub fn unthrottle_tree(rel: &Path) {
    for mp in mount_points() {
        let mut dirs = Vec::new();
        post_order(&mp.join(rel), &mut dirs);
        for d in dirs.iter().rev().filter(|d| d.is_dir()) {
            unthrottle(d);
        }
    }
}

/// Thaws `dir` (v1 freezer, v2 cgroup.freeze), lifts its CPU quota, and SIGKILLs every task
/// in it; whatever cannot be done is left to the next pass.
fn empty_out(dir: &Path) {
    unthrottle(dir);
    if dir.join("freezer.state").exists() {
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
    }
    if dir.join("cgroup.freeze").exists() {
        let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in parse_pids(&procs).unwrap_or_default() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Removes the cgroup tree at `rel` (below each filesystem's root, e.g.
/// `limitcheck/lcg-20261202T1400-x`) in every cgroup filesystem mounted here: its deepest
/// directories first, killing what still runs in each, then its parents up to the root while
/// they are empty. Returns the directories removed. A tree that is not there is nothing to do.
pub fn remove_tree(rel: &Path) -> Result<Vec<PathBuf>> {
    remove_tree_in(&mount_points(), rel)
}

/// [`remove_tree`] in the filesystems mounted at `mounts`.
pub fn remove_tree_in(mounts: &[PathBuf], rel: &Path) -> Result<Vec<PathBuf>> {
    if rel.as_os_str().is_empty()
        || !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(CgroupError::InvalidValue {
            what: format!("cgroup tree {}", rel.display()),
            reason: "give a relative path below the cgroup roots, without `..`".into(),
        });
    }
    let mut removed = Vec::new();
    for mp in mounts {
        let top = mp.join(rel);
        if !top.is_dir() {
            continue;
        }
        let mut dirs = Vec::new();
        post_order(&top, &mut dirs);
        for d in dirs {
            remove_one(&d)?;
            removed.push(d);
        }
        let mut p = top;
        while p.pop() && p != *mp {
            if std::fs::remove_dir(&p).is_err() {
                break;
            }
        }
    }
    Ok(removed)
}

/// Removes one cgroup directory with no children, emptying it while it is busy.
fn remove_one(d: &Path) -> Result<()> {
    let start = Instant::now();
    let mut backoff = Backoff::default();
    loop {
        match std::fs::remove_dir(d) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                if start.elapsed() > DRAIN_TIMEOUT {
                    let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                    return Err(CgroupError::StillBusy {
                        path: d.to_path_buf(),
                        pids: parse_pids(&procs).unwrap_or_default(),
                        waited_ms: start.elapsed().as_millis() as u64,
                    });
                }
                empty_out(d);
                backoff.wait();
            }
            Err(source) => {
                return Err(CgroupError::Dir {
                    op: "remove",
                    path: d.to_path_buf(),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cgroup_mount_is_found_once_named_hierarchies_included() {
        let text = "\
25 1 0:23 / /sys/fs/cgroup rw - tmpfs tmpfs rw
26 25 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
27 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
28 25 0:26 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
29 25 0:26 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
30 1 0:27 / /proc rw - proc proc rw
";
        assert_eq!(
            mount_points_in(text),
            [
                "/sys/fs/cgroup/unified",
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/systemd"
            ]
            .map(PathBuf::from)
        );
    }

    /// On a plain directory tree (rmdir of a directory with files fails with ENOTEMPTY, not
    /// EBUSY, so only empty directories are used): deepest first, then the empty parents.
    #[test]
    fn a_tree_goes_deepest_first_then_its_empty_parents() {
        let root = tempfile::tempdir().unwrap();
        let mp = root.path().join("cpu");
        for d in [
            "limitcheck/lcg-r-s/trunk/leaf/c1",
            "limitcheck/lcg-r-s/trunk/leaf2",
        ] {
            std::fs::create_dir_all(mp.join(d)).unwrap();
        }
        std::fs::create_dir_all(mp.join("limitcheck/other")).unwrap();
        let removed =
            remove_tree_in(std::slice::from_ref(&mp), Path::new("limitcheck/lcg-r-s")).unwrap();
        assert_eq!(removed.len(), 5, "{removed:?}");
        assert!(removed.last().unwrap().ends_with("lcg-r-s"));
        assert!(!mp.join("limitcheck/lcg-r-s").exists());
        // Another run's directory keeps the shared parent.
        assert!(mp.join("limitcheck/other").exists());
        std::fs::remove_dir(mp.join("limitcheck/other")).unwrap();
        std::fs::create_dir_all(mp.join("limitcheck/lcg-r-s")).unwrap();
        remove_tree_in(std::slice::from_ref(&mp), Path::new("limitcheck/lcg-r-s")).unwrap();
        assert!(!mp.join("limitcheck").exists());
        assert!(mp.exists());
        assert!(remove_tree_in(&[mp], Path::new("../x")).is_err());
    }
}
