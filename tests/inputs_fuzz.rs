//! Fuzzing of what users type: mutated scenario files, `--set` overrides and replay files go
//! through parse, validation, the memory estimate and a short bounded run. For every input:
//!
//! * nothing panics (a panic fails the case, and proptest shrinks it);
//! * nothing allocates without bound: a counting allocator caps each case's peak;
//! * every error names its file (the scenario, the `--set` argument, or the replay file).
//!
//! Runs that pass validation are cut to `CASE_EVENTS` events and must fit the same memory
//! budget the CLI admits (`budget::estimate`), so a case is milliseconds. proptest stores each
//! failing case in `tests/inputs_fuzz.proptest-regressions`, committed, and re-runs it forever.
//! `PROPTEST_CASES` sets the budget; `.ci/run` runs 2,000.
//!
//! This file holds one test on purpose: the allocator counts the whole process.

use costream_model::budget;
use costream_model::explore::{load_one, Replay};
use costream_model::scenario::{self, Scenario};
use costream_model::workload;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Relaxed) + (new - l.size());
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Most bytes one case may hold at once, above what was live when it started.
const CASE_BYTES: usize = 768 << 20;
/// Events a run that passed validation may take.
const CASE_EVENTS: u64 = 50_000;
/// A run the memory estimate puts above this is skipped, as the CLI would refuse it.
const RUN_BYTES: u64 = 256 << 20;

const SCENARIOS: [(&str, &str); 14] = [
    ("breaker.toml", include_str!("../scenarios/breaker.toml")),
    ("gc-alloc.toml", include_str!("../scenarios/gc-alloc.toml")),
    ("gc-burst.toml", include_str!("../scenarios/gc-burst.toml")),
    (
        "gomaxprocs.toml",
        include_str!("../scenarios/gomaxprocs.toml"),
    ),
    ("gosched.toml", include_str!("../scenarios/gosched.toml")),
    ("handoff.toml", include_str!("../scenarios/handoff.toml")),
    ("leak.toml", include_str!("../scenarios/leak.toml")),
    (
        "lifecycle.toml",
        include_str!("../scenarios/lifecycle.toml"),
    ),
    ("livekit.toml", include_str!("../scenarios/livekit.toml")),
    ("planted.toml", include_str!("../scenarios/planted.toml")),
    ("pool.toml", include_str!("../scenarios/pool.toml")),
    (
        "quickstart.toml",
        include_str!("../scenarios/quickstart.toml"),
    ),
    (
        "rooms-1000.toml",
        include_str!("../scenarios/rooms-1000.toml"),
    ),
    ("split.toml", include_str!("../scenarios/split.toml")),
];

/// Values people (and fuzzers) put where they do not belong.
const TOKENS: [&str; 34] = [
    "0",
    "1",
    "-1",
    "3",
    "1.5",
    "-0.5",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "4294967296",
    "18446744073709551615",
    "-9223372036854775808",
    "true",
    "[]",
    "{}",
    "[1, 2]",
    "\"\"",
    "\"x\"",
    "\"off\"",
    "\"1ns\"",
    "\"0s\"",
    "\"20ms\"",
    "\"-5ms\"",
    "\"99999h\"",
    "\"400d\"",
    "\"1.5s\"",
    "\"64TiB\"",
    "\"16MiB\"",
    "\"pool\"",
    "\"gemodel\"",
    "{ model = \"gemodel\", p = 150, r = 1, one_minus_h = 1, one_minus_k = 1 }",
    "[{ kind = \"partition\", from = \"5s\", until = \"2s\" }]",
];

/// Values a careful user might write: valid for many fields, so runs go on to the model and
/// reach the cross-field rules validation must enforce.
const PLAUSIBLE: [&str; 22] = [
    "0",
    "1",
    "2",
    "7",
    "64",
    "1000",
    "0.0",
    "0.5",
    "1.0",
    "99.5",
    "true",
    "false",
    "\"0s\"",
    "\"1ns\"",
    "\"1ms\"",
    "\"10ms\"",
    "\"3s\"",
    "\"1h\"",
    "\"1KiB\"",
    "\"pool\"",
    "\"split\"",
    "\"livekit\"",
];

