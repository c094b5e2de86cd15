//! A madsim endpoint whose datagrams cross costream's link model.
//!
//! madsim's network offers a loss rate and a uniform latency range; costream's
//! [`Link`](costream_net::link::Link) adds a delay distribution with correlation,
//! Gilbert–Elliott loss, reordering, duplication and a rate limit with a drop-tail queue
//! (docs/metrics.md). [`ImpairedEndpoint::send_to`] asks the sender's link to the destination
//! for each datagram's fate and, if it is delivered, puts it in the destination's mailbox at
//! its arrival time, from a task on the bridge's network node (so a paused sender does not hold
//! packets already on the wire, and a paused receiver finds them queued when it resumes).
//!
//! The endpoint binds a madsim `Endpoint` to own its address on its node, but carries the
//! datagrams itself: madsim 0.2.34's `Endpoint` sleeps a "random 0–5 µs" on every send and
//! every receive, and its sleeps last at least 1 ms, so each datagram would gain 2 ms and a
//! receiver could take at most 1,000 datagrams a second. Each (sender node and address,
//! destination) link draws from its own stream of madsim's seed.

use crate::Bridge;
use costream_net::link::{Fate, Link, LinkConfig, LinkStats};
use costream_sim::SimRng;
use madsim::net::Endpoint;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

type Datagram = (Vec<u8>, SocketAddr);
type Queue = (
    async_channel::Sender<Datagram>,
    async_channel::Receiver<Datagram>,
);

/// Every bound impaired endpoint's mailboxes, one queue per tag (madsim's tag semantics).
#[derive(Default)]
pub(crate) struct Mailboxes {
    boxes: Mutex<BTreeMap<SocketAddr, BTreeMap<u64, Queue>>>,
}

impl Mailboxes {
    fn queue(&self, addr: SocketAddr, tag: u64) -> Option<Queue> {
        let mut boxes = self.boxes.lock().expect("mailboxes");
        let tags = boxes.get_mut(&addr)?;
        Some(
            tags.entry(tag)
                .or_insert_with(async_channel::unbounded)
                .clone(),
        )
    }
}

struct Bound {
    /// Holds the address on its node for as long as the endpoint lives.
    _madsim: Endpoint,
    addr: SocketAddr,
    node: madsim::task::NodeId,
    mailboxes: Arc<Mailboxes>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Ok(mut b) = self.mailboxes.boxes.lock() {
            b.remove(&self.addr);
        }
    }
}

/// An endpoint whose sends go through costream links (one per destination, all with `cfg`
/// unless set with [`ImpairedEndpoint::set_link`]).
#[derive(Clone)]
pub struct ImpairedEndpoint {
    bound: Arc<Bound>,
    bridge: Bridge,
    cfg: LinkConfig,
    links: Arc<Mutex<BTreeMap<SocketAddr, (Link, SimRng)>>>,
}

impl ImpairedEndpoint {
    /// Binds `addr` on the calling node. The address must name the node's IP (not 0.0.0.0):
    /// it is the source address receivers see.
    pub async fn bind(bridge: &Bridge, addr: &str, cfg: LinkConfig) -> io::Result<Self> {
        let want: SocketAddr = addr.parse().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{addr}: not an IP:port address ({e})"),
            )
        })?;
        if want.ip().is_unspecified() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{addr}: bind the node's own IP (receivers see it as the source), not an unspecified address"),
            ));
        }
        let ep = Endpoint::bind(want).await?;
        let addr = ep.local_addr()?;
        bridge
            .mailboxes()
            .boxes
            .lock()
            .expect("mailboxes")
            .insert(addr, BTreeMap::new());
        Ok(Self {
            bound: Arc::new(Bound {
                _madsim: ep,
                addr,
                node: madsim::plugin::node(),
                mailboxes: bridge.mailboxes().clone(),
            }),
            bridge: bridge.clone(),
            cfg,
            links: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    /// The address this endpoint is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.bound.addr
    }

    /// The link towards `dst` gets `cfg` (from now on).
    pub fn set_link(&self, dst: SocketAddr, cfg: LinkConfig) {
        let mut links = self.links.lock().expect("links");
        let (link, _) = links
            .entry(dst)
            .or_insert_with(|| (Link::new(cfg.clone()), self.rng_for(dst)));
        link.cfg = cfg;
    }

    fn rng_for(&self, dst: SocketAddr) -> SimRng {
        self.bridge.streams().stream(&format!(
            "madsim.link node {} {} -> {dst}",
            self.bound.node, self.bound.addr
        ))
    }

    /// Sends `buf` (a datagram of `size` bytes on the wire, for the rate limiter) to `dst`
    /// through the link model. Returns once the fate is decided: lost and dropped datagrams
    /// vanish silently, as on a real network, as do datagrams for an address nobody has bound
    /// when they arrive. madsim's sleeps last at least 1 ms, so a modelled delay under 1 ms
    /// becomes 1 ms.
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
                let (boxes, data, src) =
                    (self.bound.mailboxes.clone(), buf.to_vec(), self.bound.addr);
                let when = self.bridge.instant(at);
                self.bridge.net_node().spawn(async move {
                    madsim::time::sleep_until(when).await;
                    if let Some((tx, _)) = boxes.queue(dst, tag) {
                        let _ = tx.try_send((data, src));
                    }
                });
            }
        }
        Ok(())
    }

    /// Receives a datagram with `tag`, as madsim's `Endpoint::recv_from`: copies what fits in
    /// `buf` and returns its length and source.
    pub async fn recv_from(&self, tag: u64, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (_, rx) = self
            .bound
            .mailboxes
            .queue(self.bound.addr, tag)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "endpoint unbound"))?;
        let (data, from) = rx
            .recv()
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "mailbox closed"))?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from))
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
