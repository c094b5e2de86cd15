//! Model arms of the scheduler programs: start order, Gosched order, preemption, saturation.

use super::{crash_of, main, ms, Output};
use crate::goruntime::GoVersion;
use crate::goruntime::WaitGroup;
use crate::Go;
use costream_sim::SimDuration;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// `n` goroutines started one after another on one P by main, which then waits for them:
/// the order they ran in.
fn run_order(v: GoVersion, n: usize) -> Vec<usize> {
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = order.clone();
    main(v, 1, move |go: Go| async move {
        let wg = WaitGroup::new();
        for i in 0..n {
            wg.add(&go, 1);
            let (o, wg) = (o.clone(), wg.clone());
            go.go("main.main.func1", move |go| async move {
                o.borrow_mut().push(i);
                wg.done(&go);
            });
        }
        wg.wait(&go).await;
    });
    order.take()
}

/// `conformance/go/start_order`.
pub(super) fn start_order(v: GoVersion) -> Output {
    let order: Vec<String> = run_order(v, 5).iter().map(|i| i.to_string()).collect();
    let mut out = Output::default();
    out.put("order", order.join(" "));
    out
}

/// `n` goroutines on one P, each recording its id and calling Gosched `rounds` times: the
/// order they ran in.
fn gosched_rounds(v: GoVersion, n: u32, rounds: u32) -> String {
    let order = Rc::new(RefCell::new(Vec::<String>::new()));
    let o = order.clone();
    main(v, 1, move |go: Go| async move {
        let wg = WaitGroup::new();
        for i in 0..n {
            wg.add(&go, 1);
            let (o, wg) = (o.clone(), wg.clone());
            go.go("main.main.func1", move |go| async move {
                for _ in 0..rounds {
                    o.borrow_mut().push(i.to_string());
                    go.gosched().await;
                }
                wg.done(&go);
            });
        }
        wg.wait(&go).await;
    });
    let order = order.borrow().join(" ");
    order
}

/// `conformance/go/gosched_order`.
pub(super) fn gosched_order(v: GoVersion) -> Output {
    let mut out = Output::default();
    out.put("order", gosched_rounds(v, 3, 3));
    out
}

/// `conformance/go/preemption`: the spinner is a run of 50 µs computes with no blocking call,
/// so only sysmon's preemption request takes its P away.
pub(super) fn preemption(v: GoVersion) -> Output {
    let late = Rc::new(RefCell::new(Vec::<f64>::new()));
    let l = late.clone();
    main(v, 1, move |go: Go| async move {
        for _ in 0..7 {
            let stop = Rc::new(Cell::new(false));
            let s = stop.clone();
            go.go("main.main.func1", move |go| async move {
                while !s.get() {
                    go.compute(SimDuration::from_micros(50)).await;
                }
            });
            go.gosched().await;
            let start = go.now();
            go.sleep(ms(1)).await;
            let d = go.now().saturating_since(start).saturating_sub(ms(1));
            l.borrow_mut().push(d.as_nanos() as f64 / 1e6);
            stop.set(true);
            go.sleep(ms(20)).await;
        }
    });
    let mut v = late.borrow().clone();
    v.sort_by(f64::total_cmp);
    let median = v[3];
    let mut out = Output::default();
    out.put("late_ms", format!("{median:.1}"));
    out.put("late_in_range", (5.0..=25.0).contains(&median));
    out
}

