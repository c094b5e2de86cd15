//! Terminal reports. Everything printed is a function of the run, never of the wall clock, so
//! one seed gives one report, byte for byte.

use crate::goruntime::GcPercent;
use crate::scenario::{Handoff, Scenario};
use crate::workload::{Measured, Ran};
use crate::world::{RunOutcome, Sim};
use costream_sim::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// A table with a header row and left-aligned columns.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    pub fn render(&self, indent: &str) -> String {
        let ncol = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let width: Vec<usize> = (0..ncol)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in &self.rows {
            out.push_str(indent);
            for (c, cell) in r.iter().enumerate() {
                let pad = width[c] - cell.chars().count();
                out.push_str(cell);
                if c + 1 < r.len() {
                    out.push_str(&" ".repeat(pad + 3));
                }
            }
            out.push('\n');
        }
        out
    }
}

fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn pct(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / (1u64 << 20) as f64)
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// The report's header: the scenario's name, the variant, the `--set` overrides, the seed and
/// the workload's parameters, all from the effective scenario (after overrides and the matrix).
/// The file's `description` is shown only when no `--set` changed the file, as it was written
/// for the file's own values ("one room" is wrong after `--set rooms.count=1000`).
pub fn header(sc: &Scenario, seed: u64, label: &str, ran: &Ran) -> Vec<String> {
    let mut lines = Vec::new();
    if !sc.overrides.is_empty() {
        lines.push(format!(
            "costream · {} — with --set {}",
            sc.name,
            sc.overrides.join(", ")
        ));
    } else if sc.description.is_empty() {
        lines.push(format!("costream · {}", sc.name));
    } else {
        lines.push(format!("costream · {} — {}", sc.name, sc.description));
    }
    if !label.is_empty() {
        lines.push(format!("variant: {label}"));
    }
    let gogc = match sc.server.gogc {
        GcPercent::Percent(p) => p.to_string(),
        GcPercent::Off => "off".into(),
    };
    let limit = if sc.server.gomemlimit == i64::MAX {
        "off".to_string()
    } else {
        format!("{} MiB", mib(sc.server.gomemlimit as u64))
    };
    lines.push(format!(
        "seed {seed} · {} simulated · GOMAXPROCS {} · GOGC {gogc} · GOMEMLIMIT {limit}",
        ran.out.now.since_start(),
        sc.server.gomaxprocs
    ));
    lines.extend(summary(sc, ran));
    lines
}

/// What the workload ran, from the effective scenario: one line, and one per breaker fault.
fn summary(sc: &Scenario, ran: &Ran) -> Vec<String> {
    match &ran.measured {
        Measured::Room(_) => vec![room_summary(sc)],
        Measured::Alloc => {
            let a = &sc.alloc;
            let (cycles, total) = ran.sim.runtime(0, |rt| {
                (rt.gc_stats().cycles.len(), rt.gc_stats().total_alloc)
            });
            vec![format!(
                "allocation loop: {} MiB live ({}), {} MiB allocated in {} B objects → {cycles} GC cycles ({} MiB allocated per cycle)",
                mib(a.live),
                if a.live_scan { "scanned" } else { "noscan" },
                mib(total),
                a.object,
                if cycles == 0 { "-".to_string() } else { mib(total / cycles as u64) }
            )]
        }
        Measured::Burst(_) => {
            let b = &sc.burst;
            vec![format!(
                "bursts of {} requests every {} · buffer {} KiB ({}) · {} KiB other garbage · {} CPU each · {} MiB live state",
                b.requests,
                b.interval,
                b.buffer >> 10,
                if b.pool { "sync.Pool" } else { "fresh allocation" },
                b.garbage >> 10,
                b.cpu,
                mib(b.live)
            )]
        }
        Measured::Signalling(m) => vec![format!(
            "signalling sessions ({}): {} sessions, {} messages",
            if sc.signalling.fixed {
                "fixed: ctx.Done, bounded inbound, close on exit"
            } else {
                "buggy: reader never sees its session end"
            },
            m.sessions,
            m.messages
        )],
        Measured::Breaker(_) => {
            let b = &sc.breaker;
            let mut v = vec![format!(
                "a call every {} to a downstream ({} + exp({}) latency, {:.1}% errors) · timeout {} · breaker: trip after {} failures, open {}, half-open admits {}",
                b.request_interval, b.latency, b.latency_jitter, 100.0 * b.error_rate, b.call_timeout, b.trip_after, b.timeout, b.max_requests.max(1)
            )];
            for f in &b.faults {
                v.push(format!(
                    "  fault {}–{}: +{} latency, {:.0}% errors",
                    f.from,
                    f.until,
                    f.extra_latency,
                    100.0 * f.error_rate
                ));
            }
            v
        }
        Measured::Gosched(_) => {
            let g = &sc.gosched;
            let every = if g.every == 0 {
                "never".to_string()
            } else {
                format!("every {} messages", g.every)
            };
            vec![format!(
                "{} low-priority loops ({} per message, Gosched {every}) · a {} request every {}",
                g.loops, g.message_cpu, g.request_cpu, g.request_interval
            )]
        }
    }
}

