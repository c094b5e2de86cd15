//! The scheduler, after `src/runtime/proc.go`: `newproc`, `runqput`, `runqget`, `runqsteal`,
//! `globrunqput`, `globrunqget`, `findRunnable`, `stealWork`, `schedule`, `execute`,
//! `casgstatus`, `gopark`, `goready`, `Gosched`, `wakep`, `startm`, `stopm`, `checkdead`.
//! proc.go's other parts live beside it: `sysmon`, `retake` and `preemptone` in `sysmon.rs`,
//! what a preemption does when it lands in `preempt.rs`, `injectglist` and the callers' side
//! of `netpoll` in `netpoll.rs`, `procresize` in `procresize.rs`, `LockOSThread` in
//! `lockosthread.rs`; `pp.timers.check` is in `time.rs`, as in Go. The model's books are in
//! `accounting.rs`, its read-outs in `introspect.rs` and its event names in `trace.rs`.
//!
//! Modelling rule: a goroutine's run between two yield points is applied to the shared state at
//! the instant it starts; its operation costs advance a P-local clock (`local_now`), and the P's
//! next step is scheduled at that local time. Yield points are `compute`, parking operations,
//! `Gosched`, and any operation once the segment has accrued [`SEGMENT_MAX`] of cost or
//! [`SEGMENT_MAX_OPS`] operations, so the skew this introduces stays below a microsecond.

use super::accounting::PMode;
use super::costs::Costs;
use super::mgc::{GcConfig, GcState, WorkerMode};
use super::mgcpacer::GcPercent;
use super::netpoll::NetpollDelay;
use super::pool::PoolRef;
use super::runq::{RunQ, RUNQ_LEN};
use super::runtime2::*;
use super::stw::FreezeState;
use super::sysmon::SysmonState;
use super::time::{TimerHeap, Timers};
use super::trace::TraceEv;
use super::{EndReason, Ev};
use costream_sim::{Kernel, RngStreams, SimDuration, SimRng, SimTime, TaskId};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::fmt::Write as _;

/// `forcePreemptNS`: the time slice after which sysmon preempts a running G (proc.go).
pub const FORCE_PREEMPT: SimDuration = SimDuration::from_millis(10);
/// `forcegcperiod` (proc.go): sysmon's deep sleep is at most half of it.
pub const FORCE_GC_PERIOD: SimDuration = SimDuration::from_secs(120);
/// `stealTries` (proc.go: stealWork).
pub const STEAL_TRIES: u32 = 4;
/// `runqgrab`'s `usleep(3)` before stealing a running P's `runnext`.
pub const STEAL_RUNNEXT_SLEEP: SimDuration = SimDuration::from_micros(3);
/// P0's `schedtick` when `main.main` starts (see `newproc`).
pub const MAIN_START_SCHEDTICK: u32 = 2;
/// `_GoidCacheBatch` (proc.go).
pub const GOID_CACHE_BATCH: u64 = 16;
/// `netpoll` returns at most this many events per call (netpoll_epoll.go: `var events [128]`).
pub const NETPOLL_MAX_EVENTS: usize = 128;
/// Longest run of costed operations before a goroutine yields so the world can catch up.
pub const SEGMENT_MAX: SimDuration = SimDuration::from_micros(1);
/// Most non-blocking operations in one segment.
pub const SEGMENT_MAX_OPS: u32 = 64;

/// One runtime's configuration (`GOMAXPROCS` and the cost parameters).
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// `GOMAXPROCS`: the number of Ps (at start; `GOMAXPROCS(n)` changes the runtime's copy).
    pub gomaxprocs: u32,
    /// The costs, in virtual time, of runtime operations.
    pub costs: Costs,
    /// Run sysmon (Go always does; tests of pure queue order may turn it off).
    pub sysmon: bool,
    /// GOGC.
    pub gogc: GcPercent,
    /// GOMEMLIMIT in bytes (`i64::MAX`: off).
    pub memory_limit: i64,
    /// The GC model's parameters.
    pub gc: GcConfig,
    /// Stalls that are not the GC (VM pauses, cgroup throttling).
    pub stalls: super::stall::StallConfig,
    /// The host's CPUs: P placement, cross-L3 steal costs, the online-CPU limit.
    pub topology: Option<super::topology::Topology>,
    /// The Go release whose behaviour the model follows where releases differ.
    pub go_version: super::GoVersion,
    /// The host's CPUs and the kernel's scheduler under the runtime (`None`: a CPU for every
    /// thread that wants one).
    pub os: Option<super::os::OsConfig>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            gomaxprocs: 1,
            costs: Costs::default(),
            sysmon: true,
            gogc: GcPercent::Percent(100),
            memory_limit: i64::MAX,
            gc: GcConfig::default(),
            stalls: Default::default(),
            topology: None,
            go_version: super::GoVersion::default(),
            os: None,
        }
    }
}

pub(crate) struct P {
    pub status: PStatus,
    pub runq: RunQ,
    pub runnext: Option<Gi>,
    pub curg: Option<Gi>,
    pub action: PAction,
    /// Bumped whenever the P's pending step is replaced; stale steps are ignored.
    pub gen: u32,
    pub schedtick: u32,
    /// `pp.syscalltick`: bumped when a system call on it ends or sysmon takes it.
    pub syscalltick: u32,
    pub sysmontick: SysmonTick,
    /// Its M is spinning (`m.spinning`).
    pub spinning: bool,
    /// The current G is inside `compute` (preemptible).
    pub computing: bool,
    /// `pp.preempt`: sysmon asked for this time slice to end. Go's signal stops whichever
    /// goroutine is in user code when it lands; the model runs a goroutine's segment between
    /// two blocking operations at once, so a request that lands between segments stays here
    /// until the slice's next goroutine resumes (at an async safe point, returning from the
    /// operation that readied it), or until a new slice starts.
    pub preempt: bool,
    pub timers: TimerHeap,
    goidcache: u64,
    goidcacheend: u64,
    pub(super) mode: PMode,
    pub(super) mode_since: SimTime,
    /// Total frozen time when `mode_since` was set (frozen time is not CPU time).
    pub(super) mode_freeze: u64,
    pub time_user: SimDuration,
    pub time_sched: SimDuration,
    pub time_gc: SimDuration,
    /// The mark worker this P runs, since when, and the freeze clock then.
    pub worker: Option<WorkerMode>,
    pub worker_since: SimTime,
    pub worker_freeze_mark: u64,
    /// `gcFractionalMarkTime` this cycle.
    pub frac_time: u64,
    /// Time running goroutines or mark workers, per census bucket (for the P heat map).
    pub busy: Vec<u64>,
    /// The pending step: the OS model moves it while the P's M waits for a CPU.
    pub step: super::os::PendingStep,
}

impl P {
    /// `pp.init`: a fresh P, idle, with empty queues and timers.
    pub(super) fn new(at: SimTime) -> P {
        P {
            status: PStatus::Idle,
            runq: RunQ::new(),
            runnext: None,
            curg: None,
            action: PAction::Schedule,
            gen: 0,
            schedtick: 0,
            syscalltick: 0,
            sysmontick: SysmonTick::default(),
            spinning: false,
            computing: false,
            preempt: false,
            timers: TimerHeap::default(),
            goidcache: 0,
            goidcacheend: 0,
            mode: PMode::Idle,
            mode_since: at,
            mode_freeze: 0,
            time_user: SimDuration::ZERO,
            time_sched: SimDuration::ZERO,
            time_gc: SimDuration::ZERO,
            worker: None,
            worker_since: SimTime::ZERO,
            worker_freeze_mark: 0,
            frac_time: 0,
            busy: Vec::new(),
            step: Default::default(),
        }
    }

