//! Co-streaming rooms on one media server (§2.1 and §2.3).
//!
//! Each room has `hosts_per_room` participants. A participant publishes an audio stream (and,
//! if enabled, video, possibly simulcast) to the server over its uplink, and plays the other
//! participants' streams, which the server forwards over its downlink, through a jitter
//! buffer (audio) or frame assembler (video) that measures QoE. On the Go server, per published
//! stream, `recvLoop` reads the stream's socket and hands each packet over a channel to
//! `forwardLoop`, which spends CPU on it and writes a copy to every other participant. The Go
//! program it models is in docs/scenarios.md.

use super::KIB;
use crate::media::qoe::StreamQoe;
use crate::media::receiver::{AudioReceiver, JitterBufferConfig, VideoReceiver};
use crate::media::rtp::MediaKind;
use crate::media::source::{AudioSource, VideoSource};
use crate::net::{Endpoint, Sink};
use crate::plot::{held_steps, lanes_plot, state_spans, tail_plot, time_plot, STATE_NOTE};
use crate::scenario::Direction;
use crate::scenario::{Architecture, Handoff, Scenario};
use crate::table::{latency_row, ms, pct, share_below, timeline, Table};
use crate::world::Datagram;
use crate::world::{GoNet, Process, RunOutcome, Sim, World};
use costream_sim::{SimDuration, SimRng, SimTime};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// The server is host 0; participant `i` (0-based, over all rooms) is host `i + 1`.
pub const SERVER: u32 = 0;

/// SSRC of a participant's stream: 0 audio, 1.. video layers.
pub fn ssrc(participant: u32, stream: u32) -> u32 {
    participant * 4 + stream
}

/// The participant that publishes `ssrc` (the inverse of [`ssrc`]).
pub fn participant_of(ssrc: u32) -> u32 {
    ssrc / 4
}

/// Server-side counters and histograms of one run.
pub struct RoomMetrics {
    /// Packets the participants sent.
    pub published: u64,
    /// Packets that reached the server's sockets.
    pub arrived: u64,
    /// Packets `recvLoop` read.
    pub read: u64,
    /// Packets a full hand-off (channel or ring) dropped.
    pub dropped: u64,
    /// Packets forwarded (once each, however many subscribers).
    pub forwarded_frames: u64,
    /// Copies written to subscribers.
    pub forwarded_copies: u64,
    /// Arrival at the server's socket → forwarding done, in ns.
    pub forward_latency: Histogram<u64>,
    /// Capture → forwarding done, in ns.
    pub end_to_end: Histogram<u64>,
    /// Every participant's player, for QoE.
    pub players: Vec<Rc<RefCell<Player>>>,
    /// Video packets the degradation breaker refused (not forwarded; audio is never shed).
    pub video_shed: u64,
    /// Packets a forwarder read and did not forward: a layer not selected, or shed.
    pub unforwarded: u64,
    /// The degradation breaker's state changes.
    pub degrade_transitions: Vec<crate::server::breaker::Transition>,
    /// Layered degradation: the number of layers and the video level over time.
    pub degrade_levels: Option<(u8, Vec<(SimTime, u8)>)>,
    degrade: Option<Rc<Degrade>>,
    /// Split architecture: video workers alive over time, over all streams.
    pub video_workers: super::split::WorkerTimeline,
    /// LiveKit architecture: packets retransmitted on NACK, and NACKed packets no longer held.
    pub retransmitted: u64,
    /// NACKed packets the sequencer no longer held.
    pub rtx_missing: u64,
    /// Sequence numbers the subscribers NACKed.
    pub nacked: u64,
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
            players: Vec::new(),
            video_shed: 0,
            unforwarded: 0,
            degrade_transitions: Vec::new(),
            degrade_levels: None,
            degrade: None,
            video_workers: Default::default(),
            retransmitted: 0,
            rtx_missing: 0,
            nacked: 0,
        }
    }

    /// The degradation breaker's state at `now` (`None` without degradation).
    pub fn degrade_state(&self, now: SimTime) -> Option<crate::server::breaker::State> {
        self.degrade
            .as_ref()
            .map(|d| d.breaker.borrow_mut().state(now))
    }

    /// Packets of `kind` lost at the players, summed per stream (an aggregate's own
    /// `packets_lost` cannot be used: sequence ranges do not merge).
    pub fn packets_lost(&self, kind: MediaKind) -> i64 {
        self.players
            .iter()
            .map(|p| {
                p.borrow()
                    .streams()
                    .filter(|q| q.kind == kind)
                    .map(|q| q.packets_lost())
                    .sum::<i64>()
            })
            .sum()
    }

    /// Aggregate QoE of every received stream of one kind.
    pub fn aggregate(&self, kind: MediaKind) -> Option<(StreamQoe, usize, f64)> {
        let mut agg: Option<StreamQoe> = None;
        let (mut n, mut jitter) = (0usize, 0.0f64);
        for p in &self.players {
            for q in p.borrow().streams().filter(|q| q.kind == kind) {
                n += 1;
                jitter += q.jitter.seconds();
                match &mut agg {
                    None => agg = Some(q.clone()),
                    Some(a) => a.merge(q),
                }
            }
        }
        agg.map(|a| (a, n, jitter / n.max(1) as f64))
    }
}

/// LiveKit's PLI throttle for a layer (`pkg/sfu/receiver_base.go`: 500 ms for low quality;
/// 1 s mid and high): at most one key frame per stream this often.
const PLI_THROTTLE: SimDuration = SimDuration::from_millis(500);

/// A participant's player: one receiver per subscribed stream.
pub struct Player {
    /// Which participant (its host is `participant + 1`).
    pub participant: u32,
    audio: BTreeMap<u32, AudioReceiver>,
    video: BTreeMap<u32, VideoReceiver>,
    plis: PliBoard,
    /// One-way delay of a PLI back to the sender (downlink + uplink base delays).
    pli_delay: SimDuration,
    /// LiveKit architecture: NACKs for video holes, sent back over the downlink.
    nack: Option<PlayerNack>,
}

/// A player's NACK sender: its host, the path back to the server, and the holes it tracks.
struct PlayerNack {
    host: u32,
    path: Rc<super::livekit::NackPath>,
    delay: SimDuration,
    tracker: super::livekit::NackTracker,
}

impl Player {
    /// The QoE of every stream it receives, audio first, each in SSRC order.
    pub fn streams(&self) -> impl Iterator<Item = &StreamQoe> {
        self.audio
            .values()
            .map(|r| &r.qoe)
            .chain(self.video.values().map(|r| &r.qoe))
    }
    /// Starts the QoE books afresh (a measurement window; the receivers keep their state).
    pub fn reset_qoe(&mut self) {
        for q in self
            .audio
            .values_mut()
            .map(|r| &mut r.qoe)
            .chain(self.video.values_mut().map(|r| &mut r.qoe))
        {
            *q = StreamQoe::new(q.kind, q.ssrc, q.budget);
        }
    }

