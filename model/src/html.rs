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
use crate::media::rtp::MediaKind;
use crate::scenario::Scenario;
use crate::server::breaker::{State, Transition};
use crate::workload::{Measured, Ran};
use costream_sim::SimTime;
use hdrhistogram::Histogram;
use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 240.0;
const COLORS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number with at most `d` decimals, trailing zeros dropped: 8 → "8", 0.50 → "0.5".
fn num(v: f64, d: usize) -> String {
    let v = if v.abs() < 1e-12 { 0.0 } else { v };
    let s = format!("{v:.d$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Seconds as an axis label: "8 s", "0.5 s", "1.75 s".
pub fn secs_label(s: f64) -> String {
    format!("{} s", num(s, 3))
}

/// The census bucket as a label: "100 ms".
fn bucket() -> String {
    format!("{} ms", num(BUCKET.as_secs_f64() * 1e3, 3))
}

/// A step of 1, 2 or 5 × 10^k that cuts `span` into about `n` parts.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-12);
    let mag = 10f64.powf(raw.log10().floor());
    let r = raw / mag;
    mag * if r <= 1.0 {
        1.0
    } else if r <= 2.0 {
        2.0
    } else if r <= 5.0 {
        5.0
    } else {
        10.0
    }
}

fn decimals(step: f64) -> usize {
    (-step.log10().floor()).max(0.0) as usize
}

/// Multiples of `step` in `[lo, hi]`.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut k = (lo / step - 1e-9).ceil();
    while k * step <= hi + step * 1e-9 {
        v.push(k * step);
        k += 1.0;
    }
    v
}

/// Where a plot's data goes on the page: data ranges and the pixel box they map to.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    ylog: bool,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn new(x: (f64, f64), y: (f64, f64), ylog: bool, height: f64) -> Self {
        Frame {
            x0: x.0,
            x1: if x.1 > x.0 { x.1 } else { x.0 + 1.0 },
            y0: y.0,
            y1: if y.1 > y.0 { y.1 } else { y.0 + 1.0 },
            ylog,
            left: 64.0,
            right: W - 24.0,
            top: 16.0,
            bottom: height - 40.0,
        }
    }
    fn sx(&self, x: f64) -> f64 {
        self.left
            + (x.clamp(self.x0, self.x1) - self.x0) / (self.x1 - self.x0) * (self.right - self.left)
    }
    fn sy(&self, y: f64) -> f64 {
        let t = if self.ylog {
            let lo = self.y0.log10();
            (y.max(self.y0).log10() - lo) / (self.y1.log10() - lo)
        } else {
            (y - self.y0) / (self.y1 - self.y0)
        };
        self.bottom - t.clamp(0.0, 1.0) * (self.bottom - self.top)
    }
    fn height(&self) -> f64 {
        self.bottom + 40.0
    }
}

/// A run's time axis: 0 to `end` seconds, ticks at round values and one at `end` itself.
fn time_ticks(end: f64) -> Vec<(f64, String)> {
    let step = nice_step(end, 6.0);
    let mut t: Vec<f64> = multiples(0.0, end, step);
    if let Some(&last) = t.last() {
        if end - last > 1e-9 * end.max(1.0) {
            if end - last < 0.4 * step {
                t.pop();
            }
            t.push(end);
        }
    }
    t.into_iter().map(|x| (x, secs_label(x))).collect()
}

/// A linear value axis from 0 to a round value above `max` (which a constant line stays under).
fn value_ticks(max: f64) -> ((f64, f64), Vec<(f64, String)>) {
    let top = if max > 0.0 { max * 1.15 } else { 1.0 };
    let step = nice_step(top, 4.0);
    let hi = (top / step).ceil() * step;
    let d = decimals(step);
    let ticks = multiples(0.0, hi, step)
        .into_iter()
        .map(|v| (v, num(v, d)))
        .collect();
    ((0.0, hi), ticks)
}

/// A plot: axes, lines, marks and rectangles in one frame.
struct Plot {
    id: &'static str,
    title: String,
    x_label: String,
    y_label: String,
    frame: Frame,
    x_ticks: Vec<(f64, String)>,
    y_ticks: Vec<(f64, String)>,
    /// (name, points in data units), drawn as a path through the points.
    series: Vec<(String, Vec<(f64, f64)>)>,
    /// Percentile marks: (q, x, label).
    marks: Vec<(f64, f64, String)>,
    /// Extra SVG drawn under the lines (rectangles), already in pixels.
    under: String,
    note: String,
}

