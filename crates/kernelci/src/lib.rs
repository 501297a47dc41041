//! What kernel CI systems take from limitcheck, so that it runs where kernels are gated on
//! many machines: a kselftest target ([`kselftest`], for tools/testing/selftests and
//! run_kselftest.sh), a rootfs overlay tarball (`tuxrun --overlay`, LAVA's `overlays:`) with
//! the binary, the scenarios and a LAVA test definition ([`overlay`], [`lava`]), and the
//! `lava-test-case` lines that report each result with its measurement ([`lava::cases`]).
//! KTAP and KCIDB output are report formats (limitcheck-report).

#![deny(missing_docs)]

pub mod kselftest;
pub mod lava;
pub mod overlay;

use std::path::{Path, PathBuf};

/// What went wrong packing.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
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
    /// The scenarios given are broken or clash.
    #[error("{0}")]
    Scenarios(String),
}

pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PackError {
    let path = path.to_path_buf();
    move |source| PackError::Io { what, path, source }
}

/// The scenario files `paths` name (directories expanded), every one valid, with the file
/// name each gets in the package; two files of one name are refused.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, PackError> {
    let files = limitcheck_scenario::suite::collect(paths)
        .map_err(|e| PackError::Scenarios(e.to_string()))?;
    if files.is_empty() {
        return Err(PackError::Scenarios(
            "no scenario files: give .toml files or directories holding them".into(),
        ));
    }
    let problems = limitcheck_scenario::suite::validate(&files);
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(PackError::Scenarios(text.join("\n")));
    }
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some((other, _)) = out.iter().find(|(_, n)| *n == name) {
            return Err(PackError::Scenarios(format!(
                "{} and {} are both {name}: the package holds one directory of scenarios; \
                 rename one",
                other.display(),
                f.display()
            )));
        }
        out.push((f, name));
    }
    Ok(out)
}
