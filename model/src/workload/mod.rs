//! The built-in workloads: model programs that run on the Go runtime model, selected by a
//! scenario's `workload` field. Each implements [`Workload`]; [`BUILTIN`] is their registry.

pub mod alloc;
pub mod breaker;
pub mod burst;
pub mod degrade;
pub mod gosched;
pub mod livekit;
pub mod room;
pub mod signalling;
pub mod split;
pub mod tuner;

pub use crate::scenario::workload::{
    Items, Measured, Metric, Ran, Registry, Section, SectionSpec, Workload,
};

use crate::scenario::{self, Scenario, ScenarioError, Variant};
use crate::world::{Sim, SimBuilder, SimOptions};
use costream_sim::SimTime;

/// Bytes in a KiB.
pub const KIB: u64 = 1024;
/// A goroutine that stays alive with its future, stack record and wait state.
pub const PER_GOROUTINE: u64 = KIB;

/// Metrics every workload measures, from the runtime and the simulation.
pub const COMMON_METRICS: [Metric; 5] = [
    ("goroutines_max", "most goroutines alive at once"),
    ("sched.p99_us", "runnable → running, 99th percentile"),
    ("gc.cycles", "GC cycles"),
    ("gc.stw_p99_us", "stop-the-world pause, 99th percentile"),
    ("events", "simulation events handled"),
];

/// Every built-in workload, in the order their metrics are listed; the first, `room`, is the
/// default of a scenario that names none.
pub const BUILTIN: [&dyn Workload; 6] = [
    &room::RoomWorkload,
    &alloc::AllocWorkload,
    &burst::BurstWorkload,
    &signalling::SignallingWorkload,
    &gosched::GoschedWorkload,
    &breaker::BreakerWorkload,
];

/// [`scenario::load_with`] the built-in workloads.
pub fn load(file: &str, text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    scenario::load_with(&BUILTIN, file, text, overrides)
}

/// [`scenario::load_variants_with`] the built-in workloads.
pub fn load_variants(
    file: &str,
    text: &str,
    overrides: &[String],
) -> Result<Vec<Variant>, ScenarioError> {
    scenario::load_variants_with(&BUILTIN, file, text, overrides)
}

/// A simulation with the scenario's run limits, recording as `opts` says, and one server
/// runtime; returns it and the host.
pub fn new_sim(sc: &Scenario, seed: u64, opts: &SimOptions) -> (Sim, u32) {
    let limits = costream_sim::RunLimits {
        until: SimTime::ZERO + sc.run.duration,
        max_events: sc.run.max_events,
    };
    let sim = SimBuilder::new(seed, limits).options(*opts).build();
    let host = sim.add_runtime(sc.server.runtime_config());
    tuner::start(&sim, host, sc);
    (sim, host)
}

/// Runs the scenario's workload, keeping no events.
pub fn run(sc: &Scenario, seed: u64, progress: impl FnMut(SimTime, u64)) -> Ran {
    run_with(sc, seed, &SimOptions::default(), progress)
}

/// Runs the scenario's workload on a simulation that records as `opts` says (its events for a
/// trace, digest checkpoints for a replay file).
pub fn run_with(
    sc: &Scenario,
    seed: u64,
    opts: &SimOptions,
    mut progress: impl FnMut(SimTime, u64),
) -> Ran {
    let w = sc.workload();
    let (sim, out, measured) = w.run(sc, seed, opts, &mut progress);
    Ran {
        sim,
        out,
        measured,
        workload: w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A condition names a metric without saying whose, so no two may share a name.
    #[test]
    fn metric_names_are_unique_across_workloads() {
        let mut seen: Vec<&str> = COMMON_METRICS.iter().map(|m| m.0).collect();
        for w in BUILTIN {
            for m in w.metrics() {
                assert!(!seen.contains(&m.0), "{w:?} measures `{}` again", m.0);
                seen.push(m.0);
            }
        }
    }
}
