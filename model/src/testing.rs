//! Seeded model tests under `cargo test`: one seed or many, in parallel, with a reproduction
//! command for every failure, and a determinism mode that names the first event where two runs
//! of the same seed differ.
//!
//! Environment variables (after madsim's `MADSIM_TEST_SEED` / `MADSIM_TEST_NUM`):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `COSTREAM_TEST_SEED` | first seed | 1 |
//! | `COSTREAM_TEST_NUM` | how many seeds, from the first | the test's own count |
//! | `COSTREAM_TEST_JOBS` | threads running seeds | available cores |
//! | `COSTREAM_TEST_CHECK_DETERMINISM` | `1`: run each seed twice and compare every event | off |
//!
//! Each seed's simulation runs on one thread from start to end (a run has no threads inside);
//! seeds are independent, so which thread runs which seed cannot change any result.

pub use crate::world::Checkpoint;
use crate::world::{EventLog, Sim, SimOptions};
use costream_sim::SimTime;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Which seeds to run and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedPlan {
    /// The first seed (`COSTREAM_TEST_SEED`, default 1).
    pub first: u64,
    /// How many seeds, from `first` on (`COSTREAM_TEST_NUM`); at least 1.
    pub num: u64,
    /// Threads running seeds at once (`COSTREAM_TEST_JOBS`, default the available cores).
    pub jobs: usize,
    /// Run each seed twice and compare every event (`COSTREAM_TEST_CHECK_DETERMINISM=1`).
    pub check_determinism: bool,
}

impl SeedPlan {
    /// The plan from the environment; `default_num` seeds unless `COSTREAM_TEST_NUM` says.
    pub fn from_env(default_num: u64) -> Result<SeedPlan, String> {
        let num = |name: &str, default: u64| -> Result<u64, String> {
            match std::env::var(name) {
                Err(_) => Ok(default),
                Ok(v) => v.trim().parse::<u64>().map_err(|_| {
                    format!("{name}={v:?} is not a whole number; set it like {name}=42")
                }),
            }
        };
        let cores = crate::parallel::cores() as u64;
        let plan = SeedPlan {
            first: num("COSTREAM_TEST_SEED", 1)?,
            num: num("COSTREAM_TEST_NUM", default_num)?.max(1),
            jobs: num("COSTREAM_TEST_JOBS", cores)?.max(1) as usize,
            check_determinism: matches!(
                std::env::var("COSTREAM_TEST_CHECK_DETERMINISM").as_deref(),
                Ok("1") | Ok("true")
            ),
        };
        Ok(plan)
    }
}

/// One failed seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The seed that failed.
    pub seed: u64,
    /// The test's panic message, or the [`Divergence`] found in a determinism check.
    pub message: String,
}

/// Runs `test` once per seed of `plan` on `plan.jobs` threads. `test(seed, options)` builds
/// a simulation for its seed with `options` (what the harness needs it to record: its events,
/// in a determinism check), runs it, asserts what it must, and returns the simulation.
/// Returns the failures, in seed order.
pub fn run_seeds<F>(plan: &SeedPlan, test: F) -> Vec<Failure>
where
    F: Fn(u64, &SimOptions) -> Sim + Sync,
{
    let run = |i: usize| {
        let seed = plan.first + i as u64;
        run_one(plan, &test, seed).map(|message| Failure { seed, message })
    };
    crate::parallel::map(plan.num as usize, plan.jobs, run, |_| {})
        .into_iter()
        .flatten()
        .collect()
}

fn run_one<F: Fn(u64, &SimOptions) -> Sim>(plan: &SeedPlan, test: &F, seed: u64) -> Option<String> {
    if plan.check_determinism {
        return match catch_unwind(AssertUnwindSafe(|| first_divergence(test, seed))) {
            Ok(None) => None,
            Ok(Some(d)) => Some(d.to_string()),
            Err(p) => Some(panic_text(&p)),
        };
    }
    match catch_unwind(AssertUnwindSafe(|| test(seed, &SimOptions::default()))) {
        Ok(_) => None,
        Err(p) => Some(panic_text(&p)),
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

/// Where two runs of one seed first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The seed whose two runs differ.
    pub seed: u64,
    /// Index of the first differing event record.
    pub index: usize,
    /// The first run's event at `index`, described for people.
    pub first: String,
    /// The second run's event at `index`, described for people.
    pub second: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {} is not deterministic: the runs first differ at event #{}\n  first run:  {}\n  second run: {}",
            self.seed, self.index, self.first, self.second
        )
    }
}

