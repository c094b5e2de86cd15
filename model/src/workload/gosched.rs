//! §2.4: `runtime.Gosched()` every N messages in low-priority loops, next to
//! high-priority request handling. The Go program:
//!
//! ```go
//! func signallingLoop(msgs []Msg) {          // low priority, never blocks
//!     for i, m := range msgs {
//!         process(m)                         // 50 us of CPU
//!         if every > 0 && i%every == 0 { runtime.Gosched() }
//!     }
//! }
//! func serve() {                             // high priority: a request every millisecond
//!     for t := range time.Tick(time.Millisecond) {
//!         handle()                           // 20 us of CPU
//!         observe(time.Since(t))
//!     }
//! }
//! ```
//!
//! With every P busy in a loop that never blocks, the requests' ticker fires only when its P
//! passes through `schedule` (which runs its timers) or sysmon preempts the loop after 10 ms.
//! Gosched sends the loop through `schedule` every N messages.

use super::PER_GOROUTINE;
use crate::plot::tail_plot;
use crate::scenario::Scenario;
use crate::scenario::{dur_le, ints_in, Invalid, Stage};
use crate::table::{latency_row, Table};
use crate::world::{RunOutcome, Sim};
use costream_sim::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

/// `[gosched]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoschedSection {
    /// Low-priority loops (one per P keeps every P busy).
    pub loops: u32,
    /// CPU per low-priority message.
    #[serde(with = "crate::units::dur")]
    pub message_cpu: SimDuration,
    /// Gosched every this many messages; 0: never.
    pub every: u32,
    /// Between high-priority requests (a ticker).
    #[serde(with = "crate::units::dur")]
    pub request_interval: SimDuration,
    /// CPU per request.
    #[serde(with = "crate::units::dur")]
    pub request_cpu: SimDuration,
}

impl super::Section for GoschedSection {
    const NAME: &'static str = "gosched";
}

impl Default for GoschedSection {
    fn default() -> Self {
        Self {
            loops: 2,
            message_cpu: SimDuration::from_micros(50),
            every: 0,
            request_interval: SimDuration::from_millis(1),
            request_cpu: SimDuration::from_micros(20),
        }
    }
}

/// What a gosched run measured.
pub struct GoschedMetrics {
    /// Due time of each tick → handled, in ns.
    pub latency: Histogram<u64>,
    /// Requests handled.
    pub requests: u64,
    /// Low-priority messages processed.
    pub messages: u64,
}

/// Builds the workload on a simulation from `super::new_sim` and runs it; returns what it
/// measured.
pub fn run(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome, Rc<RefCell<GoschedMetrics>>) {
    let (sim, host) = super::new_sim(sc, seed, opts);
    let cfg = sc.section::<GoschedSection>();
    let m = Rc::new(RefCell::new(GoschedMetrics {
        latency: Histogram::new(3).expect("histogram"),
        requests: 0,
        messages: 0,
    }));
    let metrics = m.clone();
    sim.main(host, move |go| async move {
        let m2 = metrics.clone();
        let c2 = cfg.clone();
        go.go("main.serve", move |go| async move {
            let tick = go.new_ticker(c2.request_interval);
            while let Some(due) = tick.c.recv(&go).await {
                go.compute(c2.request_cpu).await;
                let mut m = m2.borrow_mut();
                m.requests += 1;
                let _ = m
                    .latency
                    .record(go.now().saturating_since(due).as_nanos().max(1));
            }
        });
        for _ in 0..cfg.loops {
            let (m, cfg) = (metrics.clone(), cfg.clone());
            go.go("main.signallingLoop", move |go| async move {
                let mut i: u64 = 0;
                loop {
                    go.compute(cfg.message_cpu).await;
                    m.borrow_mut().messages += 1;
                    i += 1;
                    if cfg.every > 0 && i.is_multiple_of(cfg.every as u64) {
                        go.gosched().await;
                    }
                }
            });
        }
        go.block().await;
    });
    let out = sim.run_with_progress(progress);
    (sim, out, m)
}

/// The gosched workload as a [`super::Workload`].
pub struct GoschedWorkload;

