//! costream-model: the Go runtime model and the co-streaming workloads that run on it.
//!
//! Model programs are ordinary Rust with a Go-like API ([`Go`]): start goroutines, send and
//! receive on [`Chan`]s, `select`, sleep, compute, `gosched`. The scheduler underneath follows
//! the Go runtime's structure and names (src/runtime/proc.go, chan.go, select.go, time.go,
//! netpoll.go); see docs/model.md.
//!
//! ```
//! use costream_model::{EndReason, RunLimits, RuntimeConfig, Sim, SimDuration};
//! use std::{cell::RefCell, rc::Rc};
//!
//! let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(1)));
//! let host = sim.add_runtime(RuntimeConfig { gomaxprocs: 1, ..Default::default() });
//! let printed = Rc::new(RefCell::new(Vec::new()));
//! let out = printed.clone();
//! sim.main(host, |go| async move {
//!     let done = go.make_chan::<u32>(0);
//!     for i in 0..10 {
//!         let done = done.clone();
//!         go.go("main.func1", move |go| async move { done.send(&go, i).await });
//!     }
//!     for _ in 0..10 {
//!         let v = done.recv(&go).await.unwrap();
//!         out.borrow_mut().push(v);
//!     }
//! });
//! let run = sim.run();
//! assert_eq!(run.end, EndReason::MainReturned);
//! assert_eq!(*printed.borrow(), [9, 0, 1, 2, 3, 4, 5, 6, 7, 8]); // runnext, as on Go
//! ```

#![deny(missing_docs)]

/// Media models (RTP, sources, receivers, QoE): the `costream-media` crate.
pub use costream_media as media;
/// The network (links, impairments, faults): the `costream-net` crate.
pub use costream_net as net;
/// Durations and sizes as scenario files write them: `costream_sim::units`.
pub use costream_sim::units;

pub mod budget;
pub mod calibrate;
pub mod conformance;
pub mod explore;
pub mod goruntime;
pub mod html;
pub mod leak;
pub mod macros;
pub mod parallel;
pub mod plot;
pub mod report;
pub mod scenario;
pub mod server;
pub mod shrink;
pub mod swarm;
pub mod sweep;
pub mod table;
pub mod testing;
pub mod trace_export;
pub mod workload;
pub mod world;

pub use costream_sim::{RunLimits, SimDuration, SimTime};
pub use goruntime::{
    Chan, Costs, Fd, GStatus, RecvCase, RuntimeConfig, SelectCase, SendCase, WaitReason,
};
pub use world::{EndReason, Go, GoNet, Process, RunOutcome, Sim, World};
pub use world::{EventLog, SimBuilder, SimOptions};

/// The README's Rust example, compiled and run by `cargo test --doc` so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
