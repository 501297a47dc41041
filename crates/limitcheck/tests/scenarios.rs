//! `limitcheck run` end to end, as root: the shipped scenarios fail nothing on a busy host,
//! scenarios that must fail do fail (exit 1), broken files are refused with file, line, key and
//! fix (exit 2), and an interrupted or killed run leaves nothing behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::*;

/// The KTAP a run streamed: the strict parser accepts it; a test per scenario in order, `ok`,
/// `not ok` and the directive as each verdict says (an inconclusive one `SKIP inconclusive:`);
/// and it is what `limitcheck report --ktap` renders from the run directory afterwards.
fn assert_ktap_names_every_scenario(ktap: &str, scenarios: &[serde_json::Value], dir: &Path) {
    let doc = limitcheck_testkit::ktap::must_parse(ktap);
    assert_eq!(doc.tests.len(), scenarios.len(), "{ktap}");
    for (t, sc) in doc.tests.iter().zip(scenarios) {
        assert_eq!(t.name, sc["name"].as_str().unwrap());
        let want = match sc["verdict"].as_str().unwrap() {
            "pass" => (true, None),
            "fail" => (false, None),
            "skip" => (true, Some("SKIP")),
            "inconclusive" => (true, Some("SKIP")),
            _ => (false, Some("ERROR")),
        };
        assert_eq!((t.ok, t.directive.as_deref()), want, "{}", t.name);
        if sc["verdict"] == "inconclusive" {
            assert!(t.data.starts_with("inconclusive: "), "{}", t.data);
        }
        if !sc["expectations"].as_array().unwrap().is_empty() {
            assert!(!t.subtests.is_empty(), "{}: no subtests", t.name);
        }
    }
    // The same tests, results and case diagnostics as `report --ktap` renders afterwards; the
    // stream has the progress lines besides, as diagnostics of the scenarios they precede.
    let again = run(&["report", "--ktap", dir.to_str().unwrap()]);
    let rendered = String::from_utf8_lossy(&again.stdout);
    let mut rendered = limitcheck_testkit::ktap::must_parse(&rendered);
    let mut streamed = doc;
    assert!(
        streamed
            .tests
            .iter()
            .any(|t| t.diagnostics.iter().any(|d| d.starts_with("RUN "))),
        "the progress is in the stream: {ktap}"
    );
    for t in rendered.tests.iter_mut().chain(streamed.tests.iter_mut()) {
        t.diagnostics.clear();
    }
    assert_eq!(streamed, rendered, "streamed and rendered differ:\n{ktap}");
}

/// `limitcheck run --retries 0` of `scenarios` into `out_dir`, with `extra` flags, while `loops`
/// unrelated busy loops (steady, or bursty) run on the host.
fn run_beside_busy_loops_with(
    loops: usize,
    bursty: bool,
    out_dir: &Path,
    scenarios: &Path,
    extra: &[&str],
) -> Output {
    let _busy = if bursty {
        limitcheck_testkit::BusyLoops::bursty(loops)
    } else {
        limitcheck_testkit::BusyLoops::start(loops)
    };
    let mut args = vec!["run", "--retries", "0"];
    args.extend_from_slice(extra);
    args.extend([
        "--report-dir",
        out_dir.to_str().unwrap(),
        scenarios.to_str().unwrap(),
    ]);
    run(&args)
}

fn must_fail_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/must-fail")
}