/// The full report of one run: what the workload measured, the runtime, the GC, the end.
pub fn report(sc: &Scenario, seed: u64, label: &str, ran: &Ran) -> String {
    let mut s = String::new();
    for line in header(sc, seed, label, ran) {
        let _ = writeln!(s, "{line}");
    }
    match &ran.measured {
        Measured::Room(m) => {
            let now = ran.out.now;
            let cpu = ran.sim.runtime(0, |rt| rt.cpu_used_ns(now));
            room_section(&mut s, sc, &m.borrow(), cpu, now)
        }
        Measured::Alloc => {}
        Measured::Burst(m) => burst_section(&mut s, &m.borrow()),
        Measured::Signalling(m) => signalling_section(&mut s, m),
        Measured::Breaker(m) => {
            let m = m.borrow();
            let _ = writeln!(s, "\nrequests");
            let mut t = Table::new(&[
                "requests",
                "ok",
                "errors",
                "timeouts",
                "refused (open)",
                "refused (half-open)",
                "call P50 ms",
                "call P99 ms",
            ]);
            t.row(vec![
                m.requests.to_string(),
                m.ok.to_string(),
                m.errors.to_string(),
                m.timeouts.to_string(),
                m.refused_open.to_string(),
                m.refused_half_open.to_string(),
                ms(pct(&m.latency, 0.5)),
                ms(pct(&m.latency, 0.99)),
            ]);
            s.push_str(&t.render("  "));
            timeline(&mut s, "breaker timeline", &m.transitions);
        }
        Measured::Gosched(m) => {
            let m = m.borrow();
            let _ = writeln!(
                s,
                "\nrequests: {} handled · low-priority messages: {}",
                m.requests, m.messages
            );
            let mut t = Table::new(&["(ms)", "P50", "P99", "max", "mean"]);
            t.row(latency_row("tick due → handled", &m.latency));
            s.push_str(&t.render("  "));
        }
    }
    runtime_section(&mut s, &ran.sim, &ran.out);
    census_section(&mut s, &ran.sim, ran.out.now);
    gc_section(&mut s, &ran.sim, &ran.out);
    let out = &ran.out;
    let _ = writeln!(
        s,
        "\nrun ended: {} at {} after {} events",
        out.end, out.now, out.events
    );
    if let Some(msg) = out.fatal_message() {
        let _ = writeln!(s, "\n{msg}");
    }
    let _ = writeln!(s, "digest: {:016x}", out.digest);
    s
}

