//! Same seed and scenario → same report and digest; another seed → another digest; and the
//! digests are pinned, so debug and release builds (CI runs this file in both) must agree.

use costream_model::scenario::QUICKSTART;
use costream_model::workload;

fn report(seed: u64, sets: &[&str]) -> (String, u64) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = costream_model::workload::load("quickstart", QUICKSTART, &sets).unwrap();
    let ran = workload::run(&sc, seed, |_, _| {});
    let r = costream_model::report::report(&sc, seed, "", &ran);
    (r, ran.out.digest)
}

#[test]
fn same_seed_same_report_and_digest() {
    let (a, da) = report(7, &[]);
    let (b, db) = report(7, &[]);
    assert_eq!(da, db);
    assert_eq!(a, b, "reports differ for one seed");
    assert!(a.contains(&format!("\ndigest: {da:016x}\n")));
}

#[test]
fn another_seed_another_digest() {
    let digests: Vec<u64> = (1..=5).map(|s| report(s, &[]).1).collect();
    for i in 0..digests.len() {
        for j in i + 1..digests.len() {
            assert_ne!(
                digests[i],
                digests[j],
                "seeds {} and {} collide",
                i + 1,
                j + 1
            );
        }
    }
}

/// Pinned digests: a change to the model or the kernel that alters any run changes these.
/// That is sometimes intended; then update them here and say why in the commit message
/// (stored replay files of older versions stop matching).
#[test]
fn pinned_digests_hold_in_every_build() {
    // Every architecture, with video, simulcast degradation and (LiveKit) NACKs.
    let arch = |a: &'static str| -> [&'static str; 5] {
        [
            a,
            "video.enabled=true",
            "rooms.count=4",
            "run.duration=2s",
            "degrade.enabled=true",
        ]
    };
    let (pool, split, livekit) = (
        arch("forwarding.architecture=\"pool\""),
        arch("forwarding.architecture=\"split\""),
        arch("forwarding.architecture=\"livekit\""),
    );
    let cases: [(u64, &[&str], u64); 5] = [
        (1, &[], 0x9243a79ed463dace),
        (
            1,
            &["rooms.count=20", "server.gomaxprocs=4", "run.duration=2s"],
            0x7b4912f78c51d539,
        ),
        (1, &pool, 0xb0bc61b1f78fe67a),
        (1, &split, 0x401c9cf8dd7f977a),
        (1, &livekit, 0x11bb8d0b2568e6e4),
    ];
    for (seed, sets, want) in cases {
        let (_, got) = report(seed, sets);
        assert_eq!(
            got, want,
            "seed {seed} {sets:?}: digest {got:016x}, pinned {want:016x}"
        );
    }
}

/// A GC-heavy run is pinned too: pauses, workers, assists and pools must not depend on the
/// build either.
#[test]
fn pinned_gc_digest_holds_in_every_build() {
    let text = include_str!("../scenarios/gc-burst.toml");
    let v = costream_model::workload::load_variants(
        "gc-burst.toml",
        text,
        &["run.duration=\"500ms\"".to_string()],
    )
    .unwrap();
    let sc = &v[0].scenario;
    assert_eq!(v[0].label, "burst.pool=false, server.gogc=100");
    let ran = workload::run(sc, 1, |_, _| {});
    assert!(ran.sim.runtime(0, |rt| rt.gc_stats().cycles.len()) > 5);
    assert_eq!(
        ran.out.digest, 0x0c373f4e676eca9d,
        "digest {:016x}",
        ran.out.digest
    );
}

/// Parallel runs (one per thread) give the digests of sequential ones.
#[test]
fn parallel_runs_match_sequential() {
    let seq: Vec<u64> = (1..=4).map(|s| report(s, &["rooms.count=5"]).1).collect();
    let par: Vec<u64> = std::thread::scope(|sc| {
        let hs: Vec<_> = (1..=4)
            .map(|s| sc.spawn(move || report(s, &["rooms.count=5"]).1))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(seq, par);
}

/// The OS under the runtime is deterministic too, and it changes the run: quickstart on
/// GOMAXPROCS 4 over two CPUs is pinned.
#[test]
fn pinned_os_digest_holds_in_every_build() {
    let sets = ["server.gomaxprocs=4", "server.os.cpus=2", "run.duration=2s"];
    let (a, da) = report(1, &sets);
    let (b, db) = report(1, &sets);
    assert_eq!((a, da), (b, db));
    let (_, without) = report(1, &sets[..1]);
    assert_ne!(da, without, "two CPUs under four Ps changed nothing");
    assert_eq!(da, 0x2d7897ec421af7a6, "digest {da:016x}");
}
