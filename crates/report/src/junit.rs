//! junit.xml: one testsuite per scenario, one testcase per expectation and per judged step.
//! Failures carry expected against measured; skips are `<skipped>`; a scenario that could not
//! run is one `<error>` testcase. An inconclusive expectation (measured short on a host whose
//! own load took the CPUs) is `<skipped message="inconclusive: ...">`: CI systems (GitLab,
//! Jenkins, GitHub's test reporters) show a skip as neither passed nor failed, which is what it
//! is; the message says why, with the figures, and the run's exit status (6) keeps it from
//! passing unnoticed.

use crate::model::Summary;

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
    verdict: String,
    message: String,
}

/// Renders junit.xml.
pub fn render(s: &Summary) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped, mut errors) = (0, 0, 0, 0);
    for sc in &s.scenarios {
        let mut cases: Vec<Case> = sc
            .expectations
            .iter()
            .map(|e| Case {
                name: e.name(),
                verdict: e.verdict.clone(),
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
                .filter(|st| st.verdict != "skip")
                .map(|st| Case {
                    name: format!("step at {} s on {}: {}", st.at, st.container, st.what),
                    verdict: st.verdict.clone(),
                    message: format!(
                        "expected {}, got {}",
                        st.expected,
                        st.outcome.clone().unwrap_or_else(|| "nothing".into())
                    ),
                }),
        );
        if cases.is_empty()
            || (sc.verdict == "error" && sc.expectations.iter().all(|e| e.measured.is_none()))
        {
            cases.push(Case {
                name: "scenario".into(),
                verdict: sc.verdict.clone(),
                message: sc.reason.clone(),
            });
        }
        let count = |v: &str| cases.iter().filter(|c| c.verdict == v).count();
        let (f, sk, er) = (
            count("fail"),
            count("skip") + count("inconclusive"),
            count("error"),
        );
        tests += cases.len();
        failures += f;
        skipped += sk;
        errors += er;
        suites.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" skipped=\"{sk}\" errors=\"{er}\" time=\"{:.3}\">\n",
            escape(&sc.name),
            cases.len(),
            sc.duration_s
        ));
        for c in &cases {
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&sc.name),
                escape(&c.name)
            );
            let m = escape(&c.message);
            match c.verdict.as_str() {
                "fail" => suites.push_str(&format!(
                    "{open}>\n      <failure message=\"{m}\">{m}</failure>\n    </testcase>\n"
                )),
                "skip" => suites.push_str(&format!(
                    "{open}>\n      <skipped message=\"{m}\"/>\n    </testcase>\n"
                )),
                "inconclusive" => suites.push_str(&format!(
                    "{open}>\n      <skipped message=\"inconclusive: {m}\"/>\n    </testcase>\n"
                )),
                "error" => suites.push_str(&format!(
                    "{open}>\n      <error message=\"{m}\">{m}</error>\n    </testcase>\n"
                )),
                _ => suites.push_str(&format!("{open}/>\n")),
            }
        }
        suites.push_str("  </testsuite>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"limitcheck {}\" tests=\"{tests}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"{errors}\">\n{suites}</testsuites>\n",
        escape(&s.run_id)
    )
}
