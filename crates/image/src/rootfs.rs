//! A container's root from an image, as the seed describes it: an overlay whose lowerdirs are
//! the image's cached layers (read-only, shared by every container of the image), with a
//! per-container upperdir and workdir beside it, merged at `<dir>/rootfs` (LowerDir, UpperDir,
//! WorkDir and MergedDir in `docker inspect`'s words). Where overlay cannot be used (no
//! overlay in the kernel, no right to mount, no right to make whiteout devices), the layers
//! are applied one over another into `<dir>/rootfs` instead: a copy, the container's own.
//!
//! [`release`] unmounts the merged root; the caller then removes `<dir>`, with the upper
//! layer in it (a container's changes go with it).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::cache::Cache;
use crate::layout::Image;
use crate::ImageError;

/// How to make the root.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum How {
    /// Overlay, else (saying why) a copy.
    #[default]
    Auto,
    /// Overlay, or an error.
    Overlay,
    /// A copy, the layers applied into the container's own directory.
    Copy,
}

impl std::str::FromStr for How {
    type Err = String;
    fn from_str(s: &str) -> Result<How, String> {
        match s {
            "auto" => Ok(How::Auto),
            "overlay" => Ok(How::Overlay),
            "copy" => Ok(How::Copy),
            _ => Err(format!(
                "{s:?}: `overlay` (an overlay of the cached layers, a copy where it cannot be \
                 used: `auto`, the default), `overlay` alone, or `copy`"
            )),
        }
    }
}

/// A root made from an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The merged (or copied) root: `<dir>/rootfs`.
    pub path: PathBuf,
    /// The overlay's lowerdirs, top first (empty for a copy).
    pub lower: Vec<PathBuf>,
    /// The overlay's upperdir (none for a copy).
    pub upper: Option<PathBuf>,
    /// Why overlay was not used, when [`How::Auto`] fell back to a copy.
    pub fallback: Option<String>,
}

impl Root {
    /// `overlay` or `copy`, for reports.
    pub fn kind(&self) -> &'static str {
        if self.upper.is_some() {
            "overlay"
        } else {
            "copy"
        }
    }
}

/// Makes `<dir>/rootfs` (with `<dir>/upper` and `<dir>/work` for an overlay) from `image`,
/// its layers unpacked through `cache`. `dir` must exist; `<dir>/rootfs` must not.
pub fn prepare(image: &Image, cache: &Cache, dir: &Path, how: How) -> Result<Root, ImageError> {
    let path = dir.join("rootfs");
    if how != How::Copy {
        match overlay(image, cache, dir, &path) {
            Ok(root) => return Ok(root),
            Err(Unusable::Image(e)) => return Err(e),
            Err(Unusable::Overlay(why)) if how == How::Overlay => {
                return Err(ImageError::Format {
                    path,
                    why: format!("overlay cannot be used: {why}"),
                })
            }
            Err(Unusable::Overlay(why)) => {
                for d in ["upper", "work"] {
                    let _ = std::fs::remove_dir_all(dir.join(d));
                }
                release(dir)?;
                let _ = std::fs::remove_dir_all(&path);
                let mut root = copy(image, &path)?;
                root.fallback = Some(why);
                return Ok(root);
            }
        }
    }
    copy(image, &path)
}

fn copy(image: &Image, path: &Path) -> Result<Root, ImageError> {
    crate::unpack::apply_all(image, path)?;
    Ok(Root {
        path: path.to_path_buf(),
        lower: Vec::new(),
        upper: None,
        fallback: None,
    })
}

enum Unusable {
    /// The image is bad (a digest, an unsafe entry): no fallback helps.
    Image(ImageError),
    /// Overlay cannot be used here, for this reason.
    Overlay(String),
}

fn overlay(image: &Image, cache: &Cache, dir: &Path, path: &Path) -> Result<Root, Unusable> {
    let mut lower = match cache.layers(image) {
        Ok(l) => l,
        // Without the right to make a whiteout device or set a trusted attribute, layers
        // cannot be stored for overlay: applied into a copy they need neither.
        Err(ImageError::Io { what, path, source })
            if what == "make the whiteout" || what == "mark opaque" =>
        {
            return Err(Unusable::Overlay(format!(
                "the layer cache cannot hold overlay's whiteouts ({what} {}: {source})",
                path.display()
            )))
        }
        Err(e) => return Err(Unusable::Image(e)),
    };
    lower.reverse();
    if lower.is_empty() {
        // An image of no layers: an empty directory is its only lowerdir.
        let empty = cache.dir().join("empty");
        std::fs::create_dir_all(&empty)
            .map_err(|e| Unusable::Image(crate::io("create", &empty)(e)))?;
        lower.push(empty);
    }
    let upper = dir.join("upper");
    let work = dir.join("work");
    for d in [&upper, &work, &path.to_path_buf()] {
        std::fs::create_dir_all(d).map_err(|e| Unusable::Image(crate::io("create", d)(e)))?;
    }
    let joined: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
    for p in joined
        .iter()
        .chain([&upper.display().to_string(), &work.display().to_string()])
    {
        if p.contains([',', ':']) {
            return Err(Unusable::Overlay(format!(
                "the path {p} has a `,` or `:`, which overlay's options cannot hold"
            )));
        }
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        joined.join(":"),
        upper.display(),
        work.display()
    );
    // The kernel reads at most a page of options.
    if data.len() >= 4096 {
        return Err(Unusable::Overlay(format!(
            "{} layers: their paths do not fit in overlay's options (a page)",
            lower.len()
        )));
    }
    nix::mount::mount(
        Some("overlay"),
        path,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|e| Unusable::Overlay(format!("mount -t overlay on {}: {e}", path.display())))?;
    Ok(Root {
        path: path.to_path_buf(),
        lower,
        upper: Some(upper),
        fallback: None,
    })
}

/// True when `path` is a mount point (on another device than its parent).
pub fn is_mount_point(path: &Path) -> bool {
    let (Ok(m), Some(parent)) = (std::fs::symlink_metadata(path), path.parent()) else {
        return false;
    };
    std::fs::metadata(parent).is_ok_and(|p| p.dev() != m.dev())
}

/// Unmounts `<dir>/rootfs` if an overlay is mounted there (detached: a process still in it
/// keeps its view until it ends). Nothing to do for a copy.
pub fn release(dir: &Path) -> Result<(), ImageError> {
    let path = dir.join("rootfs");
    // Mounted twice (a second prepare over a first): each goes.
    for _ in 0..8 {
        if !is_mount_point(&path) {
            return Ok(());
        }
        nix::mount::umount2(&path, MntFlags::MNT_DETACH)
            .map_err(|e| crate::io("unmount", &path)(e.into()))?;
    }
    Err(crate::io("unmount", &path)(std::io::Error::other(
        "still a mount point after 8 unmounts",
    )))
}

/// Unmounts `<dir>/rootfs` as [`release`] does and removes `dir`, never crossing into a
/// mount: if the root cannot be unmounted, nothing is removed and the error says why.
pub fn remove(dir: &Path) -> Result<(), ImageError> {
    release(dir)?;
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::io("remove", dir)(e)),
    }
}
