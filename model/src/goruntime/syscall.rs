//! System calls that hold their thread in the kernel, after `reentersyscall`, `exitsyscall`,
//! `exitsyscallTryGetP`, `exitsyscallNoP`, `handoffp` and the system-call half of `retake` in
//! src/runtime/proc.go (1.27; 1.19's `exitsyscallfast`, `exitsyscall0` do the same).
//!
//! The goroutine keeps its P while its M is in the kernel, and the P keeps no M of its own:
//! if the call outlasts one sysmon turn (20 us or more), sysmon takes the P and hands it to
//! another M when there is work for it. The call's M comes back to find its P gone, takes an
//! idle one if any, else puts its goroutine on the global queue and sleeps. With the OS model
//! the call's thread may wait for a CPU inside the call (a thread it woke preempts it on the
//! way out, as the kernel's resched at syscall exit does), and the call lasts that long.

use super::accounting::PMode;
use super::os::{Holder, Mid, PendingStep};
use super::proc::Runtime;
use super::runtime2::{GStatus, Gi, PStatus, Pi};
use super::trace::TraceEv;
use super::Ev;
use costream_sim::{Kernel, SimDuration, SimTime};

/// `forcePreemptNS`'s sibling in `retake`: a P in a system call with nothing queued is left
/// alone while others are idle, until the call has lasted 10 ms.
const SYSCALL_IDLE_RETAKE: SimDuration = SimDuration::from_millis(10);

/// The shortest system call sysmon can retake: it must see the same `syscalltick` on two
/// turns, at least `usleep(20)` apart. Shorter calls without the OS model are charged
/// inline: nothing could observe them.
pub(crate) const SYSMON_MIN_DELAY: SimDuration = SimDuration::from_micros(20);

/// An M in a system call (`m.oldp`, `m.curg`, `m.syscalltick` of Go's M).
#[derive(Clone, Copy, Debug)]
pub(crate) struct InSyscall {
    g: Gi,
    /// The P it entered with; still its own unless sysmon took it.
    oldp: Pi,
    /// Its thread (OS model).
    m: Option<Mid>,
    /// The end of its kernel work, which the OS model moves while the thread waits for a CPU.
    end: PendingStep,
    gen: u32,
}

impl Runtime {
    /// The running goroutine makes a system call of `d`: true when it yields to the
    /// scheduler (`Yield::Syscall`); false when it was charged inline, as a call shorter
    /// than a sysmon turn is when no OS model can stretch it.
    pub(crate) fn syscall_request(&mut self, k: &mut Kernel<Ev>, d: SimDuration) -> bool {
        let (_, g) = self.current();
        if self.os.is_none() && d < SYSMON_MIN_DELAY {
            let at = self.charge(d);
            self.entersyscall_wake_sysmon(k, at);
            return false;
        }
        self.allgs[g as usize].request = super::runtime2::Yield::Syscall(d);
        true
    }

    /// `reentersyscall`: the running `g` on `p` enters a system call at `at` whose kernel
    /// work takes `d`. Its P keeps the G (`_Psyscall` in 1.19), sysmon leaves its deep sleep
    /// (`entersyscallWakeSysmon`), and `Ev::ExitSyscall` ends the call.
    pub(super) fn reentersyscall(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        g: Gi,
        d: SimDuration,
        at: SimTime,
    ) {
        self.stats.syscalls += 1;
        self.set_status(g, GStatus::Syscall, at);
        let goid = self.allgs[g as usize].goid;
        self.trace(k, at, TraceEv::GoSyscallBegin, goid, p as u64);
        let pp = &mut self.allp[p as usize];
        pp.status = PStatus::Syscall;
        pp.gen = pp.gen.wrapping_add(1);
        pp.step.pending = false;
        let m = self.m_of_p.get(p as usize).copied().flatten();
        let s = InSyscall {
            g,
            oldp: p,
            m,
            end: PendingStep::default(),
            gen: 0,
        };
        let slot = match self.syscalls_free.pop() {
            Some(i) => {
                let gen = self.syscalls[i as usize].gen.wrapping_add(1);
                self.syscalls[i as usize] = InSyscall { gen, ..s };
                i
            }
            None => {
                self.syscalls.push(s);
                self.syscalls.len() as u32 - 1
            }
        };
        if let (Some(m), Some(mut os)) = (m, self.os_mut()) {
            os.set_holder(m, Holder::Syscall(slot));
        }
        self.entersyscall_wake_sysmon(k, at);
        self.post_exitsyscall(k, slot, at + d);
    }

