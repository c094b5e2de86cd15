//! Text tables and the number formats reports print: the report's own sections and each
//! workload's (which sit in the workload's file) share them, so they sit below both.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// A table with a header row and left-aligned columns.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with the column names `header` as its first row.
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }
    /// A table whose header is made at run time (one column per P).
    pub fn with_header(header: Vec<String>) -> Self {
        Self { rows: vec![header] }
    }
    /// Adds a row below the others; it may have fewer cells than the header.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    /// The table as text, each line starting with `indent`, columns three spaces apart.
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

/// Nanoseconds as milliseconds.
pub fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

/// The `q` quantile, or 0 for an empty histogram.
pub fn pct(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

/// Bytes as MiB.
pub fn mib(b: u64) -> String {
    format!("{:.1}", b as f64 / (1u64 << 20) as f64)
}

/// Nanoseconds as microseconds.
pub fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// A breaker's state changes, the first 20 of them.
pub fn timeline(s: &mut String, title: &str, transitions: &[crate::server::breaker::Transition]) {
    let _ = writeln!(s, "\n{title} ({} state changes):", transitions.len());
    for tr in transitions.iter().take(20) {
        let _ = writeln!(s, "  {:>10}  {} → {}", tr.at.to_string(), tr.from, tr.to);
    }
    if transitions.len() > 20 {
        let _ = writeln!(s, "  … {} more", transitions.len() - 20);
    }
}

/// Share of recorded values at or below `limit_ns`.
pub fn share_below(h: &Histogram<u64>, limit_ns: u64) -> String {
    if h.is_empty() {
        return "-".into();
    }
    format!(
        "{:.1}%",
        100.0 * h.count_between(0, limit_ns) as f64 / h.len() as f64
    )
}

/// A latency histogram's row: P50, P99, max and mean in milliseconds.
pub fn latency_row(name: &str, h: &Histogram<u64>) -> Vec<String> {
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
