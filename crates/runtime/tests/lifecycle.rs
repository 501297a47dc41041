//! lcrun as runc's users drive it, on this host's kernel: busybox-static bundles, every
//! lifecycle transition, namespaces, resources (compared with runc's where installed), escapes
//! attempted from inside, bad configs, and nothing left behind. Needs root; skips with a
//! printed reason otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

const LCRUN: &str = env!("CARGO_BIN_EXE_lcrun");

use limitcheck_testkit::{eventually, skip};

/// A temporary runtime root and bundle dir for one test.
struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    bundle: PathBuf,
}

fn busybox_is_static(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| {
        !b.windows(12)
            .any(|w| w == b"/lib64/ld-li" || w == b"/lib/ld-linu")
    })
}

/// Root, and a static busybox to build a rootfs from; or a printed reason.
/// New files in `dir` for one runtime call's stdout and stderr. Never the same file twice: a
/// container made by an earlier `create` keeps that call's stdout open and writes into it
/// later (`id; cat /proc/self/uid_map` once started), which clobbered the next call's output
/// when one file was truncated and reused for every call (seen as a `state` whose JSON had the
/// container's uid_map line in the middle, 1 run in 5).
fn output_files(dir: &Path) -> (PathBuf, PathBuf) {
    static CALL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (
        dir.join(format!("stdout-{n}")),
        dir.join(format!("stderr-{n}")),
    )
}

fn setup(test: &str) -> Option<Env> {
    if !nix::unistd::geteuid().is_root() {
        skip(test, "needs root to create containers");
        return None;
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox_is_static(busybox) {
        skip(
            test,
            "no static /bin/busybox (install busybox-static: scripts/test.sh does)",
        );
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let bundle = tmp.path().join("bundle");
    let rootfs = bundle.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    Some(Env {
        _tmp: tmp,
        root,
        bundle,
    })
}

impl Drop for Env {
    /// A failed test must not leave containers behind: force-delete whatever is under the root.
    fn drop(&mut self) {
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return;
        };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = self.lcrun(&["delete", "--force", &id]);
        }
    }
}

