//! Parameter sweeps: `costream sweep SCENARIO --grid 'server.gomaxprocs=4,16' --grid
//! 'server.gogc=50,100'` runs every combination (times every seed) in parallel and appends each
//! finished point to a results file as one JSON line, so an interrupted sweep keeps what it
//! finished and resumes where it stopped. `--shard i/n` runs every n-th point; `merge` joins
//! shards. A finished results file is written in point order, so one thread, all cores and
//! merged shards give byte-identical files.

use crate::explore::{load_one, measure};
use crate::workload;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One `--grid KEY=V1,V2,...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

impl std::str::FromStr for Axis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            format!("--grid {s:?}: expected KEY=V1,V2 (for example 'server.gomaxprocs=4,16')")
        })?;
        let values: Vec<String> = v.split(',').map(|x| x.trim().to_string()).collect();
        if k.trim().is_empty() || values.iter().any(|x| x.is_empty()) {
            return Err(format!(
                "--grid {s:?}: a key and non-empty values are needed"
            ));
        }
        Ok(Axis {
            key: k.trim().to_string(),
            values,
        })
    }
}

/// One point: its index in the full sweep, its overrides and its seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub index: usize,
    pub sets: Vec<String>,
    pub seed: u64,
}

/// Every point of `grid` × `seeds`, the first axis varying slowest.
pub fn points(grid: &[Axis], seeds: &[u64]) -> Vec<Point> {
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
    let mut out = Vec::new();
    for c in combos {
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

/// One results line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub point: usize,
    pub sets: Vec<String>,
    pub seed: u64,
    pub digest: String,
    pub events: u64,
    pub metrics: BTreeMap<String, f64>,
}

/// Runs one point of the scenario `text` (with the sweep's base `sets` first).
pub fn run_point(file: &str, text: &str, base: &[String], p: &Point) -> Result<Line, String> {
    let mut sets = base.to_vec();
    sets.extend(p.sets.iter().cloned());
    let sc = load_one(file, text, &sets)?;
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

/// Reads a results file (missing: empty). A torn last line (an interrupted write) is ignored.
pub fn read_lines(path: &str) -> Result<Vec<Line>, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let n = text.lines().count();
    for (i, l) in text.lines().enumerate() {
        match serde_json::from_str::<Line>(l) {
            Ok(x) => out.push(x),
            Err(_) if i + 1 == n => {} // cut off by an interruption
            Err(e) => return Err(format!("{path}: line {}: not a sweep result: {e}", i + 1)),
        }
    }
    Ok(out)
}

/// The canonical file: one line per point, in point order.
pub fn canonical(mut lines: Vec<Line>) -> String {
    lines.sort_by_key(|l| l.point);
    lines.dedup_by_key(|l| l.point);
    lines
        .iter()
        .map(|l| serde_json::to_string(l).expect("lines serialise") + "\n")
        .collect()
}

/// Runs the points not yet in `out` on `jobs` threads, appending each as it finishes, then
/// rewrites `out` canonically. Returns every line of this shard.
pub fn sweep(
    file: &str,
    text: &str,
    base: &[String],
    todo: &[Point],
    out: &str,
    jobs: usize,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<Vec<Line>, String> {
    use std::io::Write as _;
    let have = read_lines(out)?;
    let done: std::collections::BTreeSet<usize> = have.iter().map(|l| l.point).collect();
    let rest: Vec<&Point> = todo.iter().filter(|p| !done.contains(&p.index)).collect();
    // Rewrite what survives (dropping a torn line) before appending to it.
    std::fs::write(out, canonical(have.clone()))
        .map_err(|e| format!("{out}: cannot write the results: {e}"))?;
    let file_out = Mutex::new(
        std::fs::OpenOptions::new()
            .append(true)
            .open(out)
            .map_err(|e| format!("{out}: cannot append to the results: {e}"))?,
    );
    let total = todo.len();
    let one = |i: usize| {
        let l = run_point(file, text, base, rest[i])?;
        // Appended the moment it finishes, so an interruption keeps it.
        let json = serde_json::to_string(&l).expect("lines serialise");
        let mut f = file_out.lock().unwrap();
        let _ = writeln!(f, "{json}");
        let _ = f.flush();
        Ok(l)
    };
    let new = crate::parallel::map(rest.len(), jobs, one, |d| progress(done.len() + d, total))
        .into_iter()
        .collect::<Result<Vec<Line>, String>>()?;
    let mut lines = have;
    lines.extend(new);
    std::fs::write(out, canonical(lines.clone()))
        .map_err(|e| format!("{out}: cannot write the results: {e}"))?;
    lines.sort_by_key(|l| l.point);
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
