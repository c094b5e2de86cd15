//! The system monitor, after `sysmon`, `retake` and `preemptone` in `src/runtime/proc.go`:
//! a thread without a P that wakes every 20 us to 10 ms, polls the network when nobody has,
//! and asks Gs that have run for 10 ms (`forcePreemptNS`) to stop. What the request does when
//! it lands is in `preempt.rs`.

use super::mgc::WorkerMode;
use super::netpoll::NetpollDelay;
use super::proc::{Runtime, FORCE_GC_PERIOD, FORCE_PREEMPT};
use super::runtime2::{PStatus, Pi};
use super::trace::TraceEv;
use super::Ev;
use costream_sim::{Kernel, SimDuration, SimTime};

/// sysmon's loop variables (`idle`, `delay`) and the generation of its pending wake-up.
pub(super) struct SysmonState {
    pub(super) idle: u32,
    pub(super) delay: SimDuration,
    pub(super) gen: u32,
}

impl Runtime {
    /// `newm(sysmon, ...)` in `runtime.main`: sysmon's first `usleep(20)` starts now.
    pub(crate) fn start_sysmon(&mut self, k: &mut Kernel<Ev>) {
        if self.cfg.sysmon {
            self.sysmon.delay = SimDuration::from_micros(20);
            k.schedule(
                k.now() + self.sysmon.delay,
                Ev::Sysmon {
                    host: self.host,
                    gen: self.sysmon.gen,
                    deep: false,
                },
            );
        }
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
        self.stats.sysmon_wakeups += 1;
        self.os_sysmon_turn(k, now);
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
                k.schedule(
                    now + SimDuration::from_nanos(sleep),
                    Ev::Sysmon {
                        host: self.host,
                        gen,
                        deep: true,
                    },
                );
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
        k.schedule(
            now + d,
            Ev::Sysmon {
                host: self.host,
                gen,
                deep: false,
            },
        );
    }

    /// `retake`: preempt a G that has run for `forcePreemptNS` since sysmon first saw its P's
    /// `schedtick`. Returns the number of Ps retaken from syscalls (none are modelled yet), so
    /// preemptions alone let sysmon back off, as in Go.
    fn retake(&mut self, k: &mut Kernel<Ev>, now: SimTime) -> u32 {
        for p in 0..self.allp.len() as Pi {
            let pp = &mut self.allp[p as usize];
            if pp.status != PStatus::Running {
                continue;
            }
            let t = pp.schedtick;
            if pp.sysmontick.schedtick != t {
                pp.sysmontick.schedtick = t;
                pp.sysmontick.schedwhen = now;
            } else if pp.sysmontick.schedwhen + FORCE_PREEMPT <= now {
                if pp.worker == Some(WorkerMode::Dedicated) {
                    self.preempt_dedicated_worker(k, p, now);
                } else {
                    self.preemptone(k, p, now);
                }
            }
        }
        0
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
