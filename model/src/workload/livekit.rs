//! Forwarding as LiveKit does it (`livekit/livekit`, `pkg/sfu`; ../shared/reference/media.md §3).
//!
//! * `forwardRTP` (`receiver_base.go`): one goroutine per received layer reads its buffer and
//!   fans each packet out with `DownTrackSpreader.Broadcast` (`utils/downtrackspreader.go`):
//!   serially below the threshold (20 for media tracks), otherwise `utils.ParallelExec`, which
//!   starts `min(runtime.NumCPU(), n)` goroutines per packet that take 2 downtracks at a time
//!   from a shared counter and waits for them on a WaitGroup ("WriteRTP takes about 50µs on
//!   average, so we write to 2 down tracks per loop").
//! * Per video downtrack, `keyFrameRequester` (a timer every `clamp(2·RTT, 200 ms, 1 s)`, then
//!   `CheckSync`) and `maxLayerNotifierWorker` (ranges over its channel).
//! * NACKs: the subscriber's RTCP reader starts `go d.retransmitPackets(nacks)` per NACK; it
//!   resends what the downtrack's sequencer still holds.

use super::room::{RoomMetrics, Route, SERVER};
use crate::goruntime::{Fd, RecvCase, WaitGroup};
use crate::scenario::ForwardingSection;
use crate::world::Datagram;
use crate::world::{Go, GoNet, Process, World};
use costream_sim::{SimDuration, SimTime};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// `keyFrameIntervalMin` (pkg/sfu/downtrack.go): the shortest key-frame request interval,
/// to which twice the RTT is clamped.
pub const KEY_FRAME_INTERVAL_MIN: SimDuration = SimDuration::from_millis(200);
/// `keyFrameIntervalMax` (pkg/sfu/downtrack.go): the longest.
pub const KEY_FRAME_INTERVAL_MAX: SimDuration = SimDuration::from_millis(1000);
/// Packets a video downtrack's sequencer remembers for retransmission (LiveKit's video buffer).
pub const SEQUENCER_PACKETS: usize = 500;

/// The fan-out settings of one server.
#[derive(Clone)]
pub(super) struct Spreader {
    pub threshold: usize,
    pub num_cpu: usize,
    pub step: usize,
    pub fw: Rc<ForwardingSection>,
}

/// CPU of one `DownTrack.WriteRTP`: fixed part plus per byte.
pub(super) fn write_cost(fw: &ForwardingSection, d: &Datagram) -> SimDuration {
    fw.per_destination_cpu + fw.per_byte_cpu * d.payload.size as u64
}

async fn write_rtp(go: &Go, d: &Datagram, host: u32, fw: &ForwardingSection) {
    go.compute(write_cost(fw, d)).await;
    go.udp_send(Datagram {
        src: (SERVER, d.payload.ssrc),
        dst: (host, d.payload.ssrc),
        payload: d.payload,
        arrived: SimTime::ZERO,
    })
    .await;
}

/// `parallelState`: the packet, its downtracks and the shared counter.
struct Parallel {
    d: Datagram,
    dests: Rc<[u32]>,
    next: Cell<usize>,
    wg: WaitGroup,
    fw: Rc<ForwardingSection>,
    step: usize,
}

impl Spreader {
    /// `DownTrackSpreader.Broadcast(writeRTP)` for one packet.
    pub async fn broadcast(&self, go: &Go, d: &Datagram, route: &Route) {
        let dests = route.dests();
        let n = dests.len();
        if n == 0 {
            return;
        }
        if n < self.threshold {
            for &h in dests.iter() {
                write_rtp(go, d, h, &self.fw).await;
            }
            return;
        }
        let workers = self.num_cpu.min(n).max(1);
        let st = Rc::new(Parallel {
            d: *d,
            dests: dests.clone(),
            next: Cell::new(0),
            wg: WaitGroup::new(),
            fw: self.fw.clone(),
            step: self.step,
        });
        st.wg.add(go, workers as i64);
        for _ in 0..workers {
            let st = st.clone();
            go.go("utils.(*parallelState).run", move |go| async move {
                loop {
                    let start = st.next.get();
                    if start >= st.dests.len() {
                        break;
                    }
                    st.next.set(start + st.step);
                    let end = (start + st.step).min(st.dests.len());
                    for i in start..end {
                        write_rtp(&go, &st.d, st.dests[i], &st.fw).await;
                    }
                }
                st.wg.done(&go);
            });
        }
        st.wg.wait(go).await;
    }
}

