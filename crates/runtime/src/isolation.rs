//! Which namespaces a container has of its own, and the config checks that keep lcrun from
//! acting on the caller's namespaces instead of the container's.
//!
//! A namespace the spec lists without a path is **new**; one with a path is **joined**, unless
//! the path is the runtime's own namespace of that type (`/proc/1/ns/uts` from the host), which
//! counts as the caller's; a type the spec does not list is **inherited** from the caller (the
//! OCI spec's rule). Whatever the container does in an inherited namespace, it does to the
//! caller's — the host's, when lcrun runs from a host shell. So:
//!
//! | the config asks for | unless the container has its own | else |
//! |---|---|---|
//! | `mounts`, `linux.devices`, `maskedPaths`, `readonlyPaths`, `root.readonly`, `rootfsPropagation` | mount namespace | refused (the root is entered with `chroot`, as runc does) |
//! | `hostname`, `domainname` | UTS namespace | refused |
//! | `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*` sysctls | IPC namespace | refused |
//! | `net.*` sysctls | network namespace | refused |
//! | `kernel.domainname` sysctl | UTS namespace | refused |
//! | `user.*` sysctls | user namespace | refused |
//! | any other sysctl | — | refused: it is not namespaced, it would change the host |
//! | `uidMappings`, `gidMappings` | new user namespace | refused |
//!
//! In a mount namespace joined by path the spec's mounts are made (the config says it is the
//! container's), but the root is entered with chroot: a `pivot_root` there would move the root
//! of every process in that namespace ([`RootEntry`]). Without a mount namespace of its own a
//! container sees the caller's mounts, and lcrun mounts nothing.
//!
//! The cgroup is always the container's own (`linux.cgroupsPath` cannot hold `..` nor name a
//! cgroup that already exists: the cgroup layer refuses both); without a cgroup namespace it
//! is bound read-only into the container's `/sys/fs/cgroup`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Result, RuntimeError};

/// How the container has a namespace of one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ns {
    /// Made for the container (listed without a path).
    New,
    /// An existing namespace other than the caller's, joined by path.
    Joined,
    /// The caller's: not listed, or listed with a path to the caller's own.
    Caller,
}

/// The container's namespaces by type.
#[derive(Clone, Debug)]
pub struct Namespaces(HashMap<LinuxNamespaceType, Ns>);

