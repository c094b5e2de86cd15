//! The simulated world: the kernel, one Go runtime per host, external processes (network,
//! remote peers), and the loop that runs them. Goroutines reach the world through [`Go`].

use crate::goruntime::chan::Chan;
use crate::goruntime::netpoll::Fd;
use crate::goruntime::proc::{Fatal, Runtime, RuntimeConfig};
use crate::goruntime::runtime2::{Gi, Pi, Yield};
use crate::goruntime::select::{Select, SelectCase};
use crate::goruntime::time::Sleep;
use costream_sim::{Kernel, Next, RngStreams, RunLimits, SimDuration, SimRng, SimTime, TaskSlab};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// Behaviour tests of the runtime model: they run it in a [`Sim`], so they live with the
/// composer.
#[cfg(test)]
mod runtime_tests;

/// Kernel events. Every handler is a model function named after the Go code it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A P's M takes its next step (schedule, or resume the G it runs).
    PStep { host: u32, p: Pi, gen: u32 },
    /// A preemption signal reaches goroutine `g`, which was running on `p`.
    Preempt { host: u32, p: Pi, g: Gi },
    /// sysmon wakes from `usleep` (or from its deep sleep).
    Sysmon { host: u32, gen: u32, deep: bool },
    /// The M blocked in netpoll returns.
    NetpollWake { host: u32, gen: u32 },
    /// An external process's next action.
    Process { id: u32 },
    /// The predicted end of a GC mark phase.
    GcMarkDone { host: u32, gen: u32 },
    /// A stall source acts (a pause begins, or a cgroup quota check).
    Stall {
        host: u32,
        kind: crate::goruntime::stall::StallKind,
    },
    /// The network's: a datagram arrives, or a fault starts or ends.
    Net(crate::net::NetEv),
    /// The world restarts after a `GOMAXPROCS` stop: `procresize`.
    Procresize { host: u32, n: u32 },
}

impl From<crate::net::NetEv> for Ev {
    fn from(e: crate::net::NetEv) -> Self {
        Ev::Net(e)
    }
}

/// The network's sockets are Go's: a datagram waits in an `Fd` until a goroutine reads it.
impl<T: 'static> crate::net::Socket for Fd<T> {
    fn queued(&self) -> usize {
        Fd::queued(self)
    }
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The configured virtual-time limit was reached.
    TimeLimit,
    /// The event budget was spent.
    BudgetSpent,
    /// The main goroutine returned (the program exits, as Go's does).
    MainReturned,
    /// Every goroutine finished and nothing else is scheduled.
    AllFinished,
    /// Nothing can ever run again: Go's "all goroutines are asleep - deadlock!".
    Deadlock(Fatal),
    /// An unrecovered panic.
    Panic(Fatal),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::TimeLimit => write!(f, "time limit"),
            EndReason::BudgetSpent => write!(f, "event budget spent"),
            EndReason::MainReturned => write!(f, "main returned"),
            EndReason::AllFinished => write!(f, "all goroutines finished"),
            EndReason::Deadlock(_) => write!(f, "deadlock"),
            EndReason::Panic(_) => write!(f, "panic"),
        }
    }
}

/// The unwind payload of a modelled Go panic ("send on closed channel").
pub(crate) struct GoPanic(pub String);

/// Panics the running goroutine as Go's `panic(msg)` would: the program dies with `msg`.
/// Raised with `resume_unwind` so Rust's panic hook stays quiet.
pub fn go_panic(msg: &str) -> ! {
    std::panic::resume_unwind(Box::new(GoPanic(msg.to_string())))
}

/// Model code outside any goroutine: a remote peer, a network link, a load generator.
pub trait Process {
    /// Acts at `now`; returns when it next wants to act.
    fn fire(&mut self, w: &mut World, now: SimTime) -> Option<SimTime>;
}

