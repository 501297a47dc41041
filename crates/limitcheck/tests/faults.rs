//! Faults inside a run, as root: what is done to a run's containers from outside it, and to
//! the places it writes, is an error with its reason — never a hang, a panic, a failed verdict
//! or a leak. After each, nothing of the run is left.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod common;
use common::*;

/// The cgroup directories (every hierarchy) of the containers of scenario `slug`.
fn cgroups_of(slug: &str) -> Vec<PathBuf> {
    let Ok(layout) = limitcheck_cgroup::Layout::detect() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for h in &layout.hierarchies {
        if let Ok(d) = std::fs::read_dir(h.mount_point.join("limitcheck")) {
            out.extend(
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.file_name().unwrap().to_string_lossy().contains(slug)),
            );
        }
    }
    out
}

/// Waits for the run to end; its exit status and stderr, and how long the wait took.
fn finish(child: Child, within: Duration) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if start.elapsed() > within {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the run did not end within {within:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = waiter.join().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

fn reason(out: &Path) -> String {
    summary(out)["scenarios"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Something outside the run freezes a container's cgroup (as `docker pause` of the wrong
/// container would): its CPU use drops to nothing, which must not read as a failed limit. The
/// scenario stops as an error naming the freeze; the frozen container is thawed, killed and
/// removed.
#[test]
fn a_container_frozen_from_outside_is_an_error_and_is_removed() {
    let test = "a_container_frozen_from_outside_is_an_error_and_is_removed";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(
        dir.path(),
        "frozen-outside.toml",
        "duration = \"30s\"\n[[container]]\nworkload = { kind = \"cpu\", workers = 1 }\n\
         [[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"30s\"]\nmin = 0.8\n",
    );
    let out = dir.path().join("out");
    let child = spawn_run(&out, &[&file], &[]);
    wait_for("the container runs", Duration::from_secs(20), || {
        !cgroups_of("-frozen-outside-").is_empty() && out.join("running-samples.csv").exists()
    });
    std::thread::sleep(Duration::from_secs(1));
    let dirs = cgroups_of("-frozen-outside-");
    // The host's freezer: v1's freezer.state, else v2's cgroup.freeze.
    let (file, value) = match dirs.iter().find(|d| d.join("freezer.state").exists()) {
        Some(d) => (d.join("freezer.state"), "FROZEN"),
        None => (
            dirs.iter()
                .find(|d| d.join("cgroup.freeze").exists())
                .expect("a freezer")
                .join("cgroup.freeze"),
            "1",
        ),
    };
    std::fs::write(&file, value).unwrap();
    let (code, err, took) = finish(child, Duration::from_secs(15));
    assert_eq!(code, Some(2), "{err}");
    assert!(took < Duration::from_secs(5), "noticed only after {took:?}");
    let why = reason(&out);
    assert!(
        why.contains("its cgroup was frozen from outside the run") && why.contains("not judged"),
        "{why}"
    );
    assert!(summary(&out)["scenarios"][0]["expectations"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_clean();
}

/// Something outside the run moves a container's processes out of one of its cgroups and
/// removes that directory: the limits there no longer hold, which must not read as a failed
/// limit. The scenario stops as an error naming the directory; the container is still killed
/// (through its other cgroups and its init) and everything else removed.
#[test]
fn a_container_whose_cgroup_is_removed_from_outside_is_an_error_and_is_removed() {
    let test = "a_container_whose_cgroup_is_removed_from_outside_is_an_error_and_is_removed";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-removed-{}", std::process::id());
    let file = marked_scenario(dir.path(), "removed-outside", &marker, 30);
    let out = dir.path().join("out");
    let child = spawn_run(&out, &[&file], &[]);
    wait_for("the container runs", Duration::from_secs(20), || {
        !processes_with(&marker).is_empty() && out.join("running-samples.csv").exists()
    });
    // One directory (a v1 controller other than the freezer where there is one, else the
    // only one), its processes moved to the hierarchy's root first.
    let dirs = cgroups_of("-removed-outside-");
    let victim = dirs
        .iter()
        .find(|d| !d.join("freezer.state").exists() && d.join("cgroup.procs").exists())
        .or(dirs.first())
        .expect("a cgroup")
        .clone();
    let top = victim
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("cgroup.procs");
    let gone = wait_for("the directory is removed", Duration::from_secs(5), || {
        let procs = std::fs::read_to_string(victim.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines() {
            let _ = std::fs::write(&top, pid);
        }
        std::fs::remove_dir(&victim).is_ok()
    });
    let (code, err, took) = finish(child, Duration::from_secs(15));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        took < Duration::from_secs(5),
        "noticed {gone:?}+{took:?} after"
    );
    let why = reason(&out);
    assert!(
        why.contains("its cgroup was removed from outside the run")
            && why.contains(&format!("{} is gone", victim.display())),
        "{why}"
    );
    assert!(
        processes_with(&marker).is_empty(),
        "its processes outlived it"
    );
    assert_clean();
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(at: PathBuf, options: &str) -> SmallFs {
        std::fs::create_dir_all(&at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "limitcheck-test"])
            .arg(&at)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs {options} on {}", at.display());
        SmallFs(at)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The report directory on a filesystem that fills up during the scenario (a 32 KiB tmpfs:
/// ENOSPC once the journal outgrows it): the scenario stops, the run exits 2 naming the file
/// and the errno, and its containers are gone.
#[test]
fn a_full_report_filesystem_is_an_error_that_names_the_file() {
    let test = "a_full_report_filesystem_is_an_error_that_names_the_file";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-enospc-{}", std::process::id());
    let file = marked_scenario(dir.path(), "enospc", &marker, 60);
    let fs = SmallFs::mount(dir.path().join("small"), "size=32k");
    let out = fs.0.join("out");
    let child = spawn_run(&out, &[&file], &[]);
    let (code, err, took) = finish(child, Duration::from_secs(40));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}: the full disk was not noticed"
    );
    assert!(
        err.contains("No space left on device") && err.contains(out.to_str().unwrap()),
        "{err}"
    );
    assert!(
        processes_with(&marker).is_empty(),
        "its processes outlived it"
    );
    assert_clean();
}

/// A state root the run cannot write (a read-only filesystem): an error naming it, before any
/// container is made; nothing is left, no guardian either.
#[test]
fn an_unwritable_state_root_is_an_error_before_anything_starts() {
    let test = "an_unwritable_state_root_is_an_error_before_anything_starts";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-rostate-{}", std::process::id());
    let file = marked_scenario(dir.path(), "ro-state", &marker, 5);
    let fs = SmallFs::mount(dir.path().join("ro"), "ro,size=1m");
    let state = fs.0.join("state");
    let out = dir.path().join("out");
    let child = spawn_run(&out, &[&file], &["--root", state.to_str().unwrap()]);
    let (code, err, _) = finish(child, Duration::from_secs(20));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(state.to_str().unwrap()) && err.contains("Read-only file system"),
        "{err}"
    );
    assert!(processes_with(&marker).is_empty());
    assert!(
        processes_with(state.to_str().unwrap()).is_empty(),
        "a guardian is left"
    );
    assert!(cgroups_of("-ro-state-").is_empty());
    assert_clean();
}

/// SIGTERM, then SIGTERM again and again while the run removes its containers: the cleanup
/// is not cut short — the run exits 2 and nothing is left.
#[test]
fn sigterm_during_the_cleanup_does_not_cut_it_short() {
    let test = "sigterm_during_the_cleanup_does_not_cut_it_short";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-term-{}", std::process::id());
    // Four containers: their removal takes long enough to be hit.
    let mut text = String::from("duration = \"60s\"\n");
    for i in 0..4 {
        text.push_str(&format!(
            "[[container]]\nname = \"c{i}\"\ncommand = [\"sh\", \"-c\", \"while :; do sleep 0.05; done\", \"{marker}\"]\n"
        ));
    }
    text.push_str("[[expect]]\nmetric = \"pids.current\"\ncontainer = \"c0\"\nwindow = [\"1s\", \"60s\"]\nmin = 1\n");
    let file = scenario_file(dir.path(), "term.toml", &text);
    let out = dir.path().join("out");
    let child = spawn_run(&out, &[&file], &[]);
    wait_for("the containers run", Duration::from_secs(30), || {
        processes_with(&marker).len() >= 4
    });
    let pid = limitcheck_cgroup::nix::unistd::Pid::from_raw(child.id() as i32);
    let term = move || {
        limitcheck_cgroup::nix::sys::signal::kill(
            pid,
            limitcheck_cgroup::nix::sys::signal::Signal::SIGTERM,
        )
        .is_ok()
    };
    term();
    let hammer = std::thread::spawn(move || {
        let mut sent = 0;
        while term() && sent < 100_000 {
            sent += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        sent
    });
    let (code, err, _) = finish(child, Duration::from_secs(20));
    let sent = hammer.join().unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(sent > 10, "only {sent} more SIGTERMs landed");
    assert!(
        processes_with(&marker).is_empty(),
        "its processes outlived it"
    );
    assert_clean();
}

/// A small seeded generator (xorshift64*): the kill points of a run of the suite are
/// reproducible from the seed it prints.
struct Points(u64);

impl Points {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Processes a run leaves while it cleans up after itself: its guardian.
fn guardians() -> Vec<u32> {
    processes_with("guard --root /run/limitcheck --run-id")
}

/// The fault-injection suite: SIGKILL of real runs at random moments — in create, start, a
/// step's write, sampling, the writing of the outputs, the cleanup — `LIMITCHECK_FAULT_KILLS`
/// times (50 by default; `benches/fault-injection.sh` runs 200). After each kill no process
/// of the run lives 2 s later, and whatever a kill left (a record whose guardian had not yet
/// started) is gone once the next run has started. Prints the seed
/// (`LIMITCHECK_FAULT_SEED` replays it) and the times from kill to no process.
#[test]
fn sigkill_at_random_moments_leaves_nothing() {
    let test = "sigkill_at_random_moments_leaves_nothing";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let kills: usize = std::env::var("LIMITCHECK_FAULT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("LIMITCHECK_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    note(&format!("{test}: seed {seed}, {kills} kills"));
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-fault-{}", std::process::id());
    // Two containers, a limit written, a pause and a resume: every phase of a run in 1.5 s.
    let mut text = String::from("duration = \"1500ms\"\n");
    for i in 0..2 {
        text.push_str(&format!(
            "[[container]]\nname = \"c{i}\"\ncommand = [\"sh\", \"-c\", \"while :; do sleep 0.05; done\", \"{marker}\"]\ncpus = 1\n"
        ));
    }
    text.push_str(
        "[[step]]\nat = \"300ms\"\ncontainer = \"c0\"\nset = { cpus = 0.5 }\n\
         [[step]]\nat = \"600ms\"\ncontainer = \"c1\"\naction = \"pause\"\n\
         [[step]]\nat = \"900ms\"\ncontainer = \"c1\"\naction = \"resume\"\n\
         [[expect]]\nmetric = \"pids.current\"\ncontainer = \"c0\"\nwindow = [\"100ms\", \"1500ms\"]\nmin = 1\n",
    );
    let file = scenario_file(dir.path(), "fault.toml", &text);
    let out = dir.path().join("out");
    // One whole run first: it passes, and its length is the span the kills fall in.
    let started = Instant::now();
    let whole = spawn_run(&out, &[&file], &[]);
    let (code, err, _) = finish(whole, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    let span = started.elapsed().as_secs_f64();
    let mut points = Points(seed);
    let mut gone = Vec::new();
    let mut left_for_next: Vec<String> = Vec::new();
    for k in 0..kills {
        let at = Duration::from_secs_f64(points.next() * span);
        let mut child = spawn_run(&out, &[&file], &[]);
        std::thread::sleep(at);
        // What the kill before this one left is swept by this run's start: the run's
        // record exists only after that sweep.
        if !left_for_next.is_empty() && child.try_wait().unwrap().is_none() {
            wait_for("the next run sweeps", Duration::from_secs(10), || {
                let now = leftovers();
                left_for_next.iter().all(|l| !now.contains(l))
                    || child.try_wait().unwrap().is_some()
            });
        }
        let killed = Instant::now();
        let _ = child.kill();
        child.wait().unwrap();
        while !(processes_with(&marker).is_empty() && guardians().is_empty()) {
            if killed.elapsed() > Duration::from_secs(2) {
                let left: Vec<String> = [processes_with(&marker), guardians()]
                    .concat()
                    .iter()
                    .map(|p| {
                        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                        format!("{p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
                    })
                    .collect();
                panic!(
                    "kill {k} at {at:?} (seed {seed}): 2 s later these live: {left:?}; left: {:?}",
                    leftovers()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        gone.push(killed.elapsed());
        left_for_next = leftovers();
    }
    // The last kill's leftovers, if any, go with the next run.
    let (code, err, _) = finish(spawn_run(&out, &[&file], &[]), Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    assert_clean();
    gone.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    note(&format!(
        "{test}: {kills} kills over {span:.2} s runs: kill to no process median {:.0} ms, worst {:.0} ms; leftovers after the next run: 0",
        ms(gone[gone.len() / 2]),
        ms(*gone.last().unwrap())
    ));
}

fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
