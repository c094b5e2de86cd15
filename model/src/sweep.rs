//! Parameter sweeps: `costream sweep SCENARIO --grid 'server.gomaxprocs=4,16' --grid
//! 'server.gogc=50,100'` runs every combination (times every seed) in parallel and appends each
//! finished point to a results file as one JSON line, so an interrupted sweep keeps what it
//! finished and resumes where it stopped. `--shard i/n` runs every n-th point; `merge` joins
//! shards. A finished results file is written in point order, so one thread, all cores and
//! merged shards give byte-identical files.
//!
//! A results file starts with a [`Header`] line naming the sweep it belongs to (a hash of the
//! scenario with its base `--set` overrides, the grid, the seeds, the costream version, the
//! model fingerprint and the shard). A sweep only resumes into a file of the same sweep, and
//! `merge` only joins shards of one sweep and only when they cover every point: results of two
//! different sweeps are never mixed into one file.

use crate::explore::{load_one, measure, MODEL_FINGERPRINT, VERSION};
use crate::scenario::Scenario;
use crate::workload;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The results file format (the header's `costream_sweep` field).
pub const FORMAT: u32 = 1;

/// Most points (combinations × seeds) one sweep may have.
pub const MAX_SWEEP_POINTS: usize = 100_000;

/// Most missing points (or ranges of them) an incomplete merge lists.
const MISSING_SHOWN: usize = 20;

/// One `--grid KEY=V1,V2,...`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// The dotted scenario field the axis varies, as `--set` spells it (`server.gomaxprocs`).
    pub key: String,
    /// The values it takes, in order, each once, as `--set` values.
    pub values: Vec<String>,
}

impl std::str::FromStr for Axis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            format!("--grid {s:?}: expected KEY=V1,V2 (for example 'server.gomaxprocs=4,16')")
        })?;
        let key = k.trim();
        let values: Vec<String> = v.split(',').map(|x| x.trim().to_string()).collect();
        if key.is_empty()
            || key.split('.').any(str::is_empty)
            || values.iter().any(String::is_empty)
        {
            return Err(format!(
                "--grid {s:?}: a key and non-empty values are needed (for example 'server.gomaxprocs=4,16')"
            ));
        }
        for (i, x) in values.iter().enumerate() {
            if values[..i].contains(x) {
                return Err(format!(
                    "--grid {s:?}: the value {x} is given twice\n  hint: give each value once"
                ));
            }
        }
        Ok(Axis {
            key: key.to_string(),
            values,
        })
    }
}

impl std::fmt::Display for Axis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.values.join(","))
    }
}

/// One point: its index in the full sweep, its overrides and its seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Its position in the whole sweep (not the shard); results files are in this order.
    pub index: usize,
    /// The `--set` overrides of its grid combination (`server.gogc=50`), on top of the base.
    pub sets: Vec<String>,
    /// The seed it runs.
    pub seed: u64,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.sets {
            write!(f, "{s} ")?;
        }
        write!(f, "seed {}", self.seed)
    }
}

/// Every point of `grid` × `seeds`, the first axis varying slowest.
pub fn points(grid: &[Axis], seeds: &[u64]) -> Vec<Point> {
    let mut out = Vec::new();
    for c in combinations(grid) {
        for &seed in seeds {
            out.push(Point {
                index: out.len(),
                sets: c.clone(),
                seed,
            });
        }
    }
    out
}

/// Every combination of the grid's values as `--set` overrides, the first axis varying slowest.
fn combinations(grid: &[Axis]) -> Vec<Vec<String>> {
    let mut combos: Vec<Vec<String>> = vec![Vec::new()];
    for axis in grid {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(format!("{}={v}", axis.key));
                    c
                })
            })
            .collect();
    }
    combos
}

/// `--shard i/n`: 1-based shard `i` of `n`.
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard {s:?}: expected i/n with 1 <= i <= n, for example 2/3");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Whether point `index` belongs to `shard` (every point belongs to no shard).
pub fn in_shard(index: usize, shard: Option<(usize, usize)>) -> bool {
    match shard {
        None => true,
        Some((i, n)) => index % n == i - 1,
    }
}

/// The default `--out`: `<stem>.sweep.jsonl` (`<stem>.sweep-IofN.jsonl` for a shard) in the
/// current folder, from the scenario's file name (`quickstart` for the embedded one).
pub fn default_out(file: &str, shard: Option<(usize, usize)>) -> String {
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .unwrap_or_else(|| "costream".to_string());
    match shard {
        None => format!("{stem}.sweep.jsonl"),
        Some((i, n)) => format!("{stem}.sweep-{i}of{n}.jsonl"),
    }
}

/// FNV-1a of `bytes` as hex ([`costream_sim::fnv1a`]).
fn fnv(bytes: &[u8]) -> String {
    format!("{:016x}", costream_sim::fnv1a(bytes))
}

