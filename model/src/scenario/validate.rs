//! [`Scenario::validate`]'s checks of the sections the scenario itself owns (run, server,
//! rooms, media, network, forwarding, degradation), one function per section, in the order
//! they run. A workload's own sections are checked by its `Workload::validate`.

use super::schema::*;
use super::{Invalid, Scenario};
use costream_sim::SimDuration;

impl Scenario {
    /// Checks what serde cannot, section by section in a fixed order (so a file with several
    /// mistakes is always told of the same one first): the ranges, the workload's sections,
    /// then the values (NaN, sizes), then the run's length against the workload. Returns
    /// (field, problem, how to fix it).
    pub fn validate(&self) -> Result<(), Invalid> {
        run(self)?;
        gomaxprocs(self)?;
        self.workload().validate(self, Stage::Ranges)?;
        rooms(self)?;
        audio_rate(self)?;
        receiver_delays(self)?;
        links(self)?;
        video_rate(self)?;
        forwarding(self)?;
        server_costs(self)?;
        degrade(self)?;
        self.workload().validate(self, Stage::Sections)?;
        audio_values(self)?;
        video_values(self)?;
        receiver_budget(self)?;
        faults(self)?;
        stalls(self)?;
        gc(self)?;
        sizes(self)?;
        self.workload().validate(self, Stage::Values)?;
        self.validate_min_duration()
    }

    /// A run too short for its workload's first measurement reports nothing, or nonsense (a
    /// P busy for 12,500 % of a 1 ns run): refuse it, saying what the first measurement needs.
    fn validate_min_duration(&self) -> Result<(), Invalid> {
        let floor = SimDuration::from_millis(1);
        let (need, why) = self.workload().min_duration(self);
        let need = need.max(floor);
        if self.run.duration < need {
            return Err((
                "run.duration".into(),
                format!(
                    "{} is too short to measure anything: {why}",
                    self.run.duration
                ),
                format!("use at least {need}; a few seconds give stable percentiles"),
            ));
        }
        Ok(())
    }
}

// Ranges.

/// The run's length and event budget.
fn run(sc: &Scenario) -> Result<(), Invalid> {
    dur_in(
        "run.duration",
        sc.run.duration,
        SimDuration::from_nanos(1),
        MAX_DURATION,
    )?;
    if sc.run.max_events == 0 {
        return Err((
            "run.max_events".to_string(),
            "must be at least 1".into(),
            "omit it for the default budget".into(),
        ));
    }
    Ok(())
}

/// GOMAXPROCS within what Go allows.
fn gomaxprocs(sc: &Scenario) -> Result<(), Invalid> {
    let g = sc.server.gomaxprocs;
    if g == 0 || g > MAX_GOMAXPROCS {
        return Err((
            "server.gomaxprocs".to_string(),
            format!("GOMAXPROCS of {g} is out of range"),
            if g == 0 {
                format!(
                    "use 1 to {MAX_GOMAXPROCS}; Go needs at least one P (or leave it unset and \
                     give [server.os] cpus, for Go's default on that machine)"
                )
            } else {
                format!("use 1 to {MAX_GOMAXPROCS}; Go needs at least one P")
            },
        ));
    }
    Ok(())
}

/// Rooms, hosts and listeners, and the streams they make.
fn rooms(sc: &Scenario) -> Result<(), Invalid> {
    let r = &sc.rooms;
    if r.count == 0 || r.count > 1_000_000 {
        return Err((
            "rooms.count".to_string(),
            format!("{} rooms is out of range", r.count),
            "use 1 to 1000000".into(),
        ));
    }
    if r.hosts_per_room < 2 || r.hosts_per_room > 64 {
        return Err((
            "rooms.hosts_per_room".to_string(),
            format!("{} hosts per room is out of range", r.hosts_per_room),
            "a co-streaming room has 2 to 64 hosts".into(),
        ));
    }
    if r.listeners > 100_000 || r.count as u64 * r.listeners as u64 > MAX_STREAMS {
        return Err((
            "rooms.listeners".to_string(),
            format!(
                "{} listeners per room in {} rooms is too many",
                r.listeners, r.count
            ),
            format!("use at most 100000 per room and {MAX_STREAMS} in all"),
        ));
    }
    let streams = r.count as u64 * r.hosts_per_room as u64;
    if streams > MAX_STREAMS {
        return Err(("rooms.count".to_string(),
            format!("{} rooms × {} hosts = {streams} streams (two goroutines each) is more than {MAX_STREAMS}", r.count, r.hosts_per_room),
            "lower rooms.count or rooms.hosts_per_room; docs/performance.md gives memory per goroutine".into(),
        ));
    }
    Ok(())
}

