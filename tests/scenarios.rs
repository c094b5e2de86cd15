//! The scenario loader with the built-in workloads: every shipped file loads, and every bad
//! field is refused with its file, field, problem and fix.

use costream_model::scenario::*;
use costream_model::workload::{load, load_variants};
use costream_sim::SimDuration;

fn err(text: &str, sets: &[&str]) -> ScenarioError {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    load("bad.toml", text, &sets).expect_err("should be refused")
}

#[test]
fn quickstart_loads() {
    let sc = load("quickstart.toml", QUICKSTART, &[]).unwrap();
    assert_eq!(sc.name, "quickstart");
    assert_eq!(sc.rooms.hosts_per_room, 2);
    assert_eq!(sc.forwarding.channel_capacity, 3);
    assert_eq!(sc.audio.fps, 50);
}

#[test]
fn syntax_error_names_file_and_line() {
    let e = err("name = \"x\"\n[run\nduration = \"1s\"", &[]);
    assert_eq!(e.file, "bad.toml");
    assert_eq!(e.field, "(syntax)");
    assert!(e.hint.unwrap().contains("line 2"));
}

#[test]
fn unknown_field_is_named() {
    let text = QUICKSTART.replace("[server]", "[server]\ngomaxprocz = 3");
    let e = err(&text, &[]);
    assert_eq!(e.field, "server.gomaxprocz");
    assert!(e.problem.contains("unknown field"), "{e}");
}

#[test]
fn gomaxprocs_zero_is_refused() {
    let e = err(QUICKSTART, &["server.gomaxprocs=0"]);
    assert_eq!(e.field, "server.gomaxprocs");
    assert!(e.to_string().contains("at least one P"), "{e}");
    assert!(e.file.contains("--set"));
}

#[test]
fn negative_and_absurd_durations_are_refused() {
    let e = err(QUICKSTART, &["run.duration=-5s"]);
    assert_eq!(e.field, "run.duration");
    assert!(e.problem.contains("negative"), "{e}");
    let e = err(QUICKSTART, &["run.duration=\"400d\""]);
    assert_eq!(e.field, "run.duration");
    let e = err(QUICKSTART, &["run.duration=\"9999h\""]);
    assert_eq!(e.field, "run.duration");
    assert!(e.problem.contains("out of range"), "{e}");
    let e = err(QUICKSTART, &["network.uplink.jitter=5"]);
    assert!(e.problem.contains("no unit"), "{e}");
}

#[test]
fn overrides_apply() {
    let sc = load(
        "q",
        QUICKSTART,
        &[
            "server.gomaxprocs=4".into(),
            "rooms.count=10".into(),
            "forwarding.handoff=blocking".into(),
        ],
    )
    .unwrap();
    assert_eq!(sc.server.gomaxprocs, 4);
    assert_eq!(sc.rooms.count, 10);
    assert_eq!(sc.forwarding.handoff, Handoff::Blocking);
    let sc = load(
        "q",
        QUICKSTART,
        &["server.costs.context_switch=200ns".into()],
    )
    .unwrap();
    assert_eq!(sc.server.costs.context_switch, SimDuration::from_nanos(200));
}

