//! Running a scenario: containers from the host-made rootfs running the workloads, limits
//! changed on the timeline, samples taken from the host, expectations judged, and everything
//! removed afterwards — passed, failed or interrupted.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use limitcheck_cgroup::Layout;
use limitcheck_runtime::bundle::Bundle;
use limitcheck_runtime::engine::Engine;
use limitcheck_runtime::oci_cli::OciRuntime;
use limitcheck_runtime::{CreateOptions, Runtime};

use crate::driver::Handle;

use crate::model::{Change, Exit, Only, Run, Scenario, Step, Via};
use crate::sample::{self, Sample, Target};
use crate::verdict::{self, Verdict};
pub use limitcheck_record::{Attempt, HostInfo, LimitPoint, ScenarioResult, StepResult, Summary};

/// Where a run puts things and how to stop it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The runtime's state root.
    pub runtime_root: PathBuf,
    /// The limitcheck binary: the containers' init and their workload.
    pub exe: PathBuf,
    /// A swap file or device this run may switch on for a scenario that needs swap
    /// (`swap = true`) and off after: the VM guest's. None on a host: its swap is its own.
    pub swap_device: Option<PathBuf>,
    /// Whether scenarios may use the whole machine (`whole_machine = true`): only where the
    /// machine is the run's own, the `limitcheck vm` guest. Never on a host others use.
    pub whole_machine: bool,
    /// The run's directory on a disk ([`scratch_dir`]): each container of the host-made root
    /// gets a directory of its own in it as `/var/tmp`, where the io workload writes, so that
    /// what it writes is a disk's page cache, charged to the container, and not a tmpfs.
    pub scratch: PathBuf,
    /// The run directory (summary.json, samples.csv, container logs).
    pub run_dir: PathBuf,
    /// A run id, part of container names.
    pub run_id: String,
    /// Set by SIGINT/SIGTERM: the scenario stops, and cleans up.
    pub stop: Arc<AtomicBool>,
    /// Write `limitcheck: begin <scenario>` / `end` into the kernel log around each scenario
    /// (the VM lane, whose console log then shows what ran when).
    pub kmsg_markers: bool,
    /// How many times an inconclusive scenario runs again (see [`crate::suite::run_all`]).
    pub retries: u32,
    /// The pause before each retry (for the load that starved it to pass).
    pub retry_pause: Duration,
    /// How long a step may block in the kernel before it is interrupted ([`STEP_DEADLINE`]).
    pub step_deadline: Duration,
    /// Another OCI runtime to run the containers with (`--runtime runc`), through its command
    /// line; `None`: lcrun's library, in this process.
    pub runtime: Option<OciRuntime>,
    /// An engine (`--engine docker`) to hold the containers, through its command line.
    pub engine: Option<Engine>,
    /// The name of what `runtime` and `engine` say ([`crate::lane`]): `lcrun`, `runc`,
    /// `docker`, `podman:runc`.
    pub lane: String,
    /// Whether the command line named the runtimes (`--runtime`, `--engine`): then a
    /// scenario's own `runtime = "…"` only says in which lanes it runs; else it chooses.
    pub lanes_chosen: bool,
}

/// Retries by default: an inconclusive scenario runs up to three times in all.
pub const DEFAULT_RETRIES: u32 = 2;
/// The pause before a retry by default.
pub const DEFAULT_RETRY_PAUSE: Duration = Duration::from_secs(5);

fn read_limits(name: &str, cg: Option<limitcheck_cgroup::Cgroup>, t: f64) -> LimitPoint {
    use limitcheck_cgroup::{Limit, LimitKind, Max};
    let cpus = match cg.as_ref().and_then(|g| g.get(LimitKind::CpuMax).ok()) {
        Some(Limit::CpuMax {
            quota_us: Max::Value(q),
            period_us,
        }) if period_us > 0 => Some(q as f64 / period_us as f64),
        _ => None,
    };
    let memory_bytes = match cg.as_ref().and_then(|g| g.get(LimitKind::MemoryMax).ok()) {
        Some(Limit::MemoryMax(Max::Value(b))) => Some(b),
        _ => None,
    };
    LimitPoint {
        t,
        container: name.to_string(),
        cpus,
        memory_bytes,
    }
}

fn applies(only: Option<Only>, layout: &Layout) -> bool {
    verdict::applies(only, verdict::Platform::here(layout.version()))
}

fn describe(c: &Change) -> String {
    match c {
        Change::Set(limits) => format!(
            "set {}",
            limits
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Change::Write { file, value } => format!("{file} = {value}"),
        Change::Pause => "pause".into(),
        Change::Resume => "resume".into(),
        Change::Kill => "kill".into(),
    }
}

fn outcome<E: std::fmt::Display>(
    r: Result<(), E>,
    errno: impl Fn(&E) -> Option<nix::errno::Errno>,
) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => match errno(&e) {
            Some(n) => format!("{n:?}"),
            None => format!("error: {e}"),
        },
    }
}

/// Sleeps until `t`, calling `tick` four times a second; false if stopped early (`stop` set,
/// or `tick` said so).
fn sleep_until(t: Instant, stop: &AtomicBool, tick: &mut dyn FnMut() -> bool) -> bool {
    let mut next_tick = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= next_tick {
            if !tick() {
                return false;
            }
            next_tick = now + Duration::from_millis(250);
        }
        if now >= t {
            return true;
        }
        std::thread::sleep((t - now).min(Duration::from_millis(20)));
    }
}

/// The live line: elapsed time as a bar, then each container's CPU and memory now, as
/// `docker stats` shows them.
pub fn live_line(s: &Scenario, elapsed: f64, latest: &[[Option<Sample>; 2]]) -> String {
    let frac = (elapsed / s.duration.as_secs_f64()).clamp(0.0, 1.0);
    let filled = (frac * 20.0).round() as usize;
    let mut line = format!(
        "[{}{}] {:>5.1}/{:.1}s",
        "#".repeat(filled),
        ".".repeat(20 - filled),
        elapsed,
        s.duration.as_secs_f64()
    );
    for (i, c) in s.containers.iter().enumerate() {
        let Some([Some(a), Some(b)]) = latest.get(i) else {
            continue;
        };
        let cpu = match (a.cpu_ns, b.cpu_ns) {
            (Some(x), Some(y)) if b.t > a.t => y.saturating_sub(x) as f64 / 1e9 / (b.t - a.t),
            _ => 0.0,
        };
        let mem = b.memory.unwrap_or(0) as f64 / 1048576.0;
        line.push_str(&format!("  {}: {cpu:.2} CPU {mem:.0} MiB", c.name));
    }
    line
}

/// Why a scenario ended before its verdicts.
enum Stopped {
    /// It cannot apply on this host.
    Skip(String),
    /// It could not run.
    Error(String),
}

impl From<String> for Stopped {
    fn from(e: String) -> Self {
        Stopped::Error(e)
    }
}

struct Running {
    container: Handle,
    log: PathBuf,
    _bundle: Bundle,
    /// Dropped after the container: its /var/tmp.
    _scratch: Option<Scratch>,
}

/// Where `limitcheck run` (and the VM guest) keep a run's scratch directories: under the
/// host's `/var/tmp`, which is on a disk by convention (FHS), where `/tmp` and `/run` are
/// often tmpfs.
pub fn scratch_dir(run_id: &str) -> PathBuf {
    Path::new("/var/tmp/limitcheck").join(run_id)
}

/// The whole disk `dir` (or its nearest existing parent) is on: the device io.max and
/// blkio throttle, which take a disk, not a partition. Err says why there is none (a
/// filesystem on no block device: tmpfs, overlay, btrfs's anonymous devices).
pub fn scratch_disk(dir: &Path) -> Result<limitcheck_cgroup::DeviceNumber, String> {
    use std::os::unix::fs::MetadataExt;
    let mut d = dir;
    while !d.exists() {
        d = d.parent().ok_or("no directory of it exists")?;
    }
    let dev = std::fs::metadata(d)
        .map_err(|e| format!("cannot stat {}: {e}", d.display()))?
        .dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    if !sys.exists() {
        return Err(format!(
            "{} is on device {major}:{minor}, which is no block device (a tmpfs, overlay or \
             btrfs subvolume?)",
            d.display()
        ));
    }
    // A partition's directory sits in its disk's: the disk's `dev` is one level up.
    let whole = if sys.join("partition").exists() {
        std::fs::read_to_string(sys.join("../dev"))
            .map_err(|e| format!("cannot read the disk of partition {major}:{minor}: {e}"))?
    } else {
        format!("{major}:{minor}")
    };
    let (a, b) = whole
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("bad device number {whole:?}"))?;
    Ok(limitcheck_cgroup::DeviceNumber {
        major: a
            .parse()
            .map_err(|_| format!("bad device number {whole:?}"))?,
        minor: b
            .parse()
            .map_err(|_| format!("bad device number {whole:?}"))?,
    })
}

