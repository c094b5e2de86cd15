//! The garbage collector's cycle in the scheduler, after `src/runtime/mgc.go` (`gcStart`,
//! `gcMarkDone`, `gcMarkTermination`, the background mark workers) and `mgcpacer.go`
//! (`findRunnableGCWorker`). Marking and assists are in `mgcmark.rs` (mgcmark.go), sweeping in
//! `mgcsweep.rs` (mgcsweep.go), `mallocgc` in `malloc.rs` (malloc.go).
//!
//! A cycle: the allocation that crosses the trigger calls `gcStart`; the world stops for sweep
//! termination (pools are cleared); marking runs concurrently, on dedicated workers (whole Ps),
//! a fractional worker, idle workers (Ps that would otherwise idle) and assists charged to
//! allocating goroutines; when the scan work is done the world stops for mark termination, the
//! pacer closes the cycle and sets the next trigger, and sweeping is paid by allocations.
//!
//! Mark work is bytes to scan: the live (retained) heap at the start plus stacks and globals;
//! objects allocated during marking are black and need no scanning (Go's hybrid barrier).

use super::mgclimit::CpuLimiter;
use super::mgcpacer::{GcPercent, MemStats, Pacer};
use super::proc::Runtime;
use super::runtime2::{Gi, PAction, Pi, Yield};
use super::stw::FreezeCause;
use super::trace::TraceEv;
use super::Ev;
use costream_sim::{Kernel, SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::cell::Cell;
use std::rc::Rc;

/// GC model parameters (`[server.gc]`). GOGC and GOMEMLIMIT are `server.gogc`/`gomemlimit`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    /// Model the collector; when false, allocation is counted but never collected.
    pub enabled: bool,
    /// Stack bytes per goroutine (`_StackMin` = 2 KiB; real servers' stacks grow to 8 KiB+).
    #[serde(with = "crate::units::bytes")]
    pub stack_bytes: u64,
    /// Scannable globals (`globalsScan`).
    #[serde(with = "crate::units::bytes")]
    pub globals_bytes: u64,
    /// Mapped memory that is neither heap objects nor stacks (runtime metadata, free spans):
    /// counts against GOMEMLIMIT.
    #[serde(with = "crate::units::bytes")]
    pub runtime_overhead_bytes: u64,
    /// Bytes one P scans per microsecond while marking.
    pub mark_bytes_per_us: f64,
    /// Sweep-termination stop-the-world: fixed part.
    #[serde(with = "crate::units::dur")]
    pub stw_sweep_term_base: SimDuration,
    /// Mark-termination stop-the-world: fixed part.
    #[serde(with = "crate::units::dur")]
    pub stw_mark_term_base: SimDuration,
    /// Stop-the-world work per P (flushing mcaches, per-P state).
    #[serde(with = "crate::units::dur")]
    pub stw_per_p: SimDuration,
    /// Stop-the-world work per 1,000 goroutines.
    #[serde(with = "crate::units::dur")]
    pub stw_per_1k_goroutines: SimDuration,
    /// `mallocgc` fixed cost.
    #[serde(with = "crate::units::dur")]
    pub malloc_base: SimDuration,
    /// `mallocgc` cost per KiB (zeroing).
    #[serde(with = "crate::units::dur")]
    pub malloc_per_kib: SimDuration,
    /// Sweeping one 8 KiB page.
    #[serde(with = "crate::units::dur")]
    pub sweep_per_page: SimDuration,
}

impl Default for GcConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            stack_bytes: 2048,
            globals_bytes: 128 << 10,
            runtime_overhead_bytes: 4 << 20,
            mark_bytes_per_us: 1000.0,
            stw_sweep_term_base: SimDuration::from_micros(10),
            stw_mark_term_base: SimDuration::from_micros(15),
            stw_per_p: SimDuration::from_nanos(500),
            stw_per_1k_goroutines: SimDuration::from_nanos(200),
            malloc_base: SimDuration::from_nanos(20),
            malloc_per_kib: SimDuration::from_nanos(60),
            sweep_per_page: SimDuration::from_nanos(100),
        }
    }
}

