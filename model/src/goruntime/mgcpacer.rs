//! The GC pacer, after `src/runtime/mgcpacer.go` (Go 1.21+: `gcControllerState`).
//!
//! Plain arithmetic on byte counts and durations, with no executor: the runtime model feeds it
//! (and so can the madsim bridge). Names follow Go's: `commit`, `trigger`, `heapGoalInternal`,
//! `memoryLimitHeapGoal`, `startCycle`, `revise`, `endCycle`, `resetLive`.

/// `gcBackgroundUtilization` = `gcGoalUtilization`.
pub const GC_BACKGROUND_UTILIZATION: f64 = 0.25;
/// `defaultHeapMinimum`: 4 MiB at GOGC=100.
pub const DEFAULT_HEAP_MINIMUM: u64 = 4 << 20;
/// `gcOverAssistWork`: an assist does at least this much scan work.
pub const GC_OVER_ASSIST_WORK: u64 = 64 << 10;
/// `triggerRatioDen`, `minTriggerRatioNum`, `maxTriggerRatioNum`.
const TRIGGER_RATIO_DEN: u64 = 64;
const MIN_TRIGGER_RATIO_NUM: u64 = 45;
const MAX_TRIGGER_RATIO_NUM: u64 = 61;
/// `memoryLimitHeapGoalHeadroomPercent` and `memoryLimitMinHeapGoalHeadroom`.
const MEMORY_LIMIT_HEADROOM_PERCENT: u64 = 3;
const MEMORY_LIMIT_MIN_HEADROOM: u64 = 1 << 20;
/// `sweepMinHeapDistance`.
pub const SWEEP_MIN_HEAP_DISTANCE: u64 = 1 << 20;
/// Number of past cons/mark measurements kept (`lastConsMark`).
const CONS_MARK_HISTORY: usize = 4;

/// GOGC: a percentage, or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcPercent {
    /// GOGC=n: the heap may grow n% past the live heap (plus stacks and globals) before the
    /// next cycle.
    Percent(u32),
    /// GOGC=off: no growth goal; only the memory limit starts cycles.
    Off,
}

impl GcPercent {
    /// Go's `gcPercent` (−1 for off).
    pub fn as_go(self) -> i64 {
        match self {
            GcPercent::Percent(p) => p as i64,
            GcPercent::Off => -1,
        }
    }
    /// From Go's `gcPercent`: negative is off.
    pub fn from_go(v: i64) -> Self {
        if v < 0 {
            GcPercent::Off
        } else {
            GcPercent::Percent(v.min(u32::MAX as i64) as u32)
        }
    }
}

/// Memory the limiter-aware goal needs to know about (`memoryLimitHeapGoal`'s inputs).
#[derive(Clone, Copy, Debug, Default)]
pub struct MemStats {
    /// Heap object bytes in use (`totalAlloc - totalFree`).
    pub heap_alloc: u64,
    /// Free, unscavenged heap memory.
    pub heap_free: u64,
    /// Total mapped, unreleased memory (heap, stacks, runtime metadata).
    pub mapped_ready: u64,
}

