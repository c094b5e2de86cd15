//! A circuit breaker with sony/gobreaker's semantics (`gobreaker.go`), as plain code: the time
//! is an argument, so the runtime model and the madsim bridge drive the same state machine.
//!
//! States Closed, HalfOpen, Open. `before_request` evaluates the state lazily
//! (`currentState`): a closed breaker starts a new generation when its `interval` expires; an
//! open one becomes half-open only on the first call strictly after its `timeout`. Open rejects
//! (`ErrOpenState`); half-open admits at most `max_requests` (`ErrTooManyRequests`). A failure
//! while closed asks `ready_to_trip` (default: more than 5 consecutive failures); any failure
//! while half-open reopens; `max_requests` consecutive successes close it. Every state change and
//! every closed-interval expiry starts a new generation with cleared counts; results reported for
//! an older generation are ignored.

use costream_sim::{SimDuration, SimTime};
use std::fmt;

/// gobreaker's `State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// `StateClosed`: calls pass; failures are counted toward `ReadyToTrip`.
    Closed,
    /// `StateHalfOpen`: after the timeout, up to `max_requests` trial calls pass.
    HalfOpen,
    /// `StateOpen`: every call is refused until the timeout.
    Open,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Closed => "closed",
            State::HalfOpen => "half-open",
            State::Open => "open",
        })
    }
}

/// `Counts`, cleared with each generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `Requests`: calls admitted this generation.
    pub requests: u32,
    /// `TotalSuccesses`.
    pub total_successes: u32,
    /// `TotalFailures`.
    pub total_failures: u32,
    /// `ConsecutiveSuccesses`: reset by a failure.
    pub consecutive_successes: u32,
    /// `ConsecutiveFailures`: reset by a success.
    pub consecutive_failures: u32,
}

/// Why a call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `ErrOpenState`.
    Open,
    /// `ErrTooManyRequests`.
    TooManyRequests,
}

/// `ReadyToTrip`: called with the counts on each failure while closed.
pub type TripFn = Box<dyn Fn(&Counts) -> bool>;

/// The usual `ReadyToTrip`: trip once `n` calls in a row have failed.
pub fn trip_after_consecutive_failures(n: u32) -> Option<TripFn> {
    Some(Box::new(move |c: &Counts| c.consecutive_failures >= n))
}

/// `Settings`. A `None` or zero value takes gobreaker's default.
pub struct Settings {
    /// `MaxRequests`: calls admitted while half-open, and the successes that close it
    /// (zero: 1).
    pub max_requests: u32,
    /// Zero: counts are never cleared while closed.
    pub interval: SimDuration,
    /// Zero: 60 s.
    pub timeout: SimDuration,
    /// `ReadyToTrip` (`None`: more than 5 consecutive failures).
    pub ready_to_trip: Option<TripFn>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_requests: 0,
            interval: SimDuration::ZERO,
            timeout: SimDuration::ZERO,
            ready_to_trip: None,
        }
    }
}

/// A state change, as `OnStateChange` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// When it changed.
    pub at: SimTime,
    /// The state it left.
    pub from: State,
    /// The state it entered.
    pub to: State,
}

/// gobreaker's `CircuitBreaker`, its clock an argument of every call.
pub struct Breaker {
    max_requests: u32,
    interval: SimDuration,
    timeout: SimDuration,
    ready_to_trip: TripFn,
    state: State,
    generation: u64,
    counts: Counts,
    /// `None` is Go's zero time.
    expiry: Option<SimTime>,
    /// Every state change in order (`OnStateChange`).
    pub transitions: Vec<Transition>,
}

impl Breaker {
    /// `NewCircuitBreaker`.
    pub fn new(s: Settings, now: SimTime) -> Self {
        let mut b = Self {
            max_requests: if s.max_requests == 0 {
                1
            } else {
                s.max_requests
            },
            interval: s.interval,
            timeout: if s.timeout.is_zero() {
                SimDuration::from_secs(60)
            } else {
                s.timeout
            },
            ready_to_trip: s
                .ready_to_trip
                .unwrap_or_else(|| Box::new(|c: &Counts| c.consecutive_failures > 5)),
            state: State::Closed,
            generation: 0,
            counts: Counts::default(),
            expiry: None,
            transitions: Vec::new(),
        };
        b.to_new_generation(now);
        b
    }

    /// `State()`.
    pub fn state(&mut self, now: SimTime) -> State {
        self.current_state(now).0
    }

    /// `Counts()`: this generation's.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The current generation: a new one starts with every state change and closed interval.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `beforeRequest`: admit a call (returning its generation) or refuse it.
    pub fn before_request(&mut self, now: SimTime) -> Result<u64, Refused> {
        let (state, generation) = self.current_state(now);
        if state == State::Open {
            return Err(Refused::Open);
        }
        if state == State::HalfOpen && self.counts.requests >= self.max_requests {
            return Err(Refused::TooManyRequests);
        }
        self.counts.requests += 1;
        Ok(generation)
    }