/// Go: `gcphase` (mgc.go); the model has no separate mark-termination phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcPhase {
    /// `_GCoff`: allocating and sweeping.
    Off,
    /// `_GCmark`: concurrent mark.
    Mark,
}

/// Which background mark worker a P runs (`gcMarkWorkerMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerMode {
    /// `gcMarkWorkerDedicatedMode`: the worker has the whole P until marking ends.
    Dedicated,
    /// `gcMarkWorkerFractionalMode`: runs part-time to top utilization up to the 25% goal.
    Fractional,
    /// `gcMarkWorkerIdleMode`: runs on a P that would otherwise idle; yields when work appears.
    Idle,
}

/// One completed cycle, for the heap timeline.
#[derive(Clone, Debug)]
pub struct GcCycle {
    /// When `gcStart` stopped the world for sweep termination.
    pub start: SimTime,
    /// When the world restarted after mark termination.
    pub end: SimTime,
    /// Heap trigger the cycle started at, in bytes.
    pub trigger: u64,
    /// Heap goal at the cycle's start, in bytes.
    pub goal: u64,
    /// heapLive at mark termination (the cycle's peak).
    pub peak: u64,
    /// Bytes marked live: the retained heap at the start plus everything allocated during mark.
    pub marked: u64,
    /// Sweep-termination stop-the-world pause.
    pub stw_sweep_term: SimDuration,
    /// Mark-termination stop-the-world pause.
    pub stw_mark_term: SimDuration,
    /// Time goroutines spent in mark assists during the cycle.
    pub assist: SimDuration,
    /// The GC CPU limiter was limiting (assists off) at mark termination.
    pub limiter_on: bool,
}

/// Totals a report shows.
pub struct GcStats {
    /// Every completed cycle, in order.
    pub cycles: Vec<GcCycle>,
    /// Every stop-the-world pause, in ns.
    pub stw: Histogram<u64>,
    /// Sum of every stop-the-world pause.
    pub stw_total: SimDuration,
    /// Time spent in mark assists.
    pub assist_total: SimDuration,
    /// Time background mark workers ran (dedicated, fractional and idle), excluding stops.
    pub worker_total: SimDuration,
    /// GC CPU: STW × GOMAXPROCS + workers + assists.
    pub gc_cpu: SimDuration,
    /// Largest heapLive seen, in bytes.
    pub heap_peak: u64,
    /// Bytes allocated over the run (`TotalAlloc`).
    pub total_alloc: u64,
    /// Times an assist ran out of work and parked ("GC assist wait").
    pub assist_waits: u64,
    /// `sync.Pool.Get` calls.
    pub pool_gets: u64,
    /// `sync.Pool.Get` calls served from the pool rather than by a new allocation.
    pub pool_hits: u64,
}

pub(crate) struct GcState {
    pub cfg: GcConfig,
    pub pacer: Pacer,
    pub limiter: CpuLimiter,
    pub phase: GcPhase,
    /// Bytes held live by `Live` handles (and pooled objects): scannable (pointer-bearing)
    /// and noscan (`[]byte`-like, marked but never scanned).
    pub retained: Rc<Cell<u64>>,
    pub retained_noscan: Rc<Cell<u64>>,
    pub heap_live: u64,
    pub stats: GcStats,
    // mark state
    pub mark_start: SimTime,
    pub(super) cycle_start: SimTime,
    pub(super) scan_total: f64,
    pub(super) scan_done: f64,
    pub(super) bg_credit: f64,
    pub(super) last_adv: SimTime,
    pub(super) markers: u32,
    pub dedicated_needed: u32,
    pub(super) idle_markers: u32,
    pub(super) max_idle: u32,
    pub(super) mark_gen: u32,
    /// Scannable and noscan bytes retained when marking began (the snapshot it keeps alive).
    pub(super) r0: u64,
    pub(super) r0_noscan: u64,
    pub(super) alloc_in_mark: u64,
    pub(super) stack_scan: u64,
    pub(super) trigger_at_start: u64,
    pub(super) goal_at_start: u64,
    pub(super) stw_sweep_term: SimDuration,
    pub assist_waiters: Vec<Gi>,
    pub(super) t_assist: u64,
    pub(super) t_idle: u64,
    pub(super) t_workers: u64,
    /// Cycle number the goroutines' assist credits belong to.
    pub epoch: u64,
    pub(super) sweep_pages_left: f64,
    pub(super) sweep_pages_per_byte: f64,
    /// Cached trigger (recomputed when the heap crosses it, or when pacing inputs change).
    pub(super) trigger: u64,
}

