//! RTP packet metadata as the model carries it (RFC 3550 §5.1 fields plus what the simulation
//! knows about the frame a packet belongs to).

use costream_sim::SimTime;

/// Audio (Opus, 48 kHz RTP clock, RFC 7587) or video (90 kHz, RFC 7741).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MediaKind {
    #[default]
    Audio,
    Video,
}

impl MediaKind {
    /// RTP clock rate in Hz.
    pub fn clock_rate(self) -> u32 {
        match self {
            MediaKind::Audio => 48_000,
            MediaKind::Video => 90_000,
        }
    }
}

/// One RTP packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rtp {
    pub ssrc: u32,
    pub kind: MediaKind,
    /// Sequence number (wraps at 2^16).
    pub seq: u16,
    /// RTP timestamp in clock-rate units.
    pub ts: u32,
    /// Last packet of a frame.
    pub marker: bool,
    /// Frame index in the stream, its packet count, and whether it is a key frame.
    pub frame: u32,
    pub frame_packets: u16,
    pub keyframe: bool,
    /// Simulcast layer (0 = highest).
    pub layer: u8,
    /// When the frame was captured at the sender.
    pub capture: SimTime,
    /// Payload size in bytes, including RTP/UDP/IP headers.
    pub size: u32,
}