/// The audio frame rate.
fn audio_rate(sc: &Scenario) -> Result<(), Invalid> {
    if sc.audio.fps == 0 || sc.audio.fps > 1000 {
        return Err((
            "audio.fps".to_string(),
            format!("{} frames per second is out of range", sc.audio.fps),
            "use 1 to 1000 (Opus 20 ms frames: 50)".into(),
        ));
    }
    Ok(())
}

/// The jitter buffer's delays and window.
fn receiver_delays(sc: &Scenario) -> Result<(), Invalid> {
    let rc = &sc.receiver;
    dur_in(
        "receiver.max_delay",
        rc.max_delay,
        SimDuration::ZERO,
        SimDuration::from_secs(60),
    )?;
    if rc.min_delay > rc.max_delay {
        return Err((
            "receiver.min_delay".to_string(),
            format!(
                "{} is above receiver.max_delay ({})",
                rc.min_delay, rc.max_delay
            ),
            "the jitter buffer's target lies between min_delay and max_delay: give min_delay <= max_delay".into(),
        ));
    }
    if rc.window == 0 || rc.window > 100_000 {
        return Err((
            "receiver.window".to_string(),
            format!("{} packets is out of range", rc.window),
            "use 1 to 100000 packets (default 200: 4 s of 50 fps audio)".into(),
        ));
    }
    Ok(())
}

/// Both links' impairments, delays and jitter.
fn links(sc: &Scenario) -> Result<(), Invalid> {
    let sec = SimDuration::from_secs(1);
    for (name, l) in [
        ("network.uplink", &sc.network.uplink),
        ("network.downlink", &sc.network.downlink),
    ] {
        l.validate().map_err(|(f, p)| {
            (
                format!("{name}.{f}"),
                p,
                "see docs/metrics.md for the link parameters".to_string(),
            )
        })?;
        dur_in(
            &format!("{name}.delay"),
            l.delay,
            SimDuration::ZERO,
            SimDuration::from_secs(10),
        )?;
        dur_in(&format!("{name}.jitter"), l.jitter, SimDuration::ZERO, sec)?;
    }
    Ok(())
}

/// The video frame rate, GOP and frame-rate schedule.
fn video_rate(sc: &Scenario) -> Result<(), Invalid> {
    if sc.video.enabled && (sc.video.fps == 0 || sc.video.fps > 240 || sc.video.gop == 0) {
        return Err((
            "video.fps".to_string(),
            format!(
                "fps {} / gop {} is out of range",
                sc.video.fps, sc.video.gop
            ),
            "use 1 to 240 fps and a GOP of at least 1".into(),
        ));
    }
    let mut last = SimDuration::ZERO;
    for (i, c) in sc.video.fps_schedule.iter().enumerate() {
        let field = format!("video.fps_schedule[{i}]");
        if c.fps == 0 || c.fps > 240 {
            return Err((
                format!("{field}.fps"),
                format!("{} is out of range", c.fps),
                "use 1 to 240 fps".into(),
            ));
        }
        if c.at < last || c.at > sc.run.duration {
            return Err((
                format!("{field}.at"),
                format!("{} is out of order or past run.duration", c.at),
                "list changes in time order, within the run".into(),
            ));
        }
        last = c.at;
    }
    Ok(())
}