    /// Closes the player's books at `now` (the end of the run).
    pub fn finish(&mut self, now: SimTime) {
        for r in self.audio.values_mut() {
            r.finish();
        }
        for r in self.video.values_mut() {
            r.finish(now);
        }
    }
}

impl Sink<crate::media::rtp::Rtp> for Player {
    fn receive(&mut self, now: SimTime, d: &Datagram) {
        match d.payload.kind {
            MediaKind::Audio => {
                if let Some(r) = self.audio.get_mut(&d.payload.ssrc) {
                    r.on_packet(&d.payload, now);
                }
            }
            MediaKind::Video => {
                if let Some(r) = self.video.get_mut(&d.payload.ssrc) {
                    if let Some(n) = &mut self.nack {
                        let seqs = n.tracker.on_packet(d.payload.ssrc, d.payload.seq);
                        if !seqs.is_empty() {
                            n.path.send(
                                now + n.delay,
                                super::livekit::Nack {
                                    subscriber: n.host,
                                    ssrc: d.payload.ssrc,
                                    seqs,
                                },
                            );
                        }
                    }
                    r.on_packet(&d.payload, now);
                    if r.pli_needed.take().is_some() {
                        self.plis
                            .borrow_mut()
                            .entry(d.payload.ssrc)
                            .or_insert(now + self.pli_delay);
                    }
                }
            }
        }
    }
}

/// A participant's sender: captures audio and video frames and sends them to the server.
struct Sender {
    participant: u32,
    audio: AudioSource,
    video: Vec<VideoSource>,
    plis: PliBoard,
    last_key: SimTime,
    next_audio: SimTime,
    next_video: SimTime,
    /// `[video] fps_schedule` and the next change to apply.
    fps_schedule: Rc<[crate::media::source::FpsChange]>,
    next_fps: usize,
    rng: SimRng,
    metrics: Rc<RefCell<RoomMetrics>>,
}

impl Process for Sender {
    fn fire(&mut self, w: &mut World, now: SimTime) -> Option<SimTime> {
        let host = self.participant + 1;
        let World { core, net, .. } = w;
        let kernel = &mut core.kernel;
        let mut send = |rtp: crate::media::rtp::Rtp| {
            let d = Datagram {
                src: (host, rtp.ssrc),
                dst: (SERVER, rtp.ssrc),
                payload: rtp,
                arrived: SimTime::ZERO,
            };
            net.send(kernel, now, d);
        };
        if self.next_audio <= now {
            if let Some(p) = self.audio.frame(now, &mut self.rng) {
                self.metrics.borrow_mut().published += 1;
                send(p);
            }
            self.next_audio += self.audio.interval();
        }
        while let Some(c) = self.fps_schedule.get(self.next_fps) {
            if SimTime::ZERO + c.at > now {
                break;
            }
            for v in &mut self.video {
                v.set_fps(c.fps);
            }
            self.next_fps += 1;
        }
        if !self.video.is_empty() && self.next_video <= now {
            // A PLI that has arrived makes the next frame of its layer a key frame (throttled
            // per participant; simulcast layers have their own encoders).
            let mut board = self.plis.borrow_mut();
            let mut keys = 0u32;
            let throttled = now.saturating_since(self.last_key) < PLI_THROTTLE;
            for (i, v) in self.video.iter().enumerate() {
                if board.get(&v.ssrc).is_some_and(|&at| at <= now) {
                    board.remove(&v.ssrc);
                    if !throttled {
                        keys |= 1 << i;
                    }
                }
            }
            drop(board);
            if keys != 0 {
                self.last_key = now;
            }
            for (i, v) in self.video.iter_mut().enumerate() {
                if keys & (1 << i) != 0 {
                    v.force_keyframe();
                }
                for p in v.frame(now, &mut self.rng) {
                    self.metrics.borrow_mut().published += 1;
                    send(p);
                }
            }
            self.next_video += self.video[0].interval();
        }
        Some(if self.video.is_empty() {
            self.next_audio
        } else {
            self.next_audio.min(self.next_video)
        })
    }
}

/// Where `recvLoop` hands what it reads: its stream's `forwardLoop`, or the pool's ring.
enum HandTo {
    Chan(crate::goruntime::Chan<Datagram>, Handoff),
    /// The ring, the packet's route, and this producer's own handle on the workers' wake-up
    /// channel (as Go code passes the channel to each producer).
    Ring(Rc<Ring>, Rc<Route>, crate::goruntime::Chan<()>),
}

/// `recvLoop`'s hand-off of one packet: to `forwardLoop` (blocking, or dropping when full),
/// or into the pool's ring (dropping when full).
async fn hand_off(
    go: &crate::world::Go,
    d: Datagram,
    to: &HandTo,
    m: &RefCell<RoomMetrics>,
    alloc: u64,
) {
    {
        let mut m = m.borrow_mut();
        m.read += 1;
        m.arrived += 1;
    }
    if alloc > 0 {
        go.alloc(alloc).await;
    }
    match to {
        HandTo::Chan(ch, Handoff::Blocking) => ch.send(go, d).await,
        HandTo::Chan(ch, Handoff::Nonblocking) => {
            if ch.try_send(go, d).is_err() {
                m.borrow_mut().dropped += 1;
            }
        }
        HandTo::Ring(ring, route, notify) => ring.push(go, d, route, m, notify),
    }
}

/// Where a received packet goes: the participants' hosts, or nowhere (a layer not forwarded).
pub(super) struct Route {
    forward: bool,
    dests: Rc<[u32]>,
}

impl Route {
    /// The hosts a forwarded packet goes to.
    pub(super) fn dests(&self) -> &Rc<[u32]> {
        &self.dests
    }
}

pub use super::degrade::Degrade;
use super::degrade::{Admit, PliBoard};

/// How packets are forwarded: the settings, and the optional degradation breaker and fan-out.
#[derive(Clone, Copy)]
pub(super) struct Forwarder<'a> {
    pub fw: &'a crate::scenario::ForwardingSection,
    pub degrade: Option<&'a Degrade>,
    pub spreader: Option<&'a super::livekit::Spreader>,
}

impl<'a> Forwarder<'a> {
    pub fn plain(fw: &'a crate::scenario::ForwardingSection, degrade: Option<&'a Degrade>) -> Self {
        Forwarder {
            fw,
            degrade,
            spreader: None,
        }
    }
}

