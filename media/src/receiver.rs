//! Receivers: an adaptive audio jitter buffer and a video frame assembler with a playout
//! deadline, both feeding a [`StreamQoe`].
//!
//! Playout is evaluated per packet, without ticking: a frame's playout time is its capture time
//! plus the smallest recent one-way delay plus the buffer's target delay. The audio target
//! follows the 95th percentile of recent delays above the smallest (NetEQ's delay manager uses
//! quantile 0.95), within [`JitterBufferConfig`]'s bounds; a packet arriving after its playout
//! time is discarded and its frame concealed. Video renders complete frames at their playout
//! time; a frame late by more than 5 ms (libwebrtc `kMaxAllowedFrameDelayMs`), or incomplete
//! when its time passes, is dropped, and delta frames after a drop cannot be decoded until the
//! next key frame. A freeze is a gap between rendered frames of at least
//! max(3 × mean, mean + 150 ms) over the last 30 (webrtc-stats `freezeCount`).

use super::qoe::StreamQoe;
use super::rtp::Rtp;
use costream_sim::{SimDuration, SimTime};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};

/// `[receiver]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitterBufferConfig {
    #[serde(with = "costream_sim::units::dur")]
    /// The least playout delay the buffer targets.
    pub min_delay: SimDuration,
    #[serde(with = "costream_sim::units::dur")]
    /// The most playout delay it targets, however late packets arrive.
    pub max_delay: SimDuration,
    /// Packets in the delay window.
    pub window: usize,
    /// Latency budget for "frames within budget" (ITU-T G.114: 150 ms).
    #[serde(with = "costream_sim::units::dur")]
    pub budget: SimDuration,
}

impl Default for JitterBufferConfig {
    fn default() -> Self {
        Self {
            min_delay: SimDuration::from_millis(20),
            max_delay: SimDuration::from_millis(1000),
            window: 200,
            budget: SimDuration::from_millis(150),
        }
    }
}

/// The delay estimate both receivers share: a window of one-way delays, kept in arrival order
/// and sorted, so the minimum and a quantile cost a lookup, not a sort, per packet.
struct DelayWindow {
    delays: VecDeque<u64>,
    sorted: Vec<u64>,
    cap: usize,
}

impl DelayWindow {
    fn new(cap: usize) -> Self {
        Self {
            delays: VecDeque::with_capacity(cap),
            sorted: Vec::with_capacity(cap),
            cap,
        }
    }
    fn push(&mut self, d: u64) {
        if self.delays.len() == self.cap {
            let old = self.delays.pop_front().expect("full window");
            let i = self
                .sorted
                .binary_search(&old)
                .expect("window value is in the sorted copy");
            self.sorted.remove(i);
        }
        self.delays.push_back(d);
        let i = self.sorted.partition_point(|&x| x < d);
        self.sorted.insert(i, d);
    }
    fn min(&self) -> u64 {
        self.sorted.first().copied().unwrap_or(0)
    }
    fn quantile(&self, q: f64) -> u64 {
        if self.sorted.is_empty() {
            return 0;
        }
        self.sorted[((self.sorted.len() - 1) as f64 * q).round() as usize]
    }
}

/// Recently seen extended sequence numbers, for duplicate detection without allocation.
struct Seen {
    ring: Box<[u64; SEEN_SLOTS]>,
}

const SEEN_SLOTS: usize = 1024;

impl Seen {
    fn new() -> Self {
        Self {
            ring: Box::new([u64::MAX; SEEN_SLOTS]),
        }
    }
    /// Records `ext`; false if it was already seen.
    fn insert(&mut self, ext: u64) -> bool {
        let slot = &mut self.ring[(ext as usize) % SEEN_SLOTS];
        if *slot == ext {
            return false;
        }
        *slot = ext;
        true
    }
}

fn extend_seq(highest: Option<u64>, seq: u16) -> u64 {
    match highest {
        None => seq as u64 + (1 << 16),
        Some(h) => {
            let base = h & !0xffff;
            let cands = [
                base.wrapping_sub(1 << 16) | seq as u64,
                base | seq as u64,
                (base + (1 << 16)) | seq as u64,
            ];
            *cands
                .iter()
                .min_by_key(|&&c| c.abs_diff(h))
                .expect("three candidates")
        }
    }
}

