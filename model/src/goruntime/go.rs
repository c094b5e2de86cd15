//! A goroutine's handle on its runtime ([`Go`]): `go`, compute, channels, timers, select.

use super::chan::Chan;
use super::host::{Core, Ev, Shared};
use super::netpoll::Fd;
use super::proc::Runtime;
use super::runtime2::Yield;
use super::select::{Select, SelectCase};
use super::time::Sleep;
use costream_sim::{Kernel, SimDuration, SimRng, SimTime};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A goroutine's view of its runtime: spawn, compute, channels, timers, select.
#[derive(Clone)]
pub struct Go {
    pub(crate) sh: Rc<Shared>,
    pub(crate) host: u32,
}

/// `file.rs:line` of a call site, made once per site and kept for the process (a program
/// has finitely many `go` statements, as Go's binary has one name per closure).
fn caller_name(at: &'static std::panic::Location<'static>) -> &'static str {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<BTreeMap<(&'static str, u32), &'static str>>> = OnceLock::new();
    let file = at.file().rsplit(['/', '\\']).next().unwrap_or(at.file());
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    names
        .entry((file, at.line()))
        .or_insert_with(|| Box::leak(format!("{file}:{}", at.line()).into_boxed_str()))
}

impl Go {
    #[inline]
    pub(crate) fn with_rt<R>(&self, f: impl FnOnce(&mut Runtime, &mut Kernel<Ev>) -> R) -> R {
        let mut c = self.sh.core.borrow_mut();
        let Core { kernel, rts, .. } = &mut *c;
        f(&mut rts[self.host as usize], kernel)
    }

