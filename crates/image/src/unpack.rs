//! Applying layers (image-spec's layer.md, "Applying Changesets") onto a root directory.
//!
//! Each entry is written where its name says under the root, never elsewhere:
//!
//! - a name that is absolute or has a `..` component is refused;
//! - its parent is resolved one component at a time under the root, without trusting the
//!   host's view of symlinks: a relative symlink the layers made (`bin -> usr/bin`) is followed
//!   within the root; one that is absolute (`-> /etc`: inside a container it means the
//!   container's /etc, but followed while unpacking it is the host's) or climbs out of the root
//!   (`-> ../../..`) is refused;
//! - an existing file, symlink or directory in the way is replaced, never written through;
//! - a hard link's target is resolved the same way, and must exist in the root;
//! - `.wh.NAME` removes NAME from the layers below; `.wh..wh..opq` hides everything the layers
//!   below put in its directory (what this layer puts there stays).
//!
//! Modes (setuid and sticky bits too) are kept; so are owners, when this process is root.
//! The layer's digest is checked on everything read once its entries are applied: on a
//! mismatch the root holds unverified content, and the caller removes it.

use std::collections::{HashSet, VecDeque};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::digest::Verifying;
use crate::layout::{Blob, Image};
use crate::ImageError;

/// What a layer's whiteouts become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// Applied: the layers are unpacked one over another onto one root, and a whiteout removes
    /// what the layers below put there (a flat root; image-spec's "Applying Changesets").
    Apply,
    /// Kept as overlayfs marks them, for a layer unpacked alone into its own directory that
    /// will be one of an overlay's lowerdirs (as docker's overlay2 and containerd's overlay
    /// snapshotter store layers): `.wh.NAME` becomes a character device 0:0 named NAME, and
    /// `.wh..wh..opq` the `trusted.overlay.opaque=y` attribute on its directory. Names resolve
    /// within the layer's own directory.
    Overlay,
}

/// What applying a layer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries written (files, directories, links, devices).
    pub written: usize,
    /// Whiteouts applied (`.wh.NAME` and opaque directories).
    pub whiteouts: usize,
}

/// Applies every layer of `image`, bottom first, onto `root` (created if missing).
pub fn apply_all(image: &Image, root: &Path) -> Result<Applied, ImageError> {
    std::fs::create_dir_all(root).map_err(crate::io("create", root))?;
    let mut total = Applied::default();
    for l in &image.layers {
        let a = apply(root, l, &l.digest.blob_path(&image.dir), Whiteouts::Apply)?;
        total.written += a.written;
        total.whiteouts += a.whiteouts;
    }
    Ok(total)
}

/// Applies the layer `layer` (its blob at `path`: a tar, or a gzipped one) onto `root`, its
/// whiteouts as `whiteouts` says.
pub fn apply(
    root: &Path,
    layer: &Blob,
    path: &Path,
    whiteouts: Whiteouts,
) -> Result<Applied, ImageError> {
    let file = std::fs::File::open(path).map_err(crate::io("open the layer", path))?;
    let verifying = Verifying::new(std::io::BufReader::new(file));
    let mt = layer.media_type.as_str();
    let bad = |why: String| ImageError::Format {
        path: path.to_path_buf(),
        why,
    };
    if mt.ends_with("zstd") {
        return Err(bad(format!(
            "layer {}: {mt}: zstd layers are not read yet (gzip and plain tar are)",
            layer.digest
        )));
    }
    let gz = mt.ends_with("+gzip") || mt.ends_with(".tar.gzip") || mt.ends_with("tar.gz");
    let applied;
    let verifying = if gz {
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(verifying));
        applied = entries(root, &layer.digest.to_string(), path, &mut a, whiteouts);
        a.into_inner().into_inner()
    } else {
        let mut a = tar::Archive::new(verifying);
        applied = entries(root, &layer.digest.to_string(), path, &mut a, whiteouts);
        a.into_inner()
    };
    // The digest first: a layer that was altered is that, whatever else it then broke (a
    // header's checksum, a name).
    verifying.finish(&layer.digest, path)?;
    applied
}

fn unsafe_entry(layer: &str, entry: &str, why: impl Into<String>) -> ImageError {
    ImageError::Unsafe {
        layer: layer.to_string(),
        entry: entry.to_string(),
        why: why.into(),
    }
}

