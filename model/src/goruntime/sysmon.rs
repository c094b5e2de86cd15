//! The system monitor, after `sysmon`, `retake` and `preemptone` in `src/runtime/proc.go`:
//! a thread without a P that wakes every 20 us to 10 ms, polls the network when nobody has,
//! and asks Gs that have run for 10 ms (`forcePreemptNS`) to stop. What the request does when
//! it lands is in `preempt.rs`.

use super::mgc::WorkerMode;
use super::netpoll::NetpollDelay;
use super::os::{Holder, Mid, Woken};
use super::proc::{Runtime, FORCE_GC_PERIOD, FORCE_PREEMPT};
use super::runtime2::{PStatus, Pi};
use super::trace::TraceEv;
use super::Ev;
use costream_sim::{Kernel, SimDuration, SimTime};

/// sysmon's loop variables (`idle`, `delay`), the generation of its pending wake-up, and with
/// the OS model its thread.
#[derive(Default)]
pub(super) struct SysmonState {
    pub(super) idle: u32,
    pub(super) delay: SimDuration,
    pub(super) gen: u32,
    /// `sched.sysmonwait`: in its deep sleep (`notetsleep(&sched.sysmonnote)`), which the next
    /// syscall ends.
    wait: bool,
    /// `notetsleep` returned true: a `notewakeup` ended the deep sleep, not its timeout; and
    /// the thread that called it.
    note_wake: Option<Option<Mid>>,
    /// `newm(sysmon, nil, -1)`: its thread, a kernel thread without a P.
    thread: Option<Mid>,
    phase: SysmonPhase,
}

/// Where sysmon's thread is in its loop (with the OS model; without it, always `Asleep` and
/// a turn costs no CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum SysmonPhase {
    /// In `usleep` or `notetsleep`: the pending `Ev::Sysmon` ends the sleep.
    #[default]
    Asleep,
    /// Woken, the turn (`deep`: the rest of the turn after a deep sleep) waits for a CPU.
    Woken { deep: bool },
    /// On a CPU for its turn (`sysmon_run`), then it sleeps for `sleep`.
    Running { sleep: SimDuration, deep: bool },
}

impl Runtime {
    /// `newm(sysmon, ...)` in `runtime.main`: sysmon's first `usleep(20)` starts now.
    pub(crate) fn start_sysmon(&mut self, k: &mut Kernel<Ev>) {
        if self.cfg.sysmon {
            let now = k.now();
            let host = self.host;
            self.sysmon.thread = self
                .os
                .as_ref()
                .map(|os| os.borrow_mut().new_thread(host, Holder::Sysmon));
            self.sysmon.delay = SimDuration::from_micros(20);
            let at = now + self.sysmon.delay + self.os_costs().map_or(SimDuration::ZERO, |c| c.1);
            k.schedule(
                at,
                Ev::Sysmon {
                    host: self.host,
                    gen: self.sysmon.gen,
                    deep: false,
                },
            );
        }
    }

    /// The wake-up half of `reentersyscall` (1.27 `entersyscallWakeSysmon`, 1.19
    /// `entersyscall_sysmon`, runtime/proc.go): a goroutine entering a system call (a socket
    /// read or write) at `at` ends sysmon's deep sleep, so that it can retake the P if the call
    /// blocks.
    pub(crate) fn entersyscall_wake_sysmon(&mut self, k: &mut Kernel<Ev>, at: SimTime) {
        let s = &mut self.sysmon;
        if !s.wait {
            return;
        }
        s.wait = false;
        s.note_wake = Some(self.cur_m);
        match s.phase {
            // `notewakeup` before its `notetsleep`: the sleep returns at once.
            SysmonPhase::Running { deep, .. } => {
                s.phase = SysmonPhase::Running {
                    sleep: SimDuration::ZERO,
                    deep,
                };
            }
            SysmonPhase::Asleep => {
                s.gen += 1;
                let gen = s.gen;
                k.schedule(
                    at.max(k.now()),
                    Ev::Sysmon {
                        host: self.host,
                        gen,
                        deep: true,
                    },
                );
            }
            // Its timeout fired but it has not run yet: `notetsleep` finds the note set and
            // returns true all the same.
            SysmonPhase::Woken { .. } => {}
        }
    }

