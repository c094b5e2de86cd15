//! The host's CPU topology, as `/sys/devices/system/cpu/cpu*/topology` describes it (§4.1):
//! sockets, L3 domains per socket, cores per L3 domain, hardware threads per core, and CPUs
//! taken offline at given times. Linux numbers the first hardware thread of every core first
//! (cpu = thread × cores + core), so `cpu` and `cpu + cores` are SMT siblings.
//!
//! The scheduler model uses it two ways. Ps are placed on online CPUs packed by domain (P i
//! on the i-th online CPU in (socket, L3, core, thread) order, as a thread affinity would pin
//! them), and a steal from a P in another L3 domain or socket pays for the cache lines it
//! pulls across (`steal_cross_l3_per_g`, `steal_cross_socket_per_g`). And the stall model
//! limits the process to its online CPUs, like its cgroup quota (see `stall.rs`).

use costream_sim::{SimDuration, SimTime};
use serde::Deserialize;

/// CPUs going offline (or coming back) at a time: the offline set from then on.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineChange {
    /// When the change happens, from the start of the run.
    #[serde(with = "crate::units::dur")]
    pub at: SimDuration,
    /// The CPUs offline from then on (replaces the previous set; empty: all online).
    pub offline: Vec<u32>,
}

/// `[server.topology]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topology {
    /// Sockets on the host.
    pub sockets: u32,
    /// L3 cache domains per socket.
    pub l3_per_socket: u32,
    /// Physical cores per L3 domain.
    pub cores_per_l3: u32,
    /// Hardware threads per core (2 with SMT).
    pub threads_per_core: u32,
    /// CPUs offline from the start.
    pub offline: Vec<u32>,
    /// Later changes to the offline set, in time order.
    pub changes: Vec<OfflineChange>,
}

impl Default for Topology {
    fn default() -> Self {
        Self {
            sockets: 1,
            l3_per_socket: 1,
            cores_per_l3: 4,
            threads_per_core: 1,
            offline: Vec::new(),
            changes: Vec::new(),
        }
    }
}

/// Where a CPU sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuPlace {
    /// Socket (`physical_package_id`).
    pub socket: u32,
    /// L3 domain, numbered across sockets.
    pub l3: u32,
    /// Physical core, numbered across the host (`core_id` made unique).
    pub core: u32,
    /// Which hardware thread of its core (0: the first SMT sibling).
    pub thread: u32,
}

impl Topology {
    /// Physical cores on the host.
    pub fn cores(&self) -> u32 {
        self.sockets * self.l3_per_socket * self.cores_per_l3
    }
    /// Logical CPUs on the host (cores × threads per core), online or not.
    pub fn cpus(&self) -> u32 {
        self.cores() * self.threads_per_core
    }

    /// Where logical CPU `cpu` sits, by Linux's numbering (cpu = thread × cores + core).
    pub fn place(&self, cpu: u32) -> CpuPlace {
        let cores = self.cores().max(1);
        let (thread, core) = (cpu / cores, cpu % cores);
        let l3 = core / self.cores_per_l3.max(1);
        CpuPlace {
            socket: l3 / self.l3_per_socket.max(1),
            l3,
            core,
            thread,
        }
    }

    /// The offline set in force at `t`.
    pub fn offline_at(&self, t: SimTime) -> &[u32] {
        self.changes
            .iter()
            .rev()
            .find(|c| SimTime::ZERO + c.at <= t)
            .map_or(&self.offline[..], |c| &c.offline[..])
    }

    /// Online CPUs at `t`, in (socket, L3, core, thread) order: the order Ps are placed in.
    pub fn online_packed(&self, t: SimTime) -> Vec<u32> {
        let off = self.offline_at(t);
        let mut v: Vec<u32> = (0..self.cpus()).filter(|c| !off.contains(c)).collect();
        v.sort_by_key(|&c| {
            let p = self.place(c);
            (p.socket, p.l3, p.core, p.thread)
        });
        v
    }

    /// Physical cores with at least one online thread at `t` (`core_id` clustering).
    pub fn online_cores(&self, t: SimTime) -> u32 {
        let mut cores: Vec<u32> = self
            .online_packed(t)
            .iter()
            .map(|&c| self.place(c).core)
            .collect();
        cores.dedup();
        cores.len() as u32
    }

