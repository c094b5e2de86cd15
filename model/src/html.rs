//! A self-contained HTML report with plots (inline SVG, no scripts). It opens with the
//! workload's headline plots (latency tails for media, bursts and Gosched; breaker states and
//! request outcomes; leaked goroutines; the heap for the allocation loop), then the runtime's
//! plots (goroutines and heap over time, pauses and stalls, a per-P utilisation heat map and the
//! goroutine lifecycle heat map), then the full text report.
//!
//! Every plot over time spans the whole run, 0 to the simulated end, as a step line: a constant
//! value is a flat line across the run, not a point. Latency is drawn as a tail plot: the share
//! of samples slower than x (1 − CDF) on a log axis, with P50, P95 and P99 marked and labelled.
//!
//! The SVG says what it draws, for tests and browsers alike: each plot's `<svg>` has
//! `data-plot` (its name), `data-x-min`/`data-x-max` (its x range, in data units) and
//! `data-y-scale`; lines are `<path class="series">`, the x axis is `<line class="x-axis">`
//! with `<text class="x-tick">` labels, percentile marks are `<g class="pct" data-q="0.99">`,
//! breaker states are `<rect class="state" data-state="open">`.

use crate::goruntime::census::BUCKET;
use crate::goruntime::FreezeCause;
use crate::scenario::Scenario;
use crate::workload::Ran;

pub use crate::plot::secs_label;
use crate::plot::{bucket, bucket_steps, esc, heap_plot, heat_map, lanes_plot, time_plot, Span};

/// The workload's headline plots: its main result.
fn headline(sc: &Scenario, ran: &Ran) -> (String, String) {
    let mut s = String::new();
    let what = ran.workload.headline(sc, ran, &mut s);
    (what.to_string(), s)
}

/// The HTML report of one run.
pub fn html_report(sc: &Scenario, seed: u64, label: &str, ran: &Ran) -> String {
    let end_t = ran.out.now;
    let end = end_t.since_start().as_secs_f64().max(1e-9);
    let (what, plots) = headline(sc, ran);
    let mut body = format!(
        "<section class=\"headline\"><h2>Headline: {}</h2>{plots}</section><section class=\"runtime\"><h2>Runtime</h2>",
        esc(&what)
    );
    ran.sim.runtime(0, |rt| {
        let n = end_t.as_nanos().div_ceil(BUCKET.as_nanos()).max(1) as usize;
        // Goroutines over time.
        let live: Vec<f64> = rt
            .census_live_series(end_t)
            .iter()
            .map(|&n| n as f64)
            .collect();
        let mut p = time_plot(
            "goroutines",
            "Goroutines over time",
            &format!("goroutines (most alive per {})", bucket()),
            end,
            vec![("alive".into(), bucket_steps(&live, end))],
        );
        p.note = format!(
            "{} created, {} alive at the end",
            rt.stats.goroutines_created,
            rt.live_goroutines()
        );
        body += &p.render();
        if !ran.workload.heap_in_headline() {
            body += &heap_plot(rt, end);
        }
        // GC pauses and stalls on the timeline.
        let lane = |c: FreezeCause| match c {
            FreezeCause::GcStw => (0, "#d62728"),
            FreezeCause::Stall => (1, "#ff7f0e"),
            FreezeCause::Procresize => (2, "#9467bd"),
        };
        let spans: Vec<Span> = rt
            .stats
            .freezes
            .iter()
            .map(|&(at, d, cause)| {
                let (l, c) = lane(cause);
                let a = at.since_start().as_secs_f64();
                (
                    l,
                    a,
                    a + d.as_secs_f64(),
                    c,
                    "freeze",
                    String::new(),
                    format!("{cause:?} {d} at {at}"),
                )
            })
            .collect();
        body += &lanes_plot(
            "pauses",
            "Stop-the-world pauses and stalls",
            end,
            &["GC stop-the-world", "stalls", "GOMAXPROCS"],
            &spans,
            1.0,
            &format!(
                "red: GC stop-the-world · orange: stalls (host pauses, cgroup throttling) · purple: GOMAXPROCS changes · {} pauses (each drawn at least 1 px wide)",
                rt.stats.freezes.len()
            ),
        );
        // Per-P utilisation heat map.
        let w = BUCKET.as_nanos() as f64;
        let rows: Vec<(String, Vec<f64>)> = rt
            .p_busy_buckets()
            .into_iter()
            .enumerate()
            .map(|(p, v)| {
                let mut v: Vec<f64> = v.iter().map(|&x| x as f64 / w).collect();
                v.resize(v.len().max(n), 0.0);
                (format!("P{p}"), v)
            })
            .collect();
        body += &heat_map(
            "p-utilisation",
            "Per-P utilisation (running goroutines or marking)",
            end,
            &rows,
        );
        // Goroutine lifecycle heat map: share of each class's time running, per bucket.
        let rows: Vec<(String, Vec<f64>)> = rt
            .census_classes()
            .iter()
            .map(|c| (c.name.to_string(), c.running_share_to(end_t)))
            .collect();
        body += &heat_map(
            "lifecycle",
            "Goroutine lifecycle: share of each class's time running",
            end,
            &rows,
        );
    });
    body += "</section>";
    let text = crate::report::report(sc, seed, label, ran);
    let mut head = crate::report::header(sc, seed, label, ran).into_iter();
    let title = head.next().unwrap_or_default();
    let lines: String = head.map(|l| format!("<p>{}</p>", esc(&l))).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>costream · {name}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;color:#222}}pre{{font-size:11px;overflow-x:auto;background:#f7f7f7;padding:8px}}h3{{margin:24px 0 4px}}header p{{margin:2px 0}}p.note{{font-size:12px;color:#555;margin:2px 0 0;max-width:640px}}</style></head>\
<body><header><h1>{title}</h1>{lines}<p>digest <code>{digest:016x}</code> · {end}</p></header>{body}<h2>Report</h2><pre>{text}</pre></body></html>\n",
        name = esc(&sc.name),
        title = esc(&title),
        digest = ran.out.digest,
        end = esc(&ran.out.end.to_string()),
        text = esc(&text),
    )
}