/// An unset GOMAXPROCS is Go's default on the machine `[server.os]` describes: its CPUs, and
/// from Go 1.25 the cgroup quota rounded up (at least 2).
#[test]
fn unset_gomaxprocs_is_gos_default_for_the_machine() {
    let set = |extra: &[&str]| {
        let mut v: Vec<String> = vec!["server.gomaxprocs=0".into(), "server.os.cpus=8".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        load("q.toml", QUICKSTART, &v).unwrap().server.gomaxprocs
    };
    assert_eq!(set(&[]), 8);
    assert_eq!(set(&["server.stalls.cpu_quota=2.5"]), 3);
    assert_eq!(set(&["server.stalls.cpu_quota=0.5"]), 2);
    assert_eq!(
        set(&["server.stalls.cpu_quota=2.5", "server.go_version=\"1.24\""]),
        8
    );
    let e = err(QUICKSTART, &["server.gomaxprocs=0"]);
    assert!(e.to_string().contains("[server.os] cpus"), "{e}");
}

#[test]
fn malformed_override_is_refused() {
    let e = err(QUICKSTART, &["server.gomaxprocs"]);
    assert!(e.problem.contains("no `=`"));
    let e = err(QUICKSTART, &["server.nosuch=1"]);
    assert_eq!(e.field, "server.nosuch");
}

#[test]
fn too_many_streams_is_refused_before_allocating() {
    let e = err(
        QUICKSTART,
        &["rooms.count=1000000", "rooms.hosts_per_room=8"],
    );
    assert_eq!(e.field, "rooms.count");
    assert!(e.problem.contains("8000000 streams"), "{e}");
}

#[test]
fn matrix_expands_in_key_order() {
    let text = format!("{QUICKSTART}\n[matrix]\n\"server.gomaxprocs\" = [1, 2]\n\"forwarding.handoff\" = [\"blocking\", \"nonblocking\"]\n");
    let v = load_variants("m.toml", &text, &[]).unwrap();
    let labels: Vec<&str> = v.iter().map(|x| x.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "forwarding.handoff=blocking, server.gomaxprocs=1",
            "forwarding.handoff=blocking, server.gomaxprocs=2",
            "forwarding.handoff=nonblocking, server.gomaxprocs=1",
            "forwarding.handoff=nonblocking, server.gomaxprocs=2",
        ]
    );
    assert_eq!(v[3].scenario.server.gomaxprocs, 2);
    assert_eq!(v[3].scenario.forwarding.handoff, Handoff::Nonblocking);
}

#[test]
fn bad_matrix_values_are_located() {
    let text = format!("{QUICKSTART}\n[matrix]\n\"server.gomaxprocs\" = [1, 0]\n");
    let e = load_variants("m.toml", &text, &[]).err().unwrap();
    assert_eq!(e.field, "server.gomaxprocs");
    assert!(e.file.contains("server.gomaxprocs=0"), "{e}");
    let text = format!("{QUICKSTART}\n[matrix]\n\"server.gomaxprocs\" = 4\n");
    let e = load_variants("m.toml", &text, &[]).err().unwrap();
    assert_eq!(e.field, "matrix.server.gomaxprocs");
}

#[test]
fn gogc_and_gomemlimit_parse() {
    let sc = load(
        "q",
        QUICKSTART,
        &[
            "server.gogc=\"off\"".into(),
            "server.gomemlimit=\"512MiB\"".into(),
        ],
    )
    .unwrap();
    assert_eq!(sc.server.gogc, costream_model::goruntime::GcPercent::Off);
    assert_eq!(sc.server.gomemlimit, 512 << 20);
    let e = err(QUICKSTART, &["server.gomemlimit=\"12 parsecs\""]);
    assert_eq!(e.field, "server.gomemlimit");
    let e = err(QUICKSTART, &["server.gogc=\"lots\""]);
    assert_eq!(e.field, "server.gogc");
}

#[test]
fn shipped_scenarios_load() {
    for (name, text) in [
        ("gc-alloc.toml", include_str!("../scenarios/gc-alloc.toml")),
        ("gc-burst.toml", include_str!("../scenarios/gc-burst.toml")),
    ] {
        let v = load_variants(name, text, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.len() >= 4, "{name}");
    }
}

#[test]
fn breaker_scenario_loads_and_bad_breaker_fields_are_located() {
    let text = include_str!("../scenarios/breaker.toml");
    let v = load_variants("breaker.toml", text, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.len(), 2);
    let e = load_variants(
        "breaker.toml",
        text,
        &["breaker.faults=[{from=\"5s\",until=\"2s\"}]".into()],
    )
    .err()
    .unwrap();
    assert_eq!(e.field, "breaker.faults[0]");
    let e = load_variants("breaker.toml", text, &["breaker.error_rate=1.5".into()])
        .err()
        .unwrap();
    assert_eq!(e.field, "breaker.error_rate");
    let e = load_variants("breaker.toml", text, &["breaker.max_requests=0".into()])
        .err()
        .unwrap();
    assert_eq!(e.field, "breaker.max_requests");
}

#[test]
fn bad_degrade_fields_are_located() {
    let e = err(
        QUICKSTART,
        &["degrade.enabled=true", "degrade.max_queue_delay=\"0s\""],
    );
    assert_eq!(e.field, "degrade.max_queue_delay");
    let e = err(
        QUICKSTART,
        &["degrade.enabled=true", "degrade.trip_after=0"],
    );
    assert_eq!(e.field, "degrade.trip_after");
    let sc = load("q.toml", QUICKSTART, &["degrade.trip_after=0".into()]).unwrap();
    assert!(!sc.degrade.enabled, "disabled degradation is not validated");
}

