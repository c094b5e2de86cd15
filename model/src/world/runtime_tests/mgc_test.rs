//! mgc.go, mgcpacer.go, mgcmark.go, mgclimit.go, sync/pool.go: the collector in the scheduler.

use super::*;
use crate::goruntime::{GcPercent, RuntimeConfig};
use crate::world::EndReason;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// The Done-when program: `live` bytes retained, then `total` bytes allocated in `obj`-byte
/// objects by one goroutine. Returns the finished simulation.
pub(super) fn alloc_program(
    procs: u32,
    gogc: GcPercent,
    limit: i64,
    live: u64,
    total: u64,
    obj: u64,
) -> (Sim, crate::world::RunOutcome) {
    init_trace();
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(600)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: procs,
        gogc,
        memory_limit: limit,
        ..Default::default()
    });
    sim.main(h, move |go| async move {
        let _keep = go.alloc_live_noscan(live).await;
        let mut n = 0;
        while n < total {
            go.alloc(obj).await;
            n += obj;
        }
    });
    let out = sim.run();
    (sim, out)
}

fn cycles(sim: &Sim) -> usize {
    sim.runtime(0, |rt| rt.gc_stats().cycles.len())
}

/// 1 GiB allocated in 16 KiB objects over a 16 MiB noscan live heap: each cycle allocates
/// between 45/64 and all of (goal − marked) = 16 MiB at GOGC 100, so 64 to 91 cycles; halving
/// GOGC about doubles the count and doubling it about halves it.
#[test]
fn cycle_count_follows_the_pacer() {
    let run = |gogc| {
        let (sim, out) = alloc_program(
            2,
            GcPercent::Percent(gogc),
            i64::MAX,
            16 * MIB,
            1 << 30,
            16 * KIB,
        );
        assert_eq!(out.end, EndReason::MainReturned);
        cycles(&sim)
    };
    let (c50, c100, c200) = (run(50), run(100), run(200));
    assert!((64..=91).contains(&c100), "GOGC 100: {c100} cycles");
    assert!(
        (c100 * 17 / 10..=c100 * 23 / 10).contains(&c50),
        "GOGC 50: {c50} vs {c100}"
    );
    assert!(
        (c100 * 4 / 10..=c100 * 6 / 10).contains(&c200),
        "GOGC 200: {c200} vs {c100}"
    );
}

/// GOGC=off never collects: the heap holds everything ever allocated.
#[test]
fn gogc_off_never_collects() {
    let (sim, _) = alloc_program(2, GcPercent::Off, i64::MAX, 16 * MIB, 256 * MIB, 16 * KIB);
    assert_eq!(cycles(&sim), 0);
    assert_eq!(sim.runtime(0, |rt| rt.heap_live()), 16 * MIB + 256 * MIB);
}

/// GOMEMLIMIT with GOGC=off collects just often enough to hold the heap under the limit.
#[test]
fn memory_limit_holds_the_heap_near_the_limit() {
    let limit = 64 * MIB as i64;
    let (sim, _) = alloc_program(2, GcPercent::Off, limit, 16 * MIB, 512 * MIB, 16 * KIB);
    let (n, peak) = sim.runtime(0, |rt| {
        (rt.gc_stats().cycles.len(), rt.gc_stats().heap_peak)
    });
    assert!(n > 5, "{n} cycles");
    // The goal is the limit less non-heap memory (stacks, globals, 4 MiB overhead) and 3%.
    assert!(
        peak <= limit as u64,
        "peak {} MiB over the limit",
        peak / MIB
    );
    assert!(
        peak > limit as u64 * 3 / 4,
        "peak {} MiB far below the limit",
        peak / MIB
    );
}

/// A live heap close to the limit makes the GC run back to back; the CPU limiter caps its
/// share near 50% by turning assists off.
#[test]
fn limiter_caps_gc_cpu_when_the_limit_is_tight() {
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(5)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 2,
        gogc: GcPercent::Off,
        memory_limit: 72 * MIB as i64,
        ..Default::default()
    });
    sim.main(h, |go| async move {
        let _keep = go.alloc_live(60 * MIB).await; // scannable: every cycle has real work
        loop {
            go.alloc(16 * KIB).await;
        }
    });
    let out = sim.run();
    let (gc_cpu, cycles_n, limited) = sim.runtime(0, |rt| {
        let s = rt.gc_stats();
        (
            s.gc_cpu,
            s.cycles.len(),
            s.cycles.iter().filter(|c| c.limiter_on).count(),
        )
    });
    let frac = gc_cpu.as_secs_f64() / (out.now.since_start().as_secs_f64() * 2.0);
    assert!(cycles_n > 20, "{cycles_n} cycles");
    assert!(limited > 0, "the limiter never engaged");
    assert!((0.30..=0.62).contains(&frac), "GC CPU fraction {frac:.3}");
}

