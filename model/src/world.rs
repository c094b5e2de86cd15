//! The simulated world: the kernel, one Go runtime per host, external processes (network,
//! remote peers), and the loop that runs them. Goroutines reach the world through [`Go`].

pub use crate::goruntime::host::{go_panic, Core, EndReason, Ev, Freeze, HostEv};
pub use crate::goruntime::Go;

use crate::goruntime::host::{GoPanic, Shared};
use crate::goruntime::netpoll::Fd;
use crate::goruntime::proc::{Runtime, RuntimeConfig};
use crate::goruntime::runtime2::{Gi, Pi};
use crate::media::rtp::Rtp;
use crate::net::{ArriveTo, Endpoint, FaultKind, Net, NetEv};
use costream_sim::{Kernel, Next, RngStreams, RunLimits, SimDuration, SimTime};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Behaviour tests of the runtime model: they run it in a [`Sim`], so they live with the
/// composer.
#[cfg(test)]
mod runtime_tests;

/// The world's own events, which the kernel carries as [`Ev::Host`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WorldEv {
    /// The network's: a datagram arrives, or a fault starts or ends.
    Net(NetEv),
    /// An external process's next action.
    Process { id: u32 },
}

/// [`HostEv::kind`] of each world event.
const NET_DELIVER: u32 = 0;
const NET_FAULT_OFF: u32 = 1;
const NET_FAULT_ON: u32 = 2;
const PROCESS: u32 = 3;

impl From<WorldEv> for Ev {
    fn from(e: WorldEv) -> Self {
        let (kind, a) = match e {
            WorldEv::Net(NetEv::Deliver { slot }) => (NET_DELIVER, slot),
            WorldEv::Net(NetEv::Fault { index, on: false }) => (NET_FAULT_OFF, index),
            WorldEv::Net(NetEv::Fault { index, on: true }) => (NET_FAULT_ON, index),
            WorldEv::Process { id } => (PROCESS, id),
        };
        Ev::Host(HostEv { kind, a })
    }
}

impl From<HostEv> for WorldEv {
    fn from(h: HostEv) -> Self {
        match h.kind {
            NET_DELIVER => WorldEv::Net(NetEv::Deliver { slot: h.a }),
            NET_FAULT_OFF => WorldEv::Net(NetEv::Fault {
                index: h.a,
                on: false,
            }),
            NET_FAULT_ON => WorldEv::Net(NetEv::Fault {
                index: h.a,
                on: true,
            }),
            PROCESS => WorldEv::Process { id: h.a },
            _ => unreachable!("not a world event: {h:?}"),
        }
    }
}

/// The network schedules its events on the runtime's kernel.
impl From<NetEv> for Ev {
    fn from(e: NetEv) -> Self {
        WorldEv::Net(e).into()
    }
}

/// The network's sockets are Go's: a datagram waits in an `Fd` until a goroutine reads it.
impl<T: 'static> crate::net::Socket for Fd<T> {
    fn queued(&self) -> usize {
        Fd::queued(self)
    }
}

/// The world's datagrams carry RTP: the network is generic over its payload, the world's
/// goroutines and sinks all speak RTP.
pub type Datagram = crate::net::Datagram<Rtp>;

/// Model code outside any goroutine: a remote peer, a network link, a load generator.
pub trait Process {
    /// Acts at `now`; returns when it next wants to act.
    fn fire(&mut self, w: &mut World<'_>, now: SimTime) -> Option<SimTime>;
}

/// A network fault on a schedule: the links it affects (as `(from, to)` host pairs), its kind
/// and when it ends.
pub type ScheduledFault = (Vec<(u32, u32)>, FaultKind, SimTime);

/// Everything a run mutates: the runtimes' [`Core`] (reached through `Deref`: `w.kernel`,
/// `w.rts`, `w.streams`) and the world's network and faults.
pub struct World<'a> {
    /// The kernel, the runtimes and the run's random streams.
    pub core: &'a mut Core,
    /// Links and endpoints: send with `net.send(&mut core.kernel, now, d)`, bind sinks.
    pub net: &'a mut Net<Fd<Datagram>, Rtp>,
    /// Scheduled network faults.
    pub faults: &'a mut Vec<ScheduledFault>,
}