    /// Runs `f` with the runtimes' shared state, for model code that must read it.
    pub fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        f(&mut self.sh.core.borrow_mut())
    }

    pub(crate) fn spawn<F, Fut>(&self, name: &'static str, is_main: bool, f: F) -> u64
    where
        F: FnOnce(Go) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let fut = f(self.clone());
        let task = self.sh.tasks.insert(Box::pin(fut));
        self.with_rt(|rt, k| {
            let g = rt.newproc(k, task, name, is_main);
            rt.allgs[g as usize].goid
        })
    }

    /// `go f()`: the new goroutine goes to this P's `runnext`; returns its goid.
    /// `name` is the function it runs ("main.worker"), shown in tracebacks.
    pub fn go<F, Fut>(&self, name: &'static str, f: F) -> u64
    where
        F: FnOnce(Go) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.spawn(name, false, f)
    }

    /// `go func() { … }()`: [`Go::go`] for an anonymous function, named after where it is
    /// started ("signalling.rs:171"), as Go's tracebacks place a closure by file and line.
    #[track_caller]
    pub fn go_here<F, Fut>(&self, f: F) -> u64
    where
        F: FnOnce(Go) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        self.spawn(caller_name(std::panic::Location::caller()), false, f)
    }

    /// Holds this goroutine's P for `d` of CPU time (preemptible by sysmon after 10 ms).
    pub fn compute(&self, d: SimDuration) -> Compute<'_> {
        Compute {
            go: self,
            d,
            started: false,
        }
    }

    /// A system call whose kernel work takes `d` (`entersyscall`, the call, `exitsyscall`).
    /// The goroutine keeps its P, but a call that outlasts a sysmon turn may lose it to
    /// another M (`retake`, `handoffp`); the goroutine then needs a P again to return. With
    /// the OS model the call's thread also waits for a CPU when the kernel preempts it.
    pub fn syscall(&self, d: SimDuration) -> Syscall<'_> {
        Syscall {
            go: self,
            d,
            started: false,
        }
    }

    /// `runtime.LockOSThread()`: wire this goroutine to its own thread. It still needs a P to
    /// run, and every wake-up now costs two thread switches (`startlockedm`, `stoplockedm`).
    pub fn lock_os_thread(&self) {
        self.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.lock_os_thread(g);
        })
    }

    /// `runtime.UnlockOSThread()`: undo one `lock_os_thread`.
    pub fn unlock_os_thread(&self) {
        self.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.unlock_os_thread(g);
        })
    }

    /// `runtime.Gosched()`: yield the P; this goroutine goes to the global run queue.
    pub fn gosched(&self) -> Gosched<'_> {
        Gosched {
            go: self,
            started: false,
        }
    }

    /// `time.Sleep(d)`.
    pub fn sleep(&self, d: SimDuration) -> Sleep<'_> {
        Sleep::new(self, d)
    }

    /// Sleeps until `t` (no-op if `t` has passed).
    pub fn sleep_until(&self, t: SimTime) -> Sleep<'_> {
        let d = t.saturating_since(self.now());
        Sleep::new(self, d)
    }

    /// `time.Now()` as this goroutine sees it (kernel time plus its costs so far).
    pub fn now(&self) -> SimTime {
        let c = self.sh.core.borrow();
        let rt = &c.rts[self.host as usize];
        if rt.cur.is_some() {
            rt.local_now
        } else {
            c.kernel.now()
        }
    }

    /// `make(chan T, cap)`.
    pub fn make_chan<T>(&self, cap: usize) -> Chan<T> {
        Chan::make(self.sh.next_chan(), cap)
    }

    /// A datagram descriptor on this host.
    pub fn fd<T: 'static>(&self) -> Fd<T> {
        Fd::new(self.host)
    }

    /// `select` without `default`: blocks until a case fires; returns its index.
    pub fn select<'a, 'c>(&'a self, cases: &'a mut [&'c mut dyn SelectCase]) -> SelectOne<'a, 'c> {
        SelectOne(Select::new(self, cases, false))
    }

    /// `select` with `default`: `None` when no case is ready.
    pub fn select_default<'a, 'c>(
        &'a self,
        cases: &'a mut [&'c mut dyn SelectCase],
    ) -> Select<'a, 'c> {
        Select::new(self, cases, true)
    }

    /// `select {}`: blocks forever.
    pub fn block(&self) -> SelectOne<'_, 'static> {
        SelectOne(Select::new(self, &mut [], false))
    }

    /// This goroutine's id.
    pub fn goid(&self) -> u64 {
        self.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.allgs[g as usize].goid
        })
    }

    /// GOMAXPROCS of this runtime.
    pub fn gomaxprocs(&self) -> u32 {
        self.with_rt(|rt, _| rt.gomaxprocs())
    }

    /// `runtime.GOMAXPROCS(n)`: returns the previous setting; a different `n` stops the world
    /// and resizes the Ps when it restarts (`procresize`). `n == 0` only reads.
    pub fn set_gomaxprocs(&self, n: u32) -> u32 {
        self.with_rt(|rt, k| rt.gomaxprocs_set(k, n))
    }

    /// `runtime.NumGoroutine()`: the program's live goroutines, not the runtime's own.
    pub fn num_goroutine(&self) -> u64 {
        self.with_rt(|rt, _| rt.live_goroutines())
    }

    /// The P this goroutine runs on.
    pub fn p(&self) -> u32 {
        self.with_rt(|rt, _| rt.current().0)
    }

    /// A named random stream for model code, independent of every other stream.
    pub fn rng(&self, name: &str, index: u64) -> SimRng {
        self.sh.core.borrow().streams.indexed(name, index)
    }
}

/// Future of [`Go::select`].
pub struct SelectOne<'a, 'c>(Select<'a, 'c>);

impl Future for SelectOne<'_, '_> {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("select without default always picks a case"))
    }
}

/// Future of [`Go::compute`].
pub struct Compute<'a> {
    go: &'a Go,
    d: SimDuration,
    started: bool,
}

impl Future for Compute<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.started || self.d.is_zero() {
            return Poll::Ready(());
        }
        self.started = true;
        let d = self.d;
        self.go.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.allgs[g as usize].request = Yield::Compute(d);
        });
        Poll::Pending
    }
}

/// Future of [`Go::syscall`].
#[must_use = "a system call does nothing unless awaited"]
pub struct Syscall<'a> {
    go: &'a Go,
    d: SimDuration,
    started: bool,
}

impl Future for Syscall<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.started {
            return Poll::Ready(());
        }
        self.started = true;
        let d = self.d;
        let blocks = self.go.with_rt(|rt, k| rt.syscall_request(k, d));
        if blocks {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// Future of [`Go::gosched`].
pub struct Gosched<'a> {
    go: &'a Go,
    started: bool,
}

impl Future for Gosched<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.started {
            return Poll::Ready(());
        }
        self.started = true;
        self.go.with_rt(|rt, _| {
            let (_, g) = rt.current();
            rt.allgs[g as usize].request = Yield::Gosched;
        });
        Poll::Pending
    }
}
