//! The costream command line as a library: [`main_with`] runs it on a registry of workloads,
//! so a user's crate that adds its own workload gets `run`, `explore`, `replay`, `shrink` and
//! `sweep` for it with a three-line `main` (examples/custom-sfu does).

#![deny(missing_docs)]

mod cmd;

use clap::{Parser, Subcommand};
use cmd::*;
pub use costream_model::scenario::Registry;
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
        /// Write each real arm's (median) output to its program's recording of the toolchain's
        /// release (go1.27.out or go1.19.out).
        #[arg(long, requires = "real")]
        record: bool,
        /// Fail (exit status 1) only when an exact key disagrees or a program cannot run;
        /// timing keys that disagree are printed, not failed on. For a fresh real arm on a
        /// machine whose timing is not the recording's (CI); the recorded comparison is strict.
        #[arg(long, requires = "real")]
        exact_only: bool,
    },
    /// Measure the runtime's costs on this machine (Go microbenchmarks: goroutine create,
    /// switch, channel, select, timer, UDP write and read) and write them as a costs file that
    /// a scenario includes with `[server] costs_file = "FILE"` (docs/model.md, "Costs").
    Calibrate {
        /// Write the costs file here (default: print it).
        #[arg(long)]
        out: Option<String>,
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

/// Runs the command line (`std::env::args`) with `workloads` as the registry a scenario's
/// `workload = "..."` names one of (the first is the default); returns the exit status.
pub fn main_with(workloads: &Registry) -> ExitCode {
    quiet_on_closed_stdout();
    init_tracing();
    let cli = Cli::parse();
    let max_memory = cli.max_memory.as_deref();
    let result = match cli.cmd {
        None => run(
            workloads,
            "quickstart",
            None,
            &[],
            None,
            false,
            None,
            max_memory,
        ),
        Some(Cmd::Run {
            file,
            seed,
            sets,
            trace,
            json,
            html,
        }) => run(
            workloads,
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
        }) => match explore_cmd(
            workloads, &file, seeds, first, &until, jobs, out, &sets, max_memory,
        ) {
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
            workloads,
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
            workloads,
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
        Some(Cmd::Calibrate { out }) => calibrate_cmd(out.as_deref()),
        Some(Cmd::Conformance {
            only,
            dir,
            real,
            repeat,
            record,
            exact_only,
        }) => match conformance_cmd(
            only.as_deref(),
            dir.as_deref(),
            real.then_some(repeat),
            record,
            exact_only,
        ) {
            Ok(0) => Ok(()),
            Ok(_) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Some(Cmd::Shrink {
            file,
            out,
            max_runs,
        }) => shrink_cmd(workloads, &file, out, max_runs, max_memory),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
