//! The network: one-way links with impairments between hosts ([`link`]), and delivery of
//! datagrams to sockets (a [`Socket`]: the world binds Go's `Fd`s) or to sinks (receivers that
//! are not goroutines, such as a co-streaming participant's player). It knows no Go runtime
//! and no world: it schedules its own [`NetEv`] on whatever kernel carries them. Links are
//! created on first use with the default configuration unless one was set; each has its own
//! random stream, so adding a link never shifts another's draws.

#![deny(missing_docs)]

pub mod link;

use costream_media::rtp::Rtp;
use costream_sim::{Kernel, RngStreams, SimRng, SimTime};
use link::{Fate, Link, LinkConfig, LinkStats};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// A host and a port.
pub type Addr = (u32, u32);

/// A UDP datagram carrying one RTP packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Datagram {
    /// Sender: host and port.
    pub src: Addr,
    /// Destination: host and port.
    pub dst: Addr,
    /// The RTP packet carried.
    pub rtp: Rtp,
    /// When it reached its destination (set by the network).
    pub arrived: SimTime,
}

/// A receiver that is not a goroutine.
pub trait Sink {
    /// Datagram `d` arrives at `now`.
    fn receive(&mut self, now: SimTime, d: &Datagram);
}

/// What a socket endpoint tells the network: how many datagrams wait in it unread.
pub trait Socket: Clone {
    /// Datagrams delivered to the socket and not yet read.
    fn queued(&self) -> usize;
}

/// The network's own events, carried by the world's kernel (`E: From<NetEv>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetEv {
    /// A datagram reaches its destination.
    Deliver {
        /// The in-flight datagram's slot.
        slot: u32,
    },
    /// A scheduled network fault starts or ends.
    Fault {
        /// Which scheduled fault.
        index: u32,
        /// Starts (true) or ends (false).
        on: bool,
    },
}

/// Where datagrams to an address go.
pub enum Endpoint<S> {
    /// A socket a program reads from.
    Socket(S),
    /// A receiver that is not a program (a participant's player).
    Sink(Rc<RefCell<dyn Sink>>),
}

/// What a fault does to a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Every packet on the link is dropped.
    Partition,
    /// Packets are held until the fault ends, then arrive together.
    Clog,
}

/// Network totals.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams that reached an endpoint (a socket or a sink).
    pub delivered: u64,
    /// Of `delivered`, the datagrams that reached a goroutine's socket (not a sink).
    pub delivered_to_sockets: u64,
    /// Datagrams that arrived at an address nothing was bound to.
    pub no_endpoint: u64,
}

/// Links and endpoints are only looked up (or summed) by key, never visited in an order that
/// could affect a run, so hash maps are safe here (docs: determinism rule 1).
pub struct Net<S> {
    links: HashMap<(u32, u32), (Link, SimRng)>,
    configs: HashMap<(u32, u32), LinkConfig>,
    /// The configuration of a link nobody set (`set_link`).
    pub default_link: LinkConfig,
    endpoints: HashMap<Addr, Endpoint<S>>,
    inflight: Vec<Option<Datagram>>,
    free: Vec<u32>,
    streams: RngStreams,
    /// Links clogged until a time: arrivals are held until then.
    clogged: BTreeMap<(u32, u32), SimTime>,
    /// Totals over every datagram.
    pub stats: NetStats,
}

impl<S: Socket> Net<S> {
    /// A network with no links yet; each link draws from its own stream of `streams`.
    pub fn new(streams: RngStreams) -> Self {
        Self {
            links: HashMap::new(),
            configs: HashMap::new(),
            default_link: LinkConfig::default(),
            endpoints: HashMap::new(),
            inflight: Vec::new(),
            free: Vec::new(),
            streams,
            clogged: BTreeMap::new(),
            stats: NetStats::default(),
        }
    }

    /// Sets the configuration of the link from `a` to `b`.
    pub fn set_link(&mut self, a: u32, b: u32, cfg: LinkConfig) {
        self.configs.insert((a, b), cfg.clone());
        if let Some((l, _)) = self.links.get_mut(&(a, b)) {
            l.cfg = cfg;
        }
    }

    /// Binds `addr` to `e`: datagrams to it go there.
    pub fn bind(&mut self, addr: Addr, e: Endpoint<S>) {
        self.endpoints.insert(addr, e);
    }

