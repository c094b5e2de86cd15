//! Terminal reports. Everything printed is a function of the run, never of the wall clock, so
//! one seed gives one report, byte for byte.

use crate::scenario::{Handoff, Scenario};
use crate::workload::room::RoomMetrics;
use crate::world::{RunOutcome, Sim};
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

/// The report of a room scenario run.
pub fn room_report(
    sc: &Scenario,
    seed: u64,
    sim: &Sim,
    out: &RunOutcome,
    m: &RoomMetrics,
) -> String {
    let mut s = String::new();
    let handoff = match sc.forwarding.handoff {
        Handoff::Blocking => "blocking",
        Handoff::Nonblocking => "non-blocking (drop when full)",
    };
    let _ = writeln!(
        s,
        "costream · {}{}",
        sc.name,
        if sc.description.is_empty() {
            String::new()
        } else {
            format!(" — {}", sc.description)
        }
    );
    let _ = writeln!(
        s,
        "seed {seed} · {} simulated · GOMAXPROCS {} · {} room(s) × {} hosts · audio {} fps · hand-off {handoff}, capacity {}",
        out.now.since_start(),
        sc.server.gomaxprocs,
        sc.rooms.count,
        sc.rooms.hosts_per_room,
        sc.audio.fps,
        sc.forwarding.channel_capacity
    );
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
    let _ = writeln!(s, "\nlatency per frame (ms)");
    let mut t = Table::new(&["", "P50", "P99", "max", "mean"]);
    for (name, h) in [
        ("arrival → forwarded", &m.forward_latency),
        ("capture → forwarded", &m.end_to_end),
    ] {
        t.row(vec![
            name.to_string(),
            ms(pct(h, 0.50)),
            ms(pct(h, 0.99)),
            ms(h.max()),
            ms(if h.is_empty() {
                0
            } else {
                h.mean().round() as u64
            }),
        ]);
    }
    s.push_str(&t.render("  "));
    sim.runtime(0, |rt| {
        let secs = out.now.since_start().as_secs_f64().max(1e-9);
        let _ = writeln!(s, "\nper-P utilisation (share of {} simulated)", out.now.since_start());
        let times = rt.p_times();
        let mut header = vec!["".to_string()];
        header.extend((0..times.len()).map(|i| format!("P{i}")));
        let mut t = Table { rows: vec![header] };
        let mut user = vec!["running goroutines".to_string()];
        let mut sched = vec!["in the scheduler".to_string()];
        for (u, sc) in &times {
            user.push(format!("{:.2}%", 100.0 * u.as_secs_f64() / secs));
            sched.push(format!("{:.2}%", 100.0 * sc.as_secs_f64() / secs));
        }
        t.row(user);
        t.row(sched);
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
        let h = &rt.sched_latency;
        let _ = writeln!(
            s,
            "  goroutines: {} created, {} live at the end · runnable→running P50 {:.1} us, P99 {:.1} us, max {:.1} us",
            st.goroutines_created,
            rt.live_goroutines(),
            pct(h, 0.5) as f64 / 1e3,
            pct(h, 0.99) as f64 / 1e3,
            h.max() as f64 / 1e3
        );
    });
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