    /// sysmon sleeps for `d` (`usleep`, or with `deep` its `notetsleep`) after a turn: with
    /// the OS model its thread first runs for `sysmon_run`, and a timed sleep ends
    /// `timer_slack` late.
    fn sysmon_sleep(&mut self, k: &mut Kernel<Ev>, gen: u32, d: SimDuration, deep: bool) {
        let now = k.now();
        let host = self.host;
        let (Some(m), Some((run, slack))) = (self.sysmon.thread, self.os_costs()) else {
            k.schedule(now + d, Ev::Sysmon { host, gen, deep });
            return;
        };
        if run.is_zero() {
            self.sysmon_block(k, m, gen, d, slack, deep);
        } else {
            self.sysmon.phase = SysmonPhase::Running { sleep: d, deep };
            k.schedule(now + run, Ev::Sysmon { host, gen, deep });
        }
    }

    /// sysmon's thread `m` goes to sleep for `sleep` now: a timed sleep ends `slack` late, a
    /// zero one (its note already set) at once.
    fn sysmon_block(
        &mut self,
        k: &mut Kernel<Ev>,
        m: Mid,
        gen: u32,
        sleep: SimDuration,
        slack: SimDuration,
        deep: bool,
    ) {
        let now = k.now();
        self.sysmon.phase = SysmonPhase::Asleep;
        self.os_block(k, m, Holder::Sysmon, now);
        let at = if sleep.is_zero() {
            now
        } else {
            now + sleep + slack
        };
        let host = self.host;
        k.schedule(at, Ev::Sysmon { host, gen, deep });
    }

    /// With the OS model, moves sysmon's thread along its loop at the `Ev::Sysmon` of `gen`:
    /// true when its turn runs now. A sleep that ends wakes the thread (a timeout has no
    /// waker; a `notewakeup` is the syscall's thread's); a turn whose CPU time is over
    /// sleeps.
    fn sysmon_thread_step(&mut self, k: &mut Kernel<Ev>, gen: u32, deep: bool) -> bool {
        let Some(m) = self.sysmon.thread else {
            return true;
        };
        let now = k.now();
        let host = self.host;
        match self.sysmon.phase {
            SysmonPhase::Asleep => {
                let waker = self.sysmon.note_wake.flatten();
                let Some(w) = self.os_mut().map(|mut os| os.wake(m, waker, now)) else {
                    return true;
                };
                self.os_arm_ticks(k, now);
                self.sysmon.phase = SysmonPhase::Woken { deep };
                match w {
                    Woken::Running { at, .. } if at > now => {
                        k.schedule(at, Ev::Sysmon { host, gen, deep });
                        false
                    }
                    Woken::Running { .. } => true,
                    Woken::Queued => false,
                }
            }
            SysmonPhase::Woken { .. } => self.os_mut().is_none_or(|os| os.is_running(m)),
            SysmonPhase::Running { sleep, deep } => {
                if self.os_mut().is_some_and(|os| os.is_running(m)) {
                    let slack = self.os_costs().map_or(SimDuration::ZERO, |c| c.1);
                    self.sysmon_block(k, m, gen, sleep, slack, deep);
                }
                false
            }
        }
    }

    /// sysmon's thread got a CPU back (`Runtime::os_resume`): what it was doing goes on now.
    pub(super) fn sysmon_resumed(&mut self, k: &mut Kernel<Ev>, at: SimTime) {
        let deep = match self.sysmon.phase {
            SysmonPhase::Asleep => return,
            SysmonPhase::Woken { deep } | SysmonPhase::Running { deep, .. } => deep,
        };
        // A step posted before it lost the CPU is stale.
        self.sysmon.gen += 1;
        k.schedule(
            at,
            Ev::Sysmon {
                host: self.host,
                gen: self.sysmon.gen,
                deep,
            },
        );
    }

