//! A per-stream latency histogram that stores only the range of buckets it has seen.
//!
//! Every receiver keeps one. An `hdrhistogram::Histogram<u64>` at 3 significant digits over
//! nanoseconds allocates every bucket from 0 up to its largest value (~140 KB once latencies
//! reach 100 ms), which made 40,000 receivers cost 5.6 GB. A stream's latencies cluster (network
//! delay plus jitter buffer), so a window over the buckets between its smallest and largest
//! value is a few KB. Bucketing is HdrHistogram's own (3 significant digits, unit 1 ns), so
//! [`LatencyHistogram::to_hdr`] and [`LatencyHistogram::add_to`] give exactly the histogram
//! that recording the same values into HdrHistogram would have given: every published
//! percentile is unchanged.

use hdrhistogram::Histogram;

/// HdrHistogram's sub-bucket half count magnitude at 3 significant digits: 2 × 10³ needs
/// 2¹¹ sub-buckets, half of which (2¹⁰) each bucket after the first uses.
const HALF_MAG: u32 = 10;
const HALF: u64 = 1 << HALF_MAG;
/// `sub_bucket_count - 1`: values below 2¹¹ all fall in bucket 0 at unit resolution.
const SUB_MASK: u64 = (1 << (HALF_MAG + 1)) - 1;
/// `64 - unit_magnitude - sub_bucket_count_magnitude`.
const LZ_BASE: u32 = 64 - (HALF_MAG + 1);

/// HdrHistogram's `index_for` at 3 significant digits and a lowest discernible value of 1.
fn index_for(v: u64) -> u32 {
    let bucket = LZ_BASE - (v | SUB_MASK).leading_zeros();
    let sub = v >> bucket;
    (((bucket + 1) as u64) << HALF_MAG) as u32 + (sub as u32) - HALF as u32
}

/// HdrHistogram's `value_for`: the lowest value that lands at `index`.
fn value_for(index: u32) -> u64 {
    let b = (index >> HALF_MAG) as i64 - 1;
    let mut sub = (index as u64 & (HALF - 1)) + HALF;
    let bucket = if b < 0 {
        sub -= HALF;
        0
    } else {
        b as u32
    };
    sub << bucket
}

/// Counts per HdrHistogram bucket index, stored from `base` for `counts.len()` indices.
#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram {
    base: u32,
    counts: Vec<u32>,
    len: u64,
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one value in nanoseconds.
    pub fn record(&mut self, ns: u64) {
        self.record_index(index_for(ns), 1);
    }

    fn record_index(&mut self, i: u32, n: u32) {
        self.len += n as u64;
        if self.counts.is_empty() {
            self.base = i;
            self.counts.push(n);
            return;
        }
        if i < self.base {
            let grow = (self.base - i) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.base = i;
        }
        let at = (i - self.base) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        // A stream records one value per frame: 2³² frames is 2.7 years of 50 fps audio.
        self.counts[at] = self.counts[at].saturating_add(n);
    }

    /// Samples recorded.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The non-empty buckets as (lowest equivalent value, count), in increasing order.
    fn buckets(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(k, &c)| (value_for(self.base + k as u32), c))
    }

    /// Adds every recorded value to `h`, bucket by bucket.
    pub fn add_to(&self, h: &mut Histogram<u64>) {
        for (v, c) in self.buckets() {
            let _ = h.record_n(v, c as u64);
        }
    }

    /// Folds `o` into this histogram (aggregates over streams).
    pub fn merge(&mut self, o: &LatencyHistogram) {
        if o.counts.is_empty() {
            return;
        }
        // Widen the window to cover `o`'s once, then add counts slot by slot.
        let last = o.base + o.counts.len() as u32 - 1;
        self.record_index(o.base, 0);
        self.record_index(last, 0);
        let off = (o.base - self.base) as usize;
        for (mine, &c) in self.counts[off..].iter_mut().zip(&o.counts) {
            *mine = mine.saturating_add(c);
        }
        self.len += o.len;
    }

    /// The same values as an HdrHistogram, for percentiles, CDFs and counts below a limit.
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut h = Histogram::new(3).expect("3 significant digits is valid");
        self.add_to(&mut h);
        h
    }

    /// The value at quantile `q` (0 when empty), as `Histogram::value_at_quantile`.
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.to_hdr().value_at_quantile(q)
        }
    }

    /// The largest recorded value's highest equivalent, as `Histogram::max`.
    pub fn max(&self) -> u64 {
        self.to_hdr().max()
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use costream_sim::RngStreams;

    fn both(values: &[u64]) -> (LatencyHistogram, Histogram<u64>) {
        let mut s = LatencyHistogram::new();
        let mut h = Histogram::<u64>::new(3).unwrap();
        for &v in values {
            s.record(v);
            h.record(v).unwrap();
        }
        (s, h)
    }

    fn same(a: &Histogram<u64>, b: &Histogram<u64>) {
        assert_eq!(a.len(), b.len());
        assert_eq!(a.max(), b.max());
        assert_eq!(a.min(), b.min());
        assert_eq!(a.mean(), b.mean());
        for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "q {q}");
        }
        for limit in [1_000, 150_000_000, 200_000_000, 400_000_000] {
            assert_eq!(a.count_between(0, limit), b.count_between(0, limit));
        }
    }

    #[test]
    fn bucketing_is_hdrhistograms() {
        let mut rng = RngStreams::new(7).stream("latency-test");
        for round in 0..50 {
            // Latency-like clusters at several scales, plus edge values.
            let centre = 1u64 << (10 + round % 24);
            let mut values: Vec<u64> = (0..2_000)
                .map(|_| 1 + centre / 2 + rng.below(centre))
                .collect();
            values.extend([1, 2047, 2048, 2049, 4095, 4096, centre * 3]);
            let (s, h) = both(&values);
            same(&s.to_hdr(), &h);
        }
    }

    #[test]
    fn index_round_trips_through_hdrs_lowest_equivalent() {
        let h = Histogram::<u64>::new(3).unwrap();
        for v in (1..5_000u64).chain((12..40).map(|s| (1u64 << s) + 12_345)) {
            assert_eq!(value_for(index_for(v)), h.lowest_equivalent(v), "{v}");
        }
    }

    #[test]
    fn window_holds_only_the_seen_range() {
        let mut s = LatencyHistogram::new();
        for ms in 50..90u64 {
            s.record(ms * 1_000_000);
        }
        // 40 ms at 32-64 µs resolution: under a thousand slots, not HdrHistogram's ~17,000.
        assert!(s.counts.len() < 1_000, "{}", s.counts.len());
        assert!(s.heap_bytes() < 8 * 1024, "{}", s.heap_bytes());
        let full = s.to_hdr();
        assert!(s.heap_bytes() * 20 < full.distinct_values() * 8);
    }

    #[test]
    fn merge_equals_recording_everything_once() {
        let (a, ha) = both(&[30_000_000, 31_000_000, 90_000_000]);
        let (b, hb) = both(&[5_000, 29_000_000, 400_000_000]);
        let mut m = a.clone();
        m.merge(&b);
        let mut all = ha.clone();
        all.add(&hb).unwrap();
        same(&m.to_hdr(), &all);
        let mut into = Histogram::<u64>::new(3).unwrap();
        a.add_to(&mut into);
        b.add_to(&mut into);
        same(&into, &all);
    }

    #[test]
    fn empty_is_empty() {
        let s = LatencyHistogram::new();
        assert!(s.is_empty());
        assert_eq!(s.value_at_quantile(0.99), 0);
        assert_eq!(s.to_hdr().len(), 0);
    }
}
