//! The seeded-test harness (`costream_model::testing`): many seeds in parallel, reproduction
//! commands, and the determinism check that names the first differing event.

use costream_model::goruntime::RuntimeConfig;
use costream_model::scenario::QUICKSTART;
use costream_model::testing::{check_seeds, failure_report, first_divergence, run_seeds, SeedPlan};
use costream_model::workload;
use costream_model::world::{EventLog, Sim, SimBuilder, SimOptions};
use costream_sim::{RunLimits, SimDuration};
use std::sync::atomic::{AtomicU64, Ordering};

/// A small program: main starts workers that compute and report over a channel.
fn workers(seed: u64, opts: &SimOptions, jitter: impl Fn(u64) -> u64 + 'static) -> Sim {
    let sim = SimBuilder::new(seed, RunLimits::for_duration(SimDuration::from_millis(50)))
        .options(*opts)
        .build();
    let h = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 2,
        ..Default::default()
    });
    sim.main(h, move |go| async move {
        let done = go.make_chan::<u64>(0);
        let mut rng = go.rng("test.work", 0);
        for i in 0..6u64 {
            let d = done.clone();
            let us = 10 + rng.below(50) + jitter(i);
            go.go("main.worker", move |go| async move {
                go.compute(SimDuration::from_micros(us)).await;
                d.send(&go, i).await;
            });
        }
        for _ in 0..6 {
            done.recv(&go).await;
        }
    });
    sim.run();
    sim
}

/// How a model test uses the harness: `COSTREAM_TEST_NUM=100 cargo test --test seeds`.
#[test]
fn quickstart_forwards_on_every_seed() {
    check_seeds(8, |seed, opts| {
        let sets = vec!["run.duration=\"300ms\"".to_string()];
        let sc = costream_model::workload::load("quickstart", QUICKSTART, &sets).unwrap();
        let ran = workload::run_with(&sc, seed, opts, |_, _| {});
        let m = ran.room();
        assert!(m.forwarded_frames > 0, "nothing forwarded");
        drop(m);
        ran.sim
    });
}

/// Failing seeds are found whatever the number of threads, reported in seed order, and the
/// report ends with the command that re-runs the first one alone.
#[test]
fn failures_are_reported_with_a_reproduction_command() {
    let test = |seed: u64, opts: &SimOptions| {
        assert!(seed % 5 != 3, "seed {seed} is unlucky");
        workers(seed, opts, |_| 0)
    };
    let plan = |jobs| SeedPlan {
        first: 1,
        num: 10,
        jobs,
        check_determinism: false,
    };
    let one = run_seeds(&plan(1), test);
    let four = run_seeds(&plan(4), test);
    assert_eq!(one, four);
    assert_eq!(one.iter().map(|f| f.seed).collect::<Vec<_>>(), vec![3, 8]);
    let text = failure_report(&plan(4), &one);
    assert!(text.contains("seed 3: seed 3 is unlucky"), "{text}");
    assert!(
        text.contains(
            "reproduce: COSTREAM_TEST_SEED=3 COSTREAM_TEST_NUM=1 cargo test -p costream --test seeds -- --exact failures_are_reported_with_a_reproduction_command"
        ),
        "{text}"
    );
}

/// A program whose runs differ (here: a counter shared between runs changes one worker's CPU)
/// is caught at its first differing event, named by goroutine, creator and virtual time.
#[test]
fn determinism_check_names_the_first_differing_event() {
    assert_eq!(
        first_divergence(&|seed, opts: &SimOptions| workers(seed, opts, |_| 0), 7),
        None
    );
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let leaky = |seed, opts: &SimOptions| {
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        workers(seed, opts, move |i| if i == 4 { run * 7 } else { 0 })
    };
    let d = first_divergence(&leaky, 7).expect("runs differ");
    assert_eq!(d.seed, 7);
    // Worker 4 finishes later in the second run, so main is woken later: the first differing
    // event is main's GoUnblock, at two different virtual times.
    assert!(d.first.contains("GoUnblock goroutine 1 (main.main)"), "{d}");
    assert!(d.first.starts_with("at ") && d.first != d.second, "{d}");
    assert!(d.to_string().contains("first differ at event #"), "{d}");
}

/// Recorded events read as the tracer's events, with each goroutine's function and creator.
#[test]
fn recorded_events_name_goroutines_and_their_creators() {
    let sim = workers(1, &SimOptions::default().event_log(EventLog::All), |_| 0);
    let log = sim.event_log();
    assert!(log.len() > 20);
    let starts: Vec<String> = (0..log.len())
        .map(|i| sim.describe_event(i))
        .filter(|s| s.contains("GoStart goroutine") && s.contains("main.worker"))
        .collect();
    assert_eq!(starts.len(), 6, "{starts:?}");
    assert!(
        starts[0].contains("created by main.main in goroutine 1"),
        "{}",
        starts[0]
    );
    // Without the harness nothing is kept.
    assert!(workers(1, &SimOptions::default(), |_| 0)
        .event_log()
        .is_empty());
}

/// A test that drops the options it is given keeps no events: the determinism check says so
/// instead of comparing two empty logs and calling the seed deterministic.
#[test]
#[should_panic(expected = "built its simulation without the SimOptions it was given")]
fn a_test_that_ignores_its_options_is_refused_by_the_determinism_check() {
    let _ = first_divergence(
        &|seed, _opts: &SimOptions| workers(seed, &SimOptions::default(), |_| 0),
        7,
    );
}

/// `go_here` names an anonymous goroutine after where it was started, as Go's tracebacks
/// place a closure by file and line.
#[test]
fn anonymous_goroutines_are_named_by_their_call_site() {
    let sim = SimBuilder::new(1, RunLimits::for_duration(SimDuration::from_millis(5)))
        .event_log(EventLog::All)
        .build();
    let h = sim.add_runtime(RuntimeConfig::default());
    let line = std::sync::atomic::AtomicU32::new(0);
    let line = std::rc::Rc::new(line);
    let at = line.clone();
    sim.main(h, move |go| async move {
        at.store(line!() + 1, Ordering::Relaxed);
        go.go_here(|go| async move { go.compute(SimDuration::from_micros(5)).await });
        go.sleep(SimDuration::from_millis(1)).await;
    });
    sim.run();
    let want = format!(
        "(seeds.rs:{}, created by main.main",
        line.load(Ordering::Relaxed)
    );
    let log = sim.event_log();
    assert!(
        (0..log.len()).any(|i| sim.describe_event(i).contains(&want)),
        "no event names {want}"
    );
}