/// P99 of frame latency with `n` streams of 1 ms of CPU every 20 ms on 2 Ps, over 1 s.
fn saturation_p99(v: GoVersion, n: u32) -> f64 {
    let lat = Rc::new(RefCell::new(Vec::<f64>::new()));
    let l = lat.clone();
    main(v, 2, move |go: Go| async move {
        let wg = WaitGroup::new();
        let start = go.now();
        for s in 0..n {
            wg.add(&go, 1);
            let (l, wg) = (l.clone(), wg.clone());
            go.go("main.p99.func1", move |go| async move {
                let mut due = start + SimDuration::from_nanos(20_000_000 * s as u64 / n as u64);
                while due.saturating_since(start) < SimDuration::from_secs(1) {
                    if due > go.now() {
                        go.sleep_until(due).await;
                    }
                    go.compute(ms(1)).await;
                    let d = go.now().saturating_since(due);
                    l.borrow_mut().push(d.as_nanos() as f64 / 1e6);
                    due += ms(20);
                }
                wg.done(&go);
            });
        }
        wg.wait(&go).await;
    });
    let mut v = lat.borrow().clone();
    v.sort_by(f64::total_cmp);
    v[v.len() * 99 / 100]
}

/// `conformance/go/saturation`.
pub(super) fn saturation(v: GoVersion) -> Output {
    let mut out = Output::default();
    let mut knee = 0;
    for n in (10..=70).step_by(10) {
        let p = saturation_p99(v, n);
        out.put(&format!("p99_ms_n{n}"), format!("{p:.1}"));
        if knee == 0 && p > 100.0 {
            knee = n;
        }
    }
    out.put("knee", knee);
    out
}

/// `conformance/go/handoff_order`.
pub(super) fn handoff_order(v: GoVersion) -> Output {
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let l = log.clone();
    main(v, 1, move |go: Go| async move {
        let c = go.make_chan::<u32>(0);
        let done = go.make_chan::<bool>(0);
        let (c2, d2, l2) = (c.clone(), done.clone(), l.clone());
        go.go("main.main.func1", move |go| async move {
            while let Some(v) = c2.recv(&go).await {
                l2.borrow_mut().push(format!("recv{v}"));
            }
            d2.send(&go, true).await;
        });
        go.gosched().await;
        for i in 0..3 {
            c.send(&go, i).await;
            l.borrow_mut().push(format!("sent{i}"));
        }
        c.close(&go);
        done.recv(&go).await;
    });
    let mut out = Output::default();
    out.put("order", log.borrow().join(" "));
    out
}

/// `conformance/go/waitgroup_wake`.
pub(super) fn waitgroup_wake(v: GoVersion) -> Output {
    let order = Rc::new(RefCell::new(Vec::<String>::new()));
    let o = order.clone();
    main(v, 1, move |go: Go| async move {
        let (wg, all) = (WaitGroup::new(), WaitGroup::new());
        wg.add(&go, 1);
        for i in 0..3 {
            all.add(&go, 1);
            let (wg, all, o) = (wg.clone(), all.clone(), o.clone());
            go.go("main.main.func1", move |go| async move {
                wg.wait(&go).await;
                o.borrow_mut().push(i.to_string());
                all.done(&go);
            });
            go.sleep(ms(1)).await;
        }
        wg.done(&go);
        all.wait(&go).await;
    });
    let mut out = Output::default();
    out.put("order", order.borrow().join(" "));
    out
}

/// `conformance/go/runq_overflow`.
pub(super) fn runq_overflow(v: GoVersion) -> Output {
    let order = run_order(v, 300);
    let pos = |id: usize| order.iter().position(|&v| v == id).map_or(-1, |p| p as i64);
    let first: Vec<String> = order.iter().take(20).map(|v| v.to_string()).collect();
    let mut out = Output::default();
    out.put("first20", first.join(" "));
    out.put("pos0", pos(0));
    out.put("pos128", pos(128));
    out.put("pos299", pos(299));
    out.put("last", order.last().map_or(-1, |&v| v as i64));
    out
}

/// `conformance/go/global_batches`.
pub(super) fn global_batches(v: GoVersion) -> Output {
    let mut out = Output::default();
    out.put("order", gosched_rounds(v, 8, 4));
    out
}

