//! Seed search and replay files: `costream explore SCENARIO --seeds N --until EXPR` runs seeds
//! in parallel, reports those whose run violates a condition (`audio.p99_ms > 150`), and saves
//! the worst as a replay file; `costream replay FILE` re-runs it and checks every digest
//! checkpoint.

use crate::media::rtp::MediaKind;
use crate::scenario::{self, Scenario};
use crate::testing::{with_checkpoints, with_last_events, Checkpoint};
use crate::workload::{self, Measured, Ran};
use costream_sim::SimDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Loads the one scenario a search or replay runs: a file with a `[matrix]` must be narrowed to
/// one point.
pub fn load_one(file: &str, text: &str, sets: &[String]) -> Result<Scenario, String> {
    let mut v = scenario::load_variants(file, text, sets).map_err(|e| e.to_string())?;
    if v.len() != 1 {
        let labels: Vec<String> = v.iter().map(|x| x.label.clone()).collect();
        return Err(format!(
            "{file}: its [matrix] makes {} variants ({}); explore and replay run one\n  hint: add --set 'matrix={{}}' and --set for each matrix key",
            v.len(),
            labels.join("; ")
        ));
    }
    Ok(v.remove(0).scenario)
}

/// Metrics a condition can name, with what they measure.
pub const METRICS: [(&str, &str); 12] = [
    ("audio.p50_ms", "audio capture → playout, median (room)"),
    (
        "audio.p99_ms",
        "audio capture → playout, 99th percentile (room)",
    ),
    (
        "video.p99_ms",
        "video capture → playout, 99th percentile (room)",
    ),
    (
        "forward.p99_ms",
        "arrival → forwarded at the server, 99th percentile (room)",
    ),
    (
        "audio.lost_pct",
        "audio packets lost at the players, percent (room)",
    ),
    ("dropped", "packets dropped at a full hand-off (room)"),
    ("video_shed", "video packets shed by degradation (room)"),
    ("goroutines_max", "most goroutines alive at once"),
    ("sched.p99_us", "runnable → running, 99th percentile"),
    ("gc.cycles", "GC cycles"),
    ("gc.stw_p99_us", "stop-the-world pause, 99th percentile"),
    ("events", "simulation events handled"),
];

/// `<metric> <op> <number>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub metric: String,
    pub op: String,
    pub value: f64,
}

impl std::str::FromStr for Condition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ops = [">=", "<=", ">", "<"];
        let Some((i, op)) = ops.iter().find_map(|op| s.find(op).map(|i| (i, *op))) else {
            return Err(format!(
                "--until {s:?}: no comparison; write it like 'audio.p99_ms > 150' (>, >=, <, <=)"
            ));
        };
        let metric = s[..i].trim().to_string();
        let num = s[i + op.len()..].trim();
        if !METRICS.iter().any(|m| m.0 == metric) {
            let known: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
            return Err(format!(
                "--until {s:?}: unknown metric `{metric}`; known: {}",
                known.join(", ")
            ));
        }
        let value = num
            .parse::<f64>()
            .map_err(|_| format!("--until {s:?}: `{num}` is not a number"))?;
        Ok(Condition {
            metric,
            op: op.to_string(),
            value,
        })
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op, self.value)
    }
}

impl Condition {
    pub fn holds(&self, v: f64) -> bool {
        match self.op.as_str() {
            ">" => v > self.value,
            ">=" => v >= self.value,
            "<" => v < self.value,
            _ => v <= self.value,
        }
    }
    /// How far `v` goes past the threshold in the condition's direction (for "worst").
    pub fn badness(&self, v: f64) -> f64 {
        if self.op.starts_with('>') {
            v - self.value
        } else {
            self.value - v
        }
    }
}

fn pct_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1e6
    }
}

