//! `sync.Pool`, after `src/sync/pool.go`.
//!
//! Each P has a private slot and a shared list; `Get` takes the private object, then the head
//! of its own shared list, then steals from the tail of other Ps' lists, then looks in the
//! victim cache, and only then allocates. `Put` fills the private slot, else pushes on the
//! shared head. At every GC (`poolCleanup`, from `clearpools` during sweep termination) the
//! victim cache is dropped and the primary cache becomes the victim: a pooled object survives
//! at most two cycles. Pooled objects stay reachable, so they count in the live heap.

use super::malloc::Live;
use super::proc::Runtime;
use super::Go;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

#[derive(Default)]
struct PoolLocal {
    private: Option<Live>,
    shared: VecDeque<Live>,
}

pub(crate) struct PoolInner {
    object_bytes: u64,
    local: Vec<PoolLocal>,
    victim: Vec<PoolLocal>,
    gets: u64,
    hits: u64,
}

/// A `sync.Pool` of fixed-size objects. Cloning yields the same pool.
#[derive(Clone)]
pub struct Pool {
    inner: Rc<RefCell<PoolInner>>,
}

impl Go {
    /// A new pool whose `New` allocates `object_bytes`.
    pub fn new_pool(&self, object_bytes: u64) -> Pool {
        let procs = self.gomaxprocs() as usize;
        let inner = Rc::new(RefCell::new(PoolInner {
            object_bytes,
            local: (0..procs).map(|_| PoolLocal::default()).collect(),
            victim: (0..procs).map(|_| PoolLocal::default()).collect(),
            gets: 0,
            hits: 0,
        }));
        self.with_rt(|rt, _| rt.pools.push(Rc::downgrade(&inner)));
        Pool { inner }
    }
}

impl Pool {
    /// `p.Get()`: a pooled object, or a new allocation.
    pub async fn get(&self, go: &Go) -> Live {
        let hit = go.with_rt(|rt, _| {
            let (p, _) = rt.current();
            rt.charge(rt.costs().chan_op);
            let r = self.take(p as usize);
            rt.gc.stats.pool_gets += 1;
            if r.is_some() {
                rt.gc.stats.pool_hits += 1;
            }
            r
        });
        match hit {
            Some(obj) => obj,
            None => {
                let bytes = self.inner.borrow().object_bytes;
                go.alloc_live(bytes).await
            }
        }
    }

    /// Private, own shared head, others' shared tails, then the victim cache (`getSlow`).
    fn take(&self, p: usize) -> Option<Live> {
        let mut inner = self.inner.borrow_mut();
        let n = inner.local.len();
        inner.gets += 1;
        let l = &mut inner.local[p % n];
        let mut got = l.private.take().or_else(|| l.shared.pop_front());
        if got.is_none() {
            got = (1..n).find_map(|i| inner.local[(p + i) % n].shared.pop_back());
        }
        if got.is_none() {
            let v = &mut inner.victim[p % n];
            got = v.private.take().or_else(|| v.shared.pop_front());
            if got.is_none() {
                got = (1..n).find_map(|i| inner.victim[(p + i) % n].shared.pop_back());
            }
        }
        if got.is_some() {
            inner.hits += 1;
        }
        got
    }

    /// `p.Put(x)`.
    pub fn put(&self, go: &Go, obj: Live) {
        go.with_rt(|rt, _| {
            let (p, _) = rt.current();
            rt.charge(rt.costs().chan_op);
            let mut inner = self.inner.borrow_mut();
            let n = inner.local.len();
            let l = &mut inner.local[p as usize % n];
            if l.private.is_none() {
                l.private = Some(obj);
            } else {
                l.shared.push_front(obj);
            }
        });
    }

    /// (gets, hits) of this pool.
    pub fn counts(&self) -> (u64, u64) {
        let i = self.inner.borrow();
        (i.gets, i.hits)
    }

    /// Objects currently pooled (primary, victim).
    pub fn pooled(&self) -> (usize, usize) {
        let i = self.inner.borrow();
        let count = |v: &Vec<PoolLocal>| {
            v.iter()
                .map(|l| l.private.is_some() as usize + l.shared.len())
                .sum()
        };
        (count(&i.local), count(&i.victim))
    }
}

impl Runtime {
    /// `poolCleanup`: drop the victims, demote the primaries.
    pub(crate) fn pool_cleanup(&mut self) {
        self.pools.retain(|w| w.strong_count() > 0);
        for w in &self.pools {
            let Some(p) = w.upgrade() else { continue };
            let mut p = p.borrow_mut();
            let fresh: Vec<PoolLocal> = (0..p.local.len()).map(|_| PoolLocal::default()).collect();
            let primary = std::mem::replace(&mut p.local, fresh);
            let old_victim = std::mem::replace(&mut p.victim, primary);
            drop(p);
            drop(old_victim); // their Live handles release their bytes
        }
    }
}

pub(crate) type PoolRef = Weak<RefCell<PoolInner>>;
