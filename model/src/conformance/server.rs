//! Model arm of the server-level program (`conformance/go/server_forward`): the Go forwarding
//! server and the Go load generator as two runtimes on the CI host, joined by loopback links,
//! line for line beside the Go program.

use super::{ci_host, Output};
use crate::goruntime::GoVersion;
use crate::media::rtp::Rtp;
use crate::net::link::LinkConfig;
use crate::world::Datagram;
use crate::{Go, GoNet, RunLimits, RuntimeConfig, Sim, SimDuration, SimTime};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::rc::Rc;

/// The stream counts of each GOMAXPROCS, as the Go program runs them.
const CONFIGS: [(u32, [u32; 5]); 2] = [(1, [10, 20, 30, 36, 44]), (2, [20, 40, 60, 72, 88])];
const PERIOD: SimDuration = SimDuration::from_millis(20);
const WORK: SimDuration = SimDuration::from_micros(500);
const RUN_FOR: SimDuration = SimDuration::from_secs(3);
const WARMUP: SimDuration = SimDuration::from_millis(500);
/// The generator's receive port; stream `i` is served on `STREAM_PORT + i`.
const GEN_PORT: u32 = 1;
const STREAM_PORT: u32 = 1000;
/// The server's one sending socket (`net.DialUDP` to the generator), shared by every stream's
/// forwarding goroutine, so writes queue on its write lock as in Go.
const OUT_PORT: u32 = 999;

#[derive(Default)]
struct Counts {
    dropped: u64,
    forwarded: u64,
}

/// One configuration's figures, as the Go program prints them.
struct Figures {
    p50_us: f64,
    p99_us: f64,
    drop_pct: f64,
    /// The server's CPU use, percent of one CPU.
    cpu_pct: f64,
    /// From the send to the read returning.
    read_p99_us: f64,
    /// The server threads' times on a CPU per packet sent.
    wakes_per_pkt: f64,
    /// Their time waiting for a CPU while runnable, percent of the run.
    run_delay_pct: f64,
    /// From the forwarding goroutine's receive to its write returning.
    service_p99_us: f64,
    /// Threads that ran after the warm-up.
    threads: usize,
}

