//! `limitcheck run`, `validate` and `cleanup`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

use limitcheck_scenario::lane::{self, Lane};
use limitcheck_scenario::runner::RunOptions;
use limitcheck_scenario::suite;

use crate::cli::{GuardArgs, RunArgs, ValidateArgs, EXIT_ERROR, EXIT_OK};
use limitcheck_scenario::owner;

/// The runtime's state root by default: containers, bundles and run records.
pub const STATE_ROOT: &str = "/run/limitcheck";

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
    let exe = std::env::current_exe().context("cannot find the limitcheck binary")?;
    let lanes = lanes(a, &exe)?;
    if !limitcheck_cgroup::nix::unistd::geteuid().is_root() {
        bail!("limitcheck run needs root: it creates cgroups and containers (try sudo)");
    }
    let run_id = suite::run_id();
    // What dead runs left goes first; what live runs own stays, and they are named: two runs
    // at once disturb each other's measurements.
    let layout = limitcheck_cgroup::Layout::detect()?;
    let swept = owner::sweep_dead(&a.root, &layout);
    for r in &swept.removed {
        eprintln!("limitcheck: removed what a dead run left: {r}");
    }
    for r in &swept.failed {
        eprintln!("limitcheck: warning: cannot remove what a dead run left: {r}");
    }
    for r in owner::live_runs(&a.root) {
        eprintln!(
            "limitcheck: warning: another run is live on this host (run {}, pid {}): it shares \
             the CPUs, and both runs' measurements are disturbed",
            r.run_id, r.pid
        );
    }
    // Until this is dropped a guardian watches this process: if it dies in any way, its
    // containers are removed at once.
    let scratch = limitcheck_scenario::runner::scratch_dir(&run_id);
    let _ownership =
        owner::Ownership::claim(&a.root, &run_id, &exe, std::slice::from_ref(&scratch))?;
    let run_dir = a
        .report_dir
        .clone()
        .unwrap_or_else(|| suite::default_run_dir(&run_id));
    reproducer(a, &exe, &run_dir, &files, &layout)?;
    let stop = install_stop_handler();
    let options = |lane: &Lane, run_dir: PathBuf| -> anyhow::Result<RunOptions> {
        Ok(RunOptions {
            engine: lane.engine.clone(),
            runtime: lane.runtime.clone(),
            lane: lane.label.clone(),
            lanes_chosen: !(a.runtime.is_empty() && a.engine.is_empty()),
            runtime_root: a.root.clone(),
            exe: exe.clone(),
            scratch: scratch.clone(),
            swap_device: None,
            whole_machine: false,
            run_dir,
            run_id: run_id.clone(),
            stop: Arc::clone(&stop),
            kmsg_markers: false,
            retries: a.retries,
            retry_pause: std::time::Duration::try_from_secs_f64(a.retry_pause).map_err(|_| {
                anyhow::anyhow!("--retry-pause {}: give seconds, 0 or more", a.retry_pause)
            })?,
            step_deadline: std::time::Duration::try_from_secs_f64(a.step_timeout)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--step-timeout {}: give seconds, more than 0",
                        a.step_timeout
                    )
                })?,
        })
    };
    // On a terminal a live line (progress and each container's CPU and memory) is redrawn in
    // place on stderr; in CI logs only the plain lines appear.
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    // With --ktap stdout is the KTAP stream, and what people read is in it as diagnostic
    // lines (`# RUN cpu-halving ...`) at the level of the test they come before.
    let (ktap, header) = limitcheck_report::ktap::Live::new(lanes.len(), files.len());
    let ktap = std::cell::RefCell::new(ktap);
    let ktap_out = |text: &str| {
        if a.ktap && !text.is_empty() {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        }
    };
    let say = |text: &str| {
        if a.ktap {
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                ktap_out(&ktap.borrow_mut().diagnostic(l));
            }
        } else {
            let _ = writeln!(std::io::stdout(), "{text}");
        }
    };
    ktap_out(&header);
    let mut live_fn = |line: &str| {
        let _ = write!(std::io::stderr(), "\r\x1b[2K{line}");
    };
    let matrix = lanes.len() > 1;
    let mut results = Vec::new();
    let mut columns = Vec::new();
    for (i, lane) in lanes.iter().enumerate() {
        let dir = if matrix {
            run_dir.join(format!("{}-{}", i + 1, dir_name(lane)))
        } else {
            run_dir.clone()
        };
        let opts = options(lane, dir.clone())?;
        if matrix {
            say(&format!("== {} ({}/{})", lane.label, i + 1, lanes.len()));
        }
        let live: Option<&mut dyn FnMut(&str)> = if tty { Some(&mut live_fn) } else { None };
        ktap_out(&ktap.borrow_mut().begin_lane(files.len()));
        let summary = suite::run_all(
            &files,
            &opts,
            env!("CARGO_PKG_VERSION"),
            &mut |line| {
                if tty {
                    let _ = write!(std::io::stderr(), "\r\x1b[2K");
                }
                say(line);
            },
            live,
            &mut |so_far| ktap_out(&ktap.borrow_mut().results(so_far)),
        )?;
        ktap_out(&ktap.borrow_mut().end_lane(
            &lane.label,
            &summary,
            &limitcheck_report::ktap::Missing::NotRun,
        ));
        limitcheck_report::render(&dir)?;
        let code = suite::exit_code(&summary.scenarios);
        columns.push(limitcheck_report::matrix::ColumnRun {
            label: lane.label.clone(),
            dir: dir.clone(),
            outcome: suite::tally(&summary.scenarios),
            exit_code: code,
            detail: lane_detail(&summary),
        });
        results.extend(summary.scenarios);
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    if matrix {
        limitcheck_report::matrix::write(&run_dir, "runtime", &columns)?;
        say("");
        for c in &columns {
            say(&format!(
                "{}: {} (exit {}); {}",
                c.label, c.outcome, c.exit_code, c.detail
            ));
        }
        say(&format!(
            "\nmatrix: {}/matrix.html (matrix.md, matrix.json; each runtime's run in its \
             subdirectory)",
            run_dir.display()
        ));
    } else {
        say(&format!(
            "\nreport: {}/index.html (summary.json, samples.csv, host.csv, junit.xml, summary.md)",
            run_dir.display()
        ));
    }
    let (totals, ktap_code) = ktap.borrow().finish();
    ktap_out(&totals);
    let code = if a.ktap {
        ktap_code
    } else {
        suite::exit_code(&results)
    };
    if stop.load(Ordering::Relaxed) {
        bail!(
            "interrupted: containers stopped and removed; partial results in {}",
            run_dir.display()
        );
    }
    Ok(ExitCode::from(code))
}