impl Deref for World<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        self.core
    }
}

impl DerefMut for World<'_> {
    fn deref_mut(&mut self) -> &mut Core {
        self.core
    }
}

/// The world's part of the run: what the runtime does not know about.
struct WorldPart {
    net: Net<Fd<Datagram>, Rtp>,
    faults: Vec<ScheduledFault>,
    processes: Vec<Option<Box<dyn Process>>>,
}

impl WorldPart {
    /// The view [`Process::fire`] and [`Sim::with_world_mut`] hand out.
    fn view<'a>(&'a mut self, core: &'a mut Core) -> World<'a> {
        World {
            core,
            net: &mut self.net,
            faults: &mut self.faults,
        }
    }
}

/// What the world keeps in the runtime's extension slot ([`Shared::ext`]).
struct Ext {
    part: RefCell<WorldPart>,
    /// Digest checkpoints: the interval and the next one due, when on ([`SimOptions`]).
    checkpoint: Cell<Option<(SimDuration, SimTime)>>,
    checkpoints: RefCell<Vec<Checkpoint>>,
}

/// The world's part behind a goroutine's handle.
fn ext(go: &Go) -> &Ext {
    go.sh
        .ext
        .downcast_ref::<Ext>()
        .expect("a Go handle made by a Sim")
}

/// What goroutines do with the world's network: the runtime's [`Go`] knows no network.
pub trait GoNet {
    /// A UDP socket bound to `port` on this host.
    fn bind(&self, port: u32) -> Fd<Datagram>;
    /// `sendto`: a system call of `fd_write` ([`Go::syscall`]) that hands `d` to the network
    /// as its kernel work ends, so a reader it wakes may preempt the writer before it
    /// returns. Await it.
    fn udp_send(&self, d: Datagram) -> UdpSend<'_>;
    /// `conn.Write` on a socket goroutines share: [`GoNet::udp_send`] holding `conn`'s write
    /// lock (`FD.writeLock`, internal/poll's `fdMutex`) from before the call until it has
    /// returned, as Go does; a writer that finds it held parks on its semaphore
    /// ("semacquire") and is readied, onto the releasing P, when it is free. Await it.
    fn udp_write<'a>(&'a self, conn: &'a Fd<Datagram>, d: Datagram) -> UdpSend<'a>;
    /// Runs `f` with the world, for model code that must touch it (delivering to a socket).
    fn with_world<R>(&self, f: impl FnOnce(&mut World<'_>) -> R) -> R;
}

impl GoNet for Go {
    fn bind(&self, port: u32) -> Fd<Datagram> {
        let fd = self.fd();
        ext(self)
            .part
            .borrow_mut()
            .net
            .bind((self.host, port), Endpoint::Socket(fd.clone()));
        fd
    }

    fn udp_send(&self, d: Datagram) -> UdpSend<'_> {
        UdpSend {
            go: self,
            d: Some(d),
            lock: None,
            held: false,
        }
    }

    fn udp_write<'a>(&'a self, conn: &'a Fd<Datagram>, d: Datagram) -> UdpSend<'a> {
        UdpSend {
            go: self,
            d: Some(d),
            lock: Some(conn),
            held: false,
        }
    }

    fn with_world<R>(&self, f: impl FnOnce(&mut World<'_>) -> R) -> R {
        let mut part = ext(self).part.borrow_mut();
        let mut c = self.sh.core.borrow_mut();
        f(&mut part.view(&mut c))
    }
}

/// Future of [`GoNet::udp_send`] and [`GoNet::udp_write`].
#[must_use = "a send does nothing unless awaited"]
pub struct UdpSend<'a> {
    go: &'a Go,
    d: Option<Datagram>,
    /// The socket whose write lock the call holds ([`GoNet::udp_write`]), and whether it is
    /// held now.
    lock: Option<&'a Fd<Datagram>>,
    held: bool,
}

impl UdpSend<'_> {
    /// `rwunlock`: free the write lock and ready the first writer queued on it.
    fn unlock(&mut self) {
        let Some(fd) = self.lock.filter(|_| self.held) else {
            return;
        };
        self.held = false;
        if let Some(w) = fd.write_unlock() {
            self.go.with_rt(|rt, k| {
                let (p, _) = rt.current();
                let at = rt.charge(rt.costs().chan_op);
                rt.goready(k, w, p, at);
            });
        }
    }
}

