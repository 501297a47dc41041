//! A writer of the `newc` cpio format, the one the kernel unpacks as an initramfs.
//!
//! Only what an initramfs needs: directories, regular files and symlinks, owned by root. Entries
//! are written in the order added; a directory must be added before what it contains (the kernel
//! does not create parents).

use std::collections::BTreeSet;
use std::io::{self, Write};

/// A newc archive being written.
pub struct CpioWriter<W: Write> {
    out: W,
    ino: u32,
    written: u64,
    names: BTreeSet<String>,
}

impl<W: Write> CpioWriter<W> {
    /// Starts an archive.
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            ino: 1,
            written: 0,
            names: BTreeSet::new(),
        }
    }

    /// True when `name` was already added.
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name.trim_start_matches('/'))
    }

    fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) -> io::Result<()> {
        let name = name.trim_start_matches('/');
        if name.is_empty() || name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad cpio entry name {name:?}"),
            ));
        }
        let header = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
            self.ino,
            mode,
            0, // uid
            0, // gid
            if mode & 0o170000 == 0o040000 { 2 } else { 1 },
            0, // mtime
            data.len(),
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() + 1,
            0, // check
        );
        self.ino += 1;
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()?;
        self.names.insert(name.to_string());
        Ok(())
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..n])
    }

    /// Adds a directory (mode 0755 unless given).
    pub fn dir(&mut self, name: &str) -> io::Result<()> {
        if self.contains(name) {
            return Ok(());
        }
        self.entry(name, 0o040755, &[], (0, 0))
    }

    /// Adds a directory and every missing parent of it.
    pub fn dirs(&mut self, name: &str) -> io::Result<()> {
        let mut path = String::new();
        for part in name.split('/').filter(|p| !p.is_empty()) {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            self.dir(&path)?;
        }
        Ok(())
    }

    /// Adds a regular file with permission bits `perm` (e.g. 0o755).
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(name, 0o100000 | (perm & 0o7777), data, (0, 0))
    }

    /// Adds a symlink `name` pointing at `target`.
    pub fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        self.entry(name, 0o120777, target.as_bytes(), (0, 0))
    }

    /// Adds a character device node (e.g. `dev/console`, 5:1), mode 0600.
    pub fn chardev(&mut self, name: &str, major: u32, minor: u32) -> io::Result<()> {
        self.entry(name, 0o020600, &[], (major, minor))
    }

    /// Writes the trailer and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, &[], (0, 0))?;
        // The kernel reads the archive in 512-byte blocks.
        let n = (512 - (self.written % 512) as usize) % 512;
        self.put(&vec![0u8; n])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_headers_are_aligned_and_named() {
        let mut w = CpioWriter::new(Vec::new());
        w.dirs("a/b").unwrap();
        w.file("a/b/f", 0o644, b"hello").unwrap();
        w.symlink("l", "a/b/f").unwrap();
        assert!(w.contains("/a/b"));
        let out = w.finish().unwrap();
        assert_eq!(out.len() % 512, 0);
        let text = String::from_utf8_lossy(&out);
        assert!(out.starts_with(b"070701"));
        // name length 4 ("a/b" + NUL), file size 5, then the name "a/b/f".
        assert!(text.contains("a/b/f\0"));
        assert!(text.contains("hello"));
        assert!(text.contains("TRAILER!!!"));
        // Every header starts on a 4-byte boundary.
        let mut i = 0;
        let mut n = 0;
        while let Some(p) = text[i..].find("070701") {
            assert_eq!((i + p) % 4, 0, "header at {}", i + p);
            i += p + 6;
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn busybox_cpio_lists_what_we_wrote() {
        let Some(bb) = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
        else {
            eprintln!("skipped: busybox is not installed (scripts/test.sh installs it)");
            return;
        };
        let mut w = CpioWriter::new(Vec::new());
        w.dirs("etc/x").unwrap();
        w.file("etc/x/data", 0o600, &[7u8; 1001]).unwrap();
        w.symlink("link", "etc/x/data").unwrap();
        let out = w.finish().unwrap();
        let mut child = std::process::Command::new(bb)
            .args(["cpio", "-t", "-v"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&out).unwrap();
        let o = child.wait_with_output().unwrap();
        let list = String::from_utf8_lossy(&o.stdout);
        assert!(list.contains("-rw-------"), "{list}");
        assert!(list.contains("1001"), "{list}");
        assert!(list.contains("link -> etc/x/data"), "{list}");
        assert!(list.contains("drwxr-xr-x"), "{list}");
    }
}
