//! §4.4: a circuit breaker around calls to a downstream service whose latency and
//! error rate are faulted on a schedule, with a context timeout per call and a degraded path
//! while the breaker refuses. The Go program:
//!
//! ```go
//! var cb = gobreaker.NewCircuitBreaker(gobreaker.Settings{MaxRequests: 3, Timeout: time.Second,
//!     ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 }})
//! func handle() {
//!     ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
//!     defer cancel()
//!     _, err := cb.Execute(func() (any, error) { return downstream.Call(ctx) })
//!     if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
//!         degrade()                       // serve without the downstream (audio only, cached)
//!     }
//! }
//! ```

use crate::goruntime::census::BUCKET;
use crate::goruntime::RecvCase;
use crate::plot::{
    bucket, bucket_steps, lanes_plot, state_spans, tail_plot, time_plot, STATE_NOTE,
};
use crate::scenario::Scenario;
use crate::scenario::{dur_in, Invalid, Stage};
use crate::server::breaker::{
    trip_after_consecutive_failures, Breaker, Counts, Refused, Settings, Transition,
};
use crate::table::{ms, pct, timeline, Table};
use crate::world::{RunOutcome, Sim};
use costream_sim::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

/// A scheduled downstream fault.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownstreamFault {
    /// When it starts, from the start of the run.
    #[serde(with = "crate::units::dur")]
    pub from: SimDuration,
    /// When it ends (exclusive).
    #[serde(with = "crate::units::dur")]
    pub until: SimDuration,
    /// Extra latency added to every call.
    #[serde(with = "crate::units::dur", default)]
    pub extra_latency: SimDuration,
    /// Error rate during the fault (0..1).
    #[serde(default)]
    pub error_rate: f64,
}

/// `[breaker]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSection {
    /// Between requests (a ticker).
    #[serde(with = "crate::units::dur")]
    pub request_interval: SimDuration,
    /// Downstream latency: the base, to which `latency_jitter` adds an exponential part.
    #[serde(with = "crate::units::dur")]
    pub latency: SimDuration,
    /// The mean of the exponential part of the downstream latency.
    #[serde(with = "crate::units::dur")]
    pub latency_jitter: SimDuration,
    /// Share of calls that fail outside a fault (0..1).
    pub error_rate: f64,
    /// Per-call context timeout.
    #[serde(with = "crate::units::dur")]
    pub call_timeout: SimDuration,
    /// gobreaker `MaxRequests`: trial calls while half-open, and successes that close it.
    pub max_requests: u32,
    /// gobreaker `Interval`: how often a closed breaker clears its counts (0: never).
    #[serde(with = "crate::units::dur")]
    pub interval: SimDuration,
    /// gobreaker `Timeout`: open this long before it turns half-open.
    #[serde(with = "crate::units::dur")]
    pub timeout: SimDuration,
    /// Trip after this many consecutive failures.
    pub trip_after: u32,
    /// `[[breaker.faults]]`: windows of extra latency or errors downstream.
    pub faults: Vec<DownstreamFault>,
}

impl super::Section for BreakerSection {
    const NAME: &'static str = "breaker";
}

impl Default for BreakerSection {
    fn default() -> Self {
        Self {
            request_interval: SimDuration::from_millis(10),
            latency: SimDuration::from_millis(20),
            latency_jitter: SimDuration::from_millis(10),
            error_rate: 0.01,
            call_timeout: SimDuration::from_millis(100),
            max_requests: 3,
            interval: SimDuration::ZERO,
            timeout: SimDuration::from_secs(1),
            trip_after: 5,
            faults: Vec::new(),
        }
    }
}

/// What a breaker run counted.
pub struct BreakerMetrics {
    /// Requests made (one per tick).
    pub requests: u64,
    /// Calls that succeeded within their timeout.
    pub ok: u64,
    /// Calls that failed downstream.
    pub errors: u64,
    /// Calls whose context timed out first.
    pub timeouts: u64,
    /// Requests the open breaker refused (`ErrOpenState`).
    pub refused_open: u64,
    /// Requests the half-open breaker refused (`ErrTooManyRequests`).
    pub refused_half_open: u64,
    /// Call latency of admitted calls, in ns.
    pub latency: Histogram<u64>,
    /// Every state change, in order.
    pub transitions: Vec<Transition>,
    /// The breaker's counts at the end of the run.
    pub final_counts: Counts,
    /// Per [`BUCKET`] of arrival time, requests by outcome, indexed like [`OUTCOMES`].
    pub outcomes: Vec<[u64; 4]>,
}

/// The outcomes [`BreakerMetrics::outcomes`] counts.
pub const OUTCOMES: [&str; 4] = ["ok", "error", "timeout", "refused (degraded)"];

impl BreakerMetrics {
    fn note(&mut self, arrived: SimTime, outcome: usize) {
        let b = (arrived.as_nanos() / BUCKET.as_nanos()) as usize;
        if self.outcomes.len() <= b {
            self.outcomes.resize(b + 1, [0; 4]);
        }
        self.outcomes[b][outcome] += 1;
    }
}

