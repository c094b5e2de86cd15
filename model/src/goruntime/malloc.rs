//! Allocation (`mallocgc`, malloc.go) as goroutines see it.
//!
//! `go.alloc(n)` allocates `n` bytes that are garbage as soon as the next cycle starts (a
//! per-frame buffer); `go.alloc_live(n)` returns a [`Live`] handle that keeps its bytes
//! reachable until dropped (a session's state). Either may run a mark assist, wait for the
//! cycle to end, or start a cycle, so both are awaited.

use super::mgc::{GcPhase, MallocOutcome, Retain};
use super::proc::Runtime;
use super::runtime2::Gi;
use super::{Ev, Go};
use costream_sim::{Kernel, SimDuration};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Heap bytes kept reachable until this handle is dropped.
pub struct Live {
    bytes: u64,
    retained: Rc<Cell<u64>>,
}

impl Live {
    /// Bytes this handle keeps reachable.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.retained.set(self.retained.get() - self.bytes);
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Live({} B)", self.bytes)
    }
}

enum St {
    Start,
    /// Assisting, waiting for the cycle to end, or yielding for a stop-the-world.
    Waiting,
}

/// Future of [`Go::alloc`] and [`Go::alloc_live`].
pub struct Alloc<'a> {
    go: &'a Go,
    bytes: u64,
    live: Retain,
    st: St,
}

impl Future for Alloc<'_> {
    type Output = Option<Live>;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Live>> {
        let (bytes, live) = (self.bytes, self.live);
        let handle = || -> Option<Live> {
            let retained = match live {
                Retain::No => return None,
                Retain::Scan => self.go.with_rt(|rt, _| rt.gc.retained.clone()),
                Retain::NoScan => self.go.with_rt(|rt, _| rt.gc.retained_noscan.clone()),
            };
            Some(Live { bytes, retained })
        };
        match self.st {
            St::Waiting => Poll::Ready(handle()),
            St::Start => {
                let out = self.go.with_rt(|rt, k| {
                    let (_, g) = rt.current();
                    match rt.mallocgc(k, g, bytes, live) {
                        // A run of allocations yields like any other run of operations.
                        MallocOutcome::Done if rt.segment_full() => {
                            rt.request_compute(g, costream_sim::SimDuration::ZERO);
                            Some(())
                        }
                        MallocOutcome::Done => None,
                        MallocOutcome::Compute(d) => {
                            rt.request_compute(g, d);
                            Some(())
                        }
                        MallocOutcome::AssistWait => {
                            rt.park_assist_wait(g);
                            Some(())
                        }
                    }
                });
                match out {
                    None => Poll::Ready(handle()),
                    Some(()) => {
                        self.st = St::Waiting;
                        Poll::Pending
                    }
                }
            }
        }
    }
}

/// The part of `runtime.MemStats` the model keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemStats {
    /// `NumGC`: completed GC cycles.
    pub num_gc: u32,
    /// `HeapAlloc`: heap bytes in use (live objects plus garbage not yet collected).
    pub heap_alloc: u64,
    /// `NextGC`: the heap goal of the next cycle.
    pub next_gc: u64,
}

