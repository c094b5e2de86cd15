//! proc.go: newproc/runnext, local and global queues, Gosched, stealing, preemption, checkdead.

use super::*;
use crate::goruntime::{GoVersion, WaitReason};
use crate::world::EndReason;
use crate::GStatus;

/// `go f()` puts the new G in runnext: with one P the last-created runs first, then the others
/// in creation order (reference checklist: "the most recently created G runs first").
#[test]
fn ten_goroutines_run_9_then_0_to_8() {
    for costs in [Costs::default(), Costs::zero()] {
        let order = log::<u32>();
        let o = order.clone();
        let (_, out) = run_main(1, costs, 1, ms(100), move |go| async move {
            let done = go.make_chan::<()>(0);
            for i in 0..10 {
                let (o, done) = (o.clone(), done.clone());
                go.go("main.worker", move |go| async move {
                    o.borrow_mut().push(i);
                    done.send(&go, ()).await;
                });
            }
            for _ in 0..10 {
                done.recv(&go).await;
            }
        });
        assert_eq!(out.end, EndReason::MainReturned);
        assert_eq!(*order.borrow(), vec![9, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
}

/// A full 256-slot local queue moves half of itself plus the kicked G to the global queue.
#[test]
fn runqputslow_moves_half_to_global() {
    let seen = log::<(Vec<u32>, usize, u64)>();
    let s = seen.clone();
    run_main(1, Costs::default(), 1, ms(50), move |go| async move {
        for _ in 0..258 {
            go.go("main.idle", |_| async {});
        }
        let snap = go.with_world(|w| {
            let (local, global) = w.rts[0].runq_lengths();
            (local, global, w.rts[0].stats.runq_overflows)
        });
        s.borrow_mut().push(snap);
    });
    // Go 1.27: main starts with the GOMAXPROCS updater (Go 1.25) in the local queue and
    // runFinalizers in runnext; #1 kicks runFinalizers to the queue, which is full at #255.
    // #256 kicks #255: runqputslow moves the updater, runFinalizers, #1..#126 and #255 to the
    // global queue. Local: #127..#254, #256, #257, and #258 in runnext. On Go 1.19 (no updater)
    // the local queue holds one fewer: conformance/go's runq_overflow pins both.
    assert_eq!(seen.borrow()[0], (vec![131], 129, 1));
}

/// Gosched puts the caller on the global queue: it runs after the P's local work.
#[test]
fn gosched_goes_behind_local_work() {
    let order = log::<&'static str>();
    let o = order.clone();
    run_main(1, Costs::zero(), 1, ms(10), move |go| async move {
        let o1 = o.clone();
        go.go("main.a", move |go| async move {
            o1.borrow_mut().push("a1");
            go.gosched().await;
            o1.borrow_mut().push("a2");
        });
        let o2 = o.clone();
        go.go("main.b", move |_| async move { o2.borrow_mut().push("b") });
        let o3 = o.clone();
        go.go("main.c", move |_| async move { o3.borrow_mut().push("c") });
        go.sleep(ms(1)).await;
    });
    // runnext = c, queue = a, b. a yields to the global queue, so b runs before a resumes.
    assert_eq!(*order.borrow(), vec!["c", "a1", "b", "a2"]);
}

/// Every 61st schedule tick the global queue is checked before the local one.
#[test]
fn global_queue_checked_every_61st_tick() {
    let order = log::<u32>();
    let o = order.clone();
    run_main(1, Costs::zero(), 1, ms(10), move |go| async move {
        // One goroutine yields to the global queue; 100 others sit in the local queue.
        let og = o.clone();
        go.go("main.yielder", move |go| async move {
            go.gosched().await;
            og.borrow_mut().push(1000);
        });
        for i in 0..100 {
            let o = o.clone();
            go.go("main.w", move |_| async move { o.borrow_mut().push(i) });
        }
        go.sleep(ms(1)).await;
    });
    let pos = order.borrow().iter().position(|&x| x == 1000).unwrap();
    // Without the 1-in-61 rule the yielder would run after all 100 local goroutines.
    assert!(pos < 100, "global G ran at position {pos}");
    assert!(pos > 40, "global G ran too early, at {pos}");
}

/// A spinning goroutine is preempted by sysmon 10 ms after sysmon first saw its schedtick
/// (plus sysmon's sleep granularity), so a sleeper on the same P wakes 10–20 ms late, not 50.
#[test]
fn sysmon_preempts_a_long_compute() {
    let woke = log::<u64>();
    let w = woke.clone();
    let (sim, _) = run_main(1, Costs::default(), 1, ms(200), move |go| async move {
        let w = w.clone();
        go.go("main.sleeper", move |go| async move {
            go.sleep(ms(1)).await;
            w.borrow_mut().push(go.now().as_nanos());
        });
        go.gosched().await; // the sleeper runs and arms its 1 ms timer on P0
        go.go("main.spinner", |go| async move { go.compute(ms(50)).await });
        go.sleep(ms(100)).await;
    });
    let t = woke.borrow()[0];
    assert!(
        (10_000_000..=21_000_000).contains(&t),
        "sleeper woke at {t} ns"
    );
    assert!(sim.runtime(0, |rt| rt.stats.preemptions) >= 1);
}

/// Without sysmon nothing preempts: the sleeper waits for the whole compute.
#[test]
fn without_sysmon_no_preemption() {
    let woke = log::<u64>();
    let w = woke.clone();
    let sim = Sim::new(1, RunLimits::for_duration(ms(200)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 1,
        costs: Costs::default(),
        sysmon: false,
        ..Default::default()
    });
    sim.main(h, move |go| async move {
        let w = w.clone();
        go.go("main.sleeper", move |go| async move {
            go.sleep(ms(1)).await;
            w.borrow_mut().push(go.now().as_nanos());
        });
        go.gosched().await;
        go.go("main.spinner", |go| async move { go.compute(ms(50)).await });
        go.sleep(ms(100)).await;
    });
    sim.run();
    assert!(woke.borrow()[0] >= 50_000_000);
}

/// Idle Ps steal: work spawned on one P spreads to the others.
#[test]
fn idle_ps_steal_half() {
    let (sim, out) = run_main(4, Costs::default(), 3, ms(500), |go| async move {
        let done = go.make_chan::<()>(64);
        for _ in 0..64 {
            let done = done.clone();
            go.go("main.work", move |go| async move {
                go.compute(ms(1)).await;
                done.send(&go, ()).await;
            });
        }
        for _ in 0..64 {
            done.recv(&go).await;
        }
    });
    assert_eq!(out.end, EndReason::MainReturned);
    let (steals, stolen) = sim.runtime(0, |rt| (rt.stats.steals, rt.stats.stolen_gs));
    assert!(steals >= 3, "steals={steals}");
    assert!(
        stolen > steals,
        "steals take batches: {stolen} Gs in {steals} steals"
    );
    let times = sim.runtime(0, |rt| rt.p_times());
    for (i, (user, _)) in times.iter().enumerate() {
        assert!(user.as_nanos() >= 10_000_000, "P{i} ran only {user}");
    }
    // 64 ms of work on 4 Ps: well under 64 ms of wall time.
    assert!(out.now.as_nanos() < 25_000_000, "took {}", out.now);
}

/// wakep starts at most one spinning M at a time.
#[test]
fn at_most_one_spinner_per_wakep() {
    let max_spin = log::<u32>();
    let m = max_spin.clone();
    run_main(8, Costs::default(), 1, ms(20), move |go| async move {
        for _ in 0..4 {
            go.go("main.w", |go| async move { go.compute(us(100)).await });
            let n = go.with_world(|w| w.rts[0].nmspinning());
            m.borrow_mut().push(n);
        }
        go.sleep(ms(5)).await;
    });
    assert!(
        max_spin.borrow().iter().all(|&n| n <= 1),
        "{:?}",
        max_spin.borrow()
    );
}

/// checkdead: a program that blocks forever ends with Go's message and a goroutine list.
#[test]
fn blocking_forever_is_a_deadlock() {
    let (_, out) = run_main(
        2,
        Costs::default(),
        1,
        SimDuration::from_secs(10),
        |go| async move {
            let c = go.make_chan::<u32>(0);
            let c2 = c.clone();
            go.go("main.sender", move |go| async move {
                let other = go.make_chan::<u32>(0);
                other.recv(&go).await;
                c2.send(&go, 1).await;
            });
            c.recv(&go).await;
        },
    );
    let msg = out.fatal_message().expect("deadlock");
    assert!(matches!(out.end, EndReason::Deadlock(_)));
    assert!(
        msg.starts_with("fatal error: all goroutines are asleep - deadlock!\n"),
        "{msg}"
    );
    assert!(
        msg.contains("goroutine 1 [chan receive]:\nmain.main()"),
        "{msg}"
    );
    assert!(
        msg.contains("[chan receive]:\nmain.sender()\ncreated by main.main in goroutine 1"),
        "{msg}"
    );
    // Detected when the last M went idle, not at the time limit.
    assert!(out.now < SimDuration::from_millis(1).into_time());
}

/// A pending timer keeps checkdead quiet; the deadlock is reported once it has fired.
#[test]
fn timers_suppress_deadlock_until_they_fire() {
    let (_, out) = run_main(
        1,
        Costs::default(),
        1,
        SimDuration::from_secs(10),
        |go| async move {
            go.sleep(ms(30)).await;
            go.block().await;
        },
    );
    let msg = out.fatal_message().expect("deadlock");
    assert!(msg.contains("goroutine 1 [select (no cases)]"), "{msg}");
    assert!(out.now.as_nanos() >= 30_000_000);
}

/// Goroutine states and wait reasons follow runtime2.go; time in each state is recorded.
#[test]
fn state_times_are_recorded() {
    let (sim, _) = run_main(1, Costs::zero(), 1, ms(100), |go| async move {
        go.go("main.w", |go| async move {
            go.compute(ms(3)).await;
            go.sleep(ms(5)).await;
        });
        go.sleep(ms(20)).await;
    });
    // Goroutine 7: 2–6 are the runtime's own (see goids_are_batched_per_p).
    let t = sim.runtime(0, |rt| rt.state_times(7)).unwrap();
    assert_eq!(t.running, ms(3));
    assert!(t.waiting >= ms(5) && t.waiting <= ms(7), "{t:?}");
    let sleep_total = sim.runtime(0, |rt| rt.stats.wait_by_reason[WaitReason::Sleep as usize]);
    assert!(sleep_total >= ms(25));
    assert!(sim
        .runtime(0, |rt| rt.goroutines())
        .iter()
        .all(|g| g.1 != GStatus::Dead));
}

/// Goroutine ids come from per-P batches of 16 (`_GoidCacheBatch`), main is 1, the runtime's
/// forcegchelper, bgsweep, bgscavenge and runfinq take 2-5 on Go 1.19 (with `os` imported);
/// Go 1.25's GOMAXPROCS updater takes 5 and runFinalizers 6.
#[test]
fn goids_are_batched_per_p() {
    for (v, first) in [(GoVersion::GO1_19, 6), (GoVersion::GO1_27, 7)] {
        let ids = log::<u64>();
        let i = ids.clone();
        let sim = Sim::new(1, RunLimits::for_duration(ms(10)));
        let h = sim.add_runtime(RuntimeConfig {
            gomaxprocs: 2,
            go_version: v,
            ..Default::default()
        });
        sim.main(h, move |go| async move {
            i.borrow_mut().push(go.goid());
            let a = go.go("main.a", |_| async {});
            i.borrow_mut().push(a);
            go.sleep(ms(1)).await;
        });
        sim.run();
        assert_eq!(*ids.borrow(), vec![1, first], "Go {v}");
    }
}

/// The event budget bounds a run that never ends on its own.
#[test]
fn event_budget_ends_a_busy_run() {
    let sim = Sim::new(
        1,
        RunLimits {
            until: costream_sim::SimTime::MAX,
            max_events: 1000,
        },
    );
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 2,
        ..Default::default()
    });
    sim.main(h, |go| async move {
        loop {
            go.compute(us(5)).await;
        }
    });
    let out = sim.run();
    assert_eq!(out.end, EndReason::BudgetSpent);
    assert_eq!(out.events, 1000);
}

/// A goroutine woken by a channel operation lands in the waker's runnext, ahead of queued work.
#[test]
fn woken_goroutine_runs_next() {
    let order = log::<&'static str>();
    let o = order.clone();
    run_main(1, Costs::zero(), 1, ms(10), move |go| async move {
        let c = go.make_chan::<()>(0);
        let (c1, o1) = (c.clone(), o.clone());
        go.go("main.receiver", move |go| async move {
            c1.recv(&go).await;
            o1.borrow_mut().push("receiver");
        });
        go.sleep(us(1)).await; // receiver parks
        let o2 = o.clone();
        go.go("main.other", move |_| async move {
            o2.borrow_mut().push("other")
        });
        let o3 = o.clone();
        go.go("main.third", move |_| async move {
            o3.borrow_mut().push("third")
        });
        c.send(&go, ()).await; // receiver → runnext (third kicked to the tail)
        o.borrow_mut().push("main");
        go.sleep(us(1)).await;
    });
    assert_eq!(*order.borrow(), vec!["main", "receiver", "other", "third"]);
}

trait IntoTime {
    fn into_time(self) -> costream_sim::SimTime;
}
impl IntoTime for SimDuration {
    fn into_time(self) -> costream_sim::SimTime {
        costream_sim::SimTime::ZERO + self
    }
}

/// `runqsteal` takes `n - n/2` from the victim's ring, returns the last of them and queues the
/// rest locally; `runnext` is taken only on the last pass, and only when the ring is empty.
#[test]
fn runqsteal_takes_half() {
    use crate::goruntime::Runtime;
    let mut rt = Runtime::new(
        0,
        RuntimeConfig {
            gomaxprocs: 2,
            ..Default::default()
        },
        &costream_sim::RngStreams::new(1),
    );
    let mut t = costream_sim::SimTime::ZERO;
    for g in 0..9 {
        rt.runqput(0, g, false, &mut t);
    }
    rt.runqput(0, 100, true, &mut t);
    assert_eq!(
        rt.runqsteal(1, 0, false, &mut t),
        Some(4),
        "ceil(9/2) = 5 taken, the 5th returned"
    );
    assert_eq!(rt.runq_lengths().0, vec![4 + 1, 4]);
    // Drain P0's ring; then only runnext is left, stolen only on the last pass.
    while rt.runqsteal(1, 0, false, &mut t).is_some() {}
    assert_eq!(rt.runqsteal(1, 0, false, &mut t), None);
    assert_eq!(rt.runqsteal(1, 0, true, &mut t), Some(100));
}

/// While a P stays busy, sysmon's retake finds nothing to count, so its sleep doubles after 50
/// rounds up to 10 ms: about 50 + 9 + 98 wake-ups in the first second, not 50,000.
#[test]
fn sysmon_backs_off_while_a_p_is_busy() {
    let (sim, _) = run_main(
        1,
        Costs::default(),
        1,
        SimDuration::from_secs(1),
        |go| async move {
            go.compute(SimDuration::from_secs(2)).await;
        },
    );
    let (wakeups, preemptions) =
        sim.runtime(0, |rt| (rt.stats.sysmon_wakeups, rt.stats.preemptions));
    assert!(
        (140..=175).contains(&wakeups),
        "sysmon woke {wakeups} times"
    );
    // Each preemption needs a 10 ms slice after sysmon sees a new schedtick: 10–20 ms apart.
    assert!(
        (45..=100).contains(&preemptions),
        "preempted {preemptions} times"
    );
}

/// Scheduler overhead grows with GOMAXPROCS: spinning Ms probe every P in four passes.
#[test]
fn sched_overhead_grows_with_gomaxprocs() {
    let overhead = |procs: u32| {
        let (sim, out) = run_main(procs, Costs::default(), 1, ms(200), |go| async move {
            let c = go.make_chan::<u32>(16);
            let c2 = c.clone();
            go.go("main.consumer", move |go| async move {
                while c2.recv(&go).await.is_some() {
                    go.compute(us(20)).await;
                }
            });
            for i in 0..2000 {
                go.compute(us(30)).await;
                c.send(&go, i).await;
            }
        });
        assert_eq!(out.end, EndReason::MainReturned);
        let total: u64 = sim.runtime(0, |rt| rt.p_times().iter().map(|(_, s)| s.as_nanos()).sum());
        total
    };
    let (o2, o16) = (overhead(2), overhead(16));
    assert!(
        o16 * 2 > o2 * 3,
        "scheduler time: GOMAXPROCS 2 {o2} ns, 16 {o16} ns"
    );
}

/// Goroutines started by set-up code with no main goroutine: the run ends when all finish.
#[test]
fn run_ends_when_all_goroutines_finish() {
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(5)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 2,
        ..Default::default()
    });
    let go = sim.go(h);
    for _ in 0..3 {
        go.go("main.work", |go| async move { go.compute(ms(2)).await });
    }
    let out = sim.run();
    assert_eq!(out.end, EndReason::AllFinished);
    assert!(out.now < costream_sim::SimTime::ZERO + ms(10));
}

