//! Why a run could not start or go on. A scenario's own troubles (a dead workload, a limit the
//! kernel lacks, a blocked step) are verdicts in its result, not these: a [`RunError`] is what
//! stops the whole run (exit 2) before or between scenarios.

use std::path::PathBuf;

use limitcheck_cgroup::CgroupError;
use limitcheck_record::RecordError;

use crate::model::ScenarioError;

/// Why a run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A scenario file is wrong (file, line, key and fix).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The host's cgroup layout could not be read.
    #[error("cannot read the host's cgroup layout: {0}")]
    Layout(#[from] CgroupError),
    /// The run's record (summary.json, the samples) could not be written.
    #[error("cannot write the run's record: {0}")]
    Record(#[from] RecordError),
    /// A directory or file of the run's own could not be made.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was tried ("create", "write").
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// This process's start time (which makes its ownership record unambiguous) is unreadable.
    #[error("cannot read this process's start time from /proc/{pid}/stat")]
    StartTime {
        /// This process.
        pid: u32,
    },
    /// The run's guardian (which removes its containers if it is killed) could not start.
    #[error("cannot start the run's guardian ({} guard): {source}", exe.display())]
    Guardian {
        /// The limitcheck binary.
        exe: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}