impl GcState {
    pub fn new(cfg: GcConfig, gogc: GcPercent, memory_limit: i64, procs: u32) -> Self {
        let mut pacer = Pacer::new(gogc, memory_limit);
        pacer.globals_scan = cfg.globals_bytes;
        pacer.commit(true);
        let mut s = Self {
            cfg,
            pacer,
            limiter: CpuLimiter::new(procs),
            phase: GcPhase::Off,
            retained: Rc::new(Cell::new(0)),
            retained_noscan: Rc::new(Cell::new(0)),
            heap_live: 0,
            stats: GcStats {
                cycles: Vec::new(),
                stw: Histogram::new(3).expect("histogram"),
                stw_total: SimDuration::ZERO,
                assist_total: SimDuration::ZERO,
                worker_total: SimDuration::ZERO,
                gc_cpu: SimDuration::ZERO,
                heap_peak: 0,
                total_alloc: 0,
                assist_waits: 0,
                pool_gets: 0,
                pool_hits: 0,
            },
            mark_start: SimTime::ZERO,
            cycle_start: SimTime::ZERO,
            scan_total: 0.0,
            scan_done: 0.0,
            bg_credit: 0.0,
            last_adv: SimTime::ZERO,
            markers: 0,
            dedicated_needed: 0,
            idle_markers: 0,
            max_idle: 0,
            mark_gen: 0,
            r0: 0,
            r0_noscan: 0,
            alloc_in_mark: 0,
            stack_scan: 0,
            trigger_at_start: 0,
            goal_at_start: 0,
            stw_sweep_term: SimDuration::ZERO,
            assist_waiters: Vec::new(),
            t_assist: 0,
            t_idle: 0,
            t_workers: 0,
            epoch: 1,
            sweep_pages_left: 0.0,
            sweep_pages_per_byte: 0.0,
            trigger: 0,
        };
        s.trigger = s.pacer.trigger(&s.mem_stats(0)).0;
        s
    }

    /// Memory as the memory-limit goal sees it: heap objects in use, stacks, globals and
    /// runtime overhead, with freed memory returned at once (no scavenger lag).
    pub fn mem_stats(&self, stacks: u64) -> MemStats {
        MemStats {
            heap_alloc: self.heap_live,
            heap_free: 0,
            mapped_ready: self.heap_live
                + stacks
                + self.cfg.globals_bytes
                + self.cfg.runtime_overhead_bytes,
        }
    }

    pub(super) fn rate_per_ns(&self) -> f64 {
        self.cfg.mark_bytes_per_us / 1000.0
    }
}

/// Whether an allocation stays reachable, and whether it holds pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retain {
    /// Garbage by the next cycle.
    No,
    /// Reachable, with pointers: marking scans it.
    Scan,
    /// Reachable, pointer-free (`[]byte`): marked but not scanned.
    NoScan,
}

/// What `mallocgc` asks of the allocating goroutine.
pub(crate) enum MallocOutcome {
    /// Done; the cost has been charged.
    Done,
    /// Run this much more (a mark assist, or a yield so a stop-the-world can begin).
    Compute(SimDuration),
    /// Park in "GC assist wait" until the cycle ends.
    AssistWait,
}

impl Runtime {
    pub(super) fn stacks_bytes(&self) -> u64 {
        self.live * self.gc.cfg.stack_bytes
    }

    pub(super) fn stw_work(&self, base: SimDuration) -> SimDuration {
        let c = &self.gc.cfg;
        base + c.stw_per_p * self.cfg.gomaxprocs as u64
            + c.stw_per_1k_goroutines.mul_f64(self.live as f64 / 1000.0)
    }