/// Runs `test(seed)` twice with every event kept, and compares them record by record.
pub fn first_divergence<F: Fn(u64, &SimOptions) -> Sim>(test: &F, seed: u64) -> Option<Divergence> {
    first_divergence_in(test, seed, SimTime::ZERO, SimTime::MAX)
}

/// [`first_divergence`] over the events of `[from, until)` only, for runs too long to keep
/// whole; the runs must agree before `from` (their digests there are equal) for the index to
/// mean the same event in both.
pub fn first_divergence_in<F: Fn(u64, &SimOptions) -> Sim>(
    test: &F,
    seed: u64,
    from: SimTime,
    until: SimTime,
) -> Option<Divergence> {
    let keep = SimOptions::default().event_log(EventLog::Window(from, until));
    let run = || test(seed, &keep);
    let (a, b) = (run(), run());
    // A test that builds its simulation without the options it was given keeps no events,
    // and two empty logs would "agree": a verdict the check did not make.
    assert!(
        a.keeps_events() && b.keeps_events(),
        "seed {seed}: the test built its simulation without the SimOptions it was given, so its events were not kept; build it with SimBuilder::new(seed, limits).options(*opts) or workload::run_with(sc, seed, opts, ..)"
    );
    let index = a.with_events(|la| {
        b.with_events(|lb| {
            let n = la.len().min(lb.len());
            (0..n).find(|&i| la[i] != lb[i]).or_else(|| {
                // One run has more events: it differs where the shorter one ended.
                (la.len() != lb.len()).then_some(n)
            })
        })
    })?;
    Some(Divergence {
        seed,
        index: a.first_kept_index() as usize + index,
        first: a.describe_event(index),
        second: b.describe_event(index),
    })
}

/// The harness for `#[test]` functions: runs the seeds the environment asks for (default
/// `default_num` from seed 1) and panics with every failed seed and the command that reproduces
/// the first one.
pub fn check_seeds<F>(default_num: u64, test: F)
where
    F: Fn(u64, &SimOptions) -> Sim + Sync,
{
    let plan = SeedPlan::from_env(default_num).unwrap_or_else(|e| panic!("{e}"));
    let failures = run_seeds(&plan, test);
    if failures.is_empty() {
        return;
    }
    panic!("{}", failure_report(&plan, &failures));
}

/// The failure text: each failed seed, then how to re-run the first alone.
pub fn failure_report(plan: &SeedPlan, failures: &[Failure]) -> String {
    use std::fmt::Write as _;
    let mut s = format!(
        "{} of {} seeds failed (seeds {}..={})\n",
        failures.len(),
        plan.num,
        plan.first,
        plan.first + plan.num - 1
    );
    for f in failures.iter().take(10) {
        let _ = writeln!(s, "seed {}: {}", f.seed, f.message);
    }
    if failures.len() > 10 {
        let _ = writeln!(s, "… {} more", failures.len() - 10);
    }
    let _ = write!(
        s,
        "reproduce: {}",
        reproduce_command(failures[0].seed, plan.check_determinism)
    );
    s
}

/// The one command that re-runs `seed` alone in this test.
pub fn reproduce_command(seed: u64, determinism: bool) -> String {
    let test = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("TEST_NAME")
        .to_string();
    let pkg = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "costream".into());
    // Integration tests run as target/<profile>/deps/<target>-<hash>; unit tests as <crate>-<hash>.
    let target = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .and_then(|s| s.rsplit_once('-').map(|(t, _)| t.to_string()));
    let which = match target {
        Some(t) if t.replace('-', "_") != pkg.replace('-', "_") => format!("--test {t}"),
        _ => "--lib".into(),
    };
    let det = if determinism {
        " COSTREAM_TEST_CHECK_DETERMINISM=1"
    } else {
        ""
    };
    format!(
        "COSTREAM_TEST_SEED={seed} COSTREAM_TEST_NUM=1{det} cargo test -p {pkg} {which} -- --exact {test}"
    )
}
