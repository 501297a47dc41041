//! How the guest hands its run directory back: a line-based text stream written to the second
//! serial port (`/dev/ttyS1`), which qemu writes to a file on the host.
//!
//! Text, so no terminal setting can corrupt it; each file gzip-compressed, then base64, with its
//! length and CRC-32 checked on arrival. A stream that stops early (a panic, a timeout) still
//! gives every file that arrived whole.
//!
//! ```text
//! LCVM-BEGIN 1
//! LCVM-FILE <path, base64> <bytes> <crc32, hex>
//! <base64 of the gzip-compressed bytes, 76 per line>
//! LCVM-DONE
//! LCVM-ERROR <message, base64>      (the guest could not run; instead of files)
//! LCVM-EXIT <0|1|2>
//! ```

use std::io::{Read, Write};
use std::path::{Component, Path};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// The stream's version.
pub const VERSION: u32 = 1;

/// Writes the stream's header.
pub fn begin(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "LCVM-BEGIN {VERSION}")
}

/// Writes one file.
pub fn file(out: &mut dyn Write, path: &str, data: &[u8]) -> std::io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data)?;
    let packed = B64.encode(gz.finish()?);
    writeln!(
        out,
        "LCVM-FILE {} {} {:08x}",
        B64.encode(path),
        data.len(),
        crc32fast::hash(data)
    )?;
    for chunk in packed.as_bytes().chunks(76) {
        out.write_all(chunk)?;
        out.write_all(b"\n")?;
    }
    writeln!(out, "LCVM-DONE")
}