    pub(super) fn refresh_trigger(&mut self) {
        let mem = self.gc.mem_stats(self.stacks_bytes());
        self.gc.trigger = self.gc.pacer.trigger(&mem).0;
    }

    /// `gcStart`: finish sweeping, stop the world for sweep termination (clearing pools),
    /// plan workers (`startCycle`), enable marking and restart the world.
    pub(crate) fn gc_start(&mut self, k: &mut Kernel<Ev>, at: SimTime) {
        // The triggering goroutine finishes sweeping first.
        let at = at + self.finish_sweep();
        let d1 = self.stop_latency() + self.stw_work(self.gc.cfg.stw_sweep_term_base);
        self.limiter_update(at, false);
        let stacks = self.stacks_bytes();
        let mem = self.gc.mem_stats(stacks);
        let (trigger, goal) = self.gc.pacer.trigger(&mem);
        self.gc.trigger_at_start = trigger;
        self.gc.goal_at_start = goal;
        self.pool_cleanup();
        self.gc.pacer.max_stack_scan = stacks;
        self.gc.pacer.heap_live = self.gc.heap_live;
        self.gc.pacer.start_cycle(self.cfg.gomaxprocs, &mem);
        self.gc.phase = GcPhase::Mark;
        self.gc.epoch += 1;
        self.gc.stack_scan = stacks;
        self.gc.r0 = self.gc.retained.get();
        self.gc.r0_noscan = self.gc.retained_noscan.get();
        self.gc.alloc_in_mark = 0;
        self.gc.scan_total = (self.gc.r0 + stacks + self.gc.cfg.globals_bytes) as f64;
        self.gc.scan_done = 0.0;
        self.gc.bg_credit = 0.0;
        self.gc.markers = 0;
        self.gc.idle_markers = 0;
        self.gc.dedicated_needed = self.gc.pacer.dedicated_workers;
        self.gc.max_idle = self.cfg.gomaxprocs - self.gc.dedicated_needed;
        self.gc.t_assist = 0;
        self.gc.t_idle = 0;
        self.gc.t_workers = 0;
        for pp in &mut self.allp {
            pp.frac_time = 0;
        }
        let until = self.freeze_world(k, at, d1, FreezeCause::GcStw);
        self.record_stw(d1);
        self.gc.stw_sweep_term = d1;
        self.limiter_update(until, true);
        self.gc.cycle_start = at;
        self.gc.mark_start = until;
        self.gc.last_adv = until;
        self.trace(
            k,
            at,
            TraceEv::GcStart,
            self.gc.stats.cycles.len() as u64 + 1,
            self.gc.heap_live,
        );
        // startTheWorldWithSema → wakep: a spinning M finds a worker to run.
        self.wakep(k, until);
        self.gc_reschedule_mark_done(k, until);
    }

    fn record_stw(&mut self, d: SimDuration) {
        let _ = self.gc.stats.stw.record(d.as_nanos().max(1));
        self.gc.stats.stw_total += d;
        self.gc.stats.gc_cpu += d * self.cfg.gomaxprocs as u64;
    }

    /// `gcCPULimiter.update`; `transition` marks a stop-the-world window (all of it is GC).
    pub(crate) fn limiter_update(&mut self, now: SimTime, transition: bool) {
        let on = self.gc.limiter.limiting();
        self.gc.limiter.update(
            now.as_nanos(),
            self.cfg.gomaxprocs,
            self.gc.phase == GcPhase::Mark,
            transition,
        );
        if !on && self.gc.limiter.limiting() {
            tracing::debug!(target: "costream::gc", at_ns = now.as_nanos(), "GC CPU limiter on");
        }
    }

    /// (Re)predicts when marking finishes at the current rate.
    pub(crate) fn gc_reschedule_mark_done(&mut self, k: &mut Kernel<Ev>, now: SimTime) {
        if self.gc.phase != GcPhase::Mark {
            return;
        }
        self.gc.mark_gen = self.gc.mark_gen.wrapping_add(1);
        let left = self.gc.scan_total - self.gc.scan_done;
        let at = if left <= 0.5 {
            now
        } else if self.gc.markers == 0 {
            return;
        } else {
            now + SimDuration::from_nanos(
                (left / (self.gc.rate_per_ns() * self.gc.markers as f64)).ceil() as u64,
            )
        };
        k.schedule(
            at.max(k.now()),
            Ev::GcMarkDone {
                host: self.host,
                gen: self.gc.mark_gen,
            },
        );
    }