/// `gcControllerState`, reduced to the pacing state.
#[derive(Clone, Debug)]
pub struct Pacer {
    /// `gcPercent`: GOGC.
    pub gc_percent: GcPercent,
    /// `memoryLimit` in bytes (`i64::MAX` is "off").
    pub memory_limit: i64,
    /// `heapMinimum`: the smallest heap goal, in bytes (4 MiB × GOGC/100).
    pub heap_minimum: u64,
    /// `heapMarked`: bytes marked by the last cycle.
    pub heap_marked: u64,
    /// `heapLive`: marked plus allocated since.
    pub heap_live: u64,
    /// `heapScan`: scannable part of heapLive.
    pub heap_scan: u64,
    /// `lastHeapScan`: heap bytes the last cycle scanned.
    pub last_heap_scan: u64,
    /// `lastStackScan`: stack bytes the last cycle scanned.
    pub last_stack_scan: u64,
    /// `maxStackScan`: allocated stack space in use.
    pub max_stack_scan: u64,
    /// `globalsScan`: scannable globals, in bytes.
    pub globals_scan: u64,
    /// `triggered`: heapLive when the cycle started (`u64::MAX` outside a cycle).
    pub triggered: u64,
    /// `consMark`: allocation rate over scan rate while marking, per unit of CPU, the max of
    /// the last few cycles' measurements; sizes the runway.
    pub cons_mark: f64,
    last_cons_mark: [f64; CONS_MARK_HISTORY],
    /// `gcPercentHeapGoal` and `runway`, set by `commit`.
    pub gc_percent_heap_goal: u64,
    /// `runway`: bytes the mutator is expected to allocate while a cycle marks; the trigger
    /// sits this far below the goal.
    pub runway: u64,
    /// `sweepDistMinTrigger`.
    pub sweep_dist_min_trigger: u64,
    /// `lastHeapGoal`: the heap goal when the last cycle ended, in bytes.
    pub last_heap_goal: u64,
    /// Scan work done this cycle (heap + stacks + globals).
    pub scan_work: u64,
    /// `assistWorkPerByte`, `assistBytesPerWork`.
    pub assist_work_per_byte: f64,
    /// `assistBytesPerWork` (1 / `assistWorkPerByte`): allocation bytes one unit of scan work
    /// pays for.
    pub assist_bytes_per_work: f64,
    /// Per-cycle worker plan from `startCycle`.
    pub dedicated_workers: u32,
    /// `fractionalUtilizationGoal`: share of each P's time a fractional worker should take
    /// (0: no fractional worker).
    pub fractional_goal: f64,
}

impl Pacer {
    /// `gcControllerState.init` + `commit`.
    pub fn new(gc_percent: GcPercent, memory_limit: i64) -> Self {
        let mut p = Self {
            gc_percent,
            memory_limit,
            heap_minimum: DEFAULT_HEAP_MINIMUM,
            heap_marked: 0,
            heap_live: 0,
            heap_scan: 0,
            last_heap_scan: 0,
            last_stack_scan: 0,
            max_stack_scan: 0,
            globals_scan: 0,
            triggered: u64::MAX,
            cons_mark: 0.0,
            last_cons_mark: [0.0; CONS_MARK_HISTORY],
            gc_percent_heap_goal: 0,
            runway: 0,
            sweep_dist_min_trigger: 0,
            last_heap_goal: 0,
            scan_work: 0,
            assist_work_per_byte: 0.0,
            assist_bytes_per_work: 0.0,
            dedicated_workers: 0,
            fractional_goal: 0.0,
        };
        p.set_gc_percent(gc_percent);
        p.commit(true);
        p
    }

    /// `setGCPercent` (commit must follow): the minimum heap scales with GOGC.
    pub fn set_gc_percent(&mut self, v: GcPercent) -> GcPercent {
        let old = self.gc_percent;
        self.gc_percent = v;
        self.heap_minimum = match v {
            GcPercent::Percent(p) => DEFAULT_HEAP_MINIMUM * p as u64 / 100,
            GcPercent::Off => 0,
        };
        old
    }

    /// `setMemoryLimit` (commit must follow); a negative value only reads.
    pub fn set_memory_limit(&mut self, v: i64) -> i64 {
        let old = self.memory_limit;
        if v >= 0 {
            self.memory_limit = v;
        }
        old
    }

    /// `commit`: the GOGC goal (at least the minimum heap) and the runway from cons/mark.
    pub fn commit(&mut self, sweep_done: bool) {
        self.sweep_dist_min_trigger = if sweep_done {
            0
        } else {
            self.heap_live + SWEEP_MIN_HEAP_DISTANCE
        };
        let mut goal = u64::MAX;
        if let GcPercent::Percent(p) = self.gc_percent {
            goal = self.heap_marked
                + (self.heap_marked + self.last_stack_scan + self.globals_scan) * p as u64 / 100;
        }
        if goal < self.heap_minimum {
            goal = self.heap_minimum;
        }
        self.gc_percent_heap_goal = goal;
        let scan = (self.last_heap_scan + self.last_stack_scan + self.globals_scan) as f64;
        let g = GC_BACKGROUND_UTILIZATION;
        self.runway = (self.cons_mark * (1.0 - g) / g * scan) as u64;
    }