/// The hash that names a loaded scenario in a sweep header: of its every field, defaults filled
/// in. Comments, whitespace, key order and spelling a default out do not change it; any field's
/// value (from the file or a base `--set`) does.
pub fn scenario_hash(sc: &Scenario) -> String {
    fnv(format!("{sc:?}").as_bytes())
}

/// The first line of a results file: which sweep the results belong to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Marks the line as a sweep header; the file format ([`FORMAT`]).
    pub costream_sweep: u32,
    /// The scenario's name, for people (the hash decides).
    pub name: String,
    /// [`scenario_hash`] of the scenario with the base `--set` overrides.
    pub scenario: String,
    /// The grid's axes, in `--grid` order (the first varies slowest).
    pub grid: Vec<Axis>,
    /// The seeds each combination runs, in order.
    pub seeds: Vec<u64>,
    /// How many points the whole sweep has (grid combinations × seeds).
    pub points: usize,
    /// The costream version that ran the points.
    pub version: String,
    /// The [`MODEL_FINGERPRINT`] of the build that ran the points.
    pub model: String,
    /// `i/n`, or `none` for the whole sweep (and for merged shards).
    pub shard: String,
}

/// The header fields that name a sweep, in the order differences are reported.
pub const FIELDS: [&str; 6] = ["scenario", "grid", "seeds", "version", "model", "shard"];

impl Header {
    /// The header of a sweep of `sc` (loaded with the base overrides) made by this build.
    pub fn new(sc: &Scenario, grid: &[Axis], seeds: &[u64], shard: Option<(usize, usize)>) -> Self {
        let combos: usize = grid.iter().map(|a| a.values.len()).product();
        Header {
            costream_sweep: FORMAT,
            name: sc.name.clone(),
            scenario: scenario_hash(sc),
            grid: grid.to_vec(),
            seeds: seeds.to_vec(),
            points: combos * seeds.len(),
            version: VERSION.to_string(),
            model: MODEL_FINGERPRINT.to_string(),
            shard: shard.map_or("none".to_string(), |(i, n)| format!("{i}/{n}")),
        }
    }

    /// The shard, checked when the header was read.
    pub fn shard(&self) -> Option<(usize, usize)> {
        parse_shard(&self.shard).ok()
    }

    /// The same sweep, unsharded.
    pub fn whole(&self) -> Header {
        Header {
            shard: "none".to_string(),
            ..self.clone()
        }
    }

    /// Every point of the whole sweep.
    pub fn all_points(&self) -> Vec<Point> {
        points(&self.grid, &self.seeds)
    }

    /// The fields of [`FIELDS`] in which `self` and `other` differ.
    pub fn differences(&self, other: &Header) -> Vec<&'static str> {
        FIELDS
            .iter()
            .copied()
            .filter(|f| self.describe(f) != other.describe(f))
            .collect()
    }

    /// A field's value, for people.
    pub fn describe(&self, field: &str) -> String {
        match field {
            "scenario" => format!("scenario {} (named {:?})", self.scenario, self.name),
            "grid" if self.grid.is_empty() => "no --grid".to_string(),
            "grid" => self
                .grid
                .iter()
                .map(|a| format!("--grid {a}"))
                .collect::<Vec<_>>()
                .join(" "),
            "seeds" => seeds_text(&self.seeds),
            "version" => format!("costream {}", self.version),
            "model" => format!("model fingerprint {}", self.model),
            "shard" if self.shard == "none" => "the whole sweep (no --shard)".to_string(),
            "shard" => format!("--shard {}", self.shard),
            _ => unreachable!("a header field"),
        }
    }

    /// Checks a header read from `path`.
    fn check(&self, path: &str) -> Result<(), String> {
        let bad = |what: String| {
            Err(format!(
                "{path}: line 1: the sweep header is damaged: {what}\n  hint: {}",
                rerun(path)
            ))
        };
        if self.shard != "none" && parse_shard(&self.shard).is_err() {
            return bad(format!("shard {:?} is neither none nor i/n", self.shard));
        }
        let combos = self
            .grid
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
        if combos.and_then(|c| c.checked_mul(self.seeds.len())) != Some(self.points) {
            return bad(format!(
                "it records {} points, but its grid and seeds make another number",
                self.points
            ));
        }
        if self.points > MAX_SWEEP_POINTS {
            return bad(format!(
                "{} points, more than a sweep may have ({MAX_SWEEP_POINTS})",
                self.points
            ));
        }
        Ok(())
    }
}

/// `1..=4 (4 seeds)`, or the list when the seeds do not follow each other.
fn seeds_text(seeds: &[u64]) -> String {
    let n = seeds.len();
    let plural = if n == 1 { "" } else { "s" };
    match seeds {
        [] => "no seeds".to_string(),
        [a] => format!("seed {a} (1 seed)"),
        [a, ..] if seeds.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])) => {
            format!("seeds {a}..={} ({n} seed{plural})", seeds[n - 1])
        }
        _ => {
            let shown: Vec<String> = seeds.iter().take(8).map(u64::to_string).collect();
            let more = if n > 8 { ", …" } else { "" };
            format!("seeds {}{more} ({n} seed{plural})", shown.join(", "))
        }
    }
}