/// A G readied into runnext inherits the time slice (`execute` does not bump `schedtick`), so a
/// ping-pong pair shares one 10 ms slice: a third goroutine in the local queue waits until
/// sysmon preempts the pair, 10–20 ms in, rather than running after the first hand-off.
#[test]
fn ping_pong_pair_shares_one_time_slice() {
    let third_ran = log::<u64>();
    let t = third_ran.clone();
    run_main(1, Costs::default(), 1, ms(100), move |go| async move {
        let ping = go.make_chan::<()>(0);
        let pong = go.make_chan::<()>(0);
        let (pi, po) = (ping.clone(), pong.clone());
        go.go("main.ponger", move |go| async move {
            while pi.recv(&go).await.is_some() {
                go.compute(us(500)).await;
                po.send(&go, ()).await;
            }
        });
        go.gosched().await; // ponger runs and parks on ping
        let t = t.clone();
        go.go("main.third", move |go| async move {
            t.borrow_mut().push(go.now().as_nanos())
        });
        // The first send readies ponger into runnext and kicks third to the ring; from then on
        // main and ponger hand the P back and forth through runnext.
        for _ in 0..60 {
            ping.send(&go, ()).await;
            pong.recv(&go).await;
        }
    });
    let at = third_ran.borrow()[0];
    assert!(
        (10_000_000..=21_000_000).contains(&at),
        "third ran at {at} ns"
    );
}

