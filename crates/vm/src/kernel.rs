//! The kernels a VM boots: recognising `--kernel` files, and fetching Debian's stock kernel.
//!
//! A `bzImage`/`vmlinuz` (the x86 boot protocol, "HdrS" at 0x202) is booted through qemu's
//! firmware; an ELF `vmlinux` is booted directly through its PVH entry point (faster: nothing
//! to decompress) and must carry the Xen PVH ELF note (`CONFIG_PVH=y`).
//! [`fetch_debian`] runs `apt-get download` and unpacks the package's `./boot` (with
//! `dpkg-deb --fsys-tarfile | tar`) into a cache directory: nothing is installed on the host,
//! and a second call costs nothing.

use std::path::{Path, PathBuf};

use crate::error::io;
use crate::VmError;

/// What a kernel file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelFormat {
    /// The x86 boot protocol image (`bzImage`, Debian's `vmlinuz`).
    BzImage,
    /// An ELF `vmlinux` with a PVH entry note.
    PvhElf,
}

/// A kernel to boot.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: KernelFormat,
    /// The version string the image carries (bzImage) or that its file name gives.
    pub version: String,
}

/// Why a kernel cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("--kernel {path}: {reason}")]
pub struct KernelError {
    /// The path given.
    pub path: String,
    /// Why, with the fix.
    pub reason: String,
}

