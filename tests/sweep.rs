//! `costream sweep` and `costream merge` give no false verdicts (issue 14): a results file names
//! its sweep in a header, a sweep resumes only into a file of the same sweep, merge joins only
//! the shards of one sweep and only when they cover every point, and a bad grid is refused
//! before any point runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Exit code, stdout, stderr of `costream ARGS` run in `dir`.
fn costream(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_costream"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A fresh, empty folder for one test.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("costream-sweep-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small, quick sweep of the embedded scenario: 2 × 2 grid points × `seeds`.
fn sweep_args<'a>(grid: &'a str, seeds: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "sweep",
        "quickstart",
        "--set",
        "rooms.count=2",
        "--set",
        "run.duration=\"100ms\"",
        "--grid",
        "server.gomaxprocs=1,2",
        "--grid",
        grid,
        "--seeds",
        seeds,
        "--jobs",
        "2",
    ];
    v.extend_from_slice(extra);
    v
}

/// Runs a sweep that must succeed; returns its stdout.
fn sweep_ok(dir: &Path, grid: &str, seeds: &str, extra: &[&str]) -> String {
    let (code, out, err) = costream(dir, &sweep_args(grid, seeds, extra));
    assert_eq!(code, 0, "{err}");
    out
}

const GRID: &str = "server.gogc=50,100";

#[test]
fn a_different_sweep_into_the_same_file_is_refused() {
    let dir = folder("different");
    sweep_ok(&dir, GRID, "1", &["--out", "r.jsonl"]);
    let before = std::fs::read(dir.join("r.jsonl")).unwrap();
    for (grid, seeds, sets, field) in [
        ("server.gogc=50,200", "1", &[][..], "grid"),
        (GRID, "2", &[][..], "seeds"),
        (GRID, "1", &["--set", "rooms.listeners=2"][..], "scenario"),
        (GRID, "1", &["--shard", "1/2"][..], "shard"),
    ] {
        let mut extra = vec!["--out", "r.jsonl"];
        extra.extend_from_slice(sets);
        let (code, out, err) = costream(&dir, &sweep_args(grid, seeds, &extra));
        assert_eq!(code, 2, "{out}{err}");
        let first = err.lines().next().unwrap();
        assert!(
            first.contains("r.jsonl: holds the results of a different sweep")
                && first.contains(&format!("differs in {field}")),
            "{err}"
        );
        assert!(
            err.contains("use another --out, or delete r.jsonl"),
            "{err}"
        );
        assert!(!out.contains("points"), "nothing ran: {out}");
        assert_eq!(std::fs::read(dir.join("r.jsonl")).unwrap(), before);
    }
}

#[test]
fn a_resumed_sweep_is_byte_identical_to_a_fresh_one() {
    let dir = folder("resume");
    let out = sweep_ok(&dir, GRID, "2", &["--out", "fresh.jsonl"]);
    assert!(out.contains("8 of 8 points in fresh.jsonl"), "{out}");
    let fresh = std::fs::read_to_string(dir.join("fresh.jsonl")).unwrap();
    let lines: Vec<&str> = fresh.lines().collect();
    assert_eq!(lines.len(), 9, "a header and eight points");
    assert!(
        lines[0].starts_with("{\"costream_sweep\":1,"),
        "{}",
        lines[0]
    );
    for l in &lines[1..] {
        assert!(l.starts_with("{\"point\":"), "{l}");
    }
    // Interrupted after three points, the fourth torn mid-write.
    let mut partial: String = lines[..4].iter().map(|l| format!("{l}\n")).collect();
    partial.push_str(&lines[4][..20]);
    std::fs::write(dir.join("resumed.jsonl"), partial).unwrap();
    let out = sweep_ok(&dir, GRID, "2", &["--out", "resumed.jsonl"]);
    assert!(out.contains("8 of 8 points"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("resumed.jsonl")).unwrap(),
        fresh
    );
    // Resuming a finished sweep runs nothing and changes nothing.
    sweep_ok(&dir, GRID, "2", &["--out", "fresh.jsonl"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("fresh.jsonl")).unwrap(),
        fresh
    );
}

