//! select.go: uniform choice among ready cases, default, blocking, pass-3 cleanup.

use super::*;
use crate::goruntime::{RecvCase, SendCase};

/// With both cases always ready, each is chosen about half the time (χ² with 1 degree of
/// freedom below 10.83, p = 0.001, chosen before looking at the model's figures).
#[test]
fn select_is_uniform_among_ready_cases() {
    let counts = Rc::new(RefCell::new([0u32; 3]));
    let c = counts.clone();
    run_main(
        1,
        Costs::zero(),
        42,
        SimDuration::from_secs(10),
        move |go| async move {
            let a = go.make_chan::<u32>(1);
            let b = go.make_chan::<u32>(1);
            let z = go.make_chan::<u32>(1);
            for _ in 0..30_000 {
                let _ = a.try_send(&go, 1);
                let _ = b.try_send(&go, 2);
                let _ = z.try_send(&go, 3);
                let mut ra = RecvCase::new(&a);
                let mut rb = RecvCase::new(&b);
                let mut rz = RecvCase::new(&z);
                let i = go.select(&mut [&mut ra, &mut rb, &mut rz]).await;
                c.borrow_mut()[i] += 1;
            }
        },
    );
    let n = counts.borrow();
    let e = 10_000.0;
    let chi2: f64 = n.iter().map(|&o| (o as f64 - e).powi(2) / e).sum();
    assert!(chi2 < 13.82, "counts {n:?}, chi2 {chi2}"); // 2 d.o.f., p = 0.001
}

/// default is taken only when no case is ready.
#[test]
fn default_only_when_nothing_ready() {
    let got = log::<Option<usize>>();
    let g = got.clone();
    run_main(1, Costs::default(), 1, ms(10), move |go| async move {
        let a = go.make_chan::<u32>(1);
        let mut ra = RecvCase::new(&a);
        let r = go.select_default(&mut [&mut ra]).await;
        g.borrow_mut().push(r);
        a.send(&go, 5).await;
        let mut ra = RecvCase::new(&a);
        let r = go.select_default(&mut [&mut ra]).await;
        g.borrow_mut().push(r);
        assert_eq!(ra.take(), Some(5));
    });
    assert_eq!(*got.borrow(), vec![None, Some(0)]);
}

/// A blocked select is woken by the first channel to become ready, and its other sudogs are
/// removed (pass 3), so a later send on the losing channel does not reach it.
#[test]
fn blocked_select_wakes_once_and_cleans_up() {
    let got = log::<(usize, Option<u32>)>();
    let g = got.clone();
    run_main(2, Costs::default(), 1, ms(10), move |go| async move {
        let a = go.make_chan::<u32>(0);
        let b = go.make_chan::<u32>(0);
        let (a2, b2, g2) = (a.clone(), b.clone(), g.clone());
        go.go("main.selector", move |go| async move {
            let mut ra = RecvCase::new(&a2);
            let mut rb = RecvCase::new(&b2);
            let i = go.select(&mut [&mut ra, &mut rb]).await;
            let v = if i == 0 { ra.take() } else { rb.take() };
            g2.borrow_mut().push((i, v));
        });
        go.sleep(us(10)).await;
        assert_eq!(a.waiting(), (0, 1));
        assert_eq!(b.waiting(), (0, 1));
        b.send(&go, 7).await;
        go.sleep(us(10)).await;
        assert_eq!(a.waiting(), (0, 0), "loser's sudog was dequeued");
        assert!(a.try_send(&go, 1).is_err(), "nobody receives on a any more");
    });
    assert_eq!(*got.borrow(), vec![(1, Some(7))]);
}

/// Send cases: the value is handed to a waiting receiver; unsent values come back.
#[test]
fn send_case_delivers_or_returns_value() {
    let got = log::<u32>();
    let g = got.clone();
    run_main(1, Costs::default(), 1, ms(10), move |go| async move {
        let full = go.make_chan::<u32>(0);
        let open = go.make_chan::<u32>(1);
        let mut s1 = SendCase::new(&full, 1);
        let mut s2 = SendCase::new(&open, 2);
        let i = go.select(&mut [&mut s1, &mut s2]).await;
        assert_eq!(i, 1);
        assert_eq!(s1.take_back(), Some(1));
        assert_eq!(s2.take_back(), None);
        let v = open.recv(&go).await.unwrap();
        g.borrow_mut().push(v);
    });
    assert_eq!(*got.borrow(), vec![2]);
}

/// Nil-channel cases are never chosen; a select on only nil channels blocks forever.
#[test]
fn nil_cases_are_skipped() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        let n = crate::goruntime::Chan::<u32>::nil();
        let mut r = RecvCase::new(&n);
        go.select(&mut [&mut r]).await;
    });
    assert!(out
        .fatal_message()
        .unwrap()
        .contains("goroutine 1 [select]"));
}
