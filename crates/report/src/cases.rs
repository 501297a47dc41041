//! A scenario as the kernel CI formats see it (KTAP, KCIDB, LAVA): a list of cases, one per
//! judged step and per expectation, each with an id fit for a dotted test path
//! (`cpu_usage_2s_6s`, `step_2s_cpu_cfs_quota_us_50000`), its verdict, why, and its measured
//! value with a unit. One source, so that every format names a case the same way.

use crate::model::{Expectation, Scenario, Step, Verdict};

/// A case of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Unique within the scenario; lowercase letters, digits and `_`.
    pub id: String,
    /// For people: `cpu.usage of hog over 2-6 s`.
    pub title: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why, on one line (empty for a plain pass).
    pub reason: String,
    /// What was expected and what was measured, on one line.
    pub detail: String,
    /// The measured value, in `unit`.
    pub measured: Option<f64>,
    /// The unit of `measured` ([`Expectation::unit`]); empty for steps.
    pub unit: &'static str,
}

/// `cpu-halving` → `cpu_halving`: lowercase ASCII letters and digits, anything else one `_`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// A time for an id: whole seconds as `2s`, else milliseconds (`2500ms`), so that no `.` is
/// in it.
fn at(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}s")
    } else {
        format!("{:.0}ms", v * 1000.0)
    }
}

/// Text on one line: newlines become ` | `.
pub fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn expectation(e: &Expectation, several: bool) -> Case {
    let container = if several {
        format!("_{}", e.container)
    } else {
        String::new()
    };
    let mut detail = format!("{}: expected {}", e.name(), e.expected_text());
    if let Some(m) = e.measured {
        detail.push_str(&format!(", measured {}", e.show(m)));
    }
    if let Some(s) = e.settled_after_s {
        detail.push_str(&format!(", settled after {s:.2} s"));
    }
    if let Some(v) = &e.engine {
        detail.push_str(&format!(
            "; {} {} ({} reading(s){})",
            v.source,
            e.show(v.value),
            v.readings,
            if v.agrees { "" } else { ", disagrees" }
        ));
    }
    Case {
        id: slug(&format!(
            "{}{container}_{}_{}",
            e.metric,
            at(e.window[0]),
            at(e.window[1])
        )),
        title: e.name(),
        verdict: e.verdict,
        reason: one_line(&e.reason),
        detail,
        measured: e.measured,
        unit: e.unit(),
    }
}

fn step(st: &Step, several: bool) -> Case {
    let container = if several {
        format!("_{}", st.container)
    } else {
        String::new()
    };
    let mut detail = format!(
        "step at {} s on {}: {} (via {}), expected {}, got {}",
        st.at,
        st.container,
        st.what,
        st.via,
        st.expected,
        st.outcome.as_deref().unwrap_or("nothing")
    );
    let mut reason = String::new();
    if !st.changed.is_empty() {
        reason = format!("it also changed {}", st.changed.join(", "));
    }
    if !st.not_applied.is_empty() {
        if !reason.is_empty() {
            reason.push_str("; ");
        }
        reason.push_str(&format!("not applied: {}", st.not_applied.join(", ")));
    }
    if reason.is_empty() && st.verdict == Verdict::Fail {
        reason = format!(
            "expected {}, got {}",
            st.expected,
            st.outcome.as_deref().unwrap_or("nothing")
        );
    }
    if !reason.is_empty() {
        detail.push_str(&format!("; {reason}"));
    }
    Case {
        id: slug(&format!("step_{}{container}_{}", at(st.at), st.what)),
        title: format!("step at {} s on {}: {}", st.at, st.container, st.what),
        verdict: st.verdict,
        reason: one_line(&reason),
        detail: one_line(&detail),
        measured: None,
        unit: "",
    }
}

fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Pass => 0,
        Verdict::Skip => 1,
        Verdict::Inconclusive => 2,
        Verdict::Error => 3,
        Verdict::Fail => 4,
    }
}

/// The cases of a scenario: its judged steps (a step not reached is left out), then its
/// expectations, in the file's order. When the scenario's verdict is a fail or an error that no
/// case carries (a kernel that tainted, a workload that died before anything was judged), a
/// last case `scenario` carries it, so that a parent never fails without a failing child. A
/// scenario that could not run at all has no cases: its own result says why.
pub fn of(sc: &Scenario) -> Vec<Case> {
    let several = sc.containers.len() > 1;
    let mut cases: Vec<Case> = sc
        .steps
        .iter()
        .filter(|st| st.verdict != Verdict::Skip)
        .map(|st| step(st, several))
        .chain(sc.expectations.iter().map(|e| expectation(e, several)))
        .collect();
    if cases.is_empty() {
        return cases;
    }
    let worst = cases.iter().map(|c| rank(c.verdict)).max().unwrap_or(0);
    if matches!(sc.verdict, Verdict::Fail | Verdict::Error) && rank(sc.verdict) > worst {
        cases.push(Case {
            id: "scenario".into(),
            title: "the scenario".into(),
            verdict: sc.verdict,
            reason: one_line(&sc.reason),
            detail: one_line(&sc.reason),
            measured: None,
            unit: "",
        });
    }
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for c in &mut cases {
        let n = seen.entry(c.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.id = format!("{}_{n}", c.id);
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_path_safe_and_unique() {
        assert_eq!(slug("cpu-halving"), "cpu_halving");
        assert_eq!(slug("cpu.cfs_quota_us = 50000"), "cpu_cfs_quota_us_50000");
        assert_eq!(slug("--Seed 2/4--"), "seed_2_4");
        assert_eq!(at(2.0), "2s");
        assert_eq!(at(2.5), "2500ms");
        assert_eq!(one_line("a\n\n  b \n"), "a | b");
    }
}
