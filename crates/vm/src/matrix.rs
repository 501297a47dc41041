//! Several kernels, one table: the report crate's [matrix](limitcheck_report::matrix) with a
//! column per kernel (its version; the outcome of its guest), written at the top of the run
//! directory, each kernel's own run in a subdirectory.

use std::path::Path;

use limitcheck_report::matrix::{self, ColumnRun};

use crate::KernelRun;

/// Writes `matrix.html`, `matrix.md` and `matrix.json` into `dir` from the kernels' runs.
pub fn write(dir: &Path, runs: &[KernelRun]) -> Result<(), crate::VmError> {
    let columns: Vec<ColumnRun> = runs
        .iter()
        .map(|r| ColumnRun {
            label: r.version.clone(),
            dir: r.dir.clone(),
            outcome: r.outcome.clone(),
            exit_code: r.exit_code,
            detail: format!("{}, cgroup {}", r.accel, r.cgroup),
        })
        .collect();
    matrix::write(dir, "kernel", &columns)
        .map(|_| ())
        .map_err(|e| match e {
            limitcheck_report::ReportError::Write { path, source } => {
                crate::error::io("write", path)(source)
            }
            source => crate::VmError::Report {
                dir: dir.to_path_buf(),
                source,
            },
        })
}
