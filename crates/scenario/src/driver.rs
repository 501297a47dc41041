//! The container a scenario runs, whichever runtime made it: lcrun's library in this process
//! (the default), or another OCI runtime through its command line (`--runtime runc`). The
//! runner sees one interface; what differs is who is asked.

use limitcheck_cgroup::{Cgroup, FreezerState, Limit, LimitKind};
use limitcheck_runtime::engine::EngineContainer;
use limitcheck_runtime::oci_cli::OciContainer;
use limitcheck_runtime::{Container, ExitInfo, Result, Status};

/// A container of a scenario.
#[derive(Debug)]
// A scenario holds a few of them, each for its whole run: the sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Handle {
    /// Made by lcrun's library, in this process.
    Lib(Container),
    /// Made by another runtime, through its command line.
    Cli(OciContainer),
    /// Held by an engine (docker, podman), through its command line.
    Engine(EngineContainer),
}

impl Handle {
    /// The container's id.
    pub fn id(&self) -> &str {
        match self {
            Handle::Lib(c) => c.id(),
            Handle::Cli(c) => c.id(),
            Handle::Engine(c) => c.id(),
        }
    }

    /// Its init's host pid.
    pub fn pid(&self) -> i32 {
        match self {
            Handle::Lib(c) => c.pid(),
            Handle::Cli(c) => c.pid(),
            Handle::Engine(c) => c.pid(),
        }
    }

    /// Its cgroup (for another runtime: where it put the init).
    pub fn cgroup(&self) -> Result<Cgroup> {
        match self {
            Handle::Lib(c) => c.cgroup(),
            Handle::Cli(c) => c.cgroup(),
            Handle::Engine(c) => c.cgroup(),
        }
    }

    /// Lets the user process run.
    pub fn start(&mut self) -> Result<()> {
        self.start_within(None)
    }

    /// [`Handle::start`], giving up after `deadline` where the runtime waits for the process
    /// to start (lcrun's library waits for its execve; runc's and crun's `start` return once
    /// the init is let go).
    pub fn start_within(&mut self, deadline: Option<std::time::Duration>) -> Result<()> {
        match self {
            Handle::Lib(c) => c.start_within(deadline),
            Handle::Cli(c) => c.start(),
            Handle::Engine(c) => c.start(),
        }
    }

    /// Whether the init has ended, without waiting.
    pub fn try_wait(&self) -> Result<Option<ExitInfo>> {
        match self {
            Handle::Lib(c) => c.try_wait(),
            Handle::Cli(c) => c.try_wait(),
            Handle::Engine(c) => c.try_wait(),
        }
    }

    /// Whether its cgroup is frozen.
    pub fn frozen(&self) -> bool {
        match self {
            Handle::Lib(c) => c.status() == Status::Paused,
            _ => {
                self.cgroup()
                    .ok()
                    .and_then(|g| g.get(LimitKind::Freezer).ok())
                    == Some(Limit::Freezer(FreezerState::Frozen))
            }
        }
    }

    /// Changes its limits through the runtime (`<runtime> update` for another runtime).
    pub fn update(&self, limits: &[Limit]) -> Result<()> {
        match self {
            Handle::Lib(c) => c.update(limits),
            Handle::Cli(c) => c.update(limits).map(|_| ()),
            Handle::Engine(c) => c.update(limits).map(|_| ()),
        }
    }

    /// Freezes it through the runtime.
    pub fn pause(&self) -> Result<()> {
        match self {
            Handle::Lib(c) => c.pause(),
            Handle::Cli(c) => c.pause(),
            Handle::Engine(c) => c.pause(),
        }
    }

    /// Thaws it through the runtime.
    pub fn resume(&self) -> Result<()> {
        match self {
            Handle::Lib(c) => c.resume(),
            Handle::Cli(c) => c.resume(),
            Handle::Engine(c) => c.resume(),
        }
    }

    /// Kills what runs and removes it, cgroup and state.
    pub fn delete(self) -> Result<()> {
        match self {
            Handle::Lib(c) => c.delete(true),
            Handle::Cli(c) => c.delete(),
            Handle::Engine(c) => c.delete(),
        }
    }

    /// Whether another runtime or an engine made it (its initial limits are its config's, to
    /// be checked once it runs).
    pub fn external(&self) -> bool {
        !matches!(self, Handle::Lib(_))
    }

    /// Writes its log into `path`, for an engine that keeps it (the others write there as
    /// the container runs).
    pub fn save_log(&self, path: &std::path::Path) {
        if let Handle::Engine(c) = self {
            let _ = c.save_log(path);
        }
    }

    /// The OOM kills counted in its cgroup.
    pub fn oom_kills(&self) -> u64 {
        self.cgroup()
            .ok()
            .and_then(|g| g.stats().ok())
            .and_then(|s| s.memory)
            .and_then(|m| m.oom_kill)
            .unwrap_or(0)
    }
}
