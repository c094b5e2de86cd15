//! Datagram descriptors and the netpoller, after `src/runtime/netpoll.go`.
//!
//! A goroutine reading an empty descriptor parks in "IO wait" (`netpollblock`). When a datagram
//! arrives the descriptor becomes ready (`netpollready`), but the goroutine runs only once some M
//! calls `netpoll`: the M blocked in it (woken after the epoll latency), a P in `findRunnable`
//! (`netpoll(0)`, step 9) or sysmon when nobody has polled for 10 ms.

use super::chan::{complete, OpState, SudogSlot};
use super::proc::{Poller, Runtime, NETPOLL_MAX_EVENTS};
use super::runtime2::{GStatus, Gi, Pi, WaitReason};
use super::trace::TraceEv;
use super::{Core, Ev, Go};
use costream_sim::{Kernel, SimDuration, SimTime};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

struct FdInner<T> {
    host: u32,
    queue: VecDeque<T>,
    /// `pd.rg`: the goroutine parked reading.
    rg: Option<Gi>,
    delivered: u64,
    /// The write lock of `FD.writeLock` (internal/poll `fdMutex`) and the goroutines queued
    /// on its semaphore (`wsema`), FIFO.
    wlock: bool,
    wwait: VecDeque<Gi>,
}

/// A datagram socket on one host. Cloning yields the same descriptor.
pub struct Fd<T> {
    inner: Rc<RefCell<FdInner<T>>>,
}

impl<T> Clone for Fd<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> Fd<T> {
    pub(crate) fn new(host: u32) -> Self {
        Self {
            inner: Rc::new(RefCell::new(FdInner {
                host,
                queue: VecDeque::new(),
                rg: None,
                delivered: 0,
                wlock: false,
                wwait: VecDeque::new(),
            })),
        }
    }

    /// `fdMutex.rwlock(false)` for `g`: true when it holds the write lock now; else it is
    /// queued on the lock's semaphore (`runtime_Semacquire(&mu.wsema)`) and must park.
    pub(crate) fn write_lock(&self, g: Gi) -> bool {
        let mut f = self.inner.borrow_mut();
        if !f.wlock {
            f.wlock = true;
            return true;
        }
        f.wwait.push_back(g);
        false
    }

    /// `fdMutex.rwunlock(false)`: the lock is free; the first queued writer, if any, is to be
    /// readied (`runtime_Semrelease`), and tries again when it runs.
    pub(crate) fn write_unlock(&self) -> Option<Gi> {
        let mut f = self.inner.borrow_mut();
        debug_assert!(f.wlock, "poll: unlock of an unlocked write lock");
        f.wlock = false;
        f.wwait.pop_front()
    }

    /// A datagram arrives from the network (called by non-goroutine model code, such as a link
    /// or a remote peer). A parked reader is marked ready for the next `netpoll`.
    pub fn deliver(&self, core: &mut Core, v: T) {
        self.deliver_from(core, v, None);
    }

    /// [`Fd::deliver`] of a datagram host `from` sent: on loopback, when `from` is a process
    /// of the same machine (OS model), the wake-up of epoll_wait comes from its running thread.
    pub fn deliver_from(&self, core: &mut Core, v: T, from: Option<u32>) {
        let mut f = self.inner.borrow_mut();
        f.queue.push_back(v);
        f.delivered += 1;
        if let Some(g) = f.rg.take() {
            let host = f.host as usize;
            drop(f);
            let now = core.kernel.now();
            let waker = from.and_then(|h| {
                let (src, dst) = (core.rts.get(h as usize)?, &core.rts[host]);
                let same = matches!((&src.os, &dst.os), (Some(a), Some(b)) if Rc::ptr_eq(a, b));
                src.cur_m.filter(|_| same)
            });
            core.rts[host].netpollready(&mut core.kernel, g, now, waker);
        }
    }

    /// Datagrams waiting to be read.
    pub fn queued(&self) -> usize {
        self.inner.borrow().queue.len()
    }

    /// Datagrams delivered so far.
    pub fn delivered(&self) -> u64 {
        self.inner.borrow().delivered
    }

    /// Reads one datagram, parking in "IO wait" while none is queued.
    pub fn read<'a>(&'a self, go: &'a Go) -> Read<'a, T> {
        Read(ReadOp {
            fd: self,
            go,
            max: 1,
            take: take_one,
            state: OpState::Start(None),
        })
    }

    /// `recvmmsg`: one wake-up drains up to `max` datagrams (§4.2's batching), for one
    /// system call plus a smaller cost per datagram.
    pub fn read_batch<'a>(&'a self, go: &'a Go, max: usize) -> ReadBatch<'a, T> {
        ReadBatch(ReadOp {
            fd: self,
            go,
            max: max.max(1),
            take: take_many,
            state: OpState::Start(None),
        })
    }
}