fn kerr(path: &Path, reason: impl Into<String>) -> KernelError {
    KernelError {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Looks for the PVH note (Xen ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY) in an ELF64 file.
fn elf_has_pvh_note(b: &[u8]) -> bool {
    if b.len() < 64 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes")) as usize;
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 56 > b.len() || u32_at(o) != 4 {
            continue; // not PT_NOTE
        }
        let (off, size) = (u64_at(o + 8), u64_at(o + 32));
        let end = off.saturating_add(size).min(b.len());
        let mut p = off;
        while p + 12 <= end {
            let (namesz, descsz, typ) = (u32_at(p) as usize, u32_at(p + 4) as usize, u32_at(p + 8));
            let name = &b[p + 12..(p + 12 + namesz).min(end)];
            if typ == 18 && name.starts_with(b"Xen") {
                return true;
            }
            p += 12 + namesz.div_ceil(4) * 4 + descsz.div_ceil(4) * 4;
        }
    }
    false
}

impl Kernel {
    /// Recognises the kernel at `path`.
    pub fn open(path: &Path) -> Result<Kernel, KernelError> {
        let b = std::fs::read(path).map_err(|e| {
            kerr(
                path,
                format!("cannot read it ({e}); give a vmlinux, bzImage or vmlinuz, or `debian` for Debian's stock kernel"),
            )
        })?;
        let name_version = || {
            path.file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .trim_start_matches("vmlinuz-")
                        .trim_start_matches("vmlinux-")
                        .to_string()
                })
                .unwrap_or_default()
        };
        if b.len() > 0x210 && &b[0x202..0x206] == b"HdrS" {
            // kernel_version: a pointer at 0x20e, relative to 0x200.
            let ptr = u16::from_le_bytes([b[0x20e], b[0x20f]]) as usize + 0x200;
            let version = b
                .get(ptr..(ptr + 256).min(b.len()))
                .map(|s| {
                    let s = &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())];
                    String::from_utf8_lossy(s)
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .filter(|v| !v.is_empty())
                .unwrap_or_else(name_version);
            return Ok(Kernel {
                path: path.to_path_buf(),
                format: KernelFormat::BzImage,
                version,
            });
        }
        if b.starts_with(b"\x7fELF") {
            if b.get(4) != Some(&2) {
                return Err(kerr(path, "a 32-bit ELF; give an x86_64 kernel"));
            }
            if !elf_has_pvh_note(&b) {
                return Err(kerr(
                    path,
                    "an ELF vmlinux without the PVH entry note (build it with CONFIG_PVH=y), or give the bzImage (arch/x86/boot/bzImage)",
                ));
            }
            // The banner the kernel prints first: "Linux version 6.1.0-56-amd64 (...".
            let banner = b"Linux version ";
            let version = b
                .windows(banner.len())
                .position(|w| w == banner)
                .and_then(|i| {
                    let rest = &b[i + banner.len()..(i + banner.len() + 128).min(b.len())];
                    let end = rest.iter().position(|&c| c == b' ' || c == 0)?;
                    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
                })
                .filter(|v| !v.is_empty() && !v.contains('%'))
                .unwrap_or_else(name_version);
            return Ok(Kernel {
                path: path.to_path_buf(),
                format: KernelFormat::PvhElf,
                version,
            });
        }
        Err(kerr(
            path,
            "not a kernel image (neither a bzImage with the HdrS boot header nor an ELF vmlinux)",
        ))
    }

    /// A short label for reports and directories: the version, made path-safe.
    pub fn label(&self) -> String {
        self.version
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// Extracts the ELF `vmlinux` from a bzImage's compressed payload into `out` (for PVH direct
/// boot, which skips the decompression in the guest: seconds under emulation). xz and gzip
/// payloads (Debian's and most distributions'); zstd with the `zstd` tool.
pub fn extract_vmlinux(bz: &Kernel, out: &Path) -> Result<Kernel, VmError> {
    let b = std::fs::read(&bz.path).map_err(io("read", &bz.path))?;
    let u32_at = |o: usize| -> Option<usize> {
        b.get(o..o + 4)
            .map(|x| u32::from_le_bytes(x.try_into().expect("4 bytes")) as usize)
    };
    let bad = |why: &str| VmError::Extract {
        path: bz.path.clone(),
        why: why.to_string(),
    };
    if bz.format != KernelFormat::BzImage {
        return Err(bad("not a bzImage"));
    }
    let setup_sects = match b.get(0x1f1) {
        Some(0) => 4,
        Some(&n) => n as usize,
        None => return Err(bad("too short")),
    };
    let pm = (setup_sects + 1) * 512;
    let (off, len) = (
        u32_at(0x248).ok_or_else(|| bad("no payload_offset"))?,
        u32_at(0x24c).ok_or_else(|| bad("no payload_length"))?,
    );
    let payload = b
        .get(pm + off..pm + off + len)
        .ok_or_else(|| bad("the payload lies outside the file"))?;
    let tool = |cmd: &str, args: &[&str], input: &[u8]| -> Result<Vec<u8>, VmError> {
        use std::io::Write;
        let mut child = std::process::Command::new(cmd)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                bad(&format!(
                    "cannot run {cmd} ({e}); apt-get install xz-utils zstd"
                ))
            })?;
        let mut stdin = child.stdin.take().expect("piped");
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let o = child.wait_with_output().map_err(|e| bad(&e.to_string()))?;
        let _ = feeder.join();
        if o.stdout.is_empty() {
            return Err(bad(&format!(
                "{cmd}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Ok(o.stdout)
    };
    let elf = if payload.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        tool("xz", &["-dc", "--single-stream"], payload)?
    } else if payload.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read;
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(payload)
            .read_to_end(&mut v)
            .map_err(|e| bad(&format!("gzip: {e}")))?;
        v
    } else if payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        tool(
            "zstd",
            &["-dc"],
            &payload[..payload.len().saturating_sub(4)],
        )?
    } else {
        return Err(bad("the payload is compressed with a method limitcheck does not read (xz, gzip and zstd are read); give the bzImage"));
    };
    if !elf.starts_with(b"\x7fELF") {
        return Err(bad("the payload is not an ELF file"));
    }
    let tmp = out.with_extension("partial");
    std::fs::write(&tmp, &elf).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, out).map_err(io("write", out))?;
    let mut k = Kernel::open(out)?;
    k.version = bz.version.clone();
    Ok(k)
}