/// Writes every file under `dir` (recursively), paths relative to it.
pub fn dir(out: &mut dyn Write, dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let meta = std::fs::symlink_metadata(&p)?;
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy();
                file(out, &rel, &std::fs::read(&p)?)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Writes the guest's error (it could not run the scenarios).
pub fn error(out: &mut dyn Write, message: &str) -> std::io::Result<()> {
    writeln!(out, "LCVM-ERROR {}", B64.encode(message))
}

/// Writes the guest's exit status, the stream's last line.
pub fn exit(out: &mut dyn Write, code: u8) -> std::io::Result<()> {
    writeln!(out, "LCVM-EXIT {code}")
}

/// What arrived.
#[derive(Debug, Default)]
pub struct Received {
    /// The header was seen.
    pub begun: bool,
    /// Files that arrived whole and checked: (relative path, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// Files that arrived damaged or cut off, and why.
    pub damaged: Vec<String>,
    /// The guest's error, if it sent one.
    pub error: Option<String>,
    /// The guest's exit status, if the stream was finished.
    pub exit: Option<u8>,
}

fn safe_relative(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Parses a stream (anything before the header is ignored).
pub fn parse(text: &str) -> Received {
    let mut r = Received::default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_end_matches('\r');
        let mut words = line.split_whitespace();
        match words.next() {
            Some("LCVM-BEGIN") => r.begun = true,
            Some("LCVM-FILE") if r.begun => {
                let fields: Vec<&str> = words.collect();
                let [path64, len, crc] = fields[..] else {
                    r.damaged.push(format!("bad file header {line:?}"));
                    continue;
                };
                let path = B64
                    .decode(path64)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                let mut body = String::new();
                let mut done = false;
                for l in lines.by_ref() {
                    let l = l.trim_end_matches('\r');
                    if l == "LCVM-DONE" {
                        done = true;
                        break;
                    }
                    body.push_str(l);
                }
                let check = || -> Result<Vec<u8>, String> {
                    if !done {
                        return Err("cut off".into());
                    }
                    if !safe_relative(&path) {
                        return Err("not a relative path".into());
                    }
                    let gz = B64.decode(&body).map_err(|e| format!("base64: {e}"))?;
                    let mut data = Vec::new();
                    flate2::read::GzDecoder::new(&gz[..])
                        .read_to_end(&mut data)
                        .map_err(|e| format!("gzip: {e}"))?;
                    if len.parse::<usize>().ok() != Some(data.len()) {
                        return Err(format!("{} bytes, header says {len}", data.len()));
                    }
                    if format!("{:08x}", crc32fast::hash(&data)) != crc {
                        return Err("CRC-32 mismatch".into());
                    }
                    Ok(data)
                };
                match check() {
                    Ok(data) => r.files.push((path, data)),
                    Err(e) => r.damaged.push(format!("{path:?}: {e}")),
                }
            }
            Some("LCVM-ERROR") if r.begun => {
                r.error = Some(
                    words
                        .next()
                        .and_then(|m| B64.decode(m).ok())
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_else(|| "(unreadable error message)".into()),
                );
            }
            Some("LCVM-EXIT") if r.begun => {
                r.exit = words.next().and_then(|c| c.parse().ok());
            }
            _ => {}
        }
    }
    r
}

impl Received {
    /// Writes the files that arrived into `dir`.
    pub fn write_into(&self, dir: &Path) -> std::io::Result<()> {
        for (p, data) in &self.files {
            let dest = dir.join(p);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&dest, data)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_round_trips_and_noise_is_ignored() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("summary.json"), "{\"schema\": 1}\n").unwrap();
        std::fs::create_dir(src.path().join("logs")).unwrap();
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        std::fs::write(src.path().join("logs/c.bin"), &big).unwrap();
        let mut out = b"boot noise\r\nLCVM-FILE bogus before begin\n".to_vec();
        begin(&mut out).unwrap();
        assert_eq!(dir(&mut out, src.path()).unwrap(), 2);
        exit(&mut out, 1).unwrap();
        let r = parse(&String::from_utf8(out).unwrap());
        assert!(r.begun);
        assert_eq!(r.exit, Some(1));
        assert!(r.damaged.is_empty(), "{:?}", r.damaged);
        assert_eq!(r.files.len(), 2);
        let dst = tempfile::tempdir().unwrap();
        r.write_into(dst.path()).unwrap();
        assert_eq!(std::fs::read(dst.path().join("logs/c.bin")).unwrap(), big);
        assert_eq!(
            std::fs::read_to_string(dst.path().join("summary.json")).unwrap(),
            "{\"schema\": 1}\n"
        );
    }

    #[test]
    fn a_cut_or_corrupted_file_is_reported_not_written() {
        let mut out = Vec::new();
        begin(&mut out).unwrap();
        file(&mut out, "a.txt", b"hello hello hello").unwrap();
        file(&mut out, "b.txt", b"world").unwrap();
        let text = String::from_utf8(out).unwrap();
        // Corrupt a's CRC; cut b before its end marker.
        let text = text.replacen(
            &format!("{:08x}", crc32fast::hash(b"hello hello hello")),
            "00000000",
            1,
        );
        let cut = &text[..text.rfind("LCVM-DONE").unwrap()];
        let r = parse(cut);
        assert!(r.files.is_empty(), "{:?}", r.files);
        assert_eq!(r.damaged.len(), 2, "{:?}", r.damaged);
        assert!(r.damaged[0].contains("CRC"), "{:?}", r.damaged);
        assert!(r.damaged[1].contains("cut off"), "{:?}", r.damaged);
        assert_eq!(r.exit, None);
    }

    #[test]
    fn paths_that_climb_out_are_refused() {
        let mut out = Vec::new();
        begin(&mut out).unwrap();
        file(&mut out, "../evil", b"x").unwrap();
        file(&mut out, "/etc/evil", b"x").unwrap();
        error(&mut out, "no cgroup2 in this kernel").unwrap();
        let r = parse(&String::from_utf8(out).unwrap());
        assert!(r.files.is_empty());
        assert_eq!(r.damaged.len(), 2);
        assert_eq!(r.error.as_deref(), Some("no cgroup2 in this kernel"));
    }
}
