//! The kernel: clock, event queue, digest and run limits.

use crate::digest::Digest;
use crate::queue::EventQueue;
use crate::time::{set_trace_now, SimDuration, SimTime};

/// Bounds on one run.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// No event at or after this instant is handled.
    pub until: SimTime,
    /// At most this many events are handled.
    pub max_events: u64,
}

impl RunLimits {
    /// Limits of `d` of virtual time and no event budget.
    pub fn for_duration(d: SimDuration) -> Self {
        Self {
            until: SimTime::ZERO + d,
            max_events: u64::MAX,
        }
    }
}

/// What the kernel hands the model next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<E> {
    /// The next event and its time (the clock is moved to it).
    Event(SimTime, E),
    /// The next event is at or past `until`; the clock is moved to `until`.
    TimeLimit,
    /// The event budget is spent.
    Budget,
    /// Nothing is scheduled at all.
    Empty,
}

/// The deterministic kernel: the model schedules events, the kernel hands them back in order.
pub struct Kernel<E> {
    now: SimTime,
    queue: EventQueue<E>,
    handled: u64,
    limits: RunLimits,
    /// The run's digest: every record the model folds in.
    pub digest: Digest,
    /// Every record folded into the digest, in order, when enabled: for finding where two runs
    /// that should be identical first differ.
    log: Option<Vec<[u64; 4]>>,
    /// Keep only about this many of the latest records (`None`: all).
    log_cap: Option<usize>,
    /// Records dropped from the front of a capped log, or recorded before its window opened.
    log_dropped: u64,
    /// Keep only records made at virtual times in `[from, until)`.
    log_window: (SimTime, SimTime),
}

impl<E> Kernel<E> {
    /// A kernel at time zero with nothing scheduled.
    pub fn new(limits: RunLimits) -> Self {
        Self {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            handled: 0,
            limits,
            digest: Digest::new(),
            log: None,
            log_cap: None,
            log_dropped: 0,
            log_window: (SimTime::ZERO, SimTime::MAX),
        }
    }
    /// Folds a four-word record into the digest (and the log, if on).
    #[inline]
    pub fn record(&mut self, words: [u64; 4]) {
        self.digest.record(&words);
        if let Some(l) = &mut self.log {
            if self.now < self.log_window.0 {
                self.log_dropped += 1;
                return;
            }
            if self.now >= self.log_window.1 {
                return;
            }
            if let Some(cap) = self.log_cap {
                if l.len() >= cap.saturating_mul(2) {
                    l.drain(..cap);
                    self.log_dropped += cap as u64;
                }
            }
            l.push(words);
        }
    }
    /// Keeps every record from now on (see [`Kernel::record`]), or with `cap` only the latest
    /// `cap` to `2 × cap` of them.
    pub fn keep_log(&mut self, cap: Option<usize>) {
        self.log.get_or_insert_with(Vec::new);
        self.log_cap = cap.map(|c| c.max(1));
    }
    /// Keeps every record made at a virtual time in `[from, until)`: a window of a run too long
    /// to log whole (a replay naming the first event of the window where it diverged).
    pub fn keep_log_window(&mut self, from: SimTime, until: SimTime) {
        self.keep_log(None);
        self.log_window = (from, until);
    }
    /// How many records a capped log has dropped from its front: the index of its first.
    pub fn log_dropped(&self) -> u64 {
        self.log_dropped
    }
    /// The kept records, if the log is on.
    pub fn log(&self) -> Option<&[[u64; 4]]> {
        self.log.as_deref()
    }
    #[inline]
    /// The virtual time of the event being handled.
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// The run's limits.
    pub fn limits(&self) -> RunLimits {
        self.limits
    }
    /// Changes the run's limits (a measurement phase runs to a nearer `until`).
    pub fn set_limits(&mut self, limits: RunLimits) {
        self.limits = limits;
    }
    /// Events handled so far.
    pub fn handled(&self) -> u64 {
        self.handled
    }
    /// Events scheduled and not yet handled.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
    /// Schedules `ev` at `at`, which must not be in the past.
    #[inline]
    pub fn schedule(&mut self, at: SimTime, ev: E) {
        debug_assert!(
            at >= self.now,
            "event scheduled in the past: {at} < {}",
            self.now
        );
        self.queue.push(at.max(self.now), ev);
    }
    #[inline]
    /// Schedules `ev` at `d` after now.
    pub fn schedule_after(&mut self, d: SimDuration, ev: E) {
        let at = self.now + d;
        self.queue.push(at, ev);
    }
    /// Pops the next event, advancing the clock to it, unless a limit stops the run.
    #[inline]
    pub fn next_event(&mut self) -> Next<E> {
        if self.handled >= self.limits.max_events {
            return Next::Budget;
        }
        match self.queue.peek_time() {
            None => Next::Empty,
            Some(t) if t >= self.limits.until => {
                self.now = self.now.max(self.limits.until);
                set_trace_now(self.now);
                Next::TimeLimit
            }
            Some(_) => {
                let (t, e) = self.queue.pop().expect("peeked");
                self.now = t;
                self.handled += 1;
                set_trace_now(t);
                Next::Event(t, e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_time_limit_and_budget() {
        let mut k = Kernel::new(RunLimits {
            until: SimTime::from_nanos(100),
            max_events: 3,
        });
        k.schedule(SimTime::from_nanos(10), 1);
        k.schedule(SimTime::from_nanos(150), 2);
        assert_eq!(k.next_event(), Next::Event(SimTime::from_nanos(10), 1));
        assert_eq!(k.next_event(), Next::TimeLimit);
        assert_eq!(k.now(), SimTime::from_nanos(100));
        let mut k = Kernel::new(RunLimits {
            until: SimTime::MAX,
            max_events: 1,
        });
        k.schedule(SimTime::from_nanos(1), 1);
        k.schedule(SimTime::from_nanos(2), 2);
        assert!(matches!(k.next_event(), Next::Event(..)));
        assert_eq!(k.next_event(), Next::Budget);
        let mut k: Kernel<u8> = Kernel::new(RunLimits {
            until: SimTime::MAX,
            max_events: 10,
        });
        assert_eq!(k.next_event(), Next::Empty);
    }

    #[test]
    fn a_log_window_keeps_only_its_records_and_counts_those_before() {
        let mut k: Kernel<u8> = Kernel::new(RunLimits::for_duration(SimDuration::from_nanos(100)));
        k.keep_log_window(SimTime::from_nanos(20), SimTime::from_nanos(40));
        for t in [10, 20, 30, 40, 50] {
            k.schedule(SimTime::from_nanos(t), 0);
        }
        while let Next::Event(t, _) = k.next_event() {
            k.record([t.as_nanos(), 0, 0, 0]);
        }
        let kept: Vec<u64> = k.log().unwrap().iter().map(|r| r[0]).collect();
        assert_eq!(kept, [20, 30]);
        assert_eq!(k.log_dropped(), 1);
        assert_eq!(k.digest.records(), 5, "the digest still sees every record");
    }
}
