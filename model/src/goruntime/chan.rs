//! Channels, after `src/runtime/chan.go`: `makechan`, `chansend`, `chanrecv`, `closechan`.
//!
//! A waiting sender or receiver is a sudog on the channel's FIFO `sendq`/`recvq`; a send to a
//! waiting receiver hands the value over directly (bypassing the buffer) and readies it in the
//! sender's P's `runnext`. A receive from a full buffer with a waiting sender takes the head and
//! moves the sender's value into the tail. `closechan` wakes receivers (zero value, `ok=false`)
//! and senders (who panic), readying them in Go's order.

use super::proc::Runtime;
use super::runtime2::{Gi, Pi, WaitReason, Yield};
use super::{go_panic, Ev, Go};
use costream_sim::{Kernel, SimDuration};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The parked operation's result, shared between the sudog on the queue and the waiting future.
pub(crate) struct SudogSlot<T> {
    pub elem: Cell<Option<T>>,
    /// `sg.success`: true if a value was communicated, false if woken by `closechan`.
    pub success: Cell<bool>,
    pub done: Cell<bool>,
}

impl<T> SudogSlot<T> {
    pub fn new(elem: Option<T>) -> Rc<Self> {
        Rc::new(Self {
            elem: Cell::new(elem),
            success: Cell::new(false),
            done: Cell::new(false),
        })
    }
}

/// Shared by the sudogs of one `select` (`gp.selectDone` and `gp.param`).
#[doc(hidden)]
pub struct SelectDone {
    pub(crate) done: Cell<bool>,
    pub(crate) case: Cell<u16>,
}

pub(crate) struct Sudog<T> {
    pub g: Gi,
    /// `sg.elem` index of the select case (0 outside a select), beside `g` to keep a sudog at
    /// 24 bytes.
    pub case: u16,
    pub slot: Rc<SudogSlot<T>>,
    /// `sg.isSelect`: the select this sudog belongs to.
    pub sel: Option<Rc<SelectDone>>,
}

/// `hchan`.
pub(crate) struct HChan<T> {
    /// 32-bit id and capacity keep `hchan` two words smaller: a million channels hold more than
    /// 4 × 10⁹ values only in a machine with terabytes.
    pub id: u32,
    pub cap: u32,
    pub buf: VecDeque<T>,
    pub closed: bool,
    pub recvq: VecDeque<Sudog<T>>,
    pub sendq: VecDeque<Sudog<T>>,
}

/// Most channels never have more than one goroutine waiting: the first wait allocates room for
/// one sudog instead of `VecDeque`'s default of four (a million parked goroutines, each on its
/// own channel, cost ~100 MB less). Later growth doubles as usual.
#[inline]
fn enqueue_reserve<T>(q: &mut VecDeque<Sudog<T>>) {
    if q.capacity() == 0 {
        q.reserve_exact(1);
    }
}

/// `waitq.dequeue`: the first sudog whose select has not already been won by another case.
fn dequeue<T>(q: &mut VecDeque<Sudog<T>>) -> Option<Sudog<T>> {
    while let Some(sg) = q.pop_front() {
        if let Some(sel) = &sg.sel {
            if sel.done.get() {
                continue;
            }
            sel.done.set(true);
            sel.case.set(sg.case);
        }
        return Some(sg);
    }
    None
}

/// What the leak detector asks of a channel a goroutine waits on.
#[doc(hidden)]
pub trait ChanProbe {
    /// Goroutines queued on it (senders and receivers, select sudogs included).
    fn waiters(&self) -> usize;
}

impl<T> ChanProbe for RefCell<HChan<T>> {
    fn waiters(&self) -> usize {
        let c = self.borrow();
        c.recvq.len() + c.sendq.len()
    }
}

/// A weak handle on a channel: its strong count is the number of live `Chan` handles.
#[doc(hidden)]
pub type ProbeRef = std::rc::Weak<dyn ChanProbe>;

/// A Go channel carrying `T`. Cloning yields the same channel. `Chan::nil()` is a nil channel.
pub struct Chan<T> {
    pub(crate) c: Option<Rc<RefCell<HChan<T>>>>,
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Self { c: self.c.clone() }
    }
}

