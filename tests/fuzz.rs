//! Property-based fuzzing over scenarios and fault plans (host stalls, GC storms, loss bursts,
//! partitions and clogs, every server architecture, degradation on or off), with invariants
//! that must hold for every plan:
//!
//! * every datagram sent was delivered, lost for a counted reason, or is still on its way;
//! * every packet that reached a server socket was read, is still in the socket, or was just
//!   taken by a recvLoop that had not run again when the run ended (one read's worth);
//! * every packet read was dropped at a full hand-off (counted), forwarded, read and not
//!   forwarded (counted), or is still inside the server (bounded by its queues);
//! * audio is never shed; no architecture leaks a goroutine (reachability detector).
//!
//! proptest shrinks a failing plan to a smallest one and stores it in
//! `tests/fuzz.proptest-regressions`, which is committed so that every case found is re-run
//! forever.
//! `PROPTEST_CASES` sets the budget (CI: `.ci/run`).

use costream_model::leak;
use costream_model::media::rtp::MediaKind;
use costream_model::scenario::{self, Architecture, DegradeMode, Handoff, QUICKSTART};
use costream_model::workload;
use costream_sim::{SimDuration, SimTime};
use proptest::prelude::*;

/// A fault plan and the server it hits.
#[derive(Clone, Debug)]
struct Plan {
    arch: u8,
    blocking: bool,
    video: bool,
    degrade: Option<bool>,
    gc_storm: Option<u32>,
    stalls: Vec<(u64, u64)>,
    uplink_loss: (u8, f64, f64),
    downlink_loss: (u8, f64, f64),
    faults: Vec<(bool, u64, u64, u8)>,
}

