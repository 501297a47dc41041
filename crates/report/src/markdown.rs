//! summary.md: a short Markdown summary for CI step summaries.

use crate::model::{Summary, Verdict};

fn icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Skip => "⏭ skip",
        Verdict::Inconclusive => "❔ inconclusive",
        Verdict::Error => "⚠ error",
    }
}

/// Renders summary.md.
pub fn render(s: &Summary) -> String {
    let count = |v: Verdict| s.scenarios.iter().filter(|x| x.verdict == v).count();
    let mut out = format!(
        "# limitcheck run {}\n\n{} passed, {} failed, {} inconclusive, {} skipped, {} errors — kernel {}, cgroup {}, {}{}\n\n",
        s.run_id,
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Inconclusive),
        count(Verdict::Skip),
        count(Verdict::Error),
        s.host.kernel,
        s.host.cgroup_mode,
        s.host.cpus_text(),
        s.host
            .runtime
            .as_deref()
            .map(|r| format!(", runtime {r}"))
            .unwrap_or_default()
    );
    if let Some(why) = s.interrupted_text() {
        out.push_str(&format!(
            "**⚠ INTERRUPTED**: the run did not finish — {why}.\n\n"
        ));
    }
    out.push_str("| scenario | verdict | reason |\n|---|---|---|\n");
    for sc in &s.scenarios {
        let tries = sc
            .attempts_text()
            .map_or(String::new(), |t| format!(" (attempts: {t})"));
        out.push_str(&format!(
            "| {} | {}{tries} | {} |\n",
            sc.name,
            icon(sc.verdict),
            sc.reason.replace('|', "\\|")
        ));
    }
    for sc in s.scenarios.iter().filter(|x| x.verdict != Verdict::Pass) {
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
                icon(e.verdict)
            ));
        }
    }
    out
}
