//! Seed search and replay files: `costream explore SCENARIO --seeds N --until EXPR` runs seeds
//! in parallel, reports those whose run violates a condition (`audio.p99_ms > 150`), and saves
//! the worst as a replay file; `costream replay FILE` re-runs it and checks every digest
//! checkpoint. A replay file is sealed (a hash of each field) and names the model build that
//! recorded it, so a replay tells an edited file, a build that is not deterministic and a
//! different build of the model apart instead of reporting each as "diverged".

use crate::scenario::{self, Registry, Scenario};
use crate::workload::{self, Metric, Ran, BUILTIN, COMMON_METRICS};
use crate::world::{Checkpoint, EventLog, SimOptions};
use costream_sim::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Loads the one scenario a search or replay runs: a file with a `[matrix]` must be narrowed to
/// one point. `workloads` is the registry its `workload` key names one of.
pub fn load_one(
    workloads: &Registry,
    file: &str,
    text: &str,
    sets: &[String],
) -> Result<Scenario, String> {
    let mut v =
        scenario::load_variants_with(workloads, file, text, sets).map_err(|e| e.to_string())?;
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

/// Metrics a condition can name, with what they measure: each workload's, then those every
/// workload measures.
pub fn metrics(workloads: &Registry) -> Vec<Metric> {
    let mut v: Vec<Metric> = Vec::new();
    for w in workloads {
        for m in w.metrics() {
            if !v.iter().any(|x| x.0 == m.0) {
                v.push(*m);
            }
        }
    }
    v.extend(COMMON_METRICS);
    v
}

/// `<metric> <op> <number>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The metric's name, one of [`metrics`] (`audio.p99_ms`).
    pub metric: String,
    /// The comparison: `>`, `>=`, `<` or `<=`.
    pub op: String,
    /// The threshold, a finite number in the metric's unit.
    pub value: f64,
}

/// [`Condition::parse`] with the built-in workloads' metrics.
impl std::str::FromStr for Condition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Condition::parse(s, &BUILTIN)
    }
}

