//! Every exporter on recorded runs (tests/fixtures: summary.json of real runs on the
//! development host), so the report path is deterministic: snapshots of junit.xml and
//! summary.md, junit.xml parsed and counted against summary.json, index.html self-contained,
//! and the compare gate on equal runs and on planted regressions.
//!
//! Snapshots: set UPDATE_SNAPSHOTS=1 to rewrite the `*.expected` files after a deliberate change.

use std::path::{Path, PathBuf};

use limitcheck_report::{compare, html, junit, load, markdown, render};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn snapshot(name: &str, file: &str, got: &str) {
    let path = fixture(name).join(format!("{file}.expected"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        got,
        want,
        "{} differs from its snapshot (UPDATE_SNAPSHOTS=1 to accept)",
        path.display()
    );
}

#[test]
fn junit_and_markdown_match_their_snapshots() {
    for name in ["pass", "fail", "inconclusive"] {
        let s = load(&fixture(name)).unwrap();
        snapshot(name, "junit.xml", &junit::render(&s));
        snapshot(name, "summary.md", &markdown::render(&s));
    }
}

#[test]
fn junit_parses_and_counts_what_summary_json_says() {
    for name in ["pass", "fail", "inconclusive"] {
        let s = load(&fixture(name)).unwrap();
        let xml = junit::render(&s);
        let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed XML");
        let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
        let failed_expectations: usize = s
            .scenarios
            .iter()
            .map(|sc| {
                sc.expectations
                    .iter()
                    .filter(|e| e.verdict == limitcheck_record::Verdict::Fail)
                    .count()
                    + sc.steps
                        .iter()
                        .filter(|st| st.verdict == limitcheck_record::Verdict::Fail)
                        .count()
            })
            .sum();
        assert_eq!(count("failure"), failed_expectations, "{name}");
        assert_eq!(count("testsuite"), s.scenarios.len(), "{name}");
        let skipped: usize = s
            .scenarios
            .iter()
            .map(|sc| {
                sc.expectations
                    .iter()
                    .filter(|e| {
                        e.verdict == limitcheck_record::Verdict::Skip
                            || e.verdict == limitcheck_record::Verdict::Inconclusive
                    })
                    .count()
            })
            .sum();
        assert_eq!(count("skipped"), skipped, "{name}");
        let root = doc.root_element();
        assert_eq!(
            root.attribute("failures")
                .unwrap()
                .parse::<usize>()
                .unwrap(),
            failed_expectations
        );
    }
}

#[test]
fn index_html_is_self_contained_and_complete() {
    let s = load(&fixture("pass")).unwrap();
    let page = html::render(&s, None, &[]);
    assert!(page.contains("<b>PASS</b>"));
    for sc in &s.scenarios {
        assert!(
            page.contains(&format!("id=\"{}\"", sc.name)),
            "{} missing",
            sc.name
        );
    }
    for forbidden in ["<script src", "<link", "http://", "https://", "@import"] {
        assert!(
            !page.contains(forbidden),
            "external reference {forbidden:?} in index.html"
        );
    }
    assert!(page.contains("EBUSY"), "seed 8's outcome is shown");
    let fail = html::render(&load(&fixture("fail")).unwrap(), None, &[]);
    assert!(fail.contains("<b>FAIL</b>") && fail.contains("below the minimum"));
}

#[test]
fn render_writes_every_output_from_the_saved_data_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("fail").join("summary.json"),
        dir.path().join("summary.json"),
    )
    .unwrap();
    let written = render(dir.path()).unwrap();
    for f in ["index.html", "junit.xml", "summary.md"] {
        assert!(written.contains(&dir.path().join(f)));
        assert!(std::fs::metadata(dir.path().join(f)).unwrap().len() > 100);
    }
    let err = render(Path::new("/nonexistent-run")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent-run"), "{err}");
}

