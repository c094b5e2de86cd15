//! What reports, plots and tests read of a runtime: the live goroutines (the goroutine
//! profile's view), their state times, each P's time and run-queue lengths (`schedtrace`).
//! Read-only; the books themselves are kept in `accounting.rs`.

use super::proc::Runtime;
use super::runtime2::{GStatus, StateTimes, WaitReason};
use costream_sim::{SimDuration, SimTime};

impl Runtime {
    /// Goroutines not yet dead.
    pub fn live_goroutines(&self) -> u64 {
        self.live
    }

    /// `(goid, status, wait reason, name)` of every live goroutine but the runtime's own, by
    /// goid (the goroutine profile's view).
    pub fn goroutines(&self) -> Vec<(u64, GStatus, WaitReason, &'static str)> {
        let mut v: Vec<_> = self
            .allgs
            .iter()
            .filter(|g| g.status != GStatus::Dead && !g.system)
            .map(|g| (g.goid, g.status, g.waitreason, g.name))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    }

    /// State times of the goroutine with this goid, if it ever existed and its slot was not reused.
    pub fn state_times(&self, goid: u64) -> Option<StateTimes> {
        self.allgs.iter().find(|g| g.goid == goid).map(|g| g.times)
    }

    /// Ps owned by an M (running, spinning or marking).
    pub(crate) fn busy_ps(&self) -> u32 {
        self.cfg.gomaxprocs - self.npidle()
    }

    /// Per P, the busy time in each census bucket.
    pub fn p_busy_buckets(&self) -> Vec<Vec<u64>> {
        self.allp.iter().map(|pp| pp.busy.clone()).collect()
    }

    /// Per-P time running GC mark workers.
    pub fn p_gc_times(&self) -> Vec<SimDuration> {
        self.allp.iter().map(|pp| pp.time_gc).collect()
    }

    /// Per-P time running goroutines and in the scheduler.
    pub fn p_times(&self) -> Vec<(SimDuration, SimDuration)> {
        self.allp
            .iter()
            .map(|pp| (pp.time_user, pp.time_sched))
            .collect()
    }

    /// Lengths of each P's local queue (with runnext) and of the global queue (`schedtrace`).
    pub fn runq_lengths(&self) -> (Vec<u32>, usize) {
        (
            self.allp
                .iter()
                .map(|pp| pp.runq.len() + pp.runnext.is_some() as u32)
                .collect(),
            self.global.len(),
        )
    }

    /// Ms spinning now (`sched.nmspinning`).
    pub fn nmspinning(&self) -> u32 {
        self.nmspinning
    }

    /// `sched.pollUntil` of the M blocked in netpoll: `None` if no M is there.
    pub(crate) fn poller_until(&self) -> Option<Option<SimTime>> {
        self.poller.map(|p| p.until)
    }
}