fn note_packet(q: &mut StreamQoe, p: &Rtp, at: SimTime, seen: &mut Seen) -> Option<u64> {
    q.packets_received += 1;
    q.bytes_received += p.size as u64;
    q.first_arrival.get_or_insert(at);
    q.last_arrival = at;
    let ext = extend_seq(q.first_seq.map(|_| q.highest_seq), p.seq);
    if !seen.insert(ext) {
        q.duplicates += 1;
        return None;
    }
    if q.first_seq.is_none_or(|f| ext < f) {
        q.first_seq = Some(ext);
    }
    q.highest_seq = q.highest_seq.max(ext);
    q.jitter.update(at.as_nanos(), p.ts);
    Some(ext)
}

/// An adaptive audio jitter buffer.
pub struct AudioReceiver {
    /// What this receiver saw of its stream.
    pub qoe: StreamQoe,
    cfg: JitterBufferConfig,
    window: DelayWindow,
    target: u64,
    seen: Seen,
    /// Frames played, by frame index, to find concealed ones.
    played: u64,
    last_played_frame: Option<u32>,
    /// The scheduled frame with the latest capture: (capture, playout).
    latest: Option<(SimTime, SimTime)>,
}

impl AudioReceiver {
    /// A receiver of audio stream `ssrc`.
    pub fn new(ssrc: u32, cfg: JitterBufferConfig) -> Self {
        let cap = cfg.window.max(1);
        Self {
            qoe: StreamQoe::new(super::rtp::MediaKind::Audio, ssrc, cfg.budget),
            target: cfg.min_delay.as_nanos(),
            cfg,
            window: DelayWindow::new(cap),
            seen: Seen::new(),
            played: 0,
            last_played_frame: None,
            latest: None,
        }
    }

    /// Current target delay above the fastest recent packet (`jitterBufferTargetDelay`).
    pub fn target(&self) -> SimDuration {
        SimDuration::from_nanos(self.target)
    }

    /// Packet `p` arrives at `at`: it is scheduled for playout, or counted late or a duplicate.
    pub fn on_packet(&mut self, p: &Rtp, at: SimTime) {
        if note_packet(&mut self.qoe, p, at, &mut self.seen).is_none() {
            return;
        }
        let d = at.saturating_since(p.capture).as_nanos();
        let base = self
            .window
            .min()
            .min(d)
            .max(if self.window.delays.is_empty() { d } else { 0 });
        let base = if self.window.delays.is_empty() {
            d
        } else {
            base
        };
        let mut playout = p.capture + SimDuration::from_nanos(base + self.target);
        // A buffer plays in order: when the target shrinks, later frames play back to back
        // after the earlier ones (NetEQ accelerates), never before them; a late-arriving
        // earlier frame can only fill a slot before the later frames already scheduled.
        if let Some((c, at_latest)) = self.latest {
            if p.capture > c {
                playout = playout.max(at_latest);
            } else {
                playout = playout.min(at_latest);
            }
        }
        if at > playout {
            self.qoe.packets_late += 1;
        } else {
            let lat = playout.saturating_since(p.capture);
            if self.latest.is_none_or(|(c, _)| p.capture > c) {
                self.latest = Some((p.capture, playout));
            }
            self.qoe.note_playout(p.capture, playout);
            self.qoe.record_frame(lat);
            self.qoe.jitter_buffer_delay += playout.saturating_since(at);
            self.played += 1;
            if let Some(last) = self.last_played_frame {
                if p.frame > last + 1 {
                    self.qoe.concealment_events += 1;
                }
            }
            self.last_played_frame =
                Some(self.last_played_frame.map_or(p.frame, |l| l.max(p.frame)));
        }
        self.window.push(d);
        let spread = self.window.quantile(0.95).saturating_sub(self.window.min());
        self.target = spread.clamp(self.cfg.min_delay.as_nanos(), self.cfg.max_delay.as_nanos());
    }

    /// Closes the books: frames expected but never played were concealed.
    pub fn finish(&mut self) {
        let expected = match self.qoe.first_seq {
            None => 0,
            Some(f) => self.qoe.highest_seq - f + 1,
        };
        self.qoe.frames_dropped = expected.saturating_sub(self.played);
    }
}

struct FrameState {
    got: u16,
    need: u16,
    key: bool,
    capture: SimTime,
    complete_at: Option<SimTime>,
}

