//! `costream calibrate`: the runtime's costs measured on this machine by Go microbenchmarks
//! (`calibrate/main.go`), written as a costs file a scenario includes with
//! `[server] costs_file = "FILE"` (docs/model.md, "Costs").

use crate::conformance::Output;
use crate::goruntime::Costs;
use costream_sim::SimDuration;
use std::fmt::Write as _;

/// The Go program `costream calibrate` builds and runs.
pub const PROGRAM: &str = include_str!("../../calibrate/main.go");

/// Costs the program measures, and how each is derived from what it prints.
pub const MEASURED: &[(&str, &str)] = &[
    (
        "go_create",
        "go + exit of an empty goroutine, split 250:65 as the defaults are",
    ),
    ("go_exit", "the rest of go + exit"),
    (
        "context_switch",
        "one runtime.Gosched between two goroutines on one P",
    ),
    ("chan_op", "half a buffered send + receive"),
    (
        "select_base",
        "a ready 2-case select, less two select_per_case",
    ),
    ("timer_add", "time.NewTimer + Stop"),
    ("fd_write", "a 160-byte loopback UDP write"),
    ("fd_read", "a read of a queued loopback datagram"),
];

/// The costs file for what the program printed (`key=ns` lines) on Go `version`.
pub fn costs_file(version: &str, printed: &Output) -> Result<String, String> {
    let get = |k: &str| -> Result<f64, String> {
        let v = printed
            .get(k)
            .ok_or_else(|| format!("the calibration program printed no {k}"))?;
        v.parse::<f64>()
            .map_err(|_| format!("the calibration program printed {k}={v}, not a number"))
    };
    let ns = |x: f64| SimDuration::from_nanos(x.max(0.0).round() as u64);
    let d = Costs::default();
    let spawn = get("spawn")?;
    let create = spawn * 250.0 / 315.0;
    let values = [
        ns(create),
        ns(spawn - create),
        ns(get("gosched")?),
        ns(get("chan_pair")? / 2.0),
        ns(get("select2")? - 2.0 * d.select_per_case.as_nanos() as f64),
        ns(get("timer")?),
        ns(get("udp_write")?),
        ns(get("udp_read")?),
    ];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by `costream calibrate` with {version}: medians of 5 rounds on this machine."
    );
    let _ = writeln!(
        s,
        "# Include it from a scenario: [server] costs_file = \"<this file>\" (relative to the\n\
         # scenario's folder). Costs not listed keep their defaults, which docs/model.md marks\n\
         # as measured elsewhere or estimated."
    );
    for ((name, how), v) in MEASURED.iter().zip(values) {
        let _ = writeln!(s, "{name} = \"{}ns\"  # {how}", v.as_nanos());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_costs_file_reads_back_as_costs() {
        let out = Output::parse(
            "spawn=315\ngosched=110\nchan_pair=30\nselect2=56\ntimer=80\nudp_write=900\nudp_read=330\n",
        );
        let text = costs_file("go1.27.3", &out).unwrap();
        let c: Costs = toml::from_str(&text).unwrap();
        assert_eq!(c.go_create, SimDuration::from_nanos(250));
        assert_eq!(c.go_exit, SimDuration::from_nanos(65));
        assert_eq!(c.context_switch, SimDuration::from_nanos(110));
        assert_eq!(c.chan_op, SimDuration::from_nanos(15));
        assert_eq!(c.select_base, SimDuration::from_nanos(26));
        assert_eq!(c.fd_write, SimDuration::from_nanos(900));
        assert_eq!(c.fd_read, SimDuration::from_nanos(330));
        // Not measured: the default.
        assert_eq!(c.m_wake, Costs::default().m_wake);
        let e = costs_file("go1.27.3", &Output::parse("spawn=1\n")).unwrap_err();
        assert!(e.contains("gosched"), "{e}");
    }
}
