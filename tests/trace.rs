//! The Perfetto/Chrome trace export, checked against the trace-event format: a JSON object with
//! a `traceEvents` array; complete events (`X`) with name, non-negative `ts` and `dur`, `pid`
//! and `tid`; slices on one track never overlap; every flow start (`s`) has its end (`f`) with
//! the same id; every track used is named by a metadata event (`M`).

use costream_model::scenario::QUICKSTART;
use costream_model::trace_export::chrome_trace;
use costream_model::workload;
use costream_model::world::{EventLog, SimOptions};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn trace(sets: &[&str]) -> Value {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = costream_model::workload::load("quickstart", QUICKSTART, &sets).unwrap();
    let all = SimOptions::default().event_log(EventLog::All);
    let ran = workload::run_with(&sc, 1, &all, |_, _| {});
    let text = chrome_trace(&ran.sim).expect("the run kept its events");
    serde_json::from_str(&text).expect("valid JSON")
}

fn check_format(v: &Value) -> (usize, usize) {
    let evs = v["traceEvents"].as_array().expect("traceEvents array");
    let mut slices: BTreeMap<(u64, u64), Vec<(f64, f64)>> = BTreeMap::new();
    let mut named: BTreeSet<(u64, u64)> = BTreeSet::new();
    let (mut starts, mut ends) = (BTreeSet::new(), BTreeSet::new());
    for e in evs {
        let ph = e["ph"].as_str().expect("ph");
        let pid = e["pid"].as_u64().expect("pid");
        match ph {
            "X" => {
                let tid = e["tid"].as_u64().expect("tid");
                assert!(e["name"].as_str().is_some_and(|n| !n.is_empty()), "{e}");
                let ts = e["ts"].as_f64().expect("ts");
                let dur = e["dur"].as_f64().expect("dur");
                assert!(ts >= 0.0 && dur >= 0.0, "{e}");
                slices.entry((pid, tid)).or_default().push((ts, ts + dur));
            }
            "s" | "f" => {
                let id = e["id"].as_u64().expect("flow id");
                assert!(
                    e["ts"].as_f64().is_some() && e["tid"].as_u64().is_some(),
                    "{e}"
                );
                if ph == "s" {
                    assert!(starts.insert(id), "flow {id} starts twice");
                } else {
                    assert_eq!(e["bp"], "e", "{e}");
                    assert!(ends.insert(id), "flow {id} ends twice");
                }
            }
            "M" => {
                let what = e["name"].as_str().unwrap();
                assert!(what == "thread_name" || what == "process_name", "{e}");
                assert!(e["args"]["name"].as_str().is_some(), "{e}");
                if what == "thread_name" {
                    named.insert((pid, e["tid"].as_u64().unwrap()));
                }
            }
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    assert_eq!(starts, ends, "every flow start has its end");
    for (track, mut s) in slices.clone() {
        assert!(named.contains(&track), "track {track:?} has no name");
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in s.windows(2) {
            assert!(
                w[1].0 + 1e-9 >= w[0].1,
                "overlapping slices on {track:?}: {w:?}"
            );
        }
    }
    (slices.values().map(|v| v.len()).sum(), starts.len())
}

#[test]
fn trace_follows_the_trace_event_format() {
    let v = trace(&[
        "run.duration=\"300ms\"",
        "rooms.count=10",
        "server.gomaxprocs=2",
    ]);
    let (slices, flows) = check_format(&v);
    assert!(
        slices > 500 && flows > 100,
        "{slices} slices, {flows} flows"
    );
    // Goroutine slices carry their function and goid.
    let evs = v["traceEvents"].as_array().unwrap();
    assert!(evs
        .iter()
        .any(|e| e["name"] == "main.forwardLoop" && e["args"]["goid"].is_u64()));
}

#[test]
fn gc_cycles_appear_on_their_own_track() {
    let v = trace(&[
        "run.duration=\"300ms\"",
        "rooms.count=10",
        "forwarding.alloc_bytes=\"64KiB\"",
    ]);
    check_format(&v);
    let evs = v["traceEvents"].as_array().unwrap();
    let gc: Vec<&Value> = evs.iter().filter(|e| e["cat"] == "gc").collect();
    assert!(!gc.is_empty());
    assert!(gc
        .iter()
        .all(|e| e["tid"] == costream_model::trace_export::GC_TID));
    // The GC's stop-the-world phases are slices on their own track.
    let stw = evs
        .iter()
        .filter(|e| e["cat"] == "stw" && e["name"] == "GcStw")
        .count();
    assert!(stw >= 2 * gc.len(), "{stw} pauses for {} cycles", gc.len());
}
