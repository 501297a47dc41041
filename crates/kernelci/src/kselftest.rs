//! limitcheck as a kselftest target: `limitcheck pack kselftest DIR SCENARIOS...` writes DIR
//! with the kselftest files of the repository's `kselftest/limitcheck/` (a Makefile with
//! `TEST_PROGS` that includes `../lib.mk`, `settings` with the timeout, a `config` fragment of
//! the kernel options the scenarios need, the `limitcheck.sh` wrapper), this limitcheck binary
//! (without its debug info) and the scenarios. Put DIR at tools/testing/selftests/limitcheck: `make TARGETS=limitcheck
//! run_tests` or `install` and run_kselftest.sh run it as any kselftest, KTAP and all.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::{io, PackError};

/// The target's Makefile.
pub const MAKEFILE: &str = include_str!("../../../kselftest/limitcheck/Makefile");
/// Its settings (kselftest's runner reads `timeout=`).
pub const SETTINGS: &str = include_str!("../../../kselftest/limitcheck/settings");
/// The kernel config fragment the scenarios need.
pub const CONFIG: &str = include_str!("../../../kselftest/limitcheck/config");
/// The test program: runs the scenarios with `--ktap`.
pub const WRAPPER: &str = include_str!("../../../kselftest/limitcheck/limitcheck.sh");

/// The timeout `settings` gives, in seconds.
pub fn timeout_s() -> u64 {
    SETTINGS
        .lines()
        .find_map(|l| l.strip_prefix("timeout="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(45)
}

fn write(path: &Path, text: &[u8], mode: u32) -> Result<(), PackError> {
    std::fs::write(path, text).map_err(io("write", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io("set the mode of", path))
}

/// Writes the target into `dir` (created; files of an earlier pack there are replaced):
/// Makefile, settings, config, limitcheck.sh, the binary `exe` as `limitcheck`, and the
/// scenarios under `scenarios/`. Returns the files written.
pub fn write_target(
    dir: &Path,
    exe: &Path,
    scenarios: &[PathBuf],
) -> Result<Vec<PathBuf>, PackError> {
    let files = crate::scenario_files(scenarios)?;
    let sdir = dir.join("scenarios");
    if sdir.exists() {
        std::fs::remove_dir_all(&sdir).map_err(io("replace", &sdir))?;
    }
    std::fs::create_dir_all(&sdir).map_err(io("create", &sdir))?;
    let mut written = Vec::new();
    for (name, text, mode) in [
        ("Makefile", MAKEFILE, 0o644),
        ("settings", SETTINGS, 0o644),
        ("config", CONFIG, 0o644),
        ("limitcheck.sh", WRAPPER, 0o755),
    ] {
        let p = dir.join(name);
        write(&p, text.as_bytes(), mode)?;
        written.push(p);
    }
    let bin = dir.join("limitcheck");
    let _ = std::fs::remove_file(&bin);
    limitcheck_vm::copy_stripped(exe, &bin).map_err(io("copy the limitcheck binary to", &bin))?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
        .map_err(io("set the mode of", &bin))?;
    written.push(bin);
    for (src, name) in files {
        let p = sdir.join(name);
        std::fs::copy(&src, &p).map_err(io("copy a scenario to", &p))?;
        written.push(p);
    }
    Ok(written)
}