impl Plot {
    fn new(id: &'static str, title: &str, frame: Frame) -> Self {
        Plot {
            id,
            title: title.to_string(),
            x_label: String::new(),
            y_label: String::new(),
            frame,
            x_ticks: Vec::new(),
            y_ticks: Vec::new(),
            series: Vec::new(),
            marks: Vec::new(),
            under: String::new(),
            note: String::new(),
        }
    }

    fn render(&self) -> String {
        let f = &self.frame;
        let mut s = format!(
            "<h3>{}</h3><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" role=\"img\" data-plot=\"{id}\" data-x-min=\"{x0}\" data-x-max=\"{x1}\" data-y-scale=\"{scale}\"><title>{t}</title>",
            esc(&self.title),
            h = f.height(),
            id = self.id,
            x0 = f.x0,
            x1 = f.x1,
            scale = if f.ylog { "log" } else { "linear" },
            t = esc(&self.title),
        );
        // Grid and value ticks.
        for (v, label) in &self.y_ticks {
            let y = f.sy(*v);
            let _ = write!(
                s,
                "<line x1=\"{l}\" y1=\"{y:.1}\" x2=\"{r}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text class=\"y-tick\" x=\"{tx}\" y=\"{ty:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
                esc(label),
                l = f.left,
                r = f.right,
                tx = f.left - 4.0,
                ty = y + 3.5,
            );
        }
        s += &self.under;
        // Axes.
        let _ = write!(
            s,
            "<line class=\"x-axis\" x1=\"{l}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/><line class=\"y-axis\" x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{b}\" stroke=\"#444\"/>",
            l = f.left,
            r = f.right,
            t = f.top,
            b = f.bottom
        );
        let n = self.x_ticks.len();
        for (i, (v, label)) in self.x_ticks.iter().enumerate() {
            let x = f.sx(*v);
            let anchor = if i + 1 == n && (x - f.right).abs() < 1.0 {
                "end"
            } else {
                "middle"
            };
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{b}\" x2=\"{x:.1}\" y2=\"{b4}\" stroke=\"#444\"/><text class=\"x-tick\" x=\"{x:.1}\" y=\"{ty}\" font-size=\"10\" text-anchor=\"{anchor}\">{}</text>",
                esc(label),
                b = f.bottom,
                b4 = f.bottom + 4.0,
                ty = f.bottom + 15.0,
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            (f.left + f.right) / 2.0,
            f.bottom + 32.0,
            esc(&self.x_label),
            4.0,
            f.top - 4.0,
            esc(&self.y_label)
        );
        // Lines.
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            let mut d = String::new();
            let mut last = (f64::NAN, f64::NAN);
            for &(x, y) in pts {
                let p = (f.sx(x), f.sy(y));
                if (p.0 - last.0).abs() < 0.05 && (p.1 - last.1).abs() < 0.05 {
                    continue;
                }
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if d.is_empty() { "M" } else { " L" },
                    p.0,
                    p.1
                );
                last = p;
            }
            if d.is_empty() {
                continue;
            }
            let _ = write!(
                s,
                "<path class=\"series\" data-series=\"{n}\" d=\"{d}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"/>",
                n = esc(name)
            );
            if self.series.len() > 1 {
                let _ = write!(
                    s,
                    "<text class=\"legend\" x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{c}\" text-anchor=\"end\">{}</text>",
                    f.right - 4.0,
                    f.top + 12.0 + 13.0 * i as f64,
                    esc(name)
                );
            }
        }
        // Percentile marks: a dashed guide at 1 − q, a dot where the curve crosses it, a label.
        for (i, (q, x, label)) in self.marks.iter().enumerate() {
            let (px, py) = (f.sx(*x), f.sy(1.0 - q));
            let right = px > f.right - 130.0;
            let _ = write!(
                s,
                "<g class=\"pct\" data-q=\"{q}\" data-value=\"{x}\"><line x1=\"{l}\" y1=\"{py:.1}\" x2=\"{r}\" y2=\"{py:.1}\" stroke=\"#999\" stroke-dasharray=\"3,3\"/><circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\" fill=\"{c}\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\" font-weight=\"bold\" text-anchor=\"{a}\" fill=\"#222\">{}</text></g>",
                esc(label),
                l = f.left,
                r = f.right,
                c = COLORS[i % COLORS.len()],
                tx = if right { px - 7.0 } else { px + 7.0 },
                ty = py - 4.0,
                a = if right { "end" } else { "start" },
            );
        }
        s.push_str("</svg>");
        if !self.note.is_empty() {
            let _ = write!(s, "<p class=\"note\">{}</p>", esc(&self.note));
        }
        s
    }
}

