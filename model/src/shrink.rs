//! `costream shrink FILE`: makes a replay's scenario as small as it can be while its run still
//! violates the replay's condition (checked first on the original, replayed exactly). Greedy, like a delta-debugging pass: it tries one edit at a
//! time (drop a stall, a network fault, a frame-rate change, or a topology change; halve the
//! duration or a count the workload names, such as the rooms or the listeners; fewer hosts; turn off video, degradation, allocation
//! or loss), keeps an edit when the same seed still violates the condition, and repeats until
//! no edit helps or the run budget is spent. None of the peers (madsim, turmoil, shuttle,
//! loom, FoundationDB's simulator, TigerBeetle's VOPR) shrinks a failing run.

use crate::explore::{load_one, measure, Replay};
use crate::workload;
use costream_sim::SimDuration;
use toml::Value;

/// One kept edit and the value the condition's metric took after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The edit, as shown to people: `drop network.faults[0]`, `rooms.count 8 → 4`.
    pub edit: String,
    /// The condition's metric in the run after the edit, in the metric's unit.
    pub value: f64,
}

fn get<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |v, k| v.as_table()?.get(k))
}

fn get_mut<'a>(root: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.')
        .try_fold(root, |v, k| v.as_table_mut()?.get_mut(k))
}

/// The table holding `path`'s last key, and that key.
fn parent<'a, 'p>(root: &'a mut Value, path: &'p str) -> (Option<&'a mut toml::Table>, &'p str) {
    match path.rsplit_once('.') {
        None => (root.as_table_mut(), path),
        Some((p, key)) => (get_mut(root, p).and_then(|v| v.as_table_mut()), key),
    }
}

fn remove(root: &mut Value, path: &str) -> bool {
    let (t, key) = parent(root, path);
    t.is_some_and(|t| t.remove(key).is_some())
}

fn set(root: &mut Value, path: &str, v: Value) -> bool {
    let (t, key) = parent(root, path);
    match t {
        Some(t) if t.get(key) != Some(&v) => {
            t.insert(key.to_string(), v);
            true
        }
        _ => false,
    }
}

/// Every edit that could make `tree` smaller, as (description, edited tree); `halve` are the
/// counts its workload lets shrink halve ([`crate::scenario::Workload::shrink_halving`]).
fn candidates(tree: &Value, halve: &[(&str, i64)]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut try_edit = |desc: String, f: &dyn Fn(&mut Value) -> bool| {
        let mut t = tree.clone();
        if f(&mut t) {
            out.push((desc, t));
        }
    };
    for path in [
        "server.stalls.pauses",
        "network.faults",
        "video.fps_schedule",
        "server.topology.changes",
    ] {
        let n = get(tree, path)
            .and_then(|v| v.as_array())
            .map_or(0, |a| a.len());
        for i in 0..n {
            try_edit(format!("drop {path}[{i}]"), &|t| {
                get_mut(t, path)
                    .and_then(|v| v.as_array_mut())
                    .is_some_and(|a| {
                        a.remove(i);
                        true
                    })
            });
        }
    }
    for &(path, floor) in halve {
        if let Some(n) = get(tree, path).and_then(|v| v.as_integer()) {
            if n > floor {
                let half = (n / 2).max(floor);
                try_edit(format!("{path} {n} → {half}"), &|t| {
                    set(t, path, Value::Integer(half))
                });
            }
        }
    }
    {
        if let Some(n) = get(tree, "rooms.hosts_per_room").and_then(|v| v.as_integer()) {
            if n > 2 {
                try_edit(format!("rooms.hosts_per_room {n} → {}", n - 1), &|t| {
                    set(t, "rooms.hosts_per_room", Value::Integer(n - 1))
                });
            }
        }
        if let Some(d) = get(tree, "run.duration")
            .and_then(|v| v.as_str())
            .and_then(|s| SimDuration::parse(s).ok())
        {
            if d >= SimDuration::from_millis(200) {
                let half = SimDuration::from_nanos(d.as_nanos() / 2);
                let text = format!("{}ms", half.as_nanos() / 1_000_000);
                try_edit(format!("run.duration {d} → {text}"), &|t| {
                    set(t, "run.duration", Value::String(text.clone()))
                });
            }
        }
    }
    for (path, v) in [
        ("video.enabled", Value::Boolean(false)),
        ("degrade.enabled", Value::Boolean(false)),
    ] {
        try_edit(format!("{path} = {v}"), &|t| {
            get_mut(t, path).is_some() && set(t, path, v.clone())
        });
    }
    for path in [
        "video.simulcast_kbps",
        "forwarding.alloc_bytes",
        "network.uplink.loss",
        "network.downlink.loss",
        "server.stalls.random_per_s",
        "server.stalls.cpu_quota",
    ] {
        try_edit(format!("remove {path}"), &|t| remove(t, path));
    }
    out
}

