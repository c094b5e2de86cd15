//! Model arms of the channel programs: FIFO service, close, select fairness, deadlock.

use super::{crash_of, main, ms, Output};
use crate::goruntime::GoVersion;
use crate::goruntime::{Chan, RecvCase, WaitGroup};
use crate::Go;
use std::cell::RefCell;
use std::rc::Rc;

/// `conformance/go/fifo`.
pub(super) fn fifo(v: GoVersion) -> Output {
    let out = Rc::new(RefCell::new(Output::default()));
    let o = out.clone();
    main(v, 2, move |go: Go| async move {
        let c = go.make_chan::<u32>(0);
        for i in 0..5 {
            let c = c.clone();
            go.go("main.main.func1", move |go| async move {
                c.send(&go, i).await;
            });
            go.sleep(ms(2)).await;
        }
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(c.recv(&go).await.expect("open").to_string());
        }
        o.borrow_mut().put("senders", got.join(" "));
        let pairs = Rc::new(RefCell::new(vec![String::new(); 5]));
        let wg = WaitGroup::new();
        for i in 0..5 {
            wg.add(&go, 1);
            let (c, pairs, wg) = (c.clone(), pairs.clone(), wg.clone());
            go.go("main.main.func2", move |go| async move {
                let v = c.recv(&go).await.expect("open");
                pairs.borrow_mut()[i] = format!("{i}:{v}");
                wg.done(&go);
            });
            go.sleep(ms(2)).await;
        }
        for v in 100..105 {
            c.send(&go, v).await;
        }
        wg.wait(&go).await;
        o.borrow_mut().put("receivers", pairs.borrow().join(" "));
    });
    out.take()
}

/// The panic a program dies of, as `recover` would return it.
fn panic_of(
    v: GoVersion,
    body: impl FnOnce(Go) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + 'static,
) -> String {
    crash_of(v, 2, body)
        .get("panic")
        .unwrap_or("no panic")
        .to_string()
}

/// `conformance/go/close`. The model has no `recover`, so each panic is its own run.
pub(super) fn close(v: GoVersion) -> Output {
    let out = Rc::new(RefCell::new(Output::default()));
    let o = out.clone();
    main(v, 2, move |go: Go| async move {
        let b = go.make_chan::<u32>(3);
        b.send(&go, 1).await;
        b.send(&go, 2).await;
        b.close(&go);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(match b.recv(&go).await {
                Some(v) => format!("{v}/true"),
                None => "0/false".to_string(),
            });
        }
        o.borrow_mut().put("drain", got.join(" "));
        let c = go.make_chan::<u32>(0);
        let woken = Rc::new(std::cell::Cell::new(0));
        let wg = WaitGroup::new();
        for _ in 0..3 {
            wg.add(&go, 1);
            let (c, woken, wg) = (c.clone(), woken.clone(), wg.clone());
            go.go("main.main.func2", move |go| async move {
                if c.recv(&go).await.is_none() {
                    woken.set(woken.get() + 1);
                }
                wg.done(&go);
            });
        }
        go.sleep(ms(2)).await;
        c.close(&go);
        wg.wait(&go).await;
        o.borrow_mut().put("receivers_woken", woken.get());
    });
    let mut out = out.take();
    out.put(
        "blocked_sender",
        panic_of(v, |go| {
            Box::pin(async move {
                let s = go.make_chan::<u32>(0);
                let s2 = s.clone();
                go.go("main.main.func3", move |go| async move {
                    s2.send(&go, 1).await;
                });
                go.sleep(ms(2)).await;
                s.close(&go);
                go.sleep(ms(2)).await;
            })
        }),
    );
    out.put(
        "send_on_closed",
        panic_of(v, |go| {
            Box::pin(async move {
                let s = go.make_chan::<u32>(0);
                s.close(&go);
                s.send(&go, 1).await;
            })
        }),
    );
    out.put(
        "close_closed",
        panic_of(v, |go| {
            Box::pin(async move {
                let s = go.make_chan::<u32>(0);
                s.close(&go);
                s.close(&go);
            })
        }),
    );
    out.put(
        "close_nil",
        panic_of(v, |go| {
            Box::pin(async move {
                Chan::<u32>::nil().close(&go);
            })
        }),
    );
    out
}

