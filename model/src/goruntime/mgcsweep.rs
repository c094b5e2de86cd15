//! Sweeping, after `src/runtime/mgcsweep.go`: the pages of the heap a cycle leaves behind are
//! swept by the allocations that follow (`deductSweepCredit`), paced so the sweep ends by the
//! next trigger (`gcPaceSweeper`); a cycle that starts with pages left sweeps them first
//! (`finishsweep_m`).

use super::proc::Runtime;
use costream_sim::SimDuration;

/// Page size for sweeping (`pageSize`).
const PAGE_BYTES: f64 = 8192.0;

impl Runtime {
    /// `deductSweepCredit`: an allocation of `bytes` sweeps its share of the pages left; returns
    /// the time that takes.
    pub(super) fn deduct_sweep_credit(&mut self, bytes: u64) -> SimDuration {
        if self.gc.sweep_pages_left <= 0.0 {
            return SimDuration::ZERO;
        }
        let pages = (bytes as f64 * self.gc.sweep_pages_per_byte).min(self.gc.sweep_pages_left);
        self.gc.sweep_pages_left -= pages;
        self.gc.cfg.sweep_per_page.mul_f64(pages)
    }

    /// `finishsweep_m`: `gcStart` sweeps what is left before the new cycle; returns the time.
    pub(super) fn finish_sweep(&mut self) -> SimDuration {
        let left = std::mem::take(&mut self.gc.sweep_pages_left);
        self.gc.cfg.sweep_per_page.mul_f64(left)
    }

    /// `gcPaceSweeper`: after a cycle whose heap peaked at `peak` bytes and marked `marked`,
    /// sweep the old heap's pages over the allocation distance to the next trigger.
    pub(super) fn gc_pace_sweeper(&mut self, peak: u64, marked: u64) {
        let pages = peak as f64 / PAGE_BYTES;
        self.gc.sweep_pages_left = pages;
        self.gc.sweep_pages_per_byte =
            pages / (self.gc.trigger.saturating_sub(marked).max(1)) as f64;
    }
}
