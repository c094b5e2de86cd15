//! Model arms of the timer programs: ticker drops, Stop/Reset/AfterFunc.

use super::{main, ms, Output};
use crate::goruntime::GoVersion;
use crate::Go;
use costream_sim::SimDuration;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

fn as_ms(d: SimDuration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// `conformance/go/ticker_drops`.
pub(super) fn ticker_drops(v: GoVersion) -> Output {
    let runs = Rc::new(RefCell::new(Vec::<(u32, f64)>::new()));
    let r = runs.clone();
    main(v, 2, move |go: Go| async move {
        for _ in 0..5 {
            let tk = go.new_ticker(ms(10));
            let start = go.now();
            let mut n = 0;
            let mut stale = Vec::new();
            while go.now().saturating_since(start) < SimDuration::from_secs(1) {
                let t = tk.c.recv(&go).await.expect("ticker channels stay open");
                stale.push(as_ms(go.now().saturating_since(t)));
                n += 1;
                go.sleep(ms(25)).await;
            }
            tk.stop(&go);
            stale.sort_by(f64::total_cmp);
            r.borrow_mut().push((n, stale[stale.len() / 2]));
        }
    });
    let mut ns: Vec<u32> = runs.borrow().iter().map(|r| r.0).collect();
    let mut st: Vec<f64> = runs.borrow().iter().map(|r| r.1).collect();
    ns.sort();
    st.sort_by(f64::total_cmp);
    let mut out = Output::default();
    out.put("received", ns[2]);
    out.put("stale_median_ms", format!("{:.1}", st[2]));
    out
}

/// `conformance/go/timer_stop_reset`.
pub(super) fn timer_stop_reset(v: GoVersion) -> Output {
    let out = Rc::new(RefCell::new(Output::default()));
    let o = out.clone();
    main(v, 2, move |go: Go| async move {
        let mut fired = Vec::new();
        let (mut stop1, mut reset, mut stop2, mut stale) = (false, false, false, false);
        for _ in 0..5 {
            let t = go.new_timer(ms(50));
            go.sleep(ms(10)).await;
            stop1 = t.stop(&go);
            let start = go.now();
            reset = t.reset(&go, ms(20));
            t.c.recv(&go).await;
            fired.push(as_ms(go.now().saturating_since(start)));
            stop2 = t.stop(&go);
            stale = matches!(t.c.try_recv(&go), Ok(Some(_)));
        }
        fired.sort_by(f64::total_cmp);
        {
            let mut o = o.borrow_mut();
            o.put("stop_pending", stop1);
            o.put("reset_stopped", reset);
            o.put("stop_after_receive", stop2);
            o.put("stale_value", stale);
            o.put("fired_ms", format!("{:.0}", fired[2]));
        }
        let done = go.make_chan::<u32>(10);
        let calls = Rc::new(Cell::new(0u32));
        let (d, c) = (done.clone(), calls.clone());
        go.after_func(ms(5), "main.main.func1", move |go| async move {
            c.set(c.get() + 1);
            d.send(&go, c.get()).await;
        });
        done.recv(&go).await;
        go.sleep(ms(20)).await;
        o.borrow_mut().put("afterfunc_calls", calls.get());
    });
    out.take()
}

/// `conformance/go/sleep_order`.
pub(super) fn sleep_order(v: GoVersion) -> Output {
    let order = Rc::new(RefCell::new(Vec::<String>::new()));
    let o = order.clone();
    main(v, 2, move |go: Go| async move {
        let wg = crate::goruntime::WaitGroup::new();
        for (i, d) in [30u64, 10, 20, 10, 5].into_iter().enumerate() {
            wg.add(&go, 1);
            let (o, wg) = (o.clone(), wg.clone());
            go.go("main.main.func1", move |go| async move {
                go.sleep(ms(d)).await;
                o.borrow_mut().push(i.to_string());
                wg.done(&go);
            });
            go.sleep(ms(1)).await;
        }
        wg.wait(&go).await;
    });
    let mut out = Output::default();
    out.put("order", order.borrow().join(" "));
    out
}

/// `conformance/go/select_timeout`.
pub(super) fn select_timeout(v: GoVersion) -> Output {
    let counts = Rc::new(Cell::new((0u32, 0u32)));
    let n = counts.clone();
    main(v, 2, move |go: Go| async move {
        let c = go.make_chan::<u32>(0);
        let tx = c.clone();
        go.go("main.main.func1", move |go| async move {
            for i in 0.. {
                go.sleep(ms(15)).await;
                tx.send(&go, i).await;
            }
        });
        let start = go.now();
        while go.now().saturating_since(start) < ms(300) {
            let after = go.after(ms(10));
            let mut rc = crate::goruntime::RecvCase::new(&c);
            let mut rt = crate::goruntime::RecvCase::new(&after);
            let (r, t) = n.get();
            match go.select(&mut [&mut rc, &mut rt]).await {
                0 => n.set((r + 1, t)),
                _ => n.set((r, t + 1)),
            }
        }
    });
    let (r, t) = counts.get();
    let mut out = Output::default();
    out.put("received", r);
    out.put("timeouts", t);
    out
}