/// During stop-the-world no goroutine runs: a goroutine computing on another P finishes late
/// by exactly the pauses it sat through, and they are charged to it as GC time.
#[test]
fn stop_the_world_stops_every_p() {
    let done = log::<(u64, u64)>();
    let d = done.clone();
    // Without sysmon the spinner is never preempted: it holds its P for the whole compute.
    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(1)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 2,
        sysmon: false,
        ..Default::default()
    });
    sim.main(h, move |go| async move {
        let d = d.clone();
        go.go("main.spinner", move |go| async move {
            let (t0, lost0) = (go.now(), go.lost_time());
            go.compute(ms(20)).await;
            let lost = go.lost_time().since(lost0);
            d.borrow_mut().push((
                go.now().saturating_since(t0).as_nanos(),
                lost.gc_stw.as_nanos(),
            ));
        });
        let _keep = go.alloc_live_noscan(8 * MIB).await;
        for _ in 0..4000 {
            go.alloc(16 * KIB).await;
        }
        go.sleep(ms(50)).await;
    });
    sim.run();
    let (elapsed, lost) = done.borrow()[0];
    let stw_total = sim.runtime(0, |rt| rt.gc_stats().stw_total.as_nanos());
    assert!(lost > 0 && lost <= stw_total, "lost {lost} of {stw_total}");
    // It ran 20 ms of CPU plus exactly the pauses it sat through.
    assert_eq!(elapsed, 20_000_000 + lost, "elapsed {elapsed}, lost {lost}");
}

/// Each cycle has two stop-the-world pauses sized by the documented model.
#[test]
fn two_pauses_per_cycle_sized_by_the_model() {
    let (sim, _) = alloc_program(
        4,
        GcPercent::Percent(100),
        i64::MAX,
        8 * MIB,
        128 * MIB,
        16 * KIB,
    );
    sim.runtime(0, |rt| {
        let s = rt.gc_stats();
        let c = &s.cycles[2];
        let cfg = crate::goruntime::GcConfig::default();
        let per_p = cfg.stw_per_p * 4;
        // The allocating goroutine stops the world itself; other Ps are idle: no signal wait.
        assert!(
            c.stw_sweep_term >= cfg.stw_sweep_term_base + per_p,
            "{:?}",
            c.stw_sweep_term
        );
        assert!(
            c.stw_mark_term >= cfg.stw_mark_term_base + per_p,
            "{:?}",
            c.stw_mark_term
        );
        assert_eq!(s.stw.len() as usize, 2 * s.cycles.len());
    });
}

/// With GOMAXPROCS 4 one P runs a dedicated mark worker for the whole mark phase, taking it
/// away from goroutines.
#[test]
fn dedicated_worker_takes_a_p() {
    let sim = Sim::new(1, RunLimits::for_duration(ms(400)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 4,
        ..Default::default()
    });
    sim.main(h, |go| async move {
        for _ in 0..4 {
            go.go("main.busy", |go| async move {
                loop {
                    go.compute(us(100)).await;
                }
            });
        }
        let _keep = go.alloc_live(32 * MIB).await; // 32 ms of marking at 1 GB/s
        loop {
            go.alloc(16 * KIB).await;
            go.compute(us(20)).await;
        }
    });
    sim.run();
    sim.runtime(0, |rt| {
        let s = rt.gc_stats();
        assert!(!s.cycles.is_empty());
        let gc: u64 = rt.p_gc_times().iter().map(|d| d.as_nanos()).sum();
        let mark: u64 = s
            .cycles
            .iter()
            .map(|c| c.end.saturating_since(c.start).as_nanos())
            .sum();
        // About one P's worth of marking for the length of each mark phase.
        assert!(
            gc as f64 > 0.6 * mark as f64 && (gc as f64) < 1.6 * mark as f64,
            "gc {gc} ns over {mark} ns of marking"
        );
    });
}

/// With one P there is no dedicated worker (fractional 25%), so a fast allocator pays for the
/// marking itself: assists, charged to the allocating goroutine.
#[test]
fn assists_are_charged_to_the_allocator() {
    let got = log::<crate::goruntime::LostTime>();
    let g = got.clone();
    let (sim, _) = run_main(
        1,
        Costs::default(),
        1,
        SimDuration::from_secs(2),
        move |go| async move {
            let _keep = go.alloc_live(16 * MIB).await;
            for _ in 0..20_000 {
                go.alloc(16 * KIB).await;
            }
            g.borrow_mut().push(go.lost_time());
        },
    );
    let assist_total = sim.runtime(0, |rt| rt.gc_stats().assist_total);
    let lost = got.borrow()[0];
    assert!(lost.assist > ms(1), "assist {:?}", lost.assist);
    assert_eq!(
        lost.assist, assist_total,
        "the only allocator pays every assist"
    );
}

