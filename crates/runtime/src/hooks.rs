//! OCI hooks: programs the runtime runs at points of the lifecycle, each given the container's
//! state as JSON on stdin.
//!
//! | hook | run by | namespace | when |
//! |---|---|---|---|
//! | `prestart`, `createRuntime` | the runtime | the runtime's | after the namespaces exist, before `pivot_root`; the state says `created` (what runc's users and runtime-tools read) |
//! | `createContainer` | the init | the container's (host paths still visible) | before `pivot_root` |
//! | `startContainer` | the init | the container's, after `pivot_root` | on `start`, before the user process |
//! | `poststart` | the runtime | the runtime's | after the user process started; a failure is a warning and the other hooks still run |
//! | `poststop` | the runtime | the runtime's | after `delete`; a failure is a warning and the other hooks still run |

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;
use serde_json::json;

use crate::error::{Result, RuntimeError};

/// The state a hook reads on stdin.
pub fn state_json(
    version: &str,
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    annotations: &std::collections::BTreeMap<String, String>,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ociVersion": version,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations,
    }))
    .expect("state serializes")
}

/// A spec's annotations, sorted (as state.json and hooks show them).
pub fn annotations(spec: &oci_spec::runtime::Spec) -> std::collections::BTreeMap<String, String> {
    spec.annotations()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// [`state_json`] of a container still described by its spec (before state.json exists).
pub fn spec_state(
    spec: &oci_spec::runtime::Spec,
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
) -> Vec<u8> {
    state_json(spec.version(), id, status, pid, bundle, &annotations(spec))
}

/// Runs hooks whose failure is only a warning (poststart, poststop): the OCI spec says the
/// remaining hooks still run and the lifecycle goes on. Each failure is printed on stderr;
/// the number of failures is returned.
pub fn run_warning_only(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &[u8]) -> usize {
    let mut failed = 0;
    for h in hooks.into_iter().flatten() {
        if let Err(e) = run_one(kind, h, state) {
            eprintln!("warning: {e}");
            failed += 1;
        }
    }
    failed
}

/// Runs each hook in order; the first failure is returned.
pub fn run(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &[u8]) -> Result<()> {
    for h in hooks.into_iter().flatten() {
        run_one(kind, h, state)?;
    }
    Ok(())
}

fn run_one(kind: &'static str, h: &Hook, state: &[u8]) -> Result<()> {
    let fail = |reason: String| RuntimeError::Hook {
        kind,
        path: h.path().display().to_string(),
        reason,
    };
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some((arg0, rest)) = args.split_first() {
            std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
            cmd.args(rest);
        }
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state);
    }
    let timeout = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let start = Instant::now();
    let mut backoff = limitcheck_cgroup::Backoff::default();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            break s;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {} s",
                timeout.unwrap_or_default().as_secs()
            )));
        }
        backoff.wait();
    };
    if status.success() {
        Ok(())
    } else {
        Err(fail(format!("it exited with {status}")))
    }
}