impl Condition {
    /// Reads `<metric> <op> <number>`, refusing a metric none of `workloads` measures.
    pub fn parse(s: &str, workloads: &Registry) -> Result<Self, String> {
        let ops = [">=", "<=", ">", "<"];
        let Some((i, op)) = ops.iter().find_map(|op| s.find(op).map(|i| (i, *op))) else {
            return Err(format!(
                "--until {s:?}: no comparison; write it like 'audio.p99_ms > 150' (>, >=, <, <=)"
            ));
        };
        let metric = s[..i].trim().to_string();
        let num = s[i + op.len()..].trim();
        let all = metrics(workloads);
        if !all.iter().any(|m| m.0 == metric) {
            let known: Vec<&str> = all.iter().map(|m| m.0).collect();
            return Err(format!(
                "--until {s:?}: unknown metric `{metric}`; known: {}",
                known.join(", ")
            ));
        }
        let value = num
            .parse::<f64>()
            .map_err(|_| format!("--until {s:?}: `{num}` is not a number"))?;
        if !value.is_finite() {
            return Err(format!(
                "--until {s:?}: the threshold `{num}` is not a finite number, so the condition could never hold or always would\n  hint: give a threshold like 'audio.p99_ms > 150'"
            ));
        }
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
    /// Whether a run whose metric is `v` meets the condition (a violation, for `explore`).
    pub fn holds(&self, v: f64) -> bool {
        match self.op.as_str() {
            ">" => v > self.value,
            ">=" => v >= self.value,
            "<" => v < self.value,
            _ => v <= self.value,
        }
    }
    /// Refuses a metric that `sc`'s workload does not measure, before any seed runs;
    /// `workloads` are those a refusal names as measuring it.
    pub fn check_measured(&self, sc: &Scenario, workloads: &Registry) -> Result<(), String> {
        let any: Vec<&str> = COMMON_METRICS.iter().map(|m| m.0).collect();
        let m = self.metric.as_str();
        let measures = |w: &dyn scenario::Workload| w.metrics().iter().any(|x| x.0 == m);
        if !any.contains(&m) && !measures(sc.workload()) {
            let by: Vec<&str> = workloads
                .iter()
                .filter(|w| measures(**w))
                .map(|w| w.name())
                .collect();
            return Err(format!(
                "--until `{self}`: metric `{m}` is measured only by the {} workload, and this scenario runs the {} workload\n  hint: every workload measures {}",
                by.join(", "),
                sc.workload().name(),
                any.join(", ")
            ));
        }
        sc.workload().check_metric(sc, &self.to_string(), m)
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

/// Every metric of a finished run: those every workload measures, then its workload's own.
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
    ran.workload.measure(ran, &mut m);
    m
}

/// One explored seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The seed that was run.
    pub seed: u64,
    /// The condition's metric in that run, in the metric's unit.
    pub value: f64,
    /// Whether the condition held on this seed ([`Condition::holds`]).
    pub violated: bool,
}

/// Runs `seeds` of `sc` on `jobs` threads and evaluates `cond` on each; results in seed order.
/// `progress(done, total)` is called as seeds finish.
pub fn explore(
    workloads: &Registry,
    sc: &Scenario,
    seeds: std::ops::Range<u64>,
    cond: &Condition,
    jobs: usize,
    progress: impl Fn(u64, u64) + Sync,
) -> Result<Vec<Found>, String> {
    let total = seeds.end.saturating_sub(seeds.start);
    if total == 0 {
        return Err("explore --seeds 0: no seeds to try; use at least 1".into());
    }
    cond.check_measured(sc, workloads)?;
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
                "metric `{}` is not measured by the {} workload",
                cond.metric,
                sc.workload().name()
            )),
        }
    };
    crate::parallel::map(total as usize, jobs, one, |d| progress(d as u64, total))
        .into_iter()
        .collect()
}

/// The replay file format version; a file from another costream version is refused.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// This build's model fingerprint: a hash of the model's and the kernel's source (and the lock
/// file) made at build time (`model/build.rs`). Replay files record it, so a replay that
/// diverges the same way on every run can tell a different build of the model from anything else.
pub const MODEL_FINGERPRINT: &str = env!("COSTREAM_MODEL_FINGERPRINT");

/// Everything needed to re-run one seed exactly and check that it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// The [`VERSION`] of costream that wrote the file; another version's file is refused.
    pub costream_version: String,
    /// The [`MODEL_FINGERPRINT`] of the build that recorded the file.
    pub model: String,
    /// Where the scenario came from, for people (not sealed: it does not change the run).
    pub source: String,
    /// The seed to run again.
    pub seed: u64,
    /// `--set` overrides still to apply (replay files written here have them folded into
    /// `scenario` already).
    pub sets: Vec<String>,
    /// The `--until` condition the seed was found by, if any.
    pub condition: Option<Condition>,
    /// The condition's metric when recorded (the [`Found::value`] of the seed).
    pub value: Option<f64>,
    /// Events the recorded run handled; a replay handling another number diverged.
    pub events: u64,
    /// The recorded run's final event digest, as 16 hex digits.
    pub digest: String,
    /// Virtual time between two digest checkpoints, in milliseconds.
    pub checkpoint_every_ms: u64,
    /// `"<virtual ns> <events> <digest>"` at every checkpoint (TOML integers cannot hold a
    /// 64-bit digest).
    pub checkpoints: Vec<String>,
    /// The normalised scenario: the file with its `--set` overrides applied, as TOML.
    pub scenario: String,
    /// A hash of each other field (but `source`) as costream wrote it: an edited file is told
    /// from a model that diverged, and names the field that was edited.
    pub sealed: BTreeMap<String, String>,
}