/// The room workload's parameters: rooms, hosts, listeners, media and the architecture.
fn room_summary(sc: &Scenario) -> String {
    let handoff = match sc.forwarding.handoff {
        Handoff::Blocking => "blocking",
        Handoff::Nonblocking => "non-blocking (drop when full)",
    };
    let f = &sc.forwarding;
    let arch =
        match f.architecture {
            crate::scenario::Architecture::PerStream => {
                format!(
                    "goroutine per stream, hand-off {handoff}, capacity {}",
                    f.channel_capacity
                )
            }
            crate::scenario::Architecture::Pool => format!(
                "worker pool of {} over a {}-packet ring, {} per take",
                sc.pool_workers(),
                f.ring_capacity,
                f.take_batch
            ),
            crate::scenario::Architecture::Split => {
                format!(
            "split: audio {} forwarders, video scaled 1 worker per {} fps (max {}) every {}",
            if f.lock_audio { "LockOSThread" } else { "resident" },
            f.fps_per_worker,
            f.max_video_workers,
            f.scale_interval
        )
            }
            crate::scenario::Architecture::Livekit => format!(
                "LiveKit: forwardRTP per layer, DownTrackSpreader threshold {} over NumCPU {} taking {} at a time, NACK {}",
                f.spreader_threshold,
                sc.num_cpu(),
                f.spreader_step,
                if f.nack { "on" } else { "off" }
            ),
        };
    let plural = |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let video = if sc.video.enabled {
        format!(" · video {} fps", sc.video.fps)
    } else {
        String::new()
    };
    format!(
        "{} × {}{} · audio {} fps{video} · {arch}",
        plural(sc.rooms.count, "room", "rooms"),
        plural(sc.rooms.hosts_per_room, "host", "hosts"),
        if sc.rooms.listeners > 0 {
            format!(" + {}", plural(sc.rooms.listeners, "listener", "listeners"))
        } else {
            String::new()
        },
        sc.audio.fps
    )
}

fn room_section(
    s: &mut String,
    sc: &Scenario,
    m: &crate::workload::room::RoomMetrics,
    cpu_ns: u64,
    end: SimTime,
) {
    let f = &sc.forwarding;
    let _ = writeln!(s, "\nframes");
    let mut t = Table::new(&[
        "published",
        "arrived",
        "read",
        "dropped",
        "forwarded",
        "copies out",
        "drop rate",
    ]);
    let drop_rate = if m.read == 0 {
        0.0
    } else {
        100.0 * m.dropped as f64 / m.read as f64
    };
    t.row(vec![
        m.published.to_string(),
        m.arrived.to_string(),
        m.read.to_string(),
        m.dropped.to_string(),
        m.forwarded_frames.to_string(),
        m.forwarded_copies.to_string(),
        format!("{drop_rate:.2}%"),
    ]);
    s.push_str(&t.render("  "));
    let copies = m.forwarded_copies + m.retransmitted;
    if copies > 0 {
        let _ = writeln!(
            s,
            "  server CPU per packet out: {:.1} us ({:.3} CPU-s for {copies} packets; the LiveKit benchmark implies 13 audio, 18 meeting, 26 livestream)",
            cpu_ns as f64 / 1e3 / copies as f64,
            cpu_ns as f64 / 1e9
        );
    }
    let _ = writeln!(s, "\nlatency per frame (ms)");
    let mut t = Table::new(&["", "P50", "P99", "max", "mean"]);
    for (name, h) in [
        ("arrival → forwarded", &m.forward_latency),
        ("capture → forwarded", &m.end_to_end),
    ] {
        t.row(latency_row(name, h));
    }
    s.push_str(&t.render("  "));
    if sc.degrade.enabled {
        let _ = writeln!(
            s,
            "\ndegradation: {} video packets shed while video forwarding waited more than {}",
            m.video_shed, sc.degrade.max_queue_delay
        );
        timeline(s, "video breaker timeline", &m.degrade_transitions);
        match &m.degrade_levels {
            None => {
                let open = crate::workload::degrade::time_open(&m.degrade_transitions, end);
                let _ = writeln!(s, "  video paused (breaker open) for {open} in all");
            }
            Some((layers, tl)) => {
                let name = |lv: u8| match lv {
                    0 => "top layer".to_string(),
                    x if x == *layers => "paused".to_string(),
                    x => format!("layer {x}"),
                };
                let steps: Vec<String> = tl
                    .iter()
                    .take(16)
                    .map(|(t, lv)| format!("{} at {t}", name(*lv)))
                    .collect();
                let _ = writeln!(s, "  video level: {}", steps.join(" → "));
                let per = crate::workload::degrade::time_per_level(*layers, tl, end);
                let shares: Vec<String> = per
                    .iter()
                    .enumerate()
                    .map(|(i, d)| format!("{} {d}", name(i as u8)))
                    .collect();
                let _ = writeln!(s, "  time per level: {}", shares.join(" · "));
            }
        }
    }
    if f.architecture == crate::scenario::Architecture::Livekit {
        let _ = writeln!(
            s,
            "\nNACK: {} sequence numbers NACKed, {} retransmitted, {} no longer held",
            m.nacked, m.retransmitted, m.rtx_missing
        );
    }
    if f.architecture == crate::scenario::Architecture::Split {
        let w = &m.video_workers;
        let mut at = Vec::new();
        let mut t = SimTime::ZERO;
        while t <= SimTime::ZERO + sc.run.duration && at.len() < 60 {
            at.push(w.at(t).to_string());
            t += f.scale_interval;
        }
        let _ = writeln!(
            s,
            "\nelastic video workers: {} started, {} stopped, peak {}; alive every {}: {}",
            w.started,
            w.stopped,
            w.max,
            f.scale_interval,
            at.join(" ")
        );
    }
    qoe_section(s, m);
}

