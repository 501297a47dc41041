//! Several runs of the same scenarios, one table: a row per expectation, a column per run
//! (a kernel, for `limitcheck vm`; a runtime or engine, for `limitcheck run --runtime runc
//! --engine docker …`), each cell the measured value and verdict; then the regression table of
//! each run against the first (the [`compare`](crate::compare) gate). Written as
//! `matrix.html`, `matrix.md` and `matrix.json` at the top of the run directory, each column's
//! own run in a subdirectory.

use std::path::{Path, PathBuf};

use crate::compare::{self, Comparison, DEFAULT_THRESHOLD};
use crate::model::Summary;
use serde::Serialize;

/// One column: a run of the scenarios.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// What differs between the columns: the kernel's version, the runtime's name.
    pub label: String,
    /// Its run directory, relative to the matrix.
    pub dir: String,
    /// How the run ended.
    pub outcome: String,
    /// The exit status of its run.
    pub exit_code: u8,
    /// More about it, shown under the label (the runtime's version, its create→running time).
    pub detail: String,
}

/// One column before it is built: the column and where its run is.
#[derive(Debug, Clone)]
pub struct ColumnRun {
    /// What differs between the columns.
    pub label: String,
    /// Its run directory (with summary.json, if the run got that far).
    pub dir: PathBuf,
    /// How the run ended.
    pub outcome: String,
    /// The exit status of its run.
    pub exit_code: u8,
    /// More about it.
    pub detail: String,
}

/// One cell.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cell {
    /// The measurement, formatted in the metric's unit.
    pub measured: String,
    /// pass, fail, skip, error; "missing" when that column's run lacks the expectation.
    pub verdict: String,
}

/// One expectation across the columns.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The scenario.
    pub scenario: String,
    /// The expectation's name (`cpu.usage of hog over 2-6 s`).
    pub expectation: String,
    /// What was expected (`0.500 ± 5%`).
    pub expected: String,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

/// The matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    /// What the columns are: `kernel`, `runtime`.
    pub axis: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// The expectations.
    pub rows: Vec<Row>,
    /// Regressions of each later column against the first: (label, how many, text table).
    pub regressions: Vec<(String, usize, String)>,
    #[serde(skip)]
    comparisons: Vec<(String, Comparison)>,
}

