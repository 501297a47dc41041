//! limitcheck where kernel CI runs it: the kselftest target packed by `limitcheck pack
//! kselftest`, installed by the kernel's own tools/testing/selftests Makefile and lib.mk and
//! run by its run_kselftest.sh and kselftest/runner.sh (from Debian's linux-source: TAP 13
//! wrapping, the `settings` timeout, exit 4 as SKIP); and the overlay `limitcheck pack overlay`
//! writes for tuxrun and LAVA, its test definition read as YAML, its run script run with a
//! stand-in for LAVA's `lava-test-case` (LAVA itself cannot be hosted here).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

mod common;
use common::*;

/// A ceiling under a 0.5-CPU quota: passes however busy the host is (a ceiling is judged on
/// the measurement alone, and contention cannot raise usage).
const CEILING: &str = "description = \"A hog under half a CPU stays under 0.6.\"\nduration = \"3s\"\n\n[[container]]\nname = \"hog\"\nworkload = { kind = \"cpu\" }\ncpus = 0.5\n\n[[expect]]\nmetric = \"cpu.usage\"\nwindow = [\"1s\", \"3s\"]\nmax = 0.6\n";

fn other_version_only(dir: &Path) -> PathBuf {
    let other = match limitcheck_cgroup::Layout::detect().unwrap().version() {
        limitcheck_cgroup::Version::V2 => "v1",
        _ => "v2",
    };
    scenario_file(
        dir,
        "other-version.toml",
        &format!("description = \"Only on {other}.\"\nduration = \"2s\"\nonly = \"{other}\"\n[[container]]\nname = \"hog\"\nworkload = {{ kind = \"cpu\" }}\n"),
    )
}

fn ok(o: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    text
}