/// A breaker's state changes, the first 20 of them.
fn timeline(s: &mut String, title: &str, transitions: &[crate::server::breaker::Transition]) {
    let _ = writeln!(s, "\n{title} ({} state changes):", transitions.len());
    for tr in transitions.iter().take(20) {
        let _ = writeln!(s, "  {:>10}  {} → {}", tr.at.to_string(), tr.from, tr.to);
    }
    if transitions.len() > 20 {
        let _ = writeln!(s, "  … {} more", transitions.len() - 20);
    }
}

/// Share of recorded values at or below `limit_ns`.
fn share_below(h: &Histogram<u64>, limit_ns: u64) -> String {
    if h.is_empty() {
        return "-".into();
    }
    format!(
        "{:.1}%",
        100.0 * h.count_between(0, limit_ns) as f64 / h.len() as f64
    )
}

fn qoe_section(s: &mut String, m: &crate::workload::room::RoomMetrics) {
    use crate::media::rtp::MediaKind;
    let _ = writeln!(
        s,
        "\nquality of experience at the participants (capture → playout; docs/metrics.md)"
    );
    let mut t = Table::new(&[
        "",
        "streams",
        "packets",
        "lost",
        "late",
        "jitter ms",
        "P50 ms",
        "P95 ms",
        "P99 ms",
        "max ms",
        "≤150ms",
        "≤200ms",
        "≤400ms",
        "frames lost",
        "freezes",
        "kbit/s",
    ]);
    for (name, kind) in [("audio", MediaKind::Audio), ("video", MediaKind::Video)] {
        let Some((q, n, jitter)) = m.aggregate(kind) else {
            continue;
        };
        let h = &q.latency.to_hdr();
        // Sums `f` over every received stream of this kind, across all players.
        let sum = |f: &dyn Fn(&crate::media::qoe::StreamQoe) -> f64| -> f64 {
            m.players
                .iter()
                .map(|p| {
                    p.borrow()
                        .streams()
                        .filter(|x| x.kind == kind)
                        .map(f)
                        .sum::<f64>()
                })
                .sum()
        };
        let lost = sum(&|x| x.packets_lost() as f64) as i64;
        let kbps = sum(&|x| x.kbps()) / n.max(1) as f64;
        t.row(vec![
            name.into(),
            n.to_string(),
            q.packets_received.to_string(),
            lost.to_string(),
            q.packets_late.to_string(),
            format!("{:.2}", jitter * 1e3),
            ms(pct(h, 0.5)),
            ms(pct(h, 0.95)),
            ms(pct(h, 0.99)),
            ms(h.max()),
            share_below(h, 150_000_000),
            share_below(h, 200_000_000),
            share_below(h, 400_000_000),
            q.frames_dropped.to_string(),
            format!("{} ({})", q.freeze_count, q.total_freezes_duration),
            format!("{kbps:.0}"),
        ]);
    }
    s.push_str(&t.render("  "));
    let streams: usize = m.players.iter().map(|p| p.borrow().streams().count()).sum();
    if streams > 1 {
        let show = streams.min(6);
        let _ = writeln!(s, "  per stream (first {show} of {streams}):");
        let mut t = Table::new(&[
            "player",
            "ssrc",
            "kind",
            "packets",
            "lost",
            "jitter ms",
            "P50 ms",
            "P99 ms",
            "frames lost",
            "freezes",
            "jb delay ms",
        ]);
        let shown = m.players.iter().flat_map(|p| {
            let p = p.borrow();
            let who = p.participant;
            let rows: Vec<Vec<String>> = p.streams().map(|q| stream_row(who, q)).collect();
            rows
        });
        for row in shown.take(show) {
            t.row(row);
        }
        s.push_str(&t.render("    "));
    }
}