/// `s` with every throttle of [`crate::model::SCRATCH_DISK`] on `disk`; None if it has none.
fn on_scratch_disk(s: &Scenario, disk: limitcheck_cgroup::DeviceNumber) -> Option<Scenario> {
    let mut changed = false;
    let mut fix = |ls: &mut Vec<limitcheck_cgroup::Limit>| {
        for l in ls.iter_mut() {
            if let limitcheck_cgroup::Limit::IoThrottle { device, .. } = l {
                if *device == crate::model::SCRATCH_DISK {
                    *device = disk;
                    changed = true;
                }
            }
        }
    };
    let mut out = s.clone();
    for c in &mut out.containers {
        fix(&mut c.limits);
    }
    for g in &mut out.groups {
        fix(&mut g.limits);
    }
    for st in &mut out.steps {
        if let Change::Set(ls) = &mut st.change {
            fix(ls);
        }
    }
    changed.then_some(out)
}

fn uses_scratch_disk(s: &Scenario) -> bool {
    let on = |ls: &[limitcheck_cgroup::Limit]| {
        ls.iter().any(|l| {
            matches!(l, limitcheck_cgroup::Limit::IoThrottle { device, .. }
                if *device == crate::model::SCRATCH_DISK)
        })
    };
    s.containers.iter().any(|c| on(&c.limits))
        || s.groups.iter().any(|g| on(&g.limits))
        || s.steps
            .iter()
            .any(|st| matches!(&st.change, Change::Set(ls) if on(ls)))
}

/// Swap switched on for one scenario, off again when dropped.
struct SwapOn(PathBuf);

impl Drop for SwapOn {
    fn drop(&mut self) {
        if let Ok(p) = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()) {
            // SAFETY: swapoff(2) with a NUL-terminated path.
            unsafe { libc::swapoff(p.as_ptr()) };
        }
    }
}

fn host_swap_bytes() -> u64 {
    use procfs::Current;
    procfs::Meminfo::current().map_or(0, |m| m.swap_total)
}

