//! How much memory a run will need, estimated from its scenario before it starts, so that a
//! scenario that passes validation cannot exhaust the machine (`--set rooms.count=1000000` on
//! quickstart would need about 40 GiB and grew past 15 GB in seconds).
//!
//! The estimate is a sum of parts, each a count from the scenario times a cost per item
//! measured as peak resident memory of release builds (docs/performance.md, "Memory of a run",
//! has the measurements and the command). It is meant to be right within a factor of about
//! 1.5, which is enough to tell "fits" from "cannot fit"; a server that runs overloaded holds
//! longer queues and can need somewhat more.

use crate::scenario::Scenario;

/// The process itself: code, the runtime model, one P's structures.
const BASE: u64 = 6 << 20;
/// One kept event of the event log (`[u64; 4]`), for `--trace`.
const PER_LOGGED_EVENT: u64 = 32;
/// One event in the Chrome trace file (JSON text), for the size warning.
const PER_TRACED_EVENT_ON_DISK: u64 = 110;

/// One part of the estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What is counted, for people ("2000000 participants × 20 KiB").
    pub what: String,
    /// Estimated peak resident memory of this part, in bytes.
    pub bytes: u64,
}

/// The memory one run needs, and how many events it will handle.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// The parts of the estimate, the process itself first; their sum is [`total`](Self::total).
    pub parts: Vec<Part>,
    /// Events the run is expected to handle (for the trace's size).
    pub events: u64,
    /// Whether the run keeps its whole event log (`--trace`).
    pub traced: bool,
}

impl MemoryEstimate {
    /// Estimated peak resident memory of the whole run, in bytes: the sum of the parts.
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The size of the Chrome trace file that `--trace` writes.
    pub fn trace_file_bytes(&self) -> u64 {
        self.events.saturating_mul(PER_TRACED_EVENT_ON_DISK)
    }

    /// The largest parts, for an error message.
    pub fn summary(&self) -> String {
        let mut parts: Vec<&Part> = self.parts.iter().filter(|p| p.bytes > 0).collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.bytes));
        parts
            .iter()
            .take(4)
            .map(|p| format!("{} = {}", p.what, human(p.bytes)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `bytes` as "1.5 GiB".
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.0} MiB", b / (1u64 << 20) as f64)
    } else if b >= 1024.0 {
        format!("{:.0} KiB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn part(out: &mut Vec<Part>, n: u64, what: &str, each: u64) {
    if n > 0 {
        out.push(Part {
            what: format!("{n} {what} × {}", human(each)),
            bytes: n.saturating_mul(each),
        });
    }
}

/// Estimates the memory `sc` needs; `traced`: the run keeps every event (`--trace`).
pub fn estimate(sc: &Scenario, traced: bool) -> MemoryEstimate {
    let mut parts = vec![Part {
        what: "the process".into(),
        bytes: BASE,
    }];
    let (items, events) = sc.workload().estimate(sc);
    for (n, what, each) in items {
        part(&mut parts, n, what, each);
    }
    let events = (events.min(sc.run.max_events as f64)).max(0.0) as u64;
    if traced {
        part(&mut parts, events, "logged events", PER_LOGGED_EVENT);
    }
    MemoryEstimate {
        parts,
        events,
        traced,
    }
}

/// Memory this machine can give a new process: `MemAvailable` of /proc/meminfo (Linux), or
/// `None` where that cannot be read (then no run is refused).
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The most memory runs may take, and where that figure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// No limit is known (no /proc/meminfo).
    None,
    /// What the machine has available.
    Machine(u64),
    /// `--max-memory`.
    Flag(u64),
}

impl Limit {
    /// `--max-memory` if given, else what this machine has available.
    pub fn new(flag: Option<u64>) -> Limit {
        match (flag, available()) {
            (Some(b), _) => Limit::Flag(b),
            (None, Some(b)) => Limit::Machine(b),
            (None, None) => Limit::None,
        }
    }
}

/// Refuses a run of `sc` (named `origin`) that needs more than `limit` bytes, with the estimate
/// and the flag that overrides it. `jobs` runs go at once; returns how many fit (at least 1).
pub fn admit(
    origin: &str,
    sc: &Scenario,
    traced: bool,
    jobs: usize,
    limit: Limit,
) -> Result<usize, String> {
    let est = estimate(sc, traced);
    let (limit, whose) = match limit {
        Limit::None => return Ok(jobs.max(1)),
        Limit::Machine(b) => (b, "this machine has available".to_string()),
        Limit::Flag(b) => (b, "--max-memory allows".to_string()),
    };
    let need = est.total();
    if need > limit {
        return Err(format!(
            "{origin}: this run needs about {} of memory ({}), more than the {} {whose}\n  hint: make the scenario smaller (rooms.count, rooms.listeners, run.duration with --trace), or pass --max-memory {} to run it anyway",
            human(need),
            est.summary(),
            human(limit),
            human(need.saturating_mul(3) / 2).replace(' ', "")
        ));
    }
    Ok(((limit / need.max(1)) as usize).clamp(1, jobs.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quickstart(sets: &[&str]) -> Scenario {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::workload::load("quickstart", crate::scenario::QUICKSTART, &sets).unwrap()
    }

    #[test]
    fn a_million_rooms_is_refused_with_the_estimate_and_the_flag() {
        let sc = quickstart(&["rooms.count=1000000"]);
        let est = estimate(&sc, false);
        // 2,000,000 participants alone are ~38 GiB.
        assert!(est.total() > 30 << 30, "{}", human(est.total()));
        let e = admit(
            "quickstart (with --set)",
            &sc,
            false,
            1,
            Limit::Machine(24 << 30),
        )
        .unwrap_err();
        assert!(
            e.starts_with("quickstart (with --set): this run needs about "),
            "{e}"
        );
        assert!(
            e.contains("2000000 participants") && e.contains("--max-memory"),
            "{e}"
        );
        assert!(
            e.contains("than the 24.0 GiB this machine has available"),
            "{e}"
        );
        assert_eq!(admit("q", &sc, false, 1, Limit::None), Ok(1));
        let e = admit("q", &sc, false, 1, Limit::Flag(1 << 30)).unwrap_err();
        assert!(e.contains("than the 1.0 GiB --max-memory allows"), "{e}");
    }

    #[test]
    fn shipped_scale_fits_and_parallel_runs_are_limited_to_what_fits() {
        let one = quickstart(&[]);
        assert!(estimate(&one, false).total() < 16 << 20);
        let k = quickstart(&["rooms.count=1000"]);
        let e = estimate(&k, false).total();
        // Measured: 69 MiB peak resident (docs/performance.md).
        assert!((50 << 20..100 << 20).contains(&e), "{}", human(e));
        assert_eq!(admit("q", &k, false, 8, Limit::Flag(e * 3)), Ok(3));
        assert_eq!(admit("q", &k, false, 2, Limit::Machine(e * 3)), Ok(2));
    }

    #[test]
    fn a_trace_counts_every_event() {
        let sc = quickstart(&["rooms.count=1000", "run.duration=\"2s\""]);
        let plain = estimate(&sc, false);
        let traced = estimate(&sc, true);
        // Measured: 1.09 M events in these 2 s.
        assert!(
            (800_000..1_400_000).contains(&traced.events),
            "{}",
            traced.events
        );
        assert_eq!(
            traced.total() - plain.total(),
            traced.events * PER_LOGGED_EVENT
        );
        assert!(traced.trace_file_bytes() > 80 << 20);
    }
}
