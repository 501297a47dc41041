//! Images the tests build offline: busybox-static in two layers, the second deleting and
//! replacing files (a whiteout and an opaque directory), and images whose only layer is
//! malicious, written byte by byte where a tar library would refuse the name.

use std::path::{Path, PathBuf};

use limitcheck_image::build::{is_static_elf, write_layout, write_layout_of_tars, Layer};
use limitcheck_image::layout::RunConfig;

/// Debian's busybox-static, when installed.
pub fn busybox() -> Option<PathBuf> {
    let p = PathBuf::from("/bin/busybox");
    is_static_elf(&p).ok()?.then_some(p)
}

/// The applets the busybox image links (enough for the tests' shell lines).
pub const APPLETS: [&str; 10] = [
    "sh", "cat", "test", "echo", "ls", "sleep", "id", "true", "grep", "stat",
];

/// What the busybox image's upper layer says of the files of the one below.
pub const GREETING: &str = "from the upper layer";

/// Writes the image `tag` of the OCI layout `dir`: layer 1 busybox (with [`APPLETS`] as
/// symlinks in /bin), `/etc/motd`, `/etc/passwd` (root and `app`, uid 1000), `/etc/group`,
/// `/data/a`, `/data/b`, `/tmp`; layer 2 deletes `/etc/motd` (`.wh.motd`), hides `/data`'s
/// files (`.wh..wh..opq`) but adds `/data/c`, and adds `/etc/greeting` ([`GREETING`]). Its
/// Cmd prints the greeting.
pub fn busybox_image(
    dir: &Path,
    tag: &str,
    busybox: &Path,
) -> Result<(), limitcheck_image::ImageError> {
    let data = std::fs::read(busybox).map_err(|source| limitcheck_image::ImageError::Io {
        what: "read",
        path: busybox.to_path_buf(),
        source,
    })?;
    let mut base = Layer::new();
    base.file("bin/busybox", 0o755, &data)?;
    for a in APPLETS {
        base.symlink(&format!("bin/{a}"), "busybox")?;
    }
    base.file("etc/motd", 0o644, b"the base layer's motd\n")?;
    base.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )?;
    base.file("etc/group", 0o644, b"root:x:0:\napp:x:1000:\n")?;
    base.dir("data", 0o755)?;
    base.file("data/a", 0o644, b"a")?;
    base.file("data/b", 0o644, b"b")?;
    base.dir("tmp", 0o1777)?;
    base.dir("root", 0o700)?;
    let mut upper = Layer::new();
    upper.whiteout("etc/motd")?;
    upper.opaque("data")?;
    upper.file("data/c", 0o644, b"c")?;
    upper.file("etc/greeting", 0o644, format!("{GREETING}\n").as_bytes())?;
    let config = RunConfig {
        env: Some(vec!["PATH=/bin".into()]),
        cmd: Some(vec!["sh".into(), "-c".into(), "cat /etc/greeting".into()]),
        working_dir: Some("/".into()),
        ..Default::default()
    };
    write_layout(dir, tag, vec![base, upper], &config).map(|_| ())
}

/// A tar of one regular file named `name` exactly as given (`../escape`, `/etc/x`).
pub fn tar_with_name(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    let field = &mut h.as_old_mut().name;
    field[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, data).expect("a tar in memory");
    b.into_inner().expect("a tar in memory")
}

/// Writes the image `tag` of the layout `dir` whose only layer holds one file named `name`.
pub fn malicious_image(
    dir: &Path,
    tag: &str,
    name: &str,
) -> Result<(), limitcheck_image::ImageError> {
    let config = RunConfig {
        cmd: Some(vec!["/x".into()]),
        ..Default::default()
    };
    write_layout_of_tars(dir, tag, vec![tar_with_name(name, b"escaped")], &config).map(|_| ())
}
