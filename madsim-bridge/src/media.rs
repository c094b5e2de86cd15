//! Media load and QoE: a publisher of costream's audio (and video) RTP streams and a
//! subscriber that measures them with costream's jitter buffers and metrics
//! (docs/metrics.md). The media and metric code is the model's own; this module only moves
//! packets between it and madsim sockets.

use crate::link::ImpairedEndpoint;
use crate::Bridge;
use costream_media::qoe::StreamQoe;
use costream_media::receiver::{AudioReceiver, JitterBufferConfig, VideoReceiver};
use costream_media::rtp::{MediaKind, Rtp, RTP_WIRE_BYTES};
use costream_media::source::{AudioConfig, AudioSource, VideoConfig, VideoSource};
use costream_sim::{SimDuration, SimTime};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The madsim tag media datagrams carry.
pub const TAG_MEDIA: u64 = 0x5254_5000;
/// The tag of a key frame request (RTCP PLI, RFC 4585 §6.3.1), subscriber → server →
/// publisher.
pub const TAG_PLI: u64 = 0x5254_5001;

/// SSRC of the publisher's audio stream.
pub const AUDIO_SSRC: u32 = 1;
/// SSRC of the publisher's video stream.
pub const VIDEO_SSRC: u32 = 2;

/// What is published and how it is received.
#[derive(Clone, Debug, Default)]
pub struct MediaConfig {
    /// The audio source (Opus-like frames on a fixed interval).
    pub audio: AudioConfig,
    /// Off unless `video.enabled`.
    pub video: VideoConfig,
    /// The subscriber's jitter buffer for each stream.
    pub jitter_buffer: JitterBufferConfig,
}

/// Publishes audio (and video, if enabled) to `dst` from now until `until`, each frame at its
/// capture time; returns the packets sent. A PLI arriving on `ep` makes the next video frame a
/// key frame, as an encoder does.
pub async fn publish(
    bridge: &Bridge,
    ep: &ImpairedEndpoint,
    dst: SocketAddr,
    cfg: &MediaConfig,
    until: SimTime,
) -> io::Result<u64> {
    let mut rng = bridge
        .streams()
        .stream(&format!("madsim.media.publisher {}", ep.local_addr()));
    let mut audio = AudioSource::new(AUDIO_SSRC, &cfg.audio);
    let mut video = cfg
        .video
        .enabled
        .then(|| VideoSource::new(VIDEO_SSRC, 0, cfg.video.bitrate_kbps, &cfg.video));
    let start = bridge.now();
    let (mut next_a, mut next_v) = (start, start);
    let mut sent = 0;
    let pli = Arc::new(AtomicBool::new(false));
    let (listener, p) = (ep.clone(), pli.clone());
    let plis = madsim::task::spawn(async move {
        let mut b = [0u8; 8];
        while listener.recv_from(TAG_PLI, &mut b).await.is_ok() {
            p.store(true, Ordering::Relaxed);
        }
    });
    loop {
        let at = match &video {
            Some(_) => next_a.min(next_v),
            None => next_a,
        };
        if at >= until {
            plis.abort();
            return Ok(sent);
        }
        madsim::time::sleep_until(bridge.instant(at)).await;
        let mut packets = Vec::new();
        if at == next_a {
            packets.extend(audio.frame(at, &mut rng));
            next_a += audio.interval();
        }
        if let Some(v) = video.as_mut().filter(|_| at == next_v) {
            if pli.swap(false, Ordering::Relaxed) {
                v.force_keyframe();
            }
            packets.extend(v.frame(at, &mut rng));
            next_v += v.interval();
        }
        for p in packets {
            ep.send_to(dst, TAG_MEDIA, &p.encode(), p.size).await?;
            sent += 1;
        }
    }
}

/// One received stream's figures (from costream's `StreamQoe`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    /// Packets that arrived.
    pub packets_received: u64,
    /// Expected minus received (RFC 3550: negative with duplicates).
    pub packets_lost: i64,
    /// Arrived after their playout time: late loss.
    pub packets_late: u64,
    /// Frames played out.
    pub frames_rendered: u64,
    /// Frames skipped: incomplete or late at their playout time.
    pub frames_dropped: u64,
    /// Video freezes (`freezeCount`: a render gap of at least max(3 × mean, mean + 150 ms)).
    pub freezes: u64,
    /// Capture → playout, median.
    pub p50: SimDuration,
    /// Capture → playout, 99th percentile.
    pub p99: SimDuration,
    /// Capture → playout, the worst.
    pub max: SimDuration,
}

impl StreamSummary {
    fn of(q: &StreamQoe) -> Self {
        let ns = SimDuration::from_nanos;
        Self {
            packets_received: q.packets_received,
            packets_lost: q.packets_lost(),
            packets_late: q.packets_late,
            frames_rendered: q.frames_rendered,
            frames_dropped: q.frames_dropped,
            freezes: q.freeze_count,
            p50: ns(q.latency.value_at_quantile(0.5)),
            p99: ns(q.latency.value_at_quantile(0.99)),
            max: ns(q.latency.value_at_quantile(1.0)),
        }
    }
}

/// What a subscriber measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qoe {
    /// The audio stream's figures.
    pub audio: StreamSummary,
    /// The video stream's, when video was published.
    pub video: Option<StreamSummary>,
    /// Every media packet's arrival and one-way delay (capture to arrival), in arrival order.
    pub delays: Vec<(SimTime, SimDuration)>,
}

impl Qoe {
    /// The largest one-way delay and when that packet arrived.
    pub fn worst_delay(&self) -> Option<(SimTime, SimDuration)> {
        self.delays.iter().copied().max_by_key(|&(_, d)| d)
    }
}

/// Receives media on `ep` until `until` and measures it with costream's receivers. When the
/// video decoder loses its reference it sends a PLI to `feedback` (the server), as a WebRTC
/// receiver does.
pub async fn subscribe(
    bridge: &Bridge,
    ep: &ImpairedEndpoint,
    cfg: &MediaConfig,
    feedback: SocketAddr,
    until: SimTime,
) -> io::Result<Qoe> {
    let mut audio = AudioReceiver::new(AUDIO_SSRC, cfg.jitter_buffer.clone());
    let mut video = cfg
        .video
        .enabled
        .then(|| VideoReceiver::new(VIDEO_SSRC, cfg.jitter_buffer.clone()));
    let mut delays = Vec::new();
    let mut buf = [0u8; RTP_WIRE_BYTES];
    loop {
        let left = until.saturating_since(bridge.now());
        if left.is_zero() {
            break;
        }
        let got = madsim::time::timeout(
            std::time::Duration::from_nanos(left.as_nanos()),
            ep.recv_from(TAG_MEDIA, &mut buf),
        )
        .await;
        let Ok(r) = got else { break };
        let (n, _) = r?;
        let Some(p) = Rtp::decode(&buf[..n]) else {
            continue;
        };
        let now = bridge.now();
        delays.push((now, now.saturating_since(p.capture)));
        match p.kind {
            MediaKind::Audio => audio.on_packet(&p, now),
            MediaKind::Video => {
                if let Some(v) = video.as_mut() {
                    v.on_packet(&p, now);
                    if v.pli_needed.take().is_some() {
                        ep.send_to(feedback, TAG_PLI, b"pli", 64).await?;
                    }
                }
            }
        }
    }
    audio.finish();
    let now = bridge.now();
    if let Some(v) = video.as_mut() {
        v.finish(now);
    }
    Ok(Qoe {
        audio: StreamSummary::of(&audio.qoe),
        video: video.as_ref().map(|v| StreamSummary::of(&v.qoe)),
        delays,
    })
}
