//! Virtual time: integer nanoseconds, never the wall clock.

use std::cell::Cell;
use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};

/// An instant of virtual time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of virtual time in nanoseconds. Never negative by construction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The start of a run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable time ("never").
    pub const MAX: SimTime = SimTime(u64::MAX);
    /// `ns` nanoseconds after the start.
    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// Time elapsed since the start of the run.
    pub fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }
}

impl SimDuration {
    /// No time.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable duration.
    pub const MAX: SimDuration = SimDuration(u64::MAX);
    /// `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    /// `us` microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    /// In nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// In seconds, as a float (for reports).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// In milliseconds, as a float (for reports).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    /// Whether no time passes.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self - other`, or zero if `other` is longer.
    pub fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
    /// Scales by a non-negative factor, rounding to the nearest nanosecond.
    pub fn mul_f64(self, f: f64) -> SimDuration {
        let v = (self.0 as f64 * f.max(0.0)).round();
        SimDuration(if v >= u64::MAX as f64 {
            u64::MAX
        } else {
            v as u64
        })
    }

    /// Parses `"20ms"`, `"1.5s"`, `"250us"` (or `"250µs"`), `"80ns"`, `"2m"`, `"0"`.
    pub fn parse(s: &str) -> Result<SimDuration, ParseDurationError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseDurationError::Empty);
        }
        if t.starts_with('-') {
            return Err(ParseDurationError::Negative(s.to_string()));
        }
        if t == "0" {
            return Ok(SimDuration::ZERO);
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| ParseDurationError::NoUnit(s.to_string()))?;
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| ParseDurationError::BadNumber(s.to_string()))?;
        let scale = match unit.trim() {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            _ => return Err(ParseDurationError::BadUnit(s.to_string())),
        };
        let ns = value * scale;
        if !ns.is_finite() || ns > u64::MAX as f64 / 2.0 {
            return Err(ParseDurationError::TooLarge(s.to_string()));
        }
        Ok(SimDuration(ns.round() as u64))
    }
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseDurationError {
    /// The string is empty.
    Empty,
    /// A negative duration: durations are `>= 0`.
    Negative(String),
    /// A number without a unit (`20` for `"20ms"`).
    NoUnit(String),
    /// The number does not parse.
    BadNumber(String),
    /// A unit other than ns, us (µs), ms, s, m (min) or h.
    BadUnit(String),
    /// Too long to represent (more than about 292 years).
    TooLarge(String),
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty duration; write e.g. \"20ms\""),
            Self::Negative(s) => write!(f, "duration {s:?} is negative; durations must be >= 0"),
            Self::NoUnit(s) => write!(
                f,
                "duration {s:?} has no unit; add one of ns, us, ms, s, m, h (e.g. \"20ms\")"
            ),
            Self::BadNumber(s) => write!(f, "duration {s:?} does not start with a number"),
            Self::BadUnit(s) => {
                write!(
                    f,
                    "duration {s:?} has an unknown unit; use ns, us, ms, s, m or h"
                )
            }
            Self::TooLarge(s) => write!(f, "duration {s:?} is too large to represent"),
        }
    }
}

impl std::error::Error for ParseDurationError {}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Panics in debug builds if `rhs` is later: use [`SimTime::saturating_since`] where that can happen.
    fn sub(self, rhs: SimTime) -> SimDuration {
        debug_assert!(self.0 >= rhs.0, "SimTime subtraction went negative");
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}
impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        debug_assert!(self.0 >= d.0, "SimDuration subtraction went negative");
        SimDuration(self.0.saturating_sub(d.0))
    }
}
impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

fn fmt_ns(ns: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if ns == 0 {
        write!(f, "0s")
    } else if ns.is_multiple_of(1_000_000_000) {
        write!(f, "{}s", ns / 1_000_000_000)
    } else if ns >= 1_000_000_000 {
        write!(f, "{:.3}s", ns as f64 / 1e9)
    } else if ns >= 1_000_000 {
        write!(f, "{:.3}ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        write!(f, "{:.3}us", ns as f64 / 1e3)
    } else {
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_ns(self.0, f)
    }
}
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_ns(self.0, f)
    }
}

thread_local! {
    static TRACE_NOW: Cell<u64> = const { Cell::new(0) };
}

/// Records the virtual time of the event being handled, so log lines can be stamped with it.
/// Written by the kernel only; never read by the model.
pub fn set_trace_now(t: SimTime) {
    TRACE_NOW.with(|c| c.set(t.0));
}

/// The virtual time of the event being handled on this thread (for log formatting only).
pub fn trace_now() -> SimTime {
    SimTime(TRACE_NOW.with(|c| c.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(
            SimDuration::parse("20ms").unwrap(),
            SimDuration::from_millis(20)
        );
        assert_eq!(
            SimDuration::parse("1.5s").unwrap(),
            SimDuration::from_millis(1500)
        );
        assert_eq!(
            SimDuration::parse("250us").unwrap(),
            SimDuration::from_micros(250)
        );
        assert_eq!(
            SimDuration::parse("250µs").unwrap(),
            SimDuration::from_micros(250)
        );
        assert_eq!(
            SimDuration::parse("80ns").unwrap(),
            SimDuration::from_nanos(80)
        );
        assert_eq!(SimDuration::parse("0").unwrap(), SimDuration::ZERO);
    }

    #[test]
    fn refuses_bad_durations() {
        assert!(matches!(
            SimDuration::parse("-5ms"),
            Err(ParseDurationError::Negative(_))
        ));
        assert!(matches!(
            SimDuration::parse("5"),
            Err(ParseDurationError::NoUnit(_))
        ));
        assert!(matches!(
            SimDuration::parse("5 parsecs"),
            Err(ParseDurationError::BadUnit(_))
        ));
        assert!(matches!(
            SimDuration::parse("1e300s"),
            Err(ParseDurationError::BadUnit(_)) | Err(ParseDurationError::TooLarge(_))
        ));
        assert!(matches!(
            SimDuration::parse("99999999999999h"),
            Err(ParseDurationError::TooLarge(_))
        ));
        assert!(matches!(
            SimDuration::parse(""),
            Err(ParseDurationError::Empty)
        ));
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(SimDuration::from_millis(20).to_string(), "20.000ms");
        assert_eq!(SimDuration::from_secs(3).to_string(), "3s");
        assert_eq!(SimDuration::from_nanos(80).to_string(), "80ns");
    }

    #[test]
    fn time_arithmetic() {
        let t = SimTime::ZERO + SimDuration::from_micros(5);
        assert_eq!(t - SimTime::ZERO, SimDuration::from_micros(5));
        assert_eq!(SimTime::ZERO.saturating_since(t), SimDuration::ZERO);
    }
}
