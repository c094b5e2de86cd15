//! Costs of runtime operations, in virtual CPU time on the P that performs them.
//!
//! Defaults come from the figures in `shared/reference/go-runtime.md` §6 (go1.19.8, linux/amd64,
//! 2 vCPUs) and from comments in the Go source; docs/model.md lists each one with its source.
//! They are parameters so that scheduler overhead can be swept (§2.2).

use costream_sim::SimDuration;
use serde::Deserialize;

/// Cost parameters of one runtime. Every field can be set from a scenario's `[runtime.costs]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Costs {
    /// `newproc`: allocate and queue a G (`go` + exit ≈ 315 ns measured; 250 ns of it here).
    #[serde(with = "crate::units::dur")]
    pub go_create: SimDuration,
    /// `goexit0`/`gdestroy`: the other 65 ns of the measured 315 ns.
    #[serde(with = "crate::units::dur")]
    pub go_exit: SimDuration,
    /// `schedule` → `execute` → `gogo`: one context switch (Gosched round ≈ 110 ns measured).
    #[serde(with = "crate::units::dur")]
    pub context_switch: SimDuration,
    /// A channel send or receive that does not block (buffered send+recv ≈ 29 ns measured).
    #[serde(with = "crate::units::dur")]
    pub chan_op: SimDuration,
    /// `selectgo` fixed part (ready 2-case select ≈ 56 ns measured = 26 + 2·15).
    #[serde(with = "crate::units::dur")]
    pub select_base: SimDuration,
    /// `selectgo` per case (shuffle, lock, poll).
    #[serde(with = "crate::units::dur")]
    pub select_per_case: SimDuration,
    /// One victim probed by `stealWork` (load its queue head/tail; an atomic CAS on success).
    #[serde(with = "crate::units::dur")]
    pub steal_probe: SimDuration,
    /// Moving one G between run queues (`runqputslow`, `globrunqget`, `runqgrab` batches).
    #[serde(with = "crate::units::dur")]
    pub runq_move_per_g: SimDuration,
    /// Looking at one P's run queue and timers while giving up a P (`checkRunqsNoP`,
    /// `checkTimersNoP` walk every P).
    #[serde(with = "crate::units::dur")]
    pub runq_scan_per_p: SimDuration,
    /// Taking `sched.lock` and looking at the global run queue.
    #[serde(with = "crate::units::dur")]
    pub global_runq_check: SimDuration,
    /// Adding a timer to a P's heap (`maybeAdd`).
    #[serde(with = "crate::units::dur")]
    pub timer_add: SimDuration,
    /// Running one expired timer (`timers.run`).
    #[serde(with = "crate::units::dur")]
    pub timer_fire: SimDuration,
    /// Non-blocking `netpoll(0)`: one `epoll_wait` system call.
    #[serde(with = "crate::units::dur")]
    pub netpoll_poll: SimDuration,
    /// Reading one datagram from a socket (`recvmsg`).
    #[serde(with = "crate::units::dur")]
    pub fd_read: SimDuration,
    /// Writing one datagram (`sendmsg`).
    #[serde(with = "crate::units::dur")]
    pub fd_write: SimDuration,
    /// `recvmmsg`: the system call, plus `fd_read_batched` per datagram it returns.
    #[serde(with = "crate::units::dur")]
    pub fd_read_batch_base: SimDuration,
    /// Extra `recvmmsg` cost per datagram returned (copy-out), on top of `fd_read_batch_base`.
    #[serde(with = "crate::units::dur")]
    pub fd_read_batched: SimDuration,
    /// From `notewakeup` (futex wake) to the woken M running `schedule` (`startm`, `wakep`).
    #[serde(with = "crate::units::dur")]
    pub m_wake: SimDuration,
    /// Extra cost per goroutine stolen from a P in another L3 domain of the same socket: its
    /// `g`, stack top and the victim's run-queue lines come from a remote L3 (estimate: ~15
    /// lines at ~70 ns). Applies only with `[server.topology]`.
    #[serde(with = "crate::units::dur")]
    pub steal_cross_l3_per_g: SimDuration,
    /// The same from another socket (estimate: remote-NUMA lines at ~200 ns).
    #[serde(with = "crate::units::dur")]
    pub steal_cross_socket_per_g: SimDuration,
    /// From an epoll event or timeout to the blocked M running again (timer slack + wake-up;
    /// measured Sleep(50us) p50 = 1.096 ms on an idle process, so ≈ 90 us past the 1 ms timeout).
    #[serde(with = "crate::units::dur")]
    pub epoll_wake: SimDuration,
    /// From `preemptone` (SIGURG sent) to the target G stopping at an async safe point.
    #[serde(with = "crate::units::dur")]
    pub preempt_signal: SimDuration,
}

impl Default for Costs {
    fn default() -> Self {
        Self {
            go_create: SimDuration::from_nanos(250),
            go_exit: SimDuration::from_nanos(65),
            context_switch: SimDuration::from_nanos(110),
            chan_op: SimDuration::from_nanos(15),
            select_base: SimDuration::from_nanos(26),
            select_per_case: SimDuration::from_nanos(15),
            steal_probe: SimDuration::from_nanos(20),
            runq_move_per_g: SimDuration::from_nanos(4),
            runq_scan_per_p: SimDuration::from_nanos(5),
            global_runq_check: SimDuration::from_nanos(20),
            timer_add: SimDuration::from_nanos(40),
            timer_fire: SimDuration::from_nanos(60),
            netpoll_poll: SimDuration::from_nanos(600),
            fd_read: SimDuration::from_nanos(1_200),
            fd_write: SimDuration::from_nanos(1_500),
            fd_read_batch_base: SimDuration::from_nanos(1_000),
            fd_read_batched: SimDuration::from_nanos(250),
            m_wake: SimDuration::from_micros(5),
            steal_cross_l3_per_g: SimDuration::from_nanos(1_000),
            steal_cross_socket_per_g: SimDuration::from_nanos(3_000),
            epoll_wake: SimDuration::from_micros(90),
            preempt_signal: SimDuration::from_micros(3),
        }
    }
}

impl Costs {
    /// All costs zero: for tests that pin scheduling order independent of timing.
    pub fn zero() -> Self {
        let z = SimDuration::ZERO;
        Self {
            go_create: z,
            go_exit: z,
            context_switch: z,
            chan_op: z,
            select_base: z,
            select_per_case: z,
            steal_probe: z,
            runq_move_per_g: z,
            runq_scan_per_p: z,
            global_runq_check: z,
            timer_add: z,
            timer_fire: z,
            netpoll_poll: z,
            fd_read: z,
            fd_write: z,
            fd_read_batch_base: z,
            fd_read_batched: z,
            m_wake: z,
            steal_cross_l3_per_g: z,
            steal_cross_socket_per_g: z,
            epoll_wake: z,
            preempt_signal: z,
        }
    }
}