/// Every metric of a finished run (room metrics only for the room workload).
pub fn measure(ran: &Ran) -> BTreeMap<&'static str, f64> {
    let mut m = BTreeMap::new();
    ran.sim.runtime(0, |rt| {
        m.insert("goroutines_max", rt.stats.goroutines_max as f64);
        m.insert("sched.p99_us", pct_ms(&rt.sched_latency, 0.99) * 1e3);
        let g = rt.gc_stats();
        m.insert("gc.cycles", g.cycles.len() as f64);
        m.insert("gc.stw_p99_us", pct_ms(&g.stw, 0.99) * 1e3);
    });
    m.insert("events", ran.out.events as f64);
    if let Measured::Room(r) = &ran.measured {
        let r = r.borrow();
        if let Some((a, _, _)) = r.aggregate(MediaKind::Audio) {
            m.insert("audio.p50_ms", pct_ms(&a.latency.to_hdr(), 0.5));
            m.insert("audio.p99_ms", pct_ms(&a.latency.to_hdr(), 0.99));
            let lost = r.packets_lost(MediaKind::Audio).max(0) as f64;
            let total = lost + a.packets_received as f64;
            m.insert("audio.lost_pct", 100.0 * lost / total.max(1.0));
        }
        if let Some((v, _, _)) = r.aggregate(MediaKind::Video) {
            m.insert("video.p99_ms", pct_ms(&v.latency.to_hdr(), 0.99));
        }
        m.insert("forward.p99_ms", pct_ms(&r.forward_latency, 0.99));
        m.insert("dropped", r.dropped as f64);
        m.insert("video_shed", r.video_shed as f64);
    }
    m
}

/// One explored seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub seed: u64,
    pub value: f64,
    pub violated: bool,
}

/// Runs `seeds` of `sc` on `jobs` threads and evaluates `cond` on each; results in seed order.
/// `progress(done, total)` is called as seeds finish.
pub fn explore(
    sc: &Scenario,
    seeds: std::ops::Range<u64>,
    cond: &Condition,
    jobs: usize,
    progress: impl Fn(u64, u64) + Sync,
) -> Result<Vec<Found>, String> {
    let total = seeds.end.saturating_sub(seeds.start);
    let one = |i: usize| {
        let seed = seeds.start + i as u64;
        let ran = workload::run(sc, seed, |_, _| {});
        match measure(&ran).get(cond.metric.as_str()) {
            Some(&v) => Ok(Found {
                seed,
                value: v,
                violated: cond.holds(v),
            }),
            None => Err(format!(
                "metric `{}` is not measured by the {:?} workload",
                cond.metric, sc.workload
            )),
        }
    };
    crate::parallel::map(total as usize, jobs, one, |d| progress(d as u64, total))
        .into_iter()
        .collect()
}

/// The replay file format version; a file from another costream version is refused.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything needed to re-run one seed exactly and check that it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub costream_version: String,
    /// Where the scenario came from, for people.
    pub source: String,
    pub seed: u64,
    /// `--set` overrides still to apply (replay files written here have them folded into
    /// `scenario` already).
    pub sets: Vec<String>,
    pub condition: Option<Condition>,
    pub value: Option<f64>,
    pub events: u64,
    pub digest: String,
    pub checkpoint_every_ms: u64,
    /// `"<virtual ns> <events> <digest>"` at every checkpoint (TOML integers cannot hold a
    /// 64-bit digest).
    pub checkpoints: Vec<String>,
    /// The normalised scenario: the file with its `--set` overrides applied, as TOML.
    pub scenario: String,
}

fn checkpoint_line(c: &Checkpoint) -> String {
    format!("{} {} {:016x}", c.at_ns, c.events, c.digest)
}

/// Checkpoints in replay files: often enough to localise a divergence, few enough to read.
pub const CHECKPOINT_EVERY: SimDuration = SimDuration::from_millis(100);

/// Runs `sc` for `seed` with digest checkpoints.
pub fn run_checkpointed(sc: &Scenario, seed: u64) -> (Ran, Vec<Checkpoint>) {
    with_checkpoints(CHECKPOINT_EVERY, || {
        let ran = workload::run(sc, seed, |_, _| {});
        let cps = ran.sim.checkpoints();
        (ran, cps)
    })
}