fn run(v: GoVersion, procs: u32, streams: u32) -> Figures {
    let sim = Sim::new(1, RunLimits::for_duration(RUN_FOR + PERIOD * 5));
    let cfg = |gomaxprocs| RuntimeConfig {
        gomaxprocs,
        go_version: v,
        os: Some(ci_host()),
        ..Default::default()
    };
    // Two processes of one machine: the generator's threads share the server's two CPUs.
    let server = sim.add_runtime(cfg(procs));
    let gen = sim.add_runtime_beside(cfg(1), server);
    sim.with_world_mut(|w| {
        w.net.set_link(gen, server, LinkConfig::default());
        w.net.set_link(server, gen, LinkConfig::default());
    });
    let lat = Rc::new(RefCell::new(Histogram::<u64>::new(3).expect("histogram")));
    let read = Rc::new(RefCell::new(Histogram::<u64>::new(3).expect("histogram")));
    let service = Rc::new(RefCell::new(Histogram::<u64>::new(3).expect("histogram")));
    let at_warmup = Rc::new(RefCell::new(Vec::new()));
    let (sv, aw) = (service.clone(), at_warmup.clone());
    let r = read.clone();
    let counts = Rc::new(RefCell::new(Counts::default()));
    let (l, c) = (lat.clone(), counts.clone());
    sim.main(server, move |go: Go| async move {
        let start = go.now();
        go.go("time.AfterFunc", move |go| async move {
            go.sleep(WARMUP).await;
            let stats = go.with_rt(|rt, _| rt.os_thread_stats()).unwrap_or_default();
            *aw.borrow_mut() = stats.iter().map(|t| t.run).collect();
        });
        let out = go.bind(OUT_PORT);
        for i in 0..streams {
            let conn = go.bind(STREAM_PORT + i);
            let ch = go.make_chan::<Datagram>(3);
            let (tx, c2, rd) = (ch.clone(), c.clone(), r.clone());
            go.go("main.server.func1", move |go| async move {
                loop {
                    let d = conn.read(&go).await;
                    if go.now().saturating_since(start) > WARMUP {
                        let d = go.now().saturating_since(d.payload.capture);
                        let _ = rd.borrow_mut().record(d.as_nanos().max(1));
                    }
                    if tx.try_send(&go, d).is_err() && go.now().saturating_since(start) > WARMUP {
                        c2.borrow_mut().dropped += 1;
                    }
                }
            });
            let (l, c, sv, out) = (l.clone(), c.clone(), sv.clone(), out.clone());
            go.go("main.server.func2", move |go| async move {
                while let Some(d) = ch.recv(&go).await {
                    let deq = go.now();
                    go.compute(WORK).await;
                    let p = Datagram {
                        src: (server, OUT_PORT),
                        dst: (gen, GEN_PORT),
                        ..d
                    };
                    go.udp_write(&out, p).await;
                    if go.now().saturating_since(start) > WARMUP {
                        let d = go.now().saturating_since(d.payload.capture);
                        let _ = l.borrow_mut().record(d.as_nanos().max(1));
                        c.borrow_mut().forwarded += 1;
                        let s = go.now().saturating_since(deq);
                        let _ = sv.borrow_mut().record(s.as_nanos().max(1));
                    }
                }
            });
        }
        go.block().await;
    });
    sim.main(gen, move |go: Go| async move {
        let rx = go.bind(GEN_PORT);
        go.go("main.generator.func2", move |go| async move {
            loop {
                rx.read(&go).await;
            }
        });
        let start = go.now();
        for i in 0..streams {
            go.go("main.generator.func1", move |go| async move {
                let mut due =
                    start + SimDuration::from_nanos(PERIOD.as_nanos() * i as u64 / streams as u64);
                let mut seq = 0u32;
                while due.saturating_since(start) < RUN_FOR {
                    go.sleep_until(due).await;
                    go.udp_send(Datagram {
                        src: (gen, GEN_PORT),
                        dst: (server, STREAM_PORT + i),
                        payload: Rtp {
                            ssrc: i + 1,
                            seq: seq as u16,
                            frame: seq,
                            capture: go.now(),
                            size: 160,
                            ..Rtp::default()
                        },
                        arrived: SimTime::ZERO,
                    })
                    .await;
                    seq += 1;
                    due += PERIOD;
                }
            });
        }
        go.block().await;
    });
    let out = sim.run();
    let cpu = sim
        .runtime(server, |rt| rt.os_cpu_time(out.now))
        .unwrap_or_default();
    let stats = sim
        .runtime(server, |rt| rt.os_thread_stats())
        .unwrap_or_default();
    let slices: u64 = stats.iter().map(|t| t.pcount).sum();
    let before = at_warmup.borrow();
    let threads = stats
        .iter()
        .enumerate()
        .filter(|(i, t)| t.run > before.get(*i).copied().unwrap_or_default())
        .count();
    let delay: u64 = stats.iter().map(|t| t.run_delay.as_nanos()).sum();
    let h = lat.borrow();
    let c = counts.borrow();
    let drop = 100.0 * c.dropped as f64 / (c.dropped + c.forwarded).max(1) as f64;
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
    let run_ns = out.now.as_nanos().max(1) as f64;
    let read_p99 = read.borrow().value_at_quantile(0.99) as f64 / 1e3;
    let service_p99_us = service.borrow().value_at_quantile(0.99) as f64 / 1e3;
    let pkts = streams as f64 * run_ns / PERIOD.as_nanos() as f64;
    Figures {
        p50_us: us(0.5),
        p99_us: us(0.99),
        drop_pct: drop,
        cpu_pct: 100.0 * cpu.as_nanos() as f64 / run_ns,
        read_p99_us: read_p99,
        wakes_per_pkt: slices as f64 / pkts,
        run_delay_pct: 100.0 * delay as f64 / run_ns,
        service_p99_us,
        threads,
    }
}

/// `conformance/go/server_forward`.
pub(super) fn server_forward(v: GoVersion) -> Output {
    let mut out = Output::default();
    for (procs, ns) in CONFIGS {
        let mut knee = 0;
        for n in ns {
            let f = run(v, procs, n);
            let key = |k: &str| format!("p{procs}_n{n}_{k}");
            out.put(&key("p50_us"), format!("{:.0}", f.p50_us));
            out.put(&key("p99_us"), format!("{:.0}", f.p99_us));
            out.put(&key("drop_pct"), format!("{:.2}", f.drop_pct));
            out.put(&key("cpu_pct"), format!("{:.0}", f.cpu_pct));
            out.put(&key("read_p99_us"), format!("{:.0}", f.read_p99_us));
            out.put(&key("wakes_per_pkt"), format!("{:.1}", f.wakes_per_pkt));
            out.put(&key("run_delay_pct"), format!("{:.1}", f.run_delay_pct));
            out.put(&key("service_p99_us"), format!("{:.0}", f.service_p99_us));
            out.put(&key("threads"), f.threads);
            if knee == 0 && f.drop_pct > 1.0 {
                knee = n;
            }
        }
        out.put(&format!("p{procs}_knee"), knee);
    }
    out
}
