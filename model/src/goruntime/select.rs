//! `select`, after `src/runtime/select.go: selectgo`.
//!
//! Pass 1 polls the non-nil cases in a uniformly random order (`pollorder`, a Fisher–Yates
//! shuffle with `cheaprandn` drawn from the runtime's seeded stream) and takes the first ready
//! one; with a `default` and nothing ready it returns at once. Pass 2 enqueues one sudog per
//! case in lock order (channel creation order stands in for the address sort) and parks in
//! "select". The waker dequeues the winning sudog and marks the select done; pass 3 removes the
//! losers' sudogs.

#[doc(hidden)]
pub use super::chan::SelectDone as SelectToken;
use super::chan::{complete, Chan, OpState, RecvOutcome, SelectDone, SendOutcome, SudogSlot};
use super::proc::Runtime;
use super::runtime2::{Gi, Pi, WaitReason};
use super::{go_panic, Ev, Go};
use costream_sim::Kernel;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// One case of a `select`. Implemented by [`RecvCase`] and [`SendCase`].
pub trait SelectCase {
    #[doc(hidden)]
    fn chan_id(&self) -> Option<u64>;
    #[doc(hidden)]
    fn try_now(
        &mut self,
        rt: &mut Runtime,
        k: &mut Kernel<Ev>,
        p: Pi,
    ) -> Result<bool, &'static str>;
    #[doc(hidden)]
    fn enqueue(&mut self, g: Gi, sel: &Rc<SelectDone>, case: u16);
    #[doc(hidden)]
    fn dequeue(&mut self, sel: &Rc<SelectDone>);
    #[doc(hidden)]
    fn finish_woken(&mut self) -> Result<(), &'static str>;
    #[doc(hidden)]
    fn probe(&self) -> Option<super::chan::ProbeRef>;
}

/// `case v, ok := <-ch:`.
pub struct RecvCase<T> {
    ch: Chan<T>,
    slot: Option<Rc<SudogSlot<T>>>,
    got: Option<Option<T>>,
}

impl<T> RecvCase<T> {
    /// A receive case on `ch`; select skips it if `ch` is nil.
    pub fn new(ch: &Chan<T>) -> Self {
        Self {
            ch: ch.clone(),
            slot: None,
            got: None,
        }
    }
    /// The value received if this case fired: `Some(v)`, or `None` if the channel was closed.
    pub fn take(&mut self) -> Option<T> {
        self.got
            .take()
            .expect("RecvCase::take on a case that did not fire")
    }
}

impl<T: 'static> SelectCase for RecvCase<T> {
    fn probe(&self) -> Option<super::chan::ProbeRef> {
        self.ch.probe()
    }
    fn chan_id(&self) -> Option<u64> {
        (!self.ch.is_nil()).then(|| self.ch.id())
    }
    fn try_now(
        &mut self,
        rt: &mut Runtime,
        k: &mut Kernel<Ev>,
        p: Pi,
    ) -> Result<bool, &'static str> {
        match self.ch.chanrecv(rt, k, p, false) {
            RecvOutcome::Got(v) => {
                self.got = Some(v);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn enqueue(&mut self, g: Gi, sel: &Rc<SelectDone>, case: u16) {
        let slot = SudogSlot::new(None);
        self.ch.enqueue_select(g, slot.clone(), sel, case, false);
        self.slot = Some(slot);
    }
    fn dequeue(&mut self, sel: &Rc<SelectDone>) {
        self.ch.dequeue_sudog(sel, false);
        self.slot = None;
    }
    fn finish_woken(&mut self) -> Result<(), &'static str> {
        let slot = self.slot.take().expect("woken case has a sudog");
        self.got = Some(if slot.success.get() {
            slot.elem.take()
        } else {
            None
        });
        Ok(())
    }
}

/// `case ch <- v:`. If another case fires, the value stays in the case ([`SendCase::take_back`]).
pub struct SendCase<T> {
    ch: Chan<T>,
    value: Option<T>,
    slot: Option<Rc<SudogSlot<T>>>,
}