impl Replay {
    /// A replay of `seed` of the scenario `text` with `sets`.
    pub fn record(
        source: &str,
        text: &str,
        sets: &[String],
        seed: u64,
        condition: Option<(Condition, f64)>,
    ) -> Result<Replay, String> {
        // Normalised: the scenario with its overrides applied, as one TOML document.
        let tree = scenario::tree(source, text, sets).map_err(|e| e.to_string())?;
        let normal = toml::to_string(&tree).map_err(|e| format!("{source}: {e}"))?;
        let sc = load_one(source, &normal, &[])?;
        let (ran, cps) = run_checkpointed(&sc, seed);
        Ok(Replay {
            costream_version: VERSION.to_string(),
            source: source.to_string(),
            seed,
            sets: Vec::new(),
            value: condition.as_ref().map(|c| c.1),
            condition: condition.map(|c| c.0),
            events: ran.out.events,
            digest: format!("{:016x}", ran.out.digest),
            checkpoint_every_ms: CHECKPOINT_EVERY.as_nanos() / 1_000_000,
            checkpoints: cps.iter().map(checkpoint_line).collect(),
            scenario: normal,
        })
    }

    pub fn to_toml(&self) -> String {
        format!(
            "# costream replay file: `costream replay FILE` re-runs this seed and checks every digest.\n{}",
            toml::to_string(self).expect("replay files serialise")
        )
    }

    /// Reads a replay file, refusing one written by another costream version.
    pub fn parse(file: &str, text: &str) -> Result<Replay, String> {
        let r: Replay = toml::from_str(text).map_err(|e| {
            format!("{file}: not a costream replay file: {e}\n  hint: replay files are written by `costream explore`")
        })?;
        if r.costream_version != VERSION {
            return Err(format!(
                "{file}: field `costream_version`: written by costream {}, this is costream {VERSION}; a run is only reproducible on the version that recorded it\n  hint: check out that version (git tag v{}) to replay it",
                r.costream_version, r.costream_version
            ));
        }
        Ok(r)
    }

    /// Re-runs the seed; `Ok` with the run when every checkpoint and the final digest agree,
    /// `Err` naming the first checkpoint that differs.
    pub fn replay(&self, last_events: usize) -> Result<Ran, String> {
        let sc = load_one(&self.source, &self.scenario, &self.sets)?;
        let (ran, cps) = with_last_events(last_events, || run_checkpointed(&sc, self.seed));
        for (i, want) in self.checkpoints.iter().enumerate() {
            let got = cps.get(i).map(checkpoint_line);
            if got.as_ref() != Some(want) {
                let at_of = |s: &str| {
                    SimDuration::from_nanos(
                        s.split(' ')
                            .next()
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(0),
                    )
                };
                let prev = i
                    .checked_sub(1)
                    .map_or(SimDuration::ZERO, |j| at_of(&self.checkpoints[j]));
                return Err(format!(
                    "replay diverged between {prev} and {} of virtual time: recorded `{want}` (ns events digest), replayed `{}`",
                    at_of(want),
                    got.unwrap_or_else(|| "no checkpoint".into())
                ));
            }
        }
        let digest = format!("{:016x}", ran.out.digest);
        if digest != self.digest || ran.out.events != self.events {
            return Err(format!(
                "replay diverged after the last checkpoint: recorded {} events, digest {}; replayed {} events, digest {digest}",
                self.events, self.digest, ran.out.events
            ));
        }
        Ok(ran)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_refuse_with_reasons() {
        let c: Condition = "audio.p99_ms > 150".parse().unwrap();
        assert!(c.holds(151.0) && !c.holds(150.0));
        let c: Condition = "dropped<=3".parse().unwrap();
        assert!(c.holds(3.0) && !c.holds(4.0));
        let e = "audio.p99 > 1".parse::<Condition>().unwrap_err();
        assert!(
            e.contains("unknown metric `audio.p99`") && e.contains("audio.p99_ms"),
            "{e}"
        );
        let e = "audio.p99_ms = 1".parse::<Condition>().unwrap_err();
        assert!(e.contains("no comparison"), "{e}");
        let e = "audio.p99_ms > lots".parse::<Condition>().unwrap_err();
        assert!(e.contains("`lots` is not a number"), "{e}");
    }
}
