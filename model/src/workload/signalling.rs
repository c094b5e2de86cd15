//! §4.3: a signalling session whose reader goroutine leaks.
//!
//! The buggy program (`fixed = false`):
//!
//! ```go
//! func handleSession(conn *Conn) {
//!     inbound := make(chan Msg)
//!     go readLoop(inbound)
//!     for m := range conn.messages() { inbound <- m }
//!     // the peer went away: return without closing inbound
//! }
//! func readLoop(in chan Msg) {
//!     for { m := <-in; process(m) }   // blocks forever once the writer is gone
//! }
//! ```
//!
//! The fix (`fixed = true`): a context per session, a bounded inbound channel, and close on exit.
//!
//! ```go
//! func handleSession(conn *Conn) {
//!     ctx, cancel := context.WithCancel(context.Background())
//!     inbound := make(chan Msg, 16)
//!     go readLoop(ctx, inbound)
//!     defer func() { cancel(); close(inbound) }()
//!     for m := range conn.messages() {
//!         select { case inbound <- m: case <-ctx.Done(): return }
//!     }
//! }
//! func readLoop(ctx context.Context, in chan Msg) {
//!     for {
//!         select {
//!         case m, ok := <-in: if !ok { return }; process(m)
//!         case <-ctx.Done(): return
//!         }
//!     }
//! }
//! ```

use super::PER_GOROUTINE;
use crate::goruntime::WaitGroup;
use crate::leak::{self, Leak};
use crate::plot::{held_steps, time_plot};
use crate::scenario::Scenario;
use crate::scenario::{dur_le, ints_in, Invalid, Stage};
use crate::table::Table;
use crate::world::{RunOutcome, Sim};
use costream_sim::{SimDuration, SimTime};
use serde::Deserialize;
use std::fmt::Write as _;

/// `[signalling]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignallingSection {
    /// Sessions over the run.
    pub sessions: u32,
    /// Mean time between session arrivals (exponential).
    #[serde(with = "crate::units::dur")]
    pub arrival_mean: SimDuration,
    /// Each session exchanges 1 to this many messages.
    pub messages_max: u32,
    /// Between a session's messages.
    #[serde(with = "crate::units::dur")]
    pub message_interval: SimDuration,
    /// CPU to process one message.
    #[serde(with = "crate::units::dur")]
    pub process_cpu: SimDuration,
    /// The fix: context, bounded inbound channel, close on exit.
    pub fixed: bool,
    /// Capacity of the fixed version's inbound channel.
    pub inbound_capacity: u32,
}

impl super::Section for SignallingSection {
    const NAME: &'static str = "signalling";
}

impl Default for SignallingSection {
    fn default() -> Self {
        Self {
            sessions: 200,
            arrival_mean: SimDuration::from_millis(5),
            messages_max: 10,
            message_interval: SimDuration::from_millis(2),
            process_cpu: SimDuration::from_micros(20),
            fixed: false,
            inbound_capacity: 16,
        }
    }
}

/// What the run found.
pub struct SignallingMetrics {
    /// Sessions started.
    pub sessions: u64,
    /// Messages processed.
    pub messages: u64,
    /// goleak-style: alive when main returned (main itself ignored).
    pub still_alive: Vec<Leak>,
    /// Blocked on channels nothing runnable can reach.
    pub unreachable: Vec<Leak>,
}

/// Builds the workload on a simulation from `super::new_sim` and runs it; returns what it
/// measured.
pub fn run(
    sc: &Scenario,
    seed: u64,
    opts: &crate::world::SimOptions,
    progress: impl FnMut(SimTime, u64),
) -> (Sim, RunOutcome, SignallingMetrics) {
    let (sim, host) = super::new_sim(sc, seed, opts);
    let cfg = sc.section::<SignallingSection>();
    let counts = std::rc::Rc::new(std::cell::Cell::new((0u64, 0u64)));
    let c = counts.clone();
    sim.main(host, move |go| async move {
        let wg = WaitGroup::new();
        let mut rng = go.rng("signalling", 0);
        for _ in 0..cfg.sessions {
            go.sleep(SimDuration::from_nanos(
                rng.exponential(cfg.arrival_mean.as_nanos() as f64) as u64,
            ))
            .await;
            let n = 1 + rng.below(cfg.messages_max.max(1) as u64) as u32;
            c.set((c.get().0 + 1, c.get().1 + n as u64));
            wg.add(&go, 1);
            let (wg, cfg) = (wg.clone(), cfg.clone());
            go.go("main.handleSession", move |go| async move {
                if cfg.fixed {
                    handle_fixed(&go, n, &cfg).await;
                } else {
                    handle_buggy(&go, n, &cfg).await;
                }
                wg.done(&go);
            });
        }
        wg.wait(&go).await;
        // Let readers notice their sessions ended.
        go.sleep(SimDuration::from_millis(100)).await;
    });
    let out = sim.run_with_progress(progress);
    let (still_alive, unreachable) = sim.runtime(host, |rt| {
        (
            leak::still_alive(rt, out.now, &["main.main"]),
            leak::unreachable(rt, out.now),
        )
    });
    let (sessions, messages) = counts.get();
    (
        sim,
        out,
        SignallingMetrics {
            sessions,
            messages,
            still_alive,
            unreachable,
        },
    )
}

