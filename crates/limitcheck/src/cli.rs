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
(doctor: it cannot), 2 an error (bad input, missing permission, kernel refusal, a workload \
that died), 6 (run) nothing failed but a scenario stayed inconclusive: it measured short while \
the host's own load took the CPUs it lacked, through every retry, or over a CPU ceiling only \
through a stalled machine (more CPU time charged in an interval than its CPUs can run).";

/// limitcheck proves, by measurement, that Linux resource limits do what they claim.
///
/// It starts containers with its own OCI runtime, runs stress workloads in them, changes limits
/// while they run, samples what the kernel really gives from /sys/fs/cgroup and /proc, and judges
/// each expectation pass or fail. Start with `limitcheck doctor` to see what this host can check;
/// `limitcheck vm` runs the same scenarios in a VM on a kernel and cgroup layout of your choice.
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
    /// Run scenarios: containers, workloads, limits changed on a timeline, verdicts.
    ///
    /// Each FILE is a scenario (TOML; see scenarios/README.md); a DIR runs every .toml in it.
    /// Writes reports/<run-id>/summary.json and samples.csv. Needs root.
    #[command(after_help = EXIT_HELP)]
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate(ValidateArgs),
    /// Render a run's reports again from its saved data: index.html, junit.xml, summary.md.
    Report(ReportArgs),
    /// Compare two runs of the same scenarios (e.g. before and after a kernel change); exit 1 on
    /// a regression.
    ///
    /// A regression: a verdict that went from pass to fail, a measurement that moved against its
    /// expectation by more than --threshold (a fraction of the expected value or bound), or a
    /// settling time that grew by more than that and more than a sample interval.
    #[command(after_help = EXIT_HELP)]
    Compare(CompareArgs),
    /// Remove what dead runs left behind (containers, bundles, records, cgroups).
    ///
    /// Safe beside a live run: what a run whose process still runs owns is kept (and named).
    /// Every `run` does this at its start; a run's guardian removes its containers as soon as
    /// the run ends in any way, so this is only needed when the guardian was killed too.
    Cleanup,
    /// A run's guardian, started by `run` itself: removes the run's containers when the run
    /// ends in any way. Not for people.
    #[command(hide = true)]
    Guard(GuardArgs),
    /// Run a built-in stressor (what limitcheck's containers run; usable alone, like stress-ng).
    ///
    /// Prints a JSON record of what it did when it stops (on --timeout, SIGTERM or SIGINT):
    /// bogo-ops, ops/s, respawns, failed forks, wall and CPU time.
    Stress(StressArgs),
    /// Run scenarios inside a VM booted from a chosen kernel: the kernel gate, and the way to
    /// check cgroup v2 (or v1) on a host that runs the other.
    ///
    /// limitcheck builds an initramfs itself (busybox-static, this limitcheck binary and its
    /// libraries, the scenarios), boots each --kernel with qemu-system-x86_64, mounts the
    /// --cgroup layout in the guest, runs the scenarios there as `limitcheck run` does, and
    /// gets the run back over a second serial port. The report is rendered on the host, with
    /// the guest's console.log and vm.json (kernel, accelerator, outcome) beside it. A kernel
    /// that taints or prints a WARN, BUG or Oops during a scenario fails that scenario.
    ///
    /// The guest gets a disk: a 4 GiB sparse ext4 image (mkfs.ext4, from e2fsprogs) on
    /// virtio-blk at its /var/tmp, where the containers' /var/tmp directories are, with the
    /// virtio and ext4 modules taken from a Debian kernel's own package; on it, a 512 MiB swap
    /// file switched on only for scenarios with `swap = true`. A kernel file without its
    /// package has a disk only if those drivers are built in; without one, io scenarios are
    /// skipped, saying so.
    ///
    /// Example: limitcheck vm --kernel debian --cgroup v2 scenarios/
    #[command(after_help = VM_EXIT_HELP)]
    Vm(VmArgs),
    /// Merge runs made apart (on other machines, kernels or runtimes: LAVA jobs, a CI matrix,
    /// Kubernetes Jobs) into one matrix: matrix.html, matrix.md and matrix.json with a column
    /// per run and the compare table of each against the first; exit 1 on a regression.
    ///
    /// Each RUN_DIR is a run directory (with summary.json) or a matrix (its columns are
    /// taken). Columns are labelled by kernel, cgroup layout and runtime.
    #[command(after_help = EXIT_HELP)]
    Matrix(MatrixArgs),
    /// Package limitcheck for kernel CI: a kselftest target, or a rootfs overlay for tuxrun and
    /// LAVA.
    ///
    /// `pack kselftest DIR SCENARIOS...` writes a kselftest target (Makefile with TEST_PROGS
    /// and ../lib.mk, settings with its timeout, a config fragment, limitcheck.sh, this binary,
    /// the scenarios): put DIR at tools/testing/selftests/limitcheck and run `make -C
    /// tools/testing/selftests TARGETS=limitcheck run_tests` (or install, and
    /// run_kselftest.sh). `pack overlay FILE.tar.gz SCENARIOS...` writes a tarball for the
    /// rootfs's / (`tuxrun --overlay FILE`, LAVA's `overlays:`): /opt/limitcheck with this
    /// binary, run.sh, the LAVA test definition lava/limitcheck.yaml and the scenarios; then
    /// e.g. `tuxrun --device qemu-x86_64 --kernel bzImage --overlay FILE --
    /// /opt/limitcheck/run.sh /tmp/lc`. The binary needs the glibc it was built with, or newer,
    /// in the rootfs.
    Pack(PackArgs),
    /// Make and look at OCI images, offline (what `image = "oci:DIR:TAG"` in a scenario runs).
    ///
    /// `image from-host OUT PROGRAM...` writes an OCI image layout of host programs with the
    /// shared libraries they load (a minimal /etc, /tmp): e.g. `limitcheck image from-host
    /// images/stress-ng --entrypoint stress-ng stress-ng` makes the image the shipped
    /// image-stress-ng scenario runs as the seed ran `docker run alexeiled/stress-ng --cpu=2`.
    /// `image inspect SOURCE` prints an image's manifest digest, platform, layers and config,
    /// every blob's digest checked.
    Image(ImageArgs),
    /// Fetch Debian's stock kernel (apt-get download, unpacked into the cache; nothing is
    /// installed) and print the path of its vmlinuz, for `limitcheck vm --kernel`.
    Kernel(KernelArgs),
}

