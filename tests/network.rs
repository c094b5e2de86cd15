//! Rooms over the network: losses, partitions, batched reads and §2.3's hand-off.

use costream_model::media::rtp::MediaKind;
use costream_model::scenario::QUICKSTART;
use costream_model::workload::{self, Ran};

fn run(sets: &[&str]) -> Ran {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = costream_model::workload::load("quickstart", QUICKSTART, &sets).unwrap();
    workload::run(&sc, 1, |_, _| {})
}

/// Packets the links lose are the packets the players count as lost.
#[test]
fn link_losses_show_up_as_packets_lost() {
    let r = run(&[
        "rooms.count=5",
        "run.duration=\"20s\"",
        "network.downlink.loss={ model = \"burst\", percent = 5.0, avg_burst_loss_length = 3.0 }",
    ]);
    let m = Ran::room(&r);
    let lost_at_players: i64 = m
        .players
        .iter()
        .map(|p| p.borrow().streams().map(|q| q.packets_lost()).sum::<i64>())
        .sum();
    let link_lost = r.sim.with_world(|w| w.net.link_totals().lost) as i64;
    // Packets still in flight at the end are neither received nor lost yet.
    assert!(
        (lost_at_players - link_lost).abs() <= 10,
        "players {lost_at_players}, links {link_lost}"
    );
    let (q, _, _) = m.aggregate(MediaKind::Audio).unwrap();
    let rate = link_lost as f64 / (q.packets_received as f64 + link_lost as f64);
    assert!((rate - 0.05).abs() < 0.01, "loss rate {rate}");
    assert!(q.concealment_events > 0);
}

/// A 2-second partition of the downlink: the player conceals ~100 audio frames per stream.
#[test]
fn a_partition_is_concealed() {
    let r = run(&["run.duration=\"10s\"", "network.faults=[{ kind = \"partition\", from = \"3s\", until = \"5s\", direction = \"down\" }]"]);
    let m = Ran::room(&r);
    let (q, n, _) = m.aggregate(MediaKind::Audio).unwrap();
    let per_stream = q.frames_dropped as f64 / n as f64;
    assert!(
        (95.0..=110.0).contains(&per_stream),
        "{per_stream} frames concealed per stream"
    );
    let partitioned = r.sim.with_world(|w| w.net.link_totals().partitioned);
    assert!((190..=210).contains(&partitioned), "{partitioned}");
}

/// A clog holds packets instead of dropping them: with a blocking hand-off (so the server's
/// channel does not drop the burst that follows) nothing is lost, and latency spikes.
#[test]
fn a_clog_delays_without_loss() {
    let r = run(&[
        "run.duration=\"10s\"",
        "forwarding.handoff=\"blocking\"",
        "network.faults=[{ kind = \"clog\", from = \"3s\", until = \"3.5s\", direction = \"up\" }]",
    ]);
    let m = Ran::room(&r);
    let (q, _, _) = m.aggregate(MediaKind::Audio).unwrap();
    assert_eq!(
        m.players
            .iter()
            .map(|p| p.borrow().streams().map(|x| x.packets_lost()).sum::<i64>())
            .sum::<i64>(),
        0
    );
    // Held frames reach the server up to 500 ms late and miss their playout slots.
    assert!(
        m.end_to_end.max() > 450_000_000,
        "max capture → forwarded {} ns",
        m.end_to_end.max()
    );
    assert!(q.packets_late > 0, "{} late", q.packets_late);
}

/// §2.3: a blocking hand-off never drops at the server but delivers later; a non-blocking
/// one drops what the channel cannot hold and keeps delay lower.
#[test]
fn blocking_vs_nonblocking_handoff() {
    let text = include_str!("../scenarios/handoff.toml");
    let v = costream_model::workload::load_variants(
        "handoff.toml",
        text,
        &["run.duration=\"10s\"".into(), "rooms.count=200".into()],
    )
    .unwrap();
    let res: Vec<(String, u64, u64, u64)> = v
        .iter()
        .map(|x| {
            let r = workload::run(&x.scenario, 1, |_, _| {});
            let m = Ran::room(&r);
            let (q, _, _) = m.aggregate(MediaKind::Audio).unwrap();
            (
                x.label.clone(),
                m.dropped,
                q.latency.value_at_quantile(0.99),
                q.latency.to_hdr().mean() as u64,
            )
        })
        .collect();
    let (b, n) = (&res[0], &res[1]);
    assert!(b.0.contains("blocking") && n.0.contains("nonblocking"));
    assert_eq!(b.1, 0, "blocking never drops at the server");
    assert!(n.1 > 0, "non-blocking drops when a stall fills the channel");
    assert!(b.2 > n.2, "P99 blocking {} vs non-blocking {}", b.2, n.2);
}

