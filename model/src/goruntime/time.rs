//! Timers, after `src/runtime/time.go`: per-P timer heaps, `time.Sleep`, `time.NewTimer`,
//! `time.NewTicker`, `time.After`.
//!
//! Timers live on the heap of the P that armed them and fire only when some P runs that heap:
//! in `findRunnable` (its own), in the last steal pass (another's), or after the M blocked in
//! netpoll wakes for the earliest one. A timer's goroutine is readied onto the P that ran it.
//! Timer channels hold one value; a tick that finds it full is dropped, as time.Ticker does.
//! From Go 1.23 (synchronous timer channels) a timer sends the time it was due, and Stop and
//! Reset discard a stale buffered value, reporting it as pending; before, it sent the time it
//! ran, and a stale value stayed in the channel ([`super::GoVersion`]). The heap
//! is Go's 4-ary one (`timerHeapN`); where Go breaks a tie between equal `when`s by heap
//! position, the model breaks it by arming order, so the result never depends on heap shape.

use super::chan::{Chan, SendOutcome};
use super::proc::Runtime;
use super::runtime2::{Gi, Pi, WaitReason};
use super::trace::TraceEv;
use super::{Ev, Go};
use costream_sim::{Kernel, SimDuration, SimTime};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) enum TimerKind {
    Free,
    /// `gp.timer` of a sleeping goroutine: `goroutineReady`.
    Sleep(Gi),
    /// `sendTime` on a timer's or ticker's channel.
    Chan(Chan<SimTime>),
    /// `time.AfterFunc`: `goFunc` starts a goroutine running this when the timer fires.
    Func(&'static str, Option<SpawnFn>),
}

/// Builds the future a timer's goroutine runs.
pub(crate) type SpawnFn = Box<dyn FnOnce(Go) -> costream_sim::task::BoxTask>;

pub(crate) struct TimerSlot {
    when: SimTime,
    period: SimDuration,
    kind: TimerKind,
    /// Bumped by Stop/Reset so heap entries of an older arming are skipped (zombies).
    version: u32,
    active: bool,
}

/// The runtime's timer table; heaps hold indices into it.
#[derive(Default)]
pub(crate) struct Timers {
    slots: Vec<TimerSlot>,
    free: Vec<u32>,
    seq: u64,
}

/// `timerHeapN`: the per-P timer heap is 4-ary, half as deep as a binary one, and the four
/// children of a node share a cache line or two.
const TIMER_HEAP_N: usize = 4;

/// `timerWhen`: a heap entry holds a copy of `when`, so sifting never touches the timer, and
/// the arming it belongs to (`version`), so an entry of a stopped or reset timer is a zombie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TimerWhen {
    when: SimTime,
    /// Arming order: the tie-break between equal `when`s.
    seq: u64,
    id: u32,
    version: u32,
}

impl Timers {
    /// The heap entry for timer `id` as armed now: its `when` and version, and the next
    /// arming sequence number.
    fn heap_entry(&mut self, id: u32) -> TimerWhen {
        self.seq += 1;
        let s = &self.slots[id as usize];
        TimerWhen {
            when: s.when,
            seq: self.seq,
            id,
            version: s.version,
        }
    }
}

/// A P's timer heap (`pp.timers`, `timers.heap`).
#[derive(Default)]
pub(crate) struct TimerHeap {
    heap: Vec<TimerWhen>,
}

impl TimerHeap {
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    /// `wakeTime`: when the earliest entry is due (it may be a zombie, as in Go).
    pub fn next_when(&self) -> Option<SimTime> {
        self.heap.first().map(|tw| tw.when)
    }

    fn push(&mut self, tw: TimerWhen) {
        self.heap.push(tw);
        self.sift_up(self.heap.len() - 1);
    }

    /// `timers.siftUp`.
    fn sift_up(&mut self, mut i: usize) {
        let tw = self.heap[i];
        while i > 0 {
            let p = (i - 1) / TIMER_HEAP_N;
            if tw >= self.heap[p] {
                break;
            }
            self.heap[i] = self.heap[p];
            i = p;
        }
        self.heap[i] = tw;
    }