/// The scenarios under tests/must-fail (0.7 CPU expected under a 0.35 quota; a 0.3-CPU ceiling
/// on a 0.6 quota; a 64M ceiling on 128M held; a 0.3-CPU ceiling on the 100 ms peak of a 0.35
/// quota) fail — exit 1, every one FAIL with a
/// measurement — on this host idle, with one busy loop and with two: a busy host makes a
/// shortfall inconclusive, never a failure that the limit itself explains.
#[test]
fn scenarios_that_must_fail_fail_with_exit_1_on_an_idle_or_busy_host() {
    let test = "scenarios_that_must_fail_fail_with_exit_1_on_an_idle_or_busy_host";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    for loops in [0, 1, 2] {
        let out_dir = dir.path().join(format!("out-{loops}"));
        // With one loop, as kernel CI runs it: KTAP, and kselftest's status 1 (KSFT_FAIL).
        let ktap = loops == 1;
        let extra: &[&str] = if ktap { &["--ktap"] } else { &[] };
        let out = run_beside_busy_loops_with(loops, false, &out_dir, &must_fail_dir(), extra);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{loops} busy loop(s): {text}");
        let s = summary(&out_dir);
        let scenarios = s["scenarios"].as_array().unwrap();
        assert_eq!(scenarios.len(), 4);
        if ktap {
            let k = String::from_utf8_lossy(&out.stdout);
            assert_ktap_names_every_scenario(&k, scenarios, &out_dir);
            assert!(
                k.ends_with("# Totals: pass:0 fail:4 xfail:0 xpass:0 skip:0 error:0\n"),
                "{k}"
            );
        }
        for sc in scenarios {
            assert_eq!(sc["verdict"], "fail", "{loops} busy loop(s): {sc}");
            let e = &sc["expectations"][0];
            assert_eq!(e["verdict"], "fail", "{loops} busy loop(s): {e}");
            assert!(e["measured"].as_f64().is_some());
        }
        // A peak is never under the average the quota holds (d-cpu-peak-below-average).
        let peak = scenarios[3]["expectations"][0]["measured"]
            .as_f64()
            .unwrap();
        assert!(peak >= 0.33, "{loops} busy loop(s): peak {peak}");
        // The quota held whatever the host did, and the judge said so.
        let e = &scenarios[0]["expectations"][0];
        let measured = e["measured"].as_f64().unwrap();
        assert!(
            (measured - 0.35).abs() < 0.05,
            "{loops} busy loop(s): the quota still held: {measured}"
        );
        assert!(
            e["reason"].as_str().unwrap().contains("got its quota"),
            "{e}"
        );
        assert!(e["context"]["foreign_cpus"].as_f64().is_some(), "{e}");
        if loops > 0 {
            assert!(
                e["context"]["foreign_cpus"].as_f64().unwrap() > 0.5 * loops as f64,
                "the busy loops are seen as foreign load: {e}"
            );
        }
        if loops == 0 {
            assert!(text.contains("FAIL"), "{text}");
            let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
            assert_eq!(junit.matches("<failure").count(), 4, "{junit}");
            // The gate: the failing run against itself has no regression (exit 0).
            let out = run(&[
                "compare",
                out_dir.to_str().unwrap(),
                out_dir.to_str().unwrap(),
            ]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    assert_clean();
}

/// The shipped suite as kernel CI runs it (`--ktap`: KTAP on stdout, the progress on stderr),
/// on a host made busy by an unrelated steady loop and a bursty one (busy 0.3 s, idle 0.2 s, as
/// a build's compilers come and go): no verdict fails and none errors — each scenario passes,
/// is skipped with a reason, or is inconclusive naming the foreign load it turned on — every
/// ceiling passes, the KTAP names every scenario as its verdict says, and the run directory
/// has its samples and reports.
///
/// Until 2026-12-03 the suite also ran alone on the idle host, with retries
/// (`shipped_scenarios_pass_on_this_host`, as long as this run, in a CI of 34 minutes): it
/// asserted nothing this run does not but that ten scenarios pass whole on an idle host, and
/// no shared CI runner is idle.
#[test]
fn the_shipped_suite_on_a_busy_host_fails_nothing() {
    let test = "the_shipped_suite_on_a_busy_host_fails_nothing";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let images = ensure_images(test);
    let dir = tempfile::tempdir().unwrap();
    // One steady loop and one bursty loop at once (a CPU always taken, the other taken and
    // left as a build's compilers come and go), over one pass of the suite. Until 2026-12-02
    // the two ran as two passes (one steady loop; two bursty ones), 3 minutes each once the
    // suite had thirty scenarios; two steady loops, both CPUs taken all the time, ran until
    // 2026-12-01 (9 pass, 6 inconclusive, 0 fail, as with one), and the must-fail test keeps
    // them.
    let (loops, bursty) = (2, "steady+bursty");
    let out_dir = dir.path().join("out");
    let out = {
        let _steady = limitcheck_testkit::BusyLoops::start(1);
        run_beside_busy_loops_with(1, true, &out_dir, &scenarios_dir(), &["--ktap"])
    };
    let ktap = String::from_utf8_lossy(&out.stdout);
    let s = summary(&out_dir);
    let scenarios = s["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 12, "{}", scenarios.len());
    let count = |v: &str| scenarios.iter().filter(|x| x["verdict"] == v).count();
    let _ = writeln!(
        std::io::stderr(),
        "{test}: {loops} {bursty} loop(s): {} pass, {} inconclusive, {} skip",
        count("pass"),
        count("inconclusive"),
        count("skip")
    );
    for sc in scenarios {
        let v = sc["verdict"].as_str().unwrap();
        assert!(
            v == "pass" || v == "skip" || v == "inconclusive",
            "{loops} {bursty} loop(s): {}: {v}: {}\n{ktap}",
            sc["name"],
            sc["reason"]
        );
        if v == "skip" {
            assert!(
                !sc["reason"].as_str().unwrap().is_empty(),
                "a skip needs a reason"
            );
        }
        for e in sc["expectations"].as_array().unwrap() {
            // The workload's own counters (respawns, failed forks, ops) come from limitcheck's
            // stressor on any host: never "not reported". (Once, the vm stressor wrote
            // `"failed_forks": null`, the reader refused the whole file, and seed-6-7's
            // respawns expectation was skipped unnoticed.) An expectation for the other
            // hierarchy (`only = "v2"`) is skipped for that.
            let other_hierarchy = e["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("only on cgroup"));
            if e["metric"].as_str().unwrap().starts_with("workload.") && !other_hierarchy {
                assert_ne!(e["verdict"], "skip", "{}: {e}", sc["name"]);
            }
            if e["verdict"] == "inconclusive" {
                assert!(
                    e["reason"].as_str().unwrap().contains("foreign load"),
                    "{e}"
                );
                // Other processes really took CPU from it; for a CPU share, at least what
                // it lacked (with the idle time), which is the judge's rule. (Not a fixed
                // amount: a container 0.001 CPU short beside 0.045 CPU of foreign load is
                // inconclusive, rightly — measured here with one loop.)
                let c = &e["context"];
                let foreign = c["foreign_cpus"].as_f64().unwrap();
                assert!(foreign > 0.0, "{e}");
                if e["metric"] == "cpu.usage" {
                    let lo = e["min"].as_f64().unwrap_or_else(|| {
                        let x = e["expected"].as_f64().unwrap();
                        let t = &e["tolerance"];
                        x - t["relative"]
                            .as_f64()
                            .map_or_else(|| t["absolute"].as_f64().unwrap(), |r| r * x)
                    });
                    let lacked = lo - e["measured"].as_f64().unwrap();
                    let idle = c["idle_cpus"].as_f64().unwrap();
                    assert!(foreign + idle >= lacked - 1e-9, "{e}");
                }
            }
        }
    }
    // kselftest's status: 0 when something passed and nothing failed (an inconclusive
    // scenario is a SKIP in KTAP; without --ktap the run exits 6 for it).
    assert_eq!(out.status.code(), Some(0), "{ktap}");
    assert_ktap_names_every_scenario(&ktap, scenarios, &out_dir);
    // A ceiling (a maximum and no minimum) is what a busy host cannot disturb: starving a
    // container only lowers what it uses, so every ceiling still passes. How many scenarios
    // pass whole depends on how busy the host is besides the loops (a CI runner building
    // in parallel measured 4 of 15 with two loops), so that count proves nothing.
    let ceilings: Vec<_> = scenarios
        .iter()
        .flat_map(|sc| sc["expectations"].as_array().unwrap())
        .filter(|e| e["min"].is_null() && e["expected"].is_null() && !e["max"].is_null())
        .collect();
    assert!(ceilings.len() >= 6, "{ktap}");
    for e in ceilings {
        assert_eq!(e["verdict"], "pass", "{e}\n{ktap}");
    }
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<failure").count(), 0, "{junit}");
    if count("inconclusive") > 0 {
        assert!(
            junit.contains("<skipped message=\"inconclusive: "),
            "{junit}"
        );
    }
    // The image scenario ran, on the image scripts/images.sh makes (not skipped for want of it).
    if images {
        let img = scenarios
            .iter()
            .find(|s| s["name"] == "image-stress-ng")
            .expect("image-stress-ng ran");
        assert_ne!(img["verdict"], "skip", "{img}");
    }
    assert!(s["host"]["cgroup_mode"].is_string() && s["host"]["kernel"].is_string());
    assert_eq!(s["complete"], true);
    assert_eq!(s["planned"].as_array().unwrap().len(), scenarios.len());
    let csv = std::fs::read_to_string(out_dir.join("samples.csv")).unwrap();
    assert!(csv.lines().count() > 500, "too few samples");
    assert!(csv.starts_with("scenario,container,t_s,"));
    // The reports are rendered at the end of every run.
    for f in ["index.html", "junit.xml", "summary.md"] {
        assert!(out_dir.join(f).exists(), "{f} not written");
    }
    assert_clean();
}

#[test]
fn a_dead_workload_is_an_error_not_a_failed_limit() {
    let test = "a_dead_workload_is_an_error_not_a_failed_limit";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let expect = r#"
[[expect]]
metric = "cpu.usage"
window = ["1s", "3s"]
approx = 1.0
tolerance = "5%"
"#;
    // A workload that stops with a usage error, a command that exits 0 at once, a missing
    // program, a command killed by a signal: each is an error (exit 2) naming how it ended and
    // the end of its log, never a measurement of 0 judged as a failed limit.
    let cases = [
        // (`workload = { kind = "cpu", load = 300 }` does not get this far: validate refuses
        // it, below.)
        (
            "usage",
            "command = [\"limitcheck\", \"stress\", \"cpu\", \"--load\", \"300\"]",
            "exited with status 2",
        ),
        ("true", "command = [\"true\"]", "exited with status 0"),
        (
            "missing",
            "command = [\"no-such-program-here\"]",
            "no-such-program-here",
        ),
        (
            "status",
            "command = [\"sh\", \"-c\", \"echo going; sleep 0.5; exit 3\"]",
            "exited with status 3",
        ),
    ];
    for (name, run_line, want) in cases {
        let f = scenario_file(
            dir.path(),
            &format!("{name}.toml"),
            &format!(
                "duration = \"3s\"\n[[container]]\nname = \"hog\"\n{run_line}\ncpus = 1\n{expect}"
            ),
        );
        let out_dir = dir.path().join(format!("out-{name}"));
        let out = run(&[
            "run",
            "--report-dir",
            out_dir.to_str().unwrap(),
            f.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {text}{err}");
        if name == "missing" {
            // The runtime cannot start it: create fails, naming the program.
            assert!(
                text.contains(want) || err.contains(want),
                "{name}: {text}{err}"
            );
            continue;
        }
        let s = summary(&out_dir);
        let sc = &s["scenarios"][0];
        assert_eq!(sc["verdict"], "error", "{name}: {sc}");
        let reason = sc["reason"].as_str().unwrap();
        assert!(reason.contains(want), "{name}: {reason}");
        assert!(
            reason.contains("a dead or disturbed workload is not judged"),
            "{name}: {reason}"
        );
        assert!(reason.contains("the end of its log"), "{name}: {reason}");
        assert!(
            sc["expectations"].as_array().unwrap().is_empty(),
            "{name}: judged anyway: {sc}"
        );
        if name == "status" {
            assert!(reason.contains("going"), "the log's last line: {reason}");
        }
    }
    let f = scenario_file(
        dir.path(),
        "refused.toml",
        &format!("duration = \"3s\"\n[[container]]\nworkload = {{ kind = \"cpu\", load = 300 }}\n{expect}"),
    );
    let out = run(&["run", f.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused.toml:3: container[0].workload.load: 300 is outside"),
        "{err}"
    );
    // An init killed from outside mid-run.
    let f = scenario_file(
        dir.path(),
        "killed.toml",
        &format!("duration = \"8s\"\n[[container]]\nname = \"hog\"\ncommand = [\"sleep\", \"30\"]\n{expect}"),
    );
    let out_dir = dir.path().join("out-killed");
    let child = Command::new(BIN)
        .args([
            "run",
            "--report-dir",
            out_dir.to_str().unwrap(),
            f.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = {
        let start = Instant::now();
        loop {
            let found = std::fs::read_dir("/run/limitcheck").ok().and_then(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().contains("-killed-hog"))
                    .find_map(|e| {
                        let st: Value = serde_json::from_slice(
                            &std::fs::read(e.path().join("state.json")).ok()?,
                        )
                        .ok()?;
                        (st["status"] == "running")
                            .then(|| st["pid"].as_i64())
                            .flatten()
                    })
            });
            if let Some(p) = found {
                break p;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the container never ran"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    limitcheck_cgroup::nix::sys::signal::kill(
        limitcheck_cgroup::nix::unistd::Pid::from_raw(pid as i32),
        limitcheck_cgroup::nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the run went on to its end"
    );
    let reason = summary(&out_dir)["scenarios"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("was killed by signal 9 (SIGKILL)"),
        "{reason}"
    );
    // `exit = 0` says the command may end: then its expectations are judged (here they fail:
    // nothing ran for the window, a real measurement).
    let f = scenario_file(
        dir.path(),
        "allowed.toml",
        &format!("duration = \"3s\"\n[[container]]\nname = \"hog\"\ncommand = [\"true\"]\nexit = 0\n{expect}"),
    );
    let out_dir = dir.path().join("out-allowed");
    let out = run(&[
        "run",
        "--report-dir",
        out_dir.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        summary(&out_dir)["scenarios"][0]["expectations"][0]["verdict"],
        "fail"
    );
    assert_clean();
}

/// `oom_score_adj = -1000` reaches the container's process (OCI `process.oomScoreAdj`): a
/// shell that grows past its limit (builtins only) is then never the OOM killer's (the
/// kernel finds "no killable processes" and the page fault waits at the limit), so it lives
/// to the end, with no OOM kill, held at its limit; it reads -1000 from /proc. (This
/// scenario passed in the v1 and v2 guests of Debian's 6.1, 32.0 MiB, no kill.)
#[test]
fn oom_score_adj_minus_1000_keeps_the_init_from_the_oom_killer() {
    let test = "oom_score_adj_minus_1000_keeps_the_init_from_the_oom_killer";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let text = r#"duration = "3s"
[[container]]
name = "eater"
command = ["sh", "-c", "read a < /proc/self/oom_score_adj; echo $a; x=a; while :; do x=$x$x; done"]
memory = "32M"
memory_swap = "32M"
oom_score_adj = -1000

[[expect]]
metric = "memory.oom_kills"
window = ["0s", "3s"]
max = 0

[[expect]]
metric = "memory.usage.max"
window = ["0s", "3s"]
max = "32M"
"#;
    let f = scenario_file(dir.path(), "guarded.toml", text);
    let out_dir = dir.path().join("out");
    let out = run(&[
        "run",
        "--report-dir",
        out_dir.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{err}");
    let sc = &summary(&out_dir)["scenarios"][0];
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    if eff & (1 << 24) == 0 {
        // Lowering oom_score_adj needs CAP_SYS_RESOURCE (a sandbox may drop it even from
        // root): the scenario is a skip that says so, never a container failing to start.
        assert_eq!(sc["verdict"], "skip", "{sc}");
        let reason = sc["reason"].as_str().unwrap();
        assert!(
            reason.contains("CAP_SYS_RESOURCE") && reason.contains("container eater"),
            "{reason}"
        );
        limitcheck_testkit::skip(
            test,
            "root here lacks CAP_SYS_RESOURCE, so no process can lower its oom_score_adj (the \
             run's skip was checked; the VM lane's memory-oom-group shows -1000 kept from a \
             group kill)",
        );
        assert_clean();
        return;
    }
    assert_eq!(sc["verdict"], "pass", "{sc}");
    // It did reach its limit (a failcnt or max event), so the OOM killer was asked.
    let log = std::fs::read_to_string(out_dir.join("guarded-eater.log")).unwrap();
    assert_eq!(log.lines().next(), Some("-1000"), "{log}");
    let usage = sc["expectations"][1]["measured"].as_f64().unwrap();
    assert!(usage > 30.0 * 1048576.0, "{usage}: never reached its limit");
    assert_clean();
}

#[test]
fn an_oom_killed_init_is_an_error_unless_the_scenario_allows_it() {
    let test = "an_oom_killed_init_is_an_error_unless_the_scenario_allows_it";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // The container's init (sh) itself grows past its memory limit: the OOM killer takes it.
    let base = r#"duration = "4s"
[[container]]
name = "eater"
command = ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 30"]
memory = "32M"
memory_swap = "32M"
"#;
    let tail = r#"
[[expect]]
metric = "memory.oom_kills"
window = ["0s", "4s"]
min = 1
"#;
    let f = scenario_file(dir.path(), "oom.toml", &format!("{base}{tail}"));
    let out_dir = dir.path().join("out-oom");
    let out = run(&[
        "run",
        "--report-dir",
        out_dir.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{text}{err}");
    assert!(text.contains("was killed by the OOM killer"), "{text}{err}");
    let reason = summary(&out_dir)["scenarios"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("was killed by the OOM killer"), "{reason}");
    let f = scenario_file(
        dir.path(),
        "oom-ok.toml",
        &format!("{base}exit = \"oom-kill\"\n{tail}"),
    );
    let out_dir = dir.path().join("out-oom-ok");
    let out = run(&[
        "run",
        "--report-dir",
        out_dir.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_clean();
}

#[test]
fn broken_files_name_file_line_key_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("syntax.toml", "duration = \"3s\"\n[[container]\n", "syntax.toml:2"),
        (
            "metric.toml",
            "duration = \"3s\"\n[[container]]\nworkload = { kind = \"cpu\" }\n\n[[expect]]\nmetric = \"cpu.usagee\"\nwindow = [\"1s\", \"2s\"]\nmax = 1\n",
            "metric.toml:6: expect[0].metric",
        ),
        ("duration.toml", "duration = \"soon\"\n", "duration.toml:1: duration"),
        (
            "bytes.toml",
            "duration = \"3s\"\n[[container]]\nworkload = { kind = \"vm\", bytes = \"0\" }\n",
            "bytes.toml:3: container[0].workload.bytes",
        ),
        (
            "window.toml",
            "duration = \"3s\"\n[[container]]\nworkload = { kind = \"cpu\" }\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"2s\", \"9s\"]\nmax = 1\n",
            "window.toml:6: expect[0].window",
        ),
    ];
    for (name, text, want) in cases {
        let p = scenario_file(dir.path(), name, text);
        let out = run(&["validate", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(want), "{name}: wanted {want:?} in {err}");
    }
    let out = run(&["validate", scenarios_dir().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_interrupted_run_stops_and_leaves_nothing() {
    let test = "an_interrupted_run_stops_and_leaves_nothing";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let long = scenario_file(
        dir.path(),
        "long.toml",
        "duration = \"60s\"\n[[container]]\nworkload = { kind = \"cpu\", workers = 1 }\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"60s\"]\nmin = 0.5\n",
    );
    let out_dir = dir.path().join("out");
    let spawn = || spawn_run(&out_dir, &[&long], &[]);
    let wait_running = || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let running = std::fs::read_dir("/run/limitcheck")
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("lcr-"))
                })
                .unwrap_or(false);
            if running {
                std::thread::sleep(Duration::from_millis(500));
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the run did not start a container");
    };
    // SIGINT: the runner stops within a moment, removes everything, exits 2.
    let mut child = spawn();
    wait_running();
    let start = Instant::now();
    limitcheck_cgroup::nix::sys::signal::kill(
        limitcheck_cgroup::nix::unistd::Pid::from_raw(child.id() as i32),
        limitcheck_cgroup::nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(2));
    assert_clean();
    let s = summary(&out_dir);
    assert_eq!(s["complete"], false, "an interrupted run is marked so");
    assert_eq!(s["scenarios"][0]["verdict"], "error");
    assert!(s["scenarios"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("interrupted"));

    assert_clean();
}

/// A run SIGKILLed ten seconds into its second scenario keeps what that scenario measured: its
/// samples were written as they were taken, and `limitcheck report` shows the scenario as cut
/// short, with its chart and every sample on disk at the kill, after the finished first one.
#[test]
fn a_run_killed_mid_scenario_keeps_the_samples_it_took() {
    let test = "a_run_killed_mid_scenario_keeps_the_samples_it_took";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-journal-{}", std::process::id());
    let first = marked_scenario(dir.path(), "a-first", &format!("{marker}-a"), 2);
    let long = marked_scenario(dir.path(), "b-long", &marker, 60);
    let out = dir.path().join("out");
    let mut child = spawn_run(&out, &[&first, &long], &[]);
    let journal = out.join("running-samples.csv");
    let rows = || {
        std::fs::read_to_string(&journal)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    // The default interval is 100 ms: ten seconds is about 100 rows.
    wait_for("ten seconds of samples", Duration::from_secs(40), || {
        rows() >= 100
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = rows();
    wait_for("no process left", Duration::from_secs(2), || {
        processes_with(&marker).is_empty()
    });
    let page = run(&["report", out.to_str().unwrap()]);
    assert!(
        page.status.success(),
        "{}",
        String::from_utf8_lossy(&page.stderr)
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("interrupted during b-long after 1 of 2 scenario(s)"),
        "{html}"
    );
    let section = &html[html
        .find("<h2 id=\"b-long\">")
        .expect("a section for b-long")..];
    assert!(section.contains("<svg"), "no chart: {section}");
    let n: usize = section
        .split(" samples ·")
        .next()
        .and_then(|x| x.rsplit(" · ").next())
        .and_then(|x| x.trim().parse().ok())
        .expect("a sample count");
    assert!(
        n >= kept && kept >= 100,
        "{n} samples shown, {kept} on disk at the kill"
    );
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("| b-long | ⚠ error | interrupted ") && md.contains("1 passed"),
        "{md}"
    );
    // The next run starts clean: nothing of the killed one is left.
    run_short(dir.path(), "after");
    assert_clean();
}

/// SIGKILL of a run, three times: its guardian kills and removes its containers at once —
/// no process of the container 2 s later (measured: the time from the kill to the last one
/// gone), nothing left. With the guardian killed too, the next run sweeps what was left.
#[test]
fn a_killed_run_leaves_nothing_its_guardian_removes_its_containers() {
    let test = "a_killed_run_leaves_nothing_its_guardian_removes_its_containers";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-guard-{}", std::process::id());
    let file = marked_scenario(dir.path(), "long", &marker, 60);
    let out = dir.path().join("out");
    let spawn = || spawn_run(&out, &[&file], &[]);
    let mut times = Vec::new();
    for _ in 0..3 {
        let mut child = spawn();
        wait_for("the container runs", Duration::from_secs(20), || {
            !processes_with(&marker).is_empty()
        });
        let killed = Instant::now();
        child.kill().unwrap();
        child.wait().unwrap();
        wait_for("no process left", Duration::from_secs(2), || {
            processes_with(&marker).is_empty()
        });
        times.push(killed.elapsed());
        wait_for("nothing left", Duration::from_secs(2), || {
            leftovers().is_empty()
        });
        // The summary written at the start says the run did not finish.
        let out = dir.path().join("out");
        assert_eq!(summary(&out)["complete"], false);
        let page = run(&["report", out.to_str().unwrap()]);
        assert!(
            page.status.success(),
            "{}",
            String::from_utf8_lossy(&page.stderr)
        );
        let html = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(html.contains("INTERRUPTED"), "{html}");
    }
    let _ = writeln!(std::io::stderr(), "{test}: kill to no process: {:?}", times);
    // The guardian killed first, then the run: the container stays until the next run sweeps.
    let mut child = spawn();
    wait_for("the container runs", Duration::from_secs(20), || {
        !processes_with(&marker).is_empty()
    });
    assert!(kill_guardians() > 0, "no guardian runs");
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!processes_with(&marker).is_empty(), "left for the sweep");
    let out = run_short(dir.path(), "quick");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("removed what a dead run left: container lcr-"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(processes_with(&marker).is_empty());
    assert_clean();
}

/// Two runs at once and a cleanup beside them: neither the second run's start-of-run sweep nor
/// `limitcheck cleanup` touches the first run's container; the second run warns that the first
/// shares the CPUs; the first run passes.
#[test]
fn runs_at_once_never_touch_each_other() {
    let test = "runs_at_once_never_touch_each_other";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-both-{}", std::process::id());
    let long = marked_scenario(dir.path(), "first", &marker, 8);
    let first = Command::new(BIN)
        .args(["run", "--report-dir"])
        .arg(dir.path().join("first"))
        .arg(&long)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first run's container", Duration::from_secs(20), || {
        !processes_with(&marker).is_empty()
    });
    let out = run(&["cleanup"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("kept run "), "{text}");
    assert!(!text.contains("removed container"), "{text}");
    let out = run_short(dir.path(), "second");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another run is live on this host"), "{err}");
    assert!(!err.contains("removed what a dead run left"), "{err}");
    assert!(
        !processes_with(&marker).is_empty(),
        "the first run's container was touched"
    );
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(processes_with(&marker).is_empty());
    assert_clean();
}

/// kselftest's statuses from `run --ktap`: 4 (KSFT_SKIP) when nothing passed because every
/// scenario skipped, with the reason as the SKIP's data; 1 when a scenario could not run
/// (`not ok … # ERROR`: a workload that died), which without --ktap is 2.
#[test]
fn ktap_exit_statuses_are_kselftests() {
    let test = "ktap_exit_statuses_are_kselftests";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let t = tempfile::tempdir().unwrap();
    // A scenario for the other cgroup version than this host's: a skip, before anything runs.
    let other = match limitcheck_cgroup::Layout::detect().unwrap().version() {
        limitcheck_cgroup::Version::V2 => "v1",
        _ => "v2",
    };
    let file = scenario_file(
        t.path(),
        "other-version.toml",
        &format!("description = \"Only on {other}.\"\nduration = \"2s\"\nonly = \"{other}\"\n[[container]]\nname = \"hog\"\nworkload = {{ kind = \"cpu\" }}\n"),
    );
    let out = run(&[
        "run",
        "--ktap",
        "--report-dir",
        t.path().join("a").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let k = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{k}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = limitcheck_testkit::ktap::must_parse(&k);
    assert_eq!(doc.tests.len(), 1);
    assert_eq!(doc.tests[0].directive.as_deref(), Some("SKIP"), "{k}");
    assert!(doc.tests[0].data.contains("cgroup"), "{k}");
    // The run directory's reproduce.sh reruns it: the same flags, on its copy of the file.
    let again = Command::new(t.path().join("a/reproduce.sh"))
        .current_dir(t.path())
        .env("LIMITCHECK", BIN)
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let k2 = String::from_utf8_lossy(&again.stdout);
    assert!(k2.contains("a/scenarios/other-version.toml"), "{k2}");
    assert!(
        k2.ends_with("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n"),
        "{k2}"
    );

    let dies = scenario_file(
        t.path(),
        "dies.toml",
        "duration = \"4s\"\n[[container]]\nname = \"dies\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n",
    );
    let out = run(&[
        "run",
        "--ktap",
        "--report-dir",
        t.path().join("b").to_str().unwrap(),
        file.to_str().unwrap(),
        dies.to_str().unwrap(),
    ]);
    let k = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{k}");
    let doc = limitcheck_testkit::ktap::must_parse(&k);
    let d = &doc.tests[1];
    assert_eq!(
        (d.ok, d.directive.as_deref()),
        (false, Some("ERROR")),
        "{k}"
    );
    assert!(d.data.contains("exited with status 3"), "{k}");
    assert_eq!(doc.totals, Some([0, 0, 0, 0, 1, 1]), "{k}");
    assert_clean();
}

/// Sampling at 1 kHz: every millisecond a fast round (the CPU figures), every 10 ms a full
/// one (the host, memory, pids): a 0.5-CPU quota over 10 ms periods is judged from the fast
/// rows, a memory figure from the full ones, and the rows are there in the numbers promised.
#[test]
fn a_1khz_sampler_reads_cpu_every_millisecond_and_the_rest_every_10() {
    let test = "a_1khz_sampler_reads_cpu_every_millisecond_and_the_rest_every_10";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(
        dir.path(),
        "khz.toml",
        "duration = \"3s\"\ninterval = \"1ms\"\n[[container]]\nworkload = { kind = \"cpu\", \
         workers = 1 }\ncpu_quota = 5000\ncpu_period = 10000\n[[expect]]\nmetric = \
         \"cpu.usage\"\nwindow = [\"0.5s\", \"3s\"]\napprox = 0.5\ntolerance = \"5%\"\n\
         [[expect]]\nmetric = \"memory.usage\"\nwindow = [\"0.5s\", \"3s\"]\nmax = \"64M\"\n",
    );
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        "--report-dir",
        out.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 6)),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let s = summary(&out);
    let sc = &s["scenarios"][0];
    let ex = sc["expectations"].as_array().unwrap();
    assert_eq!(ex[1]["verdict"], "pass", "{}", ex[1]);
    assert!(
        matches!(ex[0]["verdict"].as_str(), Some("pass" | "inconclusive")),
        "{}",
        ex[0]
    );
    let csv = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let host = std::fs::read_to_string(out.join("host.csv")).unwrap();
    let host_rows = host.lines().count() - 1;
    // A late wake skips the rounds it missed rather than bunching them: on a busy runner
    // many may be late, but far more than 100 Hz's 300 are there.
    assert!(
        rows.len() > 1500 && rows.len() <= 3001,
        "{} rows",
        rows.len()
    );
    assert!(
        (150..=301).contains(&host_rows),
        "{host_rows} host rows for {} container rows",
        rows.len()
    );
    // Fast rows have the CPU figures and no memory; full ones both.
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (cpu, mem) = (col("cpu_ns"), col("memory_bytes"));
    let with_mem = rows
        .iter()
        .filter(|r| !r.split(',').nth(mem).unwrap_or("").is_empty())
        .count();
    assert!(rows
        .iter()
        .all(|r| !r.split(',').nth(cpu).unwrap_or("").is_empty()));
    assert!(
        (150..=301).contains(&with_mem),
        "{with_mem} rows with memory"
    );
    assert_clean();
}
