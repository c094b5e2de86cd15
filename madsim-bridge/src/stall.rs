//! Stalls from costream's runtime model, applied to a madsim node.
//!
//! [`StallPlan::from_model`] runs costream's Go runtime model of a process with the given
//! allocation profile, GOGC, CPU use and stall sources, and takes every stop of its world: GC
//! stop-the-world phases (the same pacer and GC cycle code as every costream run), VM pauses
//! and cgroup throttling. [`inject`] replays that schedule on a madsim node with
//! `Handle::pause`/`resume` and records what it did.

use crate::Bridge;
use costream_model::goruntime::stall::{Pause, StallConfig};
use costream_model::goruntime::{FreezeCause, GcPercent, RuntimeConfig};
use costream_model::Sim;
use costream_sim::{RunLimits, SimDuration, SimTime};
use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::sync::{Arc, Mutex};

/// The modelled process whose stalls the node suffers.
#[derive(Clone, Debug)]
pub struct Profile {
    /// GOGC (negative: off).
    pub gogc: i64,
    /// GOMAXPROCS of the modelled runtime.
    pub gomaxprocs: u32,
    /// Heap kept live for the whole run.
    pub live_bytes: u64,
    /// Allocation rate.
    pub alloc_bytes_per_s: u64,
    /// CPU the process uses per second of wall time (a cgroup quota throttles above it).
    pub cpu_per_s: SimDuration,
    /// VM pauses, random pauses and the cgroup quota.
    pub stalls: StallConfig,
}

impl Default for Profile {
    /// A media server with a 64 MiB live heap allocating 200 MB/s at GOGC 100 on 4 Ps, using
    /// one CPU, no other stall source.
    fn default() -> Self {
        Self {
            gogc: 100,
            gomaxprocs: 4,
            live_bytes: 64 << 20,
            alloc_bytes_per_s: 200_000_000,
            cpu_per_s: SimDuration::from_secs(1),
            stalls: StallConfig::default(),
        }
    }
}

impl Profile {
    /// No GC, no CPU: only the stall sources in `stalls` (for example one VM pause).
    pub fn only(stalls: StallConfig) -> Self {
        Self {
            gogc: -1,
            live_bytes: 0,
            alloc_bytes_per_s: 0,
            cpu_per_s: SimDuration::ZERO,
            stalls,
            ..Self::default()
        }
    }

    /// One pause of `duration` at `at`, and nothing else.
    pub fn one_pause(at: SimDuration, duration: SimDuration) -> Self {
        Self::only(StallConfig {
            pauses: vec![Pause { at, duration }],
            ..StallConfig::default()
        })
    }
}

/// Why a node stalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A GC stop-the-world phase.
    Gc,
    /// A VM pause, a random pause, or cgroup throttling.
    Stall,
}

/// One stall: the node runs nothing from `at` for `len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// When it starts.
    pub at: SimTime,
    /// How long the node runs nothing.
    pub len: SimDuration,
    /// What stopped it: a GC stop-the-world phase, or another stall.
    pub cause: Cause,
}

/// A schedule of stalls, in time order, not overlapping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StallPlan {
    /// The stalls, in time order.
    pub stalls: Vec<Stall>,
}

/// Model ticks per second: the modelled process allocates and computes in 1 ms slices.
const TICKS_PER_S: u64 = 1000;

impl StallPlan {
    /// Runs costream's runtime model of `profile` for `duration` with `seed` and returns every
    /// stop of its world.
    pub fn from_model(seed: u64, duration: SimDuration, profile: &Profile) -> StallPlan {
        let sim = Sim::new(seed, RunLimits::for_duration(duration));
        let h = sim.add_runtime(RuntimeConfig {
            gomaxprocs: profile.gomaxprocs,
            gogc: GcPercent::from_go(profile.gogc),
            stalls: profile.stalls.clone(),
            ..Default::default()
        });
        let p = profile.clone();
        sim.main(h, move |go| async move {
            let _live = if p.live_bytes > 0 {
                Some(go.alloc_live(p.live_bytes).await)
            } else {
                None
            };
            let tick = SimDuration::from_nanos(1_000_000_000 / TICKS_PER_S);
            // The CPU is spread over as many goroutines as it needs CPUs.
            let workers = p.cpu_per_s.as_nanos().div_ceil(1_000_000_000);
            let cpu =
                SimDuration::from_nanos(p.cpu_per_s.as_nanos() / TICKS_PER_S / workers.max(1));
            for _ in 0..workers {
                go.go("main.worker", move |go| async move {
                    let mut next = go.now();
                    loop {
                        go.compute(cpu).await;
                        next += tick;
                        go.sleep_until(next).await;
                    }
                });
            }
            let bytes = p.alloc_bytes_per_s / TICKS_PER_S;
            let mut next = go.now();
            loop {
                if bytes > 0 {
                    go.alloc(bytes).await;
                }
                next += tick;
                go.sleep_until(next).await;
            }
        });
        sim.run();
        let mut stalls: Vec<Stall> = sim
            .freezes()
            .into_iter()
            .flat_map(|(_, f)| f)
            .filter(|(_, len, _)| !len.is_zero())
            .map(|(at, len, cause)| Stall {
                at,
                len,
                cause: match cause {
                    FreezeCause::GcStw => Cause::Gc,
                    _ => Cause::Stall,
                },
            })
            .collect();
        stalls.sort_by_key(|s| s.at);
        StallPlan {
            stalls: merge(stalls),
        }
    }