/// A video frame assembler with a playout deadline.
pub struct VideoReceiver {
    /// What this receiver saw of its stream.
    pub qoe: StreamQoe,
    cfg: JitterBufferConfig,
    window: DelayWindow,
    target: u64,
    seen: Seen,
    frames: BTreeMap<u32, FrameState>,
    next_frame: Option<u32>,
    decodable: bool,
    last_render: Option<SimTime>,
    gaps: VecDeque<u64>,
    /// When the decoder lost its reference: a key frame request (PLI) is due.
    pub pli_needed: Option<SimTime>,
    /// Key frame requests sent.
    pub plis: u64,
    /// Waiting past its time for the next frame (a PLI has been asked for).
    stalled: bool,
    /// The frame a stall's PLI was for.
    stall_pli_frame: Option<u32>,
}

/// `kMaxWaitForFrameMs` (libwebrtc video_receive_stream2.h).
const MAX_WAIT_FOR_FRAME: SimDuration = SimDuration::from_secs(3);

/// `kMaxAllowedFrameDelayMs` (libwebrtc frame_buffer2.cc).
const MAX_ALLOWED_FRAME_DELAY: SimDuration = SimDuration::from_millis(5);

impl VideoReceiver {
    /// A receiver of video stream `ssrc`.
    pub fn new(ssrc: u32, cfg: JitterBufferConfig) -> Self {
        let cap = cfg.window.max(1);
        Self {
            qoe: StreamQoe::new(super::rtp::MediaKind::Video, ssrc, cfg.budget),
            target: cfg.min_delay.as_nanos(),
            cfg,
            window: DelayWindow::new(cap),
            seen: Seen::new(),
            frames: BTreeMap::new(),
            next_frame: None,
            decodable: false,
            last_render: None,
            gaps: VecDeque::new(),
            pli_needed: None,
            plis: 0,
            stalled: false,
            stall_pli_frame: None,
        }
    }

    fn deadline(&self, capture: SimTime) -> SimTime {
        capture + SimDuration::from_nanos(self.window.min() + self.target)
    }

    /// Packet `p` arrives at `at`: it joins its frame, which renders once complete and due.
    pub fn on_packet(&mut self, p: &Rtp, at: SimTime) {
        self.settle(at);
        if note_packet(&mut self.qoe, p, at, &mut self.seen).is_none() {
            return;
        }
        if self.next_frame.is_some_and(|n| p.frame < n) {
            self.qoe.packets_late += 1;
            return;
        }
        self.next_frame.get_or_insert(p.frame);
        let f = self.frames.entry(p.frame).or_insert(FrameState {
            got: 0,
            need: p.frame_packets,
            key: p.keyframe,
            capture: p.capture,
            complete_at: None,
        });
        f.got += 1;
        if f.got >= f.need && f.complete_at.is_none() {
            f.complete_at = Some(at);
            let d = at.saturating_since(p.capture).as_nanos();
            self.window.push(d);
            let spread = self.window.quantile(0.95).saturating_sub(self.window.min());
            self.target =
                spread.clamp(self.cfg.min_delay.as_nanos(), self.cfg.max_delay.as_nanos());
        }
        self.settle(at);
    }

    /// Renders or drops every frame whose turn has come by `now`.
    fn settle(&mut self, now: SimTime) {
        if self.window.delays.is_empty() {
            // No delay measured yet: no deadline can be set.
            return;
        }
        while let Some(n) = self.next_frame {
            let Some(f) = self.frames.get(&n) else {
                // Nothing of this frame arrived; give up on it once a later frame is due.
                match self.frames.keys().next().copied() {
                    Some(later) if self.deadline(self.frames[&later].capture) <= now => {
                        self.drop_frame(n);
                        continue;
                    }
                    _ => return,
                }
            };
            let deadline = self.deadline(f.capture);
            match f.complete_at {
                Some(c) if c <= deadline + MAX_ALLOWED_FRAME_DELAY => {
                    let render = deadline.max(c);
                    if render > now {
                        return;
                    }
                    if f.key {
                        self.decodable = true;
                    }
                    if self.decodable {
                        let cap = f.capture;
                        self.qoe.jitter_buffer_delay += render.saturating_since(c);
                        self.render(render, cap);
                        self.frames.remove(&n);
                        self.next_frame = Some(n + 1);
                    } else {
                        self.drop_frame(n);
                    }
                }
                Some(c) => {
                    // Late by more than 5 ms: dropped only if a newer frame was complete by then
                    // (frame_buffer2); otherwise it is decoded late.
                    let newer = self
                        .frames
                        .range(n + 1..)
                        .any(|(_, g)| g.complete_at.is_some_and(|x| x <= c));
                    if newer || c > now {
                        if newer {
                            self.drop_frame(n);
                            continue;
                        }
                        return;
                    }
                    let key = f.key;
                    let cap = f.capture;
                    if key {
                        self.decodable = true;
                    }
                    if self.decodable {
                        self.render(c, cap);
                        self.frames.remove(&n);
                        self.next_frame = Some(n + 1);
                    } else {
                        self.drop_frame(n);
                    }
                }
                None if deadline + MAX_ALLOWED_FRAME_DELAY < now => {
                    // Its time has passed and it is still incomplete: ask for a key frame once,
                    // skip to a newer complete key frame if there is one, give up after
                    // kMaxWaitForFrameMs (3 s); otherwise keep waiting for late packets.
                    if !self.stalled {
                        self.stalled = true;
                        self.stall_pli_frame = Some(n);
                        self.pli_needed = Some(f.capture);
                        self.plis += 1;
                    }
                    let key = self
                        .frames
                        .range(n + 1..)
                        .find(|(_, g)| g.key && g.complete_at.is_some())
                        .map(|(&k, _)| k);
                    if let Some(k) = key {
                        for m in n..k {
                            self.drop_frame(m);
                        }
                        continue;
                    }
                    if deadline + MAX_WAIT_FOR_FRAME < now {
                        self.drop_frame(n);
                        continue;
                    }
                    return;
                }
                None => return,
            }
        }
    }