impl Env {
    /// Writes `lcrun spec`'s default config with `args` and no terminal, then lets `edit` change it.
    fn config(&self, args: &[&str], edit: impl FnOnce(&mut Value)) {
        let _ = std::fs::remove_file(self.bundle.join("config.json"));
        let out = self.lcrun(&["spec", "--bundle", self.bundle.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "lcrun spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = self.bundle.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
        edit(&mut c);
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    /// Runs lcrun with stdout and stderr going to files: a created container's init inherits
    /// them (as with runc), so pipes would not close until the container ends.
    fn lcrun(&self, args: &[&str]) -> Output {
        self.runtime(LCRUN, &self.root, args)
    }

    fn runtime(&self, exe: &str, root: &Path, args: &[&str]) -> Output {
        let (o, e) = output_files(self._tmp.path());
        let status = Command::new(exe)
            .arg("--root")
            .arg(root)
            .args(args)
            .current_dir(&self.bundle)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .expect("run the runtime");
        Output {
            status,
            stdout: std::fs::read(&o).unwrap(),
            stderr: std::fs::read(&e).unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.lcrun(args);
        assert!(
            out.status.success(),
            "lcrun {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn state(&self, id: &str) -> Value {
        let text = self.ok(&["state", id]);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("lcrun state {id}: {e}: {text:?}"))
    }

    fn bundle_str(&self) -> &str {
        self.bundle.to_str().unwrap()
    }
}

/// The cgroup directories a container of this id would have.
fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let Ok(layout) = limitcheck_cgroup::Layout::detect() else {
        return Vec::new();
    };
    layout
        .hierarchies
        .iter()
        .map(|h| h.mount_point.join(rel))
        .collect()
}

fn assert_gone(env: &Env, id: &str, pid: i32) {
    assert!(!env.root.join(id).exists(), "state dir of {id} left behind");
    for d in cgroup_dirs(&format!("limitcheck/{id}")) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    if pid > 0 {
        let alive =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "process {pid} of {id} still runs");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(env.bundle_str()),
        "a mount of the bundle leaked:\n{mounts}"
    );
}

fn id(test: &str) -> String {
    format!(
        "lc-{}-{}",
        test.chars().take(20).collect::<String>(),
        std::process::id()
    )
}

#[test]
fn every_lifecycle_transition_and_state_json() {
    let test = "every_lifecycle_transition_and_state_json";
    let Some(env) = setup(test) else { return };
    let id = id("lifecycle");
    env.config(&["sleep", "60"], |c| {
        c["annotations"] = json!({"org.limitcheck.test": "yes"});
    });
    env.ok(&[
        "create",
        "--bundle",
        env.bundle_str(),
        "--pid-file",
        "pidfile",
        &id,
    ]);
    let s = env.state(&id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["bundle"], env.bundle_str());
    assert_eq!(s["annotations"]["org.limitcheck.test"], "yes");
    assert!(s["ociVersion"].as_str().is_some_and(|v| v.starts_with('1')));
    let pid = s["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0);
    let pidfile = std::fs::read_to_string(env.bundle.join("pidfile")).unwrap();
    assert_eq!(pidfile.trim(), pid.to_string());
    // The stored state.json is complete JSON with the same facts.
    let stored: Value =
        serde_json::from_slice(&std::fs::read(env.root.join(&id).join("state.json")).unwrap())
            .unwrap();
    assert_eq!(stored["pid"], pid);

    // A created container is not stopped: delete refuses it without --force (runtime-tools'
    // delete) and it stays startable.
    let refused = env.lcrun(&["delete", &id]);
    assert!(!refused.status.success());
    assert_eq!(env.state(&id)["status"], "created");

    // A second create of the same id is refused.
    let again = env.lcrun(&["create", "--bundle", env.bundle_str(), &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    env.ok(&["start", &id]);
    assert_eq!(env.state(&id)["status"], "running");
    let ps: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps, vec![pid]);
    env.ok(&["pause", &id]);
    assert_eq!(env.state(&id)["status"], "paused");
    env.ok(&["resume", &id]);
    assert_eq!(env.state(&id)["status"], "running");
    let list = env.ok(&["list"]);
    assert!(list.contains(&id) && list.contains("running"), "{list}");

    // delete refuses a running container without --force, and leaves it running.
    let refused = env.lcrun(&["delete", &id]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert_eq!(env.state(&id)["status"], "running");

    env.ok(&["kill", &id, "KILL"]);
    assert!(
        eventually(Duration::from_secs(10), || env.state(&id)["status"]
            == "stopped"),
        "not stopped after SIGKILL"
    );
    assert_eq!(env.state(&id)["pid"], 0);
    env.ok(&["delete", &id]);
    assert_gone(&env, &id, pid);
    let missing = env.lcrun(&["state", &id]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[test]
fn run_returns_the_exit_code_and_leaves_nothing() {
    let test = "run_returns_the_exit_code_and_leaves_nothing";
    let Some(env) = setup(test) else { return };
    let id = id("runexit");
    env.config(&["sh", "-c", "echo out; echo err >&2; exit 7"], |_| {});
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err"));
    assert_gone(&env, &id, 0);
}

#[test]
fn namespaces_are_new_and_hostname_is_set() {
    let test = "namespaces_are_new_and_hostname_is_set";
    let Some(env) = setup(test) else { return };
    let id = id("ns");
    let kinds = ["pid", "mnt", "uts", "ipc", "net", "cgroup"];
    let script = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .collect::<Vec<_>>()
        .join("; ")
        + "; hostname; echo pid=$$";
    env.config(&["sh", "-c", &script], |c| {
        c["hostname"] = json!("limitcheck-box");
    });
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for (i, k) in kinds.iter().enumerate() {
        let host = std::fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
        assert_ne!(
            lines[i],
            host.to_string_lossy(),
            "{k} namespace is the host's"
        );
        assert!(lines[i].starts_with(&format!("{k}:[")), "{text}");
    }
    assert_eq!(lines[kinds.len()], "limitcheck-box");
    assert_eq!(lines[kinds.len() + 1], "pid=1");
    assert_gone(&env, &id, 0);
}

/// The init moves itself into its v1 cgroups and mounts its cgroup namespace's view last,
/// after its root is entered (see `Container::create`); with a createContainer hook nothing
/// is deferred. Either way the process runs in the container's cgroup in every hierarchy,
/// its cgroup namespace rooted there, and its /sys/fs/cgroup shows that cgroup's own limits.
#[test]
fn the_init_is_in_its_cgroup_and_its_cgroup_namespace_rooted_there() {
    let test = "the_init_is_in_its_cgroup_and_its_cgroup_namespace_rooted_there";
    let Some(env) = setup(test) else { return };
    let layout = limitcheck_cgroup::Layout::detect().unwrap();
    let cpu_dir = layout
        .hierarchies
        .iter()
        .find(|h| h.controllers.contains(&limitcheck_cgroup::Controller::Cpu))
        .map(|h| {
            h.mount_point
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        });
    let quota_file = match &cpu_dir {
        Some(d) if layout.mode != limitcheck_cgroup::Mode::V2 => format!("{d}/cpu.cfs_quota_us"),
        _ => "cpu.max".into(),
    };
    let look = format!("cat /proc/1/cgroup; echo quota=$(cat /sys/fs/cgroup/{quota_file})");
    for (n, hook) in [("deferred", false), ("hooked", true)] {
        let id = id(&format!("cgns-{n}"));
        env.config(&["sleep", "30"], |c| {
            c["linux"]["resources"] = json!({"cpu": {"quota": 30000, "period": 100000}});
            if hook {
                c["hooks"] = json!({"createContainer": [{"path": "/bin/true"}]});
            }
        });
        env.ok(&["run", "--detach", "--bundle", env.bundle_str(), &id]);
        let pid = env.state(&id)["pid"].as_i64().unwrap();
        // From the host: in limitcheck/<id> in every hierarchy it has a directory in.
        let host = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for d in cgroup_dirs(&format!("limitcheck/{id}")) {
            if d.exists() {
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
                assert!(
                    procs.lines().any(|l| l == pid.to_string()),
                    "{}: {procs}",
                    d.display()
                );
            }
        }
        assert!(host.contains(&format!("/limitcheck/{id}")), "{host}");
        // From inside: every hierarchy's path is the namespace's root, and the quota is its own.
        let out = env.ok(&["exec", &id, "sh", "-c", &look]);
        for l in out.lines().filter(|l| l.contains(":/")) {
            assert!(
                l.ends_with(":/"),
                "{n}: not the namespace's root: {l}\n{out}"
            );
        }
        let quota = out.lines().find_map(|l| l.strip_prefix("quota=")).unwrap();
        assert!(quota.starts_with("30000"), "{n}: {out}");
        env.ok(&["delete", "--force", &id]);
        assert_gone(&env, &id, pid as i32);
    }
}

fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn resources_reach_the_cgroup_files_as_runc_writes_them() {
    let test = "resources_reach_the_cgroup_files_as_runc_writes_them";
    let Some(env) = setup(test) else { return };
    let Ok(layout) = limitcheck_cgroup::Layout::detect() else {
        return skip(test, "no cgroup filesystem");
    };
    if layout.version() != limitcheck_cgroup::Version::V1 {
        return skip(
            test,
            "the file list below is cgroup v1's; the v2 lane covers v2",
        );
    }
    let id = id("res");
    let resources = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "cpu": {"quota": 50000, "period": 100000, "shares": 512},
        "memory": {"limit": 268435456},
        "pids": {"limit": 64}
    });
    env.config(&["sleep", "60"], |c| {
        c["linux"]["resources"] = resources.clone()
    });
    env.ok(&["create", "--bundle", env.bundle_str(), &id]);
    let files = [
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.shares", "512"),
        ("memory", "memory.limit_in_bytes", "268435456"),
        ("pids", "pids.max", "64"),
    ];
    let mount = |c: &str| {
        layout
            .hierarchy_of(limitcheck_cgroup::Controller::from_kernel_name(c).unwrap())
            .unwrap()
            .mount_point
            .clone()
    };
    let ours: Vec<String> = files
        .iter()
        .map(|(c, f, _)| read_trim(&mount(c).join("limitcheck").join(&id).join(f)))
        .collect();
    for ((_, f, want), got) in files.iter().zip(&ours) {
        assert_eq!(got, want, "{f}");
    }
    // The container can use /dev/null though every other device is denied.
    let devices = read_trim(
        &mount("devices")
            .join("limitcheck")
            .join(&id)
            .join("devices.list"),
    );
    assert!(devices.contains("c 1:3 rwm"), "{devices}");

    // `lcrun update`, as a scenario step "via runtime" would change a running limit.
    env.ok(&["start", &id]);
    env.ok(&["update", "--cpu-quota", "150000", "--memory", "300m", &id]);
    assert_eq!(
        read_trim(
            &mount("cpu")
                .join("limitcheck")
                .join(&id)
                .join("cpu.cfs_quota_us")
        ),
        "150000"
    );
    assert_eq!(
        read_trim(
            &mount("memory")
                .join("limitcheck")
                .join(&id)
                .join("memory.limit_in_bytes")
        ),
        (300u64 << 20).to_string()
    );
    env.ok(&["delete", "--force", &id]);
    assert_gone(&env, &id, 0);

    // runc, on the same config, writes the same values.
    if Command::new("runc").arg("--version").output().is_err() {
        return skip(test, "runc is not installed: no comparison");
    }
    let rid = format!("{id}-runc");
    env.config(&["sleep", "60"], |c| {
        c["linux"]["resources"] = resources.clone();
        c["linux"]["cgroupsPath"] = json!(format!("/{rid}"));
    });
    let rroot = env.root.with_file_name("runc-state");
    let runc = |args: &[&str]| env.runtime("runc", &rroot, args);
    let out = runc(&["create", "--bundle", env.bundle_str(), &rid]);
    assert!(
        out.status.success(),
        "runc create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<String> = files
        .iter()
        .map(|(c, f, _)| read_trim(&mount(c).join(&rid).join(f)))
        .collect();
    let _ = runc(&["delete", "--force", &rid]);
    assert_eq!(
        ours, theirs,
        "lcrun and runc wrote different values for {files:?}"
    );
}

#[test]
fn escapes_from_inside_fail() {
    let test = "escapes_from_inside_fail";
    let Some(env) = setup(test) else { return };
    let id = id("escape");
    let host_pid = std::process::id();
    let attempts = [
        (
            "host processes visible",
            format!("test -e /proc/{host_pid}/status"),
        ),
        (
            "host cgroup file written",
            "echo 1 > /sys/fs/cgroup/pids/pids.max".to_string(),
        ),
        (
            "cgroup tree writable",
            "mkdir /sys/fs/cgroup/memory/evil".to_string(),
        ),
        (
            "/proc/sys written",
            "echo 1 > /proc/sys/kernel/domainname".to_string(),
        ),
        (
            "/proc/sysrq-trigger written",
            "echo h > /proc/sysrq-trigger".to_string(),
        ),
        (
            "mount allowed (CAP_SYS_ADMIN)",
            "mount -t tmpfs none /tmp".to_string(),
        ),
        (
            "raw device created (mknod)",
            "mknod /tmp/sda b 8 0".to_string(),
        ),
    ];
    let script: String = attempts
        .iter()
        .map(|(name, cmd)| format!("if {cmd} 2>/dev/null; then echo 'ESCAPED {name}'; else echo 'blocked {name}'; fi; "))
        .collect::<String>()
        + "grep CapEff /proc/self/status";
    env.config(&["sh", "-c", &script], |_| {});
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, _) in &attempts {
        assert!(text.contains(&format!("blocked {name}")), "{name}: {text}");
    }
    assert!(!text.contains("ESCAPED"), "{text}");
    let eff = text.lines().find(|l| l.starts_with("CapEff")).unwrap();
    let bits = u64::from_str_radix(eff.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(bits & (1 << 21), 0, "CAP_SYS_ADMIN held: {eff}");
    assert_gone(&env, &id, 0);
}

#[test]
fn bad_configs_name_the_field_and_leave_nothing() {
    let test = "bad_configs_name_the_field_and_leave_nothing";
    let Some(env) = setup(test) else { return };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "rootfs",
            Box::new(|c: &mut Value| c["root"]["path"] = json!("no-such-rootfs")),
            "root.path",
        ),
        (
            "ns",
            Box::new(|c: &mut Value| c["linux"]["namespaces"][1]["type"] = json!("bogus")),
            "linux.namespaces[1].type",
        ),
        (
            "quota",
            Box::new(|c: &mut Value| {
                c["linux"]["resources"]["cpu"] = json!({"quota": -5, "period": 100000})
            }),
            "linux.resources.cpu.quota",
        ),
        (
            "args",
            Box::new(|c: &mut Value| c["process"]["args"] = json!(["no-such-program"])),
            "process.args[0]",
        ),
    ];
    for (name, edit, field) in cases {
        let cid = id(&format!("bad{name}"));
        env.config(&["true"], |c| edit(c));
        let out = env.lcrun(&["create", "--bundle", env.bundle_str(), &cid]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: accepted");
        assert!(
            err.contains(field),
            "{name}: error does not name {field}: {err}"
        );
        assert!(
            err.contains("level=error"),
            "{name}: not in runc's log format: {err}"
        );
        assert_gone(&env, &cid, 0);
    }
}

#[test]
fn features_and_spec_speak_runc() {
    let test = "features_and_spec_speak_runc";
    let Some(env) = setup(test) else { return };
    let f: Value = serde_json::from_str(&env.ok(&["features"])).unwrap();
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("cgroup")));
    env.config(&["true"], |_| {});
    let again = env.lcrun(&["spec", "--bundle", env.bundle_str()]);
    assert!(!again.status.success(), "spec overwrote config.json");
    let log = env.bundle.join("lcrun.log");
    let out = env.lcrun(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    assert!(!out.status.success());
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("does not exist"));
}

#[test]
fn runc_spec_default_config_runs_on_a_relayed_terminal() {
    let test = "runc_spec_default_config_runs_on_a_relayed_terminal";
    let Some(env) = setup(test) else { return };
    let id = id("runcspec");
    // runc's own default (an interactive sh on a terminal) when runc is here, else lcrun's.
    let _ = std::fs::remove_file(env.bundle.join("config.json"));
    let made = Command::new("runc")
        .args(["spec", "--bundle", env.bundle_str()])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        env.ok(&["spec", "--bundle", env.bundle_str()]);
    }
    let mut child = Command::new(LCRUN)
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--bundle", env.bundle_str(), &id])
        .current_dir(&env.bundle)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo inside-$((6*7)); tty; exit 5\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("inside-42"), "{text}");
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert_gone(&env, &id, 0);
}

#[test]
fn console_socket_receives_the_pty() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    let test = "console_socket_receives_the_pty";
    let Some(env) = setup(test) else { return };
    let id = id("console");
    env.config(&["sh", "-c", "echo hello-console; tty"], |c| {
        c["process"]["terminal"] = json!(true)
    });
    let sock_path = env.bundle.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 256];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let (bytes, fd) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let msg = nix::sys::socket::recvmsg::<()>(
                std::os::fd::AsRawFd::as_raw_fd(&conn),
                &mut iov,
                Some(&mut space),
                nix::sys::socket::MsgFlags::empty(),
            )
            .unwrap();
            let fd = msg
                .cmsgs()
                .unwrap()
                .find_map(|c| match c {
                    nix::sys::socket::ControlMessageOwned::ScmRights(f) => f.first().copied(),
                    _ => None,
                })
                .expect("an fd");
            (msg.bytes, fd)
        };
        let name = String::from_utf8_lossy(&buf[..bytes]).into_owned();
        // SAFETY: received from the kernel for us.
        (name, unsafe { OwnedFd::from_raw_fd(fd) })
    });
    env.ok(&[
        "create",
        "--bundle",
        env.bundle_str(),
        "--console-socket",
        sock_path.to_str().unwrap(),
        &id,
    ]);
    let (name, master) = receiver.join().unwrap();
    assert!(name.starts_with("/dev/pts/"), "{name}");
    env.ok(&["start", &id]);
    let mut master = std::fs::File::from(master);
    let mut out = String::new();
    let mut buf = [0u8; 1024];
    // Read until the container closes the terminal (EIO) or the expected text arrived.
    while !out.contains("/dev/pts/0") {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(out.contains("hello-console"), "{out:?}");
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(eventually(Duration::from_secs(10), || env.state(&id)
        ["status"]
        == "stopped"));
    env.ok(&["delete", &id]);
    assert_gone(&env, &id, 0);
}

