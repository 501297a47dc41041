//! An OCI image layout (image-spec's image-layout.md): `oci-layout`, `index.json`, and
//! `blobs/sha256/*`. [`open`] picks the manifest by tag (`org.opencontainers.image.ref.name`),
//! follows an image index to the manifest for this platform, and reads the config; every blob
//! read is checked against its digest and its descriptor's size.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::digest::{self, Digest};
use crate::ImageError;

/// An OCI image index.
pub const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// An OCI image manifest.
pub const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's manifest list (an index).
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's image manifest.
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The annotation naming a manifest's tag in index.json.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone, Deserialize)]
struct RawDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// What a manifest in an index is for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8` for arm64, …
    #[serde(default)]
    pub variant: Option<String>,
}

/// A blob as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size, bytes.
    pub size: u64,
}

/// What the image's config says a container runs (the OCI config's `config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RunConfig {
    /// `KEY=value` entries.
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    /// The entrypoint.
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments (the command, without an entrypoint).
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    /// The working directory.
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    /// `user`, `uid`, `user:group`, `uid:gid`.
    #[serde(rename = "User", default)]
    pub user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    config: Option<RunConfig>,
}

/// An image, ready to unpack.
#[derive(Debug, Clone)]
pub struct Image {
    /// The layout it is in.
    pub dir: PathBuf,
    /// Its manifest's digest.
    pub manifest: Digest,
    /// `os/architecture` from its config.
    pub platform: String,
    /// What it runs.
    pub config: RunConfig,
    /// Its layers, bottom first.
    pub layers: Vec<Blob>,
}

/// This machine's platform as OCI names it (`linux/amd64`).
pub fn this_platform() -> Platform {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        a => a,
    };
    Platform {
        architecture: architecture.into(),
        os: "linux".into(),
        variant: None,
    }
}

fn format_err(path: &Path, why: impl Into<String>) -> ImageError {
    ImageError::Format {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

fn blob(dir: &Path, d: &RawDescriptor, from: &Path) -> Result<(Blob, PathBuf), ImageError> {
    let digest = Digest::parse(&d.digest).map_err(|e| format_err(from, e))?;
    let path = digest.blob_path(dir);
    Ok((
        Blob {
            media_type: d.media_type.clone(),
            digest,
            size: d.size,
        },
        path,
    ))
}

/// Reads a small blob (index, manifest, config): verified, and no larger than its descriptor.
fn read_blob(b: &Blob, path: &Path) -> Result<Vec<u8>, ImageError> {
    let len = std::fs::metadata(path)
        .map_err(crate::io("find the blob", path))?
        .len();
    if len != b.size {
        return Err(format_err(
            path,
            format!(
                "blob {} is {len} bytes; its descriptor says {}",
                b.digest, b.size
            ),
        ));
    }
    digest::read_verified(path, &b.digest)
}

fn json<T: serde::de::DeserializeOwned>(data: &[u8], path: &Path) -> Result<T, ImageError> {
    serde_json::from_slice(data)
        .map_err(|e| format_err(path, format!("not the JSON it must be: {e}")))
}

#[derive(Debug, Deserialize)]
struct RawIndex {
    #[serde(default)]
    manifests: Vec<RawDescriptor>,
}

#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    config: RawDescriptor,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
}

/// Opens the image `tag` (or the only one) of the OCI layout in `dir`.
pub fn open(dir: &Path, tag: Option<&str>) -> Result<Image, ImageError> {
    let marker = dir.join("oci-layout");
    let text = std::fs::read_to_string(&marker).map_err(|e| {
        format_err(
            &marker,
            format!("not an OCI image layout ({e}): give a directory skopeo, umoci or `docker save` (unpacked) wrote"),
        )
    })?;
    if !text.contains("imageLayoutVersion") {
        return Err(format_err(&marker, "no imageLayoutVersion"));
    }
    let index_path = dir.join("index.json");
    let data = std::fs::read(&index_path).map_err(crate::io("read", &index_path))?;
    let index: RawIndex = json(&data, &index_path)?;
    let tags: Vec<&str> = index
        .manifests
        .iter()
        .filter_map(|m| m.annotations.get(REF_NAME).map(String::as_str))
        .collect();
    let chosen = match tag {
        Some(t) => index
            .manifests
            .iter()
            .find(|m| m.annotations.get(REF_NAME).is_some_and(|n| n == t))
            .ok_or_else(|| {
                format_err(
                    &index_path,
                    format!("no manifest tagged {t:?} (tags: {})", tags.join(", ")),
                )
            })?,
        None if index.manifests.len() == 1 => &index.manifests[0],
        None => {
            return Err(format_err(
                &index_path,
                format!(
                    "{} manifests: name one with oci:DIR:TAG (tags: {})",
                    index.manifests.len(),
                    tags.join(", ")
                ),
            ))
        }
    };
    let manifest = resolve(dir, chosen, &index_path, 0)?;
    let (mblob, mpath) = blob(dir, &manifest, &index_path)?;
    let raw: RawManifest = json(&read_blob(&mblob, &mpath)?, &mpath)?;
    if let Some(mt) = &raw.media_type {
        if mt != MT_MANIFEST && mt != MT_DOCKER_MANIFEST {
            return Err(format_err(
                &mpath,
                format!("media type {mt}: not an image manifest"),
            ));
        }
    }
    let (cblob, cpath) = blob(dir, &raw.config, &mpath)?;
    let config: RawConfig = json(&read_blob(&cblob, &cpath)?, &cpath)?;
    let mut layers = Vec::new();
    for l in &raw.layers {
        let (b, _) = blob(dir, l, &mpath)?;
        layers.push(b);
    }
    Ok(Image {
        dir: dir.to_path_buf(),
        manifest: mblob.digest,
        platform: format!("{}/{}", config.os, config.architecture),
        config: config.config.unwrap_or_default(),
        layers,
    })
}

/// Follows an index descriptor to the manifest for this platform.
fn resolve(
    dir: &Path,
    d: &RawDescriptor,
    from: &Path,
    depth: usize,
) -> Result<RawDescriptor, ImageError> {
    if d.media_type != MT_INDEX && d.media_type != MT_DOCKER_LIST {
        return Ok(d.clone());
    }
    if depth > 4 {
        return Err(format_err(from, "indexes nested more than 4 deep"));
    }
    let (b, path) = blob(dir, d, from)?;
    let index: RawIndex = json(&read_blob(&b, &path)?, &path)?;
    let want = this_platform();
    let found = index.manifests.iter().find(|m| {
        m.platform
            .as_ref()
            .is_some_and(|p| p.os == want.os && p.architecture == want.architecture)
    });
    match found {
        Some(m) => resolve(dir, m, &path, depth + 1),
        None => Err(format_err(
            &path,
            format!(
                "no manifest for {}/{} (it has: {})",
                want.os,
                want.architecture,
                index
                    .manifests
                    .iter()
                    .filter_map(|m| m.platform.as_ref())
                    .map(|p| format!("{}/{}", p.os, p.architecture))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