/// A network fault on a schedule: the links it affects (as `(from, to)` host pairs), its kind
/// and when it ends.
pub type ScheduledFault = (Vec<(u32, u32)>, crate::net::FaultKind, SimTime);

/// Everything a run mutates.
pub struct World {
    pub kernel: Kernel<Ev>,
    pub rts: Vec<Runtime>,
    pub streams: RngStreams,
    pub net: crate::net::Net<Fd<crate::net::Datagram>>,
    /// Scheduled network faults.
    pub faults: Vec<ScheduledFault>,
    processes: Vec<Option<Box<dyn Process>>>,
}

impl World {
    pub fn now(&self) -> SimTime {
        self.kernel.now()
    }
}

#[doc(hidden)]
pub struct Shared {
    pub world: RefCell<World>,
    pub tasks: TaskSlab,
    next_chan: Cell<u64>,
    /// Digest checkpoints: the interval and the next one due, when on ([`SimOptions`]).
    checkpoint: Cell<Option<(SimDuration, SimTime)>>,
    checkpoints: RefCell<Vec<Checkpoint>>,
}

/// A goroutine's view of its runtime: spawn, compute, channels, timers, select.
#[derive(Clone)]
pub struct Go {
    pub(crate) sh: Rc<Shared>,
    pub(crate) host: u32,
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub end: EndReason,
    pub now: SimTime,
    pub events: u64,
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

/// One stop of the world: when, how long, why.
pub type Freeze = (SimTime, SimDuration, crate::goruntime::FreezeCause);

/// The run's digest after the last event before `at_ns` of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub at_ns: u64,
    pub events: u64,
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
    pub event_log: EventLog,
    /// Record a digest [`Checkpoint`] every this much virtual time ([`Sim::checkpoints`]).
    pub checkpoint_every: Option<SimDuration>,
}

impl SimOptions {
    pub fn event_log(self, event_log: EventLog) -> Self {
        Self { event_log, ..self }
    }

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
    pub fn new(seed: u64, limits: RunLimits) -> Self {
        Self {
            seed,
            limits,
            options: SimOptions::default(),
        }
    }

    pub fn options(self, options: SimOptions) -> Self {
        Self { options, ..self }
    }

    pub fn event_log(self, log: EventLog) -> Self {
        self.options(self.options.event_log(log))
    }

    pub fn checkpoints(self, every: SimDuration) -> Self {
        self.options(self.options.checkpoints(every))
    }

    pub fn build(self) -> Sim {
        Sim::build(self.seed, self.limits, self.options)
    }
}

/// `file.rs:line` of a call site, made once per site and kept for the process (a program
/// has finitely many `go` statements, as Go's binary has one name per closure).
fn caller_name(at: &'static std::panic::Location<'static>) -> &'static str {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<BTreeMap<(&'static str, u32), &'static str>>> = OnceLock::new();
    let file = at.file().rsplit(['/', '\\']).next().unwrap_or(at.file());
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    names
        .entry((file, at.line()))
        .or_insert_with(|| Box::leak(format!("{file}:{}", at.line()).into_boxed_str()))
}

