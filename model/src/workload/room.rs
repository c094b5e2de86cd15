//! A co-streaming room on one media server (seed chapter 2.1).
//!
//! Each of a room's hosts publishes an audio stream. The network delivers its frames to a
//! server socket (a [`Process`] per stream, standing in for the network model); on the server,
//! per stream, `recvLoop` reads the socket and hands each frame over a channel to
//! `forwardLoop`, which spends CPU on it and writes a copy to each other host in the room.
//! The Go program this models is in docs/model.md.

use crate::goruntime::Fd;
use crate::scenario::{Handoff, Scenario};
use crate::world::{Process, RunOutcome, Sim, World};
use costream_sim::{SimDuration, SimRng, SimTime};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::rc::Rc;

/// One audio frame as it crosses the server.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub stream: u32,
    pub seq: u32,
    /// Capture time at the publishing host.
    pub captured: SimTime,
    /// Arrival time at the server's socket.
    pub arrived: SimTime,
}

/// Counters and histograms of one run.
pub struct RoomMetrics {
    pub published: u64,
    pub arrived: u64,
    pub read: u64,
    pub dropped: u64,
    pub forwarded_frames: u64,
    pub forwarded_copies: u64,
    /// Arrival at the socket → forwarding done, in ns.
    pub forward_latency: Histogram<u64>,
    /// Capture → forwarding done, in ns.
    pub end_to_end: Histogram<u64>,
}

impl RoomMetrics {
    fn new() -> Self {
        Self {
            published: 0,
            arrived: 0,
            read: 0,
            dropped: 0,
            forwarded_frames: 0,
            forwarded_copies: 0,
            forward_latency: Histogram::new(3).expect("histogram"),
            end_to_end: Histogram::new(3).expect("histogram"),
        }
    }
}

/// A publishing host's stream as the network delivers it: fixed-interval captures, a one-way
/// delay with normal jitter, arrivals never reordered (libwebrtc's simulated network clamps
/// arrival to no earlier than the previous packet's when reordering is off).
struct Publisher {
    fd: Fd<Frame>,
    stream: u32,
    seq: u32,
    interval: SimDuration,
    phase: SimDuration,
    delay: SimDuration,
    jitter_ns: f64,
    last_arrival: SimTime,
    rng: SimRng,
    metrics: Rc<RefCell<RoomMetrics>>,
    pending: Option<Frame>,
}

impl Publisher {
    fn next_frame(&mut self) -> Frame {
        let captured = SimTime::ZERO + self.phase + self.interval * self.seq as u64;
        let extra = (self.rng.normal() * self.jitter_ns).max(0.0) as u64;
        let arrived =
            (captured + self.delay + SimDuration::from_nanos(extra)).max(self.last_arrival);
        self.last_arrival = arrived;
        let f = Frame {
            stream: self.stream,
            seq: self.seq,
            captured,
            arrived,
        };
        self.seq += 1;
        self.metrics.borrow_mut().published += 1;
        f
    }
}

impl Process for Publisher {
    fn fire(&mut self, w: &mut World, _now: SimTime) -> Option<SimTime> {
        if let Some(f) = self.pending.take() {
            self.metrics.borrow_mut().arrived += 1;
            self.fd.deliver(w, f);
        }
        let f = self.next_frame();
        self.pending = Some(f);
        Some(f.arrived)
    }
}

/// Builds the room scenario on a fresh simulation. Returns the simulation and its metrics.
pub fn build(sc: &Scenario, seed: u64) -> (Sim, Rc<RefCell<RoomMetrics>>) {
    let (sim, host) = super::new_sim(sc, seed);
    let metrics = Rc::new(RefCell::new(RoomMetrics::new()));
    let go = sim.go(host);
    let interval = SimDuration::from_nanos(1_000_000_000 / sc.audio.fps as u64);
    let k = sc.rooms.hosts_per_room;
    let mut phase_rng = go.rng("room.phase", 0);
    for room in 0..sc.rooms.count {
        for h in 0..k {
            let stream = room * k + h;
            let fd: Fd<Frame> = go.fd();
            let ch = go.make_chan::<Frame>(sc.forwarding.channel_capacity as usize);
            // recvLoop: read the socket, hand the frame over.
            let (rfd, rch, m, handoff) = (
                fd.clone(),
                ch.clone(),
                metrics.clone(),
                sc.forwarding.handoff,
            );
            let alloc = sc.forwarding.alloc_bytes;
            go.go("main.recvLoop", move |go| async move {
                loop {
                    let f = rfd.read(&go).await;
                    if alloc > 0 {
                        go.alloc(alloc).await;
                    }
                    m.borrow_mut().read += 1;
                    match handoff {
                        Handoff::Blocking => rch.send(&go, f).await,
                        Handoff::Nonblocking => {
                            if rch.try_send(&go, f).is_err() {
                                m.borrow_mut().dropped += 1;
                            }
                        }
                    }
                }
            });
            // forwardLoop: process and write a copy to every other host in the room.
            let (m, fw) = (metrics.clone(), sc.forwarding.clone());
            let mut cpu_rng = go.rng("room.cpu", stream as u64);
            go.go("main.forwardLoop", move |go| async move {
                let dests = (k - 1) as u64;
                while let Some(f) = ch.recv(&go).await {
                    let base = fw.frame_cpu + fw.per_destination_cpu * dests;
                    let scale = 1.0 + fw.cpu_jitter * (2.0 * cpu_rng.unit_f64() - 1.0);
                    go.compute(base.mul_f64(scale)).await;
                    let now = go.now();
                    let mut m = m.borrow_mut();
                    m.forwarded_frames += 1;
                    m.forwarded_copies += dests;
                    let _ = m
                        .forward_latency
                        .record(now.saturating_since(f.arrived).as_nanos().max(1));
                    let _ = m
                        .end_to_end
                        .record(now.saturating_since(f.captured).as_nanos().max(1));
                }
            });
            let phase = SimDuration::from_nanos(phase_rng.below(interval.as_nanos()));
            let mut p = Publisher {
                fd,
                stream,
                seq: 0,
                interval,
                phase,
                delay: sc.network.delay,
                jitter_ns: sc.network.jitter.as_nanos() as f64,
                last_arrival: SimTime::ZERO,
                rng: go.rng("net.jitter", stream as u64),
                metrics: metrics.clone(),
                pending: None,
            };
            let first = p.next_frame();
            p.pending = Some(first);
            sim.add_process(Box::new(p), first.arrived);
        }
    }
    (sim, metrics)
}

/// Runs the room scenario: builds, runs, and returns the outcome with its metrics.
pub fn run(sc: &Scenario, seed: u64) -> (Sim, RunOutcome, Rc<RefCell<RoomMetrics>>) {
    run_with_progress(sc, seed, |_, _| {})
}

/// [`run`] with a progress callback (see [`Sim::run_with_progress`]).
pub fn run_with_progress(
    sc: &Scenario,
    seed: u64,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome, Rc<RefCell<RoomMetrics>>) {
    let (sim, m) = build(sc, seed);
    let out = sim.run_with_progress(progress);
    (sim, out, m)
}