/// What a scenario with `swap = true` needs: the host's swap (nothing to do), or the run's
/// swap device switched on for it; Err says why it cannot have any.
fn swap_for(s: &Scenario, o: &RunOptions) -> Result<Option<SwapOn>, String> {
    if !s.swap || host_swap_bytes() > 0 {
        return Ok(None);
    }
    let Some(dev) = &o.swap_device else {
        return Err(
            "the scenario needs swap (swap = true) and this host has none (limitcheck vm gives \
             its guest a swap file for such scenarios)"
                .into(),
        );
    };
    let p = std::ffi::CString::new(dev.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: a NUL in the path", dev.display()))?;
    // SAFETY: swapon(2) with a NUL-terminated path and no flags.
    if unsafe { libc::swapon(p.as_ptr(), 0) } != 0 {
        return Err(format!(
            "the scenario needs swap, and swapon {} failed: {}",
            dev.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(Some(SwapOn(dev.clone())))
}

/// A container's `/var/tmp`, removed with everything in it when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why an io workload cannot run in this run's containers, if it cannot: a scratch directory
/// on a tmpfs or ramfs (a VM guest without a disk, a host whose /var/tmp is a tmpfs) has no
/// page cache to measure.
fn io_out_of_reach(s: &Scenario, o: &RunOptions) -> Option<String> {
    let c = s
        .containers
        .iter()
        .find(|c| matches!(&c.run, Run::Workload(w) if w.first().is_some_and(|k| k == "io")))?;
    let mut dir = o.scratch.as_path();
    while !dir.exists() {
        dir = dir.parent()?;
    }
    let fs = nix::sys::statfs::statfs(dir).ok()?;
    limitcheck_workload::in_memory_fs(fs.filesystem_type()).then(|| {
        format!(
            "container {}: an io workload needs a disk under /var/tmp, and {} is on a tmpfs \
             or ramfs here (in limitcheck vm, the guest gets a disk when its kernel has \
             virtio-blk and ext4, built in or as modules of its Debian package)",
            c.name,
            dir.display(),
        )
    })
}

/// A scenario's result as it stands before it runs: what summary.json's `running` records.
pub fn skeleton(s: &Scenario) -> ScenarioResult {
    ScenarioResult {
        name: s.name.clone(),
        file: s.file.clone(),
        description: s.description.clone(),
        verdict: Verdict::Pass,
        reason: String::new(),
        interval_s: s.interval.as_secs_f64(),
        duration_s: s.duration.as_secs_f64(),
        samples: 0,
        jitter_ms: [0.0, 0.0],
        containers: s.unit_names(),
        groups: s.groups.iter().map(|g| g.name.clone()).collect(),
        startup_ms: Vec::new(),
        expectations: Vec::new(),
        steps: Vec::new(),
        limits: Vec::new(),
        attempts: Vec::new(),
        died: None,
        runtime: None,
        engine_source: None,
        engine_samples: Vec::new(),
        interrupted: false,
        stalls: Vec::new(),
        stall_witness: None,
        unstarted: Vec::new(),
        sample_rows: Vec::new(),
        host_rows: Vec::new(),
    }
}

/// Runs one scenario. Never leaves a container, cgroup, bundle or process behind. `live`, if
/// given, receives a status line (see [`live_line`]) four times a second. Samples go to the
/// run directory's journal as they are taken.
pub fn run<'l>(
    s: &Scenario,
    layout: &Layout,
    o: &RunOptions,
    live: Option<&mut (dyn FnMut(&str) + 'l)>,
) -> ScenarioResult {
    // io_read_bps / io_write_bps name the disk under /var/tmp: found here, on this host.
    let resolved;
    let s = if uses_scratch_disk(s) {
        match scratch_disk(&o.scratch).map(|d| on_scratch_disk(s, d)) {
            Ok(Some(x)) => {
                resolved = x;
                &resolved
            }
            Ok(None) => s,
            Err(why) => {
                let mut r = skeleton(s);
                r.verdict = Verdict::Skip;
                r.reason = format!(
                    "io_read_bps and io_write_bps throttle the disk under the containers' \
                     /var/tmp, and there is none: {why}"
                );
                return r;
            }
        }
    } else {
        s
    };
    let mut r = skeleton(s);
    if !applies(s.only, layout) {
        r.verdict = Verdict::Skip;
        r.reason = format!(
            "the scenario is for {}",
            verdict::Platform::here(layout.version()).mismatch(s.only.unwrap())
        );
        return r;
    }
    let have = layout.available();
    let needed = s
        .containers
        .iter()
        .flat_map(|c| c.limits.iter())
        .chain(s.groups.iter().flat_map(|g| g.limits.iter()))
        .chain(
            s.steps
                .iter()
                .filter(|st| applies(st.only, layout))
                .flat_map(|st| match &st.change {
                    Change::Set(l) => l.iter().collect::<Vec<_>>(),
                    _ => Vec::new(),
                }),
        )
        .map(|l| l.kind().controller())
        .find(|c| !have.contains(c));
    if let Some(c) = needed {
        r.verdict = Verdict::Skip;
        r.reason = format!("the {c} controller is not available on this host");
        return r;
    }
    if let Some(need) = s.min_cpus {
        let online = online_cpus();
        if online < need {
            r.verdict = Verdict::Skip;
            r.reason = format!(
                "the scenario needs {need} online CPUs (min_cpus) and this machine has \
                 {online}: run it in a guest with more (limitcheck vm --topology \
                 sockets=2,cores=8 FILE)"
            );
            return r;
        }
    }
    if s.whole_machine && !o.whole_machine {
        r.verdict = Verdict::Skip;
        r.reason = "the scenario uses the whole machine's memory (whole_machine = true), which \
                    only a machine made for the run may give: it runs in limitcheck vm's guest \
                    (limitcheck vm --kernel debian --cgroup v1 FILE)"
            .into();
        return r;
    }
    let _swap = match swap_for(s, o) {
        Ok(on) => on,
        Err(why) => {
            r.verdict = Verdict::Skip;
            r.reason = why;
            return r;
        }
    };
    let mut running: Vec<Running> = Vec::new();
    let tree = group_tree(s, o);
    let result = run_inner(s, layout, o, &mut r, &mut running, live);
    // Whatever happened: stop and remove every container (and with it its cgroup and state),
    // then the groups' tree. The groups' quotas are lifted first: a container their quota
    // throttles could not run to die.
    if let Some(t) = &tree {
        limitcheck_cgroup::tree::unthrottle_tree(t);
    }
    let mut unremoved = Vec::new();
    for c in running.drain(..) {
        c.container.save_log(&c.log);
        let id = c.container.id().to_string();
        if let Err(e) = c.container.delete() {
            unremoved.push(format!("container {id} could not be removed: {e}"));
        }
    }
    if let Some(Err(e)) = tree
        .as_ref()
        .map(|t| limitcheck_cgroup::tree::remove_tree(t))
    {
        unremoved.push(format!("the groups' cgroups could not be removed: {e}"));
    }
    let unremoved = (!unremoved.is_empty()).then(|| unremoved.join("; "));
    tidy(o);
    let result = match (result, unremoved) {
        (Ok(()), Some(e)) => Err(Stopped::Error(e)),
        (r, _) => r,
    };
    match result {
        Err(Stopped::Error(e)) => {
            r.verdict = Verdict::Error;
            r.reason = e;
            return r;
        }
        Err(Stopped::Skip(e)) => {
            r.verdict = Verdict::Skip;
            r.reason = e;
            return r;
        }
        Ok(()) => {}
    }
    let judged = verdict::judge(
        s,
        verdict::Platform::here(layout.version()),
        &verdict::Recording {
            samples: &r.sample_rows,
            host: &r.host_rows,
            limits: &r.limits,
            steps: &r.steps,
            died: r.died.as_ref(),
            stalls: &r.stalls,
            unstarted: &r.unstarted,
        },
    );
    r.expectations = judged.expectations;
    if let Some(source) = &r.engine_source {
        verdict::beside_engine(&mut r.expectations, &r.engine_samples, source);
    }
    r.verdict = judged.verdict;
    r.reason = judged.reason;
    r
}

/// How long the runner waits for a container's built-in workload to report before it starts
/// the next container (or, after the last, the clock) anyway.
pub const WORKLOAD_START_DEADLINE: Duration = Duration::from_secs(5);

/// Waits until the built-in workload of the container whose init is `pid` has written its
/// `counters` (read as the sampler reads them), or its init has ended (the liveness watch
/// reports that): true; false if it is still starting after [`WORKLOAD_START_DEADLINE`] or at
/// `stop` (Ctrl-C).
fn wait_for_workload(counters: &Path, pid: i32, stop: &AtomicBool) -> bool {
    let until = Instant::now() + WORKLOAD_START_DEADLINE;
    loop {
        let up = std::fs::read(counters)
            .ok()
            .and_then(|b| limitcheck_record::Counters::from_live(&b))
            .is_some();
        if up || !process_alive(pid) {
            return true;
        }
        if Instant::now() >= until || stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether process `pid` is there and not a zombie.
fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
        st.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// The CPUs online on this machine (`_SC_NPROCESSORS_ONLN`).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1)
}

/// The prefix of the cgroup trees a run's groups are made in: `lcg-<run-id>-` (as its
/// containers are `lcr-<run-id>-…`), below [`limitcheck_cgroup::DEFAULT_PARENT`].
pub fn group_prefix(run_id: &str) -> String {
    format!("lcg-{run_id}-")
}

/// A name made of the scenario's name, fit for a container id or a cgroup.
fn slug(s: &Scenario) -> String {
    s.name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(24)
        .collect()
}

/// Where scenario `s`'s groups are made, below each cgroup root
/// (`limitcheck/lcg-<run-id>-<scenario>`), if it has groups.
fn group_tree(s: &Scenario, o: &RunOptions) -> Option<PathBuf> {
    (!s.groups.is_empty()).then(|| {
        Path::new(limitcheck_cgroup::DEFAULT_PARENT).join(format!(
            "{}{}",
            group_prefix(&o.run_id),
            slug(s)
        ))
    })
}

/// Makes the scenario's groups, parents first, each with its limits. Their handles are not
/// kept: the tree is removed as a whole once the containers are gone ([`run`]), and steps and
/// the sampler open a group when they need it.
fn make_groups(s: &Scenario, layout: &Layout, tree: &Path) -> Result<(), Stopped> {
    for (g, spec) in s.groups.iter().enumerate() {
        let path = tree.join(s.group_path(g));
        let (parent, name) = (
            path.parent().expect("below the tree").to_path_buf(),
            spec.dir.clone(),
        );
        let cg = layout
            .cgroup()
            .parent(parent)
            .name(name)
            .create()
            .map_err(|e| format!("group {}: {e}", spec.name))?
            .keep();
        cg.apply(&spec.limits).map_err(|e| match e {
            u @ limitcheck_cgroup::CgroupError::Unsupported { .. } => {
                Stopped::Skip(format!("group {}: {u}", spec.name))
            }
            e => Stopped::Error(format!("group {}: its limits: {e}", spec.name)),
        })?;
    }
    Ok(())
}

fn run_inner<'l>(
    s: &Scenario,
    layout: &Layout,
    o: &RunOptions,
    r: &mut ScenarioResult,
    running: &mut Vec<Running>,
    mut live: Option<&mut (dyn FnMut(&str) + 'l)>,
) -> Result<(), Stopped> {
    let rt = Runtime::new(&o.runtime_root).with_init_exe(&o.exe);
    let exe_name = o
        .exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "limitcheck".into());
    let counters_in = "/tmp/limitcheck-counters.json";
    std::fs::create_dir_all(&o.run_dir)
        .map_err(|e| format!("cannot create {}: {e}", o.run_dir.display()))?;
    let slug = slug(s);
    let tree = group_tree(s, o);
    if let Some(skip) = oom_score_adj_out_of_reach(s) {
        return Err(Stopped::Skip(skip));
    }
    if let Some(skip) = io_out_of_reach(s, o) {
        return Err(Stopped::Skip(skip));
    }
    if let Some(tree) = &tree {
        make_groups(s, layout, tree)?;
    }
    let mut create_ms = Vec::new();
    for c in &s.containers {
        let id = format!("lcr-{}-{slug}-{}", o.run_id, c.name);
        let args = match &c.run {
            Run::Workload(w) => {
                let mut a = vec![
                    exe_name.clone(),
                    "stress".into(),
                    "--counters".into(),
                    counters_in.into(),
                ];
                a.extend(w.iter().cloned());
                a
            }
            Run::Command(cmd) => cmd.clone(),
            Run::Image => Vec::new(),
        };
        let bundle_dir = o.runtime_root.join("bundles").join(&id);
        let mut bundle = match &c.image {
            None => Bundle::host(&bundle_dir, args, std::slice::from_ref(&o.exe))
                .map_err(|e| format!("container {}: {e}", c.name))?,
            Some(img) => image_bundle(o, &bundle_dir, img, &c.run).map_err(|e| match e {
                Stopped::Skip(w) => Stopped::Skip(format!("container {}: {w}", c.name)),
                Stopped::Error(w) => Stopped::Error(format!("container {}: {w}", c.name)),
            })?,
        };
        // Its /var/tmp, on a disk: the host-made root has no other writable place but the
        // /tmp tmpfs. An engine gets it as a bind mount (`--mount type=bind`).
        let scratch = if c.image.is_none() {
            let dir = o.scratch.join(&id);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let scratch = Scratch(dir);
            let spec = bundle.spec_mut();
            let mut mounts = spec.mounts().clone().unwrap_or_default();
            mounts.push(
                limitcheck_runtime::oci_spec::runtime::MountBuilder::default()
                    .destination("/var/tmp")
                    .typ("bind")
                    .source(&scratch.0)
                    .options(vec!["rbind".into(), "nosuid".into(), "nodev".into()])
                    .build()
                    .map_err(|e| format!("the /var/tmp mount: {e}"))?,
            );
            spec.set_mounts(Some(mounts));
            Some(scratch)
        } else {
            None
        };
        if let Some(adj) = c.oom_score_adj {
            let spec = bundle.spec_mut();
            let mut process = spec.process().clone().unwrap_or_default();
            process.set_oom_score_adj(Some(adj));
            spec.set_process(Some(process));
        }
        if let (Some(g), Some(tree)) = (c.group, &tree) {
            // In its group: its cgroup a child of the group's, whichever runtime makes it.
            let path = Path::new("/").join(tree).join(s.group_path(g)).join(&id);
            let spec = bundle.spec_mut();
            let mut linux = spec.linux().clone().unwrap_or_default();
            linux.set_cgroups_path(Some(path));
            spec.set_linux(Some(linux));
        }
        let log = o.run_dir.join(format!("{slug}-{}.log", c.name));
        let mut out =
            File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        if let Some(made) = bundle.image_made() {
            use std::io::Write;
            let _ = writeln!(out, "# limitcheck: root from {}", made.describe());
        }
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let null = File::open("/dev/null").map_err(|e| e.to_string())?;
        let stdio = [null.into(), out.into(), err.into()];
        let creating = Instant::now();
        if o.runtime.is_none() && o.engine.is_none() {
            let container = rt
                .create(
                    &id,
                    bundle.spec(),
                    CreateOptions {
                        stdio: Some(stdio),
                        ..Default::default()
                    },
                )
                .map_err(|e| format!("container {}: {e}", c.name))?;
            running.push(Running {
                container: Handle::Lib(container),
                log: log.clone(),
                _bundle: bundle,
                _scratch: scratch,
            });
            let cur = running.last().expect("just pushed");
            cur.container.update(&c.limits).map_err(|e| match e {
                // A limit this kernel does not have (CPU burst before 5.14, memory.high on
                // v1): the scenario cannot apply here, which is a skip, not an error.
                limitcheck_runtime::RuntimeError::Cgroup(
                    u @ limitcheck_cgroup::CgroupError::Unsupported { .. },
                ) => Stopped::Skip(format!("container {}: {u}", c.name)),
                e => Stopped::Error(format!("container {}: initial limits: {e}", c.name)),
            })?;
            // With its limits, as another runtime's create includes them.
            create_ms.push(creating.elapsed().as_secs_f64() * 1e3);
            continue;
        }
        // Another runtime or an engine: the initial limits go in the config or on the
        // engine's command line, as docker puts them.
        let container =
            create_external(o, &id, &bundle, &c.limits, stdio).map_err(|e| match e {
                Stopped::Skip(why) => Stopped::Skip(format!("container {}: {why}", c.name)),
                Stopped::Error(why) => Stopped::Error(format!("container {}: {why}", c.name)),
            })?;
        create_ms.push(creating.elapsed().as_secs_f64() * 1e3);
        running.push(Running {
            container,
            log,
            _bundle: bundle,
            _scratch: scratch,
        });
    }
    // The stall witness watches from before the containers start, before the clock: a stall
    // charged to a container before the first sample is a debt it repays in the window. Not
    // from before the containers are made: making them and setting their limits flips static
    // keys (the first cpuset, the first CFS quota), and the kernel patches its text while
    // every CPU runs; with a real-time thread of the witness waking on each of them, Debian's
    // 6.12 under QEMU's TCG oopsed on the patch's int3 ("int3" in __alloc_pages, 16 vCPUs,
    // 2 boots in 5).
    let witness = crate::witness::Witness::start();
    let counters_of = |pid: i32| PathBuf::from(format!("/proc/{pid}/root{counters_in}"));
    // Each container is started, and its built-in workload waited for (its first counters
    // written), before the next is started; the clock starts once the last is up. A process
    // starting under a small quota on an emulated CPU takes seconds (the v2 lane's 3-vCPU
    // guest: 1.4-2.5 s under 0.1 CPU, more than 8 s under 0.01), and a window over its start
    // would judge the start, not the workload. One at a time, because a container made to
    // starve beside another's hog (a BestEffort pod's weight of 1 or shares of 2) does not
    // start at all once the hog runs: k8s-pods-qos's scan never started within the scenario in
    // the lanes while all started at once; the scenario starts it first. One still starting
    // at its deadline is named; its expectations are judged only from its first counters on.
    for (i, (run, created)) in running.iter_mut().zip(&create_ms).enumerate() {
        let starting = Instant::now();
        run.container
            .start_within(Some(START_DEADLINE))
            .map_err(|e| {
                format!(
                    "container {}: start: {e}{}",
                    s.containers[i].name,
                    if starting.elapsed() >= START_DEADLINE {
                        "; limits that starve a container (a weight of 1, shares of 2 on a \
                         CPU another holds) are better set by a step once it has started"
                    } else {
                        ""
                    }
                )
            })?;
        r.startup_ms
            .push(created + starting.elapsed().as_secs_f64() * 1e3);
        if matches!(s.containers[i].run, Run::Workload(_)) {
            let pid = run.container.pid();
            if !wait_for_workload(&counters_of(pid), pid, &o.stop) {
                r.unstarted.push(s.containers[i].name.clone());
            }
        }
    }
    // What another runtime or an engine did not apply cannot be measured: one that drops a
    // field it does not know (runc 1.1 and cpu.burst) is not judged on it.
    for (i, run) in running.iter().enumerate() {
        if !run.container.external() {
            continue;
        }
        if let Ok(cg) = run.container.cgroup() {
            if let Some(why) = not_applied(&s.containers[i].limits, &cg) {
                return Err(Stopped::Skip(format!(
                    "container {}: {} did not apply what it was given: {why}",
                    s.containers[i].name, o.lane
                )));
            }
        }
    }
    let mut targets = Vec::new();
    for (i, run) in running.iter().enumerate() {
        let cgroup = run.container.cgroup().map_err(|e| e.to_string())?;
        let counters = matches!(s.containers[i].run, Run::Workload(_))
            .then(|| counters_of(run.container.pid()));
        targets.push(Target { cgroup, counters });
    }
    let unit_cg =
        |running: &[Running], u: usize| unit_cgroup(s, layout, tree.as_deref(), running, u);
    for (g, _) in s.groups.iter().enumerate() {
        let cgroup = unit_cg(running, s.unit_of_group(g))?;
        targets.push(Target {
            cgroup,
            counters: None,
        });
    }
    for u in 0..s.units() {
        r.limits
            .push(read_limits(s.unit_name(u), unit_cg(running, u).ok(), 0.0));
    }
    // The engine's own figures (`docker stats`), read beside the kernel's for the report.
    let engine_stats = o.engine.as_ref().and_then(|eng| {
        let names: Vec<&str> = running.iter().map(|r| r.container.id()).collect();
        eng.stats(&names).ok()
    });
    let t0 = Instant::now();
    let stop_sampler = Arc::new(AtomicBool::new(false));
    let latest: sample::Latest = Arc::new(std::sync::Mutex::new(vec![[None, None]; s.units()]));
    let journal_error = Arc::new(std::sync::Mutex::new(None));
    let sampler = {
        let stop = Arc::clone(&stop_sampler);
        let interval = s.interval;
        let latest = Arc::clone(&latest);
        let sink = sample::Sink {
            journal: limitcheck_record::Journal::new(&o.run_dir, &s.name, &r.containers),
            error: Arc::clone(&journal_error),
        };
        std::thread::spawn(move || sample::run(targets, t0, interval, stop, latest, sink))
    };
    let journal_failed = || journal_error.lock().ok().and_then(|e| e.clone());
    // Liveness: each container's init is watched; one that ends before the scenario does
    // (unless a kill step ended it, or the scenario allows its exit status) stops the run.
    let mut watch = Liveness::new(s.units());
    let mut tick = |running: &[Running], watch: &mut Liveness| {
        if let Some(f) = live.as_mut() {
            if let Ok(l) = latest.lock() {
                f(&live_line(s, t0.elapsed().as_secs_f64(), &l));
            }
        }
        watch.check(s, running, t0.elapsed().as_secs_f64());
        watch.dead.is_none() && journal_failed().is_none()
    };
    let mut interrupted = false;
    for st in &s.steps {
        if !sleep_until(t0 + st.at, &o.stop, &mut || tick(running, &mut watch)) {
            interrupted = true;
            break;
        }
        // A kill of a group kills the containers in it: their end is expected, as is the
        // freeze of those in a paused group.
        if st.change.kills() {
            for c in in_unit(s, st.container) {
                watch.killed[c] = true;
            }
        }
        r.steps.push(do_step(
            s,
            st,
            layout,
            tree.as_deref(),
            running,
            t0,
            o.step_deadline,
        ));
        match st.change {
            Change::Pause => watch.paused[st.container] = true,
            Change::Resume => watch.paused[st.container] = false,
            _ => {}
        }
        r.limits.push(read_limits(
            s.unit_name(st.container),
            unit_cg(running, st.container).ok(),
            t0.elapsed().as_secs_f64(),
        ));
    }
    if !interrupted && !sleep_until(t0 + s.duration, &o.stop, &mut || tick(running, &mut watch)) {
        interrupted = true;
    }
    watch.check(s, running, t0.elapsed().as_secs_f64());
    stop_sampler.store(true, Ordering::Relaxed);
    let (rows, host_rows) = sampler
        .join()
        .map_err(|_| "the sampler panicked".to_string())?;
    r.host_rows = host_rows;
    let seen = witness.finish(t0);
    r.stalls = seen.stalls;
    r.stall_witness = seen.unavailable;
    r.samples = rows.len();
    if !rows.is_empty() {
        r.jitter_ms = [
            rows.iter().map(|x| x.jitter_ms).sum::<f64>() / rows.len() as f64,
            rows.iter().map(|x| x.jitter_ms).fold(0.0, f64::max),
        ];
    }
    r.sample_rows = rows;
    if let (Some(stream), Some(eng)) = (engine_stats, &o.engine) {
        let names: Vec<String> = running
            .iter()
            .map(|r| r.container.id().to_string())
            .collect();
        r.engine_source = Some(format!("{} stats", eng.kind));
        r.engine_samples = stream
            .finish()
            .into_iter()
            .filter_map(|(at, st)| {
                let i = names.iter().position(|n| *n == st.name)?;
                Some(limitcheck_record::EngineSample {
                    t: at.checked_duration_since(t0)?.as_secs_f64(),
                    container: s.containers[i].name.clone(),
                    cpus: st.cpus,
                    memory_bytes: st.memory_bytes,
                    pids: st.pids,
                })
            })
            .collect();
    }
    if let Some(why) = watch.dead.take() {
        let c = &s.containers[why.container];
        let log = o.run_dir.join(format!("{slug}-{}.log", c.name));
        running[why.container].container.save_log(&log);
        r.died = Some(limitcheck_record::Death {
            container: c.name.clone(),
            cause: why.cause,
            t: why.t,
            how: why.how,
            allowed: match c.exit {
                None => None,
                Some(Exit::Status(e)) => Some(format!("exit = {e} is allowed")),
                Some(Exit::OomKill) => Some("an OOM kill is allowed".into()),
            },
            log_tail: last_lines(&log, 3),
            log,
        });
    }
    // A death also stops the timeline early; it is judged (an error with its reason).
    if let Some(e) = journal_failed() {
        return Err(Stopped::Error(e));
    }
    if interrupted && r.died.is_none() {
        r.interrupted = true;
        return Err(Stopped::Error(
            "interrupted (SIGINT or SIGTERM): containers stopped and removed".into(),
        ));
    }
    Ok(())
}

/// A container that ended when it should not have (or was frozen, or lost its cgroup).
struct Death {
    container: usize,
    cause: limitcheck_record::Cause,
    t: f64,
    /// "exited with status 2", "was killed by signal 9 (SIGKILL)".
    how: String,
}

/// Watches the containers' inits (see [`run_inner`]), and their cgroups: one frozen or
/// removed from outside the run is as good as dead to the measurement.
struct Liveness {
    /// Containers a kill step has ended: their end is expected.
    killed: Vec<bool>,
    /// Containers a pause step has frozen (until a resume step): their freeze is expected.
    paused: Vec<bool>,
    /// Containers seen ended (checked no more).
    ended: Vec<bool>,
    /// The first end that was not expected.
    dead: Option<Death>,
}

impl Liveness {
    /// Watches `n` units (containers, then groups: a group can be paused).
    fn new(n: usize) -> Self {
        Liveness {
            killed: vec![false; n],
            paused: vec![false; n],
            ended: vec![false; n],
            dead: None,
        }
    }

    fn check(&mut self, s: &Scenario, running: &[Running], t: f64) {
        for (i, run) in running.iter().enumerate() {
            if self.ended[i] {
                continue;
            }
            let exit = match run.container.try_wait() {
                Ok(Some(e)) => e,
                _ => {
                    if self.dead.is_none() && !self.killed[i] {
                        if let Some((cause, how)) = self.disturbed(s, i, &run.container) {
                            self.dead = Some(Death {
                                container: i,
                                cause,
                                t,
                                how,
                            });
                        }
                    }
                    continue;
                }
            };
            self.ended[i] = true;
            // A SIGKILL with OOM kills counted in its cgroup is the OOM killer's.
            let oom_kills = run.container.oom_kills();
            let by_oom = exit.oom_killed || (exit.signal == Some(libc::SIGKILL) && oom_kills > 0);
            let allowed = match (s.containers[i].exit, exit.code) {
                (Some(Exit::Status(want)), Some(code)) => want == code,
                (Some(Exit::OomKill), _) => by_oom,
                _ => false,
            };
            if self.killed[i] || allowed || self.dead.is_some() {
                continue;
            }
            let how = match (exit.code, exit.signal) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(_)) if by_oom => format!(
                    "was killed by the OOM killer (SIGKILL; {oom_kills} OOM kills in its cgroup)"
                ),
                (None, Some(sig)) => format!(
                    "was killed by signal {sig} ({})",
                    nix::sys::signal::Signal::try_from(sig)
                        .map(|x| x.as_str())
                        .unwrap_or("?")
                ),
                (None, None) => "ended".into(),
            };
            self.dead = Some(Death {
                container: i,
                cause: limitcheck_record::Cause::Ended,
                t,
                how,
            });
        }
    }

    /// A live container whose cgroup something outside the run removed or froze: how.
    /// Whether a step paused container `i`, or a group it is in.
    fn paused_here(&self, s: &Scenario, i: usize) -> bool {
        self.paused[i] || s.ancestors(i).iter().any(|g| self.paused[*g])
    }

    fn disturbed(
        &self,
        s: &Scenario,
        i: usize,
        c: &Handle,
    ) -> Option<(limitcheck_record::Cause, String)> {
        use limitcheck_record::Cause;
        match c.cgroup() {
            Err(limitcheck_runtime::RuntimeError::Cgroup(
                limitcheck_cgroup::CgroupError::Dir { path, .. },
            )) if !path.exists() => {
                return Some((Cause::CgroupRemoved, format!("{} is gone", path.display())))
            }
            Err(_) => return None,
            Ok(cg) => {
                if let Some(gone) = cg.dirs().iter().find(|d| !d.exists()) {
                    return Some((Cause::CgroupRemoved, format!("{} is gone", gone.display())));
                }
            }
        }
        (!self.paused_here(s, i) && c.frozen())
            .then(|| (Cause::FrozenFromOutside, "its freezer reads FROZEN".into()))
    }
}

/// The last `n` non-empty lines of a file, joined with ` | ` (or a note that it is empty).
fn last_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "(empty)".into();
    }
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// The first of `wanted` the cgroup does not hold (as `what: wanted -> reads`), if any.
fn not_applied(
    wanted: &[limitcheck_cgroup::Limit],
    cg: &limitcheck_cgroup::Cgroup,
) -> Option<String> {
    wanted.iter().find_map(|w| match cg.get(w.kind()) {
        Ok(got) if got != *w => Some(format!("{w} was asked, the cgroup reads {got}")),
        _ => None,
    })
}

/// The limits a change could move by mistake, as the kernel reports them now (those this
/// host has).
fn snapshot(cg: &limitcheck_cgroup::Cgroup) -> Vec<limitcheck_cgroup::Limit> {
    use limitcheck_cgroup::LimitKind as K;
    [
        K::CpuMax,
        K::CpuBurst,
        K::CpuShares,
        K::CpuWeight,
        K::CpusetCpus,
        K::CpusetMems,
        K::MemoryMax,
        K::MemorySwapMax,
        K::MemoryHigh,
        K::MemoryLow,
        K::MemoryMin,
        K::MemorySoftLimit,
        K::PidsMax,
        K::BlkioWeight,
    ]
    .into_iter()
    .filter_map(|k| cg.get(k).ok())
    .collect()
}

/// The limits of `named` that the cgroup does not hold in `after`, `asked, read back`: what a
/// runtime's update said it applied and did not. Memory is compared in pages (the kernel
/// rounds a limit down to one); shares and weight not at all (v2 converts between them, with
/// rounding); a kind not read back is not judged here.
pub fn unapplied(
    named: &[limitcheck_cgroup::Limit],
    after: &[limitcheck_cgroup::Limit],
) -> Vec<String> {
    use limitcheck_cgroup::{Limit as L, Max};
    let pages = |m: &Max| match m {
        Max::Value(v) => Some(v / 4096),
        Max::Unlimited => None,
    };
    let same = |n: &L, a: &L| match (n, a) {
        (L::MemoryMax(x), L::MemoryMax(y))
        | (L::MemorySwapMax(x), L::MemorySwapMax(y))
        | (L::MemoryHigh(x), L::MemoryHigh(y))
        | (L::MemorySoftLimit(x), L::MemorySoftLimit(y)) => pages(x) == pages(y),
        (L::MemoryLow(x), L::MemoryLow(y)) | (L::MemoryMin(x), L::MemoryMin(y)) => {
            x / 4096 == y / 4096
        }
        (L::CpuShares(_) | L::CpuWeight(_), _) => true,
        (n, a) => n == a,
    };
    named
        .iter()
        .filter_map(|n| {
            let a = after.iter().find(|a| a.kind() == n.kind())?;
            (!same(n, a)).then(|| format!("{n} asked, {a} read back"))
        })
        .collect()
}

/// What moved between `before` and `after` that a change naming `named` should have left
/// alone, as `cpu quota 50000/100000 µs -> cpu quota 50000/50000 µs`. Kinds that are one
/// setting seen two ways move together: shares and weight (v1 shares read as a weight and back),
/// and a memory limit with its memory+swap limit (v1 keeps memsw at or above it).
pub fn unnamed_changes(
    named: &[limitcheck_cgroup::Limit],
    before: &[limitcheck_cgroup::Limit],
    after: &[limitcheck_cgroup::Limit],
) -> Vec<String> {
    use limitcheck_cgroup::LimitKind as K;
    let family = |k: K| match k {
        K::CpuShares | K::CpuWeight => K::CpuShares,
        K::MemoryMax | K::MemorySwapMax => K::MemoryMax,
        k => k,
    };
    let named: Vec<K> = named.iter().map(|l| family(l.kind())).collect();
    before
        .iter()
        .filter(|b| !named.contains(&family(b.kind())))
        .filter_map(|b| {
            let a = after.iter().find(|a| a.kind() == b.kind());
            match a {
                Some(a) if a == b => None,
                Some(a) => Some(format!("{b} -> {a}")),
                None => Some(format!("{b} -> (unreadable)")),
            }
        })
        .collect()
}

/// How long a step's write may stay in the kernel before it is interrupted. A v1
/// `memory.limit_in_bytes` below what the cgroup holds retries reclaim for as long as each
/// pass frees a page (`mem_cgroup_resize_max`), checking for a pending signal on every pass;
/// v2's `memory.high` and `memory.max` writes reclaim in the writer too. Without a deadline a
/// run could hang in such a write.
pub const STEP_DEADLINE: Duration = Duration::from_secs(10);

/// How long a container's start may take (lcrun's library waits until its process is
/// exec'd): 100-200 ms here, seconds under emulation; an init starved by its own limits may
/// take minutes, and the scenario is then an error saying so, not a hung run.
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// The signal that interrupts a blocked step: its handler does nothing, and without
/// SA_RESTART the interrupted write returns EINTR.
fn interrupt_signal() -> libc::c_int {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn nothing(_: libc::c_int) {}
    ONCE.call_once(|| {
        // SAFETY: a handler that does nothing, installed once.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = nothing as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut());
        }
    });
    libc::SIGUSR2
}