/// One line of the per-stream table.
fn stream_row(who: u32, q: &crate::media::qoe::StreamQoe) -> Vec<String> {
    vec![
        who.to_string(),
        q.ssrc.to_string(),
        format!("{:?}", q.kind).to_lowercase(),
        q.packets_received.to_string(),
        q.packets_lost().to_string(),
        format!("{:.2}", q.jitter.seconds() * 1e3),
        ms(q.latency.value_at_quantile(0.5)),
        ms(q.latency.value_at_quantile(0.99)),
        q.frames_dropped.to_string(),
        q.freeze_count.to_string(),
        q.jitter_buffer_delay
            .as_nanos()
            .checked_div(q.frames_rendered)
            .map_or("-".into(), ms),
    ]
}

fn latency_row(name: &str, h: &Histogram<u64>) -> Vec<String> {
    vec![
        name.to_string(),
        ms(pct(h, 0.50)),
        ms(pct(h, 0.99)),
        ms(h.max()),
        ms(if h.is_empty() {
            0
        } else {
            h.mean().round() as u64
        }),
    ]
}

fn burst_section(s: &mut String, m: &crate::workload::burst::BurstMetrics) {
    let _ = writeln!(s, "\nrequests: {} in {} bursts", m.requests, m.bursts);
    let mut t = Table::new(&["(ms)", "P50", "P99", "max", "mean"]);
    t.row(latency_row("burst start → done", &m.latency));
    t.row(latency_row("lost to stop-the-world", &m.stw_lost));
    t.row(latency_row("spent in mark assists", &m.assist));
    s.push_str(&t.render("  "));
    let share = |n: u64| {
        if m.requests == 0 {
            0.0
        } else {
            100.0 * n as f64 / m.requests as f64
        }
    };
    let _ = writeln!(
        s,
        "  {:.1}% of requests sat through a stop-the-world pause; {:.1}% assisted the GC",
        share(m.requests_hit_by_stw),
        share(m.requests_assisting)
    );
}

fn signalling_section(s: &mut String, m: &crate::workload::signalling::SignallingMetrics) {
    for (title, leaks) in [
        (
            "goroutines still alive when main returned (goleak-style)",
            &m.still_alive,
        ),
        ("goroutines blocked on unreachable channels", &m.unreachable),
    ] {
        let _ = writeln!(s, "\n{title}: {}", leaks.len());
        if leaks.is_empty() {
            continue;
        }
        let mut t = Table::new(&[
            "function",
            "created by",
            "waiting on",
            "count",
            "longest wait",
        ]);
        for (f, by, reason, n, w) in crate::leak::by_site(leaks) {
            t.row(vec![
                f.into(),
                by.into(),
                reason.as_str().into(),
                n.to_string(),
                w.to_string(),
            ]);
        }
        s.push_str(&t.render("  "));
        let _ = writeln!(s, "  first: {}", leaks[0]);
    }
}

