//! Command-line flags (clap). No logic lives here.

use clap::{Args, Parser, Subcommand};

/// Everything passed / the host is usable.
pub const EXIT_OK: u8 = 0;
/// A verdict failed / the host cannot run scenarios.
pub const EXIT_FAILED: u8 = 1;
/// Bad input or an error while running.
pub const EXIT_ERROR: u8 = 2;

/// Text shown under `--help`.
pub const EXIT_HELP: &str = "\
Exit status: 0 all passed (doctor: this host can run scenarios), 1 a verdict failed \
(doctor: it cannot), 2 an error (bad input, missing permission, kernel refusal).";

/// limitcheck proves, by measurement, that Linux resource limits do what they claim.
///
/// It creates cgroups (and, soon, containers), runs stress workloads in them, changes limits while
/// they run, samples what the kernel really gives from /sys/fs/cgroup and /proc, and judges each
/// expectation pass or fail. Start with `limitcheck doctor` to see what this host can check.
#[derive(Debug, Parser)]
#[command(name = "limitcheck", version, after_help = EXIT_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the host's cgroup mode, controllers, kernel features, and what scenarios cannot
    /// check here and why.
    ///
    /// Run as root for a complete answer: doctor then creates a short-lived probe cgroup under
    /// limitcheck/ to see which files a real cgroup has on this kernel, and removes it.
    #[command(after_help = EXIT_HELP)]
    Doctor(DoctorArgs),
}

/// Flags of `limitcheck doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}
