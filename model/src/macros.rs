//! `select!`: a Go `select` statement that reads like one.
//!
//! ```
//! # use costream_model::{select, Go, RunLimits, RuntimeConfig, Sim, SimDuration};
//! let sim = Sim::new(1, RunLimits::for_duration(SimDuration::from_secs(1)));
//! let host = sim.add_runtime(RuntimeConfig::default());
//! sim.main(host, |go| async move {
//!     let (data, quit) = (go.make_chan::<u32>(1), go.make_chan::<()>(0));
//!     data.send(&go, 7).await;
//!     let got = select! { go,
//!         v = recv(data) => v,           // `v = <-data`: Some(v), or None once closed
//!         recv(quit) => None,
//!         send(data, 8) => Some(8),
//!     };
//!     assert_eq!(got, Some(7));
//!     let idle = select! { go,
//!         recv(quit) => false,
//!         default => true,
//!     };
//!     assert!(idle);
//! });
//! sim.run();
//! ```
//!
//! Each case is `pattern = recv(ch) => expr`, `recv(ch) => expr` or `send(ch, value) => expr`,
//! with at most one `default => expr` (it makes the select non-blocking, as in Go); the arms'
//! values are the `select!`'s value. It expands to [`crate::RecvCase`]s and
//! [`crate::SendCase`]s passed to `Go::select` (or `Go::select_default`), so it is `selectgo`
//! underneath, with Go's random poll order. At most 16 cases.

/// A Go `select` statement; see the [module docs](crate::macros) for its cases.
#[macro_export]
macro_rules! select {
    ($go:expr, $($cases:tt)+) => {
        $crate::__select!(@parse $go; []; [];
            [__c0 __c1 __c2 __c3 __c4 __c5 __c6 __c7 __c8 __c9 __c10 __c11 __c12 __c13 __c14 __c15];
            0usize; $($cases)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select {
    // `recv(ch) => body`
    (@parse $go:expr; [$($acc:tt)*]; [$($def:tt)*]; [$n:ident $($ns:ident)*]; $i:expr;
        recv($ch:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select!(@parse $go; [$($acc)* (recv $n ($i) (_) ($ch) ($body))]; [$($def)*];
            [$($ns)*]; $i + 1usize; $($($rest)*)?)
    };
    // `send(ch, value) => body`
    (@parse $go:expr; [$($acc:tt)*]; [$($def:tt)*]; [$n:ident $($ns:ident)*]; $i:expr;
        send($ch:expr, $val:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select!(@parse $go; [$($acc)* (send $n ($i) ($ch) ($val) ($body))];
            [$($def)*]; [$($ns)*]; $i + 1usize; $($($rest)*)?)
    };
    // `default => body`
    (@parse $go:expr; [$($acc:tt)*]; []; [$($ns:ident)*]; $i:expr;
        default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select!(@parse $go; [$($acc)*]; [($body)]; [$($ns)*]; $i; $($($rest)*)?)
    };
    (@parse $go:expr; [$($acc:tt)*]; [$($def:tt)+]; [$($ns:ident)*]; $i:expr;
        default => $($rest:tt)*) => {
        compile_error!("a select has at most one default case")
    };
    // `pattern = recv(ch) => body` (after the rules that start with a keyword: a `pat`
    // fragment that fails to parse does not fall through to the next rule)
    (@parse $go:expr; [$($acc:tt)*]; [$($def:tt)*]; [$n:ident $($ns:ident)*]; $i:expr;
        $v:pat = recv($ch:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select!(@parse $go; [$($acc)* (recv $n ($i) ($v) ($ch) ($body))]; [$($def)*];
            [$($ns)*]; $i + 1usize; $($($rest)*)?)
    };
    (@parse $go:expr; [$($acc:tt)*]; [$($def:tt)*]; []; $i:expr; $($rest:tt)+) => {
        compile_error!("select! takes at most 16 cases")
    };
    // All parsed: build the cases, run `selectgo`, and take the chosen arm.
    (@parse $go:expr; [$($case:tt)+]; [$($def:tt)*]; [$($ns:ident)*]; $i:expr;) => {{
        $($crate::__select!(@new $case);)+
        $crate::__select!(@run $go; [$($case)+]; [$($def)*])
    }};
    (@new (recv $n:ident ($i:expr) ($v:pat) ($ch:expr) ($body:expr))) => {
        let mut $n = $crate::RecvCase::new(&$ch);
    };
    (@new (send $n:ident ($i:expr) ($ch:expr) ($val:expr) ($body:expr))) => {
        let mut $n = $crate::SendCase::new(&$ch, $val);
    };
    (@run $go:expr; [$($case:tt)+]; []) => {{
        let __chosen: usize = $go.select(&mut [$($crate::__select!(@ref $case)),+]).await;
        $crate::__select!(@arms __chosen; $($case)+)
    }};
    (@run $go:expr; [$($case:tt)+]; [($def:expr)]) => {{
        match $go.select_default(&mut [$($crate::__select!(@ref $case)),+]).await {
            Some(__chosen) => $crate::__select!(@arms __chosen; $($case)+),
            None => $def,
        }
    }};
    (@ref (recv $n:ident $($x:tt)*)) => { &mut $n as &mut dyn $crate::SelectCase };
    (@ref (send $n:ident $($x:tt)*)) => { &mut $n as &mut dyn $crate::SelectCase };
    (@arms $c:ident; (recv $n:ident ($i:expr) ($v:pat) ($ch:expr) ($body:expr)) $($more:tt)*) => {
        if $c == $i {
            let $v = $n.take();
            $body
        } else {
            $crate::__select!(@arms $c; $($more)*)
        }
    };
    (@arms $c:ident; (send $n:ident ($i:expr) ($ch:expr) ($val:expr) ($body:expr)) $($more:tt)*) => {
        if $c == $i {
            $body
        } else {
            $crate::__select!(@arms $c; $($more)*)
        }
    };
    (@arms $c:ident;) => {
        unreachable!("selectgo chose a case the select does not have")
    };
}
