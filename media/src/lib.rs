//! Media: RTP streams, their sources, and receivers that measure quality of experience.
//! Plain code that takes times as arguments, so any executor can drive it (docs/metrics.md).

#![deny(missing_docs)]

pub mod jitter;
pub mod latency;
pub mod qoe;
pub mod receiver;
pub mod rtp;
pub mod source;