#[test]
fn compare_passes_equal_runs_and_flags_planted_regressions() {
    let base = load(&fixture("pass")).unwrap();
    let same = compare::compare(&base, &base, compare::DEFAULT_THRESHOLD);
    assert_eq!(same.regressions(), 0, "{}", compare::text_table(&same));
    assert!(same.rows.len() > 30);

    // A halving that now lands at 0.56 CPU instead of 0.50 (still inside a loose band, but 12%
    // farther from the expectation): a regression.
    let mut worse = base.clone();
    let sc = worse
        .scenarios
        .iter_mut()
        .find(|s| s.name == "cpu-halving")
        .unwrap();
    sc.expectations[1].measured = Some(0.56);
    // And a verdict that flipped.
    let sc = worse
        .scenarios
        .iter_mut()
        .find(|s| s.name == "pids-max")
        .unwrap();
    sc.expectations[0].verdict = limitcheck_record::Verdict::Fail;
    let c = compare::compare(&base, &worse, compare::DEFAULT_THRESHOLD);
    assert_eq!(c.regressions(), 2, "{}", compare::text_table(&c));
    let table = compare::text_table(&c);
    assert!(
        table.contains("REGRESSION: moved against the expectation by 11.")
            || table.contains("REGRESSION: moved against the expectation by 12."),
        "{table}"
    );
    assert!(table.contains("verdict went from pass to fail"), "{table}");
    assert!(html::render(&worse, Some(&c), &[]).contains("2 regression(s)"));

    // Moving toward the expectation is no regression.
    let mut better = base.clone();
    let sc = better
        .scenarios
        .iter_mut()
        .find(|s| s.name == "cpu-halving")
        .unwrap();
    sc.expectations[1].measured = Some(0.5);
    assert_eq!(
        compare::compare(&base, &better, compare::DEFAULT_THRESHOLD).regressions(),
        0
    );

    // A lower bound is a line, not a target: a count far above `≥ 1` (one failed fork fewer
    // of 289, or a third fewer) has not moved toward failing; throttling that falls from
    // 100% to 92% of periods where `≥ 90%` is asked has (8.9% of the bound).
    let moved = |scenario: &str, i: usize, min: f64, to: f64| {
        let mut r = base.clone();
        let sc = r.scenarios.iter_mut().find(|s| s.name == scenario).unwrap();
        assert_eq!(sc.expectations[i].min, Some(min));
        sc.expectations[i].measured = Some(to);
        compare::compare(&base, &r, compare::DEFAULT_THRESHOLD).regressions()
    };
    assert_eq!(moved("pids-max", 1, 1.0, 288.0), 0);
    assert_eq!(moved("pids-max", 1, 1.0, 190.0), 0);
    assert_eq!(moved("seed-2-4-cpu-quota", 3, 0.9, 0.92), 1);
    assert_eq!(moved("seed-2-4-cpu-quota", 3, 0.9, 0.995), 0);
}

#[test]
fn charts_render_as_png_and_svg_and_inline_in_the_page() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["summary.json", "samples.csv"] {
        std::fs::copy(fixture("fail").join(f), dir.path().join(f)).unwrap();
    }
    render(dir.path()).unwrap();
    let charts = dir.path().join("charts");
    for c in ["plain", "burst"] {
        for kind in ["cpu", "memory"] {
            let png = std::fs::read(charts.join(format!("cfs-burst-{c}-{kind}.png"))).unwrap();
            assert_eq!(&png[1..4], b"PNG", "{c} {kind}");
            assert!(
                png.len() > 5_000,
                "{c} {kind}: a blank chart? {} bytes",
                png.len()
            );
            let svg =
                std::fs::read_to_string(charts.join(format!("cfs-burst-{c}-{kind}.svg"))).unwrap();
            assert!(
                svg.contains("<svg") && svg.contains("<polyline"),
                "{c} {kind}"
            );
            // Text is drawn with the embedded font: axis labels are there.
            assert!(svg.contains("time (s)"), "{c} {kind}: no axis label");
        }
    }
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    // cpu, memory, throttled share (there is a quota) and per-CPU (v1) for each container.
    assert_eq!(
        page.matches("<svg").count(),
        8,
        "four charts per container, inline"
    );
    for c in ["plain", "burst"] {
        for kind in ["throttled", "per-cpu"] {
            assert!(
                charts.join(format!("cfs-burst-{c}-{kind}.png")).exists(),
                "{c} {kind}"
            );
        }
    }
    assert!(page.contains("charts/cfs-burst-plain-cpu.png"));
}

#[test]
fn drawing_reduction_keeps_the_extremes() {
    use limitcheck_report::charts::min_max_per_column;
    let pts: Vec<(f64, f64)> = (0..60_000)
        .map(|i| {
            (
                i as f64 * 0.01,
                if i == 31_337 {
                    9.0
                } else {
                    (i % 7) as f64 * 0.1
                },
            )
        })
        .collect();
    let r = min_max_per_column(&pts, 900);
    assert!(r.len() <= 1800);
    assert!(r.iter().any(|p| p.1 == 9.0), "the spike survives");
    assert!(
        r.iter().any(|p| p.1 == 0.0) && r.iter().any(|p| (p.1 - 0.6).abs() < 1e-9),
        "the range survives"
    );
    assert!(r.windows(2).all(|w| w[0].0 <= w[1].0), "time order kept");
}