    fn post_exitsyscall(&mut self, k: &mut Kernel<Ev>, slot: u32, at: SimTime) {
        let s = &mut self.syscalls[slot as usize];
        s.gen = s.gen.wrapping_add(1);
        s.end.post(at, k.now());
        k.schedule(
            at,
            Ev::ExitSyscall {
                host: self.host,
                slot,
                gen: s.gen,
            },
        );
    }

    /// `Ev::ExitSyscall`: the kernel work of the call in `slot` is done. With its thread on a
    /// CPU, `exitsyscall` runs: the G goes on on its own P if sysmon left it, else on an idle
    /// P (`exitsyscallTryGetP`), else it is queued globally and its M sleeps
    /// (`exitsyscallNoP`). Returns the G to poll now.
    pub(crate) fn exitsyscall(
        &mut self,
        k: &mut Kernel<Ev>,
        slot: u32,
        gen: u32,
    ) -> Option<(Pi, Gi)> {
        let s = self.syscalls[slot as usize];
        if s.gen != gen || !s.end.pending {
            return None;
        }
        let now = k.now();
        if let Some(until) = self.frozen_until(now) {
            // The world is stopped: the call returns into Go code when it restarts.
            self.post_exitsyscall(k, slot, until);
            return None;
        }
        if let Some(m) = s.m {
            if !self.os_mut().is_some_and(|os| os.is_running(m)) {
                // Its thread waits for a CPU: `os_resume` posts the end again.
                return None;
            }
            self.cur_m = Some(m);
        }
        self.syscalls[slot as usize].end.pending = false;
        self.syscalls_free.push(slot);
        let (g, p) = (s.g, s.oldp);
        let goid = self.allgs[g as usize].goid;
        let pp = &mut self.allp[p as usize];
        if pp.status == PStatus::Syscall && pp.curg == Some(g) {
            pp.status = PStatus::Running;
            pp.syscalltick = pp.syscalltick.wrapping_add(1);
            if let (Some(m), Some(mut os)) = (s.m, self.os_mut()) {
                os.set_holder(m, Holder::P(p));
            }
            self.set_status(g, GStatus::Running, now);
            self.trace(k, now, TraceEv::GoSyscallEnd, goid, p as u64);
            return Some((p, g));
        }
        if let Some(q) = self.pidleget(now) {
            // exitsyscallTryGetP: an idle P; sysmon may be asleep with every P idle.
            self.entersyscall_wake_sysmon(k, now);
            self.os_acquirep(q, s.m);
            let qp = &mut self.allp[q as usize];
            qp.curg = Some(g);
            qp.syscalltick = qp.syscalltick.wrapping_add(1);
            self.p_mode(q, PMode::User, now);
            self.set_status(g, GStatus::Running, now);
            self.trace(k, now, TraceEv::GoSyscallEndBlocked, goid, q as u64);
            return Some((q, g));
        }
        // exitsyscallNoP: no P; the G waits on the global queue, the M stops.
        self.set_status(g, GStatus::Runnable, now);
        self.trace(k, now, TraceEv::GoSyscallEndBlocked, goid, u64::MAX);
        self.globrunqput(g);
        self.os_stopm(k, s.m, now);
        self.stopm(k, now);
        None
    }

