//! Making images offline: layers built entry by entry or from host programs with the shared
//! libraries they load, written as an OCI image layout (`oci-layout`, `index.json` naming the
//! tag, the manifest, the config with its `rootfs.diff_ids`, gzipped layer blobs) that
//! [`crate::layout::open`], skopeo and umoci read.
//!
//! ```no_run
//! use limitcheck_image::build::{Layer, write_layout};
//! use limitcheck_image::layout::RunConfig;
//! let mut base = Layer::new();
//! base.host_program("/bin/busybox".as_ref(), "bin/busybox")?;
//! base.symlink("bin/sh", "busybox")?;
//! let config = RunConfig { cmd: Some(vec!["sh".into()]), ..Default::default() };
//! write_layout("images/busybox".as_ref(), "latest", vec![base], &config)?;
//! # Ok::<(), limitcheck_image::ImageError>(())
//! ```

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use serde_json::json;

use crate::digest::Digest;
use crate::layout::{RunConfig, MT_INDEX, MT_MANIFEST, REF_NAME};
use crate::ImageError;

/// A gzipped layer's media type.
pub const MT_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// An image config's media type.
pub const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// A layer being built: a tar of changes, names relative to the root.
pub struct Layer {
    tar: tar::Builder<Vec<u8>>,
    /// Directories already written, so each is written once (parents first).
    dirs: BTreeSet<String>,
    /// Names written, so a host path reached twice (two programs, one library) is added once.
    names: BTreeSet<String>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

fn clean(name: &str) -> String {
    name.trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

fn wrap(what: &'static str, name: &str) -> impl FnOnce(io::Error) -> ImageError {
    let path = PathBuf::from(name);
    move |source| ImageError::Io { what, path, source }
}

impl Layer {
    /// An empty layer.
    pub fn new() -> Layer {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        tar.follow_symlinks(false);
        Layer {
            tar,
            dirs: BTreeSet::new(),
            names: BTreeSet::new(),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h
    }

    /// Writes the directories above `name` that are not written yet (mode 0755).
    fn parents(&mut self, name: &str) -> Result<(), ImageError> {
        let mut at = String::new();
        let parts: Vec<&str> = name.split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(p);
            if self.dirs.insert(at.clone()) {
                let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
                self.tar
                    .append_data(&mut h, format!("{at}/"), io::empty())
                    .map_err(wrap("write the directory", &at))?;
            }
        }
        Ok(())
    }

    /// Adds the directory `name` with `mode`.
    pub fn dir(&mut self, name: &str, mode: u32) -> Result<(), ImageError> {
        let name = clean(name);
        self.parents(&name)?;
        if self.dirs.insert(name.clone()) {
            let mut h = Self::header(tar::EntryType::Directory, mode, 0);
            self.tar
                .append_data(&mut h, format!("{name}/"), io::empty())
                .map_err(wrap("write the directory", &name))?;
        }
        Ok(())
    }

    /// Adds the file `name` with `mode` holding `data`.
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> Result<(), ImageError> {
        let name = clean(name);
        self.parents(&name)?;
        self.names.insert(name.clone());
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.tar
            .append_data(&mut h, &name, data)
            .map_err(wrap("write the file", &name))
    }

    /// Adds the symlink `name` pointing at `target`.
    pub fn symlink(&mut self, name: &str, target: &str) -> Result<(), ImageError> {
        let name = clean(name);
        self.parents(&name)?;
        self.names.insert(name.clone());
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.tar
            .append_link(&mut h, &name, target)
            .map_err(wrap("write the symlink", &name))
    }

    /// Deletes `name` of the layers below: the whiteout `.wh.<base name>` beside it.
    pub fn whiteout(&mut self, name: &str) -> Result<(), ImageError> {
        let name = clean(name);
        let (dir, base) = match name.rsplit_once('/') {
            Some((d, b)) => (format!("{d}/"), b.to_string()),
            None => (String::new(), name.clone()),
        };
        self.file(&format!("{dir}.wh.{base}"), 0o644, b"")
    }

    /// Hides everything the layers below put in the directory `dir` (what this layer puts in
    /// it stays): the opaque whiteout `dir/.wh..wh..opq`.
    pub fn opaque(&mut self, dir: &str) -> Result<(), ImageError> {
        let d = clean(dir);
        self.dir(&d, 0o755)?;
        self.file(&format!("{d}/.wh..wh..opq"), 0o644, b"")
    }

    /// Copies the host file at `path` to the same path in the layer, as [`copy_host_path`].
    pub fn host_path(&mut self, path: &Path) -> Result<(), ImageError> {
        copy_host_path(self, path).map_err(crate::io("copy", path))
    }

    /// Copies the host program `exe` to `dest` in the layer, with every shared library it
    /// loads, as [`copy_host_program`].
    pub fn host_program(&mut self, exe: &Path, dest: &str) -> Result<(), ImageError> {
        copy_host_program(self, exe, dest).map_err(crate::io("copy", exe))
    }

    /// The layer as a tar.
    pub fn into_tar(self) -> Result<Vec<u8>, ImageError> {
        self.tar
            .into_inner()
            .map_err(wrap("finish the layer", "layer"))
    }
}

/// A tree host files are copied into: a layer, an initramfs. Each skips what it holds already.
pub trait Tree {
    /// Adds the directory `name` (relative to the root).
    fn put_dir(&mut self, name: &str, mode: u32) -> io::Result<()>;
    /// Adds the file `name` holding `data`.
    fn put_file(&mut self, name: &str, mode: u32, data: &[u8]) -> io::Result<()>;
    /// Adds the symlink `name` to `target`.
    fn put_symlink(&mut self, name: &str, target: &str) -> io::Result<()>;
}

impl Tree for Layer {
    fn put_dir(&mut self, name: &str, mode: u32) -> io::Result<()> {
        self.dir(name, mode).map_err(io::Error::other)
    }
    fn put_file(&mut self, name: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        if self.names.contains(&clean(name)) {
            return Ok(());
        }
        self.file(name, mode, data).map_err(io::Error::other)
    }
    fn put_symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        if self.names.contains(&clean(name)) {
            return Ok(());
        }
        self.symlink(name, target).map_err(io::Error::other)
    }
}

/// Copies the host file at `path` to the same path in `tree`, reproducing every symlink met on
/// the way (`/lib64/ld-linux-x86-64.so.2` on Debian crosses two).
pub fn copy_host_path(tree: &mut dyn Tree, path: &Path) -> io::Result<()> {
    let mut path = normalize(path);
    'resolve: for _ in 0..40 {
        let mut cur = PathBuf::from("/");
        let parts: Vec<_> = path.components().skip(1).collect();
        for (i, c) in parts.iter().enumerate() {
            let next = cur.join(c);
            let meta = std::fs::symlink_metadata(&next).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot copy {}: {e}", next.display()))
            })?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&next)?;
                tree.put_symlink(&rel(&next), &target.to_string_lossy())?;
                let mut resolved = if target.is_absolute() {
                    target
                } else {
                    cur.join(target)
                };
                for rest in &parts[i + 1..] {
                    resolved.push(rest);
                }
                path = normalize(&resolved);
                continue 'resolve;
            }
            if i + 1 == parts.len() {
                let mode = meta.permissions().mode() & 0o7777;
                if meta.is_dir() {
                    return tree.put_dir(&rel(&next), mode);
                }
                let data = std::fs::read(&next).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot read {}: {e}", next.display()))
                })?;
                return tree.put_file(&rel(&next), mode, &data);
            }
            cur = next;
        }
        return Ok(());
    }
    Err(io::Error::other(format!(
        "too many symlinks resolving {}",
        path.display()
    )))
}

