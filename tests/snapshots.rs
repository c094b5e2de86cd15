//! insta snapshots pin the full reports of the canonical scenarios for fixed seeds: any change
//! to what a run does or how it is reported shows up as a reviewed diff. After an intended
//! change: `INSTA_UPDATE=always cargo test --test snapshots` (or `cargo insta review`), then
//! read the diff and commit the `.snap` files.

use costream_model::report::report;
use costream_model::workload;

fn snapshot_of(file: &str, text: &str, variant: usize) -> String {
    let mut v = costream_model::workload::load_variants(file, text, &[]).unwrap();
    let v = v.remove(variant);
    let seed = v.scenario.run.seed;
    let ran = workload::run(&v.scenario, seed, |_, _| {});
    report(&v.scenario, seed, &v.label, &ran)
}

#[test]
fn quickstart_report() {
    insta::assert_snapshot!(snapshot_of(
        "quickstart.toml",
        include_str!("../scenarios/quickstart.toml"),
        0
    ));
}

#[test]
fn leak_reports_buggy_and_fixed() {
    let text = include_str!("../scenarios/leak.toml");
    insta::assert_snapshot!("leak_buggy", snapshot_of("leak.toml", text, 0));
    insta::assert_snapshot!("leak_fixed", snapshot_of("leak.toml", text, 1));
}

#[test]
fn breaker_report() {
    insta::assert_snapshot!(snapshot_of(
        "breaker.toml",
        include_str!("../scenarios/breaker.toml"),
        0
    ));
}

#[test]
fn gosched_report() {
    insta::assert_snapshot!(snapshot_of(
        "gosched.toml",
        include_str!("../scenarios/gosched.toml"),
        1
    ));
}

#[test]
fn lifecycle_report() {
    insta::assert_snapshot!(snapshot_of(
        "lifecycle.toml",
        include_str!("../scenarios/lifecycle.toml"),
        0
    ));
}
