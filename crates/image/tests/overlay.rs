//! Images built with `build`, their layers cached for overlay and merged as a container's root:
//! the merged view is what applying the layers into a copy gives, writes go to the upper layer
//! only, and nothing is left mounted once the root is released. The overlay tests need root
//! (mount, whiteout devices, trusted attributes); without it they say SKIPPED.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use limitcheck_image::build::{write_layout, Layer};
use limitcheck_image::cache::Cache;
use limitcheck_image::layout::{self, RunConfig};
use limitcheck_image::rootfs::{self, How};

fn root(test: &str) -> bool {
    let ok = nix::unistd::geteuid().is_root();
    if !ok {
        eprintln!("SKIPPED {test}: needs root (mount, whiteout devices, trusted attributes)");
    }
    ok
}

/// Two layers: a base, and one that deletes `etc/motd`, hides everything the base put in
/// `data/` but adds `data/c`, replaces `etc/hostname` and adds `usr/bin/tool`.
fn two_layer_image(dir: &Path) {
    let mut base = Layer::new();
    base.dir("etc", 0o755).unwrap();
    base.file("etc/motd", 0o644, b"welcome\n").unwrap();
    base.file("etc/hostname", 0o644, b"base\n").unwrap();
    base.dir("data", 0o750).unwrap();
    base.file("data/a", 0o600, b"a").unwrap();
    base.file("data/b", 0o644, b"b").unwrap();
    base.dir("usr/bin", 0o755).unwrap();
    base.file("usr/bin/setuid", 0o4755, b"#!/bin/sh\n").unwrap();
    base.symlink("bin", "usr/bin").unwrap();
    let mut upper = Layer::new();
    upper.whiteout("etc/motd").unwrap();
    upper.file("etc/hostname", 0o644, b"upper\n").unwrap();
    upper.opaque("data").unwrap();
    upper.file("data/c", 0o644, b"c").unwrap();
    upper.file("usr/bin/tool", 0o755, b"tool").unwrap();
    let config = RunConfig {
        cmd: Some(vec!["sh".into()]),
        ..Default::default()
    };
    write_layout(dir, "latest", vec![base, upper], &config).unwrap();
}

/// Unmounts and removes its roots however the test ends (a panic too), so that no overlay is
/// left mounted.
struct Roots(Vec<PathBuf>);

impl Drop for Roots {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = rootfs::remove(d);
        }
    }
}

