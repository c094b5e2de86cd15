//! The HTML report: a self-contained page whose tags balance (SVG included), which has each
//! plot the issues ask for, and whose SVG draws what it claims (time plots span the run, the
//! latency tail marks P50/P95/P99, the breaker's states are on a timeline). tests/html_browser.rs
//! renders the same pages in headless Chromium.

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
    let sc = costream_model::workload::load_variants("gc-burst.toml", text, &sets)
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
        "<path class=\"series\"",
        "digest <code>",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    let sc = costream_model::workload::load("quickstart", scenario::QUICKSTART, &[]).unwrap();
    let ran = workload::run(&sc, 1, |_, _| {});
    let html = html_report(&sc, 1, "", &ran);
    balanced(&html).unwrap();
    assert!(html.contains("Audio latency tail"));
}

/// Headers are built from the effective scenario: after `--set rooms.count=1000` neither the
/// text report nor the HTML page repeats the file's "one room".
#[test]
fn headers_follow_set_overrides() {
    let sets = vec![
        "rooms.count=1000".to_string(),
        "run.duration=\"100ms\"".to_string(),
    ];
    let sc = costream_model::workload::load("quickstart", scenario::QUICKSTART, &sets).unwrap();
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
    let sc = costream_model::workload::load("quickstart", scenario::QUICKSTART, &[]).unwrap();
    let ran = workload::run(&sc, 1, |_, _| {});
    let text = costream_model::report::report(&sc, 1, "", &ran);
    assert!(
        text.starts_with("costream · quickstart — one room"),
        "{text}"
    );
    assert!(text.contains("\n1 room × 2 hosts"), "{text}");
}

// ---- What the SVG draws. ----

/// The `<svg>` element whose `data-plot` is `id`, up to its `</svg>`.
fn plot<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("data-plot=\"{id}\""))
        .unwrap_or_else(|| panic!("no plot {id}"));
    let start = html[..at].rfind("<svg").expect("svg start");
    let end = at + html[at..].find("</svg>").expect("svg end");
    &html[start..end]
}

/// Every tag in `svg` whose text starts with `<name` (and its attributes).
fn tags<'a>(svg: &'a str, name: &str) -> Vec<&'a str> {
    svg.split('<')
        .filter(|t| t.starts_with(name) && t[name.len()..].starts_with([' ', '>', '/']))
        .map(|t| t.split('>').next().unwrap_or(t))
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    Some(&tag[i..i + tag[i..].find('"')?])
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .unwrap_or_else(|| panic!("no {name} in <{tag}>"))
        .parse()
        .unwrap()
}

/// The text of every `<text class="CLASS">` in `svg`, in order.
fn texts(svg: &str, class: &str) -> Vec<String> {
    let key = format!("<text class=\"{class}\"");
    svg.match_indices(&key)
        .map(|(i, _)| {
            let rest = &svg[i..];
            let open = rest.find('>').unwrap() + 1;
            rest[open..open + rest[open..].find("</text>").unwrap()].to_string()
        })
        .collect()
}