/// `conformance/go/select_fairness`.
pub(super) fn select_fairness(v: GoVersion) -> Output {
    let count = Rc::new(RefCell::new([0u64; 3]));
    let c = count.clone();
    main(v, 2, move |go: Go| async move {
        let cs: Vec<Chan<u32>> = (0..3).map(|_| go.make_chan::<u32>(1)).collect();
        for ch in &cs {
            ch.send(&go, 0).await;
        }
        for _ in 0..30_000 {
            let mut r0 = RecvCase::new(&cs[0]);
            let mut r1 = RecvCase::new(&cs[1]);
            let mut r2 = RecvCase::new(&cs[2]);
            let i = go.select(&mut [&mut r0, &mut r1, &mut r2]).await;
            c.borrow_mut()[i] += 1;
            cs[i].send(&go, 0).await;
        }
    });
    let n = *count.borrow();
    let e = 30_000.0 / 3.0;
    let chi2: f64 = n.iter().map(|&k| (k as f64 - e).powi(2) / e).sum();
    let mut out = Output::default();
    out.put("counts", format!("{} {} {}", n[0], n[1], n[2]));
    out.put("chi2", format!("{chi2:.2}"));
    out.put("uniform", chi2 < 13.816);
    out
}

/// `conformance/go/deadlock`.
pub(super) fn deadlock(v: GoVersion) -> Output {
    crash_of(v, 2, |go: Go| async move {
        let c = go.make_chan::<u32>(0);
        go.go("main.main.func1", |go| async move {
            go.sleep(ms(30)).await;
        });
        c.recv(&go).await;
    })
}

/// `conformance/go/buffered_rotation`.
pub(super) fn buffered_rotation(v: GoVersion) -> Output {
    let out = Rc::new(RefCell::new(Output::default()));
    let o = out.clone();
    main(v, 2, move |go: Go| async move {
        let c = go.make_chan::<u32>(2);
        c.send(&go, 0).await;
        c.send(&go, 1).await;
        for i in 2..5 {
            let c = c.clone();
            go.go("main.main.func1", move |go| async move {
                c.send(&go, i).await;
            });
            go.sleep(ms(1)).await;
        }
        let (mut got, mut lens) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            lens.push(c.len().to_string());
            got.push(c.recv(&go).await.expect("open").to_string());
            go.sleep(ms(1)).await;
        }
        let mut o = o.borrow_mut();
        o.put("order", got.join(" "));
        o.put("len_before_each", lens.join(" "));
    });
    out.take()
}

/// `conformance/go/blocking_forever`: one simulation per case.
pub(super) fn blocking_forever(v: GoVersion) -> Output {
    type Case = fn(Go) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;
    let cases: [(&str, Case); 4] = [
        ("recv_nil", |go| {
            Box::pin(async move {
                Chan::<u32>::nil().recv(&go).await;
            })
        }),
        ("send_nil", |go| {
            Box::pin(async move {
                Chan::<u32>::nil().send(&go, 1).await;
            })
        }),
        ("select_empty", |go| {
            Box::pin(async move {
                go.block().await;
            })
        }),
        ("waitgroup", |go| {
            Box::pin(async move {
                let wg = WaitGroup::new();
                wg.add(&go, 1);
                wg.wait(&go).await;
            })
        }),
    ];
    let mut out = Output::default();
    for (name, body) in cases {
        let o = crash_of(v, 2, body);
        for key in ["exit", "fatal", "main_wait"] {
            let short = if key == "main_wait" { "wait" } else { key };
            out.put(&format!("{name}_{short}"), o.get(key).unwrap_or(""));
        }
    }
    out
}

/// `conformance/go/goroutine_panic`.
pub(super) fn goroutine_panic(v: GoVersion) -> Output {
    crash_of(v, 1, |go: Go| async move {
        let c = go.make_chan::<u32>(0);
        c.close(&go);
        go.go("main.main.func1", move |go| async move {
            c.close(&go);
        });
        go.sleep(ms(10)).await;
    })
}