    /// A P starts running a background mark worker.
    pub(crate) fn start_worker(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        mode: WorkerMode,
        at: SimTime,
    ) {
        self.gc_advance(at);
        let fm = self.frozen_at(at).total();
        let pp = &mut self.allp[p as usize];
        pp.worker = Some(mode);
        pp.worker_since = at;
        pp.worker_freeze_mark = fm;
        self.gc.markers += 1;
        if mode == WorkerMode::Idle {
            self.gc.idle_markers += 1;
        }
        self.p_mode_gc(p, at);
        self.trace(k, at, TraceEv::GcWorkerStart, p as u64, mode as u64);
        self.gc_reschedule_mark_done(k, at);
    }

    /// A P stops its mark worker (`markWorkerStop`).
    pub(crate) fn stop_worker(&mut self, k: &mut Kernel<Ev>, p: Pi, at: SimTime) {
        self.gc_advance(at);
        let Some(mode) = self.allp[p as usize].worker.take() else {
            return;
        };
        let frozen = self
            .frozen_at(at)
            .total()
            .saturating_sub(self.allp[p as usize].worker_freeze_mark);
        let ran = at
            .saturating_since(self.allp[p as usize].worker_since)
            .as_nanos()
            .saturating_sub(frozen);
        self.gc.markers -= 1;
        self.gc.t_workers += ran;
        self.gc.stats.worker_total += SimDuration::from_nanos(ran);
        self.gc.stats.gc_cpu += SimDuration::from_nanos(ran);
        match mode {
            WorkerMode::Dedicated => self.gc.dedicated_needed += 1,
            WorkerMode::Fractional => self.allp[p as usize].frac_time += ran,
            WorkerMode::Idle => {
                self.gc.idle_markers -= 1;
                self.gc.t_idle += ran;
                self.gc.limiter.idle_pool += ran;
            }
        }
        self.trace(k, at, TraceEv::GcWorkerStop, p as u64, mode as u64);
        self.gc_reschedule_mark_done(k, at);
    }

    /// `findRunnableGCWorker`: a dedicated worker if one is still needed, else a fractional
    /// one if this P is behind its utilization goal. Returns how long a fractional worker runs.
    pub(crate) fn find_runnable_gc_worker(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        now: SimTime,
    ) -> Option<Option<SimDuration>> {
        if self.gc.phase != GcPhase::Mark || self.gc.scan_done >= self.gc.scan_total {
            return None;
        }
        if self.gc.limiter.needs_update(now.as_nanos()) {
            self.limiter_update(now, false);
        }
        if self.gc.dedicated_needed > 0 {
            self.gc.dedicated_needed -= 1;
            self.start_worker(k, p, WorkerMode::Dedicated, now);
            return Some(None);
        }
        let goal = self.gc.pacer.fractional_goal;
        if goal == 0.0 {
            return None;
        }
        let delta = now.saturating_since(self.gc.mark_start).as_nanos() as f64;
        let f = self.allp[p as usize].frac_time as f64;
        if delta > 0.0 && f / delta > goal {
            return None;
        }
        // Run until this P's fractional time exceeds 1.2× the goal (pollFractionalWorkerExit),
        // checking at least every 100 us.
        let g12 = 1.2 * goal;
        let t = ((g12 * delta - f) / (1.0 - g12)).max(100_000.0);
        let left = (self.gc.scan_total - self.gc.scan_done) / self.gc.rate_per_ns();
        let t = SimDuration::from_nanos(t.min(left.max(1.0)).ceil() as u64);
        self.start_worker(k, p, WorkerMode::Fractional, now);
        Some(Some(t))
    }

