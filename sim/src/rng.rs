//! Named, seeded random streams.
//!
//! Every stream is a ChaCha8 generator whose key is derived from `(run seed, stream name, index)`
//! alone, so adding a new consumer never shifts the draws of existing ones.

use crate::digest::fnv1a;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Derives independent streams from one run seed.
#[derive(Clone, Copy, Debug)]
pub struct RngStreams {
    seed: u64,
}

/// SplitMix64 step, used to expand (seed, name) into a 256-bit ChaCha key.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl RngStreams {
    /// The streams of one run's `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }
    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> SimRng {
        self.indexed(name, 0)
    }
    /// The `index`th stream of family `name` (one per host, per room, ...).
    pub fn indexed(&self, name: &str, index: u64) -> SimRng {
        let mut state = self.seed
            ^ fnv1a(name.as_bytes()).rotate_left(17)
            ^ index.wrapping_mul(0xd6e8_feb8_6659_fd93);
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        SimRng {
            inner: ChaCha8Rng::from_seed(key),
        }
    }
}

/// A seeded generator with the few draws the models need.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// A uniform 64-bit draw.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
    /// A uniform 32-bit draw.
    pub fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }
    /// Uniform in `0..n` (Lemire's multiply-shift with rejection, so unbiased). `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "SimRng::below(0)");
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }
    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit_f64() < p
    }
    /// Standard normal draw (Box-Muller; one of the pair is discarded to keep the stream stateless).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit_f64();
        let u2 = self.unit_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Exponential draw with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit_f64()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..8)
            .map({
                let mut r = RngStreams::new(7).stream("x");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .map({
                let mut r = RngStreams::new(7).stream("x");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn streams_are_independent_of_each_other_and_of_seed() {
        let s = RngStreams::new(7);
        assert_ne!(s.stream("x").next_u64(), s.stream("y").next_u64());
        assert_ne!(s.indexed("x", 1).next_u64(), s.indexed("x", 2).next_u64());
        assert_ne!(
            RngStreams::new(8).stream("x").next_u64(),
            s.stream("x").next_u64()
        );
    }

    #[test]
    fn pinned_values_do_not_drift() {
        // A change here breaks every stored seed and replay file: bump the costream version.
        assert_eq!(
            RngStreams::new(1).stream("sched.steal").next_u64(),
            0x8d15_4570_0c6d_2a4f
        );
        assert_eq!(
            RngStreams::new(1).indexed("net.jitter", 3).next_u64(),
            0xdde8_ede3_9a27_97c7
        );
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut r = RngStreams::new(3).stream("u");
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[r.below(6) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }
}
