//! Digests (`sha256:<64 hex>`) and reading blobs that are checked against them.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::ImageError;

/// A blob's digest: the algorithm (only `sha256` is read) and its lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    /// The hex of the sha256.
    pub hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`; anything else (another algorithm, a short or
    /// uppercase hex, a `/`) is refused, so that a digest can name a file safely.
    pub fn parse(s: &str) -> Result<Digest, String> {
        let Some(hex) = s.strip_prefix("sha256:") else {
            return Err(format!(
                "{s:?}: only sha256 digests are read (sha256:<64 hex digits>)"
            ));
        };
        if hex.len() != 64
            || !hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err(format!("{s:?}: a sha256 digest is 64 lowercase hex digits"));
        }
        Ok(Digest { hex: hex.into() })
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest {
            hex: hex(&Sha256::digest(data)),
        }
    }

    /// The blob's path in an OCI layout: `blobs/sha256/<hex>`.
    pub fn blob_path(&self, layout: &Path) -> PathBuf {
        layout.join("blobs/sha256").join(&self.hex)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a whole blob (a manifest, an index, a config) and checks it against its digest.
pub fn read_verified(path: &Path, d: &Digest) -> Result<Vec<u8>, ImageError> {
    let data = std::fs::read(path).map_err(crate::io("read the blob", path))?;
    let actual = Digest::of(&data);
    if actual != *d {
        return Err(ImageError::Digest {
            digest: d.to_string(),
            path: path.to_path_buf(),
            actual: actual.hex,
        });
    }
    Ok(data)
}

/// A reader that hashes what passes through it; [`Verifying::finish`] says whether the whole
/// stream matched its digest (a layer is checked as it is unpacked, not read twice).
pub struct Verifying<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Verifying<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Verifying {
            inner,
            hash: Sha256::new(),
        }
    }

    /// Reads what is left, then checks the digest of everything read.
    pub fn finish(mut self, d: &Digest, path: &Path) -> Result<(), ImageError> {
        std::io::copy(&mut self, &mut std::io::sink()).map_err(crate::io("read the blob", path))?;
        let actual = hex(&self.hash.finalize());
        if actual != d.hex {
            return Err(ImageError::Digest {
                digest: d.to_string(),
                path: path.to_path_buf(),
                actual,
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_strictly() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        for bad in [
            "sha512:00",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:../../etc/passwd",
            "sha256:abc",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}
