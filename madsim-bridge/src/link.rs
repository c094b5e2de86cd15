//! A madsim `Endpoint` whose datagrams cross costream's link model.
//!
//! madsim's network offers a loss rate and a uniform latency range; costream's
//! [`Link`](costream_model::net::link::Link) adds a delay distribution with correlation,
//! Gilbert–Elliott loss, reordering, duplication and a rate limit with a drop-tail queue
//! (docs/metrics.md). [`ImpairedEndpoint::send_to`] asks the sender's link to the destination
//! for each datagram's fate and, if it is delivered, hands it to madsim at its arrival time
//! from a task on the bridge's network node, so a paused sender does not hold packets that are
//! already on the wire. Each (sender, destination) link draws from its own stream of madsim's
//! seed.

use crate::Bridge;
use costream_model::net::link::{Fate, Link, LinkConfig, LinkStats};
use costream_sim::SimRng;
use madsim::net::Endpoint;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// An endpoint whose sends go through costream links (one per destination, all with `cfg`
/// unless set with [`ImpairedEndpoint::set_link`]).
#[derive(Clone)]
pub struct ImpairedEndpoint {
    inner: Arc<Endpoint>,
    /// The node it was bound on: part of each link's stream name, since endpoints bound to
    /// 0.0.0.0 on different nodes share a local address.
    node: madsim::task::NodeId,
    bridge: Bridge,
    cfg: LinkConfig,
    links: Arc<Mutex<BTreeMap<SocketAddr, (Link, SimRng)>>>,
}

impl ImpairedEndpoint {
    /// Binds `addr` on the calling node.
    pub async fn bind(bridge: &Bridge, addr: &str, cfg: LinkConfig) -> io::Result<Self> {
        Ok(Self {
            inner: Arc::new(Endpoint::bind(addr).await?),
            node: madsim::plugin::node(),
            bridge: bridge.clone(),
            cfg,
            links: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The link towards `dst` gets `cfg` (from now on).
    pub fn set_link(&self, dst: SocketAddr, cfg: LinkConfig) {
        let mut links = self.links.lock().expect("links");
        match links.get_mut(&dst) {
            Some((l, _)) => l.cfg = cfg,
            None => {
                let rng = self.rng_for(dst);
                links.insert(dst, (Link::new(cfg), rng));
            }
        }
    }

    fn rng_for(&self, dst: SocketAddr) -> SimRng {
        let src = self.inner.local_addr().expect("bound");
        self.bridge
            .streams()
            .stream(&format!("madsim.link node {} {src} -> {dst}", self.node))
    }

    /// Sends `buf` (a datagram of `size` bytes on the wire, for the rate limiter) to `dst`
    /// through the link model. Returns once the fate is decided: lost and dropped datagrams
    /// vanish silently, as on a real network.
    pub async fn send_to(
        &self,
        dst: SocketAddr,
        tag: u64,
        buf: &[u8],
        size: u32,
    ) -> io::Result<()> {
        let now = self.bridge.now();
        let fate = {
            let mut links = self.links.lock().expect("links");
            let (link, rng) = links
                .entry(dst)
                .or_insert_with(|| (Link::new(self.cfg.clone()), self.rng_for(dst)));
            link.send(now, size, rng)
        };
        if let Fate::Deliver { at, dup } = fate {
            for at in std::iter::once(at).chain(dup) {
                let (ep, data, when) = (self.inner.clone(), buf.to_vec(), self.bridge.instant(at));
                self.bridge.net_node().spawn(async move {
                    madsim::time::sleep_until(when).await;
                    // The receiver may be gone; a datagram to nowhere is not an error here.
                    let _ = ep.send_to(dst, tag, &data).await;
                });
            }
        }
        Ok(())
    }

    /// Receives a datagram with `tag` (madsim's `Endpoint::recv_from`).
    pub async fn recv_from(&self, tag: u64, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_from(tag, buf).await
    }

    /// Each link's counters, by destination.
    pub fn stats(&self) -> Vec<(SocketAddr, LinkStats)> {
        self.links
            .lock()
            .expect("links")
            .iter()
            .map(|(a, (l, _))| (*a, l.stats))
            .collect()
    }
}