fn runtime_section(s: &mut String, sim: &Sim, out: &RunOutcome) {
    sim.runtime(0, |rt| {
        let secs = out.now.since_start().as_secs_f64().max(1e-9);
        let _ = writeln!(s, "\nper-P utilisation (share of {} simulated)", out.now.since_start());
        let times = rt.p_times();
        let gc = rt.p_gc_times();
        let mut header = vec!["".to_string()];
        header.extend((0..times.len()).map(|i| format!("P{i}")));
        let mut t = Table { rows: vec![header] };
        let mut user = vec!["running goroutines".to_string()];
        let mut sched = vec!["in the scheduler".to_string()];
        let mut gcrow = vec!["GC mark workers".to_string()];
        for (i, (u, sc)) in times.iter().enumerate() {
            user.push(format!("{:.2}%", 100.0 * u.as_secs_f64() / secs));
            sched.push(format!("{:.2}%", 100.0 * sc.as_secs_f64() / secs));
            gcrow.push(format!("{:.2}%", 100.0 * gc[i].as_secs_f64() / secs));
        }
        t.row(user);
        t.row(sched);
        t.row(gcrow);
        s.push_str(&t.render("  "));
        let st = &rt.stats;
        let _ = writeln!(s, "\nscheduler");
        let mut t = Table::new(&["switches", "steals (Gs)", "preemptions", "Gosched", "global puts", "netpoll (blocking)", "spinning Ms", "threads"]);
        t.row(vec![
            st.context_switches.to_string(),
            format!("{} ({})", st.steals, st.stolen_gs),
            st.preemptions.to_string(),
            st.goscheds.to_string(),
            st.global_puts.to_string(),
            format!("{} ({})", st.netpolls, st.netpoll_blocks),
            st.spinning_starts.to_string(),
            st.threads.to_string(),
        ]);
        s.push_str(&t.render("  "));
        let lost = rt.stall_time();
        if !lost.is_zero() {
            let _ = writeln!(
                s,
                "  stalls (not GC): the host was stopped {lost} in {} stalls ({} cgroup-throttled periods)",
                rt.stats.stall_freezes,
                rt.throttled_periods()
            );
        }
        let h = &rt.sched_latency;
        let _ = writeln!(
            s,
            "  goroutines: {} created, {} live at the end · runnable→running P50 {} us, P99 {} us, max {} us",
            st.goroutines_created,
            rt.live_goroutines(),
            us(pct(h, 0.5)),
            us(pct(h, 0.99)),
            us(h.max())
        );
        if st.lockedm_handoffs > 0 {
            let _ = writeln!(
                s,
                "  LockOSThread: {} Ms locked at the end · {} P hand-offs to or from locked Ms (startlockedm/stoplockedm)",
                st.locked_ms, st.lockedm_handoffs
            );
        }
        if rt.gomaxprocs_log.len() > 1 {
            let steps: Vec<String> = rt
                .gomaxprocs_log
                .iter()
                .take(12)
                .map(|(t, n)| format!("{n} at {t}"))
                .collect();
            let _ = writeln!(s, "  GOMAXPROCS over time: {}", steps.join(" → "));
        }
        if let Some(topo) = &rt.cfg.topology {
            let _ = writeln!(
                s,
                "  topology: {} sockets × {} L3 × {} cores × {} threads · steals across L3 domains {}, across sockets {}",
                topo.sockets,
                topo.l3_per_socket,
                topo.cores_per_l3,
                topo.threads_per_core,
                st.steals_cross_l3,
                st.steals_cross_socket
            );
        }
    });
}

/// Compresses `values` to at most `width` columns (means of runs) and draws them with `ramp`.
fn strip(values: &[f64], width: usize, ramp: &[char]) -> String {
    if values.is_empty() {
        return String::new();
    }
    let per = values.len().div_ceil(width);
    values
        .chunks(per)
        .map(|c| {
            let v = (c.iter().sum::<f64>() / c.len() as f64).clamp(0.0, 1.0);
            ramp[((v * (ramp.len() - 1) as f64).round() as usize).min(ramp.len() - 1)]
        })
        .collect()
}