/// A placeholder where a plot has nothing to draw.
fn empty(title: &str, why: &str) -> String {
    format!("<h3>{}</h3><p>({})</p>", esc(title), esc(why))
}

/// Per-bucket values as a step line from 0 to `end` seconds.
fn bucket_steps(values: &[f64], end: f64) -> Vec<(f64, f64)> {
    let b = BUCKET.as_secs_f64();
    let mut pts = Vec::with_capacity(values.len() * 2);
    for (i, &v) in values.iter().enumerate() {
        let t0 = i as f64 * b;
        if t0 >= end {
            break;
        }
        pts.push((t0, v));
        pts.push((((i + 1) as f64 * b).min(end), v));
    }
    pts
}

/// A value that changes at `(t, v)` (in time order), held until the next change and to `end`,
/// from `start` at 0 s.
fn held_steps(start: f64, changes: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut pts = vec![(0.0, start)];
    let mut cur = start;
    for &(t, v) in changes {
        let t = t.min(end);
        pts.push((t, cur));
        pts.push((t, v));
        cur = v;
    }
    pts.push((end, cur));
    pts
}

/// A time plot: step lines over the whole run, 0 to `end` seconds.
fn time_plot(
    id: &'static str,
    title: &str,
    y_label: &str,
    end: f64,
    series: Vec<(String, Vec<(f64, f64)>)>,
) -> Plot {
    let max = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    // Headroom for the legend, one line per series beyond the first.
    let (yr, y_ticks) = value_ticks(max * (1.0 + 0.12 * series.len().saturating_sub(1) as f64));
    let mut p = Plot::new(id, title, Frame::new((0.0, end), yr, false, H));
    p.x_ticks = time_ticks(end);
    p.y_ticks = y_ticks;
    p.x_label = "simulated time".into();
    p.y_label = y_label.into();
    p.series = series;
    p
}

/// A tail plot of `h` (values in ns, drawn in ms): the share of samples slower than x, on a log
/// axis, with P50, P95 and P99 marked and labelled with their values.
fn tail_plot(id: &'static str, title: &str, h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return empty(title, "no samples");
    }
    let ms = |ns: u64| ns as f64 / 1e6;
    let n = h.len() as f64;
    // The log axis reaches one sample in N (so the slowest samples show), at least 0.1%.
    let floor = 10f64.powf((1.0 / n).log10().floor()).clamp(1e-6, 1e-3);
    let (min, max) = (ms(h.min()), ms(h.max()));
    let guess = if min < 0.25 * max { 0.0 } else { min };
    let step = nice_step((max - guess).max(max * 1e-3).max(1e-6), 5.0);
    let lo = if guess == 0.0 {
        0.0
    } else {
        (min / step).floor() * step
    };
    let hi = ((max / step).ceil() * step).max(lo + step);
    let mut p = Plot::new(id, title, Frame::new((lo, hi), (floor, 1.0), true, H));
    let d = decimals(step);
    p.x_ticks = multiples(lo, hi, step)
        .into_iter()
        .map(|v| (v, format!("{} ms", num(v, d))))
        .collect();
    let mut k = 0.0;
    while 10f64.powf(-k) >= floor * 0.999 {
        let v = 10f64.powf(-k);
        p.y_ticks.push((v, format!("{}%", num(100.0 * v, 6))));
        k += 1.0;
    }
    p.x_label = "latency (ms)".into();
    p.y_label = "share of samples slower (1 − CDF, log)".into();
    // The survival function: 1 until the first value, then one step down per recorded value.
    let mut pts = Vec::new();
    let mut below = 0u64;
    let mut surv = 1.0;
    for v in h.iter_recorded() {
        let x = ms(v.value_iterated_to());
        if pts.is_empty() {
            pts.push((x, 1.0));
        }
        below += v.count_at_value();
        pts.push((x, surv));
        surv = (n - below as f64) / n;
        pts.push((x, surv.max(floor)));
    }
    p.series = vec![(title.to_string(), pts)];
    for (q, name) in [(0.5, "P50"), (0.95, "P95"), (0.99, "P99")] {
        let v = h.value_at_quantile(q);
        p.marks.push((q, ms(v), format!("{name} {:.3} ms", ms(v))));
    }
    p.note = format!(
        "{} samples · P50 {:.3} ms · P95 {:.3} ms · P99 {:.3} ms · max {:.3} ms. The line is the share of samples slower than x; the log axis shows the tail a CDF hides.",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        max
    );
    p.render()
}