impl<T> SendCase<T> {
    /// A case sending `v` on `ch`; select skips it if `ch` is nil.
    pub fn new(ch: &Chan<T>, v: T) -> Self {
        Self {
            ch: ch.clone(),
            value: Some(v),
            slot: None,
        }
    }
    /// The value, if it was not sent.
    pub fn take_back(&mut self) -> Option<T> {
        self.value.take()
    }
}

impl<T: 'static> SelectCase for SendCase<T> {
    fn probe(&self) -> Option<super::chan::ProbeRef> {
        self.ch.probe()
    }
    fn chan_id(&self) -> Option<u64> {
        (!self.ch.is_nil()).then(|| self.ch.id())
    }
    fn try_now(
        &mut self,
        rt: &mut Runtime,
        k: &mut Kernel<Ev>,
        p: Pi,
    ) -> Result<bool, &'static str> {
        let v = self.value.take().expect("send case has its value");
        match self.ch.chansend(rt, k, p, v, false) {
            SendOutcome::Sent => Ok(true),
            SendOutcome::WouldBlock(v) => {
                self.value = Some(v);
                Ok(false)
            }
            SendOutcome::Panic(m) => Err(m),
            SendOutcome::Parked(_) => unreachable!("non-blocking send parked"),
        }
    }
    fn enqueue(&mut self, g: Gi, sel: &Rc<SelectDone>, case: u16) {
        let slot = SudogSlot::new(self.value.take());
        self.ch.enqueue_select(g, slot.clone(), sel, case, true);
        self.slot = Some(slot);
    }
    fn dequeue(&mut self, sel: &Rc<SelectDone>) {
        let slot = self.ch.dequeue_sudog(sel, true).or(self.slot.take());
        if let Some(s) = slot {
            self.value = s.elem.take();
        }
        self.slot = None;
    }
    fn finish_woken(&mut self) -> Result<(), &'static str> {
        let slot = self.slot.take().expect("woken case has a sudog");
        if slot.success.get() {
            Ok(())
        } else {
            Err("send on closed channel")
        }
    }
}

enum SelState {
    Start,
    Parked {
        sel: Rc<SelectDone>,
        lockorder: Vec<u16>,
    },
    Yielded(Option<usize>),
    Dead,
}

/// Future of [`Go::select`] and [`Go::select_default`]: the index of the case that fired, or
/// `None` for `default`.
pub struct Select<'a, 'c> {
    go: &'a Go,
    cases: &'a mut [&'c mut dyn SelectCase],
    has_default: bool,
    state: SelState,
}

impl<'a, 'c> Select<'a, 'c> {
    pub(crate) fn new(
        go: &'a Go,
        cases: &'a mut [&'c mut dyn SelectCase],
        has_default: bool,
    ) -> Self {
        Self {
            go,
            cases,
            has_default,
            state: SelState::Start,
        }
    }
}

/// `cheaprandn` (runtime/rand.go): multiply-shift reduction of a 32-bit draw.
fn cheaprandn(r: u32, n: u32) -> u32 {
    ((r as u64 * n as u64) >> 32) as u32
}

impl Future for Select<'_, '_> {
    type Output = Option<usize>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<usize>> {
        let this = self.get_mut();
        selectgo(this.go, this.cases, !this.has_default, &mut this.state)
    }
}

