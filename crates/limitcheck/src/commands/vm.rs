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

/// A --kernel that cannot be used (missing, unreadable, not a kernel): under --bisect, the
/// commit's build is what failed, and the commit is skipped.
#[derive(Debug)]
struct UnusableKernel;

impl std::fmt::Display for UnusableKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the kernel cannot be used")
    }
}

impl std::error::Error for UnusableKernel {}

/// Runs the scenarios in a VM per kernel. With --bisect the status is always one `git bisect
/// run` reads as meant (any other, 2 among them, would mark the commit bad): a kernel that
/// cannot be used (its build failed: no bzImage) is a skip (125); an interrupted run, or one
/// the command itself is wrong for (a broken scenario file, a missing qemu), aborts the
/// bisection (255), since it would be wrong for every commit.
pub fn run(a: &VmArgs) -> anyhow::Result<ExitCode> {
    let r = run_vm(a);
    if !a.bisect {
        return r;
    }
    let (code, why) = match &r {
        Ok(_) if super::run::install_stop_handler().load(Ordering::Relaxed) => (
            BISECT_ABORT,
            "interrupted: the bisection is aborted".to_string(),
        ),
        Ok(c) if *c == ExitCode::from(EXIT_ERROR) => (
            BISECT_ABORT,
            "the command cannot run (see above): the bisection is aborted".to_string(),
        ),
        Ok(_) => return r,
        Err(e) if e.downcast_ref::<UnusableKernel>().is_some() => (
            limitcheck_vm::BISECT_SKIP,
            format!("skip: {e:#}: this commit cannot be judged"),
        ),
        Err(e) if super::run::install_stop_handler().load(Ordering::Relaxed) => (
            BISECT_ABORT,
            format!("{e:#}: interrupted: the bisection is aborted"),
        ),
        Err(e) => (
            BISECT_ABORT,
            format!("{e:#}: the command cannot run: the bisection is aborted"),
        ),
    };
    eprintln!("bisect: {why} (exit {code})");
    Ok(ExitCode::from(code))
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
        .map(|k| resolve_kernel(k).context(UnusableKernel))
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
        cpus: match (a.cpus, a.topology) {
            (Some(c), Some(t)) if c != t.cpus() => bail!(
                "--cpus {c} and --topology {t} ({} vCPUs) disagree: give one of them",
                t.cpus()
            ),
            (_, Some(t)) => t.cpus(),
            (Some(c), None) => c,
            (None, None) => std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
        },
        topology: a.topology,
        timeout: a.timeout,
        stop: super::run::install_stop_handler(),
        verbose: a.verbose,
        guest_setup: a.guest_setup.clone(),
    };
    if o.cpus == 0 {
        bail!("--cpus: give at least 1");
    }
    // Only once every flag is accepted: a refused command leaves no run directory behind.
    reproducer(a, &run_dir, &o.scenarios)?;
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

/// Writes the run directory's reproduce.sh: this command with its flags (kernels by path, or
/// `debian[:PACKAGE]`), on copies of the scenario files and of the guest setup.
fn reproducer(a: &VmArgs, run_dir: &std::path::Path, files: &[PathBuf]) -> anyhow::Result<()> {
    let mut args: Vec<String> = vec!["vm".into()];
    for k in &a.kernel {
        let k = if k == "debian" || k.starts_with("debian:") {
            k.clone()
        } else {
            std::path::absolute(k).map_or(k.clone(), |p| p.display().to_string())
        };
        args.extend(["--kernel".into(), k]);
    }
    args.extend([
        "--cgroup".into(),
        a.cgroup.clone(),
        "--accel".into(),
        a.accel.clone(),
    ]);
    if !a.append.is_empty() {
        args.extend(["--append".into(), a.append.clone()]);
    }
    args.extend(["--memory".into(), a.memory.to_string()]);
    if let Some(c) = a.cpus {
        args.extend(["--cpus".into(), c.to_string()]);
    }
    if let Some(t) = a.topology {
        args.extend(["--topology".into(), t.to_string()]);
    }
    if let Some(t) = a.timeout {
        args.extend(["--timeout".into(), format!("{}ms", t.as_millis())]);
    }
    let mut extra = Vec::new();
    if let Some(g) = &a.guest_setup {
        args.extend(["--guest-setup".into(), "@here/guest-setup.sh".into()]);
        extra.push((g.clone(), "guest-setup.sh".to_string()));
    }
    for (on, flag) in [(a.ktap, "--ktap"), (a.bisect, "--bisect")] {
        if on {
            args.push(flag.into());
        }
    }
    let facts = [format!(
        "Command: limitcheck {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    )];
    let exe = std::env::current_exe().context("cannot find the limitcheck binary")?;
    suite::write_reproducer(run_dir, &exe, &args, &extra, files, None, &facts)
        .with_context(|| format!("cannot write {}/reproduce.sh", run_dir.display()))?;
    Ok(())
}