#[test]
fn a_terminal_without_console_socket_is_refused_on_create() {
    let test = "a_terminal_without_console_socket_is_refused_on_create";
    let Some(env) = setup(test) else { return };
    let id = id("noconsole");
    env.config(&["true"], |c| c["process"]["terminal"] = json!(true));
    let out = env.lcrun(&["create", "--bundle", env.bundle_str(), &id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("process.terminal") && err.contains("--console-socket"),
        "{err}"
    );
    assert_gone(&env, &id, 0);
}

#[test]
fn process_attributes_from_the_spec_are_applied() {
    let test = "process_attributes_from_the_spec_are_applied";
    let Some(env) = setup(test) else { return };
    let id = id("procattr");
    let script = "id; pwd; echo FOO=$FOO; ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; \
                  cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_forward; \
                  echo kcore=$(head -c 4 /proc/kcore | wc -c); \
                  if touch /rootfs-write 2>/dev/null; then echo root=rw; else echo root=ro; fi; \
                  if echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null; then echo procsys=rw; else echo procsys=ro; fi; \
                  exec grep SigIgn /proc/self/status";
    env.config(&["sh", "-c", script], |c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
        c["process"]["cwd"] = json!("/tmp");
        c["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]);
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["oomScoreAdj"] = json!(300);
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["root"]["readonly"] = json!(true);
    });
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("uid=1000 gid=1000"), "{text}");
    assert!(lines[0].contains("groups=10"), "{text}");
    assert_eq!(lines[1], "/tmp");
    assert_eq!(lines[2], "FOO=bar");
    assert_eq!(lines[3], "1024");
    assert_eq!(lines[4], "2048");
    assert!(lines[5].ends_with('1'), "NoNewPrivs: {text}");
    assert_eq!(lines[6], "300");
    assert_eq!(
        lines[7], "1",
        "the sysctl of the container's network namespace"
    );
    assert_eq!(lines[8], "kcore=0", "/proc/kcore must be masked");
    assert_eq!(lines[9], "root=ro");
    assert_eq!(lines[10], "procsys=ro");
    // SIGPIPE does not stay ignored from the runtime (Rust ignores it) into the container.
    // (busybox sh itself ignores the glibc-internal signals 32 and 33.)
    let ign = u64::from_str_radix(lines[11].trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(
        ign & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE ignored: {text}"
    );
    assert_gone(&env, &id, 0);
}

#[test]
fn oom_kill_is_reported_by_the_supervisor() {
    use limitcheck_runtime::{spec, CreateOptions, Runtime};
    let test = "oom_kill_is_reported_by_the_supervisor";
    let Some(env) = setup(test) else { return };
    let id = id("oom");
    // busybox has no allocator; `yes | tr` builds up memory in a shell variable... simpler:
    // `head -c` from /dev/zero into a tmpfs file is page cache, reclaimable. Use awk to grow a
    // string in memory, which the kernel cannot reclaim with swap off.
    env.config(
        &["awk", "BEGIN { s = \"x\"; while (1) { s = s s } }"],
        |c| c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432}),
    );
    let rt = Runtime::new(&env.root).with_init_exe(LCRUN);
    let bundle = spec::load_bundle(&env.bundle).unwrap();
    let mut c = rt.create(&id, &bundle, CreateOptions::default()).unwrap();
    c.start().unwrap();
    let exit = c.wait(&[]).unwrap();
    assert_eq!(exit.signal, Some(9), "{exit:?}");
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!(exit.shell_code(), 137);
    let pid = c.pid();
    c.delete(false).unwrap();
    assert_gone(&env, &id, pid);
}