/// Every name under `dir` with its kind, mode and content: what a root holds, comparable.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let name = p.strip_prefix(base).unwrap().display().to_string();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                out.push(format!(
                    "{name} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if m.is_dir() {
                out.push(format!("{name}/ {mode:o}"));
                walk(base, &p, out);
            } else {
                let data = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                out.push(format!("{name} {mode:o} {data:?}"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn layers_are_cached_once_with_their_whiteouts_as_overlay_marks_them() {
    if !root("layers_are_cached_once_with_their_whiteouts_as_overlay_marks_them") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    two_layer_image(&t.path().join("img"));
    let image = layout::open(&t.path().join("img"), Some("latest")).unwrap();
    let cache = Cache::new(t.path().join("cache"));
    let dirs = cache.layers(&image).unwrap();
    assert_eq!(dirs.len(), 2);
    for (d, l) in dirs.iter().zip(&image.layers) {
        assert!(d.ends_with(&l.digest.hex), "{d:?} named by its digest");
    }
    // The whiteout is a character device 0:0 named as what it deletes; no `.wh.` file.
    let wh = std::fs::symlink_metadata(dirs[1].join("etc/motd")).unwrap();
    assert!(wh.file_type().is_char_device(), "{wh:?}");
    assert_eq!(wh.rdev(), 0);
    assert!(!dirs[1].join("etc/.wh.motd").exists());
    // The opaque directory carries trusted.overlay.opaque=y.
    let mut value = [0u8; 8];
    let c =
        std::ffi::CString::new(dirs[1].join("data").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: NUL-terminated strings and a buffer of the length given.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    assert_eq!(n, 1, "{}", std::io::Error::last_os_error());
    assert_eq!(&value[..1], b"y");
    assert!(!dirs[1].join("data/.wh..wh..opq").exists());
    // The base layer is whole in its own directory.
    assert_eq!(std::fs::read(dirs[0].join("data/a")).unwrap(), b"a");
    // Once: a second image of the same layers finds them; nothing is unpacked again.
    let ino = std::fs::metadata(dirs[0].join("data/a")).unwrap().ino();
    let again = cache.layers(&image).unwrap();
    assert_eq!(again, dirs);
    assert_eq!(
        std::fs::metadata(dirs[0].join("data/a")).unwrap().ino(),
        ino
    );
    // What a killed unpack left (its process gone) goes with the next unpack.
    let stale = cache
        .dir()
        .join("tmp")
        .join(format!("{}.999999999.1", "f".repeat(64)));
    std::fs::create_dir_all(stale.join("etc")).unwrap();
    std::fs::remove_dir_all(&dirs[1]).unwrap();
    cache.layers(&image).unwrap();
    assert!(!stale.exists(), "the dead unpack's directory is removed");
    assert_eq!(
        std::fs::read_dir(cache.dir().join("tmp")).unwrap().count(),
        0,
        "no temporary directory left"
    );
}

#[test]
fn an_overlay_root_holds_what_a_copy_holds_and_writes_stay_in_its_upper_layer() {
    if !root("an_overlay_root_holds_what_a_copy_holds_and_writes_stay_in_its_upper_layer") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    two_layer_image(&t.path().join("img"));
    let image = layout::open(&t.path().join("img"), Some("latest")).unwrap();
    let cache = Cache::new(t.path().join("cache"));
    let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
    let _roots = Roots(vec![a.clone(), b.clone(), c.clone()]);
    for d in [&a, &b, &c] {
        std::fs::create_dir(d).unwrap();
    }
    let over = rootfs::prepare(&image, &cache, &a, How::Overlay).unwrap();
    let copy = rootfs::prepare(&image, &cache, &b, How::Copy).unwrap();
    assert_eq!((over.kind(), copy.kind()), ("overlay", "copy"));
    assert_eq!(over.lower.len(), 2);
    assert!(
        over.lower[0].ends_with(&image.layers[1].digest.hex),
        "top first"
    );
    assert!(rootfs::is_mount_point(&over.path));
    assert!(!rootfs::is_mount_point(&copy.path));
    let merged = tree(&over.path);
    assert_eq!(merged, tree(&copy.path));
    for want in [
        "etc/hostname 644 \"upper\\n\"",
        "data/ 755", // as the upper layer writes it again
        "data/c 644 \"c\"",
        "usr/bin/setuid 4755 \"#!/bin/sh\\n\"",
        "usr/bin/tool 755 \"tool\"",
        "bin -> usr/bin",
    ] {
        assert!(
            merged.iter().any(|l| l == want),
            "{want} not in {merged:#?}"
        );
    }
    for gone in ["etc/motd", "data/a", "data/b"] {
        assert!(
            !merged.iter().any(|l| l.starts_with(&format!("{gone} "))),
            "{gone} in {merged:#?}"
        );
    }
    // Writable; a write and a delete land in this container's upper layer, never the cache.
    std::fs::write(over.path.join("written"), b"w").unwrap();
    std::fs::remove_file(over.path.join("etc/hostname")).unwrap();
    let upper = over.upper.clone().unwrap();
    assert_eq!(std::fs::read(upper.join("written")).unwrap(), b"w");
    assert!(std::fs::symlink_metadata(upper.join("etc/hostname"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(
        std::fs::read(over.lower[0].join("etc/hostname")).unwrap(),
        b"upper\n"
    );
    // A second container of the image shares the lowerdirs, not the first one's changes.
    let second = rootfs::prepare(&image, &cache, &c, How::Auto).unwrap();
    assert_eq!(second.lower, over.lower);
    assert!(!second.path.join("written").exists());
    assert!(second.path.join("etc/hostname").exists());
    // Released: unmounted, then removed with its upper layer; the cache stays.
    for d in [&a, &b, &c] {
        rootfs::remove(d).unwrap();
        assert!(!d.exists());
    }
    assert!(!std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&t.path().display().to_string()));
    assert!(over.lower.iter().all(|l| l.is_dir()));
}

#[test]
fn a_built_layout_names_its_tags_and_diff_ids() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("img");
    two_layer_image(&dir);
    let mut l = Layer::new();
    l.file("only", 0o644, b"x").unwrap();
    let cfg = RunConfig {
        entrypoint: Some(vec!["/only".into()]),
        user: Some("65534".into()),
        ..Default::default()
    };
    write_layout(&dir, "other", vec![l], &cfg).unwrap();
    let latest = layout::open(&dir, Some("latest")).unwrap();
    let other = layout::open(&dir, Some("other")).unwrap();
    assert_eq!((latest.layers.len(), other.layers.len()), (2, 1));
    assert_eq!(other.config.entrypoint, cfg.entrypoint);
    assert_eq!(other.config.user.as_deref(), Some("65534"));
    // Two tags: naming none is ambiguous, and says so.
    let e = layout::open(&dir, None).unwrap_err().to_string();
    assert!(e.contains("latest") && e.contains("other"), "{e}");
    // The config's diff_ids are the digests of the layers uncompressed, as image-spec says.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(latest.manifest.blob_path(&dir)).unwrap()).unwrap();
    let cd =
        limitcheck_image::digest::Digest::parse(manifest["config"]["digest"].as_str().unwrap())
            .unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cd.blob_path(&dir)).unwrap()).unwrap();
    for (i, l) in latest.layers.iter().enumerate() {
        let mut tar = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(
                std::fs::File::open(l.digest.blob_path(&dir)).unwrap(),
            ),
            &mut tar,
        )
        .unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][i].as_str().unwrap(),
            limitcheck_image::digest::Digest::of(&tar).to_string()
        );
    }
}