#[test]
fn index_html_and_a_chart_match_their_snapshots() {
    // The page without charts, and one chart's SVG: plotters and the embedded font are pinned by
    // Cargo.lock, so the drawing is deterministic for the same recorded samples.
    let s = load(&fixture("fail")).unwrap();
    snapshot("fail", "index.html", &html::render(&s, None, &[]));
    let dir = tempfile::tempdir().unwrap();
    for f in ["summary.json", "samples.csv"] {
        std::fs::copy(fixture("fail").join(f), dir.path().join(f)).unwrap();
    }
    let charts = limitcheck_report::charts::render_all(dir.path(), &s).unwrap();
    let cpu = charts
        .iter()
        .find(|c| c.container == "plain" && c.kind == "cpu")
        .unwrap();
    snapshot("fail", "plain-cpu.svg", &cpu.svg);
}

/// An inconclusive run (seed-2-4-cpu-quota with one busy loop, retried once, recorded here):
/// index.html says INCONCLUSIVE with both attempts, junit.xml skips the starved expectation
/// with its figures and fails nothing, summary.md counts it, and compare does not call it a
/// regression against a passing baseline.
#[test]
fn an_inconclusive_run_shows_as_such_everywhere() {
    let s = load(&fixture("inconclusive")).unwrap();
    assert_eq!(html::overall(&s), "inconclusive");
    let page = html::render(&s, None, &[]);
    assert!(page.contains("<b>INCONCLUSIVE</b>"), "{page}");
    assert!(
        page.contains("attempts: inconclusive, inconclusive"),
        "{page}"
    );
    let xml = junit::render(&s);
    assert!(xml.contains("<skipped message=\"inconclusive: "), "{xml}");
    assert!(xml.contains("foreign load"), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    let md = markdown::render(&s);
    assert!(md.contains("1 inconclusive"), "{md}");
    assert!(md.contains("❔ inconclusive"), "{md}");
    let base = load(&fixture("pass")).unwrap();
    let c = compare::compare(&base, &s, compare::DEFAULT_THRESHOLD);
    assert_eq!(c.regressions(), 0, "{}", compare::text_table(&c));
    assert!(compare::text_table(&c).contains("not compared: inconclusive"));
}

/// A run killed half way (complete = false in summary.json, as every write but the last
/// leaves it): index.html, summary.md and junit.xml say it was interrupted and what did not run.
#[test]
fn an_interrupted_run_is_shown_as_interrupted() {
    let mut s = load(&fixture("fail")).unwrap();
    s.planned = vec![
        s.scenarios[0].name.clone(),
        "seed-8-lower-memory-limit".into(),
    ];
    s.complete = false;
    let page = html::render(&s, None, &[]);
    assert!(page.contains("INTERRUPTED"), "{page}");
    assert!(
        page.contains("not run: seed-8-lower-memory-limit"),
        "{page}"
    );
    let md = markdown::render(&s);
    assert!(md.contains("INTERRUPTED") && md.contains("1 of 2"), "{md}");
    let xml = junit::render(&s);
    assert!(
        xml.contains("the run finished") && xml.contains("<error"),
        "{xml}"
    );
    // A finished run says nothing of the kind.
    s.complete = true;
    assert!(!html::render(&s, None, &[]).contains("INTERRUPTED"));
    assert!(!junit::render(&s).contains("the run finished"));
}

/// KTAP of each recorded run: its snapshot; the strict parser (written from ktap.rst) accepts
/// it; a test per scenario, in order, with a subtest per case; results, directives and the
/// totals line as the verdicts say; the exit status kselftest reads.
#[test]
fn ktap_matches_its_snapshots_and_the_strict_parser_accepts_it() {
    use limitcheck_record::Verdict;
    use limitcheck_report::{cases, ktap};
    for (name, want_code) in [("pass", 0), ("fail", 1), ("inconclusive", 4)] {
        let s = load(&fixture(name)).unwrap();
        let (text, code) = ktap::render(&s);
        snapshot(name, "ktap", &text);
        assert_eq!(code, want_code, "{name}: exit status");
        let doc = limitcheck_testkit::ktap::must_parse(&text);
        assert_eq!(doc.tests.len(), s.scenarios.len(), "{name}");
        let mut totals = [0usize; 6];
        for (t, sc) in doc.tests.iter().zip(&s.scenarios) {
            assert_eq!(t.name, sc.name);
            let (ok, directive) = match sc.verdict {
                Verdict::Pass => (true, None),
                Verdict::Fail => (false, None),
                Verdict::Skip | Verdict::Inconclusive => (true, Some("SKIP")),
                Verdict::Error => (false, Some("ERROR")),
            };
            assert_eq!(
                (t.ok, t.directive.as_deref()),
                (ok, directive),
                "{}",
                sc.name
            );
            if sc.verdict == Verdict::Inconclusive {
                assert!(t.data.starts_with("inconclusive: "), "{}", t.data);
            }
            let cs = cases::of(sc);
            assert_eq!(t.subtests.len(), cs.len(), "{}", sc.name);
            for (sub, c) in t.subtests.iter().zip(&cs) {
                assert_eq!(sub.name, c.id);
                assert_eq!(sub.failed(), c.verdict == Verdict::Fail, "{}", c.id);
                // The measured value is on the diagnostic line before the result.
                if let Some(m) = c.measured {
                    let e = sc
                        .expectations
                        .iter()
                        .find(|e| e.measured == Some(m))
                        .unwrap();
                    assert!(
                        sub.diagnostics.iter().any(|d| d.contains(&e.show(m))),
                        "{}: {:?}",
                        c.id,
                        sub.diagnostics
                    );
                }
            }
            let slot = match (t.ok, t.directive.as_deref()) {
                (true, None) => 0,
                (false, None) => 1,
                (_, Some("SKIP")) => 4,
                _ => 5,
            };
            totals[slot] += 1;
        }
        assert_eq!(doc.totals, Some(totals), "{name}");
    }
}

/// Several runs as lanes (a matrix of runtimes or kernels): a test per lane with its scenarios
/// nested, strict all through (a lane's counts are a diagnostic, never a second totals line).
#[test]
fn ktap_of_lanes_nests_each_run_in_a_test() {
    use limitcheck_report::ktap;
    let lanes: Vec<(String, limitcheck_record::Summary)> = ["pass", "fail", "inconclusive"]
        .iter()
        .map(|n| (format!("lane-{n}"), load(&fixture(n)).unwrap()))
        .collect();
    let (text, code) = ktap::render_lanes(&lanes);
    assert_eq!(code, 1, "{text}");
    let doc = limitcheck_testkit::ktap::must_parse(&text);
    let got: Vec<(&str, bool, Option<&str>, usize)> = doc
        .tests
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.ok,
                t.directive.as_deref(),
                t.subtests.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("lane-pass", true, None, lanes[0].1.scenarios.len()),
            ("lane-fail", false, None, 1),
            ("lane-inconclusive", true, Some("SKIP"), 1)
        ],
        "{text}"
    );
    assert_eq!(doc.totals, Some([1, 1, 0, 0, 1, 0]), "{text}");
}