    /// `memoryLimitHeapGoal`.
    pub fn memory_limit_heap_goal(&self, m: &MemStats) -> u64 {
        let limit = self.memory_limit.max(0) as u64;
        let non_heap = m.mapped_ready.saturating_sub(m.heap_free + m.heap_alloc);
        let overage = m.mapped_ready.saturating_sub(limit);
        if non_heap + overage >= limit {
            return self.heap_marked;
        }
        let goal = limit - (non_heap + overage);
        let headroom = (goal / 100 * MEMORY_LIMIT_HEADROOM_PERCENT).max(MEMORY_LIMIT_MIN_HEADROOM);
        let goal = if goal < headroom || goal - headroom < headroom {
            headroom
        } else {
            goal - headroom
        };
        goal.max(self.heap_marked)
    }

    /// `heapGoalInternal`: the GOGC goal, lowered by the memory limit; returns (goal, minTrigger).
    pub fn heap_goal_internal(&self, m: &MemStats) -> (u64, u64) {
        let mut goal = self.gc_percent_heap_goal;
        let mut min_trigger = 0;
        let lim = self.memory_limit_heap_goal(m);
        if lim < goal {
            goal = lim;
        } else {
            if self.sweep_dist_min_trigger > goal {
                goal = self.sweep_dist_min_trigger;
            }
            min_trigger = self.sweep_dist_min_trigger;
            const MIN_RUNWAY: u64 = 64 << 10;
            if self.triggered != u64::MAX && goal < self.triggered + MIN_RUNWAY {
                goal = self.triggered + MIN_RUNWAY;
            }
        }
        (goal, min_trigger)
    }

    /// `heapGoal`: the current heap goal, in bytes.
    pub fn heap_goal(&self, m: &MemStats) -> u64 {
        self.heap_goal_internal(m).0
    }

    /// `trigger`: the heapLive at which the next cycle starts, and the goal.
    pub fn trigger(&self, m: &MemStats) -> (u64, u64) {
        let (goal, mut min_trigger) = self.heap_goal_internal(m);
        if self.heap_marked >= goal {
            return (goal, goal);
        }
        min_trigger = min_trigger.max(self.heap_marked);
        let span = goal - self.heap_marked;
        let lower = (span / TRIGGER_RATIO_DEN) * MIN_TRIGGER_RATIO_NUM + self.heap_marked;
        min_trigger = min_trigger.max(lower);
        let mut max_trigger = (span / TRIGGER_RATIO_DEN) * MAX_TRIGGER_RATIO_NUM + self.heap_marked;
        if goal > DEFAULT_HEAP_MINIMUM && goal - DEFAULT_HEAP_MINIMUM > max_trigger {
            max_trigger = goal - DEFAULT_HEAP_MINIMUM;
        }
        max_trigger = max_trigger.max(min_trigger);
        let trigger = if self.runway > goal {
            min_trigger
        } else {
            goal - self.runway
        };
        (trigger.max(min_trigger).min(max_trigger), goal)
    }

    /// `startCycle`: reset per-cycle work, plan dedicated and fractional workers, `revise`.
    pub fn start_cycle(&mut self, procs: u32, m: &MemStats) {
        self.scan_work = 0;
        self.triggered = self.heap_live;
        let total = procs as f64 * GC_BACKGROUND_UTILIZATION;
        let mut dedicated = (total + 0.5) as i64;
        let util_error = dedicated as f64 / total - 1.0;
        const MAX_UTIL_ERROR: f64 = 0.3;
        if !(-MAX_UTIL_ERROR..=MAX_UTIL_ERROR).contains(&util_error) {
            if dedicated as f64 > total {
                dedicated -= 1;
            }
            self.fractional_goal = (total - dedicated as f64) / procs as f64;
        } else {
            self.fractional_goal = 0.0;
        }
        self.dedicated_workers = dedicated.max(0) as u32;
        self.revise(m);
    }