/// The kernel to boot for `k`: for a bzImage, the vmlinux inside it (PVH direct boot, about 3 s
/// faster per boot under emulation here), extracted once into `cache/vmlinux/` (keyed by the
/// image's version, size and mtime); `k` itself when that is not possible (no PVH note, an
/// unknown compression), with the reason.
pub fn prefer_vmlinux(k: &Kernel, cache: &Path) -> (Kernel, String) {
    if k.format != KernelFormat::BzImage {
        return (k.clone(), "an ELF vmlinux: PVH direct boot".into());
    }
    let meta = std::fs::metadata(&k.path);
    let key = meta
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            format!("{}-{}-{}", k.label(), m.size(), m.mtime())
        })
        .unwrap_or_else(|_| k.label());
    let dir = cache.join("vmlinux");
    let out = dir.join(format!("vmlinux-{key}"));
    if let Ok(mut v) = Kernel::open(&out) {
        v.version = k.version.clone();
        return (
            v,
            format!(
                "PVH direct boot of the vmlinux extracted from it ({})",
                out.display()
            ),
        );
    }
    let r = std::fs::create_dir_all(&dir)
        .map_err(io("create", &dir))
        .and_then(|_| extract_vmlinux(k, &out));
    match r {
        Ok(v) => (
            v,
            format!(
                "PVH direct boot of the vmlinux extracted from it ({})",
                out.display()
            ),
        ),
        Err(e) => {
            let _ = std::fs::remove_file(&out);
            (k.clone(), format!("booted as a bzImage ({e})"))
        }
    }
}

/// The default cache directory: `$XDG_CACHE_HOME/limitcheck`, else `~/.cache/limitcheck`.
pub fn cache_dir() -> PathBuf {
    limitcheck_image::cache::base_dir()
}

/// The Debian package `limitcheck vm --kernel debian` boots.
pub const DEBIAN_DEFAULT_PACKAGE: &str = "linux-image-amd64";