fn take_one<T>(q: &mut VecDeque<T>, _: usize) -> T {
    q.pop_front().expect("queue is not empty")
}

fn take_many<T>(q: &mut VecDeque<T>, max: usize) -> Vec<T> {
    let n = q.len().min(max);
    q.drain(..n).collect()
}

/// A socket read that takes what `take` extracts from a non-empty queue.
struct ReadOp<'a, T, R> {
    fd: &'a Fd<T>,
    go: &'a Go,
    max: usize,
    take: fn(&mut VecDeque<T>, usize) -> R,
    state: OpState<T, R>,
}

impl<T: 'static, R> ReadOp<'_, T, R> {
    /// Takes queued datagrams, or parks in "IO wait" (`netpollblock`).
    fn poll_read(&mut self) -> Poll<R> {
        match &mut self.state {
            OpState::Start(_) | OpState::Parked(_) => {
                let (fd, max, take) = (self.fd, self.max, self.take);
                let state = &mut self.state;
                let r = self.go.with_rt(|rt, k| {
                    let (_, g) = rt.current();
                    // read(2) first, whether or not it will find data (EAGAIN).
                    let at = rt.local_now;
                    rt.entersyscall_wake_sysmon(k, at);
                    let mut f = fd.inner.borrow_mut();
                    if f.queue.is_empty() {
                        f.rg = Some(g);
                        rt.netpoll_waiters += 1;
                        rt.gopark(g, WaitReason::IoWait);
                        return None;
                    }
                    let before = f.queue.len();
                    let got = take(&mut f.queue, max);
                    let n = (before - f.queue.len()) as u64;
                    drop(f);
                    let c = if max == 1 {
                        rt.costs().fd_read
                    } else {
                        rt.costs().fd_read_batch_base + rt.costs().fd_read_batched * n
                    };
                    rt.charge(c);
                    Some(complete(rt, state, got))
                });
                match r {
                    Some(p) => p,
                    None => {
                        self.state = OpState::Parked(SudogSlot::new(None));
                        Poll::Pending
                    }
                }
            }
            OpState::Yielded(v) => Poll::Ready(v.take().expect("value")),
        }
    }
}

/// Future of [`Fd::read`].
pub struct Read<'a, T>(ReadOp<'a, T, T>);

impl<T, R> Unpin for ReadOp<'_, T, R> {}

impl<T: 'static> Future for Read<'_, T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        self.get_mut().0.poll_read()
    }
}

/// Future of [`Fd::read_batch`].
pub struct ReadBatch<'a, T>(ReadOp<'a, T, Vec<T>>);

impl<T: 'static> Future for ReadBatch<'_, T> {
    type Output = Vec<T>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Vec<T>> {
        self.get_mut().0.poll_read()
    }
}

/// `netpoll`'s delay.
#[derive(Clone, Copy, Debug)]
pub(super) enum NetpollDelay {
    /// `netpoll(0)`: what is ready now.
    Zero,
    /// Block until `until` (`None`: forever, Go's `delay < 0`). `was_spinning` is
    /// findRunnable's, kept for when the M returns.
    Block {
        until: Option<SimTime>,
        was_spinning: bool,
    },
}

/// The netpoller's side of the scheduler (proc.go's callers of netpoll, netpoll.go).
impl Runtime {
    /// `injectglist`: make netpoll'd Gs runnable. One G per idle P goes to the global queue (and
    /// an M is started for it); the rest to `p`'s local tail. With no P, all go global.
    pub(crate) fn injectglist(
        &mut self,
        k: &mut Kernel<Ev>,
        list: Vec<Gi>,
        p: Option<Pi>,
        at: SimTime,
    ) {
        if list.is_empty() {
            return;
        }
        for &g in &list {
            self.set_status(g, GStatus::Runnable, at);
            let goid = self.allgs[g as usize].goid;
            self.trace(k, at, TraceEv::GoUnblock, goid, u64::MAX);
        }
        let Some(p) = p else {
            let n = list.len();
            for g in list {
                self.globrunqput(g);
            }
            self.kick_idle_worker(k, at);
            self.start_idle(k, n, at);
            return;
        };
        let n = (self.npidle() as usize).min(list.len());
        let mut it = list.into_iter();
        for g in it.by_ref().take(n) {
            self.globrunqput(g);
        }
        self.start_idle(k, n, at);
        let mut t = at;
        for g in it {
            self.runqput(p, g, false, &mut t);
        }
        self.wakep(k, at);
    }

    // ---- netpoll ----

