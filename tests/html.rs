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

/// Headers are built from the effective scenario: after `--set rooms.count=1000` neither the
/// text report nor the HTML page repeats the file's "one room".
#[test]
fn headers_follow_set_overrides() {
    let sets = vec![
        "rooms.count=1000".to_string(),
        "run.duration=\"100ms\"".to_string(),
    ];
    let sc = scenario::load("quickstart", scenario::QUICKSTART, &sets).unwrap();
    let ran = workload::run(&sc, 1, |_, _| {});
    let text = costream_model::report::report(&sc, 1, "", &ran);
    let head: String = text.lines().take(3).collect::<Vec<_>>().join("\n");
    assert!(head.contains("1000 rooms × 2 hosts"), "{head}");
    assert!(head.contains("--set rooms.count=1000"), "{head}");
    assert!(!text.contains("one room"), "{head}");
    let html = html_report(&sc, 1, "", &ran);
    let header = &html[html.find("<header>").unwrap()..html.find("</header>").unwrap()];
    assert!(header.contains("1000 rooms × 2 hosts"), "{header}");
    assert!(!html.contains("one room"), "{header}");
    // Without overrides the file's description is the header, and one room is one room.
    let sc = scenario::load("quickstart", scenario::QUICKSTART, &[]).unwrap();
    let ran = workload::run(&sc, 1, |_, _| {});
    let text = costream_model::report::report(&sc, 1, "", &ran);
    assert!(
        text.starts_with("costream · quickstart — one room"),
        "{text}"
    );
    assert!(text.contains("\n1 room × 2 hosts"), "{text}");
}