/// The KTAP inside runner.sh's TAP 13: its `# `-prefixed lines from our version line to our
/// totals line.
fn inner_ktap(tap: &str) -> String {
    let lines: Vec<&str> = tap
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .skip_while(|l| *l != "KTAP version 1")
        .collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("# Totals:"))
        .map_or(lines.len(), |p| p + 1);
    lines[..end].iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn the_kselftest_target_runs_under_the_kernels_runner() {
    let test = "the_kselftest_target_runs_under_the_kernels_runner";
    if !root(test) {
        return;
    }
    let Some(linux) = limitcheck_testkit::kernel_tools(test) else {
        return;
    };
    let _serial = serial();
    let t = tempfile::tempdir().unwrap();
    // The kernel's tree as far as kselftest needs it, with our target dropped in.
    let tree = t.path().join("linux");
    ok(&Command::new("cp")
        .arg("-a")
        .arg(&linux)
        .arg(&tree)
        .output()
        .unwrap());
    let selftests = tree.join("tools/testing/selftests");
    let pass = scenario_file(t.path(), "ceiling.toml", CEILING);
    let skip = other_version_only(t.path());
    let fail = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/must-fail/b-cpu-ceiling-below-quota.toml");
    let target = selftests.join("limitcheck");
    let said = ok(&run_cmd(&[
        "pack",
        "kselftest",
        target.to_str().unwrap(),
        pass.to_str().unwrap(),
        skip.to_str().unwrap(),
    ]));
    assert!(
        said.contains("tools/testing/selftests/limitcheck"),
        "{said}"
    );
    // The kernel's Makefile installs it as any target (lib.mk: TEST_PROGS, TEST_FILES, settings).
    let inst = t.path().join("kselftest");
    ok(&Command::new("make")
        .arg("-C")
        .arg(&selftests)
        .args(["TARGETS=limitcheck", "install"])
        .arg(format!("INSTALL_PATH={}", inst.display()))
        .output()
        .unwrap());
    for f in [
        "run_kselftest.sh",
        "kselftest-list.txt",
        "limitcheck/limitcheck.sh",
        "limitcheck/limitcheck",
        "limitcheck/settings",
        "limitcheck/scenarios/ceiling.toml",
    ] {
        assert!(inst.join(f).exists(), "{f} not installed");
    }
    assert_eq!(
        std::fs::read_to_string(inst.join("kselftest-list.txt"))
            .unwrap()
            .trim(),
        "limitcheck:limitcheck.sh"
    );
    let kselftest = |scenarios: &[&Path], reports: &str| {
        let list: Vec<String> = scenarios.iter().map(|p| p.display().to_string()).collect();
        Command::new(inst.join("run_kselftest.sh"))
            .current_dir(&inst)
            .env("LIMITCHECK_SCENARIOS", list.join(" "))
            .env("LIMITCHECK_REPORT_DIR", t.path().join(reports))
            .output()
            .unwrap()
    };

    // Installed as it came: the packed scenarios, one passing and one skipping; KTAP inside
    // runner.sh's TAP 13, strict all through.
    let o = Command::new(inst.join("run_kselftest.sh"))
        .current_dir(&inst)
        .env("LIMITCHECK_REPORT_DIR", t.path().join("r1"))
        .output()
        .unwrap();
    let tap = String::from_utf8_lossy(&o.stdout);
    assert!(
        tap.starts_with("TAP version 13\n1..1\n# selftests: limitcheck: limitcheck.sh\n"),
        "{tap}"
    );
    assert!(
        tap.contains("\nok 1 selftests: limitcheck: limitcheck.sh\n"),
        "{tap}"
    );
    let k = inner_ktap(&tap);
    let doc = limitcheck_testkit::ktap::must_parse(&k);
    let names: Vec<&str> = doc.tests.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["ceiling", "other-version"], "{tap}");
    assert!(doc.tests[0].ok && doc.tests[0].directive.is_none(), "{tap}");
    assert_eq!(doc.tests[1].directive.as_deref(), Some("SKIP"), "{tap}");

    // Nothing passed, everything skipped: exit 4, which runner.sh reports as SKIP.
    let o = kselftest(&[&skip], "r2");
    let tap = String::from_utf8_lossy(&o.stdout);
    assert!(
        tap.contains("\nok 1 selftests: limitcheck: limitcheck.sh # SKIP\n"),
        "{tap}"
    );

    // A limit not enforced as the scenario says: exit 1, not ok.
    let o = kselftest(&[&fail], "r3");
    let tap = String::from_utf8_lossy(&o.stdout);
    assert!(
        tap.contains("\nnot ok 1 selftests: limitcheck: limitcheck.sh # exit=1\n"),
        "{tap}"
    );
    let doc = limitcheck_testkit::ktap::must_parse(&inner_ktap(&tap));
    assert!(doc.tests[0].failed(), "{tap}");

    // The settings' timeout: runner.sh stops the run (SIGTERM), reports TIMEOUT, and the run
    // leaves nothing behind.
    std::fs::write(inst.join("limitcheck/settings"), "timeout=3\n").unwrap();
    let long = scenario_file(t.path(), "long.toml", &CEILING.replace("\"3s\"", "\"30s\""));
    let t0 = std::time::Instant::now();
    let o = kselftest(&[&long], "r4");
    let tap = String::from_utf8_lossy(&o.stdout);
    assert!(
        tap.contains("\nnot ok 1 selftests: limitcheck: limitcheck.sh # TIMEOUT 3 seconds\n"),
        "{tap}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert!(
        tap.contains("# KTAP version 1\n# 1..1\n"),
        "what came before the timeout is kept: {tap}"
    );
    let clean = limitcheck_testkit::eventually(Duration::from_secs(15), || leftovers().is_empty());
    assert!(clean, "left behind after the timeout: {:?}", leftovers());
}

fn run_cmd(args: &[&str]) -> Output {
    run(args)
}