/// The same without any compute: each hand-off is one scheduling step in which the P has no
/// curg, and sysmon's request (`pp.preempt`) must still end the slice. The goroutine that yields
/// to the global queue gets the P back (it starved forever before; found by the
/// pingpong_starvation conformance program).
#[test]
fn a_pure_ping_pong_slice_is_still_preempted() {
    let back = log::<u64>();
    let b = back.clone();
    let (_, out) = run_main(1, Costs::default(), 1, ms(200), move |go| async move {
        let ping = go.make_chan::<()>(0);
        let pong = go.make_chan::<()>(0);
        let (p1, p2) = (ping.clone(), pong.clone());
        go.go("main.pinger", move |go| async move {
            loop {
                p1.send(&go, ()).await;
                p2.recv(&go).await;
            }
        });
        go.go("main.ponger", move |go| async move {
            while ping.recv(&go).await.is_some() {
                pong.send(&go, ()).await;
            }
        });
        go.sleep(ms(5)).await;
        for _ in 0..3 {
            let t0 = go.now();
            go.gosched().await;
            b.borrow_mut()
                .push(go.now().saturating_since(t0).as_nanos());
        }
    });
    assert_eq!(out.end, EndReason::MainReturned);
    let waits = back.borrow();
    assert_eq!(waits.len(), 3);
    for &w in waits.iter() {
        assert!((10_000_000..=30_000_000).contains(&w), "waited {w} ns");
    }
}

