//! stall.rs: host pauses and cgroup throttling, with the same accounting as stop-the-world.

use super::*;
use crate::goruntime::{Pause, RuntimeConfig, StallConfig};

fn with_stalls(procs: u32, stalls: StallConfig) -> RuntimeConfig {
    RuntimeConfig {
        gomaxprocs: procs,
        stalls,
        ..Default::default()
    }
}

/// A scheduled pause freezes everything: a computing goroutine finishes late by exactly the
/// pause, which it is charged as stall time; a sleeper due inside the pause wakes at its end.
#[test]
fn a_pause_stops_the_whole_host() {
    let got = log::<(u64, u64, u64)>();
    let g = got.clone();
    let sim = Sim::new(1, RunLimits::for_duration(ms(100)));
    let cfg = with_stalls(
        2,
        StallConfig {
            pauses: vec![Pause {
                at: ms(5),
                duration: ms(7),
            }],
            ..Default::default()
        },
    );
    let h = sim.add_runtime(RuntimeConfig {
        sysmon: false,
        ..cfg
    });
    sim.main(h, move |go| async move {
        let g2 = g.clone();
        go.go("main.sleeper", move |go| async move {
            go.sleep(us(5500)).await; // due inside the pause (5–12 ms)
            g2.borrow_mut().push((1, go.now().as_nanos(), 0));
        });
        let t0 = go.now();
        go.compute(ms(10)).await;
        let lost = go.lost_time();
        g.borrow_mut().push((
            0,
            go.now().saturating_since(t0).as_nanos(),
            lost.stall.as_nanos(),
        ));
    });
    sim.run();
    let v = got.borrow();
    let spin = v.iter().find(|x| x.0 == 0).unwrap();
    assert_eq!(
        spin.1,
        10_000_000 + 7_000_000,
        "compute stretched by the pause"
    );
    assert_eq!(spin.2, 7_000_000, "charged as stall time");
    let sleeper = v.iter().find(|x| x.0 == 1).unwrap();
    assert!(
        sleeper.1 >= 12_000_000 && sleeper.1 < 12_200_000,
        "sleeper woke at {}",
        sleeper.1
    );
    assert_eq!(sim.runtime(0, |rt| rt.stall_time()), ms(7));
}

/// A cgroup quota of half a CPU lets a CPU-bound goroutine run about half the time.
#[test]
fn cgroup_quota_throttles_to_its_share() {
    let done = log::<u64>();
    let d = done.clone();
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(3)));
    let h = sim.add_runtime(with_stalls(
        1,
        StallConfig {
            cpu_quota: 0.5,
            cpu_period: ms(100),
            ..Default::default()
        },
    ));
    sim.main(h, move |go| async move {
        for _ in 0..1000 {
            go.compute(us(500)).await; // 500 ms of CPU in all
        }
        d.borrow_mut().push(go.now().as_nanos());
    });
    sim.run();
    let t = done.borrow()[0];
    // 50 ms per 100 ms period: 500 ms of CPU takes ~ 950-1000 ms.
    assert!(
        (900_000_000..=1_060_000_000).contains(&t),
        "finished at {t} ns"
    );
    assert!(sim.runtime(0, |rt| rt.throttled_periods()) >= 9);
}

/// Random pauses come from the seed: the same seed gives the same pauses; their total is about
/// rate × mean × time.
#[test]
fn random_pauses_follow_the_seed() {
    let total = |seed| {
        let sim = Sim::new(seed, RunLimits::for_duration(SimDuration::from_secs(20)));
        let h = sim.add_runtime(with_stalls(
            1,
            StallConfig {
                random_per_s: 5.0,
                random_mean: ms(10),
                ..Default::default()
            },
        ));
        sim.main(h, |go| async move {
            loop {
                go.sleep(ms(1)).await;
            }
        });
        let out = sim.run();
        (sim.runtime(0, |rt| rt.stall_time()), out.digest)
    };
    let (a, da) = total(1);
    let (b, db) = total(1);
    let (c, _) = total(2);
    assert_eq!((a, da), (b, db));
    assert_ne!(a, c);
    // 5/s × 10 ms × 20 s = 1 s expected; allow for the randomness of ~100 pauses.
    assert!(a > ms(600) && a < ms(1500), "{a}");
}
