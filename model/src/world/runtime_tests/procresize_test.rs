//! proc.go's `GOMAXPROCS(n)` at run time: stop the world, `procresize`, `pp.destroy`.

use super::*;
use costream_sim::SimTime;

/// Eight CPU-bound goroutines of 20 ms each; `resize` is applied by main right after starting
/// them. Returns when the last one finished and the GOMAXPROCS main then reads.
fn makespan(start: u32, resize: Option<u32>) -> (SimDuration, u32, u64) {
    let out = log::<(SimDuration, u32)>();
    let o = out.clone();
    let (sim, _) = run_main(start, Costs::default(), 1, ms(1000), move |go| async move {
        let wg = crate::goruntime::WaitGroup::new();
        wg.add(&go, 8);
        for _ in 0..8 {
            let wg = wg.clone();
            go.go("main.burn", move |go| async move {
                go.compute(ms(20)).await;
                wg.done(&go);
            });
        }
        if let Some(n) = resize {
            assert_eq!(
                go.set_gomaxprocs(n),
                start,
                "GOMAXPROCS returns the old value"
            );
        }
        wg.wait(&go).await;
        let t = go.now() - SimTime::ZERO;
        o.borrow_mut().push((t, go.gomaxprocs()));
    });
    let r = out.borrow()[0];
    (r.0, r.1, sim.runtime(0, |rt| rt.stats.procresizes))
}

#[test]
fn shrinking_moves_work_to_the_surviving_ps() {
    let (four, _, none) = makespan(4, None);
    let (two, procs, resizes) = makespan(4, Some(2));
    assert_eq!((procs, resizes, none), (2, 1, 0));
    // 160 ms of work (main shares the Ps, and 10 ms slices round it up): about 40-50 ms on
    // 4 Ps, about 80 ms on 2.
    assert!(four < ms(55), "{four:?}");
    assert!(two >= ms(79) && two < ms(100), "{two:?}");
}

#[test]
fn growing_starts_new_ps() {
    let (one, _, _) = makespan(1, None);
    let (four, procs, resizes) = makespan(1, Some(4));
    assert_eq!((procs, resizes), (4, 1));
    assert!(one >= ms(160), "{one:?}");
    assert!(four < ms(50), "{four:?}");
}

#[test]
fn an_unchanged_setting_does_not_stop_the_world() {
    let (_, procs, resizes) = makespan(4, Some(4));
    assert_eq!((procs, resizes), (4, 0));
}

/// Timers of a destroyed P move to a surviving one (`moveTimers`): every sleeper still wakes
/// on time.
#[test]
fn timers_of_destroyed_ps_still_fire() {
    let woke = log::<(u32, SimDuration)>();
    let w = woke.clone();
    run_main(4, Costs::default(), 3, ms(200), move |go| async move {
        let wg = crate::goruntime::WaitGroup::new();
        wg.add(&go, 12);
        for i in 0..12u32 {
            let (wg, w) = (wg.clone(), w.clone());
            go.go("main.sleeper", move |go| async move {
                // Spread over the Ps before sleeping.
                go.compute(us(200)).await;
                go.sleep(ms(30 + i as u64)).await;
                w.borrow_mut().push((i, go.now() - SimTime::ZERO));
                wg.done(&go);
            });
        }
        go.sleep(ms(5)).await;
        go.set_gomaxprocs(1);
        wg.wait(&go).await;
    });
    let woke = woke.borrow();
    assert_eq!(woke.len(), 12);
    for &(i, t) in woke.iter() {
        let due = ms(30 + i as u64);
        assert!(t >= due && t < due + ms(3), "sleeper {i} woke at {t:?}");
    }
}