/// `forwardLoop`'s work on one packet: CPU for the packet and each copy, a write per copy.
pub(super) async fn forward_one(
    go: &crate::world::Go,
    d: &Datagram,
    route: &Route,
    how: Forwarder<'_>,
    cpu_rng: &mut SimRng,
    m: &RefCell<RoomMetrics>,
) {
    let Forwarder {
        fw,
        degrade,
        spreader,
    } = how;
    let mut probe = None;
    let mut forward = route.forward;
    let mut munged;
    let mut d = d;
    if let (Some(dg), MediaKind::Video) = (degrade, d.payload.kind) {
        match dg.admit(d, go.now()) {
            Admit::Shed => {
                m.borrow_mut().video_shed += 1;
                forward = false;
            }
            Admit::Skip => forward = false,
            Admit::Forward { rtp, probe: p } => {
                probe = p;
                munged = *d;
                munged.payload = rtp;
                d = &munged;
            }
        }
    }
    let n = if forward { route.dests.len() as u64 } else { 0 };
    let scale = 1.0 + fw.cpu_jitter * (2.0 * cpu_rng.unit_f64() - 1.0);
    if let Some(sp) = spreader {
        // The forwarder's own work; each WriteRTP is charged where the spreader runs it.
        go.compute(fw.frame_cpu.mul_f64(scale)).await;
        if forward {
            sp.broadcast(go, d, route).await;
        }
    } else {
        let base = fw.frame_cpu + super::livekit::write_cost(fw, d) * n;
        go.compute(base.mul_f64(scale)).await;
        if forward {
            for &h in route.dests.iter() {
                go.udp_send(Datagram {
                    src: (SERVER, d.payload.ssrc),
                    dst: (h, d.payload.ssrc),
                    payload: d.payload,
                    arrived: SimTime::ZERO,
                })
                .await;
            }
        }
    }
    let now = go.now();
    if let Some(dg) = degrade {
        dg.record(probe, now);
    }
    if !forward {
        // Read and parsed, not forwarded (a layer not selected, or shed).
        m.borrow_mut().unforwarded += 1;
        return;
    }
    let mut m = m.borrow_mut();
    m.forwarded_frames += 1;
    m.forwarded_copies += n;
    let _ = m
        .forward_latency
        .record(now.saturating_since(d.arrived).as_nanos().max(1));
    let _ = m
        .end_to_end
        .record(now.saturating_since(d.payload.capture).as_nanos().max(1));
}

/// The pool architecture's shared ring: a bounded FIFO of packets with their routes, and a
/// `chan struct{}` of capacity `workers` that wakes idle workers (a token per push, dropped
/// when enough wake-ups are already pending).
struct Ring {
    q: RefCell<std::collections::VecDeque<(Datagram, Rc<Route>)>>,
    capacity: usize,
    notify: crate::goruntime::Chan<()>,
}

impl Ring {
    /// The producer side: a full ring drops the packet (a lock-free ring cannot block).
    fn push(
        &self,
        go: &crate::world::Go,
        d: Datagram,
        route: &Rc<Route>,
        m: &RefCell<RoomMetrics>,
        notify: &crate::goruntime::Chan<()>,
    ) {
        {
            let mut q = self.q.borrow_mut();
            if q.len() >= self.capacity {
                m.borrow_mut().dropped += 1;
                return;
            }
            q.push_back((d, route.clone()));
        }
        let _ = notify.try_send(go, ());
    }
}

/// A pool worker: takes up to `take` packets from the ring at a time and forwards each; parks
/// on the notify channel while the ring is empty.
async fn pool_worker(
    go: crate::world::Go,
    ring: Rc<Ring>,
    take: usize,
    fw: crate::scenario::ForwardingSection,
    mut cpu_rng: SimRng,
    m: Rc<RefCell<RoomMetrics>>,
    degrade: Option<Rc<Degrade>>,
) {
    // Each worker holds its own handle on the wake-up channel, as Go code passes it to each;
    // the reachability leak detector counts handles (docs/leaks.md).
    let notify = ring.notify.clone();
    let mut batch = Vec::with_capacity(take);
    loop {
        {
            let mut q = ring.q.borrow_mut();
            let n = take.min(q.len());
            batch.extend(q.drain(..n));
        }
        if batch.is_empty() {
            if notify.recv(&go).await.is_none() {
                return;
            }
            continue;
        }
        for (d, route) in batch.drain(..) {
            let how = Forwarder::plain(&fw, degrade.as_deref());
            forward_one(&go, &d, &route, how, &mut cpu_rng, &m).await;
        }
    }
}

/// What every published stream's goroutines share on the server, fixed before the first
/// starts: the architecture's shared parts (the pool's ring, LiveKit's fan-out and NACK path).
struct Server<'a> {
    sc: &'a Scenario,
    go: crate::world::Go,
    metrics: Rc<RefCell<RoomMetrics>>,
    degrade: Option<Rc<Degrade>>,
    /// The worker pool's ring, when the architecture is `pool`.
    pool: Option<Rc<Ring>>,
    spreader: Rc<super::livekit::Spreader>,
    key_frame_interval: SimDuration,
    nack_path: Option<Rc<super::livekit::NackPath>>,
    /// LiveKit with NACKs: each forwarded video stream's packet history, by SSRC.
    sequencers: BTreeMap<u32, Rc<super::livekit::Sequencer>>,
}

