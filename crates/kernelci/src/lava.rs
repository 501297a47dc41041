//! LAVA: the test definition (`lava/limitcheck.yaml`, `Lava-Test Test Definition 1.0`) and
//! the run script it calls (`lava/run.sh`), both carried by the overlay, and the
//! `lava-test-case` lines that report a run's results (`limitcheck report --lava RUN_DIR`).
//!
//! Each scenario and each of its cases ([`limitcheck_report::cases`]) is a test case named
//! `<scenario>-<case>` (`cpu_halving-cpu_usage_2s_6s`; letters, digits, `_` and `-`, as LAVA
//! names go), with `--measurement V --units U` where a value was measured. LAVA's results are
//! pass, fail, skip and unknown: a failed limit is fail; a skip is skip; an inconclusive
//! verdict and one that could not be judged (an error) are unknown — neither says the kernel
//! is at fault, and LAVA's fail would.

use limitcheck_record::{Summary, Verdict};
use limitcheck_report::cases::{self, slug};

/// The test definition.
pub const DEFINITION: &str = include_str!("../../../lava/limitcheck.yaml");
/// The script its run step calls.
pub const RUN_SCRIPT: &str = include_str!("../../../lava/run.sh");

/// LAVA's word for a verdict.
pub fn result(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Skip => "skip",
        Verdict::Inconclusive | Verdict::Error => "unknown",
    }
}

/// `'text'`, for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A measurement as LAVA takes it: a plain decimal number.
fn measurement(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// The `lava-test-case` command lines for a run: per scenario, one for each case, then one
/// for the scenario itself; a planned scenario that did not run is `unknown`.
pub fn cases(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    for sc in &s.scenarios {
        let base = slug(&sc.name);
        for c in cases::of(sc) {
            let mut line = format!(
                "lava-test-case {} --result {}",
                quote(&format!("{base}-{}", c.id)),
                result(c.verdict)
            );
            if let Some(m) = c.measured.filter(|m| m.is_finite()) {
                line.push_str(&format!(
                    " --measurement {} --units {}",
                    measurement(m),
                    quote(c.unit)
                ));
            }
            out.push(line);
        }
        out.push(format!(
            "lava-test-case {} --result {}",
            quote(&base),
            result(sc.verdict)
        ));
    }
    for name in limitcheck_report::ktap::not_run(s) {
        out.push(format!(
            "lava-test-case {} --result unknown",
            quote(&slug(&name))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_are_plain_numbers_and_quotes_survive() {
        assert_eq!(measurement(0.5), "0.5");
        assert_eq!(measurement(268435456.0), "268435456");
        assert_eq!(measurement(-0.0), "0");
        assert_eq!(measurement(1e-9), "0");
        assert_eq!(measurement(0.0), "0");
        assert_eq!(quote("a'b"), "'a'\\''b'");
    }
}
