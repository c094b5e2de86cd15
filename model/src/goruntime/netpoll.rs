//! Datagram descriptors and the netpoller, after `src/runtime/netpoll.go`.
//!
//! A goroutine reading an empty descriptor parks in "IO wait" (`netpollblock`). When a datagram
//! arrives the descriptor becomes ready (`netpollready`), but the goroutine runs only once some M
//! calls `netpoll`: the M blocked in it (woken after the epoll latency), a P in `findRunnable`
//! (`netpoll(0)`, step 9) or sysmon when nobody has polled for 10 ms.

use super::chan::{complete, OpState, SudogSlot};
use super::runtime2::{Gi, WaitReason};
use crate::world::{Go, World};
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
            })),
        }
    }

    /// A datagram arrives from the network (called by non-goroutine model code, such as a link
    /// or a remote peer). A parked reader is marked ready for the next `netpoll`.
    pub fn deliver(&self, w: &mut World, v: T) {
        let mut f = self.inner.borrow_mut();
        f.queue.push_back(v);
        f.delivered += 1;
        if let Some(g) = f.rg.take() {
            let host = f.host as usize;
            drop(f);
            let now = w.kernel.now();
            let (k, rts) = (&mut w.kernel, &mut w.rts);
            rts[host].netpoll_mark_ready(k, g, now);
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
        Read {
            fd: self,
            go,
            state: OpState::Start(None),
        }
    }
}

/// Future of [`Fd::read`].
pub struct Read<'a, T> {
    fd: &'a Fd<T>,
    go: &'a Go,
    state: OpState<T, T>,
}

impl<T> Unpin for Read<'_, T> {}

impl<T: 'static> Future for Read<'_, T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        match &mut this.state {
            OpState::Start(_) | OpState::Parked(_) => {
                let fd = this.fd;
                let state = &mut this.state;
                let r = this.go.with_rt(|rt, _| {
                    let (_, g) = rt.current();
                    let mut f = fd.inner.borrow_mut();
                    match f.queue.pop_front() {
                        Some(v) => {
                            drop(f);
                            rt.charge(rt.costs().fd_read);
                            Some(complete(rt, state, v))
                        }
                        None => {
                            // netpollblock: park until the descriptor is ready.
                            f.rg = Some(g);
                            rt.netpoll_waiters += 1;
                            rt.gopark(g, WaitReason::IoWait);
                            None
                        }
                    }
                });
                match r {
                    Some(p) => p,
                    None => {
                        this.state = OpState::Parked(SudogSlot::new(None));
                        Poll::Pending
                    }
                }
            }
            OpState::Yielded(v) => Poll::Ready(v.take().expect("value")),
        }
    }
}