/// Copies the host program `exe` to `dest` in `tree`, with every shared library it loads (at
/// the host's paths, as `ldd` lists them, symlinks kept).
pub fn copy_host_program(tree: &mut dyn Tree, exe: &Path, dest: &str) -> io::Result<()> {
    for lib in shared_libraries(exe)? {
        copy_host_path(tree, &lib)?;
    }
    let data = std::fs::read(exe)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", exe.display())))?;
    tree.put_file(dest, 0o755, &data)
}

/// Lexically normalises an absolute path (`.` and `..` resolved, no filesystem access).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

fn rel(p: &Path) -> String {
    p.to_string_lossy().trim_start_matches('/').to_string()
}

/// True when the ELF file at `path` names no program interpreter (statically linked).
pub fn is_static_elf(path: &Path) -> io::Result<bool> {
    let b = std::fs::read(path)?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a 64-bit ELF executable", path.display()),
        ));
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 > b.len() {
            break;
        }
        if u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes")) == 3 {
            return Ok(false); // PT_INTERP
        }
    }
    Ok(true)
}

/// The shared libraries `exe` loads, as `ldd` lists them (absolute paths, the loader included).
pub fn shared_libraries(exe: &Path) -> io::Result<Vec<PathBuf>> {
    if is_static_elf(exe)? {
        return Ok(Vec::new());
    }
    let out = std::process::Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot run ldd to list the libraries of {}: {e}",
                    exe.display()
                ),
            )
        })?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ldd {}: {}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut libs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.contains("not found") {
            return Err(io::Error::other(format!(
                "{}: a library is missing: {}",
                exe.display(),
                line.trim()
            )));
        }
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, r)) => r.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// Writes the image `tag` of the OCI layout `out`: one layer of the host `programs` (at their
/// host paths, symlinks on the way kept) with every shared library they load, a minimal `/etc`
/// (root and nobody), `/tmp` (1777) and `/root`; `config` as its config. Returns the manifest's
/// digest.
pub fn from_host(
    out: &Path,
    tag: &str,
    programs: &[PathBuf],
    config: &RunConfig,
) -> Result<Digest, ImageError> {
    let mut l = Layer::new();
    l.dir("tmp", 0o1777)?;
    l.dir("root", 0o700)?;
    l.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    )?;
    l.file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n")?;
    for p in programs {
        for lib in shared_libraries(p).map_err(crate::io("list the libraries of", p))? {
            l.host_path(&lib)?;
        }
        l.host_path(p)?;
    }
    write_layout(out, tag, vec![l], config)
}