/// Keys `--set` is tried on (every section, and keys that are not there).
const KEYS: [&str; 44] = [
    "run.duration",
    "run.seed",
    "run.max_events",
    "server.gomaxprocs",
    "server.gogc",
    "server.gomemlimit",
    "server.gc.mark_bytes_per_us",
    "server.gc.stack_bytes",
    "server.stalls.cpu_quota",
    "server.stalls.cpu_period",
    "server.stalls.random_per_s",
    "server.stalls.pauses",
    "server.costs.go_create",
    "server.topology.sockets",
    "server.tuner.policy",
    "rooms.count",
    "rooms.hosts_per_room",
    "rooms.listeners",
    "audio.fps",
    "audio.talk_share",
    "video.enabled",
    "video.fps",
    "video.gop",
    "video.mtu",
    "video.simulcast_kbps",
    "receiver.min_delay",
    "receiver.max_delay",
    "receiver.window",
    "network.uplink.loss",
    "network.uplink.delay",
    "network.downlink.rate_kbps",
    "network.faults",
    "forwarding.architecture",
    "forwarding.channel_capacity",
    "forwarding.batch",
    "forwarding.video_layer",
    "forwarding.cpu_jitter",
    "burst.requests",
    "breaker.error_rate",
    "gosched.loops",
    "signalling.sessions",
    "workload",
    "matrix",
    "no.such.key",
];

/// One edit to a text.
#[derive(Clone, Debug)]
enum Edit {
    /// Replace the value on line `line` (mod the line count) with a token.
    Value {
        line: usize,
        token: usize,
    },
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    /// Insert a byte at a position (mod the length).
    Insert(usize, u8),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<usize>(), 0..TOKENS.len()).prop_map(|(line, token)| Edit::Value { line, token }),
        1 => any::<usize>().prop_map(Edit::DeleteLine),
        1 => any::<usize>().prop_map(Edit::DuplicateLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..4)
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match *e {
            Edit::Value { line, token } => {
                let l = &mut lines[line % n];
                if let Some(eq) = l.find('=') {
                    l.truncate(eq + 1);
                    l.push(' ');
                    l.push_str(TOKENS[token]);
                }
            }
            Edit::DeleteLine(i) => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::SwapLines(a, b) => lines.swap(a % n, b % n),
            Edit::Insert(i, b) => {
                let mut all = lines.join("\n").into_bytes();
                all.insert(i % (all.len() + 1), b);
                lines = String::from_utf8_lossy(&all)
                    .lines()
                    .map(str::to_string)
                    .collect();
            }
            Edit::Truncate(i) => {
                let all = lines.join("\n");
                let mut cut = i % (all.len() + 1);
                while !all.is_char_boundary(cut) {
                    cut -= 1;
                }
                lines = all[..cut].lines().map(str::to_string).collect();
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Cases that ran, were skipped as too large, and were refused (`FUZZ_STATS=1` prints them).
static RAN: AtomicUsize = AtomicUsize::new(0);
static SKIPPED: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// Runs a scenario that passed validation, cut short, if the CLI would admit it.
fn bounded_run(sc: &Scenario) {
    if budget::estimate(sc, false).total() > RUN_BYTES {
        SKIPPED.fetch_add(1, Relaxed);
        return;
    }
    RAN.fetch_add(1, Relaxed);
    let mut sc = sc.clone();
    sc.run.max_events = sc.run.max_events.min(CASE_EVENTS);
    let ran = workload::run(&sc, sc.run.seed, |_, _| {});
    assert!(ran.out.events <= CASE_EVENTS + 1, "the event budget held");
}

fn check_names(err: &str, names: &[&str]) -> Result<(), TestCaseError> {
    REFUSED.fetch_add(1, Relaxed);
    prop_assert!(
        names.iter().any(|n| err.contains(n)),
        "the error names none of {names:?}:\n{err}"
    );
    Ok(())
}

/// A scenario file, edited, or a stock one with `--set` overrides: an error names the file,
/// or the `--set` argument when there are overrides.
fn scenario_case(file: &str, text: &str, sets: &[String]) -> Result<(), TestCaseError> {
    match costream_model::workload::load_variants(file, text, sets) {
        Ok(vs) => {
            for v in vs.iter().take(2) {
                bounded_run(&v.scenario);
            }
        }
        Err(e) if sets.is_empty() => check_names(&e.to_string(), &[file])?,
        Err(e) => check_names(&e.to_string(), &[file, "--set"])?,
    }
    Ok(())
}

/// A replay file, edited: parse (with and without the seal), then run what it holds.
fn replay_case(text: &str) -> Result<(), TestCaseError> {
    const FILE: &str = "fuzz-replay.toml";
    if let Err(e) = Replay::parse(&costream_model::workload::BUILTIN, FILE, text) {
        check_names(&e, &[FILE])?;
    }
    match Replay::parse_edited(&costream_model::workload::BUILTIN, FILE, text) {
        Ok(r) => match load_one(
            &costream_model::workload::BUILTIN,
            &r.source,
            &r.scenario,
            &r.sets,
        ) {
            Ok(sc) => bounded_run(&sc),
            Err(e) => check_names(&e, &[&r.source, "--set"])?,
        },
        Err(e) => check_names(&e, &[FILE])?,
    }
    Ok(())
}

/// A replay file of a short quickstart run, recorded once.
fn recorded_replay() -> String {
    let sets = ["run.duration=\"200ms\"".to_string()];
    Replay::record(
        &costream_model::workload::BUILTIN,
        "quickstart.toml",
        scenario::QUICKSTART,
        &sets,
        1,
        None,
    )
    .expect("quickstart records")
    .to_toml()
}

/// A `--set` value: plausible three times in four.
fn value() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        3 => prop::sample::select(&PLAUSIBLE[..]),
        1 => prop::sample::select(&TOKENS[..]),
    ]
}