/// A simulation: owns the world and runs it.
pub struct Sim {
    sh: Rc<Shared>,
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
        let world = World {
            kernel,
            rts: Vec::new(),
            streams: RngStreams::new(seed),
            net: crate::net::Net::new(RngStreams::new(seed)),
            faults: Vec::new(),
            processes: Vec::new(),
        };
        Self {
            sh: Rc::new(Shared {
                world: RefCell::new(world),
                tasks: TaskSlab::new(),
                next_chan: Cell::new(1),
                checkpoint: Cell::new(options.checkpoint_every.map(|d| (d, SimTime::ZERO + d))),
                checkpoints: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Adds a host running its own Go runtime; returns its index.
    pub fn add_runtime(&self, cfg: RuntimeConfig) -> u32 {
        let mut w = self.sh.world.borrow_mut();
        let host = w.rts.len() as u32;
        let mut rt = Runtime::new(host, cfg, &w.streams);
        if w.kernel.log().is_some() {
            rt.goid_names = Some(Default::default());
        }
        w.rts.push(rt);
        w.rts[host as usize].shared = Some(Rc::downgrade(&self.sh));
        let World { kernel, rts, .. } = &mut *w;
        rts[host as usize].start_sysmon(kernel);
        rts[host as usize].start_stalls(kernel);
        host
    }

    /// The digest checkpoints taken during the run, when on ([`SimOptions::checkpoints`]).
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.sh.checkpoints.borrow().clone()
    }

    /// The events recorded into the digest, when the run keeps them ([`EventLog`]): a copy.
    pub fn event_log(&self) -> Vec<[u64; 4]> {
        self.with_events(|l| l.to_vec())
    }

    /// The index in the whole run of the first kept event: events before it were dropped from
    /// a capped log or came before the log's window ([`EventLog::Window`]).
    pub fn first_kept_index(&self) -> u64 {
        self.sh.world.borrow().kernel.log_dropped()
    }

    /// Whether this simulation keeps an event log (its [`SimOptions`] asked for one).
    pub fn keeps_events(&self) -> bool {
        self.sh.world.borrow().kernel.log().is_some()
    }

    /// Runs `f` on the kept events without copying them (empty when the run kept none).
    pub fn with_events<R>(&self, f: impl FnOnce(&[[u64; 4]]) -> R) -> R {
        f(self.sh.world.borrow().kernel.log().unwrap_or(&[]))
    }

    /// Event `index` of the log in words a person can read: time, host, the tracer's event
    /// name, and for goroutine events the goroutine with its function and creator.
    pub fn describe_event(&self, index: usize) -> String {
        let w = self.sh.world.borrow();
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
        let w = self.sh.world.borrow();
        w.kernel
            .log()?
            .iter()
            .position(|rec| crate::goruntime::trace::TraceEv::describe((rec[1] & 0xff) as u8).1)
    }

    /// Each goroutine's function by (host, goid), when the run keeps its events.
    pub fn goroutine_names(&self) -> std::collections::BTreeMap<(u32, u64), &'static str> {
        let w = self.sh.world.borrow();
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
        let w = self.sh.world.borrow();
        w.rts
            .iter()
            .enumerate()
            .map(|(h, rt)| (h as u64, rt.stats.freezes.clone()))
            .collect()
    }

    /// The last `n` kept events, described (see [`Sim::describe_event`]).
    pub fn last_events(&self, n: usize) -> Vec<String> {
        let len = self.sh.world.borrow().kernel.log().map_or(0, |l| l.len());
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
        let mut w = self.sh.world.borrow_mut();
        let id = w.processes.len() as u32;
        w.processes.push(Some(p));
        w.kernel.schedule(at, Ev::Process { id });
    }

    /// Schedules a network fault over `links` from `from` to `until`.
    pub fn add_fault(
        &self,
        links: Vec<(u32, u32)>,
        kind: crate::net::FaultKind,
        from: SimTime,
        until: SimTime,
    ) {
        let mut w = self.sh.world.borrow_mut();
        let index = w.faults.len() as u32;
        w.faults.push((links, kind, until));
        w.kernel
            .schedule(from, Ev::Net(crate::net::NetEv::Fault { index, on: true }));
        w.kernel.schedule(
            until,
            Ev::Net(crate::net::NetEv::Fault { index, on: false }),
        );
    }

    /// Mutable access to the world, for set-up (links, sinks).
    pub fn with_world_mut<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.sh.world.borrow_mut())
    }

    /// Read access to the world (for reports after or between runs).
    pub fn with_world<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        f(&self.sh.world.borrow())
    }

    pub fn runtime<R>(&self, host: u32, f: impl FnOnce(&Runtime) -> R) -> R {
        f(&self.sh.world.borrow().rts[host as usize])
    }

    /// Runs on until `t` of virtual time (or the run's own limit, if sooner), then stops; a
    /// later call continues from there (for measurement phases).
    pub fn run_until(&self, t: SimTime) -> RunOutcome {
        let end = self.sh.world.borrow().kernel.limits().until;
        let set_until = |until: SimTime| {
            let mut w = self.sh.world.borrow_mut();
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
            let next = self.sh.world.borrow_mut().kernel.next_event();
            let (t, ev) = match next {
                Next::Event(t, e) => (t, e),
                Next::TimeLimit => break EndReason::TimeLimit,
                Next::Budget => break EndReason::BudgetSpent,
                Next::Empty => break EndReason::AllFinished,
            };
            if let Some((every, next)) = self.sh.checkpoint.get() {
                if t >= next {
                    self.checkpoint(every, next, t);
                }
            }
            if let Some(end) = self.dispatch(ev) {
                break end;
            }
            let w = self.sh.world.borrow();
            if w.kernel.handled() & ((1 << 20) - 1) == 0 {
                let (now, n) = (w.kernel.now(), w.kernel.handled());
                drop(w);
                progress(now, n);
            }
        };
        let mut w = self.sh.world.borrow_mut();
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
        let w = self.sh.world.borrow();
        self.sh.checkpoints.borrow_mut().push(Checkpoint {
            at_ns: next.as_nanos(),
            // The event at `t` is counted already; it is not handled yet.
            events: w.kernel.handled() - 1,
            digest: w.kernel.digest.value(),
        });
        let skip = (t.as_nanos() - next.as_nanos()) / every.as_nanos().max(1);
        let after = next
            .as_nanos()
            .saturating_add((skip + 1).saturating_mul(every.as_nanos()));
        self.sh
            .checkpoint
            .set(Some((every, SimTime::from_nanos(after))));
    }

    fn dispatch(&self, ev: Ev) -> Option<EndReason> {
        let (host, mut next) = {
            let mut w = self.sh.world.borrow_mut();
            let World {
                kernel,
                rts,
                processes,
                ..
            } = &mut *w;
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
                Ev::Procresize { host, n } => {
                    rts[host as usize].procresize(kernel, n);
                    (host, None)
                }
                Ev::Net(crate::net::NetEv::Deliver { slot }) => {
                    let now = kernel.now();
                    if let Some((d, to)) = w.net.arrive(slot, now) {
                        match to {
                            crate::net::ArriveTo::Socket(fd) => fd.deliver(&mut w, d),
                            crate::net::ArriveTo::Sink(s) => s.borrow_mut().receive(now, &d),
                        }
                    }
                    (0, None)
                }
                Ev::Net(crate::net::NetEv::Fault { index, on }) => {
                    let (links, kind, until) = w.faults[index as usize].clone();
                    for (a, b) in links {
                        match kind {
                            crate::net::FaultKind::Partition => w.net.set_partitioned(a, b, on),
                            crate::net::FaultKind::Clog if on => w.net.clog(a, b, until),
                            crate::net::FaultKind::Clog => {}
                        }
                    }
                    (0, None)
                }
                Ev::Process { id } => {
                    let mut p = processes[id as usize].take().expect("process is present");
                    let now = kernel.now();
                    let again = p.fire(&mut w, now);
                    w.processes[id as usize] = Some(p);
                    if let Some(at) = again {
                        w.kernel.schedule(at, Ev::Process { id });
                    }
                    (0, None)
                }
            }
        };
        while let Some((p, g)) = next.take() {
            self.poll_g(host, p, g);
        }
        let mut w = self.sh.world.borrow_mut();
        w.rts.iter_mut().find_map(|rt| rt.end.take())
    }

    /// Polls goroutine `g` on `p` once and lets the scheduler act on what it asked for.
    fn poll_g(&self, host: u32, p: Pi, g: Gi) {
        let task = {
            let mut w = self.sh.world.borrow_mut();
            let now = w.kernel.now();
            w.rts[host as usize].begin_poll(now, p, g)
        };
        let r = self.sh.tasks.poll(task);
        let mut w = self.sh.world.borrow_mut();
        let World { kernel, rts, .. } = &mut *w;
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
        if let Ok(mut w) = self.sh.world.try_borrow_mut() {
            w.processes.clear();
        }
    }
}