    /// The (socket, L3) of each of `n` Ps placed on the CPUs online at `t`. With more Ps than
    /// online CPUs, Ps share CPUs round-robin.
    pub fn p_domains(&self, n: u32, t: SimTime) -> Vec<(u32, u32)> {
        let online = self.online_packed(t);
        (0..n as usize)
            .map(|i| {
                if online.is_empty() {
                    return (0, 0);
                }
                let p = self.place(online[i % online.len()]);
                (p.socket, p.l3)
            })
            .collect()
    }

    /// Checks the shape and the CPU ids; returns (field, problem, fix).
    pub fn validate(&self, duration: SimDuration) -> Result<(), (String, String, String)> {
        for (name, v, max) in [
            ("sockets", self.sockets, 64),
            ("l3_per_socket", self.l3_per_socket, 64),
            ("cores_per_l3", self.cores_per_l3, 1024),
            ("threads_per_core", self.threads_per_core, 8),
        ] {
            if v == 0 || v > max {
                return Err((
                    format!("server.topology.{name}"),
                    format!("{v} is out of range"),
                    format!("use 1 to {max}"),
                ));
            }
        }
        let n = self.cpus();
        let check = |field: String, set: &[u32]| -> Result<(), (String, String, String)> {
            if let Some(c) = set.iter().find(|&&c| c >= n) {
                return Err((
                    field,
                    format!("CPU {c} does not exist"),
                    format!("this topology has CPUs 0 to {}", n - 1),
                ));
            }
            if set.len() as u32 >= n {
                return Err((
                    field,
                    "every CPU is offline".into(),
                    "keep one online".into(),
                ));
            }
            Ok(())
        };
        check("server.topology.offline".into(), &self.offline)?;
        let mut last = SimDuration::ZERO;
        for (i, c) in self.changes.iter().enumerate() {
            check(format!("server.topology.changes[{i}].offline"), &c.offline)?;
            if c.at < last || c.at > duration {
                return Err((
                    format!("server.topology.changes[{i}].at"),
                    format!("{} is out of order or past run.duration", c.at),
                    "list changes in time order, within the run".into(),
                ));
            }
            last = c.at;
        }
        Ok(())
    }
}

/// How the GOMAXPROCS tuner (`[server.tuner]`) picks its value (`detectOptimalP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TunerPolicy {
    /// No tuner: GOMAXPROCS stays at `server.gomaxprocs`.
    #[default]
    None,
    /// Online CPUs (`runtime.NumCPU()`, what Go sets at start before Go 1.25).
    Online,
    /// Online CPUs capped by the cgroup quota, rounded up (Go 1.25's container-aware default).
    Quota,
    /// The article's `detectOptimalP`: min(online physical cores × 2, 128), capped by online CPUs
    /// and the quota, then cut to whole L3 domains so Ps share as few as possible.
    Topology,
}

/// `[server.tuner]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TunerConfig {
    /// How the tuner picks GOMAXPROCS.
    pub policy: TunerPolicy,
    /// How often it re-reads the topology (the article: every 5 s).
    #[serde(with = "crate::units::dur")]
    pub period: SimDuration,
}

impl Default for TunerConfig {
    fn default() -> Self {
        Self {
            policy: TunerPolicy::None,
            period: SimDuration::from_secs(5),
        }
    }
}

/// `detectOptimalP` for `policy` on `topo` at `t` under a cgroup quota (0: none).
pub fn detect_optimal_p(policy: TunerPolicy, topo: &Topology, quota: f64, t: SimTime) -> u32 {
    let online = topo.online_packed(t);
    let n_online = online.len() as u32;
    let quota_cap = if quota > 0.0 {
        (quota.ceil() as u32).max(1)
    } else {
        u32::MAX
    };
    match policy {
        TunerPolicy::None | TunerPolicy::Online => n_online,
        TunerPolicy::Quota => n_online.min(quota_cap),
        TunerPolicy::Topology => {
            let cap = (topo.online_cores(t) * 2)
                .min(128)
                .min(n_online)
                .min(quota_cap);
            // Whole L3 domains, filled in placement order, as long as one fits under the cap.
            let mut n = 0u32;
            let mut i = 0usize;
            while i < online.len() {
                let l3 = topo.place(online[i]).l3;
                let size = online[i..]
                    .iter()
                    .take_while(|&&c| topo.place(c).l3 == l3)
                    .count() as u32;
                if n + size > cap {
                    break;
                }
                n += size;
                i += size as usize;
            }
            if n == 0 {
                cap.max(1)
            } else {
                n
            }
        }
    }
}