pub(crate) enum SendOutcome<T> {
    Sent,
    WouldBlock(T),
    Parked(Rc<SudogSlot<T>>),
    Panic(&'static str),
}

pub(crate) enum RecvOutcome<T> {
    /// `Some(v)`, or `None` for a closed, drained channel (`ok == false`).
    Got(Option<T>),
    WouldBlock,
    Parked(Rc<SudogSlot<T>>),
}

impl<T: 'static> Chan<T> {
    /// A weak probe for the leak detector (`None` for a nil channel).
    pub(crate) fn probe(&self) -> Option<ProbeRef> {
        self.c.as_ref().map(|c| {
            let w: ProbeRef = Rc::downgrade(c) as std::rc::Weak<dyn ChanProbe>;
            w
        })
    }
}

impl<T> Chan<T> {
    pub(crate) fn make(id: u64, cap: usize) -> Self {
        Self {
            c: Some(Rc::new(RefCell::new(HChan {
                id: id as u32,
                cap: cap.min(u32::MAX as usize) as u32,
                buf: VecDeque::with_capacity(cap.min(64)),
                closed: false,
                recvq: VecDeque::new(),
                sendq: VecDeque::new(),
            }))),
        }
    }

    /// A nil channel: sends and receives block forever, close panics, select skips it.
    pub fn nil() -> Self {
        Self { c: None }
    }
    /// `c == nil`.
    pub fn is_nil(&self) -> bool {
        self.c.is_none()
    }
    /// `len(c)`.
    pub fn len(&self) -> usize {
        self.c.as_ref().map_or(0, |c| c.borrow().buf.len())
    }
    /// `len(c) == 0`: nothing buffered (always true for a nil or unbuffered channel).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `cap(c)`.
    pub fn cap(&self) -> usize {
        self.c.as_ref().map_or(0, |c| c.borrow().cap as usize)
    }
    pub(crate) fn id(&self) -> u64 {
        self.c.as_ref().map_or(0, |c| c.borrow().id as u64)
    }
    /// Senders and receivers parked on the channel.
    pub fn waiting(&self) -> (usize, usize) {
        self.c.as_ref().map_or((0, 0), |c| {
            let c = c.borrow();
            (c.sendq.len(), c.recvq.len())
        })
    }

    /// `chansend`, running on P `p`. A nil channel parks forever, or would block when `!block`
    /// (`chansend`'s `c == nil` case).
    pub(crate) fn chansend(
        &self,
        rt: &mut Runtime,
        k: &mut Kernel<Ev>,
        p: Pi,
        v: T,
        block: bool,
    ) -> SendOutcome<T> {
        let Some(cell) = &self.c else {
            return if block {
                SendOutcome::Parked(SudogSlot::new(None))
            } else {
                SendOutcome::WouldBlock(v)
            };
        };
        let mut c = cell.borrow_mut();
        if c.closed {
            return SendOutcome::Panic("send on closed channel");
        }
        if let Some(sg) = dequeue(&mut c.recvq) {
            drop(c);
            sg.slot.elem.set(Some(v));
            sg.slot.success.set(true);
            sg.slot.done.set(true);
            rt.goready(k, sg.g, p, rt.local_now.max(k.now()));
            return SendOutcome::Sent;
        }
        if c.buf.len() < c.cap as usize {
            c.buf.push_back(v);
            return SendOutcome::Sent;
        }
        if !block {
            return SendOutcome::WouldBlock(v);
        }
        let (_, g) = rt.current();
        let slot = SudogSlot::new(Some(v));
        enqueue_reserve(&mut c.sendq);
        c.sendq.push_back(Sudog {
            g,
            case: 0,
            slot: slot.clone(),
            sel: None,
        });
        SendOutcome::Parked(slot)
    }

    /// `chanrecv`, running on P `p`. A nil channel parks forever, or would block when `!block`
    /// (`chanrecv`'s `c == nil` case).
    pub(crate) fn chanrecv(
        &self,
        rt: &mut Runtime,
        k: &mut Kernel<Ev>,
        p: Pi,
        block: bool,
    ) -> RecvOutcome<T> {
        let Some(cell) = &self.c else {
            return if block {
                RecvOutcome::Parked(SudogSlot::new(None))
            } else {
                RecvOutcome::WouldBlock
            };
        };
        let mut c = cell.borrow_mut();
        if c.closed && c.buf.is_empty() {
            return RecvOutcome::Got(None);
        }
        if let Some(sg) = dequeue(&mut c.sendq) {
            // recv(): unbuffered → copy from the sender; buffered (full) → take the head and
            // move the sender's value into the tail.
            let sv = sg.slot.elem.take();
            let v = if c.cap == 0 {
                sv
            } else {
                let head = c.buf.pop_front();
                if let Some(sv) = sv {
                    c.buf.push_back(sv);
                }
                head
            };
            drop(c);
            sg.slot.success.set(true);
            sg.slot.done.set(true);
            rt.goready(k, sg.g, p, rt.local_now.max(k.now()));
            return RecvOutcome::Got(v);
        }
        if let Some(v) = c.buf.pop_front() {
            return RecvOutcome::Got(Some(v));
        }
        if !block {
            return RecvOutcome::WouldBlock;
        }
        let (_, g) = rt.current();
        let slot = SudogSlot::new(None);
        enqueue_reserve(&mut c.recvq);
        c.recvq.push_back(Sudog {
            g,
            case: 0,
            slot: slot.clone(),
            sel: None,
        });
        RecvOutcome::Parked(slot)
    }

