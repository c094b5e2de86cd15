//! Goroutine and processor state, after `src/runtime/runtime2.go`.

use costream_sim::{SimDuration, SimTime, TaskId};

/// Index of a G in its runtime's `allgs` slab.
pub type Gi = u32;
/// Index of a P in `allp`.
pub type Pi = u32;

/// Goroutine status (`runtime2.go`: `_Gidle` … `_Gdead`). `_Gcopystack` and `_Gpreempted`
/// have no separate role yet: a preempted G is `_Grunnable` on the global queue
/// (`gopreempt_m`), as it is in Go when async preemption yields rather than parks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GStatus {
    /// `_Gidle`: just allocated, not yet started.
    Idle,
    /// `_Grunnable`: on a run queue, not running.
    Runnable,
    /// `_Grunning`: running on a P.
    Running,
    /// `_Gwaiting`: parked (see its [`WaitReason`]).
    Waiting,
    /// `_Gsyscall`: in a system call on its M, which may have lost its P to sysmon.
    Syscall,
    /// `_Gdead`: exited; the G is free for reuse.
    Dead,
}

impl GStatus {
    /// Go's constant name, e.g. `_Grunnable`.
    pub fn go_name(self) -> &'static str {
        match self {
            GStatus::Idle => "_Gidle",
            GStatus::Runnable => "_Grunnable",
            GStatus::Running => "_Grunning",
            GStatus::Waiting => "_Gwaiting",
            GStatus::Syscall => "_Gsyscall",
            GStatus::Dead => "_Gdead",
        }
    }
}

/// Why a G is waiting (`runtime2.go: waitReason`), with Go's strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum WaitReason {
    /// `waitReasonZero`: no reason (the G is not waiting).
    Zero = 0,
    /// `waitReasonChanReceiveNilChan`: receive from a nil channel (forever).
    ChanReceiveNilChan,
    /// `waitReasonChanSendNilChan`: send on a nil channel (forever).
    ChanSendNilChan,
    /// `waitReasonSelectNoCases`: `select {}` (forever).
    SelectNoCases,
    /// `waitReasonChanReceive`: blocked in a channel receive.
    ChanReceive,
    /// `waitReasonChanSend`: blocked in a channel send.
    ChanSend,
    /// `waitReasonSelect`: blocked in a `select` with no ready case.
    Select,
    /// `waitReasonSleep`: `time.Sleep`.
    Sleep,
    /// `waitReasonIOWait`: waiting for a socket to become ready (netpoll).
    IoWait,
    /// `waitReasonPreempted`: unused here (a preempted G is runnable, not waiting).
    Preempted,
    /// `waitReasonSyncWaitGroupWait`: `sync.WaitGroup.Wait`.
    SyncWaitGroupWait,
    /// `waitReasonGCAssistWait`: a mark assist found no work and waits for the cycle to end.
    GcAssistWait,
    /// `waitReasonFinalizerWait`: the finalizer goroutine, idle.
    FinalizerWait,
    /// `waitReasonUpdateGOMAXPROCSIdle` (Go 1.25): the GOMAXPROCS updater, idle.
    UpdateGomaxprocsIdle,
    /// `waitReasonSemacquire`: `runtime_Semacquire`, as a socket's write lock (`fdMutex`) waits.
    Semacquire,
}

impl WaitReason {
    /// Every reason, in discriminant order (so `r as usize` indexes this array).
    pub const ALL: [WaitReason; 15] = [
        WaitReason::Zero,
        WaitReason::ChanReceiveNilChan,
        WaitReason::ChanSendNilChan,
        WaitReason::SelectNoCases,
        WaitReason::ChanReceive,
        WaitReason::ChanSend,
        WaitReason::Select,
        WaitReason::Sleep,
        WaitReason::IoWait,
        WaitReason::Preempted,
        WaitReason::SyncWaitGroupWait,
        WaitReason::GcAssistWait,
        WaitReason::FinalizerWait,
        WaitReason::UpdateGomaxprocsIdle,
        WaitReason::Semacquire,
    ];
    /// The string Go `v` prints in tracebacks (`waitReasonStrings`). Until Go 1.24 a
    /// `WaitGroup.Wait` parked in `semacquire1` with `waitReasonSemacquire` ("semacquire",
    /// 1.19 sync/waitgroup.go `runtime_Semacquire`); 1.24 added `runtime_SemacquireWaitGroup`
    /// and `waitReasonSyncWaitGroupWait` (1.27 runtime/sema.go).
    pub fn as_str_in(self, v: super::GoVersion) -> &'static str {
        match self {
            WaitReason::SyncWaitGroupWait if !v.at_least(super::GoVersion::GO1_24) => "semacquire",
            r => r.as_str(),
        }
    }

    /// The string the newest Go prints in tracebacks (`waitReasonStrings`).
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Zero => "",
            WaitReason::ChanReceiveNilChan => "chan receive (nil chan)",
            WaitReason::ChanSendNilChan => "chan send (nil chan)",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::Preempted => "preempted",
            WaitReason::SyncWaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::GcAssistWait => "GC assist wait",
            WaitReason::FinalizerWait => "finalizer wait",
            WaitReason::UpdateGomaxprocsIdle => "GOMAXPROCS updater (idle)",
            WaitReason::Semacquire => "semacquire",
        }
    }
}

