//! Bursts of short requests colliding with GC cycles (§2.5). The Go program:
//!
//! ```go
//! var pool = sync.Pool{New: func() any { return make([]byte, 64<<10) }}
//! func serve(start time.Time) {
//!     buf := pool.Get().([]byte)        // or make([]byte, 64<<10) without the pool
//!     scratch := make([]byte, 16<<10)   // other garbage
//!     work(buf, scratch)                // 100 us of CPU
//!     pool.Put(buf)
//!     observe(time.Since(start))
//! }
//! func main() {
//!     sessions := makeSessions(64 << 20) // live state, scanned by every cycle
//!     for range time.Tick(50 * time.Millisecond) {
//!         start := time.Now()
//!         for i := 0; i < 2000; i++ { go serve(start) }
//!     }
//! }
//! ```
//!
//! Each request's latency is split into what it lost to stop-the-world pauses and to assists.

use super::PER_GOROUTINE;
use crate::goruntime::LostTime;
use crate::plot::tail_plot;
use crate::scenario::Scenario;
use crate::scenario::{dur_in, size_le, Invalid, Stage, GIB};
use crate::table::{latency_row, mib, Table};
use crate::world::{RunOutcome, Sim};
use costream_sim::SimDuration;
use costream_sim::SimTime;
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

/// Bursts of short requests around GC cycles (§2.5): every `interval`, `requests`
/// goroutines start at once; each takes a `buffer` (from a sync.Pool or freshly allocated),
/// computes `cpu`, returns the buffer and exits. The server keeps `live` bytes of session state.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurstSection {
    /// Between bursts.
    #[serde(with = "crate::units::dur")]
    pub interval: SimDuration,
    /// Goroutines each burst starts at once.
    pub requests: u32,
    /// Bytes of the buffer each request takes (from the pool, or allocated).
    #[serde(with = "crate::units::bytes")]
    pub buffer: u64,
    /// Other garbage each request allocates.
    #[serde(with = "crate::units::bytes")]
    pub garbage: u64,
    /// CPU each request computes.
    #[serde(with = "crate::units::dur")]
    pub cpu: SimDuration,
    /// Whether buffers come from a `sync.Pool` (true) or `make` (false).
    pub pool: bool,
    /// Bytes of long-lived session state the server keeps (scanned by every cycle).
    #[serde(with = "crate::units::bytes")]
    pub live: u64,
}

impl super::Section for BurstSection {
    const NAME: &'static str = "burst";
}

impl Default for BurstSection {
    fn default() -> Self {
        Self {
            interval: SimDuration::from_millis(50),
            requests: 2000,
            buffer: 64 << 10,
            garbage: 16 << 10,
            cpu: SimDuration::from_micros(100),
            pool: false,
            live: 64 << 20,
        }
    }
}

/// Per-request measurements.
pub struct BurstMetrics {
    /// Bursts started.
    pub bursts: u64,
    /// Requests finished.
    pub requests: u64,
    /// Burst start → request done, in ns.
    pub latency: Histogram<u64>,
    /// Time each request lost to stop-the-world pauses, in ns.
    pub stw_lost: Histogram<u64>,
    /// Time each request spent in mark assists, in ns.
    pub assist: Histogram<u64>,
    /// Requests that lost time to a stop-the-world pause.
    pub requests_hit_by_stw: u64,
    /// Requests that did mark-assist work.
    pub requests_assisting: u64,
}

impl BurstMetrics {
    fn new() -> Self {
        let h = || Histogram::new(3).expect("histogram");
        Self {
            bursts: 0,
            requests: 0,
            latency: h(),
            stw_lost: h(),
            assist: h(),
            requests_hit_by_stw: 0,
            requests_assisting: 0,
        }
    }
}

/// Builds the workload on a simulation from `super::new_sim` and runs it; returns what it
/// measured.
pub fn run(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome, Rc<RefCell<BurstMetrics>>) {
    let (sim, host) = super::new_sim(sc, seed, opts);
    let m = Rc::new(RefCell::new(BurstMetrics::new()));
    let b = sc.section::<BurstSection>();
    let metrics = m.clone();
    sim.main(host, move |go| async move {
        let _sessions = go.alloc_live(b.live).await;
        let pool = go.new_pool(b.buffer);
        let ticker = go.new_ticker(b.interval);
        loop {
            let start = ticker.c.recv(&go).await.expect("ticker channel stays open");
            metrics.borrow_mut().bursts += 1;
            for _ in 0..b.requests {
                let (pool, m, b) = (pool.clone(), metrics.clone(), b.clone());
                go.go("main.serve", move |go| async move {
                    let lost0 = go.lost_time();
                    let buf = if b.pool {
                        Some(pool.get(&go).await)
                    } else {
                        go.alloc(b.buffer).await
                    };
                    if b.garbage > 0 {
                        go.alloc(b.garbage).await;
                    }
                    go.compute(b.cpu).await;
                    if let Some(buf) = buf {
                        pool.put(&go, buf);
                    }
                    let lost: LostTime = go.lost_time().since(lost0);
                    let done = go.now();
                    let mut m = m.borrow_mut();
                    m.requests += 1;
                    let _ = m
                        .latency
                        .record(done.saturating_since(start).as_nanos().max(1));
                    let _ = m.stw_lost.record(lost.gc_stw.as_nanos());
                    let _ = m.assist.record(lost.assist.as_nanos());
                    m.requests_hit_by_stw += (!lost.gc_stw.is_zero()) as u64;
                    m.requests_assisting += (!lost.assist.is_zero()) as u64;
                });
            }
        }
    });
    let out = sim.run_with_progress(progress);
    (sim, out, m)
}

