//! `costream run`: a scenario file (or the embedded quickstart), every `[matrix]` variant, with its
//! report.

use super::*;

/// Runs every variant of a scenario file (one, or each point of its `[matrix]`), printing each
/// report as it finishes and a comparison table after several.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    workloads: &Registry,
    file: &str,
    seed: Option<u64>,
    sets: &[String],
    trace: Option<&str>,
    json: bool,
    html: Option<&str>,
    max_memory: Option<&str>,
) -> Result<(), String> {
    let text = read(file)?;
    let variants = scenario::load_variants_with(workloads, file, &text, sets)
        .map_err(|e: ScenarioError| e.to_string())?;
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
        // A trace needs every event kept; otherwise the run keeps only its digest.
        let opts = SimOptions::default().event_log(match trace {
            Some(_) => EventLog::All,
            None => EventLog::Off,
        });
        let ran = workload::run_with(sc, seed, &opts, |now, events| {
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
        });
        if let Some(path) = trace {
            write_trace(&variant_path(path, i, n), &ran)?;
        }
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
pub(crate) fn progress_bar(
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
