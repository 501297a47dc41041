//! A rootfs overlay: a gzipped tarball extracted at the rootfs's `/` (`tuxrun --overlay
//! FILE`, a LAVA job's `overlays:`), holding `opt/limitcheck/` — `bin/limitcheck` (this
//! binary, without its debug info), `run.sh` and `lava/limitcheck.yaml` ([`crate::lava`]), the `scenarios/` — so that
//! `tuxrun --device qemu-x86_64 --kernel bzImage --overlay limitcheck.tar.gz --
//! /opt/limitcheck/run.sh /tmp/lc` runs them on that kernel.
//!
//! The binary is this one: dynamically linked against the glibc it was built with (Debian
//! 12's 2.36 here), so the rootfs needs that glibc or newer (Debian 12 and later, or a
//! rootfs of the same distribution); busybox-only rootfses lack it. Every entry is owned by
//! root with a fixed time, so the same inputs give the same tarball.

use std::path::{Path, PathBuf};

use crate::{io, PackError};

/// Where the overlay puts limitcheck in the rootfs.
pub const PREFIX: &str = "opt/limitcheck";

/// The entries' modification time: 2026-01-01 (any fixed time; tar needs one).
const MTIME: u64 = 1_767_225_600;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(size);
    h
}

/// Writes the overlay to `file`: `exe` as opt/limitcheck/bin/limitcheck, the run script and
/// the LAVA definition, the scenarios under opt/limitcheck/scenarios/. Returns the entries'
/// names, in order.
pub fn write(file: &Path, exe: &Path, scenarios: &[PathBuf]) -> Result<Vec<String>, PackError> {
    let files = crate::scenario_files(scenarios)?;
    let out = std::fs::File::create(file).map_err(io("create", file))?;
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut names = Vec::new();
    let mut add = |tar: &mut tar::Builder<_>, name: String, mode: u32, data: &[u8]| {
        let kind = if data.is_empty() && name.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        };
        let mut h = header(kind, mode, data.len() as u64);
        tar.append_data(&mut h, &name, data)
            .map_err(io("write", file))?;
        names.push(name);
        Ok::<(), PackError>(())
    };
    for d in [
        "opt/",
        "opt/limitcheck/",
        "opt/limitcheck/bin/",
        "opt/limitcheck/lava/",
    ] {
        add(&mut tar, d.into(), 0o755, &[])?;
    }
    let stripped = file.with_extension("limitcheck.tmp");
    limitcheck_vm::copy_stripped(exe, &stripped).map_err(io("copy", exe))?;
    let bin = std::fs::read(&stripped).map_err(io("read", &stripped));
    let _ = std::fs::remove_file(&stripped);
    let bin = bin?;
    add(&mut tar, format!("{PREFIX}/bin/limitcheck"), 0o755, &bin)?;
    add(
        &mut tar,
        format!("{PREFIX}/run.sh"),
        0o755,
        crate::lava::RUN_SCRIPT.as_bytes(),
    )?;
    add(
        &mut tar,
        format!("{PREFIX}/lava/limitcheck.yaml"),
        0o644,
        crate::lava::DEFINITION.as_bytes(),
    )?;
    add(&mut tar, format!("{PREFIX}/scenarios/"), 0o755, &[])?;
    for (src, name) in files {
        let data = std::fs::read(&src).map_err(io("read", &src))?;
        add(&mut tar, format!("{PREFIX}/scenarios/{name}"), 0o644, &data)?;
    }
    let gz = tar.into_inner().map_err(io("write", file))?;
    gz.finish().map_err(io("write", file))?;
    Ok(names)
}