/// Lanes of intervals over the whole run: `(lane, from s, to s, fill, class, data-state, tip)`.
type Span = (usize, f64, f64, &'static str, &'static str, String, String);

fn lanes_plot(
    id: &'static str,
    title: &str,
    end: f64,
    lanes: &[&str],
    spans: &[Span],
    min_px: f64,
    note: &str,
) -> String {
    let lane_h = 22.0;
    let height = 16.0 + lane_h * lanes.len() as f64 + 40.0;
    let mut f = Frame::new((0.0, end), (0.0, lanes.len() as f64), false, height);
    f.left = 96.0;
    let mut p = Plot::new(id, title, f);
    p.x_ticks = time_ticks(end);
    p.x_label = "simulated time".into();
    let f = &p.frame;
    let mut under = String::new();
    for (i, name) in lanes.iter().enumerate() {
        let y = f.top + lane_h * i as f64;
        let _ = write!(
            under,
            "<text class=\"lane\" x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            f.left - 4.0,
            y + 14.0,
            esc(name)
        );
    }
    for (lane, a, b, fill, class, state, tip) in spans {
        let (x0, x1) = (f.sx(*a), f.sx(*b));
        let w = (x1 - x0).max(min_px);
        let y = f.top + lane_h * *lane as f64 + 2.0;
        let state = if state.is_empty() {
            String::new()
        } else {
            format!(" data-state=\"{}\"", esc(state))
        };
        let _ = write!(
            under,
            "<rect class=\"{class}\"{state} x=\"{x0:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{}\" fill=\"{fill}\"><title>{}</title></rect>",
            lane_h - 4.0,
            esc(tip)
        );
    }
    p.under = under;
    p.note = note.into();
    p.render()
}

fn state_color(s: State) -> &'static str {
    match s {
        State::Closed => "#2ca02c",
        State::HalfOpen => "#ff7f0e",
        State::Open => "#d62728",
    }
}

/// A breaker's states as spans on `lane`: closed from 0, then each transition, to `end`.
fn state_spans(lane: usize, transitions: &[Transition], end: SimTime) -> Vec<Span> {
    let mut out = Vec::new();
    let (mut state, mut from) = (State::Closed, SimTime::ZERO);
    let span = |state: State, a: SimTime, b: SimTime| -> Span {
        (
            lane,
            a.since_start().as_secs_f64(),
            b.since_start().as_secs_f64(),
            state_color(state),
            "state",
            state.to_string(),
            format!("{state} from {a} to {b}"),
        )
    };
    for t in transitions {
        if t.at > from {
            out.push(span(state, from, t.at));
        }
        state = t.to;
        from = t.at;
    }
    if end > from {
        out.push(span(state, from, end));
    }
    out
}

const STATE_NOTE: &str = "green: closed (calls go through) · orange: half-open (probes) · red: open (calls refused, degraded path)";

