//! `costream sweep` (a parameter grid into a results file that resumes) and `costream merge`
//! (shards into one).

use super::*;

#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_cmd(
    workloads: &Registry,
    file: &str,
    grid: &[String],
    seeds: u64,
    jobs: Option<usize>,
    out: Option<&str>,
    shard: Option<&str>,
    sets: &[String],
    max_memory: Option<&str>,
) -> Result<(), String> {
    use costream_model::sweep::{default_out, plan, resume, sweep};
    let text = read(file)?;
    let jobs = jobs_or_cores(jobs);
    // Everything is checked before any point runs: the grid, the results file, the memory.
    let plan = plan(workloads, file, &text, sets, grid, seeds, shard, jobs)?;
    let out = out.map_or_else(|| default_out(file, plan.header.shard()), str::to_string);
    check_output("--out", &out)?;
    let have = resume(&out, &plan.header)?;
    let mut heavy_sets = sets.to_vec();
    heavy_sets.extend(plan.heaviest.0.iter().cloned());
    let jobs = admit_jobs(file, &heavy_sets, &plan.heaviest.1, false, jobs, max_memory)?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = sweep(
        workloads,
        file,
        &text,
        sets,
        &plan.header,
        have,
        &plan.todo,
        &out,
        jobs,
        |done, total| {
            if bar {
                let w = 30;
                let k = done * w / total.max(1);
                eprint!(
                    "\rsweep [{}{}] {done}/{total} points",
                    "=".repeat(k),
                    " ".repeat(w - k)
                );
            }
        },
    )?;
    if bar {
        eprint!("\r{:60}\r", "");
    }
    println!(
        "{}: {} of {} points{} in {out}",
        plan.base.name,
        lines.len(),
        plan.todo.len(),
        shard.map_or(String::new(), |s| format!(
            " of shard {s} (the sweep has {})",
            plan.all.len()
        ))
    );
    let mut cols = plan.base.workload().key_metrics();
    cols.extend(["gc.stw_p99_us", "goroutines_max"]);
    let mut head = format!("  {:<44} {:>6}", "point", "seed");
    for c in &cols {
        head += &format!(" {c:>w$}", w = c.len().max(10));
    }
    println!("{head}  digest");
    for l in &lines {
        let mut row = format!("  {:<44} {:>6}", l.sets.join(" "), l.seed);
        for c in &cols {
            let v = l.metrics.get(*c).map_or("-".into(), |v| format!("{v:.3}"));
            row += &format!(" {v:>w$}", w = c.len().max(10));
        }
        println!("{row}  {}", l.digest);
    }
    Ok(())
}

pub(crate) fn merge_cmd(files: &[String], out: &str) -> Result<(), String> {
    use costream_model::sweep::{canonical, merge, read_results, write_atomic};
    let mut inputs = Vec::new();
    for f in files {
        match read_results(f)? {
            Some(r) => inputs.push((f.clone(), r)),
            None if std::path::Path::new(f).exists() => {
                return Err(format!(
                    "{f}: is empty: it has no sweep header, so it is no sweep's results\n  hint: merge the files `costream sweep` wrote"
                ))
            }
            None => return Err(format!("{f}: no such results file")),
        }
    }
    check_output("--out", out)?;
    let (header, lines) = merge(&inputs)?;
    let n = lines.len();
    write_atomic(out, &canonical(&header, lines))?;
    println!(
        "merged {} files into {out}: all {n} points of the sweep",
        files.len()
    );
    Ok(())
}
