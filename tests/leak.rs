//! §4.3: the buggy signalling session leaks on every one of 1,000 seeds, the fix on none.

use costream_model::leak::LeakKind;
use costream_model::workload;

#[test]
fn buggy_leaks_on_every_seed_fixed_on_none() {
    let text = include_str!("../scenarios/leak.toml");
    let sets: Vec<String> = ["signalling.sessions=4", "signalling.messages_max=4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let variants = costream_model::workload::load_variants("leak.toml", text, &sets).unwrap();
    assert_eq!(variants.len(), 2);
    for v in &variants {
        let fixed = v
            .scenario
            .section::<workload::signalling::SignallingSection>()
            .fixed;
        for seed in 1..=1000u64 {
            let ran = workload::run(&v.scenario, seed, |_, _| {});
            let Some(m) = ran.measured::<costream_model::workload::signalling::SignallingMetrics>()
            else {
                panic!("not a signalling run")
            };
            if fixed {
                assert!(
                    m.unreachable.is_empty() && m.still_alive.is_empty(),
                    "seed {seed}: fixed variant leaked {:?}",
                    m.unreachable
                );
            } else {
                // Every session's reader, reported by both detectors with its creation site.
                assert_eq!(m.unreachable.len(), 4, "seed {seed}");
                assert_eq!(m.still_alive.len(), 4, "seed {seed}");
                for l in &m.unreachable {
                    assert_eq!(l.kind, LeakKind::Unreachable);
                    assert_eq!(l.function, "main.readLoop");
                    assert_eq!(l.created_by.map(|c| c.0), Some("main.handleSession"));
                    assert_eq!(l.reason.as_str(), "chan receive");
                }
            }
        }
    }
}

/// §3.1's lifecycle phases: every goroutine is counted once entering its first run and
/// once leaving; a reader's run before it blocks is its message's processing CPU.
#[test]
fn lifecycle_phases_count_every_goroutine_and_time_its_runs() {
    let text = include_str!("../scenarios/lifecycle.toml");
    let sets = vec!["signalling.sessions=300".to_string()];
    let sc = costream_model::workload::load("lifecycle.toml", text, &sets).unwrap();
    let ran = workload::run(&sc, 1, |_, _| {});
    ran.sim.runtime(0, |rt| {
        let classes = rt.census_classes();
        let reader = classes.iter().find(|c| c.name == "main.readLoop").unwrap();
        let handler = classes
            .iter()
            .find(|c| c.name == "main.handleSession")
            .unwrap();
        for c in [reader, handler] {
            assert_eq!(c.created, 300);
            assert_eq!(c.phases[0].0, 300, "{}: create → run once each", c.name);
            assert_eq!(c.phases[3].0, 300, "{}: exit once each", c.name);
            assert_eq!(c.live, 0);
        }
        // run → block of a reader: process(m) = 300 µs of CPU, plus a few operations.
        let (n, ns) = reader.phases[1];
        let mean_us = ns as f64 / n as f64 / 1e3;
        assert!((300.0..=330.0).contains(&mean_us), "{mean_us} us");
        // Blocked and woken as often: every block ends in a wake.
        assert_eq!(reader.phases[1].0, reader.phases[2].0);
    });
}