fn checkpoint_line(c: &Checkpoint) -> String {
    format!("{} {} {:016x}", c.at_ns, c.events, c.digest)
}

fn parse_checkpoint(s: &str) -> Option<Checkpoint> {
    let mut w = s.split(' ');
    let c = Checkpoint {
        at_ns: w.next()?.parse().ok()?,
        events: w.next()?.parse().ok()?,
        digest: u64::from_str_radix(w.next()?, 16).ok()?,
    };
    w.next().is_none().then_some(c)
}

/// Checkpoints in replay files: often enough to localise a divergence, few enough to read.
pub const CHECKPOINT_EVERY: SimDuration = SimDuration::from_millis(100);

/// How a replay runs its scenario: the workload, or in tests one that misbehaves on purpose.
type Runner<'a> = &'a dyn Fn(&Scenario, u64, &SimOptions) -> Ran;

fn run_workload(sc: &Scenario, seed: u64, opts: &SimOptions) -> Ran {
    workload::run_with(sc, seed, opts, |_, _| {})
}

/// Runs `sc` for `seed` with digest checkpoints.
pub fn run_checkpointed(sc: &Scenario, seed: u64) -> (Ran, Vec<Checkpoint>) {
    checkpointed(&run_workload, sc, seed, EventLog::Off)
}

/// Runs `sc` for `seed` with digest checkpoints, keeping `log` of its events.
fn checkpointed(run: Runner, sc: &Scenario, seed: u64, log: EventLog) -> (Ran, Vec<Checkpoint>) {
    let opts = SimOptions::default()
        .event_log(log)
        .checkpoints(CHECKPOINT_EVERY);
    let ran = run(sc, seed, &opts);
    let cps = ran.sim.checkpoints();
    (ran, cps)
}

/// A run's identity as a replay compares it: its checkpoints, then its event count and digest.
struct Trail<'a> {
    cps: &'a [Checkpoint],
    events: u64,
    digest: u64,
}

impl Trail<'_> {
    /// The first checkpoint index where `self` and `other` differ; `cps.len()` (the end) when
    /// only the final count or digest does.
    fn first_difference(&self, other: &Trail) -> Option<usize> {
        let n = self.cps.len().min(other.cps.len());
        (0..n)
            .find(|&i| self.cps[i] != other.cps[i])
            .or_else(|| (self.cps.len() != other.cps.len()).then_some(n))
            .or_else(|| ((self.events, self.digest) != (other.events, other.digest)).then_some(n))
    }

    /// What this run has at checkpoint `i`, for people.
    fn at(&self, i: usize) -> String {
        match self.cps.get(i) {
            Some(c) => format!("checkpoint `{}` (ns events digest)", checkpoint_line(c)),
            None => format!("end: {} events, digest {:016x}", self.events, self.digest),
        }
    }
}

/// The virtual-time window `[from, until)` holding the first event where two runs that agree
/// up to checkpoint `i` differ: from the last common checkpoint to the later of their next.
fn window(i: usize, a: &Trail, b: &Trail) -> (SimTime, SimTime) {
    let from = i
        .checked_sub(1)
        .and_then(|j| a.cps.get(j))
        .map_or(0, |c| c.at_ns);
    let until = match (a.cps.get(i), b.cps.get(i)) {
        (Some(x), Some(y)) => x.at_ns.max(y.at_ns),
        _ => u64::MAX,
    };
    (SimTime::from_nanos(from), SimTime::from_nanos(until))
}

/// `between 100.000ms and 200.000ms of virtual time`.
fn show_window((from, until): (SimTime, SimTime)) -> String {
    let t = |t: SimTime| SimDuration::from_nanos(t.as_nanos());
    if until == SimTime::MAX {
        format!("between {} of virtual time and the end of the run", t(from))
    } else {
        format!("between {} and {} of virtual time", t(from), t(until))
    }
}

