//! Kernel throughput benchmarks (harness = false; wall-clock timing lives here, never in tests).
//!
//! `cargo bench --bench kernel` prints events per second for:
//! - timer wake-ups: 100,000 goroutines, each sleeping 1–20 ms (uniform, per sleep) repeatedly;
//! - quickstart scaled to 1,000 rooms (2,000 audio streams at 50 fps, GOMAXPROCS 4).
//!
//! Environment: COSTREAM_BENCH_SECS (simulated seconds, default 2 and 10), COSTREAM_BENCH_GS.

use costream_model::scenario;
use costream_model::workload::room;
use costream_model::{RuntimeConfig, Sim};
use costream_sim::{RunLimits, SimDuration, SimTime};
use std::time::Instant;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn timer_wakeups(gs: u64, secs: u64, procs: u32) -> (u64, f64, u64) {
    let sim = Sim::new(
        1,
        RunLimits {
            until: SimTime::ZERO + SimDuration::from_secs(secs),
            max_events: u64::MAX,
        },
    );
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: procs,
        ..Default::default()
    });
    let go = sim.go(h);
    // One stream shared by all sleepers: draws happen in the (deterministic) order they wake,
    // and 100,000 private ChaCha states would measure cache misses, not the kernel.
    let rng = std::rc::Rc::new(std::cell::RefCell::new(go.rng("bench.sleep", 0)));
    for _ in 0..gs {
        let rng = rng.clone();
        go.go("main.sleeper", move |go| async move {
            loop {
                let d = SimDuration::from_micros(1000 + rng.borrow_mut().below(19_001));
                go.sleep(d).await;
            }
        });
    }
    let t = Instant::now();
    let out = sim.run();
    let wall = t.elapsed().as_secs_f64();
    let fired = sim.runtime(h, |rt| rt.stats.timers_fired);
    (out.events, wall, fired)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    // The memory measurements run in child processes of their own, so nothing else this
    // benchmark allocated is counted or reused.
    if let Some(mode) = std::env::args().find_map(|a| a.strip_prefix("--parked=").map(String::from))
    {
        let n = env_u64("COSTREAM_BENCH_PARKED", 1_000_000);
        parked_goroutines(n, mode == "shared");
        return;
    }
    let secs = env_u64("COSTREAM_BENCH_SECS", if quick { 0 } else { 2 });
    let gs = env_u64("COSTREAM_BENCH_GS", if quick { 1000 } else { 100_000 });
    println!("costream kernel benchmarks (release build, one thread)\n");
    for procs in [1u32, 4] {
        let (events, wall, fired) = timer_wakeups(gs, secs.max(1), procs);
        println!(
            "timer wake-ups: {gs} goroutines sleeping 1-20 ms, GOMAXPROCS {procs}, {}s simulated: {events} events, {fired} timer wake-ups in {wall:.3}s → {:.2} M events/s, {:.2} M wake-ups/s",
            secs.max(1),
            events as f64 / wall / 1e6,
            fired as f64 / wall / 1e6
        );
    }
    let rooms = if quick { 10 } else { 1000 };
    let qsecs = env_u64("COSTREAM_BENCH_SECS", if quick { 1 } else { 10 });
    let sets = vec![
        format!("rooms.count={rooms}"),
        format!("run.duration=\"{qsecs}s\""),
        "server.gomaxprocs=4".to_string(),
    ];
    let sc = costream_model::workload::load("quickstart", scenario::QUICKSTART, &sets)
        .expect("quickstart loads");
    let t = Instant::now();
    let (_sim, out, m) = room::run(&sc, 1);
    let wall = t.elapsed().as_secs_f64();
    println!(
        "quickstart × {rooms} rooms ({} streams, GOMAXPROCS 4), {qsecs}s simulated: {} events, {} frames forwarded in {wall:.3}s → {:.2} M events/s, {:.1}× real time",
        rooms * 2,
        out.events,
        m.borrow().forwarded_frames,
        out.events as f64 / wall / 1e6,
        qsecs as f64 / wall
    );
    gc_overhead(quick);
    let n = if quick { 10_000 } else { 1_000_000 };
    for mode in ["shared", "each"] {
        let out = std::process::Command::new(std::env::current_exe().expect("own path"))
            .arg(format!("--parked={mode}"))
            .env("COSTREAM_BENCH_PARKED", n.to_string())
            .output()
            .expect("child runs");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib());
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// Memory per parked goroutine: `n` goroutines blocked receiving, on one shared channel or
/// each on a channel of its own (a Go goroutine needs at least a 2 KiB stack, plus its `g`).
fn parked_goroutines(n: u64, shared: bool) {
    let before = rss_mib();
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_millis(10)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 4,
        ..Default::default()
    });
    let go = sim.go(h);
    let mut keep = Vec::with_capacity(n as usize);
    let one = go.make_chan::<u8>(0);
    for _ in 0..n {
        let c = if shared {
            one.clone()
        } else {
            go.make_chan::<u8>(0)
        };
        keep.push(c.clone());
        go.go("main.parked", move |go| async move {
            c.recv(&go).await;
        });
    }
    let t = Instant::now();
    sim.run();
    let wall = t.elapsed().as_secs_f64();
    let parked = sim.runtime(h, |rt| rt.live_goroutines());
    let after = rss_mib();
    println!(
        "parked goroutines ({}): {parked} parked in {wall:.2}s; {:.0} MiB resident in all ({:.0} MiB for them → {:.0} bytes per goroutine; target: 1,000,000 in ≤ 512 MiB)",
        if shared { "on one channel" } else { "a channel each" },
        after,
        after - before,
        (after - before) * 1024.0 * 1024.0 / parked.max(1) as f64
    );
    drop(keep);
}

/// The GC model's cost to the kernel: the allocation-heavy burst scenario (1,000 requests of
/// 80 KiB every 50 ms, ~1.6 GB/s) with the collector modelled and with it switched off
/// (`server.gc.enabled=false`: allocation counted, never collected). Throughput is compared
/// as events per second, since the two runs simulate different things.
fn gc_overhead(quick: bool) {
    let text = include_str!("../scenarios/gc-burst.toml");
    let secs = if quick { "0.2s" } else { "60s" };
    let mut rates = Vec::new();
    for enabled in [false, true] {
        let sets = vec![
            format!("run.duration=\"{secs}\""),
            format!("server.gc.enabled={enabled}"),
        ];
        let v = costream_model::workload::load_variants("gc-burst.toml", text, &sets)
            .expect("gc-burst loads");
        let sc = &v
            .iter()
            .find(|x| x.label.contains("pool=false") && x.label.contains("gogc=100"))
            .expect("variant")
            .scenario;
        let t = Instant::now();
        let ran = costream_model::workload::run(sc, 1, |_, _| {});
        let wall = t.elapsed().as_secs_f64();
        let cycles = ran.sim.runtime(0, |rt| rt.gc_stats().cycles.len());
        let rate = ran.out.events as f64 / wall;
        println!(
            "gc-burst ({secs}, GC model {}): {} events, {cycles} GC cycles in {wall:.3}s → {:.2} M events/s",
            if enabled { "on " } else { "off" },
            ran.out.events,
            rate / 1e6
        );
        rates.push(rate);
    }
    println!(
        "GC model overhead on kernel throughput: {:+.1}% events/s",
        100.0 * (rates[1] / rates[0] - 1.0)
    );
}
