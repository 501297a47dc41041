//! `limitcheck stress` in cgroups made by the test, on this host's kernel. Needs root; skips
//! with a printed reason otherwise. Tolerances are wide: precision is what scenarios judge.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use limitcheck_cgroup::{Cgroup, Controller, Limit, LimitKind, Max};
use limitcheck_testkit::{cgroup, host};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_limitcheck");
const MIB: u64 = 1 << 20;

/// Starts `limitcheck stress ARGS` inside `cg`: a shell waits on stdin until it is in the
/// cgroup, then becomes the stressor, so that every worker is born inside.
fn stress_in(cg: &Cgroup, args: &[&str]) -> Child {
    let mut child = Command::new("sh")
        .args(["-c", "read _ && exec \"$0\" \"$@\"", BIN, "stress"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    cg.add_pid(child.id() as i32).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    child
}

/// A cgroup of the test's with the CPU controllers and a quota of `quota_us` per 100 ms
/// (`None`, after a printed skip, where it cannot be made).
fn cpu_cgroup(test: &str, quota_us: u64) -> Option<Cgroup> {
    let cg = cgroup(test, &[Controller::Cpu, Controller::Cpuacct])?;
    cg.set(&Limit::CpuMax {
        quota_us: Max::Value(quota_us),
        period_us: 100_000,
    })
    .unwrap();
    Some(cg)
}

fn finish(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "stress failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn two_cpu_workers_under_half_a_cpu_use_about_half_a_cpu() {
    let test = "two_cpu_workers_under_half_a_cpu_use_about_half_a_cpu";
    let Some(cg) = cpu_cgroup(test, 50_000) else {
        return;
    };
    let start = Instant::now();
    let child = stress_in(&cg, &["--timeout", "3s", "cpu", "--workers", "2"]);
    let report = finish(child);
    let wall = start.elapsed().as_secs_f64();
    let used = cg.stats().unwrap().cpu.unwrap().usage_ns as f64 / 1e9;
    eprintln!(
        "{test}: {used:.2} CPU-s over {wall:.2} s = {:.2} CPUs; {report}",
        used / wall
    );
    assert!(
        used / wall < 0.7,
        "quota not enforced: {:.2} CPUs",
        used / wall
    );
    assert!(
        used / wall > 0.25,
        "workers barely ran: {:.2} CPUs",
        used / wall
    );
    assert_eq!(report["stopped_by"], "timeout");
    assert_eq!(report["per_worker"].as_array().unwrap().len(), 2);
    assert!(report["bogo_ops"].as_u64().unwrap() > 0);
    assert!(report["cpu_user_s"].as_f64().unwrap() > 0.5, "{report}");
    assert!(cg.pids().unwrap().is_empty(), "workers left behind");
    cg.destroy().unwrap();
}

#[test]
fn two_vm_workers_of_64mib_reach_about_128mib() {
    let test = "two_vm_workers_of_64mib_reach_about_128mib";
    let Some(cg) = cgroup(test, &[Controller::Memory]) else {
        return;
    };
    let child = stress_in(
        &cg,
        &[
            "--timeout",
            "3s",
            "vm",
            "--workers",
            "2",
            "--bytes",
            "64m",
            "--keep",
        ],
    );
    let mut peak = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        peak = peak.max(cg.stats().unwrap().memory.unwrap().anon);
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = finish(child);
    eprintln!("{test}: peak anon {} MiB; {report}", peak / MIB);
    assert!(peak >= 110 * MIB, "only {} MiB resident", peak / MIB);
    assert!(
        peak <= 160 * MIB,
        "{} MiB resident for 2 x 64 MiB",
        peak / MIB
    );
    assert_eq!(report["respawns"], 0);
    assert!(report["bogo_ops"].as_u64().unwrap() >= 2 * 64 * MIB / 4096);
    cg.destroy().unwrap();
}

#[test]
fn vm_workers_over_a_96mib_limit_are_oom_killed_and_respawned() {
    let test = "vm_workers_over_a_96mib_limit_are_oom_killed_and_respawned";
    let Some(cg) = cgroup(test, &[Controller::Memory]) else {
        return;
    };
    let mut limits = vec![Limit::MemoryMax(Max::Value(96 * MIB))];
    if cg.get(LimitKind::MemorySwapMax).is_ok() {
        limits.push(Limit::MemorySwapMax(Max::Value(96 * MIB)));
    }
    cg.apply(&limits).unwrap();
    let child = stress_in(
        &cg,
        &[
            "--timeout",
            "3s",
            "vm",
            "--workers",
            "2",
            "--bytes",
            "64m",
            "--keep",
        ],
    );
    let report = finish(child);
    let mem = cg.stats().unwrap().memory.unwrap();
    eprintln!("{test}: {report}; peak {:?}", mem.peak);
    assert!(
        report["respawns"].as_u64().unwrap() >= 1,
        "no respawn: {report}"
    );
    assert!(mem.oom_kill.unwrap_or(0) >= 1, "no OOM kill counted");
    if let Some(peak) = mem.peak {
        assert!(peak <= 96 * MIB, "memory passed the limit: {peak}");
    }
    // The parent survived (it wrote the report); only workers were the OOM victims.
    assert_eq!(report["stopped_by"], "timeout");
    cg.destroy().unwrap();
}

#[test]
fn fork_stressor_holds_at_pids_max_and_counts_failures() {
    let test = "fork_stressor_holds_at_pids_max_and_counts_failures";
    let Some(cg) = cgroup(test, &[Controller::Pids]) else {
        return;
    };
    cg.set(&Limit::PidsMax(Max::Value(20))).unwrap();
    let child = stress_in(&cg, &["--timeout", "2s", "fork", "--processes", "50"]);
    let mut most = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        most = most.max(cg.stats().unwrap().pids.unwrap().current);
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = finish(child);
    eprintln!("{test}: most {most} pids; {report}");
    assert_eq!(most, 20, "pids.current should hold at pids.max");
    // The stressor and its worker are 2 of the 20.
    assert_eq!(report["alive"], 18, "{report}");
    assert!(report["failed_forks"].as_u64().unwrap() > 0, "{report}");
    assert!(cg.pids().unwrap().is_empty(), "children left behind");
    cg.destroy().unwrap();
}

#[test]
fn sigterm_stops_every_worker_with_the_final_record() {
    let test = "sigterm_stops_every_worker_with_the_final_record";
    let Some(layout) = host(test, &[]) else {
        return;
    };
    let cg = layout.cgroup().create().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let counters = dir.path().join("live.json");
    let child = stress_in(
        &cg,
        &[
            "--counters",
            counters.to_str().unwrap(),
            "burst",
            "--threads",
            "3",
            "--run",
            "5ms",
            "--sleep",
            "15ms",
        ],
    );
    // The file is rewritten in place: one inode, one page, whatever the numbers (a rename
    // or a truncation would allocate a page in the workload's cgroup at every tick).
    let mut seen = Vec::new();
    let mut files = std::collections::BTreeSet::new();
    let start = Instant::now();
    while seen.len() < 3 && start.elapsed() < Duration::from_secs(10) {
        if let Ok(b) = std::fs::read(&counters) {
            // None: a write read half done (or the file just made), told by its check.
            if let Some(c) = limitcheck_record::Counters::from_live(&b) {
                let meta = std::fs::metadata(&counters).unwrap();
                files.insert((meta.ino(), meta.len()));
                if seen.last().is_none_or(|l| *l < c.elapsed_s) {
                    seen.push(c.elapsed_s);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    assert!(
        seen.len() >= 3,
        "the counters file did not advance: {seen:?}"
    );
    assert_eq!(
        files.len(),
        1,
        "rewritten as other files or sizes: {files:?}"
    );
    assert_eq!(files.first().unwrap().1, 4096, "{files:?}");
    let stress_pid = cg.pids().unwrap()[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(stress_pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let report = finish(child);
    assert_eq!(report["stopped_by"], "SIGTERM");
    let per = report["per_worker"].as_array().unwrap();
    assert_eq!(per.len(), 3);
    assert!(per.iter().all(|t| t.as_u64().unwrap() > 0), "{report}");
    assert!(cg.pids().unwrap().is_empty(), "workers left behind");
    cg.destroy().unwrap();
}

/// The kernel stressor spends its CPU time in the kernel, in reads sized to the CPU time asked
/// for (found by timing reads at its start): 10 ms each here, within a factor of two.
#[test]
fn kernel_workers_burn_cpu_in_reads_of_the_length_asked() {
    let test = "kernel_workers_burn_cpu_in_reads_of_the_length_asked";
    let Some(cg) = cpu_cgroup(test, 50_000) else {
        return;
    };
    let child = stress_in(&cg, &["--timeout", "3s", "kernel", "--call", "10ms"]);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reads of "), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sys = report["cpu_system_s"].as_f64().unwrap();
    let user = report["cpu_user_s"].as_f64().unwrap();
    let ops = report["bogo_ops"].as_u64().unwrap();
    eprintln!("{test}: {err}{ops} reads, {sys:.3} s system, {user:.3} s user");
    assert!(sys > 0.8 && sys > 10.0 * user, "{report}");
    // The calibration's own reads (a few ms) are not counted as ops.
    let per_read = sys / ops.max(1) as f64;
    assert!(
        (0.005..0.02).contains(&per_read),
        "{per_read:.4} s per read: {report}"
    );
    assert!(cg.pids().unwrap().is_empty(), "workers left behind");
    cg.destroy().unwrap();
}

/// fibtest's pattern: a thread per CPU allowed, each pinned to its own CPU; the fast one does
/// nearly all the work, the slow ones about one bogo-op per 10 ms; under a quota the cgroup
/// uses about its quota.
#[test]
fn fibtest_pins_a_thread_to_each_cpu_and_the_fast_one_works() {
    let test = "fibtest_pins_a_thread_to_each_cpu_and_the_fast_one_works";
    let Some(cg) = cpu_cgroup(test, 20_000) else {
        return;
    };
    let cpus = std::thread::available_parallelism().unwrap().get();
    let start = Instant::now();
    let child = stress_in(&cg, &["--timeout", "3s", "fibtest"]);
    // Each thread's affinity, once all are made: one CPU each, every allowed CPU once.
    let mut pinned: Vec<String> = Vec::new();
    while start.elapsed() < Duration::from_secs(2) {
        pinned = cg
            .pids()
            .unwrap()
            .iter()
            .flat_map(|p| {
                std::fs::read_dir(format!("/proc/{p}/task"))
                    .into_iter()
                    .flatten()
            })
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .filter_map(|st| {
                st.lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .map(|v| v.trim().to_string())
            })
            .filter(|v| !v.contains(['-', ',']))
            .collect();
        if pinned.len() == cpus {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    pinned.sort();
    pinned.dedup();
    assert_eq!(pinned.len(), cpus, "threads pinned to {pinned:?}");
    let report = finish(child);
    let wall = start.elapsed().as_secs_f64();
    let used = cg.stats().unwrap().cpu.unwrap().usage_ns as f64 / 1e9;
    eprintln!("{test}: {:.3} CPUs under 0.2; {report}", used / wall);
    let per: Vec<u64> = report["per_worker"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(per.len(), cpus, "{report}");
    // A slow thread wakes at most every 10 ms (300 times in 3 s); the fast one runs a bogo-op
    // in microseconds for 0.6 s of CPU.
    for slow in &per[1..] {
        assert!((20..=310).contains(slow), "{per:?}");
        assert!(per[0] > 20 * slow, "{per:?}");
    }
    assert!(
        used / wall < 0.3,
        "quota not enforced: {:.3} CPUs",
        used / wall
    );
    assert!(used / wall > 0.1, "barely ran: {:.3} CPUs", used / wall);
    assert!(cg.pids().unwrap().is_empty(), "workers left behind");
    cg.destroy().unwrap();
}

/// The io stressor writes a disk's page cache, charged to its cgroup, and reads it back; its
/// files are gone when it ends.
#[test]
fn io_workers_fill_their_cgroup_with_page_cache_and_remove_their_files() {
    let test = "io_workers_fill_their_cgroup_with_page_cache_and_remove_their_files";
    let Some(cg) = cgroup(test, &[Controller::Memory]) else {
        return;
    };
    // On the host's disk, where limitcheck puts the containers' /var/tmp.
    let base = std::path::Path::new("/var/tmp/limitcheck-test");
    std::fs::create_dir_all(base).unwrap();
    let dir = tempfile::tempdir_in(base).unwrap();
    let d = dir.path().to_str().unwrap();
    let child = stress_in(
        &cg,
        &[
            "--timeout",
            "2s",
            "io",
            "--workers",
            "2",
            "--bytes",
            "32m",
            "--dir",
            d,
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let files: Vec<_> = std::fs::read_dir(d).unwrap().flatten().collect();
    let cache = cg.stats().unwrap().memory.unwrap().file;
    let report = finish(child);
    eprintln!("{test}: {} MiB of page cache; {report}", cache / MIB);
    assert_eq!(files.len(), 2, "one file per worker");
    assert!(
        cache >= 48 * MIB,
        "{} MiB of page cache for 2 x 32 MiB",
        cache / MIB
    );
    assert!(report["bogo_ops"].as_u64().unwrap() >= 64, "{report}");
    assert_eq!(report["unit"], "one MiB written");
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        0,
        "files left behind"
    );

    // Direct reads: counted, and the file read is the one written first.
    let child = stress_in(
        &cg,
        &[
            "--timeout",
            "1s",
            "io",
            "--bytes",
            "8m",
            "--read",
            "--direct",
            "--dir",
            d,
        ],
    );
    let report = finish(child);
    assert_eq!(report["unit"], "one MiB read");
    assert!(report["bogo_ops"].as_u64().unwrap() >= 8, "{report}");
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        0,
        "files left behind"
    );
    drop(dir);
    let _ = std::fs::remove_dir(base);
    cg.destroy().unwrap();
}

#[test]
fn bad_arguments_are_refused_with_the_reason() {
    for (args, want) in [
        (&["stress", "cpu", "--workers", "0"][..], "--workers"),
        (&["stress", "cpu", "--load", "150"][..], "--load"),
        (&["stress", "vm", "--bytes", "0"][..], "--bytes"),
        (&["stress", "vm", "--bytes", "12q"][..], "12q"),
        (&["stress", "--timeout", "soon", "cpu"][..], "soon"),
        (
            &["stress", "burst", "--run", "0", "--sleep", "1ms"][..],
            "--run",
        ),
        (
            &["stress", "fibtest", "--fast", "3", "--threads", "2"][..],
            "fewer than the 3 fast",
        ),
        (&["stress", "fibtest", "--sleep", "0"][..], "--sleep"),
        (
            &["stress", "io", "--bytes", "1500k"][..],
            "whole number of MiB",
        ),
        (
            &["stress", "io", "--bytes", "1m", "--dir", "/dev/shm"][..],
            "tmpfs",
        ),
        (
            &["stress", "io", "--bytes", "1m", "--dir", "rel"][..],
            "absolute",
        ),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