/// The fields a seal covers, in the order a message lists them.
const SEALED: [&str; 11] = [
    "costream_version",
    "model",
    "seed",
    "sets",
    "condition",
    "value",
    "events",
    "digest",
    "checkpoint_every_ms",
    "checkpoints",
    "scenario",
];

/// [`costream_sim::Fnv1a`] of `parts`, each after its length, as hex. A seal catches edits by
/// hand, not forgery.
fn fnv(parts: &[&[u8]]) -> String {
    let mut h = costream_sim::Fnv1a::new();
    for p in parts {
        h.write(&(p.len() as u64).to_le_bytes());
        h.write(p);
    }
    format!("{:016x}", h.finish())
}

impl Replay {
    /// A replay of `seed` of the scenario `text` with `sets`.
    pub fn record(
        workloads: &Registry,
        source: &str,
        text: &str,
        sets: &[String],
        seed: u64,
        condition: Option<(Condition, f64)>,
    ) -> Result<Replay, String> {
        // Normalised: the scenario with its overrides applied, as one TOML document.
        let tree = scenario::tree(source, text, sets).map_err(|e| e.to_string())?;
        let normal = toml::to_string(&tree).map_err(|e| format!("{source}: {e}"))?;
        let sc = load_one(workloads, source, &normal, &[])?;
        let (ran, cps) = run_checkpointed(&sc, seed);
        let mut r = Replay {
            costream_version: VERSION.to_string(),
            model: MODEL_FINGERPRINT.to_string(),
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
            sealed: BTreeMap::new(),
        };
        r.seal();
        Ok(r)
    }

    /// Records this file's scenario and seed again with this build, re-measuring its condition's
    /// metric: after a deliberate change to the model (or to the file), the new file describes
    /// the run as it now is.
    pub fn record_again(&self, workloads: &Registry) -> Result<(Replay, Option<f64>), String> {
        let sc = load_one(workloads, &self.source, &self.scenario, &self.sets)?;
        let ran = run_workload(&sc, self.seed, &SimOptions::default());
        let value = self
            .condition
            .as_ref()
            .and_then(|c| measure(&ran).get(c.metric.as_str()).copied());
        let cond = self.condition.clone().zip(value);
        let r = Replay::record(
            workloads,
            &self.source,
            &self.scenario,
            &self.sets,
            self.seed,
            cond,
        )?;
        Ok((r, value))
    }

    /// The hash of one sealed field: its name and value, in a fixed byte form.
    fn field_hash(&self, name: &str) -> String {
        let f = |x: f64| x.to_bits().to_le_bytes();
        let b = name.as_bytes();
        match name {
            "costream_version" => fnv(&[b, self.costream_version.as_bytes()]),
            "model" => fnv(&[b, self.model.as_bytes()]),
            "seed" => fnv(&[b, &self.seed.to_le_bytes()]),
            "sets" => {
                let mut p: Vec<&[u8]> = vec![b];
                p.extend(self.sets.iter().map(|s| s.as_bytes()));
                fnv(&p)
            }
            "condition" => match &self.condition {
                None => fnv(&[b]),
                Some(c) => fnv(&[b, c.metric.as_bytes(), c.op.as_bytes(), &f(c.value)]),
            },
            "value" => match self.value {
                None => fnv(&[b]),
                Some(v) => fnv(&[b, &f(v)]),
            },
            "events" => fnv(&[b, &self.events.to_le_bytes()]),
            "digest" => fnv(&[b, self.digest.as_bytes()]),
            "checkpoint_every_ms" => fnv(&[b, &self.checkpoint_every_ms.to_le_bytes()]),
            "checkpoints" => {
                let mut p: Vec<&[u8]> = vec![b];
                p.extend(self.checkpoints.iter().map(|s| s.as_bytes()));
                fnv(&p)
            }
            _ => fnv(&[b, self.scenario.as_bytes()]),
        }
    }

