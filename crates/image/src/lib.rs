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
pub mod digest;
pub mod layout;
pub mod unpack;

use std::path::PathBuf;

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