/// Exit statuses of `limitcheck vm`.
pub const VM_EXIT_HELP: &str = "\
Exit status: 0 all passed, 1 a verdict failed, 2 could not run (bad input, qemu or the guest \
failed), 3 the guest kernel panicked, 4 the guest hung (stopped at --timeout), 5 the guest \
kernel printed a WARN, BUG or Oops, or tainted, 6 nothing failed but a scenario stayed \
inconclusive (ranked just above 0). With several kernels, the worst. The console log is kept \
in the run directory.";

/// Flags of `limitcheck vm`.
#[derive(Debug, Args)]
pub struct VmArgs {
    /// Scenario files or directories.
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
    /// The kernel to boot: a vmlinux (PVH direct boot), a bzImage or vmlinuz, or `debian`
    /// (Debian's stock linux-image-amd64, fetched and cached) or `debian:PACKAGE`. Repeat it to
    /// run the same scenarios on each kernel in turn and get a matrix (matrix.html) with the
    /// regression table between them.
    #[arg(long, required = true)]
    pub kernel: Vec<String>,
    /// The cgroup layout the guest mounts: v2 (booted with cgroup_no_v1=all), v1, or hybrid
    /// (v1 plus an empty v2 at /sys/fs/cgroup/unified).
    #[arg(long, default_value = "v2", value_parser = ["v2", "v1", "hybrid"])]
    pub cgroup: String,
    /// More kernel command line (e.g. "mitigations=off").
    #[arg(long, default_value = "")]
    pub append: String,
    /// Where to write the run (default reports/<run-id>).
    #[arg(long)]
    pub report_dir: Option<std::path::PathBuf>,
    /// auto: KVM only if a probe boot of the kernel works, else software emulation (TCG);
    /// tcg forces TCG; kvm insists on KVM (the probe still runs, and its failure is an error). Expect code to run 3-14x slower under TCG; cgroup accounting is
    /// in guest time, so verdicts still hold.
    #[arg(long, default_value = "auto", value_parser = ["auto", "tcg", "kvm"])]
    pub accel: String,
    /// Guest memory (2g, 1536m).
    #[arg(long, value_parser = size, default_value = "2g")]
    pub memory: u64,
    /// Virtual CPUs (default: this host's CPUs).
    #[arg(long)]
    pub cpus: Option<u32>,
    /// The guest's CPU topology: sockets=S,cores=C,threads=T,nodes=N (each 1 unless given),
    /// S×C×T virtual CPUs in N NUMA nodes of whole sockets, the memory split among them;
    /// e.g. sockets=2,cores=8,threads=2,nodes=2 for 32 vCPUs. Under TCG every vCPU is a host
    /// thread: 32 on a 2-core host run, but slowly (see the README).
    #[arg(long, value_name = "SPEC")]
    pub topology: Option<limitcheck_vm::qemu::Topology>,
    /// Stop a guest that runs longer than this (default: 180s plus four times the scenarios'
    /// durations), and exit 4.
    #[arg(long, value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// Show every console line, not only the guest's progress.
    #[arg(long, short)]
    pub verbose: bool,
    /// A busybox sh script to run in the guest as root after its mounts and before the
    /// scenarios (set sysctls, start a background load); the run stops if it fails.
    #[arg(long, value_name = "FILE")]
    pub guest_setup: Option<std::path::PathBuf>,
    /// Write KTAP version 1 to stdout (progress goes to stderr), as `run --ktap` does, with a
    /// first test per kernel, `kernel_health` (not ok on a panic, a WARN, BUG, Oops or taint;
    /// `# TIMEOUT` on a hang); exit as kselftest reads it: 0 pass, 1 a fail or an error, 4
    /// nothing passed.
    #[arg(long)]
    pub ktap: bool,
    /// Exit for `git bisect run`: 0 good (every verdict passed), 1 bad (a limit was not
    /// enforced, or the kernel panicked, warned or tainted while scenarios ran), 125 skip (it
    /// did not boot, hung, erred or stayed inconclusive: this kernel cannot be judged). Takes
    /// one --kernel. See the README's bisect example.
    #[arg(long)]
    pub bisect: bool,
}