    fn link(&mut self, a: u32, b: u32) -> &mut (Link, SimRng) {
        if !self.links.contains_key(&(a, b)) {
            let cfg = self
                .configs
                .get(&(a, b))
                .cloned()
                .unwrap_or_else(|| self.default_link.clone());
            let rng = self
                .streams
                .indexed("net.link", ((a as u64) << 32) | b as u64);
            self.links.insert((a, b), (Link::new(cfg), rng));
        }
        self.links.get_mut(&(a, b)).expect("inserted above")
    }

    /// Partitions (or heals) the link from `a` to `b`.
    pub fn set_partitioned(&mut self, a: u32, b: u32, on: bool) {
        self.link(a, b).0.partitioned = on;
    }

    /// Holds every packet on the link from `a` to `b` until `until`.
    pub fn clog(&mut self, a: u32, b: u32, until: SimTime) {
        self.clogged.insert((a, b), until);
    }

    /// Sends `d` at `now` over the link between its hosts.
    pub fn send<E: From<NetEv>>(&mut self, k: &mut Kernel<E>, now: SimTime, d: Datagram) {
        self.stats.sent += 1;
        let key = (d.src.0, d.dst.0);
        let hold = self.clogged.get(&key).copied().filter(|&u| u > now);
        let (link, rng) = self.link(key.0, key.1);
        if let Fate::Deliver { at, dup } = link.send(now, d.rtp.size, rng) {
            let at = hold.map_or(at, |u| at.max(u));
            self.schedule(k, at, d);
            if let Some(t) = dup {
                self.schedule(k, hold.map_or(t, |u| t.max(u)), d);
            }
        }
    }

    fn schedule<E: From<NetEv>>(&mut self, k: &mut Kernel<E>, at: SimTime, d: Datagram) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.inflight[s as usize] = Some(d);
                s
            }
            None => {
                self.inflight.push(Some(d));
                self.inflight.len() as u32 - 1
            }
        };
        k.schedule(at.max(k.now()), NetEv::Deliver { slot }.into());
    }

    /// Takes an arriving datagram and where it goes (the world calls this on `NetEv::Deliver`).
    pub fn arrive(&mut self, slot: u32, now: SimTime) -> Option<(Datagram, ArriveTo<S>)> {
        let mut d = self.inflight[slot as usize]
            .take()
            .expect("in-flight datagram");
        self.free.push(slot);
        d.arrived = now;
        match self.endpoints.get(&d.dst) {
            None => {
                self.stats.no_endpoint += 1;
                None
            }
            Some(Endpoint::Socket(fd)) => {
                self.stats.delivered += 1;
                self.stats.delivered_to_sockets += 1;
                Some((d, ArriveTo::Socket(fd.clone())))
            }
            Some(Endpoint::Sink(s)) => {
                self.stats.delivered += 1;
                Some((d, ArriveTo::Sink(s.clone())))
            }
        }
    }

    /// Datagrams on their way (sent, not yet arrived).
    pub fn in_flight(&self) -> u64 {
        (self.inflight.len() - self.free.len()) as u64
    }

    /// Datagrams waiting in sockets for a goroutine to read them (a sum: order-free).
    pub fn socket_backlog(&self) -> u64 {
        self.endpoints
            .values()
            .map(|e| match e {
                Endpoint::Socket(fd) => fd.queued() as u64,
                Endpoint::Sink(_) => 0,
            })
            .sum()
    }

    /// Every datagram sent (or duplicated by a link) was delivered, counted as lost by a
    /// reason, or is still on its way. Returns the two sides of that balance.
    pub fn balance(&self) -> (u64, u64) {
        let l = self.link_totals();
        let s = &self.stats;
        (
            s.sent + l.duplicated,
            s.delivered + s.no_endpoint + l.lost + l.queue_drops + l.partitioned + self.in_flight(),
        )
    }

    /// Totals over all links.
    pub fn link_totals(&self) -> LinkStats {
        let mut t = LinkStats::default();
        for (l, _) in self.links.values() {
            let s = l.stats;
            t.sent += s.sent;
            t.delivered += s.delivered;
            t.lost += s.lost;
            t.queue_drops += s.queue_drops;
            t.partitioned += s.partitioned;
            t.duplicated += s.duplicated;
            t.reordered += s.reordered;
        }
        t
    }
}

/// Where an arriving datagram goes.
pub enum ArriveTo<S> {
    /// To the socket bound at its destination.
    Socket(S),
    /// To the sink bound at its destination.
    Sink(Rc<RefCell<dyn Sink>>),
}