    fn drop_frame(&mut self, n: u32) {
        let capture = self.frames.remove(&n).map(|f| f.capture);
        self.qoe.frames_dropped += 1;
        self.stalled = false;
        if self.decodable && !self.stalled_pli_sent(n) {
            // The reference is gone: ask the sender for a key frame (PLI, RFC 4585 §6.3.1).
            self.pli_needed = Some(capture.unwrap_or(SimTime::ZERO));
            self.plis += 1;
        }
        self.decodable = false;
        self.next_frame = Some(n + 1);
    }

    /// True if a stall already asked for a key frame on behalf of frame `n`.
    fn stalled_pli_sent(&self, n: u32) -> bool {
        self.stall_pli_frame == Some(n)
    }

    fn render(&mut self, at: SimTime, capture: SimTime) {
        self.stalled = false;
        let at = self.last_render.map_or(at, |l| at.max(l));
        if let Some(prev) = self.last_render {
            let gap = at.saturating_since(prev).as_nanos();
            if self.gaps.len() >= 5 {
                let mean = self.gaps.iter().sum::<u64>() / self.gaps.len() as u64;
                if gap >= (3 * mean).max(mean + 150_000_000) {
                    self.qoe.freeze_count += 1;
                    self.qoe.total_freezes_duration += SimDuration::from_nanos(gap);
                }
            }
            if self.gaps.len() == 30 {
                self.gaps.pop_front();
            }
            self.gaps.push_back(gap);
        }
        self.last_render = Some(at);
        self.qoe.note_playout(capture, at);
        self.qoe.record_frame(at.saturating_since(capture));
    }