/// One results line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The point's [`Point::index`] in the whole sweep.
    pub point: usize,
    /// The point's grid overrides ([`Point::sets`]).
    pub sets: Vec<String>,
    /// The seed the point ran.
    pub seed: u64,
    /// The run's final event digest, as 16 hex digits.
    pub digest: String,
    /// Events the run handled.
    pub events: u64,
    /// Every metric of the run ([`crate::explore::measure`]), by name, each in its own unit.
    pub metrics: BTreeMap<String, f64>,
}

/// A results file: its header and its lines, in point order.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// Which sweep the lines belong to (the file's first line).
    pub header: Header,
    /// The finished points, in point order.
    pub lines: Vec<Line>,
    /// The last line was cut off (an interrupted write) and was left out.
    pub torn: bool,
}

/// Reads a results file; `None` when it does not exist or is empty. A file that does not start
/// with a sweep header is refused, and so is a line that is not a point of the header's sweep
/// and shard. A torn last line (an interrupted write: no newline at its end) is left out.
pub fn read_results(path: &str) -> Result<Option<Results>, String> {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8(b).map_err(|_| {
            format!(
                "{path}: is not a sweep results file (it is not text)\n  hint: {}",
                rerun(path)
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{path}: cannot read the results: {e}")),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let ends = text.ends_with('\n');
    let all: Vec<&str> = text.lines().collect();
    let header = parse_header(path, all[0])?;
    header.check(path)?;
    let expect = header.all_points();
    let shard = header.shard();
    let mut lines: BTreeMap<usize, Line> = BTreeMap::new();
    let mut torn = false;
    for (i, l) in all.iter().enumerate().skip(1) {
        let n = i + 1;
        let line: Line = match serde_json::from_str(l) {
            Ok(x) => x,
            Err(_) if n == all.len() && !ends => {
                torn = true; // cut off by an interruption
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "{path}: line {n}: not a sweep result: {e}\n  hint: the file was changed after the sweep wrote it; {}",
                    rerun(path)
                ))
            }
        };
        let fits = expect
            .get(line.point)
            .is_some_and(|p| p.sets == line.sets && p.seed == line.seed);
        if !fits || !in_shard(line.point, shard) {
            return Err(format!(
                "{path}: line {n}: point {} ({} seed {}) is not a point of the sweep its header describes ({}, {})\n  hint: the file was changed after the sweep wrote it; {}",
                line.point,
                line.sets.join(" "),
                line.seed,
                header.describe("grid"),
                header.describe("shard"),
                rerun(path)
            ));
        }
        if let Some(prev) = lines.get(&line.point) {
            if prev != &line {
                return Err(format!(
                    "{path}: line {n}: point {} appears twice with different results",
                    line.point
                ));
            }
        }
        lines.insert(line.point, line);
    }
    Ok(Some(Results {
        header,
        lines: lines.into_values().collect(),
        torn,
    }))
}

/// The hint for a file that cannot be read as a sweep's results.
fn rerun(path: &str) -> String {
    format!("run the sweep again into a new file (another --out), or delete {path} first")
}

fn parse_header(path: &str, first: &str) -> Result<Header, String> {
    let value: Option<serde_json::Value> = serde_json::from_str(first).ok();
    let format = value.as_ref().and_then(|v| v.get("costream_sweep"));
    let Some(format) = format else {
        return Err(format!(
            "{path}: has no sweep header: its first line does not name the sweep its results belong to (a file written before costream recorded sweep headers, or not a sweep results file)\n  hint: {}", rerun(path)
        ));
    };
    if format.as_u64() != Some(u64::from(FORMAT)) {
        return Err(format!(
            "{path}: line 1: a sweep results file of format {format}; costream {VERSION} reads format {FORMAT}\n  hint: {}", rerun(path)
        ));
    }
    serde_json::from_str(first).map_err(|e| {
        format!(
            "{path}: line 1: the sweep header is damaged: {e}\n  hint: {}",
            rerun(path)
        )
    })
}

/// Why `path`'s header is not `this`: one line per differing field, `a` naming the file's side
/// and `b` the other's.
fn explain(a: (&str, &Header), b: (&str, &Header), fields: &[&str]) -> String {
    let mut s = String::new();
    for f in fields {
        s.push_str(&format!(
            "\n  {f}: {} has {}; {} has {}",
            a.0,
            a.1.describe(f),
            b.0,
            b.1.describe(f)
        ));
    }
    s
}

/// The lines of `out` that this sweep (`header`) can keep: none when `out` is missing or empty.
/// A file of any other sweep (or shard, or build) is refused, naming what differs.
pub fn resume(out: &str, header: &Header) -> Result<Vec<Line>, String> {
    let Some(r) = read_results(out)? else {
        return Ok(Vec::new());
    };
    let diff = r.header.differences(header);
    if diff.is_empty() {
        return Ok(r.lines);
    }
    let why = if diff.iter().any(|f| *f == "version" || *f == "model") {
        "\n  results of another build of the model cannot be mixed with this build's"
    } else {
        ""
    };
    Err(format!(
        "{out}: holds the results of a different sweep (its header differs in {}); resuming into it would mix two sweeps{}{why}\n  hint: use another --out, or delete {out} to start this sweep afresh",
        diff.join(", "),
        explain(("the file", &r.header), ("this sweep", header), &diff)
    ))
}

/// The canonical file: the header, then one line per point, in point order.
pub fn canonical(header: &Header, mut lines: Vec<Line>) -> String {
    lines.sort_by_key(|l| l.point);
    lines.dedup_by_key(|l| l.point);
    let mut s = serde_json::to_string(header).expect("headers serialise") + "\n";
    for l in &lines {
        s.push_str(&serde_json::to_string(l).expect("lines serialise"));
        s.push('\n');
    }
    s
}

/// Writes `text` to `path` through a temporary file beside it, so an interruption leaves the
/// old file or the new one, never half of one.
pub fn write_atomic(path: &str, text: &str) -> Result<(), String> {
    let p = std::path::Path::new(path);
    let name = p
        .file_name()
        .map_or("results".into(), |n| n.to_string_lossy());
    let tmp = p.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let r = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, p));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("{path}: cannot write the results: {e}"));
    }
    Ok(())
}

