//! Swarm testing (after TigerBeetle's VOPR): a seed derives the whole run — GOMAXPROCS, GOGC,
//! cost jitter, server architecture, network profile and a mix of faults — so a sweep over
//! seeds explores configurations nobody wrote down. Every fault heals by `FAULTS_END`; a
//! liveness phase then checks that the server recovered within `RECOVER_WITHIN`: audio back
//! under its latency budget, the degradation breaker closed, and no goroutines left over.

use crate::goruntime::{GcPercent, Pause};
use crate::net::link::Loss;
use crate::net::FaultKind;
use crate::scenario::{Architecture, Handoff, Scenario, QUICKSTART};
use crate::scenario::{Direction, Fault};
use crate::workload::room;
use crate::world::Sim;
use costream_sim::{RngStreams, SimDuration, SimTime};

/// Every fault ends by then.
pub const FAULTS_END: SimDuration = SimDuration::from_millis(1500);
/// The recovery the liveness phase allows after the faults heal.
pub const RECOVER_WITHIN: SimDuration = SimDuration::from_millis(5000);
/// The measured window after recovery.
pub const WINDOW: SimDuration = SimDuration::from_millis(1000);

/// The configuration a seed derives, printed in full when its run fails.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmConfig {
    /// The seed the configuration is derived from; the run uses it too.
    pub seed: u64,
    /// The server's GOMAXPROCS: 1, 2, 4 or 8.
    pub gomaxprocs: u32,
    /// The server's GOGC percentage: 25, 50, 100 or 200.
    pub gogc: u32,
    /// Spread of CPU costs, 0 to 0.49 (`forwarding.cpu_jitter`).
    pub cpu_jitter: f64,
    /// Co-streaming rooms, 2 to 8.
    pub rooms: u32,
    /// The server's forwarding architecture, each equally likely.
    pub architecture: Architecture,
    /// Whether the receive → forward handoff blocks on a full channel (`ch <- f`) or drops.
    pub blocking: bool,
    /// Whether the degradation breaker sheds video (`degrade.enabled`).
    pub degrade: bool,
    /// `lan`, `wan`, `lossy` or `bursty`.
    pub network: &'static str,
    /// Host stalls: (at, duration).
    pub stalls: Vec<(SimDuration, SimDuration)>,
    /// Partitions or clogs: (partition?, from, until).
    pub faults: Vec<(bool, SimDuration, SimDuration)>,
    /// Bytes allocated per packet (a GC storm when large).
    pub alloc_bytes: u64,
}

/// Derives the run for `seed` from its own named stream.
pub fn derive(seed: u64) -> SwarmConfig {
    let mut r = RngStreams::new(seed).stream("swarm.config");
    let pick = |r: &mut costream_sim::SimRng, n: u64| r.below(n);
    let ms = SimDuration::from_millis;
    let mut stalls = Vec::new();
    for _ in 0..pick(&mut r, 3) {
        let at = 200 + pick(&mut r, 1000);
        stalls.push((ms(at), ms(1 + pick(&mut r, 250))));
    }
    let mut faults = Vec::new();
    for _ in 0..pick(&mut r, 3) {
        let from = 200 + pick(&mut r, 1000);
        let len = 1 + pick(&mut r, (FAULTS_END.as_nanos() / 1_000_000) - from);
        faults.push((pick(&mut r, 2) == 0, ms(from), ms(from + len)));
    }
    SwarmConfig {
        seed,
        gomaxprocs: [1, 2, 4, 8][pick(&mut r, 4) as usize],
        gogc: [25, 50, 100, 200][pick(&mut r, 4) as usize],
        cpu_jitter: pick(&mut r, 50) as f64 / 100.0,
        rooms: 2 + pick(&mut r, 7) as u32,
        architecture: [
            Architecture::PerStream,
            Architecture::Pool,
            Architecture::Split,
            Architecture::Livekit,
        ][pick(&mut r, 4) as usize],
        blocking: pick(&mut r, 2) == 0,
        degrade: pick(&mut r, 2) == 0,
        network: ["lan", "wan", "lossy", "bursty"][pick(&mut r, 4) as usize],
        stalls,
        faults,
        alloc_bytes: [0, 1460, 64 * 1024][pick(&mut r, 3) as usize],
    }
}