#[test]
fn the_default_file_is_named_after_the_scenario() {
    let dir = folder("names");
    let out = sweep_ok(&dir, GRID, "1", &[]);
    assert!(out.contains("in quickstart.sweep.jsonl"), "{out}");
    assert!(dir.join("quickstart.sweep.jsonl").exists());
    let out = sweep_ok(&dir, GRID, "1", &["--shard", "2/3"]);
    assert!(out.contains("in quickstart.sweep-2of3.jsonl"), "{out}");
    assert!(dir.join("quickstart.sweep-2of3.jsonl").exists());
    // A scenario file's stem, in the current folder (not beside the file).
    std::fs::create_dir_all(dir.join("sc")).unwrap();
    let (_, text, _) = costream(&dir, &["example"]);
    std::fs::write(dir.join("sc/my-rooms.toml"), text).unwrap();
    let (code, out, err) = costream(
        &dir,
        &[
            "sweep",
            "sc/my-rooms.toml",
            "--set",
            "rooms.count=2",
            "--set",
            "run.duration=\"100ms\"",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 of 1 points in my-rooms.sweep.jsonl"),
        "{out}"
    );
    assert!(dir.join("my-rooms.sweep.jsonl").exists());
    assert!(!dir.join("sweep.jsonl").exists());
}

#[test]
fn merge_joins_only_shards_of_one_sweep_and_only_when_complete() {
    let dir = folder("merge");
    sweep_ok(&dir, GRID, "2", &["--out", "all.jsonl"]);
    for i in 1..=3 {
        sweep_ok(&dir, GRID, "2", &["--shard", &format!("{i}/3")]);
    }
    let shard = |i: usize| format!("quickstart.sweep-{i}of3.jsonl");
    // Complete (one shard given twice): the same bytes as the unsharded sweep.
    let (code, out, err) = costream(
        &dir,
        &[
            "merge",
            &shard(1),
            &shard(2),
            &shard(3),
            &shard(2),
            "--out",
            "merged.jsonl",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("all 8 points"), "{out}");
    assert_eq!(
        std::fs::read(dir.join("merged.jsonl")).unwrap(),
        std::fs::read(dir.join("all.jsonl")).unwrap()
    );
    // Incomplete: shard 2 is absent and shard 3 lost its last point.
    let three = std::fs::read_to_string(dir.join(shard(3))).unwrap();
    let short: String = three.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("short3.jsonl"), short).unwrap();
    let (code, out, err) = costream(
        &dir,
        &["merge", &shard(1), "short3.jsonl", "--out", "part.jsonl"],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.starts_with(
            "error: merge: the files do not cover the sweep: 4 of its 8 points are missing"
        ),
        "{err}"
    );
    // Shard 2/3 holds points 1, 4, 7; shard 3/3 lost point 5.
    for needle in [
        "point 1: server.gomaxprocs=1 server.gogc=50 seed 2",
        "points 4-5: server.gomaxprocs=2 server.gogc=50 seed 1 … server.gomaxprocs=2 server.gogc=50 seed 2",
        "point 7: server.gomaxprocs=2 server.gogc=100 seed 2",
        "short3.jsonl (--shard 3/3) has 1 of its 2 points",
        "no file holds shard 2/3",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    assert!(!dir.join("part.jsonl").exists(), "nothing is written");
    // Shards of different sweeps.
    sweep_ok(
        &dir,
        "server.gogc=50,200",
        "2",
        &["--shard", "2/3", "--out", "other2.jsonl"],
    );
    let (code, out, err) = costream(
        &dir,
        &[
            "merge",
            &shard(1),
            "other2.jsonl",
            &shard(3),
            "--out",
            "mixed.jsonl",
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    let first = err.lines().next().unwrap();
    assert!(
        first.contains(&format!(
            "{} and other2.jsonl are not results of one sweep",
            shard(1)
        )) && first.contains("differ in grid"),
        "{err}"
    );
    assert!(err.contains("server.gogc=50,200"), "{err}");
    assert!(!dir.join("mixed.jsonl").exists());
}

#[test]
fn a_file_without_a_header_is_refused() {
    let dir = folder("headerless");
    sweep_ok(&dir, GRID, "1", &["--out", "new.jsonl"]);
    // The format before headers: result lines only.
    let text = std::fs::read_to_string(dir.join("new.jsonl")).unwrap();
    let old: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("old.jsonl"), &old).unwrap();
    let (code, _, err) = costream(&dir, &sweep_args(GRID, "1", &["--out", "old.jsonl"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: old.jsonl: has no sweep header"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("old.jsonl")).unwrap(), old);
    let (code, _, err) = costream(&dir, &["merge", "old.jsonl", "--out", "m.jsonl"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: old.jsonl: has no sweep header"),
        "{err}"
    );
    std::fs::write(dir.join("notes.txt"), "my notes\n").unwrap();
    let (code, _, err) = costream(&dir, &sweep_args(GRID, "1", &["--out", "notes.txt"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("notes.txt: has no sweep header"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "my notes\n"
    );
}

#[test]
fn a_bad_grid_is_refused_before_any_point_runs() {
    let dir = folder("grid");
    for (grid, seeds, needle) in [
        (
            "server.gomaxprocz=1,2",
            "1",
            "--grid server.gomaxprocz=1,2: `server.gomaxprocz=1` does not load (no point has run)",
        ),
        (
            "server.gogc=50,lots",
            "1",
            "--grid server.gogc=50,lots: `server.gogc=lots` does not load (no point has run)",
        ),
        (
            "server.gomaxprocs=4,8",
            "1",
            "--grid server.gomaxprocs=1,2 and --grid server.gomaxprocs=4,8: both set server.gomaxprocs",
        ),
        (
            "rooms.count=1,3",
            "1",
            "--grid rooms.count=1,3 and --set rooms.count=2: both set rooms.count",
        ),
        (
            "server.gogc=1,2,3,4,5,6,7,8,9,10",
            "5001",
            "sweep: 20 grid combinations × 5001 seeds make 100020 points, more than a sweep may have (100000)",
        ),
    ] {
        let (code, out, err) = costream(&dir, &sweep_args(grid, seeds, &["--out", "r.jsonl"]));
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.starts_with(&format!("error: {needle}")), "{needle:?} in {err}");
        assert!(!dir.join("r.jsonl").exists(), "no point ran: {err}");
    }
}