/// A checked sweep, ready to run: nothing has run yet.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Which sweep this is: the header its results file starts with.
    pub header: Header,
    /// The scenario with the base overrides.
    pub base: Scenario,
    /// Every point of the sweep.
    pub all: Vec<Point>,
    /// The points of this shard.
    pub todo: Vec<Point>,
    /// The overrides and scenario of the point estimated to need the most memory.
    pub heaviest: (Vec<String>, Scenario),
}

/// Whether two field paths name the same field, or one holds the other.
fn overlap(a: &str, b: &str) -> bool {
    let within =
        |x: &str, y: &str| x.len() > y.len() && x.starts_with(y) && x[y.len()..].starts_with('.');
    a == b || within(a, b) || within(b, a)
}

/// Checks a sweep of `file` (`text`) with the base overrides `sets`, the `grid`, `seeds` seeds
/// from the scenario's `run.seed`, and `shard`, loading every combination of the grid (on
/// `jobs` threads) so that a bad key or value is refused before any point runs.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    workloads: &crate::scenario::Registry,
    file: &str,
    text: &str,
    sets: &[String],
    grid: &[String],
    seeds: u64,
    shard: Option<&str>,
    jobs: usize,
) -> Result<Plan, String> {
    let axes: Vec<Axis> = grid.iter().map(|g| g.parse()).collect::<Result<_, _>>()?;
    for (i, a) in axes.iter().enumerate() {
        if let Some(b) = axes[..i].iter().find(|b| overlap(&a.key, &b.key)) {
            return Err(format!(
                "--grid {b} and --grid {a}: both set {}; a field can be one axis only\n  hint: give its values in one --grid",
                if a.key.len() >= b.key.len() { &a.key } else { &b.key }
            ));
        }
        if let Some(s) = sets.iter().find(|s| {
            let k = s.split_once('=').map_or(s.as_str(), |kv| kv.0).trim();
            overlap(&a.key, k)
        }) {
            return Err(format!(
                "--grid {a} and --set {s}: both set {}; the grid would override the --set at every point\n  hint: drop the --set, or the --grid",
                a.key
            ));
        }
        if overlap(&a.key, "run.seed") {
            return Err(format!(
                "--grid {a}: the seed is not a grid axis (each point runs with its own seed)\n  hint: use --seeds N to run N seeds from run.seed, or --set run.seed=S to start elsewhere"
            ));
        }
    }
    if seeds == 0 {
        return Err("sweep --seeds 0: no seeds to run; use at least 1".into());
    }
    let shard = shard.map(parse_shard).transpose()?;
    let combos = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
    let total = combos.and_then(|c| c.checked_mul(usize::try_from(seeds).ok()?));
    if !matches!(total, Some(t) if t <= MAX_SWEEP_POINTS) {
        let count = |n: Option<usize>, one: &str| match n {
            Some(1) => format!("1 {one}"),
            Some(n) => format!("{n} {one}s"),
            None => format!("too many {one}s"),
        };
        return Err(format!(
            "sweep: {} × {} make {}, more than a sweep may have ({MAX_SWEEP_POINTS})\n  hint: fewer --grid values or --seeds; split a larger study into several sweeps (each with its own --out)",
            count(combos, "grid combination"),
            count(usize::try_from(seeds).ok(), "seed"),
            count(total, "point"),
        ));
    }
    let base = load_one(workloads, file, text, sets)?;
    let seed0 = base.run.seed;
    let end = seed0.checked_add(seeds).ok_or_else(|| {
        format!("sweep --seeds {seeds}: the seeds from run.seed {seed0} would run past {}\n  hint: fewer --seeds, or --set run.seed to start lower", u64::MAX)
    })?;
    let seed_list: Vec<u64> = (seed0..end).collect();
    // Each value alone first, so that a bad key or value is named by itself; then every
    // combination, since values can clash with each other.
    let load = |extra: &[String]| {
        let mut all = sets.to_vec();
        all.extend_from_slice(extra);
        load_one(workloads, file, text, &all)
    };
    for a in &axes {
        for v in &a.values {
            load(&[format!("{}={v}", a.key)]).map_err(|e| {
                format!(
                    "--grid {a}: `{}={v}` does not load (no point has run): {e}",
                    a.key
                )
            })?;
        }
    }
    let combos = combinations(&axes);
    let sizes = crate::parallel::map(
        combos.len(),
        jobs,
        |i| {
            load(&combos[i])
                .map(|sc| crate::budget::estimate(&sc, false).total())
                .map_err(|e| {
                    format!(
                        "sweep: the grid point `{}` is refused (no point has run): {e}",
                        combos[i].join(" ")
                    )
                })
        },
        |_| {},
    )
    .into_iter()
    .collect::<Result<Vec<u64>, String>>()?;
    // The first of the largest, so the choice does not depend on the threads.
    let big = (0..sizes.len()).fold(0, |m, i| if sizes[i] > sizes[m] { i } else { m });
    let heaviest = (combos[big].clone(), load(&combos[big])?);
    let header = Header::new(&base, &axes, &seed_list, shard);
    let all = points(&axes, &seed_list);
    let todo = all
        .iter()
        .filter(|p| in_shard(p.index, shard))
        .cloned()
        .collect();
    Ok(Plan {
        header,
        base,
        all,
        todo,
        heaviest,
    })
}

