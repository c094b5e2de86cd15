//! §4.1: GOMAXPROCS at run time, the CPU topology and the tuner.

use costream_model::scenario::QUICKSTART;
use costream_model::workload::{self, Ran};
use costream_sim::SimTime;

fn run(sets: &[&str]) -> Ran {
    let mut all = vec![
        "rooms.count=200",
        "run.duration=\"3s\"",
        "server.gomaxprocs=64",
        "server.topology={ sockets = 2, l3_per_socket = 2, cores_per_l3 = 8, threads_per_core = 2 }",
    ];
    all.extend_from_slice(sets);
    let sets: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    let sc = costream_model::workload::load("quickstart", QUICKSTART, &sets)
        .unwrap_or_else(|e| panic!("{e}"));
    workload::run(&sc, 1, |_, _| {})
}

/// The tuner reads the quota at start (Go 1.25's rule) and again after CPUs go offline.
#[test]
fn quota_tuner_follows_the_quota_and_offline_cpus() {
    let r = run(&[
        "server.stalls.cpu_quota=16.0",
        "server.tuner.policy=\"quota\"",
        "server.tuner.period=\"1s\"",
        // At 1.5 s only 12 CPUs stay online.
        "server.topology.changes=[{ at = \"1500ms\", offline = [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51] }]",
    ]);
    let log = r.sim.runtime(0, |rt| rt.gomaxprocs_log.clone());
    let values: Vec<u32> = log.iter().map(|x| x.1).collect();
    assert_eq!(values, vec![64, 16, 12], "{log:?}");
    // The second change follows the first tick after the offlining (at 2 s).
    assert!(log[2].0 >= SimTime::ZERO + costream_sim::SimDuration::from_secs(2));
    assert_eq!(r.sim.runtime(0, |rt| rt.gomaxprocs()), 12);
}

/// Without a tuner, GOMAXPROCS stays; Ps spread over the 4 L3 domains steal across them. With 16 Ps in one domain no steal crosses a domain.
#[test]
fn steals_cross_domains_only_when_ps_span_them() {
    let busy = "forwarding.frame_cpu=\"300us\"";
    let r = run(&[busy]);
    let (l3, socket, log) = r.sim.runtime(0, |rt| {
        (
            rt.stats.steals_cross_l3,
            rt.stats.steals_cross_socket,
            rt.gomaxprocs_log.len(),
        )
    });
    assert_eq!(log, 1);
    // Idle Ps come off a LIFO list, so work stays on the low Ps and rarely reaches socket 1.
    assert!(l3 + socket > 0, "{l3} {socket}");
    let r = run(&[busy, "server.gomaxprocs=16"]);
    let (l3, socket) = r.sim.runtime(0, |rt| {
        (rt.stats.steals_cross_l3, rt.stats.steals_cross_socket)
    });
    assert_eq!((l3, socket), (0, 0));
}

/// The article's policy keeps whole L3 domains under the cap: 16 (one domain) for a 20-CPU quota.
#[test]
fn topology_tuner_rounds_to_whole_l3_domains() {
    let r = run(&[
        "server.stalls.cpu_quota=20.0",
        "server.tuner.policy=\"topology\"",
    ]);
    assert_eq!(r.sim.runtime(0, |rt| rt.gomaxprocs()), 16);
}

/// A tuner without a topology is refused, naming the field and the fix.
#[test]
fn a_tuner_needs_a_topology() {
    let sets = vec!["server.tuner.policy=\"quota\"".to_string()];
    let e = costream_model::workload::load("quickstart", QUICKSTART, &sets).unwrap_err();
    assert_eq!(e.field, "server.tuner.policy");
    assert!(e.to_string().contains("[server.topology]"), "{e}");
    let sets = vec![
        "server.topology={ sockets = 1, l3_per_socket = 1, cores_per_l3 = 4, threads_per_core = 1, offline = [9] }".to_string(),
    ];
    let e = costream_model::workload::load("quickstart", QUICKSTART, &sets).unwrap_err();
    assert_eq!(e.field, "server.topology.offline");
    assert!(e.to_string().contains("CPU 9 does not exist"), "{e}");
}