    /// An idle P runs an idle-priority mark worker instead of idling, while marking lasts.
    pub(crate) fn try_idle_worker(&mut self, k: &mut Kernel<Ev>, p: Pi, now: SimTime) -> bool {
        if self.gc.phase != GcPhase::Mark
            || self.gc.idle_markers >= self.gc.max_idle
            || self.gc.scan_done >= self.gc.scan_total
            || self.gc.limiter.limiting()
        {
            return false;
        }
        self.start_worker(k, p, WorkerMode::Idle, now);
        self.allp[p as usize].action = PAction::GcWorker;
        self.allp[p as usize].gen = self.allp[p as usize].gen.wrapping_add(1);
        true
    }

    /// `pollWork` seen by idle workers: work appeared, so one idle worker gives its P back.
    pub(crate) fn kick_idle_worker(&mut self, k: &mut Kernel<Ev>, at: SimTime) {
        if self.gc.idle_markers == 0 {
            return;
        }
        if let Some(p) = (0..self.allp.len() as Pi)
            .find(|&p| self.allp[p as usize].worker == Some(WorkerMode::Idle))
        {
            self.stop_worker(k, p, at);
            self.post_step(k, p, PAction::Schedule, at);
        }
    }

    /// The scan work is done: `gcMarkDone` → `gcMarkTermination`. Stop the world, close the
    /// cycle in the pacer (`endCycle`, `resetLive`, `commit`), wake assists, start sweeping.
    pub(crate) fn gc_mark_done(&mut self, k: &mut Kernel<Ev>, gen: u32) {
        if gen != self.gc.mark_gen || self.gc.phase != GcPhase::Mark {
            return;
        }
        let now = k.now();
        if let Some(until) = self.frozen_until(now) {
            k.schedule(
                until,
                Ev::GcMarkDone {
                    host: self.host,
                    gen,
                },
            );
            return;
        }
        self.gc_advance(now);
        if self.gc.scan_done + 0.5 < self.gc.scan_total {
            self.gc_reschedule_mark_done(k, now);
            return;
        }
        // Workers stop; their Ps schedule once the world restarts.
        let workers: Vec<Pi> = (0..self.allp.len() as Pi)
            .filter(|&p| self.allp[p as usize].worker.is_some())
            .collect();
        for &p in &workers {
            self.stop_worker(k, p, now);
        }
        self.limiter_update(now, false);
        let d2 = self.stop_latency() + self.stw_work(self.gc.cfg.stw_mark_term_base);
        let stacks = self.stacks_bytes();
        let mem = self.gc.mem_stats(stacks);
        let procs = self.cfg.gomaxprocs as f64;
        let mark_ns = now.saturating_since(self.gc.mark_start).as_nanos().max(1) as f64;
        let util = super::mgcpacer::GC_BACKGROUND_UTILIZATION
            + self.gc.t_assist as f64 / (mark_ns * procs);
        let idle_util = self.gc.t_idle as f64 / (mark_ns * procs);
        let peak = self.gc.heap_live;
        let marked = self.gc.r0 + self.gc.r0_noscan + self.gc.alloc_in_mark;
        let p = &mut self.gc.pacer;
        p.heap_live = peak;
        p.scan_work = self.gc.scan_done as u64;
        p.end_cycle(util, idle_util, &mem);
        p.reset_live(marked, self.gc.r0, self.gc.stack_scan);
        p.commit(false);
        self.gc.heap_live = marked;
        self.gc.phase = GcPhase::Off;
        self.gc.mark_gen = self.gc.mark_gen.wrapping_add(1);
        let until = self.freeze_world(k, now, d2, FreezeCause::GcStw);
        self.record_stw(d2);
        self.limiter_update(until, true);
        self.refresh_trigger();
        self.gc_pace_sweeper(peak, marked);
        self.gc.stats.cycles.push(GcCycle {
            start: self.gc.cycle_start,
            end: until,
            trigger: self.gc.trigger_at_start,
            goal: self.gc.goal_at_start,
            peak,
            marked,
            stw_sweep_term: self.gc.stw_sweep_term,
            stw_mark_term: d2,
            assist: SimDuration::from_nanos(self.gc.t_assist),
            limiter_on: self.gc.limiter.limiting(),
        });
        self.trace(
            k,
            now,
            TraceEv::GcEnd,
            self.gc.stats.cycles.len() as u64,
            marked,
        );
        // gcWakeAllAssists: parked assists go to the global queue.
        let waiters = std::mem::take(&mut self.gc.assist_waiters);
        self.injectglist(k, waiters, None, now);
        for p in workers {
            self.post_step(k, p, PAction::Schedule, until);
        }
        // stopTheWorldGC: a GOMAXPROCS call that waited for this cycle stops the world now.
        self.stw_gomaxprocs(k);
    }

