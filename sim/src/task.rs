//! Simulated tasks: Rust futures in a slab, polled only when the model asks.
//!
//! Wakers are not used to decide what runs: the model knows why a task is blocked and polls it
//! again when it is ready, so a task's waker is a no-op and a task id is a plain index.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A task: a boxed future with no output, polled on the simulation's one thread.
pub type BoxTask = Pin<Box<dyn Future<Output = ()>>>;

/// A task's index in the slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

enum Slot {
    Free {
        next: u32,
    },
    Idle(BoxTask),
    /// Taken out for a poll; a task may spawn others while it runs.
    Polling,
}

/// A slab of futures. Polling takes the future out, so a running task may insert new ones.
pub struct TaskSlab {
    slots: RefCell<Vec<Slot>>,
    free: RefCell<u32>,
}

const NONE: u32 = u32::MAX;

impl Default for TaskSlab {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskSlab {
    /// An empty slab.
    pub fn new() -> Self {
        Self {
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(NONE),
        }
    }

    /// Stores `fut`; returns its id (a freed slot is reused first).
    pub fn insert(&self, fut: BoxTask) -> TaskId {
        let mut slots = self.slots.borrow_mut();
        let mut free = self.free.borrow_mut();
        if *free != NONE {
            let id = *free;
            match slots[id as usize] {
                Slot::Free { next } => *free = next,
                _ => unreachable!("free list points at a live slot"),
            }
            slots[id as usize] = Slot::Idle(fut);
            TaskId(id)
        } else {
            slots.push(Slot::Idle(fut));
            TaskId(slots.len() as u32 - 1)
        }
    }

    /// Polls task `id` once. A finished task's slot is freed. A task that unwinds is freed too
    /// and the payload handed back: the model decides what a panic inside a task means.
    pub fn poll(&self, id: TaskId) -> Result<Poll<()>, Box<dyn Any + Send>> {
        let mut fut = {
            let mut slots = self.slots.borrow_mut();
            match std::mem::replace(&mut slots[id.0 as usize], Slot::Polling) {
                Slot::Idle(f) => f,
                other => {
                    slots[id.0 as usize] = other;
                    panic!("task {} polled while not idle", id.0);
                }
            }
        };
        let mut cx = Context::from_waker(Waker::noop());
        let r = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
        match r {
            Ok(Poll::Pending) => {
                self.slots.borrow_mut()[id.0 as usize] = Slot::Idle(fut);
                Ok(Poll::Pending)
            }
            Ok(Poll::Ready(())) => {
                drop(fut);
                self.free_slot(id);
                Ok(Poll::Ready(()))
            }
            Err(payload) => {
                drop(fut);
                self.free_slot(id);
                Err(payload)
            }
        }
    }

    /// Drops a task that will never be polled again (its goroutine was abandoned).
    pub fn remove(&self, id: TaskId) {
        let old = {
            let mut slots = self.slots.borrow_mut();
            std::mem::replace(&mut slots[id.0 as usize], Slot::Polling)
        };
        drop(old); // outside the borrow: dropping a future may touch the slab
        self.free_slot(id);
    }

    fn free_slot(&self, id: TaskId) {
        let mut free = self.free.borrow_mut();
        self.slots.borrow_mut()[id.0 as usize] = Slot::Free { next: *free };
        *free = id.0;
    }

    /// Number of live tasks.
    pub fn live(&self) -> usize {
        self.slots
            .borrow()
            .iter()
            .filter(|s| !matches!(s, Slot::Free { .. }))
            .count()
    }

    /// Drops every task; used when a run ends with goroutines still blocked.
    pub fn clear(&self) {
        let old = std::mem::take(&mut *self.slots.borrow_mut());
        *self.free.borrow_mut() = NONE;
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                Poll::Pending
            }
        }
    }

    #[test]
    fn polls_until_ready_and_reuses_slots() {
        let slab = TaskSlab::new();
        let hits = Rc::new(Cell::new(0));
        let h = hits.clone();
        let a = slab.insert(Box::pin(async move {
            YieldOnce(false).await;
            h.set(h.get() + 1);
        }));
        assert_eq!(slab.poll(a).unwrap(), Poll::Pending);
        assert_eq!(hits.get(), 0);
        assert_eq!(slab.poll(a).unwrap(), Poll::Ready(()));
        assert_eq!(hits.get(), 1);
        assert_eq!(slab.live(), 0);
        let b = slab.insert(Box::pin(async {}));
        assert_eq!(a, b, "freed slot is reused");
    }

    #[test]
    fn a_running_task_may_spawn() {
        let slab = Rc::new(TaskSlab::new());
        let s2 = slab.clone();
        let a = slab.insert(Box::pin(async move {
            s2.insert(Box::pin(async {}));
        }));
        assert_eq!(slab.poll(a).unwrap(), Poll::Ready(()));
        assert_eq!(slab.live(), 1);
    }

    #[test]
    fn an_unwinding_task_is_freed_and_its_payload_returned() {
        let slab = TaskSlab::new();
        let a = slab.insert(Box::pin(async {
            std::panic::resume_unwind(Box::new(7u32))
        }));
        let p = slab.poll(a).unwrap_err();
        assert_eq!(p.downcast_ref::<u32>(), Some(&7));
        assert_eq!(slab.live(), 0);
    }
}
