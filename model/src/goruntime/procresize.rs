//! `runtime.GOMAXPROCS(n)` at run time, after proc.go: `GOMAXPROCS` stops the world
//! (`stopTheWorldGC(stwGOMAXPROCS)`), sets `newprocs`, and `startTheWorldGC` calls
//! `procresize`, which grows `allp` (`pp.init`) or shrinks it (`pp.destroy`), resets the GC CPU
//! limiter's capacity (`gcCPULimiter.resetCapacity`), puts empty Ps on the idle list and
//! `wakep`s.
//!
//! `pp.destroy` moves the P's run queue to the *head* of the global queue (popping from the
//! tail, so the queue keeps its order) and then its `runnext` in front of it; its timers go to
//! the P that runs `procresize` (`moveTimers`). A goroutine still running on a destroyed P was
//! preempted by the stop (`gopreempt_m` with `gcwaiting` set puts it in its P's `runnext`), so
//! it is first in line after the resize. `stopTheWorldGC` waits for a GC cycle in progress:
//! a request made while marking takes effect when the cycle's mark termination is over.

use super::proc::{Runtime, P};
use super::runtime2::{GStatus, PStatus, Pi};
use super::stw::FreezeCause;
use super::Ev;
use costream_sim::{Kernel, SimTime};

impl Runtime {
    /// `runtime.GOMAXPROCS(n)` from the running goroutine: returns the previous setting and, if
    /// `n` differs, stops the world; the new Ps exist when it restarts. `n == 0` only reads.
    pub(crate) fn gomaxprocs_set(&mut self, k: &mut Kernel<Ev>, n: u32) -> u32 {
        let (caller, _) = self.current();
        let old = self.pending_procs.map_or(self.cfg.gomaxprocs, |(n, _)| n);
        if n == 0 || n == old {
            return old;
        }
        self.pending_procs = Some((n, caller));
        if self.gc_phase() == super::mgc::GcPhase::Mark {
            return old; // applied by gc_mark_done after mark termination
        }
        self.stw_gomaxprocs(k);
        old
    }

    /// The stop for a pending resize: preempt, procresize's work per P, restart.
    pub(crate) fn stw_gomaxprocs(&mut self, k: &mut Kernel<Ev>) {
        let Some((n, _)) = self.pending_procs else {
            return;
        };
        let at = self.local_now.max(k.now()) + self.stop_latency();
        let work = self.gc.cfg.stw_sweep_term_base
            + self.gc.cfg.stw_per_p * self.cfg.gomaxprocs.max(n) as u64;
        let until = self.freeze_world(k, at, work, FreezeCause::Procresize);
        k.schedule(until, Ev::Procresize { host: self.host, n });
    }

    /// `procresize(nprocs)` with the world stopped (at the end of the freeze).
    pub(crate) fn procresize(&mut self, k: &mut Kernel<Ev>, n: u32) {
        if self.gc_phase() == super::mgc::GcPhase::Mark {
            return; // a cycle began before the stop took hold: wait for its end
        }
        let Some((want, caller)) = self.pending_procs.take() else {
            return;
        };
        debug_assert_eq!(want, n);
        let now = k.now();
        let old = self.cfg.gomaxprocs;
        self.stats.procresizes += 1;
        // The stop took the Ps of Ms in system calls (`_Psyscall` → `_Pgcstop`): each call
        // keeps its G and thread, and its `exitsyscall` will find the P gone. They start idle.
        for p in 0..old {
            if self.allp[p as usize].status == PStatus::Syscall {
                self.take_p(p);
                let pp = &mut self.allp[p as usize];
                pp.gen = pp.gen.wrapping_add(1);
                self.pidle.push(p);
                self.p_mode(p, super::accounting::PMode::Idle, now);
            }
        }
        // Grow: initialise new (or previously destroyed) Ps; they start idle and empty.
        for p in old..n {
            if p as usize >= self.allp.len() {
                self.allp.push(P::new(now));
            } else {
                self.allp[p as usize].reinit(now);
            }
            self.p_added(p, now);
            self.pidle.insert(0, p);
        }
        // Shrink: the caller keeps its P if it survives, else takes P0 (`acquirep(allp[0])`).
        let here = if caller < n { caller } else { 0 };
        for d in n..old {
            self.destroy_p(k, d, here, now);
        }
        self.cfg.gomaxprocs = n;
        self.gomaxprocs_log.push((now, n));
        self.place_ps(now);
        self.gc.limiter.reset_capacity(now.as_nanos(), n);
        self.trace(
            k,
            now,
            super::trace::TraceEv::ProcResize,
            old as u64,
            n as u64,
        );
        // startTheWorldWithSema: Ps with local work get Ms; then wakep for the rest.
        for p in 0..n {
            let pp = &self.allp[p as usize];
            if pp.status == PStatus::Idle && (!pp.runq.is_empty() || pp.runnext.is_some()) {
                self.acquire_idle(p, now);
                self.startm(k, p, false, now);
            }
        }
        self.wakep(k, now);
    }

    /// `pp.destroy`: runnable Gs to the head of the global queue, timers to P `here`, `_Pdead`.
    fn destroy_p(&mut self, k: &mut Kernel<Ev>, d: Pi, here: Pi, now: SimTime) {
        // A goroutine running there was preempted by the stop and sits in runnext.
        if let Some(g) = self.allp[d as usize].curg.take() {
            let pp = &mut self.allp[d as usize];
            if pp.computing {
                let left = self.allgs[g as usize].compute_end.saturating_since(now);
                self.allgs[g as usize].compute_left = left;
            }
            pp.computing = false;
            self.set_status(g, GStatus::Runnable, now);
            self.stats.preemptions += 1;
            let mut t = now;
            self.runqput(d, g, true, &mut t);
        }
        if let Some(w) = self.allp[d as usize].worker.take() {
            // No mark workers outside the mark phase; a resize never happens during it.
            debug_assert!(false, "mark worker {w:?} on a destroyed P");
        }
        while let Some(g) = self.allp[d as usize].runq.pop_back() {
            self.global.push_front(g);
        }
        if let Some(g) = self.allp[d as usize].runnext.take() {
            self.global.push_front(g);
        }
        let mut timers = std::mem::take(&mut self.allp[d as usize].timers);
        let had_timers = !timers.is_empty();
        timers.drain_into(&mut self.allp[here as usize].timers);
        if had_timers {
            if let Some(w) = self.allp[here as usize].timers.next_when() {
                self.wake_net_poller(k, w, now);
            }
        }
        if self.allp[d as usize].spinning {
            self.allp[d as usize].spinning = false;
            self.drop_spinning();
        }
        self.pidle.retain(|&p| p != d);
        self.p_retire(d, now);
        // Its M parks (`stopm`); a caller that ran there goes on with P `here`'s M.
        let m = self.os_releasep(d);
        self.os_stopm(k, m, now);
    }
}