/// The kernel's own KTAP parser (tools/testing/kunit/kunit_parser.py from Debian's
/// linux-source) reads limitcheck's KTAP without an error, with the statuses and leaf counts
/// limitcheck meant.
#[test]
fn the_kernels_kunit_parser_reads_limitchecks_ktap() {
    use limitcheck_record::Verdict;
    use limitcheck_report::{cases, ktap};
    let test = "the_kernels_kunit_parser_reads_limitchecks_ktap";
    let Some(linux) = limitcheck_testkit::kernel_tools(test) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    for name in ["pass", "fail", "inconclusive"] {
        let s = load(&fixture(name)).unwrap();
        let (text, _) = ktap::render(&s);
        let file = t.path().join(format!("{name}.ktap"));
        std::fs::write(&file, &text).unwrap();
        let json = t.path().join(format!("{name}.json"));
        let o = std::process::Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kunit/parse.py"))
            .arg(linux.join("tools/testing/kunit"))
            .arg(&file)
            .arg(&json)
            .output()
            .expect("run python3");
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{name}: {said}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(
            got["errors"], 0,
            "{name}: kunit_parser found errors: {said}"
        );
        let leaves: Vec<Verdict> = s
            .scenarios
            .iter()
            .flat_map(|sc| {
                let cs = cases::of(sc);
                if cs.is_empty() {
                    vec![sc.verdict]
                } else {
                    cs.iter().map(|c| c.verdict).collect()
                }
            })
            .collect();
        let n = |f: &dyn Fn(&Verdict) -> bool| leaves.iter().filter(|v| f(v)).count();
        assert_eq!(got["passed"], n(&|v| *v == Verdict::Pass), "{name}: {said}");
        assert_eq!(
            got["failed"],
            n(&|v| matches!(v, Verdict::Fail | Verdict::Error)),
            "{name}: {said}"
        );
        assert_eq!(
            got["skipped"],
            n(&|v| matches!(v, Verdict::Skip | Verdict::Inconclusive)),
            "{name}: {said}"
        );
        let tops = got["tree"]["subtests"].as_array().unwrap();
        assert_eq!(tops.len(), s.scenarios.len());
        for (t, sc) in tops.iter().zip(&s.scenarios) {
            assert_eq!(t["name"], sc.name.as_str());
            let want = match sc.verdict {
                Verdict::Pass => "SUCCESS",
                Verdict::Fail | Verdict::Error => "FAILURE",
                Verdict::Skip | Verdict::Inconclusive => "SKIPPED",
            };
            assert_eq!(t["status"], want, "{}: {said}", sc.name);
        }
    }
}