/// Runs `f` on a thread of its own; one still in it after `deadline` is signalled (see
/// [`interrupt_signal`]) until it returns. Gives `f`'s result and, if it had to be
/// interrupted, how long it had blocked.
fn bounded<T: Send>(deadline: Duration, f: impl FnOnce() -> T + Send) -> (T, Option<Duration>) {
    let sig = interrupt_signal();
    let thread = std::sync::atomic::AtomicU64::new(0);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::scope(|sc| {
        let start = Instant::now();
        let h = sc.spawn(|| {
            // SAFETY: pthread_self has no preconditions.
            thread.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
            let r = f();
            let _ = done.send(());
            r
        });
        let mut blocked = None;
        if finished.recv_timeout(deadline).is_err() {
            blocked = Some(start.elapsed());
            while finished.recv_timeout(Duration::from_millis(20)).is_err() {
                let t = thread.load(Ordering::SeqCst);
                if t != 0 {
                    // SAFETY: the thread is not joined before the scope ends, so its id is
                    // valid; the signal's handler does nothing.
                    unsafe { libc::pthread_kill(t as libc::pthread_t, sig) };
                }
            }
        }
        (h.join().expect("a step does not panic"), blocked)
    })
}

/// The containers a unit holds: itself, or every container in a group and its subgroups.
fn in_unit(s: &Scenario, unit: usize) -> Vec<usize> {
    (0..s.containers.len())
        .filter(|&c| c == unit || s.ancestors(c).contains(&unit))
        .collect()
}

