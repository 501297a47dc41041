//! Why `limitcheck vm` could not run (exit 2). What a guest does wrong — a panic, a hang, a
//! WARN — is an outcome with its own exit status, not one of these.

use std::path::PathBuf;

use limitcheck_report::ReportError;
use limitcheck_scenario::RunError;

use crate::kernel::KernelError;

/// Why `limitcheck vm`, or a step of it, could not run.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A file or directory could not be read, written or created.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was tried ("read", "write", "create", "rename", "lock").
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A kernel that cannot be booted.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// A bzImage whose vmlinux cannot be taken out (it is then booted as it is).
    #[error("cannot extract vmlinux from {}: {why}", path.display())]
    Extract {
        /// The bzImage.
        path: PathBuf,
        /// Why, with the fix.
        why: String,
    },
    /// A program limitcheck runs (qemu, apt-get, dpkg-deb) is missing or failed.
    #[error("{program}: {why}")]
    Program {
        /// The program, as run.
        program: String,
        /// What it said, and the fix.
        why: String,
    },
    /// qemu could not be started or watched.
    #[error("cannot boot the guest: {0}")]
    Boot(#[source] std::io::Error),
    /// A Debian kernel package that cannot be followed to a kernel.
    #[error("Debian package {package}: {why}")]
    Package {
        /// The package.
        package: String,
        /// Why.
        why: String,
    },
    /// `--accel kvm` on a host where KVM cannot boot the kernel.
    #[error("--accel kvm: KVM cannot boot {kernel} here: {reason}; use --accel auto or tcg")]
    NoKvm {
        /// The kernel's version.
        kernel: String,
        /// What the probe boot saw.
        reason: String,
    },
    /// The report of a kernel's run could not be rendered.
    #[error("the report in {}: {source}", dir.display())]
    Report {
        /// The run directory.
        dir: PathBuf,
        /// The error.
        #[source]
        source: ReportError,
    },
    /// In the guest: the run itself could not start or go on.
    #[error(transparent)]
    Run(#[from] RunError),
    /// In the guest: a system call of its setup failed (a mount, the root's move).
    #[error("{what}: {source}")]
    Guest {
        /// What was done, e.g. `mount cgroup2 on /sys/fs/cgroup`.
        what: String,
        /// The error.
        #[source]
        source: nix::errno::Errno,
    },
    /// In the guest: the cgroup layout asked for cannot be mounted on this kernel.
    #[error("--cgroup {layout}: this kernel has no cgroup v1 controller to mount ({fix})")]
    NoV1 {
        /// The layout asked for.
        layout: String,
        /// Why, and what to do.
        fix: &'static str,
    },
    /// In the guest: the `--guest-setup` script failed.
    #[error("the --guest-setup script failed ({status})")]
    SetupScript {
        /// How it ended.
        status: std::process::ExitStatus,
    },
    /// In the guest: the runner (the init's child) was killed.
    #[error("the guest runner was killed by {signal}")]
    RunnerKilled {
        /// The signal.
        signal: nix::sys::signal::Signal,
    },
    /// In the guest: its configuration is unreadable (a broken initramfs).
    #[error("{}: {source}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

/// The [`VmError::Io`] for `action` on `path`.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> VmError {
    let path = path.into();
    move |source| VmError::Io {
        action,
        path,
        source,
    }
}

/// The [`VmError::Guest`] for a failed system call.
pub(crate) fn sys(what: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> VmError {
    let what = what.into();
    move |source| VmError::Guest { what, source }
}
