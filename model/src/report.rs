//! Terminal reports. Everything printed is a function of the run, never of the wall clock, so
//! one seed gives one report, byte for byte.

use crate::goruntime::GcPercent;
use crate::scenario::Scenario;
use crate::workload::Ran;
use crate::world::{RunOutcome, Sim};
use costream_sim::{SimDuration, SimTime};
use std::fmt::Write as _;

pub use crate::table::Table;
use crate::table::{mib, ms, pct, share_below, us};

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
        "seed {seed} · {} simulated · Go {} · GOMAXPROCS {} · GOGC {gogc} · GOMEMLIMIT {limit}",
        ran.out.now.since_start(),
        sc.server.go_version,
        sc.server.gomaxprocs
    ));
    lines.extend(ran.workload.summary(sc, ran));
    lines
}

/// The full report of one run: what the workload measured, the runtime, the GC, the end.
pub fn report(sc: &Scenario, seed: u64, label: &str, ran: &Ran) -> String {
    let mut s = String::new();
    for line in header(sc, seed, label, ran) {
        let _ = writeln!(s, "{line}");
    }
    ran.workload.report(&mut s, sc, ran);
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

fn runtime_section(s: &mut String, sim: &Sim, out: &RunOutcome) {
    sim.runtime(0, |rt| {
        let secs = out.now.since_start().as_secs_f64().max(1e-9);
        let _ = writeln!(s, "\nper-P utilisation (share of {} simulated)", out.now.since_start());
        let times = rt.p_times();
        let gc = rt.p_gc_times();
        let mut header = vec!["".to_string()];
        header.extend((0..times.len()).map(|i| format!("P{i}")));
        let mut t = Table::with_header(header);
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
        let (lat, lost) = ran.workload.comparison(ran);
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