#[test]
fn hooks_run_at_their_points_with_the_state_on_stdin() {
    let test = "hooks_run_at_their_points_with_the_state_on_stdin";
    let Some(env) = setup(test) else { return };
    let id = id("hooks");
    let out_dir = env.bundle.join("hook-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let host_hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", out_dir.display())]});
    env.config(&["true"], |c| {
        c["root"]["readonly"] = json!(false);
        c["hooks"] = json!({
            "prestart": [host_hook("prestart")],
            "createRuntime": [host_hook("createRuntime")],
            // Before pivot_root, in the container's mount namespace: host paths still resolve.
            "createContainer": [host_hook("createContainer")],
            // After pivot_root: /bin/sh is the container's busybox, /tmp the container's.
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/startContainer.json"]}],
            // A failing poststart or poststop hook is a warning: the hooks after it still run
            // and the lifecycle goes on (runtime spec; runtime-tools' poststart_fail).
            "poststart": [{"path": "/bin/false"}, host_hook("poststart")],
            "poststop": [{"path": "/bin/false"}, host_hook("poststop")],
        });
    });
    env.ok(&["create", "--bundle", env.bundle_str(), &id]);
    // prestart and createRuntime read `created` (runtime-tools' hooks_stdin, runc's users);
    // createContainer runs in the init mid-setup, as runc's does, and reads `creating`.
    for (h, status) in [
        ("prestart", "created"),
        ("createRuntime", "created"),
        ("createContainer", "creating"),
    ] {
        let s: Value =
            serde_json::from_slice(&std::fs::read(out_dir.join(format!("{h}.json"))).unwrap())
                .unwrap();
        assert_eq!(s["id"], id.as_str(), "{h}");
        assert_eq!(s["status"], status, "{h}");
        assert!(s["pid"].as_i64().unwrap() > 1, "{h}: the host pid: {s}");
    }
    assert!(!out_dir.join("poststart.json").exists());
    let out = env.lcrun(&["start", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: poststart hook /bin/false failed"),
        "{err}"
    );
    let s: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("poststart.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "running");
    assert!(eventually(Duration::from_secs(10), || env.state(&id)
        ["status"]
        == "stopped"));
    let s: Value = serde_json::from_slice(
        &std::fs::read(env.bundle.join("rootfs/tmp/startContainer.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(s["status"], "created");
    let out = env.lcrun(&["delete", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: poststop hook /bin/false failed"),
        "{err}"
    );
    let s: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("poststop.json")).unwrap()).unwrap();
    assert_eq!(s["status"], "stopped");
    assert_gone(&env, &id, 0);

    // A failing createRuntime hook fails create and leaves nothing.
    let id2 = format!("{id}-fail");
    env.config(&["true"], |c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    });
    let out = env.lcrun(&["create", "--bundle", env.bundle_str(), &id2]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("createRuntime hook /bin/false failed"),
        "{err}"
    );
    assert_gone(&env, &id2, 0);
}

#[test]
fn user_namespace_maps_container_root_to_an_unprivileged_host_uid() {
    let test = "user_namespace_maps_container_root_to_an_unprivileged_host_uid";
    let Some(env) = setup(test) else { return };
    if !Path::new("/proc/self/ns/user").exists() {
        return skip(test, "this kernel has no user namespaces");
    }
    let id = id("userns");
    env.config(&["sh", "-c", "id; cat /proc/self/uid_map; sleep 30"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    env.ok(&["create", "--bundle", env.bundle_str(), &id]);
    env.ok(&["start", &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.contains("100000"),
        "container root is host uid 100000: {uid_line}"
    );
    let host_ns = std::fs::read_link("/proc/self/ns/user").unwrap();
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap(),
        host_ns
    );
    env.ok(&["delete", "--force", &id]);
    assert_gone(&env, &id, pid as i32);

    // Without mappings the config is refused, naming the field.
    env.config(&["true"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
    });
    let out = env.lcrun(&[
        "create",
        "--bundle",
        env.bundle_str(),
        &format!("{id}-nomap"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("linux.uidMappings"));
}

#[test]
fn a_failed_start_inside_run_leaves_nothing() {
    let test = "a_failed_start_inside_run_leaves_nothing";
    let Some(env) = setup(test) else { return };
    let id = id("failstart");
    // startContainer fails: the init exits before the user process, start sees it die.
    env.config(&["true"], |c| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    });
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    assert!(!out.status.success());
    assert_gone(&env, &id, 0);
}

#[test]
fn host_made_rootfs_runs_host_tools_and_a_bound_binary_without_an_image() {
    let test = "host_made_rootfs_runs_host_tools_and_a_bound_binary_without_an_image";
    if !nix::unistd::geteuid().is_root() {
        return skip(test, "needs root to create containers");
    }
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let root = tmp.path().join("state");
    std::fs::create_dir_all(&bundle).unwrap();
    let id = id("hostfs");
    let script = "cat /etc/hostname; test -x /usr/bin/env && echo usr-ok; lcrun --version; \
                  if touch /usr/lcrun-test 2>/dev/null; then echo usr-rw; else echo usr-ro; fi; \
                  echo x > /tmp/t && echo tmp-rw; readlink /proc/self/ns/mnt; \
                  echo x > ./cwd-file && pwd";
    let lcrun = |args: &[&str]| {
        Command::new(LCRUN)
            .arg("--root")
            .arg(&root)
            .args(args)
            .current_dir(&bundle)
            .output()
            .unwrap()
    };
    let out = lcrun(&[
        "spec",
        "--host-rootfs",
        "--bind-binary",
        LCRUN,
        "--bundle",
        bundle.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lcrun(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "limitcheck");
    assert_eq!(lines[1], "usr-ok");
    assert!(lines[2].starts_with("lcrun "), "{text}");
    assert_eq!(lines[3], "usr-ro");
    assert_eq!(lines[4], "tmp-rw");
    // The working directory is the writable /tmp (stress-ng writes where it runs).
    assert_eq!(lines.get(6), Some(&"/tmp"), "{text}");
    assert_ne!(
        lines[5],
        std::fs::read_link("/proc/self/ns/mnt")
            .unwrap()
            .to_string_lossy()
    );
    // The binds were made in the container's mount namespace: none is left on the host.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(bundle.to_str().unwrap()), "{mounts}");
    assert!(!root.join(&id).exists());
    for d in cgroup_dirs(&format!("limitcheck/{id}")) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn a_namespace_given_by_path_is_joined() {
    let test = "a_namespace_given_by_path_is_joined";
    let Some(env) = setup(test) else { return };
    let a = id("joinA");
    env.config(&["sleep", "30"], |_| {});
    env.ok(&["create", "--bundle", env.bundle_str(), &a]);
    let pid = env.state(&a)["pid"].as_i64().unwrap();
    let ns = |k: &str| std::fs::read_link(format!("/proc/{pid}/ns/{k}")).unwrap();
    let b = id("joinB");
    env.config(
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname",
        ],
        |c| {
            for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if n["type"] == "network" || n["type"] == "uts" {
                    let k = if n["type"] == "network" { "net" } else { "uts" };
                    n["path"] = json!(format!("/proc/{pid}/ns/{k}"));
                }
            }
        },
    );
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        ns("net").to_string_lossy(),
        "network namespace not joined"
    );
    assert_eq!(
        lines[1],
        ns("uts").to_string_lossy(),
        "uts namespace not joined"
    );
    // The joined UTS namespace keeps A's hostname: B does not set its own there.
    assert_eq!(lines[2], "lcrun");
    env.ok(&["delete", "--force", &a]);
    assert_gone(&env, &a, pid as i32);
    assert_gone(&env, &b, 0);
}

#[test]
fn exec_runs_in_the_containers_namespaces_and_cgroup() {
    let test = "exec_runs_in_the_containers_namespaces_and_cgroup";
    let Some(env) = setup(test) else { return };
    let id = id("exec");
    env.config(&["sleep", "60"], |_| {});
    env.ok(&["run", "--detach", "--bundle", env.bundle_str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let out = env.lcrun(&[
        "exec",
        &id,
        "sh",
        "-c",
        "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; hostname; exit 4",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for (i, k) in ["pid", "mnt"].iter().enumerate() {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{k}")).unwrap();
        assert_eq!(lines[i], theirs.to_string_lossy(), "{k}: {text}");
    }
    assert_eq!(lines[2], "lcrun");
    // The user flag and a detached process with a pid file, seen from the host in the cgroup.
    let out = env.lcrun(&["exec", "--user", "1000:1000", &id, "id", "-u"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1000");
    env.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        "exec.pid",
        &id,
        "sleep",
        "60",
    ]);
    let epid = std::fs::read_to_string(env.bundle.join("exec.pid")).unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", epid.trim())).unwrap();
    assert!(cg.contains(&format!("/limitcheck/{id}")), "{cg}");
    let ps: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(ps.contains(&epid.trim().parse().unwrap()), "{ps:?}");
    // A missing program is an error naming it, before anything runs.
    let out = env.lcrun(&["exec", &id, "no-such-program"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-program"));
    env.ok(&["delete", "--force", &id]);
    assert_gone(&env, &id, epid.trim().parse().unwrap());
    // A stopped container runs nothing new.
    let id2 = format!("{id}-stopped");
    env.config(&["true"], |_| {});
    env.ok(&["create", "--bundle", env.bundle_str(), &id2]);
    env.ok(&["start", &id2]);
    assert!(eventually(Duration::from_secs(10), || env.state(&id2)
        ["status"]
        == "stopped"));
    let out = env.lcrun(&["exec", &id2, "true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped"));
    env.ok(&["delete", &id2]);
}

// Issue 11: lcrun must never touch the caller's root or namespaces, and must fail where runc and
// crun fail.

/// Whether util-linux's unshare(1) is here (to make a mount namespace `for_what`); skips if not.
fn has_unshare(test: &str, for_what: &str) -> bool {
    let ok = Command::new("unshare").arg("--help").output().is_ok();
    if !ok {
        skip(test, &format!("no unshare(1) (util-linux) {for_what}"));
    }
    ok
}

/// A config with no mount namespace: nothing to mount, the root entered by chroot.
fn without_mount_namespace(c: &mut Value) {
    c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "ipc"}]);
    c["mounts"] = json!([]);
    c["linux"]["maskedPaths"] = json!([]);
    c["linux"]["readonlyPaths"] = json!([]);
    c["linux"]["resources"]["devices"] = json!([]);
    c["root"]["readonly"] = json!(false);
    c.as_object_mut().unwrap().remove("hostname");
}

#[test]
fn regression_11_no_mount_namespace_chroots_and_leaves_the_callers_root() {
    let test = "regression_11_no_mount_namespace_chroots_and_leaves_the_callers_root";
    let Some(env) = setup(test) else { return };
    if !has_unshare(test, "to make a private mount namespace") {
        return;
    }
    let id = id("nomnt");
    std::fs::write(env.bundle.join("rootfs/marker"), "inside the bundle\n").unwrap();
    env.config(
        &["sh", "-c", "cat /marker; ls /proc | wc -l"],
        without_mount_namespace,
    );
    // In a private mount namespace of the test's own: a regression swaps that one's root, not
    // the test host's. The shell in it reports its own root before and after.
    let probe = format!(
        "readlink /proc/self/ns/mnt; stat -L -c %d:%i /; wc -l < /proc/self/mountinfo; {LCRUN} --root {} run --bundle {} {id}; \
         echo rc=$?; stat -L -c %d:%i /; wc -l < /proc/self/mountinfo; readlink /proc/self/ns/mnt; \
         test -d {} && echo host-still-there",
        env.root.display(),
        env.bundle_str(),
        env.bundle_str()
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &probe])
        .current_dir(&env.bundle)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10, "{text}{err}");
    let own_ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(
        lines[0],
        own_ns.to_string_lossy(),
        "unshare made no namespace: {text}"
    );
    assert_eq!(
        lines[3], "inside the bundle",
        "the container saw its root: {text}{err}"
    );
    assert_eq!(
        lines[4], "0",
        "nothing mounted on the container's /proc: {text}{err}"
    );
    assert_eq!(lines[5], "rc=0", "{text}{err}");
    assert_eq!(lines[1], lines[6], "the caller's root changed: {text}{err}");
    assert_eq!(
        lines[2], lines[7],
        "the caller's mount table changed: {text}{err}"
    );
    assert_eq!(lines[9], "host-still-there", "{text}{err}");
    assert_gone(&env, &id, 0);

    // Asking for mounts without a mount namespace is refused, naming the field and the fix.
    env.config(&["true"], |c| {
        without_mount_namespace(c);
        c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    });
    let out = env.lcrun(&["create", "--bundle", env.bundle_str(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("mounts") && err.contains("{\\\"type\\\": \\\"mount\\\"}"),
        "{err}"
    );
    assert_gone(&env, &id, 0);
}

#[test]
fn regression_11_exec_into_a_chrooted_container_lands_in_its_root() {
    let test = "regression_11_exec_into_a_chrooted_container_lands_in_its_root";
    let Some(env) = setup(test) else { return };
    if !has_unshare(test, "to make a private mount namespace") {
        return;
    }
    let id = id("nomntexec");
    std::fs::write(env.bundle.join("rootfs/marker"), "exec inside\n").unwrap();
    env.config(&["sleep", "30"], without_mount_namespace);
    let (r, b) = (env.root.display().to_string(), env.bundle_str().to_string());
    let probe = format!(
        "{LCRUN} --root {r} create --bundle {b} {id} && {LCRUN} --root {r} start {id} && \
         {LCRUN} --root {r} exec {id} cat /marker; {LCRUN} --root {r} delete --force {id}"
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &probe])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        "exec inside",
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_gone(&env, &id, 0);
}

/// Runs `script` in a container with CAP_SYS_ADMIN and a writable root, with `propagation`.
fn run_with_propagation(env: &Env, id: &str, propagation: &str, script: &str) -> (bool, String) {
    env.config(&["sh", "-c", script], |c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["rootfsPropagation"] = json!(propagation);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_ADMIN"));
        }
    });
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), id]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn regression_11_rootfs_propagation_takes_effect_on_the_new_root() {
    let test = "regression_11_rootfs_propagation_takes_effect_on_the_new_root";
    let Some(env) = setup(test) else { return };
    // runtime-tools' check: bind / recursively elsewhere, mount something under /, and see
    // whether the copy shows it (shared) or not (slave, private); an unbindable / refuses the
    // recursive bind.
    let probe = "mkdir -p /t /m /s && touch /s/f && mount --rbind / /t && mount --bind /s /m && \
                 if test -e /t/m/f; then echo exposed; else echo hidden; fi";
    for (prop, want) in [
        ("shared", "exposed"),
        ("rshared", "exposed"),
        ("slave", "hidden"),
        ("private", "hidden"),
    ] {
        let id = id(&format!("prop-{prop}"));
        let (ok, text) = run_with_propagation(&env, &id, prop, probe);
        assert!(ok, "{prop}: {text}");
        assert_eq!(text.lines().next(), Some(want), "{prop}: {text}");
        assert_gone(&env, &id, 0);
    }
    let id = id("prop-unbindable");
    let (ok, text) = run_with_propagation(
        &env,
        &id,
        "unbindable",
        "if mount --rbind / /t 2>/dev/null; then echo bound; else echo refused; fi; \
         awk '$5 == \"/\"' /proc/self/mountinfo | grep -o unbindable",
    );
    let _ = std::fs::create_dir_all(env.bundle.join("rootfs/t"));
    assert!(ok, "unbindable: {text}");
    assert!(text.contains("unbindable"), "{text}");
    assert_gone(&env, &id, 0);
}

/// Runs lcrun with `CAP_SYS_NICE` dropped from its bounding set, as on a host (or in a
/// container) that does not grant it.
fn lcrun_without_sys_nice(env: &Env, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let (o, e) = output_files(env._tmp.path());
    let mut cmd = Command::new(LCRUN);
    cmd.arg("--root")
        .arg(&env.root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            const CAP_SYS_NICE: libc::c_ulong = 23;
            if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    }
}

#[test]
fn regression_11_a_capability_the_host_lacks_fails_create() {
    let test = "regression_11_a_capability_the_host_lacks_fails_create";
    let Some(env) = setup(test) else { return };
    let id = id("capfail");
    env.config(&["true"], |c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_NICE"));
        }
    });
    let out = lcrun_without_sys_nice(&env, &["create", "--bundle", env.bundle_str(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "create passed: {err}");
    assert!(err.contains("capabilit"), "{err}");
    assert_eq!(err.matches("container init failed").count(), 1, "{err}");
    assert_gone(&env, &id, 0);
    // Without the capability in the config, the same host runs it.
    env.config(&["true"], |_| {});
    let out = lcrun_without_sys_nice(&env, &["run", "--bundle", env.bundle_str(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_gone(&env, &id, 0);
}

#[test]
fn regression_11_a_process_that_cannot_run_fails_start() {
    let test = "regression_11_a_process_that_cannot_run_fails_start";
    let Some(env) = setup(test) else { return };
    // Found in PATH and executable, but its interpreter is missing: execve fails after the
    // exec fifo was released.
    let script = env.bundle.join("rootfs/bin/broken");
    std::fs::write(&script, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let id = id("execfail");
    env.config(&["broken"], |_| {});
    env.ok(&["create", "--bundle", env.bundle_str(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    let out = env.lcrun(&["start", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "start passed for a process that never ran: {err}"
    );
    assert!(
        err.contains("did not start") && err.contains("ENOENT"),
        "{err}"
    );
    assert_eq!(env.state(&id)["status"], "stopped");
    env.ok(&["delete", &id]);
    assert_gone(&env, &id, pid);

    // A failing startContainer hook: start fails, saying which hook.
    env.config(&["true"], |c| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    });
    env.ok(&["create", "--bundle", env.bundle_str(), &id]);
    let out = env.lcrun(&["start", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("startContainer hook /bin/false failed"),
        "{err}"
    );
    env.ok(&["delete", &id]);
    assert_gone(&env, &id, 0);
}

#[test]
fn regression_11_an_existing_pid_namespace_is_joined_by_path() {
    let test = "regression_11_an_existing_pid_namespace_is_joined_by_path";
    let Some(env) = setup(test) else { return };
    let a = id("pidA");
    env.config(&["sleep", "30"], |_| {});
    env.ok(&["create", "--bundle", env.bundle_str(), &a]);
    env.ok(&["start", &a]);
    let pa = env.state(&a)["pid"].as_i64().unwrap();
    let b = id("pidB");
    env.config(&["sleep", "30"], |c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "pid" {
                n["path"] = json!(format!("/proc/{pa}/ns/pid"));
            }
        }
    });
    env.ok(&["create", "--bundle", env.bundle_str(), &b]);
    env.ok(&["start", &b]);
    let pb = env.state(&b)["pid"].as_i64().unwrap();
    let ns = |p: i64| std::fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    assert_eq!(ns(pa), ns(pb), "B is not in A's PID namespace");
    let own = std::fs::read_link("/proc/self/ns/pid").unwrap();
    assert_ne!(ns(pb), own);
    // In A's namespace B is a later process, not its pid 1.
    let status = std::fs::read_to_string(format!("/proc/{pb}/status")).unwrap();
    let nspid: Vec<&str> = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect();
    assert_eq!(nspid.len(), 2, "{status}");
    assert_ne!(nspid[1], "1");
    // What B sees of A's namespace: A's sleep is its pid 1.
    let out = env.ok(&["exec", &b, "cat", "/proc/1/cmdline"]);
    assert!(out.starts_with("sleep"), "{out:?}");
    env.ok(&["delete", "--force", &b]);
    env.ok(&["delete", "--force", &a]);
    // A's init is its namespace's pid 1: its exit waits in the kernel until every process of
    // the namespace is reaped (zap_pid_ns_processes), so it may linger a moment after delete.
    let running = |p: i64| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .is_ok_and(|s| !s.contains(") Z ") && !s.contains(") X "))
    };
    assert!(eventually(Duration::from_secs(5), || !running(pa)));
    assert_gone(&env, &a, pa as i32);
    assert_gone(&env, &b, pb as i32);
}

#[test]
fn regression_11_a_killed_create_is_seen_and_removed_by_delete_force() {
    let test = "regression_11_a_killed_create_is_seen_and_removed_by_delete_force";
    let Some(env) = setup(test) else { return };
    let id = id("killedcreate");
    let started = env.bundle.join("hook-started");
    // The prestart hook runs while create waits for it; it ends once create is gone.
    env.config(&["true"], |c| {
        c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c",
            format!("touch {}; while kill -0 $PPID 2>/dev/null; do sleep 0.05; done", started.display())]}]});
    });
    let mut create = Command::new(LCRUN)
        .arg("--root")
        .arg(&env.root)
        .args(["create", "--bundle", env.bundle_str(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || started.exists()));
    create.kill().unwrap();
    create.wait().unwrap();
    let listed = env.ok(&["list", "--quiet"]);
    assert!(listed.lines().any(|l| l == id), "list: {listed:?}");
    let s = env.state(&id);
    assert!(
        ["creating", "stopped"].contains(&s["status"].as_str().unwrap()),
        "{s}"
    );
    let pid = s["pid"].as_i64().unwrap() as i32;
    assert!(cgroup_dirs(&format!("limitcheck/{id}"))
        .iter()
        .any(|d| d.exists()));
    env.ok(&["delete", "--force", &id]);
    assert_gone(&env, &id, pid);

    // Killed even earlier, before state.json: only the directory (and a fifo) can be there.
    let dir = env.root.join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    nix::unistd::mkfifo(
        &dir.join("exec.fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o622),
    )
    .unwrap();
    let out = env.lcrun(&["create", "--bundle", env.bundle_str(), &id]);
    assert!(!out.status.success(), "create over a leftover directory");
    env.ok(&["delete", "--force", &id]);
    assert!(!dir.exists());
}

#[test]
fn regression_11_configs_that_would_change_the_callers_namespaces_are_refused() {
    let test = "regression_11_configs_that_would_change_the_callers_namespaces_are_refused";
    let Some(env) = setup(test) else { return };
    let id = id("hostns");
    let hostname = nix::unistd::gethostname().unwrap();
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    // A cgroup of the host's with a process in it: a container must not adopt it (delete
    // would kill what runs there).
    let layout = limitcheck_cgroup::Layout::detect().unwrap();
    let busy = layout
        .cgroup()
        .name(format!("{id}-busy"))
        .controllers(&[limitcheck_cgroup::Controller::Pids])
        .create()
        .unwrap();
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    busy.add_pid(sleeper.id() as i32).unwrap();
    let busy_path = format!("/{}", busy.relative_path().display());
    let own_uts = "/proc/self/ns/uts".to_string();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        // The runtime's own UTS namespace joined by path is the caller's: no renaming it.
        (
            "hostname",
            Box::new(move |c: &mut Value| {
                for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                    if n["type"] == "uts" {
                        n["path"] = json!(own_uts.clone());
                    }
                }
                c["hostname"] = json!("renamed-by-a-container");
            }),
        ),
        (
            "hostname",
            Box::new(|c: &mut Value| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != "uts");
            }),
        ),
        (
            "linux.sysctl.kernel.pid_max",
            Box::new(|c: &mut Value| {
                c["linux"]["sysctl"] = json!({"kernel.pid_max": "4242"});
            }),
        ),
        (
            "linux.sysctl.net.ipv4.ip_forward",
            Box::new(|c: &mut Value| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != "network");
                c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            }),
        ),
        (
            "linux.devices",
            Box::new(|c: &mut Value| {
                without_mount_namespace(c);
                c["linux"]["devices"] =
                    json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
            }),
        ),
        (
            "linux.maskedPaths",
            Box::new(|c: &mut Value| {
                without_mount_namespace(c);
                c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
            }),
        ),
        (
            "cgroup path",
            Box::new(|c: &mut Value| {
                c["linux"]["cgroupsPath"] = json!("/../../escape");
            }),
        ),
        (
            "already exists",
            Box::new(move |c: &mut Value| {
                c["linux"]["cgroupsPath"] = json!(busy_path.clone());
            }),
        ),
    ];
    for (want, edit) in &cases {
        env.config(&["true"], |c| edit(c));
        let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{want}: the container ran");
        assert!(err.contains(want), "{want}: {err}");
        assert!(!env.root.join(&id).exists(), "{want}: state left");
    }
    assert_eq!(nix::unistd::gethostname().unwrap(), hostname);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap(),
        pid_max
    );
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "the host cgroup's process was killed"
    );
    assert_eq!(busy.pids().unwrap(), vec![sleeper.id() as i32]);
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    busy.destroy().unwrap();
    assert_gone(&env, &id, 0);
}