/// §3.1's lifecycle view: the goroutine count over time, and per class the share of time in
/// each state with a heat strip of the running share over time.
fn census_section(s: &mut String, sim: &Sim, end: SimTime) {
    sim.runtime(0, |rt| {
        let classes = rt.census_classes();
        if classes.is_empty() {
            return;
        }
        let live = rt.census_live_series(end);
        let peak = live.iter().copied().max().unwrap_or(0).max(1);
        let spark: Vec<f64> = live.iter().map(|&n| n as f64 / peak as f64).collect();
        let ramp = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let _ = writeln!(
            s,
            "\ngoroutines over time (peak {peak}, {} per column): {}",
            crate::goruntime::census::BUCKET * (live.len().div_ceil(48).max(1) as u64),
            strip(&spark, 48, &ramp)
        );
        let mut t = Table::new(&[
            "class",
            "created",
            "max live",
            "live at end",
            "runnable",
            "running",
            "waiting",
            "running over time",
        ]);
        for c in classes {
            let tot: [u64; 3] = c
                .buckets
                .iter()
                .fold([0; 3], |a, b| [a[0] + b[0], a[1] + b[1], a[2] + b[2]]);
            let all = (tot[0] + tot[1] + tot[2]).max(1) as f64;
            let heat = c.running_share_to(end);
            t.row(vec![
                c.name.to_string(),
                c.created.to_string(),
                c.max_live.to_string(),
                c.live.to_string(),
                format!("{:.1}%", 100.0 * tot[0] as f64 / all),
                format!("{:.1}%", 100.0 * tot[1] as f64 / all),
                format!("{:.1}%", 100.0 * tot[2] as f64 / all),
                strip(&heat, 32, &[' ', '░', '▒', '▓', '█']),
            ]);
        }
        s.push_str(&t.render("  "));
        // §3.1's table: mean residence per lifecycle phase, and its share of transitions.
        let _ = writeln!(
            s,
            "\nlifecycle phases (§3.1): mean time per phase, share of all phase transitions"
        );
        let mut head = vec!["class"];
        head.extend(crate::goruntime::census::PHASES);
        let mut t = Table::new(&head);
        let total: u64 = classes
            .iter()
            .flat_map(|c| c.phases.iter().map(|p| p.0))
            .sum::<u64>()
            .max(1);
        for c in classes {
            let mut row = vec![c.name.to_string()];
            for &(n, ns) in &c.phases {
                row.push(match ns.checked_div(n) {
                    None => "-".into(),
                    Some(mean) => format!(
                        "{} ({:.0}%)",
                        SimDuration::from_nanos(mean),
                        100.0 * n as f64 / total as f64
                    ),
                });
            }
            t.row(row);
        }
        s.push_str(&t.render("  "));
    });
}

fn gc_section(s: &mut String, sim: &Sim, out: &RunOutcome) {
    sim.runtime(0, |rt| {
        let g = rt.gc_stats();
        if g.total_alloc == 0 && g.cycles.is_empty() {
            return;
        }
        let secs = out.now.since_start().as_secs_f64().max(1e-9);
        let procs = rt.gomaxprocs() as f64;
        let _ = writeln!(s, "\ngarbage collector");
        let mut t = Table::new(&[
            "cycles",
            "pauses/s",
            "STW P50 us",
            "P99 us",
            "max us",
            "STW total",
            "GC CPU",
            "assists",
            "heap peak MiB",
            "allocated MiB",
            "pool hits",
        ]);
        let pool = if g.pool_gets == 0 {
            "-".to_string()
        } else {
            format!(
                "{:.1}% of {}",
                100.0 * g.pool_hits as f64 / g.pool_gets as f64,
                g.pool_gets
            )
        };
        t.row(vec![
            g.cycles.len().to_string(),
            format!("{:.1}", g.stw.len() as f64 / secs),
            us(pct(&g.stw, 0.5)),
            us(pct(&g.stw, 0.99)),
            us(g.stw.max()),
            g.stw_total.to_string(),
            format!("{:.1}%", 100.0 * g.gc_cpu.as_secs_f64() / (secs * procs)),
            g.assist_total.to_string(),
            mib(g.heap_peak),
            mib(g.total_alloc),
            pool,
        ]);
        s.push_str(&t.render("  "));
        if !g.cycles.is_empty() {
            let n = g.cycles.len();
            let step = n.div_ceil(8);
            let _ = writeln!(
                s,
                "  heap over time (every {step}{} cycle):",
                if step == 1 { "" } else { "th" }
            );
            let mut t = Table::new(&[
                "cycle",
                "at",
                "trigger MiB",
                "goal MiB",
                "peak MiB",
                "marked MiB",
                "mark",
                "assist",
                "limiter",
            ]);
            for (i, c) in g
                .cycles
                .iter()
                .enumerate()
                .filter(|(i, _)| i % step == 0 || *i == n - 1)
            {
                t.row(vec![
                    (i + 1).to_string(),
                    c.start.to_string(),
                    mib(c.trigger),
                    mib(c.goal),
                    mib(c.peak),
                    mib(c.marked),
                    c.end.saturating_since(c.start).to_string(),
                    c.assist.to_string(),
                    if c.limiter_on { "on".into() } else { "".into() },
                ]);
            }
            s.push_str(&t.render("    "));
        }
    });
}