/// Flags of `limitcheck matrix`.
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// The runs, the baseline first.
    #[arg(required = true, num_args = 2..)]
    pub run_dirs: Vec<std::path::PathBuf>,
    /// Where to write the matrix (default reports/matrix-<id>).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// Flags of `limitcheck pack`.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// What to write: `kselftest` (a target directory) or `overlay` (a .tar.gz).
    #[arg(value_parser = ["kselftest", "overlay"])]
    pub kind: String,
    /// The directory (kselftest) or file (overlay) to write.
    pub out: std::path::PathBuf,
    /// Scenario files or directories to put in it.
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
}

/// Flags of `limitcheck image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ImageAction,
}

/// `limitcheck image` verbs.
#[derive(Debug, Subcommand)]
pub enum ImageAction {
    /// Write an OCI image layout of host programs and the shared libraries they load.
    FromHost {
        /// The layout directory to write (created; another tag in it is kept).
        out: std::path::PathBuf,
        /// Programs (a path, or a name found on PATH), copied to their host paths.
        #[arg(required = true)]
        programs: Vec<String>,
        /// The tag (`org.opencontainers.image.ref.name`).
        #[arg(long, default_value = "latest")]
        tag: String,
        /// The image's Entrypoint (repeat for its arguments).
        #[arg(long)]
        entrypoint: Vec<String>,
        /// The image's Cmd (repeat for its arguments).
        #[arg(long)]
        cmd: Vec<String>,
    },
    /// Print an image's manifest digest, platform, layers and config (blobs verified).
    Inspect {
        /// `oci:DIR[:TAG]`, `docker-archive:FILE[:TAG]` or `oci-archive:FILE[:TAG]`.
        source: String,
    },
}

/// Flags of `limitcheck kernel`.
#[derive(Debug, Args)]
pub struct KernelArgs {
    /// What to do: `fetch`.
    #[arg(value_parser = ["fetch"])]
    pub action: String,
    /// The Debian package (a meta-package is followed to its image).
    #[arg(default_value = "linux-image-amd64")]
    pub package: String,
}