#[test]
fn regression_11_security_fields_lcrun_cannot_enforce_are_warned_about() {
    let test = "regression_11_security_fields_lcrun_cannot_enforce_are_warned_about";
    let Some(env) = setup(test) else { return };
    let id = id("notenforced");
    env.config(&["true"], |c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ERRNO"});
        c["process"]["apparmorProfile"] = json!("docker-default");
        c["linux"]["resources"]["memory"] = json!({"swappiness": 10});
    });
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for field in [
        "linux.seccomp",
        "process.apparmorProfile",
        "linux.resources.memory.swappiness",
    ] {
        assert!(
            err.contains(&format!("{field} is set but lcrun does not enforce it")),
            "{field}: {err}"
        );
    }
    assert_gone(&env, &id, 0);
}

#[test]
fn regression_11_a_joined_mount_namespace_gets_the_mounts_but_keeps_its_root() {
    let test = "regression_11_a_joined_mount_namespace_gets_the_mounts_but_keeps_its_root";
    let Some(env) = setup(test) else { return };
    if !has_unshare(test, "to make a mount namespace to join") {
        return;
    }
    // Another process's mount namespace, private to it.
    let mut holder = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sleep", "30"])
        .spawn()
        .unwrap();
    let hp = holder.id();
    let holder_ns = |p: u32| std::fs::read_link(format!("/proc/{p}/ns/mnt"));
    assert!(eventually(Duration::from_secs(5), || {
        holder_ns(hp).ok() != std::fs::read_link("/proc/self/ns/mnt").ok()
    }));
    // unshare has exec'd sleep in its new namespace: its root as the kernel sees it.
    let root_id = |p: u32| {
        let m = std::fs::metadata(format!("/proc/{p}/root/")).unwrap();
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    };
    let before = root_id(hp);
    std::fs::write(env.bundle.join("rootfs/marker"), "joined\n").unwrap();
    let id = id("joinmnt");
    env.config(
        &["sh", "-c", "cat /marker; readlink /proc/self/ns/mnt"],
        |c| {
            for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if n["type"] == "mount" {
                    n["path"] = json!(format!("/proc/{hp}/ns/mnt"));
                }
            }
        },
    );
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let after = root_id(hp);
    let ns = holder_ns(hp).unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(out.status.success(), "{text}{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["joined", ns.to_str().unwrap()], "{err}");
    assert_eq!(
        before, after,
        "the joined namespace's other process lost its root"
    );
    assert_gone(&env, &id, 0);
}