#[test]
fn split_scenario_loads_and_bad_split_fields_are_located() {
    let text = include_str!("../scenarios/split.toml");
    let v = load_variants("split.toml", text, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.len(), 2);
    let split = &["forwarding.architecture=\"split\""];
    let e = err(QUICKSTART, &[split[0], "forwarding.fps_per_worker=0"]);
    assert_eq!(e.field, "forwarding.fps_per_worker");
    let e = err(QUICKSTART, &[split[0], "forwarding.scale_interval=\"1us\""]);
    assert_eq!(e.field, "forwarding.scale_interval");
    let e = err(
        QUICKSTART,
        &["video.fps_schedule=[{ at = \"2s\", fps = 15 }, { at = \"1s\", fps = 30 }]"],
    );
    assert_eq!(e.field, "video.fps_schedule[1].at");
    let e = err(
        QUICKSTART,
        &["video.fps_schedule=[{ at = \"1s\", fps = 0 }]"],
    );
    assert_eq!(e.field, "video.fps_schedule[0].fps");
    assert!(e.to_string().contains("1 to 240"), "{e}");
}

/// The field each bad `--set` on quickstart is refused at.
fn refused_at(set: &str) -> ScenarioError {
    err(QUICKSTART, &[set])
}

#[test]
fn values_outside_their_meaning_are_refused() {
    for (set, field) in [
        (
            "network.uplink.loss={model=\"gemodel\",p=150,r=10,one_minus_h=50,one_minus_k=0}",
            "network.uplink.loss.p",
        ),
        (
            "network.uplink.loss={model=\"burst\",percent=5,avg_burst_loss_length=nan}",
            "network.uplink.loss.avg_burst_loss_length",
        ),
        (
            "network.faults=[{kind=\"partition\",from=\"5s\",until=\"2s\"}]",
            "network.faults[0]",
        ),
        (
            "network.faults=[{kind=\"clog\",from=\"50s\",until=\"60s\"}]",
            "network.faults[0].from",
        ),
        (
            "network.faults=[{kind=\"clog\",from=\"1s\",until=\"2s\",rooms=[7]}]",
            "network.faults[0].rooms",
        ),
        ("server.stalls.cpu_quota=-1", "server.stalls.cpu_quota"),
        ("server.stalls.cpu_quota=nan", "server.stalls.cpu_quota"),
        ("server.stalls.cpu_quota=0.001", "server.stalls.cpu_quota"),
        (
            "server.stalls.random_per_s=inf",
            "server.stalls.random_per_s",
        ),
        ("audio.talk_share=inf", "audio.talk_share"),
        (
            "server.gc.mark_bytes_per_us=0",
            "server.gc.mark_bytes_per_us",
        ),
        ("audio.payload_bytes=0", "audio.payload_bytes"),
        ("receiver.budget=\"2h\"", "receiver.budget"),
        ("run.duration=\"1ns\"", "run.duration"),
        ("run.duration=\"30ms\"", "run.duration"),
    ] {
        let e = refused_at(set);
        assert_eq!(e.field, field, "--set {set}: {e}");
        assert!(e.hint.is_some(), "--set {set}: {e}");
    }
    // Video: a forwarded layer that does not exist.
    let e = err(
        QUICKSTART,
        &["video.enabled=true", "forwarding.video_layer=2"],
    );
    assert_eq!(e.field, "forwarding.video_layer", "{e}");
}

#[test]
fn too_short_a_run_says_what_it_needs() {
    let e = refused_at("run.duration=\"1ns\"");
    assert!(e.problem.contains("too short"), "{e}");
    assert!(e.hint.as_deref().unwrap().contains("60.000ms"), "{e}");
    // Just long enough is accepted.
    load("q", QUICKSTART, &["run.duration=\"60ms\"".to_string()]).unwrap();
}

#[test]
fn a_workload_that_cannot_advance_time_is_refused() {
    let e = err(
        QUICKSTART,
        &["workload=\"gosched\"", "gosched.message_cpu=\"0s\""],
    );
    assert_eq!(e.field, "gosched.message_cpu", "{e}");
}