/// Flags of `limitcheck run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories.
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
    /// Where to write the run (default reports/<run-id>).
    #[arg(long)]
    pub report_dir: Option<std::path::PathBuf>,
    /// The runtime's state root.
    #[arg(long, default_value = crate::commands::run::STATE_ROOT)]
    pub root: std::path::PathBuf,
    /// Run an inconclusive scenario (one the host's own load starved) again up to N times; a
    /// failed one never reruns. Every attempt is kept in summary.json and shown in the report.
    #[arg(long, value_name = "N", default_value_t = limitcheck_scenario::runner::DEFAULT_RETRIES)]
    pub retries: u32,
    /// Seconds to wait before each retry.
    #[arg(long, value_name = "SECONDS", default_value_t = limitcheck_scenario::runner::DEFAULT_RETRY_PAUSE.as_secs_f64())]
    pub retry_pause: f64,
    /// Interrupt a step whose write is still in the kernel after this many seconds (a v1
    /// memory limit below what the cgroup holds can reclaim forever); the scenario is then an
    /// error saying so, and the run goes on.
    #[arg(long, value_name = "SECONDS", default_value_t = limitcheck_scenario::runner::STEP_DEADLINE.as_secs_f64())]
    pub step_timeout: f64,
    /// Run the containers with another OCI runtime, through its command line (create, start,
    /// state, pause, resume, update, delete), as docker drives it: a name on PATH (runc, crun,
    /// youki; lcrun is looked for beside limitcheck first) or a path. The same host-made
    /// bundle; the initial limits go in its config.json; `via = "runtime"` steps run
    /// `<runtime> update` with its flags (`-r -` where no flag says a limit); the cgroup
    /// measured is the one it put the container in. Without it, lcrun's library runs them in
    /// this process. A runtime that cannot run a container on this host makes every scenario
    /// a skip with its own message. Give it more than once, or with --engine, for a runtime
    /// matrix (see --engine).
    #[arg(long, value_name = "NAME|PATH")]
    pub runtime: Vec<String>,
    /// Run every container through a container engine's command line, as the seed's
    /// experiments ran: `docker` (the daemon DOCKER_HOST names, else the default one),
    /// `podman` (rootful, `--cgroup-manager cgroupfs`, its storage from its configuration or
    /// CONTAINERS_STORAGE_CONF) or `podman:RUNTIME` (podman with that OCI runtime, e.g.
    /// podman:runc where its default crun refuses a hybrid host). The host-made rootfs is
    /// imported once as the image limitcheck-hostfs:1 (`docker import`, no download); limits
    /// are `--cpus`, `--cpu-quota`, `-m`, `--memory-swap`, `--pids-limit`, ...; `via =
    /// "runtime"` steps run `docker update`; pause steps `docker pause`. The cgroup measured is
    /// where the engine put the container (`inspect`'s pid). A limit it has no flag for
    /// (burst) is a skip.
    ///
    /// Several --runtime and --engine flags together run the scenarios on each in turn, with
    /// lcrun's library first (or `--runtime lcrun` if given), each in its own subdirectory of
    /// the report directory, and write matrix.html, matrix.md and matrix.json there: a row
    /// per expectation, a column per runtime, and the compare table of each against lcrun.
    #[arg(long, value_name = "docker|podman|podman:RUNTIME")]
    pub engine: Vec<String>,
    /// Write KTAP version 1 to stdout, for kernel CI (kselftest's runner, KernelCI, LKFT): a
    /// test per scenario as it finishes, a subtest per step and expectation with its measured
    /// value on a diagnostic line, skips as `# SKIP`, inconclusive verdicts as `# SKIP
    /// inconclusive: …`, errors as `not ok … # ERROR`, then kselftest's `# Totals:` line. The
    /// progress lines are in the stream as diagnostic lines (`# RUN cpu-halving …`). The exit
    /// status becomes kselftest's: 0 pass (skips allowed), 1 a fail or an error, 4 nothing
    /// passed (all skipped or inconclusive).
    #[arg(long)]
    pub ktap: bool,
}

/// Flags of the hidden `limitcheck guard`.
#[derive(Debug, Args)]
pub struct GuardArgs {
    /// The runtime's state root.
    #[arg(long)]
    pub root: std::path::PathBuf,
    /// The run whose containers to remove.
    #[arg(long)]
    pub run_id: String,
    /// The run's process.
    #[arg(long)]
    pub owner_pid: u32,
    /// That process's start time, clock ticks since boot.
    #[arg(long)]
    pub owner_start: u64,
}

