//! RTP packet metadata as the model carries it (RFC 3550 §5.1 fields plus what the simulation
//! knows about the frame a packet belongs to).

use costream_sim::SimTime;

/// Audio (Opus, 48 kHz RTP clock, RFC 7587) or video (90 kHz, RFC 7741).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MediaKind {
    #[default]
    /// Opus-like audio: one packet per frame.
    Audio,
    /// Video: frames of one or more packets, with key frames.
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
    /// The stream's synchronisation source.
    pub ssrc: u32,
    /// Audio or video.
    pub kind: MediaKind,
    /// Sequence number (wraps at 2^16).
    pub seq: u16,
    /// RTP timestamp in clock-rate units.
    pub ts: u32,
    /// Last packet of a frame.
    pub marker: bool,
    /// Frame index in the stream, its packet count, and whether it is a key frame.
    pub frame: u32,
    /// Packets in the frame.
    pub frame_packets: u16,
    /// Whether the frame is a key frame.
    pub keyframe: bool,
    /// Simulcast layer (0 = highest).
    pub layer: u8,
    /// When the frame was captured at the sender.
    pub capture: SimTime,
    /// Payload size in bytes, including RTP/UDP/IP headers.
    pub size: u32,
}

/// Bytes of [`Rtp::encode`]: the fields a receiver reads, for carrying packets over a real (or
/// madsim) socket. Not RFC 3550's wire format: the simulation also carries the frame facts a
/// real receiver would learn from the payload.
pub const RTP_WIRE_BYTES: usize = 32;

/// RTP rides the network as a datagram's payload; links charge its `size`.
impl costream_net::Payload for Rtp {
    fn wire_size(&self) -> u32 {
        self.size
    }
}

/// A UDP datagram carrying one RTP packet: what flows between participants and servers.
pub type RtpDatagram = costream_net::Datagram<Rtp>;

impl Rtp {
    /// Packs the packet into [`RTP_WIRE_BYTES`] little-endian bytes.
    pub fn encode(&self) -> [u8; RTP_WIRE_BYTES] {
        let mut b = [0u8; RTP_WIRE_BYTES];
        b[0..4].copy_from_slice(&self.ssrc.to_le_bytes());
        b[4] = match self.kind {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
        };
        b[5] = u8::from(self.marker) | (u8::from(self.keyframe) << 1);
        b[6..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..12].copy_from_slice(&self.ts.to_le_bytes());
        b[12..16].copy_from_slice(&self.frame.to_le_bytes());
        b[16..18].copy_from_slice(&self.frame_packets.to_le_bytes());
        b[18] = self.layer;
        b[20..28].copy_from_slice(&self.capture.as_nanos().to_le_bytes());
        b[28..32].copy_from_slice(&self.size.to_le_bytes());
        b
    }

    /// Unpacks [`Rtp::encode`]'s bytes; `None` if they are not a packet.
    pub fn decode(b: &[u8]) -> Option<Rtp> {
        if b.len() != RTP_WIRE_BYTES || b[4] > 1 || b[5] > 3 {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u16_at = |i: usize| u16::from_le_bytes(b[i..i + 2].try_into().expect("2 bytes"));
        Some(Rtp {
            ssrc: u32_at(0),
            kind: if b[4] == 0 {
                MediaKind::Audio
            } else {
                MediaKind::Video
            },
            marker: b[5] & 1 != 0,
            keyframe: b[5] & 2 != 0,
            seq: u16_at(6),
            ts: u32_at(8),
            frame: u32_at(12),
            frame_packets: u16_at(16),
            layer: b[18],
            capture: SimTime::from_nanos(u64::from_le_bytes(
                b[20..28].try_into().expect("8 bytes"),
            )),
            size: u32_at(28),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trips() {
        let p = Rtp {
            ssrc: 0xdead_beef,
            kind: MediaKind::Video,
            seq: 65_535,
            ts: 4_000_000_000,
            marker: true,
            frame: 123_456,
            frame_packets: 7,
            keyframe: true,
            layer: 2,
            capture: SimTime::from_nanos(9_876_543_210),
            size: 1_200,
        };
        assert_eq!(Rtp::decode(&p.encode()), Some(p));
        let a = Rtp::default();
        assert_eq!(Rtp::decode(&a.encode()), Some(a));
        assert_eq!(Rtp::decode(&p.encode()[..31]), None);
        let mut bad = p.encode();
        bad[4] = 7;
        assert_eq!(Rtp::decode(&bad), None);
    }
}
