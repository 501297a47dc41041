//! `limitcheck image`: make an image from host programs; look at one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use limitcheck_image::layout::RunConfig;

use crate::cli::{ImageAction, ImageArgs, EXIT_OK};

/// A program named on the command line: a path as given, else the first on `PATH`.
fn find(program: &str) -> anyhow::Result<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        anyhow::ensure!(p.is_file(), "{program}: no such file");
        return Ok(p);
    }
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| limitcheck_runtime::hostfs::DEFAULT_PATH.to_string());
    path.split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .with_context(|| format!("{program}: not found on PATH ({path}); give its path"))
}

/// Runs `limitcheck image`.
pub fn run(a: &ImageArgs) -> anyhow::Result<ExitCode> {
    match &a.action {
        ImageAction::FromHost {
            out,
            programs,
            tag,
            entrypoint,
            cmd,
        } => {
            let found = programs
                .iter()
                .map(|p| find(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let config = RunConfig {
                env: Some(vec![format!(
                    "PATH={}",
                    limitcheck_runtime::hostfs::DEFAULT_PATH
                )]),
                entrypoint: (!entrypoint.is_empty()).then(|| entrypoint.clone()),
                cmd: (!cmd.is_empty()).then(|| cmd.clone()),
                working_dir: Some("/tmp".into()),
                user: None,
            };
            let digest = limitcheck_image::build::from_host(out, tag, &found, &config)
                .with_context(|| format!("cannot write the image {}", out.display()))?;
            println!(
                "wrote oci:{}:{tag} ({digest}): {}",
                out.display(),
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        ImageAction::Inspect { source } => {
            let src = limitcheck_image::Source::parse(source, Path::new("."))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let work = tempfile_dir()?;
            let image = src.open(&work);
            let _ = std::fs::remove_dir_all(&work);
            let image = image.with_context(|| format!("image {src}"))?;
            for l in &image.layers {
                let path = l.digest.blob_path(&image.dir);
                // An archive's blobs went with its work directory; a layout's are read again.
                if path.exists() {
                    limitcheck_image::digest::read_verified(&path, &l.digest)?;
                }
            }
            println!("image     {src}");
            println!("manifest  {}", image.manifest);
            println!("platform  {}", image.platform);
            let c = &image.config;
            let show =
                |v: &Option<Vec<String>>| v.as_ref().map_or("-".to_string(), |v| format!("{v:?}"));
            println!("entrypoint {}", show(&c.entrypoint));
            println!("cmd       {}", show(&c.cmd));
            println!("env       {}", show(&c.env));
            println!("workdir   {}", c.working_dir.as_deref().unwrap_or("-"));
            println!("user      {}", c.user.as_deref().unwrap_or("-"));
            for (i, l) in image.layers.iter().enumerate() {
                println!("layer {i}   {} {} bytes {}", l.digest, l.size, l.media_type);
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// A fresh work directory for an archive's blobs, removed by the caller.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("limitcheck-image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok(d)
}