/// sync.Pool: objects put back survive one GC in the victim cache and are gone after two.
#[test]
fn pool_objects_survive_at_most_two_cycles() {
    let seen = log::<(usize, usize)>();
    let s = seen.clone();
    run_main(
        2,
        Costs::default(),
        1,
        SimDuration::from_secs(2),
        move |go| async move {
            let pool = go.new_pool(64 * KIB);
            let mut objs = Vec::new();
            for _ in 0..10 {
                objs.push(pool.get(&go).await);
            }
            for o in objs {
                pool.put(&go, o);
            }
            s.borrow_mut().push(pool.pooled());
            let cycles = |go: &Go| go.with_world(|w| w.rts[0].gc_stats().cycles.len());
            for want in 1..=2 {
                while cycles(&go) < want {
                    go.alloc(64 * KIB).await;
                }
                s.borrow_mut().push(pool.pooled());
            }
            // A hit from the victim cache, then misses.
            let (gets0, hits0) = pool.counts();
            assert_eq!((gets0, hits0), (10, 0));
        },
    );
    assert_eq!(*seen.borrow(), vec![(10, 0), (0, 10), (0, 0)]);
}

/// Get prefers this P's private object, then its shared list, then steals, then the victim.
#[test]
fn pool_get_order_and_hit_rate() {
    let seen = log::<(u64, u64)>();
    let s = seen.clone();
    run_main(
        1,
        Costs::default(),
        1,
        SimDuration::from_secs(1),
        move |go| async move {
            let pool = go.new_pool(KIB);
            let a = pool.get(&go).await; // miss: New
            pool.put(&go, a);
            let b = pool.get(&go).await; // hit: private
            let c = pool.get(&go).await; // miss
            pool.put(&go, b);
            pool.put(&go, c); // shared
            let _d = pool.get(&go).await; // private
            let _e = pool.get(&go).await; // shared
            s.borrow_mut().push(pool.counts());
        },
    );
    assert_eq!(seen.borrow()[0], (5, 3));
}

/// debug.SetGCPercent at run time: lowering GOGC mid-run makes cycles more frequent.
#[test]
fn set_gc_percent_at_run_time() {
    let (sim, _) = run_main(
        2,
        Costs::default(),
        1,
        SimDuration::from_secs(2),
        |go| async move {
            let _keep = go.alloc_live_noscan(16 * MIB).await;
            for _ in 0..8192 {
                go.alloc(16 * KIB).await;
            }
            let old = go.set_gc_percent(25);
            assert_eq!(old, 100);
            for _ in 0..8192 {
                go.alloc(16 * KIB).await;
            }
        },
    );
    sim.runtime(0, |rt| {
        let c = &rt.gc_stats().cycles;
        let half = c.iter().filter(|x| x.start.as_nanos() > 0).count();
        assert!(half > 0);
        // Goals fall from ~32 MiB (GOGC 100) to ~20 MiB (GOGC 25).
        let first = c[2].goal;
        let last = c.last().unwrap().goal;
        assert!(
            first > 30 * MIB && last < 21 * MIB,
            "goals {} -> {} MiB",
            first / MIB,
            last / MIB
        );
    });
}

/// debug.SetMemoryLimit at run time: a limit below the GOGC goal lowers it.
#[test]
fn set_memory_limit_at_run_time() {
    let goals = log::<u64>();
    let g = goals.clone();
    run_main(
        2,
        Costs::default(),
        1,
        SimDuration::from_secs(2),
        move |go| async move {
            let _keep = go.alloc_live_noscan(32 * MIB).await;
            for _ in 0..4096 {
                go.alloc(16 * KIB).await;
            }
            g.borrow_mut()
                .push(go.with_world(|w| w.rts[0].heap_goal_and_trigger().0));
            assert_eq!(go.set_memory_limit(48 * MIB as i64), i64::MAX);
            g.borrow_mut()
                .push(go.with_world(|w| w.rts[0].heap_goal_and_trigger().0));
        },
    );
    let v = goals.borrow();
    assert!(v[0] > 60 * MIB, "GOGC goal {} MiB", v[0] / MIB);
    // 48 MiB less stacks, globals, 4 MiB overhead and 3 %.
    assert!(
        v[1] < 44 * MIB && v[1] > 36 * MIB,
        "limit goal {} MiB",
        v[1] / MIB
    );
}

/// With one P there is no dedicated worker: the fractional worker takes about 25 % of the P
/// while marking (it runs until 1.2× its goal, so a little more).
#[test]
fn fractional_worker_takes_a_quarter_of_one_p() {
    let sim = Sim::new(1, RunLimits::for_duration(ms(300)));
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 1,
        ..Default::default()
    });
    sim.main(h, |go| async move {
        let _keep = go.alloc_live(64 * MIB).await; // a 64 ms scan at one P's full rate
        loop {
            go.compute(us(50)).await;
            go.alloc(KIB).await;
        }
    });
    sim.run();
    sim.runtime(0, |rt| {
        let s = rt.gc_stats();
        let mark: u64 = s
            .cycles
            .iter()
            .map(|c| c.end.saturating_since(c.start).as_nanos())
            .sum();
        let gc = rt.p_gc_times()[0].as_nanos();
        let share = gc as f64 / mark as f64;
        assert!(!s.cycles.is_empty());
        assert!(
            (0.2..=0.4).contains(&share),
            "fractional share {share:.3} of {mark} ns marking"
        );
    });
}
