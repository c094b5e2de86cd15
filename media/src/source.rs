//! Media sources: audio (Opus-like 20 ms frames, optional DTX) and video (frame rate, bitrate,
//! GOP with larger key frames, packetised into MTU-sized RTP packets).

use super::rtp::{MediaKind, Rtp};
use costream_sim::{SimDuration, SimRng, SimTime};
use serde::Deserialize;

/// Bytes of IPv4 + UDP + RTP headers on every packet.
pub const HEADER_BYTES: u32 = 20 + 8 + 12;

/// `[audio]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// Frames per second (20 ms Opus frames: 50; RFC 6716 §2.1.4).
    pub fps: u32,
    /// Opus payload bytes per frame (32 kbit/s at 20 ms: 80).
    pub payload_bytes: u32,
    /// Discontinuous transmission: during silence only a comfort-noise frame every 400 ms.
    pub dtx: bool,
    /// Share of time spent talking when DTX is on.
    pub talk_share: f64,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            fps: 50,
            payload_bytes: 80,
            dtx: false,
            talk_share: 0.5,
        }
    }
}

/// `[video]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoConfig {
    /// Whether the hosts publish video.
    pub enabled: bool,
    /// Frames per second captured.
    pub fps: u32,
    /// Bitrate of the top layer (LiveKit's 720p preset: 1.7 Mbit/s).
    pub bitrate_kbps: u32,
    /// Frames per GOP: a key frame starts each.
    pub gop: u32,
    /// A key frame is this many times the size of a delta frame.
    pub keyframe_factor: f64,
    /// Largest RTP payload per packet.
    pub mtu: u32,
    /// Simulcast: extra lower layers at these bitrates (LiveKit: 450 and 160 kbit/s).
    pub simulcast_kbps: Vec<u32>,
    /// Frame-rate changes during the run (content or encoder adaptation), in time order.
    pub fps_schedule: Vec<FpsChange>,
}

/// From `at` on, capture `fps` frames per second (the bitrate is kept).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FpsChange {
    #[serde(with = "costream_sim::units::dur")]
    /// When the change takes effect, from the start of the run.
    pub at: SimDuration,
    /// The new frame rate.
    pub fps: u32,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            fps: 30,
            bitrate_kbps: 1700,
            gop: 60,
            keyframe_factor: 5.0,
            mtu: 1200,
            simulcast_kbps: Vec::new(),
            fps_schedule: Vec::new(),
        }
    }
}

/// An audio stream: one packet per frame.
pub struct AudioSource {
    /// The stream's RTP SSRC.
    pub ssrc: u32,
    interval: SimDuration,
    payload: u32,
    seq: u16,
    frame: u32,
    dtx: bool,
    talk_share: f64,
    talking: bool,
    silent_frames: u32,
}

impl AudioSource {
    /// An audio source for stream `ssrc`.
    pub fn new(ssrc: u32, cfg: &AudioConfig) -> Self {
        Self {
            ssrc,
            interval: SimDuration::from_nanos(1_000_000_000 / cfg.fps.max(1) as u64),
            payload: cfg.payload_bytes,
            seq: 0,
            frame: 0,
            dtx: cfg.dtx,
            talk_share: cfg.talk_share,
            talking: true,
            silent_frames: 0,
        }
    }

    /// Time between frames.
    pub fn interval(&self) -> SimDuration {
        self.interval
    }

    /// The packet for the frame captured at `at`, or none (DTX silence).
    pub fn frame(&mut self, at: SimTime, rng: &mut SimRng) -> Option<Rtp> {
        let ts = self
            .frame
            .wrapping_mul((48_000 * self.interval.as_nanos() / 1_000_000_000) as u32);
        self.frame += 1;
        if self.dtx {
            // Talk spurts and silences of ~1 s on average (a two-state chain per frame).
            let leave = 1.0 / 50.0;
            if self.talking {
                self.talking =
                    !rng.chance(leave * (1.0 - self.talk_share) / self.talk_share.max(1e-9));
            } else {
                self.talking = rng.chance(leave);
            }
            if !self.talking {
                self.silent_frames += 1;
                // Opus DTX: one comfort-noise frame every 400 ms of silence.
                if self.silent_frames % 20 != 1 {
                    return None;
                }
            } else {
                self.silent_frames = 0;
            }
        }
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        Some(Rtp {
            ssrc: self.ssrc,
            kind: MediaKind::Audio,
            seq,
            ts,
            marker: true,
            frame: self.frame - 1,
            frame_packets: 1,
            keyframe: false,
            layer: 0,
            capture: at,
            size: self.payload + HEADER_BYTES,
        })
    }
}

/// A video stream (one simulcast layer): frames packetised at the MTU.
pub struct VideoSource {
    /// The stream's RTP SSRC.
    pub ssrc: u32,
    /// Its simulcast layer (0 = highest).
    pub layer: u8,
    interval: SimDuration,
    gop: u32,
    delta_bytes: f64,
    key_bytes: f64,
    mtu: u32,
    kbps: u32,
    gop_frames: f64,
    keyframe_factor: f64,
    seq: u16,
    frame: u32,
    /// The frame and RTP timestamp (90 kHz) at the last frame-rate change.
    base: (u32, u32),
    key_next: bool,
    /// Frames since the last key frame.
    since_key: u32,
}

