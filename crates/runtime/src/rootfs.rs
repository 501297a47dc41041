//! The container's filesystem: the spec's mounts, `/dev`, `pivot_root`, read-only and masked
//! paths. Runs in the container's init, in its new mount namespace, through a [`Syscall`].

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use limitcheck_cgroup::{Layout, Mode, Version};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{makedev, Mode as FileMode, SFlag};
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};

use crate::error::{Result, RuntimeError};
use crate::syscall::Syscall;

/// A mount's options split into mount flags, propagation flags and filesystem data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Propagation to apply after mounting (`MS_SHARED`, `MS_SLAVE`, ... with `MS_REC`).
    pub propagation: MsFlags,
    /// Everything else, joined with commas, for the filesystem (`mode=755,size=65536k`).
    pub data: String,
    /// `bind` or `rbind`.
    pub bind: bool,
}

/// Parses OCI mount options (fstab words) the way runc does.
pub fn parse_mount_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: String::new(),
        bind: false,
    };
    let mut data = Vec::new();
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "bind" => {
                o.bind = true;
                (MsFlags::MS_BIND, MsFlags::empty())
            }
            "rbind" => {
                o.bind = true;
                (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty())
            }
            p => {
                let prop = match p {
                    "private" => Some(MsFlags::MS_PRIVATE),
                    "rprivate" => Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
                    "shared" => Some(MsFlags::MS_SHARED),
                    "rshared" => Some(MsFlags::MS_SHARED | MsFlags::MS_REC),
                    "slave" => Some(MsFlags::MS_SLAVE),
                    "rslave" => Some(MsFlags::MS_SLAVE | MsFlags::MS_REC),
                    "unbindable" => Some(MsFlags::MS_UNBINDABLE),
                    "runbindable" => Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
                    _ => None,
                };
                match prop {
                    Some(f) => o.propagation |= f,
                    None => data.push(p.to_string()),
                }
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
    }
    o.data = data.join(",");
    o
}

/// Joins `path` under `root`, resolving symlinks as if `root` were `/`, so that no component
/// can lead outside `root` (an image's `/etc -> ../../host` stays inside).
pub fn secure_join(root: &Path, path: &Path) -> Result<PathBuf> {
    fn parts(p: &Path) -> VecDeque<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect()
    }
    let mut resolved = PathBuf::new();
    let mut todo = parts(path);
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&c);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(RuntimeError::Sys {
                        op: format!("resolve {} in {}", path.display(), root.display()),
                        errno: nix::errno::Errno::ELOOP,
                    });
                }
                let target =
                    std::fs::read_link(&full).map_err(RuntimeError::io("read link", &full))?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                let mut next = parts(&target);
                next.extend(todo);
                todo = next;
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

/// What rootfs setup needs to know beyond the spec.
#[derive(Debug, Clone)]
pub struct MountContext {
    /// The host's cgroup layout (for the `cgroup` mount).
    pub layout: Option<Layout>,
    /// Whether the container has its own cgroup namespace (then the cgroup filesystems are
    /// mounted fresh and show the container's cgroup as their root).
    pub cgroup_ns: bool,
    /// The container's cgroup path below each hierarchy's root (bound when there is no cgroup
    /// namespace).
    pub cgroup_rel: PathBuf,
    /// Whether mknod is allowed (not in a user namespace): otherwise device nodes are bound from
    /// the host.
    pub can_mknod: bool,
}