/// What a goroutine asked for when it last returned control to the scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Yield {
    /// Nothing: the goroutine awaited something that is not a runtime operation.
    #[default]
    None,
    /// Hold the P for this long (`compute`).
    Compute(SimDuration),
    /// `gopark`: status and wait reason are already set.
    Park,
    /// `entersyscall`: a system call that keeps its thread busy in the kernel this long.
    Syscall(SimDuration),
    /// `Gosched`.
    Gosched,
}

/// Time a goroutine spent in each state (the state-time breakdown of `runtime/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateTimes {
    /// Time in `_Grunnable`.
    pub runnable: SimDuration,
    /// Time in `_Grunning`, and in `_Gsyscall` (its thread is busy in the kernel).
    pub running: SimDuration,
    /// Time in `_Gwaiting`.
    pub waiting: SimDuration,
}

/// The channels a waiting goroutine is blocked on, for the leak detector. A plain send or
/// receive blocks on one, kept inline so parking allocates nothing; a select keeps its list.
#[derive(Default)]
pub(crate) enum WaitChans {
    #[default]
    None,
    One(super::chan::ProbeRef),
    Many(Vec<super::chan::ProbeRef>),
}

impl WaitChans {
    pub fn push(&mut self, p: super::chan::ProbeRef) {
        *self = match std::mem::take(self) {
            WaitChans::None => WaitChans::One(p),
            WaitChans::One(a) => WaitChans::Many(vec![a, p]),
            WaitChans::Many(mut v) => {
                v.push(p);
                WaitChans::Many(v)
            }
        };
    }
    pub fn clear(&mut self) {
        *self = WaitChans::None;
    }
    pub fn is_empty(&self) -> bool {
        matches!(self, WaitChans::None)
    }
    pub fn iter(&self) -> std::slice::Iter<'_, super::chan::ProbeRef> {
        match self {
            WaitChans::None => [].iter(),
            WaitChans::One(p) => std::slice::from_ref(p).iter(),
            WaitChans::Many(v) => v.iter(),
        }
    }
}

