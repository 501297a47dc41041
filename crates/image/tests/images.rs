//! Images made by the tests (hand-made layers, written byte by byte where a tar library would
//! refuse to write the name): an OCI layout read as skopeo and umoci write it, layers applied
//! with their whiteouts, and malicious layers refused with nothing written outside the root.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use limitcheck_image::digest::Digest;
use limitcheck_image::layout::{self, Blob};
use limitcheck_image::{unpack, ImageError};

/// One entry of a hand-made layer.
enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, u32, &'a [u8]),
    Owned(&'a str, u32, u64, u64, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// A tar of `entries`, names written into the header as given (`../x` and `/x` too).
fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, data): (&str, &[u8]) = match e {
            E::Dir(n, m) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*m);
                (n, b"")
            }
            E::File(n, m, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*m);
                (n, d)
            }
            E::Owned(n, m, uid, gid, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*m);
                h.set_uid(*uid);
                h.set_gid(*gid);
                (n, d)
            }
            E::Symlink(n, to) | E::Hardlink(n, to) => {
                h.set_entry_type(if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                let l = &mut h.as_old_mut().linkname;
                l[..to.len()].copy_from_slice(to.as_bytes());
                (n, b"")
            }
        };
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Writes `data` as a blob of the layout `dir`; its descriptor.
fn blob(dir: &Path, media_type: &str, data: &[u8]) -> (Blob, serde_json::Value) {
    let d = Digest::of(data);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(d.blob_path(dir), data).unwrap();
    let desc =
        serde_json::json!({"mediaType": media_type, "digest": d.to_string(), "size": data.len()});
    (
        Blob {
            media_type: media_type.into(),
            digest: d,
            size: data.len() as u64,
        },
        desc,
    )
}

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const TGZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An OCI layout with one image of `layers` tagged `tag`, behind an index for two platforms
/// (this one and another) when `multi`.
fn layout_with(dir: &Path, layers: &[(&str, Vec<u8>)], tag: &str, multi: bool) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    let config = serde_json::json!({
        "architecture": layout::this_platform().architecture, "os": "linux",
        "config": {"Env": ["PATH=/bin", "GREETING=hi"], "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo $GREETING"], "WorkingDir": "/work", "User": "1000:1000"},
        "rootfs": {"type": "layers", "diff_ids": []}
    });
    let (_, cdesc) = blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let ldescs: Vec<serde_json::Value> = layers.iter().map(|(mt, d)| blob(dir, mt, d).1).collect();
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": layout::MT_MANIFEST, "config": cdesc, "layers": ldescs});
    let (_, mut mdesc) = blob(dir, layout::MT_MANIFEST, manifest.to_string().as_bytes());
    if multi {
        let p = layout::this_platform();
        mdesc["platform"] = serde_json::json!({"architecture": p.architecture, "os": "linux"});
        let other = serde_json::json!({"mediaType": layout::MT_MANIFEST, "digest": format!("sha256:{}", "0".repeat(64)), "size": 1, "platform": {"architecture": "s390x", "os": "linux"}});
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": layout::MT_INDEX, "manifests": [other, mdesc]});
        let (_, idesc) = blob(dir, layout::MT_INDEX, index.to_string().as_bytes());
        mdesc = idesc;
    }
    mdesc["annotations"] = serde_json::json!({ layout::REF_NAME: tag });
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [mdesc]});
    std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
}

fn base_layer() -> Vec<u8> {
    layer(&[
        E::Dir("etc/", 0o755),
        E::Owned("etc/a", 0o640, 1000, 1001, b"a"),
        E::File("etc/b", 0o644, b"b"),
        E::Dir("d/", 0o755),
        E::File("d/x", 0o644, b"x"),
        E::File("d/y", 0o644, b"y"),
        E::Dir("usr/", 0o755),
        E::Dir("usr/bin/", 0o755),
        E::Symlink("bin", "usr/bin"),
        E::File("usr/bin/setuid", 0o4755, b"#!/bin/sh\n"),
        E::File("gone-dir/f", 0o644, b"f"),
    ])
}

fn upper_layer() -> Vec<u8> {
    layer(&[
        E::File("etc/.wh.a", 0o644, b""),
        E::File("d/z", 0o644, b"z"),
        E::File("d/.wh..wh..opq", 0o644, b""),
        E::File("bin/tool", 0o755, b"tool"),
        E::Hardlink("etc/b2", "etc/b"),
        E::File(".wh.gone-dir", 0o644, b""),
    ])
}