/// The workload's headline plots: its main result.
fn headline(sc: &Scenario, ran: &Ran) -> (String, String) {
    let end_t = ran.out.now;
    let end = end_t.since_start().as_secs_f64().max(1e-9);
    let mut s = String::new();
    let what = match &ran.measured {
        Measured::Room(m) => {
            let m = m.borrow();
            for (id, name, kind) in [
                (
                    "latency-audio",
                    "Audio latency tail: capture → playout",
                    MediaKind::Audio,
                ),
                (
                    "latency-video",
                    "Video latency tail: capture → render",
                    MediaKind::Video,
                ),
            ] {
                if let Some((q, _, _)) = m.aggregate(kind) {
                    s += &tail_plot(id, name, &q.latency.to_hdr());
                }
            }
            s += &tail_plot(
                "latency-server",
                "Server latency tail: arrival → forwarded",
                &m.forward_latency,
            );
            if sc.forwarding.architecture == crate::scenario::Architecture::Split {
                let w = &m.video_workers;
                let changes: Vec<(f64, f64)> = w
                    .points
                    .iter()
                    .map(|&(t, n)| (t.since_start().as_secs_f64(), n as f64))
                    .collect();
                let mut p = time_plot(
                    "video-workers",
                    "Elastic video workers over time",
                    "workers alive",
                    end,
                    vec![("video workers".into(), held_steps(0.0, &changes, end))],
                );
                p.note = format!(
                    "{} started, {} stopped, peak {}",
                    w.started, w.stopped, w.max
                );
                s += &p.render();
            }
            if sc.degrade.enabled {
                s += &lanes_plot(
                    "video-breaker",
                    "Video breaker state over time",
                    end,
                    &["video breaker"],
                    &state_spans(0, &m.degrade_transitions, end_t),
                    0.5,
                    STATE_NOTE,
                );
            }
            "latency tails at the participants and at the server"
        }
        Measured::Burst(m) => {
            let m = m.borrow();
            s += &tail_plot(
                "latency-burst",
                "Request latency tail: burst start → done",
                &m.latency,
            );
            s += &tail_plot(
                "latency-stw",
                "Time lost to stop-the-world, per request",
                &m.stw_lost,
            );
            "request latency against GC pauses"
        }
        Measured::Gosched(m) => {
            let m = m.borrow();
            s += &tail_plot(
                "latency-gosched",
                "Request latency tail: tick due → handled",
                &m.latency,
            );
            "request latency next to low-priority loops"
        }
        Measured::Breaker(m) => {
            let m = m.borrow();
            let mut spans = state_spans(0, &m.transitions, end_t);
            for f in &sc.breaker.faults {
                let (a, b) = (f.from.as_secs_f64(), f.until.as_secs_f64().min(end));
                if a < b {
                    spans.push((
                        1,
                        a,
                        b,
                        "#bbb",
                        "fault",
                        String::new(),
                        format!(
                            "fault {}–{}: +{} latency, {:.0}% errors",
                            f.from,
                            f.until,
                            f.extra_latency,
                            100.0 * f.error_rate
                        ),
                    ));
                }
            }
            s += &lanes_plot(
                "breaker-states",
                "Breaker state over time",
                end,
                &["breaker", "downstream fault"],
                &spans,
                0.5,
                &format!(
                    "{STATE_NOTE} · grey: the downstream's scheduled fault · {} state changes",
                    m.transitions.len()
                ),
            );
            let n = end_t.as_nanos().div_ceil(BUCKET.as_nanos()) as usize;
            let series = crate::workload::breaker::OUTCOMES
                .iter()
                .enumerate()
                .map(|(k, name)| {
                    let v: Vec<f64> = (0..n)
                        .map(|i| m.outcomes.get(i).map_or(0.0, |o| o[k] as f64))
                        .collect();
                    (name.to_string(), bucket_steps(&v, end))
                })
                .collect();
            let mut p = time_plot(
                "breaker-outcomes",
                "Request outcomes over time",
                &format!("requests per {}, by arrival", bucket()),
                end,
                series,
            );
            p.note = format!(
                "{} requests: {} ok, {} errors, {} timeouts, {} refused while open, {} refused while half-open",
                m.requests, m.ok, m.errors, m.timeouts, m.refused_open, m.refused_half_open
            );
            s += &p.render();
            s += &tail_plot(
                "latency-breaker",
                "Call latency tail (admitted calls)",
                &m.latency,
            );
            "breaker states and request outcomes"
        }
        Measured::Signalling(m) => {
            let steps = |leaks: &[crate::leak::Leak]| {
                let mut at: Vec<f64> = leaks
                    .iter()
                    .map(|l| (end - l.waited.as_secs_f64()).max(0.0))
                    .collect();
                at.sort_by(f64::total_cmp);
                let changes: Vec<(f64, f64)> = at
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| (t, (i + 1) as f64))
                    .collect();
                held_steps(0.0, &changes, end)
            };
            let mut p = time_plot(
                "leaks",
                "Leaked goroutines over time",
                "goroutines",
                end,
                vec![
                    (
                        "blocked on unreachable channels".into(),
                        steps(&m.unreachable),
                    ),
                    (
                        "still alive when main returned".into(),
                        steps(&m.still_alive),
                    ),
                ],
            );
            p.note = format!(
                "Goroutines found leaked when the run ended ({} unreachable, {} still alive), counted from the moment each entered the state it never left.",
                m.unreachable.len(),
                m.still_alive.len()
            );
            s += &p.render();
            "leaked goroutines"
        }
        Measured::Alloc => {
            s += &ran.sim.runtime(0, |rt| heap_plot(rt, end));
            "the heap against the GC's goal"
        }
    };
    (what.to_string(), s)
}

