//! A bundle from an image, as runc's tooling makes one (`umoci unpack`, containerd): the root
//! an overlay of the image's cached layers with this container's upper layer, or a copy
//! ([`limitcheck_image::rootfs`]), writable; the process the image config's: `Entrypoint` then
//! `Cmd` (a given command replaces `Cmd`, as `docker run IMAGE ARGS` does), `Env` (with
//! `PATH` and `HOME` added when it has none, as docker adds them), `WorkingDir` (created when
//! missing, as runc does; `/` without one), `User` resolved in the image's own `/etc/passwd`
//! and `/etc/group` (a name there or a number; the user's supplementary groups too).

use std::path::{Path, PathBuf};

use limitcheck_image::cache::Cache;
use limitcheck_image::layout::RunConfig;
use limitcheck_image::rootfs::{How, Root};
use limitcheck_image::Source;
use oci_spec::runtime::UserBuilder;

use crate::error::{Result, RuntimeError};
use crate::hostfs::DEFAULT_PATH;
use crate::spec::{default_spec, validate, ValidSpec};

/// How image bundles are made.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// Overlay, or a copy.
    pub how: How,
    /// Where layers are unpacked once for overlays.
    pub cache: Cache,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            how: How::Auto,
            cache: Cache::new(limitcheck_image::cache::default_dir()),
        }
    }
}

/// What an image bundle was made from, and how.
#[derive(Debug, Clone)]
pub struct Made {
    /// The image as named.
    pub source: String,
    /// Its manifest's digest.
    pub manifest: String,
    /// How many layers it has.
    pub layers: usize,
    /// The root.
    pub root: Root,
}

impl Made {
    /// One line for logs and reports: `oci:images/busybox:latest (sha256:…, 2 layers) on an
    /// overlay`.
    pub fn describe(&self) -> String {
        let short: String = self.manifest.chars().take(19).collect();
        let how = match (&self.root.upper, &self.root.fallback) {
            (Some(_), _) => "on an overlay of its cached layers".to_string(),
            (None, Some(why)) => format!("copied (overlay could not be used: {why})"),
            (None, None) => "copied".to_string(),
        };
        format!(
            "{} ({short}…, {} layer{}) {how}",
            self.source,
            self.layers,
            if self.layers == 1 { "" } else { "s" }
        )
    }
}

fn image_err(source: &Source) -> impl FnOnce(limitcheck_image::ImageError) -> RuntimeError {
    let source_name = source.to_string();
    move |error| RuntimeError::Image { source_name, error }
}

/// Writes `config.json` and `rootfs/` (with `upper/` and `work/` for an overlay) of a
/// container of `source` into the existing directory `dir`; `command` replaces the image's
/// `Cmd`.
pub fn write_bundle(
    dir: &Path,
    source: &Source,
    command: Option<Vec<String>>,
    opts: &ImageOptions,
) -> Result<(ValidSpec, Made)> {
    let work = dir.join("image");
    let image = source.open(&work).map_err(image_err(source))?;
    let root = limitcheck_image::rootfs::prepare(&image, &opts.cache, dir, opts.how)
        .map_err(image_err(source))?;
    // An archive's blobs are in the cache (or the copy) now.
    let _ = std::fs::remove_dir_all(&work);
    let made = Made {
        source: source.to_string(),
        manifest: image.manifest.to_string(),
        layers: image.layers.len(),
        root,
    };
    let p = process_of(&image.config, &made.root.path, command, &source.to_string())?;
    let cwd = crate::rootfs::secure_join(&made.root.path, &p.cwd)?;
    std::fs::create_dir_all(&cwd).map_err(RuntimeError::io("create", &cwd))?;
    let mut spec = default_spec();
    spec.set_hostname(Some("limitcheck".into()));
    let mut r = spec.root().clone().unwrap_or_default();
    r.set_path(made.root.path.clone());
    r.set_readonly(Some(false));
    spec.set_root(Some(r));
    if let Some(proc_) = spec.process_mut() {
        proc_.set_terminal(Some(false));
        proc_.set_args(Some(p.args));
        proc_.set_env(Some(p.env));
        proc_.set_cwd(p.cwd);
        let mut user = UserBuilder::default().uid(p.uid).gid(p.gid);
        if !p.groups.is_empty() {
            user = user.additional_gids(p.groups);
        }
        proc_.set_user(
            user.build()
                .map_err(|e| RuntimeError::Init(format!("the image's user: {e}")))?,
        );
    }
    let file = dir.join("config.json");
    spec.save(&file)
        .map_err(|e| RuntimeError::Init(format!("write {}: {e}", file.display())))?;
    Ok((validate(spec, dir, file.display().to_string())?, made))
}

/// The process an image's config gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProcess {
    /// `Entrypoint` + `Cmd` (or the given command).
    pub args: Vec<String>,
    /// `Env`, with `PATH` and `HOME` when it lacks them.
    pub env: Vec<String>,
    /// `WorkingDir`, or `/`.
    pub cwd: PathBuf,
    /// The user's uid.
    pub uid: u32,
    /// Its gid.
    pub gid: u32,
    /// Its supplementary groups (from the image's `/etc/group`).
    pub groups: Vec<u32>,
}

