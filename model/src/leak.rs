//! Goroutine leak detection, in two forms.
//!
//! * **goleak-style** ([`still_alive`]): goroutines alive when the check runs, except those
//!   whose function is in an ignore list (as `goleak.IgnoreTopFunction`).
//! * **reachability-based** ([`unreachable()`]): a goroutine blocked on channels that nothing
//!   still able to run can reach, in the spirit of Go 1.26's `goroutineleak` profile (a GC that
//!   marks only from runnable goroutines). Rust values cannot be traced, so reachability of a
//!   channel is judged by its handles: a channel is unreachable when every live `Chan` handle to
//!   it (its Rc strong count) is held by a goroutine blocked on it; a `sync.WaitGroup` (the
//!   model's lock-like primitive) is judged the same way, so a `Wait` that no goroutine able to
//!   call `Done` can reach is leaked. A goroutine blocked on a nil channel or in `select {}` is
//!   always leaked; one sleeping or waiting on the network is not (its timer or poller will wake
//!   it).
//!   A channel kept inside a structure shared through one `Rc` counts as one handle, so hiding
//!   channels that way can make a live goroutine look leaked; the model programs here clone
//!   channels into each goroutine, as Go code passes them.

use crate::goruntime::runtime2::{GStatus, WaitReason};
use crate::goruntime::Runtime;
use costream_sim::{SimDuration, SimTime};
use std::fmt;

/// How a goroutine was found leaking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakKind {
    /// Alive when checked, its function not ignored ([`still_alive`], as goleak).
    StillAlive,
    /// Blocked for good on channels nothing runnable can reach ([`unreachable()`]).
    Unreachable,
}

/// One leaked goroutine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// Which check found it.
    pub kind: LeakKind,
    /// The goroutine's id (`goid`), as a Go goroutine dump numbers it.
    pub goid: u64,
    /// The function it runs.
    pub function: &'static str,
    /// Where it was created: function and goroutine.
    pub created_by: Option<(&'static str, u64)>,
    /// Its state when found (`_Gwaiting`, `_Grunnable`…): a leak need not be blocked.
    pub status: GStatus,
    /// Why it waits, as a Go goroutine dump shows it ("chan receive"); read it when waiting.
    pub reason: WaitReason,
    /// How long it has been in its current state.
    pub waited: SimDuration,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "goroutine {} [{}, {}]: {}",
            self.goid,
            self.reason.as_str(),
            self.waited,
            self.function
        )?;
        if let Some((by, id)) = self.created_by {
            write!(f, " created by {by} in goroutine {id}")?;
        }
        Ok(())
    }
}

/// goleak-style: goroutines still alive at `now`, except the ignored top functions.
pub fn still_alive(rt: &Runtime, now: SimTime, ignore: &[&str]) -> Vec<Leak> {
    let mut v: Vec<Leak> = rt
        .allgs
        .iter()
        .filter(|g| g.status != GStatus::Dead && !g.system && !ignore.contains(&g.name))
        .map(|g| Leak {
            kind: LeakKind::StillAlive,
            goid: g.goid,
            function: g.name,
            created_by: g.parent,
            status: g.status,
            reason: g.waitreason,
            waited: now.saturating_since(if g.status == GStatus::Waiting {
                g.waitsince
            } else {
                g.since
            }),
        })
        .collect();
    v.sort_by_key(|l| l.goid);
    v
}

/// Reachability-based: goroutines blocked forever on channels nothing runnable can reach.
pub fn unreachable(rt: &Runtime, now: SimTime) -> Vec<Leak> {
    let mut v: Vec<Leak> = rt
        .allgs
        .iter()
        .filter(|g| g.status == GStatus::Waiting)
        .filter(|g| match g.waitreason {
            WaitReason::ChanReceiveNilChan
            | WaitReason::ChanSendNilChan
            | WaitReason::SelectNoCases => true,
            WaitReason::ChanReceive
            | WaitReason::ChanSend
            | WaitReason::Select
            | WaitReason::SyncWaitGroupWait => {
                !g.wait_chans.is_empty()
                    && g.wait_chans.iter().all(|w| {
                        let handles = w.strong_count();
                        handles == 0 || w.upgrade().is_some_and(|c| handles <= c.waiters())
                    })
            }
            _ => false,
        })
        .map(|g| Leak {
            kind: LeakKind::Unreachable,
            goid: g.goid,
            function: g.name,
            created_by: g.parent,
            status: g.status,
            reason: g.waitreason,
            waited: now.saturating_since(g.waitsince),
        })
        .collect();
    v.sort_by_key(|l| l.goid);
    v
}