/// `globrunqget` takes `min(size, size/GOMAXPROCS + 1, 128)`: one to run, the rest local.
#[test]
fn global_grab_takes_a_bounded_batch() {
    use crate::goruntime::Runtime;
    for (procs, size, want) in [(2u32, 300u32, 128u32), (4, 100, 26), (8, 3, 1), (1, 50, 50)] {
        let mut rt = Runtime::new(
            0,
            RuntimeConfig {
                gomaxprocs: procs,
                ..Default::default()
            },
            &costream_sim::RngStreams::new(1),
        );
        for g in 0..size {
            rt.globrunqput(g);
        }
        let mut t = costream_sim::SimTime::ZERO;
        assert_eq!(rt.globrunqget(0, 0, &mut t), Some(0), "the head runs");
        let (local, global) = rt.runq_lengths();
        assert_eq!(
            (local[0], global as u32),
            (want - 1, size - want),
            "GOMAXPROCS {procs}, {size} queued"
        );
    }
}

/// With every P busy and the global queue never empty, `findRunnable` never reaches its
/// A run of `limit` with one P and sysmon, and a socket on its host.
fn one_p_with_socket(limit: SimDuration) -> (Sim, u32, crate::goruntime::Fd<u32>) {
    let sim = Sim::new(1, RunLimits::for_duration(limit));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 1,
        ..Default::default()
    });
    let fd = sim.go(h).fd();
    (sim, h, fd)
}