impl SwarmConfig {
    /// The scenario it stands for (the quickstart server, reconfigured).
    pub fn scenario(&self) -> Scenario {
        let total = FAULTS_END + RECOVER_WITHIN + WINDOW;
        let sets = vec![format!(
            "run.duration=\"{}ms\"",
            total.as_nanos() / 1_000_000
        )];
        let mut sc = crate::workload::load("swarm", QUICKSTART, &sets).expect("quickstart loads");
        sc.server.gomaxprocs = self.gomaxprocs;
        sc.server.gogc = GcPercent::Percent(self.gogc);
        sc.forwarding.cpu_jitter = self.cpu_jitter;
        sc.rooms.count = self.rooms;
        sc.forwarding.architecture = self.architecture;
        sc.forwarding.handoff = if self.blocking {
            Handoff::Blocking
        } else {
            Handoff::Nonblocking
        };
        sc.degrade.enabled = self.degrade;
        sc.forwarding.alloc_bytes = self.alloc_bytes;
        let (delay, jitter, loss) = match self.network {
            "lan" => (5, 1, Loss::None),
            "wan" => (40, 8, Loss::None),
            "lossy" => (25, 3, Loss::Random { percent: 1.0 }),
            _ => (
                25,
                3,
                Loss::Burst {
                    percent: 3.0,
                    avg_burst_loss_length: 4.0,
                },
            ),
        };
        for l in [&mut sc.network.uplink, &mut sc.network.downlink] {
            l.delay = SimDuration::from_millis(delay);
            l.jitter = SimDuration::from_millis(jitter);
            l.loss = loss;
        }
        sc.server.stalls.pauses = self
            .stalls
            .iter()
            .map(|&(at, duration)| Pause { at, duration })
            .collect();
        sc.network.faults = self
            .faults
            .iter()
            .map(|&(partition, from, until)| Fault {
                kind: if partition {
                    FaultKind::Partition
                } else {
                    FaultKind::Clog
                },
                from,
                until,
                direction: Direction::Both,
                rooms: vec![],
            })
            .collect();
        sc.validate().unwrap_or_else(|e| {
            panic!(
                "swarm seed {} derived an invalid scenario: {e:?}",
                self.seed
            )
        });
        sc
    }
}

/// What the liveness phase saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Liveness {
    /// Audio's P99 capture → playout latency over the measured window after recovery.
    pub audio_p99: SimDuration,
    /// The latency budget audio must meet (`receiver.budget`).
    pub audio_budget: SimDuration,
    /// Whether the degradation breaker is not open at the end (closed, half-open, or off).
    pub breaker_closed: bool,
    /// Live goroutines before the first fault (the baseline).
    pub goroutines_before: u64,
    /// Live goroutines at the end, after recovery.
    pub goroutines_after: u64,
    /// Goroutines blocked on channels nothing runnable can reach ([`crate::leak::unreachable`]).
    pub leaked: usize,
}

impl Liveness {
    /// The failed checks, in words.
    pub fn problems(&self, transient: u64) -> Vec<String> {
        let mut v = Vec::new();
        if self.audio_p99 > self.audio_budget {
            v.push(format!(
                "audio P99 {} after recovery is over its budget {}",
                self.audio_p99, self.audio_budget
            ));
        }
        if !self.breaker_closed {
            v.push("the degradation breaker is still not closed".into());
        }
        if self.goroutines_after > self.goroutines_before + transient {
            v.push(format!(
                "{} goroutines after recovery, {} before the faults",
                self.goroutines_after, self.goroutines_before
            ));
        }
        if self.leaked > 0 {
            v.push(format!("{} goroutines leaked", self.leaked));
        }
        v
    }
}

/// Runs `cfg` through its faults and the liveness phase.
pub fn run(cfg: &SwarmConfig, opts: &crate::world::SimOptions) -> (Sim, Liveness) {
    let sc = cfg.scenario();
    let (sim, m) = room::build(&sc, cfg.seed, opts);
    let t0 = SimTime::ZERO;
    // Baseline: before the first fault (all start at 200 ms or later).
    sim.run_until(t0 + SimDuration::from_millis(150));
    let before = sim.runtime(0, |rt| rt.live_goroutines());
    sim.run_until(t0 + FAULTS_END + RECOVER_WITHIN);
    for p in &m.borrow().players {
        p.borrow_mut().reset_qoe();
    }
    let out = sim.run();
    for p in &m.borrow().players {
        p.borrow_mut().finish(out.now);
    }
    let m = m.borrow();
    let audio = m
        .aggregate(crate::media::rtp::MediaKind::Audio)
        .map(|(q, _, _)| q);
    let audio_p99 = audio.as_ref().map_or(SimDuration::ZERO, |q| {
        SimDuration::from_nanos(q.latency.value_at_quantile(0.99))
    });
    let breaker_closed = m.degrade_state(out.now) != Some(crate::server::breaker::State::Open);
    let (after, leaked) = sim.runtime(0, |rt| {
        (
            rt.live_goroutines(),
            crate::leak::unreachable(rt, out.now).len(),
        )
    });
    (
        sim,
        Liveness {
            audio_p99,
            audio_budget: sc.receiver.budget,
            breaker_closed,
            goroutines_before: before,
            goroutines_after: after,
            leaked,
        },
    )
}

/// Goroutines that come and go under load and may be alive at any instant: the LiveKit
/// spreader's per-packet writers and retransmitters.
pub fn transient_goroutines(cfg: &SwarmConfig) -> u64 {
    match cfg.architecture {
        Architecture::Livekit => cfg.rooms as u64 * 2 * 4 * 64,
        _ => 0,
    }
}
