//! What the end-to-end tests share: the binary, the lock that runs root tests one at a time,
//! and the checks that a run left nothing behind.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_limitcheck");

/// The root tests measure the whole machine and `cleanup` removes every run's containers: they
/// run one at a time.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

pub fn root(test: &str) -> bool {
    let ok = limitcheck_cgroup::nix::unistd::geteuid().is_root()
        && limitcheck_cgroup::Layout::detect().is_ok();
    if !ok {
        skip(test, "needs root and a cgroup filesystem");
    }
    ok
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// What runs left: container state, bundles, run records under /run/limitcheck, scratch
/// directories under /var/tmp/limitcheck, overlay roots still mounted, container cgroups and
/// groups' cgroup trees. What a run still alive owns (another user's `limitcheck run` or `vm`
/// on the host, by its record's pid and start time) is not a leftover.
pub fn leftovers() -> Vec<String> {
    let root = Path::new("/run/limitcheck");
    let records = limitcheck_scenario::owner::records(root);
    let live: Vec<String> = records
        .iter()
        .filter(|r| r.alive())
        .map(|r| r.run_id.clone())
        .collect();
    let owned = |name: &str| {
        live.iter().any(|id| {
            name == id || name.starts_with(&limitcheck_scenario::owner::container_prefix(id))
        })
    };
    let unowned_in = |dir: &Path| -> bool {
        std::fs::read_dir(dir).is_ok_and(|d| {
            let names: Vec<String> = d
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.is_empty() || names.iter().any(|n| !owned(n))
        })
    };
    let mut left: Vec<String> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    match n.as_str() {
                        "runs" => records.iter().any(|r| !r.alive()) || records.is_empty(),
                        "bundles" => unowned_in(&e.path()),
                        "oci" => true,
                        _ => n.starts_with("lcr-") && !owned(&n),
                    }
                })
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    // A run's scratch directories, the containers' /var/tmp on the host's disk.
    left.extend(
        std::fs::read_dir("/var/tmp/limitcheck")
            .map(|d| {
                d.flatten()
                    .filter(|e| !owned(&e.file_name().to_string_lossy()))
                    .map(|e| e.path().display().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    // An image container's overlay root, mounted on the host under its bundle.
    if let Ok(m) = std::fs::read_to_string("/proc/self/mountinfo") {
        left.extend(
            m.lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| p.contains("/limitcheck/"))
                .map(|p| format!("mount {p}")),
        );
    }
    // Container cgroups and groups' trees, in every cgroup filesystem (named ones too).
    for mp in limitcheck_cgroup::tree::mount_points() {
        if let Ok(d) = std::fs::read_dir(mp.join("limitcheck")) {
            left.extend(
                d.flatten()
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        // What only the engines make there: podman's conmon and
                        // containers (`libpod-<id>`), docker's containers (`<64 hex>`).
                        n == "conmon"
                            || n.starts_with("libpod-")
                            || n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())
                            || (n.starts_with("lcr-") || n.starts_with("lcg-"))
                                && !owned(&n.replacen("lcg-", "lcr-", 1))
                    })
                    .map(|e| e.path().display().to_string()),
            );
        }
    }
    left
}

/// Nothing of a run is left: no container state, bundle, record, or cgroup.
pub fn assert_clean() {
    let left = leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
}

pub fn summary(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

pub fn scenario_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(marker)
            })
        })
        .collect()
}

/// A scenario (`dir/<name>.toml`) whose container runs a plain command (one that knows nothing
/// of limitcheck), named by `marker` in its command line (and nowhere in the run's own).
pub fn marked_scenario(dir: &Path, name: &str, marker: &str, secs: u32) -> PathBuf {
    scenario_file(
        dir,
        &format!("{name}.toml"),
        &format!(
            "duration = \"{secs}s\"\n[[container]]\ncommand = [\"sh\", \"-c\", \"while :; do sleep 0.05; done\", \"{marker}\"]\n[[expect]]\nmetric = \"pids.current\"\nwindow = [\"1s\", \"{secs}s\"]\nmin = 1\n"
        ),
    )
}