    /// `revise`: the assist ratio so assists finish the remaining scan work by the goal.
    pub fn revise(&mut self, m: &MemStats) {
        let gc_percent = match self.gc_percent {
            GcPercent::Percent(p) => p as f64,
            GcPercent::Off => 100_000.0,
        };
        let live = self.heap_live as i64;
        let work = self.scan_work as i64;
        let mut heap_goal = self.heap_goal(m) as i64;
        let mut scan_work_expected =
            (self.last_heap_scan + self.last_stack_scan + self.globals_scan) as i64;
        let max_scan_work = (self.heap_scan + self.last_stack_scan + self.globals_scan) as i64;
        if work > scan_work_expected {
            let trig = self.triggered.min(heap_goal as u64) as i64;
            let ext = ((heap_goal - trig) as f64 / scan_work_expected.max(1) as f64
                * max_scan_work as f64) as i64
                + trig;
            scan_work_expected = max_scan_work;
            let hard = ((1.0 + gc_percent / 100.0) * heap_goal as f64) as i64;
            heap_goal = ext.min(hard);
        }
        if live > heap_goal {
            heap_goal = (heap_goal as f64 * 1.1) as i64;
            scan_work_expected = max_scan_work;
        }
        let remaining = (scan_work_expected - work).max(1000);
        let heap_remaining = (heap_goal - live).max(1);
        self.assist_work_per_byte = remaining as f64 / heap_remaining as f64;
        self.assist_bytes_per_work = heap_remaining as f64 / remaining as f64;
    }

    /// `endCycle`: the cons/mark ratio measured this cycle, maxed with the last four.
    /// `utilization` is background (0.25) plus assists; `idle_utilization` the idle workers'.
    pub fn end_cycle(&mut self, utilization: f64, idle_utilization: f64, m: &MemStats) {
        self.last_heap_goal = self.heap_goal(m);
        if self.heap_live <= self.triggered || self.scan_work == 0 {
            return;
        }
        let current = ((self.heap_live - self.triggered) as f64 * (utilization + idle_utilization))
            / (self.scan_work as f64 * (1.0 - utilization).max(1e-9));
        self.cons_mark = current;
        for &c in &self.last_cons_mark {
            if c > self.cons_mark {
                self.cons_mark = c;
            }
        }
        self.last_cons_mark.copy_within(1.., 0);
        self.last_cons_mark[CONS_MARK_HISTORY - 1] = current;
    }

