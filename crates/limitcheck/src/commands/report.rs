//! `limitcheck report` and `limitcheck compare`.

use std::process::ExitCode;

use anyhow::Context;
use limitcheck_report::{compare as cmp, html, load, render};

use crate::cli::{CompareArgs, MatrixArgs, PackArgs, ReportArgs, EXIT_FAILED, EXIT_OK};

/// Renders a run's reports again.
pub fn report(a: &ReportArgs) -> anyhow::Result<ExitCode> {
    if a.lava {
        for line in limitcheck_kernelci::lava::cases(&load(&a.run_dir)?) {
            println!("{line}");
        }
        return Ok(ExitCode::from(EXIT_OK));
    }
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

/// `limitcheck pack kselftest|overlay OUT SCENARIOS...`.
pub fn pack(a: &PackArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the limitcheck binary")?;
    if a.kind == "kselftest" {
        let written = limitcheck_kernelci::kselftest::write_target(&a.out, &exe, &a.paths)?;
        println!(
            "wrote the kselftest target {} ({} files): put it at \
             tools/testing/selftests/limitcheck and run `make -C tools/testing/selftests \
             TARGETS=limitcheck run_tests`",
            a.out.display(),
            written.len()
        );
    } else {
        let names = limitcheck_kernelci::overlay::write(&a.out, &exe, &a.paths)?;
        println!(
            "wrote the overlay {} ({} entries under /{}): tuxrun --overlay {} -- \
             /{}/run.sh /tmp/limitcheck",
            a.out.display(),
            names.len(),
            limitcheck_kernelci::overlay::PREFIX,
            a.out.display(),
            limitcheck_kernelci::overlay::PREFIX
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// `limitcheck matrix RUN_DIR...`: one matrix of runs made apart; exit 1 on a regression.
pub fn matrix(a: &MatrixArgs) -> anyhow::Result<ExitCode> {
    let columns = limitcheck_report::matrix::gather(&a.run_dirs)?;
    let out = a.out.clone().unwrap_or_else(|| {
        limitcheck_scenario::suite::default_run_dir(&format!(
            "matrix-{}",
            limitcheck_scenario::suite::run_id()
        ))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let regressions = limitcheck_report::matrix::write(&out, "run", &columns)?;
    for c in &columns {
        println!("{}: {} ({})", c.label, c.outcome, c.dir.display());
    }
    println!(
        "{regressions} regression(s) against {}; matrix: {}/matrix.html (matrix.md, matrix.json)",
        columns[0].label,
        out.display()
    );
    Ok(ExitCode::from(if regressions > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }))
}
