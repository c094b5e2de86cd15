//! The HTML report as a reader sees it: each page is rendered by headless Chromium, and a script
//! added to a copy of the page (the report itself has none) measures what the browser laid out,
//! with `getBoundingClientRect`, into a `<pre id="measure">` that `--dump-dom` prints. The test
//! checks what is drawn, in screen pixels: every plot's lines have extent, the goroutine line
//! runs from the x axis's start to its end and the axis's last label is the run's end, the
//! latency tail's P50/P95/P99 labels are laid out inside the plot without overlapping, and the
//! breaker timeline has closed, open and half-open segments that tile the axis.
//!
//! Without Chromium (`/usr/bin/chromium`, or `COSTREAM_CHROMIUM=path`) the test prints why and
//! passes, unless `COSTREAM_REQUIRE_CHROMIUM=1` (CI sets it), when it fails.

use costream_model::html::html_report;
use costream_model::scenario;
use costream_model::workload;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Measures the laid-out page; one tab-separated line per plot, percentile label and breaker
/// segment.
const MEASURE: &str = r#"<script>
(function () {
  const out = [];
  const r = (e) => e.getBoundingClientRect();
  const f = (v) => v.toFixed(1);
  for (const svg of document.querySelectorAll("svg[data-plot]")) {
    const id = svg.dataset.plot, sr = r(svg), ar = r(svg.querySelector("line.x-axis"));
    const paths = [...svg.querySelectorAll("path.series")];
    let pl = Infinity, pr = -Infinity, drawn = 0;
    for (const p of paths) {
      const b = r(p);
      if (b.width > 0) drawn++;
      pl = Math.min(pl, b.left);
      pr = Math.max(pr, b.right);
    }
    const ticks = [...svg.querySelectorAll("text.x-tick")];
    const last = ticks[ticks.length - 1];
    out.push(["plot", id, "axis_left=" + f(ar.left), "axis_right=" + f(ar.right),
      "paths=" + paths.length, "drawn=" + drawn, "path_left=" + f(pl), "path_right=" + f(pr),
      "svg_left=" + f(sr.left), "svg_right=" + f(sr.right),
      "last_tick=" + (last ? last.textContent : ""),
      "last_tick_right=" + (last ? f(r(last).right) : "0"),
      "last_tick_width=" + (last ? f(r(last).width) : "0")].join("\t"));
    for (const g of svg.querySelectorAll("g.pct")) {
      const t = g.querySelector("text"), b = r(t);
      const inside = b.left >= sr.left && b.right <= sr.right && b.top >= sr.top && b.bottom <= sr.bottom;
      out.push(["pct", id, "q=" + g.dataset.q, "text=" + t.textContent, "left=" + f(b.left),
        "right=" + f(b.right), "top=" + f(b.top), "bottom=" + f(b.bottom),
        "inside=" + (inside ? 1 : 0)].join("\t"));
    }
    for (const s of svg.querySelectorAll("rect.state")) {
      const b = r(s);
      out.push(["state", id, "s=" + s.dataset.state, "left=" + f(b.left), "width=" + f(b.width)].join("\t"));
    }
  }
  const pre = document.createElement("pre");
  pre.id = "measure";
  pre.textContent = out.join("\n");
  document.body.appendChild(pre);
})();
</script>"#;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("COSTREAM_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// One measured item: its kind, its plot and its `key=value` fields.
struct Item {
    kind: String,
    plot: String,
    f: BTreeMap<String, String>,
}

impl Item {
    fn get(&self, k: &str) -> &str {
        self.f
            .get(k)
            .unwrap_or_else(|| panic!("{} {}: no {k}", self.kind, self.plot))
    }
    fn num(&self, k: &str) -> f64 {
        self.get(k)
            .parse()
            .unwrap_or_else(|_| panic!("{} {}: {k}={}", self.kind, self.plot, self.get(k)))
    }
}

/// Renders `html` in Chromium and returns what the script measured.
fn render(browser: &Path, dir: &Path, name: &str, html: &str) -> Vec<Item> {
    let page = dir.join(format!("{name}.html"));
    let with_script = html.replacen("</body>", &format!("{MEASURE}</body>"), 1);
    std::fs::write(&page, with_script).unwrap();
    let profile = dir.join(format!("profile-{name}"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--window-size=1000,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish rendering {name} in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = reader.join().unwrap().unwrap();
    let start = dom.find("<pre id=\"measure\">").unwrap_or_else(|| {
        panic!(
            "{name}: no measurements in the dumped DOM ({} bytes)",
            dom.len()
        )
    }) + "<pre id=\"measure\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    dom[start..end]
        .lines()
        .map(|line| {
            let mut parts = line.split('\t');
            let kind = parts.next().unwrap_or("").to_string();
            let plot = parts.next().unwrap_or("").to_string();
            let f = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.replace("&amp;", "&")))
                .collect();
            Item { kind, plot, f }
        })
        .collect()
}

fn page(file: &str, text: &str, sets: &[&str]) -> (String, f64) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = costream_model::workload::load_variants(file, text, &sets)
        .unwrap()
        .remove(0)
        .scenario;
    let ran = workload::run(&sc, sc.run.seed, |_, _| {});
    let end = ran.out.now.since_start().as_secs_f64();
    (html_report(&sc, sc.run.seed, "", &ran), end)
}

