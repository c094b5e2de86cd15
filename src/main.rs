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
    },
    /// Print the embedded quickstart scenario (a starting point for your own).
    Example,
}

fn read(file: &str) -> Result<String, String> {
    if file == "quickstart" {
        return Ok(scenario::QUICKSTART.to_string());
    }
    std::fs::read_to_string(file).map_err(|e| {
        format!("{file}: cannot read the scenario file: {e}\n  hint: check the path, or run `costream run quickstart` for the built-in one")
    })
}

/// Runs every variant of a scenario file (one, or each point of its `[matrix]`), printing each
/// report as it finishes and a comparison table after several.
fn run(file: &str, seed: Option<u64>, sets: &[String]) -> Result<(), String> {
    let text = read(file)?;
    let variants =
        scenario::load_variants(file, &text, sets).map_err(|e: ScenarioError| e.to_string())?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut done = Vec::new();
    let n = variants.len();
    for (i, v) in variants.iter().enumerate() {
        let sc = &v.scenario;
        let seed = seed.unwrap_or(sc.run.seed);
        let total = sc.run.duration;
        let ran = workload::run(sc, seed, |now, events| {
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
        if bar {
            eprint!("\r{:90}\r", "");
        }
        if i > 0 {
            println!("\n{}", "─".repeat(72));
        }
        print!("{}", report(sc, seed, &v.label, &ran));
        done.push((v.label.clone(), ran));
    }
    if n > 1 {
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

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.cmd {
        None => run("quickstart", None, &[]),
        Some(Cmd::Run { file, seed, sets }) => run(&file, seed, &sets),
        Some(Cmd::Example) => {
            print!("{}", scenario::QUICKSTART);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
