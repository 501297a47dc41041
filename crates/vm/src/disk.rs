//! The guest's scratch disk: an ext4 image on virtio-blk, mounted at `/var/tmp` in the guest,
//! where the containers' `/var/tmp` directories are. Without it the guest has only its
//! initramfs (a ramfs) and tmpfs, whose pages are memory, not a disk's page cache: the io
//! workload, memory.high holding page cache, io.max and blkio throttles need a block device.
//!
//! Debian's kernels build virtio-blk, virtio-pci (6.1) and ext4 as modules. They come from
//! the kernel's own package, the .deb limitcheck fetched: the few it needs are unpacked once
//! beside it (`<package>.modules/`), their dependencies followed through each module's
//! `depends=` (the package ships no modules.dep: depmod writes it at install), decompressed on
//! the host, and put in a second cpio archive the kernel unpacks after the first (it takes
//! concatenated archives). The guest loads them in order with finit_module(2) and mounts the
//! disk. A kernel given as a file, without its package, gets a disk only if it has the drivers
//! built in; otherwise none, and the scenarios that need one are skipped, saying why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cpio::CpioWriter;

/// The modules the disk needs, by name; their dependencies are found in them.
pub const WANTED: [&str; 4] = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

/// Where the modules go in the guest: `NN-name.ko`, loaded in name order.
pub const GUEST_MODULES: &str = "/limitcheck/modules";

/// The size of the disk (a sparse file on the host: it takes what the guest writes).
pub const DISK_BYTES: u64 = 4 << 30;

/// The guest's device for it (the first virtio-blk disk).
pub const GUEST_DISK: &str = "/dev/vda";

/// The module directories of a Debian kernel package the disk's modules are in.
const PATTERNS: [&str; 9] = [
    "./lib/modules/*/modules.builtin",
    "./lib/modules/*/kernel/drivers/virtio/*",
    "./lib/modules/*/kernel/drivers/block/virtio_blk.ko*",
    "./lib/modules/*/kernel/fs/ext4/*",
    "./lib/modules/*/kernel/fs/jbd2/*",
    "./lib/modules/*/kernel/fs/mbcache.ko*",
    "./lib/modules/*/kernel/lib/*",
    "./lib/modules/*/kernel/crypto/*",
    "./lib/modules/*/kernel/arch/x86/crypto/*",
];

/// A module's name from its file name: `crc32c-intel.ko.xz` is `crc32c_intel`.
pub fn module_name(file: &str) -> Option<String> {
    let stem = [".ko.xz", ".ko.zst", ".ko.gz", ".ko"]
        .iter()
        .find_map(|s| file.strip_suffix(s))?;
    Some(stem.replace('-', "_"))
}

/// The modules a module needs, from its `.modinfo` (`depends=a,b`).
pub fn depends(ko: &[u8]) -> Vec<String> {
    let key = b"depends=";
    let mut at = 0;
    while let Some(i) = ko[at..].windows(key.len()).position(|w| w == key) {
        let start = at + i;
        // A key of .modinfo starts the section or follows a NUL.
        if start == 0 || ko[start - 1] == 0 {
            let v = &ko[start + key.len()..];
            let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
            return String::from_utf8_lossy(&v[..end])
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.replace('-', "_"))
                .collect();
        }
        at = start + 1;
    }
    Vec::new()
}