async fn handle_buggy(go: &crate::world::Go, n: u32, cfg: &SignallingSection) {
    let inbound = go.make_chan::<u32>(0);
    let rx = inbound.clone();
    let cpu = cfg.process_cpu;
    go.go("main.readLoop", move |go| async move {
        loop {
            // `m := <-in`: never checks for close, never sees the session end.
            let _m = rx.recv(&go).await;
            go.compute(cpu).await;
        }
    });
    for m in 0..n {
        inbound.send(go, m).await;
        go.sleep(cfg.message_interval).await;
    }
    // The peer went away: return without closing `inbound`.
}

async fn handle_fixed(go: &crate::world::Go, n: u32, cfg: &SignallingSection) {
    let bg = go.background();
    let (ctx, cancel) = go.with_cancel(&bg);
    let inbound = go.make_chan::<u32>(cfg.inbound_capacity as usize);
    let (rx, rctx, cpu) = (inbound.clone(), ctx.clone(), cfg.process_cpu);
    go.go("main.readLoop", move |go| async move {
        loop {
            crate::select! { go,
                m = recv(rx) => {
                    if m.is_none() {
                        return; // inbound closed
                    }
                    go.compute(cpu).await;
                },
                recv(rctx.done()) => return, // ctx cancelled
            }
        }
    });
    for m in 0..n {
        let cancelled = crate::select! { go,
            send(inbound, m) => false,
            recv(ctx.done()) => true,
        };
        if cancelled {
            break;
        }
        go.sleep(cfg.message_interval).await;
    }
    cancel.cancel(go);
    inbound.close(go);
}

/// The signalling sessions as a [`super::Workload`].
pub struct SignallingWorkload;

impl super::Workload for SignallingWorkload {
    fn name(&self) -> &'static str {
        "signalling"
    }

    fn sections(&self) -> &'static [super::SectionSpec] {
        const S: [super::SectionSpec; 1] = [super::SectionSpec::of::<SignallingSection>()];
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

    fn summary(&self, sc: &Scenario, ran: &super::Ran) -> Vec<String> {
        let Some(m) = ran.measured::<SignallingMetrics>() else {
            return Vec::new();
        };
        vec![format!(
            "signalling sessions ({}): {} sessions, {} messages",
            if sc.section::<SignallingSection>().fixed {
                "fixed: ctx.Done, bounded inbound, close on exit"
            } else {
                "buggy: reader never sees its session end"
            },
            m.sessions,
            m.messages
        )]
    }

    fn report(&self, s: &mut String, _sc: &Scenario, ran: &super::Ran) {
        if let Some(m) = ran.measured::<SignallingMetrics>() {
            signalling_section(s, m);
        }
    }

    fn comparison(&self, ran: &super::Ran) -> (Option<hdrhistogram::Histogram<u64>>, String) {
        match ran.measured::<SignallingMetrics>() {
            Some(m) => (None, format!("{} leaked", m.unreachable.len())),
            _ => (None, "-".into()),
        }
    }

    fn validate(&self, sc: &Scenario, stage: Stage) -> Result<(), Invalid> {
        if stage != Stage::Values {
            return Ok(());
        }
        let (sec, hour) = (SimDuration::from_secs(1), SimDuration::from_secs(3600));
        let g = &sc.section::<SignallingSection>();
        ints_in(
            &[
                ("signalling.sessions", g.sessions, 1, 1_000_000),
                ("signalling.messages_max", g.messages_max, 1, 10_000),
                (
                    "signalling.inbound_capacity",
                    g.inbound_capacity,
                    0,
                    1 << 20,
                ),
            ],
            "",
        )?;
        dur_le("signalling.arrival_mean", g.arrival_mean, hour)?;
        dur_le("signalling.message_interval", g.message_interval, hour)?;
        dur_le("signalling.process_cpu", g.process_cpu, sec)
    }

    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String) {
        (
            sc.section::<SignallingSection>().arrival_mean,
            format!(
                "sessions arrive every signalling.arrival_mean ({}) on average",
                sc.section::<SignallingSection>().arrival_mean
            ),
        )
    }

    fn estimate(&self, sc: &Scenario) -> (Vec<super::Items>, f64) {
        let s = &sc.section::<SignallingSection>();
        // A leaking reader keeps its goroutine, channel and session until the run ends.
        let items = vec![(2 * s.sessions as u64, "session goroutines", PER_GOROUTINE)];
        (
            items,
            s.sessions as f64 * (s.messages_max as f64 + 4.0) * 4.0,
        )
    }

    fn headline(&self, _sc: &Scenario, ran: &super::Ran, s: &mut String) -> &'static str {
        let Some(m) = ran.measured::<SignallingMetrics>() else {
            return "";
        };
        let end = ran.out.now.since_start().as_secs_f64().max(1e-9);
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
        *s += &p.render();
        "leaked goroutines"
    }
}

fn signalling_section(s: &mut String, m: &crate::workload::signalling::SignallingMetrics) {
    for (title, leaks) in [
        (
            "goroutines still alive when main returned (goleak-style)",
            &m.still_alive,
        ),
        ("goroutines blocked on unreachable channels", &m.unreachable),
    ] {
        let _ = writeln!(s, "\n{title}: {}", leaks.len());
        if leaks.is_empty() {
            continue;
        }
        let mut t = Table::new(&[
            "function",
            "created by",
            "waiting on",
            "count",
            "longest wait",
        ]);
        for (f, by, reason, n, w) in crate::leak::by_site(leaks) {
            t.row(vec![
                f.into(),
                by.into(),
                reason.as_str().into(),
                n.to_string(),
                w.to_string(),
            ]);
        }
        s.push_str(&t.render("  "));
        let _ = writeln!(s, "  first: {}", leaks[0]);
    }
}
