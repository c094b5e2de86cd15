//! Quality-of-experience statistics of one received stream, named like WebRTC's getStats
//! (RTCInboundRtpStreamStats) where a name exists. Definitions: docs/metrics.md.

use super::jitter::Rfc3550Jitter;
use super::latency::LatencyHistogram;
use super::rtp::MediaKind;
use costream_sim::{SimDuration, SimTime};

/// What one receiver saw of one stream.
#[derive(Clone)]
pub struct StreamQoe {
    /// Audio or video.
    pub kind: MediaKind,
    /// The stream's RTP SSRC.
    pub ssrc: u32,
    /// RFC 3550 interarrival jitter (`jitter`).
    pub jitter: Rfc3550Jitter,
    /// Packets that arrived, duplicates included (`packetsReceived`).
    pub packets_received: u64,
    /// Arrivals of a sequence number already seen.
    pub duplicates: u64,
    /// Highest extended sequence number seen and the first, for `packetsLost`.
    pub first_seq: Option<u64>,
    /// The highest extended sequence number seen.
    pub highest_seq: u64,
    /// Packets that arrived after their playout time (`packetsDiscarded`).
    pub packets_late: u64,
    /// Frames played or rendered (`framesDecoded` for video; played frames for audio).
    pub frames_rendered: u64,
    /// Frames not played: concealed audio frames (`concealmentEvents` counts runs) or dropped
    /// video frames (`framesDropped`: late, incomplete, or undecodable).
    pub frames_dropped: u64,
    /// Runs of concealed audio frames (`concealmentEvents`).
    pub concealment_events: u64,
    /// Video freezes (`freezeCount`: a render gap of at least max(3 × mean, mean + 150 ms)).
    pub freeze_count: u64,
    /// Time spent frozen (`totalFreezesDuration`).
    pub total_freezes_duration: SimDuration,
    /// Capture → playout (audio) or render (video) per frame, in ns.
    pub latency: LatencyHistogram,
    /// Sum of playout minus arrival over played frames (`jitterBufferDelay`).
    pub jitter_buffer_delay: SimDuration,
    /// Payload bytes received (`bytesReceived`).
    pub bytes_received: u64,
    /// When the first packet arrived.
    pub first_arrival: Option<SimTime>,
    /// When the latest packet arrived.
    pub last_arrival: SimTime,
    /// The latency budget and how many frames met it.
    pub budget: SimDuration,
    /// Frames whose latency was within `budget`.
    pub within_budget: u64,
    /// Frames played out of capture order (a later frame played before an earlier one).
    pub playout_inversions: u64,
    /// The played frame with the latest capture: (capture, playout).
    latest_played: Option<(SimTime, SimTime)>,
}

impl StreamQoe {
    /// The books of stream `ssrc` of `kind`, counting frames within `budget`.
    pub fn new(kind: MediaKind, ssrc: u32, budget: SimDuration) -> Self {
        Self {
            kind,
            ssrc,
            jitter: Rfc3550Jitter::new(kind.clock_rate()),
            packets_received: 0,
            duplicates: 0,
            first_seq: None,
            highest_seq: 0,
            packets_late: 0,
            frames_rendered: 0,
            frames_dropped: 0,
            concealment_events: 0,
            freeze_count: 0,
            total_freezes_duration: SimDuration::ZERO,
            latency: LatencyHistogram::new(),
            jitter_buffer_delay: SimDuration::ZERO,
            bytes_received: 0,
            first_arrival: None,
            last_arrival: SimTime::ZERO,
            budget,
            within_budget: 0,
            playout_inversions: 0,
            latest_played: None,
        }
    }

    /// `packetsLost`: expected minus received (negative with duplicates, as RFC 3550 allows).
    pub fn packets_lost(&self) -> i64 {
        match self.first_seq {
            None => 0,
            Some(f) => {
                (self.highest_seq - f + 1) as i64 - (self.packets_received - self.duplicates) as i64
            }
        }
    }

    /// Received bitrate in kbit/s over the arrival span.
    pub fn kbps(&self) -> f64 {
        let span = self
            .first_arrival
            .map_or(0, |f| self.last_arrival.saturating_since(f).as_nanos());
        if span == 0 {
            0.0
        } else {
            self.bytes_received as f64 * 8.0 / (span as f64 / 1e9) / 1000.0
        }
    }

    /// Share of played frames whose latency met the budget.
    pub fn share_within_budget(&self) -> f64 {
        if self.frames_rendered == 0 {
            0.0
        } else {
            self.within_budget as f64 / self.frames_rendered as f64
        }
    }

    /// Checks that frames play in capture order: a frame captured after the latest played one
    /// must play after it, and one captured before it, before it.
    pub fn note_playout(&mut self, capture: SimTime, playout: SimTime) {
        match self.latest_played {
            Some((c, p)) if (capture > c && playout < p) || (capture < c && playout > p) => {
                self.playout_inversions += 1;
            }
            _ => {}
        }
        if self.latest_played.is_none_or(|(c, _)| capture > c) {
            self.latest_played = Some((capture, playout));
        }
    }

    /// A frame played or rendered `latency` after its capture.
    pub fn record_frame(&mut self, latency: SimDuration) {
        self.frames_rendered += 1;
        self.latency.record(latency.as_nanos().max(1));
        if latency <= self.budget {
            self.within_budget += 1;
        }
    }

    /// Folds `o` into an aggregate.
    pub fn merge(&mut self, o: &StreamQoe) {
        self.packets_received += o.packets_received;
        self.duplicates += o.duplicates;
        self.packets_late += o.packets_late;
        self.frames_rendered += o.frames_rendered;
        self.frames_dropped += o.frames_dropped;
        self.concealment_events += o.concealment_events;
        self.freeze_count += o.freeze_count;
        self.total_freezes_duration += o.total_freezes_duration;
        self.latency.merge(&o.latency);
        self.jitter_buffer_delay += o.jitter_buffer_delay;
        self.bytes_received += o.bytes_received;
        self.within_budget += o.within_budget;
        self.playout_inversions += o.playout_inversions;
    }
}
