//! `lcrun unpack`: a bundle from a test-built busybox image (a second layer deleting and
//! replacing files), as `umoci unpack` makes one, which lcrun and runc then run. Needs root and
//! busybox-static; skips with a printed reason otherwise.

use std::path::Path;
use std::process::{Command, Output};

use limitcheck_testkit::skip;

const LCRUN: &str = env!("CARGO_BIN_EXE_lcrun");

fn lcrun(args: &[&str], cache: &Path) -> Output {
    Command::new(LCRUN)
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn unpack_makes_a_bundle_of_the_image_that_lcrun_and_runc_run() {
    let test = "unpack_makes_a_bundle_of_the_image_that_lcrun_and_runc_run";
    if !nix::unistd::geteuid().is_root() {
        return skip(test, "needs root to run containers");
    }
    let Some(busybox) = limitcheck_testkit::images::busybox() else {
        return skip(
            test,
            "needs busybox-static (apt-get install busybox-static)",
        );
    };
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("img");
    limitcheck_testkit::images::busybox_image(&img, "latest", &busybox).unwrap();
    let image = format!("oci:{}:latest", img.display());
    let cache = t.path().join("cache");
    let state = t.path().join("state");
    let bundle = t.path().join("bundle");
    let o = lcrun(
        &["unpack", "--image", &image, bundle.to_str().unwrap()],
        &cache,
    );
    assert!(o.status.success(), "{}", text(&o));
    // A flat root (as umoci's), the second layer's whiteouts applied.
    let rootfs = bundle.join("rootfs");
    assert!(!rootfs.join("etc/motd").exists());
    assert!(!rootfs.join("data/a").exists() && rootfs.join("data/c").exists());
    assert!(!limitcheck_image::rootfs::is_mount_point(&rootfs));
    assert!(!bundle.join("image").exists() && !bundle.join("upper").exists());
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["process"]["args"],
        serde_json::json!(["sh", "-c", "cat /etc/greeting"])
    );
    assert_eq!(config["root"]["readonly"], false);
    let run = lcrun(
        &[
            "--root",
            state.to_str().unwrap(),
            "run",
            "-b",
            bundle.to_str().unwrap(),
            "unpack-1",
        ],
        &cache,
    );
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        limitcheck_testkit::images::GREETING
    );
    // A command in place of the image's Cmd; the root is writable.
    let b2 = t.path().join("bundle2");
    let o = lcrun(
        &[
            "unpack",
            "--image",
            &image,
            b2.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "echo w > /w && cat /w && ls /data",
        ],
        &cache,
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut outputs = Vec::new();
    let mut runners = vec![(LCRUN.to_string(), state.clone())];
    if Command::new("runc").arg("--version").output().is_ok() {
        runners.push(("runc".into(), t.path().join("runc-state")));
    } else {
        skip(test, "runc is not installed: only lcrun ran the bundle");
    }
    for (i, (prog, root)) in runners.iter().enumerate() {
        // Each runtime gets a fresh copy of the root: the first one wrote /w into its own.
        let b = t.path().join(format!("bundle2-{i}"));
        let cp = Command::new("cp")
            .arg("-a")
            .arg(&b2)
            .arg(&b)
            .status()
            .unwrap();
        assert!(cp.success());
        let o = Command::new(prog)
            .args(["--root", root.to_str().unwrap(), "run", "-b"])
            .arg(&b)
            .arg(format!("unpack-2-{i}"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{prog}: {}", text(&o));
        outputs.push(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    for o in &outputs {
        assert_eq!(o, "w\nc\n", "{outputs:?}");
    }
    // Refused before anything is made: an existing bundle, an unknown transport.
    let o = lcrun(
        &["unpack", "--image", &image, bundle.to_str().unwrap()],
        &cache,
    );
    assert!(
        !o.status.success() && text(&o).contains("exists"),
        "{}",
        text(&o)
    );
    let o = lcrun(&["unpack", "--image", "docker://busybox", "nb"], &cache);
    assert!(
        !o.status.success() && text(&o).contains("unknown transport"),
        "{}",
        text(&o)
    );
    assert!(!Path::new("nb").exists());
}
