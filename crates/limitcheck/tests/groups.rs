//! Groups (`[[group]]`, issue 16): containers placed in cgroups of limitcheck's own with limits
//! of their own, groups in groups; steps and expectations on a group as on a container; the
//! tree removed whole whatever ends the run.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// Two hogs, one in `pod` and one in `pod`'s child `inner`, each unlimited, under the pod's
/// half CPU: the pod's quota holds both (without it they would take two CPUs); pausing the
/// pod freezes both without the run calling it a freeze from outside; a kill of the pod ends
/// both as expected.
const POD: &str = r#"
duration = "7s"

[[group]]
name = "pod"
cpus = 0.5

[[group]]
name = "inner"
parent = "pod"

[[container]]
name = "a"
group = "pod"
workload = { kind = "cpu", workers = 1 }

[[container]]
name = "b"
group = "inner"
workload = { kind = "cpu", workers = 1 }

[[step]]
at = "2.5s"
group = "pod"
action = "pause"

[[step]]
at = "3.5s"
group = "pod"
action = "resume"

[[step]]
at = "6.5s"
group = "pod"
action = "kill"

[[expect]]
metric = "cpu.usage"
group = "pod"
window = ["0.5s", "2.5s"]
approx = 0.5
tolerance = "5%"

[[expect]]
metric = "cpu.usage"
group = "pod"
window = ["2.6s", "3.4s"]
max = 0.01

[[expect]]
metric = "cpu.usage"
container = "b"
window = ["0.5s", "2.5s"]
max = 0.5

[[expect]]
metric = "cpu.usage"
group = "inner"
window = ["0.5s", "2.5s"]
max = 0.5

[[expect]]
metric = "cpu.usage"
group = "pod"
window = ["4s", "6.4s"]
approx = 0.5
tolerance = "5%"
"#;

fn check_pod_run(test: &str, dir: &Path, extra: &[&str]) {
    let file = scenario_file(dir, "pod.toml", POD);
    let out_dir = dir.join(format!("out{}", extra.join("-")));
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend([
        "--report-dir",
        out_dir.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let s = summary(&out_dir);
    let sc = &s["scenarios"][0];
    // On a busy runner the half CPU may be starved (inconclusive, exit 6); nothing fails.
    assert!(
        matches!(out.status.code(), Some(0 | 6)),
        "{test}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sc["containers"],
        serde_json::json!(["a", "b", "pod", "inner"])
    );
    assert_eq!(sc["groups"], serde_json::json!(["pod", "inner"]));
    let ex = sc["expectations"].as_array().unwrap();
    assert_eq!(ex.len(), 5, "{sc}");
    for e in ex {
        assert!(
            matches!(e["verdict"].as_str(), Some("pass" | "inconclusive")),
            "{e}"
        );
    }
    // The ceilings hold on any host: the freeze, and a child within its parent's quota.
    assert_eq!(ex[1]["verdict"], "pass", "{}", ex[1]);
    assert_eq!(ex[2]["verdict"], "pass", "{}", ex[2]);
    // A group's usage is its containers': inner holds only b.
    let (b, inner) = (
        ex[2]["measured"].as_f64().unwrap(),
        ex[3]["measured"].as_f64().unwrap(),
    );
    assert!((b - inner).abs() < 0.02, "b {b}, inner {inner}");
    let steps = sc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    for st in steps {
        assert_eq!(st["verdict"], "pass", "{st}");
        assert_eq!(st["container"], "pod", "{st}");
    }
    // The kill ended both containers, as a step's kill is expected to: no error.
    assert!(sc["died"].is_null(), "{}", sc["died"]);
    assert_clean();
}

#[test]
fn a_groups_quota_holds_its_containers_and_its_steps_reach_them_all() {
    let test = "a_groups_quota_holds_its_containers_and_its_steps_reach_them_all";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    check_pod_run(test, dir.path(), &[]);
}

/// The same tree with runc making the containers: it places them in the groups' cgroups
/// (their config.json's cgroupsPath), and the tree goes with them.
#[test]
fn runc_places_its_containers_in_the_groups() {
    let test = "runc_places_its_containers_in_the_groups";
    if !root(test) {
        return;
    }
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(test, "runc is not installed (apt-get install runc)");
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    check_pod_run(test, dir.path(), &["--runtime", "runc"]);
}

fn group_trees() -> Vec<String> {
    limitcheck_cgroup::tree::names_under_parent("lcg-")
        .into_iter()
        .collect()
}

/// A run SIGKILLed with its containers in a tree: its guardian removes the containers and
/// then the tree; with the guardian killed too, the next run's sweep does.
#[test]
fn a_killed_run_leaves_no_group_cgroup() {
    let test = "a_killed_run_leaves_no_group_cgroup";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("lc-group-{}", std::process::id());
    let file = scenario_file(
        dir.path(),
        "tree.toml",
        &format!(
            "duration = \"60s\"\n[[group]]\nname = \"trunk\"\ncpus = 0.5\n[[group]]\nname = \
             \"leaf\"\nparent = \"trunk\"\n[[group]]\nname = \"empty\"\nparent = \"trunk\"\n\
             [[container]]\ngroup = \"leaf\"\ncommand = [\"sh\", \"-c\", \"while :; do sleep \
             0.05; done\", \"{marker}\"]\n[[expect]]\nmetric = \"pids.current\"\nwindow = \
             [\"1s\", \"60s\"]\nmin = 1\n"
        ),
    );
    let out = dir.path().join("out");
    let started = |what| {
        wait_for(what, Duration::from_secs(20), || {
            !processes_with(&marker).is_empty()
        })
    };
    let mut child = spawn_run(&out, &[&file], &[]);
    started("the container runs");
    assert_eq!(group_trees().len(), 1, "{:?}", group_trees());
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for("nothing left", Duration::from_secs(5), || {
        leftovers().is_empty()
    });
    // The guardian killed first: the tree stays (with its empty group) until the next run.
    let mut child = spawn_run(&out, &[&file], &[]);
    started("the container runs again");
    for g in processes_with("guard --root /run/limitcheck --run-id") {
        let _ = limitcheck_cgroup::nix::sys::signal::kill(
            limitcheck_cgroup::nix::unistd::Pid::from_raw(g as i32),
            limitcheck_cgroup::nix::sys::signal::Signal::SIGKILL,
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(group_trees().len(), 1, "left for the sweep");
    let out = run_short(dir.path(), "after");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("group cgroups lcg-"), "{said}");
    assert!(processes_with(&marker).is_empty());
    assert_clean();
}
