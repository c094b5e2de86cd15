//! costream-sim: the deterministic simulation kernel.
//!
//! Integer-nanosecond virtual time ([`SimTime`], [`SimDuration`]), one event queue ordered by
//! `(time, insertion sequence)` ([`EventQueue`]), named seeded random streams ([`RngStreams`]),
//! a slab of Rust futures polled only when the model says so ([`TaskSlab`]), a rolling digest of
//! the run's ordered events ([`Digest`]) and run limits ([`Kernel`]). It knows nothing of Go.

#![deny(missing_docs)]

pub mod digest;
pub mod kernel;
pub mod queue;
pub mod rng;
pub mod task;
pub mod time;
pub mod units;

pub use digest::{fnv1a, Digest, Fnv1a};
pub use kernel::{Kernel, Next, RunLimits};
pub use queue::EventQueue;
pub use rng::{RngStreams, SimRng};
pub use task::{TaskId, TaskSlab};
pub use time::{ParseDurationError, SimDuration, SimTime};