/// Builds the room scenario on a fresh simulation. Returns the simulation and its metrics.
/// In order: links and players, the degradation breaker, the pool's workers, then each
/// participant's streams (socket, recvLoop, forwarder) and sender, LiveKit's RTCP readers, and
/// the scheduled faults.
pub fn build(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
) -> (Sim, Rc<RefCell<RoomMetrics>>) {
    let (sim, host) = super::new_sim(sc, seed, opts);
    assert_eq!(host, SERVER);
    let metrics = Rc::new(RefCell::new(RoomMetrics::new()));
    let go = sim.go(host);
    let layers: Vec<u32> = if sc.video.enabled {
        std::iter::once(sc.video.bitrate_kbps)
            .chain(sc.video.simulcast_kbps.iter().copied())
            .collect()
    } else {
        Vec::new()
    };
    let plis: PliBoard = Rc::new(RefCell::new(BTreeMap::new()));
    let livekit = sc.forwarding.architecture == Architecture::Livekit;
    let nack_path = (livekit && sc.forwarding.nack && sc.video.enabled)
        .then(|| Rc::new(super::livekit::NackPath::default()));
    links_and_players(&sim, sc, &plis, nack_path.as_ref(), &metrics);
    let degrade = sc.degrade.enabled.then(|| {
        Rc::new(Degrade::new(
            &sc.degrade,
            layers.len(),
            plis.clone(),
            sc.network.uplink.delay,
        ))
    });
    metrics.borrow_mut().degrade = degrade.clone();
    let pool = (sc.forwarding.architecture == Architecture::Pool)
        .then(|| start_pool(&go, sc, &metrics, &degrade));
    let mut srv = Server {
        sc,
        go: go.clone(),
        metrics: metrics.clone(),
        degrade,
        pool,
        spreader: Rc::new(super::livekit::Spreader {
            threshold: sc.forwarding.spreader_threshold as usize,
            num_cpu: sc.num_cpu() as usize,
            step: sc.forwarding.spreader_step as usize,
            fw: Rc::new(sc.forwarding.clone()),
        }),
        key_frame_interval: super::livekit::key_frame_interval(
            sc.network.downlink.delay + sc.network.downlink.delay,
        ),
        nack_path,
        sequencers: BTreeMap::new(),
    };
    let (k, listeners) = (sc.rooms.hosts_per_room, sc.rooms.listeners);
    let hosts_total = sc.rooms.count * k;
    let mut phase_rng = go.rng("room.phase", 0);
    let fps_schedule: Rc<[crate::media::source::FpsChange]> = sc.video.fps_schedule.clone().into();
    for room in 0..sc.rooms.count {
        for i in 0..k {
            let p = room * k + i;
            for s in 0..1 + layers.len() as u32 {
                // With layered degradation every layer reaches the forwarder, which selects.
                let forward = s == 0
                    || s == 1 + sc.forwarding.video_layer as u32
                    || sc.degrade.enabled
                        && sc.degrade.mode == crate::scenario::DegradeMode::Layers;
                let dests: Rc<[u32]> = (0..k)
                    .filter(|&j| j != i)
                    .map(|j| room * k + j + 1)
                    .chain((0..listeners).map(|l| hosts_total + room * listeners + l + 1))
                    .collect();
                start_stream(&mut srv, ssrc(p, s), s, Rc::new(Route { forward, dests }));
            }
            // The participant's sender, starting at a random phase of its frame interval.
            let audio = AudioSource::new(ssrc(p, 0), &sc.audio);
            let phase = SimDuration::from_nanos(phase_rng.below(audio.interval().as_nanos()));
            let video: Vec<VideoSource> = layers
                .iter()
                .enumerate()
                .map(|(l, &kbps)| VideoSource::new(ssrc(p, 1 + l as u32), l as u8, kbps, &sc.video))
                .collect();
            let start = SimTime::ZERO + phase;
            let sender = Sender {
                participant: p,
                audio,
                video,
                plis: plis.clone(),
                last_key: SimTime::ZERO,
                next_audio: start,
                next_video: start,
                fps_schedule: fps_schedule.clone(),
                next_fps: 0,
                rng: go.rng("room.media", p as u64),
                metrics: metrics.clone(),
            };
            sim.add_process(Box::new(sender), start);
        }
    }
    if let Some(path) = srv.nack_path.take() {
        start_rtcp_readers(&sim, &mut srv, path);
    }
    schedule_faults(&sim, sc);
    (sim, metrics)
}

/// The links between every participant and the server, and each participant's player: a
/// receiver per stream it subscribes to, bound to the stream's port on its host. Participant
/// ids: every room's hosts first (`room * k + i`), then every room's listeners.
fn links_and_players(
    sim: &Sim,
    sc: &Scenario,
    plis: &PliBoard,
    nack_path: Option<&Rc<super::livekit::NackPath>>,
    metrics: &Rc<RefCell<RoomMetrics>>,
) {
    let k = sc.rooms.hosts_per_room;
    let listeners = sc.rooms.listeners;
    let hosts_total = sc.rooms.count * k;
    let listener = |room: u32, l: u32| hosts_total + room * listeners + l;
    let jb: JitterBufferConfig = sc.receiver.clone();
    let pli_delay = sc.network.uplink.delay + sc.network.downlink.delay;
    sim.with_world_mut(|w| {
        for p in 0..hosts_total {
            w.net.set_link(p + 1, SERVER, sc.network.uplink.clone());
            w.net.set_link(SERVER, p + 1, sc.network.downlink.clone());
        }
        for room in 0..sc.rooms.count {
            for l in 0..listeners {
                w.net
                    .set_link(SERVER, listener(room, l) + 1, sc.network.downlink.clone());
            }
        }
    });
    for room in 0..sc.rooms.count {
        for i in 0..k + listeners {
            let p = if i < k {
                room * k + i
            } else {
                listener(room, i - k)
            };
            let mut player = Player {
                participant: p,
                audio: BTreeMap::new(),
                video: BTreeMap::new(),
                plis: plis.clone(),
                pli_delay,
                nack: nack_path.map(|path| PlayerNack {
                    host: p + 1,
                    path: path.clone(),
                    delay: sc.network.downlink.delay,
                    tracker: Default::default(),
                }),
            };
            for j in (0..k).filter(|&j| j != i) {
                let src = room * k + j;
                player
                    .audio
                    .insert(ssrc(src, 0), AudioReceiver::new(ssrc(src, 0), jb.clone()));
                if sc.video.enabled {
                    let s = ssrc(src, 1 + sc.forwarding.video_layer as u32);
                    player.video.insert(s, VideoReceiver::new(s, jb.clone()));
                }
            }
            let ports: Vec<u32> = player
                .audio
                .keys()
                .chain(player.video.keys())
                .copied()
                .collect();
            let player = Rc::new(RefCell::new(player));
            sim.with_world_mut(|w| {
                for port in ports {
                    w.net.bind((p + 1, port), Endpoint::Sink(player.clone()));
                }
            });
            metrics.borrow_mut().players.push(player);
        }
    }
}

/// The worker pool (§2.5): `workers` goroutines draining one ring, woken by a token channel.
fn start_pool(
    go: &crate::world::Go,
    sc: &Scenario,
    metrics: &Rc<RefCell<RoomMetrics>>,
    degrade: &Option<Rc<Degrade>>,
) -> Rc<Ring> {
    let workers = sc.pool_workers();
    let ring = Rc::new(Ring {
        q: RefCell::new(std::collections::VecDeque::with_capacity(
            sc.forwarding.ring_capacity as usize,
        )),
        capacity: sc.forwarding.ring_capacity as usize,
        notify: go.make_chan::<()>(workers as usize),
    });
    for w in 0..workers {
        let (ring, fw, m, dg) = (
            ring.clone(),
            sc.forwarding.clone(),
            metrics.clone(),
            degrade.clone(),
        );
        let (take, rng) = (
            sc.forwarding.take_batch as usize,
            go.rng("room.pool.cpu", w as u64),
        );
        go.go("main.poolWorker", move |go| {
            pool_worker(go, ring, take, fw, rng, m, dg)
        });
    }
    ring
}