/// One line per variant, for matrices: the figures to compare. Latency is end to end as each
/// workload defines it: capture → playout of audio for rooms, burst start → done for requests.
pub fn comparison(rows: &[(String, &Scenario, &Ran)]) -> String {
    let mut t = Table::new(&[
        "variant",
        "mean ms",
        "P50 ms",
        "P99 ms",
        "max ms",
        "≤200ms",
        "lost",
        "GC cycles",
        "STW P99 us",
        "GC CPU",
        "heap peak MiB",
        "pool hits",
        "digest",
    ]);
    for (label, _sc, ran) in rows {
        let (lat, lost) = match &ran.measured {
            Measured::Room(m) => {
                let m = m.borrow();
                match m.aggregate(crate::media::rtp::MediaKind::Audio) {
                    Some((q, _, _)) => {
                        let expected = q.frames_rendered + q.frames_dropped;
                        let lost = if expected == 0 {
                            "-".into()
                        } else {
                            format!("{:.2}%", 100.0 * q.frames_dropped as f64 / expected as f64)
                        };
                        (Some(q.latency.to_hdr()), lost)
                    }
                    None => (None, "-".into()),
                }
            }
            Measured::Burst(m) => (Some(m.borrow().latency.clone()), "-".into()),
            Measured::Signalling(m) => (None, format!("{} leaked", m.unreachable.len())),
            Measured::Gosched(m) => (Some(m.borrow().latency.clone()), "-".into()),
            Measured::Breaker(m) => {
                let m = m.borrow();
                (
                    Some(m.latency.clone()),
                    format!(
                        "{} refused, {} flips",
                        m.refused_open + m.refused_half_open,
                        m.transitions.len()
                    ),
                )
            }
            Measured::Alloc => (None, "-".into()),
        };
        let cols = match &lat {
            Some(h) if !h.is_empty() => vec![
                ms(h.mean().round() as u64),
                ms(pct(h, 0.5)),
                ms(pct(h, 0.99)),
                ms(h.max()),
                share_below(h, 200_000_000),
            ],
            _ => vec!["-".into(); 5],
        };
        ran.sim.runtime(0, |rt| {
            let g = rt.gc_stats();
            let secs = ran.out.now.since_start().as_secs_f64().max(1e-9);
            let mut row = vec![label.clone()];
            row.extend(cols);
            row.extend([
                lost,
                g.cycles.len().to_string(),
                us(pct(&g.stw, 0.99)),
                format!(
                    "{:.1}%",
                    100.0 * g.gc_cpu.as_secs_f64() / (secs * rt.gomaxprocs() as f64)
                ),
                mib(g.heap_peak),
                if g.pool_gets == 0 {
                    "-".into()
                } else {
                    format!("{:.1}%", 100.0 * g.pool_hits as f64 / g.pool_gets as f64)
                },
                format!("{:016x}", ran.out.digest),
            ]);
            t.row(row);
        });
    }
    t.render("  ")
}