/// The process `config` gives, its user looked up in the image root `root`; `name` is the
/// image's, for messages.
pub fn process_of(
    config: &RunConfig,
    root: &Path,
    command: Option<Vec<String>>,
    name: &str,
) -> Result<ImageProcess> {
    let bad = |field: &str, reason: String| RuntimeError::Spec {
        file: format!("image {name}"),
        field: field.into(),
        reason,
    };
    let mut args = config.entrypoint.clone().unwrap_or_default();
    args.extend(command.or_else(|| config.cmd.clone()).unwrap_or_default());
    if args.is_empty() {
        return Err(bad(
            "config.Cmd",
            "the image has neither Entrypoint nor Cmd: give the container a command".into(),
        ));
    }
    let read = |p: &str| -> Result<String> {
        let f = crate::rootfs::secure_join(root, Path::new(p))?;
        Ok(std::fs::read_to_string(f).unwrap_or_default())
    };
    let passwd = read("/etc/passwd")?;
    let group = read("/etc/group")?;
    // name:x:uid:gid:gecos:home:shell
    let users: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    // name:x:gid:members
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let spec = config.user.clone().unwrap_or_default();
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec.as_str(), None),
    };
    let entry = if u.is_empty() {
        users.iter().find(|f| f[2] == "0")
    } else {
        users.iter().find(|f| f[0] == u || f[2] == u)
    };
    let uid: u32 = match (u.parse::<u32>(), entry) {
        (Ok(n), _) => n,
        (Err(_), _) if u.is_empty() => 0,
        (Err(_), Some(e)) => e[2].parse().unwrap_or(0),
        (Err(_), None) => {
            return Err(bad(
                "config.User",
                format!("{u:?} is not a user in the image's /etc/passwd (nor a number)"),
            ))
        }
    };
    let gid: u32 = match g {
        None => entry.and_then(|e| e[3].parse().ok()).unwrap_or(0),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    bad(
                        "config.User",
                        format!("{g:?} is not a group in the image's /etc/group (nor a number)"),
                    )
                })?,
        },
    };
    let mut supplementary = Vec::new();
    if let Some(e) = entry {
        for f in &groups {
            if f[3].split(',').any(|m| m == e[0]) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid && !supplementary.contains(&n) {
                        supplementary.push(n);
                    }
                }
            }
        }
    }
    let home = entry.map_or("/", |e| e[5]).to_string();
    let mut env = config.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    let cwd = match config.working_dir.as_deref() {
        Some(w) if !w.is_empty() => {
            if !w.starts_with('/') {
                return Err(bad(
                    "config.WorkingDir",
                    format!("{w:?} is not an absolute path"),
                ));
            }
            PathBuf::from(w)
        }
        _ => PathBuf::from("/"),
    };
    Ok(ImageProcess {
        args,
        env,
        cwd,
        uid,
        gid,
        groups: supplementary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_root() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "root:x:0:\napp:x:1001:\naudio:x:29:app\nvideo:x:44:other,app\n",
        )
        .unwrap();
        t
    }

    fn config(user: Option<&str>) -> RunConfig {
        RunConfig {
            env: Some(vec!["GREETING=hi".into()]),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: Some(vec!["echo $GREETING".into()]),
            working_dir: Some("/work".into()),
            user: user.map(str::to_string),
        }
    }

    #[test]
    fn the_config_gives_args_env_cwd_and_user_as_docker_does() {
        let t = image_root();
        let p = process_of(&config(None), t.path(), None, "img").unwrap();
        assert_eq!(p.args, ["/bin/sh", "-c", "echo $GREETING"]);
        assert_eq!(
            p.env,
            [
                "GREETING=hi".to_string(),
                format!("PATH={DEFAULT_PATH}"),
                "HOME=/root".into()
            ]
        );
        assert_eq!(p.cwd, Path::new("/work"));
        assert_eq!((p.uid, p.gid, p.groups.clone()), (0, 0, vec![]));
        // A command replaces Cmd; the Entrypoint stays.
        let p = process_of(&config(None), t.path(), Some(vec!["exit 3".into()]), "img").unwrap();
        assert_eq!(p.args, ["/bin/sh", "-c", "exit 3"]);
        // A user by name: its uid, gid, home and supplementary groups from the image.
        let p = process_of(&config(Some("app")), t.path(), None, "img").unwrap();
        assert_eq!((p.uid, p.gid, p.groups), (1000, 1001, vec![29, 44]));
        assert!(p.env.contains(&"HOME=/home/app".to_string()));
        // A group by name or number; a uid the image does not list runs with gid 0.
        let p = process_of(&config(Some("app:audio")), t.path(), None, "img").unwrap();
        assert_eq!((p.uid, p.gid), (1000, 29));
        let p = process_of(&config(Some("4242")), t.path(), None, "img").unwrap();
        assert_eq!(
            (p.uid, p.gid, p.env.last().unwrap().as_str()),
            (4242, 0, "HOME=/")
        );
        let p = process_of(&config(Some("1000:7")), t.path(), None, "img").unwrap();
        assert_eq!((p.uid, p.gid), (1000, 7));
    }

    #[test]
    fn what_the_image_cannot_give_is_named() {
        let t = image_root();
        let e = process_of(&config(Some("nobody")), t.path(), None, "oci:x")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("image oci:x: config.User") && e.contains("\"nobody\""),
            "{e}"
        );
        let e = process_of(&config(Some("app:staff")), t.path(), None, "oci:x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"staff\" is not a group"), "{e}");
        let mut c = config(None);
        c.entrypoint = None;
        c.cmd = None;
        let e = process_of(&c, t.path(), None, "oci:x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither Entrypoint nor Cmd"), "{e}");
        let mut c = config(None);
        c.working_dir = Some("work".into());
        let e = process_of(&c, t.path(), None, "oci:x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.WorkingDir"), "{e}");
    }
}
