//! OCI images from local sources, no registry: an OCI image layout (what skopeo and umoci
//! write, `oci:DIR[:TAG]`), the manifest for this platform chosen from its index, every blob's
//! sha256 verified as it is read (a mismatch names the blob), and layers applied in order onto
//! a root directory with their whiteouts (`.wh.NAME`, opaque `.wh..wh..opq`), modes and
//! ownership kept, and path traversal refused (`../`, absolute names, writing through a
//! symlink that is absolute or climbs out of the root, hard links to outside the root).
//!
//! ```no_run
//! let image = limitcheck_image::layout::open("images/busybox".as_ref(), Some("latest"))?;
//! limitcheck_image::unpack::apply_all(&image, "/tmp/rootfs".as_ref())?;
//! # Ok::<(), limitcheck_image::ImageError>(())
//! ```

#![deny(missing_docs)]

pub mod archive;
pub mod build;
pub mod cache;
pub mod digest;
pub mod layout;
pub mod rootfs;
pub mod unpack;

use std::path::{Path, PathBuf};

/// Where an image is: what `image = "…"` in a scenario names, in skopeo's transport syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `oci:DIR[:TAG]`: an OCI image layout.
    Layout {
        /// The layout's directory.
        dir: PathBuf,
        /// The tag (`org.opencontainers.image.ref.name`); none: the only image.
        tag: Option<String>,
    },
    /// `docker-archive:FILE[:NAME:TAG]` (`docker save`, `podman save`) or
    /// `oci-archive:FILE[:TAG]` (a tar of a layout).
    Archive {
        /// `docker-archive` or `oci-archive` (either is read as whichever it is).
        transport: String,
        /// The tarball.
        file: PathBuf,
        /// The image in it (`name:tag`, or the tag); none: the only one.
        tag: Option<String>,
    },
}

impl Source {
    /// Parses `oci:DIR[:TAG]`, `docker-archive:FILE[:TAG]` or `oci-archive:FILE[:TAG]`;
    /// relative paths are taken from `base` (the scenario file's directory). The tag is what
    /// follows the first `:` after the path's last `/`.
    pub fn parse(s: &str, base: &Path) -> Result<Source, String> {
        let (transport, rest) = s.split_once(':').ok_or_else(|| {
            format!(
                "{s:?} names no transport: write `oci:DIR[:TAG]` (an OCI image layout, as \
                 skopeo and umoci write it), `docker-archive:FILE` (docker or podman save) or \
                 `oci-archive:FILE`"
            )
        })?;
        let cut = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[cut..].find(':') {
            Some(i) => (&rest[..cut + i], Some(rest[cut + i + 1..].to_string())),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(format!("{s:?} names no path after `{transport}:`"));
        }
        if tag.as_deref() == Some("") {
            return Err(format!("{s:?}: an empty tag after the path's `:`"));
        }
        let path = base.join(path);
        match transport {
            "oci" => Ok(Source::Layout { dir: path, tag }),
            "docker-archive" | "oci-archive" => Ok(Source::Archive {
                transport: transport.to_string(),
                file: path,
                tag,
            }),
            t => Err(format!(
                "{s:?}: unknown transport {t:?}: `oci:` (a layout directory), \
                 `docker-archive:` or `oci-archive:` (a tarball); images are read from local \
                 files, never pulled"
            )),
        }
    }

    /// The file or directory it names.
    pub fn path(&self) -> &Path {
        match self {
            Source::Layout { dir, .. } => dir,
            Source::Archive { file, .. } => file,
        }
    }

    /// Opens the image; an archive is extracted into `work` (which then holds its blobs).
    pub fn open(&self, work: &Path) -> Result<layout::Image, ImageError> {
        match self {
            Source::Layout { dir, tag } => layout::open(dir, tag.as_deref()),
            Source::Archive { file, tag, .. } => archive::open(file, tag.as_deref(), work),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (t, p, tag) = match self {
            Source::Layout { dir, tag } => ("oci", dir, tag),
            Source::Archive {
                transport,
                file,
                tag,
            } => (transport.as_str(), file, tag),
        };
        write!(f, "{t}:{}", p.display())?;
        if let Some(tag) = tag {
            write!(f, ":{tag}")?;
        }
        Ok(())
    }
}

/// What went wrong reading or unpacking an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A blob's content is not what its digest says.
    #[error("blob {digest} ({}): its content hashes to sha256:{actual}: the image is damaged or was altered", path.display())]
    Digest {
        /// The digest the image names it by.
        digest: String,
        /// Where it is.
        path: PathBuf,
        /// What its content hashes to.
        actual: String,
    },
    /// A file of the image is not what the OCI image spec says it must be.
    #[error("{}: {why}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        why: String,
    },
    /// A layer entry that would write outside the root, or through something it must not.
    #[error("layer {layer}: entry {entry:?}: {why}; refused")]
    Unsafe {
        /// The layer's digest.
        layer: String,
        /// The entry's name in the layer.
        entry: String,
        /// Why.
        why: String,
    },
}

pub(crate) fn io(
    what: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> ImageError {
    let path = path.to_path_buf();
    move |source| ImageError::Io { what, path, source }
}