/// Prepares everything under `rootfs` before `pivot_root`.
///
/// With a cgroup namespace of its own, what a cgroup mount shows depends on the init's cgroup
/// when it unshares the namespace: `in_cgroup` (which waits for the runtime's move and
/// unshares it) is called before the first cgroup mount. When `defer` and nothing but cgroup
/// mounts follows the first one, those are not mounted here but returned, for
/// [`mount_deferred`] once the root is entered — so that the init sets up all the rest while
/// the runtime's move into the cgroup waits (see `Container::create`). Without a cgroup
/// namespace a cgroup mount binds the container's own directories, whatever the init's cgroup.
pub fn prepare(
    sys: &dyn Syscall,
    spec: &Spec,
    rootfs: &Path,
    ctx: &MountContext,
    in_cgroup: &mut dyn FnMut() -> Result<()>,
    defer: bool,
) -> Result<Vec<Mount>> {
    let linux = spec.linux().as_ref();
    // Nothing we mount may propagate back to the host: every mount of the new namespace becomes
    // a slave (or private) first. The spec's rootfsPropagation is applied to the new root after
    // the pivot (see `finish`), as runc does: applied here, `shared` would keep the rootfs's
    // parent a peer of the host's (pivot_root refuses that, EINVAL) and `unbindable` would
    // refuse the rootfs's own bind mount below.
    let before = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        Some(p) if root_propagation(p)?.contains(MsFlags::MS_PRIVATE) => MsFlags::MS_PRIVATE,
        Some(p) if root_propagation(p)?.contains(MsFlags::MS_UNBINDABLE) => MsFlags::MS_PRIVATE,
        _ => MsFlags::MS_SLAVE,
    };
    sys.mount(None, Path::new("/"), None, before | MsFlags::MS_REC, None)?;
    sys.mount(
        Some(rootfs),
        rootfs,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let is_cgroup = |m: &Mount| matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2"));
    let mounts: Vec<&Mount> = spec.mounts().iter().flatten().collect();
    let first = mounts.iter().position(|m| is_cgroup(m));
    let deferred = match first {
        Some(i) if defer && ctx.cgroup_ns && mounts[i..].iter().all(|m| is_cgroup(m)) => {
            mounts[i..].iter().map(|m| (*m).clone()).collect()
        }
        _ => Vec::new(),
    };
    let mut dev_is_tmpfs = false;
    for m in &mounts[..mounts.len() - deferred.len()] {
        let dest = secure_join(rootfs, m.destination())?;
        if m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs") {
            dev_is_tmpfs = true;
        }
        if is_cgroup(m) && ctx.cgroup_ns {
            in_cgroup()?;
        }
        mount_one(sys, m, &dest, rootfs, ctx)?;
    }
    if dev_is_tmpfs {
        populate_dev(sys, spec, rootfs, ctx)?;
    }
    Ok(deferred)
}

/// Mounts what [`prepare`] deferred (fresh cgroup mounts of the container's cgroup namespace)
/// under the root now entered.
pub fn mount_deferred(sys: &dyn Syscall, mounts: &[Mount], ctx: &MountContext) -> Result<()> {
    for m in mounts {
        let dest = secure_join(Path::new("/"), m.destination())?;
        mount_one(sys, m, &dest, Path::new("/"), ctx)?;
    }
    Ok(())
}

/// The propagation flags of `linux.rootfsPropagation` (`r`-prefixed: recursive).
fn root_propagation(p: &str) -> Result<MsFlags> {
    let rec = MsFlags::MS_REC;
    Ok(match p {
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        other => {
            return Err(RuntimeError::Spec {
                file: "config.json".into(),
                field: "linux.rootfsPropagation".into(),
                reason: format!("{other:?} is not one of shared, slave, private, unbindable (optionally r-prefixed)"),
            })
        }
    })
}

fn mount_one(
    sys: &dyn Syscall,
    m: &Mount,
    dest: &Path,
    rootfs: &Path,
    ctx: &MountContext,
) -> Result<()> {
    let opts = parse_mount_options(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("none");
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    if opts.bind || typ == "bind" {
        let source = m.source().as_deref().ok_or_else(|| RuntimeError::Spec {
            file: "config.json".into(),
            field: format!("mounts[{}].source", m.destination().display()),
            reason: "a bind mount needs a source".into(),
        })?;
        if source.is_dir() {
            sys.mkdir_all(dest)?;
        } else {
            sys.touch(dest)?;
        }
        let rec = opts.flags & MsFlags::MS_REC;
        sys.mount(Some(source), dest, None, MsFlags::MS_BIND | rec, None)?;
        let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            sys.mount(
                None,
                dest,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
                None,
            )?;
        }
    } else if typ == "cgroup" || typ == "cgroup2" {
        mount_cgroup(sys, dest, opts.flags, ctx)?;
    } else {
        sys.mkdir_all(dest)?;
        let source = m.source().as_deref().unwrap_or(Path::new(typ));
        let r = sys.mount(Some(source), dest, Some(typ), opts.flags, data);
        match r {
            // sysfs cannot be mounted without a network namespace of our own in some setups:
            // bind the host's, read-only, as runc does.
            Err(e) if typ == "sysfs" && e.errno() == Some(nix::errno::Errno::EPERM) => {
                sys.mount(
                    Some(Path::new("/sys")),
                    dest,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )?;
                sys.mount(
                    None,
                    dest,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | opts.flags,
                    None,
                )?;
            }
            r => r?,
        }
    }
    if !opts.propagation.is_empty() {
        sys.mount(None, dest, None, opts.propagation, None)?;
    }
    let _ = rootfs;
    Ok(())
}