/// `selectgo` (runtime/select.go): the index of the case that fires, or `None` for `default`
/// (`block` is false when there is one). Pass 1 takes the first ready case in `pollorder`;
/// pass 2 enqueues a sudog on every channel in `lockorder` and parks in "select"; once woken
/// (`state` is `Parked`), pass 3 dequeues the losers' sudogs and completes the winner.
///
/// `Pending` while the goroutine is parked, or yielding after a case fired (then `state` holds
/// the result for the next poll).
fn selectgo(
    go: &Go,
    cases: &mut [&mut dyn SelectCase],
    block: bool,
    state: &mut SelState,
) -> Poll<Option<usize>> {
    match state {
        SelState::Start => go.with_rt(|rt, k| {
            let (p, g) = rt.current();
            let n = cases.len();
            let c = rt.costs().select_base + rt.costs().select_per_case * n as u64;
            rt.charge(c);
            let pollorder = pollorder(rt, cases);
            // Pass 1: the first ready case in poll order wins.
            for &i in &pollorder {
                match cases[i as usize].try_now(rt, k, p) {
                    Ok(true) => {
                        let mut st = OpState::<(), Option<usize>>::Start(None);
                        let r = complete(rt, &mut st, Some(i as usize));
                        if r.is_pending() {
                            *state = SelState::Yielded(Some(i as usize));
                        }
                        return r;
                    }
                    Ok(false) => {}
                    Err(m) => go_panic(m),
                }
            }
            if !block {
                let mut st = OpState::<(), Option<usize>>::Start(None);
                let r = complete(rt, &mut st, None);
                if r.is_pending() {
                    *state = SelState::Yielded(None);
                }
                return r;
            }
            if n == 0 {
                rt.gopark(g, WaitReason::SelectNoCases);
                *state = SelState::Dead;
                return Poll::Pending;
            }
            // Pass 2: enqueue on every channel in lock order, then park.
            let lockorder = lockorder(cases, &pollorder);
            let sel = Rc::new(SelectDone {
                done: Cell::new(false),
                case: Cell::new(0),
            });
            for &i in &lockorder {
                cases[i as usize].enqueue(g, &sel, i);
                rt.wait_on(g, cases[i as usize].probe());
            }
            rt.gopark(g, WaitReason::Select);
            *state = SelState::Parked { sel, lockorder };
            Poll::Pending
        }),
        SelState::Parked { sel, lockorder } => {
            let won = sel.case.get() as usize;
            // Pass 3: dequeue from the losing channels.
            for &i in lockorder.iter() {
                if i as usize != won {
                    cases[i as usize].dequeue(sel);
                }
            }
            match cases[won].finish_woken() {
                Ok(()) => Poll::Ready(Some(won)),
                Err(m) => go_panic(m),
            }
        }
        SelState::Yielded(r) => Poll::Ready(r.take()),
        SelState::Dead => Poll::Pending,
    }
}

/// selectgo's `pollorder`: the non-nil cases in a random order, by an inside-out Fisher–Yates
/// shuffle drawing `cheaprandn` from the runtime's select stream.
fn pollorder(rt: &mut Runtime, cases: &[&mut dyn SelectCase]) -> Vec<u16> {
    let mut pollorder: Vec<u16> = Vec::with_capacity(cases.len());
    for (i, cas) in cases.iter().enumerate() {
        if cas.chan_id().is_none() {
            continue;
        }
        let norder = pollorder.len() as u32;
        let j = cheaprandn(rt.select_rng.next_u32(), norder + 1) as usize;
        if j == pollorder.len() {
            pollorder.push(i as u16);
        } else {
            let moved = pollorder[j];
            pollorder.push(moved);
            pollorder[j] = i as u16;
        }
    }
    pollorder
}

/// selectgo's `lockorder`: the polled cases sorted by channel (creation order stands in for
/// Go's sort by address), ties by case index.
fn lockorder(cases: &[&mut dyn SelectCase], pollorder: &[u16]) -> Vec<u16> {
    let mut lockorder = pollorder.to_vec();
    lockorder.sort_by_key(|&i| (cases[i as usize].chan_id(), i));
    lockorder
}

#[cfg(test)]
mod tests {
    use super::cheaprandn;

    #[test]
    fn cheaprandn_is_in_range() {
        for n in 1..20 {
            for r in [0, 1, u32::MAX / 3, u32::MAX] {
                assert!(cheaprandn(r, n) < n);
            }
        }
    }
}