/// `netpoll(0)`: a goroutine whose datagram arrived waits for sysmon, which polls the network
/// once nobody has for 10 ms and injects it into the global queue.
#[test]
fn sysmon_polls_the_network_when_nobody_else_does() {
    use crate::goruntime::Fd;
    use crate::world::{Process, World};
    use costream_sim::SimTime;
    struct OneDatagram(Fd<u32>, bool);
    impl Process for OneDatagram {
        fn fire(&mut self, w: &mut World, _: SimTime) -> Option<SimTime> {
            if !self.1 {
                self.1 = true;
                self.0.deliver(w, 7);
            }
            None
        }
    }
    let got = log::<u64>();
    let g = got.clone();
    let (sim, h, fd) = one_p_with_socket(ms(100));
    let rfd = fd.clone();
    sim.main(h, move |go| async move {
        go.go("main.reader", move |go| async move {
            let v = rfd.read(&go).await;
            assert_eq!(v, 7);
            g.borrow_mut().push(go.now().as_nanos());
        });
        go.gosched().await; // the reader parks in IO wait
        for _ in 0..100 {
            go.compute(us(500)).await;
            go.gosched().await;
        }
    });
    sim.add_process(Box::new(OneDatagram(fd, false)), SimTime::ZERO + ms(1));
    sim.run();
    let t = got.borrow()[0];
    assert!(
        (10_000_000..=12_000_000).contains(&t),
        "reader ran at {t} ns"
    );
}

