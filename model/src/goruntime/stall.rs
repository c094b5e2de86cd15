//! Stalls that are not the GC: the whole host stops, as in a VM pause or a noisy neighbour
//! (scheduled, or random from the seed), or the kernel throttles it when its cgroup CPU quota
//! for the period is spent (CFS bandwidth control: `cpu.cfs_quota_us` per `cpu.cfs_period_us`).
//! They use the stop-the-world freeze, with the lost time attributed to "stall".

use super::proc::Runtime;
use super::stw::FreezeCause;
use super::Ev;
use costream_sim::{Kernel, SimDuration, SimRng, SimTime};
use serde::Deserialize;

/// One scheduled pause.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    /// When the pause begins, from the start of the run.
    #[serde(with = "crate::units::dur")]
    pub at: SimDuration,
    /// How long the host stays stopped.
    #[serde(with = "crate::units::dur")]
    pub duration: SimDuration,
}

/// `[server.stalls]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StallConfig {
    /// Pauses at fixed times.
    pub pauses: Vec<Pause>,
    /// Random pauses per second (Poisson arrivals from the seed); 0 for none.
    pub random_per_s: f64,
    /// Mean duration of a random pause (exponentially distributed).
    #[serde(with = "crate::units::dur")]
    pub random_mean: SimDuration,
    /// cgroup CPU quota in CPUs per period (1.5 = 150 ms per 100 ms); 0 for no limit.
    pub cpu_quota: f64,
    /// The quota's accounting period (`cpu.cfs_period_us`).
    #[serde(with = "crate::units::dur")]
    pub cpu_period: SimDuration,
}

impl Default for StallConfig {
    fn default() -> Self {
        Self {
            pauses: Vec::new(),
            random_per_s: 0.0,
            random_mean: SimDuration::from_millis(20),
            cpu_quota: 0.0,
            cpu_period: SimDuration::from_millis(100),
        }
    }
}

/// Which stall source an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StallKind {
    /// `pauses[i]` of [`StallConfig`] begins.
    Scheduled(u32),
    /// The next random pause begins.
    Random,
    /// A check of the cgroup's CPU use within the period that starts at `period_start`.
    Throttle {
        /// When the period began.
        period_start: SimTime,
    },
    /// `[server.topology] changes[i]`: CPUs go offline or come back.
    Topology(u32),
}

pub(crate) struct StallState {
    pub cfg: StallConfig,
    rng: SimRng,
    /// CPU used by the host when the current period began.
    period_base: u64,
    pub throttled: u64,
    /// CPUs online under `[server.topology]` (0: no topology): the process cannot use more
    /// per period than this, however many Ps it has.
    pub online_cpus: f64,
}

impl StallState {
    pub fn new(cfg: StallConfig, rng: SimRng) -> Self {
        Self {
            cfg,
            rng,
            period_base: 0,
            throttled: 0,
            online_cpus: 0.0,
        }
    }
}

impl Runtime {
    /// Schedules the configured stall sources.
    pub(crate) fn start_stalls(&mut self, k: &mut Kernel<Ev>) {
        let host = self.host;
        self.place_ps(k.now());
        for (i, p) in self.stalls.cfg.pauses.iter().enumerate() {
            k.schedule(
                SimTime::ZERO + p.at,
                Ev::Stall {
                    host,
                    kind: StallKind::Scheduled(i as u32),
                },
            );
        }
        if self.stalls.cfg.random_per_s > 0.0 {
            let gap = self.next_random_gap();
            k.schedule(
                SimTime::ZERO + gap,
                Ev::Stall {
                    host,
                    kind: StallKind::Random,
                },
            );
        }
        if let Some(t) = &self.cfg.topology {
            for i in 0..t.changes.len() {
                k.schedule(
                    SimTime::ZERO + t.changes[i].at,
                    Ev::Stall {
                        host,
                        kind: StallKind::Topology(i as u32),
                    },
                );
            }
        }
        if self.cpu_limit() > 0.0 {
            k.schedule(
                SimTime::ZERO,
                Ev::Stall {
                    host,
                    kind: StallKind::Throttle {
                        period_start: SimTime::ZERO,
                    },
                },
            );
        }
    }

    fn next_random_gap(&mut self) -> SimDuration {
        let mean_s = 1.0 / self.stalls.cfg.random_per_s;
        SimDuration::from_nanos((self.stalls.rng.exponential(mean_s) * 1e9) as u64)
    }

    /// A stall event.
    pub(crate) fn stall(&mut self, k: &mut Kernel<Ev>, kind: StallKind) {
        let now = k.now();
        let host = self.host;
        match kind {
            StallKind::Scheduled(i) => {
                let d = self.stalls.cfg.pauses[i as usize].duration;
                self.freeze_world(k, now, d, FreezeCause::Stall);
            }
            StallKind::Random => {
                let mean = self.stalls.cfg.random_mean.as_nanos() as f64;
                let d = SimDuration::from_nanos(self.stalls.rng.exponential(mean) as u64);
                let end = self.freeze_world(k, now, d, FreezeCause::Stall);
                let gap = self.next_random_gap();
                k.schedule(
                    end + gap,
                    Ev::Stall {
                        host,
                        kind: StallKind::Random,
                    },
                );
            }
            StallKind::Throttle { period_start } => self.throttle_check(k, now, period_start),
            StallKind::Topology(_) => self.place_ps(now),
        }
    }

    /// CPUs per period the process may use: its cgroup quota, and no more than the CPUs
    /// online (0: unlimited).
    pub(crate) fn cpu_limit(&self) -> f64 {
        let (q, o) = (self.stalls.cfg.cpu_quota, self.stalls.online_cpus);
        match (q > 0.0, o > 0.0) {
            (true, true) => q.min(o),
            (true, false) => q,
            (false, true) => o,
            (false, false) => 0.0,
        }
    }

    /// CFS bandwidth control: once the host's CPU use in this period reaches the quota, every
    /// thread waits for the next period. Checked when the quota would run out at the current
    /// number of busy Ps.
    fn throttle_check(&mut self, k: &mut Kernel<Ev>, now: SimTime, period_start: SimTime) {
        let host = self.host;
        let period = self.stalls.cfg.cpu_period;
        let quota = (self.cpu_limit() * period.as_nanos() as f64) as u64;
        let end = period_start + period;
        if now == period_start {
            self.stalls.period_base = self.cpu_used_ns(now);
        }
        if now >= end {
            k.schedule(
                now,
                Ev::Stall {
                    host,
                    kind: StallKind::Throttle {
                        period_start: end.max(now),
                    },
                },
            );
            return;
        }
        let used = self
            .cpu_used_ns(now)
            .saturating_sub(self.stalls.period_base);
        if used >= quota {
            self.stalls.throttled += 1;
            let until = self.freeze_world(k, now, end.saturating_since(now), FreezeCause::Stall);
            k.schedule(
                until,
                Ev::Stall {
                    host,
                    kind: StallKind::Throttle {
                        period_start: until,
                    },
                },
            );
            return;
        }
        let busy = self.busy_ps().max(1) as u64;
        let next = now + SimDuration::from_nanos(((quota - used) / busy).max(10_000));
        if next >= end {
            k.schedule(
                end,
                Ev::Stall {
                    host,
                    kind: StallKind::Throttle { period_start: end },
                },
            );
        } else {
            k.schedule(
                next,
                Ev::Stall {
                    host,
                    kind: StallKind::Throttle { period_start },
                },
            );
        }
    }

    /// Times the host was throttled by its cgroup quota.
    pub fn throttled_periods(&self) -> u64 {
        self.stalls.throttled
    }
}