/// Flags of `limitcheck report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory (with summary.json).
    pub run_dir: std::path::PathBuf,
    /// Print the run as KTAP version 1 instead (what `run --ktap` streams), and exit as
    /// kselftest reads it: 0 pass, 1 a fail or an error, 4 nothing passed.
    #[arg(long, conflicts_with = "kcidb")]
    pub ktap: bool,
    /// Print the run as KCIDB I/O schema v5 JSON instead, for `kcidb-submit`: a test per
    /// scenario (path `limitcheck.<scenario>`) and per step and expectation
    /// (`limitcheck.cpu_halving.cpu_usage_2s_6s`), with the measured value as `number`;
    /// statuses PASS, FAIL, ERROR (could not run or judge), DONE (inconclusive: measured, not
    /// judged), SKIP, MISS (planned, not run).
    #[arg(long)]
    pub kcidb: bool,
    /// Print the `lava-test-case` command lines that report the run to LAVA instead (a case
    /// per scenario, step and expectation, `--measurement V --units U` where measured; results
    /// pass, fail, skip, and unknown for inconclusive and error). lava/run.sh pipes them to sh.
    #[arg(long, conflicts_with_all = ["kcidb", "ktap"])]
    pub lava: bool,
    /// With --kcidb: the submitting CI system's name (KCIDB's `origin`).
    #[arg(long, default_value = "limitcheck", requires = "kcidb")]
    pub origin: String,
    /// With --kcidb: the build the tests ran on, as your CI system named it in KCIDB
    /// (`ORIGIN:ID`). Without it, a checkout and a build of the kernel that ran are written too.
    #[arg(long, value_name = "ORIGIN:ID", requires = "kcidb")]
    pub build_id: Option<String>,
}

/// Flags of `limitcheck compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run directory (or its summary.json).
    pub baseline: std::path::PathBuf,
    /// The new run directory (or its summary.json); its index.html gets the comparison.
    pub run: std::path::PathBuf,
    /// How far a measurement may move against its expectation, as a fraction of the expected
    /// value or bound.
    #[arg(long, default_value_t = limitcheck_report::compare::DEFAULT_THRESHOLD)]
    pub threshold: f64,
}

/// Flags of `limitcheck validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files or directories.
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
}

/// Flags of `limitcheck stress` common to every stressor.
#[derive(Debug, Args)]
pub struct StressArgs {
    /// Stop after this long (500ms, 10s, 2m); without it, run until SIGTERM or SIGINT.
    #[arg(long, global = true, value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// Write the final JSON record to this file instead of stdout.
    #[arg(long, global = true)]
    pub report: Option<std::path::PathBuf>,
    /// Rewrite this file every 100 ms with the live counters, for a sampler: one JSON object,
    /// space-padded and overwritten in place (so that no write allocates memory in the
    /// workload's cgroup), ending in a "check" that tells a half-written read.
    #[arg(long, global = true)]
    pub counters: Option<std::path::PathBuf>,
    /// The stressor.
    #[command(subcommand)]
    pub stressor: StressCommand,
}

fn duration(s: &str) -> Result<std::time::Duration, String> {
    limitcheck_cgroup::units::parse_duration(s).map_err(|e| e.to_string())
}

fn size(s: &str) -> Result<u64, String> {
    limitcheck_cgroup::units::parse_size(s).map_err(|e| e.to_string())
}

