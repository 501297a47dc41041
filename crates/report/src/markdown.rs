//! summary.md: a short Markdown summary for CI step summaries.

use crate::model::Summary;

fn icon(v: &str) -> &'static str {
    match v {
        "pass" => "✅ pass",
        "fail" => "❌ fail",
        "skip" => "⏭ skip",
        "inconclusive" => "❔ inconclusive",
        _ => "⚠ error",
    }
}

/// Renders summary.md.
pub fn render(s: &Summary) -> String {
    let count = |v: &str| s.scenarios.iter().filter(|x| x.verdict == v).count();
    let mut out = format!(
        "# limitcheck run {}\n\n{} passed, {} failed, {} inconclusive, {} skipped, {} errors — kernel {}, cgroup {}, {} CPUs\n\n",
        s.run_id,
        count("pass"),
        count("fail"),
        count("inconclusive"),
        count("skip"),
        count("error"),
        s.host.kernel,
        s.host.cgroup_mode,
        s.host.cpus
    );
    out.push_str("| scenario | verdict | reason |\n|---|---|---|\n");
    for sc in &s.scenarios {
        let tries = sc
            .attempts_text()
            .map_or(String::new(), |t| format!(" (attempts: {t})"));
        out.push_str(&format!(
            "| {} | {}{tries} | {} |\n",
            sc.name,
            icon(&sc.verdict),
            sc.reason.replace('|', "\\|")
        ));
    }
    for sc in s.scenarios.iter().filter(|x| x.verdict != "pass") {
        out.push_str(&format!(
            "\n## {} ({})\n\n| expectation | expected | measured | verdict |\n|---|---|---|---|\n",
            sc.name, sc.verdict
        ));
        for e in &sc.expectations {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                e.name(),
                e.expected_text(),
                e.measured.map(|m| e.show(m)).unwrap_or_else(|| "—".into()),
                icon(&e.verdict)
            ));
        }
    }
    out
}
