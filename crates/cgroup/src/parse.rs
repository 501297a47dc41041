//! Pure parsers of cgroup file formats, tested on literal kernel text.
//!
//! Nothing here touches the filesystem: every function takes the text of a file and returns typed
//! values or a [`CgroupError::Parse`] naming what was expected. The live readers in
//! [`crate::v1`] and [`crate::v2`] call these and attach the path.

use std::collections::BTreeMap;

use crate::error::{CgroupError, Result};
use crate::types::{CpuList, DeviceNumber, Max, Pressure, PressureLine};

/// Parses a single unsigned integer such as `memory.usage_in_bytes` or `cpuacct.usage`.
pub fn parse_u64(what: &'static str, text: &str) -> Result<u64> {
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|e| CgroupError::parse(what, text, format!("expected an unsigned integer: {e}")))
}

/// Parses a single signed integer such as `cpu.cfs_quota_us` (`-1` is unlimited).
pub fn parse_i64(what: &'static str, text: &str) -> Result<i64> {
    let t = text.trim();
    t.parse::<i64>()
        .map_err(|e| CgroupError::parse(what, text, format!("expected an integer: {e}")))
}

/// The value cgroup v1 reports for an unlimited memory limit is `PAGE_COUNTER_MAX * PAGE_SIZE`
/// (9223372036854771712 with 4 KiB pages); anything at or above this threshold means unlimited.
pub const V1_MEMORY_UNLIMITED_THRESHOLD: u64 = 0x7FFF_FFFF_FFF0_0000;

/// Parses a limit that is either `max` (v2, v1 `pids.max`), `-1` (v1) or a number. v1 memory
/// limits report a huge page-aligned number for unlimited; it is read as [`Max::Unlimited`].
pub fn parse_max(what: &'static str, text: &str) -> Result<Max> {
    let t = text.trim();
    if t == "max" || t == "-1" {
        return Ok(Max::Unlimited);
    }
    let v = parse_u64(what, t)?;
    if v >= V1_MEMORY_UNLIMITED_THRESHOLD {
        Ok(Max::Unlimited)
    } else {
        Ok(Max::Value(v))
    }
}

/// Parses a flat keyed file, one `key value` pair a line: `cpu.stat`, `memory.stat`,
/// `memory.events`, `memory.oom_control`, `pids.events`, `cgroup.events`, `cpuacct.stat`.
///
/// ```
/// let m = limitcheck_cgroup::parse::parse_flat_keyed("cpu.stat", "nr_periods 4\nnr_throttled 2\n").unwrap();
/// assert_eq!(m["nr_throttled"], 2);
/// ```
pub fn parse_flat_keyed(what: &'static str, text: &str) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut it = line.split_whitespace();
        let (Some(key), Some(value), None) = (it.next(), it.next(), it.next()) else {
            return Err(CgroupError::parse(
                what,
                text,
                format!("line {line:?} is not `key value`"),
            ));
        };
        let value = value.parse::<u64>().map_err(|e| {
            CgroupError::parse(what, text, format!("value of {key:?} is not a number: {e}"))
        })?;
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

/// Parses v2 `cpu.max`: `"max 100000"` or `"50000 100000"` into (quota, period) in µs.
///
/// ```
/// use limitcheck_cgroup::{parse::parse_cpu_max, Max};
/// assert_eq!(parse_cpu_max("max 100000\n").unwrap(), (Max::Unlimited, 100000));
/// assert_eq!(parse_cpu_max("50000 100000").unwrap(), (Max::Value(50000), 100000));
/// ```
pub fn parse_cpu_max(text: &str) -> Result<(Max, u64)> {
    let mut it = text.split_whitespace();
    match (it.next(), it.next(), it.next()) {
        (Some(q), Some(p), None) => {
            let quota = parse_max("cpu.max", q)?;
            let period = parse_u64("cpu.max", p)?;
            Ok((quota, period))
        }
        _ => Err(CgroupError::parse(
            "cpu.max",
            text,
            "expected `QUOTA PERIOD` (QUOTA may be `max`)",
        )),
    }
}

/// Parses a PSI file (`/proc/pressure/cpu`, `<cgroup>/memory.pressure`).
///
/// ```
/// let p = limitcheck_cgroup::parse::parse_pressure(
///     "some avg10=1.50 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
/// ).unwrap();
/// assert_eq!(p.some.total_us, 1234);
/// assert_eq!(p.full.unwrap().avg10, 0.0);
/// ```
pub fn parse_pressure(text: &str) -> Result<Pressure> {
    let mut some = None;
    let mut full = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let kind = it.next().unwrap_or_default();
        let mut pl = PressureLine::default();
        let mut seen = 0;
        for field in it {
            let Some((k, v)) = field.split_once('=') else {
                return Err(CgroupError::parse(
                    "pressure",
                    text,
                    format!("field {field:?} is not key=value"),
                ));
            };
            let bad = |e: &dyn std::fmt::Display| {
                CgroupError::parse("pressure", text, format!("{k}={v}: {e}"))
            };
            match k {
                "avg10" => pl.avg10 = v.parse().map_err(|e| bad(&e))?,
                "avg60" => pl.avg60 = v.parse().map_err(|e| bad(&e))?,
                "avg300" => pl.avg300 = v.parse().map_err(|e| bad(&e))?,
                "total" => pl.total_us = v.parse().map_err(|e| bad(&e))?,
                _ => continue,
            }
            seen += 1;
        }
        if seen != 4 {
            return Err(CgroupError::parse(
                "pressure",
                text,
                format!("line {line:?} lacks avg10/avg60/avg300/total"),
            ));
        }
        match kind {
            "some" => some = Some(pl),
            "full" => full = Some(pl),
            other => {
                return Err(CgroupError::parse(
                    "pressure",
                    text,
                    format!("unknown line kind {other:?}"),
                ))
            }
        }
    }
    let some = some.ok_or_else(|| CgroupError::parse("pressure", text, "no `some` line"))?;
    Ok(Pressure { some, full })
}