#[test]
fn regression_11_without_a_cgroup_namespace_only_the_containers_cgroup_is_visible() {
    let test = "regression_11_without_a_cgroup_namespace_only_the_containers_cgroup_is_visible";
    let Some(env) = setup(test) else { return };
    if limitcheck_cgroup::Layout::detect().map_or(true, |l| {
        !l.available().contains(&limitcheck_cgroup::Controller::Pids)
    }) {
        return skip(test, "no pids controller");
    }
    let id = id("nocgns");
    let dir = if limitcheck_cgroup::Layout::detect().unwrap().mode == limitcheck_cgroup::Mode::V2 {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/pids"
    };
    // The caller's cgroup tree must not be what the container sees or writes: its cgroup
    // directory is bound read-only in the caller's place.
    let script = format!(
        "cat {dir}/pids.max; ls {dir} | grep -c '^limitcheck$'; \
         if echo 5 > {dir}/pids.max 2>/dev/null; then echo WRITTEN; else echo refused; fi; \
         if mkdir {dir}/evil 2>/dev/null; then echo MADE; else echo refused; fi"
    );
    env.config(&["sh", "-c", &script], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "cgroup");
        c["linux"]["resources"]["pids"] = json!({"limit": 77});
    });
    let out = env.lcrun(&["run", "--bundle", env.bundle_str(), &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["77", "0", "refused", "refused"], "{text}");
    assert_gone(&env, &id, 0);
}

