//! `limitcheck run --runtime NAME|PATH`: the scenarios run with another OCI runtime through
//! its command line (issue 14). runc is Debian's; the two planted runtimes are test doubles,
//! named so: one wraps runc and clobbers the CFS period on every update (runc#4225's shape),
//! one cannot run a container at all.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn runc(test: &str) -> bool {
    if !root(test) {
        return false;
    }
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(test, "runc is not installed (apt-get install runc)");
        return false;
    }
    true
}

fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// The containers' runc state root under the default state root.
fn runc_containers() -> Vec<String> {
    std::fs::read_dir("/run/limitcheck/oci/runc")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn scenarios_of(v: &serde_json::Value) -> &Vec<serde_json::Value> {
    v["scenarios"].as_array().unwrap()
}

/// The seed's experiments and the scenarios that update through the runtime pass with runc:
/// each `via = "runtime"` step is `runc update` with runc's flags, and its clobber check found
/// nothing. io-throttle's limits reach runc as the config's `blockIO` throttles, which it
/// applies (before 2026-12-03 they were left out, and the scenario skipped saying so). (On a
/// busy runner a starved scenario may be inconclusive; none fails.)
#[test]
fn runc_runs_the_seed_scenarios_and_its_updates_clobber_nothing() {
    let test = "runc_runs_the_seed_scenarios_and_its_updates_clobber_nothing";
    if !runc(test) {
        return;
    }
    let _g = serial();
    let t = tempfile::tempdir().unwrap();
    let mut files = seed_and_runtime_scenarios();
    assert!(files.len() >= 7, "{files:?}");
    files.push(scenarios_dir().join("io-throttle.toml"));
    let out = t.path().join("out");
    let mut args = vec![
        "run".to_string(),
        "--runtime".into(),
        "runc".into(),
        "--report-dir".into(),
        out.display().to_string(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(matches!(o.status.code(), Some(0 | 6)), "{stdout}");
    let s = summary(&out);
    assert!(
        s["host"]["runtime"]
            .as_str()
            .is_some_and(|r| r.starts_with("runc version")),
        "{}",
        s["host"]
    );
    let updates = assert_passes_with_clean_updates(&s);
    assert!(updates >= 1, "no runc update step ran: {stdout}");
    assert_ran(&s, "io-throttle");
    assert!(runc_containers().is_empty(), "{:?}", runc_containers());
    assert_clean();
}

/// A planted runtime whose `update` also resets the CFS period to 100000 µs (the shape of
/// runc#4225): a memory update through it fails its step, naming the quota/period before and
/// after. The same scenario through runc itself passes the step.
#[test]
fn a_runtime_whose_update_resets_the_period_fails_the_step_naming_it() {
    let test = "a_runtime_whose_update_resets_the_period_fails_the_step_naming_it";
    if !runc(test) {
        return;
    }
    let _g = serial();
    let t = tempfile::tempdir().unwrap();
    let planted = script(
        t.path(),
        "planted-clobbering-runc",
        r#"#!/bin/sh
# A test double: runc, except that its update also resets the CFS period to 100000 us.
runc "$@" || exit $?
for a in "$@"; do last=$a; done
case " $* " in
  *" update "*)
    v1=/sys/fs/cgroup/cpu/limitcheck/$last
    v2=/sys/fs/cgroup/limitcheck/$last
    if [ -d "$v1" ]; then echo 100000 > "$v1/cpu.cfs_period_us"
    else read q p < "$v2/cpu.max"; echo "$q 100000" > "$v2/cpu.max"; fi ;;
esac
"#,
    );
    let file = scenario_file(
        t.path(),
        "update-memory.toml",
        "duration = \"3s\"\n[[container]]\nname = \"box\"\ncommand = [\"sleep\", \"60\"]\n\
         cpus = 1.0\ncpu_period = 50000\nmemory = \"512M\"\n\
         [[step]]\nat = \"1s\"\nset = { memory = \"256M\" }\nvia = \"runtime\"\n",
    );
    let step_of = |runtime: &str, out: &Path| {
        let o = run(&[
            "run",
            "--runtime",
            runtime,
            "--report-dir",
            out.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        let s = summary(out);
        let sc = &scenarios_of(&s)[0];
        (
            o.status.code(),
            sc["steps"][0].clone(),
            sc["verdict"].clone(),
        )
    };
    let (code, step, verdict) = step_of("runc", &t.path().join("runc"));
    assert_eq!(code, Some(0), "{step}");
    assert_eq!(
        (step["verdict"].as_str(), verdict.as_str()),
        (Some("pass"), Some("pass"))
    );

    let (code, step, verdict) = step_of(planted.to_str().unwrap(), &t.path().join("planted"));
    assert_eq!(code, Some(1), "{step}");
    assert_eq!(
        (step["verdict"].as_str(), verdict.as_str()),
        (Some("fail"), Some("fail"))
    );
    let outcome = step["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("changed what it did not name")
            && outcome.contains(
                "cpu quota 50000/50000 µs (1.00 CPUs) -> cpu quota 50000/100000 µs (0.50 CPUs)"
            ),
        "{outcome}"
    );
    assert!(runc_containers().is_empty(), "{:?}", runc_containers());
    assert_clean();
}

/// A runtime that cannot run a container here (as crun 1.8 on a hybrid host) makes every
/// scenario a skip that quotes it, never a failure; nothing is left.
#[test]
fn a_runtime_that_cannot_run_here_skips_every_scenario_in_its_words() {
    let test = "a_runtime_that_cannot_run_here_skips_every_scenario_in_its_words";
    if !root(test) {
        return;
    }
    let _g = serial();
    let t = tempfile::tempdir().unwrap();
    let planted = script(
        t.path(),
        "planted-unusable-runtime",
        "#!/bin/sh\n# A test double: a runtime that cannot create a container on this host, and\n\
         # leaves its state behind when it fails, and cannot delete it (as youki 0.7 without v1).\n\
         root=; prev=; for a; do [ \"$prev\" = --root ] && root=$a; prev=$a; done\n\
         case \" $* \" in\n\
         *\" create \"*) mkdir -p \"$root/$a\"; echo '{}' > \"$root/$a/state.json\";\n\
           echo 'planted: containers cannot run here' >&2; exit 1;;\n\
         *\" delete \"*) echo 'planted: cannot delete' >&2; exit 1;;\n\
         esac\nexit 0\n",
    );
    // What a runtime left of a dead run's failed create goes once the next run starts.
    let orphan = Path::new("/run/limitcheck/oci/planted-gone/lcr-19700101T000000-1-probe");
    std::fs::create_dir_all(orphan).unwrap();
    std::fs::write(orphan.join("state.json"), "{}").unwrap();
    let out = t.path().join("out");
    let a = marked_scenario(t.path(), "a", "lc-unusable-a", 2);
    let b = marked_scenario(t.path(), "b", "lc-unusable-b", 2);
    let o = run(&[
        "run",
        "--runtime",
        planted.to_str().unwrap(),
        "--report-dir",
        out.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let s = summary(&out);
    assert_eq!(o.status.code(), Some(0), "{s}");
    for sc in scenarios_of(&s) {
        assert_eq!(sc["verdict"], "skip", "{sc}");
        let reason = sc["reason"].as_str().unwrap();
        assert!(
            reason.contains("cannot run a container on this host")
                && reason.contains("planted: containers cannot run here"),
            "{reason}"
        );
    }
    assert!(!Path::new("/run/limitcheck/oci").exists());
    assert_clean();
}

/// A run SIGKILLed while runc's container runs: its guardian has runc delete it, and nothing
/// is left — no process, no runc state, no cgroup, no bundle.
#[test]
fn a_killed_run_with_runc_leaves_nothing() {
    let test = "a_killed_run_with_runc_leaves_nothing";
    if !runc(test) {
        return;
    }
    let _g = serial();
    let t = tempfile::tempdir().unwrap();
    let marker = format!("lc-runc-killed-{}", std::process::id());
    let file = marked_scenario(t.path(), "killed", &marker, 30);
    let mut child = spawn_run(&t.path().join("out"), &[&file], &["--runtime", "runc"]);
    wait_for("the container's process", Duration::from_secs(20), || {
        !processes_with(&marker).is_empty()
    });
    assert!(!runc_containers().is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for("the container's end", Duration::from_secs(10), || {
        processes_with(&marker).is_empty()
    });
    wait_for(
        "runc's state and the cgroups",
        Duration::from_secs(10),
        || runc_containers().is_empty() && leftovers().is_empty(),
    );
    // The next run's sweep finds nothing more.
    run_short(t.path(), "after");
    assert_clean();
}

/// A scenario about one runtime (`runtime = "runc"` in its file) runs on it when the command
/// line names none, beside scenarios on lcrun, and says so; in a run whose lanes are named, it
/// runs only in its own and is a skip naming it elsewhere; one about a runtime this host lacks
/// is a skip with the way to install it.
#[test]
fn a_scenario_about_runc_runs_on_runc() {
    let test = "a_scenario_about_runc_runs_on_runc";
    if !runc(test) {
        return;
    }
    let _g = serial();
    let t = tempfile::tempdir().unwrap();
    let body = "duration = \"4s\"\n[[container]]\nname = \"hog\"\nworkload = { kind = \"cpu\", workers = 1 }\ncpus = 1\n[[step]]\nat = \"2s\"\nvia = \"runtime\"\nset = { cpus = 0.5 }\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"2.5s\", \"4s\"]\napprox = 0.5\ntolerance = \"10%\"\n";
    let pinned = scenario_file(
        t.path(),
        "about-runc.toml",
        &format!("runtime = \"runc\"\n{body}"),
    );
    let plain = scenario_file(t.path(), "plain.toml", body);
    let missing = scenario_file(
        t.path(),
        "about-nothing.toml",
        &format!("runtime = \"no-such-runtime\"\n{body}"),
    );
    let out = t.path().join("out");
    let o = run(&[
        "run",
        "--report-dir",
        out.to_str().unwrap(),
        pinned.to_str().unwrap(),
        plain.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(matches!(o.status.code(), Some(0 | 6)), "{stdout}");
    let s = summary(&out);
    let sc = |name: &str| {
        s["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()
            .clone()
    };
    let about = sc("about-runc");
    assert!(
        ["pass", "inconclusive"].contains(&about["verdict"].as_str().unwrap()),
        "{about}"
    );
    assert!(
        about["runtime"]
            .as_str()
            .unwrap()
            .starts_with("runc version"),
        "{about}"
    );
    assert_eq!(about["steps"][0]["verdict"], "pass", "{about}");
    assert!(sc("plain")["runtime"].is_null());
    assert_eq!(s["host"]["runtime"], "lcrun (library)");
    let nothing = sc("about-nothing");
    assert_eq!(nothing["verdict"], "skip");
    assert!(
        nothing["reason"]
            .as_str()
            .unwrap()
            .contains("runtime = \"no-such-runtime\": no-such-runtime: not found on PATH"),
        "{nothing}"
    );

    // In a run whose lane is named (lcrun's CLI), the scenario about runc is a skip there.
    let out2 = t.path().join("out2");
    let o = run(&[
        "run",
        "--runtime",
        "lcrun",
        "--report-dir",
        out2.to_str().unwrap(),
        pinned.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let s2 = summary(&out2);
    assert_eq!(s2["scenarios"][0]["verdict"], "skip");
    assert!(
        s2["scenarios"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("the scenario is about runc (runtime = \"runc\"); this run's lane is lcrun"),
        "{}",
        s2["scenarios"][0]
    );
    assert!(runc_containers().is_empty(), "{:?}", runc_containers());
    assert_clean();
}
