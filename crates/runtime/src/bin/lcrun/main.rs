//! `lcrun`: limitcheck's OCI runtime with runc's command line.

mod cli;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use cli::{Cli, Command, LogFormat};
use limitcheck_runtime::args::{parse_signal, update_limits, UpdateFlags};
use limitcheck_runtime::oci_spec::runtime::LinuxResources;
use limitcheck_runtime::{block_signals, spec, state, CreateOptions, Runtime, Status};
use nix::sys::signal::Signal;

/// Signals `run` passes on to the container instead of dying of them.
const FORWARDED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
];

fn main() -> ExitCode {
    limitcheck_runtime::init::run_if_init();
    let cli = Cli::parse();
    let logger = Logger {
        file: cli.log.clone(),
        format: cli.log_format,
        debug: cli.debug,
    };
    match run(&cli, &logger) {
        Ok(code) => code,
        Err(e) => {
            logger.error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Writes errors as runc does: logrus text or JSON, to stderr and to --log.
struct Logger {
    file: Option<std::path::PathBuf>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    fn line(&self, level: &str, msg: &str) -> String {
        let time = state::now_rfc3339();
        match self.format {
            LogFormat::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
            LogFormat::Json => format!(
                "{}\n",
                serde_json::json!({"level": level, "msg": msg, "time": time})
            ),
        }
    }

    fn write(&self, level: &str, msg: &str, to_stderr: bool) {
        let line = self.line(level, msg);
        if to_stderr {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        if let Some(f) = &self.file {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
            {
                let _ = f.write_all(line.as_bytes());
            }
        }
    }

    fn error(&self, msg: &str) {
        self.write("error", msg, true);
    }

    fn warn(&self, msg: &str) {
        self.write("warning", msg, true);
    }

    fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg, self.file.is_none());
        }
    }
}

fn run(cli: &Cli, log: &Logger) -> anyhow::Result<ExitCode> {
    let rt = Runtime::new(&cli.root);
    match &cli.command {
        Command::Create(a) => {
            create(&rt, a, false, log)?;
            log.debug(&format!("created {}", a.id));
        }
        Command::Start(a) => rt.load(&a.id)?.start()?,
        Command::State(a) => {
            let c = rt.load(&a.id)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&c.state().oci(c.status()))?
            );
        }
        Command::Kill(a) => {
            let c = rt.load(&a.id)?;
            let sig = parse_signal(&a.signal)?;
            if a.all {
                for pid in c.ps()? {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                }
            } else {
                c.kill(sig)?;
            }
        }
        Command::Delete(a) => match rt.load(&a.id) {
            Ok(c) => c.delete(a.force)?,
            // runc: deleting a missing container with --force is not an error; what a create
            // killed before its state.json left goes too.
            Err(limitcheck_runtime::RuntimeError::NotFound { .. }) if a.force => {
                rt.remove_unfinished(&a.id)?;
            }
            Err(e) => return Err(e.into()),
        },
        Command::Run(a) => {
            if !a.detach {
                block_signals(&FORWARDED)?;
            }
            let mut c = create(&rt, &a.create, !a.detach, log)?;
            let relay = c.take_console().map(limitcheck_runtime::console::relay);
            // A run that fails after create must not leave its container behind.
            let exit = match c.start().and_then(|()| {
                if a.detach {
                    Ok(None)
                } else {
                    c.wait(&FORWARDED).map(Some)
                }
            }) {
                Ok(Some(exit)) => exit,
                Ok(None) => return Ok(ExitCode::SUCCESS),
                Err(e) => {
                    let _ = c.delete(true);
                    return Err(e.into());
                }
            };
            log.debug(&format!("{} exited: {exit:?}", a.create.id));
            if !a.keep {
                c.delete(true)?;
                // Everything holding the pty is gone: the relay drains and ends.
                if let Some(r) = relay {
                    let _ = r.join();
                }
            }
            return Ok(ExitCode::from(exit.shell_code().clamp(0, 255) as u8));
        }
        Command::Pause(a) => rt.load(&a.id)?.pause()?,
        Command::Resume(a) => rt.load(&a.id)?.resume()?,
        Command::Ps(a) => {
            let pids = rt.load(&a.id)?.ps()?;
            if a.format == "json" {
                println!("{}", serde_json::to_string(&pids)?);
            } else {
                println!("{:>8}  CMD", "PID");
                for p in pids {
                    let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                    println!("{p:>8}  {}", cmd.trim_end());
                }
            }
        }
        Command::List(a) => {
            let ids = rt.list()?;
            let containers: Vec<_> = ids.iter().filter_map(|id| rt.load(id).ok()).collect();
            if a.quiet {
                for c in &containers {
                    println!("{}", c.id());
                }
            } else if a.format == "json" {
                let v: Vec<_> = containers
                    .iter()
                    .map(|c| c.state().oci(c.status()))
                    .collect();
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!(
                    "{:<20} {:>8} {:<10} {:<40} CREATED",
                    "ID", "PID", "STATUS", "BUNDLE"
                );
                for c in &containers {
                    let s = c.status();
                    let pid = if s == Status::Stopped { 0 } else { c.pid() };
                    println!(
                        "{:<20} {:>8} {:<10} {:<40} {}",
                        c.id(),
                        pid,
                        s,
                        c.state().bundle.display(),
                        c.state().created
                    );
                }
            }
        }
        Command::Update(a) => {
            let c = rt.load(&a.id)?;
            let resources: Option<LinuxResources> = match &a.resources {
                None => None,
                Some(p) => {
                    let text = if p == Path::new("-") {
                        std::io::read_to_string(std::io::stdin())?
                    } else {
                        std::fs::read_to_string(p)
                            .with_context(|| format!("read {}", p.display()))?
                    };
                    Some(serde_json::from_str(&text).with_context(|| {
                        format!("{} is not OCI linux.resources JSON", p.display())
                    })?)
                }
            };
            let period = match c.cgroup()?.get(limitcheck_cgroup::LimitKind::CpuMax) {
                Ok(limitcheck_cgroup::Limit::CpuMax { period_us, .. }) => Some(period_us),
                _ => None,
            };
            let flags = UpdateFlags {
                cpu_quota: a.cpu_quota,
                cpu_period: a.cpu_period,
                cpu_shares: a.cpu_shares,
                cpuset_cpus: a.cpuset_cpus.clone(),
                cpuset_mems: a.cpuset_mems.clone(),
                memory: a.memory.clone(),
                memory_swap: a.memory_swap.clone(),
                memory_reservation: a.memory_reservation.clone(),
                pids_limit: a.pids_limit,
                blkio_weight: a.blkio_weight,
            };
            c.update(&update_limits(resources.as_ref(), &flags, period)?)?;
        }
        Command::Events(a) => {
            let c = rt.load(&a.id)?;
            let stats = c.stats()?;
            println!(
                "{}",
                serde_json::json!({"type": "stats", "id": c.id(), "data": stats})
            );
        }
        Command::Exec(a) => return exec(&rt, a),
        Command::Spec(a) => {
            let path = a.bundle.join("config.json");
            if path.exists() {
                bail!("File {} exists. Remove it first", path.display());
            }
            if a.host_rootfs {
                let args = if a.command.is_empty() {
                    vec!["sh".to_string()]
                } else {
                    a.command.clone()
                };
                limitcheck_runtime::hostfs::write_bundle(&a.bundle, args, &a.bind_binary)?;
            } else {
                spec::default_spec()
                    .save(&path)
                    .with_context(|| format!("write {}", path.display()))?;
            }
        }
        Command::Unpack(a) => {
            let source = limitcheck_image::Source::parse(&a.image, Path::new("."))
                .map_err(|e| anyhow::anyhow!("--image: {e}"))?;
            let opts = limitcheck_runtime::imagefs::ImageOptions {
                how: limitcheck_image::rootfs::How::Copy,
                ..Default::default()
            };
            let command = (!a.command.is_empty()).then(|| a.command.clone());
            let b = limitcheck_runtime::bundle::Bundle::image(&a.bundle, &source, command, &opts)?
                .keep();
            if let Some(m) = b.image_made() {
                log.debug(&format!("unpacked {}", m.describe()));
            }
        }
        Command::Features => println!("{}", serde_json::to_string_pretty(&features())?),
        Command::Init => bail!("lcrun init is run by lcrun itself, not by hand"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates a container from the bundle. A terminal needs somewhere for its pty: a
/// `--console-socket`, or `run` in the foreground (which relays it), as with runc.
fn create(
    rt: &Runtime,
    a: &cli::CreateArgs,
    foreground: bool,
    log: &Logger,
) -> anyhow::Result<limitcheck_runtime::Container> {
    let bundle = spec::load_bundle(&a.bundle)?;
    for field in spec::not_enforced(&bundle.spec) {
        log.warn(&format!(
            "{}: {field} is set but lcrun does not enforce it: the container runs without it",
            bundle.origin
        ));
    }
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && a.console_socket.is_none() && !foreground {
        bail!(
            "{}: process.terminal is true: give --console-socket to receive the pty, or run in the foreground",
            bundle.origin
        );
    }
    Ok(rt.create(
        &a.id,
        &bundle,
        CreateOptions {
            console_socket: a.console_socket.clone(),
            stdio: None,
            pid_file: a.pid_file.clone(),
        },
    )?)
}

fn exec(rt: &Runtime, a: &cli::ExecArgs) -> anyhow::Result<ExitCode> {
    use limitcheck_runtime::oci_spec::runtime::{Process, Spec};
    let c = rt.load(&a.id)?;
    let mut process: Process = match &a.process {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?,
        )
        .with_context(|| format!("{} is not an OCI process JSON", p.display()))?,
        None => {
            let config = c.state().bundle.join("config.json");
            Spec::load(&config)
                .ok()
                .and_then(|s| s.process().clone())
                .unwrap_or_default()
        }
    };
    if !a.command.is_empty() {
        process.set_args(Some(a.command.clone()));
    } else if a.process.is_none() {
        bail!("give the command to run after the container id, or --process");
    }
    if !a.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        process.set_env(Some(env));
    }
    if let Some(cwd) = &a.cwd {
        process.set_cwd(cwd.clone());
    }
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let mut user = process.user().clone();
        user.set_uid(
            uid.parse()
                .with_context(|| format!("--user {u}: uid is not a number"))?,
        );
        user.set_gid(
            gid.parse()
                .with_context(|| format!("--user {u}: gid is not a number"))?,
        );
        process.set_user(user);
    }
    process.set_terminal(Some(a.tty));
    if a.tty && a.detach && a.console_socket.is_none() {
        bail!("--tty with --detach needs --console-socket to receive the pty");
    }
    if !a.detach {
        block_signals(&FORWARDED)?;
    }
    let mut p = rt.exec(
        &c,
        process,
        limitcheck_runtime::ExecOptions {
            stdio: None,
            console_socket: a.console_socket.clone(),
            pid_file: a.pid_file.clone(),
        },
    )?;
    if a.detach {
        return Ok(ExitCode::SUCCESS);
    }
    let relay = p.console.take().map(limitcheck_runtime::console::relay);
    let exit = p.wait(&FORWARDED)?;
    if let Some(r) = relay {
        let _ = r.join();
    }
    Ok(ExitCode::from(exit.shell_code().clamp(0, 255) as u8))
}

fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": [],
        "mountOptions": ["ro","rw","nosuid","suid","nodev","dev","noexec","exec","sync","async","dirsync","remount","mand","nomand","atime","noatime","diratime","nodiratime","relatime","norelatime","strictatime","nostrictatime","bind","rbind","private","rprivate","shared","rshared","slave","rslave","unbindable","runbindable"],
        "linux": {
            "namespaces": ["cgroup","ipc","mount","network","pid","user","uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "seccomp": {"enabled": false}
        },
        "annotations": {"org.limitcheck.lcrun.version": env!("CARGO_PKG_VERSION")}
    })
}
