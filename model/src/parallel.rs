//! Independent simulations on several threads, for seed searches, sweeps and seeded tests.
//! Each item runs on one thread from start to end (a run has no threads inside); results come
//! back in item order, so the number of threads cannot change them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The cores this machine offers (the default number of threads).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f(0) … f(n-1)` on up to `jobs` threads, in item order; `done(k)` after the k-th finishes.
pub fn map<R: Send>(
    n: usize,
    jobs: usize,
    f: impl Fn(usize) -> R + Sync,
    done: impl Fn(usize) + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = f(i);
                out.lock().unwrap()[i] = Some(r);
                done(finished.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    out.into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_in_item_order_whatever_the_threads() {
        let one = super::map(50, 1, |i| i * i, |_| {});
        let four = super::map(50, 4, |i| i * i, |_| {});
        assert_eq!(one, four);
        assert_eq!(one[7], 49);
        assert!(super::map(0, 4, |i| i, |_| {}).is_empty());
    }
}
