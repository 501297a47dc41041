//! `limitcheck report` and `limitcheck compare`.

use std::process::ExitCode;

use anyhow::Context;
use limitcheck_report::{compare as cmp, html, load, render};

use crate::cli::{CompareArgs, ReportArgs, EXIT_FAILED, EXIT_OK};

/// Renders a run's reports again.
pub fn report(a: &ReportArgs) -> anyhow::Result<ExitCode> {
    if a.kcidb {
        let o = limitcheck_report::kcidb::Options {
            origin: a.origin.clone(),
            build_id: a.build_id.clone(),
        };
        limitcheck_report::kcidb::check(&o).map_err(anyhow::Error::msg)?;
        if limitcheck_report::matrix::columns(&a.run_dir)?.len() > 1 {
            anyhow::bail!(
                "{} is a matrix: give one of its columns' run directories (each is its own \
                 build or runtime in KCIDB)",
                a.run_dir.display()
            );
        }
        let doc = limitcheck_report::kcidb::render(&load(&a.run_dir)?, &o);
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::from(EXIT_OK));
    }
    if a.ktap {
        let (text, code) = limitcheck_vm::ktap_dir(&a.run_dir)?;
        print!("{text}");
        return Ok(ExitCode::from(code));
    }
    for f in render(&a.run_dir)? {
        println!("wrote {}", f.display());
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Compares two runs; exit 1 on a regression.
pub fn compare(a: &CompareArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..1.0).contains(&a.threshold) {
        anyhow::bail!(
            "--threshold {}: give a fraction such as 0.02 (two percent)",
            a.threshold
        );
    }
    let base = load(&a.baseline)?;
    let run = load(&a.run)?;
    let c = cmp::compare(&base, &run, a.threshold);
    print!("{}", cmp::text_table(&c));
    if a.run.is_dir() {
        let path = a.run.join("index.html");
        let charts = limitcheck_report::charts::render_all(&a.run, &run)?;
        std::fs::write(&path, html::render(&run, Some(&c), &charts))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("comparison written into {}", path.display());
    }
    Ok(ExitCode::from(if c.regressions() > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }))
}
