//! `limitcheck run`, `validate` and `cleanup`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use limitcheck_scenario::runner::{self, RunOptions};
use limitcheck_scenario::suite;

use crate::cli::{RunArgs, ValidateArgs, EXIT_ERROR, EXIT_OK};

static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: an atomic load of an initialised pointer and an atomic store.
    if let Some(f) = STOP.get() {
        f.store(true, Ordering::Relaxed);
    }
}

/// SIGINT and SIGTERM set a flag the runner checks: it stops, removes its containers, and
/// writes what it measured.
pub fn install_stop_handler() -> Arc<AtomicBool> {
    let flag = Arc::clone(STOP.get_or_init(|| Arc::new(AtomicBool::new(false))));
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installing a handler that only stores to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    flag
}

/// Runs the scenarios.
pub fn run(a: &RunArgs) -> anyhow::Result<ExitCode> {
    let Some(files) = checked_files(&a.paths)? else {
        return Ok(ExitCode::from(EXIT_ERROR));
    };
    if !limitcheck_cgroup::nix::unistd::geteuid().is_root() {
        bail!("limitcheck run needs root: it creates cgroups and containers (try sudo)");
    }
    let exe = std::env::current_exe().context("cannot find the limitcheck binary")?;
    let run_id = suite::run_id();
    let run_dir = a
        .report_dir
        .clone()
        .unwrap_or_else(|| suite::default_run_dir(&run_id));
    let opts = RunOptions {
        runtime_root: a.root.clone(),
        exe,
        run_dir: run_dir.clone(),
        run_id,
        stop: install_stop_handler(),
        kmsg_markers: false,
        retries: a.retries,
        retry_pause: std::time::Duration::try_from_secs_f64(a.retry_pause).map_err(|_| {
            anyhow::anyhow!("--retry-pause {}: give seconds, 0 or more", a.retry_pause)
        })?,
    };
    // On a terminal a live line (progress and each container's CPU and memory) is redrawn in
    // place on stderr; in CI logs only the plain lines appear.
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let mut out = std::io::stdout();
    let mut live_fn = |line: &str| {
        let _ = write!(std::io::stderr(), "\r\x1b[2K{line}");
    };
    let live: Option<&mut dyn FnMut(&str)> = if tty { Some(&mut live_fn) } else { None };
    let summary = suite::run_all(
        &files,
        &opts,
        env!("CARGO_PKG_VERSION"),
        &mut |line| {
            if tty {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
            let _ = writeln!(out, "{line}");
        },
        live,
        &mut |_| {},
    )
    .map_err(anyhow::Error::msg)?;
    let code = suite::exit_code(&summary.scenarios);
    limitcheck_report::render(&run_dir)?;
    writeln!(
        out,
        "\nreport: {}/index.html (summary.json, samples.csv, host.csv, junit.xml, summary.md)",
        run_dir.display()
    )?;
    if opts.stop.load(Ordering::Relaxed) {
        bail!(
            "interrupted: containers stopped and removed; partial results in {}",
            run_dir.display()
        );
    }
    Ok(ExitCode::from(code))
}

/// The scenario files named (directories expanded), every one checked: `None`, after printing
/// every problem found, when any is broken.
pub fn checked_files(
    paths: &[std::path::PathBuf],
) -> anyhow::Result<Option<Vec<std::path::PathBuf>>> {
    let files = suite::collect(paths)?;
    let problems = suite::validate(&files);
    for p in &problems {
        eprintln!("limitcheck: {p}");
    }
    Ok(problems.is_empty().then_some(files))
}

/// Checks the scenario files.
pub fn validate(a: &ValidateArgs) -> anyhow::Result<ExitCode> {
    match checked_files(&a.paths)? {
        Some(files) => {
            println!("{} scenario file(s) valid", files.len());
            Ok(ExitCode::from(EXIT_OK))
        }
        None => Ok(ExitCode::from(EXIT_ERROR)),
    }
}

/// Removes what killed runs left.
pub fn cleanup() -> anyhow::Result<ExitCode> {
    let layout = limitcheck_cgroup::Layout::detect()?;
    let removed = runner::cleanup(std::path::Path::new("/run/limitcheck"), &layout);
    if removed.is_empty() {
        println!("nothing to clean up");
    }
    for r in removed {
        println!("removed {r}");
    }
    Ok(ExitCode::from(EXIT_OK))
}
