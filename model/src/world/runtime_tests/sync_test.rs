//! sync.WaitGroup over runtime/sema.go.

use super::*;
use crate::goruntime::WaitGroup;
use crate::world::EndReason;

/// Wait returns once every Done has happened; with one P the workers run 9, 0..8 first.
#[test]
fn wait_returns_after_all_done() {
    let order = log::<u32>();
    let o = order.clone();
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), move |go| async move {
        let wg = WaitGroup::new();
        for i in 0..10 {
            wg.add(&go, 1);
            let (wg, o) = (wg.clone(), o.clone());
            go.go("main.worker", move |go| async move {
                o.borrow_mut().push(i);
                wg.done(&go);
            });
        }
        wg.wait(&go).await;
        o.borrow_mut().push(100);
    });
    assert_eq!(out.end, EndReason::MainReturned);
    assert_eq!(*order.borrow(), vec![9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 100]);
}

/// Waiters are released in queue order, each into the releaser's runnext: with three waiters
/// the last released runs first, then the others in queue order.
#[test]
fn waiters_resume_last_released_first() {
    let order = log::<u32>();
    let o = order.clone();
    run_main(1, Costs::zero(), 1, ms(10), move |go| async move {
        let wg = WaitGroup::new();
        wg.add(&go, 1);
        for w in 1..=3 {
            let (wg, o) = (wg.clone(), o.clone());
            go.go("main.waiter", move |go| async move {
                wg.wait(&go).await;
                o.borrow_mut().push(w);
            });
            go.gosched().await;
        }
        wg.done(&go);
        go.sleep(us(1)).await;
    });
    assert_eq!(*order.borrow(), vec![3, 1, 2]);
}

#[test]
fn negative_counter_panics() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        WaitGroup::new().done(&go);
    });
    assert!(out
        .fatal_message()
        .unwrap()
        .starts_with("panic: sync: negative WaitGroup counter"));
}

#[test]
fn waiting_forever_is_reported_with_its_reason() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        let wg = WaitGroup::new();
        wg.add(&go, 1);
        wg.wait(&go).await;
    });
    assert!(out
        .fatal_message()
        .unwrap()
        .contains("goroutine 1 [sync.WaitGroup.Wait]:"));
}
