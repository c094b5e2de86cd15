//! costream's models inside madsim: one seed drives a real Rust service under madsim and the
//! stalls, impaired links and media load costream models. Build and test with
//! `RUSTFLAGS="--cfg madsim"`; without it this crate is empty. docs/madsim.md has a walk-through.
//!
//! - [`Bridge`]: the shared clock origin, the seed, and the node that carries packets in flight.
//! - [`stall`]: a stall schedule from costream's runtime model (GC pauses from an allocation
//!   profile and GOGC through the same pacer, cgroup throttling, VM pauses), applied to a
//!   madsim node with `Handle::pause`/`resume`.
//! - [`link`]: an `Endpoint` whose datagrams cross costream's link model.
//! - [`media`]: publishers and subscribers of costream's RTP streams, measured by its jitter
//!   buffers and QoE metrics.
#![cfg(madsim)]
#![deny(missing_docs)]

pub mod link;
pub mod media;
pub mod stall;

use costream_sim::{RngStreams, SimTime};
use madsim::runtime::{Handle, NodeHandle};
use madsim::time::{Duration, Instant};

/// What the bridge's pieces share. Create one per simulation, inside the madsim runtime.
#[derive(Clone)]
pub struct Bridge {
    epoch: Instant,
    seed: u64,
    net: NodeHandle,
    mailboxes: std::sync::Arc<link::Mailboxes>,
}

impl Bridge {
    /// Creates the node that carries datagrams in flight (so pausing a sender does not hold
    /// packets already on the wire) and the impaired endpoints' mailboxes.
    pub fn new() -> Bridge {
        let h = Handle::current();
        let net = h.create_node().name("costream-net").build();
        Bridge {
            epoch: Instant::now(),
            seed: h.seed(),
            net,
            mailboxes: Default::default(),
        }
    }

    /// Simulated time since the bridge was created, as costream's clock.
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    /// The madsim instant of costream time `t`.
    pub fn instant(&self, t: SimTime) -> Instant {
        self.epoch + Duration::from_nanos(t.as_nanos())
    }

    /// madsim's seed: every costream random stream is derived from it.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Named random streams from madsim's seed (costream's `RngStreams`).
    pub fn streams(&self) -> RngStreams {
        RngStreams::new(self.seed)
    }

    pub(crate) fn net_node(&self) -> &NodeHandle {
        &self.net
    }

    pub(crate) fn mailboxes(&self) -> &std::sync::Arc<link::Mailboxes> {
        &self.mailboxes
    }
}

impl Default for Bridge {
    /// [`Bridge::new`].
    fn default() -> Self {
        Self::new()
    }
}