/// The points of every series path in `svg`, in pixels.
fn series(svg: &str) -> Vec<Vec<(f64, f64)>> {
    tags(svg, "path")
        .into_iter()
        .filter(|t| attr(t, "class") == Some("series"))
        .map(|t| {
            attr(t, "d")
                .unwrap()
                .split(['M', 'L'])
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    let (x, y) = p.trim().split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

/// The x axis's ends, in pixels.
fn x_axis(svg: &str) -> (f64, f64) {
    let t = tags(svg, "line")
        .into_iter()
        .find(|t| attr(t, "class") == Some("x-axis"))
        .expect("x axis");
    (num(t, "x1"), num(t, "x2"))
}

fn run_html(file: &str, text: &str, sets: &[&str], variant: usize) -> (String, workload::Ran) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = costream_model::workload::load_variants(file, text, &sets)
        .unwrap()
        .remove(variant)
        .scenario;
    let ran = workload::run(&sc, sc.run.seed, |_, _| {});
    (html_report(&sc, sc.run.seed, "", &ran), ran)
}

/// A constant goroutine count is a flat line across the whole run, and every time plot's axis
/// ends at the run's end (it used to be one point, on an axis ending at 1 s).
#[test]
fn time_plots_span_the_whole_run_even_when_constant() {
    let (html, ran) = run_html(
        "quickstart.toml",
        scenario::QUICKSTART,
        &["run.duration=\"3s\""],
        0,
    );
    assert_eq!(ran.out.now.since_start().as_secs_f64(), 3.0);
    for id in ["goroutines", "pauses", "p-utilisation", "lifecycle"] {
        let svg = plot(&html, id);
        assert_eq!(attr(svg, "data-x-min"), Some("0"), "{id}");
        assert_eq!(attr(svg, "data-x-max"), Some("3"), "{id}");
        assert_eq!(
            texts(svg, "x-tick").last().map(String::as_str),
            Some("3 s"),
            "{id}"
        );
    }
    let svg = plot(&html, "goroutines");
    let (left, right) = x_axis(svg);
    let lines = series(svg);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert!(line.len() >= 2, "a single point: {line:?}");
    let xs = line.iter().map(|p| p.0);
    let (x0, x1) = (
        xs.clone().fold(f64::MAX, f64::min),
        xs.fold(f64::MIN, f64::max),
    );
    assert!(
        (x0 - left).abs() < 0.5 && (x1 - right).abs() < 0.5,
        "{x0}..{x1} on {left}..{right}"
    );
    assert!(
        line.iter().all(|p| p.1 == line[0].1),
        "not constant: {line:?}"
    );
    // Heat map cells cover the run too: the last column ends at the axis's end.
    let svg = plot(&html, "p-utilisation");
    let last = tags(svg, "rect").into_iter().last().expect("cells");
    let end = num(last, "x") + num(last, "width");
    assert!((end - x_axis(svg).1).abs() < 0.5, "cells end at {end}");
}

/// The latency plot is a tail plot: 1 − CDF on a log axis, with P50, P95 and P99 marked at the
/// report's values, and a line that reaches below 1% (the tail a linear CDF hides).
#[test]
fn latency_is_a_tail_plot_with_labelled_percentiles() {
    let (html, ran) = run_html(
        "quickstart.toml",
        scenario::QUICKSTART,
        &["run.duration=\"3s\""],
        0,
    );
    let h = ran
        .room()
        .aggregate(costream_model::media::rtp::MediaKind::Audio)
        .unwrap()
        .0
        .latency
        .to_hdr();
    let svg = plot(&html, "latency-audio");
    assert_eq!(attr(svg, "data-y-scale"), Some("log"));
    let y_ticks = texts(svg, "y-tick");
    assert!(y_ticks.contains(&"1%".to_string()) && y_ticks.contains(&"0.1%".to_string()));
    let marks: Vec<&str> = tags(svg, "g")
        .into_iter()
        .filter(|t| attr(t, "class") == Some("pct"))
        .collect();
    let mut ys = Vec::new();
    for (q, name) in [(0.5, "P50"), (0.95, "P95"), (0.99, "P99")] {
        let mark = marks
            .iter()
            .find(|t| attr(t, "data-q") == Some(&q.to_string()))
            .unwrap_or_else(|| panic!("no {name} mark"));
        let label = format!("{name} {:.3} ms", h.value_at_quantile(q) as f64 / 1e6);
        assert!(
            svg.contains(&format!(">{label}</text>")),
            "no label {label}"
        );
        let at = svg.find(*mark).unwrap();
        let circle = tags(&svg[at..], "circle")[0];
        ys.push(num(circle, "cy"));
    }
    assert!(
        ys[0] < ys[1] && ys[1] < ys[2],
        "P50 above P95 above P99: {ys:?}"
    );
    let line = &series(svg)[0];
    let lowest = line.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    assert!(
        lowest > ys[2] + 5.0,
        "the tail stops at P99: {lowest} vs {}",
        ys[2]
    );
}

/// The breaker's main result, its states over time, is a timeline of state segments that
/// covers the run, next to the downstream's fault and the request outcomes over time.
#[test]
fn breaker_states_and_outcomes_are_plotted() {
    let (html, ran) = run_html(
        "breaker.toml",
        include_str!("../scenarios/breaker.toml"),
        &["matrix={}"],
        0,
    );
    let transitions = ran
        .measured::<std::rc::Rc<std::cell::RefCell<workload::breaker::BreakerMetrics>>>()
        .expect("a breaker run")
        .borrow()
        .transitions
        .clone();
    assert!(transitions.len() >= 3);
    let svg = plot(&html, "breaker-states");
    let (left, right) = x_axis(svg);
    let states: Vec<&str> = tags(svg, "rect")
        .into_iter()
        .filter(|t| attr(t, "class") == Some("state"))
        .collect();
    assert_eq!(states.len(), transitions.len() + 1);
    for s in ["closed", "open", "half-open"] {
        assert!(
            states.iter().any(|t| attr(t, "data-state") == Some(s)),
            "no {s} segment"
        );
    }
    let (x0, x1) = (num(states[0], "x"), {
        let l = states.last().unwrap();
        num(l, "x") + num(l, "width")
    });
    assert!(
        (x0 - left).abs() < 0.5 && (x1 - right).abs() < 0.5,
        "{x0}..{x1}"
    );
    let width: f64 = states.iter().map(|t| num(t, "width")).sum();
    assert!((width - (right - left)).abs() < 2.0, "{width}");
    // The first open segment starts where the first transition says, inside the fault.
    let open = states
        .iter()
        .find(|t| attr(t, "data-state") == Some("open"))
        .unwrap();
    let at = transitions[0].at.since_start().as_secs_f64();
    let expect = left + at / 8.0 * (right - left);
    assert!((num(open, "x") - expect).abs() < 0.5);
    assert!(tags(svg, "rect")
        .iter()
        .any(|t| attr(t, "class") == Some("fault")));
    let svg = plot(&html, "breaker-outcomes");
    assert_eq!(series(svg).len(), 4);
    assert!(html.contains("data-plot=\"latency-breaker\""));
}

/// Each workload opens with its main result as a headline plot.
#[test]
fn every_workload_has_a_headline_plot() {
    let cases: [(&str, &str, &[&str], &[&str]); 8] = [
        (
            "quickstart.toml",
            scenario::QUICKSTART,
            &["forwarding.architecture=\"split\"", "video.enabled=true"],
            &["latency-audio", "video-workers"],
        ),
        (
            "quickstart.toml",
            scenario::QUICKSTART,
            &[],
            &["latency-audio", "latency-server"],
        ),
        (
            "quickstart.toml",
            scenario::QUICKSTART,
            &["degrade.enabled=true"],
            &["latency-audio", "video-breaker"],
        ),
        (
            "gc-burst.toml",
            include_str!("../scenarios/gc-burst.toml"),
            &[],
            &["latency-burst"],
        ),
        (
            "gc-alloc.toml",
            include_str!("../scenarios/gc-alloc.toml"),
            &[],
            &["heap"],
        ),
        (
            "gosched.toml",
            include_str!("../scenarios/gosched.toml"),
            &[],
            &["latency-gosched"],
        ),
        (
            "breaker.toml",
            include_str!("../scenarios/breaker.toml"),
            &[],
            &["breaker-states", "breaker-outcomes"],
        ),
        (
            "leak.toml",
            include_str!("../scenarios/leak.toml"),
            &[],
            &["leaks"],
        ),
    ];
    for (file, text, extra, ids) in cases {
        let mut sets = vec!["matrix={}", "run.duration=\"1s\""];
        sets.extend(extra);
        let (html, _) = run_html(file, text, &sets, 0);
        let start = html.find("<section class=\"headline\">").expect("headline");
        let head = &html[start..start + html[start..].find("</section>").unwrap()];
        for id in ids {
            let svg = plot(head, id);
            let drawn = !series(svg).is_empty()
                || tags(svg, "rect")
                    .iter()
                    .any(|t| attr(t, "class") == Some("state"));
            assert!(drawn, "{file} {extra:?}: {id} draws nothing");
        }
    }
}

/// The leak workload's headline: the buggy program's leaked readers pile up over the run; the
/// fixed program's line is flat at zero across it.
#[test]
fn leaked_goroutines_over_time() {
    let text = include_str!("../scenarios/leak.toml");
    for (variant, leaks) in [(0, true), (1, false)] {
        let (html, ran) = run_html("leak.toml", text, &[], variant);
        let svg = plot(&html, "leaks");
        let (left, right) = x_axis(svg);
        let end = ran.out.now.since_start().as_secs_f64();
        assert_eq!(attr(svg, "data-x-max"), Some(end.to_string().as_str()));
        for line in series(svg) {
            let (first, last) = (line[0], *line.last().unwrap());
            assert!((first.0 - left).abs() < 0.5 && (last.0 - right).abs() < 0.5);
            assert_eq!(last.1 < first.1, leaks, "{line:?}");
        }
    }
}