/// An entry's name as components: `./a/b/` → [a, b]; refused when absolute or with `..`.
fn components(name: &str) -> Result<Vec<String>, String> {
    if name.starts_with('/') {
        return Err("an absolute name".into());
    }
    let mut out = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("a `..` component".into()),
            c => out.push(c.to_string()),
        }
    }
    Ok(out)
}

/// The real location under `root` of the directory `comps`, each symlink on the way followed
/// within the root (see the module doc); missing directories are made when `create`.
fn real_dir(root: &Path, comps: &[String], create: bool) -> Result<Vec<String>, String> {
    let mut real: Vec<String> = Vec::new();
    let mut queue: VecDeque<String> = comps.iter().cloned().collect();
    let mut hops = 0;
    // The last symlink followed, to name it when its `..` climbs out.
    let mut via: Option<String> = None;
    while let Some(c) = queue.pop_front() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                if real.pop().is_none() {
                    return Err(match &via {
                        Some(s) => format!(
                            "its path goes through the symlink {s}, which climbs out of the root"
                        ),
                        None => "its path climbs out of the root".into(),
                    });
                }
                continue;
            }
            _ => {}
        }
        let p = root.join(real.join("/")).join(&c);
        match std::fs::symlink_metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if create {
                    std::fs::create_dir(&p).map_err(|e| format!("cannot create {c}: {e}"))?;
                }
                real.push(c);
            }
            Err(e) => return Err(format!("cannot look at {}: {e}", p.display())),
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Err("more than 40 symlinks on its path".into());
                }
                let target = std::fs::read_link(&p).map_err(|e| e.to_string())?;
                let shown = format!("{}/{c} -> {}", real.join("/"), target.display());
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    return Err(format!(
                        "its path goes through the absolute symlink {}, which while \
                         unpacking leads to the host's files",
                        shown.trim_start_matches('/')
                    ));
                }
                // The target's components, relative to the symlink's directory, then the rest.
                let mut next: VecDeque<String> = t.split('/').map(str::to_string).collect();
                next.extend(queue);
                queue = next;
                via = Some(shown.trim_start_matches('/').to_string());
            }
            Ok(m) if m.is_dir() => real.push(c),
            Ok(_) => {
                return Err(format!(
                    "{} is not a directory",
                    root.join(real.join("/")).join(&c).display()
                ))
            }
        }
    }
    Ok(real)
}