    /// Runs the GC model's part of `schedule` (step 4): a worker, or nothing.
    /// Returns true if the P now runs a worker (its next step is posted).
    pub(crate) fn schedule_gc_worker(&mut self, k: &mut Kernel<Ev>, p: Pi, t: SimTime) -> bool {
        match self.find_runnable_gc_worker(k, p, t) {
            None => false,
            Some(None) => {
                // Dedicated: the P marks until the phase ends.
                let pp = &mut self.allp[p as usize];
                pp.action = PAction::GcWorker;
                pp.gen = pp.gen.wrapping_add(1);
                true
            }
            Some(Some(d)) => {
                self.post_step(k, p, PAction::GcWorkerEnd, t + d);
                true
            }
        }
    }

    /// A dedicated worker preempted by sysmon kicks its P's run queue to the global queue
    /// (gcBgMarkWorker: "a useful signal to kick everything out of the run queue").
    pub(crate) fn preempt_dedicated_worker(&mut self, k: &mut Kernel<Ev>, p: Pi, now: SimTime) {
        let mut moved = false;
        while let Some(g) = self.allp[p as usize]
            .runnext
            .take()
            .or_else(|| self.allp[p as usize].runq.pop_front())
        {
            self.globrunqput(g);
            moved = true;
        }
        if moved {
            self.wakep(k, now);
        }
    }

    /// `debug.SetGCPercent`.
    pub fn set_gc_percent(&mut self, v: GcPercent) -> GcPercent {
        let old = self.gc.pacer.set_gc_percent(v);
        self.gc.pacer.commit(self.gc.sweep_pages_left <= 0.0);
        self.refresh_trigger();
        old
    }

    /// `debug.SetMemoryLimit` (negative: read only).
    pub fn set_memory_limit(&mut self, v: i64) -> i64 {
        let old = self.gc.pacer.set_memory_limit(v);
        self.gc.pacer.commit(self.gc.sweep_pages_left <= 0.0);
        self.refresh_trigger();
        old
    }

    /// Goroutine stacks count towards the goal (`maxStackScan`), updated as goroutines come and go.
    pub(crate) fn gc_stacks_changed(&mut self) {
        self.gc.pacer.max_stack_scan = self.stacks_bytes();
    }

    /// The collector's totals so far.
    pub fn gc_stats(&self) -> &GcStats {
        &self.gc.stats
    }
    /// The current GC phase.
    pub fn gc_phase(&self) -> GcPhase {
        self.gc.phase
    }
    /// Go: `gcController.heapLive`: heap bytes in use; drops to the marked bytes at mark
    /// termination.
    pub fn heap_live(&self) -> u64 {
        self.gc.heap_live
    }
    /// The current heap goal and trigger.
    pub fn heap_goal_and_trigger(&self) -> (u64, u64) {
        let mem = self.gc.mem_stats(self.stacks_bytes());
        let (t, g) = self.gc.pacer.trigger(&mem);
        (g, t)
    }
    /// Go: `gcCPULimiter.limiting()`: the GC CPU limiter is on, so assists are off.
    pub fn limiter_on(&self) -> bool {
        self.gc.limiter.limiting()
    }

    /// Requests a compute yield of `d` for the running goroutine.
    pub(crate) fn request_compute(&mut self, g: Gi, d: SimDuration) {
        self.allgs[g as usize].request = Yield::Compute(d);
    }

    /// Whether P `p` is idle-marking (for tests and reports).
    pub fn p_worker(&self, p: Pi) -> Option<WorkerMode> {
        self.allp[p as usize].worker
    }
}
