//! A model of `examples/custom-sfu/go/main.go`, a small SFU relay, as a costream workload of
//! its own: a crate outside costream that uses only its public API, and gets `run`, `explore`,
//! `replay`, `shrink` and `sweep` for its server from [`costream::main_with`] (see
//! `examples/custom-sfu/src/main.rs`).
//!
//! The Go program, in the shape the model follows (docs/custom-server.md puts them side by
//! side):
//!
//! ```go
//! func readLoop(conn *net.UDPConn, routes map[uint32][]*subscriber) {
//!     for {
//!         n, _, _ := conn.ReadFromUDP(buf)            // one goroutine reads every stream
//!         ssrc := binary.BigEndian.Uint32(buf[8:12])
//!         for _, s := range routes[ssrc] {
//!             p := make([]byte, n); copy(p, buf[:n])  // a copy per subscriber
//!             enqueue(s.q, p)                         // full: drop the oldest
//!         }
//!     }
//! }
//! func writeLoop(conn *net.UDPConn, s *subscriber) {  // one goroutine per subscriber
//!     for p := range s.q { conn.WriteToUDP(p, s.addr) }
//! }
//! ```
//!
//! Publishers and subscribers are not goroutines: publishers are [`Process`]es sending on the
//! scenario's uplink, subscribers are network [`Sink`]s at the end of its downlink that
//! measure each packet's latency from capture and the packets they never got.

#![deny(missing_docs)]

use costream_model::goruntime::Chan;
use costream_model::media::rtp::{MediaKind, Rtp};
use costream_model::net::{Endpoint, Sink};
use costream_model::plot::tail_plot;
use costream_model::scenario::{dur_in, dur_le, ints_in, Invalid, Scenario, Stage};
use costream_model::table::{latency_row, Table};
use costream_model::workload::{self, Items, Measured, Metric, Ran, Section, SectionSpec};
use costream_model::workload::{Workload, PER_GOROUTINE};
use costream_model::world::Datagram;
use costream_model::{GoNet, Process, RunOutcome, Sim, SimDuration, SimOptions, SimTime, World};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// The port publishers send to (`-listen :5000`).
pub const RELAY_PORT: u32 = 5000;
/// The port each subscriber receives on.
pub const SUBSCRIBER_PORT: u32 = 6000;

/// `[relay]`: the server's shape and its costs. Each publisher sends one stream; each stream
/// has `subscribers` subscribers, each with its own queue and writer goroutine.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySection {
    /// Publishers, one stream (SSRC) each.
    pub publishers: u32,
    /// Subscribers of each stream.
    pub subscribers: u32,
    /// Between a publisher's packets (20 ms: an Opus stream).
    #[serde(with = "costream_model::units::dur")]
    pub interval: SimDuration,
    /// Bytes per packet, headers included.
    #[serde(with = "costream_model::units::bytes")]
    pub packet_size: u64,
    /// Packets queued per subscriber before the oldest is dropped (`-queue`).
    pub queue: u32,
    /// `readLoop`'s CPU per datagram: the header, the route lookup.
    #[serde(with = "costream_model::units::dur")]
    pub read_cpu: SimDuration,
    /// `readLoop`'s CPU per copy, beyond the allocation the model charges itself.
    #[serde(with = "costream_model::units::dur")]
    pub copy_cpu: SimDuration,
    /// `writeLoop`'s CPU per packet, beyond the runtime's cost of the `sendto` call.
    #[serde(with = "costream_model::units::dur")]
    pub write_cpu: SimDuration,
}

impl Section for RelaySection {
    const NAME: &'static str = "relay";
}

impl Default for RelaySection {
    fn default() -> Self {
        Self {
            publishers: 20,
            subscribers: 4,
            interval: SimDuration::from_millis(20),
            packet_size: 200,
            queue: 64,
            read_cpu: SimDuration::from_micros(2),
            copy_cpu: SimDuration::from_nanos(500),
            write_cpu: SimDuration::from_micros(3),
        }
    }
}