/// The burst workload as a [`super::Workload`].
pub struct BurstWorkload;

impl super::Workload for BurstWorkload {
    fn name(&self) -> &'static str {
        "burst"
    }

    fn sections(&self) -> &'static [super::SectionSpec] {
        const S: [super::SectionSpec; 1] = [super::SectionSpec::of::<BurstSection>()];
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
        let b = &sc.section::<BurstSection>();
        vec![format!(
            "bursts of {} requests every {} · buffer {} KiB ({}) · {} KiB other garbage · {} CPU each · {} MiB live state",
            b.requests,
            b.interval,
            b.buffer >> 10,
            if b.pool { "sync.Pool" } else { "fresh allocation" },
            b.garbage >> 10,
            b.cpu,
            mib(b.live)
        )]
    }

    fn report(&self, s: &mut String, _sc: &Scenario, ran: &super::Ran) {
        if let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<BurstMetrics>>>() {
            burst_section(s, &m.borrow());
        }
    }

    fn comparison(&self, ran: &super::Ran) -> (Option<Histogram<u64>>, String) {
        match ran.measured::<std::rc::Rc<std::cell::RefCell<BurstMetrics>>>() {
            Some(m) => (Some(m.borrow().latency.clone()), "-".into()),
            _ => (None, "-".into()),
        }
    }

    fn validate(&self, sc: &Scenario, stage: Stage) -> Result<(), Invalid> {
        let b = &sc.section::<BurstSection>();
        match stage {
            Stage::Ranges => {
                if b.requests == 0 || b.requests > 1_000_000 {
                    return Err((
                        "burst.requests".to_string(),
                        format!("{} is out of range", b.requests),
                        "use 1 to 1000000".into(),
                    ));
                }
                dur_in(
                    "burst.interval",
                    b.interval,
                    SimDuration::from_micros(1),
                    SimDuration::from_secs(3600),
                )?;
                dur_in(
                    "burst.cpu",
                    b.cpu,
                    SimDuration::ZERO,
                    SimDuration::from_secs(1),
                )
            }
            Stage::Values => {
                size_le("burst.buffer", b.buffer, GIB)?;
                size_le("burst.garbage", b.garbage, GIB)?;
                size_le("burst.live", b.live, 64 * GIB)
            }
            Stage::Sections => Ok(()),
        }
    }

    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String) {
        (
            sc.section::<BurstSection>().interval,
            format!(
                "bursts start every burst.interval ({})",
                sc.section::<BurstSection>().interval
            ),
        )
    }

    fn estimate(&self, sc: &Scenario) -> (Vec<super::Items>, f64) {
        let secs = sc.run.duration.as_secs_f64();
        let b = &sc.section::<BurstSection>();
        let items = vec![(b.requests as u64, "request goroutines", PER_GOROUTINE)];
        let bursts = secs / b.interval.as_secs_f64().max(1e-9);
        (items, bursts * b.requests as f64 * 6.0)
    }

    fn headline(&self, _sc: &Scenario, ran: &super::Ran, s: &mut String) -> &'static str {
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<BurstMetrics>>>() else {
            return "";
        };
        let m = m.borrow();
        *s += &tail_plot(
            "latency-burst",
            "Request latency tail: burst start → done",
            &m.latency,
        );
        *s += &tail_plot(
            "latency-stw",
            "Time lost to stop-the-world, per request",
            &m.stw_lost,
        );
        "request latency against GC pauses"
    }
}

fn burst_section(s: &mut String, m: &crate::workload::burst::BurstMetrics) {
    let _ = writeln!(s, "\nrequests: {} in {} bursts", m.requests, m.bursts);
    let mut t = Table::new(&["(ms)", "P50", "P99", "max", "mean"]);
    t.row(latency_row("burst start → done", &m.latency));
    t.row(latency_row("lost to stop-the-world", &m.stw_lost));
    t.row(latency_row("spent in mark assists", &m.assist));
    s.push_str(&t.render("  "));
    let share = |n: u64| {
        if m.requests == 0 {
            0.0
        } else {
            100.0 * n as f64 / m.requests as f64
        }
    };
    let _ = writeln!(
        s,
        "  {:.1}% of requests sat through a stop-the-world pause; {:.1}% assisted the GC",
        share(m.requests_hit_by_stw),
        share(m.requests_assisting)
    );
}
