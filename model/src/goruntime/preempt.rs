//! Preemption as it lands, after `src/runtime/preempt.go` (`asyncPreempt`) and proc.go's
//! `gopreempt_m`: the signal `preemptone` (sysmon.rs) sent reaches the G, which goes to the
//! global queue.

use super::accounting::PMode;
use super::proc::Runtime;
use super::runtime2::{GStatus, Gi, Pi};
use super::trace::TraceEv;
use super::Ev;
use costream_sim::{Kernel, SimTime};

impl Runtime {
    /// The signal lands: `asyncPreempt` → `gopreempt_m` → `goschedImpl`: the G goes to the
    /// global queue with the rest of its compute still owed. The request persists (`gp.preempt`):
    /// a G between two computes is stopped when it starts its next one.
    pub(crate) fn preempt(&mut self, k: &mut Kernel<Ev>, p: Pi, g: Gi) {
        let now = k.now();
        let pp = &self.allp[p as usize];
        if pp.curg != Some(g) || !self.allgs[g as usize].preempt {
            return;
        }
        if !pp.computing {
            return; // taken at its next compute (after_poll)
        }
        self.preempt_now(k, p, g, now);
    }

    /// Stops `g` (computing on `p`) now and sends it to the global queue.
    pub(super) fn preempt_now(&mut self, k: &mut Kernel<Ev>, p: Pi, g: Gi, now: SimTime) {
        let pp = &mut self.allp[p as usize];
        pp.computing = false;
        pp.preempt = false;
        pp.curg = None;
        pp.gen = pp.gen.wrapping_add(1);
        self.allgs[g as usize].preempt = false;
        let left = self.allgs[g as usize].compute_end.saturating_since(now);
        self.allgs[g as usize].compute_left = left;
        self.set_status(g, GStatus::Runnable, now);
        self.gopreempt_to_global(k, p, g, now);
        self.p_mode(p, PMode::Sched, now);
        self.wakep(k, now);
        self.g_stopped(k, p, g, false, now);
    }

    /// `gopreempt_m` → `goschedImpl`: the preempted (runnable) G goes to the global queue.
    pub(super) fn gopreempt_to_global(&mut self, k: &mut Kernel<Ev>, p: Pi, g: Gi, at: SimTime) {
        self.stats.preemptions += 1;
        let goid = self.allgs[g as usize].goid;
        self.trace(k, at, TraceEv::GoPreempt, goid, p as u64);
        self.globrunqput(g);
        self.kick_idle_worker(k, at);
    }
}