    /// A thread in a system call got its CPU back: the rest of its kernel work follows.
    pub(super) fn syscall_resumed(
        &mut self,
        k: &mut Kernel<Ev>,
        slot: u32,
        off_since: SimTime,
        at: SimTime,
    ) {
        let end = self.syscalls[slot as usize].end;
        if end.pending {
            self.post_exitsyscall(k, slot, at + end.owed(off_since));
        }
    }

    /// Ms in system calls now.
    pub(crate) fn in_syscall(&self) -> usize {
        self.syscalls.len() - self.syscalls_free.len()
    }

    /// The system-call half of `retake` for P `p` (in a call): take it once sysmon has seen
    /// the same call on two turns (`sysretake`: or its time slice is over), unless it has
    /// nothing queued while other Ps are idle or Ms spin, for up to 10 ms; then `handoffp`.
    /// Returns whether it took the P.
    pub(super) fn retake_syscall(
        &mut self,
        k: &mut Kernel<Ev>,
        p: Pi,
        sysretake: bool,
        now: SimTime,
    ) -> bool {
        let pp = &mut self.allp[p as usize];
        let t = pp.syscalltick;
        if !sysretake && pp.sysmontick.syscalltick != t {
            pp.sysmontick.syscalltick = t;
            pp.sysmontick.syscallwhen = now;
            return false;
        }
        let runqempty = pp.runq.is_empty() && pp.runnext.is_none();
        let young = pp.sysmontick.syscallwhen + SYSCALL_IDLE_RETAKE > now;
        if runqempty && self.nmspinning + self.npidle() > 0 && young {
            return false;
        }
        self.take_p(p);
        self.stats.syscall_retakes += 1;
        self.trace(k, now, TraceEv::ProcSteal, p as u64, u64::MAX);
        self.handoffp(k, p, now);
        true
    }

    /// `takeP` (1.27; 1.19's CAS from `_Psyscall`): P `p` leaves its call's M, which goes on
    /// in the kernel with its G, and is idle until it is handed on; the call's `exitsyscall`
    /// will find it gone.
    pub(super) fn take_p(&mut self, p: Pi) {
        let pp = &mut self.allp[p as usize];
        debug_assert_eq!(
            pp.status,
            PStatus::Syscall,
            "takeP of a P in no system call"
        );
        pp.status = PStatus::Idle;
        pp.curg = None;
        pp.syscalltick = pp.syscalltick.wrapping_add(1);
        self.os_releasep(p);
    }

    /// `handoffp`: P `p`, without an M, gets one if `findRunnable` would find work on it, or
    /// to spin when nobody else does, or to poll the network when nobody does and it is the
    /// last running P; otherwise it goes idle and the network poller wakes for its timers.
    pub(super) fn handoffp(&mut self, k: &mut Kernel<Ev>, p: Pi, at: SimTime) {
        let pp = &self.allp[p as usize];
        let local = !pp.runq.is_empty() || pp.runnext.is_some();
        let gc_work = self.gc_phase() == super::mgc::GcPhase::Mark
            && (self.gc.dedicated_needed > 0 || self.gc.pacer.fractional_goal > 0.0);
        let start = if local || !self.global.is_empty() || gc_work {
            Some(false)
        } else if self.nmspinning + self.npidle() == 0 {
            self.nmspinning = 1;
            self.needspinning = false;
            self.stats.spinning_starts += 1;
            Some(true)
        } else if self.npidle() == self.cfg.gomaxprocs - 1 && self.poller.is_none() {
            Some(false)
        } else {
            None
        };
        if let Some(spinning) = start {
            self.acquire_idle(p, at);
            self.startm(k, p, spinning, at);
            return;
        }
        let when = self.allp[p as usize].timers.next_when();
        self.pidleput(p, at);
        if let Some(w) = when {
            self.wake_net_poller(k, w, at);
        }
    }
}