/// recvmmsg: one read drains up to the batch size, for one syscall plus a per-datagram cost.
#[test]
fn batched_socket_reads() {
    use crate::goruntime::Fd;
    let got = log::<(usize, u64)>();
    let g = got.clone();
    let sim = Sim::new(1, RunLimits::for_duration(ms(10)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 1,
        ..Default::default()
    });
    let fd: Fd<u32> = sim.go(h).fd();
    sim.with_world_mut(|w| {
        for i in 0..10 {
            fd.deliver(w, i);
        }
    });
    let rfd = fd.clone();
    sim.main(h, move |go| async move {
        for _ in 0..2 {
            let t0 = go.now();
            let v = rfd.read_batch(&go, 8).await;
            g.borrow_mut()
                .push((v.len(), go.now().saturating_since(t0).as_nanos()));
        }
    });
    sim.run();
    let c = Costs::default();
    let v = got.borrow();
    assert_eq!(
        v[0],
        (8, (c.fd_read_batch_base + c.fd_read_batched * 8).as_nanos())
    );
    assert_eq!(v[1].0, 2);
}

/// A loop of short computes that never blocks is preempted every 10–20 ms like one long
/// compute: sysmon's request persists (`gp.preempt`) until the goroutine's next safe point, even
/// when the signal lands between two of its computes. (Regression: a request tied to one compute
/// step was lost whenever sysmon's cadence and the loop's period kept them in phase.)
#[test]
fn loops_of_short_computes_are_preempted_regularly() {
    let (sim, _) = run_main(
        2,
        Costs::default(),
        1,
        SimDuration::from_secs(1),
        |go| async move {
            for _ in 0..2 {
                go.go("main.loop", |go| async move {
                    loop {
                        go.compute(us(50)).await;
                    }
                });
            }
            go.block().await;
        },
    );
    let n = sim.runtime(0, |rt| rt.stats.preemptions);
    // Two Ps, one preemption per 20 ms each (sysmon at 10 ms sees a new schedtick, then
    // preempts 10 ms later): ~100 in a second.
    assert!((90..=110).contains(&n), "{n} preemptions");
}