    /// `netpoll(delay)` (netpoll_epoll.go), as findRunnable and sysmon call it: the Gs whose
    /// descriptors are ready, at most 128 (`NETPOLL_MAX_EVENTS`).
    ///
    /// [`NetpollDelay::Zero`] returns them now. [`NetpollDelay::Block`] is findRunnable's
    /// blocking poll: this M sleeps in epoll_wait until the next timer (`until`) or until woken
    /// (`netpollBreak`, or a descriptor becoming ready). epoll's timeout is in whole
    /// milliseconds: `delay < 1ms` waits 1 ms and longer delays are truncated, so an idle
    /// process's timers fire late or loop. The call returns at once with no Gs; the M comes back
    /// in [`Runtime::netpoll_wake`] with what epoll_wait returned.
    pub(super) fn netpoll(
        &mut self,
        k: &mut Kernel<Ev>,
        delay: NetpollDelay,
        t: SimTime,
    ) -> Vec<Gi> {
        match delay {
            NetpollDelay::Zero => {
                self.stats.netpolls += 1;
                self.netpoll_events()
            }
            NetpollDelay::Block {
                until,
                was_spinning,
            } => {
                self.netpoll_block(k, until, t, was_spinning);
                Vec::new()
            }
        }
    }

    /// `netpoll(delay)` with `delay != 0`: the M sleeps in epoll_wait (`sched.lastpoll = 0`,
    /// `sched.pollUntil = until`) until `Ev::NetpollWake`.
    fn netpoll_block(
        &mut self,
        k: &mut Kernel<Ev>,
        until: Option<SimTime>,
        t: SimTime,
        was_spinning: bool,
    ) {
        self.poller_gen = self.poller_gen.wrapping_add(1);
        self.stats.netpoll_blocks += 1;
        let wake_at = if !self.epoll_ready.is_empty() {
            t
        } else {
            match until {
                None => SimTime::MAX,
                Some(u) => {
                    let delay = u.saturating_since(t);
                    if delay.is_zero() {
                        t
                    } else {
                        t + epoll_timeout(delay) + self.epoll_wake(true)
                    }
                }
            }
        };
        self.poller = Some(Poller {
            until,
            wake_at,
            gen: self.poller_gen,
            was_spinning,
            cpu_wait: false,
            on_cpu: false,
            waker: None,
        });
        self.trace(
            k,
            t,
            TraceEv::NetpollBlock,
            until.map_or(u64::MAX, |u| u.as_nanos()),
            0,
        );
        if wake_at != SimTime::MAX {
            k.schedule(
                wake_at,
                Ev::NetpollWake {
                    host: self.host,
                    gen: self.poller_gen,
                },
            );
        }
    }

    /// The events epoll_wait returns: up to 128 ready descriptors, whose Gs leave the
    /// `netpollWaiters` count (`netpollAdjustWaiters`).
    fn netpoll_events(&mut self) -> Vec<Gi> {
        let n = self.epoll_ready.len().min(NETPOLL_MAX_EVENTS);
        // `netpollAdjustWaiters` throws on a negative count; so does the model.
        self.netpoll_waiters = self
            .netpoll_waiters
            .checked_sub(n as u32)
            .expect("runtime: negative netpollWaiters");
        self.epoll_ready.drain(..n).collect()
    }

    /// From epoll_wait's return (its `timeout`, or an event) until the M runs: the lumped
    /// `epoll_wake` cost; with the OS model the thread's wake-up is the OS model's, and only a
    /// timeout adds the timer slack.
    fn epoll_wake(&self, timeout: bool) -> SimDuration {
        match &self.os {
            Some(os) if timeout => os.borrow().cfg.timer_slack,
            Some(_) => SimDuration::ZERO,
            None => self.cfg.costs.epoll_wake,
        }
    }

    /// `netpollBreak`: wake the M blocked in netpoll (a new earlier timer, or I/O became ready;
    /// `waker` is the thread whose write did it). With the OS model the wake-up's cost is the
    /// OS model's; without it, the lumped `epoll_wake`.
    pub(crate) fn netpoll_break(&mut self, k: &mut Kernel<Ev>, at: SimTime) {
        self.netpoll_break_by(k, at, None);
    }

    fn netpoll_break_by(&mut self, k: &mut Kernel<Ev>, at: SimTime, waker: Option<super::os::Mid>) {
        let wake = at + self.epoll_wake(false);
        let Some(pl) = self.poller.as_mut() else {
            return;
        };
        if wake < pl.wake_at {
            pl.waker = waker;
            self.poller_gen = self.poller_gen.wrapping_add(1);
            pl.gen = self.poller_gen;
            pl.wake_at = wake;
            k.schedule(
                wake,
                Ev::NetpollWake {
                    host: self.host,
                    gen: self.poller_gen,
                },
            );
            if waker.is_some() {
                // `try_to_wake_up` runs in the writer's sendto, before it returns.
                self.netpoll_thread_runs(k, at);
            }
        }
    }