impl VideoSource {
    /// A video source for stream `ssrc`, layer `layer`, at `kbps` kbit/s.
    pub fn new(ssrc: u32, layer: u8, kbps: u32, cfg: &VideoConfig) -> Self {
        let mut v = Self {
            ssrc,
            layer,
            interval: SimDuration::ZERO,
            gop: cfg.gop.max(1),
            delta_bytes: 0.0,
            key_bytes: 0.0,
            mtu: cfg.mtu.max(100),
            kbps,
            gop_frames: cfg.gop.max(1) as f64,
            keyframe_factor: cfg.keyframe_factor,
            seq: 0,
            frame: 0,
            base: (0, 0),
            key_next: true,
            since_key: 0,
        };
        v.set_fps(cfg.fps);
        v
    }

    /// Captures `fps` frames per second from now on, at the same bitrate (frames grow as the
    /// rate falls, as a rate-controlled encoder's do).
    pub fn set_fps(&mut self, fps: u32) {
        self.base = (self.frame, self.ts_of(self.frame));
        let fps = fps.max(1) as f64;
        // Bytes per GOP = bitrate × GOP duration = (gop − 1 + factor) delta frames.
        let per_gop = self.kbps as f64 * 1000.0 / 8.0 * self.gop_frames / fps;
        let delta = per_gop / (self.gop_frames - 1.0 + self.keyframe_factor);
        self.interval = SimDuration::from_nanos((1e9 / fps) as u64);
        self.delta_bytes = delta;
        self.key_bytes = delta * self.keyframe_factor;
    }

    /// Time between frames at the current frame rate.
    pub fn interval(&self) -> SimDuration {
        self.interval
    }

    /// RTP timestamp of `frame`, counted at the current rate since the last change.
    fn ts_of(&self, frame: u32) -> u32 {
        let (f0, ts0) = self.base;
        let n = (frame - f0) as u64;
        ts0.wrapping_add((n * 90_000 * self.interval.as_nanos() / 1_000_000_000) as u32)
    }

    /// The next frame is a key frame (answering a PLI); the GOP restarts there.
    pub fn force_keyframe(&mut self) {
        self.key_next = true;
    }

    /// The packets of the frame captured at `at`; frame sizes vary ±20% around the mean.
    pub fn frame(&mut self, at: SimTime, rng: &mut SimRng) -> Vec<Rtp> {
        let key = self.key_next || self.since_key >= self.gop;
        self.key_next = false;
        self.since_key = if key { 1 } else { self.since_key + 1 };
        let mean = if key {
            self.key_bytes
        } else {
            self.delta_bytes
        };
        let bytes = (mean * (0.8 + 0.4 * rng.unit_f64())).max(1.0) as u32;
        let n = bytes.div_ceil(self.mtu).max(1);
        let ts = self.ts_of(self.frame);
        let frame = self.frame;
        self.frame += 1;
        (0..n)
            .map(|i| {
                let seq = self.seq;
                self.seq = self.seq.wrapping_add(1);
                let payload = if i + 1 < n {
                    self.mtu
                } else {
                    bytes - self.mtu * (n - 1)
                };
                Rtp {
                    ssrc: self.ssrc,
                    kind: MediaKind::Video,
                    seq,
                    ts,
                    marker: i + 1 == n,
                    frame,
                    frame_packets: n as u16,
                    keyframe: key,
                    layer: self.layer,
                    capture: at,
                    size: payload + HEADER_BYTES,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use costream_sim::RngStreams;

    #[test]
    fn audio_is_50_packets_per_second_with_960_tick_timestamps() {
        let mut a = AudioSource::new(1, &AudioConfig::default());
        let mut r = RngStreams::new(1).stream("t");
        let p: Vec<Rtp> = (0..50)
            .filter_map(|i| a.frame(SimTime::ZERO + a.interval() * i, &mut r))
            .collect();
        assert_eq!(p.len(), 50);
        assert_eq!(p[1].ts - p[0].ts, 960);
        assert_eq!(p[49].seq, 49);
        assert_eq!(p[0].size, 80 + HEADER_BYTES);
    }

    #[test]
    fn dtx_sends_less_during_silence() {
        let mut a = AudioSource::new(
            1,
            &AudioConfig {
                dtx: true,
                talk_share: 0.5,
                ..Default::default()
            },
        );
        let mut r = RngStreams::new(1).stream("t");
        let sent = (0..50_000)
            .filter(|&i| a.frame(SimTime::ZERO + a.interval() * i, &mut r).is_some())
            .count();
        let share = sent as f64 / 50_000.0;
        // Half the time talking (all frames), half silent (1 in 20): ≈ 0.525.
        assert!((share - 0.525).abs() < 0.05, "{share}");
    }

    #[test]
    fn video_bitrate_gop_and_packetisation() {
        let cfg = VideoConfig {
            enabled: true,
            ..Default::default()
        };
        let mut v = VideoSource::new(2, 0, 1700, &cfg);
        let mut r = RngStreams::new(1).stream("t");
        let mut bytes = 0u64;
        let mut key_pkts = 0;
        let mut delta_pkts = Vec::new();
        for i in 0..600 {
            let f = v.frame(SimTime::ZERO + v.interval() * i, &mut r);
            assert!(f.last().unwrap().marker && f.iter().all(|p| p.size <= 1200 + HEADER_BYTES));
            bytes += f
                .iter()
                .map(|p| (p.size - HEADER_BYTES) as u64)
                .sum::<u64>();
            if f[0].keyframe {
                key_pkts = f.len();
            } else {
                delta_pkts.push(f.len());
            }
        }
        let kbps = bytes as f64 * 8.0 / 20.0 / 1000.0; // 600 frames = 20 s
        assert!((kbps - 1700.0).abs() < 60.0, "{kbps}");
        let mean_delta = delta_pkts.iter().sum::<usize>() as f64 / delta_pkts.len() as f64;
        assert!(
            key_pkts as f64 > 3.0 * mean_delta,
            "key {key_pkts} vs delta {mean_delta}"
        );
    }
}