impl Future for UdpSend<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let go = self.go;
        if let (Some(fd), false, true) = (self.lock, self.held, self.d.is_some()) {
            // Outside a goroutine (set-up code) nobody else can hold the lock.
            let got = go.with_rt(|rt, _| {
                let (_, g) = rt.cur?;
                // The uncontended lock is a CAS, inside the calibrated `fd_write`.
                if fd.write_lock(g) {
                    return Some(true);
                }
                rt.charge(rt.costs().chan_op);
                rt.gopark(g, crate::goruntime::WaitReason::Semacquire);
                rt.wait_on(g, None);
                Some(false)
            });
            match got {
                Some(false) => return Poll::Pending,
                Some(true) => self.held = true,
                None => {}
            }
        }
        let Some(d) = self.d.take() else {
            self.unlock();
            return Poll::Ready(());
        };
        let mut part = ext(go).part.borrow_mut();
        let mut c = go.sh.core.borrow_mut();
        let Core { kernel, rts, .. } = &mut *c;
        let rt = &mut rts[go.host as usize];
        if rt.cur.is_none() {
            let now = kernel.now();
            part.net.send(kernel, now, d);
            return Poll::Ready(());
        }
        // The datagram leaves as the call's kernel work ends, charged inline or not.
        let cost = rt.costs().fd_write;
        let at = rt.local_now + cost;
        let blocks = rt.syscall_request(kernel, cost);
        part.net.send(kernel, at, d);
        drop(c);
        drop(part);
        if blocks {
            Poll::Pending
        } else {
            self.unlock();
            Poll::Ready(())
        }
    }
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Why it ended: main returned, the time limit, a deadlock, a panic, the event budget.
    pub end: EndReason,
    /// Virtual time at the end.
    pub now: SimTime,
    /// Events handled.
    pub events: u64,
    /// The digest of every event handled: equal digests, equal runs.
    pub digest: u64,
}

impl RunOutcome {
    /// The fatal message (deadlock or panic), as Go prints it.
    pub fn fatal_message(&self) -> Option<&str> {
        match &self.end {
            EndReason::Deadlock(f) | EndReason::Panic(f) => Some(&f.message),
            _ => None,
        }
    }
}

/// The run's digest after the last event before `at_ns` of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Virtual time of the checkpoint, in ns since the start.
    pub at_ns: u64,
    /// Events handled before it.
    pub events: u64,
    /// The run's digest then.
    pub digest: u64,
}

/// What a simulation keeps of its events ([`Sim::event_log`], [`Sim::describe_event`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventLog {
    /// Nothing: the digest alone (the fast default).
    #[default]
    Off,
    /// Every event, for a trace or a determinism check.
    All,
    /// About the latest `n`, for a replay's last events.
    Last(usize),
    /// Those at virtual times in `[from, until)`: a window of a run too long to keep whole.
    Window(SimTime, SimTime),
}

/// How a simulation records itself. Explicit values, handed to whatever builds the
/// simulation ([`SimBuilder`], the workloads' `run_with`), never switches read from the
/// thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimOptions {
    /// What the run keeps of its events.
    pub event_log: EventLog,
    /// Record a digest [`Checkpoint`] every this much virtual time ([`Sim::checkpoints`]).
    pub checkpoint_every: Option<SimDuration>,
}