fn run(cmd: &mut std::process::Command, what: &str) -> Result<String, VmError> {
    let out = cmd.output().map_err(|e| VmError::Program {
        program: what.into(),
        why: format!("cannot run it: {e}"),
    })?;
    if !out.status.success() {
        return Err(VmError::Program {
            program: what.into(),
            why: format!(
                "failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Fetches Debian's kernel package `package` (a meta-package such as `linux-image-amd64` is
/// followed to the image it depends on) into `cache`, unpacked, and returns its `vmlinuz`.
/// `progress` gets a line per download.
pub fn fetch_debian(
    package: &str,
    cache: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, VmError> {
    let dir = cache.join("kernels");
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    // One fetch at a time (parallel tests, two runs): an exclusive lock on the cache.
    let lock = std::fs::File::create(dir.join(".lock")).map_err(io("create", dir.join(".lock")))?;
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on an fd we own; released when `lock` is closed.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io("lock", dir.join(".lock"))(
                std::io::Error::last_os_error(),
            ));
        }
    }
    let mut pkg = package.to_string();
    for _ in 0..4 {
        // apt-get download writes into the current directory.
        let listing = || -> Vec<PathBuf> {
            std::fs::read_dir(&dir)
                .map(|r| r.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        let find = |files: &[PathBuf]| {
            files
                .iter()
                .find(|f| {
                    f.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n.starts_with(&format!("{pkg}_")) && n.ends_with(".deb")
                    })
                })
                .cloned()
        };
        // A cached .deb is used as it is (delete the cache directory to pick up a newer one).
        let deb = match find(&listing()) {
            Some(d) => d,
            None => {
                progress(&format!("apt-get download {pkg}"));
                run(
                    std::process::Command::new("apt-get")
                        .args(["download", "-q", &pkg])
                        .current_dir(&dir),
                    &format!("apt-get download {pkg}"),
                )?;
                find(&listing()).ok_or_else(|| VmError::Package {
                    package: pkg.clone(),
                    why: format!("apt-get download {pkg} wrote no .deb"),
                })?
            }
        };
        let unpacked = dir.join(deb.file_stem().expect("a .deb has a stem"));
        if !unpacked.exists() {
            // Only ./boot: the modules (400 MB for Debian's 6.1) are not needed by the guest.
            progress(&format!("unpacking ./boot of {}", deb.display()));
            let tmp = unpacked.with_extension("partial");
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).map_err(io("create", &tmp))?;
            let mut tarball = std::process::Command::new("dpkg-deb")
                .arg("--fsys-tarfile")
                .arg(&deb)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| VmError::Program {
                    program: "dpkg-deb".into(),
                    why: format!("cannot run it: {e} (apt-get install dpkg)"),
                })?;
            let tar = std::process::Command::new("tar")
                .arg("-x")
                .arg("-C")
                .arg(&tmp)
                .args(["--wildcards", "./boot/*"])
                .stdin(tarball.stdout.take().expect("piped"))
                .stderr(std::process::Stdio::null())
                .status();
            let dpkg = tarball.wait();
            match (tar, dpkg) {
                (Ok(t), Ok(d)) if t.success() && d.success() => {}
                (t, d) => {
                    // A package without ./boot (a meta-package) makes tar fail: that is fine,
                    // its Depends are followed below.
                    if !matches!(d, Ok(ref d) if d.success()) {
                        return Err(VmError::Program {
                            program: format!("dpkg-deb --fsys-tarfile {}", deb.display()),
                            why: format!("failed ({d:?}, tar {t:?})"),
                        });
                    }
                }
            }
            std::fs::rename(&tmp, &unpacked).map_err(io("rename", &tmp))?;
        }
        let boot = unpacked.join("boot");
        if let Some(v) = std::fs::read_dir(&boot).ok().and_then(|r| {
            r.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
            })
        }) {
            return Ok(v);
        }
        // A meta-package: follow its linux-image dependency.
        let depends = run(
            std::process::Command::new("dpkg-deb")
                .args(["-f"])
                .arg(&deb)
                .arg("Depends"),
            "dpkg-deb -f Depends",
        )?;
        pkg = depends
            .split(',')
            .map(|d| d.split_whitespace().next().unwrap_or(""))
            .find(|d| d.starts_with("linux-image-"))
            .ok_or_else(|| VmError::Package {
                package: pkg.clone(),
                why: "it has no vmlinuz and depends on no linux-image package".into(),
            })?
            .to_string();
    }
    Err(VmError::Package {
        package: package.into(),
        why: "too many meta-packages to follow (more than 4)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bzimage(version: &str) -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[0x202..0x206].copy_from_slice(b"HdrS");
        let ptr: u16 = 0x100; // version at 0x300
        b[0x20e..0x210].copy_from_slice(&ptr.to_le_bytes());
        let v = format!("{version} (builder@host) #1 SMP");
        b[0x300..0x300 + v.len()].copy_from_slice(v.as_bytes());
        b
    }

    #[test]
    fn a_bzimage_gives_its_version() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("vmlinuz");
        std::fs::write(&p, bzimage("6.1.0-56-amd64")).unwrap();
        let k = Kernel::open(&p).unwrap();
        assert_eq!(k.format, KernelFormat::BzImage);
        assert_eq!(k.version, "6.1.0-56-amd64");
        assert_eq!(k.label(), "6.1.0-56-amd64");
    }

    #[test]
    fn an_elf_without_pvh_and_a_text_file_are_refused_with_the_fix() {
        let d = tempfile::tempdir().unwrap();
        // Our own test binary: an ELF, no PVH note.
        let e = Kernel::open(&std::env::current_exe().unwrap()).unwrap_err();
        assert!(e.reason.contains("CONFIG_PVH"), "{e}");
        let p = d.path().join("notes.txt");
        std::fs::write(&p, "hello").unwrap();
        let e = Kernel::open(&p).unwrap_err();
        assert!(e.to_string().contains("notes.txt"), "{e}");
        assert!(e.reason.contains("not a kernel image"), "{e}");
        let e = Kernel::open(&d.path().join("missing")).unwrap_err();
        assert!(e.reason.contains("debian"), "{e}");
    }

    #[test]
    fn a_pvh_note_is_found() {
        // A minimal ELF64 with one PT_NOTE holding a Xen note of type 18.
        let mut b = vec![0u8; 256];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        b[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        b[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
        b[64..68].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
        b[72..80].copy_from_slice(&160u64.to_le_bytes()); // offset
        b[96..104].copy_from_slice(&24u64.to_le_bytes()); // filesz
        b[160..164].copy_from_slice(&4u32.to_le_bytes()); // namesz
        b[164..168].copy_from_slice(&8u32.to_le_bytes()); // descsz
        b[168..172].copy_from_slice(&18u32.to_le_bytes()); // type
        b[172..176].copy_from_slice(b"Xen\0");
        assert!(elf_has_pvh_note(&b));
        b[168..172].copy_from_slice(&17u32.to_le_bytes());
        assert!(!elf_has_pvh_note(&b));
    }
}
