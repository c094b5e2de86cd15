//! Model arms of the collector programs: cycle counts against GOGC, and GOMEMLIMIT.

use super::{main, Output};
use crate::goruntime::GoVersion;
use crate::Go;
use std::cell::RefCell;
use std::rc::Rc;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The live heap the programs keep: `mib` × 64 `[]byte`s of 16 KiB.
async fn live_heap(go: &Go, mib: u64) -> Vec<crate::goruntime::Live> {
    let mut live = Vec::with_capacity(mib as usize * 64);
    for _ in 0..mib * 64 {
        live.push(go.alloc_live_noscan(16 * KIB).await);
    }
    live
}

/// `conformance/go/gc_cycles`: the three settings run one after another in one process, as
/// in the Go program (each phase's live heap becomes garbage when it returns).
pub(super) fn gc_cycles(v: GoVersion) -> Output {
    let out = Rc::new(RefCell::new(Output::default()));
    let o = out.clone();
    main(v, 2, move |go: Go| async move {
        for (gogc, mib) in [(50, 16), (100, 16), (200, 16), (100, 64)] {
            go.set_gc_percent(gogc);
            let live = live_heap(&go, mib).await;
            let before = go.read_mem_stats().num_gc;
            let mut goals = Vec::new();
            let mut n = 0;
            while n < GIB {
                go.alloc(16 * KIB).await;
                if n % (4 * MIB) == 0 {
                    goals.push(go.read_mem_stats().next_gc);
                }
                n += 16 * KIB;
            }
            let after = go.read_mem_stats();
            goals.sort();
            drop(live);
            let mut o = o.borrow_mut();
            let name = if mib == 16 {
                format!("gogc{gogc}")
            } else {
                format!("live{mib}_gogc{gogc}")
            };
            o.put(&format!("cycles_{name}"), after.num_gc - before);
            o.put(
                &format!("heap_goal_mib_{name}"),
                format!("{:.1}", goals[goals.len() / 2] as f64 / MIB as f64),
            );
        }
    });
    out.take()
}

/// `conformance/go/memory_limit`.
pub(super) fn memory_limit(v: GoVersion) -> Output {
    let out = Rc::new(RefCell::new(Output::default()));
    let o = out.clone();
    main(v, 2, move |go: Go| async move {
        go.set_gc_percent(-1);
        go.set_memory_limit(64 * MIB as i64);
        let live = live_heap(&go, 16).await;
        let before = go.read_mem_stats().num_gc;
        let mut max_heap = 0;
        let mut n = 0;
        while n < GIB {
            go.alloc(16 * KIB).await;
            if n % (4 * MIB) == 0 {
                max_heap = max_heap.max(go.read_mem_stats().heap_alloc);
            }
            n += 16 * KIB;
        }
        let after = go.read_mem_stats().num_gc;
        drop(live);
        let mut o = o.borrow_mut();
        o.put("cycles", after - before);
        o.put("heap_under_limit", max_heap <= 64 * MIB);
        o.put(
            "max_heap_mib",
            format!("{:.1}", max_heap as f64 / MIB as f64),
        );
    });
    out.take()
}