/// Runs a 2 s marked scenario `dir/<name>.toml` into `dir/<name>-out`; it must pass.
pub fn run_short(dir: &Path, name: &str) -> Output {
    let marker = format!("lc-{name}-{}", std::process::id());
    let file = marked_scenario(dir, name, &marker, 2);
    let out = run(&[
        "run",
        "--report-dir",
        dir.join(format!("{name}-out")).to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// SIGKILLs every run's guardian (`limitcheck guard`): what a run leaves is then the next
/// run's sweep's to remove.
pub fn kill_guardians() -> usize {
    let guardians = processes_with("guard --root /run/limitcheck --run-id");
    for g in &guardians {
        let _ = limitcheck_cgroup::nix::sys::signal::kill(
            limitcheck_cgroup::nix::unistd::Pid::from_raw(*g as i32),
            limitcheck_cgroup::nix::sys::signal::Signal::SIGKILL,
        );
    }
    guardians.len()
}

pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// `limitcheck run [extra] --report-dir out files...` in the background, its stdout dropped
/// and its stderr piped.
pub fn spawn_run(out: &Path, files: &[&Path], extra: &[&str]) -> Child {
    Command::new(BIN)
        .arg("run")
        .args(extra)
        .arg("--report-dir")
        .arg(out)
        .args(files)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every scenario of a run with another runtime or an engine passed or was inconclusive (a
/// starved one on a busy runner; none failed), its containers' create→running times are
/// recorded, every step ran or was skipped as the scenario says, and no `set` step changed
/// what it did not name. Returns how many `via = "runtime"` steps passed.
pub fn assert_passes_with_clean_updates(s: &Value) -> usize {
    let mut updates = 0;
    for sc in s["scenarios"].as_array().unwrap() {
        let v = sc["verdict"].as_str().unwrap();
        assert!(
            v == "pass" || v == "inconclusive",
            "{}: {v}: {}",
            sc["name"],
            sc["reason"]
        );
        // One time per container; `containers` names the groups too.
        let startup = sc["startup_ms"].as_array().unwrap();
        assert_eq!(
            startup.len(),
            sc["containers"].as_array().unwrap().len()
                - sc["groups"].as_array().map_or(0, Vec::len),
            "{sc}"
        );
        assert!(startup.iter().all(|t| t.as_f64().unwrap() > 0.0), "{sc}");
        for st in sc["steps"].as_array().unwrap() {
            assert!(
                st["changed"].as_array().is_none_or(|c| c.is_empty()),
                "{}: {st}",
                sc["name"]
            );
            if st["verdict"] != "skip" {
                assert_eq!(st["verdict"], "pass", "{}: {st}", sc["name"]);
            }
            updates += usize::from(st["via"] == "runtime" && st["verdict"] == "pass");
        }
    }
    updates
}

/// The shipped scenarios that are the seed's experiments or update through the runtime.
pub fn seed_and_runtime_scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".toml") && (n.starts_with("seed-") || n.contains("via-runtime"))
        })
        .collect();
    v.sort();
    v
}

/// Scenario `name` ran in run summary `s` and passed or was inconclusive (a starved one on a
/// busy runner): not skipped, not failed.
pub fn assert_ran(s: &Value, name: &str) {
    let sc = s["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("{name} did not run"));
    assert!(
        sc["verdict"] == "pass" || sc["verdict"] == "inconclusive",
        "{name}: {}: {}",
        sc["verdict"],
        sc["reason"]
    );
}

/// Every expectation of a run under an engine that `docker stats` (or podman's) has a figure
/// for got one from `source` where the engine gave a reading inside its window, and it agrees
/// with the kernel's counters; returns how many.
pub fn assert_engine_figures_agree(s: &Value, source: &str) -> usize {
    let mut n = 0;
    for sc in s["scenarios"].as_array().unwrap() {
        if sc["verdict"] != "pass" {
            continue;
        }
        assert_eq!(sc["engine_source"], source, "{}", sc["name"]);
        for e in sc["expectations"].as_array().unwrap() {
            let shown = [
                "cpu.usage",
                "memory.usage",
                "memory.usage.max",
                "pids.current.max",
            ]
            .contains(&e["metric"].as_str().unwrap());
            let long = e["window"][1].as_f64().unwrap() - e["window"][0].as_f64().unwrap() >= 3.0;
            if !(shown && long && e["measured"].is_number()) {
                continue;
            }
            let v = &e["engine"];
            if v.is_null() {
                // No reading of the engine's fell in the window (past its first 1.5 s): a
                // `podman stats` call takes a second or two on a loaded host. Then none of
                // its samples may lie there; a figure is missing only for that reason.
                let (from, to) = (
                    e["window"][0].as_f64().unwrap() + 1.5,
                    e["window"][1].as_f64().unwrap(),
                );
                let none = Vec::new();
                let inside: Vec<f64> = sc["engine_samples"]
                    .as_array()
                    .unwrap_or(&none)
                    .iter()
                    .filter(|x| x["container"] == e["container"])
                    // The first reading of each container is not a figure (beside_engine).
                    .skip(1)
                    .map(|x| x["t"].as_f64().unwrap())
                    .filter(|t| (from..=to).contains(t))
                    .collect();
                assert!(
                    inside.is_empty(),
                    "{}: readings at {inside:?}, no figure: {e}",
                    sc["name"]
                );
                continue;
            }
            assert_eq!(v["source"], source, "{}: {e}", sc["name"]);
            assert!(v["readings"].as_u64().unwrap() >= 1, "{e}");
            assert_eq!(v["agrees"], true, "{}: {e}", sc["name"]);
            n += 1;
        }
    }
    n
}

/// A matrix directory's matrix.json, and its columns' labels in order.
pub fn matrix_of(dir: &Path) -> (Value, Vec<String>) {
    let m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("matrix.json")).unwrap()).unwrap();
    let labels = m["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap().to_string())
        .collect();
    (m, labels)
}

/// Makes the images the shipped image scenarios run (what scripts/images.sh makes), with this
/// build's `limitcheck image from-host`; false (printed) when stress-ng is not installed.
pub fn ensure_images(test: &str) -> bool {
    let have = Command::new("sh")
        .args(["-c", "command -v stress-ng"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        skip(
            test,
            "stress-ng is not installed: image-stress-ng is skipped in the run",
        );
        return false;
    }
    let out = scenarios_dir().join("../images/stress-ng");
    let made = run(&[
        "image",
        "from-host",
        out.to_str().unwrap(),
        "--entrypoint",
        "stress-ng",
        "stress-ng",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    true
}