    /// Seals the file as it now is. `record` does this; a tool that rewrites a replay on
    /// purpose (a test simulating a model change) calls it after its edit.
    pub fn seal(&mut self) {
        self.sealed = SEALED
            .iter()
            .map(|&n| (n.to_string(), self.field_hash(n)))
            .collect();
    }

    /// Refuses a file edited since it was sealed, naming each edited field.
    fn check_seal(&self, file: &str) -> Result<(), String> {
        let mut edits = Vec::new();
        for name in SEALED {
            match self.sealed.get(name) {
                None => edits.push(format!("field `sealed.{name}` is missing")),
                Some(h) if *h == self.field_hash(name) => {}
                Some(_) if name == "condition" && self.condition.is_none() => {
                    edits.push("the `[condition]` table was removed".into())
                }
                Some(_) if name == "value" && self.value.is_none() => {
                    edits.push("field `value` was removed".into())
                }
                Some(_) => edits.push(format!("field `{name}` was changed")),
            }
        }
        for name in self.sealed.keys() {
            if !SEALED.contains(&name.as_str()) {
                edits.push(format!("field `sealed.{name}` is not one costream writes"));
            }
        }
        if edits.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{file}: edited after costream recorded it: {}; its recorded digests{} no longer describe the run it asks for, so replaying it could not tell a model change from the edit\n  hint: to run the edited file as it now is, record it again: `costream replay {file} --record NEW.toml`",
            edits.join(", "),
            if self.condition.is_some() { " and value" } else { "" }
        ))
    }

    /// The file's text: a comment saying what it is, then the fields as TOML.
    pub fn to_toml(&self) -> String {
        format!(
            "# costream replay file: `costream replay FILE` re-runs this seed and checks every digest.\n# Recorded by costream; [sealed] holds a hash of each field, so an edit by hand is refused.\n{}",
            toml::to_string(self).expect("replay files serialise")
        )
    }

    /// Reads a replay file, refusing one written by another costream version, one that is not a
    /// replay file, and one edited since costream sealed it.
    /// `workloads` are those whose metrics its condition may name.
    pub fn parse(workloads: &Registry, file: &str, text: &str) -> Result<Replay, String> {
        let r = Replay::parse_edited(workloads, file, text)?;
        r.check_seal(file)?;
        Ok(r)
    }

    /// [`Replay::parse`] without the seal check: for recording an edited file again.
    pub fn parse_edited(workloads: &Registry, file: &str, text: &str) -> Result<Replay, String> {
        let not_replay = "hint: replay files are written by `costream explore`; a scenario file runs with `costream run FILE`";
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            format!(
                "{file}: not a costream replay file: it is not TOML: {}\n  {not_replay}",
                one_line(&e.to_string())
            )
        })?;
        // The version first: a file from another version may have other fields.
        match table.get("costream_version") {
            None => {
                return Err(format!(
                    "{file}: not a costream replay file: field `costream_version` is missing\n  {not_replay}"
                ))
            }
            Some(toml::Value::String(v)) if v == VERSION => {}
            Some(toml::Value::String(v)) => {
                return Err(format!(
                    "{file}: field `costream_version`: written by costream {v}, this is costream {VERSION}; a run is only reproducible on the version that recorded it\n  hint: check out that version (git tag v{v}) to replay it"
                ))
            }
            Some(v) => {
                return Err(format!(
                    "{file}: field `costream_version`: {v} is not a version string\n  {not_replay}"
                ))
            }
        }
        if !table.contains_key("sealed") {
            return Err(format!(
                "{file}: field `sealed` is missing: costream {VERSION} seals every replay file it writes, so this one was written by an earlier build or its seal was removed\n  hint: record it again with `costream explore` (or `costream replay {file} --record NEW.toml`)"
            ));
        }
        let r: Replay =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                let inner = inner.lines().next().unwrap_or("").trim().to_string();
                let problem = match inner.strip_prefix("missing field ") {
                    Some(f) if path == "." => format!("field {f} is missing"),
                    Some(f) => format!("field `{path}.{}` is missing", f.trim_matches('`')),
                    None if path == "." => inner,
                    None => format!("field `{path}`: {inner}"),
                };
                format!(
                    "{file}: {problem}\n  hint: this is not a replay file costream wrote, or it was edited; record it again with `costream explore`"
                )
            })?;
        if u64::from_str_radix(&r.digest, 16).is_err() {
            return Err(format!(
                "{file}: field `digest`: `{}` is not a 16-digit hex digest",
                r.digest
            ));
        }
        if let Some(i) = r
            .checkpoints
            .iter()
            .position(|c| parse_checkpoint(c).is_none())
        {
            return Err(format!(
                "{file}: field `checkpoints[{i}]`: `{}` is not `<virtual ns> <events> <hex digest>`",
                r.checkpoints[i]
            ));
        }
        if let Some(c) = &r.condition {
            let text = format!("{} {} {}", c.metric, c.op, c.value);
            if let Err(e) = Condition::parse(&text, workloads) {
                return Err(format!(
                    "{file}: field `condition`: {}",
                    e.trim_start_matches("--until ")
                ));
            }
        }
        let every = CHECKPOINT_EVERY.as_nanos() / 1_000_000;
        if r.checkpoint_every_ms != every {
            return Err(format!(
                "{file}: field `checkpoint_every_ms`: {}; costream {VERSION} records and checks a checkpoint every {every} ms",
                r.checkpoint_every_ms
            ));
        }
        Ok(r)
    }

    /// Re-runs the seed; `Ok` with the run when every checkpoint and the final digest agree.
    /// Otherwise `Err` saying where the run left the recording and why: this build is not
    /// deterministic (two runs of the seed differ: the first event where they do), or it runs
    /// the seed the same way each time and so differs from the build that recorded the file
    /// (compared by [`MODEL_FINGERPRINT`]); both name the first replayed event of the window.
    /// `file` names the replay file in messages.
    /// `log` says what the run keeps of its events: `EventLog::Last(n)` for the last events
    /// shown, `EventLog::All` for a trace.
    /// `workloads` is the registry its scenario's `workload` names one of.
    pub fn replay(&self, workloads: &Registry, file: &str, log: EventLog) -> Result<Ran, String> {
        self.replay_with(workloads, file, log, &run_workload)
    }

    fn replay_with(
        &self,
        workloads: &Registry,
        file: &str,
        log: EventLog,
        run: Runner,
    ) -> Result<Ran, String> {
        let sc = load_one(workloads, &self.source, &self.scenario, &self.sets)?;
        let want: Vec<Checkpoint> = self
            .checkpoints
            .iter()
            .filter_map(|c| parse_checkpoint(c))
            .collect();
        let recorded = Trail {
            cps: &want,
            events: self.events,
            digest: u64::from_str_radix(&self.digest, 16).unwrap_or(0),
        };
        let (ran, got) = checkpointed(run, &sc, self.seed, log);
        let replayed = Trail {
            cps: &got,
            events: ran.out.events,
            digest: ran.out.digest,
        };
        match recorded.first_difference(&replayed) {
            None => Ok(ran),
            Some(i) => Err(self.explain(file, i, &recorded, &replayed, &sc, run)),
        }
    }

    /// Why the replay left the recording at checkpoint `i`: runs the seed again to tell a
    /// build that is not deterministic from one that differs from the recording's.
    fn explain(
        &self,
        file: &str,
        i: usize,
        recorded: &Trail,
        replayed: &Trail,
        sc: &Scenario,
        run: Runner,
    ) -> String {
        use std::fmt::Write as _;
        let seed = self.seed;
        let win = window(i, recorded, replayed);
        let mut msg = format!(
            "{file}: replay of seed {seed} left the recording {}: recorded {}, replayed {}",
            show_window(win),
            recorded.at(i),
            replayed.at(i)
        );
        let (again, cps2) = checkpointed(run, sc, seed, EventLog::Off);
        let second = Trail {
            cps: &cps2,
            events: again.out.events,
            digest: again.out.digest,
        };
        let hint = match replayed.first_difference(&second) {
            Some(j) => {
                let (from, until) = window(j, replayed, &second);
                let test = |s, opts: &SimOptions| run(sc, s, opts).sim;
                match crate::testing::first_divergence_in(&test, seed, from, until) {
                    Some(d) => {
                        let _ = write!(
                            msg,
                            "\n  this build is not deterministic: two runs of seed {seed} first differ at event #{}\n    first run:  {}\n    second run: {}",
                            d.index, d.first, d.second
                        );
                    }
                    None => {
                        let _ = write!(
                            msg,
                            "\n  this build is not deterministic: two runs of seed {seed} differ {} (two more runs, with their events kept, agreed there)",
                            show_window((from, until))
                        );
                    }
                }
                "hint: the model depends on something besides the seed (a HashMap's order, the wall clock, state kept between runs); `COSTREAM_TEST_CHECK_DETERMINISM=1 cargo test` finds such a seed in the tests (docs/reproducibility.md)".to_string()
            }
            None if self.model != MODEL_FINGERPRINT => {
                let _ = write!(
                    msg,
                    "\n  this build runs seed {seed} the same way every time: the file was recorded by a different build of the model (fingerprint {}, this is {MODEL_FINGERPRINT})",
                    self.model
                );
                format!("hint: if the model changed on purpose, record the file again: `costream replay {file} --record NEW.toml`; to reproduce the recording, build the model it names")
            }
            None => {
                let _ = write!(
                    msg,
                    "\n  this build runs seed {seed} the same way every time and has the model fingerprint the file records ({MODEL_FINGERPRINT}), yet the recording differs: the run depends on something outside the model's source (the platform, the toolchain)"
                );
                format!("hint: record the file again on this machine: `costream replay {file} --record NEW.toml`")
            }
        };
        let window = SimOptions::default().event_log(EventLog::Window(win.0, win.1));
        let first = run(sc, seed, &window).sim;
        let _ = write!(
            msg,
            "\n  first replayed event {}: {}",
            show_window(win),
            first.describe_event(0)
        );
        match first.first_goroutine_event() {
            Some(0) | None => {}
            Some(i) => {
                let _ = write!(
                    msg,
                    "\n  first replayed goroutine event there: {}",
                    first.describe_event(i)
                );
            }
        }
        let _ = write!(msg, "\n  {hint}");
        msg
    }
}