/// A downtrack's sequencer: the last packets forwarded on a stream, for NACKs.
#[derive(Default)]
pub(super) struct Sequencer {
    pkts: RefCell<VecDeque<Datagram>>,
}

impl Sequencer {
    pub fn push(&self, d: &Datagram) {
        let mut q = self.pkts.borrow_mut();
        if q.len() >= SEQUENCER_PACKETS {
            q.pop_front();
        }
        q.push_back(*d);
    }
    fn get(&self, seq: u16) -> Option<Datagram> {
        self.pkts
            .borrow()
            .iter()
            .rev()
            .find(|d| d.payload.seq == seq)
            .copied()
    }
}

/// One RTCP NACK from a subscriber: the stream and the missing sequence numbers.
#[derive(Clone, Debug)]
pub struct Nack {
    /// The subscriber's host.
    pub subscriber: u32,
    /// The stream with holes.
    pub ssrc: u32,
    /// The missing sequence numbers.
    pub seqs: Vec<u16>,
}

/// NACKs on their way from subscribers to the server (RTCP over the downlink's reverse path).
#[derive(Default)]
pub struct NackPath {
    queue: RefCell<VecDeque<(SimTime, Nack)>>,
    /// Sequence numbers NACKed so far.
    pub sent: Cell<u64>,
}

impl NackPath {
    /// Sends `n`, to arrive at the server at `due`.
    pub fn send(&self, due: SimTime, n: Nack) {
        self.sent.set(self.sent.get() + n.seqs.len() as u64);
        self.queue.borrow_mut().push_back((due, n));
    }
}

/// Delivers due NACKs to each subscriber's RTCP socket on the server, every millisecond.
pub(super) struct NackCourier {
    pub path: Rc<NackPath>,
    pub sockets: BTreeMap<u32, Fd<Nack>>,
}

/// The courier's polling period: adds at most this much to a NACK's delay.
pub const NACK_POLL: SimDuration = SimDuration::from_millis(1);

impl Process for NackCourier {
    fn fire(&mut self, w: &mut World, now: SimTime) -> Option<SimTime> {
        loop {
            let next = {
                let mut q = self.path.queue.borrow_mut();
                match q.front() {
                    Some((due, _)) if *due <= now => q.pop_front(),
                    _ => None,
                }
            };
            let Some((_, n)) = next else { break };
            if let Some(fd) = self.sockets.get(&n.subscriber) {
                fd.deliver(w, n);
            }
        }
        Some(now + NACK_POLL)
    }
}

/// The subscriber's RTCP reader on the server: `handleRTCP` → `go d.retransmitPackets(nacks)`.
pub(super) async fn rtcp_reader(
    go: Go,
    fd: Fd<Nack>,
    sequencers: Rc<BTreeMap<u32, Rc<Sequencer>>>,
    fw: ForwardingSection,
    m: Rc<RefCell<RoomMetrics>>,
) {
    loop {
        let n = fd.read(&go).await;
        m.borrow_mut().nacked += n.seqs.len() as u64;
        let (seqs, fw, m) = (sequencers.clone(), fw.clone(), m.clone());
        go.go("sfu.(*DownTrack).retransmitPackets", move |go| async move {
            let Some(sq) = seqs.get(&n.ssrc) else { return };
            for &s in &n.seqs {
                match sq.get(s) {
                    Some(d) => {
                        write_rtp(&go, &d, n.subscriber, &fw).await;
                        m.borrow_mut().retransmitted += 1;
                    }
                    None => m.borrow_mut().rtx_missing += 1,
                }
            }
        });
    }
}

