//! The run as the reports read it: the typed record the runner writes
//! ([`limitcheck_record`]), under the names the reports use.

use std::path::Path;

pub use limitcheck_record::{
    Attempt, ExpectResult as Expectation, HostInfo as Host, LimitPoint, ScenarioResult as Scenario,
    StepResult as Step, Summary, Verdict, VmInfo as Vm,
};

use crate::ReportError;

/// Reads a run, samples and all: `path` is the run directory or its summary.json.
pub fn load(path: &Path) -> Result<Summary, ReportError> {
    limitcheck_record::load_run(path).map_err(ReportError::from)
}
