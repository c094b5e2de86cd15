//! Stopping the world, after `stopTheWorldWithSema`/`startTheWorldWithSema` (proc.go), and
//! whole-host stalls (VM pauses, cgroup throttling) that stop it from outside.
//!
//! A freeze covers `[start, until)`: no goroutine runs on any P. A goroutine computing when the
//! world stops owes the rest of its compute after it restarts; any P step, netpoll wake-up or
//! sysmon tick due inside the freeze happens at its end, in its original order. A cumulative
//! freeze clock per cause lets goroutines and Ps subtract frozen time in O(1): the time a
//! runnable or running goroutine loses is attributed to the GC or to the stall.

use super::proc::Runtime;
use super::runtime2::{PAction, PStatus};
use super::Ev;
use costream_sim::{Kernel, SimDuration, SimTime};

/// Why the world stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FreezeCause {
    /// A GC stop-the-world phase (sweep or mark termination).
    #[default]
    GcStw,
    /// A stall that is not the GC: VM pause, noisy neighbour, cgroup throttling.
    Stall,
    /// `stopTheWorldGC(stwGOMAXPROCS)`: a `GOMAXPROCS` change.
    Procresize,
}

/// Cumulative frozen time, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrozenTime {
    /// ns stopped for GC stop-the-world phases.
    pub gc: u64,
    /// ns stopped by stalls (VM pauses, cgroup throttling).
    pub stall: u64,
    /// ns stopped for `GOMAXPROCS` changes.
    pub other: u64,
}

impl FrozenTime {
    /// Frozen ns over every cause.
    pub fn total(self) -> u64 {
        self.gc + self.stall + self.other
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FreezeState {
    start: SimTime,
    until: SimTime,
    cause: FreezeCause,
    /// Frozen time of every interval before the current one.
    before: FrozenTime,
}

impl Runtime {
    /// The end of the freeze covering `now`, if any.
    #[inline]
    pub(crate) fn frozen_until(&self, now: SimTime) -> Option<SimTime> {
        let f = &self.freeze;
        (now >= f.start && now < f.until).then_some(f.until)
    }

    /// Frozen time before `t` (for `t` at or after the current freeze's start).
    #[inline]
    pub(crate) fn frozen_at(&self, t: SimTime) -> FrozenTime {
        let f = &self.freeze;
        let inside = t
            .max(f.start)
            .min(f.until)
            .saturating_since(f.start)
            .as_nanos();
        let mut c = f.before;
        match f.cause {
            FreezeCause::GcStw => c.gc += inside,
            FreezeCause::Stall => c.stall += inside,
            FreezeCause::Procresize => c.other += inside,
        }
        c
    }

    /// Stops the world from `from` for `dur`. Freezes never overlap: one that starts inside
    /// another is pushed to its end.
    pub(crate) fn freeze_world(
        &mut self,
        k: &mut Kernel<Ev>,
        from: SimTime,
        dur: SimDuration,
        cause: FreezeCause,
    ) -> SimTime {
        let from = from.max(self.freeze.until);
        let before = self.frozen_at(from);
        self.stats.freezes.push((from, dur, cause));
        self.freeze = FreezeState {
            start: from,
            until: from + dur,
            cause,
            before,
        };
        for p in 0..self.allp.len() as u32 {
            let pp = &self.allp[p as usize];
            if pp.computing {
                if let PAction::Run(g) = pp.action {
                    // A step its M still owes from before (waiting for a CPU) is due now.
                    let end = (self.allgs[g as usize].compute_end + dur).max(k.now());
                    self.allgs[g as usize].compute_end = end;
                    self.post_step(k, p, PAction::Run(g), end);
                }
            }
        }
        match cause {
            FreezeCause::GcStw => self.stats.stw_freezes += 1,
            FreezeCause::Stall => self.stats.stall_freezes += 1,
            FreezeCause::Procresize => {}
        }
        from + dur
    }

    /// Latency for the stopping M to bring every running P to a safe point: a preemption
    /// signal if any other P is running a goroutine (`preemptall`), nothing otherwise.
    pub(crate) fn stop_latency(&self) -> SimDuration {
        let me = self.cur.map(|(p, _)| p);
        let running = self.allp.iter().enumerate().any(|(i, pp)| {
            // A P in a system call is taken without a signal.
            Some(i as u32) != me && pp.curg.is_some() && pp.status != PStatus::Syscall
        });
        if running {
            self.cfg.costs.preempt_signal
        } else {
            SimDuration::ZERO
        }
    }
}

impl Runtime {
    /// Total time the world was stopped by stalls that are not the GC.
    pub fn stall_time(&self) -> SimDuration {
        SimDuration::from_nanos(self.frozen_at(SimTime::MAX).stall)
    }
}
