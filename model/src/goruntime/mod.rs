//! The Go runtime model: scheduler (proc.go), channels (chan.go), select (select.go), timers
//! (time.go) and the netpoller (netpoll.go). One [`Runtime`] per simulated host.

pub mod accounting;
pub mod census;
pub mod chan;
pub mod context;
pub mod costs;
pub mod introspect;
pub mod lockosthread;
pub mod malloc;
pub mod mgc;
pub mod mgclimit;
mod mgcmark;
pub mod mgcpacer;
mod mgcsweep;
pub mod netpoll;
pub mod pool;
pub mod preempt;
pub mod proc;
pub mod procresize;
pub mod runq;
pub mod runtime2;
pub mod select;
pub mod stall;
pub mod stw;
pub mod sync;
pub mod sysmon;
pub mod time;
pub mod topology;
pub mod trace;

pub use chan::Chan;
pub use context::{CancelFunc, Context, CtxErr};
pub use costs::Costs;
pub use malloc::{Live, MemStats};
pub use mgc::{GcConfig, GcPhase, GcStats, WorkerMode};
pub use mgcpacer::GcPercent;
pub use netpoll::Fd;
pub use pool::Pool;
pub use proc::{Fatal, Runtime, RuntimeConfig, SchedStats};
pub use runtime2::LostTime;
pub use runtime2::{GStatus, StateTimes, WaitReason};
pub use select::{RecvCase, SelectCase, SendCase};
pub use stall::{Pause, StallConfig};
pub use stw::FreezeCause;
pub use sync::WaitGroup;
pub use time::{Ticker, Timer};
