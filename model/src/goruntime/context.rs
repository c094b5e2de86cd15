//! `context`, after `src/context/context.go`: Background, WithCancel, WithDeadline,
//! WithTimeout, and the cancellation tree.
//!
//! `propagateCancel`: a child of Background is never cancelled by its parent; a child of an
//! already-cancelled parent is cancelled at once; otherwise it is registered in the parent's
//! children. `cancel` records the error (`Canceled` or `DeadlineExceeded`), closes `Done`, then
//! cancels the children, so a parent's Done closes before any descendant's. Go visits children
//! in map order; the model visits them in registration order. A deadline uses
//! `time.AfterFunc`, so its expiry carries timer lateness plus a goroutine start.

use super::chan::Chan;
use super::time::Timer;
use super::Go;
use costream_sim::{SimDuration, SimTime};
use std::cell::RefCell;
use std::rc::{Rc, Weak};

/// `context.Canceled` or `context.DeadlineExceeded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxErr {
    /// `context.Canceled`: its CancelFunc, or an ancestor's, was called.
    Canceled,
    /// `context.DeadlineExceeded`: its deadline, or an ancestor's, passed.
    DeadlineExceeded,
}

impl std::fmt::Display for CtxErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CtxErr::Canceled => "context canceled",
            CtxErr::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

struct State {
    err: Option<CtxErr>,
    children: Vec<Weak<Node>>,
    timer: Option<Timer>,
}

struct Node {
    /// Nil for Background (`Done() == nil`: never closes).
    done: Chan<()>,
    deadline: Option<SimTime>,
    parent: Option<Context>,
    state: RefCell<State>,
}

/// A `context.Context`. Cloning yields the same context.
#[derive(Clone)]
pub struct Context(Rc<Node>);

/// A `context.CancelFunc`.
#[derive(Clone)]
pub struct CancelFunc(Context);

impl Context {
    /// `ctx.Done()`: closed when the context is cancelled; nil for Background.
    pub fn done(&self) -> Chan<()> {
        self.0.done.clone()
    }
    /// `ctx.Err()`.
    pub fn err(&self) -> Option<CtxErr> {
        self.0.state.borrow().err
    }
    /// `ctx.Deadline()`.
    pub fn deadline(&self) -> Option<SimTime> {
        self.0.deadline
    }

    fn new(go: &Go, parent: &Context, deadline: Option<SimTime>) -> Context {
        Context(Rc::new(Node {
            done: go.make_chan(0),
            deadline,
            parent: Some(parent.clone()),
            state: RefCell::new(State {
                err: None,
                children: Vec::new(),
                timer: None,
            }),
        }))
    }

    /// `propagateCancel`.
    fn propagate_cancel(&self, go: &Go, parent: &Context) {
        if parent.0.done.is_nil() {
            return;
        }
        if let Some(err) = parent.err() {
            self.cancel(go, err, false);
            return;
        }
        parent
            .0
            .state
            .borrow_mut()
            .children
            .push(Rc::downgrade(&self.0));
    }

    /// `(*cancelCtx).cancel`: set the error, close Done, cancel the children, detach.
    fn cancel(&self, go: &Go, err: CtxErr, remove_from_parent: bool) {
        let (children, timer) = {
            let mut st = self.0.state.borrow_mut();
            if st.err.is_some() {
                return;
            }
            st.err = Some(err);
            (std::mem::take(&mut st.children), st.timer.take())
        };
        self.0.done.close(go);
        for child in children.iter().filter_map(Weak::upgrade) {
            Context(child).cancel(go, err, false);
        }
        if let Some(t) = timer {
            t.stop(go);
        }
        if remove_from_parent {
            if let Some(p) = &self.0.parent {
                p.0.state
                    .borrow_mut()
                    .children
                    .retain(|w| !std::ptr::eq(w.as_ptr(), Rc::as_ptr(&self.0)));
            }
        }
    }

    /// Contexts registered under this one and not yet cancelled.
    pub fn children(&self) -> usize {
        self.0
            .state
            .borrow()
            .children
            .iter()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}

impl CancelFunc {
    /// Calls the `CancelFunc`: cancels with `Canceled` (idempotent).
    pub fn cancel(&self, go: &Go) {
        self.0.cancel(go, CtxErr::Canceled, true);
    }
}

impl Go {
    /// `context.Background()`.
    pub fn background(&self) -> Context {
        Context(Rc::new(Node {
            done: Chan::nil(),
            deadline: None,
            parent: None,
            state: RefCell::new(State {
                err: None,
                children: Vec::new(),
                timer: None,
            }),
        }))
    }

    /// `context.WithCancel(parent)`.
    pub fn with_cancel(&self, parent: &Context) -> (Context, CancelFunc) {
        let c = Context::new(self, parent, parent.deadline());
        c.propagate_cancel(self, parent);
        (c.clone(), CancelFunc(c))
    }

    /// `context.WithDeadline(parent, d)`.
    pub fn with_deadline(&self, parent: &Context, d: SimTime) -> (Context, CancelFunc) {
        if parent.deadline().is_some_and(|pd| pd < d) {
            // The parent's deadline is sooner: a plain cancel context.
            return self.with_cancel(parent);
        }
        let c = Context::new(self, parent, Some(d));
        c.propagate_cancel(self, parent);
        let dur = d.saturating_since(self.now());
        if dur.is_zero() {
            c.cancel(self, CtxErr::DeadlineExceeded, true);
            return (c.clone(), CancelFunc(c));
        }
        if c.err().is_none() {
            let cc = c.clone();
            let t = self.after_func(
                dur,
                "context.WithDeadlineCause.func2",
                move |go| async move {
                    cc.cancel(&go, CtxErr::DeadlineExceeded, true);
                },
            );
            c.0.state.borrow_mut().timer = Some(t);
        }
        (c.clone(), CancelFunc(c))
    }

    /// `context.WithTimeout(parent, d)` = `WithDeadline(parent, now + d)`.
    pub fn with_timeout(&self, parent: &Context, d: SimDuration) -> (Context, CancelFunc) {
        let at = self.now() + d;
        self.with_deadline(parent, at)
    }
}