/// One published stream `id` (layer `s`: 0 audio, then video layers) on the server: its socket,
/// its recvLoop, and what forwards it in the scenario's architecture — the pool's workers, a
/// split video pool with its scaler or an audio loop, LiveKit's forwardRTP with its
/// downtracks' goroutines, or a forwardLoop of its own.
fn start_stream(srv: &mut Server, id: u32, s: u32, route: Rc<Route>) {
    let (sc, go) = (srv.sc, srv.go.clone());
    let fd = go.bind(id);
    let cap = sc.forwarding.channel_capacity as usize;
    let split = sc.forwarding.architecture == Architecture::Split;
    let video_pool = (split && s > 0).then(|| {
        Rc::new(super::split::VideoPool::new(
            &go,
            cap,
            route.clone(),
            srv.degrade.clone(),
        ))
    });
    let frames = video_pool.as_ref().map(|vp| vp.frames.clone());
    let (to, ch) = match (&srv.pool, &video_pool) {
        (Some(ring), _) => (
            HandTo::Ring(ring.clone(), route.clone(), ring.notify.clone()),
            None,
        ),
        (None, Some(vp)) => (HandTo::Chan(vp.input.clone(), sc.forwarding.handoff), None),
        (None, None) => {
            let ch = go.make_chan::<Datagram>(cap);
            (HandTo::Chan(ch.clone(), sc.forwarding.handoff), Some(ch))
        }
    };
    let (m, alloc, batch) = (
        srv.metrics.clone(),
        sc.forwarding.alloc_bytes,
        sc.forwarding.batch as usize,
    );
    go.go("main.recvLoop", move |go| async move {
        let count = |d: &Datagram| {
            if let (Some(f), true) = (&frames, d.payload.marker) {
                f.set((f.get().0 + 1, d.payload.ts));
            }
        };
        loop {
            if batch > 1 {
                for d in fd.read_batch(&go, batch).await {
                    count(&d);
                    hand_off(&go, d, &to, &m, alloc).await;
                }
            } else {
                let d = fd.read(&go).await;
                count(&d);
                hand_off(&go, d, &to, &m, alloc).await;
            }
        }
    });
    let ch = match (video_pool, ch) {
        (Some(vp), _) => {
            let (m, fw) = (srv.metrics.clone(), sc.forwarding.clone());
            go.go("main.vidScaler", move |go| {
                super::split::vid_scaler(go, vp, fw, id, m)
            });
            return;
        }
        (None, None) => return, // the pool's workers forward
        (None, Some(ch)) => ch,
    };
    let (m, fw, dg) = (
        srv.metrics.clone(),
        sc.forwarding.clone(),
        srv.degrade.clone(),
    );
    let mut cpu_rng = go.rng("room.cpu", id as u64);
    match sc.forwarding.architecture {
        Architecture::Split => {
            go.go("main.audioLoop", move |go| {
                super::split::audio_loop(go, ch, route, fw, cpu_rng, m)
            });
        }
        Architecture::Livekit => start_forward_rtp(srv, id, s, ch, route, cpu_rng),
        _ => {
            go.go("main.forwardLoop", move |go| async move {
                while let Some(d) = ch.recv(&go).await {
                    forward_one(
                        &go,
                        &d,
                        &route,
                        Forwarder::plain(&fw, dg.as_deref()),
                        &mut cpu_rng,
                        &m,
                    )
                    .await;
                }
            });
        }
    }
}

/// LiveKit's forwarder of one stream (`(*ReceiverBase).forwardRTP`), and per video downtrack
/// its key-frame requester and layer notifier, on channels the downtrack (held by the
/// forwarder) owns.
fn start_forward_rtp(
    srv: &mut Server,
    id: u32,
    s: u32,
    ch: crate::goruntime::Chan<Datagram>,
    route: Rc<Route>,
    mut cpu_rng: SimRng,
) {
    let go = srv.go.clone();
    let forward = route.forward;
    let sq = (srv.nack_path.is_some() && forward && s > 0).then(|| {
        let sq = Rc::new(super::livekit::Sequencer::default());
        srv.sequencers.insert(id, sq.clone());
        sq
    });
    let mut downtracks = Vec::new();
    if s > 0 && forward {
        for _ in route.dests().iter() {
            let ev = super::livekit::DownTrackEvents::new(&go);
            let (kf, ml) = (ev.key_frame.clone(), ev.max_layer.clone());
            let interval = srv.key_frame_interval;
            go.go("sfu.(*DownTrack).keyFrameRequester", move |go| {
                super::livekit::key_frame_requester(go, kf, interval)
            });
            go.go("sfu.(*DownTrack).maxLayerNotifierWorker", move |go| {
                super::livekit::max_layer_notifier(go, ml)
            });
            downtracks.push(ev);
        }
    }
    let (sp, fw, dg, m) = (
        srv.spreader.clone(),
        srv.sc.forwarding.clone(),
        srv.degrade.clone(),
        srv.metrics.clone(),
    );
    go.go("sfu.(*ReceiverBase).forwardRTP", move |go| async move {
        let _downtracks = downtracks;
        while let Some(d) = ch.recv(&go).await {
            if let Some(sq) = &sq {
                sq.push(&d);
            }
            let how = Forwarder {
                fw: &fw,
                degrade: dg.as_deref(),
                spreader: Some(&sp),
            };
            forward_one(&go, &d, &route, how, &mut cpu_rng, &m).await;
        }
    });
}

/// LiveKit: each subscriber's RTCP reader (`(*DownTrack).handleRTCP`), and the path its NACKs
/// take to the server.
fn start_rtcp_readers(sim: &Sim, srv: &mut Server, path: Rc<super::livekit::NackPath>) {
    let sequencers = Rc::new(std::mem::take(&mut srv.sequencers));
    let mut sockets = BTreeMap::new();
    let hosts: Vec<u32> = srv
        .metrics
        .borrow()
        .players
        .iter()
        .map(|p| p.borrow().participant + 1)
        .collect();
    for h in hosts {
        let fd = srv.go.fd::<super::livekit::Nack>();
        sockets.insert(h, fd.clone());
        let (sq, fw, m) = (
            sequencers.clone(),
            srv.sc.forwarding.clone(),
            srv.metrics.clone(),
        );
        srv.go.go("sfu.(*DownTrack).handleRTCP", move |go| {
            super::livekit::rtcp_reader(go, fd, sq, fw, m)
        });
    }
    sim.add_process(
        Box::new(super::livekit::NackCourier { path, sockets }),
        SimTime::ZERO,
    );
}