/// A group's cgroup (`g` indexes [`Scenario::groups`]), opened (not owned).
fn group_cgroup(
    s: &Scenario,
    layout: &Layout,
    tree: &Path,
    g: usize,
) -> limitcheck_cgroup::Result<limitcheck_cgroup::Cgroup> {
    let path = tree.join(s.group_path(g));
    layout
        .cgroup()
        .parent(path.parent().expect("below the tree"))
        .name(&s.groups[g].dir)
        .open()
}

/// A unit's cgroup: a container's (where its runtime put it) or a group's.
fn unit_cgroup(
    s: &Scenario,
    layout: &Layout,
    tree: Option<&Path>,
    running: &[Running],
    unit: usize,
) -> Result<limitcheck_cgroup::Cgroup, String> {
    match (s.group_of_unit(unit), tree) {
        (Some(g), Some(tree)) => {
            group_cgroup(s, layout, tree, g).map_err(|e| format!("group {}: {e}", s.groups[g].name))
        }
        (Some(g), None) => Err(format!("group {} was not made", s.groups[g].name)),
        (None, _) => running
            .get(unit)
            .ok_or_else(|| format!("container {} is not running", s.unit_name(unit)))?
            .container
            .cgroup()
            .map_err(|e| e.to_string()),
    }
}

