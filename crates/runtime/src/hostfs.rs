//! The default root filesystem, made from the host at run time: no image, no download.
//!
//! [`crate::bundle::Bundle::host`] writes a bundle whose `rootfs/` holds only empty mount points, a
//! minimal `/etc` and the symlinks of a merged-/usr host; the spec it returns bind-mounts the
//! host's `/usr`, `/bin`, `/sbin`, `/lib*` read-only, a fresh tmpfs on `/tmp` ([`TMP_SIZE`],
//! the process's working directory, so tools that write where they run work), and chosen host
//! binaries (the limitcheck binary, so the built-in workloads run inside). All those mounts are
//! made inside the container's mount namespace, so nothing is mounted on the host and nothing
//! is left when the container is gone; the bundle directory itself is removed by
//! [`crate::bundle::Bundle::remove`] (or on drop).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use crate::error::{Result, RuntimeError};
use crate::spec::{default_spec, validate, ValidSpec};

/// The host directories shared read-only with the container, as present.
pub const SHARED_DIRS: [&str; 7] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Where a bound binary appears in the container: `/opt/limitcheck/bin/<name>`, on `PATH`.
pub const BIN_DIR: &str = "/opt/limitcheck/bin";

/// The directories a container's programs are looked up in (after [`BIN_DIR`] on the host-made
/// rootfs), as runc's and docker's default `PATH`; also where lcrun looks when a spec gives no
/// `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The size of each container's `/tmp` (a tmpfs, also its working directory). Its pages are
/// charged to the container's memory cgroup as they are written.
pub const TMP_SIZE: &str = "64m";

pub(crate) fn bind_ro(dest: &str, source: &Path) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(vec![
            "rbind".to_string(),
            "ro".to_string(),
            "nosuid".to_string(),
        ])
        .build()
        .map_err(|e| RuntimeError::Init(format!("mount {dest}: {e}")))
}

/// Writes `config.json` and `rootfs/` of a host-made bundle into the existing directory `dir`
/// (what `lcrun spec --host-rootfs` does).
pub fn write_bundle(dir: &Path, args: Vec<String>, binaries: &[PathBuf]) -> Result<ValidSpec> {
    let rootfs = dir.join("rootfs");
    if rootfs.exists() {
        return Err(RuntimeError::Exists {
            id: rootfs.display().to_string(),
        });
    }
    for d in ["proc", "sys", "dev", "tmp", "etc", "root", "run"] {
        std::fs::create_dir_all(rootfs.join(d))
            .map_err(RuntimeError::io("create", &rootfs.join(d)))?;
    }
    let mut spec = default_spec();
    let mut mounts: Vec<Mount> = spec.mounts().clone().unwrap_or_default();
    for d in SHARED_DIRS {
        let host = Path::new("/").join(d);
        match std::fs::symlink_metadata(&host) {
            // Merged /usr: /bin -> usr/bin. Keep the same link inside.
            Ok(m) if m.file_type().is_symlink() => {
                let target =
                    std::fs::read_link(&host).map_err(RuntimeError::io("read link", &host))?;
                std::os::unix::fs::symlink(&target, rootfs.join(d))
                    .map_err(RuntimeError::io("symlink", &rootfs.join(d)))?;
            }
            Ok(m) if m.is_dir() => {
                std::fs::create_dir_all(rootfs.join(d))
                    .map_err(RuntimeError::io("create", &rootfs.join(d)))?;
                mounts.push(bind_ro(&format!("/{d}"), &host)?);
            }
            _ => {}
        }
    }
    mounts.push(
        MountBuilder::default()
            .destination("/tmp")
            .typ("tmpfs")
            .source("tmpfs")
            .options(vec![
                "nosuid".to_string(),
                "nodev".to_string(),
                "mode=1777".to_string(),
                format!("size={TMP_SIZE}"),
            ])
            .build()
            .map_err(|e| RuntimeError::Init(format!("mount /tmp: {e}")))?,
    );
    let bin_dir = rootfs.join(BIN_DIR.trim_start_matches('/'));
    for b in binaries {
        let abs = std::fs::canonicalize(b).map_err(RuntimeError::io("find", b))?;
        let name = abs
            .file_name()
            .ok_or_else(|| RuntimeError::Init(format!("{} names no file", b.display())))?
            .to_string_lossy()
            .into_owned();
        std::fs::create_dir_all(&bin_dir).map_err(RuntimeError::io("create", &bin_dir))?;
        std::fs::File::create(bin_dir.join(&name))
            .map_err(RuntimeError::io("create", &bin_dir.join(&name)))?;
        mounts.push(bind_ro(&format!("{BIN_DIR}/{name}"), &abs)?);
    }
    spec.set_mounts(Some(mounts));
    write_etc(&rootfs.join("etc"))?;
    spec.set_hostname(Some("limitcheck".into()));
    let mut root = spec.root().clone().unwrap_or_default();
    root.set_path(rootfs.clone());
    root.set_readonly(Some(true));
    spec.set_root(Some(root));
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(false));
        p.set_args(Some(args));
        // The working directory is the writable /tmp, so host tools that write where they run
        // (stress-ng's temp-path) work as under docker.
        p.set_cwd(PathBuf::from("/tmp"));
        p.set_env(Some(vec![
            format!("PATH={BIN_DIR}:{DEFAULT_PATH}"),
            "HOME=/root".into(),
            "TERM=xterm".into(),
        ]));
    }
    let file = dir.join("config.json");
    spec.save(&file)
        .map_err(|e| RuntimeError::Init(format!("write {}: {e}", file.display())))?;
    validate(spec, dir, file.display().to_string())
}

fn write_etc(etc: &Path) -> Result<()> {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for (name, text) in [
        ("hostname", "limitcheck\n".to_string()),
        ("hosts", "127.0.0.1\tlocalhost limitcheck\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string()),
        ("resolv.conf", resolv),
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".to_string(),
        ),
        ("group", "root:x:0:\nnogroup:x:65534:\n".to_string()),
    ] {
        let p = etc.join(name);
        std::fs::write(&p, text).map_err(RuntimeError::io("write", &p))?;
    }
    Ok(())
}