/// Writes the run directory's reproduce.sh: this command with its flags, on copies of the
/// scenario files, with the host it ran on in its comments.
fn reproducer(
    a: &RunArgs,
    exe: &Path,
    run_dir: &Path,
    files: &[PathBuf],
    layout: &limitcheck_cgroup::Layout,
) -> anyhow::Result<()> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--retries".into(),
        a.retries.to_string(),
        "--retry-pause".into(),
        a.retry_pause.to_string(),
        "--step-timeout".into(),
        a.step_timeout.to_string(),
    ];
    if a.root != Path::new(STATE_ROOT) {
        args.extend(["--root".into(), a.root.display().to_string()]);
    }
    for r in &a.runtime {
        args.extend(["--runtime".into(), r.clone()]);
    }
    for e in &a.engine {
        args.extend(["--engine".into(), e.clone()]);
    }
    if a.ktap {
        args.push("--ktap".into());
    }
    let host = limitcheck_scenario::runner::gather_host(layout, env!("CARGO_PKG_VERSION"));
    let facts = [
        format!(
            "Made by limitcheck {} on kernel {}, cgroup {}, {} CPU(s), {:.1} GiB.",
            host.limitcheck_version,
            host.kernel,
            host.cgroup_mode,
            host.cpus,
            host.memory_bytes as f64 / (1u64 << 30) as f64
        ),
        format!(
            "Command: limitcheck {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        ),
    ];
    suite::write_reproducer(run_dir, exe, &args, &[], files, Some(&host.kernel), &facts)
        .with_context(|| format!("cannot write {}/reproduce.sh", run_dir.display()))?;
    Ok(())
}

/// Its subdirectory's name in a matrix: the label with anything but letters, digits, `.` and
/// `-` as `-`.
fn dir_name(lane: &Lane) -> String {
    lane.label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The lanes `--runtime` and `--engine` name, in their order; none given: lcrun's library.
/// Several: lcrun first, as the matrix's baseline — `--runtime lcrun` if given, else the
/// library.
fn lanes(a: &RunArgs, exe: &Path) -> anyhow::Result<Vec<Lane>> {
    let mut lanes = Vec::new();
    for name in &a.runtime {
        lanes
            .push(Lane::runtime(name, &a.root, exe).map_err(|e| anyhow::anyhow!("--runtime {e}"))?);
    }
    for name in &a.engine {
        lanes.push(Lane::engine(name, exe).map_err(|e| anyhow::anyhow!("--engine {e}"))?);
    }
    if lanes.is_empty() {
        lanes.push(Lane::builtin());
    } else if lanes.len() > 1 {
        match lanes.iter().position(|l| l.label == lane::LCRUN) {
            Some(p) => {
                let l = lanes.remove(p);
                lanes.insert(0, l);
            }
            None => lanes.insert(0, Lane::builtin()),
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(l) = lanes.iter().find(|l| !seen.insert(l.label.clone())) {
            bail!("--runtime/--engine {} is given twice", l.label);
        }
    }
    Ok(lanes)
}

/// What a lane's column says under its name: the runtime's version and its containers'
/// median create→running time.
fn lane_detail(s: &limitcheck_report::Summary) -> String {
    let mut ms: Vec<f64> = s
        .scenarios
        .iter()
        .flat_map(|r| r.startup_ms.iter().copied())
        .collect();
    ms.sort_by(f64::total_cmp);
    let runtime = s.host.runtime.clone().unwrap_or_else(|| "lcrun".into());
    match ms.get(ms.len() / 2) {
        Some(m) if !ms.is_empty() => format!(
            "{runtime}; create→running median {m:.1} ms over {} container(s)",
            ms.len()
        ),
        _ => runtime,
    }
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

/// Removes what dead runs left; keeps what live runs own, and says so.
pub fn cleanup() -> anyhow::Result<ExitCode> {
    let layout = limitcheck_cgroup::Layout::detect()?;
    let sweep = owner::sweep_dead(std::path::Path::new(STATE_ROOT), &layout);
    if sweep.removed.is_empty() && sweep.failed.is_empty() {
        println!("nothing to clean up");
    }
    for r in &sweep.removed {
        println!("removed {r}");
    }
    for k in &sweep.kept {
        println!("kept {k}");
    }
    for f in &sweep.failed {
        eprintln!("limitcheck: cannot remove {f}");
    }
    Ok(ExitCode::from(if sweep.failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    }))
}

/// The run's guardian: waits for the run's process to end, then removes its containers.
pub fn guard(a: &GuardArgs) -> anyhow::Result<ExitCode> {
    owner::guard(&a.root, &a.run_id, a.owner_pid, a.owner_start)?;
    Ok(ExitCode::from(EXIT_OK))
}