impl SimOptions {
    /// These options keeping `event_log`.
    pub fn event_log(self, event_log: EventLog) -> Self {
        Self { event_log, ..self }
    }

    /// These options with a digest checkpoint every `every` of virtual time.
    pub fn checkpoints(self, every: SimDuration) -> Self {
        Self {
            checkpoint_every: Some(every),
            ..self
        }
    }
}

/// Builds a [`Sim`]: its seed, limits and [`SimOptions`].
#[derive(Clone, Copy, Debug)]
pub struct SimBuilder {
    seed: u64,
    limits: RunLimits,
    options: SimOptions,
}

impl SimBuilder {
    /// A simulation of `seed` within `limits`, recording nothing but its digest.
    pub fn new(seed: u64, limits: RunLimits) -> Self {
        Self {
            seed,
            limits,
            options: SimOptions::default(),
        }
    }

    /// Records as `options` say.
    pub fn options(self, options: SimOptions) -> Self {
        Self { options, ..self }
    }

    /// Keeps `log` of the events.
    pub fn event_log(self, log: EventLog) -> Self {
        self.options(self.options.event_log(log))
    }

    /// Records a digest checkpoint every `every` of virtual time.
    pub fn checkpoints(self, every: SimDuration) -> Self {
        self.options(self.options.checkpoints(every))
    }

    /// The simulation, with no runtime yet ([`Sim::add_runtime`]).
    pub fn build(self) -> Sim {
        Sim::build(self.seed, self.limits, self.options)
    }
}

/// A simulation: owns the world and runs it.
pub struct Sim {
    sh: Rc<Shared>,
    ext: Rc<Ext>,
}

impl Sim {
    /// A simulation that keeps no events and takes no checkpoints ([`SimBuilder`] for more).
    pub fn new(seed: u64, limits: RunLimits) -> Self {
        SimBuilder::new(seed, limits).build()
    }

    fn build(seed: u64, limits: RunLimits, options: SimOptions) -> Self {
        let mut kernel = Kernel::new(limits);
        match options.event_log {
            EventLog::Off => {}
            EventLog::All => kernel.keep_log(None),
            EventLog::Last(n) => kernel.keep_log(Some(n)),
            EventLog::Window(from, until) => kernel.keep_log_window(from, until),
        }
        let core = Core {
            kernel,
            rts: Vec::new(),
            streams: RngStreams::new(seed),
        };
        let ext = Rc::new(Ext {
            part: RefCell::new(WorldPart {
                net: Net::new(RngStreams::new(seed)),
                faults: Vec::new(),
                processes: Vec::new(),
            }),
            checkpoint: Cell::new(options.checkpoint_every.map(|d| (d, SimTime::ZERO + d))),
            checkpoints: RefCell::new(Vec::new()),
        });
        Self {
            sh: Rc::new(Shared::new(core, ext.clone())),
            ext,
        }
    }

    /// Adds a host running its own Go runtime; returns its index.
    pub fn add_runtime(&self, cfg: RuntimeConfig) -> u32 {
        let mut w = self.sh.core.borrow_mut();
        let host = w.rts.len() as u32;
        let mut rt = Runtime::new(host, cfg, &w.streams);
        if w.kernel.log().is_some() {
            rt.goid_names = Some(Default::default());
        }
        w.rts.push(rt);
        w.rts[host as usize].shared = Some(Rc::downgrade(&self.sh));
        let Core { kernel, rts, .. } = &mut *w;
        rts[host as usize].start_sysmon(kernel);
        rts[host as usize].start_stalls(kernel);
        host
    }

