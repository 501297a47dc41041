//! A bundle limitcheck makes for a container and removes with it: from the host
//! ([`crate::hostfs`], read-only binds of the host's `/usr`) or from an image
//! ([`crate::imagefs`], an overlay of its cached layers, or a copy).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Result, RuntimeError};
use crate::imagefs::{ImageOptions, Made};
use crate::spec::ValidSpec;

/// A bundle directory and its validated spec; removed on drop (its overlay unmounted first).
#[derive(Debug)]
pub struct Bundle {
    dir: PathBuf,
    spec: ValidSpec,
    image: Option<Made>,
    keep: bool,
}

/// Makes `dir` (which must not exist), runs `write` in it, and removes it again if that fails.
fn make<T>(dir: &Path, write: impl FnOnce() -> Result<T>) -> Result<T> {
    std::fs::create_dir_all(dir.parent().unwrap_or(Path::new("/")))
        .map_err(RuntimeError::io("create", dir))?;
    std::fs::create_dir(dir).map_err(RuntimeError::io("create", dir))?;
    let made = write();
    if made.is_err() {
        let _ = limitcheck_image::rootfs::remove(dir);
    }
    made
}

impl Bundle {
    /// The host-made bundle in `dir` (which must not exist) to run `args`, with each of
    /// `binaries` bound read-only at `/opt/limitcheck/bin/<file name>`.
    pub fn host(dir: &Path, args: Vec<String>, binaries: &[PathBuf]) -> Result<Bundle> {
        let spec = make(dir, || crate::hostfs::write_bundle(dir, args, binaries))?;
        Ok(Bundle {
            dir: dir.to_path_buf(),
            spec,
            image: None,
            keep: false,
        })
    }

    /// The bundle in `dir` (which must not exist) of a container of the image `source`: its
    /// root made as `opts` says, its process the image's (`command`, when given, in place of
    /// the image's `Cmd`).
    pub fn image(
        dir: &Path,
        source: &limitcheck_image::Source,
        command: Option<Vec<String>>,
        opts: &ImageOptions,
    ) -> Result<Bundle> {
        let (spec, made) = make(dir, || {
            crate::imagefs::write_bundle(dir, source, command, opts)
        })?;
        Ok(Bundle {
            dir: dir.to_path_buf(),
            spec,
            image: Some(made),
            keep: false,
        })
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What its root was made from, for an image container.
    pub fn image_made(&self) -> Option<&Made> {
        self.image.as_ref()
    }

    /// The validated spec (change it with [`Bundle::spec_mut`] before creating).
    pub fn spec(&self) -> &ValidSpec {
        &self.spec
    }

    /// The spec, to add resources, namespaces or environment before creating the container.
    pub fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec.spec
    }

    /// Keeps the directory when the handle is dropped.
    pub fn keep(mut self) -> Self {
        self.keep = true;
        self
    }

    /// Unmounts its root if it is an overlay, and removes the bundle directory.
    pub fn remove(mut self) -> Result<()> {
        self.keep = true;
        limitcheck_image::rootfs::remove(&self.dir).map_err(|error| RuntimeError::Image {
            source_name: self.dir.display().to_string(),
            error,
        })
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if !self.keep {
            let _ = limitcheck_image::rootfs::remove(&self.dir);
        }
    }
}