    /// `pp.init` on a P destroyed by an earlier shrink: reset, keeping its time accounting.
    pub(super) fn reinit(&mut self, at: SimTime) {
        let (user, sched, gc, gen) = (self.time_user, self.time_sched, self.time_gc, self.gen);
        let busy = std::mem::take(&mut self.busy);
        *self = P::new(at);
        self.busy = busy;
        self.time_user = user;
        self.time_sched = sched;
        self.time_gc = gc;
        self.gen = gen.wrapping_add(1);
    }
}

/// What `findRunnable` found for its M.
enum Runnable {
    /// Run `g` on `p` from time `t`; `inherit`: it keeps the time slice (`inheritTime`).
    G {
        p: Pi,
        g: Gi,
        inherit: bool,
        t: SimTime,
    },
    /// A GC mark worker now runs on `p` (`findRunnableGCWorker`, or the idle worker).
    GcWorker { p: Pi, t: SimTime },
}

/// Where `findRunnable` starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FindFrom {
    /// At the top (`schedule`).
    Top,
    /// In `stealWork`'s last pass, after runqgrab's `usleep(3)` (`PAction::StealLastPass`).
    LastStealPass,
}

/// What `stealWork` got.
enum Stolen {
    G(Gi),
    /// The M sleeps before its last pass; a later step resumes it.
    Sleeping,
    Nothing,
}

/// The M blocked in `netpoll` (`sched.lastpoll == 0` while it is there).
#[derive(Clone, Copy, Debug)]
pub(super) struct Poller {
    /// `sched.pollUntil`: the timer it waits for, if any.
    pub until: Option<SimTime>,
    pub wake_at: SimTime,
    pub gen: u32,
    pub was_spinning: bool,
    /// Its thread was woken and waits for a CPU (OS model).
    pub cpu_wait: bool,
    /// Its thread was woken and has a CPU (OS model).
    pub on_cpu: bool,
    /// The thread whose write woke it (OS model: a loopback send wakes epoll_wait from the
    /// sender's CPU), if any.
    pub waker: Option<super::os::Mid>,
}

/// A goroutine's function and its creator (function, goid).
pub(crate) type GoroutineSite = (&'static str, Option<(&'static str, u64)>);

/// Counters a report shows.
#[derive(Clone, Debug, Default)]
pub struct SchedStats {
    /// Goroutines started (runtime-internal ones excluded).
    pub goroutines_created: u64,
    /// Most goroutines alive at once (runtime-internal ones excluded).
    pub goroutines_max: u64,
    /// Gs started on a P by `execute`.
    pub context_switches: u64,
    /// Successful steals (`runqsteal`), each taking one or more Gs.
    pub steals: u64,
    /// Gs taken by those steals.
    pub stolen_gs: u64,
    /// Goroutines preempted (time slice used up, or their P removed by `procresize`).
    pub preemptions: u64,
    /// `runtime.Gosched` calls.
    pub goscheds: u64,
    /// Gs put on the global run queue.
    pub global_puts: u64,
    /// Gs taken from the global run queue (`globrunqget`).
    pub global_gets: u64,
    /// Full local run queues that spilled half to the global queue (`runqputslow`).
    pub runq_overflows: u64,
    /// `wakep` calls that started a spinning M.
    pub wakeps: u64,
    /// Ms that began spinning (from `wakep` or in `findRunnable`).
    pub spinning_starts: u64,
    /// Timers run.
    pub timers_fired: u64,
    /// Non-blocking `netpoll(0)` calls.
    pub netpolls: u64,
    /// Times an M blocked in `netpoll` (epoll_wait with a timeout).
    pub netpoll_blocks: u64,
    /// Turns of the sysmon loop.
    pub sysmon_wakeups: u64,
    /// System calls that gave up the P's time to the kernel (`entersyscall`; short calls
    /// without the OS model are charged inline and not counted).
    pub syscalls: u64,
    /// Ps sysmon took from Ms in system calls (`retake`, then `handoffp`).
    pub syscall_retakes: u64,
    /// Threads (Ms) created: by `startm` with no idle M, plus the template thread.
    pub threads: u64,
    /// GC stop-the-world pauses.
    pub stw_freezes: u64,
    /// Stops from stall sources (VM pauses, cgroup throttling).
    pub stall_freezes: u64,
    /// `GOMAXPROCS` changes applied (`procresize` at run time).
    pub procresizes: u64,
    /// Every stop of the world: when, how long, why (for timelines).
    pub freezes: Vec<super::Freeze>,
    /// Steals whose victim sat in another L3 domain of the same socket, or another socket.
    pub steals_cross_l3: u64,
    /// Steals whose victim sat on another socket.
    pub steals_cross_socket: u64,
    /// Ms wired to a goroutine by `LockOSThread` now.
    pub locked_ms: u64,
    /// P hand-offs to or from a locked M (`startlockedm`, `stoplockedm`): each is a thread switch.
    pub lockedm_handoffs: u64,
    /// Total time goroutines spent waiting, by wait reason (indexed like `WaitReason::ALL`).
    pub wait_by_reason: [SimDuration; WaitReason::ALL.len()],
}

/// A fatal runtime error that ends the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fatal {
    /// What Go would print, e.g. "fatal error: all goroutines are asleep - deadlock!".
    pub message: String,
}

/// One simulated Go runtime (one host's process).
pub struct Runtime {
    pub(crate) host: u32,
    pub(crate) cfg: RuntimeConfig,
    pub(crate) allgs: Vec<G>,
    gfree: Vec<Gi>,
    pub(crate) allp: Vec<P>,
    /// `sched.runq`.
    pub(crate) global: VecDeque<Gi>,
    /// `sched.pidle`: a LIFO list, as `pidleput`/`pidleget` use it.
    pub(super) pidle: Vec<Pi>,
    pub(super) nmspinning: u32,
    pub(super) needspinning: bool,
    /// `newmHandoff.haveTemplateThread`.
    pub(super) template_thread: bool,
    /// A `GOMAXPROCS(n)` waiting for its stop-the-world (`newprocs`) and the P that asked.
    pub(super) pending_procs: Option<(u32, Pi)>,
    /// Each P's (socket, L3 domain) under `cfg.topology` (empty without one).
    pub(super) p_domain: Vec<(u32, u32)>,
    /// GOMAXPROCS over the run: (when, value), starting with the initial setting.
    pub gomaxprocs_log: Vec<(SimTime, u32)>,
    pub(super) nmidle: u32,
    goidgen: u64,
    /// The G being polled and its P.
    pub(crate) cur: Option<(Pi, Gi)>,
    /// Virtual time as seen by the running goroutine (kernel time plus costs so far).
    pub(crate) local_now: SimTime,
    seg_start: SimTime,
    seg_ops: u32,
    /// Set by `execute`: the segment it starts begins after the context switch.
    poll_at: SimTime,
    steal_rng: SimRng,
    pub(crate) select_rng: SimRng,
    pub(super) sysmon: SysmonState,
    pub(super) poller: Option<Poller>,
    pub(super) poller_gen: u32,
    pub(super) lastpoll: SimTime,
    /// epoll's ready list: Gs whose descriptors became ready, for the next `netpoll`.
    pub(crate) epoll_ready: VecDeque<Gi>,
    /// `netpollWaiters`: Gs parked in "IO wait".
    pub(crate) netpoll_waiters: u32,
    pub(crate) timers: Timers,
    pub(crate) live: u64,
    /// The scheduler's counters.
    pub stats: SchedStats,
    /// `/sched/latencies`: time from runnable to running, in ns.
    pub sched_latency: Histogram<u64>,
    pub(crate) end: Option<EndReason>,
    pub(crate) gc: GcState,
    pub(crate) freeze: FreezeState,
    pub(crate) pools: Vec<PoolRef>,
    pub(crate) stalls: super::stall::StallState,
    pub(crate) census: super::census::Census,
    /// Each goroutine's function and creator by goid, kept when the run records its events
    /// (for naming goroutines in a determinism report).
    pub(crate) goid_names: Option<std::collections::BTreeMap<u64, GoroutineSite>>,
    /// The simulation, for goroutines the runtime itself starts (`time.AfterFunc`).
    pub(crate) shared: Option<std::rc::Weak<super::host::Shared>>,
    /// The runtime's goroutines runnable when main.main starts, in creation order: each `go`
    /// put the newest in runnext (see `createfing`).
    init_pending: Vec<Gi>,
    /// The kernel's scheduler of this process's threads (`cfg.os`).
    pub(crate) os: Option<std::rc::Rc<std::cell::RefCell<super::os::Os>>>,
    /// The M holding each P (OS model).
    pub(super) m_of_p: Vec<Option<super::os::Mid>>,
    /// `sched.midle` (OS model): idle Ms, LIFO as `mput`/`mget` use it.
    pub(super) midle: Vec<super::os::Mid>,
    /// The M running the code being modelled now (the waker of a `startm`).
    pub(crate) cur_m: Option<super::os::Mid>,
    /// The M blocked in netpoll (OS model).
    pub(super) poller_m: Option<super::os::Mid>,
    /// The Ms in system calls, by slot, and the free slots.
    pub(super) syscalls: Vec<super::syscall::InSyscall>,
    pub(super) syscalls_free: Vec<u32>,
}

