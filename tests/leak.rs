//! Seed 4.3: the buggy signalling session leaks on every one of 1,000 seeds, the fix on none.

use costream_model::leak::LeakKind;
use costream_model::scenario;
use costream_model::workload::{self, Measured};

#[test]
fn buggy_leaks_on_every_seed_fixed_on_none() {
    let text = include_str!("../scenarios/leak.toml");
    let sets: Vec<String> = ["signalling.sessions=4", "signalling.messages_max=4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let variants = scenario::load_variants("leak.toml", text, &sets).unwrap();
    assert_eq!(variants.len(), 2);
    for v in &variants {
        let fixed = v.scenario.signalling.fixed;
        for seed in 1..=1000u64 {
            let ran = workload::run(&v.scenario, seed, |_, _| {});
            let Measured::Signalling(m) = &ran.measured else {
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