/// The scenario's `[[network.faults]]`, on the links of the rooms and directions they name.
fn schedule_faults(sim: &Sim, sc: &Scenario) {
    let k = sc.rooms.hosts_per_room;
    for f in &sc.network.faults {
        let mut links = Vec::new();
        for room in (0..sc.rooms.count).filter(|r| f.rooms.is_empty() || f.rooms.contains(r)) {
            for i in 0..k {
                let h = room * k + i + 1;
                if f.direction != Direction::Down {
                    links.push((h, SERVER));
                }
                if f.direction != Direction::Up {
                    links.push((SERVER, h));
                }
            }
        }
        sim.add_fault(
            links,
            f.kind,
            SimTime::ZERO + f.from,
            SimTime::ZERO + f.until,
        );
    }
}

/// Runs the room scenario: builds, runs, closes the players' books.
pub fn run(sc: &Scenario, seed: u64) -> (Sim, RunOutcome, Rc<RefCell<RoomMetrics>>) {
    run_with_progress(sc, seed, &crate::world::SimOptions::default(), |_, _| {})
}

/// [`run`] with a progress callback (see [`Sim::run_with_progress`]).
pub fn run_with_progress(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome, Rc<RefCell<RoomMetrics>>) {
    let (sim, m) = build(sc, seed, opts);
    let out = sim.run_with_progress(progress);
    for p in &m.borrow().players {
        p.borrow_mut().finish(out.now);
    }
    let dg = m.borrow().degrade.clone();
    if let Some(dg) = dg {
        let mut b = dg.breaker.borrow_mut();
        let _ = b.state(out.now);
        m.borrow_mut().degrade_transitions = b.transitions.clone();
        drop(b);
        m.borrow_mut().degrade_levels = dg.levels();
    }
    (sim, out, m)
}

// Memory per item, for the budget (docs/performance.md, "Memory of a run").

/// Each participant (host or listener): its sockets, links both ways, endpoint, player.
const PER_PARTICIPANT: u64 = 20 * KIB;
/// Each published stream of one kind at the server: its goroutines, channel, forwarding state.
const PER_STREAM: u64 = 2 * KIB;
/// Each audio subscription: a jitter buffer, a receiver and its latency histogram.
const PER_AUDIO_SUBSCRIPTION: u64 = 9 * KIB;
/// Each video subscription: frame assembly, the receiver and packets held until playout.
const PER_VIDEO_SUBSCRIPTION: u64 = 24 * KIB;
/// Events per packet hop (arrival, read, hand-off, forward, delivery), measured on quickstart
/// and rooms-1000 (2.7–3.1).
const EVENTS_PER_HOP: f64 = 3.0;

/// Co-streaming rooms as a [`super::Workload`].
pub struct RoomWorkload;

fn pct_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1e6
    }
}

impl super::Ran {
    /// The room workload's metrics. Panics for another workload's run (a test's mistake).
    pub fn room(&self) -> std::cell::Ref<'_, RoomMetrics> {
        self.measured::<Rc<RefCell<RoomMetrics>>>()
            .expect("not a room run")
            .borrow()
    }
}