/// The forwarding architecture's sizes and CPU costs.
fn forwarding(sc: &Scenario) -> Result<(), Invalid> {
    let sec = SimDuration::from_secs(1);
    if sc.forwarding.batch == 0 || sc.forwarding.batch > 1024 {
        return Err((
            "forwarding.batch".to_string(),
            format!("{} is out of range", sc.forwarding.batch),
            "use 1 (recvmsg) to 1024".into(),
        ));
    }
    let f = &sc.forwarding;
    if f.channel_capacity > 1 << 20 {
        return Err((
            "forwarding.channel_capacity".to_string(),
            format!("{} is out of range", f.channel_capacity),
            "use 0 (unbuffered) to 1048576".into(),
        ));
    }
    if f.architecture == Architecture::Pool {
        ints_in(
            &[
                ("forwarding.workers", f.workers, 0, 1 << 16),
                ("forwarding.ring_capacity", f.ring_capacity, 1, 1 << 24),
                ("forwarding.take_batch", f.take_batch, 1, 1 << 16),
            ],
            " (workers: 0 means GOMAXPROCS)",
        )?;
    }
    if f.architecture == Architecture::Split {
        ints_in(
            &[
                ("forwarding.fps_per_worker", f.fps_per_worker, 1, 240),
                ("forwarding.max_video_workers", f.max_video_workers, 1, 1024),
            ],
            "",
        )?;
        dur_in(
            "forwarding.scale_interval",
            f.scale_interval,
            SimDuration::from_millis(10),
            SimDuration::from_secs(60),
        )?;
    }
    if f.architecture == Architecture::Livekit {
        ints_in(
            &[
                ("forwarding.spreader_step", f.spreader_step, 1, 1024),
                ("forwarding.num_cpu", f.num_cpu, 0, 4096),
            ],
            " (num_cpu: 0 means GOMAXPROCS)",
        )?;
    }
    dur_in(
        "forwarding.per_byte_cpu",
        f.per_byte_cpu,
        SimDuration::ZERO,
        SimDuration::from_micros(1),
    )?;
    dur_in("forwarding.frame_cpu", f.frame_cpu, SimDuration::ZERO, sec)?;
    dur_in(
        "forwarding.per_destination_cpu",
        f.per_destination_cpu,
        SimDuration::ZERO,
        sec,
    )?;
    if !(0.0..1.0).contains(&f.cpu_jitter) {
        return Err((
            "forwarding.cpu_jitter".to_string(),
            format!("{} is out of range", f.cpu_jitter),
            "use a fraction in [0, 1), e.g. 0.2".into(),
        ));
    }
    Ok(())
}

/// The runtime's costs, the CPU topology and the GOMAXPROCS tuner.
fn server_costs(sc: &Scenario) -> Result<(), Invalid> {
    let sec = SimDuration::from_secs(1);
    let c = &sc.server.costs;
    for (name, d) in [
        ("server.costs.go_create", c.go_create),
        ("server.costs.context_switch", c.context_switch),
        ("server.costs.m_wake", c.m_wake),
        ("server.costs.epoll_wake", c.epoll_wake),
        ("server.costs.preempt_signal", c.preempt_signal),
    ] {
        dur_in(name, d, SimDuration::ZERO, sec)?;
    }
    if let Some(o) = &sc.server.os {
        ints_in(&[("server.os.cpus", o.cpus, 1, 4096)], " CPUs")?;
        dur_in(
            "server.os.tick",
            o.tick,
            SimDuration::from_micros(100),
            SimDuration::from_millis(100),
        )?;
        let ms = SimDuration::from_millis;
        for (name, d, max) in [
            ("server.os.base_slice", o.base_slice, ms(100)),
            ("server.os.idle_wake", o.idle_wake, ms(10)),
            ("server.os.sysmon_run", o.sysmon_run, ms(1)),
            ("server.os.halt_poll", o.halt_poll, ms(10)),
            ("server.os.timer_slack", o.timer_slack, ms(100)),
        ] {
            dur_le(name, d, max)?;
        }
        num_in(
            "server.os.pack_util",
            o.pack_util,
            0.0,
            1.0,
            " (0 turns vCPU packing off)",
        )?;
    }
    if let Some(t) = &sc.server.topology {
        t.validate(sc.run.duration)?;
    }
    if sc.server.tuner.policy != crate::goruntime::topology::TunerPolicy::None {
        if sc.server.topology.is_none() {
            return Err((
                "server.tuner.policy".to_string(),
                "the tuner reads the CPU topology, and there is none".into(),
                "add a [server.topology] section (sockets, l3_per_socket, cores_per_l3, threads_per_core)".into(),
            ));
        }
        dur_in(
            "server.tuner.period",
            sc.server.tuner.period,
            SimDuration::from_millis(1),
            SimDuration::from_secs(3600),
        )?;
    }
    Ok(())
}

