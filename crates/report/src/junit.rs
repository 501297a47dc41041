//! junit.xml: one testsuite per scenario, one testcase per expectation and per judged step.
//! Failures carry expected against measured; skips are `<skipped>`; a scenario that could not
//! run is one `<error>` testcase. Written with quick-junit; the attempts of a retried scenario
//! are its testsuite's `attempts` property. An inconclusive expectation (measured short on a host whose
//! own load took the CPUs) is `<skipped message="inconclusive: ...">`: CI systems (GitLab,
//! Jenkins, GitHub's test reporters) show a skip as neither passed nor failed, which is what it
//! is; the message says why, with the figures, and the run's exit status (6) keeps it from
//! passing unnoticed.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::model::{Summary, Verdict};

/// Escapes text for XML attributes and content.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

struct Case {
    name: String,
    verdict: Verdict,
    message: String,
}

/// Renders junit.xml.
pub fn render(s: &Summary) -> String {
    let mut report = Report::new(format!("limitcheck {}", s.run_id));
    for sc in &s.scenarios {
        let mut cases: Vec<Case> = sc
            .expectations
            .iter()
            .map(|e| Case {
                name: e.name(),
                verdict: e.verdict,
                message: match e.measured {
                    Some(m) => format!(
                        "expected {}, measured {}: {}",
                        e.expected_text(),
                        e.show(m),
                        e.reason
                    ),
                    None => e.reason.clone(),
                },
            })
            .collect();
        cases.extend(
            sc.steps
                .iter()
                .filter(|st| st.verdict != Verdict::Skip)
                .map(|st| Case {
                    name: format!("step at {} s on {}: {}", st.at, st.container, st.what),
                    verdict: st.verdict,
                    message: format!(
                        "expected {}, got {}",
                        st.expected,
                        st.outcome.clone().unwrap_or_else(|| "nothing".into())
                    ),
                }),
        );
        if cases.is_empty()
            || (sc.verdict == Verdict::Error
                && sc.expectations.iter().all(|e| e.measured.is_none()))
        {
            cases.push(Case {
                name: "scenario".into(),
                verdict: sc.verdict,
                message: sc.reason.clone(),
            });
        }
        let mut suite = TestSuite::new(sc.name.as_str());
        suite.set_time(std::time::Duration::from_secs_f64(sc.duration_s.max(0.0)));
        if let Some(t) = sc.attempts_text() {
            suite.add_property(Property::new("attempts", t));
        }
        for c in cases {
            let mut status = match c.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
                Verdict::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
                Verdict::Skip => TestCaseStatus::skipped(),
                Verdict::Inconclusive => TestCaseStatus::skipped(),
            };
            match c.verdict {
                Verdict::Pass => {}
                Verdict::Inconclusive => {
                    status.set_message(format!("inconclusive: {}", c.message));
                }
                Verdict::Fail | Verdict::Error => {
                    status.set_message(c.message.as_str());
                    status.set_description(c.message.as_str());
                }
                Verdict::Skip => {
                    status.set_message(c.message.as_str());
                }
            }
            let mut case = TestCase::new(c.name, status);
            case.set_classname(sc.name.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    // A run that did not finish says so as an error of its own: CI must not read the
    // scenarios that did run as the whole answer.
    if let Some(why) = s.interrupted_text() {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(why.as_str());
        let mut case = TestCase::new("the run finished", status);
        case.set_classname("limitcheck");
        let mut suite = TestSuite::new("limitcheck run");
        suite.add_test_case(case);
        report.add_test_suite(suite);
    }
    report.to_string().expect("junit.xml serializes")
}
