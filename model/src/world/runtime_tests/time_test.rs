//! time.go and netpoll_epoll.go: sleep granularity, timers, tickers dropping ticks.

use super::*;

/// Sleep(d < 1 ms) on an idle process takes about 1 ms: epoll's timeout is whole milliseconds.
/// Reference: Sleep(50us) p50 = 1.096 ms, Sleep(1.5ms) → 2.17 ms, Sleep(20ms) → 20.17 ms.
#[test]
fn idle_sleep_has_millisecond_granularity() {
    for (d, lo, hi) in [
        (us(50), 1_000, 1_200),
        (us(1500), 2_000, 2_300),
        (ms(20), 20_000, 20_200),
    ] {
        let woke = log::<u64>();
        let w = woke.clone();
        run_main(2, Costs::default(), 1, ms(100), move |go| async move {
            let t0 = go.now();
            go.sleep(d).await;
            w.borrow_mut()
                .push(go.now().saturating_since(t0).as_nanos() / 1000);
        });
        let t = woke.borrow()[0];
        assert!((lo..=hi).contains(&t), "Sleep({d}) took {t} us");
    }
}

/// On a busy P, a timer fires at the P's next scheduling point.
#[test]
fn timers_on_busy_p_fire_at_next_schedule() {
    let woke = log::<u64>();
    let w = woke.clone();
    run_main(1, Costs::zero(), 1, ms(100), move |go| async move {
        let w = w.clone();
        go.go("main.sleeper", move |go| async move {
            go.sleep(us(100)).await;
            w.borrow_mut().push(go.now().as_nanos());
        });
        go.gosched().await; // the sleeper arms its timer on P0
        go.go("main.busy", |go| async move { go.compute(ms(3)).await });
        go.sleep(ms(50)).await;
    });
    // Costs are zero, so everything up to the compute happens at t = 0.
    assert_eq!(
        woke.borrow()[0],
        3_000_000,
        "fires when busy's compute ends"
    );
}

/// A ticker's channel holds one tick and drops those it cannot hold.
#[test]
fn ticker_drops_ticks_it_cannot_hold() {
    let got = log::<u64>();
    let g = got.clone();
    run_main(1, Costs::default(), 1, ms(100), move |go| async move {
        let t0 = go.now();
        let t = go.new_ticker(ms(1));
        go.sleep(SimDuration::from_micros(10_500)).await;
        // Ten ticks were due; only the first is buffered.
        let first = t.c.recv(&go).await.unwrap();
        g.borrow_mut().push(first.saturating_since(t0).as_nanos());
        let next = t.c.recv(&go).await.unwrap();
        g.borrow_mut().push(next.saturating_since(t0).as_nanos());
        t.stop(&go);
    });
    // Tick values are the times they were due (plus the timer_add cost before arming).
    let v = got.borrow();
    assert!((1_000_000..1_000_100).contains(&v[0]), "{v:?}");
    assert!((11_000_000..11_000_100).contains(&v[1]), "{v:?}");
}

/// Timer.Stop before expiry prevents the send; Reset re-arms it.
#[test]
fn timer_stop_and_reset() {
    let got = log::<(bool, u64)>();
    let g = got.clone();
    run_main(1, Costs::default(), 1, ms(100), move |go| async move {
        let t = go.new_timer(ms(5));
        let stopped = t.stop(&go);
        go.sleep(ms(10)).await;
        assert!(t.c.try_recv(&go).is_err(), "stopped timer never sent");
        let was = t.reset(&go, ms(2));
        let v = t.c.recv(&go).await.unwrap();
        g.borrow_mut().push((stopped, v.as_nanos()));
        g.borrow_mut().push((was, go.now().as_nanos()));
    });
    let v = got.borrow();
    assert!(v[0].0);
    // Sleep(10ms) ends 10–11.1 ms in (epoll truncates to 9 ms, then waits 1 ms more); Reset(2ms).
    assert!((12_000_000..13_200_000).contains(&v[0].1), "{v:?}");
    assert!(!v[1].0);
}

/// time.After in a select with a channel that never becomes ready: the timeout fires.
#[test]
fn after_times_out_a_select() {
    let got = log::<usize>();
    let g = got.clone();
    run_main(2, Costs::default(), 1, ms(100), move |go| async move {
        let never = go.make_chan::<u32>(0);
        let timeout = go.after(ms(7));
        let mut r = crate::goruntime::RecvCase::new(&never);
        let mut t = crate::goruntime::RecvCase::new(&timeout);
        let i = go.select(&mut [&mut r, &mut t]).await;
        g.borrow_mut().push(i);
        g.borrow_mut()
            .push((go.now().as_nanos() / 1_000_000) as usize);
    });
    assert_eq!(*got.borrow(), vec![1, 7]);
}