/// The degradation breaker, and what layered degradation needs.
fn degrade(sc: &Scenario) -> Result<(), Invalid> {
    if sc.degrade.enabled
        && sc.degrade.mode == DegradeMode::Layers
        && (!sc.video.enabled
            || sc.video.simulcast_kbps.is_empty()
            || sc.forwarding.video_layer != 0)
    {
        return Err((
            "degrade.mode".to_string(),
            "layered degradation needs simulcast video forwarded from its top layer".into(),
            "set video.enabled = true, video.simulcast_kbps = [450, 160] and forwarding.video_layer = 0, or use mode = \"pause\"".into(),
        ));
    }
    if sc.degrade.enabled {
        let d = &sc.degrade;
        dur_in(
            "degrade.max_queue_delay",
            d.max_queue_delay,
            SimDuration::from_micros(1),
            SimDuration::from_secs(10),
        )?;
        dur_in(
            "degrade.timeout",
            d.timeout,
            SimDuration::from_micros(1),
            SimDuration::from_secs(3600),
        )?;
        if d.trip_after == 0 || d.max_requests == 0 {
            return Err((
                "degrade.trip_after".to_string(),
                format!(
                    "trip_after {} / max_requests {} must be at least 1",
                    d.trip_after, d.max_requests
                ),
                "use at least 1 for both".into(),
            ));
        }
    }
    Ok(())
}

// Values.

/// Audio's talk share and payload size.
fn audio_values(sc: &Scenario) -> Result<(), Invalid> {
    let a = &sc.audio;
    num_in(
        "audio.talk_share",
        a.talk_share,
        0.0,
        1.0,
        " (a fraction of the time)",
    )?;
    ints_in(
        &[("audio.payload_bytes", a.payload_bytes, 1, 1500)],
        " bytes",
    )?;
    Ok(())
}

/// Video's bitrates, MTU and simulcast layers, and the layer forwarded.
fn video_values(sc: &Scenario) -> Result<(), Invalid> {
    let v = &sc.video;
    if v.enabled {
        num_in("video.keyframe_factor", v.keyframe_factor, 1.0, 100.0, "")?;
        ints_in(
            &[
                ("video.bitrate_kbps", v.bitrate_kbps, 1, 100_000),
                ("video.mtu", v.mtu, 100, 9000),
            ],
            "",
        )?;
        if v.simulcast_kbps.len() > 8 {
            return Err((
                "video.simulcast_kbps".into(),
                format!("{} layers is too many", v.simulcast_kbps.len()),
                "use at most 8 lower layers (LiveKit sends 2)".into(),
            ));
        }
        for (i, &k) in v.simulcast_kbps.iter().enumerate() {
            ints_in(
                &[(&format!("video.simulcast_kbps[{i}]"), k, 1, v.bitrate_kbps)],
                " kbit/s (at most the top layer's video.bitrate_kbps)",
            )?;
        }
        if usize::from(sc.forwarding.video_layer) > v.simulcast_kbps.len() {
            return Err((
                "forwarding.video_layer".into(),
                format!("layer {} does not exist", sc.forwarding.video_layer),
                format!(
                    "use 0 (the top layer) to {} (video.simulcast_kbps adds the lower ones)",
                    v.simulcast_kbps.len()
                ),
            ));
        }
    }
    Ok(())
}

/// The receivers' CPU budget.
fn receiver_budget(sc: &Scenario) -> Result<(), Invalid> {
    let minute = SimDuration::from_secs(60);
    dur_le("receiver.budget", sc.receiver.budget, minute)?;
    Ok(())
}