/// The columns of the matrix in `dir` (its matrix.json): each one's label and run directory;
/// none when `dir` holds no matrix.
pub fn columns(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, crate::ReportError> {
    let f = dir.join("matrix.json");
    if !f.exists() {
        return Ok(Vec::new());
    }
    let bad = |reason: String| crate::ReportError::Read {
        path: f.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(&f).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    v["columns"]
        .as_array()
        .ok_or_else(|| bad("no columns".into()))?
        .iter()
        .map(|c| match (c["label"].as_str(), c["dir"].as_str()) {
            (Some(l), Some(d)) => Ok((l.to_string(), dir.join(d))),
            _ => Err(bad(format!("a column without a label and a dir: {c}"))),
        })
        .collect()
}

/// Builds the matrix from each column's run and its summary (None: the run gave none).
pub fn build(axis: &str, runs: &[(ColumnRun, Option<Summary>)], base_dir: &Path) -> Matrix {
    let columns = runs
        .iter()
        .map(|(r, _)| Column {
            label: r.label.clone(),
            dir: r
                .dir
                .strip_prefix(base_dir)
                .unwrap_or(&r.dir)
                .display()
                .to_string(),
            outcome: r.outcome.clone(),
            exit_code: r.exit_code,
            detail: r.detail.clone(),
        })
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    for (i, (_, s)) in runs.iter().enumerate() {
        let Some(s) = s else { continue };
        for sc in &s.scenarios {
            for e in &sc.expectations {
                let name = e.name();
                let pos = match rows
                    .iter()
                    .position(|r| r.scenario == sc.name && r.expectation == name)
                {
                    Some(p) => p,
                    None => {
                        rows.push(Row {
                            scenario: sc.name.clone(),
                            expectation: name.clone(),
                            expected: e.expected_text(),
                            cells: vec![
                                Cell {
                                    measured: "—".into(),
                                    verdict: "missing".into(),
                                };
                                runs.len()
                            ],
                        });
                        rows.len() - 1
                    }
                };
                rows[pos].cells[i] = Cell {
                    measured: e.measured.map(|m| e.show(m)).unwrap_or_else(|| "—".into()),
                    verdict: e.verdict.to_string(),
                };
            }
        }
    }
    // A scenario a column ran but measured nothing in (skipped, or an error before its
    // windows) shows its verdict in every row of it, not "missing".
    for (i, (_, s)) in runs.iter().enumerate() {
        let Some(s) = s else { continue };
        for r in rows.iter_mut().filter(|r| r.cells[i].verdict == "missing") {
            if let Some(sc) = s.scenarios.iter().find(|sc| sc.name == r.scenario) {
                r.cells[i].verdict = sc.verdict.to_string();
            }
        }
    }
    let mut regressions = Vec::new();
    let mut comparisons = Vec::new();
    if let Some((_, Some(base))) = runs.first() {
        for (r, s) in &runs[1..] {
            let Some(s) = s else { continue };
            let c = compare::compare(base, s, DEFAULT_THRESHOLD);
            regressions.push((r.label.clone(), c.regressions(), compare::text_table(&c)));
            comparisons.push((r.label.clone(), c));
        }
    }
    Matrix {
        axis: axis.to_string(),
        columns,
        rows,
        regressions,
        comparisons,
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The matrix as Markdown.
pub fn markdown(m: &Matrix) -> String {
    let mut out = format!(
        "# limitcheck: {} matrix\n\n| scenario | expectation | expected |",
        m.axis
    );
    for c in &m.columns {
        out.push_str(&format!(" {} |", c.label));
    }
    out.push_str("\n|---|---|---|");
    out.push_str(&"---|".repeat(m.columns.len()));
    out.push('\n');
    for r in &m.rows {
        out.push_str(&format!(
            "| {} | {} | {} |",
            r.scenario, r.expectation, r.expected
        ));
        for c in &r.cells {
            out.push_str(&format!(" {} {} |", c.measured, c.verdict.to_uppercase()));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\n| {} | outcome | exit status | detail |\n|---|---|---|---|\n",
        m.axis
    ));
    for c in &m.columns {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.label, c.outcome, c.exit_code, c.detail
        ));
    }
    for (k, n, table) in &m.regressions {
        out.push_str(&format!(
            "\n## {k} against {}: {n} regression(s)\n\n```\n{table}```\n",
            m.columns.first().map(|c| c.label.as_str()).unwrap_or("")
        ));
    }
    out
}

/// The matrix as a self-contained HTML page.
pub fn html(m: &Matrix) -> String {
    const STYLE: &str = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.pass{background:#e6f4e6}.fail,.error{background:#fbe3e3}.skip,.missing,.inconclusive{background:#f2f2f2;color:#666}";
    let mut b = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>limitcheck: {axis} matrix</title>\n<style>{STYLE}</style></head><body>\n<h1>limitcheck: {axis} matrix</h1>\n<table><tr><th>scenario</th><th>expectation</th><th>expected</th>",
        axis = esc(&m.axis)
    );
    for c in &m.columns {
        b.push_str(&format!(
            "<th><a href=\"{}/index.html\">{}</a><br><small>{} (exit {}){}</small></th>",
            esc(&c.dir),
            esc(&c.label),
            esc(&c.outcome),
            c.exit_code,
            if c.detail.is_empty() {
                String::new()
            } else {
                format!("<br>{}", esc(&c.detail))
            }
        ));
    }
    b.push_str("</tr>\n");
    for r in &m.rows {
        b.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            esc(&r.scenario),
            esc(&r.expectation),
            esc(&r.expected)
        ));
        for c in &r.cells {
            b.push_str(&format!(
                "<td class=\"{}\">{} {}</td>",
                esc(&c.verdict),
                esc(&c.measured),
                esc(&c.verdict.to_uppercase())
            ));
        }
        b.push_str("</tr>\n");
    }
    b.push_str("</table>\n");
    for (k, c) in &m.comparisons {
        b.push_str(&format!(
            "<h2>{} against {}</h2>\n",
            esc(k),
            esc(m.columns.first().map(|c| c.label.as_str()).unwrap_or(""))
        ));
        b.push_str(&compare::html_table(c));
    }
    b.push_str("</body></html>\n");
    b
}

