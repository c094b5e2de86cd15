//! Swarm testing with a liveness phase: each seed derives the whole configuration (GOMAXPROCS,
//! GOGC, cost jitter, architecture, network profile, stalls, partitions, clogs, allocation);
//! after the faults heal, the server must recover. A failure prints the derived configuration
//! in full and the command that re-runs that seed. `COSTREAM_TEST_NUM=200 cargo test --release
//! --test swarm` explores more.

use costream_model::swarm::{derive, run, transient_goroutines};
use costream_model::testing::check_seeds;

#[test]
fn every_derived_configuration_recovers_after_its_faults() {
    check_seeds(8, |seed, opts| {
        let cfg = derive(seed);
        let (sim, live) = run(&cfg, opts);
        let problems = live.problems(transient_goroutines(&cfg));
        assert!(
            problems.is_empty(),
            "liveness failed: {}\nderived configuration: {cfg:#?}\nobserved: {live:#?}",
            problems.join("; ")
        );
        sim
    });
}

#[test]
fn a_seed_derives_one_configuration() {
    assert_eq!(derive(7), derive(7));
    let distinct: std::collections::BTreeSet<String> =
        (1..=20).map(|s| format!("{:?}", derive(s))).collect();
    assert_eq!(distinct.len(), 20);
}
