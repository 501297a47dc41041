//! The cgroup layer's error type.
//!
//! Every variant that touches a file carries the path, and writes carry the value written, so an
//! error printed at the top of a run says exactly which kernel file refused what. The kernel's errno
//! is kept: [`CgroupError::errno`] turns a refused write back into `EBUSY`, `EINVAL`, ... so that a
//! scenario can expect a specific refusal (the seed experiment 8: lowering
//! `memory.limit_in_bytes` below what cannot be reclaimed fails with `EBUSY` on cgroup v1).

use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// Result alias of this crate.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// What went wrong while detecting, reading, writing, creating or removing cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file could not be read. Usually the file does not exist on this kernel or cgroup
    /// version (see [`crate::doctor`]); retrying will not help.
    #[error("cannot read {}: {}", path.display(), IoDisplay(source))]
    Read {
        /// The file that was read.
        path: PathBuf,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// The kernel refused a write. The errno is the kernel's answer and is part of what a scenario
    /// may check (`EBUSY` when a v1 memory limit cannot be lowered, `EINVAL` for a value out of
    /// range, `ENOENT` when the file does not exist on this kernel).
    #[error("cannot write {value:?} to {}: {}", path.display(), IoDisplay(source))]
    Write {
        /// The file that was written.
        path: PathBuf,
        /// The exact text that was written.
        value: String,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// A cgroup directory could not be created or removed, or listed.
    #[error("cannot {op} {}: {}", path.display(), IoDisplay(source))]
    Dir {
        /// `create`, `remove` or `list`.
        op: &'static str,
        /// The directory.
        path: PathBuf,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// A file's text did not have the format this crate knows. This is a bug or an unknown kernel
    /// format: report it with the text shown.
    #[error("cannot parse {} ({what}): {reason}; text was {text:?}", path.display())]
    Parse {
        /// The file whose text was parsed (empty for pure parsing of a literal).
        path: PathBuf,
        /// What was expected, e.g. `"cpu.max"`.
        what: &'static str,
        /// The text that failed to parse (trimmed to 200 bytes).
        text: String,
        /// Why it failed.
        reason: String,
    },
    /// A controller this operation needs is not mounted or not enabled on this host.
    #[error("the {controller} controller is not available on this host: {hint}")]
    MissingController {
        /// The controller's kernel name (`cpu`, `memory`, ...).
        controller: &'static str,
        /// What to do about it.
        hint: String,
    },
    /// The limit or statistic does not exist on this cgroup version or kernel.
    #[error("{what} is not supported on {version}: {hint}")]
    Unsupported {
        /// The limit or file.
        what: String,
        /// `cgroup v1` or `cgroup v2`, maybe with the kernel file that is missing.
        version: &'static str,
        /// What to use instead.
        hint: String,
    },
    /// A value cannot be expressed on this hierarchy (e.g. memory+swap below memory).
    #[error("invalid value for {what}: {reason}")]
    InvalidValue {
        /// The limit.
        what: String,
        /// Why and what to do instead.
        reason: String,
    },
    /// A path that should be a cgroup filesystem is not: on a hybrid host, writing under the tmpfs
    /// at `/sys/fs/cgroup` would silently create plain files, so this crate refuses.
    #[error("{} is not a cgroup filesystem (statfs magic {magic:#x}); refusing to use it", path.display())]
    NotCgroupFs {
        /// The path that was checked.
        path: PathBuf,
        /// The filesystem magic found.
        magic: i64,
    },
    /// No cgroup filesystem is mounted at all.
    #[error("no cgroup filesystem is mounted (read {}); mount cgroup2 at /sys/fs/cgroup or the v1 controllers under it", path.display())]
    NoCgroupFs {
        /// The mountinfo file that was read.
        path: PathBuf,
    },
    /// Processes stayed in the cgroup although they were killed (uninterruptible sleep, or a
    /// process outside our control keeps moving tasks in). Retry later; the pids are listed.
    #[error("{} still holds processes {pids:?} after {waited_ms} ms; it was not removed", path.display())]
    StillBusy {
        /// The cgroup directory.
        path: PathBuf,
        /// The pids still in it.
        pids: Vec<i32>,
        /// How long we waited.
        waited_ms: u64,
    },
}

impl CgroupError {
    /// The kernel's errno behind this error, if it came from a system call.
    ///
    /// ```
    /// use limitcheck_cgroup::CgroupError;
    /// use nix::errno::Errno;
    /// let e = CgroupError::Write {
    ///     path: "/sys/fs/cgroup/memory/x/memory.limit_in_bytes".into(),
    ///     value: "104857600".into(),
    ///     source: std::io::Error::from_raw_os_error(libc::EBUSY),
    /// };
    /// assert_eq!(e.errno(), Some(Errno::EBUSY));
    /// assert!(e.to_string().contains("EBUSY"));
    /// ```
    pub fn errno(&self) -> Option<Errno> {
        match self {
            CgroupError::Read { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Dir { source, .. } => source.raw_os_error().map(Errno::from_raw),
            _ => None,
        }
    }

    pub(crate) fn parse(what: &'static str, text: &str, reason: impl Into<String>) -> Self {
        let mut text = text.to_string();
        if text.len() > 200 {
            let mut cut = 200;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        CgroupError::Parse {
            path: PathBuf::new(),
            what,
            text,
            reason: reason.into(),
        }
    }

    /// Attaches the file a parse error came from.
    pub(crate) fn at(mut self, file: &std::path::Path) -> Self {
        if let CgroupError::Parse { path, .. } = &mut self {
            *path = file.to_path_buf();
        }
        self
    }
}

/// Shows an I/O error as `EBUSY (Device or resource busy)` when it carries an errno.
struct IoDisplay<'a>(&'a io::Error);

impl fmt::Display for IoDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => write!(
                f,
                "{:?} ({})",
                Errno::from_raw(code),
                Errno::from_raw(code).desc()
            ),
            None => write!(f, "{}", self.0),
        }
    }
}
