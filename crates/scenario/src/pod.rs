//! Pods as the kubelet lays them out (`[[pod]]`): the QoS class of a pod from its containers'
//! requests and limits (or its own, pod-level ones, KEP-2837), and the cgroup values the
//! kubelet writes for the QoS cgroups, the pod's cgroup and each container's — pure functions
//! of the numbers, after the kubelet's own (pkg/apis/core/v1/helper/qos ComputePodQOS,
//! pkg/kubelet/cm helpers_linux.go ResourceConfigForPod, MilliCPUToShares, MilliCPUToQuota,
//! qos_container_manager_linux.go, and kuberuntime's container resources).
//!
//! The tree (cgroupfs driver): `kubepods/` holds the Guaranteed pods' cgroups and the
//! `burstable/` and `besteffort/` QoS cgroups, which hold theirs; a pod's cgroup is
//! `pod<uid>` and holds its containers' cgroups. On cgroup v2 the kubelet writes shares as
//! weights through opencontainers/cgroups' conversion, as this crate's cgroup layer does.

use limitcheck_cgroup::{Limit, Max};

/// The kubelet's smallest and largest cpu.shares (the kernel's bounds).
pub const MIN_SHARES: u64 = 2;
/// See [`MIN_SHARES`].
pub const MAX_SHARES: u64 = 262_144;
/// The CFS period the kubelet uses (without the CPUCFSQuotaPeriod gate), µs.
pub const QUOTA_PERIOD: u64 = 100_000;
/// The smallest quota the kubelet writes, µs.
pub const MIN_QUOTA: u64 = 1_000;

/// Requests and limits of CPU (milliCPU) and memory (bytes), as a container or a pod gives
/// them; a request not given is its limit (the API server's defaulting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// requests.cpu, milliCPU.
    pub cpu_request: Option<u64>,
    /// limits.cpu, milliCPU.
    pub cpu_limit: Option<u64>,
    /// requests.memory, bytes.
    pub memory_request: Option<u64>,
    /// limits.memory, bytes.
    pub memory_limit: Option<u64>,
}

impl Resources {
    /// With the API server's defaulting: a request not given is the limit.
    pub fn defaulted(self) -> Resources {
        Resources {
            cpu_request: self.cpu_request.or(self.cpu_limit),
            memory_request: self.memory_request.or(self.memory_limit),
            ..self
        }
    }

    /// Whether nothing is given.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

/// A pod's quality-of-service class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosClass {
    /// Every container (or the pod) has CPU and memory limits equal to its requests.
    Guaranteed,
    /// Anything between.
    Burstable,
    /// No request or limit anywhere.
    BestEffort,
}

impl std::fmt::Display for QosClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        })
    }
}

/// The class of one set of requests and limits (defaulted): best effort when nothing is
/// given, guaranteed when CPU and memory both have requests equal to limits, else burstable.
pub fn resource_qos(r: &Resources) -> QosClass {
    let r = r.defaulted();
    if r.is_empty() {
        return QosClass::BestEffort;
    }
    let pairs = [
        (r.cpu_request.unwrap_or(0), r.cpu_limit.unwrap_or(0)),
        (r.memory_request.unwrap_or(0), r.memory_limit.unwrap_or(0)),
    ];
    let mut qos = None;
    for (req, lim) in pairs {
        if req != lim {
            return QosClass::Burstable;
        }
        let best_effort = req == 0;
        match qos {
            None => {
                qos = Some(if best_effort {
                    QosClass::BestEffort
                } else {
                    QosClass::Guaranteed
                })
            }
            Some(q) if best_effort != (q == QosClass::BestEffort) => return QosClass::Burstable,
            Some(_) => {}
        }
    }
    qos.unwrap_or(QosClass::BestEffort)
}

/// A pod's class: its pod-level resources' when it has them, else its containers' together
/// (any burstable, or a mix, is burstable).
pub fn pod_qos(pod: Option<&Resources>, containers: &[Resources]) -> QosClass {
    if let Some(p) = pod.filter(|p| !p.is_empty()) {
        return resource_qos(p);
    }
    let mut qos = None;
    for c in containers {
        let q = resource_qos(c);
        match qos {
            _ if q == QosClass::Burstable => return q,
            None => qos = Some(q),
            Some(x) if x != q => return QosClass::Burstable,
            Some(_) => {}
        }
    }
    qos.unwrap_or(QosClass::BestEffort)
}

/// cpu.shares for `milli` milliCPU: 1024 per CPU, at least 2 (0 is 2: the kernel's least,
/// not its 1024 default), at most 262144.
pub fn milli_cpu_to_shares(milli: u64) -> u64 {
    (milli * 1024 / 1000).clamp(MIN_SHARES, MAX_SHARES)
}