/// Mounts the cgroup filesystems read-only as the container should see them.
fn mount_cgroup(sys: &dyn Syscall, dest: &Path, flags: MsFlags, ctx: &MountContext) -> Result<()> {
    let Some(layout) = &ctx.layout else {
        return Ok(());
    };
    sys.mkdir_all(dest)?;
    if layout.mode == Mode::V2 {
        let u = layout.unified().expect("v2 layout has a unified hierarchy");
        return if ctx.cgroup_ns {
            sys.mount(
                Some(Path::new("cgroup2")),
                dest,
                Some("cgroup2"),
                flags,
                None,
            )
        } else {
            bind_ro(sys, &u.mount_point.join(&ctx.cgroup_rel), dest, flags)
        };
    }
    // v1 and hybrid: a tmpfs with one directory per hierarchy, like the host's /sys/fs/cgroup.
    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys.mount(
        Some(Path::new("tmpfs")),
        dest,
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )?;
    for h in &layout.hierarchies {
        let Some(base) = h.mount_point.file_name() else {
            continue;
        };
        let sub = dest.join(base);
        sys.mkdir_all(&sub)?;
        let r = match (h.version, ctx.cgroup_ns) {
            (Version::V2, true) => sys.mount(
                Some(Path::new("cgroup2")),
                &sub,
                Some("cgroup2"),
                flags,
                None,
            ),
            (Version::V1, true) => {
                let mut opts: Vec<String> = h
                    .controllers
                    .iter()
                    .map(|c| c.v1_name().to_string())
                    .chain(h.other_controllers.iter().cloned())
                    .collect();
                if let Some(n) = &h.name {
                    opts.push("none".into());
                    opts.push(format!("name={n}"));
                }
                sys.mount(
                    Some(Path::new("cgroup")),
                    &sub,
                    Some("cgroup"),
                    flags,
                    Some(&opts.join(",")),
                )
            }
            (_, false) => bind_ro(sys, &h.mount_point.join(&ctx.cgroup_rel), &sub, flags),
        };
        // A hierarchy the container has no directory in (named ones) stays an empty directory.
        if let Err(e) = r {
            if !matches!(e.errno(), Some(nix::errno::Errno::ENOENT)) {
                return Err(e);
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        sys.mount(
            Some(Path::new("tmpfs")),
            dest,
            Some("tmpfs"),
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tmpfs_flags,
            Some("mode=755"),
        )?;
    }
    Ok(())
}

/// The flags a remount must keep: in a user namespace the kernel locks a mount's nosuid,
/// nodev, noexec and atime flags, and a remount that drops them fails with EPERM.
pub fn locked_flags(path: &Path) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

fn bind_ro(sys: &dyn Syscall, source: &Path, dest: &Path, flags: MsFlags) -> Result<()> {
    if !source.exists() {
        return Err(RuntimeError::Sys {
            op: format!("bind {}", source.display()),
            errno: nix::errno::Errno::ENOENT,
        });
    }
    sys.mount(Some(source), dest, None, MsFlags::MS_BIND, None)?;
    sys.mount(
        None,
        dest,
        None,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | (flags & !MsFlags::MS_RDONLY)
            | locked_flags(dest),
        None,
    )
}

/// The device nodes every container gets (runc's list).
pub const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("tty", 5, 0),
    ("random", 1, 8),
    ("urandom", 1, 9),
];

fn populate_dev(sys: &dyn Syscall, spec: &Spec, rootfs: &Path, ctx: &MountContext) -> Result<()> {
    let dev = rootfs.join("dev");
    let mut nodes: Vec<(PathBuf, SFlag, u64, u64, u32)> = DEFAULT_DEVICES
        .iter()
        .map(|(n, ma, mi)| (dev.join(n), SFlag::S_IFCHR, *ma, *mi, 0o666))
        .collect();
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let kind = match d.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        };
        let path = secure_join(rootfs, d.path())?;
        nodes.retain(|n| n.0 != path);
        nodes.push((
            path,
            kind,
            d.major() as u64,
            d.minor() as u64,
            d.file_mode().unwrap_or(0o666),
        ));
    }
    for (path, kind, major, minor, mode) in nodes {
        if let Some(parent) = path.parent() {
            sys.mkdir_all(parent)?;
        }
        let r = if ctx.can_mknod {
            sys.mknod(
                &path,
                kind,
                FileMode::from_bits_truncate(mode),
                makedev(major, minor),
            )
        } else {
            Err(RuntimeError::Sys {
                op: "mknod".into(),
                errno: nix::errno::Errno::EPERM,
            })
        };
        if r.is_err() {
            // In a user namespace mknod is refused: bind the host's node instead.
            let host = Path::new("/dev").join(path.strip_prefix(&dev).unwrap_or(&path));
            sys.touch(&path)?;
            sys.mount(Some(&host), &path, None, MsFlags::MS_BIND, None)?;
        }
    }
    for (target, link) in [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ] {
        let l = dev.join(link);
        if std::fs::symlink_metadata(&l).is_err() {
            sys.symlink(Path::new(target), &l)?;
        }
    }
    sys.mkdir_all(&dev.join("shm"))?;
    Ok(())
}

