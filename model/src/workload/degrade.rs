//! Degradation on the media path when the server saturates: a gobreaker guards video
//! forwarding. A video packet that waited longer than `max_queue_delay` before its forwarder
//! reached it is a failure.
//!
//! * `pause` mode: while the breaker is open, video is shed and audio still flows; half-open
//!   lets `max_requests` video packets through as probes.
//! * `layers` mode (simulcast): as LiveKit's StreamAllocator allocates layer by layer, every
//!   trip drops one simulcast layer, and below the lowest pauses video; once the breaker has
//!   stayed closed for `upgrade_after` (LiveKit's `PausedMinWait`, 5 s) one layer comes back,
//!   and so on. A switch waits for a key frame of the new layer
//!   (a PLI asks for one), and the forwarder munges sequence numbers and SSRC so subscribers
//!   see one continuous stream (LiveKit's `Forwarder`/`RTPMunger`).

use super::room::{participant_of, ssrc};
use crate::media::rtp::{MediaKind, Rtp};
use crate::server::breaker::{self, Breaker, State};
use crate::world::Datagram;
use costream_sim::{SimDuration, SimTime};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Key-frame requests on their way to senders: source SSRC → when the request arrives.
pub(super) type PliBoard = Rc<RefCell<BTreeMap<u32, SimTime>>>;

/// What to do with one video packet.
pub(super) enum Admit {
    /// Shed while video is paused (counted).
    Shed,
    /// A simulcast layer not selected now: read but not forwarded.
    Skip,
    /// Forward this (possibly munged) packet; `probe` is the breaker generation and whether
    /// the packet was on time.
    Forward {
        rtp: Rtp,
        probe: Option<(u64, bool)>,
    },
}

/// One publisher's munger: the layer it forwards and the offsets that keep its output
/// continuous across switches.
struct Munger {
    current: u8,
    seq_offset: u16,
    last_seq: Option<u16>,
    last_frame: Option<u32>,
}

/// A munger that forwards no layer (after a pause): it resumes at a key frame.
const NO_LAYER: u8 = u8::MAX;

struct Layered {
    layers: u8,
    level: Cell<u8>,
    seen: Cell<usize>,
    mungers: RefCell<BTreeMap<u32, Munger>>,
    plis: PliBoard,
    pli_delay: SimDuration,
    upgrade_after: SimDuration,
    /// When the level last changed or the breaker last closed.
    calm_since: Cell<SimTime>,
    timeline: RefCell<Vec<(SimTime, u8)>>,
}

/// The degradation breaker of a room server: sheds video (or steps down a simulcast layer)
/// while forwarding falls behind, with a circuit breaker deciding when to try again.
pub struct Degrade {
    pub(super) breaker: RefCell<Breaker>,
    max_queue_delay: SimDuration,
    layered: Option<Layered>,
}

impl Degrade {
    pub(super) fn new(
        c: &crate::scenario::DegradeSection,
        layers: usize,
        plis: PliBoard,
        pli_delay: SimDuration,
    ) -> Self {
        let layered = (c.mode == crate::scenario::DegradeMode::Layers).then(|| Layered {
            layers: layers as u8,
            level: Cell::new(0),
            seen: Cell::new(0),
            mungers: RefCell::new(BTreeMap::new()),
            plis,
            pli_delay,
            upgrade_after: c.upgrade_after,
            calm_since: Cell::new(SimTime::ZERO),
            timeline: RefCell::new(vec![(SimTime::ZERO, 0)]),
        });
        Degrade {
            breaker: RefCell::new(Breaker::new(
                breaker::Settings {
                    max_requests: c.max_requests,
                    interval: SimDuration::ZERO,
                    timeout: c.timeout,
                    ready_to_trip: breaker::trip_after_consecutive_failures(c.trip_after),
                },
                SimTime::ZERO,
            )),
            max_queue_delay: c.max_queue_delay,
            layered,
        }
    }