    /// Closes the books at `now`.
    pub fn finish(&mut self, now: SimTime) {
        self.settle(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::MediaKind;

    const MS: u64 = 1_000_000;

    fn audio(seq: u16, frame: u32, capture_ms: u64) -> Rtp {
        Rtp {
            ssrc: 1,
            kind: MediaKind::Audio,
            seq,
            ts: frame * 960,
            marker: true,
            frame,
            frame_packets: 1,
            capture: SimTime::from_nanos(capture_ms * MS),
            size: 120,
            ..Default::default()
        }
    }

    #[test]
    fn steady_audio_plays_every_frame_at_min_delay() {
        let mut r = AudioReceiver::new(1, JitterBufferConfig::default());
        for i in 0..100u32 {
            let p = audio(i as u16, i, i as u64 * 20);
            r.on_packet(&p, SimTime::from_nanos((i as u64 * 20 + 40) * MS));
        }
        r.finish();
        assert_eq!(r.qoe.frames_rendered, 100);
        assert_eq!(r.qoe.frames_dropped, 0);
        assert_eq!(r.target(), SimDuration::from_millis(20));
        assert_eq!(r.qoe.latency.max() / MS, 60, "40 ms network + 20 ms buffer");
        assert_eq!(r.qoe.share_within_budget(), 1.0);
    }

    #[test]
    fn jitter_raises_the_target_and_late_packets_are_concealed() {
        let mut r = AudioReceiver::new(1, JitterBufferConfig::default());
        for i in 0..200u32 {
            // Every 10th packet is 80 ms late.
            let extra = if i % 10 == 9 { 80 } else { 0 };
            r.on_packet(
                &audio(i as u16, i, i as u64 * 20),
                SimTime::from_nanos((i as u64 * 20 + 40 + extra) * MS),
            );
        }
        r.finish();
        assert!(
            r.target() >= SimDuration::from_millis(80),
            "target {}",
            r.target()
        );
        // Early spikes are late (the target had not grown yet); later ones are absorbed.
        assert!(
            r.qoe.packets_late >= 1 && r.qoe.packets_late < 10,
            "{}",
            r.qoe.packets_late
        );
        assert_eq!(r.qoe.frames_dropped, r.qoe.packets_late);
        assert!(r.qoe.concealment_events >= 1);
    }

    #[test]
    fn lost_audio_counts_as_lost_and_concealed() {
        let mut r = AudioReceiver::new(1, JitterBufferConfig::default());
        for i in (0..100u32).filter(|i| i % 5 != 0 || *i == 0) {
            r.on_packet(
                &audio(i as u16, i, i as u64 * 20),
                SimTime::from_nanos((i as u64 * 20 + 30) * MS),
            );
        }
        r.finish();
        assert_eq!(r.qoe.packets_lost(), 19);
        assert_eq!(r.qoe.frames_dropped, 19);
    }

    fn video_frame(frame: u32, n: u16, key: bool, capture_ms: u64, seq0: u16) -> Vec<Rtp> {
        (0..n)
            .map(|i| Rtp {
                ssrc: 2,
                kind: MediaKind::Video,
                seq: seq0 + i,
                ts: frame * 3000,
                marker: i + 1 == n,
                frame,
                frame_packets: n,
                keyframe: key,
                capture: SimTime::from_nanos(capture_ms * MS),
                size: 1200,
                ..Default::default()
            })
            .collect()
    }

    /// A lost packet makes its frame incomplete: it and the delta frames up to the next key
    /// frame are dropped, and the gap in rendering is a freeze.
    #[test]
    fn a_lost_video_packet_freezes_until_the_next_key_frame() {
        let mut r = VideoReceiver::new(2, JitterBufferConfig::default());
        let mut seq = 0u16;
        for f in 0..120u32 {
            let key = f % 30 == 0;
            let pkts = video_frame(f, 3, key, f as u64 * 33, seq);
            seq += 3;
            for (i, p) in pkts.iter().enumerate() {
                if f == 40 && i == 1 {
                    continue; // lost
                }
                r.on_packet(p, SimTime::from_nanos((f as u64 * 33 + 50) * MS));
            }
        }
        r.finish(SimTime::from_nanos(10_000 * MS));
        // Frames 40..59 dropped (40 incomplete, 41..59 undecodable); 60 is a key frame.
        assert_eq!(r.qoe.frames_dropped, 20);
        assert_eq!(r.qoe.frames_rendered, 100);
        assert_eq!(r.qoe.freeze_count, 1);
        let freeze = r.qoe.total_freezes_duration.as_nanos() / MS;
        assert!((650..=700).contains(&freeze), "{freeze} ms");
        assert_eq!(r.qoe.packets_lost(), 1);
    }

    #[test]
    fn late_video_frames_are_dropped() {
        let mut r = VideoReceiver::new(
            2,
            JitterBufferConfig {
                min_delay: SimDuration::from_millis(20),
                ..Default::default()
            },
        );
        let mut seq = 0u16;
        let mut arrivals = Vec::new();
        for f in 0..60u32 {
            let late = if f == 31 { 200 } else { 0 };
            for p in video_frame(f, 2, f % 30 == 0, f as u64 * 33, seq) {
                arrivals.push(((f as u64 * 33 + 40 + late) * MS, p));
            }
            seq += 2;
        }
        arrivals.sort_by_key(|a| a.0);
        for (at, p) in arrivals {
            r.on_packet(&p, SimTime::from_nanos(at));
        }
        r.finish(SimTime::from_nanos(10_000 * MS));
        // Frame 31 misses its deadline; without a key-frame request (PLI) the delta frames
        // after it cannot be decoded until the next GOP (frame 60, not sent).
        assert_eq!(r.qoe.frames_rendered, 31);
        assert_eq!(r.qoe.frames_dropped, 29);
    }

    #[test]
    fn sequence_numbers_extend_across_wraps() {
        assert_eq!(extend_seq(Some(65535 + 65536), 0), 2 * 65536);
        assert_eq!(extend_seq(Some(2 * 65536), 65535), 65535 + 65536);
    }
}