    /// Adds a host that is another process on the machine of `beside`: its threads run on the
    /// same CPUs, under the same kernel scheduler ([`RuntimeConfig::os`] of `beside`, which
    /// must have one; `cfg.os` is ignored). Returns its index.
    pub fn add_runtime_beside(&self, cfg: RuntimeConfig, beside: u32) -> u32 {
        let os = {
            let w = self.sh.core.borrow();
            let rt = w
                .rts
                .get(beside as usize)
                .unwrap_or_else(|| panic!("add_runtime_beside: there is no host {beside}"));
            rt.os
                .clone()
                .unwrap_or_else(|| panic!("add_runtime_beside: host {beside} has no OS model"))
        };
        let host = self.add_runtime(RuntimeConfig { os: None, ..cfg });
        self.sh.core.borrow_mut().rts[host as usize].share_os(os);
        host
    }

    /// The digest checkpoints taken during the run, when on ([`SimOptions::checkpoints`]).
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.ext.checkpoints.borrow().clone()
    }

    /// The events recorded into the digest, when the run keeps them ([`EventLog`]): a copy.
    pub fn event_log(&self) -> Vec<[u64; 4]> {
        self.with_events(|l| l.to_vec())
    }

    /// The index in the whole run of the first kept event: events before it were dropped from
    /// a capped log or came before the log's window ([`EventLog::Window`]).
    pub fn first_kept_index(&self) -> u64 {
        self.sh.core.borrow().kernel.log_dropped()
    }

    /// Whether this simulation keeps an event log (its [`SimOptions`] asked for one).
    pub fn keeps_events(&self) -> bool {
        self.sh.core.borrow().kernel.log().is_some()
    }

    /// Runs `f` on the kept events without copying them (empty when the run kept none).
    pub fn with_events<R>(&self, f: impl FnOnce(&[[u64; 4]]) -> R) -> R {
        f(self.sh.core.borrow().kernel.log().unwrap_or(&[]))
    }

    /// Event `index` of the log in words a person can read: time, host, the tracer's event
    /// name, and for goroutine events the goroutine with its function and creator.
    pub fn describe_event(&self, index: usize) -> String {
        let w = self.sh.core.borrow();
        let Some(rec) = w.kernel.log().and_then(|l| l.get(index)) else {
            return "(no event: the run ended here)".into();
        };
        let [at, kind, a, b] = *rec;
        let (host, ev) = ((kind >> 8) as u32, (kind & 0xff) as u8);
        let (name, is_goid) = crate::goruntime::trace::TraceEv::describe(ev);
        let at = costream_sim::SimTime::ZERO + costream_sim::SimDuration::from_nanos(at);
        let site = is_goid
            .then(|| w.rts.get(host as usize)?.goid_names.as_ref()?.get(&a))
            .flatten();
        let what = match site {
            None => format!("a={a}"),
            Some((f, None)) => format!("goroutine {a} ({f})"),
            Some((f, Some((by, id)))) => {
                format!("goroutine {a} ({f}, created by {by} in goroutine {id})")
            }
        };
        format!("at {at} on host {host}: {name} {what} b={b}")
    }

    /// The index in the kept log of the first event about a goroutine (created, started,
    /// blocked, ...), if any.
    pub fn first_goroutine_event(&self) -> Option<usize> {
        let w = self.sh.core.borrow();
        w.kernel
            .log()?
            .iter()
            .position(|rec| crate::goruntime::trace::TraceEv::describe((rec[1] & 0xff) as u8).1)
    }

    /// Each goroutine's function by (host, goid), when the run keeps its events.
    pub fn goroutine_names(&self) -> std::collections::BTreeMap<(u32, u64), &'static str> {
        let w = self.sh.core.borrow();
        let mut m = std::collections::BTreeMap::new();
        for (h, rt) in w.rts.iter().enumerate() {
            if let Some(names) = &rt.goid_names {
                for (&goid, &(name, _)) in names {
                    m.insert((h as u32, goid), name);
                }
            }
        }
        m
    }

    /// Every stop of the world per host: when, how long, why.
    pub fn freezes(&self) -> Vec<(u64, Vec<Freeze>)> {
        let w = self.sh.core.borrow();
        w.rts
            .iter()
            .enumerate()
            .map(|(h, rt)| (h as u64, rt.stats.freezes.clone()))
            .collect()
    }

    /// The last `n` kept events, described (see [`Sim::describe_event`]).
    pub fn last_events(&self, n: usize) -> Vec<String> {
        let len = self.sh.core.borrow().kernel.log().map_or(0, |l| l.len());
        (len.saturating_sub(n)..len)
            .map(|i| self.describe_event(i))
            .collect()
    }

    /// A handle for set-up code on `host` (spawning goroutines, making channels).
    pub fn go(&self, host: u32) -> Go {
        Go {
            sh: self.sh.clone(),
            host,
        }
    }

    /// Starts the main goroutine (goid 1) on `host`: when it returns, the program exits.
    pub fn main<F, Fut>(&self, host: u32, f: F)
    where
        F: FnOnce(Go) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.go(host).spawn("main.main", true, f);
    }

    /// Registers an external process that first acts at `at`.
    pub fn add_process(&self, p: Box<dyn Process>, at: SimTime) {
        let id = {
            let mut part = self.ext.part.borrow_mut();
            part.processes.push(Some(p));
            part.processes.len() as u32 - 1
        };
        let mut c = self.sh.core.borrow_mut();
        c.kernel.schedule(at, WorldEv::Process { id }.into());
    }

    /// Schedules a network fault over `links` from `from` to `until`.
    pub fn add_fault(
        &self,
        links: Vec<(u32, u32)>,
        kind: FaultKind,
        from: SimTime,
        until: SimTime,
    ) {
        let index = {
            let mut part = self.ext.part.borrow_mut();
            part.faults.push((links, kind, until));
            part.faults.len() as u32 - 1
        };
        let mut c = self.sh.core.borrow_mut();
        c.kernel
            .schedule(from, NetEv::Fault { index, on: true }.into());
        c.kernel
            .schedule(until, NetEv::Fault { index, on: false }.into());
    }

    /// Mutable access to the world, for set-up (links, sinks).
    pub fn with_world_mut<R>(&self, f: impl FnOnce(&mut World<'_>) -> R) -> R {
        let mut part = self.ext.part.borrow_mut();
        let mut c = self.sh.core.borrow_mut();
        f(&mut part.view(&mut c))
    }

    /// Read access to the world (for reports after or between runs).
    pub fn with_world<R>(&self, f: impl FnOnce(&World<'_>) -> R) -> R {
        self.with_world_mut(|w| f(w))
    }

    /// Runs `f` with the runtime of `host` (its scheduler, GC and goroutine statistics).
    pub fn runtime<R>(&self, host: u32, f: impl FnOnce(&Runtime) -> R) -> R {
        f(&self.sh.core.borrow().rts[host as usize])
    }

    /// Runs on until `t` of virtual time (or the run's own limit, if sooner), then stops; a
    /// later call continues from there (for measurement phases).
    pub fn run_until(&self, t: SimTime) -> RunOutcome {
        let end = self.sh.core.borrow().kernel.limits().until;
        let set_until = |until: SimTime| {
            let mut w = self.sh.core.borrow_mut();
            let mut l = w.kernel.limits();
            l.until = until;
            w.kernel.set_limits(l);
        };
        set_until(t.min(end));
        let out = self.run();
        set_until(end);
        out
    }

    /// Runs until a limit, the end of the program, a deadlock or a panic.
    pub fn run(&self) -> RunOutcome {
        self.run_with_progress(|_, _| {})
    }

    /// Like [`Sim::run`], calling `progress(virtual now, events so far)` every 2^20 events
    /// (for progress bars; it must not touch the world).
    pub fn run_with_progress(&self, mut progress: impl FnMut(SimTime, u64)) -> RunOutcome {
        let end = loop {
            let next = self.sh.core.borrow_mut().kernel.next_event();
            let (t, ev) = match next {
                Next::Event(t, e) => (t, e),
                Next::TimeLimit => break EndReason::TimeLimit,
                Next::Budget => break EndReason::BudgetSpent,
                Next::Empty => break EndReason::AllFinished,
            };
            if let Some((every, next)) = self.ext.checkpoint.get() {
                if t >= next {
                    self.checkpoint(every, next, t);
                }
            }
            if let Some(end) = self.dispatch(ev) {
                break end;
            }
            let w = self.sh.core.borrow();
            if w.kernel.handled() & ((1 << 20) - 1) == 0 {
                let (now, n) = (w.kernel.now(), w.kernel.handled());
                drop(w);
                progress(now, n);
            }
        };
        let mut w = self.sh.core.borrow_mut();
        let now = w.kernel.now();
        for rt in &mut w.rts {
            rt.settle(now);
        }
        tracing::debug!(target: "costream::sim", vt = now.as_nanos(), end = %end, events = w.kernel.handled(), "run ended");
        RunOutcome {
            end,
            now,
            events: w.kernel.handled(),
            digest: w.kernel.digest.value(),
        }
    }

    /// Records the checkpoint due at `next`, before the event at `t` (the first at or after
    /// it) is handled: the checkpoint is then exactly the run before `next`, so a replay that
    /// differs from it differs in an event of `[previous checkpoint, next)`. Boundaries that
    /// no event falls between share it: one checkpoint, not one per empty interval.
    fn checkpoint(&self, every: SimDuration, next: SimTime, t: SimTime) {
        let w = self.sh.core.borrow();
        self.ext.checkpoints.borrow_mut().push(Checkpoint {
            at_ns: next.as_nanos(),
            // The event at `t` is counted already; it is not handled yet.
            events: w.kernel.handled() - 1,
            digest: w.kernel.digest.value(),
        });
        let skip = (t.as_nanos() - next.as_nanos()) / every.as_nanos().max(1);
        let after = next
            .as_nanos()
            .saturating_add((skip + 1).saturating_mul(every.as_nanos()));
        self.ext
            .checkpoint
            .set(Some((every, SimTime::from_nanos(after))));
    }

    fn dispatch(&self, ev: Ev) -> Option<EndReason> {
        let (host, mut next) = {
            let mut c = self.sh.core.borrow_mut();
            let Core { kernel, rts, .. } = &mut *c;
            match ev {
                Ev::PStep { host, p, gen } => (host, rts[host as usize].p_step(kernel, p, gen)),
                Ev::Preempt { host, p, g } => {
                    rts[host as usize].preempt(kernel, p, g);
                    (host, None)
                }
                Ev::Sysmon { host, gen, deep } => {
                    rts[host as usize].sysmon(kernel, gen, deep);
                    (host, None)
                }
                Ev::NetpollWake { host, gen } => {
                    (host, rts[host as usize].netpoll_wake(kernel, gen))
                }
                Ev::GcMarkDone { host, gen } => {
                    rts[host as usize].gc_mark_done(kernel, gen);
                    (host, None)
                }
                Ev::Stall { host, kind } => {
                    rts[host as usize].stall(kernel, kind);
                    (host, None)
                }
                Ev::OsTick { host, cpu } => {
                    rts[host as usize].os_tick(kernel, cpu);
                    (host, None)
                }
                Ev::OsResume { host, m } => {
                    rts[host as usize].os_resumed(kernel, m);
                    (host, None)
                }
                Ev::ExitSyscall { host, slot, gen } => {
                    (host, rts[host as usize].exitsyscall(kernel, slot, gen))
                }
                Ev::Procresize { host, n } => {
                    rts[host as usize].procresize(kernel, n);
                    (host, None)
                }
                Ev::Host(h) => {
                    self.world_event(&mut c, h.into());
                    (0, None)
                }
            }
        };
        while let Some((p, g)) = next.take() {
            let now = {
                let mut c = self.sh.core.borrow_mut();
                let Core { kernel, rts, .. } = &mut *c;
                rts[host as usize].os_run_now(kernel, p, g)
            };
            if now {
                self.poll_g(host, p, g);
            }
        }
        let mut w = self.sh.core.borrow_mut();
        w.rts.iter_mut().find_map(|rt| rt.end.take())
    }

    /// Handles one of the world's own events: the network's, or an external process's.
    fn world_event(&self, core: &mut Core, ev: WorldEv) {
        let mut part = self.ext.part.borrow_mut();
        let WorldPart {
            net,
            faults,
            processes,
        } = &mut *part;
        match ev {
            WorldEv::Net(NetEv::Deliver { slot }) => {
                let now = core.kernel.now();
                if let Some((d, to)) = net.arrive(slot, now) {
                    match to {
                        ArriveTo::Socket(fd) => {
                            let from = d.src.0;
                            fd.deliver_from(core, d, Some(from))
                        }
                        ArriveTo::Sink(s) => s.borrow_mut().receive(now, &d),
                    }
                }
            }
            WorldEv::Net(NetEv::Fault { index, on }) => {
                let (links, kind, until) = faults[index as usize].clone();
                for (a, b) in links {
                    match kind {
                        FaultKind::Partition => net.set_partitioned(a, b, on),
                        FaultKind::Clog if on => net.clog(a, b, until),
                        FaultKind::Clog => {}
                    }
                }
            }
            WorldEv::Process { id } => {
                let mut p = processes[id as usize].take().expect("process is present");
                let now = core.kernel.now();
                let again = p.fire(&mut World { core, net, faults }, now);
                processes[id as usize] = Some(p);
                if let Some(at) = again {
                    core.kernel.schedule(at, WorldEv::Process { id }.into());
                }
            }
        }
    }

    /// Polls goroutine `g` on `p` once and lets the scheduler act on what it asked for.
    fn poll_g(&self, host: u32, p: Pi, g: Gi) {
        let task = {
            let mut w = self.sh.core.borrow_mut();
            let now = w.kernel.now();
            w.rts[host as usize].begin_poll(now, p, g)
        };
        let r = self.sh.tasks.poll(task);
        let mut w = self.sh.core.borrow_mut();
        let Core { kernel, rts, .. } = &mut *w;
        match r {
            Ok(r) => rts[host as usize].after_poll(kernel, p, g, r.is_ready()),
            Err(payload) => match payload.downcast::<GoPanic>() {
                Ok(gp) => rts[host as usize].gopanic(g, &gp.0),
                // A bug in model code, not a modelled panic: let it fail loudly.
                Err(other) => {
                    drop(w);
                    std::panic::resume_unwind(other)
                }
            },
        }
    }
}

impl Drop for Sim {
    /// Goroutine futures hold `Go` handles (and so the world): drop them to break the cycle.
    fn drop(&mut self) {
        self.sh.tasks.clear();
        if let Ok(mut part) = self.ext.part.try_borrow_mut() {
            part.processes.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every world event survives the trip through the kernel's opaque [`HostEv`].
    #[test]
    fn world_events_round_trip_through_host_events() {
        for e in [
            WorldEv::Net(NetEv::Deliver { slot: 0 }),
            WorldEv::Net(NetEv::Deliver { slot: u32::MAX }),
            WorldEv::Net(NetEv::Fault { index: 3, on: true }),
            WorldEv::Net(NetEv::Fault {
                index: 3,
                on: false,
            }),
            WorldEv::Process { id: 7 },
        ] {
            let Ev::Host(h) = Ev::from(e) else {
                panic!("{e:?} is not a host event")
            };
            assert_eq!(WorldEv::from(h), e);
        }
        assert_eq!(
            Ev::from(NetEv::Deliver { slot: 5 }),
            Ev::from(WorldEv::Net(NetEv::Deliver { slot: 5 }))
        );
    }
}