/// Two hosts, each with its own Go runtime, joined by links: a goroutine on one sends
/// datagrams to a goroutine on the other, which echoes them; the round trip is both links'
/// delay plus the system calls and scheduling on each side.
#[test]
fn two_go_runtimes_exchange_datagrams() {
    use costream_model::media::rtp::Rtp;
    use costream_model::net::link::LinkConfig;
    use costream_model::world::Datagram;
    use costream_model::{GoNet, RunLimits, RuntimeConfig, Sim, SimDuration};
    use std::{cell::RefCell, rc::Rc};

    let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(5)));
    let a = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 2,
        ..Default::default()
    });
    let b = sim.add_runtime(RuntimeConfig {
        gomaxprocs: 1,
        ..Default::default()
    });
    let link = |ms| LinkConfig {
        delay: SimDuration::from_millis(ms),
        ..Default::default()
    };
    sim.with_world_mut(|w| {
        w.net.set_link(a, b, link(10));
        w.net.set_link(b, a, link(15));
    });
    let echo = sim.go(b).bind(7);
    sim.go(b).go("main.echo", move |go| async move {
        loop {
            let d = echo.read(&go).await;
            go.udp_send(Datagram {
                src: d.dst,
                dst: d.src,
                payload: d.payload,
                arrived: Default::default(),
            })
            .await;
        }
    });
    let rtts = Rc::new(RefCell::new(Vec::new()));
    let r = rtts.clone();
    sim.main(a, move |go| async move {
        let sock = go.bind(9);
        for i in 0..20u16 {
            let t0 = go.now();
            go.udp_send(Datagram {
                src: (a, 9),
                dst: (b, 7),
                payload: Rtp {
                    seq: i,
                    size: 100,
                    ..Default::default()
                },
                arrived: Default::default(),
            })
            .await;
            let back = sock.read(&go).await;
            assert_eq!(back.payload.seq, i);
            r.borrow_mut()
                .push(go.now().saturating_since(t0).as_nanos());
            go.sleep(SimDuration::from_millis(5)).await;
        }
    });
    let out = sim.run();
    assert_eq!(out.end, costream_model::EndReason::MainReturned);
    for &rtt in rtts.borrow().iter() {
        // 25 ms of links, plus the epoll wake-ups and system calls on both idle runtimes.
        assert!((25_000_000..25_400_000).contains(&rtt), "rtt {rtt} ns");
    }
}

/// §2.4: Gosched in low-priority loops lets timer-driven high-priority work in; without it
/// requests wait for sysmon's preemption (10-20 ms) and most ticks are dropped.
#[test]
fn gosched_in_low_priority_loops_cuts_request_latency() {
    let text = include_str!("../scenarios/gosched.toml");
    let v = costream_model::workload::load_variants(
        "gosched.toml",
        text,
        &["run.duration=\"1s\"".to_string()],
    )
    .unwrap();
    let res: Vec<(u32, u64, u64)> = v
        .iter()
        .map(|x| {
            let r = workload::run(&x.scenario, 1, |_, _| {});
            let Some(m) = r.measured::<std::rc::Rc<
                    std::cell::RefCell<costream_model::workload::gosched::GoschedMetrics>,
                >>() else {
                    panic!()
                };
            let m = m.borrow();
            (
                x.scenario
                    .section::<workload::gosched::GoschedSection>()
                    .every,
                m.requests,
                m.latency.value_at_quantile(0.99),
            )
        })
        .collect();
    let never = res.iter().find(|r| r.0 == 0).unwrap();
    let every100 = res.iter().find(|r| r.0 == 100).unwrap();
    let every10 = res.iter().find(|r| r.0 == 10).unwrap();
    assert!(never.2 > 10_000_000 && never.1 < 80, "{never:?}");
    assert!(every100.2 < never.2 && every100.1 > never.1, "{every100:?}");
    assert!(every10.2 < 2_000_000 && every10.1 > 950, "{every10:?}");
}