impl super::Workload for GoschedWorkload {
    fn name(&self) -> &'static str {
        "gosched"
    }

    fn sections(&self) -> &'static [super::SectionSpec] {
        const S: [super::SectionSpec; 1] = [super::SectionSpec::of::<GoschedSection>()];
        &S
    }

    fn run(
        &self,
        sc: &Scenario,
        seed: u64,
        opts: &crate::world::SimOptions,
        progress: &mut dyn FnMut(SimTime, u64),
    ) -> (Sim, RunOutcome, super::Measured) {
        let (sim, out, m) = run(sc, seed, opts, progress);
        (sim, out, Box::new(m))
    }

    fn summary(&self, sc: &Scenario, _ran: &super::Ran) -> Vec<String> {
        let g = &sc.section::<GoschedSection>();
        let every = if g.every == 0 {
            "never".to_string()
        } else {
            format!("every {} messages", g.every)
        };
        vec![format!(
            "{} low-priority loops ({} per message, Gosched {every}) · a {} request every {}",
            g.loops, g.message_cpu, g.request_cpu, g.request_interval
        )]
    }

    fn report(&self, s: &mut String, _sc: &Scenario, ran: &super::Ran) {
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<GoschedMetrics>>>() else {
            return;
        };
        let m = m.borrow();
        let _ = writeln!(
            s,
            "\nrequests: {} handled · low-priority messages: {}",
            m.requests, m.messages
        );
        let mut t = Table::new(&["(ms)", "P50", "P99", "max", "mean"]);
        t.row(latency_row("tick due → handled", &m.latency));
        s.push_str(&t.render("  "));
    }

    fn comparison(&self, ran: &super::Ran) -> (Option<Histogram<u64>>, String) {
        match ran.measured::<std::rc::Rc<std::cell::RefCell<GoschedMetrics>>>() {
            Some(m) => (Some(m.borrow().latency.clone()), "-".into()),
            _ => (None, "-".into()),
        }
    }

    fn validate(&self, sc: &Scenario, stage: Stage) -> Result<(), Invalid> {
        if stage != Stage::Values {
            return Ok(());
        }
        let (sec, hour) = (SimDuration::from_secs(1), SimDuration::from_secs(3600));
        let g = &sc.section::<GoschedSection>();
        ints_in(
            &[
                ("gosched.loops", g.loops, 0, 4096),
                ("gosched.every", g.every, 0, 1_000_000),
            ],
            " (every: 0 means never)",
        )?;
        if g.loops > 0 && g.message_cpu.is_zero() {
            return Err((
                "gosched.message_cpu".into(),
                "a loop whose messages cost no CPU never lets virtual time pass".into(),
                "give each message some CPU, e.g. \"50us\"".into(),
            ));
        }
        dur_le("gosched.message_cpu", g.message_cpu, sec)?;
        if g.request_interval < SimDuration::from_micros(1) || g.request_interval > hour {
            return Err((
                "gosched.request_interval".into(),
                format!("{} is out of range", g.request_interval),
                "use 1us to 1h".into(),
            ));
        }
        dur_le("gosched.request_cpu", g.request_cpu, sec)
    }

    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String) {
        (
            sc.section::<GoschedSection>().request_interval,
            format!(
                "requests arrive every gosched.request_interval ({})",
                sc.section::<GoschedSection>().request_interval
            ),
        )
    }

    fn estimate(&self, sc: &Scenario) -> (Vec<super::Items>, f64) {
        let secs = sc.run.duration.as_secs_f64();
        let g = &sc.section::<GoschedSection>();
        let items = vec![(g.loops as u64, "loop goroutines", PER_GOROUTINE)];
        let per_s = 1.0 / g.message_cpu.as_secs_f64().max(1e-9)
            + 1.0 / g.request_interval.as_secs_f64().max(1e-9);
        (items, per_s * secs * 4.0)
    }

    fn headline(&self, _sc: &Scenario, ran: &super::Ran, s: &mut String) -> &'static str {
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<GoschedMetrics>>>() else {
            return "";
        };
        let m = m.borrow();
        *s += &tail_plot(
            "latency-gosched",
            "Request latency tail: tick due → handled",
            &m.latency,
        );
        "request latency next to low-priority loops"
    }
}