    /// `timers.siftDown`.
    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let tw = self.heap[i];
        loop {
            let left = i * TIMER_HEAP_N + 1;
            if left >= n {
                break;
            }
            let mut c = left;
            for j in left + 1..(left + TIMER_HEAP_N).min(n) {
                if self.heap[j] < self.heap[c] {
                    c = j;
                }
            }
            if self.heap[c] >= tw {
                break;
            }
            self.heap[i] = self.heap[c];
            i = c;
        }
        self.heap[i] = tw;
    }

    /// `timers.deleteMin`.
    fn delete_min(&mut self) {
        let last = self.heap.pop().expect("deleteMin on an empty heap");
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0);
        }
    }

    /// `moveTimers`: every entry of this heap goes to `dst` (zombies are dropped later there).
    pub(crate) fn drain_into(&mut self, dst: &mut TimerHeap) {
        for tw in self.heap.drain(..) {
            dst.push(tw);
        }
    }

    /// Pops the next live expired timer, discarding zombies on the way (`cleanHead`).
    pub(crate) fn pop_expired(&mut self, now: SimTime, timers: &Timers) -> Option<u32> {
        while let Some(&tw) = self.heap.first() {
            let s = &timers.slots[tw.id as usize];
            if !s.active || s.version != tw.version || s.when != tw.when {
                self.delete_min();
                continue;
            }
            if tw.when > now {
                return None;
            }
            self.delete_min();
            return Some(tw.id);
        }
        None
    }
}

impl Runtime {
    fn timer_alloc(&mut self, kind: TimerKind) -> u32 {
        let slot = TimerSlot {
            when: SimTime::ZERO,
            period: SimDuration::ZERO,
            kind,
            version: 0,
            active: false,
        };
        if let Some(i) = self.timers.free.pop() {
            let v = self.timers.slots[i as usize].version.wrapping_add(1);
            self.timers.slots[i as usize] = TimerSlot { version: v, ..slot };
            i
        } else {
            self.timers.slots.push(slot);
            self.timers.slots.len() as u32 - 1
        }
    }

    fn timer_free(&mut self, id: u32) {
        let s = &mut self.timers.slots[id as usize];
        s.kind = TimerKind::Free;
        s.active = false;
        s.version = s.version.wrapping_add(1);
        self.timers.free.push(id);
    }

    /// `maybeAdd` + `wakeNetPoller`: arm timer `id` at `when` on P `p`. If it is now the earliest
    /// on that P, make sure an M will wait for it: break a netpoll sleeping too long, or wakep.
    pub(crate) fn timer_arm(
        &mut self,
        k: &mut Kernel<Ev>,
        id: u32,
        p: Pi,
        when: SimTime,
        period: SimDuration,
    ) {
        let at = self.charge(self.costs().timer_add);
        let s = &mut self.timers.slots[id as usize];
        s.version = s.version.wrapping_add(1);
        s.when = when;
        s.period = period;
        s.active = true;
        let tw = self.timers.heap_entry(id);
        let heap = &mut self.allp[p as usize].timers;
        let wake = heap.next_when().is_none_or(|w| when < w);
        heap.push(tw);
        if wake {
            self.wake_net_poller(k, when, at);
        }
    }

    /// `wakeNetPoller`.
    pub(super) fn wake_net_poller(&mut self, k: &mut Kernel<Ev>, when: SimTime, at: SimTime) {
        if self.poller_until().is_some() {
            if self.poller_until().unwrap().is_none_or(|u| u > when) {
                self.netpoll_break(k, at);
            }
        } else {
            self.wakep(k, at);
        }
    }

    /// Stops timer `id` (`t.stop`); true if it was armed. A stale buffered value is discarded.
    /// `t.stop()`. Go 1.23's `stop` and `modify` drain a value the timer sent and nobody
    /// received (`timerchandrain`, 1.27 runtime/time.go), and count it as pending: no stale
    /// value arrives after Stop or Reset returns. Go 1.19's `deltimer` left it in the channel
    /// (1.19 runtime/time.go, and time.Timer.Stop's doc: "to ensure the channel is empty after
    /// a call to Stop, check the return value and drain the channel").
    fn timer_stop(&mut self, id: u32) -> bool {
        let drains = self.cfg.go_version.at_least(super::GoVersion::GO1_23);
        let s = &mut self.timers.slots[id as usize];
        let mut was = s.active;
        s.active = false;
        s.version = s.version.wrapping_add(1);
        if let TimerKind::Func(_, f) = &mut s.kind {
            // A stopped AfterFunc never runs: drop its closure now.
            f.take();
        }
        if let (TimerKind::Chan(c), true) = (&s.kind, drains) {
            if let Some(cell) = &c.c {
                let mut cell = cell.borrow_mut();
                was |= !cell.buf.is_empty();
                cell.buf.clear();
            }
        }
        was
    }