impl Go {
    #[inline]
    pub(crate) fn with_rt<R>(&self, f: impl FnOnce(&mut Runtime, &mut Kernel<Ev>) -> R) -> R {
        let mut w = self.sh.world.borrow_mut();
        let World { kernel, rts, .. } = &mut *w;
        f(&mut rts[self.host as usize], kernel)
    }

    fn spawn<F, Fut>(&self, name: &'static str, is_main: bool, f: F) -> u64
    where
        F: FnOnce(Go) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let fut = f(self.clone());
        let task = self.sh.tasks.insert(Box::pin(fut));
        self.with_rt(|rt, k| {
            let g = rt.newproc(k, task, name, is_main);
            rt.allgs[g as usize].goid
        })
    }

    /// `go f()`: the new goroutine goes to this P's `runnext`; returns its goid.
    /// `name` is the function it runs ("main.worker"), shown in tracebacks.
    pub fn go<F, Fut>(&self, name: &'static str, f: F) -> u64
    where
        F: FnOnce(Go) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.spawn(name, false, f)
    }

    /// `go func() { … }()`: [`Go::go`] for an anonymous function, named after where it is
    /// started ("signalling.rs:171"), as Go's tracebacks place a closure by file and line.
    #[track_caller]
    pub fn go_here<F, Fut>(&self, f: F) -> u64
    where
        F: FnOnce(Go) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.spawn(caller_name(std::panic::Location::caller()), false, f)
    }

    /// Holds this goroutine's P for `d` of CPU time (preemptible by sysmon after 10 ms).
    pub fn compute(&self, d: SimDuration) -> Compute<'_> {
        Compute {
            go: self,
            d,
            started: false,
        }
    }

    /// `runtime.LockOSThread()`: wire this goroutine to its own thread. It still needs a P to
    /// run, and every wake-up now costs two thread switches (`startlockedm`, `stoplockedm`).
    pub fn lock_os_thread(&self) {
        self.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.lock_os_thread(g);
        })
    }

    /// `runtime.UnlockOSThread()`: undo one `lock_os_thread`.
    pub fn unlock_os_thread(&self) {
        self.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.unlock_os_thread(g);
        })
    }

    /// `runtime.Gosched()`: yield the P; this goroutine goes to the global run queue.
    pub fn gosched(&self) -> Gosched<'_> {
        Gosched {
            go: self,
            started: false,
        }
    }

    /// `time.Sleep(d)`.
    pub fn sleep(&self, d: SimDuration) -> Sleep<'_> {
        Sleep::new(self, d)
    }

    /// Sleeps until `t` (no-op if `t` has passed).
    pub fn sleep_until(&self, t: SimTime) -> Sleep<'_> {
        let d = t.saturating_since(self.now());
        Sleep::new(self, d)
    }

    /// `time.Now()` as this goroutine sees it (kernel time plus its costs so far).
    pub fn now(&self) -> SimTime {
        let w = self.sh.world.borrow();
        let rt = &w.rts[self.host as usize];
        if rt.cur.is_some() {
            rt.local_now
        } else {
            w.kernel.now()
        }
    }

    /// `make(chan T, cap)`.
    pub fn make_chan<T>(&self, cap: usize) -> Chan<T> {
        let id = self.sh.next_chan.get();
        self.sh.next_chan.set(id + 1);
        Chan::make(id, cap)
    }

    /// A datagram descriptor on this host.
    pub fn fd<T: 'static>(&self) -> Fd<T> {
        Fd::new(self.host)
    }

    /// A UDP socket bound to `port` on this host.
    pub fn bind(&self, port: u32) -> Fd<crate::net::Datagram> {
        let fd = Fd::new(self.host);
        self.sh
            .world
            .borrow_mut()
            .net
            .bind((self.host, port), crate::net::Endpoint::Socket(fd.clone()));
        fd
    }

    /// `sendto`: charges the system call to this goroutine, then the network carries it.
    pub fn udp_send(&self, d: crate::net::Datagram) {
        let mut w = self.sh.world.borrow_mut();
        let World {
            kernel, rts, net, ..
        } = &mut *w;
        let rt = &mut rts[self.host as usize];
        let now = if rt.cur.is_some() {
            rt.charge(rt.costs().fd_write)
        } else {
            kernel.now()
        };
        net.send(kernel, now, d);
    }

    /// `select` without `default`: blocks until a case fires; returns its index.
    pub fn select<'a, 'c>(&'a self, cases: &'a mut [&'c mut dyn SelectCase]) -> SelectOne<'a, 'c> {
        SelectOne(Select::new(self, cases, false))
    }

    /// `select` with `default`: `None` when no case is ready.
    pub fn select_default<'a, 'c>(
        &'a self,
        cases: &'a mut [&'c mut dyn SelectCase],
    ) -> Select<'a, 'c> {
        Select::new(self, cases, true)
    }

    /// `select {}`: blocks forever.
    pub fn block(&self) -> SelectOne<'_, 'static> {
        SelectOne(Select::new(self, &mut [], false))
    }

    /// This goroutine's id.
    pub fn goid(&self) -> u64 {
        self.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.allgs[g as usize].goid
        })
    }

    /// GOMAXPROCS of this runtime.
    pub fn gomaxprocs(&self) -> u32 {
        self.with_rt(|rt, _| rt.gomaxprocs())
    }

    /// `runtime.GOMAXPROCS(n)`: returns the previous setting; a different `n` stops the world
    /// and resizes the Ps when it restarts (`procresize`). `n == 0` only reads.
    pub fn set_gomaxprocs(&self, n: u32) -> u32 {
        self.with_rt(|rt, k| rt.gomaxprocs_set(k, n))
    }

    /// `runtime.NumGoroutine()`: the program's live goroutines, not the runtime's own.
    pub fn num_goroutine(&self) -> u64 {
        self.with_rt(|rt, _| rt.live_goroutines())
    }

    /// The P this goroutine runs on.
    pub fn p(&self) -> u32 {
        self.with_rt(|rt, _| rt.current().0)
    }

    /// A named random stream for model code, independent of every other stream.
    pub fn rng(&self, name: &str, index: u64) -> SimRng {
        let w = self.sh.world.borrow();
        w.streams.indexed(name, index)
    }

    /// Runs `f` with the world, for model code that must touch it (delivering to a socket).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.sh.world.borrow_mut())
    }
}

/// Future of [`Go::select`].
pub struct SelectOne<'a, 'c>(Select<'a, 'c>);

impl Future for SelectOne<'_, '_> {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("select without default always picks a case"))
    }
}

/// Future of [`Go::compute`].
pub struct Compute<'a> {
    go: &'a Go,
    d: SimDuration,
    started: bool,
}

impl Future for Compute<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.started || self.d.is_zero() {
            return Poll::Ready(());
        }
        self.started = true;
        let d = self.d;
        self.go.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.allgs[g as usize].request = Yield::Compute(d);
        });
        Poll::Pending
    }
}

/// Future of [`Go::gosched`].
pub struct Gosched<'a> {
    go: &'a Go,
    started: bool,
}

impl Future for Gosched<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.started {
            return Poll::Ready(());
        }
        self.started = true;
        self.go.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.allgs[g as usize].request = Yield::Gosched;
        });
        Poll::Pending
    }
}