/// What a relay run measured.
#[derive(Debug)]
pub struct RelayMetrics {
    /// Packets the publishers sent.
    pub sent: u64,
    /// Packets `readLoop` read.
    pub read: u64,
    /// Copies `writeLoop`s wrote (`forwarded` in the Go program's log).
    pub forwarded: u64,
    /// Copies `enqueue` dropped (`dropped` in the Go program's log).
    pub dropped: u64,
    /// The deepest any subscriber's queue was.
    pub queue_max: usize,
    /// Capture at the publisher → arrival at a subscriber, in ns.
    pub latency: Histogram<u64>,
    /// Each subscriber's reception.
    pub subscribers: Vec<Reception>,
}

/// One subscriber's packets, as an RTP receiver counts them: the sequence numbers it saw, and
/// whether they arrived in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reception {
    /// Packets received.
    pub received: u64,
    /// The lowest sequence number received (the publisher's packet index).
    pub first: Option<u32>,
    /// The highest sequence number received.
    pub highest: u32,
    /// Packets that arrived after a later one.
    pub reordered: u64,
}

impl Reception {
    /// Packets missing between the first and the highest received (RFC 3550's cumulative
    /// loss): dropped in the relay or lost on a link, not those still in flight at the end.
    pub fn lost(&self) -> u64 {
        match self.first {
            None => 0,
            Some(f) => ((self.highest - f) as u64 + 1).saturating_sub(self.received),
        }
    }
}

impl RelayMetrics {
    /// Percent of the packets subscribers should have received that they did not.
    pub fn lost_pct(&self) -> f64 {
        let lost: u64 = self.subscribers.iter().map(Reception::lost).sum();
        let got: u64 = self.subscribers.iter().map(|r| r.received).sum();
        100.0 * lost as f64 / (lost + got).max(1) as f64
    }
}

/// The shared metrics, as the run's goroutines, publishers and subscribers hold them.
pub type Shared = Rc<RefCell<RelayMetrics>>;

/// A publisher: one RTP stream, a packet every `interval`.
struct Publisher {
    host: u32,
    server: u32,
    ssrc: u32,
    seq: u32,
    interval: SimDuration,
    size: u32,
    metrics: Shared,
}

impl Process for Publisher {
    fn fire(&mut self, w: &mut World<'_>, now: SimTime) -> Option<SimTime> {
        let rtp = Rtp {
            ssrc: self.ssrc,
            kind: MediaKind::Audio,
            seq: self.seq as u16,
            frame: self.seq,
            frame_packets: 1,
            marker: true,
            capture: now,
            size: self.size,
            ..Rtp::default()
        };
        let d = Datagram {
            src: (self.host, RELAY_PORT),
            dst: (self.server, RELAY_PORT),
            payload: rtp,
            arrived: SimTime::ZERO,
        };
        let World { core, net, .. } = w;
        net.send(&mut core.kernel, now, d);
        self.seq += 1;
        self.metrics.borrow_mut().sent += 1;
        Some(now + self.interval)
    }
}

/// A subscriber at the end of its downlink.
struct Subscriber {
    index: usize,
    metrics: Shared,
}

impl Sink<Rtp> for Subscriber {
    fn receive(&mut self, now: SimTime, d: &Datagram) {
        let mut m = self.metrics.borrow_mut();
        let _ = m
            .latency
            .record(now.saturating_since(d.payload.capture).as_nanos().max(1));
        let r = &mut m.subscribers[self.index];
        r.received += 1;
        match r.first {
            None => {
                r.first = Some(d.payload.frame);
                r.highest = d.payload.frame;
            }
            Some(f) if d.payload.frame < f => {
                r.first = Some(d.payload.frame);
                r.reordered += 1;
            }
            Some(_) if d.payload.frame < r.highest => r.reordered += 1,
            Some(_) => r.highest = d.payload.frame,
        }
    }
}

