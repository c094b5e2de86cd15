//! docs/custom-server.md's figures are what the model prints: each row of its sweep table is
//! run again here, and its error message is the loader's.

use costream_model::explore::measure;
use costream_model::scenario;
use costream_model::workload;

const DOC: &str = include_str!("../../../docs/custom-server.md");
const RELAY: &str = include_str!("../relay.toml");

/// The doc's sweep: `--set run.duration=4s`, then rows of `SETS… seed p99 dropped lost_pct`.
#[test]
fn the_sweep_table_is_what_the_model_prints() {
    assert!(DOC.contains("custom-sfu sweep examples/custom-sfu/relay.toml --set run.duration=4s"));
    let rows: Vec<&str> = DOC
        .lines()
        .filter(|l| l.trim_start().starts_with("relay.write_cpu="))
        .collect();
    assert_eq!(rows.len(), 3, "the doc's table lost its rows");
    let reg = custom_sfu::registry();
    for row in rows {
        let words: Vec<&str> = row.split_whitespace().collect();
        let (sets, rest) = words.split_at(2);
        let mut sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        sets.push("run.duration=4s".into());
        let seed: u64 = rest[0].parse().unwrap();
        let sc = scenario::load_with(&reg, "relay.toml", RELAY, &sets).unwrap();
        let m = measure(&workload::run(&sc, seed, |_, _| {}));
        let printed: Vec<String> = ["relay.p99_ms", "relay.dropped", "relay.lost_pct"]
            .iter()
            .map(|k| format!("{:.3}", m[k]))
            .collect();
        assert_eq!(&rest[1..4], printed, "docs/custom-server.md row `{row}`");
    }
}

#[test]
fn the_error_shown_is_the_loaders() {
    let e = scenario::load_with(
        &custom_sfu::registry(),
        "examples/custom-sfu/relay.toml",
        RELAY,
        &["relay.queue=0".to_string()],
    )
    .unwrap_err()
    .to_string();
    for line in [
        "field `relay.queue`: 0 is out of range",
        "hint: use 1 to 1048576",
    ] {
        assert!(DOC.contains(line) && e.contains(line), "{line}\n{e}");
    }
}