/// The stressors.
#[derive(Debug, Subcommand)]
pub enum StressCommand {
    /// N processes burning CPU (like stress-ng --cpu N).
    Cpu {
        /// Worker processes.
        #[arg(long, short, default_value_t = 1)]
        workers: usize,
        /// Percent of each 100 ms wall-clock slice to be busy (1-100); throttling does not
        /// change the offered load.
        #[arg(long)]
        load: Option<u8>,
    },
    /// N processes writing anonymous memory (like stress-ng --vm N); OOM-killed workers are
    /// forked again and counted.
    Vm {
        /// Worker processes.
        #[arg(long, short, default_value_t = 1)]
        workers: usize,
        /// Bytes per worker (256m, 1g, 256Mi). Per worker, unlike stress-ng's --vm-bytes.
        #[arg(long, value_parser = size)]
        bytes: u64,
        /// Hold the mapping and rewrite it, instead of unmapping after each pass.
        #[arg(long)]
        keep: bool,
        /// Sleep between passes.
        #[arg(long, value_parser = duration, default_value = "0")]
        hang: std::time::Duration,
        /// Leave this much of the machine's memory available (400m): each worker writes its
        /// share of MemAvailable beyond it, at most --bytes. Global memory pressure sized to
        /// the machine (a disposable one: the v1 soft limit acts only under it).
        #[arg(long, value_parser = size)]
        leave: Option<u64>,
    },
    /// Keep N processes alive and count refused forks (for pids.max).
    Fork {
        /// Processes to keep alive.
        #[arg(long, short)]
        processes: usize,
    },
    /// N processes each writing (or reading) a file of its own, one MiB at a time, pass after
    /// pass: through the page cache (memory limits on page cache, memory.high) or with
    /// --direct around it (io.max and blkio throttles). The files are removed at the end.
    Io {
        /// Worker processes.
        #[arg(long, short, default_value_t = 1)]
        workers: usize,
        /// Size of each worker's file, a whole number of MiB (256m, 1g).
        #[arg(long, value_parser = size)]
        bytes: u64,
        /// Read the file pass after pass (it is written once first) instead of writing it.
        #[arg(long)]
        read: bool,
        /// Open with O_DIRECT: every MiB goes to the disk as it is moved, no page cache.
        #[arg(long)]
        direct: bool,
        /// Sleep between passes (longer than the run: the file is written once and left cold,
        /// the first to be reclaimed unless protected).
        #[arg(long, value_parser = duration, default_value = "0")]
        hang: std::time::Duration,
        /// Where the files go: a directory on a disk (a tmpfs is refused). In limitcheck's
        /// containers /var/tmp is on the disk of the host or of the VM guest.
        #[arg(long, default_value = limitcheck_workload::IO_DIR)]
        dir: std::path::PathBuf,
    },
    /// Threads that run, then sleep, in a fixed rhythm (CFS bandwidth slice behaviour).
    Burst {
        /// Threads.
        #[arg(long, short, default_value_t = 1)]
        threads: usize,
        /// Busy time per period (e.g. 5ms).
        #[arg(long, value_parser = duration)]
        run: std::time::Duration,
        /// Sleep per period (e.g. 95ms).
        #[arg(long, value_parser = duration)]
        sleep: std::time::Duration,
    },
    /// N processes burning CPU in the kernel: read(2) after read(2) from /dev/zero, each
    /// sized to take --call of CPU time.
    ///
    /// The process returns to user space only between reads. For CFS throttling of time spent
    /// in the kernel: Linux 6.18 throttles a task on its way back to user space, so a quota is
    /// overrun by up to a call. The size is found at the start from the CPU time of reads of
    /// 1 MiB, and printed on stderr.
    Kernel {
        /// Worker processes.
        #[arg(long, short, default_value_t = 1)]
        workers: usize,
        /// CPU time per read (20ms).
        #[arg(long, value_parser = duration, default_value = "20ms")]
        call: std::time::Duration,
    },
    /// fibtest's pattern (indeedeng/fibtest): fast threads that never pause and slow threads
    /// that do a moment's work and sleep 10 ms, thread k pinned to the k-th CPU allowed.
    ///
    /// Under a small CFS quota on a many-CPU machine, every slow thread's CPU takes a slice of
    /// the quota that it barely uses: a kernel that lets those slices expire (the bug commit
    /// de53fd7aedb1 fixed) throttles the fast thread while the cgroup uses far less than its
    /// quota. Run it in a cgroup with cpu.max "10000 100000" and compare the cgroup's usage
    /// with its quota.
    Fibtest {
        /// Threads that compute without a pause (fibtest's -f).
        #[arg(long, short, default_value_t = 1)]
        fast: usize,
        /// Threads in all, fast ones included (fibtest's -t) [default: one per CPU allowed]
        #[arg(long, short)]
        threads: Option<usize>,
        /// A slow thread's sleep after each bogo-op.
        #[arg(long, value_parser = duration, default_value = "10ms")]
        sleep: std::time::Duration,
    },
}

/// Flags of `limitcheck doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON (for scripts) instead of text.
    #[arg(long)]
    pub json: bool,
}