    /// `sysmon` (runtime/proc.go): one turn of its loop, run by the `Ev::Sysmon` that ends its
    /// `usleep(delay)`: update the GC CPU limiter, sleep deeply while every P is idle, poll the
    /// network (`netpoll(0)`) if nobody has for 10 ms, `retake`, then sleep 20 us, doubling
    /// after 50 idle turns up to 10 ms.
    pub(crate) fn sysmon(&mut self, k: &mut Kernel<Ev>, gen: u32, after_deep: bool) {
        if gen != self.sysmon.gen {
            return;
        }
        let now = k.now();
        if let Some(until) = self.frozen_until(now) {
            k.schedule(
                until,
                Ev::Sysmon {
                    host: self.host,
                    gen,
                    deep: after_deep,
                },
            );
            return;
        }
        if !self.sysmon_thread_step(k, gen, after_deep) {
            return;
        }
        self.stats.sysmon_wakeups += 1;
        if after_deep {
            // After `notetsleep`: a wake-up by a syscall resets `idle` and `delay`.
            self.sysmon.wait = false;
            if self.sysmon.note_wake.take().is_some() {
                self.sysmon.idle = 0;
                self.sysmon.delay = SimDuration::from_micros(20);
            }
        }
        if self.gc_phase() == super::mgc::GcPhase::Mark
            && self.gc.limiter.needs_update(now.as_nanos())
        {
            self.limiter_update(now, false);
        }
        if !after_deep && self.npidle() == self.cfg.gomaxprocs {
            let next = self.earliest_timer().unwrap_or(SimTime::MAX);
            if next > now {
                let sleep =
                    (FORCE_GC_PERIOD.as_nanos() / 2).min(next.saturating_since(now).as_nanos());
                self.sysmon.wait = true;
                self.sysmon_sleep(k, gen, SimDuration::from_nanos(sleep), true);
                return;
            }
        }
        if self.poller.is_none()
            && self.netpoll_waiters > 0
            && self.lastpoll + SimDuration::from_millis(10) < now
        {
            self.lastpoll = now;
            let list = self.netpoll(k, NetpollDelay::Zero, now);
            self.injectglist(k, list, None, now);
        }
        if self.retake(k, now) != 0 {
            self.sysmon.idle = 0;
        } else {
            self.sysmon.idle += 1;
        }
        let s = &mut self.sysmon;
        if s.idle == 0 {
            s.delay = SimDuration::from_micros(20);
        } else if s.idle > 50 {
            s.delay = s.delay * 2;
        }
        s.delay = s.delay.min(SimDuration::from_millis(10));
        let d = s.delay;
        self.trace(k, now, TraceEv::Sysmon, d.as_nanos(), 0);
        self.sysmon_sleep(k, gen, d, false);
    }

    /// `retake`: preempt a G that has run for `forcePreemptNS` since sysmon first saw its P's
    /// `schedtick`, and take Ps from Ms in system calls (`retake_syscall`; a G in the kernel
    /// cannot be preempted, so its slice running out takes the P too). Returns the number of
    /// Ps taken, so preemptions alone let sysmon back off, as in Go.
    fn retake(&mut self, k: &mut Kernel<Ev>, now: SimTime) -> u32 {
        let mut n = 0;
        // sysmon's thread wakes the Ms `handoffp` starts.
        let caller = self.cur_m;
        if self.sysmon.thread.is_some() {
            self.cur_m = self.sysmon.thread;
        }
        for p in 0..self.allp.len() as Pi {
            let pp = &mut self.allp[p as usize];
            let st = pp.status;
            if st != PStatus::Running && st != PStatus::Syscall {
                continue;
            }
            let t = pp.schedtick;
            let mut sysretake = false;
            if pp.sysmontick.schedtick != t {
                pp.sysmontick.schedtick = t;
                pp.sysmontick.schedwhen = now;
            } else if pp.sysmontick.schedwhen + FORCE_PREEMPT <= now {
                let dedicated = pp.worker == Some(WorkerMode::Dedicated);
                match st {
                    PStatus::Syscall => {}
                    _ if dedicated => self.preempt_dedicated_worker(k, p, now),
                    _ => self.preemptone(k, p, now),
                }
                sysretake = true;
            }
            if st == PStatus::Syscall && self.retake_syscall(k, p, sysretake, now) {
                n += 1;
            }
        }
        self.cur_m = caller;
        n
    }

    /// `preemptone`: signal the G running on `p`; it stops at its next async safe point.
    fn preemptone(&mut self, k: &mut Kernel<Ev>, p: Pi, now: SimTime) {
        let pp = &mut self.allp[p as usize];
        // pp.preempt = true even between two goroutines of the slice: the model hands the P
        // from one to the next through a scheduling step in which it has no curg, where Go's
        // M would already be running the next one.
        pp.preempt = true;
        let Some(g) = pp.curg else { return };
        // gp.preempt = true; the signal follows.
        self.allgs[g as usize].preempt = true;
        k.schedule(
            now + self.cfg.costs.preempt_signal,
            Ev::Preempt {
                host: self.host,
                p,
                g,
            },
        );
    }
}
