//! What the runtime needs of the host that composes it (the world): the kernel's events, the
//! state goroutines reach, and how a run ends. The host's own events travel as opaque
//! [`HostEv`]s and its own state as [`Shared::ext`], so the runtime never names the host.

use super::proc::{Fatal, Runtime};
use super::runtime2::{Gi, Pi};
use super::stall::StallKind;
use super::stw::FreezeCause;
use costream_sim::{Kernel, RngStreams, SimDuration, SimTime, TaskSlab};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

/// Kernel events. Every handler is a model function named after the Go code it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A P's M takes its next step (schedule, or resume the G it runs).
    PStep {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The P whose M steps.
        p: Pi,
        /// `p`'s step generation when the step was posted; a stale step is ignored.
        gen: u32,
    },
    /// A preemption signal reaches goroutine `g`, which was running on `p`.
    Preempt {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The P `g` was running on when the signal was sent.
        p: Pi,
        /// The goroutine to preempt.
        g: Gi,
    },
    /// sysmon wakes from `usleep` (or from its deep sleep).
    Sysmon {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// sysmon's generation when the wake-up was posted; a wake-up of another is ignored.
        gen: u32,
        /// It was the deep sleep taken while every P is idle.
        deep: bool,
    },
    /// The M blocked in netpoll returns.
    NetpollWake {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The poller's generation when the wake-up was posted; a superseded wake-up is ignored.
        gen: u32,
    },
    /// The predicted end of a GC mark phase.
    GcMarkDone {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The mark generation when the end was predicted; a stale prediction is ignored.
        gen: u32,
    },
    /// A stall source acts (a pause begins, or a cgroup quota check).
    Stall {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// Which stall source acts.
        kind: StallKind,
    },
    /// The world restarts after a `GOMAXPROCS` stop: `procresize`.
    Procresize {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The new `GOMAXPROCS`.
        n: u32,
    },
    /// A CPU's scheduler tick (OS model): slices end, idle CPUs pull waiting threads.
    OsTick {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The CPU that ticks.
        cpu: u32,
    },
    /// Another process on the machine gave thread `m` of this one a CPU (OS model).
    OsResume {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The thread.
        m: u32,
    },
    /// The kernel work of a system call is done (`exitsyscall` follows once its thread has
    /// a CPU).
    ExitSyscall {
        /// The host (index into [`Core::rts`]) whose runtime handles the event.
        host: u32,
        /// The call's slot.
        slot: u32,
        /// The slot's generation when the end was posted; a moved end is ignored.
        gen: u32,
    },
    /// An event of the host's own (the network, an external process), opaque to the runtime.
    Host(HostEv),
}

/// A host event as the kernel carries it: the host encodes its events into these two words
/// and decodes them when the kernel hands one back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostEv {
    /// The host's event tag: which of its events this is.
    pub kind: u32,
    /// The event's one argument (an index or id, by `kind`).
    pub a: u32,
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

/// One stop of the world: when, how long, why.
pub type Freeze = (SimTime, SimDuration, FreezeCause);

/// The state the runtimes share: the kernel that orders every event, one [`Runtime`] per
/// host, and the run's random streams.
pub struct Core {
    /// The event queue and virtual clock every host shares.
    pub kernel: Kernel<Ev>,
    /// One runtime per host, indexed by host id.
    pub rts: Vec<Runtime>,
    /// The run's seeded random streams.
    pub streams: RngStreams,
}

impl Core {
    /// The current virtual time (the kernel's clock).
    pub fn now(&self) -> SimTime {
        self.kernel.now()
    }
}

/// What every [`Go`](super::Go) handle shares: the core, the goroutines' tasks, and the host's
/// own state.
#[doc(hidden)]
pub struct Shared {
    pub core: RefCell<Core>,
    pub tasks: TaskSlab,
    next_chan: Cell<u64>,
    /// The host's state (the world's network and processes): only the host reads it.
    pub ext: Rc<dyn Any>,
}

impl Shared {
    pub fn new(core: Core, ext: Rc<dyn Any>) -> Self {
        Self {
            core: RefCell::new(core),
            tasks: TaskSlab::new(),
            next_chan: Cell::new(1),
            ext,
        }
    }

    /// A fresh channel id: channels are numbered in the order they are made.
    pub(crate) fn next_chan(&self) -> u64 {
        let id = self.next_chan.get();
        self.next_chan.set(id + 1);
        id
    }
}