/// Parses a CPU or memory-node list such as `0-3,5,7-8` (`cpuset.cpus`). Empty text is an empty
/// list.
///
/// ```
/// let l = limitcheck_cgroup::parse::parse_cpu_list("0-2,5\n").unwrap();
/// assert_eq!(l.ids(), &[0, 1, 2, 5]);
/// assert_eq!(l.to_string(), "0-2,5");
/// ```
pub fn parse_cpu_list(text: &str) -> Result<CpuList> {
    let t = text.trim();
    let mut ids = Vec::new();
    if t.is_empty() {
        return Ok(CpuList::new(ids));
    }
    for part in t.split(',') {
        let part = part.trim();
        let num = |s: &str| {
            s.parse::<u32>().map_err(|e| {
                CgroupError::parse("cpu list", text, format!("{s:?} in {part:?}: {e}"))
            })
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(CgroupError::parse(
                        "cpu list",
                        text,
                        format!("range {part:?} runs backwards"),
                    ));
                }
                ids.extend(a..=b);
            }
            None => ids.push(num(part)?),
        }
    }
    Ok(CpuList::new(ids))
}

/// Parses the pids in `cgroup.procs` or `tasks`, one a line.
pub fn parse_pids(text: &str) -> Result<Vec<i32>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse::<i32>()
                .map_err(|e| CgroupError::parse("cgroup.procs", text, format!("{l:?}: {e}")))
        })
        .collect()
}

/// Parses space-separated numbers on one line: `cpuacct.usage_percpu`.
pub fn parse_u64_list(what: &'static str, text: &str) -> Result<Vec<u64>> {
    text.split_whitespace()
        .map(|w| parse_u64(what, w))
        .collect()
}

/// Parses v1 `cpuacct.usage_all` (`cpu user system` header, then one line a CPU, in ns) into
/// per-CPU `(user_ns, system_ns)`.
pub fn parse_cpuacct_usage_all(text: &str) -> Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || (i == 0 && f[0] == "cpu") {
            continue;
        }
        if f.len() != 3 {
            return Err(CgroupError::parse(
                "cpuacct.usage_all",
                text,
                format!("line {line:?} is not `cpu user system`"),
            ));
        }
        out.push((
            parse_u64("cpuacct.usage_all", f[1])?,
            parse_u64("cpuacct.usage_all", f[2])?,
        ));
    }
    Ok(out)
}