/// Network faults: in order, within the run, on rooms that exist.
fn faults(sc: &Scenario) -> Result<(), Invalid> {
    for (i, f) in sc.network.faults.iter().enumerate() {
        let field = format!("network.faults[{i}]");
        if f.from >= f.until {
            return Err((
                field,
                format!("the fault ends ({}) before it starts ({})", f.until, f.from),
                "give from < until, e.g. from = \"2s\", until = \"5s\"".into(),
            ));
        }
        if f.from >= sc.run.duration {
            return Err((
                format!("{field}.from"),
                format!(
                    "{} is not within the run (run.duration = {})",
                    f.from, sc.run.duration
                ),
                "start the fault before the run ends, or lengthen run.duration".into(),
            ));
        }
        if let Some(r) = f.rooms.iter().find(|&&r| r >= sc.rooms.count) {
            return Err((
                format!("{field}.rooms"),
                format!("room {r} does not exist"),
                format!(
                    "rooms are numbered 0 to {} (rooms.count = {})",
                    sc.rooms.count - 1,
                    sc.rooms.count
                ),
            ));
        }
    }
    Ok(())
}

/// The stall sources: the cgroup quota and random and scheduled pauses.
fn stalls(sc: &Scenario) -> Result<(), Invalid> {
    let sec = SimDuration::from_secs(1);
    let minute = SimDuration::from_secs(60);
    let hour = SimDuration::from_secs(3600);
    let st = &sc.server.stalls;
    num_in(
        "server.stalls.cpu_quota",
        st.cpu_quota,
        0.0,
        4096.0,
        " CPUs per period (0: no limit)",
    )?;
    if st.cpu_quota > 0.0 && st.cpu_quota < 0.01 {
        return Err((
            "server.stalls.cpu_quota".into(),
            format!("{} CPUs per period leaves the server no time to run", st.cpu_quota),
            "use at least 0.01 (the kernel's minimum cfs_quota_us is 1 ms per 100 ms), or 0 for no limit".into(),
        ));
    }
    if st.cpu_quota > 0.0 && (st.cpu_period < SimDuration::from_millis(1) || st.cpu_period > sec) {
        return Err((
            "server.stalls.cpu_period".into(),
            format!("{} is out of range", st.cpu_period),
            "use 1ms to 1s, as cgroup's cpu.cfs_period_us allows (default 100ms)".into(),
        ));
    }
    num_in(
        "server.stalls.random_per_s",
        st.random_per_s,
        0.0,
        10_000.0,
        " pauses per second",
    )?;
    dur_le("server.stalls.random_mean", st.random_mean, minute)?;
    for (i, p) in st.pauses.iter().enumerate() {
        dur_le(
            &format!("server.stalls.pauses[{i}].at"),
            p.at,
            sc.run.duration,
        )?;
        dur_le(
            &format!("server.stalls.pauses[{i}].duration"),
            p.duration,
            hour,
        )?;
    }
    Ok(())
}

/// The GC cost model's rates, sizes and pauses.
fn gc(sc: &Scenario) -> Result<(), Invalid> {
    let sec = SimDuration::from_secs(1);
    let gc = &sc.server.gc;
    num_in(
        "server.gc.mark_bytes_per_us",
        gc.mark_bytes_per_us,
        1.0,
        1e9,
        " bytes per microsecond per P",
    )?;
    size_le("server.gc.stack_bytes", gc.stack_bytes, GIB)?;
    size_le("server.gc.globals_bytes", gc.globals_bytes, 64 * GIB)?;
    size_le(
        "server.gc.runtime_overhead_bytes",
        gc.runtime_overhead_bytes,
        64 * GIB,
    )?;
    for (name, d) in [
        ("server.gc.stw_sweep_term_base", gc.stw_sweep_term_base),
        ("server.gc.stw_mark_term_base", gc.stw_mark_term_base),
        ("server.gc.stw_per_p", gc.stw_per_p),
        ("server.gc.stw_per_1k_goroutines", gc.stw_per_1k_goroutines),
        ("server.gc.malloc_base", gc.malloc_base),
        ("server.gc.malloc_per_kib", gc.malloc_per_kib),
        ("server.gc.sweep_per_page", gc.sweep_per_page),
    ] {
        dur_le(name, d, sec)?;
    }
    Ok(())
}

/// Per-packet allocation and the breaker's upgrade delay.
fn sizes(sc: &Scenario) -> Result<(), Invalid> {
    let hour = SimDuration::from_secs(3600);
    size_le(
        "forwarding.alloc_bytes",
        sc.forwarding.alloc_bytes,
        64 << 20,
    )?;
    dur_le("degrade.upgrade_after", sc.degrade.upgrade_after, hour)?;
    Ok(())
}
