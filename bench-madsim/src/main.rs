//! The same workload on madsim and on costream: 100,000 tasks (goroutines), each sleeping
//! repeatedly for 1–20 ms (uniform per sleep, from a per-task generator), for 2 s simulated.
//! Wake-ups per wall-clock second on each, and the ratio.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A small per-task generator, identical on both sides (the workload, not RNG speed).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    1000 + *state % 19_001 // µs: 1 ms to 20 ms
}

fn madsim_run(tasks: u64, secs: u64) -> (u64, f64) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let wakeups = Arc::new(AtomicU64::new(0));
    let rt = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
    let w = wakeups.clone();
    let t = Instant::now();
    rt.block_on(async move {
        for i in 0..tasks {
            let w = w.clone();
            madsim::task::spawn(async move {
                let mut s = i * 2654435761 + 1;
                loop {
                    madsim::time::sleep(Duration::from_micros(next(&mut s))).await;
                    w.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        madsim::time::sleep(Duration::from_secs(secs)).await;
    });
    (wakeups.load(Ordering::Relaxed), t.elapsed().as_secs_f64())
}

fn costream_run(tasks: u64, secs: u64) -> (u64, f64) {
    use costream_model::{RuntimeConfig, Sim};
    use costream_sim::{RunLimits, SimDuration};
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(secs)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 1,
        ..Default::default()
    });
    let go = sim.go(h);
    let wakeups = Rc::new(Cell::new(0u64));
    for i in 0..tasks {
        let w = wakeups.clone();
        go.go("main.sleeper", move |go| async move {
            let mut s = i * 2654435761 + 1;
            loop {
                go.sleep(SimDuration::from_micros(next(&mut s))).await;
                w.set(w.get() + 1);
            }
        });
    }
    let t = Instant::now();
    sim.run();
    (wakeups.get(), t.elapsed().as_secs_f64())
}

fn main() {
    let tasks: u64 = std::env::var("TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    println!("{tasks} tasks sleeping 1-20 ms, {secs} s simulated, one thread, release");
    // ONLY=costream skips madsim (for profiling one side).
    let only_costream = std::env::var("ONLY").is_ok_and(|v| v == "costream");
    let (mw, mt) = if only_costream {
        (0, 1.0)
    } else {
        madsim_run(tasks, secs)
    };
    let (mr, cr);
    println!(
        "madsim   {mw:>10} wake-ups in {mt:7.3} s → {:6.2} M wake-ups/s",
        {
            mr = mw as f64 / mt;
            mr
        } / 1e6
    );
    let (cw, ct) = costream_run(tasks, secs);
    println!(
        "costream {cw:>10} wake-ups in {ct:7.3} s → {:6.2} M wake-ups/s",
        {
            cr = cw as f64 / ct;
            cr
        } / 1e6
    );
    println!(
        "ratio: costream is {:.2}× madsim's throughput (target: ≥ 10×)",
        cr / mr
    );
}