/// Parses v1 throttle files (`blkio.throttle.read_bps_device`): `MAJ:MIN VALUE` lines.
pub fn parse_device_values(what: &'static str, text: &str) -> Result<Vec<(DeviceNumber, u64)>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(dev), Some(v)) = (it.next(), it.next()) else {
            return Err(CgroupError::parse(
                what,
                text,
                format!("line {line:?} is not `MAJ:MIN VALUE`"),
            ));
        };
        out.push((parse_device(what, text, dev)?, parse_u64(what, v)?));
    }
    Ok(out)
}

fn parse_device(what: &'static str, text: &str, dev: &str) -> Result<DeviceNumber> {
    let bad = || CgroupError::parse(what, text, format!("{dev:?} is not MAJ:MIN"));
    let (a, b) = dev.split_once(':').ok_or_else(bad)?;
    Ok(DeviceNumber {
        major: a.parse().map_err(|_| bad())?,
        minor: b.parse().map_err(|_| bad())?,
    })
}

/// Parses v2 `io.max`: `MAJ:MIN rbps=N wbps=max riops=max wiops=max` lines into a map from device
/// to the four keys (absent keys are unlimited).
pub fn parse_io_max(text: &str) -> Result<BTreeMap<DeviceNumber, BTreeMap<String, Max>>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let dev = parse_device("io.max", text, it.next().unwrap_or_default())?;
        let mut keys = BTreeMap::new();
        for kv in it {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                CgroupError::parse("io.max", text, format!("{kv:?} is not key=value"))
            })?;
            keys.insert(k.to_string(), parse_max("io.max", v)?);
        }
        out.insert(dev, keys);
    }
    Ok(out)
}

/// Parses a weight file with a `default N` line and optional `MAJ:MIN N` lines (v2 `io.weight`,
/// `io.bfq.weight`) or a bare number (v1 `blkio.weight`, `blkio.bfq.weight`); returns the default.
pub fn parse_default_weight(what: &'static str, text: &str) -> Result<u64> {
    for line in text.lines() {
        let mut it = line.split_whitespace();
        match (it.next(), it.next()) {
            (Some("default"), Some(v)) => return parse_u64(what, v),
            (Some(v), None) => return parse_u64(what, v),
            _ => {}
        }
    }
    Err(CgroupError::parse(what, text, "no `default N` line"))
}

/// One line of `/proc/self/mountinfo`, reduced to what cgroup detection needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// The root of the mount within its filesystem (`/` unless a subtree is bind-mounted, as in a
    /// container with a cgroup namespace).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// The filesystem type (`cgroup`, `cgroup2`, `tmpfs`, ...).
    pub fstype: String,
    /// The per-superblock options (for `cgroup`: `rw,cpu,cpuacct` or `rw,name=systemd`).
    pub super_options: Vec<String>,
}

