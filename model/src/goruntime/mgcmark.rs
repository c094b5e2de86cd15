//! Marking, after `src/runtime/mgcmark.go`: mark progress by the background workers, and
//! `gcAssistAlloc`, the scan work an allocating goroutine owes while the heap grows during a
//! cycle (stolen from the workers' credit first, then done itself, or a wait for the cycle's
//! end when no work is left).

use super::mgc::{GcPhase, MallocOutcome};
use super::mgcpacer::GC_OVER_ASSIST_WORK;
use super::proc::Runtime;
use super::runtime2::{Gi, WaitReason};
use super::Ev;
use costream_sim::{Kernel, SimDuration, SimTime};

impl Runtime {
    /// `gcAssistAlloc`: allocation during marking is paid for in scan work, first stolen from
    /// the background workers' credit, then done by the goroutine itself (at least 64 KiB of
    /// work per assist). Skipped while the CPU limiter is on.
    pub(super) fn gc_assist_alloc(
        &mut self,
        k: &mut Kernel<Ev>,
        g: Gi,
        bytes: u64,
    ) -> MallocOutcome {
        let epoch = self.gc.epoch;
        let gr = &mut self.allgs[g as usize];
        if gr.assist_epoch != epoch {
            gr.assist_epoch = epoch;
            gr.assist_bytes = 0;
        }
        gr.assist_bytes -= bytes as i64;
        if gr.assist_bytes >= 0 || self.gc.limiter.limiting() {
            return MallocOutcome::Done;
        }
        let now = self.local_now;
        self.gc_advance(now);
        // gcController.update → revise: the assist ratio follows heapLive and the work done.
        let mem = self.gc.mem_stats(self.stacks_bytes());
        self.gc.pacer.heap_live = self.gc.heap_live;
        self.gc.pacer.scan_work = self.gc.scan_done as u64;
        self.gc.pacer.revise(&mem);
        let (wpb, bpw) = (
            self.gc.pacer.assist_work_per_byte,
            self.gc.pacer.assist_bytes_per_work,
        );
        let mut debt = -self.allgs[g as usize].assist_bytes;
        let mut work = (wpb * debt as f64) as u64;
        if work < GC_OVER_ASSIST_WORK {
            work = GC_OVER_ASSIST_WORK;
            debt = (bpw * work as f64) as i64;
        }
        // Steal background credit first.
        let stolen = self.gc.bg_credit.min(work as f64);
        self.gc.bg_credit -= stolen;
        let mut credit = (stolen * bpw) as i64;
        let mut left = work as f64 - stolen;
        let mut t = SimDuration::ZERO;
        if left > 0.0 {
            let avail = (self.gc.scan_total - self.gc.scan_done).max(0.0);
            let done = left.min(avail);
            self.gc.scan_done += done;
            t = SimDuration::from_nanos((done / self.gc.rate_per_ns()).ceil() as u64);
            credit += (done * bpw) as i64;
            left -= done;
        }
        let gr = &mut self.allgs[g as usize];
        gr.assist_bytes += if stolen >= work as f64 { debt } else { credit };
        gr.assist_time += t;
        self.gc.t_assist += t.as_nanos();
        self.gc.limiter.assist_pool += t.as_nanos();
        self.gc.stats.assist_total += t;
        self.gc_reschedule_mark_done(k, now);
        if left > 0.0 && self.allgs[g as usize].assist_bytes < 0 {
            // Out of work: wait for the cycle to end ("GC assist wait").
            self.gc.stats.assist_waits += 1;
            self.gc.assist_waiters.push(g);
            return MallocOutcome::AssistWait;
        }
        if t.is_zero() {
            MallocOutcome::Done
        } else {
            MallocOutcome::Compute(t)
        }
    }

    /// Integrates mark progress by the running workers up to `now` (frozen time excluded).
    pub(crate) fn gc_advance(&mut self, now: SimTime) {
        if self.gc.phase != GcPhase::Mark || now <= self.gc.last_adv {
            return;
        }
        let frozen = self
            .frozen_at(now)
            .total()
            .saturating_sub(self.frozen_at(self.gc.last_adv).total());
        let dt = now
            .saturating_since(self.gc.last_adv)
            .as_nanos()
            .saturating_sub(frozen) as f64;
        let w = self.gc.rate_per_ns() * self.gc.markers as f64 * dt;
        self.gc.scan_done += w;
        self.gc.bg_credit += w;
        self.gc.last_adv = now;
    }

    /// Parks the running goroutine in "GC assist wait".
    pub(crate) fn park_assist_wait(&mut self, g: Gi) {
        self.gopark(g, WaitReason::GcAssistWait);
    }
}