/// `conformance/go/runtime_api`. The model has no `recover`: the WaitGroup panic is its own run.
pub(super) fn runtime_api(v: GoVersion) -> Output {
    let out = Rc::new(RefCell::new(Output::default()));
    let o = out.clone();
    main(v, 2, move |go: Go| async move {
        let prev = go.set_gomaxprocs(4);
        let read = go.set_gomaxprocs(0);
        let start = go.num_goroutine();
        let c = go.make_chan::<u32>(0);
        for _ in 0..3 {
            let c = c.clone();
            go.go("main.main.func1", move |go| async move {
                c.recv(&go).await;
            });
        }
        go.sleep(ms(1)).await;
        let blocked = go.num_goroutine();
        c.close(&go);
        go.sleep(ms(1)).await;
        let after = go.num_goroutine();
        let mut o = o.borrow_mut();
        o.put("gomaxprocs_prev", prev);
        o.put("gomaxprocs_read", read);
        o.put("numgoroutine_start", start);
        o.put("numgoroutine_blocked", blocked);
        o.put("numgoroutine_after", after);
    });
    let p = crash_of(v, 2, |go: Go| async move {
        WaitGroup::new().done(&go);
    });
    let mut out = out.take();
    out.put("waitgroup_negative", p.get("panic").unwrap_or("no panic"));
    out
}

/// `conformance/go/parallel_speedup`: the same eight 20 ms computations at GOMAXPROCS 1 and 2
/// (one run, `runtime.GOMAXPROCS` between them, as in the Go program).
pub(super) fn parallel_speedup(v: GoVersion) -> Output {
    let spans = Rc::new(RefCell::new(Vec::<f64>::new()));
    let s = spans.clone();
    main(v, 2, move |go: Go| async move {
        for p in [1, 2] {
            go.set_gomaxprocs(p);
            let wg = WaitGroup::new();
            let start = go.now();
            for _ in 0..8 {
                wg.add(&go, 1);
                let wg = wg.clone();
                go.go("main.makespan.func1", move |go| async move {
                    go.compute(ms(20)).await;
                    wg.done(&go);
                });
            }
            wg.wait(&go).await;
            s.borrow_mut()
                .push(go.now().saturating_since(start).as_nanos() as f64 / 1e6);
        }
    });
    let v = spans.borrow();
    let mut out = Output::default();
    out.put("makespan_ms_p1", format!("{:.0}", v[0]));
    out.put("makespan_ms_p2", format!("{:.0}", v[1]));
    out.put("speedup", format!("{:.2}", v[0] / v[1]));
    out
}

/// `conformance/go/pingpong_starvation`.
pub(super) fn pingpong_starvation(v: GoVersion) -> Output {
    let waits = Rc::new(RefCell::new(Vec::<f64>::new()));
    let w = waits.clone();
    main(v, 1, move |go: Go| async move {
        let (c1, c2) = (go.make_chan::<u32>(0), go.make_chan::<u32>(0));
        let stop = Rc::new(Cell::new(false));
        let (a1, a2, s) = (c1.clone(), c2.clone(), stop.clone());
        go.go("main.main.func1", move |go| async move {
            while !s.get() {
                a1.send(&go, 1).await;
                a2.recv(&go).await;
            }
            a1.close(&go);
        });
        let (b1, b2) = (c1.clone(), c2.clone());
        go.go("main.main.func2", move |go| async move {
            while b1.recv(&go).await.is_some() {
                b2.send(&go, 1).await;
            }
        });
        go.sleep(ms(5)).await;
        for _ in 0..7 {
            let t0 = go.now();
            go.gosched().await;
            w.borrow_mut()
                .push(go.now().saturating_since(t0).as_nanos() as f64 / 1e6);
        }
        stop.set(true);
    });
    let mut v = waits.borrow().clone();
    v.sort_by(f64::total_cmp);
    let mut out = Output::default();
    out.put(
        "wait_ms",
        v.get(3).map_or("never".into(), |w| format!("{w:.1}")),
    );
    out.put("resumed", v.len() == 7);
    out
}