    /// `netpollready` (netpoll.go): the descriptor `g` is parked reading on became ready, so the
    /// next `netpoll` returns `g`. Go hears of it from epoll inside `netpoll`; the model queues
    /// `g` on epoll's ready list when the datagram lands and wakes a blocked poller, as the
    /// kernel wakes epoll_wait.
    pub(crate) fn netpollready(
        &mut self,
        k: &mut Kernel<Ev>,
        g: Gi,
        at: SimTime,
        waker: Option<super::os::Mid>,
    ) {
        self.epoll_ready.push_back(g);
        if self.poller.is_some() {
            self.netpoll_break_by(k, at, waker);
        }
    }

    /// The blocking `netpoll(delay)` returns (findRunnable after the call): take an idle P and
    /// run what epoll_wait returned, or go to the top of `findRunnable` with it; with no idle P,
    /// `injectglist` and `stopm`.
    pub(crate) fn netpoll_wake(&mut self, k: &mut Kernel<Ev>, gen: u32) -> Option<(Pi, Gi)> {
        let pl = match self.poller {
            Some(pl) if pl.gen == gen => pl,
            _ => return None,
        };
        let now = k.now();
        if let Some(until) = self.frozen_until(now) {
            if let Some(p) = self.poller.as_mut() {
                p.wake_at = until;
            }
            k.schedule(
                until,
                Ev::NetpollWake {
                    host: self.host,
                    gen,
                },
            );
            return None;
        }
        if !self.netpoll_thread_runs(k, now) {
            return None;
        }
        self.poller = None;
        self.lastpoll = now;
        self.trace(k, now, TraceEv::NetpollWake, 0, 0);
        let m = self.poller_m.take();
        self.cur_m = m;
        let mut list = self.netpoll_events();
        match self.pidleget(now) {
            Some(p) => {
                self.os_acquirep(p, m);
                if !list.is_empty() {
                    let g = list.remove(0);
                    self.injectglist(k, list, Some(p), now);
                    self.set_status(g, GStatus::Runnable, now);
                    return self.execute(k, p, g, false, now);
                }
                if pl.was_spinning {
                    self.become_spinning(p);
                }
                self.schedule(k, p, now)
            }
            None => {
                self.injectglist(k, list, None, now);
                self.stopm(k, now);
                self.os_stopm(k, m, now);
                None
            }
        }
    }
}

impl Runtime {
    /// The thread blocked in epoll_wait must have a CPU before `netpoll` returns (OS model):
    /// false while it waits for one (`os_resume` posts the wake-up again). An idle CPU costs
    /// nothing more here: `epoll_wake` is measured from an idle process.
    fn netpoll_thread_runs(&mut self, k: &mut Kernel<Ev>, now: SimTime) -> bool {
        let (Some(m), Some(pl)) = (self.poller_m, self.poller) else {
            return true;
        };
        let Some(os) = self.os.clone() else {
            return true;
        };
        if pl.on_cpu || os.borrow().is_running(m) {
            return true;
        }
        if pl.cpu_wait {
            return false;
        }
        // A datagram's arrival wakes epoll_wait as a sync wake-up from its sender's thread.
        let woken = if pl.waker.is_some() {
            os.borrow_mut().wake_sync(m, pl.waker, now)
        } else {
            os.borrow_mut().wake(m, None, now)
        };
        match woken {
            super::os::Woken::Running { at, .. } => {
                if let Some(pl) = self.poller.as_mut() {
                    pl.on_cpu = true;
                    if at > now {
                        // An idle CPU leaves its halt first.
                        pl.wake_at = at;
                        k.schedule(
                            at,
                            Ev::NetpollWake {
                                host: self.host,
                                gen: pl.gen,
                            },
                        );
                        return false;
                    }
                }
                true
            }
            super::os::Woken::Queued => {
                if let Some(pl) = self.poller.as_mut() {
                    pl.cpu_wait = true;
                }
                self.os_arm_ticks(k, now);
                false
            }
        }
    }
}

/// epoll_wait's timeout for a netpoll delay (netpoll_epoll.go: `netpoll`).
pub fn epoll_timeout(delay: SimDuration) -> SimDuration {
    let ns = delay.as_nanos();
    if ns < 1_000_000 {
        SimDuration::from_millis(1)
    } else if ns < 1_000_000_000_000_000 {
        SimDuration::from_millis(ns / 1_000_000)
    } else {
        SimDuration::from_secs(1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_timeouts_follow_netpoll_epoll() {
        let ms = SimDuration::from_millis;
        assert_eq!(epoll_timeout(SimDuration::from_micros(50)), ms(1));
        assert_eq!(epoll_timeout(SimDuration::from_micros(1500)), ms(1));
        assert_eq!(epoll_timeout(ms(20)), ms(20));
        assert_eq!(epoll_timeout(SimDuration::from_micros(20_700)), ms(20));
    }
}