    /// `closechan`. Waiters are collected (receivers first, then senders) onto a LIFO list and
    /// readied in pop order, so the first-queued receiver ends up in `runnext`.
    pub(crate) fn closechan(
        &self,
        rt: &mut Runtime,
        k: &mut Kernel<Ev>,
        p: Pi,
    ) -> Result<(), &'static str> {
        let Some(cell) = &self.c else {
            return Err("close of nil channel");
        };
        let mut glist: Vec<Gi> = Vec::new();
        {
            let mut c = cell.borrow_mut();
            if c.closed {
                return Err("close of closed channel");
            }
            c.closed = true;
            while let Some(sg) = dequeue(&mut c.recvq) {
                sg.slot.elem.set(None);
                sg.slot.success.set(false);
                sg.slot.done.set(true);
                glist.push(sg.g);
            }
            while let Some(sg) = dequeue(&mut c.sendq) {
                sg.slot.success.set(false);
                sg.slot.done.set(true);
                glist.push(sg.g);
            }
        }
        let at = rt.local_now.max(k.now());
        while let Some(g) = glist.pop() {
            rt.goready(k, g, p, at);
        }
        Ok(())
    }

    /// Removes `g`'s sudog for this select from the wait queues (selectgo pass 3).
    pub(crate) fn dequeue_sudog(
        &self,
        sel: &Rc<SelectDone>,
        send: bool,
    ) -> Option<Rc<SudogSlot<T>>> {
        let cell = self.c.as_ref()?;
        let mut c = cell.borrow_mut();
        let q = if send { &mut c.sendq } else { &mut c.recvq };
        let i = q
            .iter()
            .position(|sg| sg.sel.as_ref().is_some_and(|s| Rc::ptr_eq(s, sel)))?;
        q.remove(i).map(|sg| sg.slot)
    }

    pub(crate) fn enqueue_select(
        &self,
        g: Gi,
        slot: Rc<SudogSlot<T>>,
        sel: &Rc<SelectDone>,
        case: u16,
        send: bool,
    ) {
        if let Some(cell) = &self.c {
            let mut c = cell.borrow_mut();
            let sg = Sudog {
                g,
                case,
                slot,
                sel: Some(sel.clone()),
            };
            if send {
                enqueue_reserve(&mut c.sendq);
                c.sendq.push_back(sg);
            } else {
                enqueue_reserve(&mut c.recvq);
                c.recvq.push_back(sg);
            }
        }
    }
}

impl<T: 'static> Chan<T> {
    /// `c <- v`. Blocks while the buffer is full and no receiver waits.
    /// Sending on a closed channel panics the program, as in Go.
    pub fn send<'a>(&'a self, go: &'a Go, v: T) -> Send<'a, T> {
        Send {
            ch: self,
            go,
            state: OpState::Start(Some(v)),
        }
    }
    /// `v, ok := <-c`: `None` once the channel is closed and drained.
    pub fn recv<'a>(&'a self, go: &'a Go) -> Recv<'a, T> {
        Recv {
            ch: self,
            go,
            state: OpState::Start(None),
        }
    }
    /// `select { case c <- v: true; default: false }`. Returns the value if it was not sent.
    pub fn try_send(&self, go: &Go, v: T) -> Result<(), T> {
        go.with_rt(|rt, k| {
            let (p, _) = rt.current();
            rt.charge(rt.costs().chan_op);
            match self.chansend(rt, k, p, v, false) {
                SendOutcome::Sent => Ok(()),
                SendOutcome::WouldBlock(v) => Err(v),
                SendOutcome::Panic(m) => go_panic(m),
                SendOutcome::Parked(_) => unreachable!("non-blocking send parked"),
            }
        })
    }
    /// `select { case v, ok := <-c: Some(v-or-None); default: None }`: `Ok(Some(v))` received,
    /// `Ok(None)` closed and drained, `Err(())` nothing ready.
    #[allow(clippy::result_unit_err)]
    pub fn try_recv(&self, go: &Go) -> Result<Option<T>, ()> {
        go.with_rt(|rt, k| {
            let (p, _) = rt.current();
            rt.charge(rt.costs().chan_op);
            match self.chanrecv(rt, k, p, false) {
                RecvOutcome::Got(v) => Ok(v),
                RecvOutcome::WouldBlock => Err(()),
                RecvOutcome::Parked(_) => unreachable!("non-blocking receive parked"),
            }
        })
    }
    /// `close(c)`. Closing a nil or closed channel panics the program.
    pub fn close(&self, go: &Go) {
        go.with_rt(|rt, k| {
            let (p, _) = rt.current();
            rt.charge(rt.costs().chan_op);
            self.closechan(rt, k, p)
        })
        .unwrap_or_else(|m| go_panic(m))
    }
}