/// The overlay: its layout (what tuxrun extracts at /), the binary runs from it, its LAVA
/// test definition is the YAML LAVA reads, and its run script runs the scenarios and reports
/// each result through lava-test-case (a stand-in that records its arguments), with
/// measurements and units, and names LAVA accepts.
#[test]
fn the_overlay_holds_what_tuxrun_and_lava_run() {
    let test = "the_overlay_holds_what_tuxrun_and_lava_run";
    if !root(test) {
        return;
    }
    let _serial = serial();
    let t = tempfile::tempdir().unwrap();
    let pass = scenario_file(t.path(), "ceiling.toml", CEILING);
    let skip = other_version_only(t.path());
    let file = t.path().join("limitcheck-overlay.tar.gz");
    ok(&run(&[
        "pack",
        "overlay",
        file.to_str().unwrap(),
        pass.to_str().unwrap(),
        skip.to_str().unwrap(),
    ]));
    let list = ok(&Command::new("tar")
        .arg("-tvzf")
        .arg(&file)
        .output()
        .unwrap());
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    for want in [
        "opt/limitcheck/bin/limitcheck",
        "opt/limitcheck/run.sh",
        "opt/limitcheck/lava/limitcheck.yaml",
        "opt/limitcheck/scenarios/ceiling.toml",
        "opt/limitcheck/scenarios/other-version.toml",
    ] {
        assert!(names.contains(&want), "{want} missing: {list}");
    }
    assert!(
        names.iter().all(|n| n.starts_with("opt/")),
        "only /opt/limitcheck: {list}"
    );
    assert!(
        list.lines().all(|l| l.contains(" 0/0 ")),
        "owned by root: {list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("bin/limitcheck")),
        "{list}"
    );
    let root = t.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    ok(&Command::new("tar")
        .arg("-xzf")
        .arg(&file)
        .arg("-C")
        .arg(&root)
        .output()
        .unwrap());
    let version = ok(&Command::new(root.join("opt/limitcheck/bin/limitcheck"))
        .arg("--version")
        .output()
        .unwrap());
    assert!(version.starts_with("limitcheck "), "{version}");

    // The definition as LAVA reads it (YAML), and what its run step calls is in the overlay.
    let def = root.join("opt/limitcheck/lava/limitcheck.yaml");
    let json = ok(&Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&def)
        .output()
        .unwrap());
    let d: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(d["metadata"]["format"], "Lava-Test Test Definition 1.0");
    assert_eq!(d["metadata"]["name"], "limitcheck");
    let step = d["run"]["steps"][0].as_str().unwrap();
    assert!(step.starts_with("/opt/limitcheck/run.sh "), "{step}");
    for p in d["params"].as_object().unwrap().keys() {
        assert!(
            step.contains(&format!("${p}")),
            "param {p} unused by {step}"
        );
    }

    // The run step as LAVA runs it, with the params' defaults, lava-test-case on PATH.
    let bin = t.path().join("lava-bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = t.path().join("lava-test-case.calls");
    let stand_in = bin.join("lava-test-case");
    std::fs::write(
        &stand_in,
        format!("#!/bin/sh\n# Stand-in for LAVA's lava-test-case: records its arguments, one call a line.\nprintf '%s\\n' \"$*\" >> {}\n", calls.display()),
    )
    .unwrap();
    ok(&Command::new("chmod")
        .arg("+x")
        .arg(&stand_in)
        .output()
        .unwrap());
    let reports = t.path().join("lava-reports");
    let o = Command::new(root.join("opt/limitcheck/run.sh"))
        .arg(&reports)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .unwrap();
    let said = ok(&o);
    assert!(said.contains("limitcheck: exit status 0"), "{said}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(
        lines,
        [
            "ceiling-cpu_usage_1s_3s --result pass --measurement MEASURED --units CPUs",
            "ceiling --result pass",
            "other_version --result skip",
        ]
        .iter()
        .zip(&lines)
        .map(|(want, got)| {
            // The measured value is whatever the kernel gave: a plain number under the quota.
            match got.split_once(" --measurement ") {
                Some((_, rest)) => {
                    let v: f64 = rest.split(' ').next().unwrap().parse().unwrap();
                    assert!((0.0..0.6).contains(&v), "{got}");
                    want.replace("MEASURED", rest.split(' ').next().unwrap())
                }
                None => want.to_string(),
            }
        })
        .collect::<Vec<_>>(),
        "{calls}"
    );
    for l in &lines {
        let name = l.split(' ').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{name}"
        );
    }
    assert_clean();
}
