//! The guest's initramfs, built by limitcheck from the host: busybox-static, the limitcheck
//! binary with the shared libraries it loads (found with `ldd`, copied with every symlink on the
//! way, so a merged-/usr host looks the same inside), the scenarios, and an `/init`.
//!
//! Nothing is downloaded and no kernel module is needed: the guest talks to the host through
//! the second serial port and the isa-debug-exit port, both built into every x86 kernel config
//! that matters (8250 serial, /dev/port).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use crate::cpio::CpioWriter;

/// Where the limitcheck binary goes in the guest (the runtime's bound-binary directory, so the
/// containers see it at the same path).
pub const GUEST_EXE: &str = "/opt/limitcheck/bin/limitcheck";
/// Where busybox goes.
pub const GUEST_BUSYBOX: &str = "/bin/busybox";
/// The guest's instructions (JSON, [`crate::guest::GuestConfig`]).
pub const GUEST_CONFIG: &str = "/limitcheck/guest.json";
/// The `--guest-setup` script in the guest.
pub const GUEST_SETUP: &str = "/limitcheck/setup.sh";
/// The directory of the scenario files in the guest.
pub const GUEST_SCENARIOS: &str = "/limitcheck/scenarios";

/// An initramfs being written.
pub struct Initramfs {
    w: CpioWriter<BufWriter<File>>,
    links: BTreeMap<String, String>,
    path: PathBuf,
}

use limitcheck_image::build::normalize;

fn rel(p: &Path) -> String {
    p.to_string_lossy().trim_start_matches('/').to_string()
}

pub use limitcheck_image::build::{is_static_elf, shared_libraries};

impl Initramfs {
    /// Starts an archive at `path` with the directories every guest needs and `/dev/console`.
    pub fn create(path: &Path) -> io::Result<Initramfs> {
        let f = File::create(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
        })?;
        let mut me = Initramfs {
            w: CpioWriter::new(BufWriter::new(f)),
            links: BTreeMap::new(),
            path: path.to_path_buf(),
        };
        // The host's top-level symlinks (merged /usr) first, so files land where the host has
        // them and the runtime's host-made rootfs finds the same layout.
        for d in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let p = Path::new("/").join(d);
            if let Ok(t) = std::fs::read_link(&p) {
                me.add_symlink(d, &t.to_string_lossy())?;
            }
        }
        for d in [
            "dev", "proc", "sys", "run", "tmp", "etc", "root", "mnt", "bin", "usr/bin",
        ] {
            me.add_dir(d)?;
        }
        me.w.chardev("dev/console", 5, 1)?;
        me.add_file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
        me.add_file("etc/group", 0o644, b"root:x:0:\n")?;
        Ok(me)
    }

    /// `name` with the symlinks added so far resolved (so `bin/x` lands in `usr/bin/x` when
    /// `bin` links there).
    fn resolve(&self, name: &str) -> String {
        let mut out = PathBuf::from("/");
        for part in name.split('/').filter(|p| !p.is_empty()) {
            let next = out.join(part);
            out = match self.links.get(&rel(&next)) {
                Some(t) if t.starts_with('/') => normalize(Path::new(t)),
                Some(t) => normalize(&out.join(t)),
                None => next,
            };
        }
        rel(&out)
    }

    /// Adds a directory and its parents.
    pub fn add_dir(&mut self, name: &str) -> io::Result<()> {
        let r = self.resolve(name);
        self.w.dirs(&r)
    }

    /// Adds a regular file (parents made).
    pub fn add_file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        let r = self.resolve(name);
        if let Some((parent, _)) = r.rsplit_once('/') {
            self.w.dirs(parent)?;
        }
        if self.w.contains(&r) {
            return Ok(());
        }
        self.w.file(&r, perm, data)
    }

    /// Adds a symlink.
    pub fn add_symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        let name = name.trim_start_matches('/');
        if let Some((parent, _)) = name.rsplit_once('/') {
            let p = self.resolve(parent);
            self.w.dirs(&p)?;
        }
        if self.w.contains(name) {
            return Ok(());
        }
        self.links.insert(name.to_string(), target.to_string());
        self.w.symlink(name, target)
    }

    /// Copies the host file at `path` to the same path inside, reproducing every symlink met
    /// on the way (`/lib64/ld-linux-x86-64.so.2` on Debian crosses two).
    pub fn add_host_path(&mut self, path: &Path) -> io::Result<()> {
        limitcheck_image::build::copy_host_path(self, path)
    }

    /// Copies the host executable `exe` to `dest` inside, with every shared library it loads.
    pub fn add_executable(&mut self, exe: &Path, dest: &str) -> io::Result<()> {
        limitcheck_image::build::copy_host_program(self, exe, dest)
    }

    /// Adds busybox (which must be statically linked: Debian's busybox-static) at
    /// [`GUEST_BUSYBOX`].
    pub fn add_busybox(&mut self, busybox: &Path) -> io::Result<()> {
        if !is_static_elf(busybox)? {
            return Err(io::Error::other(format!(
                "{} is dynamically linked; the guest needs busybox-static (apt-get install busybox-static)",
                busybox.display()
            )));
        }
        let data = std::fs::read(busybox)?;
        self.add_file(GUEST_BUSYBOX, 0o755, &data)?;
        self.add_symlink("bin/sh", "busybox")
    }

    /// Writes the trailer; returns the archive's path.
    pub fn finish(self) -> io::Result<PathBuf> {
        self.w.finish()?;
        Ok(self.path)
    }
}

impl limitcheck_image::build::Tree for Initramfs {
    fn put_dir(&mut self, name: &str, _mode: u32) -> io::Result<()> {
        self.add_dir(name)
    }
    fn put_file(&mut self, name: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.add_file(name, mode, data)
    }
    fn put_symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        self.add_symlink(name, target)
    }
}

/// Finds a statically linked busybox on the host (`/bin/busybox` from busybox-static).
pub fn find_busybox() -> io::Result<PathBuf> {
    for p in [
        "/bin/busybox",
        "/usr/bin/busybox",
        "/usr/lib/initramfs-tools/bin/busybox",
    ] {
        let p = Path::new(p);
        if p.exists() && is_static_elf(p).unwrap_or(false) {
            return Ok(p.to_path_buf());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "no statically linked busybox on this host: apt-get install busybox-static",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots() {
        assert_eq!(
            normalize(Path::new("/usr/lib64/../lib/x86_64-linux-gnu/./ld.so")),
            PathBuf::from("/usr/lib/x86_64-linux-gnu/ld.so")
        );
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
    }

    #[test]
    fn our_test_binary_is_dynamic_and_ldd_lists_libc() {
        let exe = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&exe).unwrap());
        let libs = shared_libraries(&exe).unwrap();
        assert!(
            libs.iter().any(|l| l.to_string_lossy().contains("libc.so")),
            "{libs:?}"
        );
        assert!(
            libs.iter()
                .any(|l| l.to_string_lossy().contains("ld-linux")),
            "{libs:?}"
        );
    }

    #[test]
    fn not_an_elf_is_refused_with_the_path() {
        let e = is_static_elf(Path::new("/etc/hostname")).unwrap_err();
        assert!(e.to_string().contains("/etc/hostname"), "{e}");
    }
}
