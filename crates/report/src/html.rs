//! index.html: one self-contained page (no network, no external script or stylesheet): the
//! run's verdict, and per scenario its expectations and steps.

use crate::charts::Rendered;
use crate::compare::Comparison;
use crate::junit::escape;
use crate::model::{Summary, Verdict};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
th{background:#f4f4f4}.pass{color:#17692b}.fail{color:#b00020;font-weight:bold}.skip{color:#777}.error{color:#b35c00;font-weight:bold}\
.banner{padding:.6em 1em;border-radius:4px;font-size:1.3em;margin-bottom:1em}.banner.pass{background:#e3f5e7}\
.banner.fail{background:#fde7ea}.banner.error{background:#fff1e0}.banner.skip{background:#eee}small{color:#666}\
.inconclusive{color:#6a3d9a;font-weight:bold}.banner.inconclusive{background:#efe6f7}";

/// The run's overall verdict: fail if any failed, error if any could not run, inconclusive if
/// any was, pass otherwise (skip when all were skipped).
pub fn overall(s: &Summary) -> &'static str {
    if s.scenarios.iter().any(|x| x.verdict == Verdict::Fail) {
        "fail"
    } else if s.scenarios.iter().any(|x| x.verdict == Verdict::Error) {
        "error"
    } else if s
        .scenarios
        .iter()
        .any(|x| x.verdict == Verdict::Inconclusive)
    {
        "inconclusive"
    } else if !s.scenarios.is_empty() && s.scenarios.iter().all(|x| x.verdict == Verdict::Skip) {
        "skip"
    } else {
        "pass"
    }
}

/// Renders index.html; with a comparison, its table too; `charts` are inlined as SVG in their
/// scenario's section, with a link to the PNG.
pub fn render(s: &Summary, comparison: Option<&Comparison>, charts: &[Rendered]) -> String {
    let v = overall(s);
    let mut b = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>limitcheck {}</title><style>{STYLE}</style></head><body>\n",
        escape(&s.run_id)
    );
    b.push_str(&format!(
        "<div class=\"banner {v}\">limitcheck run {}: <b>{}</b></div>\n<p><small>kernel {} · cgroup {} · {} · {:.1} GiB · limitcheck {}{}</small></p>\n",
        escape(&s.run_id),
        v.to_uppercase(),
        escape(&s.host.kernel),
        escape(&s.host.cgroup_mode),
        escape(&s.host.cpus_text()),
        s.host.memory_bytes as f64 / (1u64 << 30) as f64,
        escape(&s.host.limitcheck_version),
        s.host
            .runtime
            .as_deref()
            .map(|r| format!(" · runtime {}", escape(r)))
            .unwrap_or_default()
    ));
    if let Some(why) = s.interrupted_text() {
        b.push_str(&format!(
            "<div class=\"banner error\">INTERRUPTED: the run did not finish — {}; shown is what did.</div>\n",
            escape(&why)
        ));
    }
    if let Some(vm) = &s.vm {
        b.push_str(&format!(
            "<p><small>in a VM booted from {} · {} ({}) · {} · <a href=\"console.log\">console.log</a></small></p>\n",
            escape(&vm.kernel_file),
            escape(&vm.accel),
            escape(&vm.accel_reason),
            escape(&vm.outcome)
        ));
    }
    if let Some(c) = comparison {
        b.push_str(&crate::compare::html_table(c));
    }
    b.push_str("<table><tr><th>scenario</th><th>verdict</th><th>reason</th></tr>\n");
    for sc in &s.scenarios {
        b.push_str(&format!(
            "<tr><td><a href=\"#{0}\">{0}</a></td><td class=\"{1}\">{1}{3}</td><td>{2}</td></tr>\n",
            escape(&sc.name),
            sc.verdict,
            escape(&sc.reason),
            sc.attempts_text().map_or(String::new(), |t| format!(
                "<br><small>attempts: {}</small>",
                escape(&t)
            ))
        ));
    }
    b.push_str("</table>\n");
    for sc in &s.scenarios {
        b.push_str(&format!(
            "<h2 id=\"{0}\">{0} <span class=\"{1}\">{1}</span></h2>\n<p>{2}<br><small>{3} · {4:.1} s · every {5:.0} ms · {6} samples · jitter mean {7:.2} ms, worst {8:.1} ms{9}</small></p>\n",
            escape(&sc.name),
            sc.verdict,
            escape(&sc.description),
            escape(&sc.file.display().to_string()),
            sc.duration_s,
            sc.interval_s * 1000.0,
            sc.samples,
            sc.jitter_ms[0],
            sc.jitter_ms[1],
            startup_text(&sc.containers, &sc.startup_ms)
                + &sc
                    .stalls_text()
                    .map_or(String::new(), |t| format!(" · {}", escape(&t)))
        ));
        if let Some(rt) = &sc.runtime {
            b.push_str(&format!(
                "<p><small>run on its own runtime (<code>runtime</code> in the file): {}</small></p>\n",
                escape(rt)
            ));
        }
        if sc.attempts.len() > 1 {
            b.push_str("<p>Attempts (an inconclusive verdict runs again; the last is shown below):</p><ol>\n");
            for a in &sc.attempts {
                b.push_str(&format!(
                    "<li><span class=\"{0}\">{0}</span> <small>{1}</small></li>\n",
                    a.verdict,
                    escape(&a.reason)
                ));
            }
            b.push_str("</ol>\n");
        }
        for ch in charts.iter().filter(|c| c.scenario == sc.name) {
            b.push_str(&format!(
                "<figure>{}<figcaption><small>{} — {} (<a href=\"{}\">PNG</a>)</small></figcaption></figure>\n",
                strip_xml_prolog(&ch.svg),
                escape(&ch.container),
                ch.kind,
                escape(&ch.png)
            ));
        }
        if !sc.expectations.is_empty() {
            // The engine's own figures beside the kernel's, when an engine ran it.
            let engine = sc.engine_source.as_deref();
            b.push_str(&format!(
                "<table><tr><th>metric</th><th>container</th><th>window</th><th>expected</th><th>measured</th>{}<th>verdict</th><th>reason</th></tr>\n",
                engine.map_or(String::new(), |src| format!("<th>{}</th>", escape(src)))
            ));
            for e in &sc.expectations {
                let beside = match (engine, &e.engine) {
                    (None, _) => String::new(),
                    (Some(_), None) => "<td>—</td>".into(),
                    (Some(_), Some(v)) if v.agrees => {
                        format!("<td>{}</td>", escape(&e.show(v.value)))
                    }
                    (Some(_), Some(v)) => format!(
                        "<td class=\"fail\" title=\"disagrees with the kernel's counters: a finding about the engine, not a verdict on the limit\">{} (disagrees)</td>",
                        escape(&e.show(v.value))
                    ),
                };
                b.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}–{} s</td><td>{}</td><td>{}</td>{beside}<td class=\"{v}\">{v}</td><td>{}</td></tr>\n",
                    escape(&e.metric),
                    escape(&e.container),
                    e.window[0],
                    e.window[1],
                    escape(&e.expected_text()),
                    e.measured.map(|m| escape(&e.show(m))).unwrap_or_else(|| "—".into()),
                    escape(&e.reason),
                    v = e.verdict
                ));
            }
            b.push_str("</table>\n");
        }
        if !sc.steps.is_empty() {
            b.push_str("<table><tr><th>planned</th><th>actual</th><th>container</th><th>change</th><th>via</th><th>expected</th><th>outcome</th><th>verdict</th></tr>\n");
            for st in &sc.steps {
                b.push_str(&format!(
                    "<tr><td>{} s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{v}\">{v}</td></tr>\n",
                    st.at,
                    st.actual.map(|a| format!("{a:.4} s")).unwrap_or_else(|| "—".into()),
                    escape(&st.container),
                    escape(&st.what),
                    st.via,
                    escape(&st.expected),
                    escape(st.outcome.as_deref().unwrap_or("skipped")),
                    v = st.verdict
                ));
            }
            b.push_str("</table>\n");
        }
    }
    b.push_str("</body></html>\n");
    b
}

fn strip_xml_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// ` · create→running: hog 12.5 ms, other 31.0 ms` (empty for runs that did not record it).
fn startup_text(containers: &[String], ms: &[f64]) -> String {
    if ms.is_empty() {
        return String::new();
    }
    let each: Vec<String> = containers
        .iter()
        .zip(ms)
        .map(|(c, t)| format!("{} {t:.1} ms", escape(c)))
        .collect();
    format!(" · create→running: {}", each.join(", "))
}
