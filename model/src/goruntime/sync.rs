//! `sync.WaitGroup`, after `src/sync/waitgroup.go` and the semaphore in `src/runtime/sema.go`.
//!
//! `Wait` parks in "sync.WaitGroup.Wait" on a FIFO semaphore queue (`semacquire1`, lifo=false).
//! When the counter reaches zero, `Add` releases every waiter in queue order
//! (`runtime_Semrelease(&wg.sema, false, 0)` per waiter); each `semrelease1` readies its G into
//! the releasing P's `runnext`, kicking the previous one to the tail, as `goready` does.

use super::runtime2::{Gi, WaitReason};
use super::{go_panic, Go};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

struct WgInner {
    counter: i64,
    waiters: VecDeque<Gi>,
}

/// A `sync.WaitGroup`. Cloning yields the same group.
#[derive(Clone)]
pub struct WaitGroup {
    inner: Rc<RefCell<WgInner>>,
}

/// The leak detector sees a WaitGroup as it sees a channel: its live handles and its waiters.
impl super::chan::ChanProbe for RefCell<WgInner> {
    fn waiters(&self) -> usize {
        self.borrow().waiters.len()
    }
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitGroup {
    /// A zero `sync.WaitGroup` (counter 0).
    pub fn new() -> Self {
        Self {
            inner: Rc::new(RefCell::new(WgInner {
                counter: 0,
                waiters: VecDeque::new(),
            })),
        }
    }

    /// `wg.Add(delta)`. A negative counter panics the program ("sync: negative WaitGroup
    /// counter"). May be called from set-up code while nobody waits.
    pub fn add(&self, go: &Go, delta: i64) {
        let mut w = self.inner.borrow_mut();
        w.counter += delta;
        if w.counter < 0 {
            drop(w);
            go_panic("sync: negative WaitGroup counter");
        }
        if w.counter > 0 || w.waiters.is_empty() {
            return;
        }
        let waiters = std::mem::take(&mut w.waiters);
        drop(w);
        go.with_rt(|rt, k| {
            let (p, _) = rt.current();
            let at = rt.charge(rt.costs().chan_op);
            for g in waiters {
                rt.goready(k, g, p, at);
            }
        });
    }

    /// `wg.Done()`.
    pub fn done(&self, go: &Go) {
        self.add(go, -1);
    }

    /// `wg.Wait()`.
    pub fn wait<'a>(&'a self, go: &'a Go) -> Wait<'a> {
        Wait {
            wg: self,
            go,
            parked: false,
        }
    }

    /// The counter (for tests and reports).
    pub fn count(&self) -> i64 {
        self.inner.borrow().counter
    }
}

/// Future of [`WaitGroup::wait`].
pub struct Wait<'a> {
    wg: &'a WaitGroup,
    go: &'a Go,
    parked: bool,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.parked {
            return Poll::Ready(());
        }
        let wg = self.wg;
        let parked = self.go.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.charge(rt.costs().chan_op);
            let mut w = wg.inner.borrow_mut();
            if w.counter == 0 {
                return false;
            }
            w.waiters.push_back(g);
            rt.gopark(g, WaitReason::SyncWaitGroupWait);
            let probe: super::chan::ProbeRef =
                Rc::downgrade(&wg.inner) as std::rc::Weak<dyn super::chan::ChanProbe>;
            rt.wait_on(g, Some(probe));
            true
        });
        if parked {
            self.parked = true;
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}
