//! Workloads: model programs that run on the Go runtime model, selected by a scenario's
//! `workload` field.

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

use crate::scenario::{self, Invalid, Scenario, Stage};
use crate::world::{RunOutcome, Sim, SimBuilder, SimOptions};
use costream_sim::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What a workload measured.
pub enum Measured {
    Room(Rc<RefCell<room::RoomMetrics>>),
    Alloc,
    Burst(Rc<RefCell<burst::BurstMetrics>>),
    Signalling(signalling::SignallingMetrics),
    Gosched(Rc<RefCell<gosched::GoschedMetrics>>),
    Breaker(Rc<RefCell<breaker::BreakerMetrics>>),
}

/// A finished run.
pub struct Ran {
    pub sim: Sim,
    pub out: RunOutcome,
    pub measured: Measured,
    /// Which workload ran, so readers of the run ask it for its metrics and its report.
    pub workload: scenario::Workload,
}

impl Ran {
    /// The room workload's metrics. Panics for another workload (a test's mistake).
    pub fn room(&self) -> std::cell::Ref<'_, room::RoomMetrics> {
        match &self.measured {
            Measured::Room(m) => m.borrow(),
            _ => panic!("not a room run"),
        }
    }
}

/// A metric a workload measures: its name in `--until` conditions and sweeps, and what it is.
pub type Metric = (&'static str, &'static str);

/// One program a scenario can run. Each workload's file holds all of it: how it runs, what
/// it measures, how its section is checked and what its reports say; the rest of the model
/// reaches it through [`workload_for`], so a new workload is its file, its variants (of
/// `scenario::Workload` and [`Measured`]) and its lines in [`workload_for`] and [`ALL`].
pub trait Workload: Sync {
    /// Builds the workload's goroutines on a simulation from [`new_sim`] and runs it.
    fn run(
        &self,
        sc: &Scenario,
        seed: u64,
        opts: &SimOptions,
        progress: &mut dyn FnMut(SimTime, u64),
    ) -> (Sim, RunOutcome, Measured);

    /// The metrics only this workload measures (every workload measures [`COMMON_METRICS`]).
    fn metrics(&self) -> &'static [Metric] {
        &[]
    }

    /// The values of [`Self::metrics`] for a finished run; one it could not measure (no audio
    /// was received) is left out.
    fn measure(&self, _ran: &Ran, _m: &mut BTreeMap<&'static str, f64>) {}

    /// Refuses a metric of this workload that `sc` does not measure (video with no video).
    fn check_metric(&self, _sc: &Scenario, _cond: &str, _metric: &str) -> Result<(), String> {
        Ok(())
    }

    /// Checks this workload's own section, at each `stage` of [`Scenario::validate`].
    fn validate(&self, _sc: &Scenario, _stage: Stage) -> Result<(), Invalid> {
        Ok(())
    }

    /// The shortest run that measures anything, and why: a shorter one reports nothing, or
    /// nonsense (a P busy for 12,500 % of a 1 ns run).
    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String);

    /// The memory this workload holds, as (how many, what, bytes each), and how many events
    /// it will handle before `run.max_events` caps them: the inputs of budget.rs's estimate.
    fn estimate(&self, sc: &Scenario) -> (Vec<Items>, f64);

    /// What the workload ran, from the effective scenario, for the report's header.
    fn summary(&self, sc: &Scenario, ran: &Ran) -> Vec<String>;

    /// The report's section of what the workload measured, before the runtime's sections.
    fn report(&self, _s: &mut String, _sc: &Scenario, _ran: &Ran) {}

    /// The HTML report's headline plots, the workload's main result, into `s`; returns what
    /// they show, for the report's heading.
    fn headline(&self, sc: &Scenario, ran: &Ran, s: &mut String) -> &'static str;

    /// Whether [`Self::headline`] already plots the heap, so the runtime's plots leave it out.
    fn heap_in_headline(&self) -> bool {
        false
    }

    /// For a matrix's comparison table: the latency the workload is judged by (end to end as
    /// it defines it) and what it lost.
    fn comparison(&self, _ran: &Ran) -> (Option<Histogram<u64>>, String) {
        (None, "-".into())
    }
}

/// Items of one kind in a memory estimate: how many, what they are, bytes each.
pub type Items = (u64, &'static str, u64);

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

/// Every workload, in the order their metrics are listed.
pub const ALL: [scenario::Workload; 6] = [
    scenario::Workload::Room,
    scenario::Workload::Alloc,
    scenario::Workload::Burst,
    scenario::Workload::Signalling,
    scenario::Workload::Gosched,
    scenario::Workload::Breaker,
];

/// The registry: the implementation of the scenario's `workload = "..."`.
pub fn workload_for(w: scenario::Workload) -> &'static dyn Workload {
    match w {
        scenario::Workload::Room => &room::RoomWorkload,
        scenario::Workload::Alloc => &alloc::AllocWorkload,
        scenario::Workload::Burst => &burst::BurstWorkload,
        scenario::Workload::Signalling => &signalling::SignallingWorkload,
        scenario::Workload::Gosched => &gosched::GoschedWorkload,
        scenario::Workload::Breaker => &breaker::BreakerWorkload,
    }
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
    let (sim, out, measured) = workload_for(sc.workload).run(sc, seed, opts, &mut progress);
    Ran {
        sim,
        out,
        measured,
        workload: sc.workload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A condition names a metric without saying whose, so no two may share a name.
    #[test]
    fn metric_names_are_unique_across_workloads() {
        let mut seen: Vec<&str> = COMMON_METRICS.iter().map(|m| m.0).collect();
        for w in ALL {
            for m in workload_for(w).metrics() {
                assert!(!seen.contains(&m.0), "{w:?} measures `{}` again", m.0);
                seen.push(m.0);
            }
        }
    }
}