/// Shrinks `r` (read from `file`), running at most `max_runs` candidate runs. Returns the
/// shrunk replay and the edits kept, in order. `progress(runs, kept)` is called after each run.
///
/// The original is replayed first: a shrink of a run that does not reproduce, or whose condition
/// does not hold, would keep edits against a violation that is not there.
pub fn shrink(
    workloads: &crate::scenario::Registry,
    file: &str,
    r: &Replay,
    max_runs: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<(Replay, Vec<Step>), String> {
    if max_runs == 0 {
        return Err(
            "shrink --max-runs 0: no candidate runs allowed, so nothing can be shrunk; use at least 1"
                .into(),
        );
    }
    let Some(cond) = r.condition.clone() else {
        return Err(format!(
            "{file}: this replay has no condition to keep violating, so there is nothing to shrink against\n  hint: shrink files written by `costream explore --until ...`"
        ));
    };
    let original = r.replay(workloads, file, crate::world::EventLog::Off).map_err(|e| {
        format!("{e}\n  (shrink replays the original first: a run that does not reproduce cannot be shrunk soundly)")
    })?;
    let mut value = match measure(&original).get(cond.metric.as_str()).copied() {
        Some(v) if cond.holds(v) => v,
        Some(v) => {
            return Err(format!(
                "{file}: the condition `{cond}` does not hold on the original run: {} = {v:.3}, threshold {} {}; there is no violation to keep while shrinking\n  hint: replay it with `costream replay {file}`; explore again for a seed that violates it",
                cond.metric, cond.op, cond.value
            ))
        }
        None => {
            return Err(format!(
                "{file}: field `condition`: metric `{}` is not measured by this scenario's run, so the condition cannot hold",
                cond.metric
            ))
        }
    };
    let mut tree =
        crate::scenario::tree(&r.source, &r.scenario, &r.sets).map_err(|e| e.to_string())?;
    let mut steps: Vec<Step> = Vec::new();
    let mut runs = 0usize;
    'outer: loop {
        for (desc, t) in candidates(&tree, original.workload.shrink_halving()) {
            if runs >= max_runs {
                break 'outer;
            }
            let Ok(text) = toml::to_string(&t) else {
                continue;
            };
            let Ok(sc) = load_one(workloads, &r.source, &text, &[]) else {
                continue; // the edit made an invalid scenario
            };
            runs += 1;
            let ran = workload::run(&sc, r.seed, |_, _| {});
            let v = measure(&ran).get(cond.metric.as_str()).copied();
            if let Some(v) = v.filter(|&v| cond.holds(v)) {
                tree = t;
                value = v;
                steps.push(Step {
                    edit: desc,
                    value: v,
                });
                progress(runs, steps.len());
                continue 'outer; // the other candidates were made from the tree before this edit
            }
            progress(runs, steps.len());
        }
        break; // no edit keeps the violation
    }
    let text = toml::to_string(&tree).map_err(|e| e.to_string())?;
    let text = format!(
        "# shrunk by `costream shrink` from {} (seed {}): {} edits kept\n{text}",
        r.source,
        r.seed,
        steps.len()
    );
    let out = Replay::record(
        workloads,
        &r.source,
        &text,
        &[],
        r.seed,
        Some((cond, value)),
    )?;
    Ok((out, steps))
}