/// Marks `dir/.wh.NAME` or `dir/.wh..wh..opq` as overlayfs reads them.
fn mark_whiteout(dir: &Path, name: &str) -> Result<(), ImageError> {
    if name == ".wh..wh..opq" {
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|_| crate::io("mark opaque", dir)(std::io::ErrorKind::InvalidInput.into()))?;
        // SAFETY: both strings are NUL-terminated and live across the call.
        let r = unsafe {
            libc::lsetxattr(
                c.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        if r != 0 {
            return Err(crate::io("mark opaque", dir)(
                std::io::Error::last_os_error(),
            ));
        }
        return Ok(());
    }
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let gone = dir.join(&name[4..]);
    remove_any(&gone).map_err(crate::io("replace", &gone))?;
    mknod(&gone, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        .map_err(|e| crate::io("make the whiteout", &gone)(e.into()))
}

fn remove_any(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Extracts the tar `path` (an image archive, not a layer: whiteouts in it are applied as in a
/// layer, which an archive has none of) into `root`, as safely as a layer.
pub fn extract(root: &Path, path: &Path) -> Result<Applied, ImageError> {
    let file = std::fs::File::open(path).map_err(crate::io("open", path))?;
    let mut a = tar::Archive::new(std::io::BufReader::new(file));
    entries(
        root,
        &path.display().to_string(),
        path,
        &mut a,
        Whiteouts::Apply,
    )
}

fn entries<R: Read>(
    root: &Path,
    layer: &str,
    path: &Path,
    a: &mut tar::Archive<R>,
    whiteouts: Whiteouts,
) -> Result<Applied, ImageError> {
    let root_user = nix::unistd::geteuid().is_root();
    let mut applied = Applied::default();
    // What this layer put where (real paths): an opaque directory keeps these.
    let mut ours: HashSet<PathBuf> = HashSet::new();
    let read_err = |e: std::io::Error| ImageError::Format {
        path: path.to_path_buf(),
        why: format!("layer {layer}: not a readable tar: {e}"),
    };
    for entry in a.entries().map_err(read_err)? {
        let mut e = entry.map_err(read_err)?;
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let comps = components(&name).map_err(|w| unsafe_entry(layer, &name, w))?;
        let Some((last, parent)) = comps.split_last() else {
            continue; // the root itself
        };
        let kind = e.header().entry_type();
        let is_whiteout = last.starts_with(".wh.");
        let overlay = whiteouts == Whiteouts::Overlay;
        let real = real_dir(root, parent, !is_whiteout || overlay)
            .map_err(|w| unsafe_entry(layer, &name, w))?;
        let dir = root.join(real.join("/"));
        if is_whiteout && overlay {
            mark_whiteout(&dir, last)?;
            applied.whiteouts += 1;
            continue;
        }
        if is_whiteout {
            if last == ".wh..wh..opq" {
                if let Ok(rd) = std::fs::read_dir(&dir) {
                    for child in rd.flatten() {
                        if !ours.contains(&child.path()) {
                            remove_any(&child.path())
                                .map_err(crate::io("remove", &child.path()))?;
                        }
                    }
                }
            } else {
                let gone = dir.join(&last[4..]);
                remove_any(&gone).map_err(crate::io("remove", &gone))?;
            }
            applied.whiteouts += 1;
            continue;
        }
        let target = dir.join(last);
        let h = e.header().clone();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        // What is in the way goes (a directory stays for a directory).
        let existing = std::fs::symlink_metadata(&target).ok();
        if !(kind.is_dir() && existing.as_ref().is_some_and(|m| m.is_dir())) {
            remove_any(&target).map_err(crate::io("replace", &target))?;
        }
        match kind {
            tar::EntryType::Directory => {
                if !target.is_dir() {
                    std::fs::create_dir(&target).map_err(crate::io("create", &target))?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .map_err(crate::io("create", &target))?;
                std::io::copy(&mut e, &mut f).map_err(crate::io("write", &target))?;
            }
            tar::EntryType::Symlink => {
                let to = e
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| unsafe_entry(layer, &name, "a symlink without a target"))?;
                std::os::unix::fs::symlink(&to, &target).map_err(crate::io("create", &target))?;
            }
            tar::EntryType::Link => {
                let to = e
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| unsafe_entry(layer, &name, "a hard link without a target"))?;
                let to_name = to.to_string_lossy().into_owned();
                let tc = components(&to_name).map_err(|w| {
                    unsafe_entry(layer, &name, format!("a hard link to {to_name:?}: {w}"))
                })?;
                let Some((tl, tp)) = tc.split_last() else {
                    return Err(unsafe_entry(layer, &name, "a hard link to the root"));
                };
                let treal = real_dir(root, tp, false).map_err(|w| {
                    unsafe_entry(layer, &name, format!("a hard link to {to_name:?}: {w}"))
                })?;
                let src = root.join(treal.join("/")).join(tl);
                if std::fs::symlink_metadata(&src).is_err() {
                    return Err(unsafe_entry(
                        layer,
                        &name,
                        format!("a hard link to {to_name:?}, which is not in the root"),
                    ));
                }
                std::fs::hard_link(&src, &target).map_err(crate::io("link", &target))?;
                ours.insert(target);
                applied.written += 1;
                continue;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                use nix::sys::stat::{makedev, mknod, Mode, SFlag};
                let (major, minor) = (
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                );
                let k = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                if let Err(err) = mknod(
                    &target,
                    k,
                    Mode::from_bits_truncate(mode),
                    makedev(major.into(), minor.into()),
                ) {
                    // Without the right to make device nodes, leave it out (a fifo always works).
                    if kind != tar::EntryType::Fifo && err == nix::errno::Errno::EPERM {
                        continue;
                    }
                    return Err(crate::io("create", &target)(err.into()));
                }
            }
            // PAX and GNU extension headers are read by tar itself; nothing else is written.
            _ => continue,
        }
        if root_user {
            let uid = h.uid().ok().and_then(|u| u32::try_from(u).ok());
            let gid = h.gid().ok().and_then(|g| u32::try_from(g).ok());
            nix::unistd::fchownat(
                None,
                &target,
                uid.map(nix::unistd::Uid::from_raw),
                gid.map(nix::unistd::Gid::from_raw),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|err| crate::io("chown", &target)(err.into()))?;
        }
        if kind != tar::EntryType::Symlink {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .map_err(crate::io("chmod", &target))?;
        }
        ours.insert(target);
        applied.written += 1;
    }
    Ok(applied)
}
