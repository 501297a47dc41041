//! The seam between container setup logic and the kernel: the real system calls, and a
//! recording fake so the mount plan can be unit-tested without root. The real thing is proven
//! by the root integration tests.

use std::cell::RefCell;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

use crate::error::{Result, RuntimeError};

/// The system calls container setup makes.
pub trait Syscall {
    /// mount(2).
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()>;
    /// umount2(2).
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<()>;
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<()>;
    /// chdir(2).
    fn chdir(&self, path: &Path) -> Result<()>;
    /// chroot(2).
    fn chroot(&self, path: &Path) -> Result<()>;
    /// mknod(2).
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> Result<()>;
    /// symlink(2).
    fn symlink(&self, target: &Path, link: &Path) -> Result<()>;
    /// sethostname(2).
    fn sethostname(&self, name: &str) -> Result<()>;
    /// mkdir -p.
    fn mkdir_all(&self, path: &Path) -> Result<()>;
    /// Creates an empty file (a mount point for a file bind mount) if missing.
    fn touch(&self, path: &Path) -> Result<()>;
}

/// The kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSyscall;

fn show(p: Option<&Path>) -> String {
    p.map(|p| p.display().to_string())
        .unwrap_or_else(|| "none".into())
}

impl Syscall for RealSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        nix::mount::mount(source, target, fstype, flags, data).map_err(RuntimeError::sys(format!(
            "mount {} on {} (type {}, flags {flags:?}, data {data:?})",
            show(source),
            target.display(),
            fstype.unwrap_or("none")
        )))
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<()> {
        nix::mount::umount2(target, flags)
            .map_err(RuntimeError::sys(format!("umount {}", target.display())))
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<()> {
        nix::unistd::pivot_root(new_root, put_old).map_err(RuntimeError::sys(format!(
            "pivot_root {}",
            new_root.display()
        )))
    }

    fn chdir(&self, path: &Path) -> Result<()> {
        nix::unistd::chdir(path).map_err(RuntimeError::sys(format!("chdir {}", path.display())))
    }

    fn chroot(&self, path: &Path) -> Result<()> {
        nix::unistd::chroot(path).map_err(RuntimeError::sys(format!("chroot {}", path.display())))
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> Result<()> {
        nix::sys::stat::mknod(path, kind, perm, dev)
            .map_err(RuntimeError::sys(format!("mknod {}", path.display())))
    }

    fn symlink(&self, target: &Path, link: &Path) -> Result<()> {
        std::os::unix::fs::symlink(target, link).map_err(RuntimeError::io("symlink", link))
    }

    fn sethostname(&self, name: &str) -> Result<()> {
        nix::unistd::sethostname(name).map_err(RuntimeError::sys(format!("sethostname {name}")))
    }

    fn mkdir_all(&self, path: &Path) -> Result<()> {
        std::fs::create_dir_all(path).map_err(RuntimeError::io("create directory", path))
    }

    fn touch(&self, path: &Path) -> Result<()> {
        if path.exists() {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            self.mkdir_all(parent)?;
        }
        std::fs::File::create(path)
            .map(drop)
            .map_err(RuntimeError::io("create", path))
    }
}

/// Records each call as one line of text instead of making it (directories and files are made,
/// in the test's temporary tree, so that path resolution still works).
#[derive(Debug, Default)]
pub struct RecordingSyscall {
    /// The calls, in order.
    pub calls: RefCell<Vec<String>>,
}

impl RecordingSyscall {
    fn record(&self, line: String) -> Result<()> {
        self.calls.borrow_mut().push(line);
        Ok(())
    }
}

impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<()> {
        self.record(format!(
            "mount {} {} {} {:?} {}",
            show(source),
            target.display(),
            fstype.unwrap_or("none"),
            flags,
            data.unwrap_or("")
        ))
    }
    fn umount2(&self, target: &Path, _: MntFlags) -> Result<()> {
        self.record(format!("umount {}", target.display()))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<()> {
        self.record(format!(
            "pivot_root {} {}",
            new_root.display(),
            put_old.display()
        ))
    }
    fn chdir(&self, path: &Path) -> Result<()> {
        self.record(format!("chdir {}", path.display()))
    }
    fn chroot(&self, path: &Path) -> Result<()> {
        self.record(format!("chroot {}", path.display()))
    }
    fn mknod(&self, path: &Path, _: SFlag, perm: Mode, dev: u64) -> Result<()> {
        self.record(format!(
            "mknod {} {:o} {}:{}",
            path.display(),
            perm.bits(),
            nix::sys::stat::major(dev),
            nix::sys::stat::minor(dev)
        ))
    }
    fn symlink(&self, target: &Path, link: &Path) -> Result<()> {
        self.record(format!("symlink {} {}", target.display(), link.display()))
    }
    fn sethostname(&self, name: &str) -> Result<()> {
        self.record(format!("sethostname {name}"))
    }
    fn mkdir_all(&self, path: &Path) -> Result<()> {
        RealSyscall.mkdir_all(path)
    }
    fn touch(&self, path: &Path) -> Result<()> {
        RealSyscall.touch(path)
    }
}
