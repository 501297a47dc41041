//! `limitcheck run --engine docker`: the seed's experiments as the seed ran them, through the
//! docker CLI and a real dockerd (Debian's docker.io) started here with a data root in a temp
//! dir and flags that work without systemd; stopped afterwards (issue 14).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// A dockerd of the test's own: its socket, data and exec roots in a temp dir; no iptables, no
/// bridge (the containers run with `--network none`), the vfs storage driver (the image is the
/// host-made rootfs's skeleton, a few KiB).
struct Dockerd {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Dockerd {
    fn start(test: &str) -> Option<Dockerd> {
        if !root(test) {
            return None;
        }
        for prog in ["dockerd", "docker", "containerd"] {
            if Command::new(prog).arg("--version").output().is_err() {
                skip(
                    test,
                    &format!("{prog} is not installed (apt-get install docker.io)"),
                );
                return None;
            }
        }
        // Short paths: the daemon's sockets must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("lcd")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let host = format!("unix://{}/docker.sock", d.display());
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--host")
            .arg(&host)
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut me = Dockerd {
            child,
            host,
            _dir: dir,
        };
        let up = wait_until(Duration::from_secs(60), || {
            Command::new("docker")
                .args(["-H", &me.host, "version"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if !up {
            let log =
                std::fs::read_to_string(me._dir.path().join("dockerd.log")).unwrap_or_default();
            let _ = me.child.kill();
            panic!("dockerd did not come up in 60 s: {log}");
        }
        Some(me)
    }

    /// Names of the daemon's containers.
    fn containers(&self) -> Vec<String> {
        let o = Command::new("docker")
            .args(["-H", &self.host, "ps", "-a", "--format", "{{.Names}}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .env("DOCKER_HOST", &self.host)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if !wait_until(Duration::from_secs(20), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Its own mounts under the temp dir go with it.
        let _ = Command::new("umount")
            .args(["-R", "-l"])
            .arg(self._dir.path())
            .stderr(Stdio::null())
            .status();
    }
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The seed scenarios and the runtime-update one pass under docker, each `docker update` step
/// with its clobber check clean; nothing is left in the daemon or on the host.
#[test]
fn docker_runs_the_seed_scenarios_as_the_seed_did() {
    let test = "docker_runs_the_seed_scenarios_as_the_seed_did";
    let _g = serial();
    let Some(d) = Dockerd::start(test) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let files = seed_and_runtime_scenarios();
    assert!(files.len() >= 7, "{files:?}");
    let mut args = vec![
        "run".to_string(),
        "--engine".into(),
        "docker".into(),
        "--report-dir".into(),
        out.display().to_string(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let o = d.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(matches!(o.status.code(), Some(0 | 6)), "{stdout}");
    let s = summary(&out);
    assert!(
        s["host"]["runtime"]
            .as_str()
            .is_some_and(|r| r.starts_with("docker ")),
        "{}",
        s["host"]
    );
    let updates = assert_passes_with_clean_updates(&s);
    assert!(updates >= 1, "no docker update step ran: {stdout}");
    assert!(d.containers().is_empty(), "{:?}", d.containers());
    assert_clean();
}

/// A workload that dies under docker is an error with its exit status and its log (from
/// `docker logs`), never a failed limit; and a run killed mid-scenario leaves no container in
/// the daemon once its guardian has run.
#[test]
fn under_docker_a_dead_workload_is_an_error_and_a_killed_run_leaves_nothing() {
    let test = "under_docker_a_dead_workload_is_an_error_and_a_killed_run_leaves_nothing";
    let _g = serial();
    let Some(d) = Dockerd::start(test) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let dead = scenario_file(
        t.path(),
        "dead.toml",
        "duration = \"5s\"\n[[container]]\nname = \"dies\"\ncommand = [\"sh\", \"-c\", \"echo going; sleep 1; exit 3\"]\n",
    );
    let out = t.path().join("dead-out");
    let o = d.run(&[
        "run",
        "--engine",
        "docker",
        "--report-dir",
        out.to_str().unwrap(),
        dead.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let s = summary(&out);
    let reason = s["scenarios"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("exited with status 3") && reason.contains("going"),
        "{reason}"
    );

    let marker = format!("lc-docker-killed-{}", std::process::id());
    let file = marked_scenario(t.path(), "killed", &marker, 30);
    let mut child = Command::new(BIN)
        .env("DOCKER_HOST", &d.host)
        .args(["run", "--engine", "docker", "--report-dir"])
        .arg(t.path().join("killed-out"))
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the container's process", Duration::from_secs(30), || {
        !processes_with(&marker).is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = wait_until(Duration::from_secs(20), || {
        processes_with(&marker).is_empty() && d.containers().is_empty()
    });
    assert!(
        gone,
        "20 s after the kill: processes {:?}, the daemon's containers {:?}, left {:?}; {}",
        processes_with(&marker),
        d.containers(),
        leftovers(),
        String::from_utf8_lossy(
            &Command::new("docker")
                .args(["-H", &d.host, "ps", "-a"])
                .output()
                .unwrap()
                .stdout
        )
    );
    wait_for("the bundles", Duration::from_secs(10), || {
        leftovers().is_empty()
    });
}