impl super::Workload for RoomWorkload {
    fn name(&self) -> &'static str {
        "room"
    }

    fn run(
        &self,
        sc: &Scenario,
        seed: u64,
        opts: &crate::world::SimOptions,
        progress: &mut dyn FnMut(SimTime, u64),
    ) -> (Sim, RunOutcome, super::Measured) {
        let (sim, out, m) = run_with_progress(sc, seed, opts, progress);
        (sim, out, Box::new(m))
    }

    fn metrics(&self) -> &'static [super::Metric] {
        &[
            ("audio.p50_ms", "audio capture → playout, median (room)"),
            (
                "audio.p99_ms",
                "audio capture → playout, 99th percentile (room)",
            ),
            (
                "video.p99_ms",
                "video capture → playout, 99th percentile (room)",
            ),
            (
                "forward.p99_ms",
                "arrival → forwarded at the server, 99th percentile (room)",
            ),
            (
                "audio.lost_pct",
                "audio packets lost at the players, percent (room)",
            ),
            ("dropped", "packets dropped at a full hand-off (room)"),
            ("video_shed", "video packets shed by degradation (room)"),
        ]
    }

    fn measure(&self, ran: &super::Ran, m: &mut BTreeMap<&'static str, f64>) {
        let Some(r) = ran.measured::<std::rc::Rc<std::cell::RefCell<RoomMetrics>>>() else {
            return;
        };
        let r = r.borrow();
        if let Some((a, _, _)) = r.aggregate(MediaKind::Audio) {
            m.insert("audio.p50_ms", pct_ms(&a.latency.to_hdr(), 0.5));
            m.insert("audio.p99_ms", pct_ms(&a.latency.to_hdr(), 0.99));
            let lost = r.packets_lost(MediaKind::Audio).max(0) as f64;
            let total = lost + a.packets_received as f64;
            m.insert("audio.lost_pct", 100.0 * lost / total.max(1.0));
        }
        if let Some((v, _, _)) = r.aggregate(MediaKind::Video) {
            m.insert("video.p99_ms", pct_ms(&v.latency.to_hdr(), 0.99));
        }
        m.insert("forward.p99_ms", pct_ms(&r.forward_latency, 0.99));
        m.insert("dropped", r.dropped as f64);
        m.insert("video_shed", r.video_shed as f64);
    }

    fn key_metrics(&self) -> Vec<&'static str> {
        vec!["audio.p99_ms", "forward.p99_ms"]
    }

    fn shrink_halving(&self) -> &'static [(&'static str, i64)] {
        &[("rooms.count", 1), ("rooms.listeners", 0)]
    }

    fn check_metric(&self, sc: &Scenario, cond: &str, metric: &str) -> Result<(), String> {
        if metric == "video.p99_ms" && !sc.video.enabled {
            return Err(format!(
                "--until `{cond}`: metric `{metric}` is not measured: this scenario sends no video (video.enabled = false)\n  hint: add --set video.enabled=true, or use audio.p99_ms"
            ));
        }
        Ok(())
    }

    fn summary(&self, sc: &Scenario, _ran: &super::Ran) -> Vec<String> {
        vec![room_summary(sc)]
    }

    fn report(&self, s: &mut String, sc: &Scenario, ran: &super::Ran) {
        let now = ran.out.now;
        let cpu = ran.sim.runtime(0, |rt| rt.cpu_used_ns(now));
        room_section(s, sc, &ran.room(), cpu, now)
    }

    fn comparison(&self, ran: &super::Ran) -> (Option<Histogram<u64>>, String) {
        let m = ran.room();
        match m.aggregate(MediaKind::Audio) {
            Some((q, _, _)) => {
                let expected = q.frames_rendered + q.frames_dropped;
                let lost = if expected == 0 {
                    "-".into()
                } else {
                    format!("{:.2}%", 100.0 * q.frames_dropped as f64 / expected as f64)
                };
                (Some(q.latency.to_hdr()), lost)
            }
            None => (None, "-".into()),
        }
    }

    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String) {
        let frame = SimDuration::from_nanos(1_000_000_000 / u64::from(sc.audio.fps.max(1)));
        let path = sc.network.uplink.delay + sc.network.downlink.delay;
        (
            frame + path,
            format!(
                "the first audio frame ({frame} apart) needs {path} of network delay to reach a subscriber"
            ),
        )
    }

    fn estimate(&self, sc: &Scenario) -> (Vec<super::Items>, f64) {
        let secs = sc.run.duration.as_secs_f64();
        let mut items = Vec::new();
        let r = &sc.rooms;
        let rooms = r.count as u64;
        let hosts = r.hosts_per_room as u64;
        let participants = rooms * (hosts + r.listeners as u64);
        // Every host hears the other hosts; every listener hears every host.
        let subscriptions = rooms * hosts * (hosts - 1 + r.listeners as u64);
        let streams = rooms * hosts;
        let video = sc.video.enabled;
        items.push((participants, "participants", PER_PARTICIPANT));
        let kinds = if video { 2 } else { 1 };
        items.push((streams * kinds, "streams", PER_STREAM));
        items.push((subscriptions, "audio subscriptions", PER_AUDIO_SUBSCRIPTION));
        let mut packets_per_s = sc.audio.fps as f64;
        if video {
            items.push((subscriptions, "video subscriptions", PER_VIDEO_SUBSCRIPTION));
            let v = &sc.video;
            let frame_bytes = v.bitrate_kbps as f64 * 125.0 / v.fps.max(1) as f64;
            let per_frame = (frame_bytes / v.mtu.max(100) as f64).ceil().max(1.0);
            packets_per_s += v.fps as f64 * per_frame;
        }
        (
            items,
            packets_per_s * (streams + subscriptions) as f64 * EVENTS_PER_HOP * secs,
        )
    }

    fn headline(&self, sc: &Scenario, ran: &super::Ran, s: &mut String) -> &'static str {
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<RoomMetrics>>>() else {
            return "";
        };
        let end_t = ran.out.now;
        let end = end_t.since_start().as_secs_f64().max(1e-9);
        let m = m.borrow();
        for (id, name, kind) in [
            (
                "latency-audio",
                "Audio latency tail: capture → playout",
                MediaKind::Audio,
            ),
            (
                "latency-video",
                "Video latency tail: capture → render",
                MediaKind::Video,
            ),
        ] {
            if let Some((q, _, _)) = m.aggregate(kind) {
                *s += &tail_plot(id, name, &q.latency.to_hdr());
            }
        }
        *s += &tail_plot(
            "latency-server",
            "Server latency tail: arrival → forwarded",
            &m.forward_latency,
        );
        if sc.forwarding.architecture == crate::scenario::Architecture::Split {
            let w = &m.video_workers;
            let changes: Vec<(f64, f64)> = w
                .points
                .iter()
                .map(|&(t, n)| (t.since_start().as_secs_f64(), n as f64))
                .collect();
            let mut p = time_plot(
                "video-workers",
                "Elastic video workers over time",
                "workers alive",
                end,
                vec![("video workers".into(), held_steps(0.0, &changes, end))],
            );
            p.note = format!(
                "{} started, {} stopped, peak {}",
                w.started, w.stopped, w.max
            );
            *s += &p.render();
        }
        if sc.degrade.enabled {
            *s += &lanes_plot(
                "video-breaker",
                "Video breaker state over time",
                end,
                &["video breaker"],
                &state_spans(0, &m.degrade_transitions, end_t),
                0.5,
                STATE_NOTE,
            );
        }
        "latency tails at the participants and at the server"
    }
}

/// The room workload's parameters: rooms, hosts, listeners, media and the architecture.
fn room_summary(sc: &Scenario) -> String {
    let handoff = match sc.forwarding.handoff {
        Handoff::Blocking => "blocking",
        Handoff::Nonblocking => "non-blocking (drop when full)",
    };
    let f = &sc.forwarding;
    let arch =
        match f.architecture {
            crate::scenario::Architecture::PerStream => {
                format!(
                    "goroutine per stream, hand-off {handoff}, capacity {}",
                    f.channel_capacity
                )
            }
            crate::scenario::Architecture::Pool => format!(
                "worker pool of {} over a {}-packet ring, {} per take",
                sc.pool_workers(),
                f.ring_capacity,
                f.take_batch
            ),
            crate::scenario::Architecture::Split => {
                format!(
            "split: audio {} forwarders, video scaled 1 worker per {} fps (max {}) every {}",
            if f.lock_audio { "LockOSThread" } else { "resident" },
            f.fps_per_worker,
            f.max_video_workers,
            f.scale_interval
        )
            }
            crate::scenario::Architecture::Livekit => format!(
                "LiveKit: forwardRTP per layer, DownTrackSpreader threshold {} over NumCPU {} taking {} at a time, NACK {}",
                f.spreader_threshold,
                sc.num_cpu(),
                f.spreader_step,
                if f.nack { "on" } else { "off" }
            ),
        };
    let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let video = if sc.video.enabled {
        format!(" · video {} fps", sc.video.fps)
    } else {
        String::new()
    };
    format!(
        "{} × {}{} · audio {} fps{video} · {arch}",
        plural(sc.rooms.count, "room", "rooms"),
        plural(sc.rooms.hosts_per_room, "host", "hosts"),
        if sc.rooms.listeners > 0 {
            format!(" + {}", plural(sc.rooms.listeners, "listener", "listeners"))
        } else {
            String::new()
        },
        sc.audio.fps
    )
}