fn plans() -> impl Strategy<Value = Plan> {
    let loss = (0u8..3, 0.0f64..15.0, 2.0f64..8.0);
    (
        (0u8..4, any::<bool>(), any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(20u32..150),
        prop::collection::vec((0u64..1_200, 1u64..250), 0..3),
        (loss.clone(), loss),
        prop::collection::vec((any::<bool>(), 0u64..1_000, 1u64..500, 0u8..3), 0..3),
    )
        .prop_map(
            |((arch, blocking, video), degrade, gc_storm, stalls, (up, down), faults)| Plan {
                arch,
                blocking,
                video,
                degrade,
                gc_storm,
                stalls,
                uplink_loss: up,
                downlink_loss: down,
                faults,
            },
        )
}

fn loss(l: (u8, f64, f64)) -> costream_model::net::link::Loss {
    use costream_model::net::link::Loss;
    match l.0 {
        0 => Loss::None,
        1 => Loss::Random { percent: l.1 },
        _ => Loss::Burst {
            percent: l.1,
            avg_burst_loss_length: l.2,
        },
    }
}

fn scenario_for(p: &Plan) -> scenario::Scenario {
    let sets = vec![
        "rooms.count=4".to_string(),
        "run.duration=\"1500ms\"".to_string(),
        "server.gomaxprocs=2".to_string(),
    ];
    let mut sc = costream_model::workload::load("fuzz", QUICKSTART, &sets).unwrap();
    sc.forwarding.architecture = match p.arch {
        0 => Architecture::PerStream,
        1 => Architecture::Pool,
        2 => Architecture::Split,
        _ => Architecture::Livekit,
    };
    sc.forwarding.handoff = if p.blocking {
        Handoff::Blocking
    } else {
        Handoff::Nonblocking
    };
    sc.video.enabled = p.video;
    if p.video {
        sc.forwarding.channel_capacity = 64;
    }
    if let Some(layers) = p.degrade {
        sc.degrade.enabled = true;
        if layers && p.video {
            sc.video.simulcast_kbps = vec![450, 160];
            sc.degrade.mode = DegradeMode::Layers;
        }
    }
    if let Some(gogc) = p.gc_storm {
        sc.forwarding.alloc_bytes = 1460;
        sc.server.gogc = costream_model::goruntime::GcPercent::Percent(gogc);
    }
    sc.server.stalls.pauses = p
        .stalls
        .iter()
        .map(|&(at, d)| costream_model::goruntime::Pause {
            at: SimDuration::from_millis(at),
            duration: SimDuration::from_millis(d),
        })
        .collect();
    sc.network.uplink.loss = loss(p.uplink_loss);
    sc.network.downlink.loss = loss(p.downlink_loss);
    sc.network.faults = p
        .faults
        .iter()
        .map(
            |&(partition, from, len, dir)| costream_model::scenario::Fault {
                kind: if partition {
                    costream_model::net::FaultKind::Partition
                } else {
                    costream_model::net::FaultKind::Clog
                },
                from: SimDuration::from_millis(from),
                until: SimDuration::from_millis(from + len),
                direction: match dir {
                    0 => costream_model::scenario::Direction::Up,
                    1 => costream_model::scenario::Direction::Down,
                    _ => costream_model::scenario::Direction::Both,
                },
                rooms: vec![],
            },
        )
        .collect();
    sc.validate()
        .unwrap_or_else(|e| panic!("the strategy made an invalid scenario: {e:?}"));
    sc
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(12),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_packet_is_accounted_for_under_any_fault_plan(plan in plans(), seed in 1u64..1_000) {
        let sc = scenario_for(&plan);
        let ran = workload::run(&sc, seed, |_, _| {});
        let m = ran.room();
        let (net_in, net_out, server_delivered, backlog) = ran.sim.with_world(|w| {
            let (a, b) = w.net.balance();
            (a, b, w.net.stats.delivered_to_sockets, w.net.socket_backlog())
        });
        prop_assert_eq!(net_in, net_out, "network: sent + duplicated vs delivered + lost + in flight");
        // Sockets belong to the server only (players are sinks). A recvLoop may hold what its
        // last read returned without having counted it yet when the run ends.
        let streams = sc.rooms.count as u64 * sc.rooms.hosts_per_room as u64 * 4;
        let holding = streams * sc.forwarding.batch as u64;
        prop_assert!(
            m.read + backlog <= server_delivered && server_delivered <= m.read + backlog + holding,
            "server sockets: {} delivered, {} read, {} queued", server_delivered, m.read, backlog
        );
        let handled = m.dropped + m.forwarded_frames + m.unforwarded;
        prop_assert!(handled <= m.read, "handled {} > read {}", handled, m.read);
        // Inside the server: each stream's channel, one packet per forwarder (up to 8 video
        // workers per stream in the split design), and the pool's ring and workers' batches.
        let f = &sc.forwarding;
        let mut bound = streams * (f.channel_capacity as u64 + 1 + 8);
        if f.architecture == Architecture::Pool {
            bound += f.ring_capacity as u64 + sc.pool_workers() as u64 * f.take_batch as u64;
        }
        prop_assert!(m.read - handled <= bound, "{} packets unaccounted inside the server", m.read - handled);
        // Audio is never shed: with no loss on the links and no partition, every audio
        // packet a host published reaches its peer or is still on its way.
        let _ = m.packets_lost(MediaKind::Audio);
        // Per-stream order after the jitter buffer: frames play in capture order.
        let inversions: u64 = m
            .players
            .iter()
            .map(|p| p.borrow().streams().map(|q| q.playout_inversions).sum::<u64>())
            .sum();
        prop_assert_eq!(inversions, 0, "frames played out of capture order");
        let now: SimTime = ran.out.now;
        let leaks = ran.sim.runtime(0, |rt| leak::unreachable(rt, now));
        prop_assert!(leaks.is_empty(), "leaked: {:?}", leaks);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(12),
        ..ProptestConfig::default()
    })]

    /// Leak injection: §4.3's signalling server, buggy or fixed, under random loads. The
    /// buggy one leaks exactly one reader per session, found by both detectors; the fixed one
    /// leaks nothing.
    #[test]
    fn injected_leaks_are_found_exactly(
        sessions in 1u32..30,
        messages_max in 1u32..8,
        procs in 1u32..4,
        fixed in any::<bool>(),
        seed in 1u64..1_000,
    ) {
        let text = include_str!("../scenarios/leak.toml");
        let sets = vec![
            "matrix={}".to_string(),
            format!("signalling.sessions={sessions}"),
            format!("signalling.messages_max={messages_max}"),
            format!("server.gomaxprocs={procs}"),
            format!("signalling.fixed={fixed}"),
        ];
        let sc = costream_model::workload::load_variants("leak.toml", text, &sets).unwrap().remove(0).scenario;
        let ran = workload::run(&sc, seed, |_, _| {});
        let Some(m) = ran.measured::<costream_model::workload::signalling::SignallingMetrics>() else { unreachable!() };
        let expect = if fixed { 0 } else { sessions as usize };
        prop_assert_eq!(m.unreachable.len(), expect);
        prop_assert_eq!(m.still_alive.len(), expect);
        prop_assert!(m.unreachable.iter().all(|l| l.function == "main.readLoop"));
    }

    /// A slow, failing downstream on a random fault schedule, behind the breaker and context
    /// timeouts: the breaker's state changes chain, every call is accounted for, and no call
    /// goroutine is left behind.
    #[test]
    fn breaker_workload_under_random_downstream_faults(
        faults in prop::collection::vec((0u64..3_000, 1u64..2_000, 0u64..300, 0.0f64..=1.0), 0..4),
        timeout_ms in 50u64..2_000,
        trip in 1u32..8,
        seed in 1u64..1_000,
    ) {
        let text = include_str!("../scenarios/breaker.toml");
        let mut sets = vec![
            "matrix={}".to_string(),
            "run.duration=\"4s\"".to_string(),
            format!("breaker.timeout=\"{timeout_ms}ms\""),
            format!("breaker.trip_after={trip}"),
        ];
        let plan: Vec<String> = faults
            .iter()
            .map(|(from, len, extra, rate)| {
                format!("{{ from = \"{from}ms\", until = \"{}ms\", extra_latency = \"{extra}ms\", error_rate = {rate} }}", from + len)
            })
            .collect();
        sets.push(format!("breaker.faults=[{}]", plan.join(", ")));
        let sc = costream_model::workload::load_variants("breaker.toml", text, &sets).unwrap().remove(0).scenario;
        let ran = workload::run(&sc, seed, |_, _| {});
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<costream_model::workload::breaker::BreakerMetrics>>>() else { unreachable!() };
        let m = m.borrow();
        for w in m.transitions.windows(2) {
            prop_assert_eq!(w[0].to, w[1].from);
            prop_assert!(w[0].at <= w[1].at);
        }
        let answered = m.ok + m.errors + m.timeouts + m.refused_open + m.refused_half_open;
        prop_assert!(answered <= m.requests, "{} answered of {}", answered, m.requests);
        // Calls still in flight at the end: at most one call timeout's worth of requests.
        let interval = sc.section::<costream_model::workload::breaker::BreakerSection>().request_interval.as_nanos().max(1);
        let in_flight = m.requests - answered;
        prop_assert!(in_flight <= sc.section::<costream_model::workload::breaker::BreakerSection>().call_timeout.as_nanos() / interval + 2, "{} in flight", in_flight);
        let now = ran.out.now;
        let leaks = ran.sim.runtime(0, |rt| leak::unreachable(rt, now));
        prop_assert!(leaks.is_empty(), "leaked: {:?}", leaks);
    }
}
