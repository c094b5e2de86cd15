use super::*;
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
    assert_eq!(sc.server.gogc, crate::goruntime::GcPercent::Off);
    assert_eq!(sc.server.gomemlimit, 512 << 20);
    let e = err(QUICKSTART, &["server.gomemlimit=\"12 parsecs\""]);
    assert_eq!(e.field, "server.gomemlimit");
    let e = err(QUICKSTART, &["server.gogc=\"lots\""]);
    assert_eq!(e.field, "server.gogc");
}

#[test]
fn shipped_scenarios_load() {
    for (name, text) in [
        (
            "gc-alloc.toml",
            include_str!("../../../scenarios/gc-alloc.toml"),
        ),
        (
            "gc-burst.toml",
            include_str!("../../../scenarios/gc-burst.toml"),
        ),
    ] {
        let v = load_variants(name, text, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.len() >= 4, "{name}");
    }
}

#[test]
fn breaker_scenario_loads_and_bad_breaker_fields_are_located() {
    let text = include_str!("../../../scenarios/breaker.toml");
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
    let text = include_str!("../../../scenarios/split.toml");
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