    /// `pp.timers.check(now)`: run this P's expired timers; their Gs go to this P.
    pub(super) fn check_timers(&mut self, k: &mut Kernel<Ev>, p: Pi, t: &mut SimTime) {
        self.run_timers_of(k, p, p, t);
    }

    /// Runs `owner`'s expired timers on P `runner` (a thief runs a victim's timers).
    pub(super) fn run_timers_of(
        &mut self,
        k: &mut Kernel<Ev>,
        owner: Pi,
        runner: Pi,
        t: &mut SimTime,
    ) {
        loop {
            let now = *t;
            let Some(id) = self.allp[owner as usize]
                .timers
                .pop_expired(now, &self.timers)
            else {
                break;
            };
            *t += self.cfg.costs.timer_fire;
            self.stats.timers_fired += 1;
            self.trace(k, now, TraceEv::TimerFire, id as u64, runner as u64);
            self.fire_timer(k, id, owner, runner, now);
        }
    }

    /// Runs a fired timer on P `runner` (`t.unlockAndRun`).
    pub(crate) fn fire_timer(
        &mut self,
        k: &mut Kernel<Ev>,
        id: u32,
        owner: Pi,
        runner: Pi,
        now: SimTime,
    ) {
        let s = &self.timers.slots[id as usize];
        match &s.kind {
            TimerKind::Free => {}
            TimerKind::Sleep(g) => {
                let g = *g;
                self.timer_free(id);
                self.goready(k, g, runner, now);
            }
            TimerKind::Func(..) => {
                let TimerKind::Func(name, f) =
                    std::mem::replace(&mut self.timers.slots[id as usize].kind, TimerKind::Free)
                else {
                    unreachable!()
                };
                self.timer_free(id);
                if let Some(f) = f {
                    self.spawn_from_runtime(k, name, f, runner, now);
                }
            }
            TimerKind::Chan(c) => {
                let c = c.clone();
                let (when, period) = (s.when, s.period);
                if period.is_zero() {
                    self.timers.slots[id as usize].active = false;
                } else {
                    // t.when += t.period * (1 + -delay/t.period): skip missed ticks.
                    let late = now.saturating_since(when).as_nanos() / period.as_nanos();
                    let next = when + period * (1 + late);
                    self.timers.slots[id as usize].when = next;
                    let tw = self.timers.heap_entry(id);
                    self.allp[owner as usize].timers.push(tw);
                }
                // sendTime: a non-blocking send, dropped if full, of the time the timer was due
                // (`Now().Add(-delta)`, Go 1.23 time/sleep.go) or of the time it ran
                // (`Now()`, 1.19).
                let value = if self.cfg.go_version.at_least(super::GoVersion::GO1_23) {
                    when
                } else {
                    now
                };
                let saved = self.local_now;
                self.local_now = now;
                let r = c.chansend(self, k, runner, value, false);
                self.local_now = saved;
                debug_assert!(matches!(r, SendOutcome::Sent | SendOutcome::WouldBlock(_)));
            }
        }
    }
}

/// Future of [`Go::sleep`].
pub struct Sleep<'a> {
    go: &'a Go,
    d: SimDuration,
    parked: bool,
}

impl<'a> Sleep<'a> {
    pub(crate) fn new(go: &'a Go, d: SimDuration) -> Self {
        Self {
            go,
            d,
            parked: false,
        }
    }
}

impl Future for Sleep<'_> {
    type Output = ();
    /// `timeSleep`: park in "sleep", then arm `gp.timer` on this P (`resetForSleep`).
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.parked || self.d.is_zero() {
            return Poll::Ready(());
        }
        self.parked = true;
        let d = self.d;
        self.go.with_rt(|rt, k| {
            let (p, g) = rt.current();
            rt.gopark(g, WaitReason::Sleep);
            let when = rt.local_now + d;
            let id = rt.timer_alloc(TimerKind::Sleep(g));
            rt.timer_arm(k, id, p, when, SimDuration::ZERO);
        });
        Poll::Pending
    }
}

/// `time.Timer`: fires once on `c`.
pub struct Timer {
    /// `t.C` (capacity 1): receives the time the timer was due (Go 1.23; before, the time it
    /// fired); nil for `AfterFunc`.
    pub c: Chan<SimTime>,
    id: u32,
}

