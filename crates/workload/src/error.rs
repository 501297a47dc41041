//! The workload crate's error type.

use nix::errno::Errno;

/// Result alias of this crate.
pub type Result<T, E = WorkloadError> = std::result::Result<T, E>;

/// What went wrong running a stressor.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// An argument is invalid; the message says which and what to give instead.
    #[error("{option}: {reason}")]
    Arg {
        /// The option, e.g. `--bytes`.
        option: &'static str,
        /// Why, and what to give.
        reason: String,
    },
    /// A system call failed.
    #[error("{op}: {errno:?} ({})", errno.desc())]
    Sys {
        /// What was attempted.
        op: String,
        /// The kernel's errno.
        errno: Errno,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A worker failed in a way that is not a kill (a bug or a host problem).
    #[error("worker {index} failed: {reason}")]
    Worker {
        /// Which worker.
        index: usize,
        /// Its exit status.
        reason: String,
    },
}