fn heap_plot(rt: &crate::goruntime::Runtime, end: f64) -> String {
    let title = "Heap over time (per GC cycle)";
    let cycles = &rt.gc_stats().cycles;
    if cycles.is_empty() {
        return empty(title, "no GC cycle in this run");
    }
    let mib = |x: u64| x as f64 / (1u64 << 20) as f64;
    let at = |c: &crate::goruntime::mgc::GcCycle| c.end.since_start().as_secs_f64();
    // The goal and the marked heap hold from a cycle's end to the next; a cycle's peak covers
    // the time since the previous cycle ended.
    let held = |f: &dyn Fn(&crate::goruntime::mgc::GcCycle) -> f64| {
        let changes: Vec<(f64, f64)> = cycles.iter().map(|c| (at(c), f(c))).collect();
        let mut pts = held_steps(0.0, &changes, end);
        pts.drain(..2); // no value before the first cycle
        pts
    };
    let mut peak = Vec::new();
    let mut from = 0.0;
    for c in cycles {
        peak.push((from, mib(c.peak)));
        peak.push((at(c), mib(c.peak)));
        from = at(c);
    }
    let mut p = time_plot(
        "heap",
        title,
        "MiB",
        end,
        vec![
            ("peak (heap at mark termination)".into(), peak),
            ("goal".into(), held(&|c| mib(c.goal))),
            ("marked (live)".into(), held(&|c| mib(c.marked))),
        ],
    );
    p.note = format!("{} GC cycles", cycles.len());
    p.render()
}

/// A heat map over the whole run: one row per label, one cell per [`BUCKET`], darker nearer 1.
fn heat_map(id: &'static str, title: &str, end: f64, rows: &[(String, Vec<f64>)]) -> String {
    let cell_h = 14.0;
    let height = 16.0 + cell_h * rows.len() as f64 + 40.0;
    let mut f = Frame::new((0.0, end), (0.0, 1.0), false, height);
    f.left = 200.0;
    let mut p = Plot::new(id, title, f);
    p.x_ticks = time_ticks(end);
    p.x_label = format!(
        "simulated time · each column is {}; darker is busier",
        bucket()
    );
    let f = &p.frame;
    let b = BUCKET.as_secs_f64();
    let mut under = String::new();
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = f.top + i as f64 * cell_h;
        let _ = write!(
            under,
            "<text class=\"row\" x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            f.left - 4.0,
            y + 11.0,
            esc(label)
        );
        for (j, &x) in v.iter().enumerate() {
            let t0 = j as f64 * b;
            if t0 >= end {
                break;
            }
            let a = x.clamp(0.0, 1.0);
            let (x0, x1) = (f.sx(t0), f.sx((t0 + b).min(end)));
            let _ = write!(
                under,
                "<rect class=\"cell\" x=\"{x0:.2}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{}\" fill=\"#08306b\" fill-opacity=\"{a:.3}\"/>",
                x1 - x0,
                cell_h - 1.0
            );
        }
    }
    p.under = under;
    p.render()
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
        if !matches!(ran.measured, Measured::Alloc) {
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
