//! `explore`, `replay` and `shrink` never give a false verdict: an edited replay file is told
//! from a model that diverged, a divergence names its first event and its cause, shrink refuses
//! a run whose condition does not hold, and bad input is refused before anything runs.

use costream_model::explore::Replay;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh folder for one test (tests run in parallel and must not share files).
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("costream-replay-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary in `cwd`: (exit code, stdout, stderr).
fn costream(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_costream"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A short quickstart search whose condition holds on every seed; saves seed 1 to `out`.
fn record(cwd: &Path, out: &str) {
    let (code, stdout, err) = costream(
        cwd,
        &[
            "explore",
            "quickstart",
            "--seeds",
            "1",
            "--until",
            "audio.p99_ms > 1",
            "--set",
            "run.duration=\"300ms\"",
            "--out",
            out,
        ],
    );
    assert_eq!(code, 0, "{stdout}{err}");
}

/// Exit 2 with every needle in stderr, nothing on stdout, no panic.
#[track_caller]
fn refused(cwd: &Path, args: &[&str], needles: &[&str]) -> String {
    let (code, out, err) = costream(cwd, args);
    assert_eq!(
        code, 2,
        "exit code for {args:?}; stdout {out}; stderr {err}"
    );
    assert!(out.is_empty(), "{args:?} printed before refusing: {out}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr for {args:?} lacks {n:?}: {err}");
    }
    err
}

fn edit(cwd: &Path, from: &str, to: &str, f: impl FnOnce(&str) -> String) {
    let text = std::fs::read_to_string(cwd.join(from)).unwrap();
    let edited = f(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(cwd.join(to), edited).unwrap();
}

/// Rewrites a replay on purpose and seals it again, as a model change would leave it.
fn reseal(cwd: &Path, from: &str, to: &str, f: impl FnOnce(&mut Replay)) {
    let text = std::fs::read_to_string(cwd.join(from)).unwrap();
    let mut r = Replay::parse(&costream_model::workload::BUILTIN, from, &text).unwrap();
    f(&mut r);
    r.seal();
    std::fs::write(cwd.join(to), r.to_toml()).unwrap();
}

/// Item 1: a replay whose condition no longer holds (re-recorded after its threshold was
/// raised) is refused by shrink, with the value and the threshold, instead of "still holds".
#[test]
fn shrink_refuses_a_replay_whose_condition_does_not_hold() {
    let d = dir("shrink-not-holding");
    record(&d, "r.toml");
    edit(&d, "r.toml", "raised.toml", |t| {
        t.replacen("value = 1.0\n", "value = 1000.0\n", 1)
    });
    let (code, out, err) = costream(&d, &["replay", "raised.toml", "--record", "new.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("does not hold"), "{out}");
    let (code, out, _) = costream(&d, &["replay", "new.toml"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("condition `audio.p99_ms > 1000` does not hold"),
        "{out}"
    );
    let err = refused(
        &d,
        &["shrink", "new.toml"],
        &[
            "new.toml: the condition `audio.p99_ms > 1000` does not hold on the original run: audio.p99_ms = ",
            "threshold > 1000",
        ],
    );
    assert!(!err.contains("still holds"), "{err}");
    assert!(!d.join("costream-shrunk-seed1.toml").exists());
}

/// Item 2: a file whose seed, scenario, checkpoints, value or `[condition]` was edited says so
/// and names the field, rather than reading as a divergence (or replaying "identically").
#[test]
fn edited_replay_files_name_the_edited_field() {
    let d = dir("edited");
    record(&d, "r.toml");
    let hint = "record it again: `costream replay";
    edit(&d, "r.toml", "seed.toml", |t| {
        t.replacen("\nseed = 1\n", "\nseed = 2\n", 1)
    });
    edit(&d, "r.toml", "scenario.toml", |t| {
        t.replacen("fps = 50", "fps = 25", 1)
    });
    edit(&d, "r.toml", "checkpoints.toml", |t| {
        let line = t
            .lines()
            .find(|l| l.starts_with("checkpoints = ["))
            .unwrap();
        let first = line.split('"').nth(1).unwrap();
        let mut f: Vec<String> = first.split(' ').map(String::from).collect();
        f[1] = (f[1].parse::<u64>().unwrap() + 1).to_string();
        t.replacen(first, &f.join(" "), 1)
    });
    edit(&d, "r.toml", "value.toml", |t| {
        let line = t.lines().find(|l| l.starts_with("value = ")).unwrap();
        t.replacen(line, "value = 999.0", 1)
    });
    edit(&d, "r.toml", "nocondition.toml", |t| {
        let (i, j) = (
            t.find("\n[condition]").unwrap(),
            t.find("\n[sealed]").unwrap(),
        );
        format!("{}{}", &t[..i], &t[j..])
    });
    for (file, what) in [
        ("seed.toml", "field `seed` was changed"),
        ("scenario.toml", "field `scenario` was changed"),
        ("checkpoints.toml", "field `checkpoints` was changed"),
        ("value.toml", "field `value` was changed"),
        ("nocondition.toml", "the `[condition]` table was removed"),
    ] {
        for cmd in ["replay", "shrink"] {
            let err = refused(
                &d,
                &[cmd, file],
                &[
                    &format!("{file}: edited after costream recorded it: {what}"),
                    hint,
                ],
            );
            assert!(
                !err.contains("diverged") && !err.contains("identically"),
                "{err}"
            );
        }
    }
    // The seal removed: refused as not written by this costream.
    edit(&d, "r.toml", "unsealed.toml", |t| {
        t[..t.find("\n[sealed]").unwrap()].to_string()
    });
    refused(
        &d,
        &["replay", "unsealed.toml"],
        &["unsealed.toml: field `sealed` is missing"],
    );
    // Recording the edited file again makes a file that replays.
    let (code, out, err) = costream(&d, &["replay", "scenario.toml", "--record", "again.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("recorded seed 1 of quickstart again"), "{out}");
    let (code, out, err) = costream(&d, &["replay", "again.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("identically"), "{out}");
}

/// Item 3, a model change: the recording's second checkpoint differs from this build's run
/// (the file re-sealed, as a different build of the model would have written it). The replay
/// names the window, says the build is deterministic and that another build recorded the file,
/// and prints the first replayed event of the window with its time, kind and goroutine.
#[test]
fn a_divergence_from_another_build_names_the_builds_and_the_first_event() {
    let d = dir("other-build");
    record(&d, "r.toml");
    let changed = |r: &mut Replay| {
        let mut f: Vec<String> = r.checkpoints[1].split(' ').map(String::from).collect();
        f[2] = "0123456789abcdef".into();
        r.checkpoints[1] = f.join(" ");
    };
    reseal(&d, "r.toml", "other.toml", |r| {
        changed(r);
        r.model = "00000000feedface".into();
    });
    let err = refused(
        &d,
        &["replay", "other.toml"],
        &[
            "other.toml: replay of seed 1 left the recording between 100.000ms and 200.000ms of virtual time",
            "recorded checkpoint `200000000 ",
            "this build runs seed 1 the same way every time",
            "recorded by a different build of the model (fingerprint 00000000feedface, this is ",
            "first replayed event between 100.000ms and 200.000ms of virtual time: at 1",
            "on host 0: ",
            "first replayed goroutine event there: at 1",
        ],
    );
    assert!(!err.contains("not deterministic"), "{err}");
    let g = err
        .lines()
        .find(|l| l.contains("first replayed goroutine event"))
        .unwrap();
    assert!(g.contains("goroutine ") && g.contains("(main."), "{g}");
    // The same fingerprint: the cause is outside the model's source.
    reseal(&d, "r.toml", "same.toml", changed);
    refused(
        &d,
        &["replay", "same.toml"],
        &[
            "has the model fingerprint the file records",
            "first replayed event",
        ],
    );
    // Past the last checkpoint: the final digest.
    reseal(&d, "r.toml", "end.toml", |r| {
        r.digest = "0123456789abcdef".into()
    });
    refused(
        &d,
        &["replay", "end.toml"],
        &[
            "between 200.000ms of virtual time and the end of the run",
            "recorded end: ",
        ],
    );
}

fn matching(d: &Path, prefix: &str, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .collect();
    v.sort();
    v
}

/// Item 5: the README's sequence explore → replay → shrink → replay, in one folder, with the
/// shell's glob `costream-replay-seed*.toml` (`*` also matches dots): after shrink it still
/// matches exactly one file, so its second use replays the explored case, and the shrunk file
/// has its own name.
#[test]
fn the_readme_sequence_works_with_its_globs() {
    let d = dir("readme");
    let glob = |d: &Path| matching(d, "costream-replay-seed", ".toml");
    let (code, out, err) = costream(
        &d,
        &[
            "explore",
            "quickstart",
            "--seeds",
            "2",
            "--until",
            "audio.p99_ms > 1",
            "--set",
            "run.duration=\"300ms\"",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("saved the worst case"), "{out}");
    for step in ["replay", "shrink", "replay"] {
        let files = glob(&d);
        assert_eq!(files.len(), 1, "before {step}: the glob matches {files:?}");
        let (code, out, err) = costream(&d, &[step, &files[0]]);
        assert_eq!(code, 0, "{step} {}: {err}", files[0]);
        if step == "replay" {
            assert!(out.contains("identically"), "{out}");
        } else {
            assert!(out.contains("saved costream-shrunk-seed"), "{out}");
        }
    }
    let shrunk = matching(&d, "costream-shrunk-seed", ".toml");
    assert_eq!(shrunk.len(), 1, "{shrunk:?}");
    let (code, out, err) = costream(&d, &["replay", &shrunk[0]]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("identically") && out.contains("holds"),
        "{out}"
    );
    // The README documents these names.
    let readme = include_str!("../README.md");
    assert!(readme.contains("replay costream-replay-seed*.toml"));
    assert!(readme.contains("replay costream-shrunk-seed*.toml"));
}

/// Item 4: explore refuses what could never give a verdict before running any seed.
#[test]
fn explore_refuses_bad_input_before_running() {
    let d = dir("explore-bad");
    let q = |until: &'static str| -> Vec<&'static str> {
        vec!["explore", "quickstart", "--seeds", "2", "--until", until]
    };
    refused(
        &d,
        &[
            "explore",
            "quickstart",
            "--seeds",
            "0",
            "--until",
            "audio.p99_ms > 1",
        ],
        &["explore --seeds 0: no seeds to try; use at least 1"],
    );
    for (until, num) in [
        ("audio.p99_ms > nan", "`nan`"),
        ("audio.p99_ms > inf", "`inf`"),
        ("audio.p99_ms < -infinity", "`-infinity`"),
        ("audio.p99_ms > NaN", "`NaN`"),
    ] {
        refused(
            &d,
            &q(until),
            &[&format!("the threshold {num} is not a finite number")],
        );
    }
    refused(
        &d,
        &[
            "explore",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/gc-alloc.toml"),
            "--set",
            "matrix={}",
            "--until",
            "audio.p99_ms > 1",
        ],
        &[
            "metric `audio.p99_ms` is measured only by the room workload",
            "alloc workload",
        ],
    );
    refused(
        &d,
        &q("video.p99_ms > 1"),
        &["metric `video.p99_ms` is not measured", "video.enabled"],
    );
    let mut a = q("audio.p99_ms > 1");
    a.extend(["--out", "no/such/folder/r.toml"]);
    refused(
        &d,
        &a,
        &["no/such/folder/r.toml: cannot write the replay file"],
    );
    std::fs::create_dir_all(d.join("sub")).unwrap();
    let mut a = q("audio.p99_ms > 1");
    a.extend(["--out", "sub"]);
    refused(
        &d,
        &a,
        &["sub: cannot write the replay file there: it is a directory"],
    );
    refused(
        &d,
        &[
            "explore",
            "quickstart",
            "--first",
            "18446744073709551615",
            "--seeds",
            "2",
            "--until",
            "audio.p99_ms > 1",
        ],
        &["explore --first 18446744073709551615 --seeds 2: the seeds would run past"],
    );
}

/// Item 6: shrink and replay refuse bad files and options, naming the file and the field.
#[test]
fn shrink_and_replay_refuse_bad_files_by_name_and_field() {
    let d = dir("files-bad");
    record(&d, "r.toml");
    refused(
        &d,
        &["shrink", "r.toml", "--max-runs", "0"],
        &[
            "shrink --max-runs 0: no candidate runs allowed",
            "use at least 1",
        ],
    );
    for cmd in ["replay", "shrink"] {
        refused(
            &d,
            &[cmd, "missing.toml"],
            &["missing.toml: cannot read the replay file", "hint: "],
        );
        let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
        refused(
            &d,
            &[cmd, scenario],
            &[
                "quickstart.toml: not a costream replay file: field `costream_version` is missing",
                "costream run FILE",
            ],
        );
    }
    edit(&d, "r.toml", "old.toml", |t| {
        t.replacen(
            &format!("costream_version = \"{}\"", env!("CARGO_PKG_VERSION")),
            "costream_version = \"0.0.1\"",
            1,
        )
    });
    std::fs::write(d.join("garbage.toml"), "this is [not toml\n").unwrap();
    std::fs::write(d.join("empty.toml"), "").unwrap();
    edit(&d, "r.toml", "typo.toml", |t| {
        t.replacen("\nseed = 1\n", "\nsed = 1\n", 1)
    });
    edit(&d, "r.toml", "badtype.toml", |t| {
        t.replacen("\nseed = 1\n", "\nseed = \"one\"\n", 1)
    });
    for (file, needles) in [
        (
            "old.toml",
            &["old.toml: field `costream_version`: written by costream 0.0.1"][..],
        ),
        (
            "garbage.toml",
            &["garbage.toml: not a costream replay file: it is not TOML: line 1"],
        ),
        ("empty.toml", &["empty.toml: not a costream replay file"]),
        (
            "typo.toml",
            &["typo.toml: field `sed`: unknown field `sed`"],
        ),
        (
            "badtype.toml",
            &["badtype.toml: field `seed`: invalid type: string \"one\""],
        ),
    ] {
        for cmd in ["replay", "shrink"] {
            refused(&d, &[cmd, file], needles);
        }
    }
    // More last events than the run has: all of them, no overflow.
    let (code, out, err) = costream(
        &d,
        &["replay", "r.toml", "--events", "18446744073709551615"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("identically") && !out.contains("last 18446744073709551615"),
        "{out}"
    );
    // An output that cannot be written is refused before any shrinking run.
    refused(
        &d,
        &["shrink", "r.toml", "--out", "no/such/folder/s.toml"],
        &["no/such/folder/s.toml: cannot write the shrunk replay file"],
    );
}
