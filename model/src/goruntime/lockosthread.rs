//! `runtime.LockOSThread` and the locked-M hand-offs of `proc.go`: `dolockOSThread`,
//! `stoplockedm`, `startlockedm`, and `handoffp` as `stoplockedm` uses it.
//!
//! Ms are counted, not simulated one by one (see `proc.rs`), so a locked M is represented by
//! its effect on the P that runs its G: every wake-up of a locked G costs two thread switches.
//! `startlockedm` hands the finding M's P to the locked M (one futex wake-up, `m_wake`) and
//! stops the finder; when the locked G blocks again, `stoplockedm` hands the P to another M
//! (`handoffp` → `startm`, a second `m_wake`) before anything else can run on it.

use super::proc::Runtime;
use super::runtime2::{Gi, PAction, Pi};
use super::Ev;
use costream_sim::{Kernel, SimTime};

impl Runtime {
    /// `LockOSThread` → `dolockOSThread`: wires the running G to its M. Nested calls count
    /// (`m.lockedExt`); the first one takes a thread out of the shared pool for good, and the
    /// first in the process also starts the template thread (`startTemplateThread`).
    pub(crate) fn lock_os_thread(&mut self, g: Gi) {
        let gr = &mut self.allgs[g as usize];
        gr.locked_ext = gr.locked_ext.saturating_add(1);
        if gr.locked_ext == 1 {
            if !self.template_thread {
                self.template_thread = true;
                self.stats.threads += 1;
            }
            // The P leaves this M at the G's next block; `startm` creates the thread it then
            // needs if no M is idle.
            self.stats.locked_ms += 1;
        }
    }

    /// `UnlockOSThread` → `dounlockOSThread`: the G runs on any M again once the count is 0.
    pub(crate) fn unlock_os_thread(&mut self, g: Gi) {
        let gr = &mut self.allgs[g as usize];
        if gr.locked_ext > 0 {
            gr.locked_ext -= 1;
            if gr.locked_ext == 0 {
                self.stats.locked_ms -= 1;
            }
        }
    }

    /// True when `g` is wired to an M (`gp.lockedm != 0`).
    #[inline]
    pub(crate) fn is_locked(&self, g: Gi) -> bool {
        self.allgs[g as usize].locked_ext > 0
    }

    /// The G that ran on `p` has stopped (parked, yielded, was preempted or exited). An
    /// unlocked G's M goes on to `schedule()`; a locked G's M calls `stoplockedm` (or, on exit,
    /// `mexit`): it releases the P and `handoffp` starts another M for it if there is work or
    /// nobody spins, else the P goes idle through `schedule`'s own checks.
    pub(crate) fn g_stopped(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        g: Gi,
        exited: bool,
        at: SimTime,
    ) {
        if !self.is_locked(g) {
            self.post_step(k, p, PAction::Schedule, at);
            return;
        }
        if exited {
            // A goroutine that exits while locked takes its thread with it (`mexit`).
            self.allgs[g as usize].locked_ext = 0;
            self.stats.locked_ms -= 1;
        }
        self.stats.lockedm_handoffs += 1;
        let pp = &self.allp[p as usize];
        let has_work = !pp.runq.is_empty()
            || pp.runnext.is_some()
            || !self.global.is_empty()
            || !pp.timers.is_empty();
        let nobody_spins = self.nmspinning() + self.npidle() == 0;
        if has_work || nobody_spins {
            // handoffp → startm: another thread has to wake before the P runs again.
            self.startm(k, p, false, at);
        } else {
            self.post_step(k, p, PAction::Schedule, at);
        }
    }

    /// `startlockedm`: the M that found locked `g` passes its P to `g`'s M and stops (`stopm`).
    /// Returns when `g` can start running: after its M's wake-up.
    pub(crate) fn startlockedm(&mut self, g: Gi, at: SimTime) -> SimTime {
        debug_assert!(self.is_locked(g));
        self.stats.lockedm_handoffs += 1;
        // stopm's mput, without the checkdead of `Runtime::stopm`: this M's P goes on running.
        self.nmidle += 1;
        at + self.cfg.costs.m_wake
    }
}
