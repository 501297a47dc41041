//! Thin, errno-keeping file access for cgroup files, and the filesystem-magic seam.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::error::{CgroupError, Result};

/// `statfs` magic of a cgroup v1 hierarchy.
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
/// `statfs` magic of the cgroup v2 hierarchy.
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
/// `statfs` magic of tmpfs (what `/sys/fs/cgroup` is on v1 and hybrid hosts).
pub const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Tells which filesystem a path is on. The real one asks the kernel (`statfs`); tests of v2 code
/// paths on a host that does not run v2 give a fixture tree their own answer.
pub trait FsProbe: Send + Sync {
    /// The `f_type` magic of the filesystem holding `path`.
    fn magic(&self, path: &Path) -> io::Result<i64>;
}

/// [`FsProbe`] backed by `statfs(2)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl FsProbe for RealFs {
    fn magic(&self, path: &Path) -> io::Result<i64> {
        let st = nix::sys::statfs::statfs(path).map_err(io::Error::from)?;
        #[allow(clippy::unnecessary_cast)]
        Ok(st.filesystem_type().0 as i64)
    }
}

thread_local! {
    /// Open files kept by [`with_open_files`]: `None` for a file that does not exist.
    /// Keyed by the path's bytes: hashed as one slice, not component by component as a
    /// `PathBuf` is (a fifth of a fast sample's time went to that).
    static OPEN: std::cell::RefCell<Option<std::collections::HashMap<Vec<u8>, Option<std::fs::File>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with cgroup files kept open between reads on this thread: each file is opened
/// once and then re-read with `pread` at offset 0 (the kernel regenerates cgroup files on every
/// read from the start). A sampler reading the same files at 100 Hz saves the open and close of
/// each. Files that do not exist are remembered as such.
pub fn with_open_files<T>(f: impl FnOnce() -> T) -> T {
    OPEN.with(|o| *o.borrow_mut() = Some(Default::default()));
    let r = f();
    OPEN.with(|o| *o.borrow_mut() = None);
    r
}

fn read_cached(path: &Path) -> Option<std::io::Result<String>> {
    use std::os::unix::fs::FileExt;
    OPEN.with(|o| {
        let mut o = o.borrow_mut();
        let map = o.as_mut()?;
        let key = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        if !map.contains_key(key) {
            map.insert(key.to_vec(), std::fs::File::open(path).ok());
        }
        let Some(file) = map.get(key).expect("just inserted") else {
            return Some(Err(io::Error::from_raw_os_error(libc::ENOENT)));
        };
        let mut buf = vec![0u8; 4096];
        let mut len = 0;
        loop {
            match file.read_at(&mut buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if len == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
        buf.truncate(len);
        Some(String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)))
    })
}

/// Reads a whole cgroup file.
pub fn read(path: &Path) -> Result<String> {
    let r = read_cached(path).unwrap_or_else(|| std::fs::read_to_string(path));
    r.map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `value` to an existing cgroup file in one `write(2)`, never creating it, and keeps the
/// kernel's errno in the error.
pub fn write(path: &Path, value: &str) -> Result<()> {
    let err = |source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(err)?;
    let n = f.write(value.as_bytes()).map_err(err)?;
    if n != value.len() {
        return Err(err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {n} of {} bytes", value.len()),
        )));
    }
    Ok(())
}

/// Reads `dir/file` and parses it, attaching the path to a parse error.
pub(crate) fn read_with<T>(
    dir: &Path,
    file: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    let path = dir.join(file);
    let text = read(&path)?;
    parse(&text).map_err(|e| e.at(&path))
}

/// Like [`read_with`] but `Ok(None)` when the file does not exist (a kernel without the feature).
pub(crate) fn read_opt<T>(
    dir: &Path,
    file: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<Option<T>> {
    match read_with(dir, file, parse) {
        Ok(v) => Ok(Some(v)),
        Err(CgroupError::Read { source, .. }) if is_absent(&source) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether an error means "this kernel has no such file/feature" (ENOENT, or EOPNOTSUPP for PSI
/// files on a kernel booted with `psi=0`).
pub(crate) fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV)
    )
}

/// The first of `files` that exists in `dir` (the kernel names some features differently by
/// version or I/O scheduler, and omits them before some release), or an
/// [`CgroupError::Unsupported`] that names the feature and what to do.
pub(crate) fn feature_file(
    dir: &Path,
    files: &[&'static str],
    what: &str,
    version: &'static str,
    hint: &str,
) -> Result<&'static str> {
    files
        .iter()
        .copied()
        .find(|f| dir.join(f).exists())
        .ok_or_else(|| CgroupError::Unsupported {
            what: what.to_string(),
            version,
            hint: hint.to_string(),
        })
}

/// Writes `dir/file`.
pub(crate) fn write_in(dir: &Path, file: &str, value: &str) -> Result<()> {
    write(&dir.join(file), value)
}