/// Runs one point of the scenario `text` (with the sweep's base `sets` first).
pub fn run_point(
    workloads: &crate::scenario::Registry,
    file: &str,
    text: &str,
    base: &[String],
    p: &Point,
) -> Result<Line, String> {
    let mut sets = base.to_vec();
    sets.extend(p.sets.iter().cloned());
    let sc = load_one(workloads, file, text, &sets)?;
    let ran = workload::run(&sc, p.seed, |_, _| {});
    Ok(Line {
        point: p.index,
        sets: p.sets.clone(),
        seed: p.seed,
        digest: format!("{:016x}", ran.out.digest),
        events: ran.out.events,
        metrics: measure(&ran)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    })
}

/// Runs the points of `todo` not yet in `have` (what [`resume`] kept of `out`) on `jobs`
/// threads, appending each to `out` as it finishes, then rewrites `out` canonically. Returns
/// every line of this shard, in point order.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    workloads: &crate::scenario::Registry,
    file: &str,
    text: &str,
    base: &[String],
    header: &Header,
    have: Vec<Line>,
    todo: &[Point],
    out: &str,
    jobs: usize,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<Vec<Line>, String> {
    use std::io::Write as _;
    let done: std::collections::BTreeSet<usize> = have.iter().map(|l| l.point).collect();
    let rest: Vec<&Point> = todo.iter().filter(|p| !done.contains(&p.index)).collect();
    // Rewrite what survives (dropping a torn line) before appending to it.
    write_atomic(out, &canonical(header, have.clone()))?;
    let file_out = Mutex::new(
        std::fs::OpenOptions::new()
            .append(true)
            .open(out)
            .map_err(|e| format!("{out}: cannot append to the results: {e}"))?,
    );
    let total = todo.len();
    let one = |i: usize| {
        let l = run_point(workloads, file, text, base, rest[i])?;
        // Appended the moment it finishes, in one write, so an interruption keeps it or leaves
        // a torn last line without its newline.
        let json = serde_json::to_string(&l).expect("lines serialise") + "\n";
        let mut f = file_out.lock().unwrap();
        f.write_all(json.as_bytes())
            .and_then(|()| f.flush())
            .map_err(|e| format!("{out}: cannot append to the results: {e}"))?;
        Ok(l)
    };
    let new = crate::parallel::map(rest.len(), jobs, one, |d| progress(done.len() + d, total))
        .into_iter()
        .collect::<Result<Vec<Line>, String>>()?;
    let mut lines = have;
    lines.extend(new);
    write_atomic(out, &canonical(header, lines.clone()))?;
    lines.sort_by_key(|l| l.point);
    Ok(lines)
}

