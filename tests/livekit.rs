//! LiveKit-style forwarding: DownTrackSpreader fan-out, per-downtrack workers, NACK
//! retransmission, and CPU per packet out against LiveKit's benchmark.

use costream_model::media::rtp::MediaKind;
use costream_model::workload::{self, Ran};

const LIVEKIT: &str = include_str!("../scenarios/livekit.toml");

fn run(sets: &[&str]) -> Ran {
    let mut all = vec!["run.duration=\"1500ms\"", "rooms.listeners=60"];
    all.extend_from_slice(sets);
    let sets: Vec<String> = all.iter().map(|s| s.to_string()).collect();
    let sc = costream_model::workload::load("livekit.toml", LIVEKIT, &sets)
        .unwrap_or_else(|e| panic!("{e}"));
    workload::run(&sc, 1, |_, _| {})
}

fn created(r: &Ran, class: &str) -> u64 {
    r.sim.runtime(0, |rt| {
        rt.census_classes()
            .iter()
            .find(|c| c.name == class)
            .map_or(0, |c| c.created)
    })
}

/// Below the threshold each packet is written serially by its forwarder; from it, every packet
/// starts min(NumCPU, downtracks) goroutines.
#[test]
fn spreader_goes_parallel_from_the_threshold() {
    let serial = run(&["rooms.listeners=17", "video.enabled=false"]); // 18 downtracks
    assert_eq!(created(&serial, "utils.(*parallelState).run"), 0);
    let par = run(&["rooms.listeners=18", "video.enabled=false"]); // 19 downtracks
    assert_eq!(created(&par, "utils.(*parallelState).run"), 0, "19 < 20");
    let par = run(&["rooms.listeners=19", "video.enabled=false"]); // 20 downtracks
    let forwarded = Ran::room(&par).forwarded_frames;
    assert_eq!(created(&par, "utils.(*parallelState).run"), forwarded * 16);
    // Every packet still reaches every downtrack.
    assert_eq!(Ran::room(&par).forwarded_copies, forwarded * 20);
}

/// One key-frame requester and one layer notifier per video downtrack; an RTCP reader per
/// subscriber.
#[test]
fn per_downtrack_workers() {
    let r = run(&[]);
    // 2 video streams × 61 downtracks each; 62 subscribers.
    assert_eq!(created(&r, "sfu.(*DownTrack).keyFrameRequester"), 122);
    assert_eq!(created(&r, "sfu.(*DownTrack).maxLayerNotifierWorker"), 122);
    assert_eq!(created(&r, "sfu.(*DownTrack).handleRTCP"), 62);
}

/// NACKs recover almost every video packet the downlinks lose.
#[test]
fn nack_retransmission_recovers_lost_video() {
    let lost = |r: &Ran| r.room().packets_lost(MediaKind::Video);
    let off = run(&["forwarding.nack=false"]);
    let on = run(&[]);
    let (lost_off, lost_on) = (lost(&off), lost(&on));
    assert!(lost_off > 200, "{lost_off}");
    assert!(lost_on * 10 < lost_off, "{lost_on} vs {lost_off}");
    let m = Ran::room(&on);
    assert!(m.retransmitted > 0 && m.nacked >= m.retransmitted);
    assert_eq!(Ran::room(&off).retransmitted, 0);
}

/// CPU per packet out lands where LiveKit's benchmark puts it: ≈ 13 µs for audio, ≈ 26 µs for
/// ~1 KB livestream video packets (../shared/reference/media.md §5).
#[test]
fn cpu_per_packet_out_matches_the_livekit_benchmark() {
    let per_packet = |r: &Ran| {
        let now = r.out.now;
        let cpu = r.sim.runtime(0, |rt| rt.cpu_used_ns(now)) as f64;
        let m = r.room();
        cpu / 1e3 / (m.forwarded_copies + m.retransmitted) as f64
    };
    // At LiveKit's benchmark scale the per-packet spawns of the spreader are amortised over
    // hundreds of downtracks.
    let big = ["rooms.listeners=300", "run.duration=\"1s\""];
    let audio = per_packet(&run(&[big[0], big[1], "video.enabled=false"]));
    assert!((13.0..=17.0).contains(&audio), "audio {audio:.1} us");
    let mixed = per_packet(&run(&big));
    assert!(
        (22.0..=30.0).contains(&mixed),
        "video + audio {mixed:.1} us"
    );
}
