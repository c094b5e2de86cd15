//! A one-way network link with impairments, as plain code (time and random draws in, delivery
//! times out): the parameters are named after Linux netem (`tc-netem(8)`) and libwebrtc's
//! `BuiltInNetworkBehaviorConfig` (`call/simulated_network.cc`).
//!
//! A packet entering the link: is dropped if the rate limiter's queue is full (drop-tail); is
//! serialised at the link rate behind those queued; leaves the queue and is lost by the loss
//! model (Bernoulli, or a two-state Gilbert–Elliott chain); is delayed by the base delay plus
//! jitter drawn from a distribution, correlated with the previous draw (netem's correlation);
//! may be duplicated; and, unless reordering is allowed, never arrives before its predecessor.
//! A reordered packet (netem `reorder`) skips the delay and goes at once.

use costream_sim::{SimDuration, SimRng, SimTime};
use serde::Deserialize;
use std::collections::VecDeque;

/// How jitter is distributed (netem `distribution`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Normal with standard deviation `jitter` (netem's default).
    #[default]
    Normal,
    /// Uniform in `[-jitter, +jitter]`.
    Uniform,
    /// Pareto (heavy tail): shape 3, scaled so its standard deviation is `jitter`.
    Pareto,
}

/// Loss model.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Default)]
#[serde(tag = "model", rename_all = "lowercase", deny_unknown_fields)]
pub enum Loss {
    #[default]
    /// No loss.
    None,
    /// Independent loss with probability `percent` / 100 (netem `loss random P`,
    /// libwebrtc `loss_percent`).
    Random {
        /// Loss probability, percent.
        percent: f64,
    },
    /// libwebrtc's two-state burst model: stationary loss `percent`, mean burst length
    /// `avg_burst_loss_length` (`prob_loss_bursting = 1 − 1/L`,
    /// `prob_start_bursting = p/(1−p)/L`).
    Burst {
        /// Stationary loss, percent.
        percent: f64,
        /// Mean length of a loss burst, packets.
        avg_burst_loss_length: f64,
    },
    /// netem `loss gemodel p r 1-h 1-k`: good→bad `p`, bad→good `r` (percent), loss in bad
    /// state `one_minus_h`, loss in good state `one_minus_k` (percent).
    Gemodel {
        /// Good → bad, percent per packet.
        p: f64,
        /// Bad → good, percent per packet.
        r: f64,
        /// Loss in the bad state, percent.
        one_minus_h: f64,
        /// Loss in the good state, percent.
        one_minus_k: f64,
    },
}

/// A link's parameters (`[[network.links]]` or `[network.default_link]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Base one-way delay (netem `delay`, libwebrtc `queue_delay_ms`).
    #[serde(with = "costream_sim::units::dur")]
    pub delay: SimDuration,
    /// Jitter: standard deviation for normal and Pareto, half-width for uniform
    /// (netem `delay TIME JITTER`, libwebrtc `delay_standard_deviation_ms`).
    #[serde(with = "costream_sim::units::dur")]
    pub jitter: SimDuration,
    /// How jitter is distributed.
    pub distribution: Distribution,
    /// Correlation of successive jitter draws, percent (netem `delay … CORRELATION`).
    pub correlation: f64,
    /// The loss model.
    pub loss: Loss,
    /// Percent of packets duplicated (netem `duplicate`).
    pub duplicate: f64,
    /// Percent of packets sent at once, skipping the delay (netem `reorder`); when 0, arrivals
    /// keep their sending order (libwebrtc `allow_reordering = false`).
    pub reorder: f64,
    /// Link capacity in kbit/s; 0 is unlimited (libwebrtc `link_capacity_kbps`, netem `rate`).
    pub rate_kbps: f64,
    /// Bytes added to every packet for serialisation (netem `rate … PACKETOVERHEAD`).
    pub packet_overhead: u32,
    /// Drop-tail queue limit in packets; 0 is unbounded (libwebrtc `queue_length_packets`,
    /// netem `limit`).
    pub queue_packets: u32,
    /// Drop-tail queue limit in bytes; 0 is unbounded.
    #[serde(with = "costream_sim::units::bytes")]
    pub queue_bytes: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            delay: SimDuration::ZERO,
            jitter: SimDuration::ZERO,
            distribution: Distribution::Normal,
            correlation: 0.0,
            loss: Loss::None,
            duplicate: 0.0,
            reorder: 0.0,
            rate_kbps: 0.0,
            packet_overhead: 0,
            queue_packets: 0,
            queue_bytes: 0,
        }
    }
}