/// §3.2: a worker pool fed through a ring buffer forwards the same packets as a goroutine
/// per stream, with a recvLoop per stream plus the pool instead of two goroutines per stream,
/// and drops at the ring when it is too small.
#[test]
fn worker_pool_forwards_with_fewer_goroutines_and_drops_at_a_full_ring() {
    let run_with = |sets: &[&str]| {
        let mut all = vec!["rooms.count=20", "run.duration=\"2s\""];
        all.extend_from_slice(sets);
        let r = run(&all);
        let live = r.sim.runtime(0, |rt| rt.live_goroutines());
        let names: Vec<&str> = r
            .sim
            .runtime(0, |rt| rt.goroutines().iter().map(|g| g.3).collect());
        let Some(m) = r.measured::<std::rc::Rc<std::cell::RefCell<costream_model::workload::room::RoomMetrics>>>() else {
            panic!()
        };
        let m = m.borrow();
        (live, names, m.arrived, m.forwarded_frames, m.dropped)
    };
    let (live_1to1, _, arrived, fwd_1to1, _) = run_with(&[]);
    let (live_pool, names, arrived_pool, fwd_pool, dropped) =
        run_with(&["forwarding.architecture=\"pool\"", "forwarding.workers=4"]);
    // 40 participants publish one audio stream each (quickstart has no video).
    assert_eq!(live_1to1, 2 * 40, "a recvLoop and a forwardLoop per stream");
    assert_eq!(live_pool, 40 + 4);
    assert_eq!(names.iter().filter(|n| **n == "main.poolWorker").count(), 4);
    assert_eq!(dropped, 0);
    assert_eq!(arrived, arrived_pool);
    // Everything that arrived is forwarded, but for the few packets in flight at the end.
    assert!(
        fwd_pool + 8 >= arrived_pool && fwd_1to1 + 40 >= arrived,
        "{fwd_pool} {fwd_1to1} {arrived}"
    );
    // A one-packet ring behind one slow worker drops.
    let (_, _, arrived, fwd, dropped) = run_with(&[
        "forwarding.architecture=\"pool\"",
        "forwarding.workers=1",
        "forwarding.ring_capacity=1",
        "forwarding.take_batch=1",
        "forwarding.frame_cpu=\"1ms\"",
    ]);
    assert!(dropped > arrived / 4, "{dropped} of {arrived}");
    assert!(fwd + dropped <= arrived && fwd + dropped + 3 >= arrived);
}

/// Issue 5's media degradation: on a saturated server (120 rooms with video on one P), a
/// breaker that sheds video while forwarders fall behind keeps audio on time; audio is never
/// shed.
#[test]
fn shedding_video_on_a_saturated_server_keeps_audio_on_time() {
    let run_with = |degrade: bool| {
        let d = format!("degrade.enabled={degrade}");
        let r = run(&[
            "rooms.count=120",
            "video.enabled=true",
            "server.gomaxprocs=1",
            "run.duration=\"2s\"",
            &d,
        ]);
        let Some(m) = r.measured::<std::rc::Rc<std::cell::RefCell<costream_model::workload::room::RoomMetrics>>>() else {
            panic!()
        };
        let m = m.borrow();
        let (audio, _, _) = m.aggregate(MediaKind::Audio).unwrap();
        (
            audio.packets_received,
            audio.packets_late,
            m.forward_latency.value_at_quantile(0.99),
            m.video_shed,
            m.degrade_transitions
                .iter()
                .map(|t| t.to)
                .collect::<Vec<_>>(),
        )
    };
    let (rx_off, late_off, p99_off, shed_off, tr_off) = run_with(false);
    let (rx_on, late_on, p99_on, shed_on, tr_on) = run_with(true);
    assert_eq!((shed_off, tr_off.len()), (0, 0));
    assert!(shed_on > 10_000, "shed {shed_on}");
    assert_eq!(tr_on[0], costream_model::server::breaker::State::Open);
    assert!(rx_on >= rx_off, "audio was shed: {rx_on} < {rx_off}");
    assert!(late_on * 2 < late_off, "late audio {late_on} vs {late_off}");
    assert!(p99_on < p99_off, "forward P99 {p99_on} vs {p99_off}");
}

