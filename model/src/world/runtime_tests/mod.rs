//! Behaviour tests of the runtime model (`crate::goruntime`), one file per Go source file they
//! pin.

mod chan_test;
mod context_test;
mod lockosthread_test;
mod mgc_test;
mod proc_test;
mod procresize_test;
mod select_test;
mod stall_test;
mod sync_test;
mod syscall_test;
mod time_test;

use crate::goruntime::{Costs, RuntimeConfig};
use crate::world::{Go, GoNet, RunOutcome, Sim};
use costream_sim::{RunLimits, SimDuration};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

pub(super) fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}
pub(super) fn us(n: u64) -> SimDuration {
    SimDuration::from_micros(n)
}

/// Runs `main` on a fresh runtime with `procs` Ps for at most `limit` of virtual time.
pub(super) fn run_main<F, Fut>(
    procs: u32,
    costs: Costs,
    seed: u64,
    limit: SimDuration,
    main: F,
) -> (Sim, RunOutcome)
where
    F: FnOnce(Go) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    init_trace();
    let sim = Sim::new(
        seed,
        RunLimits {
            until: costream_sim::SimTime::ZERO + limit,
            max_events: 50_000_000,
        },
    );
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: procs,
        costs,
        sysmon: true,
        ..Default::default()
    });
    sim.main(h, main);
    let out = sim.run();
    (sim, out)
}

/// A shared log goroutines append to.
pub(super) type Log<T> = Rc<RefCell<Vec<T>>>;
pub(super) fn log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// Logs model events when RUST_LOG is set (`RUST_LOG=costream=trace cargo test NAME`).
pub(super) fn init_trace() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
