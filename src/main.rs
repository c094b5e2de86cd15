//! The costream command line: run scenario files and print their reports.

use clap::{Parser, Subcommand};
use costream_model::report::{comparison, report};
use costream_model::scenario::{self, ScenarioError};
use costream_model::workload;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "costream",
    version,
    about = "Deterministic simulation of co-streaming media servers on a Go-style runtime.\n\nWith no command, runs the embedded quickstart scenario."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Refuse a run estimated to need more memory than this (default: what the machine has
    /// available), e.g. --max-memory 64GiB to run a large scenario anyway. Parallel runs
    /// (explore, sweep) are limited to as many as fit.
    #[arg(long, global = true, value_name = "SIZE")]
    max_memory: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario file and print its report.
    Run {
        /// Scenario file (TOML); `quickstart` runs the embedded one.
        file: String,
        /// Seed for this run (overrides run.seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Override a field: --set server.gomaxprocs=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Also write a Chrome trace-event file (opens in ui.perfetto.dev): a track per P, a
        /// slice per goroutine run, GC cycles, wake-up arrows. Keeps every event in memory.
        #[arg(long, value_name = "FILE.json")]
        trace: Option<String>,
        /// Print one JSON object per run (for machines) instead of the report.
        #[arg(long)]
        json: bool,
        /// Also write an HTML report with plots.
        #[arg(long, value_name = "FILE.html")]
        html: Option<String>,
    },
    /// Print the embedded quickstart scenario (a starting point for your own).
    Example,
    /// Search seeds for a run that violates a condition; save the worst as a replay file.
    Explore {
        /// Scenario file (TOML); `quickstart` for the embedded one.
        file: String,
        /// How many seeds to try.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 1)]
        first: u64,
        /// The violation to look for, e.g. 'audio.p99_ms > 150'.
        #[arg(long)]
        until: String,
        /// Threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Where to save the worst case (default: costream-replay-seed<N>.toml); checked to be
        /// writable before any seed runs.
        #[arg(long)]
        out: Option<String>,
        /// Exit with status 1 when any seed violates the condition (a CI gate).
        #[arg(long)]
        check: bool,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Run a parameter grid (every combination × seeds) in parallel; results are appended to
    /// a JSON-lines file as they finish, so an interrupted sweep resumes. The file's first line
    /// names the sweep; a sweep only resumes into a file of the same sweep.
    Sweep {
        /// Scenario file (TOML); `quickstart` for the embedded one. Its name gives the default
        /// --out.
        file: String,
        /// An axis: --grid 'server.gomaxprocs=4,16' (repeatable; the first varies slowest).
        /// Every value is checked to load before any point runs.
        #[arg(long = "grid", value_name = "KEY=V1,V2")]
        grid: Vec<String>,
        /// Seeds per point, from the scenario's run.seed.
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// Threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Results file (JSON lines; default: <stem>.sweep.jsonl, or <stem>.sweep-IofN.jsonl
        /// for --shard I/N, in the current folder, from the scenario file's name). A file of a
        /// different sweep is refused.
        #[arg(long)]
        out: Option<String>,
        /// Run only shard i of n (every n-th point): --shard 2/3.
        #[arg(long)]
        shard: Option<String>,
        /// Override a field for every point: --set rooms.count=6 (repeatable; not a --grid key).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Run the conformance suite: each program on the model, compared with what real Go
    /// printed: its recorded output, or with --real a fresh run (docs/conformance.md).
    Conformance {
        /// Only this program (for example start_order).
        #[arg(long)]
        only: Option<String>,
        /// The folder of Go programs (default: the repository's conformance/go).
        #[arg(long)]
        dir: Option<String>,
        /// Run the real arm on the `go` toolchain ($GO or go on the PATH) instead of reading
        /// the recorded outputs. Some programs time what they do: use a quiet machine.
        #[arg(long)]
        real: bool,
        /// Runs of each real-arm program; numbers are read as their median.
        #[arg(long, default_value_t = 5, requires = "real")]
        repeat: usize,
        /// Write each real arm's (median) output to its program's go.out.
        #[arg(long, requires = "real")]
        record: bool,
    },
    /// Join the shards of one sweep into one file in point order. Refuses files of different
    /// sweeps, and exits with status 2, listing the missing points, unless every point is there.
    Merge {
        /// Results files written by `costream sweep --shard` (a shard may be given twice).
        files: Vec<String>,
        /// The merged file, header and every point in point order (written only when the files
        /// cover the whole sweep).
        #[arg(long)]
        out: String,
    },
    /// Make a replay's scenario as small as possible while it still violates its condition.
    Shrink {
        file: String,
        /// Where to save the shrunk replay (default: costream-shrunk-seed<N>.toml beside FILE).
        #[arg(long)]
        out: Option<String>,
        /// Most candidate runs to try (at least 1).
        #[arg(long, default_value_t = 200)]
        max_runs: usize,
    },
    /// Re-run a replay file exactly, check every digest checkpoint, and show its last events.
    Replay {
        file: String,
        /// How many of the last events to print.
        #[arg(long, default_value_t = 12)]
        events: usize,
        /// Also write an HTML report with plots.
        #[arg(long, value_name = "FILE.html")]
        html: Option<String>,
        /// Also write a Perfetto trace (keeps every event in memory).
        #[arg(long, value_name = "FILE.json")]
        trace: Option<String>,
        /// Do not check: record the file's scenario and seed again with this build into a new
        /// replay file (after a deliberate model change, or an edit to the file).
        #[arg(long, value_name = "NEW.toml", conflicts_with_all = ["html", "trace"])]
        record: Option<String>,
    },
}

#[allow(clippy::too_many_arguments)]
fn explore_cmd(
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
    let cond: Condition = until.parse()?;
    if seeds == 0 {
        return Err("explore --seeds 0: no seeds to try; use at least 1".into());
    }
    let end = first.checked_add(seeds).ok_or_else(|| {
        format!("explore --first {first} --seeds {seeds}: the seeds would run past {}\n  hint: use a smaller --first or fewer --seeds", u64::MAX)
    })?;
    let text = read(file)?;
    let sc = load_one(file, &text, sets)?;
    cond.check_measured(&sc)?;
    // The default name depends on the worst seed; any one shows whether the folder is writable.
    let default_path = |seed: u64| format!("costream-replay-seed{seed}.toml");
    check_writable(
        out.as_deref().unwrap_or(&default_path(first)),
        "replay file",
    )?;
    let jobs = admit_jobs(file, sets, &sc, false, jobs_or_cores(jobs), max_memory)?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let found = explore(&sc, first..end, &cond, jobs, |done, total| {
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
        "saved the worst case (seed {}) to {path}\n  replay: costream replay {path}\n  shrink: costream shrink {path}",
        worst.seed
    );
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
fn sweep_cmd(
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
    let plan = plan(file, &text, sets, grid, seeds, shard, jobs)?;
    let out = out.map_or_else(|| default_out(file, plan.header.shard()), str::to_string);
    check_output("--out", &out)?;
    let have = resume(&out, &plan.header)?;
    let mut heavy_sets = sets.to_vec();
    heavy_sets.extend(plan.heaviest.0.iter().cloned());
    let jobs = admit_jobs(file, &heavy_sets, &plan.heaviest.1, false, jobs, max_memory)?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = sweep(
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
    let cols = [
        "audio.p99_ms",
        "forward.p99_ms",
        "gc.stw_p99_us",
        "goroutines_max",
    ];
    println!(
        "  {:<44} {:>6} {:>13} {:>15} {:>14} {:>15}  digest",
        "point", "seed", cols[0], cols[1], cols[2], cols[3]
    );
    for l in &lines {
        let m = |k: &str| l.metrics.get(k).map_or("-".into(), |v| format!("{v:.3}"));
        println!(
            "  {:<44} {:>6} {:>13} {:>15} {:>14} {:>15}  {}",
            l.sets.join(" "),
            l.seed,
            m(cols[0]),
            m(cols[1]),
            m(cols[2]),
            m(cols[3]),
            l.digest
        );
    }
    Ok(())
}

/// Prints the comparison table; returns the number of disagreements.
fn conformance_cmd(
    only: Option<&str>,
    dir: Option<&str>,
    real: Option<usize>,
    record: bool,
) -> Result<usize, String> {
    use costream_model::conformance::{render, run_suite, Arm};
    let arm = match real {
        Some(repeat) => Arm::Real { repeat },
        None => Arm::Recorded,
    };
    let run = run_suite(only, dir.map(std::path::Path::new), arm, record, |m| {
        eprintln!("· {m}")
    })?;
    print!("{}", render(&run.rows, &run.go_label));
    for e in &run.errors {
        eprintln!("error: {e}");
    }
    Ok(run.disagreements() + run.errors.len())
}

fn merge_cmd(files: &[String], out: &str) -> Result<(), String> {
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

fn shrink_cmd(
    file: &str,
    out: Option<String>,
    max_runs: usize,
    max_memory: Option<&str>,
) -> Result<(), String> {
    let r = read_replay(file)?;
    let path = out.unwrap_or_else(|| shrunk_path(file, r.seed));
    costream_model::explore::check_writable(&path, "shrunk replay file")?;
    let sc = costream_model::explore::load_one(&r.source, &r.scenario, &r.sets)?;
    admit_jobs(file, &[], &sc, false, 1, max_memory)?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (small, steps) = costream_model::shrink::shrink(file, &r, max_runs, |runs, kept| {
        if bar {
            eprint!("\rshrinking: {runs} runs, {kept} edits kept");
        }
    })?;
    if bar {
        eprint!("\r{:50}\r", "");
    }
    let c = small
        .condition
        .as_ref()
        .expect("shrink keeps the condition");
    println!(
        "shrunk seed {} of {}: {} edits kept; `{c}` still holds ({} = {:.3}); {} → {} events",
        r.seed,
        r.source,
        steps.len(),
        c.metric,
        small.value.unwrap_or(f64::NAN),
        r.events,
        small.events
    );
    for s in &steps {
        println!("  {}  ({} = {:.3})", s.edit, c.metric, s.value);
    }
    std::fs::write(&path, small.to_toml())
        .map_err(|e| format!("{path}: cannot write the replay file: {e}"))?;
    println!("saved {path}\n  replay: costream replay {path}");
    Ok(())
}

/// `costream-shrunk-seed<N>.toml` beside `file`: a name the documented
/// `costream replay costream-replay-seed*.toml` does not also match.
fn shrunk_path(file: &str, seed: u64) -> String {
    let p = std::path::Path::new(file);
    let mut out = p.with_file_name(format!("costream-shrunk-seed{seed}.toml"));
    if out == p {
        // Shrinking a shrunk file again keeps the first.
        out = p.with_file_name(format!("costream-shrunk-seed{seed}-2.toml"));
    }
    out.to_string_lossy().into_owned()
}

fn replay_cmd(
    file: &str,
    events: usize,
    html: Option<&str>,
    trace: Option<&str>,
    record: Option<&str>,
    max_memory: Option<&str>,
) -> Result<(), String> {
    use costream_model::explore::{load_one, measure};
    if let Some(out) = record {
        return record_cmd(file, out);
    }
    let r = read_replay(file)?;
    for (flag, path) in [("--trace", trace), ("--html", html)] {
        if let Some(p) = path {
            check_output(flag, p)?;
        }
    }
    let sc = load_one(&r.source, &r.scenario, &r.sets)?;
    admit_jobs(file, &[], &sc, trace.is_some(), 1, max_memory)?;
    let replay = || r.replay(file, events);
    let ran = if trace.is_some() {
        costream_model::testing::with_event_log(replay)?
    } else {
        replay()?
    };
    if let Some(path) = trace {
        write_trace(path, &ran)?;
    }
    if let Some(path) = html {
        let sc = load_one(&r.source, &r.scenario, &r.sets)?;
        write_html(path, &sc, r.seed, &format!("replay of {file}"), &ran)?;
    }
    println!(
        "replayed seed {} of {} identically: {} events, digest {}, {} checkpoints every {} ms agree",
        r.seed,
        r.source,
        r.events,
        r.digest,
        r.checkpoints.len(),
        r.checkpoint_every_ms
    );
    if let Some(c) = &r.condition {
        let v = measure(&ran).get(c.metric.as_str()).copied();
        println!(
            "  {} = {} (recorded {}; condition `{c}` {})",
            c.metric,
            v.map_or("-".into(), |v| format!("{v:.3}")),
            r.value.map_or("-".into(), |v| format!("{v:.3}")),
            if v.is_some_and(|v| c.holds(v)) {
                "holds"
            } else {
                "does not hold"
            }
        );
    }
    let last = ran.sim.last_events(events);
    println!("  last {} events:", last.len());
    for e in last {
        println!("    {e}");
    }
    Ok(())
}

/// `costream replay FILE --record OUT`: the file's scenario and seed recorded again with this
/// build (the file may have been edited; its version must still be this one).
fn record_cmd(file: &str, out: &str) -> Result<(), String> {
    use costream_model::explore::{check_writable, Replay};
    let text = read_replay_text(file)?;
    let old = Replay::parse_edited(file, &text)?;
    check_writable(out, "replay file")?;
    let (new, value) = old.record_again()?;
    std::fs::write(out, new.to_toml())
        .map_err(|e| format!("{out}: cannot write the replay file: {e}"))?;
    println!(
        "recorded seed {} of {} again with this build into {out}: {} events, digest {} (the file had {} events, digest {})",
        new.seed, new.source, new.events, new.digest, old.events, old.digest
    );
    if let Some(c) = &new.condition {
        println!(
            "  {} = {} (condition `{c}` {})",
            c.metric,
            value.map_or("-".into(), |v| format!("{v:.3}")),
            if value.is_some_and(|v| c.holds(v)) {
                "holds"
            } else {
                "does not hold"
            }
        );
    }
    println!("  replay: costream replay {out}");
    Ok(())
}

fn read(file: &str) -> Result<String, String> {
    if file == "quickstart" {
        return Ok(scenario::QUICKSTART.to_string());
    }
    std::fs::read_to_string(file).map_err(|e| {
        format!("{file}: cannot read the scenario file: {e}\n  hint: check the path, or run `costream run quickstart` for the built-in one")
    })
}

/// `path` for variant `i` of `n`: `out.json` becomes `out-2.json` when there are several.
fn variant_path(path: &str, i: usize, n: usize) -> String {
    if n > 1 {
        let (stem, ext) = path.rsplit_once('.').unwrap_or((path, "out"));
        format!("{stem}-{}.{ext}", i + 1)
    } else {
        path.to_string()
    }
}

/// `--jobs`, or every core.
fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(costream_model::parallel::cores)
}

fn read_replay(file: &str) -> Result<costream_model::explore::Replay, String> {
    costream_model::explore::Replay::parse(file, &read_replay_text(file)?)
}

fn read_replay_text(file: &str) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| {
        format!("{file}: cannot read the replay file: {e}\n  hint: replay files are written by `costream explore` (costream-replay-seed<N>.toml) and `costream shrink` (costream-shrunk-seed<N>.toml)")
    })
}

/// Writes the Perfetto trace of a run that kept its events, as it is made.
fn write_trace(path: &str, ran: &workload::Ran) -> Result<(), String> {
    use std::io::Write as _;
    let err = |e: std::io::Error| format!("{path}: cannot write the trace: {e}");
    let file = std::fs::File::create(path).map_err(err)?;
    let mut w = std::io::BufWriter::new(file);
    if !costream_model::trace_export::write_chrome_trace(&ran.sim, &mut w).map_err(err)? {
        w.write_all(b"{\"traceEvents\":[]}\n").map_err(err)?;
    }
    w.flush().map_err(err)?;
    eprintln!("trace written to {path} (open it in https://ui.perfetto.dev)");
    Ok(())
}

/// Fails at once, before any work, when `path` cannot be written: its folder is missing, it
/// is a folder, or it cannot be created. `what` names the flag ("--trace").
fn check_output(what: &str, path: &str) -> Result<(), String> {
    let p = std::path::Path::new(path);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{what} {path}: the folder {} does not exist\n  hint: create it first, or write the file elsewhere",
            dir.display()
        ));
    }
    if p.is_dir() {
        return Err(format!(
            "{what} {path}: is a folder\n  hint: give a file name, e.g. {}",
            p.join("out").display()
        ));
    }
    let existed = p.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .map_err(|e| {
            format!("{what} {path}: cannot be written: {e}\n  hint: write the file elsewhere")
        })?;
    if !existed {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// `--max-memory`, or the memory this machine has available.
fn memory_limit(max_memory: Option<&str>) -> Result<costream_model::budget::Limit, String> {
    let flag = match max_memory {
        Some(s) => Some(scenario::parse_bytes(s).map_err(|e| {
            format!("--max-memory {s}: {e}\n  hint: write a size such as 64GiB or 512MiB")
        })?),
        None => None,
    };
    Ok(costream_model::budget::Limit::new(flag))
}

/// Refuses runs of `sc` that cannot fit in memory; returns how many of `jobs` may run at once,
/// saying so when that is fewer.
fn admit_jobs(
    file: &str,
    sets: &[String],
    sc: &scenario::Scenario,
    traced: bool,
    jobs: usize,
    max_memory: Option<&str>,
) -> Result<usize, String> {
    let origin = if sets.is_empty() {
        file.to_string()
    } else {
        format!("{file} (with --set)")
    };
    let limit = memory_limit(max_memory)?;
    let fit = costream_model::budget::admit(&origin, sc, traced, jobs, limit)?;
    if fit < jobs {
        eprintln!(
            "note: {origin}: each run needs about {}, so {fit} of {jobs} threads run at once",
            costream_model::budget::human(costream_model::budget::estimate(sc, traced).total())
        );
    }
    Ok(fit)
}

/// A trace larger than this is announced before the run starts.
const LARGE_TRACE: u64 = 1 << 30;

fn write_html(
    path: &str,
    sc: &scenario::Scenario,
    seed: u64,
    label: &str,
    ran: &workload::Ran,
) -> Result<(), String> {
    std::fs::write(
        path,
        costream_model::html::html_report(sc, seed, label, ran),
    )
    .map_err(|e| format!("{path}: cannot write the HTML report: {e}"))?;
    eprintln!("HTML report written to {path}");
    Ok(())
}

/// Runs every variant of a scenario file (one, or each point of its `[matrix]`), printing each
/// report as it finishes and a comparison table after several.
fn run(
    file: &str,
    seed: Option<u64>,
    sets: &[String],
    trace: Option<&str>,
    json: bool,
    html: Option<&str>,
    max_memory: Option<&str>,
) -> Result<(), String> {
    let text = read(file)?;
    let variants =
        scenario::load_variants(file, &text, sets).map_err(|e: ScenarioError| e.to_string())?;
    let n = variants.len();
    for (flag, path) in [("--trace", trace), ("--html", html)] {
        if let Some(p) = path {
            for i in 0..n {
                check_output(flag, &variant_path(p, i, n))?;
            }
        }
    }
    let limit = memory_limit(max_memory)?;
    for v in &variants {
        let with = if sets.is_empty() { "" } else { " (with --set)" };
        let origin = if v.label.is_empty() {
            format!("{file}{with}")
        } else {
            format!("{file}{with} [{}]", v.label)
        };
        costream_model::budget::admit(&origin, &v.scenario, trace.is_some(), 1, limit)?;
        let est = costream_model::budget::estimate(&v.scenario, trace.is_some());
        if trace.is_some() && est.trace_file_bytes() > LARGE_TRACE {
            eprintln!(
                "warning: --trace: {origin} will make about {} events, a trace of about {} (and {} of event log in memory); it is written as it is made\n  hint: shorten run.duration for a trace you can open",
                est.events,
                costream_model::budget::human(est.trace_file_bytes()),
                costream_model::budget::human(est.events * 32)
            );
        }
    }
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut done = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let sc = &v.scenario;
        let seed = seed.unwrap_or(sc.run.seed);
        let total = sc.run.duration;
        let go = || {
            workload::run(sc, seed, |now, events| {
                if bar {
                    progress_bar(
                        now.since_start().as_secs_f64() / total.as_secs_f64(),
                        now,
                        total,
                        events,
                        i,
                        n,
                    );
                }
            })
        };
        let ran = match trace {
            None => go(),
            Some(path) => {
                let ran = costream_model::testing::with_event_log(go);
                write_trace(&variant_path(path, i, n), &ran)?;
                ran
            }
        };
        if bar {
            eprint!("\r{:90}\r", "");
        }
        if let Some(h) = html {
            write_html(&variant_path(h, i, n), sc, seed, &v.label, &ran)?;
        }
        if json {
            let metrics: std::collections::BTreeMap<&str, f64> =
                costream_model::explore::measure(&ran);
            let obj = serde_json::json!({
                "scenario": sc.name,
                "variant": v.label,
                "seed": seed,
                "simulated_ns": ran.out.now.as_nanos(),
                "end": ran.out.end.to_string(),
                "events": ran.out.events,
                "digest": format!("{:016x}", ran.out.digest),
                "metrics": metrics,
            });
            println!("{obj}");
            done.push((v.label.clone(), ran));
            continue;
        }
        if i > 0 {
            println!("\n{}", "─".repeat(72));
        }
        print!("{}", report(sc, seed, &v.label, &ran));
        done.push((v.label.clone(), ran));
    }
    if n > 1 && !json {
        println!("\n{}\ncomparison (one seed, every variant)", "═".repeat(72));
        let rows: Vec<_> = done
            .iter()
            .zip(&variants)
            .map(|((l, r), v)| (l.clone(), &v.scenario, r))
            .collect();
        print!("{}", comparison(&rows));
    }
    Ok(())
}

/// A one-line progress bar on stderr (only when it is a terminal): simulated time done.
fn progress_bar(
    frac: f64,
    now: costream_sim::SimTime,
    total: costream_sim::SimDuration,
    events: u64,
    i: usize,
    n: usize,
) {
    let frac = frac.clamp(0.0, 1.0);
    let width = 30;
    let done = (frac * width as f64) as usize;
    let which = if n > 1 {
        format!("run {}/{n} ", i + 1)
    } else {
        String::new()
    };
    eprint!(
        "\r{which}[{}{}] {:5.1}%  {} of {} simulated  {:.1} M events",
        "=".repeat(done),
        " ".repeat(width - done),
        100.0 * frac,
        now,
        total,
        events as f64 / 1e6
    );
}

fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_timer(VirtualTime)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Stamps log lines with the virtual time of the event being handled, not the wall clock.
struct VirtualTime;

impl tracing_subscriber::fmt::time::FormatTime for VirtualTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "vt={:>14}ns", costream_sim::time::trace_now().as_nanos())
    }
}