/// §3.3's split architecture: audio forwarders locked to their threads, and per video
/// stream a scaler that runs one worker per 15 fps: two at 30 fps, one after the publishers
/// drop to 15 fps.
#[test]
fn split_architecture_locks_audio_and_scales_video_with_the_frame_rate() {
    use costream_sim::{SimDuration, SimTime};
    let r = run(&[
        "rooms.count=10",
        "video.enabled=true",
        "server.gomaxprocs=4",
        "run.duration=\"4s\"",
        "forwarding.architecture=\"split\"",
        "video.fps_schedule=[{ at = \"1500ms\", fps = 15 }]",
    ]);
    let names: Vec<&str> = r
        .sim
        .runtime(0, |rt| rt.goroutines().iter().map(|g| g.3).collect());
    let count = |n: &str| names.iter().filter(|x| **x == n).count();
    assert_eq!(count("main.audioLoop"), 20);
    assert_eq!(count("main.vidScaler"), 20);
    assert_eq!(count("main.videoWorker"), 20);
    let (locked, handoffs) = r
        .sim
        .runtime(0, |rt| (rt.stats.locked_ms, rt.stats.lockedm_handoffs));
    assert_eq!(locked, 20);
    // Every audio packet wakes a locked forwarder: two hand-offs each.
    assert!(handoffs > 2 * 20 * 50 * 3, "{handoffs}");
    let m = Ran::room(&r);
    let at = |ms| {
        m.video_workers
            .at(SimTime::ZERO + SimDuration::from_millis(ms))
    };
    assert_eq!(at(500), 20);
    assert_eq!(at(1400), 40, "30 fps: two workers per stream");
    assert_eq!(at(3500), 20, "15 fps: one worker per stream");
    assert_eq!((m.video_workers.started, m.video_workers.stopped), (40, 20));
    assert_eq!(m.packets_lost(MediaKind::Audio), 0);
}

/// Layered degradation (simulcast 1.7 Mbit/s, 450 and 160 kbit/s): host stalls trip the
/// video breaker; each trip drops one layer, the last pauses video, and a second of calm brings
/// one layer back at a time. Switches wait for key frames and the forwarder munges sequence
/// numbers, so the subscribers' streams stay continuous; audio is never shed.
#[test]
fn layered_degradation_steps_down_and_back_up_one_layer_at_a_time() {
    let r = run(&[
        "rooms.count=60",
        "server.gomaxprocs=2",
        "run.duration=\"9s\"",
        "video.enabled=true",
        "video.simulcast_kbps=[450, 160]",
        "degrade.enabled=true",
        "degrade.mode=\"layers\"",
        // Room for a key frame's packets (quickstart's capacity of 3 drops them).
        "forwarding.channel_capacity=64",
        "degrade.max_queue_delay=\"50ms\"",
        "degrade.upgrade_after=\"1s\"",
        "server.stalls.pauses=[{ at = \"1s\", duration = \"150ms\" }, { at = \"2s\", duration = \"150ms\" }, { at = \"3s\", duration = \"150ms\" }]",
    ]);
    let m = Ran::room(&r);
    let (layers, tl) = m.degrade_levels.clone().expect("layered");
    assert_eq!(layers, 3);
    let levels: Vec<u8> = tl.iter().map(|x| x.1).collect();
    for w in levels.windows(2) {
        assert_eq!(w[0].abs_diff(w[1]), 1, "one layer at a time: {levels:?}");
    }
    let paused_at = levels.iter().position(|&l| l == 3).expect("reaches paused");
    assert!(
        levels[paused_at..].contains(&0),
        "comes back to the top: {levels:?}"
    );
    // Subscribers see continuous streams: few video packets count as lost.
    let rx = m.aggregate(MediaKind::Video).unwrap().0.packets_received;
    let lost = m.packets_lost(MediaKind::Video);
    assert!(rx > 10_000 && lost * 100 < rx as i64, "{lost} lost of {rx}");
    assert!(m.video_shed > 0);
    let (audio, _, _) = m.aggregate(MediaKind::Audio).unwrap();
    assert!(
        audio.packets_received > 120 * 50 * 8,
        "{}",
        audio.packets_received
    );
}