/// A video downtrack's event channels (`keyFrameRequesterCh`, `maxLayerNotifierCh`): the
/// downtrack owns them, and its forwarder posts to them, so they stay reachable while it lives.
#[derive(Clone)]
pub(super) struct DownTrackEvents {
    pub key_frame: crate::goruntime::Chan<()>,
    pub max_layer: crate::goruntime::Chan<()>,
}

impl DownTrackEvents {
    pub fn new(go: &Go) -> Self {
        DownTrackEvents {
            key_frame: go.make_chan(1),
            max_layer: go.make_chan(1),
        }
    }
}

/// `keyFrameRequester`: wakes every `interval` (or when poked) and checks the layer lock.
pub(super) async fn key_frame_requester(
    go: Go,
    poke: crate::goruntime::Chan<()>,
    interval: SimDuration,
) {
    let timer = go.new_timer(interval);
    loop {
        let mut a = RecvCase::new(&poke);
        let mut b = RecvCase::new(&timer.c);
        go.select(&mut [&mut a, &mut b]).await;
        // forwarder.CheckSync: the layer is locked once a key frame went out, so no PLI.
        go.compute(SimDuration::from_micros(1)).await;
        timer.reset(&go, interval);
    }
}

/// `maxLayerNotifierWorker`: ranges over its channel; nothing changes layers here.
pub(super) async fn max_layer_notifier(go: Go, ch: crate::goruntime::Chan<()>) {
    while ch.recv(&go).await.is_some() {}
}

/// `clamp(2·RTT, keyFrameIntervalMin, keyFrameIntervalMax)`.
pub fn key_frame_interval(rtt: SimDuration) -> SimDuration {
    (rtt * 2).clamp(KEY_FRAME_INTERVAL_MIN, KEY_FRAME_INTERVAL_MAX)
}

/// The subscriber side of NACK: finds holes in a video stream's sequence numbers.
#[derive(Default)]
pub struct NackTracker {
    highest: BTreeMap<u32, u16>,
}

impl NackTracker {
    /// Sequence numbers missing before `seq` on `ssrc` (at most 64, as a NACK's bitmask spans).
    pub fn on_packet(&mut self, ssrc: u32, seq: u16) -> Vec<u16> {
        let Some(h) = self.highest.get(&ssrc).copied() else {
            self.highest.insert(ssrc, seq);
            return Vec::new();
        };
        let ahead = seq.wrapping_sub(h);
        if ahead == 0 || ahead >= 0x8000 {
            return Vec::new(); // duplicate or reordered/retransmitted
        }
        self.highest.insert(ssrc, seq);
        (1..ahead.min(65)).map(|i| h.wrapping_add(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nack_tracker_reports_holes_once() {
        let mut t = NackTracker::default();
        assert!(t.on_packet(7, 10).is_empty());
        assert!(t.on_packet(7, 11).is_empty());
        assert_eq!(t.on_packet(7, 14), vec![12, 13]);
        assert!(
            t.on_packet(7, 12).is_empty(),
            "a retransmission fills, not reports"
        );
        assert_eq!(t.on_packet(7, 1), Vec::<u16>::new(), "old");
        assert_eq!(t.on_packet(9, u16::MAX), Vec::<u16>::new());
        assert_eq!(t.on_packet(9, 1), vec![0], "wraps");
    }

    #[test]
    fn key_frame_interval_is_clamped() {
        let ms = SimDuration::from_millis;
        assert_eq!(key_frame_interval(ms(50)), ms(200));
        assert_eq!(key_frame_interval(ms(300)), ms(600));
        assert_eq!(key_frame_interval(ms(900)), ms(1000));
    }
}
