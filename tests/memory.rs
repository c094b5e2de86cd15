//! A scenario that passes validation must not exhaust the machine: the run's memory is
//! estimated before it starts and refused, with the estimate and the flag that overrides it;
//! output paths are checked before any work.

use std::process::Command;

fn costream(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_costream"))
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("costream-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Before: `--set rooms.count=1000000` on quickstart grew past 15 GB in seconds.
#[test]
fn a_million_rooms_is_refused_before_it_starts() {
    let (code, out, err) = costream(&[
        "run",
        "quickstart",
        "--set",
        "rooms.count=1000000",
        "--max-memory",
        "16GiB",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("error: quickstart (with --set): this run needs about "),
        "{err}"
    );
    assert!(
        err.contains("2000000 participants")
            && err.contains("than the 16.0 GiB --max-memory allows"),
        "{err}"
    );
    assert!(err.contains("pass --max-memory"), "{err}");
}

#[test]
fn a_bad_memory_limit_is_an_error() {
    let (code, _, err) = costream(&["run", "quickstart", "--max-memory", "lots"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--max-memory lots") && err.contains("64GiB"),
        "{err}"
    );
}

/// Before: a missing folder for --trace or --html was found only after the whole run.
#[test]
fn output_paths_are_checked_before_the_run() {
    let missing = tmp("no-such-folder").join("run.json");
    let missing = missing.to_str().unwrap();
    for flag in ["--trace", "--html"] {
        let (code, out, err) = costream(&["run", "quickstart", flag, missing]);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(out.is_empty(), "{flag} ran before failing: {out}");
        assert!(err.contains("does not exist"), "{err}");
    }
    let folder = tmp("");
    let (code, out, err) = costream(&["run", "quickstart", "--html", folder.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty() && err.contains("is a folder"), "{err}");
}

/// A trace that would be gigabytes is announced; its event log counts in the estimate.
#[test]
fn a_huge_trace_is_announced_and_counted() {
    let path = tmp("big.json");
    let (code, _, err) = costream(&[
        "run",
        "quickstart",
        "--set",
        "rooms.count=2000",
        "--set",
        "run.duration=\"60s\"",
        "--trace",
        path.to_str().unwrap(),
        "--max-memory",
        "1GiB",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("logged events × 32 B"), "{err}");
    assert!(
        !path.exists(),
        "the probe of the output path left a file behind"
    );
}

/// The trace is written as it is made, and is the same JSON as before.
#[test]
fn a_small_trace_is_written_and_parses() {
    let path = tmp("small.json");
    let (code, _, err) = costream(&[
        "run",
        "quickstart",
        "--set",
        "run.duration=\"200ms\"",
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(v["traceEvents"].as_array().unwrap().len() > 10);
}

/// Explore runs seeds in parallel: a run that cannot fit is refused before any seed, and
/// parallel seeds are limited to as many as fit.
#[test]
fn explore_is_refused_or_narrowed_to_what_fits() {
    let (code, out, err) = costream(&[
        "explore",
        "quickstart",
        "--set",
        "rooms.count=1000000",
        "--until",
        "audio.p99_ms > 1",
        "--seeds",
        "2",
        "--max-memory",
        "4GiB",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("this run needs about") && err.contains("--max-memory"),
        "{err}"
    );
    let (code, out, err) = costream(&[
        "explore",
        "quickstart",
        "--set",
        "rooms.count=100",
        "--set",
        "run.duration=\"200ms\"",
        "--until",
        "audio.p99_ms > 1000",
        "--seeds",
        "4",
        "--jobs",
        "4",
        "--max-memory",
        "30MiB",
        "--out",
        tmp("never.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("so 2 of 4 threads run at once"), "{err}");
    assert!(out.contains("0 of 4 seeds"), "{out}");
}

/// Before: `receiver.max_delay` below `min_delay` panicked in the jitter buffer's clamp, and
/// a huge `receiver.window` aborted on a multi-exabyte allocation.
#[test]
fn receiver_settings_that_would_panic_or_abort_are_refused() {
    for (set, field) in [
        ("receiver.max_delay=\"10ms\"", "receiver.min_delay"),
        ("receiver.min_delay=\"2s\"", "receiver.min_delay"),
        ("receiver.window=4294967296", "receiver.window"),
        ("receiver.window=0", "receiver.window"),
    ] {
        let (code, out, err) = costream(&["run", "quickstart", "--set", set]);
        assert_eq!(code, 2, "{set}: {err}");
        assert!(out.is_empty(), "{set}: {out}");
        assert!(err.contains(&format!("field `{field}`")), "{set}: {err}");
        assert!(err.contains("hint:"), "{set}: {err}");
    }
}
