//! An allocation loop: the pacer experiment of docs/gc.md. The Go program it models:
//!
//! ```go
//! var live = make([]byte, 16<<20)   // or pointer-bearing data with live_scan = true
//! var sink []byte
//! func main() {
//!     for n := 0; n < 4<<30; n += 16 << 10 {
//!         sink = make([]byte, 16<<10)
//!     }
//!     // runtime.ReadMemStats(&m); fmt.Println(m.NumGC)
//! }
//! ```

use crate::scenario::Scenario;
use crate::table::mib;
use crate::world::{RunOutcome, Sim};
use costream_sim::SimTime;

/// Builds and runs the allocation loop.
pub fn run(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome) {
    let (sim, host) = super::new_sim(sc, seed, opts);
    let a = sc.alloc.clone();
    sim.main(host, move |go| async move {
        let _live = if a.live_scan {
            go.alloc_live(a.live).await
        } else {
            go.alloc_live_noscan(a.live).await
        };
        let mut n = 0;
        while n < a.total {
            go.alloc(a.object).await;
            n += a.object;
        }
    });
    let out = sim.run_with_progress(progress);
    (sim, out)
}

/// The allocation loop as a [`super::Workload`].
pub struct AllocWorkload;

impl super::Workload for AllocWorkload {
    fn run(
        &self,
        sc: &Scenario,
        seed: u64,
        opts: &crate::world::SimOptions,
        progress: &mut dyn FnMut(SimTime, u64),
    ) -> (Sim, RunOutcome, super::Measured) {
        let (sim, out) = run(sc, seed, opts, progress);
        (sim, out, super::Measured::Alloc)
    }

    fn summary(&self, sc: &Scenario, ran: &super::Ran) -> Vec<String> {
        let a = &sc.alloc;
        let (cycles, total) = ran.sim.runtime(0, |rt| {
            (rt.gc_stats().cycles.len(), rt.gc_stats().total_alloc)
        });
        vec![format!(
            "allocation loop: {} MiB live ({}), {} MiB allocated in {} B objects → {cycles} GC cycles ({} MiB allocated per cycle)",
            mib(a.live),
            if a.live_scan { "scanned" } else { "noscan" },
            mib(total),
            a.object,
            if cycles == 0 { "-".to_string() } else { mib(total / cycles as u64) }
        )]
    }
}