#[test]
fn the_workload_key_names_a_registered_workload() {
    let e = err(QUICKSTART, &["workload=\"relay\""]);
    assert_eq!(e.field, "workload", "{e}");
    assert!(e.problem.contains("unknown workload `relay`"), "{e}");
    let hint = e.hint.as_deref().unwrap_or("");
    assert!(
        hint.contains("room, alloc, burst, signalling, gosched, breaker"),
        "{e}"
    );
    let e = err(QUICKSTART, &["workload=3"]);
    assert_eq!(e.field, "workload", "{e}");
    assert!(e.problem.contains("found integer"), "{e}");
    // No key: the registry's first, the room workload.
    let sc = load("q", QUICKSTART, &[]).unwrap();
    assert_eq!(sc.workload().name(), "room");
}

#[test]
fn a_workload_section_is_type_checked_at_load_with_its_path() {
    let e = err(QUICKSTART, &["burst.interval=7"]);
    assert_eq!(e.field, "burst.interval", "{e}");
    let e = err(QUICKSTART, &["burst.intervall=\"1s\""]);
    assert_eq!(e.field, "burst.intervall", "{e}");
    assert!(e.problem.contains("unknown field"), "{e}");
    // A section another workload reads is accepted, and read back as the file wrote it.
    let sc = load("q", QUICKSTART, &["burst.pool=true".to_string()]).unwrap();
    assert!(
        sc.section::<costream_model::workload::burst::BurstSection>()
            .pool
    );
    assert!(
        !load("q", QUICKSTART, &[])
            .unwrap()
            .section::<costream_model::workload::burst::BurstSection>()
            .pool
    );
    // A table no registered workload reads is still an unknown field.
    let e = err(QUICKSTART, &["relay.streams=3"]);
    assert_eq!(e.field, "relay", "{e}");
}

const GC_BURST: &str = include_str!("../scenarios/gc-burst.toml");

#[test]
fn set_on_a_matrix_key_is_refused() {
    let sets = ["server.gogc=50".to_string()];
    let e = load_variants("gc-burst.toml", GC_BURST, &sets)
        .err()
        .expect("a --set the matrix overwrites is refused");
    assert_eq!(e.field, "server.gogc");
    assert!(e.problem.contains("[matrix]"), "{e}");
    let sn = e.snippet.expect("points at the matrix entry");
    assert!(sn.contains("\"server.gogc\" = [100, 50]"), "{sn}");
    // Emptying the matrix first makes the --set apply.
    let sets = ["matrix={}".to_string(), "server.gogc=50".to_string()];
    let v = load_variants("gc-burst.toml", GC_BURST, &sets).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].scenario.server.gogc,
        costream_model::goruntime::GcPercent::Percent(50)
    );
    // Keys the matrix does not vary still apply to every variant.
    let sets = ["server.gomaxprocs=3".to_string()];
    let v = load_variants("gc-burst.toml", GC_BURST, &sets).unwrap();
    assert!(v.iter().all(|x| x.scenario.server.gomaxprocs == 3));
}

#[test]
fn errors_show_the_line_with_a_caret() {
    let text = QUICKSTART.replace("gomaxprocs = ", "gomaxprocs = 9999 #");
    let e = err(&text, &[]);
    let sn = e.snippet.clone().expect("a snippet");
    let line = 1 + text[..text.find("gomaxprocs = 9999").unwrap()]
        .matches('\n')
        .count();
    assert!(sn.contains(&format!("--> bad.toml:{line}:14")), "{sn}");
    assert!(sn.contains("gomaxprocs = 9999"), "{sn}");
    assert!(sn.contains("^^^^"), "{sn}");
    assert!(e.to_string().contains(&sn.trim_end().to_string()));
    // A --set error points into the --set argument.
    let e = refused_at("server.gomaxprocs=0");
    let sn = e.snippet.expect("a snippet");
    assert!(sn.contains("--set server.gomaxprocs=0"), "{sn}");
    // A cross-field rule broken by a neighbour's --set shows that --set.
    let e = refused_at("receiver.max_delay=\"10ms\"");
    assert_eq!(e.field, "receiver.min_delay");
    assert!(e.snippet.unwrap().contains("receiver.max_delay=\"10ms\""));
    // Syntax errors too.
    let e = err("name = \"x\"\n[run\nduration = \"1s\"", &[]);
    assert!(e.snippet.unwrap().contains("2 | [run"));
}