/// Runs a host tool (from Debian package `package`), its stdout, or its own words on failure.
fn run_tool(c: &mut std::process::Command, package: &str) -> Result<Vec<u8>, String> {
    let what = format!("{c:?}").replace('"', "");
    let out = c
        .output()
        .map_err(|e| format!("cannot run {what}: {e} (apt-get install {package})"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

fn decompress(path: &Path) -> Result<Vec<u8>, String> {
    let name = path.to_string_lossy();
    if name.ends_with(".ko") {
        return std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"));
    }
    let tool = if name.ends_with(".xz") {
        "xz"
    } else if name.ends_with(".zst") {
        "zstd"
    } else {
        "gzip"
    };
    let package = if tool == "xz" { "xz-utils" } else { tool };
    run_tool(
        std::process::Command::new(tool).arg("-dc").arg(path),
        package,
    )
}

/// The modules of kernel `vmlinuz` (a file of a Debian package limitcheck unpacked) that the
/// disk needs, in load order, decompressed: `(name, contents)`. Err says why there are none.
pub fn modules_for(vmlinuz: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let unpacked = vmlinuz
        .parent()
        .and_then(Path::parent)
        .ok_or("the kernel file is not in a package's boot/ directory")?;
    let name = unpacked
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let deb = unpacked.with_file_name(format!("{name}.deb"));
    if !deb.is_file() {
        return Err(format!(
            "{} is not from a Debian package limitcheck fetched (no {} beside it), so its \
             modules are not at hand",
            vmlinuz.display(),
            deb.display()
        ));
    }
    let dir = unpacked.with_file_name(format!("{name}.modules"));
    if !dir.exists() {
        unpack(&deb, &dir)?;
    }
    let base = std::fs::read_dir(dir.join("lib/modules"))
        .ok()
        .and_then(|mut r| r.find_map(|e| e.ok()).map(|e| e.path()))
        .ok_or_else(|| format!("{} has no lib/modules", deb.display()))?;
    let builtin: BTreeSet<String> = std::fs::read_to_string(base.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| module_name(l.rsplit('/').next().unwrap_or(l)))
        .collect();
    let mut index = BTreeMap::new();
    let mut stack = vec![base.join("kernel")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(n) = module_name(&e.file_name().to_string_lossy()) {
                index.insert(n, p);
            }
        }
    }
    let mut out = Vec::new();
    let mut done = BTreeSet::new();
    for w in WANTED {
        add(w, &builtin, &index, &mut done, &mut out, 0)?;
    }
    Ok(out)
}

fn add(
    name: &str,
    builtin: &BTreeSet<String>,
    index: &BTreeMap<String, PathBuf>,
    done: &mut BTreeSet<String>,
    out: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> Result<(), String> {
    if builtin.contains(name) || done.contains(name) {
        return Ok(());
    }
    if depth > 16 {
        return Err(format!(
            "module {name}: dependencies nest too deep (a cycle?)"
        ));
    }
    let path = index
        .get(name)
        .ok_or_else(|| format!("module {name} is neither built in nor in the package"))?;
    let ko = decompress(path)?;
    for d in depends(&ko) {
        add(&d, builtin, index, done, out, depth + 1)?;
    }
    done.insert(name.to_string());
    out.push((name.to_string(), ko));
    Ok(())
}

/// Unpacks the module directories the disk needs from `deb` into `dir` (made whole or not at
/// all: through a temporary directory renamed into place).
fn unpack(deb: &Path, dir: &Path) -> Result<(), String> {
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut tarball = std::process::Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run dpkg-deb: {e} (apt-get install dpkg)"))?;
    // tar fails when a pattern matches nothing (a kernel with ext4 built in has no fs/ext4/):
    // what is there is what counts.
    let _ = std::process::Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&tmp)
        .arg("--wildcards")
        .args(PATTERNS)
        .stdin(tarball.stdout.take().expect("piped"))
        .stderr(std::process::Stdio::null())
        .status();
    let st = tarball.wait().map_err(|e| format!("dpkg-deb: {e}"))?;
    if !st.success() {
        return Err(format!(
            "dpkg-deb --fsys-tarfile {} failed: {st}",
            deb.display()
        ));
    }
    std::fs::rename(&tmp, dir).map_err(|e| format!("cannot rename {}: {e}", tmp.display()))
}

/// Appends to `initrd` a second archive holding `modules` under [`GUEST_MODULES`].
pub fn append_modules(initrd: &Path, modules: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().append(true).open(initrd)?;
    let mut w = CpioWriter::new(std::io::BufWriter::new(f));
    w.dirs(GUEST_MODULES.trim_start_matches('/'))?;
    for (i, (name, ko)) in modules.iter().enumerate() {
        let file = format!("{}/{i:02}-{name}.ko", GUEST_MODULES.trim_start_matches('/'));
        w.file(&file, 0o644, ko)?;
    }
    use std::io::Write;
    w.finish()?.flush()
}

/// Makes the disk image: a sparse file of [`DISK_BYTES`] with an empty ext4 on it.
pub fn make_image(path: &Path) -> Result<(), String> {
    let f = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.set_len(DISK_BYTES)
        .map_err(|e| format!("cannot size {}: {e}", path.display()))?;
    drop(f);
    run_tool(
        std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0", "-L", "limitcheck"])
            .args(["-E", "lazy_itable_init=1,lazy_journal_init=1"])
            .arg(path),
        "e2fsprogs",
    )
    .map(drop)
}

/// In the guest: loads the modules the host put in [`GUEST_MODULES`], in order, and mounts
/// the disk at `/var/tmp`. Returns what it did, or why there is no disk.
pub fn attach_in_guest() -> Result<String, String> {
    let mut loaded = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(GUEST_MODULES)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for p in &files {
        let f = std::fs::File::open(p).map_err(|e| format!("cannot open {}: {e}", p.display()))?;
        use std::os::fd::AsRawFd;
        // SAFETY: finit_module(2) with an open fd, an empty parameter string and no flags.
        let r = unsafe {
            libc::syscall(
                libc::SYS_finit_module,
                f.as_raw_fd(),
                c"".as_ptr(),
                0 as libc::c_int,
            )
        };
        let e = std::io::Error::last_os_error();
        if r != 0 && e.raw_os_error() != Some(libc::EEXIST) {
            return Err(format!("loading module {}: {e}", p.display()));
        }
        loaded.push(
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    // The device appears once virtio-pci has probed the disk: at once, or soon after. Built-in
    // drivers probe before init runs: then there is nothing to wait for.
    let wait = if loaded.is_empty() { 1 } else { 5 };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(wait);
    while !Path::new(GUEST_DISK).exists() {
        if std::time::Instant::now() > until {
            return Err(format!(
                "no {GUEST_DISK} ({})",
                if loaded.is_empty() {
                    "no modules were given: is virtio-blk built in?".to_string()
                } else {
                    format!("modules loaded: {}", loaded.join(", "))
                }
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = std::fs::create_dir_all("/var/tmp");
    nix::mount::mount(
        Some(GUEST_DISK),
        "/var/tmp",
        Some("ext4"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| format!("mount ext4 {GUEST_DISK} on /var/tmp: {e}"))?;
    Ok(format!(
        "{GUEST_DISK} (ext4, {} GiB) on /var/tmp{}",
        DISK_BYTES >> 30,
        if loaded.is_empty() {
            String::new()
        } else {
            format!("; modules {}", loaded.join(", "))
        }
    ))
}

/// The guest's swap file, on its disk: switched on only for the scenarios that need swap
/// (`swap = true`), so that every other scenario runs without swap as before.
pub const GUEST_SWAP: &str = "/var/tmp/.limitcheck-swap";

/// Its size.
pub const SWAP_BYTES: u64 = 512 << 20;

/// Writes a swap file of `bytes` at `path`, as mkswap(8) does: allocated whole (swapon refuses
/// a file with holes), its first page the version-1 header (`SWAPSPACE2` at the page's end,
/// `last_page`, no bad pages).
pub fn make_swap_file(path: &Path, bytes: u64) -> std::io::Result<()> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    nix::fcntl::fallocate(
        std::os::fd::AsRawFd::as_raw_fd(&f),
        nix::fcntl::FallocateFlags::empty(),
        0,
        bytes as i64,
    )
    .map_err(std::io::Error::from)?;
    f.write_all_at(&swap_header(bytes, page_size()), 0)?;
    f.sync_all()
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as usize,
        _ => 4096,
    }
}

/// The first page of a swap area of `bytes` (linux/swap.h's `union swap_header`).
pub fn swap_header(bytes: u64, page: usize) -> Vec<u8> {
    let mut h = vec![0u8; page];
    // info: bootbits[1024], then version, last_page, nr_badpages.
    h[1024..1028].copy_from_slice(&1u32.to_le_bytes());
    let last = (bytes / page as u64).saturating_sub(1) as u32;
    h[1028..1032].copy_from_slice(&last.to_le_bytes());
    h[page - 10..].copy_from_slice(b"SWAPSPACE2");
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_swap_header_is_mkswaps() {
        let h = super::swap_header(512 << 20, 4096);
        assert_eq!(h.len(), 4096);
        assert_eq!(&h[4086..], b"SWAPSPACE2");
        assert_eq!(u32::from_le_bytes(h[1024..1028].try_into().unwrap()), 1);
        assert_eq!(
            u32::from_le_bytes(h[1028..1032].try_into().unwrap()),
            131071
        );
        assert!(h[..1024].iter().all(|b| *b == 0));
    }

    use super::*;

    #[test]
    fn module_names_drop_the_suffix_and_dashes() {
        assert_eq!(module_name("crc32c-intel.ko.xz").unwrap(), "crc32c_intel");
        assert_eq!(module_name("ext4.ko").unwrap(), "ext4");
        assert_eq!(module_name("virtio_blk.ko.zst").unwrap(), "virtio_blk");
        assert!(module_name("modules.builtin").is_none());
    }

    #[test]
    fn depends_are_read_from_modinfo_and_not_from_other_strings() {
        let mut ko = b"\x7fELF....xdepends=not-this\0".to_vec();
        ko.extend_from_slice(b"license=GPL\0depends=jbd2,mbcache,crc16\0intree=Y\0");
        assert_eq!(depends(&ko), ["jbd2", "mbcache", "crc16"]);
        assert!(depends(b"\0depends=\0name=virtio\0").is_empty());
        assert!(depends(b"nothing here").is_empty());
    }
}
