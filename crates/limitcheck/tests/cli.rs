//! The `limitcheck` binary as a user runs it.

use std::process::Command;

use limitcheck_cgroup::Layout;

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