/// A start whose init gets no CPU (stopped here, SIGSTOP; in a scenario, starved by its own
/// limits) gives up at its deadline with an error saying so, instead of waiting for ever; the
/// container can then be deleted, leaving nothing.
#[test]
fn a_start_that_cannot_reach_its_process_gives_up_at_its_deadline() {
    use limitcheck_runtime::{spec, CreateOptions, Runtime};
    let test = "a_start_that_cannot_reach_its_process_gives_up_at_its_deadline";
    let Some(env) = setup(test) else { return };
    let id = id("starved");
    env.config(&["sleep", "60"], |_| {});
    let rt = Runtime::new(&env.root).with_init_exe(LCRUN);
    let bundle = spec::load_bundle(&env.bundle).unwrap();
    let mut c = rt.create(&id, &bundle, CreateOptions::default()).unwrap();
    let init = nix::unistd::Pid::from_raw(c.pid());
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let began = std::time::Instant::now();
    let e = c
        .start_within(Some(Duration::from_millis(500)))
        .unwrap_err()
        .to_string();
    let took = began.elapsed();
    assert!(
        e.contains("did not reach its process within 0 s") || e.contains("within 1 s"),
        "{e}"
    );
    assert!(e.contains("starved by its own limits"), "{e}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGCONT).unwrap();
    let pid = c.pid();
    c.delete(true).unwrap();
    assert_gone(&env, &id, pid);
}
