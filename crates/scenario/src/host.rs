//! What the rest of the host did while a scenario ran: every CPU's busy and idle time
//! (`/proc/stat`), limitcheck's own CPU time, host-wide pressure stall information
//! (`/proc/pressure/{cpu,memory}`) and available memory (`/proc/meminfo`), sampled with the
//! containers. From these and the containers' own samples, [`load`] works out, for any window
//! and set of CPUs, how much CPU time went to processes that are not limitcheck's: the
//! *foreign load* a verdict must know about before it calls a shortfall a failed limit.
//! And whether its CPUs are emulated ([`emulated`]), which bounds set by the tick depend on.

pub use limitcheck_record::{HostSample, Load};
use procfs::{Current, CurrentSI};

use crate::sample::Sample;

/// Whether this host's CPUs are emulated: QEMU's TCG (what `limitcheck vm` boots when KVM
/// cannot) names itself in the CPUID hypervisor leaf, "TCGTCGTCGTCG" at 0x40000000, behind
/// the hypervisor bit (CPUID.1:ECX[31]); KVM says "KVMKVMKVM", bare metal has no such leaf.
/// Under emulation a timer tick comes late (10 ms and more, when the host is busy), so
/// bounds set by the tick hold only on native CPUs (`only = "native"`).
pub fn emulated() -> bool {
    static EMULATED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *EMULATED.get_or_init(hypervisor_is_tcg)
}

/// The kernel's tick (1/HZ), ns: the resolution of CLOCK_MONOTONIC_COARSE, which advances
/// once a tick (4 ms at Debian's HZ=250); 0 if the clock says nothing.
pub fn tick_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_getres writes one timespec, which outlives the call.
    if unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut t) } != 0 {
        return 0;
    }
    (t.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec.max(0) as u64)
}

#[cfg(target_arch = "x86_64")]
fn hypervisor_is_tcg() -> bool {
    use std::arch::x86_64::__cpuid;
    if __cpuid(1).ecx & (1 << 31) == 0 {
        return false;
    }
    let h = __cpuid(0x4000_0000);
    let mut sig = [0u8; 12];
    sig[..4].copy_from_slice(&h.ebx.to_le_bytes());
    sig[4..8].copy_from_slice(&h.ecx.to_le_bytes());
    sig[8..].copy_from_slice(&h.edx.to_le_bytes());
    &sig == b"TCGTCGTCGTCG"
}

#[cfg(not(target_arch = "x86_64"))]
fn hypervisor_is_tcg() -> bool {
    false
}

/// Reads the host now.
pub fn read(t: f64) -> HostSample {
    let mut h = HostSample {
        t,
        ..Default::default()
    };
    if let Ok(ks) = procfs::KernelStats::current() {
        let tps = procfs::ticks_per_second();
        let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000) / tps.max(1);
        for c in &ks.cpu_time {
            let busy = c.user
                + c.nice
                + c.system
                + c.irq.unwrap_or(0)
                + c.softirq.unwrap_or(0)
                + c.steal.unwrap_or(0);
            h.busy_ns.push(ns(busy));
            h.idle_ns.push(ns(c.idle + c.iowait.unwrap_or(0)));
        }
    }
    let ru = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF);
    if let Ok(ru) = ru {
        let us = |tv: nix::sys::time::TimeVal| tv.tv_sec() as u64 * 1_000_000 + tv.tv_usec() as u64;
        h.self_ns = (us(ru.user_time()) + us(ru.system_time())) * 1000;
    }
    h.cpu_pressure_us = procfs::CpuPressure::current().ok().map(|p| p.some.total);
    h.memory_pressure_us = procfs::MemoryPressure::current().ok().map(|p| p.some.total);
    h.mem_available = procfs::Meminfo::current()
        .ok()
        .and_then(|m| m.mem_available);
    h
}

fn at_or_before(host: &[HostSample], t: f64) -> Option<usize> {
    host.iter().rposition(|s| s.t <= t + 1e-9)
}