impl Runtime {
    /// Host `host`'s runtime before `runtime.main`: `cfg.gomaxprocs` idle Ps, no goroutines.
    pub fn new(host: u32, cfg: RuntimeConfig, streams: &RngStreams) -> Self {
        assert!(cfg.gomaxprocs >= 1, "GOMAXPROCS must be at least 1");
        let n = cfg.gomaxprocs;
        let allp = (0..n).map(|_| P::new(SimTime::ZERO)).collect();
        // pidle is LIFO: P0 must come out first, as procresize leaves P0 with the M.
        let pidle = (0..n).rev().collect();
        let gc = GcState::new(cfg.gc.clone(), cfg.gogc, cfg.memory_limit, n);
        let cfg_os = cfg.os.clone();
        let stalls = super::stall::StallState::new(
            cfg.stalls.clone(),
            streams.indexed("stall.random", host as u64),
        );
        Self {
            host,
            cfg,
            allgs: Vec::new(),
            gfree: Vec::new(),
            allp,
            global: VecDeque::new(),
            pidle,
            nmspinning: 0,
            needspinning: false,
            template_thread: false,
            pending_procs: None,
            p_domain: Vec::new(),
            gomaxprocs_log: vec![(SimTime::ZERO, n)],
            nmidle: 0,
            goidgen: 0,
            cur: None,
            local_now: SimTime::ZERO,
            seg_start: SimTime::ZERO,
            seg_ops: 0,
            poll_at: SimTime::ZERO,
            steal_rng: streams.indexed("sched.steal", host as u64),
            select_rng: streams.indexed("sched.select", host as u64),
            sysmon: SysmonState::default(),
            poller: None,
            poller_gen: 0,
            lastpoll: SimTime::ZERO,
            epoll_ready: VecDeque::new(),
            netpoll_waiters: 0,
            timers: Timers::default(),
            live: 0,
            stats: SchedStats {
                threads: 1,
                ..Default::default()
            },
            sched_latency: Histogram::new(3).expect("histogram"),
            end: None,
            gc,
            freeze: FreezeState::default(),
            pools: Vec::new(),
            stalls,
            census: Default::default(),
            goid_names: None,
            shared: None,
            init_pending: Vec::new(),
            os: cfg_os.map(|c| std::rc::Rc::new(std::cell::RefCell::new(super::os::Os::new(c)))),
            m_of_p: vec![None; n as usize],
            midle: Vec::new(),
            cur_m: None,
            poller_m: None,
            syscalls: Vec::new(),
            syscalls_free: Vec::new(),
        }
    }

    /// The current `GOMAXPROCS`.
    pub fn gomaxprocs(&self) -> u32 {
        self.cfg.gomaxprocs
    }
    /// The runtime's operation costs.
    pub fn costs(&self) -> &Costs {
        &self.cfg.costs
    }
    pub(super) fn npidle(&self) -> u32 {
        self.pidle.len() as u32
    }

    // ---- goroutine status ----

    /// `casgstatus` (runtime/proc.go): `g`'s status becomes `st` at `at`, once its time in the
    /// old one is booked (`account_status`).
    pub(super) fn set_status(&mut self, g: Gi, st: GStatus, at: SimTime) {
        let gr = &mut self.allgs[g as usize];
        debug_assert!(
            casgstatus_ok(gr.status, st),
            "casgstatus: bad incoming values: goroutine {} from {} to {}",
            gr.goid,
            gr.status.go_name(),
            st.go_name()
        );
        if gr.status == GStatus::Waiting && st != GStatus::Waiting {
            gr.wait_chans.clear();
        }
        self.account_status(g, st, at);
        let gr = &mut self.allgs[g as usize];
        gr.status = st;
        gr.since = gr.since.max(at);
    }

    /// `sched.nmspinning.Add(-1)`: Go throws "negative nmspinning" when a spinning M stops
    /// that was never counted; so does the model, in every build.
    pub(super) fn nmspinning_dec(&mut self) {
        assert!(self.nmspinning > 0, "runtime: negative nmspinning");
        self.nmspinning -= 1;
    }

    // ---- newproc / goexit ----

    /// `newproc1`'s goid: per-P batches of `_GoidCacheBatch` from `sched.goidgen`.
    fn new_goid(&mut self, p: Pi) -> u64 {
        let pp = &mut self.allp[p as usize];
        if pp.goidcache == pp.goidcacheend {
            self.goidgen += GOID_CACHE_BATCH;
            pp.goidcache = self.goidgen - (GOID_CACHE_BATCH - 1);
            pp.goidcacheend = self.goidgen + 1;
        }
        let id = pp.goidcache;
        pp.goidcache += 1;
        id
    }

    /// Allocates a G (`gfget`, else a new one) for `task`.
    fn alloc_g(&mut self, mut g: G) -> Gi {
        if let Some(m) = &mut self.goid_names {
            m.insert(g.goid, (g.name, g.parent));
        }
        if !g.system {
            g.class = self.census.class_of(g.name);
            let (class, at) = (g.class, g.since);
            self.live += 1;
            self.census_live(class, true, at);
            self.stats.goroutines_created += 1;
            self.stats.goroutines_max = self.stats.goroutines_max.max(self.live);
        }
        if let Some(i) = self.gfree.pop() {
            self.allgs[i as usize] = g;
            i
        } else {
            self.allgs.push(g);
            self.allgs.len() as Gi - 1
        }
    }

    /// `newproc`: a new G goes to the creator P's `runnext` (the previous occupant to the tail
    /// of its local queue), then `wakep`. With no creating goroutine (set-up code), P0 creates it.
    pub(crate) fn newproc(
        &mut self,
        k: &mut Kernel<Ev>,
        task: TaskId,
        name: &'static str,
        is_main: bool,
    ) -> Gi {
        let (p, parent) = match self.cur {
            Some((p, g)) => {
                let gg = &self.allgs[g as usize];
                (p, Some((gg.name, gg.goid)))
            }
            None => (0, None),
        };
        let at = if self.cur.is_some() {
            self.charge(self.cfg.costs.go_create)
        } else {
            k.now()
        };
        let goid = self.new_goid(p);
        let g = self.alloc_g(G::new(goid, task, name, parent, is_main, at));
        self.gc_stacks_changed();
        self.set_status(g, GStatus::Runnable, at);
        self.trace(k, at, TraceEv::GoCreate, goid, parent.map_or(0, |x| x.1));
        let mut t = at;
        self.runqput(p, g, true, &mut t);
        if self.cur.is_some() {
            self.local_now = self.local_now.max(t);
        }
        if is_main {
            // Before main.main, runtime.main runs the runtime's own goroutines on P0: init's
            // forcegchelper, then gcenable's bgsweep and bgscavenge (main blocks on <-c twice).
            // bgscavenge and main come from runnext (inheritTime); forcegchelper and bgsweep
            // from the ring, so P0's schedtick is 2 when main.main starts (Go 1.22, one P).
            self.allp[p as usize].schedtick = MAIN_START_SCHEDTICK;
            self.createfing(p, at);
        }
        if self.cur.is_none() && self.allp[0].status == PStatus::Idle {
            // Set-up code runs "on" P0, as rt0_go creates main there before mstart schedules it.
            self.acquire_idle(0, t);
            self.post_step(k, 0, PAction::Schedule, t);
        } else if !is_main {
            // mainStarted: wakep only once the main goroutine runs.
            self.wakep(k, t);
        }
        g
    }

