//! The runtime's error type.

use std::io;
use std::path::PathBuf;

use limitcheck_cgroup::CgroupError;
use nix::errno::Errno;

/// Result alias of this crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// What went wrong while creating, running or managing a container.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The bundle's `config.json` (or an in-memory spec) is invalid. Fix the named field.
    #[error("{file}: {field}: {reason}")]
    Spec {
        /// The file (or `spec` for an in-memory one).
        file: String,
        /// The JSON path of the field, e.g. `linux.resources.cpu.quota`.
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A file operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A system call failed.
    #[error("{op}: {errno:?} ({})", errno.desc())]
    Sys {
        /// The call and its argument, e.g. `pivot_root /run/x/rootfs`.
        op: String,
        /// The kernel's errno.
        errno: Errno,
    },
    /// The cgroup layer refused.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// An image could not be read or unpacked.
    #[error("image {source_name}: {error}")]
    Image {
        /// The image as it was named (`oci:DIR:TAG`).
        source_name: String,
        /// What went wrong.
        error: limitcheck_image::ImageError,
    },
    /// The container's init process failed while setting up the container.
    #[error("container init failed: {0}")]
    Init(String),
    /// No container of this id under the runtime root.
    #[error("container {id:?} does not exist (no {})", path.display())]
    NotFound {
        /// The id.
        id: String,
        /// Where its state would be.
        path: PathBuf,
    },
    /// A container of this id exists already.
    #[error("container {id:?} already exists; delete it first or pick another id")]
    Exists {
        /// The id.
        id: String,
    },
    /// The operation is not valid in the container's current state.
    #[error("cannot {op} container {id:?}: it is {status}{hint}")]
    BadState {
        /// The id.
        id: String,
        /// The operation.
        op: &'static str,
        /// Its current status.
        status: String,
        /// What to do instead, starting with "; ".
        hint: String,
    },
    /// Another OCI runtime (runc, crun, ...) driven through its command line failed.
    #[error("{runtime} {op} failed ({status}): {said}")]
    External {
        /// The runtime's name.
        runtime: String,
        /// The subcommand.
        op: &'static str,
        /// How it ended.
        status: String,
        /// The end of what it printed.
        said: String,
    },
    /// A hook failed or timed out.
    #[error("{kind} hook {path} failed: {reason}")]
    Hook {
        /// Which hook list.
        kind: &'static str,
        /// The hook's program.
        path: String,
        /// Exit status or timeout.
        reason: String,
    },
}

impl RuntimeError {
    /// The kernel's errno behind this error, if any.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            RuntimeError::Sys { errno, .. } => Some(*errno),
            RuntimeError::Io { source, .. } => source.raw_os_error().map(Errno::from_raw),
            RuntimeError::Cgroup(e) => e.errno(),
            // Runtimes print the kernel's error as its text: "...: invalid argument".
            RuntimeError::External { said, .. } => errno_in_text(said),
            _ => None,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| RuntimeError::Io { op, path, source }
    }

    pub(crate) fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> Self {
        let op = op.into();
        move |errno| RuntimeError::Sys { op, errno }
    }
}

impl RuntimeError {
    /// The message a container init reports to the runtime, which wraps it in
    /// [`RuntimeError::Init`] again: without the "container init failed" prefix, so it is not
    /// said twice.
    pub fn init_message(&self) -> String {
        match self {
            RuntimeError::Init(m) => m.clone(),
            e => e.to_string(),
        }
    }
}

/// The errno whose description ends `text` (or one of its ` | `-joined lines), as Go and C
/// runtimes print a failed write: `write /sys/fs/cgroup/...: invalid argument`.
fn errno_in_text(text: &str) -> Option<Errno> {
    let lower = text.to_lowercase();
    (1..134)
        .map(Errno::from_raw)
        .filter(|e| *e != Errno::UnknownErrno)
        .find(|e| {
            let d = e.desc().to_lowercase();
            lower
                .split(" | ")
                .any(|l| l.trim_end().ends_with(&d) || l.contains(&format!("{d}\"")))
        })
}