#[test]
fn type_errors_say_what_the_field_holds() {
    let text = QUICKSTART.replace("gomaxprocs = ", "gomaxprocs = \"four\" #");
    let e = err(&text, &[]);
    assert_eq!(
        e.problem,
        "expected a whole number of Ps between 1 and 1024, found \"four\" (text)"
    );
    let e = refused_at("video.enabled=1");
    assert_eq!(e.problem, "expected true or false, found 1");
    let e = refused_at("run.duration=true");
    assert!(e.problem.contains("a duration with a unit"), "{e}");
    assert!(!e.problem.contains("untagged"), "{e}");
    let e = refused_at("rooms.count=1.5");
    assert!(e.problem.contains("whole number of rooms"), "{e}");
}

/// `[server] go_version` picks the release; one the model does not cover, or a TOML number
/// (1.20 would read as 1.2), is refused with the field and the fix.
#[test]
fn go_version_is_a_checked_release() {
    use costream_model::goruntime::GoVersion;
    let sc = load("quickstart.toml", QUICKSTART, &[]).unwrap();
    assert_eq!(sc.server.go_version, GoVersion::NEWEST);
    assert_eq!(sc.server.runtime_config().go_version, GoVersion::NEWEST);
    let sc = load("q.toml", QUICKSTART, &["server.go_version=\"1.19\"".into()]).unwrap();
    assert_eq!(sc.server.runtime_config().go_version, GoVersion::GO1_19);
    let e = err(QUICKSTART, &["server.go_version=\"1.18\""]);
    assert_eq!(e.field, "server.go_version");
    assert!(e.to_string().contains("use 1.19 to 1.27"), "{e}");
    let e = err(QUICKSTART, &["server.go_version=1.20"]);
    assert_eq!(e.field, "server.go_version");
    assert!(e.to_string().contains("as a string"), "{e}");
}

/// `[server.os]` puts CPUs under the runtime; absent, every thread has one. Bad values are
/// refused with the field.
#[test]
fn server_os_is_optional_and_checked() {
    let sc = load("quickstart.toml", QUICKSTART, &[]).unwrap();
    assert!(sc.server.runtime_config().os.is_none());
    let sc = load("q.toml", QUICKSTART, &["server.os.cpus=2".into()]).unwrap();
    let os = sc.server.runtime_config().os.expect("an OS");
    assert_eq!(os.cpus, 2);
    assert_eq!(os.tick, SimDuration::from_millis(4));
    let e = err(QUICKSTART, &["server.os.cpus=0"]);
    assert_eq!(e.field, "server.os.cpus");
    let e = err(QUICKSTART, &["server.os.tick=\"10us\""]);
    assert_eq!(e.field, "server.os.tick");
    let e = err(QUICKSTART, &["server.os.cpu=2"]);
    assert!(e.to_string().contains("cpu"), "{e}");
    let sc = load("q.toml", QUICKSTART, &["server.os.pack_util=0.67".into()]).unwrap();
    assert_eq!(
        sc.server.runtime_config().os.expect("an OS").pack_util,
        0.67
    );
    let e = err(QUICKSTART, &["server.os.pack_util=1.5"]);
    assert_eq!(e.field, "server.os.pack_util");
    let e = err(QUICKSTART, &["server.os.timer_slack=\"1s\""]);
    assert_eq!(e.field, "server.os.timer_slack");
}

/// `[server] costs_file` reads a costs file (as `costream calibrate` writes it) relative to the
/// scenario's folder into `[server.costs]`; the scenario's own costs win; a missing file is an
/// error naming the field and the fix.
#[test]
fn costs_file_is_included_relative_to_the_scenario() {
    let dir = std::env::temp_dir().join(format!("costream-costs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("costs.toml"),
        "fd_write = \"900ns\"\ncontext_switch = \"80ns\"\n",
    )
    .unwrap();
    let file = dir.join("s.toml");
    let file = file.to_str().unwrap();
    let sets = [
        "server.costs_file=\"costs.toml\"".to_string(),
        "server.costs.context_switch=\"100ns\"".to_string(),
    ];
    let sc = load(file, QUICKSTART, &sets).unwrap();
    let c = sc.server.runtime_config().costs;
    assert_eq!(c.fd_write, SimDuration::from_nanos(900));
    assert_eq!(c.context_switch, SimDuration::from_nanos(100));
    let e = load(
        file,
        QUICKSTART,
        &["server.costs_file=\"nope.toml\"".into()],
    )
    .unwrap_err();
    assert_eq!(e.field, "server.costs_file");
    assert!(e.to_string().contains("costream calibrate"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