/// Joins the results files `inputs` (path and contents) of one sweep. Refuses files of different
/// sweeps (headers that differ in anything but the shard), results that disagree, and shards
/// that leave points of the sweep out (listing them). Returns the whole sweep's header and lines.
pub fn merge(inputs: &[(String, Results)]) -> Result<(Header, Vec<Line>), String> {
    let Some((first, r0)) = inputs.first() else {
        return Err(
            "merge: no files to merge\n  hint: costream merge A.jsonl B.jsonl … --out ALL.jsonl"
                .into(),
        );
    };
    let whole = r0.header.whole();
    let mut all: BTreeMap<usize, (&str, &Line)> = BTreeMap::new();
    for (path, r) in inputs {
        let diff: Vec<&str> = r
            .header
            .whole()
            .differences(&whole)
            .into_iter()
            .filter(|f| *f != "shard")
            .collect();
        if !diff.is_empty() {
            return Err(format!(
                "merge: {first} and {path} are not results of one sweep (their headers differ in {}){}\n  hint: merge only the shards of one sweep: the same scenario, --set, --grid and --seeds, run by the same costream build",
                diff.join(", "),
                explain((first, &r0.header), (path, &r.header), &diff)
            ));
        }
        for l in &r.lines {
            if let Some((prev_path, prev)) = all.get(&l.point) {
                if *prev != l {
                    return Err(format!(
                        "merge: point {} differs between {prev_path} and {path} (digest {} vs {}): the same point of one sweep ran differently\n  hint: run that point again (costream run with its --set and --seed) to see which is right",
                        l.point, prev.digest, l.digest
                    ));
                }
            }
            all.insert(l.point, (path, l));
        }
    }
    let points = whole.all_points();
    let missing: Vec<&Point> = points
        .iter()
        .filter(|p| !all.contains_key(&p.index))
        .collect();
    if !missing.is_empty() {
        return Err(missing_error(inputs, &points, &missing));
    }
    let lines = all.into_values().map(|(_, l)| l.clone()).collect();
    Ok((whole, lines))
}

