//! Two processes on one machine (`Sim::add_runtime_beside`) share its CPUs under one kernel
//! scheduler: each process's CPU time is its own, and together they get no more than the
//! machine has.

use costream_model::goruntime::os::OsConfig;
use costream_model::{Go, RunLimits, RuntimeConfig, Sim, SimDuration};

/// CPU time of each of two busy single-P processes over 1 s, on one machine of `cpus` CPUs, or
/// each on its own machine.
fn busy_pair(cpus: u32, shared: bool) -> (SimDuration, SimDuration) {
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(1)));
    let cfg = || RuntimeConfig {
        gomaxprocs: 1,
        os: Some(OsConfig {
            cpus,
            ..Default::default()
        }),
        ..Default::default()
    };
    let a = sim.add_runtime(cfg());
    let b = if shared {
        sim.add_runtime_beside(cfg(), a)
    } else {
        sim.add_runtime(cfg())
    };
    for h in [a, b] {
        sim.main(h, |go: Go| async move {
            loop {
                go.compute(SimDuration::from_millis(5)).await;
            }
        });
    }
    let out = sim.run();
    let cpu = |h| sim.runtime(h, |rt| rt.os_cpu_time(out.now)).expect("an OS");
    (cpu(a), cpu(b))
}

#[test]
fn processes_on_one_cpu_share_it() {
    let ms = |d: SimDuration| d.as_nanos() / 1_000_000;
    let (a, b) = busy_pair(1, true);
    // One CPU for two always-runnable threads: about half each (slices of 0.7 ms at 4 ms ticks).
    assert!((400..=600).contains(&ms(a)), "{} ms", ms(a));
    assert!((400..=600).contains(&ms(b)), "{} ms", ms(b));
    assert!(ms(a + b) <= 1000, "{} ms on one CPU in 1 s", ms(a + b));
    // Each on a machine of its own: a whole CPU each.
    let (a, b) = busy_pair(1, false);
    assert!(ms(a) >= 990 && ms(b) >= 990, "{} and {} ms", ms(a), ms(b));
    // Two CPUs shared: a CPU each.
    let (a, b) = busy_pair(2, true);
    assert!(ms(a) >= 990 && ms(b) >= 990, "{} and {} ms", ms(a), ms(b));
}
