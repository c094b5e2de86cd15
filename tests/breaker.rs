//! §4.4: a circuit breaker around a faulted downstream, run through the whole runtime
//! (ticker, a goroutine per request, context.WithTimeout, select).

use costream_model::server::breaker::State;
use costream_model::workload::{self, breaker::BreakerMetrics};
use costream_sim::SimDuration;
use std::cell::RefCell;
use std::rc::Rc;

struct Outcome {
    changes: Vec<(SimDuration, State, State)>,
    refused: u64,
    admitted: u64,
    requests: u64,
}

/// Runs the shipped scenario with the breaker's open-state timeout set to `timeout`.
fn run(timeout: SimDuration) -> Outcome {
    let text = include_str!("../scenarios/breaker.toml");
    let set = format!("breaker.timeout=\"{}ns\"", timeout.as_nanos());
    let sc = workload::load_variants("breaker.toml", text, &["matrix={}".into(), set]).unwrap()[0]
        .scenario
        .clone();
    let r = workload::run(&sc, 1, |_, _| {});
    let m = r
        .measured::<Rc<RefCell<BreakerMetrics>>>()
        .expect("a breaker run");
    let m = m.borrow();
    Outcome {
        changes: m
            .transitions
            .iter()
            .map(|t| (t.at.since_start(), t.from, t.to))
            .collect(),
        refused: m.refused_open + m.refused_half_open,
        admitted: m.ok + m.errors + m.timeouts,
        requests: m.requests,
    }
}

#[test]
fn breaker_opens_during_the_fault_and_closes_after_it() {
    let o = run(SimDuration::from_secs(1));
    let first_open = o
        .changes
        .iter()
        .find(|c| c.2 == State::Open)
        .expect("the breaker never opened");
    let (from, until) = (SimDuration::from_secs(2), SimDuration::from_secs(5));
    // It trips within a few hundred ms of the fault starting (5 consecutive failures at 60%
    // errors and every call timing out), and never before it.
    assert!(first_open.0 >= from && first_open.0 < from + SimDuration::from_millis(500));
    let last = o.changes.last().unwrap();
    assert_eq!(last.2, State::Closed, "{:?}", o.changes);
    assert!(last.0 >= until && last.0 < until + SimDuration::from_secs(2));
    // Every transition outside the fault window (plus one open timeout) is the final close.
    assert!(o.changes.iter().all(|c| c.0 >= from));
    assert!(o.refused > 100, "open breaker refused only {}", o.refused);
    // Only the calls still in flight when the run ends are neither refused nor finished.
    assert!(o.refused + o.admitted <= o.requests);
    assert!(o.requests - o.refused - o.admitted < 50);
}

#[test]
fn a_longer_open_timeout_flaps_less() {
    let short = run(SimDuration::from_millis(500));
    let long = run(SimDuration::from_secs(2));
    assert!(
        short.changes.len() > long.changes.len(),
        "500ms: {} changes, 2s: {}",
        short.changes.len(),
        long.changes.len()
    );
    // ...but refuses more calls: the price of flapping less.
    assert!(long.refused > short.refused);
}