/// Leaks grouped by (function, creation function, wait reason), with counts and the longest wait.
pub fn by_site(
    leaks: &[Leak],
) -> Vec<(&'static str, &'static str, WaitReason, usize, SimDuration)> {
    let mut m: std::collections::BTreeMap<
        (&'static str, &'static str, WaitReason),
        (usize, SimDuration),
    > = Default::default();
    for l in leaks {
        let e = m
            .entry((l.function, l.created_by.map_or("", |c| c.0), l.reason))
            .or_default();
        e.0 += 1;
        e.1 = e.1.max(l.waited);
    }
    m.into_iter()
        .map(|((f, c, r), (n, w))| (f, c, r, n, w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goruntime::{Chan, RecvCase, RuntimeConfig};
    use crate::world::Sim;
    use costream_sim::RunLimits;

    fn check(
        f: impl FnOnce(crate::world::Go) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>
            + 'static,
    ) -> Vec<Leak> {
        let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_millis(50)));
        let h = sim.add_runtime(RuntimeConfig {
            gomaxprocs: 1,
            ..Default::default()
        });
        sim.go(h).go("main.setup", f);
        let out = sim.run();
        sim.runtime(h, |rt| unreachable(rt, out.now))
    }

    /// A receiver whose channel a live (sleeping) goroutine still holds is not leaked; once
    /// that goroutine exits without closing it, it is.
    #[test]
    fn reachable_while_someone_else_holds_the_channel() {
        let leaks = check(|go| {
            Box::pin(async move {
                let c = go.make_chan::<u32>(0);
                let rx = c.clone();
                go.go("main.reader", move |go| async move {
                    rx.recv(&go).await;
                });
                go.go("main.holder", move |go| async move {
                    go.sleep(SimDuration::from_secs(10)).await;
                    drop(c);
                });
            })
        });
        assert!(leaks.is_empty(), "{leaks:?}");
        let leaks = check(|go| {
            Box::pin(async move {
                let c = go.make_chan::<u32>(0);
                let rx = c.clone();
                go.go("main.reader", move |go| async move {
                    rx.recv(&go).await;
                });
                drop(c); // the writer goes away without closing
            })
        });
        assert_eq!(leaks.len(), 1);
        assert_eq!(leaks[0].function, "main.reader");
        assert_eq!(leaks[0].created_by.unwrap().0, "main.setup");
    }

    /// A `wg.Wait()` is leaked once every goroutine that could call `Done` has gone.
    #[test]
    fn wait_group_nobody_can_release() {
        let run = |keep: bool| {
            check(move |go| {
                Box::pin(async move {
                    let wg = crate::goruntime::WaitGroup::new();
                    wg.add(&go, 1);
                    let w = wg.clone();
                    go.go("main.waiter", move |go| async move {
                        w.wait(&go).await;
                    });
                    if keep {
                        // A worker still holds it and may call Done.
                        go.go("main.worker", move |go| async move {
                            go.sleep(SimDuration::from_secs(10)).await;
                            wg.done(&go);
                        });
                    }
                })
            })
        };
        assert!(run(true).is_empty());
        let leaks = run(false);
        assert_eq!(leaks.len(), 1);
        assert_eq!(leaks[0].function, "main.waiter");
        assert_eq!(leaks[0].reason, WaitReason::SyncWaitGroupWait);
    }

    /// A select is leaked only when every one of its channels is unreachable; nil channels
    /// and `select {}` always are.
    #[test]
    fn select_and_nil_channels() {
        let leaks = check(|go| {
            Box::pin(async move {
                let a = go.make_chan::<u32>(0);
                let b = go.make_chan::<u32>(0);
                let (a2, b2) = (a.clone(), b.clone());
                go.go("main.selector", move |go| async move {
                    let mut ra = RecvCase::new(&a2);
                    let mut rb = RecvCase::new(&b2);
                    go.select(&mut [&mut ra, &mut rb]).await;
                });
                go.go("main.nil", |go| async move {
                    Chan::<u32>::nil().recv(&go).await;
                });
                go.go("main.block", |go| async move {
                    go.block().await;
                });
                drop(a);
                go.go("main.keeper", move |go| async move {
                    go.sleep(SimDuration::from_secs(10)).await;
                    drop(b);
                });
            })
        });
        let names: Vec<&str> = leaks.iter().map(|l| l.function).collect();
        assert_eq!(
            names,
            ["main.nil", "main.block"],
            "the selector can still be woken through b"
        );
    }
}
