//! The GC CPU limiter, after `src/runtime/mgclimit.go` (`gcCPULimiterState`).
//!
//! A leaky bucket of capacity 1 CPU-second per P, filled by GC CPU time and drained by mutator
//! time. While full, the limiter is on: mark assists are skipped, so GC CPU stays near 50% even
//! when the memory limit would have the GC run without pause. Plain arithmetic, no executor.

/// `capacityPerProc`: one CPU-second per P.
pub const CAPACITY_PER_PROC_NS: u64 = 1_000_000_000;
/// `gcCPULimiterUpdatePeriod`: update at least this often while the GC runs.
pub const UPDATE_PERIOD_NS: u64 = 10_000_000;

/// Go: `gcCPULimiterState` (mgclimit.go). Times are ns of CPU (summed over Ps).
#[derive(Clone, Debug)]
pub struct CpuLimiter {
    /// `bucket.fill`: net GC CPU time held in the bucket, in ns.
    pub fill: u64,
    /// `bucket.capacity`: [`CAPACITY_PER_PROC_NS`] × GOMAXPROCS, in ns.
    pub capacity: u64,
    /// `enabled`: the bucket is full, so the limiter is on.
    pub enabled: bool,
    /// `lastUpdate`: virtual time of the last update, in ns.
    pub last_update: u64,
    /// Total GC time that overflowed the bucket (the limiter "capped" it).
    pub overflow: u64,
    /// Assist time accumulated since the last update (`assistTimePool`).
    pub assist_pool: u64,
    /// Idle-worker time since the last update (`idleMarkTimePool`), excluded from both sides.
    pub idle_pool: u64,
    /// Cycles during which the limiter turned on.
    pub enabled_cycles: u64,
}

impl CpuLimiter {
    /// An empty bucket sized for `procs` Ps, limiter off.
    pub fn new(procs: u32) -> Self {
        Self {
            fill: 0,
            capacity: CAPACITY_PER_PROC_NS * procs as u64,
            enabled: false,
            last_update: 0,
            overflow: 0,
            assist_pool: 0,
            idle_pool: 0,
            enabled_cycles: 0,
        }
    }

    /// `resetCapacity` (procresize): the bucket holds one CPU-second per P; a smaller bucket
    /// keeps at most what fits.
    pub fn reset_capacity(&mut self, _now: u64, procs: u32) {
        self.capacity = CAPACITY_PER_PROC_NS * procs as u64;
        if self.fill >= self.capacity {
            self.fill = self.capacity;
            if !self.enabled {
                self.enabled = true;
                self.enabled_cycles += 1;
            }
        }
    }

    /// `needUpdate`: more than [`UPDATE_PERIOD_NS`] has passed since the last update (`now` in
    /// ns).
    pub fn needs_update(&self, now: u64) -> bool {
        now > self.last_update + UPDATE_PERIOD_NS
    }

    /// `updateLocked`: charge the window since the last update. While the mark phase runs the
    /// background workers count as 25% of the window; during a stop-the-world transition the
    /// whole window is GC time.
    pub fn update(&mut self, now: u64, procs: u32, gc_enabled: bool, in_transition: bool) {
        if now <= self.last_update {
            return;
        }
        let total = (now - self.last_update) * procs as u64;
        self.last_update = now;
        let assist = std::mem::take(&mut self.assist_pool);
        let idle = std::mem::take(&mut self.idle_pool);
        let mut gc = assist;
        if in_transition {
            gc = total;
        } else if gc_enabled {
            gc += (total as f64 * super::mgcpacer::GC_BACKGROUND_UTILIZATION) as u64;
        }
        let total = total.saturating_sub(idle);
        let gc = gc.min(total);
        self.accumulate(total - gc, gc);
    }

    /// `accumulate`.
    fn accumulate(&mut self, mutator: u64, gc: u64) {
        let headroom = self.capacity - self.fill;
        if gc > mutator && headroom <= gc - mutator {
            self.overflow += (gc - mutator) - headroom;
            self.fill = self.capacity;
            if !self.enabled {
                self.enabled = true;
                self.enabled_cycles += 1;
            }
            return;
        }
        if mutator >= gc {
            self.fill = self.fill.saturating_sub(mutator - gc);
        } else {
            self.fill += gc - mutator;
        }
        if self.enabled && self.fill != self.capacity {
            self.enabled = false;
        }
    }

    /// `limiting`: assists are off while this is true.
    pub fn limiting(&self) -> bool {
        self.enabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_when_gc_exceeds_half_and_drains_otherwise() {
        let mut l = CpuLimiter::new(2);
        // 60% GC for 10 s on 2 Ps: net +0.2 × 20 s = 4 s > 2 s capacity → full, limiting.
        let mut t = 0;
        for _ in 0..1000 {
            t += 10_000_000;
            l.assist_pool += (0.35 * 2.0 * 10_000_000.0) as u64; // + 25% background = 60%
            l.update(t, 2, true, false);
        }
        assert!(l.limiting());
        assert!(l.overflow > 0);
        // Mutator-only time drains it and turns it off.
        for _ in 0..10 {
            t += 10_000_000;
            l.update(t, 2, false, false);
        }
        assert!(!l.limiting());
        assert!(l.fill < l.capacity);
    }

    #[test]
    fn exactly_half_never_fills() {
        let mut l = CpuLimiter::new(1);
        let mut t = 0;
        for _ in 0..1000 {
            t += 10_000_000;
            l.assist_pool += 2_500_000; // 25% + 25% background = 50%
            l.update(t, 1, true, false);
        }
        assert!(!l.limiting());
        assert_eq!(l.fill, 0);
    }

    #[test]
    fn stop_the_world_counts_all_ps() {
        let mut l = CpuLimiter::new(4);
        l.update(1_000_000, 4, true, true);
        assert_eq!(l.fill, 4_000_000);
    }
}
