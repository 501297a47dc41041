//! `limitcheck`: proves by measurement that Linux resource limits do what they claim.
//!
//! The binary is thin: it parses flags ([`cli`]) and hands each verb to a small module under
//! [`commands`], which calls the libraries. Exit status is a contract for CI: see
//! [`cli::EXIT_HELP`].

mod cli;
mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The limitcheck binary is also its containers' init.
    limitcheck_runtime::init::run_if_init();
    // ... and, in `limitcheck vm`, the guest's /init.
    if limitcheck_vm::guest::is_guest_init() {
        limitcheck_vm::guest::run_guest_init();
    }
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Doctor(a) => commands::doctor::run(&a),
        cli::Command::Stress(a) => commands::stress::run(&a),
        cli::Command::Run(a) => commands::run::run(&a),
        cli::Command::Validate(a) => commands::run::validate(&a),
        cli::Command::Report(a) => commands::report::report(&a),
        cli::Command::Compare(a) => commands::report::compare(&a),
        cli::Command::Cleanup => commands::run::cleanup(),
        cli::Command::Guard(a) => commands::run::guard(&a),
        cli::Command::Vm(a) => commands::vm::run(&a),
        cli::Command::Kernel(a) => commands::vm::kernel(&a),
        cli::Command::Pack(a) => commands::report::pack(&a),
        cli::Command::Image(a) => commands::image::run(&a),
        cli::Command::Matrix(a) => commands::report::matrix(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "limitcheck: error: {e:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