fn do_step(
    s: &Scenario,
    st: &Step,
    layout: &Layout,
    tree: Option<&Path>,
    running: &[Running],
    t0: Instant,
    deadline: Duration,
) -> StepResult {
    // A container's handle; none for a group (its cgroup is limitcheck's own).
    let handle = running.get(st.container).map(|r| &r.container);
    let mut res = StepResult {
        at: st.at.as_secs_f64(),
        actual: None,
        done: None,
        container: s.unit_name(st.container).to_string(),
        what: describe(&st.change),
        via: st.via,
        expected: st.expect.clone(),
        outcome: None,
        changed: Vec::new(),
        not_applied: Vec::new(),
        verdict: Verdict::Skip,
    };
    if !applies(st.only, layout) {
        return res;
    }
    let cg = unit_cgroup(s, layout, tree, running, st.container);
    // What a change of limits does not name must not move: read it all before and after.
    let before = match (&st.change, &cg) {
        (Change::Set(_), Ok(g)) => Some(snapshot(g)),
        _ => None,
    };
    let actual = t0.elapsed().as_secs_f64();
    let (out, blocked) = bounded(deadline, || match (&st.change, st.via, cg, handle) {
        (_, _, Err(e), _) => format!("error: {e}"),
        (Change::Set(limits), Via::File, Ok(cg), _) => outcome(cg.apply(limits), |e| e.errno()),
        (Change::Set(limits), Via::Runtime, Ok(_), Some(c)) => {
            outcome(c.update(limits), |e| e.errno())
        }
        (Change::Set(_), Via::Runtime, Ok(_), None) => "error: a group has no runtime".into(),
        (Change::Write { file, value }, _, Ok(cg), _) => {
            outcome(cg.write_raw(file, value), |e| e.errno())
        }
        (Change::Pause, _, Ok(_), Some(c)) => outcome(c.pause(), |e| e.errno()),
        (Change::Resume, _, Ok(_), Some(c)) => outcome(c.resume(), |e| e.errno()),
        (Change::Pause, _, Ok(cg), None) => outcome(cg.freeze(), |e| e.errno()),
        (Change::Resume, _, Ok(cg), None) => outcome(cg.thaw(), |e| e.errno()),
        (Change::Kill, _, Ok(cg), Some(_)) => outcome(cg.kill_all(), |e| e.errno()),
        // A group: every container in it (on v1 a group's own cgroup.procs is empty).
        (Change::Kill, _, Ok(_), None) => outcome(
            in_unit(s, st.container).into_iter().try_for_each(|c| {
                unit_cgroup(s, layout, tree, running, c)
                    .and_then(|cg| cg.kill_all().map_err(|e| e.to_string()))
            }),
            |_| None,
        ),
    });
    res.actual = Some(actual);
    res.done = Some(t0.elapsed().as_secs_f64());
    let after = unit_cgroup(s, layout, tree, running, st.container);
    if let (Change::Set(named), Some(before), Ok(g)) = (&st.change, &before, after) {
        let after = snapshot(&g);
        res.changed = unnamed_changes(named, before, &after);
        // A runtime that says it applied a limit must have: its exit status is not proof.
        if st.via == Via::Runtime && out == "ok" {
            res.not_applied = unapplied(named, &after);
        }
    }
    res.verdict = if blocked.is_some() {
        // The kernel neither applied it nor refused it: not a verdict on the limit.
        Verdict::Error
    } else if !res.changed.is_empty() || !res.not_applied.is_empty() {
        Verdict::Fail
    } else if out == st.expect {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    res.outcome = Some(match blocked {
        Some(d) => format!(
            "blocked in the kernel for {:.1} s, then interrupted (the write returned {out})",
            d.as_secs_f64()
        ),
        None if !res.not_applied.is_empty() => format!(
            "{out}, but the kernel does not hold what it named: {}{}",
            res.not_applied.join("; "),
            if res.changed.is_empty() {
                String::new()
            } else {
                format!(
                    "; and it changed what it did not name: {}",
                    res.changed.join("; ")
                )
            }
        ),
        None if !res.changed.is_empty() => format!(
            "{out}, but it changed what it did not name: {}",
            res.changed.join("; ")
        ),
        None => out,
    });
    res
}

/// The bundle of an image container: a skip when the image is not there (not built yet) or
/// the lane is an engine (which holds images of its own); an error when it is there but bad.
fn image_bundle(
    o: &RunOptions,
    dir: &Path,
    img: &crate::model::ImageSpec,
    run: &Run,
) -> Result<Bundle, Stopped> {
    if let Some(eng) = &o.engine {
        return Err(Stopped::Skip(format!(
            "image {}: an image container under {} is not made yet (lcrun, runc and crun \
             run it from the bundle limitcheck makes)",
            img.source, eng.kind
        )));
    }
    if !img.source.path().exists() {
        return Err(Stopped::Skip(format!(
            "image {}: {} is not here; build it first (for the shipped scenarios: \
             scripts/images.sh)",
            img.source,
            img.source.path().display()
        )));
    }
    let command = match run {
        Run::Command(cmd) => Some(cmd.clone()),
        _ => None,
    };
    let opts = limitcheck_runtime::imagefs::ImageOptions {
        how: img.how,
        ..Default::default()
    };
    Bundle::image(dir, &img.source, command, &opts).map_err(|e| Stopped::Error(e.to_string()))
}

/// Creates container `id` from `bundle` with another runtime or an engine (`o.runtime`,
/// `o.engine`); a limit the engine has no flag for is a skip.
fn create_external(
    o: &RunOptions,
    id: &str,
    bundle: &Bundle,
    limits: &[limitcheck_cgroup::Limit],
    stdio: [std::os::fd::OwnedFd; 3],
) -> Result<Handle, Stopped> {
    let spec = &bundle.spec().spec;
    if let Some(eng) = &o.engine {
        if let Some(l) = limitcheck_runtime::engine::without_flags(limits).first() {
            return Err(Stopped::Skip(format!("{} has no flag for {l}", eng.kind)));
        }
        eng.ensure_image(&bundle.spec().rootfs)
            .map_err(|e| Stopped::Error(format!("the image: {e}")))?;
        let c = eng
            .create(id, bundle.dir(), spec, limits)
            .map_err(|e| Stopped::Error(e.to_string()))?;
        return Ok(Handle::Engine(c));
    }
    let ext = o
        .runtime
        .as_ref()
        .ok_or_else(|| Stopped::Error("no runtime to create it with".into()))?;
    let c = ext
        .create(id, bundle.dir(), spec, limits, stdio)
        .map_err(|e| Stopped::Error(e.to_string()))?;
    Ok(Handle::Cli(c))
}

/// Removes the state directories a scenario's containers had, once empty.
fn tidy(o: &RunOptions) {
    let _ = std::fs::remove_dir(o.runtime_root.join("bundles"));
    if std::fs::remove_dir(&o.scratch).is_ok() {
        if let Some(p) = o.scratch.parent() {
            let _ = std::fs::remove_dir(p);
        }
    }
    if let Some(ext) = &o.runtime {
        let _ = std::fs::remove_dir(&ext.root);
        if let Some(p) = ext.root.parent() {
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// Runs `true` in a container of `o.runtime` (create, start, its end, delete): Ok if that
/// runtime can run a container on this host, else its own words.
pub fn probe_runtime(o: &RunOptions) -> Result<(), String> {
    if o.runtime.is_none() && o.engine.is_none() {
        return Ok(());
    }
    let r = probe(o).map_err(|e| match &o.engine {
        // podman's default runtime is crun, which refuses a hybrid host (crun 1.8).
        Some(eng)
            if eng.kind == "podman"
                && !eng.global.iter().any(|g| g == "--runtime")
                && e.contains("crun") =>
        {
            format!("{e} (podman ran crun, its default runtime: try --engine podman:runc)")
        }
        _ => e,
    });
    tidy(o);
    r
}

fn probe(o: &RunOptions) -> Result<(), String> {
    let id = format!("lcr-{}-probe", o.run_id);
    let bundle = Bundle::host(
        &o.runtime_root.join("bundles").join(&id),
        vec!["true".into()],
        &[],
    )
    .map_err(|e| e.to_string())?;
    let null = || File::options().read(true).write(true).open("/dev/null");
    let stdio = match (null(), null(), null()) {
        (Ok(a), Ok(b), Ok(c)) => [a.into(), b.into(), c.into()],
        _ => return Err("cannot open /dev/null".into()),
    };
    let mut c = create_external(o, &id, &bundle, &[], stdio).map_err(|e| match e {
        Stopped::Skip(w) | Stopped::Error(w) => w,
    })?;
    let ran = c.start().map_err(|e| e.to_string()).and_then(|()| {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match c.try_wait() {
                Ok(Some(e)) if e.code.is_none_or(|c| c == 0) => return Ok(()),
                Ok(Some(e)) => return Err(format!("`true` in its container ended with {e:?}")),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
                Ok(None) => return Err("`true` in its container did not end in 10 s".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
    });
    let removed = c.delete().map_err(|e| e.to_string());
    drop(bundle);
    ran.and(removed)
}

/// Reads this host's facts.
pub fn gather_host(layout: &Layout, version: &str) -> HostInfo {
    use procfs::Current;
    HostInfo {
        kernel: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cgroup_mode: layout.mode.to_string(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_bytes: procfs::Meminfo::current().map_or(0, |m| m.mem_total),
        limitcheck_version: version.to_string(),
        runtime: None,
        emulated: crate::host::emulated(),
        tick_ns: crate::host::tick_ns(),
    }
}

/// Why a container's `oom_score_adj` cannot be given here, if it cannot: the kernel lets a
/// process lower its oom_score_adj below its floor (`oom_score_adj_min`: 0, or the lowest
/// value a privileged ancestor gave it; /proc does not show it, so min(own, 0) stands in)
/// only with CAP_SYS_RESOURCE, and a runtime
/// started by limitcheck has no more capabilities than limitcheck (a sandbox or a container
/// may have taken it from the bounding set). That is this host's limit, not the kernel's: a
/// skip naming the capability, never a container that fails to start.
fn oom_score_adj_out_of_reach(s: &Scenario) -> Option<String> {
    let (name, want) = s
        .containers
        .iter()
        .filter_map(|c| Some((&c.name, c.oom_score_adj?)))
        .min_by_key(|(_, a)| *a)?;
    let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let floor = own.min(0);
    if want >= floor {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())?;
    const CAP_SYS_RESOURCE: u32 = 24;
    (eff & (1 << CAP_SYS_RESOURCE) == 0).then(|| {
        format!(
            "container {name}: oom_score_adj = {want} is below {floor}, limitcheck's own \
             floor, which needs CAP_SYS_RESOURCE, and limitcheck lacks it (CapEff \
             {eff:016x}): run it where root has that capability"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The scratch disk is the whole disk of a directory on one, its `dev` in sysfs; a tmpfs
    /// has none; a scenario's io throttles are moved onto it, steps' included.
    #[test]
    fn io_throttles_land_on_the_disk_under_the_scratch_directory() {
        let root = Path::new("/");
        match scratch_disk(root) {
            Ok(d) => {
                let dev = std::fs::read_to_string(format!("/sys/dev/block/{d}/dev")).unwrap();
                assert_eq!(dev.trim(), d.to_string());
                assert!(
                    !Path::new(&format!("/sys/dev/block/{d}/partition")).exists(),
                    "{d} is a partition, not its disk"
                );
            }
            // A root on overlay or btrfs (a container's): said so, not a panic.
            Err(why) => assert!(why.contains("no block device"), "{why}"),
        }
        if Path::new("/dev/shm").exists() {
            let why = scratch_disk(Path::new("/dev/shm/no/such/dir")).unwrap_err();
            assert!(why.contains("no block device"), "{why}");
        }
        let text = "duration = \"2s\"\n[[container]]\nworkload = { kind = \"io\", bytes = \"8M\", direct = true }\nio_write_bps = \"10M\"\n[[step]]\nat = \"1s\"\nset = { io_read_bps = \"5M\" }\n";
        let s = crate::model::parse(text, Path::new("t.toml")).unwrap();
        assert!(uses_scratch_disk(&s));
        let disk = limitcheck_cgroup::DeviceNumber { major: 8, minor: 0 };
        let moved = on_scratch_disk(&s, disk).unwrap();
        assert!(!uses_scratch_disk(&moved));
        let Change::Set(ls) = &moved.steps[0].change else {
            panic!("{:?}", moved.steps[0].change)
        };
        assert!(
            matches!(ls[0], limitcheck_cgroup::Limit::IoThrottle { device, .. } if device == disk)
        );
        assert!(
            matches!(moved.containers[0].limits[0], limitcheck_cgroup::Limit::IoThrottle { device, .. } if device == disk)
        );
    }

    /// A call that blocks in the kernel (a read of a pipe nobody writes) is interrupted once
    /// past its deadline and returns EINTR; one that returns in time is left alone.
    #[test]
    fn a_call_blocked_in_the_kernel_is_interrupted_at_its_deadline() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        let mut r = File::from(r);
        let started = Instant::now();
        let (res, blocked) = bounded(Duration::from_millis(300), || {
            let mut b = [0u8; 1];
            r.read(&mut b).map_err(|e| e.kind())
        });
        assert_eq!(res, Err(std::io::ErrorKind::Interrupted));
        let blocked = blocked.expect("it blocked");
        assert!(blocked >= Duration::from_millis(300), "{blocked:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        let (res, blocked) = bounded(Duration::from_secs(5), || 42);
        assert_eq!((res, blocked), (42, None));
    }

    /// An update that said ok and left a named limit as it was is caught, naming both
    /// values (youki 0.7 on `update --cpu-quota`); the kernel's page rounding of a memory
    /// limit, and the shares/weight conversion, are not.
    #[test]
    fn an_update_that_did_not_apply_what_it_named_is_caught() {
        use limitcheck_cgroup::{Limit, Max};
        let cpu = |q, p| Limit::CpuMax {
            quota_us: Max::Value(q),
            period_us: p,
        };
        let after = vec![
            cpu(100_000, 100_000),
            Limit::CpuShares(1024),
            Limit::MemoryMax(Max::Value(99_999_744)),
            Limit::PidsMax(Max::Value(20)),
        ];
        assert_eq!(
            unapplied(&[cpu(50_000, 100_000)], &after),
            ["cpu quota 50000/100000 µs (0.50 CPUs) asked, cpu quota 100000/100000 µs (1.00 CPUs) read back"]
        );
        assert!(unapplied(
            &[
                cpu(100_000, 100_000),
                Limit::MemoryMax(Max::Value(100_000_000)),
                Limit::CpuShares(512),
                Limit::PidsMax(Max::Value(20)),
                Limit::CpuBurst(1000),
            ],
            &after
        )
        .is_empty());
        assert_eq!(
            unapplied(&[Limit::PidsMax(Max::Unlimited)], &after),
            ["pids max asked, pids 20 read back"]
        );
    }

    /// An update of the memory limit that also reset the CPU period and cleared the burst (as
    /// runc#4225 and #4210 did) is caught, field by field; what it named, and what moves with
    /// it, is not.
    #[test]
    fn an_update_that_changes_what_it_did_not_name_is_caught() {
        use limitcheck_cgroup::{Limit, Max};
        let cpu = |q, p| Limit::CpuMax {
            quota_us: Max::Value(q),
            period_us: p,
        };
        let before = vec![
            cpu(50_000, 100_000),
            Limit::CpuBurst(20_000),
            Limit::CpuShares(1024),
            Limit::MemoryMax(Max::Value(256 << 20)),
            Limit::MemorySwapMax(Max::Value(256 << 20)),
            Limit::PidsMax(Max::Value(20)),
        ];
        let mut after = before.clone();
        after[3] = Limit::MemoryMax(Max::Value(128 << 20));
        after[4] = Limit::MemorySwapMax(Max::Value(128 << 20));
        let named = [Limit::MemoryMax(Max::Value(128 << 20))];
        assert!(unnamed_changes(&named, &before, &after).is_empty());
        after[0] = cpu(50_000, 50_000);
        after[1] = Limit::CpuBurst(0);
        assert_eq!(
            unnamed_changes(&named, &before, &after),
            [
                "cpu quota 50000/100000 µs (0.50 CPUs) -> cpu quota 50000/50000 µs (1.00 CPUs)",
                "cpu burst 20000 µs -> cpu burst 0 µs"
            ]
        );
        // Naming the CPU limit makes its change the point, not a clobber; the memory it did
        // not name is one.
        assert_eq!(
            unnamed_changes(&[cpu(50_000, 50_000)], &before, &after),
            [
                "cpu burst 20000 µs -> cpu burst 0 µs",
                "memory 256 MiB -> memory 128 MiB",
                "memory+swap 256 MiB -> memory+swap 128 MiB"
            ]
        );
    }
}
