//! The costream command line: run scenario files and print their reports.

use clap::{Parser, Subcommand};
use costream_model::report::room_report;
use costream_model::scenario::{self, Scenario, ScenarioError};
use costream_model::workload::room;
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

fn load(file: &str, sets: &[String]) -> Result<Scenario, String> {
    let text = if file == "quickstart" {
        scenario::QUICKSTART.to_string()
    } else {
        std::fs::read_to_string(file).map_err(|e| {
            format!("{file}: cannot read the scenario file: {e}\n  hint: check the path, or run `costream run quickstart` for the built-in one")
        })?
    };
    scenario::load(file, &text, sets).map_err(|e: ScenarioError| e.to_string())
}

fn run(file: &str, seed: Option<u64>, sets: &[String]) -> Result<String, String> {
    let sc = load(file, sets)?;
    let seed = seed.unwrap_or(sc.run.seed);
    let total = sc.run.duration;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (sim, out, m) = room::run_with_progress(&sc, seed, |now, events| {
        if bar {
            progress_bar(
                now.since_start().as_secs_f64() / total.as_secs_f64(),
                now,
                total,
                events,
            );
        }
    });
    if bar {
        eprint!("\r{:78}\r", "");
    }
    let report = room_report(&sc, seed, &sim, &out, &m.borrow());
    Ok(report)
}

/// A one-line progress bar on stderr (only when it is a terminal): simulated time done.
fn progress_bar(
    frac: f64,
    now: costream_sim::SimTime,
    total: costream_sim::SimDuration,
    events: u64,
) {
    let frac = frac.clamp(0.0, 1.0);
    let width = 30;
    let done = (frac * width as f64) as usize;
    eprint!(
        "\r[{}{}] {:5.1}%  {} of {} simulated  {:.1} M events",
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
        Some(Cmd::Example) => Ok(scenario::QUICKSTART.to_string()),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
