//! Goroutine census: the goroutine count over time and, per goroutine class (the function it
//! runs), the time spent runnable, running and waiting in each time bucket (§3.1's
//! lifecycle heat map). Updated on every status change at O(1) cost (one bucket, usually).

use super::proc::Runtime;
use super::runtime2::{GStatus, Gi};
use costream_sim::{SimDuration, SimTime};

/// Width of a census bucket.
pub const BUCKET: SimDuration = SimDuration::from_millis(100);

/// One goroutine class.
#[derive(Clone, Debug, Default)]
pub struct ClassCensus {
    /// The goroutine's name (the function it runs), shared by every goroutine of the class.
    pub name: &'static str,
    /// Goroutines of the class started so far.
    pub created: u64,
    /// Per bucket: ns runnable, running, waiting.
    pub buckets: Vec<[u64; 3]>,
    /// Most goroutines of the class alive at once.
    pub max_live: u64,
    /// Goroutines of the class alive now.
    pub live: u64,
    /// §3.1's lifecycle phases, indexed like [`PHASES`]: (count, total ns).
    pub phases: [(u64, u64); 4],
}

/// The lifecycle phases of §3.1's table: created → first run (time runnable), running →
/// blocked (one run segment that ends in a block), blocked → woken (time waiting), last
/// woken → destroyed.
pub const PHASES: [&str; 4] = ["create → run", "run → block", "block → wake", "wake → exit"];

impl ClassCensus {
    /// Per bucket, the share of the class's goroutine time spent running (the heat map).
    pub fn running_share(&self) -> Vec<f64> {
        self.buckets
            .iter()
            .map(|b| {
                let n = (b[0] + b[1] + b[2]) as f64;
                if n == 0.0 {
                    0.0
                } else {
                    b[1] as f64 / n
                }
            })
            .collect()
    }

    /// [`running_share`](Self::running_share) over every bucket from 0 to `end` (0 after the
    /// last time charged to the class).
    pub fn running_share_to(&self, end: SimTime) -> Vec<f64> {
        let mut v = self.running_share();
        let n = end.as_nanos().div_ceil(BUCKET.as_nanos()).max(1) as usize;
        if v.len() < n {
            v.resize(n, 0.0);
        }
        v
    }
}

/// Spreads `[from, to)` over per-[`BUCKET`] entries of `v` (grown as needed): `add(entry, ns)`
/// for each bucket the interval touches.
pub(crate) fn add_buckets<T: Default + Clone>(
    v: &mut Vec<T>,
    from: SimTime,
    to: SimTime,
    mut add: impl FnMut(&mut T, u64),
) {
    let w = BUCKET.as_nanos();
    let (mut t, end) = (from.as_nanos(), to.as_nanos());
    while t < end {
        let i = (t / w) as usize;
        let stop = ((i as u64 + 1) * w).min(end);
        if v.len() <= i {
            v.resize(i + 1, T::default());
        }
        add(&mut v[i], stop - t);
        t = stop;
    }
}

#[derive(Default)]
pub(crate) struct Census {
    pub classes: Vec<ClassCensus>,
    /// Most goroutines alive in each bucket.
    pub live_max: Vec<u64>,
    /// Goroutines alive after the last change.
    pub current: u64,
}

impl Census {
    pub fn class_of(&mut self, name: &'static str) -> u16 {
        if let Some(i) = self
            .classes
            .iter()
            .position(|c| std::ptr::eq(c.name, name) || c.name == name)
        {
            return i as u16;
        }
        self.classes.push(ClassCensus {
            name,
            ..Default::default()
        });
        self.classes.len() as u16 - 1
    }

    fn add(&mut self, class: u16, state: usize, from: SimTime, to: SimTime) {
        let c = &mut self.classes[class as usize];
        add_buckets(&mut c.buckets, from, to, |b, ns| b[state] += ns);
    }

    fn note_live(&mut self, at: SimTime, live: u64) {
        let b = (at.as_nanos() / BUCKET.as_nanos()) as usize;
        if self.live_max.len() <= b {
            // Buckets with no change since the last one held the count that change left (not
            // the last bucket's peak); so does the start of bucket `b`.
            self.live_max.resize(b + 1, self.current);
        }
        self.live_max[b] = self.live_max[b].max(live);
        self.current = live;
    }
}

impl Runtime {
    /// Charges `g`'s time in `old` from `since` to `at` to its class.
    pub(crate) fn census_state(&mut self, g: Gi, old: GStatus, since: SimTime, at: SimTime) {
        let state = match old {
            GStatus::Runnable => 0,
            GStatus::Running | GStatus::Syscall => 1,
            GStatus::Waiting => 2,
            _ => return,
        };
        let class = self.allgs[g as usize].class;
        self.census.add(class, state, since, at);
    }

    /// Records the lifecycle phase that ends with `g` going from `old` (since `since`) to `new`.
    pub(crate) fn census_phase(
        &mut self,
        g: Gi,
        old: GStatus,
        new: GStatus,
        since: SimTime,
        at: SimTime,
    ) {
        let gr = &mut self.allgs[g as usize];
        let phase = match (old, new) {
            (GStatus::Runnable, GStatus::Running) if !gr.ran => {
                gr.ran = true;
                Some((0, at.saturating_since(since)))
            }
            (GStatus::Running, GStatus::Waiting) => Some((1, at.saturating_since(since))),
            (GStatus::Waiting, GStatus::Runnable) => {
                gr.readied = at;
                Some((2, at.saturating_since(since)))
            }
            (_, GStatus::Dead) => Some((3, at.saturating_since(gr.readied))),
            _ => None,
        };
        if let Some((i, d)) = phase {
            let class = gr.class as usize;
            let p = &mut self.census.classes[class].phases[i];
            p.0 += 1;
            p.1 += d.as_nanos();
        }
    }

    /// A goroutine of `class` was born (+1) or died (−1).
    pub(crate) fn census_live(&mut self, class: u16, born: bool, at: SimTime) {
        let c = &mut self.census.classes[class as usize];
        if born {
            c.created += 1;
            c.live += 1;
            c.max_live = c.max_live.max(c.live);
        } else {
            c.live -= 1;
        }
        let live = self.live;
        self.census.note_live(at, live);
    }

    /// Per class: the census.
    pub fn census_classes(&self) -> &[ClassCensus] {
        &self.census.classes
    }

    /// Most goroutines alive in each bucket of [`BUCKET`], up to the last change.
    pub fn census_live_max(&self) -> &[u64] {
        &self.census.live_max
    }

    /// Most goroutines alive in each bucket of [`BUCKET`] from 0 to `end`: the buckets after
    /// the last change hold the count it left, so a constant count spans the whole run.
    pub fn census_live_series(&self, end: SimTime) -> Vec<u64> {
        let mut v = self.census.live_max.clone();
        let n = end.as_nanos().div_ceil(BUCKET.as_nanos()).max(1) as usize;
        if v.len() < n {
            v.resize(n, self.census.current);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_buckets_hold_the_count_the_last_change_left() {
        let mut c = Census::default();
        let ms = |n| SimTime::ZERO + SimDuration::from_millis(n);
        c.note_live(ms(50), 10);
        c.note_live(ms(60), 2);
        c.note_live(ms(550), 3);
        // Buckets 1-4 saw 2 goroutines throughout; bucket 5 started with 2, then had 3.
        assert_eq!(c.live_max, [10, 2, 2, 2, 2, 3]);
    }
}