/// Parses `/proc/self/mountinfo` (see proc(5)), decoding the octal escapes (`\040` for a space).
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountInfo>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().position(|f| *f == "-").ok_or_else(|| {
            CgroupError::parse("mountinfo", line, "no ` - ` separator before the fstype")
        })?;
        if sep < 6 || fields.len() < sep + 4 {
            return Err(CgroupError::parse(
                "mountinfo",
                line,
                "too few fields (expected at least 10)",
            ));
        }
        out.push(MountInfo {
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            fstype: fields[sep + 1].to_string(),
            super_options: fields[sep + 3].split(',').map(str::to_string).collect(),
        });
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).ok();
            if let Some(v) = oct.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_forms() {
        assert_eq!(parse_max("x", "max\n").unwrap(), Max::Unlimited);
        assert_eq!(parse_max("x", "-1").unwrap(), Max::Unlimited);
        assert_eq!(
            parse_max("x", "9223372036854771712\n").unwrap(),
            Max::Unlimited
        );
        assert_eq!(
            parse_max("x", "268435456\n").unwrap(),
            Max::Value(268435456)
        );
        assert!(parse_max("x", "lots").is_err());
    }

    #[test]
    fn v1_cpu_stat_with_bursts() {
        let m = parse_flat_keyed(
            "cpu.stat",
            "nr_periods 21\nnr_throttled 20\nthrottled_time 1023456789\nnr_bursts 0\nburst_time 0\n",
        )
        .unwrap();
        assert_eq!(m["nr_periods"], 21);
        assert_eq!(m["throttled_time"], 1023456789);
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn v2_cpu_stat() {
        let m = parse_flat_keyed(
            "cpu.stat",
            "usage_usec 2000123\nuser_usec 1990000\nsystem_usec 10123\ncore_sched.force_idle_usec 0\nnr_periods 20\nnr_throttled 19\nthrottled_usec 950000\nnr_bursts 0\nburst_usec 0\n",
        )
        .unwrap();
        assert_eq!(m["usage_usec"], 2000123);
        assert_eq!(m["throttled_usec"], 950000);
    }

    #[test]
    fn flat_keyed_rejects_garbage() {
        let e = parse_flat_keyed("memory.stat", "anon 12\nfile twelve\n").unwrap_err();
        assert!(e.to_string().contains("file"), "{e}");
        assert!(parse_flat_keyed("memory.stat", "anon 1 2\n").is_err());
    }

    #[test]
    fn oom_control_v1() {
        let m = parse_flat_keyed(
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .unwrap();
        assert_eq!(m["oom_kill"], 3);
    }

    #[test]
    fn cpu_max_rejects_one_field() {
        assert!(parse_cpu_max("100000").is_err());
        assert!(parse_cpu_max("max max").is_err());
    }

    #[test]
    fn pressure_some_only_and_bad() {
        let p = parse_pressure("some avg10=0.12 avg60=0.50 avg300=1.00 total=99\n").unwrap();
        assert!(p.full.is_none());
        assert_eq!(p.some.avg60, 0.5);
        assert!(parse_pressure("some avg10=0.12\n").is_err());
        assert!(parse_pressure("").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert!(parse_cpu_list("").unwrap().ids().is_empty());
        assert_eq!(parse_cpu_list("3,0-1").unwrap().ids(), &[0, 1, 3]);
        assert_eq!(parse_cpu_list("0-1,2").unwrap().to_string(), "0-2");
        assert!(parse_cpu_list("2-1").is_err());
        assert!(parse_cpu_list("a").is_err());
    }

    #[test]
    fn percpu_and_usage_all() {
        assert_eq!(
            parse_u64_list("cpuacct.usage_percpu", "5641321705 6205764498 \n").unwrap(),
            vec![5641321705, 6205764498]
        );
        let all = parse_cpuacct_usage_all("cpu user system\n0 10 20\n1 30 40\n").unwrap();
        assert_eq!(all, vec![(10, 20), (30, 40)]);
        assert!(parse_cpuacct_usage_all("cpu user system\n0 10\n").is_err());
    }

    #[test]
    fn device_values_and_io_max() {
        let v = parse_device_values("blkio.throttle.read_bps_device", "8:0 1048576\n").unwrap();
        assert_eq!(v, vec![(DeviceNumber { major: 8, minor: 0 }, 1048576)]);
        let m = parse_io_max("8:16 rbps=2097152 wbps=max riops=max wiops=120\n").unwrap();
        let d = &m[&DeviceNumber {
            major: 8,
            minor: 16,
        }];
        assert_eq!(d["rbps"], Max::Value(2097152));
        assert_eq!(d["wbps"], Max::Unlimited);
        assert_eq!(d["wiops"], Max::Value(120));
        assert!(parse_io_max("8-16 rbps=1").is_err());
    }

    #[test]
    fn weights() {
        assert_eq!(
            parse_default_weight("io.weight", "default 100\n8:0 300\n").unwrap(),
            100
        );
        assert_eq!(
            parse_default_weight("blkio.bfq.weight", "500\n").unwrap(),
            500
        );
        assert!(parse_default_weight("io.weight", "8:0 300\n").is_err());
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pids("12\n345\n").unwrap(), vec![12, 345]);
        assert!(parse_pids("").unwrap().is_empty());
        assert!(parse_pids("x\n").is_err());
    }

    #[test]
    fn mountinfo_hybrid_and_escapes() {
        let text = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
50 23 0:40 /sub /mnt/a\\040b rw - ext4 /dev/vda rw\n";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(m[1].fstype, "cgroup");
        assert_eq!(m[1].super_options, vec!["rw", "cpu", "cpuacct"]);
        assert_eq!(m[2].fstype, "cgroup2");
        assert_eq!(m[3].mount_point, "/mnt/a b");
        assert_eq!(m[3].root, "/sub");
        assert!(parse_mountinfo("1 2 3 4\n").is_err());
    }
}
