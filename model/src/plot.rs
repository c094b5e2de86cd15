//! The plots of the HTML report as inline SVG: frames, axes, step lines, tail plots, lanes
//! and heat maps. The report's runtime plots and each workload's headline plots (in the
//! workload's file) draw with them, so they sit below both.

use crate::goruntime::census::BUCKET;
use crate::server::breaker::{State, Transition};
use costream_sim::SimTime;
use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// Width of every plot's SVG, in pixels.
pub const W: f64 = 640.0;
/// Height of a standard plot's SVG (time and tail plots), in pixels.
pub const H: f64 = 240.0;
/// Series colours, in the order series are drawn: matplotlib's `tab10` blue, red, green, purple
/// and orange (percentile marks use them too).
pub const COLORS: [&str; 5] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

/// Escapes `&`, `<`, `>` and `"`, for text and attribute values in the HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number with at most `d` decimals, trailing zeros dropped: 8 → "8", 0.50 → "0.5".
pub fn num(v: f64, d: usize) -> String {
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
pub fn bucket() -> String {
    format!("{} ms", num(BUCKET.as_secs_f64() * 1e3, 3))
}

/// A step of 1, 2 or 5 × 10^k that cuts `span` into about `n` parts.
pub fn nice_step(span: f64, n: f64) -> f64 {
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

/// Decimals a tick label needs when ticks are `step` apart ([`nice_step`]): 0.5 → 1, 20 → 0.
pub fn decimals(step: f64) -> usize {
    (-step.log10().floor()).max(0.0) as usize
}

/// Multiples of `step` in `[lo, hi]`.
pub fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut k = (lo / step - 1e-9).ceil();
    while k * step <= hi + step * 1e-9 {
        v.push(k * step);
        k += 1.0;
    }
    v
}

/// Where a plot's data goes on the page: data ranges and the pixel box they map to.
pub struct Frame {
    /// The data value at the left edge.
    pub x0: f64,
    /// The data value at the right edge (greater than `x0`).
    pub x1: f64,
    /// The data value at the bottom edge; above 0 when `ylog`.
    pub y0: f64,
    /// The data value at the top edge (greater than `y0`).
    pub y1: f64,
    /// Whether the y axis is logarithmic (tail plots) rather than linear.
    pub ylog: bool,
    /// Pixel x of the plot area's left edge; the y tick labels go left of it.
    pub left: f64,
    /// Pixel x of the plot area's right edge.
    pub right: f64,
    /// Pixel y of the plot area's top edge.
    pub top: f64,
    /// Pixel y of the plot area's bottom edge (the x axis); the x labels go below it.
    pub bottom: f64,
}

impl Frame {
    /// A frame for data ranges `x` and `y` (an empty range is widened by 1) in an SVG [`W`]
    /// pixels wide and `height` tall, with margins for the tick and axis labels.
    pub fn new(x: (f64, f64), y: (f64, f64), ylog: bool, height: f64) -> Self {
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
    /// The pixel x of data value `x`, clamped to the frame.
    pub fn sx(&self, x: f64) -> f64 {
        self.left
            + (x.clamp(self.x0, self.x1) - self.x0) / (self.x1 - self.x0) * (self.right - self.left)
    }
    /// The pixel y of data value `y`, clamped to the frame (SVG y grows downwards).
    pub fn sy(&self, y: f64) -> f64 {
        let t = if self.ylog {
            let lo = self.y0.log10();
            (y.max(self.y0).log10() - lo) / (self.y1.log10() - lo)
        } else {
            (y - self.y0) / (self.y1 - self.y0)
        };
        self.bottom - t.clamp(0.0, 1.0) * (self.bottom - self.top)
    }
    /// The SVG's height in pixels: the plot area and the x axis labels below it.
    pub fn height(&self) -> f64 {
        self.bottom + 40.0
    }
}

/// A run's time axis: 0 to `end` seconds, ticks at round values and one at `end` itself.
pub fn time_ticks(end: f64) -> Vec<(f64, String)> {
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
pub fn value_ticks(max: f64) -> ((f64, f64), Vec<(f64, String)>) {
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
pub struct Plot {
    /// The plot's name in its SVG's `data-plot` attribute, which tests find it by ("heap").
    pub id: &'static str,
    /// The heading above the plot, and the SVG's `<title>`.
    pub title: String,
    /// The label under the x axis, with its unit ("simulated time").
    pub x_label: String,
    /// The label above the y axis, with its unit ("MiB").
    pub y_label: String,
    /// Where the data goes on the page.
    pub frame: Frame,
    /// Ticks on the x axis: (data value, label).
    pub x_ticks: Vec<(f64, String)>,
    /// Ticks and grid lines on the y axis: (data value, label).
    pub y_ticks: Vec<(f64, String)>,
    /// (name, points in data units), drawn as a path through the points.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Percentile marks: (q, x, label).
    pub marks: Vec<(f64, f64, String)>,
    /// Extra SVG drawn under the lines (rectangles), already in pixels.
    pub under: String,
    /// A paragraph under the plot (counts, how to read it); none when empty.
    pub note: String,
}

impl Plot {
    /// An empty plot (no ticks, labels or series) titled `title`, `id` in its SVG.
    pub fn new(id: &'static str, title: &str, frame: Frame) -> Self {
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

    /// The plot as HTML: an `<h3>` title, the inline `<svg>`, then the note.
    pub fn render(&self) -> String {
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
pub fn empty(title: &str, why: &str) -> String {
    format!("<h3>{}</h3><p>({})</p>", esc(title), esc(why))
}

/// Per-bucket values as a step line from 0 to `end` seconds.
pub fn bucket_steps(values: &[f64], end: f64) -> Vec<(f64, f64)> {
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
pub fn held_steps(start: f64, changes: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
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
pub fn time_plot(
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
pub fn tail_plot(id: &'static str, title: &str, h: &Histogram<u64>) -> String {
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
pub type Span = (usize, f64, f64, &'static str, &'static str, String, String);

/// Lanes of intervals over the whole run, 0 to `end` seconds: one row per name in `lanes`,
/// `spans` drawn at least `min_px` pixels wide (so a short pause still shows), then `note`.
pub fn lanes_plot(
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

/// A circuit breaker state's colour: green closed, orange half-open, red open.
pub fn state_color(s: State) -> &'static str {
    match s {
        State::Closed => "#2ca02c",
        State::HalfOpen => "#ff7f0e",
        State::Open => "#d62728",
    }
}

/// A breaker's states as spans on `lane`: closed from 0, then each transition, to `end`.
pub fn state_spans(lane: usize, transitions: &[Transition], end: SimTime) -> Vec<Span> {
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

/// The legend of [`state_color`]'s colours, for a plot's note.
pub const STATE_NOTE: &str = "green: closed (calls go through) · orange: half-open (probes) · red: open (calls refused, degraded path)";

/// The heap over the run, from the GC cycles of `rt`, in MiB: each cycle's peak, the heap
/// goal and the marked (live) heap; `end` is the run's end in seconds.
pub fn heap_plot(rt: &crate::goruntime::Runtime, end: f64) -> String {
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
pub fn heat_map(id: &'static str, title: &str, end: f64, rows: &[(String, Vec<f64>)]) -> String {
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
