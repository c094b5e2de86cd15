//! proc.go's system calls: `entersyscall`, `exitsyscall`, and sysmon's `retake` with `handoffp`.

use super::*;

/// What a run of `main` logged, at what time (ns), and the Ps sysmon took from system calls.
fn events(
    procs: u32,
    main: impl FnOnce(Go, Log<(&'static str, u64)>) -> std::pin::Pin<Box<dyn Future<Output = ()>>>,
) -> (Vec<(&'static str, u64)>, u64) {
    let l = log::<(&'static str, u64)>();
    let l2 = l.clone();
    let (sim, _) = run_main(procs, Costs::default(), 1, ms(100), move |go| main(go, l2));
    let retakes = sim.runtime(0, |rt| rt.stats.syscall_retakes);
    let v = l.borrow().clone();
    (v, retakes)
}

fn at(log: &[(&'static str, u64)], what: &str) -> u64 {
    log.iter()
        .find(|e| e.0 == what)
        .unwrap_or_else(|| panic!("no {what:?} in {log:?}"))
        .1
}

/// main makes a system call of `call` with a worker (5 ms of compute) queued behind it on
/// its one P, then waits for the worker.
fn call_beside_worker(call: SimDuration) -> (Vec<(&'static str, u64)>, u64) {
    events(1, move |go, l| {
        Box::pin(async move {
            let done = go.make_chan::<()>(1);
            let (d, l2) = (done.clone(), l.clone());
            go.go("main.worker", move |go| async move {
                l2.borrow_mut().push(("worker runs", go.now().as_nanos()));
                go.compute(ms(5)).await;
                l2.borrow_mut().push(("worker done", go.now().as_nanos()));
                d.send(&go, ()).await;
            });
            go.syscall(call).await;
            l.borrow_mut().push(("call returns", go.now().as_nanos()));
            done.recv(&go).await;
        })
    })
}

/// A call that outlasts two sysmon turns loses its P to the queued worker (`retake` →
/// `handoffp` → `startm`): the worker runs during the call, and the caller, back without a
/// P and with none idle, waits on the global queue until the worker is done.
#[test]
fn a_long_syscall_hands_its_p_to_queued_work() {
    let (log, retakes) = call_beside_worker(ms(1));
    assert_eq!(retakes, 1, "{log:?}");
    assert!(at(&log, "worker runs") < 1_000_000, "{log:?}");
    assert!(
        at(&log, "call returns") >= at(&log, "worker done"),
        "{log:?}"
    );
}

/// A call shorter than a sysmon turn is never seen twice: it keeps its P, and the worker
/// waits for it.
#[test]
fn a_short_syscall_keeps_its_p() {
    let (log, retakes) = call_beside_worker(us(10));
    assert_eq!(retakes, 0, "{log:?}");
    assert!(
        at(&log, "call returns") < at(&log, "worker runs"),
        "{log:?}"
    );
}

/// With nothing queued and a P idle, sysmon leaves a call its P for 10 ms: a 5 ms call
/// keeps it, a 15 ms one loses it (the call's M then takes an idle P). Either returns as
/// its kernel work ends.
#[test]
fn an_idle_call_keeps_its_p_for_10_ms() {
    for (call, want) in [(ms(5), 0), (ms(15), 1)] {
        let (log, retakes) = events(2, move |go, l| {
            Box::pin(async move {
                // The runtime's own goroutines (the GOMAXPROCS updater, the finalizer
                // goroutine) leave main's run queue first.
                go.sleep(ms(1)).await;
                l.borrow_mut().push(("call", go.now().as_nanos()));
                go.syscall(call).await;
                l.borrow_mut().push(("call returns", go.now().as_nanos()));
            })
        });
        assert_eq!(retakes, want, "{call:?}: {log:?}");
        let took = at(&log, "call returns") - at(&log, "call");
        assert!(took.abs_diff(call.as_nanos()) < 1_000, "{call:?}: {log:?}");
    }
}

/// Two goroutines on two Ps write at once, 100 us each: to one socket the second waits on its
/// write lock (`fdMutex`) until the first call has returned; to two sockets both return at
/// 100 us.
#[test]
fn writers_of_one_socket_queue_on_its_write_lock() {
    use crate::media::rtp::Rtp;
    use crate::world::Datagram;
    for shared in [true, false] {
        let l = log::<u64>();
        let l2 = l.clone();
        let costs = Costs {
            fd_write: us(100),
            ..Costs::default()
        };
        run_main(2, costs, 1, ms(10), move |go| async move {
            let fds = [go.bind(9), go.bind(10)];
            let done = go.make_chan::<()>(2);
            for i in 0..2u32 {
                let fd = fds[if shared { 0 } else { i as usize }].clone();
                let (l, done) = (l2.clone(), done.clone());
                go.go("main.writer", move |go| async move {
                    let d = Datagram {
                        src: (0, 9 + i),
                        dst: (0, 11),
                        payload: Rtp::default(),
                        arrived: Default::default(),
                    };
                    let start = go.now();
                    go.udp_write(&fd, d).await;
                    l.borrow_mut()
                        .push(go.now().saturating_since(start).as_nanos());
                    done.send(&go, ()).await;
                });
            }
            done.recv(&go).await;
            done.recv(&go).await;
        });
        let mut took = l.borrow().clone();
        took.sort_unstable();
        assert_eq!(took.len(), 2, "shared {shared}");
        assert!(took[0] < 110_000, "shared {shared}: {took:?}");
        if shared {
            assert!(took[1] >= 150_000, "shared: {took:?}");
        } else {
            assert!(took[1] < 110_000 + 50_000, "separate: {took:?}");
        }
    }
}

/// `GOMAXPROCS(1)` from P1 while a goroutine is in a call on P0: the stop takes P0 from the
/// call, so main goes on there at once; the call, returning later, finds its P gone and waits
/// for main's.
#[test]
fn a_call_outlives_its_destroyed_p() {
    let (log, retakes) = events(2, move |go, l| {
        Box::pin(async move {
            let done = go.make_chan::<()>(1);
            let (d, l2) = (done.clone(), l.clone());
            go.go("main.caller", move |go| async move {
                go.syscall(ms(5)).await;
                l2.borrow_mut().push(("call returns", go.now().as_nanos()));
                d.send(&go, ()).await;
            });
            // The caller is stolen by the idle P and enters its call there.
            go.sleep(ms(1)).await;
            let on = go.with_world(|w| {
                let rt = &w.rts[0];
                (rt.current().0, rt.allp[0].status)
            });
            assert_eq!(on, (1, crate::goruntime::runtime2::PStatus::Syscall));
            go.set_gomaxprocs(1);
            go.gosched().await;
            l.borrow_mut().push(("resized", go.now().as_nanos()));
            // Main runs on P0, which the call no longer holds, while the call goes on.
            let on = go.with_world(|w| {
                let rt = &w.rts[0];
                (rt.current().0, rt.allp[0].status, rt.in_syscall())
            });
            assert_eq!(on, (0, crate::goruntime::runtime2::PStatus::Running, 1));
            done.recv(&go).await;
            l.borrow_mut().push(("main done", go.now().as_nanos()));
        })
    });
    // The stop took P0, so sysmon had nothing to retake.
    assert_eq!(retakes, 0, "{log:?}");
    assert!(at(&log, "resized") < 5_000_000, "{log:?}");
    assert!(at(&log, "call returns") >= 5_000_000, "{log:?}");
    assert!(at(&log, "main done") >= at(&log, "call returns"), "{log:?}");
}
