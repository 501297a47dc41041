//! The `limitcheck` binary as a user runs it.

use std::path::Path;
use std::process::Command;

use limitcheck_cgroup::Layout;

mod common;

fn limitcheck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_limitcheck"))
        .args(args)
        .output()
        .expect("run limitcheck")
}

#[test]
fn doctor_reports_the_detected_mode_and_limitations() {
    let child = Command::new(env!("CARGO_BIN_EXE_limitcheck"))
        .arg("doctor")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run limitcheck");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let Ok(layout) = Layout::detect() else {
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("cgroup mode   none"), "{text}");
        return;
    };
    assert!(
        text.contains(&format!("cgroup mode   {}", layout.mode)),
        "{text}"
    );
    for c in layout.available() {
        let h = layout.hierarchy_of(c).unwrap();
        assert!(
            text.contains(&h.mount_point.display().to_string()),
            "{c} missing: {text}"
        );
    }
    assert!(text.contains("kernel "), "{text}");
    let root = limitcheck_cgroup::nix::unistd::geteuid().is_root();
    assert_eq!(out.status.code(), Some(if root { 0 } else { 1 }), "{text}");
    if !root {
        assert!(text.contains("root"), "{text}");
    }
    // The probe cgroup is gone.
    for h in &layout.hierarchies {
        let probe = h.mount_point.join(format!("limitcheck/doctor-{pid}"));
        assert!(!probe.exists(), "{} left behind", probe.display());
    }
}

#[test]
fn doctor_json_is_machine_readable() {
    let out = limitcheck(&["doctor", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v["kernel_release"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["controllers"].as_array().is_some_and(|a| a.len() >= 8));
    assert!(v["limitations"].is_array());
    assert_eq!(v["usable"].as_bool(), Some(out.status.code() == Some(0)));
}

#[test]
fn unknown_verb_is_a_usage_error_with_exit_2() {
    let out = limitcheck(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("frobnicate"));
}

#[test]
fn help_explains_exit_status() {
    let out = limitcheck(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Exit status"), "{text}");
    assert!(text.contains("doctor"), "{text}");
}

/// A runtime or engine the run cannot use is a clear error before anything runs, naming the
/// flag and the fix (exit 2), on any host.
#[test]
fn a_bad_runtime_or_engine_is_named_with_its_fix() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/pids-max.toml");
    for (args, says) in [
        (
            &["--engine", "docker:runc"][..],
            "--engine docker:runc: docker's OCI runtime is its daemon's",
        ),
        (
            &["--engine", "lxc"][..],
            "--engine lxc: give docker, podman or podman:RUNTIME",
        ),
        (
            &["--runtime", "no-such-runtime"][..],
            "--runtime no-such-runtime: not found on PATH",
        ),
        (
            &["--runtime", "/no/such/runc"][..],
            "--runtime /no/such/runc: no such file",
        ),
        (
            &["--runtime", "/bin/true", "--runtime", "/usr/bin/true"][..],
            "--runtime/--engine true is given twice",
        ),
    ] {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.push(scenario);
        let out = limitcheck(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Bad flags of the kernel CI outputs are named with the fix, before anything runs.
#[test]
fn bad_kernel_ci_flags_are_named_with_their_fix() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../report/tests/fixtures/pass");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/pids-max.toml");
    for (args, says) in [
        (
            &["report", "--kcidb", "--origin", "My CI", fixture][..],
            "--origin \"My CI\": KCIDB takes lowercase letters, digits and _",
        ),
        (
            &["report", "--kcidb", "--build-id", "nocolon", fixture][..],
            "--build-id \"nocolon\": KCIDB ids are ORIGIN:ID",
        ),
        (
            &["vm", "--bisect", "--kernel", "a", "--kernel", "b", scenario][..],
            "--bisect judges one kernel",
        ),
        (
            &["pack", "kselftest", "/tmp/x", "/no/such.toml"][..],
            "no such file or directory",
        ),
    ] {
        let out = limitcheck(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Under --bisect every status is one git bisect reads as meant: a wrong command aborts the
    // bisection (255); a kernel that is not there (its build failed) skips the commit (125).
    let out = limitcheck(&["vm", "--bisect", "--kernel", "a", "--kernel", "b", scenario]);
    assert_eq!(out.status.code(), Some(255));
    let out = limitcheck(&["vm", "--bisect", "--kernel", "/no/such/bzImage", scenario]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("this commit cannot be judged"), "{err}");
}

/// `limitcheck matrix` merges runs made apart into one matrix, the first the baseline: equal
/// runs give no regression (exit 0); a run whose limit failed is a regression (exit 1); two
/// runs that would read the same are told apart.
#[test]
fn runs_made_apart_merge_into_one_matrix() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../report/tests/fixtures");
    let t = tempfile::tempdir().unwrap();
    let copy = t.path().join("pass-again");
    std::fs::create_dir(&copy).unwrap();
    for f in ["summary.json", "samples.csv"] {
        std::fs::copy(fixtures.join("pass").join(f), copy.join(f)).unwrap();
    }
    let out_dir = t.path().join("m1");
    let o = limitcheck(&[
        "matrix",
        "--out",
        out_dir.to_str().unwrap(),
        fixtures.join("pass").to_str().unwrap(),
        copy.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{said}");
    let (_, labels) = common::matrix_of(&out_dir);
    assert_eq!(labels.len(), 2);
    assert_ne!(labels[0], labels[1], "{labels:?}");
    assert!(out_dir.join("matrix.html").is_file() && out_dir.join("matrix.md").is_file());

    let out_dir = t.path().join("m2");
    let o = limitcheck(&[
        "matrix",
        "--out",
        out_dir.to_str().unwrap(),
        fixtures.join("pass").to_str().unwrap(),
        fixtures.join("fail").to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("regression(s) against"), "{said}");
    let md = std::fs::read_to_string(out_dir.join("matrix.md")).unwrap();
    assert!(md.contains("0.000 FAIL"), "{md}");
}
