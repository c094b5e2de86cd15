//! The model's event record, named after the execution tracer's events (runtime/trace.go,
//! internal/trace v2): every scheduler event goes into the run's digest and, when enabled,
//! the log (`RUST_LOG=costream::sched=trace`).

use super::proc::Runtime;
use super::runtime2::WaitReason;
use super::Ev;
use costream_sim::{Kernel, SimTime};

/// Trace event kinds, named after the execution tracer's (internal/trace, v2).
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub(crate) enum TraceEv {
    GoCreate = 1,
    GoStart,
    GoBlock,
    GoUnblock,
    GoSched,
    GoPreempt,
    GoEnd,
    ProcStart,
    ProcStop,
    ProcSteal,
    TimerFire,
    NetpollBlock,
    NetpollWake,
    Sysmon,
    Spin,
    GcStart,
    GcEnd,
    GcWorkerStart,
    GcWorkerStop,
    ProcResize,
    GoSyscallBegin,
    GoSyscallEnd,
    GoSyscallEndBlocked,
}

impl TraceEv {
    /// The tracer's names, indexed by the event's number (`GoCreate` is 1).
    const NAMES: [&'static str; 24] = [
        "?",
        "GoCreate",
        "GoStart",
        "GoBlock",
        "GoUnblock",
        "GoSched",
        "GoPreempt",
        "GoEnd",
        "ProcStart",
        "ProcStop",
        "ProcSteal",
        "TimerFire",
        "NetpollBlock",
        "NetpollWake",
        "Sysmon",
        "Spin",
        "GCBegin",
        "GCEnd",
        "GCWorkerStart",
        "GCWorkerStop",
        "ProcResize",
        "GoSyscallBegin",
        "GoSyscallEnd",
        "GoSyscallEndBlocked",
    ];

    /// The name of event number `n`, and whether its first argument is a goroutine id.
    pub(crate) fn describe(n: u8) -> (&'static str, bool) {
        let name = Self::NAMES.get(n as usize).copied().unwrap_or("?");
        (
            name,
            (TraceEv::GoCreate as u8..=TraceEv::GoEnd as u8).contains(&n)
                || (TraceEv::GoSyscallBegin as u8..=TraceEv::GoSyscallEndBlocked as u8)
                    .contains(&n),
        )
    }
}

impl Runtime {
    /// Records a model event in the run's digest and, when enabled, in the log
    /// (`RUST_LOG=costream::sched=trace`), with fields named as the execution tracer names them.
    #[inline]
    pub(crate) fn trace(&self, k: &mut Kernel<Ev>, at: SimTime, ev: TraceEv, a: u64, b: u64) {
        k.record([at.as_nanos(), (ev as u64) | ((self.host as u64) << 8), a, b]);
        if tracing::enabled!(target: "costream::sched", tracing::Level::TRACE) {
            log_event(self.host, at, ev, a, b);
        }
    }
}

#[cold]
fn log_event(host: u32, at: SimTime, ev: TraceEv, a: u64, b: u64) {
    let at = at.as_nanos();
    macro_rules! t {
        ($($f:tt)*) => { tracing::trace!(target: "costream::sched", at_ns = at, host, $($f)*) };
    }
    let reason = |r: u64| WaitReason::ALL.get(r as usize).map_or("?", |w| w.as_str());
    match ev {
        TraceEv::GoCreate => t!(goid = a, parent = b, "GoCreate"),
        TraceEv::GoStart => t!(goid = a, p = b, "GoStart"),
        TraceEv::GoBlock => t!(goid = a, reason = reason(b), "GoBlock"),
        TraceEv::GoUnblock if b == u64::MAX => t!(goid = a, by = "netpoll", "GoUnblock"),
        TraceEv::GoUnblock => t!(goid = a, p = b, "GoUnblock"),
        TraceEv::GoSched => t!(goid = a, "GoSched"),
        TraceEv::GoPreempt => t!(goid = a, p = b, "GoPreempt"),
        TraceEv::GoEnd => t!(goid = a, "GoEnd"),
        TraceEv::ProcStart => t!(p = a, spinning = b == 1, "ProcStart"),
        TraceEv::ProcStop => t!(p = a, "ProcStop"),
        TraceEv::ProcSteal => t!(p = a, victim = b, "ProcSteal"),
        TraceEv::TimerFire => t!(timer = a, p = b, "TimerFire"),
        TraceEv::NetpollBlock if a == u64::MAX => t!(until = "forever", "NetpollBlock"),
        TraceEv::NetpollBlock => t!(until_ns = a, "NetpollBlock"),
        TraceEv::NetpollWake => t!("NetpollWake"),
        TraceEv::Sysmon => t!(next_sleep_ns = a, "Sysmon"),
        TraceEv::GoSyscallBegin => t!(goid = a, p = b, "GoSyscallBegin"),
        TraceEv::GoSyscallEnd => t!(goid = a, p = b, "GoSyscallEnd"),
        TraceEv::GoSyscallEndBlocked if b == u64::MAX => t!(goid = a, "GoSyscallEndBlocked"),
        TraceEv::GoSyscallEndBlocked => t!(goid = a, p = b, "GoSyscallEndBlocked"),
        TraceEv::Spin => t!(p = a, "Spin"),
        TraceEv::GcStart => t!(cycle = a, heap_live = b, "GCBegin"),
        TraceEv::GcEnd => t!(cycle = a, heap_marked = b, "GCEnd"),
        TraceEv::GcWorkerStart => t!(p = a, mode = b, "GCWorkerStart"),
        TraceEv::GcWorkerStop => t!(p = a, mode = b, "GCWorkerStop"),
        TraceEv::ProcResize => t!(old = a, new = b, "ProcResize"),
    }
}