impl LinkConfig {
    /// Checks the parameters; returns (field, problem).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let pct = |name: &'static str, v: f64| {
            if (0.0..=100.0).contains(&v) {
                Ok(())
            } else {
                Err((name, format!("{v} is not a percentage in [0, 100]")))
            }
        };
        pct("correlation", self.correlation)?;
        pct("duplicate", self.duplicate)?;
        pct("reorder", self.reorder)?;
        match self.loss {
            Loss::None => {}
            Loss::Random { percent } => pct("loss.percent", percent)?,
            Loss::Burst {
                percent,
                avg_burst_loss_length,
            } => {
                pct("loss.percent", percent)?;
                if !avg_burst_loss_length.is_finite() {
                    return Err((
                        "loss.avg_burst_loss_length",
                        format!("{avg_burst_loss_length} is not a length"),
                    ));
                }
                let p = percent / 100.0;
                if p > 0.0 && (p >= 1.0 || avg_burst_loss_length <= (p / (1.0 - p)).ceil()) {
                    return Err((
                        "loss.avg_burst_loss_length",
                        format!("must exceed ceil(p/(1-p)) = {} for loss {percent}% (libwebrtc's condition)", (p / (1.0 - p)).ceil()),
                    ));
                }
            }
            Loss::Gemodel {
                p,
                r,
                one_minus_h,
                one_minus_k,
            } => {
                pct("loss.p", p)?;
                pct("loss.r", r)?;
                pct("loss.one_minus_h", one_minus_h)?;
                pct("loss.one_minus_k", one_minus_k)?;
            }
        }
        if self.rate_kbps < 0.0 || !self.rate_kbps.is_finite() {
            return Err(("rate_kbps", format!("{} is not a rate", self.rate_kbps)));
        }
        Ok(())
    }

    /// Good→bad and bad→good transition probabilities and per-state loss of the loss model.
    fn chain(&self) -> Option<(f64, f64, f64, f64)> {
        match self.loss {
            Loss::None | Loss::Random { .. } => None,
            Loss::Burst {
                percent,
                avg_burst_loss_length,
            } => {
                let p = percent / 100.0;
                if p == 0.0 {
                    return None;
                }
                let l = avg_burst_loss_length;
                let start = p / (1.0 - p) / l;
                let stay_bad = 1.0 - 1.0 / l;
                Some((start, 1.0 - stay_bad, 1.0, 0.0))
            }
            Loss::Gemodel {
                p,
                r,
                one_minus_h,
                one_minus_k,
            } => Some((
                p / 100.0,
                r / 100.0,
                one_minus_h / 100.0,
                one_minus_k / 100.0,
            )),
        }
    }
}

/// What happened to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Arrives at `at`; `dup` is the arrival of a duplicate, if one was made.
    Deliver {
        /// When it arrives.
        at: SimTime,
        /// When its duplicate arrives, if the link made one.
        dup: Option<SimTime>,
    },
    /// Dropped by the full queue (drop-tail).
    QueueDrop,
    /// Lost by the loss model.
    Lost,
    /// Dropped by a partition.
    Partitioned,
}

/// Counters of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets that entered the link.
    pub sent: u64,
    /// Packets delivered (their duplicates are counted in `duplicated`).
    pub delivered: u64,
    /// Packets lost by the loss model.
    pub lost: u64,
    /// Packets dropped by the full queue.
    pub queue_drops: u64,
    /// Packets dropped by a partition.
    pub partitioned: u64,
    /// Duplicates made.
    pub duplicated: u64,
    /// Packets sent at once, skipping the delay (`reorder`).
    pub reordered: u64,
}

/// A link's state.
#[derive(Clone, Debug)]
pub struct Link {
    /// Its parameters.
    pub cfg: LinkConfig,
    /// Departure times (end of serialisation) of packets still in the rate limiter, with sizes.
    queue: VecDeque<(SimTime, u32)>,
    queued_bytes: u64,
    last_departure: SimTime,
    last_arrival: SimTime,
    /// Gilbert–Elliott state: in the bad (bursting) state.
    bad: bool,
    /// The last jitter draw (for correlation), in ns.
    last_jitter: f64,
    /// Partitioned: every packet is dropped.
    pub partitioned: bool,
    /// Its counters.
    pub stats: LinkStats,
}