impl Go {
    /// Allocates `bytes` of short-lived heap (garbage by the next cycle).
    pub fn alloc(&self, bytes: u64) -> Alloc<'_> {
        Alloc {
            go: self,
            bytes,
            live: Retain::No,
            st: St::Start,
        }
    }

    /// Allocates `bytes` of pointer-bearing data that stay reachable (and are scanned by every
    /// cycle) until the returned handle is dropped.
    pub async fn alloc_live(&self, bytes: u64) -> Live {
        Alloc {
            go: self,
            bytes,
            live: Retain::Scan,
            st: St::Start,
        }
        .await
        .expect("live allocation returns a handle")
    }

    /// Like [`Go::alloc_live`] for pointer-free data (`make([]byte, n)`): marked, never scanned.
    pub async fn alloc_live_noscan(&self, bytes: u64) -> Live {
        Alloc {
            go: self,
            bytes,
            live: Retain::NoScan,
            st: St::Start,
        }
        .await
        .expect("live allocation returns a handle")
    }

    /// `runtime.ReadMemStats`: the completed cycle count (`NumGC`, incremented at mark
    /// termination), the heap in use (`HeapAlloc`: live and not-yet-swept objects) and the
    /// heap goal (`NextGC`). Go stops
    /// the world to read them; the model reads them in place, so the call costs nothing here.
    pub fn read_mem_stats(&self) -> MemStats {
        self.with_rt(|rt, _| MemStats {
            num_gc: rt.gc_stats().cycles.len() as u32,
            heap_alloc: rt.heap_live(),
            next_gc: rt.heap_goal_and_trigger().0,
        })
    }

    /// `debug.SetGCPercent(v)` (negative: off); returns the previous setting.
    pub fn set_gc_percent(&self, v: i64) -> i64 {
        self.with_rt(|rt, _| {
            rt.set_gc_percent(super::mgcpacer::GcPercent::from_go(v))
                .as_go()
        })
    }

    /// `debug.SetMemoryLimit(bytes)` (negative: read only); returns the previous limit.
    pub fn set_memory_limit(&self, bytes: i64) -> i64 {
        self.with_rt(|rt, _| rt.set_memory_limit(bytes))
    }

    /// Time this goroutine lost to GC stop-the-world pauses, to stalls, and spent assisting,
    /// so far (for per-request latency breakdowns: take the difference over the request).
    pub fn lost_time(&self) -> super::runtime2::LostTime {
        self.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.lost_time_of(g)
        })
    }
}

impl Runtime {
    /// `mallocgc` for `bytes` by the running goroutine `g` on `p`: charge the allocation and its
    /// proportional sweep, pay a mark assist if the goroutine is in debt, account the heap, and
    /// start a cycle if the heap crossed the trigger.
    pub(crate) fn mallocgc(
        &mut self,
        k: &mut Kernel<Ev>,
        g: Gi,
        bytes: u64,
        live: Retain,
    ) -> MallocOutcome {
        let cfg = &self.gc.cfg;
        let mut cost = cfg.malloc_base + cfg.malloc_per_kib.mul_f64(bytes as f64 / 1024.0);
        cost += self.deduct_sweep_credit(bytes);
        self.charge(cost);
        let mut outcome = MallocOutcome::Done;
        // deductAssistCredit → gcAssistAlloc.
        if self.gc.phase == GcPhase::Mark {
            outcome = self.gc_assist_alloc(k, g, bytes);
        }
        self.gc.heap_live += bytes;
        self.gc.stats.total_alloc += bytes;
        if self.gc.phase == GcPhase::Mark {
            self.gc.alloc_in_mark += bytes;
            self.gc.pacer.heap_live = self.gc.heap_live;
        } else {
            self.gc.pacer.heap_live = self.gc.heap_live;
            self.gc.pacer.heap_scan += bytes;
        }
        match live {
            Retain::No => {}
            Retain::Scan => self.gc.retained.set(self.gc.retained.get() + bytes),
            Retain::NoScan => self
                .gc
                .retained_noscan
                .set(self.gc.retained_noscan.get() + bytes),
        }
        self.gc.stats.heap_peak = self.gc.stats.heap_peak.max(self.gc.heap_live);
        // gcTrigger{kind: gcTriggerHeap}.test()
        if self.gc.phase == GcPhase::Off
            && self.gc.cfg.enabled
            && self.gc.heap_live >= self.gc.trigger
        {
            self.refresh_trigger();
            if self.gc.heap_live >= self.gc.trigger {
                let at = self.local_now;
                self.gc_start(k, at);
                if matches!(outcome, MallocOutcome::Done) {
                    outcome = MallocOutcome::Compute(SimDuration::ZERO);
                }
            }
        }
        outcome
    }
}
