//! What runs a scenario's containers — a lane: lcrun's library (in this process), another OCI
//! runtime through its command line (`--runtime runc`), or a container engine's (`--engine
//! docker`, `podman`, `podman:RUNTIME`). The command line names the lanes of a run; a
//! scenario's own `runtime = "…"` names the one it is about.

use std::path::{Path, PathBuf};

use limitcheck_runtime::engine::Engine;
use limitcheck_runtime::oci_cli::OciRuntime;

/// The label of lcrun's library, the default lane and a matrix's baseline.
pub const LCRUN: &str = "lcrun";

/// One way of running the containers.
#[derive(Debug, Clone)]
pub struct Lane {
    /// Its name: `lcrun`, `runc`, `docker`, `podman:runc`.
    pub label: String,
    /// Another OCI runtime, through its CLI.
    pub runtime: Option<OciRuntime>,
    /// A container engine, through its CLI.
    pub engine: Option<Engine>,
}

impl Lane {
    /// lcrun's library, in this process.
    pub fn builtin() -> Lane {
        Lane {
            label: LCRUN.into(),
            runtime: None,
            engine: None,
        }
    }

    /// The OCI runtime `name` (a name on PATH, `lcrun` beside `exe` first, or a path), its
    /// state under `root`.
    pub fn runtime(name: &str, root: &Path, exe: &Path) -> Result<Lane, String> {
        let program = find_runtime(name, exe)?;
        let short = name.rsplit('/').next().unwrap_or(name).to_string();
        Ok(Lane {
            label: short.clone(),
            runtime: Some(OciRuntime::new(
                program,
                crate::owner::oci_root(root, &short),
            )),
            engine: None,
        })
    }

    /// The engine `name`: `docker`, `podman` or `podman:RUNTIME`.
    pub fn engine(name: &str, exe: &Path) -> Result<Lane, String> {
        let engine = match name.split_once(':') {
            None if name == "docker" => Engine::docker(),
            None if name == "podman" => Engine::podman(None).map_err(|e| e.to_string())?,
            Some(("podman", rt)) if !rt.is_empty() => {
                Engine::podman(Some(&find_runtime(rt, exe)?)).map_err(|e| e.to_string())?
            }
            _ => return Err(engine_syntax(name).unwrap_or_default()),
        };
        Ok(Lane {
            label: name.to_string(),
            runtime: None,
            engine: Some(engine),
        })
    }

    /// What a scenario's `runtime = "name"` names: lcrun's library for `lcrun`, an engine for
    /// `docker`, `podman`, `podman:…`, else an OCI runtime.
    pub fn named(name: &str, root: &Path, exe: &Path) -> Result<Lane, String> {
        if name == LCRUN {
            Ok(Lane::builtin())
        } else if is_engine(name) {
            Lane::engine(name, exe)
        } else {
            Lane::runtime(name, root, exe)
        }
    }
}

/// Whether `name` names an engine rather than an OCI runtime.
pub fn is_engine(name: &str) -> bool {
    let head = name.split(':').next().unwrap_or(name);
    head == "docker" || head == "podman"
}

/// What is wrong with an engine's name, if anything.
pub fn engine_syntax(name: &str) -> Option<String> {
    match name.split_once(':') {
        None if name == "docker" || name == "podman" => None,
        Some(("podman", rt)) if !rt.is_empty() => None,
        Some(("docker", _)) => Some(format!(
            "{name}: docker's OCI runtime is its daemon's (dockerd --add-runtime, \
             --default-runtime); give docker"
        )),
        _ => Some(format!(
            "{name}: give docker, podman or podman:RUNTIME (podman:runc)"
        )),
    }
}

/// The program a runtime's name names: a path as it is; `lcrun` beside `exe` first; else
/// the first on PATH.
pub fn find_runtime(name: &str, exe: &Path) -> Result<PathBuf, String> {
    if name.contains('/') {
        let p = std::path::absolute(name).map_err(|e| format!("{name}: {e}"))?;
        if !p.is_file() {
            return Err(format!("{name}: no such file"));
        }
        return Ok(p);
    }
    let beside = exe.parent().map(|d| d.join(name));
    if let Some(p) = beside.filter(|p| name == LCRUN && p.is_file()) {
        return Ok(p);
    }
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!("{name}: not found on PATH (apt-get install {name}, or give its path)")
        })
}