/// Builds the workload on a simulation from `super::new_sim` and runs it; returns what it
/// measured.
pub fn run(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome, Rc<RefCell<BreakerMetrics>>) {
    let (sim, host) = super::new_sim(sc, seed, opts);
    let cfg = sc.section::<BreakerSection>();
    let m = Rc::new(RefCell::new(BreakerMetrics {
        requests: 0,
        ok: 0,
        errors: 0,
        timeouts: 0,
        refused_open: 0,
        refused_half_open: 0,
        latency: Histogram::new(3).expect("histogram"),
        transitions: Vec::new(),
        final_counts: Counts::default(),
        outcomes: Vec::new(),
    }));
    let cb = Rc::new(RefCell::new(Breaker::new(
        Settings {
            max_requests: cfg.max_requests,
            interval: cfg.interval,
            timeout: cfg.timeout,
            ready_to_trip: trip_after_consecutive_failures(cfg.trip_after),
        },
        SimTime::ZERO,
    )));
    let (metrics, breaker) = (m.clone(), cb.clone());
    sim.main(host, move |go| async move {
        let mut rng = go.rng("downstream", 0);
        let tick = go.new_ticker(cfg.request_interval);
        let bg = go.background();
        loop {
            tick.c.recv(&go).await;
            let now = go.now();
            let since = now.since_start();
            let fault = cfg
                .faults
                .iter()
                .find(|f| f.from <= since && since < f.until);
            let latency = cfg.latency
                + SimDuration::from_nanos(
                    rng.exponential(cfg.latency_jitter.as_nanos() as f64) as u64
                )
                + fault.map_or(SimDuration::ZERO, |f| f.extra_latency);
            let fails = rng.chance(fault.map_or(cfg.error_rate, |f| f.error_rate));
            let (m, cb, bg) = (metrics.clone(), breaker.clone(), bg.clone());
            let call_timeout = cfg.call_timeout;
            go.go("main.handle", move |go| async move {
                m.borrow_mut().requests += 1;
                let arrived = go.now();
                let admitted = cb.borrow_mut().before_request(arrived);
                let generation = match admitted {
                    Ok(g) => g,
                    Err(Refused::Open) => {
                        let mut m = m.borrow_mut();
                        m.refused_open += 1;
                        m.note(arrived, 3);
                        return; // degrade: serve without the downstream
                    }
                    Err(Refused::TooManyRequests) => {
                        let mut m = m.borrow_mut();
                        m.refused_half_open += 1;
                        m.note(arrived, 3);
                        return;
                    }
                };
                let (ctx, cancel) = go.with_timeout(&bg, call_timeout);
                let t0 = go.now();
                let reply = go.after(latency);
                let mut r = RecvCase::new(&reply);
                let mut done = RecvCase::new(&ctx.done());
                let timed_out = go.select(&mut [&mut r, &mut done]).await == 1;
                cancel.cancel(&go);
                let success = !timed_out && !fails;
                cb.borrow_mut().after_request(generation, success, go.now());
                let mut m = m.borrow_mut();
                let _ = m
                    .latency
                    .record(go.now().saturating_since(t0).as_nanos().max(1));
                if timed_out {
                    m.timeouts += 1;
                    m.note(arrived, 2);
                } else if fails {
                    m.errors += 1;
                    m.note(arrived, 1);
                } else {
                    m.ok += 1;
                    m.note(arrived, 0);
                }
            });
        }
    });
    let out = sim.run_with_progress(progress);
    {
        let mut b = cb.borrow_mut();
        let _ = b.state(out.now); // an expired open timeout becomes half-open, as gobreaker's State()
        let mut mm = m.borrow_mut();
        mm.transitions = b.transitions.clone();
        mm.final_counts = b.counts();
    }
    (sim, out, m)
}

/// The breaker workload as a [`super::Workload`].
pub struct BreakerWorkload;