fn plot<'a>(items: &'a [Item], id: &str) -> &'a Item {
    items
        .iter()
        .find(|i| i.kind == "plot" && i.plot == id)
        .unwrap_or_else(|| panic!("plot {id} not laid out"))
}

/// Every plot's lines are drawn with extent, time axes end at the run's end with a visible
/// label, and no plot is wider than its box.
fn check_plots(name: &str, items: &[Item], end_label: &str) {
    let plots: Vec<&Item> = items.iter().filter(|i| i.kind == "plot").collect();
    assert!(plots.len() >= 5, "{name}: {} plots", plots.len());
    for p in plots {
        let id = &p.plot;
        assert_eq!(
            p.num("drawn"),
            p.num("paths"),
            "{name} {id}: a line with no extent"
        );
        assert!(
            p.num("axis_right") <= p.num("svg_right") + 0.5,
            "{name} {id}"
        );
        assert!(p.num("last_tick_width") > 0.0, "{name} {id}: no x labels");
        assert!(
            p.num("last_tick_right") <= p.num("svg_right") + 0.5,
            "{name} {id}: the last x label is cut off"
        );
        if p.num("paths") > 0.0 {
            assert!(
                p.num("path_left") >= p.num("axis_left") - 1.0
                    && p.num("path_right") <= p.num("axis_right") + 1.0,
                "{name} {id}: a line outside its axis"
            );
        }
        if !id.starts_with("latency") {
            assert_eq!(p.get("last_tick"), end_label, "{name} {id}: time axis end");
        }
    }
}

#[test]
fn html_report_renders_in_chromium() {
    let Some(browser) = chromium() else {
        let why =
            "no Chromium at /usr/bin/chromium or $COSTREAM_CHROMIUM (apt-get install chromium)";
        if std::env::var("COSTREAM_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("COSTREAM_REQUIRE_CHROMIUM=1 but {why}");
        }
        // Straight to stderr, past the test harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "html_browser: skipped: {why}; COSTREAM_REQUIRE_CHROMIUM=1 makes this a failure"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("costream-html-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // Quickstart: a constant goroutine count, drawn across the whole run; the audio tail.
    let (html, end) = page(
        "quickstart.toml",
        scenario::QUICKSTART,
        &["run.duration=\"3s\""],
    );
    assert_eq!(end, 3.0);
    let items = render(&browser, &dir, "quickstart", &html);
    check_plots("quickstart", &items, "3 s");
    let g = plot(&items, "goroutines");
    assert_eq!(g.num("paths"), 1.0);
    assert!(
        (g.num("path_left") - g.num("axis_left")).abs() <= 1.0
            && (g.num("path_right") - g.num("axis_right")).abs() <= 1.0,
        "the goroutine line does not span the axis: {:?}",
        g.f
    );
    let marks: Vec<&Item> = items
        .iter()
        .filter(|i| i.kind == "pct" && i.plot == "latency-audio")
        .collect();
    for (q, name) in [("0.5", "P50"), ("0.95", "P95"), ("0.99", "P99")] {
        let m = marks
            .iter()
            .find(|m| m.get("q") == q)
            .unwrap_or_else(|| panic!("no {name} mark laid out"));
        assert!(m.get("text").starts_with(&format!("{name} ")), "{:?}", m.f);
        assert!(m.get("text").ends_with(" ms"), "{:?}", m.f);
        assert!(m.num("right") > m.num("left"), "{name} label has no width");
        assert_eq!(
            m.get("inside"),
            "1",
            "{name} label outside the plot: {:?}",
            m.f
        );
    }
    for (i, a) in marks.iter().enumerate() {
        for b in &marks[i + 1..] {
            let apart = a.num("right") <= b.num("left")
                || b.num("right") <= a.num("left")
                || a.num("bottom") <= b.num("top")
                || b.num("bottom") <= a.num("top");
            assert!(apart, "labels overlap: {:?} and {:?}", a.f, b.f);
        }
    }

    // Breaker: the state timeline's segments tile the axis and show all three states.
    let (html, end) = page(
        "breaker.toml",
        include_str!("../scenarios/breaker.toml"),
        &["matrix={}"],
    );
    let items = render(&browser, &dir, "breaker", &html);
    check_plots("breaker", &items, &costream_model::html::secs_label(end));
    let axis = plot(&items, "breaker-states");
    let states: Vec<&Item> = items
        .iter()
        .filter(|i| i.kind == "state" && i.plot == "breaker-states")
        .collect();
    for s in ["closed", "open", "half-open"] {
        assert!(
            states
                .iter()
                .any(|i| i.get("s") == s && i.num("width") > 0.0),
            "no visible {s} segment"
        );
    }
    let width: f64 = states.iter().map(|i| i.num("width")).sum();
    let axis_w = axis.num("axis_right") - axis.num("axis_left");
    assert!(
        (width - axis_w).abs() < 2.0,
        "segments {width} px, axis {axis_w} px"
    );
    assert_eq!(plot(&items, "breaker-outcomes").num("drawn"), 4.0);

    // Leak: the leaked-goroutine line, on an axis ending where the program did.
    let (html, end) = page("leak.toml", include_str!("../scenarios/leak.toml"), &[]);
    let items = render(&browser, &dir, "leak", &html);
    check_plots("leak", &items, &costream_model::html::secs_label(end));
    assert_eq!(plot(&items, "leaks").num("drawn"), 2.0);

    let _ = std::fs::remove_dir_all(&dir);
}