/// State of a channel operation's future.
pub(crate) enum OpState<T, R> {
    Start(Option<T>),
    Parked(Rc<SudogSlot<T>>),
    /// Completed without blocking, but yielded first because its segment was full.
    Yielded(Option<R>),
}

/// Finish a non-blocking completion: return now, or yield first if the segment is full.
pub(crate) fn complete<T, R>(rt: &mut Runtime, state: &mut OpState<T, R>, r: R) -> Poll<R> {
    if rt.segment_full() {
        let (_, g) = rt.current();
        rt.allgs[g as usize].request = Yield::Compute(SimDuration::ZERO);
        *state = OpState::Yielded(Some(r));
        Poll::Pending
    } else {
        Poll::Ready(r)
    }
}

/// Future of [`Chan::send`].
pub struct Send<'a, T> {
    ch: &'a Chan<T>,
    go: &'a Go,
    state: OpState<T, ()>,
}

impl<T> Unpin for Send<'_, T> {}

impl<T: 'static> Future for Send<'_, T> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match &mut this.state {
            OpState::Start(v) => {
                let v = v.take().expect("value");
                let ch = this.ch;
                let state = &mut this.state;
                this.go.with_rt(|rt, k| {
                    let (p, g) = rt.current();
                    rt.charge(rt.costs().chan_op);
                    match ch.chansend(rt, k, p, v, true) {
                        SendOutcome::Sent => complete(rt, state, ()),
                        SendOutcome::Parked(slot) => {
                            let reason = if ch.is_nil() {
                                WaitReason::ChanSendNilChan
                            } else {
                                WaitReason::ChanSend
                            };
                            rt.wait_on(g, ch.probe());
                            rt.gopark(g, reason);
                            *state = OpState::Parked(slot);
                            Poll::Pending
                        }
                        SendOutcome::Panic(m) => go_panic(m),
                        SendOutcome::WouldBlock(_) => unreachable!(),
                    }
                })
            }
            OpState::Parked(slot) => {
                debug_assert!(slot.done.get());
                if slot.success.get() {
                    Poll::Ready(())
                } else {
                    // Woken by closechan: the sender panics.
                    go_panic("send on closed channel")
                }
            }
            OpState::Yielded(_) => Poll::Ready(()),
        }
    }
}

/// Future of [`Chan::recv`].
pub struct Recv<'a, T> {
    ch: &'a Chan<T>,
    go: &'a Go,
    state: OpState<T, Option<T>>,
}

impl<T> Unpin for Recv<'_, T> {}

impl<T: 'static> Future for Recv<'_, T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        match &mut this.state {
            OpState::Start(_) => {
                let ch = this.ch;
                let state = &mut this.state;
                this.go.with_rt(|rt, k| {
                    let (p, g) = rt.current();
                    rt.charge(rt.costs().chan_op);
                    match ch.chanrecv(rt, k, p, true) {
                        RecvOutcome::Got(v) => complete(rt, state, v),
                        RecvOutcome::Parked(slot) => {
                            let reason = if ch.is_nil() {
                                WaitReason::ChanReceiveNilChan
                            } else {
                                WaitReason::ChanReceive
                            };
                            rt.wait_on(g, ch.probe());
                            rt.gopark(g, reason);
                            *state = OpState::Parked(slot);
                            Poll::Pending
                        }
                        RecvOutcome::WouldBlock => unreachable!(),
                    }
                })
            }
            OpState::Parked(slot) => {
                debug_assert!(slot.done.get());
                Poll::Ready(if slot.success.get() {
                    slot.elem.take()
                } else {
                    None
                })
            }
            OpState::Yielded(r) => Poll::Ready(r.take().expect("result")),
        }
    }
}