#[test]
fn an_oci_layout_is_read_and_its_layers_applied_with_their_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("image");
    layout_with(
        &dir,
        &[(TAR, base_layer()), (TGZ, gz(&upper_layer()))],
        "latest",
        true,
    );
    let image = layout::open(&dir, Some("latest")).unwrap();
    assert_eq!(image.layers.len(), 2);
    assert_eq!(
        image.config.cmd.as_deref(),
        Some(&["echo $GREETING".to_string()][..])
    );
    assert_eq!(image.config.working_dir.as_deref(), Some("/work"));
    assert!(image.platform.starts_with("linux/"));
    let root = t.path().join("root");
    let applied = unpack::apply_all(&image, &root).unwrap();
    assert_eq!(applied.whiteouts, 3);
    assert!(!root.join("etc/a").exists(), "the whiteout removed etc/a");
    assert_eq!(std::fs::read(root.join("etc/b")).unwrap(), b"b");
    let mut d: Vec<String> = std::fs::read_dir(root.join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    d.sort();
    assert_eq!(
        d,
        ["z"],
        "the opaque directory keeps only this layer's entries"
    );
    assert!(!root.join("gone-dir").exists());
    // Through the relative symlink the layers made: into usr/bin, the symlink kept.
    assert!(std::fs::symlink_metadata(root.join("bin"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(root.join("usr/bin/tool")).unwrap(), b"tool");
    let b = std::fs::metadata(root.join("etc/b")).unwrap();
    let b2 = std::fs::metadata(root.join("etc/b2")).unwrap();
    assert_eq!(b.ino(), b2.ino(), "a hard link");
    assert_eq!(
        std::fs::metadata(root.join("usr/bin/setuid"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o4755
    );
    // Owners are kept when this process is root.
    if nix::unistd::geteuid().is_root() {
        let t2 = tempfile::tempdir().unwrap();
        let (l, _) = blob(
            t2.path(),
            TAR,
            &layer(&[E::Owned("o", 0o600, 1234, 5678, b"o")]),
        );
        std::fs::create_dir_all(t2.path().join("r")).unwrap();
        unpack::apply(
            &t2.path().join("r"),
            &l,
            &l.digest.blob_path(t2.path()),
            unpack::Whiteouts::Apply,
        )
        .unwrap();
        let m = std::fs::metadata(t2.path().join("r/o")).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o600));
    }
}

#[test]
fn tags_platforms_and_digests_are_checked() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("image");
    layout_with(&dir, &[(TAR, base_layer())], "v1", false);
    let e = layout::open(&dir, Some("nope")).unwrap_err().to_string();
    assert!(e.contains("no manifest tagged \"nope\" (tags: v1)"), "{e}");
    assert!(
        layout::open(&dir, None).is_ok(),
        "the only image needs no tag"
    );
    // A layer altered after the fact: named by its digest, once read.
    let image = layout::open(&dir, Some("v1")).unwrap();
    let l = &image.layers[0];
    let mut data = std::fs::read(l.digest.blob_path(&dir)).unwrap();
    data[600] ^= 1;
    std::fs::write(l.digest.blob_path(&dir), &data).unwrap();
    let e = unpack::apply_all(&image, &t.path().join("root")).unwrap_err();
    assert!(matches!(e, ImageError::Digest { .. }), "{e}");
    assert!(e.to_string().contains(&l.digest.to_string()), "{e}");
    // A manifest altered: refused before anything is unpacked.
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let m = Digest::parse(index["manifests"][0]["digest"].as_str().unwrap()).unwrap();
    let mut text = std::fs::read(m.blob_path(&dir)).unwrap();
    text[10] = b' ';
    std::fs::write(m.blob_path(&dir), &text).unwrap();
    let e = layout::open(&dir, Some("v1")).unwrap_err().to_string();
    assert!(e.contains(&format!("blob {m}")), "{e}");
    // No manifest for this platform in an index.
    let other = t.path().join("other");
    layout_with(&other, &[(TAR, base_layer())], "x", true);
    let idx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(other.join("index.json")).unwrap()).unwrap();
    let inner = Digest::parse(idx["manifests"][0]["digest"].as_str().unwrap()).unwrap();
    let mut iv: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inner.blob_path(&other)).unwrap()).unwrap();
    assert!(iv["manifests"][1]["platform"].is_object());
    iv["manifests"].as_array_mut().unwrap().remove(1);
    let data = iv.to_string();
    let (_, mut desc) = blob(&other, layout::MT_INDEX, data.as_bytes());
    desc["annotations"] = serde_json::json!({ layout::REF_NAME: "x" });
    std::fs::write(
        other.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [desc]}).to_string(),
    )
    .unwrap();
    let e = layout::open(&other, Some("x")).unwrap_err().to_string();
    assert!(
        e.contains("no manifest for linux/") && e.contains("linux/s390x"),
        "{e}"
    );
}

