//! context.go: the cancellation tree, deadlines through time.AfterFunc.

use super::*;
use crate::goruntime::{CtxErr, RecvCase};

/// Cancelling a parent stops every goroutine under it (children and grandchildren contexts)
/// within one scheduling round after its Done closes: each woken goroutine runs once and
/// returns, with no goroutine scheduled twice in between.
#[test]
fn cancelling_a_parent_stops_every_goroutine_under_it() {
    let exits = log::<(u64, u64)>();
    let e = exits.clone();
    let (sim, out) = run_main(
        2,
        Costs::default(),
        1,
        SimDuration::from_secs(1),
        move |go| async move {
            let bg = go.background();
            let (root, cancel) = go.with_cancel(&bg);
            let mut n = 0;
            for _ in 0..4 {
                let (child, _c) = go.with_cancel(&root);
                for _ in 0..5 {
                    let (leaf, _l) = go.with_cancel(&child);
                    let e = e.clone();
                    n += 1;
                    go.go("main.worker", move |go| async move {
                        let tick = go.new_ticker(ms(1));
                        loop {
                            let mut done = RecvCase::new(&leaf.done());
                            let mut t = RecvCase::new(&tick.c);
                            if go.select(&mut [&mut done, &mut t]).await == 0 {
                                assert_eq!(leaf.err(), Some(CtxErr::Canceled));
                                tick.stop(&go);
                                let sw = go.with_world(|w| w.rts[0].stats.context_switches);
                                e.borrow_mut().push((go.now().as_nanos(), sw));
                                return;
                            }
                        }
                    });
                }
            }
            assert_eq!(n, 20);
            go.sleep(ms(10)).await;
            let t0 = go.now().as_nanos();
            let sw0 = go.with_world(|w| w.rts[0].stats.context_switches);
            cancel.cancel(&go);
            assert_eq!(root.err(), Some(CtxErr::Canceled));
            assert_eq!(root.children(), 0, "cancelled children are detached");
            go.sleep(ms(5)).await;
            let v = e.borrow();
            assert_eq!(v.len(), 20, "every worker returned");
            // One round: at most one switch per woken worker (plus main's own), and all within
            // a few microseconds of CPU per worker on two Ps.
            let last_sw = v.iter().map(|x| x.1).max().unwrap();
            assert!(
                last_sw - sw0 <= 21,
                "{} switches to stop 20 workers",
                last_sw - sw0
            );
            let last_t = v.iter().map(|x| x.0).max().unwrap();
            assert!(
                last_t - t0 < 20 * 2_000,
                "stopped {} ns after the cancel",
                last_t - t0
            );
        },
    );
    assert_eq!(out.end, crate::world::EndReason::MainReturned);
    drop(sim);
}

/// A parent's Done closes before its children's.
#[test]
fn parent_done_closes_before_children() {
    let order = log::<&'static str>();
    let o = order.clone();
    run_main(1, Costs::zero(), 1, ms(50), move |go| async move {
        let bg = go.background();
        let (p, cancel) = go.with_cancel(&bg);
        let (c, _cc) = go.with_cancel(&p);
        for (name, ctx) in [("child", c.clone()), ("parent", p.clone())] {
            let o = o.clone();
            go.go("main.waiter", move |go| async move {
                ctx.done().recv(&go).await;
                o.borrow_mut().push(name);
            });
        }
        go.sleep(us(10)).await;
        cancel.cancel(&go);
        assert_eq!(c.err(), Some(CtxErr::Canceled));
        go.sleep(us(10)).await;
    });
    // The parent's close readied its waiter into runnext first; the child's close then took
    // runnext and kicked it to the queue. So the child's waiter runs first: the reverse order
    // would mean the children were cancelled before the parent.
    assert_eq!(*order.borrow(), vec!["child", "parent"]);
}

/// WithTimeout: Done closes at the deadline (plus the timer's lateness and the AfterFunc
/// goroutine's start), with DeadlineExceeded; the timer goroutine exists only once it fires.
#[test]
fn timeout_cancels_with_deadline_exceeded() {
    let got = log::<(u64, Option<CtxErr>, u64)>();
    let g = got.clone();
    run_main(2, Costs::default(), 1, ms(100), move |go| async move {
        let bg = go.background();
        let (ctx, _cancel) = go.with_timeout(&bg, ms(5));
        let before = go.with_world(|w| w.rts[0].stats.goroutines_created);
        ctx.done().recv(&go).await;
        let after = go.with_world(|w| w.rts[0].stats.goroutines_created);
        g.borrow_mut()
            .push((go.now().as_nanos(), ctx.err(), after - before));
    });
    let (t, err, spawned) = got.borrow()[0];
    assert_eq!(err, Some(CtxErr::DeadlineExceeded));
    assert_eq!(
        spawned, 1,
        "time.AfterFunc started one goroutine when the timer fired"
    );
    assert!((5_000_000..5_200_000).contains(&t), "cancelled at {t} ns");
}

/// A child of an already-cancelled parent is cancelled at once; Background is never cancelled.
#[test]
fn child_of_cancelled_parent_starts_cancelled() {
    run_main(1, Costs::default(), 1, ms(10), |go| async move {
        let bg = go.background();
        assert!(bg.done().is_nil() && bg.err().is_none());
        let (p, cancel) = go.with_cancel(&bg);
        cancel.cancel(&go);
        cancel.cancel(&go); // idempotent
        let (c, _) = go.with_cancel(&p);
        assert_eq!(c.err(), Some(CtxErr::Canceled));
        let (d, _) = go.with_timeout(&bg, SimDuration::ZERO);
        assert_eq!(d.err(), Some(CtxErr::DeadlineExceeded));
    });
}