/// The name of a namespace type under `/proc/<pid>/ns/`.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Whether `path` is this process's own namespace of type `t` (same device and inode).
pub fn is_callers(t: LinuxNamespaceType, path: &Path) -> bool {
    let own = Path::new("/proc/self/ns").join(proc_name(t));
    match (std::fs::metadata(path), std::fs::metadata(own)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl Namespaces {
    /// The namespaces of `spec` as seen from this process.
    pub fn of(spec: &Spec) -> Self {
        Self::with(spec, is_callers)
    }

    /// The namespaces of `spec`, with `callers` telling whether a path is the caller's own.
    pub fn with(spec: &Spec, callers: impl Fn(LinuxNamespaceType, &Path) -> bool) -> Self {
        let mut map = HashMap::new();
        for ns in spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .into_iter()
            .flatten()
        {
            let how = match ns.path() {
                None => Ns::New,
                Some(p) if callers(ns.typ(), p) => Ns::Caller,
                Some(_) => Ns::Joined,
            };
            map.insert(ns.typ(), how);
        }
        Namespaces(map)
    }

    /// How the container has namespaces of type `t`.
    pub fn get(&self, t: LinuxNamespaceType) -> Ns {
        self.0.get(&t).copied().unwrap_or(Ns::Caller)
    }

    /// Whether the container has a namespace of type `t` that is not the caller's.
    pub fn own(&self, t: LinuxNamespaceType) -> bool {
        self.get(t) != Ns::Caller
    }

    /// How the container's root is entered, from its mount namespace.
    pub fn root_entry(&self) -> RootEntry {
        match self.get(LinuxNamespaceType::Mount) {
            Ns::New => RootEntry::Pivot,
            Ns::Joined => RootEntry::MountAndChroot,
            Ns::Caller => RootEntry::Chroot,
        }
    }
}

/// How the init enters the container's root, decided by the runtime (inside the init, a joined
/// namespace can no longer be told from the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RootEntry {
    /// A mount namespace made for the container: the spec's mounts, then `pivot_root`.
    Pivot,
    /// A mount namespace joined by path: the spec's mounts there (it is the container's by the
    /// config), then chroot, since `pivot_root` would move the root of every other process in
    /// that namespace.
    MountAndChroot,
    /// The caller's mount namespace: nothing mounted, chroot.
    Chroot,
}

fn refuse(origin: &str, field: impl Into<String>, reason: impl Into<String>) -> RuntimeError {
    RuntimeError::Spec {
        file: origin.to_string(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// Refuses what would act on the caller's namespaces (the table in the module doc).
pub fn check(spec: &Spec, ns: &Namespaces, origin: &str) -> Result<()> {
    if !ns.own(LinuxNamespaceType::Mount) {
        check_no_mounts(spec, origin)?;
    }
    check_namespaced(spec, ns, origin)
}

/// Refuses every field that would mount (the first row of the table in the module doc).
pub fn check_no_mounts(spec: &Spec, origin: &str) -> Result<()> {
    let linux = spec.linux().as_ref();
    {
        let why = |what: &str| {
            format!(
                "{what}, but the container has no mount namespace of its own, so it would \
                 change the caller's mounts (lcrun enters the root with chroot and mounts \
                 nothing there); add {{\"type\": \"mount\"}} to linux.namespaces, or remove it"
            )
        };
        if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(refuse(origin, "mounts", why("mounts are listed")));
        }
        if let Some(l) = linux {
            let lists = [
                ("linux.devices", l.devices().as_ref().map(Vec::len)),
                ("linux.maskedPaths", l.masked_paths().as_ref().map(Vec::len)),
                (
                    "linux.readonlyPaths",
                    l.readonly_paths().as_ref().map(Vec::len),
                ),
            ];
            for (field, n) in lists {
                if n.unwrap_or(0) > 0 {
                    return Err(refuse(origin, field, why("paths are listed")));
                }
            }
            if l.rootfs_propagation().is_some() {
                return Err(refuse(origin, "linux.rootfsPropagation", why("it is set")));
            }
        }
        if spec
            .root()
            .as_ref()
            .is_some_and(|r| r.readonly() == Some(true))
        {
            return Err(refuse(origin, "root.readonly", why("it is true")));
        }
    }
    Ok(())
}

/// The rows of the table in the module doc past the first.
fn check_namespaced(spec: &Spec, ns: &Namespaces, origin: &str) -> Result<()> {
    let linux = spec.linux().as_ref();
    if !ns.own(LinuxNamespaceType::Uts) {
        for (field, set) in [
            ("hostname", spec.hostname().is_some()),
            ("domainname", spec.domainname().is_some()),
        ] {
            if set {
                return Err(refuse(
                    origin,
                    field,
                    "the container has no UTS namespace of its own, so this would rename the \
                     caller's host; add {\"type\": \"uts\"} to linux.namespaces, or remove it",
                ));
            }
        }
    }
    if let Some(l) = linux {
        let new_user = ns.get(LinuxNamespaceType::User) == Ns::New;
        for field in ["linux.uidMappings", "linux.gidMappings"] {
            let maps = if field == "linux.uidMappings" {
                l.uid_mappings()
            } else {
                l.gid_mappings()
            };
            if !new_user && maps.as_ref().is_some_and(|m| !m.is_empty()) {
                return Err(refuse(
                    origin,
                    field,
                    "mappings are given but the container gets no new user namespace; add \
                     {\"type\": \"user\"} without a path to linux.namespaces, or remove them",
                ));
            }
        }
        for key in l.sysctl().iter().flat_map(|m| m.keys()) {
            check_sysctl(key, ns, origin)?;
        }
    }
    Ok(())
}

/// runc's rules for which sysctls a container may set: only those its own namespaces scope.
fn check_sysctl(key: &str, ns: &Namespaces, origin: &str) -> Result<()> {
    let name = key.replace('/', ".");
    let field = format!("linux.sysctl.{key}");
    let sep = if key.contains('/') { '/' } else { '.' };
    if key.split(sep).any(|c| c.is_empty() || c == "..") {
        return Err(refuse(
            origin,
            &field,
            "not a sysctl name: give it as net.ipv4.ip_forward or net/ipv4/ip_forward",
        ));
    }
    let need = |t: LinuxNamespaceType, what: &str| -> Result<()> {
        if ns.own(t) {
            Ok(())
        } else {
            Err(refuse(
                origin,
                &field,
                format!(
                    "{name} belongs to the {what} namespace, and the container has none of its \
                     own: this would change the caller's; add {{\"type\": \"{}\"}} to \
                     linux.namespaces, or remove the sysctl",
                    what.to_lowercase()
                ),
            ))
        }
    };
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&name.as_str()) || name.starts_with("fs.mqueue.") {
        return need(LinuxNamespaceType::Ipc, "IPC");
    }
    if name.starts_with("net.") {
        return need(LinuxNamespaceType::Network, "network");
    }
    if name == "kernel.domainname" {
        return need(LinuxNamespaceType::Uts, "UTS");
    }
    if name == "kernel.hostname" {
        return Err(refuse(
            origin,
            &field,
            "set the hostname with the spec's hostname field instead",
        ));
    }
    if name.starts_with("user.") {
        return need(LinuxNamespaceType::User, "user");
    }
    Err(refuse(
        origin,
        &field,
        format!(
            "{name} is not scoped by any namespace: writing it would change the host for every \
             process; remove it (set it on the host if that is what you want)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Spec {
        let mut base = serde_json::to_value(Spec::default()).unwrap();
        json_patch(&mut base, v);
        serde_json::from_value(base).unwrap()
    }

    fn json_patch(base: &mut serde_json::Value, v: serde_json::Value) {
        match (base, v) {
            (serde_json::Value::Object(b), serde_json::Value::Object(v)) => {
                for (k, x) in v {
                    json_patch(b.entry(k).or_insert(serde_json::Value::Null), x);
                }
            }
            (b, v) => *b = v,
        }
    }

    fn field_of(spec: &Spec, callers: &[&str]) -> Option<String> {
        let ns = Namespaces::with(spec, |_, p| callers.iter().any(|c| Path::new(c) == p));
        match check(spec, &ns, "config.json") {
            Ok(()) => None,
            Err(RuntimeError::Spec { field, .. }) => Some(field),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_default_spec_has_its_own_namespaces_and_passes() {
        let s = Spec::default();
        let ns = Namespaces::of(&s);
        assert_eq!(ns.root_entry(), RootEntry::Pivot);
        assert_eq!(ns.get(LinuxNamespaceType::User), Ns::Caller);
        assert_eq!(field_of(&s, &[]), None);
    }

    #[test]
    fn without_a_mount_namespace_nothing_may_be_mounted() {
        let no_mnt = json!({"hostname": null, "linux": {"namespaces": [{"type": "pid"}]}});
        // Spec::default has mounts, masked and read-only paths: mounts are named first.
        assert_eq!(
            field_of(&spec(no_mnt.clone()), &[]).as_deref(),
            Some("mounts")
        );
        let mut v = no_mnt.clone();
        json_patch(
            &mut v,
            json!({"mounts": [], "linux": {"maskedPaths": [], "readonlyPaths": ["/proc/sys"]}}),
        );
        assert_eq!(
            field_of(&spec(v.clone()), &[]).as_deref(),
            Some("linux.readonlyPaths")
        );
        json_patch(
            &mut v,
            json!({"linux": {"readonlyPaths": [], "rootfsPropagation": "shared"}}),
        );
        assert_eq!(
            field_of(&spec(v.clone()), &[]).as_deref(),
            Some("linux.rootfsPropagation")
        );
        json_patch(
            &mut v,
            json!({"linux": {"rootfsPropagation": null}, "root": {"path": "rootfs", "readonly": true}}),
        );
        assert_eq!(
            field_of(&spec(v.clone()), &[]).as_deref(),
            Some("root.readonly")
        );
        json_patch(
            &mut v,
            json!({"root": {"path": "rootfs", "readonly": false}}),
        );
        assert_eq!(field_of(&spec(v.clone()), &[]), None);
        // Another mount namespace joined by path is the container's: its mounts go there, and
        // the root is entered by chroot. The caller's own joined by path is the caller's.
        let joined = json!({"hostname": null, "linux": {"namespaces": [{"type": "mount", "path": "/proc/77/ns/mnt"}]}});
        let s = spec(joined);
        let ns = Namespaces::of(&s);
        assert_eq!(ns.get(LinuxNamespaceType::Mount), Ns::Joined);
        assert_eq!(ns.root_entry(), RootEntry::MountAndChroot);
        assert_eq!(field_of(&s, &[]), None);
        assert_eq!(
            field_of(&s, &["/proc/77/ns/mnt"]).as_deref(),
            Some("mounts")
        );
    }

    #[test]
    fn hostname_needs_a_uts_namespace_that_is_not_the_callers() {
        let v = json!({"hostname": "box", "linux": {"namespaces": [{"type": "mount"}]}});
        assert_eq!(field_of(&spec(v), &[]).as_deref(), Some("hostname"));
        let v = json!({"hostname": "box", "linux": {"namespaces": [{"type": "mount"}, {"type": "uts", "path": "/proc/1/ns/uts"}]}});
        assert_eq!(
            field_of(&spec(v.clone()), &["/proc/1/ns/uts"]).as_deref(),
            Some("hostname")
        );
        assert_eq!(
            field_of(&spec(v), &[]),
            None,
            "another UTS namespace joined by path"
        );
    }

    #[test]
    fn sysctls_follow_runcs_namespace_rules() {
        let with = |ns: serde_json::Value, key: &str| {
            let v = json!({"hostname": null, "linux": {"namespaces": ns, "sysctl": {key: "1"}}});
            field_of(&spec(v), &[])
        };
        let mnt = json!([{"type": "mount"}]);
        let all = json!([{"type": "mount"}, {"type": "ipc"}, {"type": "network"}, {"type": "uts"}, {"type": "user"}]);
        for key in [
            "kernel.shmmax",
            "fs.mqueue.msg_max",
            "net.ipv4.ip_forward",
            "net/ipv4/ip_forward",
            "kernel.domainname",
            "user.max_user_namespaces",
        ] {
            assert_eq!(
                with(mnt.clone(), key),
                Some(format!("linux.sysctl.{key}")),
                "{key}"
            );
            assert_eq!(with(all.clone(), key), None, "{key}");
        }
        for key in [
            "vm.overcommit_memory",
            "kernel.pid_max",
            "kernel.hostname",
            "net/../../../etc/shadow",
            "net..x",
        ] {
            assert_eq!(
                with(all.clone(), key),
                Some(format!("linux.sysctl.{key}")),
                "{key}"
            );
        }
    }

    #[test]
    fn id_maps_need_a_new_user_namespace() {
        let v = json!({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}});
        // Spec::default lists no user namespace.
        assert_eq!(
            field_of(&spec(v), &[]).as_deref(),
            Some("linux.uidMappings")
        );
    }

    #[test]
    fn the_callers_own_namespace_is_recognised_by_inode() {
        assert!(is_callers(
            LinuxNamespaceType::Uts,
            Path::new("/proc/self/ns/uts")
        ));
        assert!(!is_callers(
            LinuxNamespaceType::Uts,
            Path::new("/proc/self/ns/nonexistent")
        ));
    }
}