    /// `afterRequest`: the outcome of a call admitted in generation `before`.
    pub fn after_request(&mut self, before: u64, success: bool, now: SimTime) {
        let (state, generation) = self.current_state(now);
        if generation != before {
            return;
        }
        if success {
            self.counts.total_successes += 1;
            self.counts.consecutive_successes += 1;
            self.counts.consecutive_failures = 0;
            if state == State::HalfOpen && self.counts.consecutive_successes >= self.max_requests {
                self.set_state(State::Closed, now);
            }
        } else {
            match state {
                State::Closed => {
                    self.counts.total_failures += 1;
                    self.counts.consecutive_failures += 1;
                    self.counts.consecutive_successes = 0;
                    if (self.ready_to_trip)(&self.counts) {
                        self.set_state(State::Open, now);
                    }
                }
                State::HalfOpen => self.set_state(State::Open, now),
                State::Open => {}
            }
        }
    }

    /// `currentState`: lazy transitions on the clock.
    fn current_state(&mut self, now: SimTime) -> (State, u64) {
        match self.state {
            State::Closed => {
                if self.expiry.is_some_and(|e| e < now) {
                    self.to_new_generation(now);
                }
            }
            State::Open => {
                if self.expiry.is_some_and(|e| e < now) {
                    self.set_state(State::HalfOpen, now);
                }
            }
            State::HalfOpen => {}
        }
        (self.state, self.generation)
    }

    fn set_state(&mut self, to: State, now: SimTime) {
        if self.state == to {
            return;
        }
        let from = self.state;
        self.state = to;
        self.to_new_generation(now);
        self.transitions.push(Transition { at: now, from, to });
        tracing::debug!(target: "costream::breaker", at_ns = now.as_nanos(), %from, %to, "breaker state change");
    }

    /// `toNewGeneration` (Go's name, hence the lint).
    #[allow(clippy::wrong_self_convention)]
    fn to_new_generation(&mut self, now: SimTime) {
        self.generation += 1;
        self.counts = Counts::default();
        self.expiry = match self.state {
            State::Closed if self.interval.is_zero() => None,
            State::Closed => Some(now + self.interval),
            State::Open => Some(now + self.timeout),
            State::HalfOpen => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn trips_on_the_sixth_consecutive_failure_by_default() {
        let mut b = Breaker::new(Settings::default(), t(0));
        for i in 0..6 {
            assert_eq!(b.state(t(i)), State::Closed);
            let g = b.before_request(t(i)).unwrap();
            b.after_request(g, false, t(i));
        }
        assert_eq!(b.state(t(6)), State::Open);
        assert_eq!(b.before_request(t(6)), Err(Refused::Open));
    }

    #[test]
    fn half_open_only_on_a_call_strictly_after_timeout() {
        let s = Settings {
            timeout: SimDuration::from_millis(100),
            ready_to_trip: Some(Box::new(|c| c.consecutive_failures >= 1)),
            ..Default::default()
        };
        let mut b = Breaker::new(s, t(0));
        let g = b.before_request(t(0)).unwrap();
        b.after_request(g, false, t(0));
        assert_eq!(
            b.before_request(t(100)),
            Err(Refused::Open),
            "expiry.Before(now) is strict"
        );
        let g = b.before_request(t(101)).unwrap();
        assert_eq!(b.state(t(101)), State::HalfOpen);
        assert_eq!(
            b.before_request(t(101)),
            Err(Refused::TooManyRequests),
            "MaxRequests 0 means 1"
        );
        b.after_request(g, true, t(102));
        assert_eq!(b.state(t(102)), State::Closed);
        let ts: Vec<(State, State)> = b.transitions.iter().map(|x| (x.from, x.to)).collect();
        assert_eq!(
            ts,
            [
                (State::Closed, State::Open),
                (State::Open, State::HalfOpen),
                (State::HalfOpen, State::Closed)
            ]
        );
    }

    #[test]
    fn closed_interval_clears_counts_and_ignores_stale_results() {
        let s = Settings {
            interval: SimDuration::from_millis(10),
            ..Default::default()
        };
        let mut b = Breaker::new(s, t(0));
        let old = b.before_request(t(1)).unwrap();
        assert_eq!(b.counts().requests, 1);
        let g = b.before_request(t(11)).unwrap(); // interval expired: new generation
        assert_ne!(g, old);
        assert_eq!(b.counts().requests, 1);
        b.after_request(old, false, t(12)); // stale: ignored
        assert_eq!(b.counts().total_failures, 0);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Wait(u64),
        Call,
        Finish(usize, bool),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                (1u64..300).prop_map(Op::Wait),
                Just(Op::Call),
                (0usize..8, any::<bool>()).prop_map(|(i, ok)| Op::Finish(i, ok)),
            ],
            1..400,
        )
    }

