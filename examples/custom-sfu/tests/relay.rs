//! The relay model through costream's public API: what it forwards and drops, that it is
//! deterministic, that its scenario section is checked, and that explore, replay, shrink and
//! sweep work on it as on a built-in workload.

use costream_model::explore::{self, Condition, Replay};
use costream_model::scenario::{self, Scenario};
use costream_model::workload;
use costream_model::EventLog;
use custom_sfu::{registry, RelayMetrics, Shared};

const RELAY: &str = include_str!("../relay.toml");

fn load(sets: &[&str]) -> Result<Scenario, String> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenario::load_with(&registry(), "relay.toml", RELAY, &sets).map_err(|e| e.to_string())
}

fn run(sets: &[&str], seed: u64) -> (workload::Ran, u64) {
    let sc = load(sets).expect("relay.toml loads");
    let ran = workload::run(&sc, seed, |_, _| {});
    let digest = ran.out.digest;
    (ran, digest)
}

fn metrics(ran: &workload::Ran) -> std::cell::Ref<'_, RelayMetrics> {
    ran.measured::<Shared>().expect("a relay run").borrow()
}

/// Below saturation every packet read reaches each of its stream's subscribers, none is
/// dropped, and the latency is the two links' delay plus little.
#[test]
fn light_load_forwards_every_copy() {
    let (ran, _) = run(&[], 1);
    let m = metrics(&ran);
    assert_eq!(m.dropped, 0);
    assert!(m.read > 0 && m.read <= m.sent, "{m:?}");
    assert_eq!(
        m.forwarded,
        m.read * 4,
        "every packet read, once per subscriber"
    );
    assert_eq!(m.lost_pct(), 0.0);
    let p50 = m.latency.value_at_quantile(0.5) as f64 / 1e6;
    assert!(
        (39.0..43.0).contains(&p50),
        "P50 {p50} ms: 2 × 20 ms of link delay"
    );
}

/// Writers that need more CPU than the Ps have fill their queues: `enqueue` drops the oldest,
/// a queue never holds more than its capacity, and each subscriber still sees its packets
/// in order (the network keeps order with `reorder = 0`).
#[test]
fn overload_drops_the_oldest() {
    let (ran, _) = run(&["relay.write_cpu=1ms", "run.duration=4s"], 1);
    let m = metrics(&ran);
    assert!(m.dropped > 1000, "{} dropped", m.dropped);
    assert_eq!(m.queue_max, 64);
    assert!(m.lost_pct() > 5.0, "{} % lost", m.lost_pct());
    assert!(m.subscribers.iter().all(|r| r.reordered == 0));
    let p99 = m.latency.value_at_quantile(0.99) as f64 / 1e6;
    assert!(p99 > 500.0, "P99 {p99} ms: packets wait behind full queues");
}

/// A deeper queue delays packets instead of dropping them.
#[test]
fn a_deeper_queue_trades_drops_for_latency() {
    let base = ["relay.write_cpu=1ms", "run.duration=4s"];
    let (shallow, _) = run(&base, 1);
    let (deep, _) = run(&[base[0], base[1], "relay.queue=4096"], 1);
    let (s, d) = (metrics(&shallow), metrics(&deep));
    assert!(d.dropped < s.dropped / 10, "{} vs {}", d.dropped, s.dropped);
    // P99, not the maximum: in 4 s the backlog of the deep queue grows to about as long as a
    // full shallow queue's, so their slowest packets are close.
    let p99 = |m: &RelayMetrics| m.latency.value_at_quantile(0.99);
    assert!(p99(&d) > p99(&s), "P99 {} vs {} ns", p99(&d), p99(&s));
}

#[test]
fn same_seed_same_digest() {
    let (_, a) = run(&[], 7);
    let (_, b) = run(&[], 7);
    let (_, c) = run(&[], 8);
    assert_eq!(a, b);
    assert_ne!(
        a, c,
        "the seed draws the publishers' phases and the links' jitter"
    );
}

#[test]
fn bad_values_name_the_field_and_the_fix() {
    let e = load(&["relay.queue=0"]).unwrap_err();
    assert!(e.contains("relay.queue") && e.contains("use 1 to"), "{e}");
    let e = load(&["relay.packet_size=8B"]).unwrap_err();
    assert!(
        e.contains("relay.packet_size") && e.contains("RTP header"),
        "{e}"
    );
    let e = load(&["relay.fanout=2"]).unwrap_err();
    assert!(e.contains("fanout"), "{e}");
    let e = load(&["relay.interval=\"soon\""]).unwrap_err();
    assert!(e.contains("relay.interval"), "{e}");
}

/// The relay's metrics are conditions like the built-ins' (and their names are unique).
#[test]
fn explore_finds_the_overloaded_seeds_and_the_replay_reproduces_them() {
    let reg = registry();
    let cond = Condition::parse("relay.dropped > 0", &reg).expect("a relay metric");
    let sc = load(&["relay.write_cpu=1ms", "run.duration=3s"]).unwrap();
    let found = explore::explore(&reg, &sc, 1..4, &cond, 1, |_, _| {}).unwrap();
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|f| f.violated), "{found:?}");
    let worst = found
        .iter()
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .unwrap();

    let sets = vec!["relay.write_cpu=1ms".to_string(), "run.duration=3s".into()];
    let r = Replay::record(
        &reg,
        "relay.toml",
        RELAY,
        &sets,
        worst.seed,
        Some((cond, worst.value)),
    )
    .unwrap();
    let text = r.to_toml();
    let back = Replay::parse(&reg, "relay.replay.toml", &text).unwrap();
    let ran = back
        .replay(&reg, "relay.replay.toml", EventLog::Last(8))
        .expect("every checkpoint agrees");
    assert_eq!(metrics(&ran).dropped as f64, worst.value);

    let names: Vec<_> = explore::metrics(&reg).into_iter().map(|m| m.0).collect();
    for m in ["relay.forwarded", "relay.dropped", "relay.p99_ms"] {
        assert_eq!(names.iter().filter(|&&n| n == m).count(), 1, "{m}");
    }
}

/// `--until` on a relay metric with nothing to measure is refused, not reported as 0.
#[test]
fn a_metric_with_nothing_to_measure_is_refused() {
    let reg = registry();
    let cond = Condition::parse("relay.p99_ms > 50", &reg).unwrap();
    let sc = load(&["relay.subscribers=0"]).unwrap();
    let e = cond.check_measured(&sc, &reg).unwrap_err();
    assert!(e.contains("relay.subscribers = 0"), "{e}");
}

/// `shrink` halves the counts the relay names (`shrink_halving`), not the rooms'.
#[test]
fn shrink_halves_the_relays_own_counts() {
    let reg = registry();
    let cond = Condition::parse("relay.dropped > 0", &reg).unwrap();
    let sets = vec!["relay.write_cpu=2ms".to_string(), "run.duration=3s".into()];
    let sc = load(&["relay.write_cpu=2ms", "run.duration=3s"]).unwrap();
    let value = explore::measure(&workload::run(&sc, 1, |_, _| {}))["relay.dropped"];
    assert!(value > 0.0);
    let r = Replay::record(&reg, "relay.toml", RELAY, &sets, 1, Some((cond, value))).unwrap();
    let (small, steps) = costream_model::shrink::shrink(&reg, "r.toml", &r, 50, |_, _| {}).unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s.edit.starts_with("relay.publishers 20 → 10")),
        "{steps:?}"
    );
    assert!(small.events < r.events, "{} → {}", r.events, small.events);
}
