//! Where the time goes: each goroutine's time by status and wait reason, what it lost to
//! stop-the-world pauses and stalls, and each P's time running goroutines, in the scheduler and
//! running GC mark workers. Go's nearest books are `casgstatus`'s scheduling-latency samples
//! (runtime/proc.go) and `cpuStats` (runtime/mstats.go); the model keeps more, for its reports.
//! `set_status` (`casgstatus`) calls `account_status` on every status change.

use super::proc::Runtime;
use super::runtime2::{GStatus, Gi, Pi};
use costream_sim::{SimDuration, SimTime};

/// Where a P's time went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PMode {
    Idle,
    /// In `schedule`/`findRunnable`, spinning or not.
    Sched,
    /// Running a goroutine.
    User,
    /// Running a GC mark worker.
    Gc,
}

impl Runtime {
    /// The books `casgstatus` keeps in the model: `g`'s time in its old status up to `at`, by
    /// status (`StateTimes`), wait reason and census class; and, while it was runnable or
    /// running, the time it lost to stop-the-world pauses and stalls.
    pub(super) fn account_status(&mut self, g: Gi, st: GStatus, at: SimTime) {
        let fz = self.frozen_at(at);
        let gr = &mut self.allgs[g as usize];
        if matches!(gr.status, GStatus::Runnable | GStatus::Running) {
            gr.lost_gc += SimDuration::from_nanos(fz.gc.saturating_sub(gr.freeze_mark.gc));
            gr.lost_stall += SimDuration::from_nanos(fz.stall.saturating_sub(gr.freeze_mark.stall));
        }
        gr.freeze_mark = fz;
        let (old, since, system) = (gr.status, gr.since, gr.system);
        if !system {
            self.census_state(g, old, since, at);
            self.census_phase(g, old, st, since, at);
        }
        let gr = &mut self.allgs[g as usize];
        let d = at.saturating_since(gr.since);
        match gr.status {
            GStatus::Runnable => gr.times.runnable += d,
            GStatus::Running | GStatus::Syscall => gr.times.running += d,
            GStatus::Waiting => {
                gr.times.waiting += d;
                if !system {
                    let r = gr.waitreason as usize;
                    self.stats.wait_by_reason[r] += d;
                }
            }
            GStatus::Idle | GStatus::Dead => {}
        }
    }

    /// The P's time so far goes to its current mode (less frozen time); from `at` it is in `mode`.
    pub(super) fn p_mode(&mut self, p: Pi, mode: PMode, at: SimTime) {
        let at = at.max(self.allp[p as usize].mode_since);
        let fz = self.frozen_at(at).total();
        let pp = &mut self.allp[p as usize];
        let frozen = SimDuration::from_nanos(fz.saturating_sub(pp.mode_freeze));
        let d = (at - pp.mode_since).saturating_sub(frozen);
        match pp.mode {
            PMode::User => pp.time_user += d,
            PMode::Sched => pp.time_sched += d,
            PMode::Gc => pp.time_gc += d,
            PMode::Idle => {}
        }
        if matches!(pp.mode, PMode::User | PMode::Gc) {
            super::census::add_buckets(&mut pp.busy, pp.mode_since, at, |b, ns| *b += ns);
        }
        pp.mode = mode;
        pp.mode_since = at;
        pp.mode_freeze = fz;
    }

    /// The P now runs a GC mark worker.
    pub(super) fn p_mode_gc(&mut self, p: Pi, at: SimTime) {
        self.p_mode(p, PMode::Gc, at);
    }

    /// The P is back in the scheduler (a worker stopped).
    pub(super) fn p_mode_sched(&mut self, p: Pi, at: SimTime) {
        self.p_mode(p, PMode::Sched, at);
    }

    /// What goroutine `g` has lost so far to GC pauses, stalls and assists.
    pub(crate) fn lost_time_of(&self, g: Gi) -> super::runtime2::LostTime {
        let gr = &self.allgs[g as usize];
        let (mut gc, mut stall) = (gr.lost_gc, gr.lost_stall);
        if matches!(gr.status, GStatus::Runnable | GStatus::Running) {
            let fz = self.frozen_at(self.local_now.max(gr.since));
            gc += SimDuration::from_nanos(fz.gc.saturating_sub(gr.freeze_mark.gc));
            stall += SimDuration::from_nanos(fz.stall.saturating_sub(gr.freeze_mark.stall));
        }
        super::runtime2::LostTime {
            gc_stw: gc,
            stall,
            assist: gr.assist_time,
        }
    }

    /// Closes the books at the end of a run so per-P and per-G times cover the whole run.
    pub(crate) fn settle(&mut self, at: SimTime) {
        for p in 0..self.allp.len() as Pi {
            let m = self.allp[p as usize].mode;
            self.p_mode(p, m, at);
        }
        for g in 0..self.allgs.len() as Gi {
            let st = self.allgs[g as usize].status;
            if st != GStatus::Dead {
                // Books only: the status does not change (casgstatus would refuse x → x).
                self.account_status(g, st, at);
                let gr = &mut self.allgs[g as usize];
                gr.since = gr.since.max(at);
            }
        }
    }

    /// A P that `procresize` just created starts its books now.
    pub(super) fn p_added(&mut self, p: Pi, at: SimTime) {
        let fz = self.frozen_at(at).total();
        let pp = &mut self.allp[p as usize];
        pp.mode_since = at;
        pp.mode_freeze = fz;
    }

    /// CPU time the host has used up to `now`: every P's goroutine, scheduler and GC time,
    /// including the interval in progress, less frozen time.
    pub fn cpu_used_ns(&self, now: SimTime) -> u64 {
        let fz = self.frozen_at(now).total();
        self.allp
            .iter()
            .map(|pp| {
                let done = pp.time_user + pp.time_sched + pp.time_gc;
                let open = if pp.mode == PMode::Idle || now <= pp.mode_since {
                    0
                } else {
                    now.saturating_since(pp.mode_since)
                        .as_nanos()
                        .saturating_sub(fz.saturating_sub(pp.mode_freeze))
                };
                done.as_nanos() + open
            })
            .sum()
    }
}