/// The host over `[a, b]` on `cpus` (empty: all), given every container's samples (all of
/// limitcheck's CPU time is subtracted, whichever container it went to). `cpusets` gives each
/// container's CPUs (empty: all), to share out its time when no per-CPU figure was sampled;
/// it has one entry per container, and samples of higher indexes (groups, whose time is their
/// containers') are not counted again.
/// `None` when fewer than two host samples fall around the window.
pub fn load(
    host: &[HostSample],
    samples: &[Sample],
    cpusets: &[Vec<u32>],
    cpus: &[u32],
    a: f64,
    b: f64,
) -> Option<Load> {
    let i = at_or_before(host, a).or_else(|| host.iter().position(|s| s.t >= a))?;
    let j = at_or_before(host, b)?;
    let (h0, h1) = (&host[i], &host[j]);
    let dt = h1.t - h0.t;
    if j <= i || dt <= 0.0 || h0.busy_ns.len() != h1.busy_ns.len() || h1.busy_ns.is_empty() {
        return None;
    }
    let n = h1.busy_ns.len();
    let set: Vec<u32> = if cpus.is_empty() {
        (0..n as u32).collect()
    } else {
        cpus.iter().copied().filter(|&c| (c as usize) < n).collect()
    };
    if set.is_empty() {
        return None;
    }
    let d = |v0: &[u64], v1: &[u64]| -> f64 {
        set.iter()
            .map(|&c| v1[c as usize].saturating_sub(v0[c as usize]) as f64)
            .sum::<f64>()
    };
    let busy = d(&h0.busy_ns, &h1.busy_ns);
    let idle = d(&h0.idle_ns, &h1.idle_ns);
    // limitcheck itself: shared out over the CPUs in proportion.
    let own_self = h1.self_ns.saturating_sub(h0.self_ns) as f64 * set.len() as f64 / n as f64;
    // Its containers: per CPU where sampled (v1), else each container's time shared out over
    // its cpuset.
    let mut own = 0.0;
    for c in 0..cpusets.len() {
        let rows: Vec<&Sample> = samples.iter().filter(|s| s.container == c).collect();
        let pick = |t: f64| -> Option<&Sample> {
            rows.iter()
                .rev()
                .find(|s| s.t <= t + 1e-9 && s.cpu_ns.is_some())
                .or_else(|| rows.iter().find(|s| s.cpu_ns.is_some()))
                .copied()
        };
        let (Some(s0), Some(s1)) = (pick(h0.t), pick(h1.t)) else {
            continue;
        };
        match (&s0.per_cpu_ns, &s1.per_cpu_ns) {
            (Some(p0), Some(p1)) if p0.len() == p1.len() && p1.len() >= n => {
                own += set
                    .iter()
                    .map(|&x| p1[x as usize].saturating_sub(p0[x as usize]) as f64)
                    .sum::<f64>();
            }
            _ => {
                let total = s1
                    .cpu_ns
                    .unwrap_or(0)
                    .saturating_sub(s0.cpu_ns.unwrap_or(0)) as f64;
                let its: Vec<u32> = match cpusets.get(c) {
                    Some(v) if !v.is_empty() => v.clone(),
                    _ => (0..n as u32).collect(),
                };
                let shared = its.iter().filter(|x| set.contains(x)).count();
                own += total * shared as f64 / its.len().max(1) as f64;
            }
        }
    }
    let rate = |ns: f64| ns / 1e9 / dt;
    let share = |f: fn(&HostSample) -> Option<u64>| match (f(h0), f(h1)) {
        (Some(x), Some(y)) => Some((y.saturating_sub(x) as f64 / 1e6 / dt).min(1.0)),
        _ => None,
    };
    Some(Load {
        cpus: set,
        foreign_cpus: rate((busy - own - own_self).max(0.0)),
        idle_cpus: rate(idle),
        self_cpus: rate(own_self),
        idle_unthrottled_cpus: None,
        cpu_pressure: share(|h| h.cpu_pressure_us),
        memory_pressure: share(|h| h.memory_pressure_us),
        mem_available_min: host[i..=j].iter().filter_map(|h| h.mem_available).min(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tick the coarse clock's resolution gives is the step that clock takes while a CPU
    /// spins (timekeeping advances it a tick's worth of clock cycles at a time).
    #[test]
    fn the_tick_is_the_coarse_clocks_step() {
        let tick = tick_ns();
        assert!((1_000_000..=10_000_000).contains(&tick), "{tick}");
        let now = || {
            let mut t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: one timespec, written by the call.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut t) };
            t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128
        };
        let mut last = now();
        let mut steps = Vec::new();
        while steps.len() < 10 {
            let t = now();
            if t != last {
                steps.push(t - last);
                last = t;
            }
        }
        let least = *steps.iter().min().unwrap() as f64;
        assert!(
            (least / tick as f64 - 1.0).abs() < 0.02,
            "steps {steps:?}, tick {tick}"
        );
    }

    /// Two CPUs for 2 s: CPU 0 fully busy (a container's 0.5 CPU and 0.5 of something else),
    /// CPU 1 idle.
    #[test]
    fn foreign_load_is_busy_time_less_limitcheck_s() {
        let host: Vec<HostSample> = (0..=20)
            .map(|i| {
                let t = i as f64 * 0.1;
                let ns = (t * 1e9) as u64;
                HostSample {
                    t,
                    busy_ns: vec![ns, 0],
                    idle_ns: vec![0, ns],
                    self_ns: 0,
                    cpu_pressure_us: Some((t * 0.3e6) as u64),
                    ..Default::default()
                }
            })
            .collect();
        let samples: Vec<Sample> = (0..=20)
            .map(|i| {
                let t = i as f64 * 0.1;
                Sample {
                    t,
                    cpu_ns: Some((t * 0.5e9) as u64),
                    ..Default::default()
                }
            })
            .collect();
        let l = load(&host, &samples, &[vec![0]], &[], 0.5, 1.5).unwrap();
        assert!((l.foreign_cpus - 0.5).abs() < 1e-6, "{l:?}");
        assert!((l.idle_cpus - 1.0).abs() < 1e-6, "{l:?}");
        assert!((l.cpu_pressure.unwrap() - 0.3).abs() < 1e-6, "{l:?}");
        let on1 = load(&host, &samples, &[vec![0]], &[1], 0.5, 1.5).unwrap();
        assert!(on1.foreign_cpus.abs() < 1e-6 && (on1.idle_cpus - 1.0).abs() < 1e-6);
        assert!(load(&host, &samples, &[], &[], 3.0, 4.0).is_none());
    }

    #[test]
    fn this_host_reads() {
        let h = read(0.0);
        assert!(
            !h.busy_ns.is_empty() && h.busy_ns.len() == h.idle_ns.len(),
            "{h:?}"
        );
        assert!(h.mem_available.is_some());
    }
}