/// Writes `matrix.html`, `matrix.md` and `matrix.json` into `dir` from the columns' runs
/// (each one's summary.json read from its directory; a run without one is all "missing").
pub fn write(dir: &Path, axis: &str, runs: &[ColumnRun]) -> Result<usize, crate::ReportError> {
    let loaded: Vec<(ColumnRun, Option<Summary>)> = runs
        .iter()
        .map(|r| (r.clone(), crate::model::load(&r.dir).ok()))
        .collect();
    let m = build(axis, &loaded, dir);
    let w = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|source| crate::ReportError::Write {
            path: dir.join(name).display().to_string(),
            source,
        })
    };
    w("matrix.md", markdown(&m))?;
    w("matrix.html", html(&m))?;
    w(
        "matrix.json",
        serde_json::to_string_pretty(&m).expect("serializes") + "\n",
    )?;
    Ok(m.regressions.iter().map(|(_, n, _)| n).sum())
}

/// Runs made apart — on other machines, kernels or runtimes, by LAVA, a CI matrix or
/// Kubernetes Jobs — as the columns of one matrix: each directory a run (its summary.json) or
/// a matrix (its columns), labelled by what it ran on (kernel, cgroup layout, runtime; the
/// directory's name where two would read the same), the first the baseline.
pub fn gather(dirs: &[PathBuf]) -> Result<Vec<ColumnRun>, crate::ReportError> {
    let mut out: Vec<ColumnRun> = Vec::new();
    for d in dirs {
        let cols = columns(d)?;
        let runs: Vec<(Option<String>, PathBuf)> = if cols.is_empty() {
            vec![(None, d.clone())]
        } else {
            cols.into_iter().map(|(l, p)| (Some(l), p)).collect()
        };
        for (label, dir) in runs {
            let s = crate::model::load(&dir)?;
            let runtime = s
                .host
                .runtime
                .as_deref()
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("lcrun")
                .to_string();
            let label = label.unwrap_or_else(|| {
                format!(
                    "{} {}{}",
                    s.host.kernel,
                    s.host.cgroup_mode,
                    if runtime == "lcrun" {
                        String::new()
                    } else {
                        format!(" {runtime}")
                    }
                )
            });
            let count =
                |v: crate::model::Verdict| s.scenarios.iter().filter(|x| x.verdict == v).count();
            use crate::model::Verdict as V;
            let outcome = [V::Pass, V::Fail, V::Error, V::Inconclusive, V::Skip]
                .into_iter()
                .filter(|v| count(*v) > 0)
                .map(|v| format!("{} {v}", count(v)))
                .collect::<Vec<_>>()
                .join(", ");
            let exit_code = if count(V::Fail) > 0 {
                1
            } else if count(V::Error) > 0 {
                2
            } else if count(V::Inconclusive) > 0 {
                6
            } else {
                0
            };
            out.push(ColumnRun {
                label,
                dir: std::path::absolute(&dir).unwrap_or(dir),
                outcome,
                exit_code,
                detail: format!(
                    "{} CPU(s), {:.1} GiB, {}; run {}",
                    s.host.cpus,
                    s.host.memory_bytes as f64 / (1u64 << 30) as f64,
                    s.host.runtime.as_deref().unwrap_or("lcrun"),
                    s.run_id
                ),
            });
        }
    }
    // Two columns that would read the same are told apart by where they came from.
    let labels: Vec<String> = out.iter().map(|c| c.label.clone()).collect();
    for i in 0..out.len() {
        if labels.iter().filter(|l| **l == labels[i]).count() > 1 {
            let from = out[i]
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out[i].label = format!("{} ({from}, {})", out[i].label, i + 1);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> Summary {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
            .join("summary.json");
        crate::model::load(&p).unwrap()
    }

    fn run(version: &str, dir: &str, code: u8) -> ColumnRun {
        ColumnRun {
            label: version.into(),
            dir: PathBuf::from("/m").join(dir),
            outcome: "the guest finished with status 0".into(),
            exit_code: code,
            detail: format!("{version} detail"),
        }
    }

    #[test]
    fn a_row_per_expectation_a_column_per_kernel_and_the_regressions() {
        let pass = fixture("pass");
        let fail = fixture("fail");
        let runs = vec![
            (run("6.1", "1-6.1", 0), Some(pass.clone())),
            (run("6.12", "2-6.12", 1), Some(fail.clone())),
            (run("6.18", "3-6.18", 3), None),
        ];
        let m = build("kernel", &runs, Path::new("/m"));
        assert_eq!(m.columns.len(), 3);
        assert_eq!(m.columns[1].dir, "2-6.12");
        let n_pass: usize = pass.scenarios.iter().map(|s| s.expectations.len()).sum();
        assert!(m.rows.len() >= n_pass);
        // The panicked kernel has no measurement anywhere.
        assert!(m.rows.iter().all(|r| r.cells[2].verdict == "missing"));
        // A scenario skipped in a column is "skip" in its rows there, not "missing".
        let mut skipped = pass.clone();
        let sc = skipped
            .scenarios
            .iter_mut()
            .find(|s| s.name == "pids-max")
            .unwrap();
        sc.verdict = limitcheck_record::Verdict::Skip;
        sc.expectations.clear();
        let m2 = build(
            "runtime",
            &[
                (run("lcrun", "1-lcrun", 0), Some(pass.clone())),
                (run("podman", "2-podman", 0), Some(skipped)),
            ],
            Path::new("/m"),
        );
        let pids: Vec<_> = m2
            .rows
            .iter()
            .filter(|r| r.scenario == "pids-max")
            .collect();
        assert!(!pids.is_empty());
        assert!(pids
            .iter()
            .all(|r| r.cells[1].verdict == "skip" && r.cells[0].verdict == "pass"));
        // Every expectation that failed in the failing run shows FAIL in its column.
        for s in &fail.scenarios {
            for e in s
                .expectations
                .iter()
                .filter(|e| e.verdict == limitcheck_record::Verdict::Fail)
            {
                let row = m
                    .rows
                    .iter()
                    .find(|r| r.scenario == s.name && r.expectation == e.name())
                    .unwrap();
                assert_eq!(row.cells[1].verdict, "fail");
            }
        }
        // The gate against the first kernel is the compare module's.
        assert_eq!(m.regressions.len(), 1);
        assert_eq!(
            m.regressions[0].1,
            compare::compare(&pass, &fail, DEFAULT_THRESHOLD).regressions()
        );
        let md = markdown(&m);
        assert!(
            md.contains("| 6.1 | 6.12 | 6.18 |") || md.contains(" 6.1 | 6.12 | 6.18 |"),
            "{md}"
        );
        let h = html(&m);
        assert!(h.contains("href=\"2-6.12/index.html\""));
        assert!(h.contains("class=\"fail\""));
        assert!(
            h.contains("6.12 detail") && md.contains("| 6.12 detail |"),
            "{md}"
        );
        assert!(h.contains("kernel matrix") && md.starts_with("# limitcheck: kernel matrix"));
    }

    /// Two expectations on one metric, container and window that differ in `only` (a v1 and
    /// a v2 bound; a bound for every host and a tighter one for native CPUs) are two rows: the
    /// one skipped in a column no longer hides the other's measurement there.
    #[test]
    fn expectations_that_differ_in_only_are_two_rows() {
        use limitcheck_record::Verdict;
        let mut s = fixture("pass");
        let sc = &mut s.scenarios[0];
        let mut v1 = sc.expectations[0].clone();
        v1.only = Some("v1".into());
        v1.verdict = Verdict::Pass;
        v1.measured = Some(0.66);
        let mut v2 = v1.clone();
        v2.only = Some("v2".into());
        v2.verdict = Verdict::Skip;
        v2.measured = None;
        sc.expectations = vec![v1.clone(), v2.clone()];
        let name = sc.name.clone();
        let m = build(
            "kernel",
            &[(run("6.1", "1", 0), Some(s.clone()))],
            Path::new("/m"),
        );
        let rows: Vec<_> = m.rows.iter().filter(|r| r.scenario == name).collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(
            rows[0].expectation.ends_with("(only v1)"),
            "{}",
            rows[0].expectation
        );
        assert_eq!(rows[0].cells[0].verdict, "pass");
        assert_eq!(rows[1].cells[0].verdict, "skip");
        // Against a baseline recorded before names had `only`, the base name matches.
        let mut old = s.clone();
        for e in &mut old.scenarios[0].expectations {
            e.only = None;
        }
        let c = compare::compare(&old, &s, DEFAULT_THRESHOLD);
        assert!(c.unmatched.is_empty(), "{:?}", c.unmatched);
        assert_eq!(c.rows.iter().filter(|r| r.scenario == name).count(), 2);
    }
}
