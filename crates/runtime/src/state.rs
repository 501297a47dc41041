//! `state.json`: what the runtime knows of a container between commands.
//!
//! Each container has a directory `<root>/<id>/` (default root `/run/limitcheck`) holding
//! `state.json`, written atomically (a temporary file renamed over it, so that readers never see
//! half a file), and `exec.fifo` while the container is created but not started. The status is
//! derived on every read from the process and the fifo, as runc does: a stored status could lie
//! after a crash.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use limitcheck_cgroup::Controller;
use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// The default runtime root.
pub const DEFAULT_ROOT: &str = "/run/limitcheck";
/// The state file in a container's directory.
pub const STATE_FILE: &str = "state.json";
/// The fifo the container's init blocks on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";

/// OCI container status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created.
    Creating,
    /// Created; the init waits for `start`.
    Created,
    /// The user process runs.
    Running,
    /// Frozen.
    Paused,
    /// The process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// Where the container's cgroup is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupRef {
    /// Parent path below each hierarchy's root.
    pub parent: PathBuf,
    /// The cgroup's name.
    pub name: String,
    /// The controllers it uses.
    pub controllers: Vec<Controller>,
}

/// The contents of `state.json`: the OCI state plus what the runtime needs later.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// OCI runtime-spec version.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Status when last written (readers derive the live one).
    pub status: Status,
    /// Host pid of the container's init (0 while creating).
    pub pid: i32,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// The spec's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    /// The cgroup.
    pub cgroup: CgroupRef,
    /// Start time of the init in clock ticks after boot (`/proc/<pid>/stat` field 22), to tell
    /// our process from a later one with the same pid.
    pub pid_start_time: u64,
    /// The spec's hooks (poststart and poststop run after `create` has exited).
    #[serde(default)]
    pub hooks: Option<Hooks>,
}

/// The OCI `state` output (what `lcrun state` prints, as `runc state` does).
#[derive(Clone, Debug, Serialize)]
pub struct OciState<'a> {
    /// OCI version.
    #[serde(rename = "ociVersion")]
    pub oci_version: &'a str,
    /// Id.
    pub id: &'a str,
    /// Live status.
    pub status: Status,
    /// Pid (0 once stopped, as runc reports).
    pub pid: i32,
    /// Bundle.
    pub bundle: &'a Path,
    /// Rootfs.
    pub rootfs: &'a Path,
    /// Creation time.
    pub created: &'a str,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
}

/// Checks a container id: runc's rule, letters, digits and `_+-.`, not `.` or `..`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::Spec {
            file: "command line".into(),
            field: "container id".into(),
            reason: format!("{id:?} is invalid; use letters, digits and _+-. only"),
        })
    }
}

impl State {
    /// Reads `dir/state.json`.
    pub fn load(dir: &Path) -> Result<State> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(RuntimeError::io("read", &path))?;
        serde_json::from_str(&text).map_err(|e| RuntimeError::Spec {
            file: path.display().to_string(),
            field: "(document)".into(),
            reason: format!("corrupt state: {e}"),
        })
    }

    /// Writes `dir/state.json` atomically (a temporary file renamed over it).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.{}", std::process::id()));
        let text = serde_json::to_vec_pretty(self).expect("state serializes");
        let mut f = std::fs::File::create(&tmp).map_err(RuntimeError::io("create", &tmp))?;
        // No fsync: the state lives on a tmpfs (/run) and the rename alone keeps readers from
        // ever seeing half a file.
        f.write_all(&text)
            .map_err(RuntimeError::io("write", &tmp))?;
        drop(f);
        // Over an existing state.json, exchanged rather than renamed over it: ext4 (a root on
        // a disk, not /run's tmpfs) flushes a file renamed over another (auto_da_alloc), a
        // disk write per state change; an exchange is as atomic for readers and starts none.
        // The old state then goes with the temporary name.
        let exchanged = nix::fcntl::renameat2(
            None,
            &tmp,
            None,
            &path,
            nix::fcntl::RenameFlags::RENAME_EXCHANGE,
        );
        match exchanged {
            Ok(()) => std::fs::remove_file(&tmp).map_err(RuntimeError::io("remove", &tmp)),
            // No state.json yet (ENOENT), or a filesystem without exchange (EINVAL).
            Err(_) => std::fs::rename(&tmp, &path).map_err(RuntimeError::io("rename", &path)),
        }
    }

    /// The OCI view with a live status.
    pub fn oci(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: &self.oci_version,
            id: &self.id,
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
        }
    }
}

/// Field 22 (starttime) and field 3 (state) of `/proc/<pid>/stat`, or `None` when the process
/// does not exist.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&text)
}

/// Parses `/proc/<pid>/stat` text into (state, starttime). The command name in parentheses may
/// hold spaces and parentheses, so fields are counted after the last `)`.
pub fn parse_proc_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let start = f.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// RFC 3339 UTC time of now, without a date library.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_with_odd_command_names() {
        let t = "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n";
        assert_eq!(parse_proc_stat(t), Some(('S', 987654)));
        assert_eq!(parse_proc_stat("garbage"), None);
    }

    #[test]
    fn ids() {
        assert!(check_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }

    #[test]
    fn save_is_atomic_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = State {
            oci_version: "1.2.0".into(),
            id: "x".into(),
            status: Status::Created,
            pid: 42,
            bundle: "/b".into(),
            annotations: [("k".to_string(), "v".to_string())].into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            cgroup: CgroupRef {
                parent: "limitcheck".into(),
                name: "x".into(),
                controllers: vec![Controller::Cpu],
            },
            pid_start_time: 7,
            hooks: None,
        };
        s.save(dir.path()).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(STATE_FILE)],
            "no temporary left"
        );
        let back = State::load(dir.path()).unwrap();
        assert_eq!(back.pid, 42);
        assert_eq!(back.annotations["k"], "v");
        let oci = serde_json::to_value(back.oci(Status::Stopped)).unwrap();
        assert_eq!(oci["pid"], 0);
        assert_eq!(oci["status"], "stopped");
        assert_eq!(oci["ociVersion"], "1.2.0");
    }
}