/// Each malicious layer is refused naming the entry and why, and the file outside the root
/// is untouched.
#[test]
fn malicious_layers_are_refused_and_nothing_outside_the_root_is_written() {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("file"), b"mine").unwrap();
    let out = outside.display().to_string();
    let climb = "../".repeat(8) + out.trim_start_matches('/');
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "dot-dot",
            vec![layer(&[E::File("../outside/file", 0o644, b"pwned")])],
            "a `..` component",
        ),
        (
            "absolute name",
            vec![layer(&[E::File(&format!("{out}/file"), 0o644, b"pwned")])],
            "an absolute name",
        ),
        (
            "through an absolute symlink",
            vec![
                layer(&[E::Symlink("evil", &out)]),
                layer(&[E::File("evil/file", 0o644, b"pwned")]),
            ],
            "absolute symlink",
        ),
        (
            "through a climbing symlink",
            vec![
                layer(&[E::Symlink("up", &climb)]),
                layer(&[E::File("up/file", 0o644, b"pwned")]),
            ],
            "climbs out of the root",
        ),
        (
            "a whiteout through an absolute symlink",
            vec![
                layer(&[E::Symlink("evil", &out)]),
                layer(&[E::File("evil/.wh.file", 0o644, b"")]),
            ],
            "absolute symlink",
        ),
        (
            "a hard link out of the root",
            vec![layer(&[E::Hardlink("h", "../outside/file")])],
            "a hard link to \"../outside/file\"",
        ),
        (
            "a hard link to an absolute path",
            vec![layer(&[E::Hardlink("h", &format!("{out}/file"))])],
            "an absolute name",
        ),
        (
            "a hard link through an absolute symlink",
            vec![
                layer(&[E::Symlink("evil", &out)]),
                layer(&[E::Hardlink("h", "evil/file")]),
            ],
            "absolute symlink",
        ),
    ];
    for (what, layers, says) in cases {
        let dir = t.path().join(what.replace(' ', "-"));
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let mut err = None;
        for data in &layers {
            let (l, _) = blob(&dir, TAR, data);
            if let Err(e) = unpack::apply(
                &root,
                &l,
                &l.digest.blob_path(&dir),
                unpack::Whiteouts::Apply,
            ) {
                err = Some(e);
                break;
            }
        }
        let e = err.unwrap_or_else(|| panic!("{what}: applied"));
        assert!(matches!(e, ImageError::Unsafe { .. }), "{what}: {e}");
        assert!(
            e.to_string().contains(says) && e.to_string().ends_with("refused"),
            "{what}: {e}"
        );
        assert_eq!(
            std::fs::read(outside.join("file")).unwrap(),
            b"mine",
            "{what}"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "{what}");
    }
}

/// Images as podman writes them (its own storage in a temp dir, the image imported from a
/// busybox rootfs tarball): `podman save --format docker-archive`, `oci-archive` and
/// `oci-dir`, each opened and unpacked into a root where busybox runs, with the config's
/// command and environment read.
#[test]
fn images_podman_saves_open_and_unpack() {
    let test = "images_podman_saves_open_and_unpack";
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED {test}: needs root (podman's storage)");
        return;
    }
    if std::process::Command::new("podman")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED {test}: podman is not installed (apt-get install podman)");
        return;
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static");
    let t = tempfile::tempdir().unwrap();
    let rootfs = t.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    std::fs::write(rootfs.join("hello"), "hello\n").unwrap();
    let tarball = t.path().join("rootfs.tar");
    let ok = |c: &mut std::process::Command| {
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ok(std::process::Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg("."));
    let podman = || {
        let mut c = std::process::Command::new("podman");
        c.arg("--root")
            .arg(t.path().join("storage"))
            .arg("--runroot")
            .arg(t.path().join("run"))
            .args(["--storage-driver", "vfs", "--events-backend", "file"]);
        c
    };
    ok(podman()
        .args([
            "import",
            "--change",
            "CMD [\"/bin/sh\", \"-c\", \"echo $GREETING\"]",
        ])
        .args(["--change", "ENV GREETING=hi"])
        .arg(&tarball)
        .arg("localhost/lc-test:1"));
    for format in ["docker-archive", "oci-archive", "oci-dir"] {
        let out = t.path().join(format);
        ok(podman()
            .args(["save", "--format", format, "-o"])
            .arg(&out)
            .arg("localhost/lc-test:1"));
        let work = t.path().join(format!("{format}-work"));
        let image = match format {
            "oci-dir" => layout::open(&out, None),
            _ => limitcheck_image::archive::open(&out, Some("1"), &work)
                .or_else(|_| limitcheck_image::archive::open(&out, None, &work)),
        }
        .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(image.layers.len(), 1, "{format}");
        assert!(
            image
                .config
                .env
                .as_ref()
                .is_some_and(|e| e.iter().any(|v| v == "GREETING=hi")),
            "{format}: {:?}",
            image.config
        );
        assert_eq!(
            image.config.cmd.as_deref(),
            Some(&["/bin/sh".to_string(), "-c".into(), "echo $GREETING".into()][..]),
            "{format}"
        );
        let root = t.path().join(format!("{format}-root"));
        unpack::apply_all(&image, &root).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(
            std::fs::read_to_string(root.join("hello")).unwrap(),
            "hello\n"
        );
        let o = std::process::Command::new(root.join("bin/busybox"))
            .args(["echo", "ran"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n", "{format}");
        assert!(std::fs::symlink_metadata(root.join("bin/sh"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
    let e = limitcheck_image::archive::open(
        &t.path().join("docker-archive"),
        Some("nope"),
        &t.path().join("nope-work"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no image tagged \"nope\" (tags: localhost/lc-test:1)"),
        "{e}"
    );
}
