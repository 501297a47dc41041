//! Parsing what runc-style command lines give: signals, sizes, `update` flags.

use limitcheck_cgroup::{CpuList, Limit, Max};
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

use crate::error::{Result, RuntimeError};
use crate::spec::resource_limits;

fn bad(field: &str, reason: String) -> RuntimeError {
    RuntimeError::Spec {
        file: "command line".into(),
        field: field.into(),
        reason,
    }
}

/// Parses `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n)
            .map_err(|_| bad("signal", format!("{n} is not a signal number")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().map_err(|_| {
        bad(
            "signal",
            format!("{s:?} is not a signal name (e.g. TERM, KILL, 9)"),
        )
    })
}

/// Parses a byte size as [`limitcheck_cgroup::units::parse_size`] does (`268435456`, `256m`,
/// `256Mi`), or `-1` / `max` for none.
pub fn parse_size(field: &str, s: &str) -> Result<Max> {
    match s.trim() {
        "-1" | "max" => Ok(Max::Unlimited),
        t => limitcheck_cgroup::units::parse_size(t)
            .map(Max::Value)
            .map_err(|e| bad(field, format!("{e}; or -1 for no limit"))),
    }
}

/// runc `update`'s flags.
#[derive(Debug, Default, Clone)]
pub struct UpdateFlags {
    /// `--cpu-quota`.
    pub cpu_quota: Option<i64>,
    /// `--cpu-period`.
    pub cpu_period: Option<u64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
    /// `--memory`.
    pub memory: Option<String>,
    /// `--memory-swap`.
    pub memory_swap: Option<String>,
    /// `--memory-reservation`.
    pub memory_reservation: Option<String>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--blkio-weight`.
    pub blkio_weight: Option<u16>,
}

/// The limits `update` writes: those of the resources JSON (`-r`), then the flags', as runc
/// merges them. `current_period` is used when only a quota is given.
pub fn update_limits(
    resources: Option<&LinuxResources>,
    f: &UpdateFlags,
    current_period: Option<u64>,
) -> Result<Vec<Limit>> {
    let mut out = match resources {
        Some(r) => resource_limits(r, "resources JSON")?,
        None => Vec::new(),
    };
    if f.cpu_quota.is_some() || f.cpu_period.is_some() {
        let quota = match f.cpu_quota {
            Some(q) if q < -1 => {
                return Err(bad(
                    "--cpu-quota",
                    format!("{q} is negative; use -1 for no limit"),
                ))
            }
            Some(-1) | None => Max::Unlimited,
            Some(q) => Max::Value(q as u64),
        };
        out.push(Limit::CpuMax {
            quota_us: quota,
            period_us: f.cpu_period.or(current_period).unwrap_or(100_000),
        });
    }
    if let Some(s) = f.cpu_shares {
        out.push(Limit::CpuShares(s));
    }
    for (flag, v, mk) in [
        (
            "--cpuset-cpus",
            &f.cpuset_cpus,
            Limit::CpusetCpus as fn(CpuList) -> Limit,
        ),
        ("--cpuset-mems", &f.cpuset_mems, Limit::CpusetMems),
    ] {
        if let Some(t) = v {
            out.push(mk(t
                .parse()
                .map_err(|e| bad(flag, format!("{t:?}: {e}")))?));
        }
    }
    if let Some(m) = &f.memory {
        out.push(Limit::MemoryMax(parse_size("--memory", m)?));
    }
    if let Some(m) = &f.memory_swap {
        out.push(Limit::MemorySwapMax(parse_size("--memory-swap", m)?));
    }
    if let Some(m) = &f.memory_reservation {
        out.push(Limit::MemorySoftLimit(parse_size(
            "--memory-reservation",
            m,
        )?));
    }
    if let Some(p) = f.pids_limit {
        out.push(Limit::PidsMax(if p <= 0 {
            Max::Unlimited
        } else {
            Max::Value(p as u64)
        }));
    }
    if let Some(w) = f.blkio_weight {
        out.push(Limit::BlkioWeight(u64::from(w)));
    }
    if out.is_empty() {
        return Err(bad(
            "update",
            "nothing to change; give a flag such as --memory or --cpu-quota, or -r".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("m", "256m").unwrap(), Max::Value(256 << 20));
        assert_eq!(parse_size("m", "268435456").unwrap(), Max::Value(268435456));
        assert_eq!(parse_size("m", "1g").unwrap(), Max::Value(1 << 30));
        assert_eq!(parse_size("m", "-1").unwrap(), Max::Unlimited);
        assert!(parse_size("m", "lots").is_err());
        assert!(parse_size("m", "-5").is_err());
    }

    #[test]
    fn update_flags_become_limits() {
        let f = UpdateFlags {
            cpu_quota: Some(150_000),
            memory: Some("300m".into()),
            ..Default::default()
        };
        let l = update_limits(None, &f, Some(100_000)).unwrap();
        assert_eq!(
            l,
            vec![
                Limit::CpuMax {
                    quota_us: Max::Value(150_000),
                    period_us: 100_000
                },
                Limit::MemoryMax(Max::Value(300 << 20))
            ]
        );
        assert!(update_limits(None, &UpdateFlags::default(), None).is_err());
    }
}
