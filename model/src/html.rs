//! A self-contained HTML report with plots (inline SVG, no scripts): latency CDFs, goroutines
//! and heap over time, GC pauses and stalls on the timeline, a per-P utilisation heat map and
//! the goroutine lifecycle heat map, followed by the full text report.

use crate::goruntime::census::BUCKET;
use crate::goruntime::FreezeCause;
use crate::media::rtp::MediaKind;
use crate::scenario::Scenario;
use crate::workload::{Measured, Ran};
use hdrhistogram::Histogram;
use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 220.0;
const PAD: f64 = 48.0;
const COLORS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart of `series` (name, points), with the axes' ranges as labels.
fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return format!("<h3>{}</h3><p>(no data)</p>", esc(title));
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let sx = |x: f64| PAD + (x - x0) / (x1 - x0) * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD + -(y - y0) / (y1 - y0) * (H - 2.0 * PAD);
    let mut s = format!(
        "<h3>{}</h3><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" role=\"img\">",
        esc(title)
    );
    let _ = write!(
        s,
        "<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/><line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#444\"/>",
        b = H - PAD,
        r = W - PAD
    );
    let _ = write!(
        s,
        "<text x=\"{PAD}\" y=\"{}\" font-size=\"11\">{x0:.3}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{x1:.3}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
        H - PAD + 14.0,
        W - PAD,
        H - PAD + 14.0,
        W / 2.0,
        H - 8.0,
        esc(x_label)
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{y0:.3}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{y1:.3}</text><text x=\"4\" y=\"{}\" font-size=\"11\">{}</text>",
        PAD - 4.0,
        H - PAD,
        PAD - 4.0,
        PAD + 4.0,
        PAD - 16.0,
        esc(y_label)
    );
    for (i, (name, p)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let path: Vec<String> = p
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" points=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{c}\">{}</text>",
            path.join(" "),
            W - PAD - 150.0,
            PAD + 14.0 * i as f64,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A heat map: one row per label, one cell per bucket, darker for values nearer 1.
fn heat_map(title: &str, rows: &[(String, Vec<f64>)]) -> String {
    let cols = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(1);
    let cell_w = ((W - 160.0) / cols as f64).max(1.0);
    let cell_h = 14.0;
    let h = cell_h * rows.len() as f64 + 24.0;
    let mut s = format!(
        "<h3>{}</h3><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" role=\"img\">",
        esc(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = i as f64 * cell_h;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"10\">{}</text>",
            y + 11.0,
            esc(label)
        );
        for (j, &x) in v.iter().enumerate() {
            let a = x.clamp(0.0, 1.0);
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"#08306b\" fill-opacity=\"{a:.3}\"/>",
                160.0 + j as f64 * cell_w,
                cell_w,
                cell_h - 1.0
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"160\" y=\"{}\" font-size=\"10\">each column is {BUCKET} of simulated time; darker is busier</text></svg>",
        h - 6.0
    );
    s
}

fn cdf(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    (0..=100)
        .map(|q| q as f64 / 100.0)
        .chain([0.995, 0.999])
        .map(|q| (h.value_at_quantile(q) as f64 / 1e6, q))
        .collect::<Vec<_>>()
}

/// The HTML report of one run.
pub fn html_report(sc: &Scenario, seed: u64, label: &str, ran: &Ran) -> String {
    let mut body = String::new();
    // Latency CDFs.
    if let Measured::Room(m) = &ran.measured {
        let m = m.borrow();
        let mut series = Vec::new();
        for (name, kind) in [
            ("audio capture → playout", MediaKind::Audio),
            ("video capture → render", MediaKind::Video),
        ] {
            if let Some((q, _, _)) = m.aggregate(kind) {
                series.push((name.to_string(), cdf(&q.latency.to_hdr())));
            }
        }
        series.push((
            "arrival → forwarded (server)".into(),
            cdf(&m.forward_latency),
        ));
        body += &line_chart("Latency CDF", "milliseconds", "share of frames", &series);
    }
    let b = BUCKET.as_secs_f64();
    ran.sim.runtime(0, |rt| {
        // Goroutines over time.
        let live: Vec<(f64, f64)> = rt
            .census_live_max()
            .iter()
            .enumerate()
            .map(|(i, &n)| (i as f64 * b, n as f64))
            .collect();
        body += &line_chart("Goroutines over time", "seconds", "goroutines (peak per bucket)", &[("alive".into(), live)]);
        // Heap over time, per GC cycle.
        let cycles = &rt.gc_stats().cycles;
        if !cycles.is_empty() {
            let mib = |x: u64| x as f64 / (1u64 << 20) as f64;
            let at = |c: &crate::goruntime::mgc::GcCycle| c.end.since_start().as_secs_f64();
            body += &line_chart(
                "Heap over time (per GC cycle)",
                "seconds",
                "MiB",
                &[
                    ("peak".into(), cycles.iter().map(|c| (at(c), mib(c.peak))).collect()),
                    ("goal".into(), cycles.iter().map(|c| (at(c), mib(c.goal))).collect()),
                    ("marked".into(), cycles.iter().map(|c| (at(c), mib(c.marked))).collect()),
                ],
            );
        }
        // GC pauses and stalls on the timeline.
        let end = ran.out.now.since_start().as_secs_f64().max(1e-9);
        let mut tl = format!(
            "<h3>Stop-the-world pauses and stalls</h3><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"60\" role=\"img\"><line x1=\"0\" y1=\"30\" x2=\"{W}\" y2=\"30\" stroke=\"#999\"/>"
        );
        for &(at, d, cause) in &rt.stats.freezes {
            let (c, y) = match cause {
                FreezeCause::GcStw => ("#d62728", 12.0),
                FreezeCause::Stall => ("#ff7f0e", 32.0),
                FreezeCause::Procresize => ("#9467bd", 22.0),
            };
            let x = at.since_start().as_secs_f64() / end * W;
            let w = (d.as_secs_f64() / end * W).max(1.0);
            let _ = write!(tl, "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{c}\"><title>{cause:?} {d} at {at}</title></rect>");
        }
        let _ = write!(
            tl,
            "<text x=\"0\" y=\"58\" font-size=\"10\">red: GC stop-the-world · orange: stalls (host pauses, cgroup throttling) · purple: GOMAXPROCS · {} pauses over {:.3} s</text></svg>",
            rt.stats.freezes.len(),
            end
        );
        body += &tl;
        // Per-P utilisation heat map.
        let w = BUCKET.as_nanos() as f64;
        let rows: Vec<(String, Vec<f64>)> = rt
            .p_busy_buckets()
            .into_iter()
            .enumerate()
            .map(|(p, v)| (format!("P{p}"), v.iter().map(|&x| x as f64 / w).collect()))
            .collect();
        body += &heat_map("Per-P utilisation (running goroutines or marking)", &rows);
        // Goroutine lifecycle heat map: share of each class's time running, per bucket.
        let rows: Vec<(String, Vec<f64>)> = rt
            .census_classes()
            .iter()
            .map(|c| (c.name.to_string(), c.running_share()))
            .collect();
        body += &heat_map("Goroutine lifecycle: share of each class's time running", &rows);
    });
    let text = crate::report::report(sc, seed, label, ran);
    let mut head = crate::report::header(sc, seed, label, ran).into_iter();
    let title = head.next().unwrap_or_default();
    let lines: String = head.map(|l| format!("<p>{}</p>", esc(&l))).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>costream · {name}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;color:#222}}pre{{font-size:11px;overflow-x:auto;background:#f7f7f7;padding:8px}}h3{{margin:24px 0 4px}}header p{{margin:2px 0}}</style></head>\
<body><header><h1>{title}</h1>{lines}<p>digest <code>{digest:016x}</code> · {end}</p></header>{body}<h2>Report</h2><pre>{text}</pre></body></html>\n",
        name = esc(&sc.name),
        title = esc(&title),
        digest = ran.out.digest,
        end = esc(&ran.out.end.to_string()),
        text = esc(&text),
    )
}
