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

use crate::plot::heap_plot;
use crate::scenario::Scenario;
use crate::scenario::{size_le, Invalid, Stage, GIB};
use crate::table::mib;
use crate::world::{RunOutcome, Sim};
use costream_sim::SimDuration;
use costream_sim::SimTime;
use serde::Deserialize;

/// An allocation loop (the pacer experiment of docs/gc.md): `live` bytes retained, then
/// `total` bytes allocated in `object`-byte pieces by one goroutine.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllocSection {
    /// Bytes retained for the whole run (the live heap).
    #[serde(with = "crate::units::bytes")]
    pub live: u64,
    /// Whether the live heap holds pointers (scanned by every cycle) or not (`[]byte`).
    pub live_scan: bool,
    /// Bytes allocated in all.
    #[serde(with = "crate::units::bytes")]
    pub total: u64,
    /// Bytes per allocation.
    #[serde(with = "crate::units::bytes")]
    pub object: u64,
}

impl super::Section for AllocSection {
    const NAME: &'static str = "alloc";
}

impl Default for AllocSection {
    fn default() -> Self {
        Self {
            live: 16 << 20,
            live_scan: false,
            total: 4 << 30,
            object: 16 << 10,
        }
    }
}

/// Builds and runs the allocation loop.
pub fn run(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome) {
    let (sim, host) = super::new_sim(sc, seed, opts);
    let a = sc.section::<AllocSection>();
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
    fn name(&self) -> &'static str {
        "alloc"
    }

    fn sections(&self) -> &'static [super::SectionSpec] {
        const S: [super::SectionSpec; 1] = [super::SectionSpec::of::<AllocSection>()];
        &S
    }

    fn run(
        &self,
        sc: &Scenario,
        seed: u64,
        opts: &crate::world::SimOptions,
        progress: &mut dyn FnMut(SimTime, u64),
    ) -> (Sim, RunOutcome, super::Measured) {
        let (sim, out) = run(sc, seed, opts, progress);
        (sim, out, Box::new(()))
    }

    fn summary(&self, sc: &Scenario, ran: &super::Ran) -> Vec<String> {
        let a = &sc.section::<AllocSection>();
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

    fn validate(&self, sc: &Scenario, stage: Stage) -> Result<(), Invalid> {
        let a = &sc.section::<AllocSection>();
        match stage {
            Stage::Ranges if a.object == 0 || a.object > a.total.max(1) => Err((
                "alloc.object".to_string(),
                format!("{} bytes is out of range", a.object),
                "use 1 byte up to alloc.total".into(),
            )),
            Stage::Values => {
                size_le("alloc.live", a.live, 64 * GIB)?;
                size_le("alloc.total", a.total, 1 << 40)
            }
            _ => Ok(()),
        }
    }

    fn min_duration(&self, _sc: &Scenario) -> (SimDuration, String) {
        (
            SimDuration::from_millis(1),
            "shares of the run need at least 1 ms to mean anything".to_string(),
        )
    }

    fn estimate(&self, sc: &Scenario) -> (Vec<super::Items>, f64) {
        let a = &sc.section::<AllocSection>();
        (Vec::new(), (a.total / a.object.max(1)) as f64 * 2.0)
    }

    fn headline(&self, _sc: &Scenario, ran: &super::Ran, s: &mut String) -> &'static str {
        let end = ran.out.now.since_start().as_secs_f64().max(1e-9);
        *s += &ran.sim.runtime(0, |rt| heap_plot(rt, end));
        "the heap against the GC's goal"
    }

    fn heap_in_headline(&self) -> bool {
        true
    }
}