fn write_blob(dir: &Path, data: &[u8]) -> Result<Digest, ImageError> {
    let d = Digest::of(data);
    let path = d.blob_path(dir);
    std::fs::create_dir_all(path.parent().expect("blobs/sha256"))
        .map_err(crate::io("create", dir))?;
    std::fs::write(&path, data).map_err(crate::io("write", &path))?;
    Ok(d)
}

/// Writes `layers` (bottom first) and `config` as the image `tag` of the OCI layout `dir`
/// (created if missing; another tag already there is kept, this one replaced). Returns the
/// manifest's digest.
pub fn write_layout(
    dir: &Path,
    tag: &str,
    layers: Vec<Layer>,
    config: &RunConfig,
) -> Result<Digest, ImageError> {
    let tars = layers
        .into_iter()
        .map(Layer::into_tar)
        .collect::<Result<Vec<_>, _>>()?;
    write_layout_of_tars(dir, tag, tars, config)
}

/// [`write_layout`] of layers given as tars (written by hand: a test's malicious layer).
pub fn write_layout_of_tars(
    dir: &Path,
    tag: &str,
    tars: Vec<Vec<u8>>,
    config: &RunConfig,
) -> Result<Digest, ImageError> {
    std::fs::create_dir_all(dir).map_err(crate::io("create", dir))?;
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in tars {
        diff_ids.push(Digest::of(&tar).to_string());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar)
            .map_err(crate::io("compress a layer of", dir))?;
        let gz = gz.finish().map_err(crate::io("compress a layer of", dir))?;
        let d = write_blob(dir, &gz)?;
        descs.push(json!({"mediaType": MT_LAYER_GZIP, "digest": d.to_string(), "size": gz.len()}));
    }
    let platform = crate::layout::this_platform();
    let mut run = serde_json::Map::new();
    for (k, v) in [
        ("Env", config.env.as_ref().map(|v| json!(v))),
        ("Entrypoint", config.entrypoint.as_ref().map(|v| json!(v))),
        ("Cmd", config.cmd.as_ref().map(|v| json!(v))),
        ("WorkingDir", config.working_dir.as_ref().map(|v| json!(v))),
        ("User", config.user.as_ref().map(|v| json!(v))),
    ] {
        if let Some(v) = v {
            run.insert(k.into(), v);
        }
    }
    let cfg = serde_json::to_vec(&json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": run,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "limitcheck-image build"}],
    }))
    .expect("serializes");
    let cd = write_blob(dir, &cfg)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": cd.to_string(), "size": cfg.len()},
        "layers": descs,
    }))
    .expect("serializes");
    let md = write_blob(dir, &manifest)?;
    let layout = dir.join("oci-layout");
    std::fs::write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(crate::io("write", &layout))?;
    let index_path = dir.join("index.json");
    let mut others: Vec<serde_json::Value> = std::fs::read(&index_path)
        .ok()
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("manifests").and_then(|m| m.as_array()).cloned())
        .unwrap_or_default();
    others.retain(|m| m["annotations"][REF_NAME].as_str() != Some(tag));
    others.push(json!({
        "mediaType": MT_MANIFEST,
        "digest": md.to_string(),
        "size": manifest.len(),
        "platform": {"architecture": platform.architecture, "os": platform.os},
        "annotations": {REF_NAME: tag},
    }));
    let index = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": others,
    }))
    .expect("serializes");
    std::fs::write(&index_path, index).map_err(crate::io("write", &index_path))?;
    Ok(md)
}
