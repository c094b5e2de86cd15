//! The network: one-way links with impairments between hosts ([`link`]), and delivery of
//! datagrams to sockets (a [`Socket`]: the world binds Go's `Fd`s) or to sinks (receivers that
//! are not goroutines, such as a co-streaming participant's player). It knows no Go runtime,
//! no world and no media: it schedules its own [`NetEv`] on whatever kernel carries them,
//! and of a datagram's [`Payload`] it reads only its size on the wire (media's RTP is one).
//! Links are created on first use with the default configuration unless one was set; each
//! has its own random stream, so adding a link never shifts another's draws.

#![deny(missing_docs)]

pub mod link;

use costream_sim::{Kernel, RngStreams, SimRng, SimTime};
use link::{Fate, Link, LinkConfig, LinkStats};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// A host and a port.
pub type Addr = (u32, u32);

/// What a datagram carries. Links charge its size against their rate and queue; nothing
/// else in the network looks inside.
pub trait Payload: Copy + 'static {
    /// Bytes on the wire, headers included.
    fn wire_size(&self) -> u32;
}

/// A UDP datagram carrying payload `P` (media's RTP packet, or a user's own message).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Datagram<P> {
    /// Sender: host and port.
    pub src: Addr,
    /// Destination: host and port.
    pub dst: Addr,
    /// What it carries.
    pub payload: P,
    /// When it reached its destination (set by the network).
    pub arrived: SimTime,
}

/// A receiver that is not a goroutine.
pub trait Sink<P> {
    /// Datagram `d` arrives at `now`.
    fn receive(&mut self, now: SimTime, d: &Datagram<P>);
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
pub enum Endpoint<S, P> {
    /// A socket a program reads from.
    Socket(S),
    /// A receiver that is not a program (a participant's player).
    Sink(Rc<RefCell<dyn Sink<P>>>),
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
pub struct Net<S, P> {
    links: HashMap<(u32, u32), (Link, SimRng)>,
    configs: HashMap<(u32, u32), LinkConfig>,
    /// The configuration of a link nobody set (`set_link`).
    pub default_link: LinkConfig,
    endpoints: HashMap<Addr, Endpoint<S, P>>,
    inflight: Vec<Option<Datagram<P>>>,
    free: Vec<u32>,
    streams: RngStreams,
    /// Links clogged until a time: arrivals are held until then.
    clogged: BTreeMap<(u32, u32), SimTime>,
    /// Totals over every datagram.
    pub stats: NetStats,
}

impl<S: Socket, P: Payload> Net<S, P> {
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
    pub fn bind(&mut self, addr: Addr, e: Endpoint<S, P>) {
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
    pub fn send<E: From<NetEv>>(&mut self, k: &mut Kernel<E>, now: SimTime, d: Datagram<P>) {
        self.stats.sent += 1;
        let key = (d.src.0, d.dst.0);
        let hold = self.clogged.get(&key).copied().filter(|&u| u > now);
        let (link, rng) = self.link(key.0, key.1);
        if let Fate::Deliver { at, dup } = link.send(now, d.payload.wire_size(), rng) {
            let at = hold.map_or(at, |u| at.max(u));
            self.schedule(k, at, d);
            if let Some(t) = dup {
                self.schedule(k, hold.map_or(t, |u| t.max(u)), d);
            }
        }
    }

    fn schedule<E: From<NetEv>>(&mut self, k: &mut Kernel<E>, at: SimTime, d: Datagram<P>) {
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
    pub fn arrive(&mut self, slot: u32, now: SimTime) -> Option<(Datagram<P>, ArriveTo<S, P>)> {
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
pub enum ArriveTo<S, P> {
    /// To the socket bound at its destination.
    Socket(S),
    /// To the sink bound at its destination.
    Sink(Rc<RefCell<dyn Sink<P>>>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use costream_sim::{Next, RunLimits, SimDuration};

    /// A payload of the network's own: only its size, as a user's protocol might have.
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    struct Bytes(u32);

    impl Payload for Bytes {
        fn wire_size(&self) -> u32 {
            self.0
        }
    }

    #[derive(Clone)]
    struct NoSocket;

    impl Socket for NoSocket {
        fn queued(&self) -> usize {
            0
        }
    }

    struct Received(Vec<(SimTime, Bytes)>);

    impl Sink<Bytes> for Received {
        fn receive(&mut self, now: SimTime, d: &Datagram<Bytes>) {
            self.0.push((now, d.payload));
        }
    }

    /// A link of limited rate serialises each payload for its own wire size: 1250 bytes at
    /// 1000 kbit/s take 10 ms, 125 bytes 1 ms, whatever the payload is.
    #[test]
    fn links_charge_any_payload_its_wire_size() {
        let mut k = Kernel::<NetEv>::new(RunLimits::for_duration(SimDuration::from_secs(1)));
        let mut net: Net<NoSocket, Bytes> = Net::new(RngStreams::new(1));
        net.set_link(
            1,
            2,
            LinkConfig {
                rate_kbps: 1000.0,
                ..Default::default()
            },
        );
        let rx = Rc::new(RefCell::new(Received(Vec::new())));
        net.bind((2, 7), Endpoint::Sink(rx.clone()));
        for size in [1250, 125] {
            let d = Datagram {
                src: (1, 7),
                dst: (2, 7),
                payload: Bytes(size),
                arrived: SimTime::ZERO,
            };
            net.send(&mut k, SimTime::ZERO, d);
        }
        while let Next::Event(now, NetEv::Deliver { slot }) = k.next_event() {
            if let Some((d, ArriveTo::Sink(s))) = net.arrive(slot, now) {
                s.borrow_mut().receive(now, &d);
            }
        }
        let got = &rx.borrow().0;
        let ms = |t: SimTime| t.since_start().as_nanos() / 1_000_000;
        assert_eq!(got.len(), 2);
        assert_eq!((ms(got[0].0), got[0].1), (10, Bytes(1250)));
        assert_eq!((ms(got[1].0), got[1].1), (11, Bytes(125)));
        assert_eq!(net.balance().0, net.balance().1);
    }
}