impl super::proc::Runtime {
    /// Places the Ps on the CPUs online at `now` (see the module comment).
    pub(crate) fn place_ps(&mut self, now: SimTime) {
        if let Some(t) = &self.cfg.topology {
            self.p_domain = t.p_domains(self.cfg.gomaxprocs, now);
            self.stalls.online_cpus = t.online_packed(now).len() as f64;
        }
    }

    /// A steal of `n` goroutines from `victim` by `p` pays for the distance between them.
    #[inline]
    pub(crate) fn charge_steal_distance(
        &mut self,
        p: super::runtime2::Pi,
        victim: super::runtime2::Pi,
        n: u32,
        t: &mut SimTime,
    ) {
        let (Some(&a), Some(&b)) = (
            self.p_domain.get(p as usize),
            self.p_domain.get(victim as usize),
        ) else {
            return;
        };
        if a.0 != b.0 {
            self.stats.steals_cross_socket += 1;
            *t += self.cfg.costs.steal_cross_socket_per_g * n as u64;
        } else if a.1 != b.1 {
            self.stats.steals_cross_l3 += 1;
            *t += self.cfg.costs.steal_cross_l3_per_g * n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Topology {
        // 2 sockets × 2 L3 domains × 8 cores × 2 threads = 64 CPUs.
        Topology {
            sockets: 2,
            l3_per_socket: 2,
            cores_per_l3: 8,
            threads_per_core: 2,
            offline: vec![],
            changes: vec![],
        }
    }

    #[test]
    fn linux_numbering_puts_siblings_a_core_count_apart() {
        let t = host();
        assert_eq!(t.cpus(), 64);
        assert_eq!(
            t.place(0),
            CpuPlace {
                socket: 0,
                l3: 0,
                core: 0,
                thread: 0
            }
        );
        assert_eq!(t.place(32).core, 0);
        assert_eq!(t.place(32).thread, 1);
        assert_eq!(t.place(8).l3, 1);
        assert_eq!(t.place(16).socket, 1);
        assert_eq!(t.place(31).l3, 3);
        assert_eq!(t.place(47).l3, 1);
    }

    #[test]
    fn ps_are_packed_by_domain() {
        let t = host();
        let d = t.p_domains(17, SimTime::ZERO);
        assert!(d[..16].iter().all(|&x| x == (0, 0)), "{d:?}");
        assert_eq!(d[16], (0, 1));
    }

    #[test]
    fn offline_changes_apply_from_their_time() {
        let mut t = host();
        t.changes = vec![OfflineChange {
            at: SimDuration::from_secs(2),
            offline: (0..48).collect(),
        }];
        let s = |x| SimTime::ZERO + SimDuration::from_secs(x);
        assert_eq!(t.online_packed(s(1)).len(), 64);
        assert_eq!(t.online_packed(s(3)).len(), 16);
        assert_eq!(t.online_cores(s(3)), 16);
    }

    #[test]
    fn policies() {
        let t = host();
        let z = SimTime::ZERO;
        assert_eq!(detect_optimal_p(TunerPolicy::Online, &t, 16.0, z), 64);
        assert_eq!(detect_optimal_p(TunerPolicy::Quota, &t, 15.5, z), 16);
        assert_eq!(detect_optimal_p(TunerPolicy::Quota, &t, 0.0, z), 64);
        // One 16-CPU L3 domain fits under a quota of 20: 16, not 20.
        assert_eq!(detect_optimal_p(TunerPolicy::Topology, &t, 20.0, z), 16);
        // Under one domain, the cap itself.
        assert_eq!(detect_optimal_p(TunerPolicy::Topology, &t, 6.0, z), 6);
        // No quota: min(32 cores × 2, 128, 64) in whole domains.
        assert_eq!(detect_optimal_p(TunerPolicy::Topology, &t, 0.0, z), 64);
    }
}