fn room_section(
    s: &mut String,
    sc: &Scenario,
    m: &crate::workload::room::RoomMetrics,
    cpu_ns: u64,
    end: SimTime,
) {
    let f = &sc.forwarding;
    let _ = writeln!(s, "\nframes");
    let mut t = Table::new(&[
        "published",
        "arrived",
        "read",
        "dropped",
        "forwarded",
        "copies out",
        "drop rate",
    ]);
    let drop_rate = if m.read == 0 {
        0.0
    } else {
        100.0 * m.dropped as f64 / m.read as f64
    };
    t.row(vec![
        m.published.to_string(),
        m.arrived.to_string(),
        m.read.to_string(),
        m.dropped.to_string(),
        m.forwarded_frames.to_string(),
        m.forwarded_copies.to_string(),
        format!("{drop_rate:.2}%"),
    ]);
    s.push_str(&t.render("  "));
    let copies = m.forwarded_copies + m.retransmitted;
    if copies > 0 {
        let _ = writeln!(
            s,
            "  server CPU per packet out: {:.1} us ({:.3} CPU-s for {copies} packets; the LiveKit benchmark implies 13 audio, 18 meeting, 26 livestream)",
            cpu_ns as f64 / 1e3 / copies as f64,
            cpu_ns as f64 / 1e9
        );
    }
    let _ = writeln!(s, "\nlatency per frame (ms)");
    let mut t = Table::new(&["", "P50", "P99", "max", "mean"]);
    for (name, h) in [
        ("arrival → forwarded", &m.forward_latency),
        ("capture → forwarded", &m.end_to_end),
    ] {
        t.row(latency_row(name, h));
    }
    s.push_str(&t.render("  "));
    if sc.degrade.enabled {
        let _ = writeln!(
            s,
            "\ndegradation: {} video packets shed while video forwarding waited more than {}",
            m.video_shed, sc.degrade.max_queue_delay
        );
        timeline(s, "video breaker timeline", &m.degrade_transitions);
        match &m.degrade_levels {
            None => {
                let open = crate::workload::degrade::time_open(&m.degrade_transitions, end);
                let _ = writeln!(s, "  video paused (breaker open) for {open} in all");
            }
            Some((layers, tl)) => {
                let name = |lv: u8| match lv {
                    0 => "top layer".to_string(),
                    x if x == *layers => "paused".to_string(),
                    x => format!("layer {x}"),
                };
                let steps: Vec<String> = tl
                    .iter()
                    .take(16)
                    .map(|(t, lv)| format!("{} at {t}", name(*lv)))
                    .collect();
                let _ = writeln!(s, "  video level: {}", steps.join(" → "));
                let per = crate::workload::degrade::time_per_level(*layers, tl, end);
                let shares: Vec<String> = per
                    .iter()
                    .enumerate()
                    .map(|(i, d)| format!("{} {d}", name(i as u8)))
                    .collect();
                let _ = writeln!(s, "  time per level: {}", shares.join(" · "));
            }
        }
    }
    if f.architecture == crate::scenario::Architecture::Livekit {
        let _ = writeln!(
            s,
            "\nNACK: {} sequence numbers NACKed, {} retransmitted, {} no longer held",
            m.nacked, m.retransmitted, m.rtx_missing
        );
    }
    if f.architecture == crate::scenario::Architecture::Split {
        let w = &m.video_workers;
        let mut at = Vec::new();
        let mut t = SimTime::ZERO;
        while t <= SimTime::ZERO + sc.run.duration && at.len() < 60 {
            at.push(w.at(t).to_string());
            t += f.scale_interval;
        }
        let _ = writeln!(
            s,
            "\nelastic video workers: {} started, {} stopped, peak {}; alive every {}: {}",
            w.started,
            w.stopped,
            w.max,
            f.scale_interval,
            at.join(" ")
        );
    }
    qoe_section(s, m);
}

fn qoe_section(s: &mut String, m: &crate::workload::room::RoomMetrics) {
    use crate::media::rtp::MediaKind;
    let _ = writeln!(
        s,
        "\nquality of experience at the participants (capture → playout; docs/metrics.md)"
    );
    let mut t = Table::new(&[
        "",
        "streams",
        "packets",
        "lost",
        "late",
        "jitter ms",
        "P50 ms",
        "P95 ms",
        "P99 ms",
        "max ms",
        "≤150ms",
        "≤200ms",
        "≤400ms",
        "frames lost",
        "freezes",
        "kbit/s",
    ]);
    for (name, kind) in [("audio", MediaKind::Audio), ("video", MediaKind::Video)] {
        let Some((q, n, jitter)) = m.aggregate(kind) else {
            continue;
        };
        let h = &q.latency.to_hdr();
        // Sums `f` over every received stream of this kind, across all players.
        let sum = |f: &dyn Fn(&crate::media::qoe::StreamQoe) -> f64| -> f64 {
            m.players
                .iter()
                .map(|p| {
                    p.borrow()
                        .streams()
                        .filter(|x| x.kind == kind)
                        .map(f)
                        .sum::<f64>()
                })
                .sum()
        };
        let lost = sum(&|x| x.packets_lost() as f64) as i64;
        let kbps = sum(&|x| x.kbps()) / n.max(1) as f64;
        t.row(vec![
            name.into(),
            n.to_string(),
            q.packets_received.to_string(),
            lost.to_string(),
            q.packets_late.to_string(),
            format!("{:.2}", jitter * 1e3),
            ms(pct(h, 0.5)),
            ms(pct(h, 0.95)),
            ms(pct(h, 0.99)),
            ms(h.max()),
            share_below(h, 150_000_000),
            share_below(h, 200_000_000),
            share_below(h, 400_000_000),
            q.frames_dropped.to_string(),
            format!("{} ({})", q.freeze_count, q.total_freezes_duration),
            format!("{kbps:.0}"),
        ]);
    }
    s.push_str(&t.render("  "));
    let streams: usize = m.players.iter().map(|p| p.borrow().streams().count()).sum();
    if streams > 1 {
        let show = streams.min(6);
        let _ = writeln!(s, "  per stream (first {show} of {streams}):");
        let mut t = Table::new(&[
            "player",
            "ssrc",
            "kind",
            "packets",
            "lost",
            "jitter ms",
            "P50 ms",
            "P99 ms",
            "frames lost",
            "freezes",
            "jb delay ms",
        ]);
        let shown = m.players.iter().flat_map(|p| {
            let p = p.borrow();
            let who = p.participant;
            let rows: Vec<Vec<String>> = p.streams().map(|q| stream_row(who, q)).collect();
            rows
        });
        for row in shown.take(show) {
            t.row(row);
        }
        s.push_str(&t.render("    "));
    }
}

/// One line of the per-stream table.
fn stream_row(who: u32, q: &crate::media::qoe::StreamQoe) -> Vec<String> {
    vec![
        who.to_string(),
        q.ssrc.to_string(),
        format!("{:?}", q.kind).to_lowercase(),
        q.packets_received.to_string(),
        q.packets_lost().to_string(),
        format!("{:.2}", q.jitter.seconds() * 1e3),
        ms(q.latency.value_at_quantile(0.5)),
        ms(q.latency.value_at_quantile(0.99)),
        q.frames_dropped.to_string(),
        q.freeze_count.to_string(),
        q.jitter_buffer_delay
            .as_nanos()
            .checked_div(q.frames_rendered)
            .map_or("-".into(), ms),
    ]
}
