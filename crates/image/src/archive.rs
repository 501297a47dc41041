//! Image archives: what `docker save` and `podman save` write (`docker-archive:FILE`): a tar
//! holding `manifest.json` (`[{"Config": …, "RepoTags": […], "Layers": […]}]`), the config and
//! the layer tars — or, from Docker 25 on, an OCI layout as well (`oci-archive:FILE` is only
//! that). [`open`] extracts the archive (as safely as a layer: no name leaves the directory)
//! into a work directory, then reads it as an OCI layout, or lays the docker form out as one:
//! every file a manifest names is put under `blobs/sha256/<its hash>`, so that what is
//! unpacked is named by what it holds.

use std::path::Path;

use serde::Deserialize;

use crate::digest::Digest;
use crate::layout::{self, Blob, Image};
use crate::ImageError;

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// The media type of a docker-archive layer: an uncompressed tar.
pub const MT_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

fn format_err(path: &Path, why: impl Into<String>) -> ImageError {
    ImageError::Format {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Puts `file` (in the archive's directory `work`) under blobs/sha256/<its hash>; its blob.
fn as_blob(work: &Path, name: &str, media_type: &str, from: &Path) -> Result<Blob, ImageError> {
    let rel = name.trim_start_matches("./");
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return Err(format_err(from, format!("{name:?}: outside the archive")));
    }
    let file = work.join(rel);
    let data = std::fs::read(&file).map_err(crate::io("read", &file))?;
    let digest = Digest::of(&data);
    let blob = digest.blob_path(work);
    if !blob.exists() {
        std::fs::create_dir_all(work.join("blobs/sha256")).map_err(crate::io("create", work))?;
        std::fs::hard_link(&file, &blob).map_err(crate::io("link", &blob))?;
    }
    Ok(Blob {
        media_type: media_type.into(),
        digest,
        size: data.len() as u64,
    })
}

/// Opens the image `tag` (`name:tag` as RepoTags has it, or the tag alone; none: the only
/// image) of the archive `file`, extracted into `work` (which it then holds).
pub fn open(file: &Path, tag: Option<&str>, work: &Path) -> Result<Image, ImageError> {
    std::fs::create_dir_all(work).map_err(crate::io("create", work))?;
    crate::unpack::extract(work, file)?;
    let manifest = work.join("manifest.json");
    if !manifest.exists() {
        if work.join("oci-layout").exists() {
            return layout::open(work, tag);
        }
        return Err(format_err(
            file,
            "neither manifest.json (docker save) nor oci-layout (an OCI archive) in it",
        ));
    }
    // Docker 25 and later write both: the OCI layout names blobs by digest already.
    if work.join("oci-layout").exists() && work.join("index.json").exists() {
        if let Ok(image) = layout::open(work, tag) {
            return Ok(image);
        }
    }
    let text = std::fs::read(&manifest).map_err(crate::io("read", &manifest))?;
    let entries: Vec<Entry> = serde_json::from_slice(&text)
        .map_err(|e| format_err(&manifest, format!("not docker save's manifest.json: {e}")))?;
    let tags: Vec<String> = entries
        .iter()
        .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
        .collect();
    let chosen = match tag {
        Some(t) => entries
            .iter()
            .find(|e| {
                e.repo_tags.as_ref().is_some_and(|ts| {
                    ts.iter()
                        .any(|x| x == t || x.rsplit_once(':').is_some_and(|(_, tg)| tg == t))
                })
            })
            .ok_or_else(|| {
                format_err(
                    &manifest,
                    format!("no image tagged {t:?} (tags: {})", tags.join(", ")),
                )
            })?,
        None if entries.len() == 1 => &entries[0],
        None => {
            return Err(format_err(
                &manifest,
                format!(
                    "{} images: name one with docker-archive:FILE:TAG (tags: {})",
                    entries.len(),
                    tags.join(", ")
                ),
            ))
        }
    };
    let config = as_blob(
        work,
        &chosen.config,
        "application/vnd.docker.container.image.v1+json",
        &manifest,
    )?;
    // Older archives name the config by its hash: then it must be that.
    let stem = Path::new(&chosen.config)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.len() == 64 && stem.chars().all(|c| c.is_ascii_hexdigit()) && stem != config.digest.hex
    {
        return Err(ImageError::Digest {
            digest: format!("sha256:{stem}"),
            path: work.join(&chosen.config),
            actual: config.digest.hex,
        });
    }
    let raw: serde_json::Value = serde_json::from_slice(
        &std::fs::read(config.digest.blob_path(work)).map_err(crate::io("read", work))?,
    )
    .map_err(|e| {
        format_err(
            &work.join(&chosen.config),
            format!("not an image config: {e}"),
        )
    })?;
    let mut layers = Vec::new();
    for l in &chosen.layers {
        layers.push(as_blob(work, l, MT_DOCKER_LAYER, &manifest)?);
    }
    Ok(Image {
        dir: work.to_path_buf(),
        manifest: config.digest.clone(),
        platform: format!(
            "{}/{}",
            raw["os"].as_str().unwrap_or("linux"),
            raw["architecture"].as_str().unwrap_or("")
        ),
        config: serde_json::from_value(raw["config"].clone()).unwrap_or_default(),
        layers,
    })
}