/// `time.Ticker`: delivers ticks on `c` every period, dropping ticks nobody received.
pub struct Ticker {
    /// `t.C` (capacity 1): receives each tick's due time (Go 1.23; before, when it fired).
    pub c: Chan<SimTime>,
    id: u32,
    period: SimDuration,
}

impl Go {
    fn new_chan_timer(&self, d: SimDuration, period: SimDuration) -> (Chan<SimTime>, u32) {
        let c = self.make_chan::<SimTime>(1);
        let id = self.with_rt(|rt, k| {
            let (p, _) = rt.current();
            let id = rt.timer_alloc(TimerKind::Chan(c.clone()));
            let when = rt.local_now + d;
            rt.timer_arm(k, id, p, when, period);
            id
        });
        (c, id)
    }

    /// `time.NewTimer(d)`.
    pub fn new_timer(&self, d: SimDuration) -> Timer {
        let (c, id) = self.new_chan_timer(d, SimDuration::ZERO);
        Timer { c, id }
    }

    /// `time.AfterFunc(d, f)`: after `d`, `f` runs in a new goroutine named `name`.
    pub fn after_func<F, Fut>(&self, d: SimDuration, name: &'static str, f: F) -> Timer
    where
        F: FnOnce(Go) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let spawn: SpawnFn = Box::new(move |go| Box::pin(f(go)));
        let id = self.with_rt(|rt, k| {
            let (p, _) = rt.current();
            let id = rt.timer_alloc(TimerKind::Func(name, Some(spawn)));
            let when = rt.local_now + d;
            rt.timer_arm(k, id, p, when, SimDuration::ZERO);
            id
        });
        Timer { c: Chan::nil(), id }
    }

    /// `time.After(d)`.
    pub fn after(&self, d: SimDuration) -> Chan<SimTime> {
        self.new_timer(d).c
    }

    /// `time.NewTicker(d)`; panics (like Go) if `d` is zero.
    pub fn new_ticker(&self, d: SimDuration) -> Ticker {
        assert!(!d.is_zero(), "non-positive interval for NewTicker");
        let (c, id) = self.new_chan_timer(d, d);
        Ticker { c, id, period: d }
    }
}

impl Timer {
    /// `t.Stop()`: true if the call stopped the timer before it fired.
    pub fn stop(&self, go: &Go) -> bool {
        go.with_rt(|rt, _| rt.timer_stop(self.id))
    }
    /// `t.Reset(d)`: true if the timer had been active.
    pub fn reset(&self, go: &Go, d: SimDuration) -> bool {
        go.with_rt(|rt, k| {
            let was = rt.timer_stop(self.id);
            let (p, _) = rt.current();
            let when = rt.local_now + d;
            rt.timer_arm(k, self.id, p, when, SimDuration::ZERO);
            was
        })
    }
}

impl Ticker {
    /// `ticker.Stop()`.
    pub fn stop(&self, go: &Go) {
        go.with_rt(|rt, _| rt.timer_stop(self.id));
    }
    /// `ticker.Reset(d)`.
    pub fn reset(&mut self, go: &Go, d: SimDuration) {
        assert!(!d.is_zero(), "non-positive interval for Ticker.Reset");
        self.period = d;
        go.with_rt(|rt, k| {
            rt.timer_stop(self.id);
            let (p, _) = rt.current();
            let when = rt.local_now + d;
            rt.timer_arm(k, self.id, p, when, d);
        });
    }
    /// The current tick interval (as last set by `NewTicker` or `Reset`).
    pub fn period(&self) -> SimDuration {
        self.period
    }
}

#[cfg(test)]
mod heap_tests {
    use super::*;

    /// The 4-ary heap pops in `(when, arming order)` order whatever the push pattern.
    #[test]
    fn four_ary_heap_pops_in_when_then_arming_order() {
        let mut h = TimerHeap::default();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut pushed = Vec::new();
        for seq in 0..5_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let tw = TimerWhen {
                when: SimTime::from_nanos(x % 300),
                seq,
                id: seq as u32,
                version: 0,
            };
            h.push(tw);
            pushed.push(tw);
            if seq % 3 == 0 {
                let min = *pushed.iter().min().unwrap();
                assert_eq!(h.heap[0], min);
                h.delete_min();
                pushed.retain(|t| *t != min);
            }
        }
        pushed.sort();
        let mut out = Vec::new();
        while let Some(&tw) = h.heap.first() {
            out.push(tw);
            h.delete_min();
        }
        assert_eq!(out, pushed);
    }
}
