//! The layer cache: each layer unpacked once, alone, into a directory named by its digest
//! (`<dir>/sha256/<hex>/`), its whiteouts kept as overlayfs marks them
//! ([`Whiteouts::Overlay`]), so that the directories of an image's layers are an overlay's
//! lowerdirs as they are — as docker's overlay2 driver and containerd's overlay snapshotter
//! store layers.
//!
//! A layer is unpacked into a temporary directory beside the others and renamed into place only
//! once every entry is written and its digest checked, so a directory named by a digest holds
//! that layer, whole; two runs unpacking the same layer at once both finish, and the second's
//! copy is dropped. What a killed unpack left (`<dir>/tmp/<hex>.<pid>.<n>`, its process gone)
//! is removed by the next.

use std::path::{Path, PathBuf};

use crate::layout::{Blob, Image};
use crate::unpack::{self, Whiteouts};
use crate::ImageError;

/// limitcheck's cache directory: `$XDG_CACHE_HOME/limitcheck`, else `~/.cache/limitcheck`
/// (kernels for `limitcheck vm`, layers).
pub fn base_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("limitcheck");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/limitcheck")
}

/// The layer cache's default directory: `layers/` in [`base_dir`].
pub fn default_dir() -> PathBuf {
    base_dir().join("layers")
}

/// A layer cache in a directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache in `dir` (created when a layer is first unpacked).
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where layer `blob` is (or will be) unpacked.
    pub fn layer_dir(&self, blob: &Blob) -> PathBuf {
        self.dir.join("sha256").join(&blob.digest.hex)
    }

    /// The directory of each of `image`'s layers, bottom first, unpacking those not cached yet.
    pub fn layers(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError> {
        image
            .layers
            .iter()
            .map(|l| self.layer(l, &l.digest.blob_path(&image.dir)))
            .collect()
    }

    /// The directory of `layer` (its blob at `path`), unpacked if it is not cached yet.
    pub fn layer(&self, layer: &Blob, path: &Path) -> Result<PathBuf, ImageError> {
        let done = self.layer_dir(layer);
        if done.is_dir() {
            return Ok(done);
        }
        let tmp_root = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp_root).map_err(crate::io("create", &tmp_root))?;
        self.drop_stale(&tmp_root);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = tmp_root.join(format!(
            "{}.{}.{nanos}",
            layer.digest.hex,
            std::process::id()
        ));
        std::fs::create_dir(&tmp).map_err(crate::io("create", &tmp))?;
        if let Err(e) = unpack::apply(&tmp, layer, path, Whiteouts::Overlay) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let parent = done.parent().expect("sha256/");
        std::fs::create_dir_all(parent).map_err(crate::io("create", parent))?;
        match std::fs::rename(&tmp, &done) {
            Ok(()) => Ok(done),
            // Another run put it there first: its copy is as good.
            Err(_) if done.is_dir() => {
                let _ = std::fs::remove_dir_all(&tmp);
                Ok(done)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(crate::io("move into the cache", &done)(e))
            }
        }
    }

    /// Removes the temporary directories of unpacks whose process is gone (killed).
    fn drop_stale(&self, tmp_root: &Path) {
        for e in std::fs::read_dir(tmp_root).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok());
            if pid.is_none_or(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