/// A reader that stops early (`costream run … | head`) closes the pipe; printing then fails.
/// That is not an error of ours: exit quietly instead of panicking.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    init_tracing();
    let cli = Cli::parse();
    let max_memory = cli.max_memory.as_deref();
    let result = match cli.cmd {
        None => run("quickstart", None, &[], None, false, None, max_memory),
        Some(Cmd::Run {
            file,
            seed,
            sets,
            trace,
            json,
            html,
        }) => run(
            &file,
            seed,
            &sets,
            trace.as_deref(),
            json,
            html.as_deref(),
            max_memory,
        ),
        Some(Cmd::Example) => {
            print!("{}", scenario::QUICKSTART);
            Ok(())
        }
        Some(Cmd::Explore {
            file,
            seeds,
            first,
            until,
            jobs,
            out,
            check,
            sets,
        }) => match explore_cmd(&file, seeds, first, &until, jobs, out, &sets, max_memory) {
            Ok(true) if check => return ExitCode::from(1),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
        Some(Cmd::Replay {
            file,
            events,
            html,
            trace,
            record,
        }) => replay_cmd(
            &file,
            events,
            html.as_deref(),
            trace.as_deref(),
            record.as_deref(),
            max_memory,
        ),
        Some(Cmd::Sweep {
            file,
            grid,
            seeds,
            jobs,
            out,
            shard,
            sets,
        }) => sweep_cmd(
            &file,
            &grid,
            seeds,
            jobs,
            out.as_deref(),
            shard.as_deref(),
            &sets,
            max_memory,
        ),
        Some(Cmd::Merge { files, out }) => merge_cmd(&files, &out),
        Some(Cmd::Conformance {
            only,
            dir,
            real,
            repeat,
            record,
        }) => match conformance_cmd(
            only.as_deref(),
            dir.as_deref(),
            real.then_some(repeat),
            record,
        ) {
            Ok(0) => Ok(()),
            Ok(_) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Some(Cmd::Shrink {
            file,
            out,
            max_runs,
        }) => shrink_cmd(&file, out, max_runs, max_memory),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
