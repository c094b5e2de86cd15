//! `costream explore`: many seeds against a condition, in parallel; the worst case saved as a
//! replay file.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(crate) fn explore_cmd(
    workloads: &Registry,
    file: &str,
    seeds: u64,
    first: u64,
    until: &str,
    jobs: Option<usize>,
    out: Option<String>,
    sets: &[String],
    max_memory: Option<&str>,
) -> Result<bool, String> {
    use costream_model::explore::{check_writable, explore, load_one, Condition, Replay};
    let cond = Condition::parse(until, workloads)?;
    if seeds == 0 {
        return Err("explore --seeds 0: no seeds to try; use at least 1".into());
    }
    let end = first.checked_add(seeds).ok_or_else(|| {
        format!("explore --first {first} --seeds {seeds}: the seeds would run past {}\n  hint: use a smaller --first or fewer --seeds", u64::MAX)
    })?;
    let text = read(file)?;
    let sc = load_one(workloads, file, &text, sets)?;
    cond.check_measured(&sc, workloads)?;
    // The default name depends on the worst seed; any one shows whether the folder is writable.
    let default_path = |seed: u64| format!("costream-replay-seed{seed}.toml");
    check_writable(
        out.as_deref().unwrap_or(&default_path(first)),
        "replay file",
    )?;
    let jobs = admit_jobs(file, sets, &sc, false, jobs_or_cores(jobs), max_memory)?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let found = explore(workloads, &sc, first..end, &cond, jobs, |done, total| {
        if bar {
            eprint!("\rexplored {done}/{total} seeds");
        }
    })?;
    if bar {
        eprint!("\r{:40}\r", "");
    }
    let mut bad: Vec<_> = found.iter().filter(|f| f.violated).collect();
    bad.sort_by(|a, b| {
        cond.badness(b.value)
            .total_cmp(&cond.badness(a.value))
            .then(a.seed.cmp(&b.seed))
    });
    println!(
        "{}: {} of {} seeds (from {first}) violate `{cond}`",
        sc.name,
        bad.len(),
        found.len()
    );
    let vals: Vec<f64> = found.iter().map(|f| f.value).collect();
    let (lo, hi) = vals
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    println!("  {} over all seeds: min {lo:.3}, max {hi:.3}", cond.metric);
    for f in bad.iter().take(20) {
        println!("  seed {:>6}  {} = {:.3}", f.seed, cond.metric, f.value);
    }
    let Some(worst) = bad.first() else {
        return Ok(false);
    };
    let r = Replay::record(
        workloads,
        file,
        &text,
        sets,
        worst.seed,
        Some((cond.clone(), worst.value)),
    )?;
    let path = out.unwrap_or_else(|| default_path(worst.seed));
    std::fs::write(&path, r.to_toml())
        .map_err(|e| format!("{path}: cannot write the replay file: {e}"))?;
    println!(
        "saved the worst case (seed {}) to {path}\n  replay: {bin} replay {path}\n  shrink: {bin} shrink {path}",
        worst.seed,
        bin = bin()
    );
    Ok(true)
}