impl super::Workload for BreakerWorkload {
    fn name(&self) -> &'static str {
        "breaker"
    }

    fn sections(&self) -> &'static [super::SectionSpec] {
        const S: [super::SectionSpec; 1] = [super::SectionSpec::of::<BreakerSection>()];
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
        let b = &sc.section::<BreakerSection>();
        let mut v = vec![format!(
            "a call every {} to a downstream ({} + exp({}) latency, {:.1}% errors) · timeout {} · breaker: trip after {} failures, open {}, half-open admits {}",
            b.request_interval, b.latency, b.latency_jitter, 100.0 * b.error_rate, b.call_timeout, b.trip_after, b.timeout, b.max_requests.max(1)
        )];
        for f in &b.faults {
            v.push(format!(
                "  fault {}–{}: +{} latency, {:.0}% errors",
                f.from,
                f.until,
                f.extra_latency,
                100.0 * f.error_rate
            ));
        }
        v
    }

    fn report(&self, s: &mut String, _sc: &Scenario, ran: &super::Ran) {
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<BreakerMetrics>>>() else {
            return;
        };
        let m = m.borrow();
        let _ = writeln!(s, "\nrequests");
        let mut t = Table::new(&[
            "requests",
            "ok",
            "errors",
            "timeouts",
            "refused (open)",
            "refused (half-open)",
            "call P50 ms",
            "call P99 ms",
        ]);
        t.row(vec![
            m.requests.to_string(),
            m.ok.to_string(),
            m.errors.to_string(),
            m.timeouts.to_string(),
            m.refused_open.to_string(),
            m.refused_half_open.to_string(),
            ms(pct(&m.latency, 0.5)),
            ms(pct(&m.latency, 0.99)),
        ]);
        s.push_str(&t.render("  "));
        timeline(s, "breaker timeline", &m.transitions);
    }

    fn comparison(&self, ran: &super::Ran) -> (Option<Histogram<u64>>, String) {
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<BreakerMetrics>>>() else {
            return (None, "-".into());
        };
        let m = m.borrow();
        (
            Some(m.latency.clone()),
            format!(
                "{} refused, {} flips",
                m.refused_open + m.refused_half_open,
                m.transitions.len()
            ),
        )
    }

    fn validate(&self, sc: &Scenario, stage: Stage) -> Result<(), Invalid> {
        if stage != Stage::Sections {
            return Ok(());
        }
        let b = &sc.section::<BreakerSection>();
        let (us, minute, hour) = (
            SimDuration::from_micros(1),
            SimDuration::from_secs(60),
            SimDuration::from_secs(3600),
        );
        dur_in("breaker.request_interval", b.request_interval, us, minute)?;
        dur_in("breaker.latency", b.latency, SimDuration::ZERO, minute)?;
        dur_in(
            "breaker.latency_jitter",
            b.latency_jitter,
            SimDuration::ZERO,
            minute,
        )?;
        dur_in("breaker.call_timeout", b.call_timeout, us, minute)?;
        dur_in("breaker.timeout", b.timeout, us, hour)?;
        dur_in("breaker.interval", b.interval, SimDuration::ZERO, hour)?;
        let rate = |name: String, r: f64| -> Result<(), Invalid> {
            if (0.0..=1.0).contains(&r) {
                Ok(())
            } else {
                Err((
                    name,
                    format!("{r} is out of range"),
                    "use a fraction in [0, 1], e.g. 0.05".to_string(),
                ))
            }
        };
        rate("breaker.error_rate".into(), b.error_rate)?;
        if b.max_requests == 0 || b.trip_after == 0 {
            return Err((
                "breaker.max_requests".to_string(),
                format!(
                    "max_requests {} / trip_after {} must be at least 1",
                    b.max_requests, b.trip_after
                ),
                "gobreaker treats max_requests 0 as 1; write 1 to say so".into(),
            ));
        }
        for (i, f) in b.faults.iter().enumerate() {
            if f.from >= f.until {
                return Err((
                    format!("breaker.faults[{i}]"),
                    format!("from {} is not before until {}", f.from, f.until),
                    "give the window as from < until, e.g. from = \"2s\", until = \"5s\"".into(),
                ));
            }
            rate(format!("breaker.faults[{i}].error_rate"), f.error_rate)?;
            dur_in(
                &format!("breaker.faults[{i}].extra_latency"),
                f.extra_latency,
                SimDuration::ZERO,
                minute,
            )?;
        }
        Ok(())
    }

    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String) {
        let b = &sc.section::<BreakerSection>();
        (
            b.request_interval + b.latency,
            format!(
                "the first call needs breaker.request_interval + breaker.latency ({})",
                b.request_interval + b.latency
            ),
        )
    }

    fn estimate(&self, sc: &Scenario) -> (Vec<super::Items>, f64) {
        let secs = sc.run.duration.as_secs_f64();
        let b = &sc.section::<BreakerSection>();
        (
            Vec::new(),
            secs / b.request_interval.as_secs_f64().max(1e-9) * 8.0,
        )
    }

    fn headline(&self, sc: &Scenario, ran: &super::Ran, s: &mut String) -> &'static str {
        let Some(m) = ran.measured::<std::rc::Rc<std::cell::RefCell<BreakerMetrics>>>() else {
            return "";
        };
        let end_t = ran.out.now;
        let end = end_t.since_start().as_secs_f64().max(1e-9);
        let m = m.borrow();
        let mut spans = state_spans(0, &m.transitions, end_t);
        for f in &sc.section::<BreakerSection>().faults {
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
        *s += &lanes_plot(
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
        *s += &p.render();
        *s += &tail_plot(
            "latency-breaker",
            "Call latency tail (admitted calls)",
            &m.latency,
        );
        "breaker states and request outcomes"
    }
}