    /// Decides the fate of a video packet arriving at its forwarder at `now`.
    pub(super) fn admit(&self, d: &Datagram, now: SimTime) -> Admit {
        debug_assert_eq!(d.payload.kind, MediaKind::Video);
        let on_time = now.saturating_since(d.arrived) <= self.max_queue_delay;
        let Some(l) = &self.layered else {
            return match self.breaker.borrow_mut().before_request(now) {
                Err(_) => Admit::Shed,
                Ok(g) => Admit::Forward {
                    rtp: d.payload,
                    probe: Some((g, on_time)),
                },
            };
        };
        self.sync_level(l, now);
        let level = l.level.get();
        // Paused: probes (half-open) go out on the lowest layer.
        let select = level.min(l.layers - 1);
        let publisher = participant_of(d.payload.ssrc);
        let mut mungers = l.mungers.borrow_mut();
        let m = mungers.entry(publisher).or_insert(Munger {
            current: select,
            seq_offset: 0,
            last_seq: None,
            last_frame: None,
        });
        let mut switch = None;
        if d.payload.layer != m.current {
            // Switch at the first packet of a key frame of the selected layer.
            let newer = m.last_frame.is_none_or(|f| d.payload.frame > f);
            if d.payload.layer != select || !d.payload.keyframe || !newer {
                return Admit::Skip;
            }
            switch = Some(
                m.last_seq
                    .map_or(0, |s| s.wrapping_add(1).wrapping_sub(d.payload.seq)),
            );
        }
        let admitted = self.breaker.borrow_mut().before_request(now);
        let probe = match admitted {
            Err(_) if level >= l.layers => {
                // Paused: the decoder will need a key frame to resume, as after a switch.
                m.current = NO_LAYER;
                return Admit::Shed;
            }
            Err(_) => None,
            Ok(g) => Some((g, on_time)),
        };
        // Forwarded: the munger moves on only now, so a shed packet leaves no gap.
        if let Some(off) = switch {
            m.current = select;
            m.seq_offset = off;
        }
        let mut rtp = d.payload;
        rtp.ssrc = ssrc(publisher, 1);
        rtp.seq = rtp.seq.wrapping_add(m.seq_offset);
        m.last_seq = Some(rtp.seq);
        m.last_frame = Some(rtp.frame);
        drop(mungers);
        self.sync_level(l, now);
        Admit::Forward { rtp, probe }
    }

    /// Reports a probe's outcome to the breaker.
    pub(super) fn record(&self, probe: Option<(u64, bool)>, now: SimTime) {
        if let Some((g, ok)) = probe {
            self.breaker.borrow_mut().after_request(g, ok, now);
        }
        if let Some(l) = &self.layered {
            self.sync_level(l, now);
        }
    }

    /// Follows the breaker: a trip drops a layer (or pauses); a breaker closed for
    /// `upgrade_after` restores one. A new target layer is asked for a key frame.
    fn sync_level(&self, l: &Layered, now: SimTime) {
        let mut b = self.breaker.borrow_mut();
        let closed = b.state(now) == State::Closed;
        for t in &b.transitions[l.seen.get()..] {
            match t.to {
                State::Open => Self::set_level(l, (l.level.get() + 1).min(l.layers), t.at, now),
                State::Closed => l.calm_since.set(t.at),
                State::HalfOpen => {}
            }
        }
        l.seen.set(b.transitions.len());
        drop(b);
        let level = l.level.get();
        if closed && level > 0 && now.saturating_since(l.calm_since.get()) >= l.upgrade_after {
            Self::set_level(l, level - 1, now, now);
        }
    }

    fn set_level(l: &Layered, next: u8, at: SimTime, now: SimTime) {
        if next == l.level.get() {
            return;
        }
        l.level.set(next);
        l.calm_since.set(at);
        l.timeline.borrow_mut().push((at, next));
        let target = next.min(l.layers - 1);
        let mut board = l.plis.borrow_mut();
        for &p in l.mungers.borrow().keys() {
            board
                .entry(ssrc(p, 1 + target as u32))
                .or_insert(now + l.pli_delay);
        }
    }

    /// The video level over time: (when, level), 0 = top layer, `layers` = paused.
    pub fn levels(&self) -> Option<(u8, Vec<(SimTime, u8)>)> {
        self.layered
            .as_ref()
            .map(|l| (l.layers, l.timeline.borrow().clone()))
    }
}

/// Time spent at each level up to `end` (index = level).
pub fn time_per_level(layers: u8, timeline: &[(SimTime, u8)], end: SimTime) -> Vec<SimDuration> {
    let mut out = vec![SimDuration::ZERO; layers as usize + 1];
    for (i, &(t, lv)) in timeline.iter().enumerate() {
        let until = timeline.get(i + 1).map_or(end, |x| x.0).min(end);
        out[lv as usize] += until.saturating_since(t);
    }
    out
}

/// Time the breaker spent open up to `end` (pause mode: video paused).
pub fn time_open(transitions: &[breaker::Transition], end: SimTime) -> SimDuration {
    let mut total = SimDuration::ZERO;
    let mut since = None;
    for t in transitions {
        if t.to == State::Open {
            since = Some(t.at);
        } else if let Some(s) = since.take() {
            total += t.at.saturating_since(s);
        }
    }
    if let Some(s) = since {
        total += end.saturating_since(s);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_per_level_and_open_time() {
        let s = |ms| SimTime::ZERO + SimDuration::from_millis(ms);
        let tl = [(s(0), 0), (s(100), 1), (s(300), 2), (s(400), 1)];
        let t = time_per_level(2, &tl, s(1000));
        assert_eq!(
            t,
            vec![
                SimDuration::from_millis(100),
                SimDuration::from_millis(800),
                SimDuration::from_millis(100)
            ]
        );
        let tr = [
            breaker::Transition {
                at: s(100),
                from: State::Closed,
                to: State::Open,
            },
            breaker::Transition {
                at: s(300),
                from: State::Open,
                to: State::HalfOpen,
            },
            breaker::Transition {
                at: s(900),
                from: State::HalfOpen,
                to: State::Open,
            },
        ];
        assert_eq!(time_open(&tr, s(1000)), SimDuration::from_millis(300));
    }
}