    /// `resetLive`: after mark termination the live heap is what was marked.
    pub fn reset_live(&mut self, marked: u64, heap_scan_work: u64, stack_scan_work: u64) {
        self.heap_marked = marked;
        self.heap_live = marked;
        self.heap_scan = heap_scan_work;
        self.last_heap_scan = heap_scan_work;
        self.last_stack_scan = stack_scan_work;
        self.triggered = u64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn steady(live: u64, gogc: u32) -> Pacer {
        let mut p = Pacer::new(GcPercent::Percent(gogc), i64::MAX);
        p.reset_live(live, live, 0);
        p.commit(true);
        p
    }

    #[test]
    fn goal_is_gogc_over_live_plus_stacks_and_globals() {
        let mut p = steady(16 * MIB, 100);
        let m = MemStats::default();
        assert_eq!(p.heap_goal(&m), 32 * MIB);
        p.last_stack_scan = 2 * MIB;
        p.globals_scan = MIB;
        p.commit(true);
        assert_eq!(p.heap_goal(&m), 16 * MIB + 19 * MIB);
        let p = steady(16 * MIB, 50);
        assert_eq!(p.heap_goal(&m), 24 * MIB);
    }

    #[test]
    fn minimum_heap_scales_with_gogc() {
        let m = MemStats::default();
        assert_eq!(steady(0, 100).heap_goal(&m), 4 * MIB);
        assert_eq!(steady(0, 50).heap_goal(&m), 2 * MIB);
        assert_eq!(steady(MIB, 200).heap_goal(&m), 8 * MIB);
    }

    #[test]
    fn trigger_is_bounded_between_70_and_95_percent_of_the_runway() {
        let m = MemStats::default();
        // No cons/mark history: runway 0, trigger clamps to the max bound.
        let p = steady(2 * MIB, 100); // goal 4 MiB (the minimum), small heap: 61/64
        let (t, g) = p.trigger(&m);
        assert_eq!(g, 4 * MIB);
        assert_eq!(t, 2 * MIB + (2 * MIB / 64) * 61);
        // 64 MiB live: the 61/64 bound (125 MiB) is above goal − 4 MiB (124 MiB).
        let p = steady(64 * MIB, 100);
        assert_eq!(p.trigger(&m), (125 * MIB, 128 * MIB));
        // 256 MiB live: goal − 4 MiB (508 MiB) is above the 61/64 bound (500 MiB).
        let p = steady(256 * MIB, 100);
        assert_eq!(p.trigger(&m), (508 * MIB, 512 * MIB));
        // A huge runway clamps to the 45/64 lower bound.
        let mut p = steady(64 * MIB, 100);
        p.runway = u64::MAX / 2;
        assert_eq!(p.trigger(&m).0, 64 * MIB + (64 * MIB / 64) * 45);
    }

    #[test]
    fn gogc_off_never_triggers_without_a_limit() {
        // memoryLimit defaults to MaxInt64, so its goal (≈ 8.9e18 after headroom) is the goal.
        let p = Pacer::new(GcPercent::Off, i64::MAX);
        let (t, g) = p.trigger(&MemStats::default());
        assert!(g > 1 << 62 && t > 1 << 62, "{t} {g}");
    }

    #[test]
    fn memory_limit_lowers_the_goal_with_headroom() {
        let mut p = Pacer::new(GcPercent::Off, 100 * MIB as i64);
        p.reset_live(10 * MIB, 10 * MIB, 0);
        p.commit(true);
        let m = MemStats {
            heap_alloc: 20 * MIB,
            heap_free: 0,
            mapped_ready: 30 * MIB,
        };
        // non-heap = 10 MiB; goal = 90 MiB − 3% = 87.3 MiB.
        let g = p.heap_goal(&m);
        assert_eq!(g, 90 * MIB - (90 * MIB / 100 * 3));
        // Non-heap alone over the limit: the goal is the live heap.
        let m = MemStats {
            heap_alloc: 0,
            heap_free: 0,
            mapped_ready: 150 * MIB,
        };
        assert_eq!(p.heap_goal(&m), 10 * MIB);
    }

    #[test]
    fn dedicated_and_fractional_workers_follow_start_cycle() {
        let m = MemStats::default();
        for (procs, ded, frac) in [
            (1, 0, 0.25),
            (2, 0, 0.25),
            (3, 0, 0.25),
            (4, 1, 0.0),
            (6, 1, 0.5 / 6.0),
            (8, 2, 0.0),
            (16, 4, 0.0),
        ] {
            let mut p = steady(MIB, 100);
            p.start_cycle(procs, &m);
            assert_eq!(p.dedicated_workers, ded, "procs {procs}");
            assert!(
                (p.fractional_goal - frac).abs() < 1e-12,
                "procs {procs}: {}",
                p.fractional_goal
            );
        }
    }

    #[test]
    fn cons_mark_is_the_max_of_the_last_five() {
        let m = MemStats::default();
        let mut p = steady(16 * MIB, 100);
        let mut seen = vec![];
        for (alloc, work) in [(8u64, 16u64), (2, 16), (2, 16), (2, 16), (2, 16), (2, 16)] {
            p.start_cycle(4, &m);
            p.heap_live += alloc * MIB;
            p.scan_work = work * MIB;
            p.end_cycle(0.25, 0.0, &m);
            seen.push(p.cons_mark);
            p.reset_live(16 * MIB, 16 * MIB, 0);
        }
        // (8/16)·0.25/0.75 = 1/6 dominates for five cycles (itself and four more), then drops.
        let big = 8.0 / 16.0 * 0.25 / 0.75;
        let small = 2.0 / 16.0 * 0.25 / 0.75;
        for c in &seen[..5] {
            assert!((c - big).abs() < 1e-12, "{seen:?}");
        }
        assert!((seen[5] - small).abs() < 1e-12, "{seen:?}");
    }

    #[test]
    fn assist_ratio_spreads_remaining_work_over_remaining_heap() {
        let m = MemStats::default();
        let mut p = steady(16 * MIB, 100); // goal 32 MiB
        p.heap_live = 24 * MIB;
        p.start_cycle(4, &m);
        // expected work 16 MiB, none done, 8 MiB of heap left: 2 bytes of work per byte.
        assert!((p.assist_work_per_byte - 2.0).abs() < 1e-9);
        p.scan_work = 12 * MIB;
        p.heap_live = 28 * MIB;
        p.revise(&m);
        assert!((p.assist_work_per_byte - 1.0).abs() < 1e-9);
    }
}
