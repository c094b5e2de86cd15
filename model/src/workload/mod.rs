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

use crate::scenario::{Scenario, Workload};
use crate::world::{RunOutcome, Sim, SimBuilder, SimOptions};
use costream_sim::SimTime;
use std::cell::RefCell;
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
    progress: impl FnMut(SimTime, u64),
) -> Ran {
    match sc.workload {
        Workload::Room => {
            let (sim, out, m) = room::run_with_progress(sc, seed, opts, progress);
            Ran {
                sim,
                out,
                measured: Measured::Room(m),
            }
        }
        Workload::Alloc => {
            let (sim, out) = alloc::run(sc, seed, opts, progress);
            Ran {
                sim,
                out,
                measured: Measured::Alloc,
            }
        }
        Workload::Burst => {
            let (sim, out, m) = burst::run(sc, seed, opts, progress);
            Ran {
                sim,
                out,
                measured: Measured::Burst(m),
            }
        }
        Workload::Breaker => {
            let (sim, out, m) = breaker::run(sc, seed, opts, progress);
            Ran {
                sim,
                out,
                measured: Measured::Breaker(m),
            }
        }
        Workload::Gosched => {
            let (sim, out, m) = gosched::run(sc, seed, opts, progress);
            Ran {
                sim,
                out,
                measured: Measured::Gosched(m),
            }
        }
        Workload::Signalling => {
            let (sim, out, m) = signalling::run(sc, seed, opts, progress);
            Ran {
                sim,
                out,
                measured: Measured::Signalling(m),
            }
        }
    }
}