/// toml's multi-line message (position, source excerpt, caret, problem) as `line L, column C:
/// problem`, for `file: problem` errors.
fn one_line(s: &str) -> String {
    let mut lines = s.lines();
    let head = lines.next().unwrap_or("");
    let at = head.strip_prefix("TOML parse error at ").unwrap_or(head);
    let problem: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains('^'))
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if problem.is_empty() {
        at.to_string()
    } else {
        format!("{at}: {}", problem.join("; "))
    }
}

/// Refuses an output path that cannot be written, so a long search or shrink fails before it
/// runs rather than after.
pub fn check_writable(path: &str, what: &str) -> Result<(), String> {
    let p = std::path::Path::new(path);
    if p.is_dir() {
        return Err(format!(
            "{path}: cannot write the {what} there: it is a directory\n  hint: name a file, for example {}/costream-replay.toml",
            path.trim_end_matches('/')
        ));
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{path}: cannot write the {what}: {} is not an existing folder\n  hint: create it, or choose another --out",
            dir.display()
        ));
    }
    let probe = dir.join(format!(".costream-write-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "{path}: cannot write the {what} in {}: {e}\n  hint: choose another --out",
            dir.display()
        )),
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

    fn short() -> Replay {
        let sets = ["run.duration=\"300ms\"".to_string()];
        Replay::record(&BUILTIN, "quickstart", scenario::QUICKSTART, &sets, 1, None).unwrap()
    }

    /// A run that is not a function of its seed (here: every other run gets a host pause at
    /// 150 ms, as state leaking between runs would) is reported as this build's
    /// non-determinism, at the first event where two runs differ, not as a model change.
    #[test]
    fn a_build_that_is_not_deterministic_is_named_at_its_first_differing_event() {
        let r = short();
        let sc = load_one(&BUILTIN, &r.source, &r.scenario, &[]).unwrap();
        let paused = load_one(
            &BUILTIN,
            &r.source,
            &r.scenario,
            &["server.stalls.pauses=[{ at = \"150ms\", duration = \"20ms\" }]".into()],
        )
        .unwrap();
        let calls = std::cell::Cell::new(0);
        let leaky = |_: &Scenario, seed: u64, opts: &SimOptions| {
            calls.set(calls.get() + 1);
            run_workload(if calls.get() % 2 == 1 { &paused } else { &sc }, seed, opts)
        };
        let e = r
            .replay_with(&BUILTIN, "r.toml", EventLog::Off, &leaky)
            .err()
            .expect("diverges");
        for needle in [
            "r.toml: replay of seed 1 left the recording between 100.000ms and 200.000ms of virtual time",
            "this build is not deterministic: two runs of seed 1 first differ at event #",
            // The pause ends at 170 ms: the paused run's host wakes then, the other's earlier.
            "\n    first run:  at 170.000ms on host 0: NetpollWake",
            "\n    second run: at ",
            "first replayed event between 100.000ms and 200.000ms of virtual time: at 1",
            "COSTREAM_TEST_CHECK_DETERMINISM=1",
        ] {
            assert!(e.contains(needle), "lacks {needle:?}:\n{e}");
        }
        assert!(!e.contains("different build"), "{e}");
        // The same runner every time: deterministic, so the recording's build differs.
        let e = r
            .replay_with(&BUILTIN, "r.toml", EventLog::Off, &|_, seed, opts| {
                run_workload(&paused, seed, opts)
            })
            .err()
            .expect("diverges");
        assert!(e.contains("the same way every time"), "{e}");
        assert!(!e.contains("not deterministic"), "{e}");
        // And the recording itself replays.
        assert!(r.replay(&BUILTIN, "r.toml", EventLog::Off).is_ok());
    }

    /// Checkpoints are the run before each boundary: their event counts grow with time, and
    /// a checkpoint never counts an event at or after its boundary.
    #[test]
    fn checkpoints_describe_the_run_before_their_boundary() {
        let r = short();
        let sc = load_one(&BUILTIN, &r.source, &r.scenario, &[]).unwrap();
        let (ran, cps) = checkpointed(&run_workload, &sc, 1, EventLog::All);
        assert!(cps.len() >= 2, "{cps:?}");
        let times: Vec<u64> = ran.sim.event_log().iter().map(|e| e[0]).collect();
        for c in &cps {
            // The digest at a checkpoint equals the digest after the records before it.
            let before = times.iter().filter(|&&t| t < c.at_ns).count();
            let mut d = costream_sim::Digest::new();
            for rec in &ran.sim.event_log()[..before] {
                d.record(rec);
            }
            assert_eq!(d.value(), c.digest, "checkpoint at {} ns", c.at_ns);
        }
    }

    #[test]
    fn thresholds_must_be_finite() {
        for s in [
            "audio.p99_ms > nan",
            "audio.p99_ms > inf",
            "dropped <= -inf",
        ] {
            let e = s.parse::<Condition>().unwrap_err();
            assert!(e.contains("is not a finite number"), "{e}");
        }
    }
}
