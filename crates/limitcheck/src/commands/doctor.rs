//! `limitcheck doctor`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use limitcheck_cgroup::doctor::HostReport;

use crate::cli::{DoctorArgs, EXIT_FAILED, EXIT_OK};

/// Prints the host report; fails (exit 1) when the host cannot run scenarios.
pub fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let report = HostReport::gather();
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut v = serde_json::to_value(&report).context("cannot serialize the report")?;
        v["limitations"] = serde_json::to_value(report.limitations())?;
        v["usable"] = report.usable().into();
        let text = serde_json::to_string_pretty(&v).context("cannot serialize the report")?;
        writeln!(out, "{text}")?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()?;
    Ok(ExitCode::from(if report.usable() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }))
}