/// `enqueue`: never blocks; a full queue drops its oldest packet to make room.
fn enqueue(go: &costream_model::Go, q: &Chan<Datagram>, d: Datagram, m: &RefCell<RelayMetrics>) {
    let Err(d) = q.try_send(go, d) else { return };
    if let Ok(Some(_)) = q.try_recv(go) {
        m.borrow_mut().dropped += 1;
    }
    if q.try_send(go, d).is_err() {
        m.borrow_mut().dropped += 1;
    }
}

/// Builds the relay on a simulation from [`workload::new_sim`] and runs it.
pub fn run(
    sc: &Scenario,
    seed: u64,
    opts: &SimOptions,
    progress: &mut dyn FnMut(SimTime, u64),
) -> (Sim, RunOutcome, Shared) {
    let (sim, server) = workload::new_sim(sc, seed, opts);
    let r = sc.section::<RelaySection>();
    let (pubs, subs) = (r.publishers, r.subscribers);
    let metrics = Rc::new(RefCell::new(RelayMetrics {
        sent: 0,
        read: 0,
        forwarded: 0,
        dropped: 0,
        queue_max: 0,
        latency: Histogram::new(3).expect("3 significant figures is valid"),
        subscribers: vec![Reception::default(); (pubs * subs) as usize],
    }));
    // Hosts: the server, then the publishers, then each stream's subscribers.
    let publisher = move |p: u32| server + 1 + p;
    let subscriber = move |p: u32, s: u32| server + 1 + pubs + p * subs + s;
    sim.with_world_mut(|w| {
        for p in 0..pubs {
            w.net
                .set_link(publisher(p), server, sc.network.uplink.clone());
            for s in 0..subs {
                let sink = Subscriber {
                    index: (p * subs + s) as usize,
                    metrics: metrics.clone(),
                };
                w.net
                    .set_link(server, subscriber(p, s), sc.network.downlink.clone());
                w.net.bind(
                    (subscriber(p, s), SUBSCRIBER_PORT),
                    Endpoint::Sink(Rc::new(RefCell::new(sink))),
                );
            }
        }
    });
    // Publishers start at a random phase of their interval, each from its own stream.
    for p in 0..pubs {
        let mut rng = sim.go(server).rng("relay.phase", p as u64);
        let at = SimTime::ZERO + r.interval.mul_f64(rng.unit_f64());
        let publisher = Publisher {
            host: publisher(p),
            server,
            ssrc: p + 1,
            seq: 0,
            interval: r.interval,
            size: r.packet_size as u32,
            metrics: metrics.clone(),
        };
        sim.add_process(Box::new(publisher), at);
    }
    let m = metrics.clone();
    sim.main(server, move |go| async move {
        let conn = go.bind(RELAY_PORT);
        // routes[ssrc - 1]: the stream's subscribers' queues, each drained by a writeLoop.
        let mut routes: Vec<Vec<Chan<Datagram>>> = Vec::with_capacity(pubs as usize);
        for p in 0..pubs {
            let mut queues = Vec::with_capacity(subs as usize);
            for s in 0..subs {
                let q = go.make_chan::<Datagram>(r.queue as usize);
                let (rx, m, dst) = (q.clone(), m.clone(), (subscriber(p, s), SUBSCRIBER_PORT));
                let conn = conn.clone();
                go.go("main.writeLoop", move |go| async move {
                    while let Some(d) = rx.recv(&go).await {
                        go.compute(r.write_cpu).await;
                        let p = Datagram {
                            src: (server, RELAY_PORT),
                            dst,
                            ..d
                        };
                        // Every writeLoop writes the one socket: its write lock is shared.
                        go.udp_write(&conn, p).await;
                        m.borrow_mut().forwarded += 1;
                    }
                });
                queues.push(q);
            }
            routes.push(queues);
        }
        // readLoop runs in main, as in the Go program.
        loop {
            let d = conn.read(&go).await;
            m.borrow_mut().read += 1;
            go.compute(r.read_cpu).await;
            let Some(queues) = routes.get(d.payload.ssrc.wrapping_sub(1) as usize) else {
                continue;
            };
            for q in queues {
                go.alloc(r.packet_size).await;
                go.compute(r.copy_cpu).await;
                enqueue(&go, q, d, &m);
                let mut mm = m.borrow_mut();
                mm.queue_max = mm.queue_max.max(q.len());
            }
        }
    });
    let out = sim.run_with_progress(progress);
    (sim, out, metrics)
}