/// A program asleep with every P idle has sysmon in its deep sleep (`sched.sysmonwait`) until
/// the next timer; each socket read's `entersyscall` ends it (`entersyscallWakeSysmon`), so
/// ten datagrams bring sysmon up at least ten more times than a program without them.
#[test]
fn a_syscall_ends_sysmons_deep_sleep() {
    use crate::goruntime::Fd;
    use crate::world::{Process, World};
    use costream_sim::SimTime;
    struct Every10ms(Fd<u32>, u32);
    impl Process for Every10ms {
        fn fire(&mut self, w: &mut World, now: SimTime) -> Option<SimTime> {
            self.0.deliver(w, self.1);
            self.1 += 1;
            (self.1 < 10).then(|| now + ms(10))
        }
    }
    let wakeups = |datagrams: bool| {
        let (sim, h, fd) = one_p_with_socket(ms(300));
        let rfd = fd.clone();
        sim.main(h, move |go| async move {
            go.go("main.reader", move |go| async move {
                for _ in 0..10 {
                    rfd.read(&go).await;
                }
            });
            go.sleep(ms(200)).await;
        });
        if datagrams {
            sim.add_process(Box::new(Every10ms(fd, 0)), SimTime::ZERO + ms(50));
        }
        sim.run();
        sim.runtime(0, |rt| rt.stats.sysmon_wakeups)
    };
    let (quiet, woken) = (wakeups(false), wakeups(true));
    assert!(quiet < 60, "sysmon woke {quiet} times with nothing to do");
    assert!(
        woken >= quiet + 10,
        "ten reads woke sysmon {} more times",
        woken - quiet
    );
}

/// With the OS model sysmon is a thread that needs a CPU: each turn runs `sysmon_run` on one,
/// so on one CPU a 100 ms computation ends later by the CPU its turns took.
#[test]
fn sysmon_is_a_thread_that_takes_cpu() {
    use crate::goruntime::os::OsConfig;
    let run = us(10);
    let sim = Sim::new(1, RunLimits::for_duration(ms(300)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 1,
        os: Some(OsConfig {
            cpus: 1,
            sysmon_run: run,
            ..Default::default()
        }),
        ..Default::default()
    });
    let done = log::<u64>();
    let d = done.clone();
    sim.main(h, move |go| async move {
        go.compute(ms(100)).await;
        d.borrow_mut().push(go.now().as_nanos());
    });
    sim.run();
    let turns = sim.runtime(0, |rt| rt.stats.sysmon_wakeups);
    let stats = sim.runtime(0, |rt| rt.os_thread_stats()).expect("OS model");
    let sysmon_cpu: u64 = stats
        .iter()
        .filter(|t| t.run <= run * turns)
        .map(|t| t.run.as_nanos())
        .max()
        .expect("sysmon's thread");
    assert_eq!(sysmon_cpu, (run * turns).as_nanos(), "{turns} turns");
    let end = done.borrow()[0];
    assert!(turns >= 50, "sysmon ran {turns} turns");
    assert!(
        end >= 100_000_000 + (run * turns).as_nanos() * 9 / 10,
        "the computation ended at {end} ns beside {turns} turns of sysmon"
    );
}
