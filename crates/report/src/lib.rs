//! limitcheck's reports, rendered from a run directory alone (its `summary.json`), so that a
//! run can be rendered again after an upgrade: `index.html` (one self-contained file),
//! `junit.xml` for CI systems, `summary.md` for CI step summaries, and the `compare` gate that
//! flags regressions between two runs of the same scenarios.
//!
//! ```no_run
//! let written = limitcheck_report::render("reports/20261128T030034".as_ref())?;
//! println!("wrote {written:?}");
//! # Ok::<(), limitcheck_report::ReportError>(())
//! ```

#![deny(missing_docs)]

pub mod cases;
pub mod charts;
pub mod compare;
pub mod html;
pub mod junit;
pub mod kcidb;
pub mod ktap;
pub mod markdown;
pub mod matrix;
pub mod model;

use std::path::{Path, PathBuf};

pub use model::{load, Summary};

/// What went wrong rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run's data could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The run's record is unreadable or malformed.
    #[error(transparent)]
    Record(#[from] limitcheck_record::RecordError),
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Renders `index.html` (with the charts inline), `charts/*.png|svg`, `junit.xml` and
/// `summary.md` into the run directory from its `summary.json` and `samples.csv`; returns the
/// files written.
pub fn render(run_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let summary = load(run_dir)?;
    let charts = charts::render_all(run_dir, &summary)?;
    let outputs = [
        ("index.html", html::render(&summary, None, &charts)),
        ("junit.xml", junit::render(&summary)),
        ("summary.md", markdown::render(&summary)),
    ];
    let mut written = Vec::new();
    for (name, text) in outputs {
        let path = run_dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError::Write {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