/// The CFS quota for `milli` milliCPU over `period` µs, at least 1 ms.
pub fn milli_cpu_to_quota(milli: u64, period: u64) -> u64 {
    (milli * period / 1000).max(MIN_QUOTA)
}

fn quota(milli: u64) -> Limit {
    Limit::CpuMax {
        quota_us: Max::Value(milli_cpu_to_quota(milli, QUOTA_PERIOD)),
        period_us: QUOTA_PERIOD,
    }
}

/// A pod's requests and limits as its cgroup sees them: its pod-level ones where given, else
/// the sums of its containers' (defaulted); and whether every container declared a CPU and a
/// memory limit (or the pod did).
fn pod_totals(pod: Option<&Resources>, containers: &[Resources]) -> (Resources, bool, bool) {
    let cs: Vec<Resources> = containers.iter().map(|c| c.defaulted()).collect();
    let sum = |f: fn(&Resources) -> Option<u64>| -> Option<u64> {
        let v: Vec<u64> = cs.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let p = pod.map(|p| p.defaulted()).unwrap_or_default();
    let totals = Resources {
        cpu_request: p.cpu_request.or(sum(|c| c.cpu_request)),
        cpu_limit: p.cpu_limit.or(sum(|c| c.cpu_limit)),
        memory_request: p.memory_request.or(sum(|c| c.memory_request)),
        memory_limit: p.memory_limit.or(sum(|c| c.memory_limit)),
    };
    let cpu_declared = p.cpu_limit.is_some() || cs.iter().all(|c| c.cpu_limit.is_some());
    let memory_declared = p.memory_limit.is_some() || cs.iter().all(|c| c.memory_limit.is_some());
    (totals, cpu_declared, memory_declared)
}

/// The pod's cgroup values (ResourceConfigForPod): Guaranteed: shares from the CPU requests,
/// the quota of the CPU limits, the memory limit; Burstable: the shares, and the quota and the
/// memory limit only when every container (or the pod) declared that limit; BestEffort:
/// shares 2 and nothing else. `pids` is the kubelet's podPidsLimit.
pub fn pod_limits(pod: Option<&Resources>, containers: &[Resources]) -> (QosClass, Vec<Limit>) {
    let class = pod_qos(pod, containers);
    let (t, cpu_declared, memory_declared) = pod_totals(pod, containers);
    let shares = Limit::CpuShares(milli_cpu_to_shares(t.cpu_request.unwrap_or(0)));
    let mut out = vec![];
    match class {
        QosClass::BestEffort => out.push(Limit::CpuShares(MIN_SHARES)),
        QosClass::Guaranteed | QosClass::Burstable => {
            out.push(shares);
            let all = class == QosClass::Guaranteed;
            if let (true, Some(l)) = (all || cpu_declared, t.cpu_limit) {
                out.push(quota(l));
            }
            if let (true, Some(m)) = (all || memory_declared, t.memory_limit) {
                out.push(Limit::MemoryMax(Max::Value(m)));
            }
        }
    }
    (class, out)
}

/// The CPU request a pod adds to its QoS cgroup (the burstable cgroup's shares are those of
/// its pods' requests together).
pub fn pod_cpu_request(pod: Option<&Resources>, containers: &[Resources]) -> u64 {
    pod_totals(pod, containers).0.cpu_request.unwrap_or(0)
}

/// A container's cgroup values, as the kubelet hands them to the runtime: shares from its CPU
/// request (from its limit when it has none: a limit inherited from the pod), the quota of
/// its CPU limit, its memory limit; a container without a limit of its own takes the pod's
/// pod-level one.
pub fn container_limits(pod: Option<&Resources>, c: &Resources) -> Vec<Limit> {
    let c = c.defaulted();
    let pod = pod.copied().unwrap_or_default();
    let cpu_limit = c.cpu_limit.or(pod.cpu_limit);
    let memory_limit = c.memory_limit.or(pod.memory_limit);
    let shares = match (c.cpu_request, cpu_limit) {
        (None | Some(0), Some(l)) => milli_cpu_to_shares(l),
        (r, _) => milli_cpu_to_shares(r.unwrap_or(0)),
    };
    let mut out = vec![Limit::CpuShares(shares)];
    if let Some(l) = cpu_limit {
        out.push(quota(l));
    }
    if let Some(m) = memory_limit {
        out.push(Limit::MemoryMax(Max::Value(m)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu: (Option<u64>, Option<u64>), mem: (Option<u64>, Option<u64>)) -> Resources {
        Resources {
            cpu_request: cpu.0,
            cpu_limit: cpu.1,
            memory_request: mem.0,
            memory_limit: mem.1,
        }
    }
    const MI: u64 = 1 << 20;

    /// The kubelet's classes (its qos_test.go cases, in these terms).
    #[test]
    fn classes_follow_the_kubelets_rules() {
        use QosClass::*;
        let none = Resources::default();
        let g = r((None, Some(100)), (None, Some(100 * MI)));
        let g_explicit = r((Some(100), Some(100)), (Some(100 * MI), Some(100 * MI)));
        let b_cpu_only = r((Some(100), None), (None, None));
        let b_unequal = r((Some(100), Some(200)), (Some(MI), Some(MI)));
        let b_mem_missing = r((Some(100), Some(100)), (None, None));
        assert_eq!(pod_qos(None, &[none, none]), BestEffort);
        assert_eq!(pod_qos(None, &[g, g_explicit]), Guaranteed);
        assert_eq!(pod_qos(None, &[g, none]), Burstable);
        assert_eq!(pod_qos(None, &[b_cpu_only]), Burstable);
        assert_eq!(pod_qos(None, &[b_unequal, g]), Burstable);
        assert_eq!(pod_qos(None, &[b_mem_missing]), Burstable);
        // Pod-level resources decide when given, whatever the containers say.
        assert_eq!(pod_qos(Some(&g), &[none, b_cpu_only]), Guaranteed);
        assert_eq!(pod_qos(Some(&b_cpu_only), &[g]), Burstable);
        assert_eq!(pod_qos(Some(&none), &[g]), Guaranteed);
    }

    #[test]
    fn shares_and_quota_convert_as_the_kubelet_does() {
        assert_eq!(milli_cpu_to_shares(0), 2);
        assert_eq!(milli_cpu_to_shares(1), 2);
        assert_eq!(milli_cpu_to_shares(500), 512);
        assert_eq!(milli_cpu_to_shares(1000), 1024);
        assert_eq!(milli_cpu_to_shares(1_000_000), 262_144);
        assert_eq!(milli_cpu_to_quota(500, 100_000), 50_000);
        assert_eq!(milli_cpu_to_quota(5, 100_000), 1_000);
    }

    /// ResourceConfigForPod's three cases, and the burstable pod whose limits are partial.
    #[test]
    fn the_pod_cgroup_gets_what_its_class_allows() {
        let q = |m| quota(m);
        let mem = |b| Limit::MemoryMax(Max::Value(b));
        let g = r((None, Some(500)), (None, Some(64 * MI)));
        assert_eq!(
            pod_limits(None, &[g, g]),
            (
                QosClass::Guaranteed,
                vec![Limit::CpuShares(1024), q(1000), mem(128 * MI)]
            )
        );
        // One container without a CPU limit: no quota on the pod, its memory limit stays.
        let b = r((Some(250), None), (None, Some(32 * MI)));
        assert_eq!(
            pod_limits(None, &[g, b]),
            (
                QosClass::Burstable,
                vec![Limit::CpuShares(768), mem(96 * MI)]
            )
        );
        assert_eq!(
            pod_limits(None, &[Resources::default()]),
            (QosClass::BestEffort, vec![Limit::CpuShares(2)])
        );
        // Pod-level limits (KEP-2837): the pod's own, whatever its containers lack.
        let pod = r((None, Some(1500)), (None, None));
        assert_eq!(
            pod_limits(Some(&pod), &[b, Resources::default()]),
            (QosClass::Burstable, vec![Limit::CpuShares(1536), q(1500)])
        );
        assert_eq!(pod_cpu_request(Some(&pod), &[b]), 1500);
        assert_eq!(pod_cpu_request(None, &[g, b]), 750);
    }

    #[test]
    fn a_container_takes_the_pods_limit_when_it_has_none() {
        let pod = r((None, Some(1000)), (None, Some(64 * MI)));
        assert_eq!(
            container_limits(Some(&pod), &Resources::default()),
            vec![
                Limit::CpuShares(1024),
                quota(1000),
                Limit::MemoryMax(Max::Value(64 * MI))
            ]
        );
        let own = r((Some(100), Some(200)), (None, None));
        assert_eq!(
            container_limits(Some(&pod), &own),
            vec![
                Limit::CpuShares(102),
                quota(200),
                Limit::MemoryMax(Max::Value(64 * MI))
            ]
        );
        assert_eq!(
            container_limits(None, &Resources::default()),
            vec![Limit::CpuShares(2)]
        );
    }
}
