//! The conformance suite (docs/conformance.md): every program's model arm against its real
//! arm, freshly run when a `go` toolchain is present (CI installs one), else as recorded.

use costream_model::conformance::{self, real, render, run_suite};

/// Set by `.ci/run` so that a missing toolchain fails CI instead of silently comparing with the
/// recorded outputs.
const REQUIRE_GO: &str = "COSTREAM_CONFORMANCE_REQUIRE_GO";

/// One test, so that the real arm's timing programs never share the machine with model arms
/// of another test in this binary: first against the recordings (the model must not drift from
/// what Go printed when the suite was recorded), then against a fresh real arm.
#[test]
fn every_program_agrees_with_go() {
    let recorded = run_suite(None, None, false, false, |_| {}).expect("suite runs");
    assert_eq!(
        recorded.disagreements(),
        0,
        "\n{}",
        render(&recorded.rows, &recorded.go_label)
    );
    let go = real::toolchain();
    if std::env::var_os(REQUIRE_GO).is_some() {
        assert!(
            go.is_some(),
            "{REQUIRE_GO} is set but no go toolchain answers `go version` (install golang-go or set GO=)"
        );
    }
    if go.is_none() {
        return;
    }
    let run = run_suite(None, None, true, false, |m| eprintln!("· {m}")).expect("suite runs");
    let table = render(&run.rows, &run.go_label);
    println!("{table}");
    assert!(run.errors.is_empty(), "real arm failed: {:?}", run.errors);
    assert_eq!(run.disagreements(), 0, "\n{table}");
}

/// The recorded real-arm outputs are complete: every checked key is there, and each names the
/// toolchain that produced it.
#[test]
fn recordings_cover_every_checked_key() {
    for p in conformance::programs() {
        assert!(
            real::recorded_version(p.recorded).starts_with("go1."),
            "{}: go.out lacks its toolchain line",
            p.name
        );
        let o = conformance::Output::parse(p.recorded);
        for (key, _) in p.checks {
            assert!(o.get(key).is_some(), "{}: go.out has no {key}", p.name);
        }
    }
}