    /// Total stalled time.
    pub fn total(&self) -> SimDuration {
        self.stalls.iter().fold(SimDuration::ZERO, |a, s| a + s.len)
    }
}

/// Joins overlapping or touching stalls (a pause already in progress cannot start again); the
/// joined one keeps the first one's cause.
fn merge(stalls: Vec<Stall>) -> Vec<Stall> {
    let mut out: Vec<Stall> = Vec::with_capacity(stalls.len());
    for s in stalls {
        match out.last_mut() {
            Some(l) if s.at <= l.at + l.len => {
                let end = (s.at + s.len).max(l.at + l.len);
                l.len = end.saturating_since(l.at);
            }
            _ => out.push(s),
        }
    }
    out
}

/// What [`inject`] did: each stall as applied, in madsim time since the bridge's epoch.
pub type StallLog = Arc<Mutex<Vec<Stall>>>;

/// Pauses `node` for each stall of `plan`, from a task on the calling node (which must not be
/// `node`: a paused node cannot resume itself). Returns the log it fills as it goes.
pub fn inject(bridge: &Bridge, node: NodeId, plan: StallPlan) -> StallLog {
    let log: StallLog = Arc::new(Mutex::new(Vec::new()));
    let (l, b) = (log.clone(), bridge.clone());
    madsim::task::spawn(async move {
        let h = Handle::current();
        for s in plan.stalls {
            madsim::time::sleep_until(b.instant(s.at)).await;
            let at = b.now();
            h.pause(node);
            madsim::time::sleep_until(b.instant(s.at + s.len)).await;
            h.resume(node);
            let len = b.now().saturating_since(at);
            l.lock().expect("stall log").push(Stall {
                at,
                len,
                cause: s.cause,
            });
        }
    });
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two CPUs of work under a one-CPU cgroup quota per 100 ms period: the quota runs out
    /// half way through every period and the process waits for the next one.
    #[test]
    fn a_cpu_quota_throttles_every_period() {
        let ms = SimDuration::from_millis;
        let p = Profile {
            cpu_per_s: SimDuration::from_secs(2),
            stalls: StallConfig {
                cpu_quota: 1.0,
                cpu_period: ms(100),
                ..StallConfig::default()
            },
            ..Profile::only(StallConfig::default())
        };
        let plan = StallPlan::from_model(3, ms(1_000), &p);
        let n = plan.stalls.len();
        assert!((8..=11).contains(&n), "{n} throttles: {:?}", plan.stalls);
        for s in &plan.stalls {
            assert_eq!(s.cause, Cause::Stall);
            assert!(s.len >= ms(40) && s.len <= ms(60), "{s:?}");
        }
    }

    #[test]
    fn merge_joins_overlaps() {
        let s = |at: u64, len: u64| Stall {
            at: SimTime::from_nanos(at),
            len: SimDuration::from_nanos(len),
            cause: Cause::Gc,
        };
        assert_eq!(
            merge(vec![s(0, 10), s(5, 10), s(15, 1), s(20, 5)]),
            vec![s(0, 16), s(20, 5)]
        );
    }

    #[test]
    fn gc_profile_yields_gc_pauses_and_a_vm_pause_its_own() {
        let ms = SimDuration::from_millis;
        let gc = StallPlan::from_model(7, ms(2_000), &Profile::default());
        // 200 MB/s over a 64 MiB heap at GOGC 100: a cycle about every 0.3 s, two STW
        // phases each, each well under a millisecond.
        let n = gc.stalls.iter().filter(|s| s.cause == Cause::Gc).count();
        assert!((6..=30).contains(&n), "{n} GC pauses: {:?}", gc.stalls);
        assert!(gc.stalls.iter().all(|s| s.len < ms(1)));
        assert_eq!(gc, StallPlan::from_model(7, ms(2_000), &Profile::default()));
        let vm = StallPlan::from_model(7, ms(2_000), &Profile::one_pause(ms(500), ms(300)));
        assert_eq!(
            vm.stalls,
            vec![Stall {
                at: SimTime::ZERO + ms(500),
                len: ms(300),
                cause: Cause::Stall
            }]
        );
    }
}