/// A goroutine (`runtime2.go: type g`), reduced to what the model needs.
pub(crate) struct G {
    pub goid: u64,
    pub status: GStatus,
    pub waitreason: WaitReason,
    pub task: TaskId,
    /// Function the goroutine runs ("main.worker"), for tracebacks and leak reports.
    pub name: &'static str,
    /// Function and goroutine that created it ("created by main.main in goroutine 1").
    pub parent: Option<(&'static str, u64)>,
    /// When the current status began.
    pub since: SimTime,
    /// When it started waiting (`gp.waitsince`), for "[chan receive, 2 minutes]".
    pub waitsince: SimTime,
    pub times: StateTimes,
    pub request: Yield,
    /// CPU work still owed after a preemption, finished before the future is polled again.
    pub compute_left: SimDuration,
    /// End of the compute in progress while the G holds its P.
    pub compute_end: SimTime,
    /// The program's main goroutine: when it returns, the program exits.
    pub is_main: bool,
    /// `isSystemGoroutine`: started by the runtime for itself (the finalizer goroutine);
    /// hidden from the goroutine count, the census, tracebacks and leak reports.
    pub system: bool,
    /// `gcAssistBytes` and the cycle it belongs to.
    pub assist_epoch: u64,
    pub assist_bytes: i64,
    pub assist_time: SimDuration,
    /// Time lost while runnable or running to stop-the-world pauses and to stalls.
    pub lost_gc: SimDuration,
    pub lost_stall: SimDuration,
    /// The freeze clock when the goroutine's status last changed.
    pub freeze_mark: super::stw::FrozenTime,
    /// Channels it is blocked on, for the leak detector (cleared when it wakes).
    pub wait_chans: WaitChans,
    /// `gp.preempt`: sysmon asked it to stop at its next safe point.
    pub preempt: bool,
    /// Its class in the census (the function it runs).
    pub class: u16,
    /// `LockOSThread` nesting (`m.lockedExt`): non-zero while wired to its own M.
    pub locked_ext: u32,
    /// When it last became runnable after waiting (or was created), for the lifecycle phases.
    pub readied: SimTime,
    /// It has run at least once.
    pub ran: bool,
}

impl G {
    /// A fresh goroutine about to become runnable (`newproc1` initialising `newg`'s fields).
    pub(crate) fn new(
        goid: u64,
        task: TaskId,
        name: &'static str,
        parent: Option<(&'static str, u64)>,
        is_main: bool,
        at: SimTime,
    ) -> G {
        G {
            goid,
            status: GStatus::Idle,
            waitreason: WaitReason::Zero,
            task,
            name,
            parent,
            since: at,
            waitsince: at,
            times: StateTimes::default(),
            request: Yield::None,
            compute_left: SimDuration::ZERO,
            compute_end: SimTime::ZERO,
            is_main,
            system: false,
            assist_epoch: 0,
            assist_bytes: 0,
            assist_time: SimDuration::ZERO,
            lost_gc: SimDuration::ZERO,
            lost_stall: SimDuration::ZERO,
            freeze_mark: Default::default(),
            wait_chans: WaitChans::None,
            preempt: false,
            class: 0,
            locked_ext: 0,
            readied: at,
            ran: false,
        }
    }
}

/// What a goroutine has lost so far: to GC stop-the-world pauses, to stalls, to assists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LostTime {
    /// Time runnable or running while the world was stopped for the GC.
    pub gc_stw: SimDuration,
    /// Time runnable or running while a stall (VM pause, cgroup throttling) froze the host.
    pub stall: SimDuration,
    /// Time spent in mark assists.
    pub assist: SimDuration,
}

impl LostTime {
    /// The GC's share: stop-the-world plus assists.
    pub fn gc(&self) -> SimDuration {
        self.gc_stw + self.assist
    }
    /// What was lost after `earlier` (field by field, saturating at zero).
    pub fn since(&self, earlier: LostTime) -> LostTime {
        LostTime {
            gc_stw: self.gc_stw.saturating_sub(earlier.gc_stw),
            stall: self.stall.saturating_sub(earlier.stall),
            assist: self.assist.saturating_sub(earlier.assist),
        }
    }
}

/// P status (`_Pidle`, `_Prunning`, `_Psyscall`; the GC's `_Pgcstop` is the world's freeze).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PStatus {
    /// `_Pidle`: on the idle list (`sched.pidle`), no M.
    Idle,
    /// `_Prunning`: owned by an M that runs Gs or schedules.
    Running,
    /// Its M is in a system call and sysmon may take it (`retake`). Go 1.19 has the status
    /// `_Psyscall` for this; from 1.26 the P stays `_Prunning` while its G is `_Gsyscall`
    /// (`setBlockOnExitSyscall`): the same states, told apart by the G.
    Syscall,
    /// `_Pdead`: destroyed by a `GOMAXPROCS` shrink; may be re-initialised by a later grow.
    Dead,
}

/// What a P's M does at its next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PAction {
    /// Enter `schedule()` → `findRunnable`.
    Schedule,
    /// Poll the current G (after a switch or when its compute is over).
    Run(Gi),
    /// The last `stealWork` pass, after `runqgrab`'s `usleep(3)`.
    StealLastPass,
    /// Running a dedicated or idle mark worker until the mark phase ends or work appears.
    GcWorker,
    /// A fractional mark worker's slice is over.
    GcWorkerEnd,
}

/// What sysmon last saw of a P (`runtime2.go: sysmontick`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SysmonTick {
    pub schedtick: u32,
    pub schedwhen: SimTime,
    pub syscalltick: u32,
    pub syscallwhen: SimTime,
}
#[cfg(test)]
mod size {
    /// Bytes per goroutine are a product feature (docs/performance.md): a `G` grows only on
    /// purpose. Today 232 bytes; Go's `g` is about 400 plus a 2 KiB stack.
    #[test]
    fn g_stays_small() {
        assert!(
            std::mem::size_of::<super::G>() <= 240,
            "{}",
            std::mem::size_of::<super::G>()
        );
        assert!(std::mem::size_of::<crate::goruntime::chan::Sudog<u8>>() <= 24);
        assert!(std::mem::size_of::<crate::goruntime::chan::HChan<u8>>() <= 112);
        // One channel inline: a goroutine parked in a receive allocates no list.
        assert!(std::mem::size_of::<super::WaitChans>() <= 24);
    }
}