    /// A fault schedule: windows of (start ms, length ms, error rate) on the downstream.
    fn faulted_ops() -> impl Strategy<Value = Vec<Op>> {
        (
            prop::collection::vec((1u64..60, 0u8..4, 0.0f64..1.0), 1..300),
            prop::collection::vec((0u64..6_000, 1u64..2_000, 0.0f64..=1.0), 0..5),
        )
            .prop_map(|(calls, faults)| {
                let mut ops = Vec::new();
                let mut now = 0u64;
                let mut in_flight = 0usize;
                for (gap, delay, draw) in calls {
                    now += gap;
                    ops.push(Op::Wait(gap));
                    ops.push(Op::Call);
                    in_flight += 1;
                    // The outcome follows the fault in force; slow calls finish later.
                    let rate = faults
                        .iter()
                        .filter(|(s, l, _)| (*s..s + l).contains(&now))
                        .map(|f| f.2)
                        .fold(0.0, f64::max);
                    if delay == 0 || in_flight > 3 {
                        ops.push(Op::Finish(delay as usize, draw >= rate));
                        in_flight -= 1;
                    }
                }
                ops
            })
    }

    /// The invariants of [`breaker_invariants`] for one run.
    fn check(
        ops: Vec<Op>,
        max_requests: u32,
        trip: u32,
        timeout_ms: u64,
        interval_ms: u64,
    ) -> Result<(), TestCaseError> {
        let s = Settings {
            max_requests,
            timeout: SimDuration::from_millis(timeout_ms),
            interval: SimDuration::from_millis(interval_ms),
            ready_to_trip: trip_after_consecutive_failures(trip),
        };
        let mut b = Breaker::new(s, t(0));
        let mut now = 0u64;
        let mut pending: Vec<u64> = Vec::new();
        let mut admitted_in_half_open: std::collections::BTreeMap<u64, u32> = Default::default();
        let max = max_requests.max(1);
        for op in ops {
            match op {
                Op::Wait(d) => now += d,
                Op::Call => {
                    let before_gen = b.generation();
                    let state = b.state(t(now));
                    let gen_after_eval = b.generation();
                    let r = b.before_request(t(now));
                    match state {
                        State::Open => prop_assert_eq!(r, Err(Refused::Open)),
                        State::HalfOpen => {
                            if let Ok(g) = r {
                                let n = admitted_in_half_open.entry(g).or_default();
                                *n += 1;
                                prop_assert!(*n <= max, "half-open admitted {} > {}", n, max);
                            }
                        }
                        State::Closed => prop_assert!(r.is_ok()),
                    }
                    if gen_after_eval != before_gen {
                        // A new generation starts with cleared counts (then this call).
                        prop_assert!(b.counts().requests <= 1);
                    }
                    if let Ok(g) = r {
                        pending.push(g);
                    }
                }
                Op::Finish(i, ok) => {
                    if !pending.is_empty() {
                        let g = pending.remove(i % pending.len());
                        b.state(t(now)); // lazy transitions happen first, as in afterRequest
                        let before = b.counts();
                        let gen = b.generation();
                        b.after_request(g, ok, t(now));
                        if g != gen {
                            prop_assert_eq!(
                                b.counts(),
                                before,
                                "a stale result changed the counts"
                            );
                        }
                    }
                }
            }
        }
        for w in b.transitions.windows(2) {
            prop_assert_eq!(w[0].to, w[1].from);
            prop_assert!(w[0].at <= w[1].at);
        }
        if let Some(first) = b.transitions.first() {
            prop_assert_eq!(first.from, State::Closed);
        }
        Ok(())
    }

    proptest! {
        /// Under random call outcomes and timing: no call passes while open; half-open admits
        /// at most MaxRequests per generation; counts restart at each new generation; state
        /// changes are reported in order, each from the state the previous one went to.
        #[test]
        fn breaker_invariants(ops in ops(), max_requests in 0u32..4, trip in 1u32..7, timeout_ms in 1u64..500, interval_ms in 0u64..400) {
            check(ops, max_requests, trip, timeout_ms, interval_ms)?;
        }

        /// The same invariants when outcomes follow a schedule of downstream faults (windows of
        /// error rates) and slow calls finish late.
        #[test]
        fn breaker_invariants_under_fault_schedules(ops in faulted_ops(), max_requests in 0u32..4, trip in 1u32..7, timeout_ms in 1u64..500, interval_ms in 0u64..400) {
            check(ops, max_requests, trip, timeout_ms, interval_ms)?;
        }
    }
}