impl Link {
    /// A link with parameters `cfg` and an empty queue.
    pub fn new(cfg: LinkConfig) -> Self {
        Self {
            cfg,
            queue: VecDeque::new(),
            queued_bytes: 0,
            last_departure: SimTime::ZERO,
            last_arrival: SimTime::ZERO,
            bad: false,
            last_jitter: 0.0,
            partitioned: false,
            stats: LinkStats::default(),
        }
    }

    /// Packets in the rate limiter's queue at `now`.
    pub fn queued(&mut self, now: SimTime) -> usize {
        self.drain(now);
        self.queue.len()
    }

    fn drain(&mut self, now: SimTime) {
        while let Some(&(dep, size)) = self.queue.front() {
            if dep > now {
                break;
            }
            self.queue.pop_front();
            self.queued_bytes -= size as u64;
        }
    }

    fn jitter_draw(&mut self, rng: &mut SimRng) -> f64 {
        let j = self.cfg.jitter.as_nanos() as f64;
        if j == 0.0 {
            return 0.0;
        }
        let fresh = match self.cfg.distribution {
            Distribution::Normal => rng.normal() * j,
            Distribution::Uniform => (2.0 * rng.unit_f64() - 1.0) * j,
            Distribution::Pareto => {
                // Pareto with shape a = 3: mean x_m·a/(a−1), sd x_m·sqrt(a/((a−1)²(a−2))).
                let a: f64 = 3.0;
                let sd_unit = (a / ((a - 1.0) * (a - 1.0) * (a - 2.0))).sqrt();
                let xm = j / sd_unit;
                let x = xm / (1.0 - rng.unit_f64()).powf(1.0 / a);
                x - xm * a / (a - 1.0)
            }
        };
        // netem's correlation: next = corr·last + (1 − corr)·fresh.
        let c = self.cfg.correlation / 100.0;
        let v = c * self.last_jitter + (1.0 - c) * fresh;
        self.last_jitter = v;
        v
    }

    /// Is the next packet lost? Advances the Gilbert–Elliott chain.
    fn lost(&mut self, rng: &mut SimRng) -> bool {
        if let Loss::Random { percent } = self.cfg.loss {
            return rng.chance(percent / 100.0);
        }
        let Some((to_bad, to_good, loss_bad, loss_good)) = self.cfg.chain() else {
            return false;
        };
        self.bad = if self.bad {
            !rng.chance(to_good)
        } else {
            rng.chance(to_bad)
        };
        rng.chance(if self.bad { loss_bad } else { loss_good })
    }