/// KCIDB of each recorded run validates against kcidb-io's schema (v5.3, as kcidb-io checks
/// it: Draft 7 with the format checker), standing alone (its checkout and build made up from
/// the run) and with a CI system's --build-id; a test per scenario and per case, with the
/// paths, statuses and numbers the verdicts give. A planted bad document is refused, so the
/// validator is not a pass-through.
#[test]
fn kcidb_output_validates_against_kcidb_ios_schema() {
    use limitcheck_record::Verdict;
    use limitcheck_report::{cases, kcidb};
    let schema = fixture("kcidb/schema-v5.3.json");
    let validate = |doc: &serde_json::Value, file: &Path| {
        std::fs::write(file, serde_json::to_string_pretty(doc).unwrap()).unwrap();
        std::process::Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kcidb/validate.py"))
            .arg(&schema)
            .arg(file)
            .output()
            .expect("run python3 (with python3-jsonschema)")
    };
    let t = tempfile::tempdir().unwrap();
    for name in ["pass", "fail", "inconclusive"] {
        let s = load(&fixture(name)).unwrap();
        for build_id in [None, Some("kernelci:build-1234".to_string())] {
            let o = kcidb::Options {
                origin: "my_ci".into(),
                build_id: build_id.clone(),
            };
            let doc = kcidb::render(&s, &o);
            let file = t.path().join(format!("{name}.json"));
            let out = validate(&doc, &file);
            assert!(
                out.status.success(),
                "{name} ({build_id:?}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(doc["builds"].is_array(), build_id.is_none());
            let tests = doc["tests"].as_array().unwrap();
            let want: usize = s.scenarios.iter().map(|sc| 1 + cases::of(sc).len()).sum();
            assert_eq!(tests.len(), want, "{name}");
            for sc in &s.scenarios {
                let base = format!("limitcheck.{}", cases::slug(&sc.name));
                let top = tests.iter().find(|t| t["path"] == base.as_str()).unwrap();
                let status = match sc.verdict {
                    Verdict::Pass => "PASS",
                    Verdict::Fail => "FAIL",
                    Verdict::Error => "ERROR",
                    Verdict::Inconclusive => "DONE",
                    Verdict::Skip => "SKIP",
                };
                assert_eq!(top["status"], status, "{base}");
                for c in cases::of(sc) {
                    let path = format!("{base}.{}", c.id);
                    let t = tests.iter().find(|t| t["path"] == path.as_str()).unwrap();
                    assert_eq!(t["build_id"], doc["tests"][0]["build_id"]);
                    if let Some(m) = c.measured {
                        assert_eq!(t["number"]["value"].as_f64(), Some(m), "{path}");
                        if c.unit == "bytes" {
                            assert_eq!(t["number"]["unit"], "B");
                            assert_eq!(t["number"]["prefix"], "binary");
                        }
                    }
                }
            }
            let ids: std::collections::HashSet<&str> =
                tests.iter().map(|t| t["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), tests.len(), "ids are unique");
        }
    }
    // The validator refuses what the schema forbids.
    let mut bad = kcidb::render(&load(&fixture("pass")).unwrap(), &kcidb::Options::default());
    bad["tests"][0]["status"] = "BROKEN".into();
    bad["tests"][1]["path"] = "limitcheck.a b".into();
    let out = validate(&bad, &t.path().join("bad.json"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && said.contains("BROKEN") && said.contains("a b"),
        "{said}"
    );
}
