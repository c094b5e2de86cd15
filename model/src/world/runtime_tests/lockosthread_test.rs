//! proc.go's LockOSThread: `startlockedm` / `stoplockedm` cost two thread switches per wake-up.

use super::*;
use costream_sim::SimTime;

/// 1,000 ping-pong round trips between main and a worker on one P; returns the virtual time
/// they took, the locked-M hand-offs and the thread count. `lock` wires the worker to its M;
/// `unlock_after` unlocks it after that many rounds.
fn ping_pong(lock: bool, unlock_after: Option<u32>) -> (SimDuration, u64, u64, u64) {
    let took = log::<SimDuration>();
    let t = took.clone();
    let (sim, _) = run_main(1, Costs::default(), 1, ms(1000), move |go| async move {
        let (ping, pong) = (go.make_chan::<u32>(0), go.make_chan::<u32>(0));
        let (pi, po) = (ping.clone(), pong.clone());
        go.go("main.worker", move |go| async move {
            if lock {
                go.lock_os_thread();
            }
            while let Some(i) = pi.recv(&go).await {
                if unlock_after == Some(i) {
                    go.unlock_os_thread();
                }
                po.send(&go, i).await;
            }
        });
        let start = go.now();
        for i in 0..1000 {
            ping.send(&go, i).await;
            pong.recv(&go).await;
        }
        t.borrow_mut().push(go.now() - start);
    });
    let (handoffs, threads, locked) = sim.runtime(0, |rt| {
        (
            rt.stats.lockedm_handoffs,
            rt.stats.threads,
            rt.stats.locked_ms,
        )
    });
    let d = took.borrow()[0];
    (d, handoffs, threads, locked)
}

/// Each wake-up of a locked goroutine costs two M wake-ups: the finder hands its P to the
/// locked M (`startlockedm`), and when the locked G blocks its P goes to another M
/// (`stoplockedm` → `handoffp` → `startm`), because main is runnable there.
#[test]
fn locked_goroutine_pays_two_thread_switches_per_wakeup() {
    let m_wake = Costs::default().m_wake;
    let (free, free_handoffs, free_threads, _) = ping_pong(false, None);
    let (locked, handoffs, threads, still_locked) = ping_pong(true, None);
    assert_eq!(free_handoffs, 0);
    // About two per round: the worker blocks once per round trip.
    assert!((1998..=2002).contains(&handoffs), "{handoffs}");
    let extra = locked - free;
    let expect = m_wake * 2000;
    assert!(
        extra >= expect.mul_f64(0.95) && extra <= expect.mul_f64(1.05),
        "locked {locked:?} free {free:?}: extra {extra:?}, expected about {expect:?}"
    );
    // The M the P moves to when the worker first blocks, and the template thread.
    assert_eq!(threads, free_threads + 2);
    assert_eq!(still_locked, 1);
}

/// `UnlockOSThread` returns the goroutine to the shared Ms: hand-offs stop.
#[test]
fn unlock_os_thread_ends_the_handoffs() {
    let (_, handoffs, _, locked) = ping_pong(true, Some(10));
    assert!((20..=23).contains(&handoffs), "{handoffs}");
    assert_eq!(locked, 0);
}

/// A goroutine that exits while locked takes its thread with it.
#[test]
fn exit_while_locked_releases_the_wiring() {
    let (sim, _) = run_main(2, Costs::default(), 1, ms(10), |go| async move {
        let done = go.make_chan::<()>(0);
        let d = done.clone();
        go.go("main.pinned", move |go| async move {
            go.lock_os_thread();
            go.lock_os_thread(); // nested: still one wired M
            go.compute(us(50)).await;
            d.send(&go, ()).await;
        });
        done.recv(&go).await;
        go.sleep(ms(1)).await;
    });
    assert_eq!(sim.runtime(0, |rt| rt.stats.locked_ms), 0);
    let _ = SimTime::ZERO;
}