    /// Sends a `size`-byte packet at `now`.
    pub fn send(&mut self, now: SimTime, size: u32, rng: &mut SimRng) -> Fate {
        self.stats.sent += 1;
        if self.partitioned {
            self.stats.partitioned += 1;
            return Fate::Partitioned;
        }
        // Rate limiter with a drop-tail queue.
        let mut depart = now;
        if self.cfg.rate_kbps > 0.0 {
            self.drain(now);
            let full_pkts =
                self.cfg.queue_packets > 0 && self.queue.len() >= self.cfg.queue_packets as usize;
            let full_bytes =
                self.cfg.queue_bytes > 0 && self.queued_bytes + size as u64 > self.cfg.queue_bytes;
            if full_pkts || full_bytes {
                self.stats.queue_drops += 1;
                return Fate::QueueDrop;
            }
            let bits = (size + self.cfg.packet_overhead) as f64 * 8.0;
            let ser = SimDuration::from_nanos((bits / self.cfg.rate_kbps * 1e6).round() as u64);
            depart = now.max(self.last_departure) + ser;
            self.last_departure = depart;
            self.queue.push_back((depart, size));
            self.queued_bytes += size as u64;
        }
        // Loss on leaving the queue (libwebrtc decides it there).
        if self.lost(rng) {
            self.stats.lost += 1;
            return Fate::Lost;
        }
        let reordered = self.cfg.reorder > 0.0 && rng.chance(self.cfg.reorder / 100.0);
        let at = if reordered {
            self.stats.reordered += 1;
            depart
        } else {
            let j = self.jitter_draw(rng);
            let d = (self.cfg.delay.as_nanos() as f64 + j).max(0.0) as u64;
            let mut at = depart + SimDuration::from_nanos(d);
            if self.cfg.reorder == 0.0 {
                at = at.max(self.last_arrival);
            }
            self.last_arrival = at;
            at
        };
        let dup = (self.cfg.duplicate > 0.0 && rng.chance(self.cfg.duplicate / 100.0)).then(|| {
            self.stats.duplicated += 1;
            at
        });
        self.stats.delivered += 1;
        Fate::Deliver { at, dup }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use costream_sim::RngStreams;

    fn rng(i: u64) -> SimRng {
        RngStreams::new(42).indexed("link.test", i)
    }
    const MS: u64 = 1_000_000;

    /// libwebrtc's burst model: stationary loss p and mean burst length L, over 1M packets.
    #[test]
    fn burst_loss_matches_rate_and_burst_length() {
        for (pct, len) in [(5.0, 3.0), (10.0, 5.0), (2.0, 1.5)] {
            let mut l = Link::new(LinkConfig {
                loss: Loss::Burst {
                    percent: pct,
                    avg_burst_loss_length: len,
                },
                ..Default::default()
            });
            let mut r = rng(1);
            let (mut lost, mut bursts, mut run) = (0u64, 0u64, false);
            let n = 1_000_000;
            for i in 0..n {
                let gone = matches!(l.send(SimTime::from_nanos(i), 100, &mut r), Fate::Lost);
                lost += gone as u64;
                if gone && !run {
                    bursts += 1;
                }
                run = gone;
            }
            let rate = lost as f64 / n as f64;
            let mean_burst = lost as f64 / bursts as f64;
            // Bounds chosen before looking: ±10% relative on rate, ±10% on burst length.
            assert!(
                (rate - pct / 100.0).abs() < 0.1 * pct / 100.0,
                "p={pct}: rate {rate}"
            );
            assert!(
                (mean_burst - len).abs() < 0.1 * len,
                "L={len}: mean burst {mean_burst}"
            );
        }
    }

    /// netem's gemodel: stationary loss = p/(p+r)·(1−h) + r/(p+r)·(1−k).
    #[test]
    fn gemodel_stationary_loss() {
        let mut l = Link::new(LinkConfig {
            loss: Loss::Gemodel {
                p: 2.0,
                r: 20.0,
                one_minus_h: 80.0,
                one_minus_k: 1.0,
            },
            ..Default::default()
        });
        let mut r = rng(2);
        let n = 1_000_000;
        let lost = (0..n)
            .filter(|&i| matches!(l.send(SimTime::from_nanos(i), 100, &mut r), Fate::Lost))
            .count();
        let want = 2.0 / 22.0 * 0.8 + 20.0 / 22.0 * 0.01;
        let got = lost as f64 / n as f64;
        assert!((got - want).abs() < 0.05 * want, "{got} vs {want}");
    }

    #[test]
    fn random_loss_rate() {
        let mut l = Link::new(LinkConfig {
            loss: Loss::Random { percent: 3.0 },
            ..Default::default()
        });
        let mut r = rng(3);
        let n = 500_000;
        let lost = (0..n)
            .filter(|&i| matches!(l.send(SimTime::from_nanos(i), 100, &mut r), Fate::Lost))
            .count();
        assert!((lost as f64 / n as f64 - 0.03).abs() < 0.002);
    }

    /// A rate-limited link: queueing delay grows as the queue fills, and it drops when full.
    #[test]
    fn rate_limit_queues_then_drops() {
        // 1 Mbit/s, 1000-byte packets: 8 ms each. Offered 2 Mbit/s (a packet every 4 ms).
        let mut l = Link::new(LinkConfig {
            rate_kbps: 1000.0,
            queue_packets: 10,
            delay: SimDuration::from_millis(5),
            ..Default::default()
        });
        let mut r = rng(4);
        let mut delays = Vec::new();
        let mut drops = 0;
        for i in 0..100u64 {
            let now = SimTime::from_nanos(i * 4 * MS);
            match l.send(now, 1000, &mut r) {
                Fate::Deliver { at, .. } => delays.push(at.saturating_since(now).as_nanos()),
                Fate::QueueDrop => drops += 1,
                f => panic!("{f:?}"),
            }
        }
        // The first packet waits only for its own serialisation; delay then grows by 4 ms a packet.
        assert_eq!(delays[0], 8 * MS + 5 * MS);
        assert!(delays[1] > delays[0] && delays[5] > delays[4] && delays[9] > delays[8]);
        // Full at 10 queued: delay caps near 10 × 8 ms and drops start.
        assert!(drops > 30, "{drops} drops");
        let max = *delays.iter().max().unwrap();
        assert!(max <= 11 * 8 * MS + 5 * MS, "{max}");
        assert_eq!(l.stats.queue_drops, drops);
    }

    #[test]
    fn jitter_distribution_and_correlation() {
        for dist in [
            Distribution::Normal,
            Distribution::Uniform,
            Distribution::Pareto,
        ] {
            for corr in [0.0, 75.0] {
                let mut l = Link::new(LinkConfig {
                    delay: SimDuration::from_millis(50),
                    jitter: SimDuration::from_millis(10),
                    distribution: dist,
                    correlation: corr,
                    reorder: 1e-9, // allow reordering so draws are not clamped
                    ..Default::default()
                });
                let mut r = rng(5);
                let xs: Vec<f64> = (0..200_000)
                    .map(
                        |i| match l.send(SimTime::from_nanos(i * 20 * MS), 100, &mut r) {
                            Fate::Deliver { at, .. } => {
                                at.saturating_since(SimTime::from_nanos(i * 20 * MS))
                                    .as_nanos() as f64
                                    / 1e6
                            }
                            f => panic!("{f:?}"),
                        },
                    )
                    .collect();
                let n = xs.len() as f64;
                let mean = xs.iter().sum::<f64>() / n;
                let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                let lag1 = xs
                    .windows(2)
                    .map(|w| (w[0] - mean) * (w[1] - mean))
                    .sum::<f64>()
                    / (n - 1.0)
                    / var;
                assert!((mean - 50.0).abs() < 0.5, "{dist:?} {corr}: mean {mean}");
                // Correlation c shrinks the sd by sqrt((1−c)/(1+c)) and makes lag-1 ≈ c.
                let c = corr / 100.0;
                let sd_want = match dist {
                    Distribution::Uniform => 10.0 / 3f64.sqrt(),
                    _ => 10.0,
                } * ((1.0 - c) / (1.0 + c)).sqrt();
                assert!(
                    (var.sqrt() - sd_want).abs() < 0.1 * sd_want,
                    "{dist:?} {corr}: sd {} vs {sd_want}",
                    var.sqrt()
                );
                assert!((lag1 - c).abs() < 0.03, "{dist:?} {corr}: lag1 {lag1}");
            }
        }
    }

    #[test]
    fn no_reordering_keeps_order_and_reorder_sends_some_at_once() {
        let mut l = Link::new(LinkConfig {
            delay: SimDuration::from_millis(50),
            jitter: SimDuration::from_millis(30),
            ..Default::default()
        });
        let mut r = rng(6);
        let mut last = SimTime::ZERO;
        for i in 0..10_000u64 {
            if let Fate::Deliver { at, .. } = l.send(SimTime::from_nanos(i * MS), 100, &mut r) {
                assert!(at >= last);
                last = at;
            }
        }
        let mut l = Link::new(LinkConfig {
            delay: SimDuration::from_millis(50),
            reorder: 10.0,
            duplicate: 5.0,
            ..Default::default()
        });
        for i in 0..100_000u64 {
            l.send(SimTime::from_nanos(i * MS), 100, &mut r);
        }
        let s = l.stats;
        assert!((s.reordered as f64 / 1e5 - 0.10).abs() < 0.005, "{s:?}");
        assert!((s.duplicated as f64 / 1e5 - 0.05).abs() < 0.004, "{s:?}");
    }

    #[test]
    fn partition_drops_everything() {
        let mut l = Link::new(LinkConfig::default());
        l.partitioned = true;
        assert_eq!(l.send(SimTime::ZERO, 10, &mut rng(7)), Fate::Partitioned);
    }

    #[test]
    fn burst_model_validation_follows_libwebrtc() {
        let c = LinkConfig {
            loss: Loss::Burst {
                percent: 50.0,
                avg_burst_loss_length: 1.0,
            },
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap_err().0, "loss.avg_burst_loss_length");
    }
}
