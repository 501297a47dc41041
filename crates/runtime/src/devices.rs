//! The v1 devices cgroup: deny everything, then allow the spec's rules and runc's defaults.
//! (cgroup v2 controls devices with eBPF programs, which lcrun does not load yet: there the
//! rules are not enforced, and `limitcheck doctor` will say so.)

use limitcheck_cgroup::{Cgroup, Version};
use oci_spec::runtime::LinuxResources;

use crate::error::Result;

/// The devices every container may use (runc's `AllowedDevices`).
pub const DEFAULT_ALLOWED: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
];

/// Writes the device rules of `r` to a v1 devices cgroup.
pub fn apply(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    if cg.version() != Version::V1 || cg.file_path("devices.allow").is_err() {
        return Ok(());
    }
    cg.write_raw("devices.deny", "a")?;
    for d in r.devices().iter().flatten() {
        let typ = d
            .typ()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| "a".into());
        let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        let rule = if typ == "a" {
            "a".to_string()
        } else {
            format!(
                "{typ} {}:{} {}",
                num(d.major()),
                num(d.minor()),
                d.access().as_deref().unwrap_or("rwm")
            )
        };
        let file = if d.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        cg.write_raw(file, &rule)?;
    }
    for rule in DEFAULT_ALLOWED {
        cg.write_raw("devices.allow", rule)?;
    }
    Ok(())
}
