//! §4.1's adaptive GOMAXPROCS: a goroutine that re-reads the CPU topology every `period`
//! and calls `runtime.GOMAXPROCS(detectOptimalP())`.
//!
//! ```go
//! func updateGOMAXPROCS() {
//!     n := detectOptimalP() // parses /sys/devices/system/cpu/cpu*/topology
//!     old := runtime.GOMAXPROCS(n)
//!     log.Printf("GOMAXPROCS updated: %d → %d", old, n)
//! }
//! ```

use crate::goruntime::topology::{detect_optimal_p, TunerPolicy};
use crate::scenario::Scenario;
use crate::world::Sim;
use costream_sim::SimDuration;

/// CPU to read the topology files of every CPU (open/read/close, a few µs each).
pub const READ_COST_PER_CPU: SimDuration = SimDuration::from_micros(3);

/// Starts the tuner on `host` if the scenario asks for one.
pub fn start(sim: &Sim, host: u32, sc: &Scenario) {
    let t = &sc.server.tuner;
    let (Some(topo), true) = (sc.server.topology.clone(), t.policy != TunerPolicy::None) else {
        return;
    };
    let (policy, period, quota) = (t.policy, t.period, sc.server.stalls.cpu_quota);
    sim.go(host)
        .go("main.updateGOMAXPROCS", move |go| async move {
            let ticker = go.new_ticker(period);
            loop {
                go.compute(READ_COST_PER_CPU * topo.cpus() as u64).await;
                let n = detect_optimal_p(policy, &topo, quota, go.now());
                go.set_gomaxprocs(n);
                if ticker.c.recv(&go).await.is_none() {
                    return;
                }
            }
        });
}
