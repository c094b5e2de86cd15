//! The conformance suite (docs/conformance.md): every program's model arm against the real
//! arm's recorded output. The real arm itself is never run here: some of its programs time what
//! they do, and a loaded machine would decide the verdict. It runs as its own step
//! (`costream conformance --real --repeat 5`, a step of `.ci/run`).

use costream_model::conformance::{self, real, render, run_suite, Arm};

/// The model must not drift from what Go printed when the suite was recorded.
#[test]
fn every_program_agrees_with_recorded_go() {
    let recorded = run_suite(None, None, Arm::Recorded, false, |_| {}).expect("suite runs");
    assert!(recorded.errors.is_empty(), "{:?}", recorded.errors);
    assert_eq!(
        recorded.disagreements(),
        0,
        "\n{}",
        render(&recorded.rows, &recorded.go_label)
    );
    assert_eq!(recorded.go_label, "recorded");
    for v in conformance::RECORDED {
        assert!(
            recorded.rows.iter().any(|r| r.go_version == v),
            "no rows of Go {v}"
        );
    }
}

/// Every known disagreement still disagrees: once the model covers it, it leaves the list.
#[test]
fn known_disagreements_are_not_stale() {
    let recorded = run_suite(None, None, Arm::Recorded, false, |_| {}).expect("suite runs");
    for (program, key, _) in conformance::KNOWN {
        assert!(
            recorded.rows.iter().any(|r| r.program == *program
                && r.key == *key
                && r.verdict == conformance::Verdict::Known),
            "{program} {key} is listed in KNOWN but agrees on every release: remove it"
        );
    }
}

/// The recorded real-arm outputs are complete: every checked key is there, and each names the
/// toolchain that produced it.
#[test]
fn recordings_cover_every_checked_key() {
    for p in conformance::programs() {
        for (v, text) in conformance::RECORDED.iter().zip(p.recorded) {
            let file = conformance::recording_file(*v);
            assert!(
                real::recorded_version(text).starts_with(&format!("go{v}")),
                "{}: {file} does not name a go{v} toolchain on its first line",
                p.name
            );
            let o = conformance::Output::parse(text);
            for (key, _) in p.checks {
                assert!(o.get(key).is_some(), "{}: {file} has no {key}", p.name);
            }
        }
    }
}

/// Asking for the real arm without a toolchain, or for no runs of it, is an error that says
/// what to do, never a silent fall-back to the recordings.
#[test]
fn the_real_arm_is_explicit() {
    let e = run_suite(
        Some("start_order"),
        None,
        Arm::Real { repeat: 0 },
        false,
        |_| {},
    )
    .err()
    .expect("repeat 0 is refused");
    assert!(e.contains("--repeat 0"), "{e}");
    let e = run_suite(Some("start_order"), None, Arm::Recorded, true, |_| {})
        .err()
        .expect("recording the recordings is refused");
    assert!(e.contains("--real"), "{e}");
}
