//! costream-model: the Go runtime model and the co-streaming workloads that run on it.
//!
//! Model programs are ordinary Rust with a Go-like API ([`Go`]): start goroutines, send and
//! receive on [`Chan`]s, `select`, sleep, compute, `gosched`. The scheduler underneath follows
//! the Go runtime's structure and names (src/runtime/proc.go, chan.go, select.go, time.go,
//! netpoll.go); see docs/model.md.

pub mod goruntime;
pub mod report;
pub mod scenario;
pub mod workload;
pub mod world;

pub use costream_sim::{RunLimits, SimDuration, SimTime};
pub use goruntime::{
    Chan, Costs, Fd, GStatus, RecvCase, RuntimeConfig, SelectCase, SendCase, WaitReason,
};
pub use world::{EndReason, Go, Process, RunOutcome, Sim, World};