/// The relay as a [`Workload`]: `workload = "relay"` in a scenario file.
pub struct RelayWorkload;

/// The registry of `src/main.rs`: costream's built-in workloads (the first stays the default
/// of a scenario that names none), and the relay.
pub fn registry() -> Vec<&'static dyn Workload> {
    let mut r: Vec<&'static dyn Workload> = workload::BUILTIN.to_vec();
    r.push(&RelayWorkload);
    r
}

fn metrics_of(ran: &Ran) -> Option<std::cell::Ref<'_, RelayMetrics>> {
    ran.measured::<Shared>().map(|m| m.borrow())
}

impl Workload for RelayWorkload {
    fn name(&self) -> &'static str {
        "relay"
    }

    fn sections(&self) -> &'static [SectionSpec] {
        const S: [SectionSpec; 1] = [SectionSpec::of::<RelaySection>()];
        &S
    }

    fn run(
        &self,
        sc: &Scenario,
        seed: u64,
        opts: &SimOptions,
        progress: &mut dyn FnMut(SimTime, u64),
    ) -> (Sim, RunOutcome, Measured) {
        let (sim, out, m) = run(sc, seed, opts, progress);
        (sim, out, Box::new(m))
    }

    fn metrics(&self) -> &'static [Metric] {
        &[
            ("relay.forwarded", "copies the writeLoops wrote"),
            ("relay.dropped", "copies enqueue dropped (queue full)"),
            ("relay.queue_max", "deepest subscriber queue"),
            ("relay.lost_pct", "percent of packets subscribers missed"),
            ("relay.p99_ms", "capture → subscriber, 99th percentile"),
        ]
    }

    fn measure(&self, ran: &Ran, out: &mut BTreeMap<&'static str, f64>) {
        let Some(m) = metrics_of(ran) else { return };
        out.insert("relay.forwarded", m.forwarded as f64);
        out.insert("relay.dropped", m.dropped as f64);
        out.insert("relay.queue_max", m.queue_max as f64);
        out.insert("relay.lost_pct", m.lost_pct());
        if !m.latency.is_empty() {
            out.insert(
                "relay.p99_ms",
                m.latency.value_at_quantile(0.99) as f64 / 1e6,
            );
        }
    }

    fn key_metrics(&self) -> Vec<&'static str> {
        vec!["relay.p99_ms", "relay.dropped", "relay.lost_pct"]
    }

    fn shrink_halving(&self) -> &'static [(&'static str, i64)] {
        &[("relay.publishers", 1), ("relay.subscribers", 1)]
    }

    fn check_metric(&self, sc: &Scenario, cond: &str, metric: &str) -> Result<(), String> {
        let r = sc.section::<RelaySection>();
        if metric.starts_with("relay.") && r.subscribers == 0 {
            return Err(format!(
                "--until `{cond}`: metric `{metric}` is not measured: no stream has a subscriber (relay.subscribers = 0)\n  hint: add --set relay.subscribers=1"
            ));
        }
        Ok(())
    }

    fn validate(&self, sc: &Scenario, stage: Stage) -> Result<(), Invalid> {
        if stage != Stage::Sections {
            return Ok(());
        }
        let r = sc.section::<RelaySection>();
        ints_in(
            &[
                ("relay.publishers", r.publishers, 1, 100_000),
                ("relay.subscribers", r.subscribers, 0, 1_000),
                ("relay.queue", r.queue, 1, 1 << 20),
            ],
            "",
        )?;
        if r.publishers as u64 * r.subscribers as u64 > 1_000_000 {
            return Err((
                "relay.subscribers".into(),
                format!(
                    "{} publishers × {} subscribers is {} writer goroutines",
                    r.publishers,
                    r.subscribers,
                    r.publishers as u64 * r.subscribers as u64
                ),
                "keep publishers × subscribers at most 1000000".into(),
            ));
        }
        dur_in(
            "relay.interval",
            r.interval,
            SimDuration::from_micros(10),
            SimDuration::from_secs(10),
        )?;
        if !(12..=65_507).contains(&r.packet_size) {
            return Err((
                "relay.packet_size".into(),
                format!("{} bytes is out of range", r.packet_size),
                "use 12 bytes (an RTP header) to 65507 bytes (a UDP datagram)".into(),
            ));
        }
        let sec = SimDuration::from_secs(1);
        dur_le("relay.read_cpu", r.read_cpu, sec)?;
        dur_le("relay.copy_cpu", r.copy_cpu, sec)?;
        dur_le("relay.write_cpu", r.write_cpu, sec)
    }

    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String) {
        let r = sc.section::<RelaySection>();
        (
            r.interval,
            format!(
                "each publisher sends a packet every relay.interval ({})",
                r.interval
            ),
        )
    }

    fn estimate(&self, sc: &Scenario) -> (Vec<Items>, f64) {
        let r = sc.section::<RelaySection>();
        let copies = r.publishers as u64 * r.subscribers as u64;
        let items = vec![
            (copies, "writeLoop goroutines", PER_GOROUTINE),
            (copies * r.queue as u64, "queued packets", 96),
        ];
        let packets =
            sc.run.duration.as_secs_f64() / r.interval.as_secs_f64() * r.publishers as f64;
        // Per packet: its arrival, readLoop's read, and per copy a hand-off, a write, a delivery.
        (items, packets * (3.0 + 4.0 * r.subscribers as f64))
    }

    fn summary(&self, sc: &Scenario, _ran: &Ran) -> Vec<String> {
        let r = sc.section::<RelaySection>();
        vec![format!(
            "relay: {} publishers × {} subscribers, a {} B packet every {} · queue {} (drop oldest) · read {} + {} per copy, write {}",
            r.publishers,
            r.subscribers,
            r.packet_size,
            r.interval,
            r.queue,
            r.read_cpu,
            r.copy_cpu,
            r.write_cpu
        )]
    }

    fn report(&self, s: &mut String, _sc: &Scenario, ran: &Ran) {
        let Some(m) = metrics_of(ran) else { return };
        let _ = writeln!(
            s,
            "\nrelay: {} sent · {} read · {} forwarded · {} dropped (queue full) · deepest queue {} · subscribers missed {:.2} %",
            m.sent,
            m.read,
            m.forwarded,
            m.dropped,
            m.queue_max,
            m.lost_pct()
        );
        let mut t = Table::new(&["(ms)", "P50", "P99", "max", "mean"]);
        t.row(latency_row("capture → subscriber", &m.latency));
        s.push_str(&t.render("  "));
    }

    fn headline(&self, _sc: &Scenario, ran: &Ran, s: &mut String) -> &'static str {
        let Some(m) = metrics_of(ran) else { return "" };
        *s += &tail_plot(
            "latency-relay",
            "Relay latency tail: capture → subscriber",
            &m.latency,
        );
        "the relay's latency tail"
    }

    fn comparison(&self, ran: &Ran) -> (Option<Histogram<u64>>, String) {
        match metrics_of(ran) {
            Some(m) => (Some(m.latency.clone()), format!("{} dropped", m.dropped)),
            None => (None, "-".into()),
        }
    }
}
