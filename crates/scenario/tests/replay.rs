//! Judging replayed: recorded runs (tests/fixtures/<name>: the scenario, and the run's
//! summary.json, samples.csv and host.csv, recorded on the development host, 2 CPUs, kernel
//! 6.18, cgroup v1 hybrid) are judged again by `verdict::judge` without root or a kernel, and
//! every verdict and measurement must come out as recorded.
//!
//! - `idle-pass`: seed-2-4-cpu-quota on an idle host: every expectation passes.
//! - `busy-inconclusive`: the same with one unrelated busy loop: the 1.5-CPU window measures
//!   about 1.0 with about 1 CPU of foreign load and no idle CPU — inconclusive.
//! - `busy-must-fail`: tests/must-fail of the limitcheck crate with two busy loops: each fails
//!   (the quota held the hog; ceilings are judged on the measurement alone).
//! - `dead-workload`: a command that exits 2 at once: an error naming the status and the log
//!   line, nothing judged.
//! - `v2-lane-pass`: seed-2-4-cpu-quota and shares-2-to-1 in `limitcheck vm --cgroup v2`
//!   (Debian's kernel under TCG): everything passes, the v2 expectations judged, the v1 ones
//!   skipped.
//!
//! Rerecord with `scripts/record-fixtures.sh` after a deliberate change to what is sampled.

use std::path::{Path, PathBuf};

use limitcheck_scenario::model;
use limitcheck_scenario::verdict::{self, Recording, Verdict};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Judges every scenario of a recorded run again; returns (scenario, verdict, expectation
/// verdicts) and checks each expectation against the record.
fn replay(name: &str) -> Vec<(String, Verdict, Vec<Verdict>)> {
    let dir = fixture(name);
    let run = limitcheck_record::load_run(&dir).unwrap();
    let platform = verdict::Platform::of(&run.host);
    let mut out = Vec::new();
    for sc in &run.scenarios {
        let n = &sc.name;
        let s = model::load(&dir.join(sc.file.file_name().unwrap())).unwrap();
        assert_eq!(&s.name, n);
        if sc.died.is_none() {
            assert!(
                sc.sample_rows.len() > 20 && sc.host_rows.len() > 20,
                "{name}/{n}"
            );
        }
        let j = verdict::judge(
            &s,
            platform,
            &Recording {
                samples: &sc.sample_rows,
                host: &sc.host_rows,
                limits: &sc.limits,
                steps: &sc.steps,
                died: sc.died.as_ref(),
                stalls: &sc.stalls,
                unstarted: &sc.unstarted,
            },
        );
        assert_eq!(j.expectations.len(), sc.expectations.len(), "{name}/{n}");
        for (e, r) in j.expectations.iter().zip(&sc.expectations) {
            assert_eq!(
                e.verdict, r.verdict,
                "{name}/{n}: {} — {}",
                e.metric, e.reason
            );
            assert_eq!(e.reason, r.reason, "{name}/{n}");
            match (e.measured, r.measured) {
                // samples.csv keeps time stamps to the microsecond (0.1 ms in older records).
                (Some(a), Some(b)) => assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{name}/{n}: {} measured {a}, recorded {b}",
                    e.metric
                ),
                (None, None) => {}
                other => panic!("{name}/{n}: measured {other:?}"),
            }
        }
        assert_eq!(j.verdict, sc.verdict, "{name}/{n}");
        assert_eq!(j.reason, sc.reason, "{name}/{n}");
        out.push((
            n.clone(),
            j.verdict,
            j.expectations.iter().map(|e| e.verdict).collect(),
        ));
    }
    out
}

#[test]
fn an_idle_run_passes_again() {
    let r = replay("idle-pass");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1, Verdict::Pass);
    assert!(r[0].2.iter().all(|v| *v == Verdict::Pass));
}

#[test]
fn a_busy_run_is_inconclusive_again_with_its_figures() {
    let r = replay("busy-inconclusive");
    assert_eq!(r[0].1, Verdict::Inconclusive);
    // 1.0 CPU, then 1.5 (starved), then 0.5 and throttled: only the middle one is in doubt.
    assert_eq!(
        r[0].2,
        vec![
            Verdict::Pass,
            Verdict::Inconclusive,
            Verdict::Pass,
            Verdict::Pass
        ]
    );
}

#[test]
fn must_fail_scenarios_fail_again_on_a_busy_host() {
    let r = replay("busy-must-fail");
    assert_eq!(r.len(), 3);
    for (n, v, es) in &r {
        assert_eq!(*v, Verdict::Fail, "{n}");
        assert_eq!(es, &vec![Verdict::Fail], "{n}");
    }
}

#[test]
fn a_dead_workload_is_an_error_again_and_nothing_is_judged() {
    let run = limitcheck_record::load_run(&fixture("dead-workload")).unwrap();
    let r = replay("dead-workload");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1, Verdict::Error);
    assert!(r[0].2.is_empty());
    let why = &run.scenarios[0].reason;
    assert!(why.contains("exited with status 2"), "{why}");
    assert!(why.contains("0 is outside 1..=4096"), "{why}");
}

#[test]
fn a_v2_lane_run_passes_again() {
    let run = limitcheck_record::load_run(&fixture("v2-lane-pass")).unwrap();
    assert_eq!(run.host.cgroup_mode, "v2");
    assert!(run.vm.is_some());
    let r = replay("v2-lane-pass");
    assert_eq!(r.len(), 2);
    for (n, v, es) in &r {
        assert_eq!(*v, Verdict::Pass, "{n}");
        assert!(es.contains(&Verdict::Pass), "{n}");
        assert!(
            es.iter()
                .all(|v| matches!(v, Verdict::Pass | Verdict::Skip)),
            "{n}"
        );
    }
}
