//! chan.go: FIFO waiters, direct hand-off, buffer rotation, close, nil channels, panics.

use super::*;
use crate::goruntime::Chan;
use crate::world::EndReason;

/// Blocked senders on a full buffered channel are served in arrival order.
#[test]
fn blocked_senders_are_served_fifo() {
    let got = log::<u32>();
    let g = got.clone();
    run_main(1, Costs::default(), 1, ms(100), move |go| async move {
        let c = go.make_chan::<u32>(1);
        c.send(&go, 0).await; // fills the buffer
        for i in 1..=5 {
            let c = c.clone();
            go.go("main.sender", move |go| async move { c.send(&go, i).await });
            go.sleep(us(10)).await; // let it run and block before the next arrives
        }
        assert_eq!(c.waiting(), (5, 0));
        for _ in 0..6 {
            let v = c.recv(&go).await.unwrap();
            g.borrow_mut().push(v);
        }
    });
    assert_eq!(*got.borrow(), vec![0, 1, 2, 3, 4, 5]);
}

/// Blocked receivers are served FIFO, and a send to a waiting receiver bypasses the buffer.
#[test]
fn blocked_receivers_are_served_fifo() {
    let got = log::<(u32, u32)>();
    let g = got.clone();
    run_main(2, Costs::default(), 1, ms(100), move |go| async move {
        let c = go.make_chan::<u32>(4);
        for r in 0..3 {
            let (c, g) = (c.clone(), g.clone());
            go.go("main.receiver", move |go| async move {
                let v = c.recv(&go).await.unwrap();
                g.borrow_mut().push((r, v));
            });
            go.sleep(us(10)).await;
        }
        assert_eq!(c.waiting(), (0, 3));
        for v in 10..13 {
            c.send(&go, v).await;
            assert_eq!(c.len(), 0, "hand-off bypasses the buffer");
        }
        go.sleep(ms(1)).await;
    });
    let mut v = got.borrow().clone();
    v.sort();
    assert_eq!(v, vec![(0, 10), (1, 11), (2, 12)]);
}

/// Receivers drain the buffer of a closed channel, then get the zero value with ok=false.
#[test]
fn close_drains_then_reports_closed() {
    let got = log::<Option<u32>>();
    let g = got.clone();
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), move |go| async move {
        let c = go.make_chan::<u32>(3);
        c.send(&go, 1).await;
        c.send(&go, 2).await;
        c.close(&go);
        for _ in 0..4 {
            let v = c.recv(&go).await;
            g.borrow_mut().push(v);
        }
    });
    assert_eq!(out.end, EndReason::MainReturned);
    assert_eq!(*got.borrow(), vec![Some(1), Some(2), None, None]);
}

/// close wakes every blocked receiver with ok=false; the first-queued one runs first.
#[test]
fn close_wakes_receivers_first_queued_first() {
    let got = log::<u32>();
    let g = got.clone();
    run_main(1, Costs::zero(), 1, ms(10), move |go| async move {
        let c = go.make_chan::<u32>(0);
        for r in 0..3 {
            let (c, g) = (c.clone(), g.clone());
            go.go("main.receiver", move |go| async move {
                assert_eq!(c.recv(&go).await, None);
                g.borrow_mut().push(r);
            });
            go.sleep(us(1)).await;
        }
        c.close(&go);
        go.sleep(us(1)).await;
    });
    // glist is LIFO: receiver 0 ends in runnext; 2 then 1 were kicked to the tail in that order.
    assert_eq!(*got.borrow(), vec![0, 2, 1]);
}

fn panic_message(out: &crate::world::RunOutcome) -> String {
    match &out.end {
        EndReason::Panic(f) => f.message.clone(),
        e => panic!("expected a panic, got {e:?}"),
    }
}

#[test]
fn send_on_closed_channel_panics() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        let c = go.make_chan::<u32>(1);
        c.close(&go);
        c.send(&go, 1).await;
    });
    let m = panic_message(&out);
    assert!(
        m.starts_with("panic: send on closed channel\n\ngoroutine 1 [running]:"),
        "{m}"
    );
}

#[test]
fn close_of_closed_channel_panics() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        let c = go.make_chan::<u32>(1);
        c.close(&go);
        c.close(&go);
        go.sleep(ms(1)).await;
    });
    assert!(panic_message(&out).starts_with("panic: close of closed channel"));
}

#[test]
fn close_of_nil_channel_panics() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        Chan::<u32>::nil().close(&go);
        go.sleep(ms(1)).await;
    });
    assert!(panic_message(&out).starts_with("panic: close of nil channel"));
}

/// A sender blocked when the channel is closed panics.
#[test]
fn blocked_sender_panics_on_close() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        let c = go.make_chan::<u32>(0);
        let c2 = c.clone();
        go.go(
            "main.sender",
            move |go| async move { c2.send(&go, 7).await },
        );
        go.sleep(us(10)).await;
        c.close(&go);
        go.sleep(ms(1)).await;
    });
    let m = panic_message(&out);
    assert!(
        // Goroutine 7: ids 2-6 belong to the runtime's own goroutines (createfing).
        m.starts_with("panic: send on closed channel\n\ngoroutine 7 [running]:\nmain.sender"),
        "{m}"
    );
}

/// Nil channels block forever.
#[test]
fn nil_channel_blocks_forever() {
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        Chan::<u32>::nil().recv(&go).await;
    });
    assert!(out
        .fatal_message()
        .unwrap()
        .contains("goroutine 1 [chan receive (nil chan)]"));
    let (_, out) = run_main(1, Costs::default(), 1, ms(10), |go| async move {
        Chan::<u32>::nil().send(&go, 1).await;
    });
    assert!(out
        .fatal_message()
        .unwrap()
        .contains("goroutine 1 [chan send (nil chan)]"));
}

/// A receive from a full buffer with a waiting sender takes the head and rotates the sender's
/// value into the tail.
#[test]
fn full_buffer_rotates_waiting_sender() {
    let got = log::<u32>();
    let g = got.clone();
    run_main(1, Costs::default(), 1, ms(10), move |go| async move {
        let c = go.make_chan::<u32>(2);
        c.send(&go, 1).await;
        c.send(&go, 2).await;
        let c2 = c.clone();
        go.go(
            "main.sender",
            move |go| async move { c2.send(&go, 3).await },
        );
        go.sleep(us(10)).await;
        let v = c.recv(&go).await.unwrap();
        g.borrow_mut().push(v);
        assert_eq!(c.len(), 2, "the sender's value moved into the buffer");
        assert_eq!(c.waiting(), (0, 0));
        let v = c.recv(&go).await.unwrap();
        g.borrow_mut().push(v);
        let v = c.recv(&go).await.unwrap();
        g.borrow_mut().push(v);
    });
    assert_eq!(*got.borrow(), vec![1, 2, 3]);
}

/// Non-blocking send/receive (select with default on one case).
#[test]
fn try_send_and_try_recv() {
    let ok = log::<bool>();
    let o = ok.clone();
    run_main(1, Costs::default(), 1, ms(10), move |go| async move {
        let c = go.make_chan::<u32>(1);
        o.borrow_mut().push(c.try_recv(&go).is_err());
        o.borrow_mut().push(c.try_send(&go, 1).is_ok());
        o.borrow_mut().push(c.try_send(&go, 2) == Err(2));
        o.borrow_mut().push(c.try_recv(&go) == Ok(Some(1)));
        c.close(&go);
        o.borrow_mut().push(c.try_recv(&go) == Ok(None));
    });
    assert_eq!(*ok.borrow(), vec![true; 5]);
}
