//! lcrun's command line: runc's surface (flags and verbs), parsed by clap. No logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// lcrun: limitcheck's OCI runtime, driven like runc.
///
/// Containers are created from OCI bundles (a directory with config.json and a root
/// filesystem). State lives under --root (default /run/limitcheck). Tools written for runc can
/// use lcrun in its place (RUNTIME=lcrun).
#[derive(Debug, Parser)]
#[command(name = "lcrun", version)]
pub struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = "/run/limitcheck")]
    pub root: PathBuf,
    /// Also write errors (and with --debug, progress) to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of log messages.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log progress, not only errors.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for runc compatibility; lcrun always drives cgroupfs directly.
    #[arg(long, global = true, hide = true)]
    pub systemd_cgroup: bool,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// runc's log formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// `time="…" level=error msg="…"`
    Text,
    /// `{"level":"error","msg":"…","time":"…"}`
    Json,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container: namespaces, cgroup, root filesystem, and an init that waits for start.
    Create(CreateArgs),
    /// Let a created container's init run the user process.
    Start(IdArg),
    /// Print a container's state as JSON.
    State(IdArg),
    /// Send a signal to a container's init (default SIGTERM).
    Kill(KillArgs),
    /// Delete a container: its processes (with --force), cgroup and state.
    Delete(DeleteArgs),
    /// Create, start, wait and delete a container; exit with its exit status.
    Run(RunArgs),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// List the processes of a container.
    Ps(PsArgs),
    /// List containers.
    List(ListArgs),
    /// Change the resources of a running container (as `docker update` does).
    Update(UpdateArgs),
    /// Print the container's resource usage as JSON.
    Events(EventsArgs),
    /// Run a new process in a running container, in all its namespaces and its cgroup.
    Exec(ExecArgs),
    /// Write a default config.json to the bundle.
    Spec(SpecArgs),
    /// Make a bundle from an image, as `umoci unpack` does: config.json from the image's
    /// config (entrypoint and cmd, env, working directory, user) and rootfs/ with its layers
    /// applied (whiteouts too; every blob's digest checked; unsafe entries refused).
    #[command(
        after_help = "Examples:\n  lcrun unpack --image oci:images/busybox:latest bundle\n  \
        lcrun unpack --image docker-archive:busybox.tar bundle -- sh -c 'echo hi'\n  \
        lcrun run -b bundle c1"
    )]
    Unpack(UnpackArgs),
    /// Print what this runtime supports, as JSON.
    Features,
    /// Internal: the container init.
    #[command(hide = true)]
    Init,
}

/// A container id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// The container id.
    pub id: String,
}

/// `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The container id.
    pub id: String,
    /// The bundle directory (default: the current directory).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the init's pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to receive the pty master of a terminal container.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility (lcrun uses no pivot-less mode).
    #[arg(long, hide = true)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility.
    #[arg(long, hide = true)]
    pub no_new_keyring: bool,
    /// Accepted for runc compatibility.
    #[arg(long, hide = true)]
    pub preserve_fds: Option<u32>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Create and start, then return without waiting.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
    /// The create flags.
    #[command(flatten)]
    pub create: CreateArgs,
}

/// `kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The container id.
    pub id: String,
    /// Signal name or number (KILL, SIGKILL, 9).
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Signal every process in the container, not only its init.
    #[arg(short, long)]
    pub all: bool,
}

/// `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The container id.
    pub id: String,
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
}

/// `ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// The container id.
    pub id: String,
    /// `table` or `json` (a list of pids).
    #[arg(short, long, default_value = "table")]
    pub format: String,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// `table` or `json`.
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print ids only.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `events` (lcrun prints one stats snapshot with `--stats`).
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The container id.
    pub id: String,
    /// Print the stats once and exit.
    #[arg(long)]
    pub stats: bool,
}

/// `update`, with runc's flags.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The container id.
    pub id: String,
    /// A JSON file of OCI `linux.resources` ("-" for stdin).
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// CPU CFS quota in µs (-1 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in µs.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU shares (relative weight).
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPUs to use (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes, or with a k, m, g suffix; -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Maximum number of tasks; -1 or 0 for none.
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block-I/O weight, 10 to 1000.
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

/// `exec`: the process defaults to the container's config.json process (user, capabilities,
/// environment) with the command given here.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true)]
    pub command: Vec<String>,
    /// Allocate a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Return once the process started.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to receive the pty master.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE; repeatable).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// User as uid[:gid].
    #[arg(short, long)]
    pub user: Option<String>,
    /// A JSON file with the whole OCI process instead of the flags.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
}

/// `unpack`.
#[derive(Debug, Args)]
pub struct UnpackArgs {
    /// The image: `oci:DIR[:TAG]` (an OCI layout, as skopeo and umoci write it),
    /// `docker-archive:FILE` (docker or podman save) or `oci-archive:FILE`. Local files only.
    #[arg(long)]
    pub image: String,
    /// The bundle directory to make (must not exist).
    pub bundle: PathBuf,
    /// Run this instead of the image's Cmd (its Entrypoint kept, as `docker run IMAGE ARGS`).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// `spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The bundle directory to write config.json into.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Also make rootfs/ from the host: read-only binds of /usr, /bin, /sbin, /lib*, a minimal
    /// /etc and a tmpfs /tmp (no image needed). Runs `sh` unless a command follows `--`.
    #[arg(long)]
    pub host_rootfs: bool,
    /// With --host-rootfs: bind this host binary at /opt/limitcheck/bin/<name> (repeatable).
    #[arg(long, requires = "host_rootfs")]
    pub bind_binary: Vec<PathBuf>,
    /// With --host-rootfs: the command to run.
    #[arg(last = true, requires = "host_rootfs")]
    pub command: Vec<String>,
}
