//! `limitcheck stress`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use limitcheck_workload::{run as run_stressor, Options, Stressor};

use crate::cli::{StressArgs, StressCommand, EXIT_OK};

/// Runs the stressor and prints (or writes) its final record.
pub fn run(a: &StressArgs) -> anyhow::Result<ExitCode> {
    let stressor = match &a.stressor {
        StressCommand::Cpu { workers, load } => Stressor::Cpu {
            workers: *workers,
            load: *load,
        },
        StressCommand::Vm {
            workers,
            bytes,
            keep,
            hang,
            leave,
        } => Stressor::Vm {
            workers: *workers,
            bytes: *bytes,
            keep: *keep,
            hang: *hang,
            leave: *leave,
        },
        StressCommand::Fork { processes } => Stressor::Fork {
            processes: *processes,
        },
        StressCommand::Burst {
            threads,
            run,
            sleep,
        } => Stressor::Burst {
            threads: *threads,
            run: *run,
            sleep: *sleep,
        },
        StressCommand::Kernel { workers, call } => Stressor::Kernel {
            workers: *workers,
            call: *call,
        },
        StressCommand::Fibtest {
            fast,
            threads,
            sleep,
        } => Stressor::Fibtest {
            fast: *fast,
            threads: *threads,
            sleep: *sleep,
        },
        StressCommand::Io {
            workers,
            bytes,
            read,
            direct,
            hang,
            dir,
        } => Stressor::Io {
            workers: *workers,
            bytes: *bytes,
            read: *read,
            direct: *direct,
            hang: *hang,
            dir: dir.clone(),
        },
    };
    let report = run_stressor(
        &stressor,
        &Options {
            timeout: a.timeout,
            counters_file: a.counters.clone(),
        },
    )?;
    let text = serde_json::to_string_pretty(&report)?;
    match &a.report {
        Some(path) => std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => writeln!(std::io::stdout(), "{text}")?,
    }
    Ok(ExitCode::from(EXIT_OK))
}