    /// The runtime's own goroutines that are runnable when main.main starts.
    /// forcegchelper, bgsweep and bgscavenge took goids 2–4 and are parked for the whole run,
    /// so only their ids are modelled. From Go 1.25, `runtime.main` then starts the GOMAXPROCS
    /// updater (`defaultGOMAXPROCSUpdateEnable` → `go updateMaxProcsGoroutine()`, 1.25
    /// proc.go; absent in 1.19), which parks in "GOMAXPROCS updater (idle)" until sysmon
    /// resumes it. Then `createfing`: package `os`'s init sets finalizers on its standard
    /// files, which starts the finalizer goroutine (`go runfinq()`, renamed `runFinalizers` in
    /// 1.25), so every program that imports `os` (through `fmt`, say) enters main.main with it
    /// in runnext and the updater in the local queue. The program's first goroutine is 6 on
    /// Go 1.19 and 7 on 1.27, as conformance/go's goroutine_panic shows.
    fn createfing(&mut self, p: Pi, at: SimTime) {
        if self.shared.is_none() {
            return;
        }
        for _ in 0..3 {
            self.new_goid(p);
        }
        let v = self.cfg.go_version;
        let park = |reason| {
            move |go| -> costream_sim::task::BoxTask {
                Box::pin(ParkForever {
                    go,
                    reason,
                    parked: false,
                })
            }
        };
        if v.at_least(super::GoVersion::GO1_25) {
            let updater = park(WaitReason::UpdateGomaxprocsIdle);
            let name = "runtime.updateMaxProcsGoroutine";
            let g = self.runtime_g(p, at, name, None, true, updater);
            self.init_pending.extend(g);
        }
        let name = if v.at_least(super::GoVersion::GO1_25) {
            "runtime.runFinalizers"
        } else {
            "runtime.runfinq"
        };
        let fing = park(WaitReason::FinalizerWait);
        let g = self.runtime_g(p, at, name, None, true, fing);
        self.init_pending.extend(g);
    }

