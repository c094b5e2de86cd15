//! RFC 3550 interarrival jitter (§6.4.1, the estimator of appendix A.8).
//!
//! `D(i,j) = (Rj − Ri) − (Sj − Si)`, in RTP timestamp units; per packet in arrival order,
//! `J += (|D(i−1,i)| − J) / 16`. WebRTC's getStats `jitter` is the same quantity in seconds.

/// The running estimator of one stream.
#[derive(Clone, Debug, Default)]
pub struct Rfc3550Jitter {
    /// `s->transit` of A.8: arrival minus RTP timestamp of the last packet.
    transit: Option<i64>,
    /// `s->jitter`, in timestamp units (floating-point form of A.8).
    jitter: f64,
    clock_rate: u32,
}

impl Rfc3550Jitter {
    /// An estimator for a stream whose RTP clock ticks `clock_rate` times a second.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            transit: None,
            jitter: 0.0,
            clock_rate,
        }
    }

    /// A packet with RTP timestamp `ts` arrived at `arrival_ns` (any fixed origin).
    pub fn update(&mut self, arrival_ns: u64, ts: u32) {
        // Arrival in timestamp units: R = arrival · clock_rate.
        let r = (arrival_ns as i128 * self.clock_rate as i128 / 1_000_000_000) as i64;
        let transit = r - ts as i64;
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Jitter in timestamp units.
    pub fn units(&self) -> f64 {
        self.jitter
    }

    /// Jitter in seconds (getStats `jitter`).
    pub fn seconds(&self) -> f64 {
        self.jitter / self.clock_rate as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use costream_sim::RngStreams;

    /// The estimator against a direct computation of the formula on the same packet times.
    #[test]
    fn matches_a_direct_computation_of_the_formula() {
        let mut rng = RngStreams::new(9).stream("jitter.test");
        let (mut est, mut direct) = (Rfc3550Jitter::new(48_000), 0.0f64);
        let mut prev: Option<(f64, f64)> = None; // (R_i, S_i) in seconds
        for i in 0..10_000u64 {
            let send_s = i as f64 * 0.020;
            let arrival_s = send_s + 0.040 + rng.exponential(0.005);
            let ts = (i * 960) as u32;
            est.update((arrival_s * 1e9) as u64, ts);
            let (r, s) = (arrival_s, ts as f64 / 48_000.0);
            if let Some((ri, si)) = prev {
                let d = ((r - ri) - (s - si)).abs();
                direct += (d - direct) / 16.0;
            }
            prev = Some((r, s));
        }
        // Units quantise arrival to 1/48000 s: agree within that.
        assert!(
            (est.seconds() - direct).abs() < 2.0 / 48_000.0,
            "{} vs {}",
            est.seconds(),
            direct
        );
        assert!(direct > 0.003 && direct < 0.007, "{direct}");
    }

    #[test]
    fn constant_delay_has_no_jitter() {
        let mut j = Rfc3550Jitter::new(90_000);
        for i in 0..100u64 {
            j.update(i * 33_333_333 + 50_000_000, (i * 3000) as u32);
        }
        assert!(j.units() < 1.0);
    }
}