#[derive(Clone, Debug)]
enum Case {
    Scenario(usize, Vec<Edit>),
    Set(usize, Vec<(usize, &'static str)>),
    Replay(Vec<Edit>),
}

fn cases() -> impl Strategy<Value = Case> {
    prop_oneof![
        3 => (0..SCENARIOS.len(), edits()).prop_map(|(s, e)| Case::Scenario(s, e)),
        4 => (
            0..SCENARIOS.len(),
            prop::collection::vec((0..KEYS.len(), value()), 1..3)
        )
            .prop_map(|(s, kv)| Case::Set(s, kv)),
        1 => edits().prop_map(Case::Replay),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/inputs_fuzz.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_input_is_refused_clearly_or_runs_bounded(case in cases()) {
        thread_local! {
            static REPLAY: String = recorded_replay();
        }
        let before = LIVE.load(Relaxed);
        PEAK.store(before, Relaxed);
        match &case {
            Case::Scenario(s, e) => {
                let (file, text) = SCENARIOS[*s];
                scenario_case(file, &apply(text, e), &[])?;
            }
            Case::Set(s, kv) => {
                let (file, text) = SCENARIOS[*s];
                let sets: Vec<String> =
                    kv.iter().map(|&(k, v)| format!("{}={v}", KEYS[k])).collect();
                scenario_case(file, text, &sets)?;
            }
            Case::Replay(e) => {
                let text = REPLAY.with(|r| apply(r, e));
                replay_case(&text)?;
            }
        }
        if std::env::var_os("FUZZ_STATS").is_some() {
            eprintln!(
                "ran {} · skipped {} · refused {}",
                RAN.load(Relaxed),
                SKIPPED.load(Relaxed),
                REFUSED.load(Relaxed)
            );
        }
        let peak = PEAK.load(Relaxed).saturating_sub(before);
        prop_assert!(peak <= CASE_BYTES, "the case held {} MiB at once", peak >> 20);
    }
}