    /// A runnable goroutine the runtime starts for itself on P `p` (`newproc1` with no calling
    /// goroutine): its task, goid and G. `None` once the simulation is gone.
    fn runtime_g(
        &mut self,
        p: Pi,
        at: SimTime,
        name: &'static str,
        parent: Option<(&'static str, u64)>,
        system: bool,
        body: impl FnOnce(super::Go) -> costream_sim::task::BoxTask,
    ) -> Option<Gi> {
        let sh = self.shared.as_ref().and_then(|w| w.upgrade())?;
        let go = super::Go {
            sh: sh.clone(),
            host: self.host,
        };
        let task = sh.tasks.insert(body(go));
        let goid = self.new_goid(p);
        let mut g = G::new(goid, task, name, parent, false, at);
        g.system = system;
        let g = self.alloc_g(g);
        self.gc_stacks_changed();
        self.set_status(g, GStatus::Runnable, at);
        Some(g)
    }

    /// A goroutine started by the runtime on P `p` (`goFunc` for `time.AfterFunc`): like
    /// `newproc` from a goroutine running on `p`.
    pub(crate) fn spawn_from_runtime(
        &mut self,
        k: &mut Kernel<Ev>,
        name: &'static str,
        f: super::time::SpawnFn,
        p: Pi,
        at: SimTime,
    ) {
        let Some(g) = self.runtime_g(p, at, name, Some(("time.goFunc", 0)), false, f) else {
            return;
        };
        let goid = self.allgs[g as usize].goid;
        self.trace(k, at, TraceEv::GoCreate, goid, 0);
        let mut t = at;
        self.runqput(p, g, true, &mut t);
        self.wakep(k, at);
    }

    /// `goexit0`: the G is dead; its P schedules again.
    fn goexit0(&mut self, k: &mut Kernel<Ev>, p: Pi, g: Gi, at: SimTime) {
        let goid = self.allgs[g as usize].goid;
        self.set_status(g, GStatus::Dead, at);
        self.trace(k, at, TraceEv::GoEnd, goid, 0);
        self.live -= 1;
        let class = self.allgs[g as usize].class;
        self.census_live(class, false, at);
        self.gfree.push(g);
        self.gc_stacks_changed();
        if self.allgs[g as usize].is_main {
            // runtime.main calls exit(0) when main.main returns.
            self.end = Some(EndReason::MainReturned);
        }
        self.allp[p as usize].curg = None;
        self.p_mode(p, PMode::Sched, at);
        self.g_stopped(k, p, g, true, at);
    }

    // ---- run queues ----

    /// `runqput`: `next` puts `g` in `runnext`, kicking the old occupant to the tail.
    pub(crate) fn runqput(&mut self, p: Pi, mut g: Gi, next: bool, t: &mut SimTime) {
        let pp = &mut self.allp[p as usize];
        if next {
            match pp.runnext.replace(g) {
                None => return,
                Some(old) => g = old,
            }
        }
        if !pp.runq.is_full() {
            pp.runq.push_back(g);
            return;
        }
        self.runqputslow(p, g, t);
    }

    /// `runqputslow`: move half the local queue plus `g` to the global queue in one batch.
    fn runqputslow(&mut self, p: Pi, g: Gi, t: &mut SimTime) {
        let n = RUNQ_LEN / 2;
        let pp = &mut self.allp[p as usize];
        for _ in 0..n {
            let x = pp.runq.pop_front().expect("full queue");
            self.global.push_back(x);
        }
        self.global.push_back(g);
        self.stats.runq_overflows += 1;
        self.stats.global_puts += n as u64 + 1;
        *t += self.cfg.costs.runq_move_per_g * (n as u64 + 1);
    }

    /// `runqget`: `runnext` first (inheriting the time slice), then the head of the ring.
    fn runqget(&mut self, p: Pi) -> Option<(Gi, bool)> {
        let pp = &mut self.allp[p as usize];
        if let Some(g) = pp.runnext.take() {
            return Some((g, true));
        }
        pp.runq.pop_front().map(|g| (g, false))
    }

    /// `globrunqput`: tail of the global queue.
    pub(crate) fn globrunqput(&mut self, g: Gi) {
        self.global.push_back(g);
        self.stats.global_puts += 1;
    }

    /// `globrunqget`: take `min(size, size/GOMAXPROCS+1, max, len(runq)/2)` Gs; run the first,
    /// put the rest on the local queue.
    pub(crate) fn globrunqget(&mut self, p: Pi, max: u32, t: &mut SimTime) -> Option<Gi> {
        let size = self.global.len() as u32;
        if size == 0 {
            return None;
        }
        let mut n = (size / self.cfg.gomaxprocs + 1).min(size);
        if max > 0 {
            n = n.min(max);
        }
        n = n.min(RUNQ_LEN / 2);
        let g = self.global.pop_front();
        for _ in 1..n {
            let x = self.global.pop_front().expect("counted");
            self.runqput(p, x, false, t);
        }
        self.stats.global_gets += n as u64;
        *t += self.cfg.costs.runq_move_per_g * n as u64;
        g
    }

    /// `runqsteal`/`runqgrab`: take `n - n/2` Gs from `victim`'s ring; return the last one and
    /// queue the others locally. `runnext` is taken only when asked (the last steal pass).
    pub(crate) fn runqsteal(
        &mut self,
        p: Pi,
        victim: Pi,
        steal_runnext: bool,
        t: &mut SimTime,
    ) -> Option<Gi> {
        let vn = self.allp[victim as usize].runq.len();
        let n = vn - vn / 2;
        if n == 0 {
            if steal_runnext {
                if let Some(g) = self.allp[victim as usize].runnext.take() {
                    self.stats.steals += 1;
                    self.stats.stolen_gs += 1;
                    self.charge_steal_distance(p, victim, 1, t);
                    return Some(g);
                }
            }
            return None;
        }
        let mut batch = [0 as Gi; (RUNQ_LEN / 2) as usize];
        for slot in batch.iter_mut().take(n as usize) {
            *slot = self.allp[victim as usize]
                .runq
                .pop_front()
                .expect("counted");
        }
        self.charge_steal_distance(p, victim, n, t);
        let last = batch[n as usize - 1];
        for &x in &batch[..n as usize - 1] {
            self.allp[p as usize].runq.push_back(x);
        }
        self.stats.steals += 1;
        self.stats.stolen_gs += n as u64;
        *t += self.cfg.costs.runq_move_per_g * n as u64;
        Some(last)
    }

    // ---- Ms and Ps ----

    pub(super) fn acquire_idle(&mut self, p: Pi, at: SimTime) {
        if let Some(i) = self.pidle.iter().position(|&x| x == p) {
            self.pidle.remove(i);
        }
        let pp = &mut self.allp[p as usize];
        pp.status = PStatus::Running;
        self.p_mode(p, PMode::Sched, at);
    }

    /// `_Pdead`: the P leaves the scheduler; pending steps are void.
    pub(super) fn p_retire(&mut self, p: Pi, at: SimTime) {
        self.p_mode(p, PMode::Idle, at);
        let pp = &mut self.allp[p as usize];
        pp.status = PStatus::Dead;
        pp.gen = pp.gen.wrapping_add(1);
    }

    /// A spinning M lost its P.
    pub(super) fn drop_spinning(&mut self) {
        self.nmspinning_dec();
    }

    /// `pidleget`: the most recently idled P.
    pub(super) fn pidleget(&mut self, at: SimTime) -> Option<Pi> {
        let p = self.pidle.pop()?;
        self.allp[p as usize].status = PStatus::Running;
        self.p_mode(p, PMode::Sched, at);
        Some(p)
    }

    /// `pidleput`.
    pub(super) fn pidleput(&mut self, p: Pi, at: SimTime) {
        let pp = &mut self.allp[p as usize];
        debug_assert!(pp.runq.is_empty() && pp.runnext.is_none() && pp.curg.is_none());
        pp.status = PStatus::Idle;
        pp.gen = pp.gen.wrapping_add(1);
        self.pidle.push(p);
        self.p_mode(p, PMode::Idle, at);
    }

    pub(crate) fn post_step(&mut self, k: &mut Kernel<Ev>, p: Pi, action: PAction, at: SimTime) {
        let pp = &mut self.allp[p as usize];
        pp.gen = pp.gen.wrapping_add(1);
        pp.action = action;
        pp.step.post(at, k.now());
        k.schedule(
            at,
            Ev::PStep {
                host: self.host,
                p,
                gen: pp.gen,
            },
        );
    }

    /// `startm`: hand `p` to an idle M (or a new one); it runs `schedule` once the thread wakes.
    pub(super) fn startm(&mut self, k: &mut Kernel<Ev>, p: Pi, spinning: bool, at: SimTime) {
        if self.nmidle > 0 {
            self.nmidle -= 1;
        } else {
            self.stats.threads += 1;
        }
        self.allp[p as usize].spinning = spinning;
        let mut wake = at + self.cfg.costs.m_wake;
        if let Some(m) = self.os_mget() {
            // The thread runs once the kernel gives it a CPU: an idle one after it wakes, or
            // the waker's; a queued thread's step waits for it (`os_step_ready`).
            if let Some(t) = self.os_wake_for_p(k, p, m, at) {
                wake = wake.max(t);
            }
        }
        self.trace(k, at, TraceEv::ProcStart, p as u64, spinning as u64);
        self.post_step(k, p, PAction::Schedule, wake);
    }

    /// `wakep`: start one spinning M if there is an idle P and no M spins already; with no idle P,
    /// set `needspinning` (`pidlegetSpinning`).
    pub(crate) fn wakep(&mut self, k: &mut Kernel<Ev>, at: SimTime) {
        if self.nmspinning != 0 {
            return;
        }
        self.nmspinning = 1;
        match self.pidleget(at) {
            None => {
                self.nmspinning = 0;
                self.needspinning = true;
            }
            Some(p) => {
                self.needspinning = false;
                self.stats.wakeps += 1;
                self.stats.spinning_starts += 1;
                self.startm(k, p, true, at);
            }
        }
    }

    pub(super) fn become_spinning(&mut self, p: Pi) {
        self.allp[p as usize].spinning = true;
        self.nmspinning += 1;
        self.needspinning = false;
        self.stats.spinning_starts += 1;
    }

    /// `resetspinning`: a spinning M found work; if it was the last spinner, wake another.
    fn resetspinning(&mut self, k: &mut Kernel<Ev>, p: Pi, at: SimTime) {
        self.allp[p as usize].spinning = false;
        self.nmspinning_dec();
        self.wakep(k, at);
    }

    /// `startIdle` (injectglist): start an M on up to `n` idle Ps.
    pub(super) fn start_idle(&mut self, k: &mut Kernel<Ev>, n: usize, at: SimTime) {
        for _ in 0..n {
            let Some(p) = self.pidleget(at) else { break };
            self.startm(k, p, false, at);
        }
    }

    // ---- gopark / goready / Gosched ----

    /// `gopark`: the running G waits for `reason`; it yields at its next await.
    pub(crate) fn gopark(&mut self, g: Gi, reason: WaitReason) {
        let at = self.local_now;
        {
            let gr = &mut self.allgs[g as usize];
            gr.waitreason = reason;
            gr.waitsince = at;
            gr.request = Yield::Park;
        }
        self.set_status(g, GStatus::Waiting, at);
    }

    /// `ready`/`goready`: `g` becomes runnable in `p`'s `runnext` (the waker's P), then `wakep`.
    pub(crate) fn goready(&mut self, k: &mut Kernel<Ev>, g: Gi, p: Pi, at: SimTime) {
        debug_assert_eq!(self.allgs[g as usize].status, GStatus::Waiting);
        self.set_status(g, GStatus::Runnable, at);
        let goid = self.allgs[g as usize].goid;
        self.trace(k, at, TraceEv::GoUnblock, goid, p as u64);
        let mut t = at;
        self.runqput(p, g, true, &mut t);
        self.wakep(k, at);
    }

    /// Charges `cost` to the running goroutine; returns the new local time.
    #[inline]
    pub(crate) fn charge(&mut self, cost: SimDuration) -> SimTime {
        self.local_now += cost;
        self.seg_ops += 1;
        self.local_now
    }

    /// True when the running goroutine has run long enough without yielding that it must let
    /// the rest of the world catch up (see the module comment).
    #[inline]
    pub(crate) fn segment_full(&self) -> bool {
        self.local_now.saturating_since(self.seg_start) >= SEGMENT_MAX
            || self.seg_ops >= SEGMENT_MAX_OPS
    }

    /// The G being polled and its P. Panics outside a goroutine: runtime operations need one.
    #[inline]
    pub(crate) fn current(&self) -> (Pi, Gi) {
        self.cur
            .expect("a Go runtime operation was used outside a goroutine")
    }

    // ---- execute and the poll cycle ----

    /// `execute`: `g` runs on `p`. Returns `Some(g)` when it is to be polled now; a G that still
    /// owes compute after a preemption first finishes it.
    pub(super) fn execute(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        g: Gi,
        inherit: bool,
        at: SimTime,
    ) -> Option<(Pi, Gi)> {
        // A locked G runs on its own M: `startlockedm` hands this P over (`goto top`, then the
        // locked M's `execute(gp, false)`), so it never inherits the time slice.
        let (at, inherit) = if self.is_locked(g) {
            (self.startlockedm(g, at), false)
        } else {
            (at, inherit)
        };
        let pp = &mut self.allp[p as usize];
        if !inherit {
            pp.schedtick = pp.schedtick.wrapping_add(1);
            pp.preempt = false;
        } else if pp.preempt {
            // The slice's time is up (see `P::preempt`): this goroutine is preempted as it
            // resumes, to the global queue (`gopreempt_m`), and a new slice starts.
            pp.preempt = false;
            self.gopreempt_to_global(k, p, g, at);
            self.post_step(k, p, PAction::Schedule, at);
            return None;
        }
        let pp = &mut self.allp[p as usize];
        pp.curg = Some(g);
        self.allgs[g as usize].preempt = false;
        if !self.init_pending.is_empty() && self.allgs[g as usize].is_main {
            // main.main starts with the runtime's goroutines queued (see createfing).
            let mut t = at;
            for f in std::mem::take(&mut self.init_pending) {
                self.runqput(p, f, true, &mut t);
            }
        }
        let start = at + self.cfg.costs.context_switch;
        self.stats.context_switches += 1;
        let gr = &self.allgs[g as usize];
        let waited = at.saturating_since(gr.since);
        let _ = self.sched_latency.record(waited.as_nanos().max(1));
        let goid = gr.goid;
        self.set_status(g, GStatus::Running, at);
        self.p_mode(p, PMode::User, at);
        self.trace(k, at, TraceEv::GoStart, goid, p as u64);
        let left = self.allgs[g as usize].compute_left;
        if !left.is_zero() {
            self.allgs[g as usize].compute_left = SimDuration::ZERO;
            self.start_compute(k, p, g, start, left);
            return None;
        }
        // The switch is the first part of the goroutine's segment: its clock starts after it.
        self.poll_at = start;
        Some((p, g))
    }

    fn start_compute(&mut self, k: &mut Kernel<Ev>, p: Pi, g: Gi, at: SimTime, d: SimDuration) {
        let end = at + d;
        self.allgs[g as usize].compute_end = end;
        self.allp[p as usize].computing = true;
        self.post_step(k, p, PAction::Run(g), end);
    }

    /// Sets up a poll of `g` on `p` at kernel time; returns its task.
    pub(crate) fn begin_poll(&mut self, now: SimTime, p: Pi, g: Gi) -> TaskId {
        self.cur = Some((p, g));
        let start = now.max(self.poll_at);
        self.poll_at = SimTime::ZERO;
        self.local_now = start;
        self.seg_start = start;
        self.seg_ops = 0;
        self.allgs[g as usize].task
    }

    /// After a poll: act on what the goroutine asked for.
    pub(crate) fn after_poll(&mut self, k: &mut Kernel<Ev>, p: Pi, g: Gi, done: bool) {
        self.cur = None;
        let at = self.local_now;
        if done {
            let t = at + self.cfg.costs.go_exit;
            self.goexit0(k, p, g, t);
            return;
        }
        match std::mem::take(&mut self.allgs[g as usize].request) {
            Yield::Compute(d) => {
                self.start_compute(k, p, g, at, d);
                if self.allgs[g as usize].preempt {
                    // A preemption request arrived while it was between computes.
                    self.preempt_now(k, p, g, at);
                }
            }
            Yield::Syscall(d) => self.reentersyscall(k, p, g, d, at),
            Yield::Park => {
                let goid = self.allgs[g as usize].goid;
                let r = self.allgs[g as usize].waitreason;
                self.trace(k, at, TraceEv::GoBlock, goid, r as u64);
                self.allp[p as usize].curg = None;
                self.p_mode(p, PMode::Sched, at);
                self.g_stopped(k, p, g, false, at);
            }
            Yield::Gosched => {
                // goschedImpl: _Grunning → _Grunnable, global tail, wakep, schedule.
                let goid = self.allgs[g as usize].goid;
                self.trace(k, at, TraceEv::GoSched, goid, 0);
                self.stats.goscheds += 1;
                self.set_status(g, GStatus::Runnable, at);
                self.globrunqput(g);
                self.kick_idle_worker(k, at);
                self.allp[p as usize].curg = None;
                self.p_mode(p, PMode::Sched, at);
                self.wakep(k, at);
                self.g_stopped(k, p, g, false, at);
            }
            Yield::None => {
                self.end = Some(EndReason::Panic(Fatal {
                    message: format!(
                        "fatal error: goroutine {} awaited a future that is not a costream runtime operation",
                        self.allgs[g as usize].goid
                    ),
                }));
            }
        }
    }

    // ---- P steps ----

    /// A P's M takes its next step. Returns a G to poll.
    pub(crate) fn p_step(&mut self, k: &mut Kernel<Ev>, p: Pi, gen: u32) -> Option<(Pi, Gi)> {
        let pp = &mut self.allp[p as usize];
        if pp.gen != gen || pp.status != PStatus::Running {
            return None;
        }
        let now = k.now();
        let action = pp.action;
        if self.os.is_some() && !self.os_step_ready(k, p, now) {
            // Its M waits for a CPU: `os_resume` posts the step again.
            return None;
        }
        self.allp[p as usize].step.pending = false;
        if let Some(until) = self.frozen_until(now) {
            // The world is stopped: this step happens when it restarts.
            self.post_step(k, p, action, until);
            return None;
        }
        let pp = &mut self.allp[p as usize];
        match action {
            PAction::Run(g) => {
                pp.computing = false;
                Some((p, g))
            }
            PAction::GcWorker => None,
            PAction::GcWorkerEnd => {
                self.stop_worker(k, p, now);
                self.p_mode_sched(p, now);
                self.schedule(k, p, now)
            }
            PAction::Schedule => self.schedule(k, p, now),
            PAction::StealLastPass => self.schedule_from(k, p, now, FindFrom::LastStealPass),
        }
    }

    /// `schedule` (runtime/proc.go): one round of the scheduler on `p`'s M: `findRunnable`,
    /// then stop spinning (`resetspinning`) and `execute` what it found. Returns a G to poll now.
    pub(super) fn schedule(&mut self, k: &mut Kernel<Ev>, p: Pi, now: SimTime) -> Option<(Pi, Gi)> {
        self.schedule_from(k, p, now, FindFrom::Top)
    }

    /// `schedule` with `findRunnable` entered at `from`.
    fn schedule_from(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        now: SimTime,
        from: FindFrom,
    ) -> Option<(Pi, Gi)> {
        match self.find_runnable(k, p, now, from)? {
            Runnable::G { p, g, inherit, t } => {
                if self.allp[p as usize].spinning {
                    self.resetspinning(k, p, t);
                }
                self.execute(k, p, g, inherit, t)
            }
            Runnable::GcWorker { p, t } => {
                if self.allp[p as usize].spinning {
                    self.resetspinning(k, p, t);
                }
                None
            }
        }
    }

    /// `findRunnable` (runtime/proc.go): work for `p`'s M. In Go's order: this P's timers, a GC
    /// mark worker, the global queue every 61st tick, the local queue, the global queue, a
    /// non-blocking `netpoll`, `stealWork` from other Ps. With nothing to do: the global queue
    /// once more and `needspinning` (Go's checks under `sched.lock`), the idle GC worker (which
    /// Go tries just before those two), give up the P, look again with no P (`checkRunqsNoP`,
    /// `checkTimersNoP`), and block in `netpoll` until the next timer, or `stopm`.
    ///
    /// `None`: the M has nothing to run now. It stopped, blocks in netpoll, or posted a later
    /// step for itself (`goto top`, or runqgrab's `usleep(3)`, resumed at
    /// [`FindFrom::LastStealPass`]).
    fn find_runnable(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        now: SimTime,
        from: FindFrom,
    ) -> Option<Runnable> {
        let mut t = now;
        let found = |p, g, inherit, t| Some(Runnable::G { p, g, inherit, t });
        if from == FindFrom::LastStealPass {
            // stealWork's last pass, after the usleep(3).
            if let Some(g) = self.steal_pass(k, p, true, &mut t) {
                return found(p, g, false, t);
            }
        } else {
            // 2. Run this P's expired timers (`pp.timers.check`).
            self.check_timers(k, p, &mut t);
            // 4. A GC mark worker while marking (`findRunnableGCWorker`).
            if self.gc_phase() == super::mgc::GcPhase::Mark && self.schedule_gc_worker(k, p, t) {
                return Some(Runnable::GcWorker { p, t });
            }
            // 5. Fairness: every 61st schedule tick, take one G from the global queue first.
            if self.allp[p as usize].schedtick.is_multiple_of(61) && !self.global.is_empty() {
                t += self.cfg.costs.global_runq_check;
                if let Some(g) = self.globrunqget(p, 1, &mut t) {
                    return found(p, g, false, t);
                }
            }
            // 7. Local queue: runnext, then the ring.
            if let Some((g, inherit)) = self.runqget(p) {
                return found(p, g, inherit, t);
            }
            // 8. Global queue, in a batch.
            if !self.global.is_empty() {
                t += self.cfg.costs.global_runq_check;
                if let Some(g) = self.globrunqget(p, 0, &mut t) {
                    return found(p, g, false, t);
                }
            }
            // 9. Non-blocking netpoll, if anyone waits on I/O and no M is blocked in netpoll.
            if self.netpoll_waiters > 0 && self.poller.is_none() {
                t += self.cfg.costs.netpoll_poll;
                let mut list = self.netpoll(k, NetpollDelay::Zero, t);
                if !list.is_empty() {
                    let g = list.remove(0);
                    self.injectglist(k, list, Some(p), t);
                    self.set_status(g, GStatus::Runnable, t);
                    return found(p, g, false, t);
                }
            }
            // 10. Steal, if spinning or if fewer than half the busy Ps have spinning Ms.
            let busy = self.cfg.gomaxprocs - self.npidle();
            if self.allp[p as usize].spinning || 2 * self.nmspinning < busy {
                if !self.allp[p as usize].spinning {
                    self.become_spinning(p);
                    self.trace(k, t, TraceEv::Spin, p as u64, 0);
                }
                match self.steal_work(k, p, &mut t) {
                    Stolen::G(g) => return found(p, g, false, t),
                    Stolen::Sleeping => return None,
                    Stolen::Nothing => {}
                }
            }
        }
        // Nothing to do. Before giving up the P (Go holds sched.lock here): the global queue once
        // more, and back to the top as a spinning M if some P needs one.
        if !self.global.is_empty() {
            if let Some(g) = self.globrunqget(p, 0, &mut t) {
                return found(p, g, false, t);
            }
        }
        if !self.allp[p as usize].spinning && self.needspinning {
            self.become_spinning(p);
            self.post_step(k, p, PAction::Schedule, t);
            return None;
        }
        // 11. Idle-priority GC worker: marking soaks up a P that would otherwise idle.
        if self.try_idle_worker(k, p, t) {
            return Some(Runnable::GcWorker { p, t });
        }
        // Give up the P (`releasep`, `pidleput`).
        let own_timer = self.allp[p as usize].timers.next_when();
        let was_spinning = self.allp[p as usize].spinning;
        self.pidleput(p, t);
        let m = self.os_releasep(p);
        self.trace(k, t, TraceEv::ProcStop, p as u64, 0);
        let mut poll_until = own_timer;
        if was_spinning {
            self.allp[p as usize].spinning = false;
            self.nmspinning_dec();
            // The global queue again, with no P.
            if !self.global.is_empty() {
                if let Some(p2) = self.pidleget_spinning(t) {
                    self.os_acquirep(p2, m);
                    self.become_spinning(p2);
                    if let Some(g) = self.globrunqget(p2, 0, &mut t) {
                        return found(p2, g, false, t);
                    }
                }
            }
            // checkRunqsNoP and checkTimersNoP look at every P.
            t += self.cfg.costs.runq_scan_per_p * self.cfg.gomaxprocs as u64;
            // checkRunqsNoP: work appeared on some P while we were giving up.
            if self.allp.iter().any(|pp| {
                matches!(pp.status, PStatus::Running | PStatus::Syscall)
                    && (!pp.runq.is_empty() || pp.runnext.is_some())
            }) {
                if let Some(p2) = self.pidleget_spinning(t) {
                    self.os_acquirep(p2, m);
                    self.become_spinning(p2);
                    self.post_step(k, p2, PAction::Schedule, t);
                    return None;
                }
            }
            // checkTimersNoP.
            poll_until = self.earliest_timer();
        }
        // Block in netpoll until the next timer, or wake the M that is there if it sleeps past it.
        if (self.netpoll_waiters > 0 || poll_until.is_some()) && self.poller.is_none() {
            let delay = NetpollDelay::Block {
                until: poll_until,
                was_spinning,
            };
            self.netpoll(k, delay, t);
            self.poller_m = m;
            if let Some(m) = m {
                self.os_block(k, m, super::os::Holder::Poller, t);
            }
            return None;
        } else if let Some(pu) = poll_until {
            if let Some(pl) = self.poller {
                if pl.until.is_none_or(|u| u > pu) {
                    self.netpoll_break(k, t);
                }
            }
        }
        self.stopm(k, t);
        self.os_stopm(k, m, t);
        None
    }

    /// `stealWork` (runtime/proc.go): `stealTries` passes over the other Ps in random order.
    /// The last pass also runs their timers and takes a `runnext`; when it may have to take a
    /// running P's `runnext`, runqgrab first sleeps 3 us, so the M posts the last pass as a
    /// later step ([`FindFrom::LastStealPass`]).
    fn steal_work(&mut self, k: &mut Kernel<Ev>, p: Pi, t: &mut SimTime) -> Stolen {
        for _ in 0..STEAL_TRIES - 1 {
            if let Some(g) = self.steal_pass(k, p, false, t) {
                return Stolen::G(g);
            }
        }
        if self.any_running_runnext_only(p) {
            let wake = self.os_usleep(k, p, STEAL_RUNNEXT_SLEEP, *t);
            self.post_step(k, p, PAction::StealLastPass, wake);
            return Stolen::Sleeping;
        }
        match self.steal_pass(k, p, true, t) {
            Some(g) => Stolen::G(g),
            None => Stolen::Nothing,
        }
    }

    /// `stopm` (runtime/proc.go): this M has no P and nothing to run. It joins the idle Ms
    /// (`mput`, which runs `checkdead`) until `startm` hands it a P.
    pub(super) fn stopm(&mut self, k: &mut Kernel<Ev>, at: SimTime) {
        self.nmidle += 1;
        self.checkdead(k, at);
    }

    fn any_running_runnext_only(&self, p: Pi) -> bool {
        self.allp.iter().enumerate().any(|(i, pp)| {
            i as Pi != p
                && pp.status == PStatus::Running
                && pp.runq.is_empty()
                && pp.runnext.is_some()
        })
    }

    /// One `stealWork` pass over all Ps in a random order (`stealOrder.start(cheaprand())`).
    /// The last pass also runs other Ps' timers and may take their `runnext`.
    fn steal_pass(&mut self, k: &mut Kernel<Ev>, p: Pi, last: bool, t: &mut SimTime) -> Option<Gi> {
        let n = self.cfg.gomaxprocs;
        let order = RandomOrder::new(n, self.steal_rng.next_u32());
        for victim in order {
            if victim == p {
                continue;
            }
            *t += self.cfg.costs.steal_probe;
            if last && !self.allp[victim as usize].timers.is_empty() {
                let before = self.allp[p as usize].runnext.is_some()
                    || !self.allp[p as usize].runq.is_empty();
                self.run_timers_of(k, victim, p, t);
                if !before {
                    if let Some((g, _)) = self.runqget(p) {
                        return Some(g);
                    }
                }
            }
            if self.allp[victim as usize].status == PStatus::Idle {
                continue;
            }
            if let Some(g) = self.runqsteal(p, victim, last, t) {
                self.trace(k, *t, TraceEv::ProcSteal, p as u64, victim as u64);
                return Some(g);
            }
        }
        None
    }

    fn pidleget_spinning(&mut self, at: SimTime) -> Option<Pi> {
        let p = self.pidleget(at);
        if p.is_none() {
            self.needspinning = true;
        }
        p
    }

    /// Earliest timer on any P (`timeSleepUntil` / `checkTimersNoP`).
    pub(crate) fn earliest_timer(&self) -> Option<SimTime> {
        self.allp
            .iter()
            .filter_map(|pp| pp.timers.next_when())
            .min()
    }

    // ---- checkdead ----

    /// `checkdead`: with no M running (every P idle, nobody in netpoll), no timers and
    /// goroutines still waiting, the program is deadlocked.
    fn checkdead(&mut self, _k: &mut Kernel<Ev>, now: SimTime) {
        if self.npidle() < self.cfg.gomaxprocs || self.poller.is_some() || self.in_syscall() > 0 {
            return;
        }
        if self.live == 0 {
            self.end = Some(EndReason::AllFinished);
            return;
        }
        if self.allp.iter().any(|pp| !pp.timers.is_empty()) {
            return;
        }
        self.end = Some(EndReason::Deadlock(Fatal {
            message: self.deadlock_message(now),
        }));
    }

    /// Go's report: "fatal error: all goroutines are asleep - deadlock!" and each goroutine
    /// with its id and wait reason, as `goroutineheader` prints them.
    fn deadlock_message(&self, now: SimTime) -> String {
        let mut s = String::from("fatal error: all goroutines are asleep - deadlock!\n");
        let mut gs: Vec<&G> = self
            .allgs
            .iter()
            .filter(|g| g.status != GStatus::Dead && !g.system)
            .collect();
        gs.sort_by_key(|g| g.goid);
        for g in gs {
            let reason = g.waitreason.as_str_in(self.cfg.go_version);
            let _ = write!(s, "\ngoroutine {} [{reason}", g.goid);
            let mins = now.saturating_since(g.waitsince).as_nanos() / 60_000_000_000;
            if mins >= 1 {
                let _ = write!(s, ", {mins} minutes");
            }
            let _ = writeln!(s, "]:\n{}()", g.name);
            if let Some(parent) = g.parent {
                let _ = writeln!(s, "{}", created_by(parent, self.cfg.go_version));
            }
        }
        s
    }
}

/// `goroutineheader`'s last line (traceback.go `printcreatedby1`): Go 1.21 added the creating
/// goroutine's id ("created by main.main in goroutine 1"); 1.19 printed the function alone.
fn created_by((name, goid): (&'static str, u64), v: super::GoVersion) -> String {
    if v.at_least(super::GoVersion::GO1_21) {
        format!("created by {name} in goroutine {goid}")
    } else {
        format!("created by {name}")
    }
}

/// `randomOrder`/`randomEnum` (proc.go): a random start and a stride coprime to GOMAXPROCS
/// visit every P once.
pub struct RandomOrder {
    i: u32,
    count: u32,
    pos: u32,
    inc: u32,
}

impl RandomOrder {
    /// `randomOrder.reset(count)` then `start(r)`: start at `r % count`, stride picked by `r`.
    pub fn new(count: u32, r: u32) -> Self {
        // coprimes of count in [1, count], in increasing order, as randomOrder.reset builds them.
        let mut nco = 0u32;
        let mut pick = 0u32;
        let target = (r / count) % (1..=count).filter(|&i| gcd(i, count) == 1).count() as u32;
        for i in 1..=count {
            if gcd(i, count) == 1 {
                if nco == target {
                    pick = i;
                }
                nco += 1;
            }
        }
        Self {
            i: 0,
            count,
            pos: r % count,
            inc: pick,
        }
    }
}

impl Iterator for RandomOrder {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.i == self.count {
            return None;
        }
        let p = self.pos;
        self.i += 1;
        self.pos = (self.pos + self.inc) % self.count;
        Some(p)
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Runtime {
    /// Notes a channel goroutine `g` is about to block on (for the leak detector).
    pub(crate) fn wait_on(&mut self, g: Gi, probe: Option<super::chan::ProbeRef>) {
        if let Some(p) = probe {
            self.allgs[g as usize].wait_chans.push(p);
        }
    }

    /// An unrecovered panic unwound goroutine `g`: the program dies (`fatalpanic`).
    pub(crate) fn gopanic(&mut self, g: Gi, msg: &str) {
        self.cur = None;
        let goid = self.allgs[g as usize].goid;
        let name = self.allgs[g as usize].name;
        let mut message = format!("panic: {msg}\n\ngoroutine {goid} [running]:\n{name}(...)");
        if let Some(parent) = self.allgs[g as usize].parent {
            message = format!("{message}\n{}", created_by(parent, self.cfg.go_version));
        }
        self.end = Some(EndReason::Panic(Fatal { message }));
    }
}

/// The body of a runtime goroutine that has nothing to do: it parks for `reason` when first
/// run and is never readied (runfinq with no finalizers queued).
struct ParkForever {
    go: super::Go,
    reason: WaitReason,
    parked: bool,
}

impl std::future::Future for ParkForever {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if !self.parked {
            self.parked = true;
            let reason = self.reason;
            self.go.with_rt(|rt, _| {
                let (_, g) = rt.current();
                rt.gopark(g, reason);
            });
        }
        std::task::Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_order_visits_each_p_once() {
        for count in 1..=12 {
            for r in [0u32, 1, 7, 12345, u32::MAX] {
                let mut seen: Vec<u32> = RandomOrder::new(count, r).collect();
                seen.sort();
                assert_eq!(seen, (0..count).collect::<Vec<_>>(), "count={count} r={r}");
            }
        }
    }
}

/// The status changes `casgstatus` allows (runtime/proc.go throws "casgstatus: bad incoming
/// values" on any other, and on a change to the same status): created (`_Gidle`) or reused
/// (`_Gdead`) to runnable, runnable to running, running back to runnable (preempted, Gosched),
/// to waiting (`gopark`) or to dead (`goexit`), waiting to runnable (`goready`), running into
/// a system call and out of it (`exitsyscall`; to runnable when it lost its P).
pub(super) fn casgstatus_ok(from: GStatus, to: GStatus) -> bool {
    use GStatus::*;
    matches!(
        (from, to),
        (Idle, Runnable)
            | (Idle, Dead)
            | (Dead, Runnable)
            | (Runnable, Running)
            | (Running, Runnable)
            | (Running, Waiting)
            | (Running, Dead)
            | (Waiting, Runnable)
            | (Running, Syscall)
            | (Syscall, Running)
            | (Syscall, Runnable)
    )
}

#[cfg(test)]
mod casgstatus_tests {
    use super::casgstatus_ok;
    use crate::goruntime::GStatus::*;

    #[test]
    fn only_gos_status_changes_are_allowed() {
        for ok in [
            (Idle, Runnable),
            (Dead, Runnable),
            (Runnable, Running),
            (Running, Runnable),
            (Running, Waiting),
            (Running, Dead),
            (Waiting, Runnable),
            (Running, Syscall),
            (Syscall, Running),
            (Syscall, Runnable),
        ] {
            assert!(casgstatus_ok(ok.0, ok.1), "{ok:?}");
        }
        // A waiting G must be readied before it runs; nothing changes to its own status; the
        // dead do not wait.
        for bad in [
            (Waiting, Running),
            (Waiting, Waiting),
            (Runnable, Waiting),
            (Dead, Waiting),
            (Runnable, Dead),
            (Waiting, Syscall),
            (Syscall, Waiting),
        ] {
            assert!(!casgstatus_ok(bad.0, bad.1), "{bad:?}");
        }
    }
}