/// Makes `rootfs` the root: `pivot_root(".", ".")` and a lazy unmount of the old root, as runc
/// does, so no directory for the old root is needed inside the image.
pub fn pivot(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    sys.chdir(rootfs)?;
    sys.pivot_root(Path::new("."), Path::new("."))?;
    // The old root is stacked on "."; make it a slave so the unmount stays here.
    sys.mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    sys.umount2(Path::new("."), MntFlags::MNT_DETACH)?;
    sys.chdir(Path::new("/"))
}

/// After `pivot_root`: read-only and masked paths, the read-only root, root propagation.
pub fn finish(sys: &dyn Syscall, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        let p = Path::new(p);
        if !p.exists() {
            continue;
        }
        sys.mount(Some(p), p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
        sys.mount(
            Some(p),
            p,
            None,
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC
                | MsFlags::MS_REC
                | locked_flags(p),
            None,
        )?;
    }
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        let p = Path::new(p);
        match std::fs::metadata(p) {
            Err(_) => continue,
            Ok(m) if m.is_dir() => sys.mount(
                Some(Path::new("tmpfs")),
                p,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )?,
            Ok(_) => sys.mount(
                Some(Path::new("/dev/null")),
                p,
                None,
                MsFlags::MS_BIND,
                None,
            )?,
        }
    }
    if spec
        .root()
        .as_ref()
        .is_some_and(|r| r.readonly() == Some(true))
    {
        sys.mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | locked_flags(Path::new("/")),
            None,
        )?;
    }
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        sys.mount(None, Path::new("/"), None, root_propagation(p)?, None)?;
    }
    Ok(())
}

/// Enters `rootfs` with chroot(2), as runc does, for a container without a mount namespace of
/// its own: `pivot_root` there would move the root of every process in the caller's
/// namespace. Nothing is mounted (the config was refused if it asked for a mount; see
/// [`crate::isolation`]); this refuses again, so no caller of the library can get around it.
pub fn enter_by_chroot(sys: &dyn Syscall, spec: &Spec, rootfs: &Path) -> Result<()> {
    crate::isolation::check_no_mounts(spec, "config.json")?;
    chroot_into(sys, rootfs)
}

/// Makes `rootfs` this process's root with chroot(2) (no `pivot_root`: other processes of the
/// mount namespace keep theirs), and its working directory `/`.
pub fn chroot_into(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    sys.chdir(rootfs)?;
    sys.chroot(Path::new("."))?;
    sys.chdir(Path::new("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::RecordingSyscall;

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_mount_options(
            &[
                "nosuid",
                "strictatime",
                "mode=755",
                "size=65536k",
                "rslave",
                "ro",
            ]
            .map(String::from),
        );
        assert!(o
            .flags
            .contains(MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
        let b = parse_mount_options(&["rbind", "ro", "rw"].map(String::from));
        assert!(
            b.bind && b.flags.contains(MsFlags::MS_REC) && !b.flags.contains(MsFlags::MS_RDONLY)
        );
    }

    #[test]
    fn secure_join_keeps_symlinks_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("abs")).unwrap();
        assert_eq!(
            secure_join(root, Path::new("/escape/passwd")).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            secure_join(root, Path::new("/abs/x")).unwrap(),
            root.join("real/x")
        );
        assert_eq!(
            secure_join(root, Path::new("/../../x")).unwrap(),
            root.join("x")
        );
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(secure_join(root, Path::new("/loop")).is_err());
    }

    #[test]
    fn default_spec_mount_plan() {
        let t = tempfile::tempdir().unwrap();
        let rootfs = t.path().join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        let sys = RecordingSyscall::default();
        let spec = Spec::default();
        let ctx = MountContext {
            layout: None,
            cgroup_ns: true,
            cgroup_rel: "limitcheck/x".into(),
            can_mknod: true,
        };
        prepare(&sys, &spec, &rootfs, &ctx, &mut || Ok(()), false).unwrap();
        pivot(&sys, &rootfs).unwrap();
        let calls = sys.calls.borrow();
        let r = rootfs.display();
        let has = |s: &str| calls.iter().any(|c| c.starts_with(s));
        assert!(
            calls[0].starts_with("mount none / none MsFlags(MS_REC | MS_SLAVE)"),
            "{calls:#?}"
        );
        assert!(has(&format!("mount proc {r}/proc proc")), "{calls:#?}");
        assert!(has(&format!("mount tmpfs {r}/dev tmpfs")), "{calls:#?}");
        assert!(
            has(&format!("mount devpts {r}/dev/pts devpts")),
            "{calls:#?}"
        );
        assert!(has(&format!("mknod {r}/dev/null 666 1:3")), "{calls:#?}");
        assert!(
            has(&format!("symlink /proc/self/fd {r}/dev/fd")),
            "{calls:#?}"
        );
        assert!(has("pivot_root . ."), "{calls:#?}");
        assert_eq!(calls.last().unwrap(), "chdir /");
    }
}