/// The error of a merge that leaves `missing` out: the points (ranges of them when they follow
/// each other, at most [`MISSING_SHOWN`]), and which shards are short or absent.
fn missing_error(inputs: &[(String, Results)], points: &[Point], missing: &[&Point]) -> String {
    let mut s = format!(
        "merge: the files do not cover the sweep: {} of its {} points {} missing",
        missing.len(),
        points.len(),
        if missing.len() == 1 { "is" } else { "are" }
    );
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for p in missing {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == p.index => *end = p.index,
            _ => ranges.push((p.index, p.index)),
        }
    }
    for &(a, b) in ranges.iter().take(MISSING_SHOWN) {
        if a == b {
            s.push_str(&format!("\n  point {a}: {}", points[a]));
        } else {
            s.push_str(&format!(
                "\n  points {a}-{b}: {} … {}",
                points[a], points[b]
            ));
        }
    }
    if ranges.len() > MISSING_SHOWN {
        let rest: usize = ranges[MISSING_SHOWN..].iter().map(|(a, b)| b - a + 1).sum();
        s.push_str(&format!(
            "\n  … and {rest} more points in {} more ranges",
            ranges.len() - MISSING_SHOWN
        ));
    }
    for (path, r) in inputs {
        let shard = r.header.shard();
        let mine = points.iter().filter(|p| in_shard(p.index, shard)).count();
        if r.lines.len() < mine {
            s.push_str(&format!(
                "\n  {path} ({}) has {} of its {mine} points{}: run its sweep command again to finish it",
                r.header.describe("shard"),
                r.lines.len(),
                if r.torn { ", its last line cut off" } else { "" }
            ));
        }
    }
    // Shards of one split that no file holds.
    let mut splits: Vec<usize> = inputs
        .iter()
        .filter_map(|(_, r)| r.header.shard())
        .map(|s| s.1)
        .collect();
    splits.sort_unstable();
    splits.dedup();
    for n in splits {
        let absent: Vec<String> = (1..=n)
            .filter(|i| {
                !inputs
                    .iter()
                    .any(|(_, r)| r.header.shard() == Some((*i, n)))
            })
            .map(|i| format!("{i}/{n}"))
            .collect();
        if !absent.is_empty() {
            s.push_str(&format!("\n  no file holds shard {}", absent.join(", ")));
        }
    }
    s.push_str("\n  hint: nothing was written; merge again once every shard has finished");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::QUICKSTART;
    use crate::workload::BUILTIN;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn tmp(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("costream-sweep-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name).to_string_lossy().into_owned()
    }

    fn quick_plan(grid: &[&str], seeds: u64, shard: Option<&str>) -> Result<Plan, String> {
        plan(
            &BUILTIN,
            "quickstart",
            QUICKSTART,
            &strings(&["rooms.count=2"]),
            &strings(grid),
            seeds,
            shard,
            2,
        )
    }

    fn line(p: &Point) -> Line {
        Line {
            point: p.index,
            sets: p.sets.clone(),
            seed: p.seed,
            digest: format!("{:016x}", p.index),
            events: 1,
            metrics: BTreeMap::new(),
        }
    }

    #[test]
    fn grid_points_and_shards() {
        let g: Vec<Axis> = vec![
            "server.gomaxprocs=4,16".parse().unwrap(),
            "server.gogc=50,100".parse().unwrap(),
        ];
        let p = points(&g, &[1, 2]);
        assert_eq!(p.len(), 8);
        assert_eq!(p[0].sets, vec!["server.gomaxprocs=4", "server.gogc=50"]);
        assert_eq!((p[1].seed, p[2].sets[1].as_str()), (2, "server.gogc=100"));
        assert_eq!(p[7].index, 7);
        assert_eq!(parse_shard("2/3"), Ok((2, 3)));
        assert!(parse_shard("0/3").is_err() && parse_shard("4/3").is_err());
        assert!("gomaxprocs"
            .parse::<Axis>()
            .unwrap_err()
            .contains("KEY=V1,V2"));
        assert!("server.gogc=50,,100".parse::<Axis>().is_err());
        assert!("server.gogc=50,50"
            .parse::<Axis>()
            .unwrap_err()
            .contains("twice"));
        assert!(in_shard(4, Some((2, 3))) && !in_shard(4, Some((1, 3))) && in_shard(4, None));
    }

    #[test]
    fn default_names_follow_the_scenario() {
        assert_eq!(default_out("quickstart", None), "quickstart.sweep.jsonl");
        assert_eq!(
            default_out("scenarios/gc-burst.toml", Some((2, 3))),
            "gc-burst.sweep-2of3.jsonl"
        );
        assert_eq!(default_out("/", None), "costream.sweep.jsonl");
    }

    #[test]
    fn the_header_names_the_sweep() {
        let a = quick_plan(&["server.gogc=50,100"], 2, None).unwrap();
        assert_eq!(a.header.points, 4);
        assert_eq!((a.all.len(), a.todo.len()), (4, 4));
        assert_eq!(a.header.shard, "none");
        // Whitespace and comments in the scenario do not change it.
        let spaced = format!("# a comment\n{}\n\n", QUICKSTART.replace(" = ", "   =   "));
        let b = plan(
            &BUILTIN,
            "q.toml",
            &spaced,
            &strings(&["rooms.count=2"]),
            &strings(&["server.gogc=50,100"]),
            2,
            None,
            1,
        )
        .unwrap();
        assert_eq!(a.header, b.header);
        // Each field changes it, and is named.
        let diff = |grid: &[&str], seeds, shard, sets: &[&str]| {
            let p = plan(
                &BUILTIN,
                "quickstart",
                QUICKSTART,
                &strings(sets),
                &strings(grid),
                seeds,
                shard,
                1,
            )
            .unwrap();
            p.header.differences(&a.header)
        };
        assert_eq!(
            diff(&["server.gogc=50,100"], 2, None, &["rooms.count=3"]),
            ["scenario"]
        );
        assert_eq!(
            diff(&["server.gogc=50,200"], 2, None, &["rooms.count=2"]),
            ["grid"]
        );
        assert_eq!(
            diff(&["server.gogc=50,100"], 3, None, &["rooms.count=2"]),
            ["seeds"]
        );
        assert_eq!(
            diff(&["server.gogc=50,100"], 2, Some("1/2"), &["rooms.count=2"]),
            ["shard"]
        );
        let mut other = a.header.clone();
        other.version = "9.9.9".into();
        other.model = "0".into();
        assert_eq!(other.differences(&a.header), ["version", "model"]);
        let sh = quick_plan(&["server.gogc=50,100"], 2, Some("2/3")).unwrap();
        assert_eq!(sh.todo.iter().map(|p| p.index).collect::<Vec<_>>(), [1]);
        assert_eq!(sh.header.whole(), a.header);
    }

    #[test]
    fn bad_grids_are_refused_before_any_run() {
        let err = |grid: &[&str], seeds: u64| quick_plan(grid, seeds, None).unwrap_err();
        assert!(err(&["server.gomaxprocz=1,2"], 1).contains("gomaxprocz"));
        let e = err(&["server.gomaxprocs=1,abc"], 1);
        assert!(e.contains("`server.gomaxprocs=abc` does not load"), "{e}");
        let e = err(&["server.gogc=50", "server.gogc=100"], 1);
        assert!(e.contains("one axis only"), "{e}");
        let e = err(&["server=1", "server.gogc=100"], 1);
        assert!(e.contains("one axis only"), "{e}");
        let e = err(&["rooms.count=1,2"], 1);
        assert!(e.contains("--set rooms.count=2"), "{e}");
        assert!(err(&["run.seed=1,2"], 1).contains("--seeds"));
        // Values that load alone but not together.
        let e = err(
            &[
                "receiver.min_delay=\"20ms\",\"500ms\"",
                "receiver.max_delay=\"100ms\",\"1s\"",
            ],
            1,
        );
        assert!(
            e.contains(
                "the grid point `receiver.min_delay=\"500ms\" receiver.max_delay=\"100ms\"`"
            ) && e.contains("receiver.min_delay"),
            "{e}"
        );
        assert!(err(&[], 0).contains("--seeds 0"));
        let e = err(&["server.gogc=1,2,3,4,5,6,7,8,9,10"], 20_000);
        assert!(
            e.contains("make 200000 points") && e.contains("(100000)"),
            "{e}"
        );
        let e = quick_plan(&[], 1, Some("3/2")).unwrap_err();
        assert!(e.contains("--shard"), "{e}");
    }

    #[test]
    fn files_without_a_header_or_of_another_sweep_are_refused() {
        let a = quick_plan(&["server.gogc=50,100"], 2, None).unwrap();
        let path = tmp("h.jsonl");
        let _ = std::fs::remove_file(&path);
        assert_eq!(resume(&path, &a.header).unwrap(), vec![]);
        std::fs::write(&path, "").unwrap();
        assert_eq!(resume(&path, &a.header).unwrap(), vec![]);
        // The old format: result lines only.
        std::fs::write(
            &path,
            serde_json::to_string(&line(&a.all[0])).unwrap() + "\n",
        )
        .unwrap();
        let e = resume(&path, &a.header).unwrap_err();
        assert!(
            e.contains("has no sweep header") && e.contains("--out"),
            "{e}"
        );
        std::fs::write(&path, "hello\n").unwrap();
        assert!(resume(&path, &a.header)
            .unwrap_err()
            .contains("has no sweep header"));
        // Another sweep.
        let b = quick_plan(&["server.gogc=50,200"], 3, None).unwrap();
        std::fs::write(&path, canonical(&b.header, vec![])).unwrap();
        let e = resume(&path, &a.header).unwrap_err();
        assert!(e.contains("differs in grid, seeds"), "{e}");
        assert!(
            e.contains("server.gogc=50,200") && e.contains("delete"),
            "{e}"
        );
        // The same sweep, with a torn last line: kept what is whole.
        let mut text = canonical(&a.header, vec![line(&a.all[0]), line(&a.all[2])]);
        text.push_str("{\"point\":1,\"se");
        std::fs::write(&path, &text).unwrap();
        let kept = resume(&path, &a.header).unwrap();
        assert_eq!(kept.iter().map(|l| l.point).collect::<Vec<_>>(), [0, 2]);
        // A bad line that is not the last, or ends with its newline, is not a torn write.
        std::fs::write(&path, format!("{text}\n")).unwrap();
        assert!(resume(&path, &a.header).unwrap_err().contains("line 4"));
        // A line that is not a point of the sweep.
        let mut wrong = line(&a.all[1]);
        wrong.seed = 7;
        std::fs::write(&path, canonical(&a.header, vec![wrong])).unwrap();
        let e = resume(&path, &a.header).unwrap_err();
        assert!(e.contains("is not a point of the sweep"), "{e}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn merge_checks_the_sweep_and_lists_what_is_missing() {
        let shard = |i| {
            let p = quick_plan(
                &["server.gogc=50,100", "server.gomaxprocs=1,2,3"],
                4,
                Some(i),
            )
            .unwrap();
            let lines = p.todo.iter().map(line).collect::<Vec<_>>();
            Results {
                header: p.header,
                lines,
                torn: false,
            }
        };
        let (s1, s2, s3) = (shard("1/3"), shard("2/3"), shard("3/3"));
        let named = |v: &[(&str, &Results)]| {
            v.iter()
                .map(|(n, r)| (n.to_string(), (*r).clone()))
                .collect::<Vec<_>>()
        };
        let (h, lines) = merge(&named(&[("a", &s1), ("b", &s2), ("c", &s3), ("c2", &s3)])).unwrap();
        assert_eq!(h.shard, "none");
        assert_eq!(lines.len(), 24);
        assert!(lines.iter().enumerate().all(|(i, l)| l.point == i));
        // Missing: shard 2 absent, shard 3 short of its last point.
        let mut short = s3.clone();
        short.lines.pop();
        let e = merge(&named(&[("a", &s1), ("c", &short)])).unwrap_err();
        assert!(e.contains("9 of its 24 points are missing"), "{e}");
        assert!(
            e.contains("point 1: server.gogc=50 server.gomaxprocs=1 seed 2"),
            "{e}"
        );
        assert!(e.contains("points 22-23:"), "{e}");
        assert!(e.contains("c (--shard 3/3) has 7 of its 8 points"), "{e}");
        assert!(e.contains("no file holds shard 2/3"), "{e}");
        // Many gaps: the list is capped.
        let p = quick_plan(&["server.gomaxprocs=1,2,3,4,5,6,7,8"], 8, None).unwrap();
        let every_other = Results {
            lines: p.all.iter().step_by(2).map(line).collect(),
            header: p.header,
            torn: false,
        };
        let e = merge(&named(&[("a", &every_other)])).unwrap_err();
        assert!(e.contains("32 of its 64 points are missing"), "{e}");
        assert!(e.contains("… and 12 more points in 12 more ranges"), "{e}");
        assert_eq!(e.lines().count(), 1 + MISSING_SHOWN + 3, "{e}");
        // Another sweep.
        let mut other = s2.clone();
        other.header.scenario = "0000000000000000".into();
        let e = merge(&named(&[("a", &s1), ("b", &other)])).unwrap_err();
        assert!(
            e.contains("a and b are not results of one sweep") && e.contains("scenario"),
            "{e}"
        );
        // Disagreeing results.
        let mut odd = s1.clone();
        odd.lines[0].digest = "x".into();
        let e = merge(&named(&[("a", &s1), ("b", &odd)])).unwrap_err();
        assert!(e.contains("point 0 differs between a and b"), "{e}");
    }
}
