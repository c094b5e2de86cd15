//! The HTML report: a self-contained page whose tags balance (SVG included) and which has each
//! plot the issue asks for. Rendering in a browser is a documented check
//! (docs/reproducibility.md), as CI has no browser.

use costream_model::html::html_report;
use costream_model::scenario;
use costream_model::workload;

/// Checks that every element is closed in order (`<meta>` is HTML's only void element here).
fn balanced(html: &str) -> Result<usize, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut count = 0;
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        count += 1;
        if tag.ends_with('/') || name == "meta" {
            continue;
        }
        stack.push(name.to_string());
    }
    if stack.is_empty() {
        Ok(count)
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

#[test]
fn html_report_is_well_formed_and_has_every_plot() {
    let text = include_str!("../scenarios/gc-burst.toml");
    let sets = vec![
        "matrix={}".to_string(),
        "run.duration=\"500ms\"".to_string(),
    ];
    let sc = scenario::load_variants("gc-burst.toml", text, &sets)
        .unwrap()
        .remove(0)
        .scenario;
    let ran = workload::run(&sc, 1, |_, _| {});
    let html = html_report(&sc, 1, "test", &ran);
    let n = balanced(&html).unwrap_or_else(|e| panic!("{e}"));
    assert!(n > 100, "{n} elements");
    for needle in [
        "Goroutines over time",
        "Heap over time",
        "Stop-the-world pauses and stalls",
        "Per-P utilisation",
        "Goroutine lifecycle",
        "<polyline",
        "digest <code>",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    let sc = scenario::load("quickstart", scenario::QUICKSTART, &[]).unwrap();
    let ran = workload::run(&sc, 1, |_, _| {});
    let html = html_report(&sc, 1, "", &ran);
    balanced(&html).unwrap();
    assert!(html.contains("Latency CDF"));
}
