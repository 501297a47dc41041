//! `limitcheck vm` and `limitcheck kernel fetch`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{bail, Context};
use limitcheck_scenario::suite;
use limitcheck_vm::guest::CgroupLayout;
use limitcheck_vm::kernel::{self, Kernel};
use limitcheck_vm::{AccelMode, VmOptions};

use crate::cli::{KernelArgs, VmArgs, EXIT_ERROR, EXIT_OK};

/// Turns a --kernel value into a kernel file: `debian[:PACKAGE]` is fetched (cached).
fn resolve_kernel(spec: &str) -> anyhow::Result<Kernel> {
    let path = if spec == "debian" || spec.starts_with("debian:") {
        let pkg = spec
            .strip_prefix("debian:")
            .unwrap_or(kernel::DEBIAN_DEFAULT_PACKAGE);
        kernel::fetch_debian(pkg, &kernel::cache_dir(), &mut |l| println!("{l}"))
            .with_context(|| format!("--kernel {spec}"))?
    } else {
        PathBuf::from(spec)
    };
    Ok(Kernel::open(&path)?)
}

/// `git bisect run` aborts the bisection on a status above 127: what an interrupted
/// `--bisect` run exits with (neither good nor bad was learnt, and the user wanted to stop).
const BISECT_ABORT: u8 = 255;

/// Runs the scenarios in a VM per kernel. With --bisect an error is a skip for `git bisect
/// run` (125: a kernel that does not exist because its build failed cannot be judged, and
/// exit 2 would mark it bad), and an interrupted run aborts the bisection.
pub fn run(a: &VmArgs) -> anyhow::Result<ExitCode> {
    match run_vm(a) {
        Err(e) if a.bisect => {
            let interrupted = super::run::install_stop_handler().load(Ordering::Relaxed);
            eprintln!("limitcheck: error: {e:#}");
            let code = if interrupted {
                BISECT_ABORT
            } else {
                limitcheck_vm::BISECT_SKIP
            };
            eprintln!(
                "bisect: {} (exit {code})",
                if interrupted {
                    "interrupted: the bisection is aborted"
                } else {
                    "skip: this kernel could not be judged"
                }
            );
            Ok(ExitCode::from(code))
        }
        r => r,
    }
}

fn run_vm(a: &VmArgs) -> anyhow::Result<ExitCode> {
    let Some(files) = super::run::checked_files(&a.paths)? else {
        return Ok(ExitCode::from(EXIT_ERROR));
    };
    if a.bisect && a.kernel.len() != 1 {
        bail!(
            "--bisect judges one kernel (the one git bisect built), and {} --kernel were given",
            a.kernel.len()
        );
    }
    let kernels = a
        .kernel
        .iter()
        .map(|k| resolve_kernel(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let busybox = limitcheck_vm::initramfs::find_busybox()?;
    let run_id = suite::run_id();
    let run_dir = a
        .report_dir
        .clone()
        .unwrap_or_else(|| suite::default_run_dir(&run_id));
    let o = VmOptions {
        kernels,
        cgroup: match a.cgroup.as_str() {
            "v1" => CgroupLayout::V1,
            "hybrid" => CgroupLayout::Hybrid,
            _ => CgroupLayout::V2,
        },
        append: a.append.clone(),
        scenarios: files,
        run_dir: run_dir.clone(),
        run_id,
        version: env!("CARGO_PKG_VERSION").to_string(),
        exe: std::env::current_exe().context("cannot find the limitcheck binary")?,
        busybox,
        accel: match a.accel.as_str() {
            "tcg" => AccelMode::Tcg,
            "kvm" => AccelMode::Kvm,
            _ => AccelMode::Auto,
        },
        memory_mib: u32::try_from(a.memory / (1024 * 1024))
            .ok()
            .filter(|m| *m >= 256)
            .context("--memory: give at least 256m (the guest holds the initramfs in memory)")?,
        cpus: a.cpus.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1)
        }),
        timeout: a.timeout,
        stop: super::run::install_stop_handler(),
        verbose: a.verbose,
        guest_setup: a.guest_setup.clone(),
    };
    if o.cpus == 0 {
        bail!("--cpus: give at least 1");
    }
    // As root the run is owned as `run`'s are: what dead runs left is swept, and a guardian
    // removes this run's work directory if it is killed. (Without root there is no state
    // root to record it in; the guest needs none.)
    let _ownership = if limitcheck_cgroup::nix::unistd::geteuid().is_root() {
        let root = std::path::Path::new(super::run::STATE_ROOT);
        if let Ok(layout) = limitcheck_cgroup::Layout::detect() {
            let swept = limitcheck_scenario::owner::sweep_dead(root, &layout);
            for r in &swept.removed {
                eprintln!("limitcheck: removed what a dead run left: {r}");
            }
            for r in &swept.failed {
                eprintln!("limitcheck: warning: cannot remove what a dead run left: {r}");
            }
        }
        let work = std::path::absolute(limitcheck_vm::work_dir(&run_dir))
            .context("cannot resolve the run directory")?;
        Some(limitcheck_scenario::owner::Ownership::claim(
            root,
            &o.run_id,
            &o.exe,
            &[work],
        )?)
    } else {
        None
    };
    // With --ktap stdout is the KTAP stream, and what people read goes to stderr.
    let mut out: Box<dyn Write> = if a.ktap {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let runs = limitcheck_vm::run(&o, &mut |l| {
        let _ = writeln!(out, "{l}");
    })?;
    let mut code = limitcheck_vm::exit_code(&runs);
    if a.ktap {
        let planned: Vec<String> = o
            .scenarios
            .iter()
            .map(|f| {
                limitcheck_scenario::model::load(f).map_or_else(
                    |_| {
                        f.file_stem()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    },
                    |s| s.name,
                )
            })
            .collect();
        let (text, ktap_code) = limitcheck_vm::ktap(&runs, &planned);
        print!("{text}");
        std::io::stdout().flush()?;
        code = ktap_code;
    }
    for r in &runs {
        writeln!(
            out,
            "\n{}: {} (exit status {}); report: {}/index.html, console: {}/console.log",
            r.version,
            r.outcome,
            r.exit_code,
            r.dir.display(),
            r.dir.display()
        )?;
    }
    if runs.len() > 1 {
        writeln!(out, "matrix: {}/matrix.html", run_dir.display())?;
    }
    if a.bisect {
        if let Some(r) = runs.first() {
            let (c, why) = limitcheck_vm::bisect_code(r);
            writeln!(out, "bisect: {} is {why} (exit {c})", r.version)?;
            code = c;
        }
    }
    if o.stop.load(Ordering::Relaxed) {
        bail!(
            "interrupted: the guest was stopped; partial results in {}",
            run_dir.display()
        );
    }
    Ok(ExitCode::from(code))
}

/// `limitcheck kernel fetch [PACKAGE]`.
pub fn kernel(a: &KernelArgs) -> anyhow::Result<ExitCode> {
    let path = kernel::fetch_debian(&a.package, &kernel::cache_dir(), &mut |l| eprintln!("{l}"))?;
    let k = Kernel::open(&path)?;
    println!("{}", k.path.display());
    eprintln!("kernel {} ({:?})", k.version, k.format);
    Ok(ExitCode::from(EXIT_OK))
}
