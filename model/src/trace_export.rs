//! Export a run as a Chrome trace-event JSON file, which Perfetto (ui.perfetto.dev) and
//! chrome://tracing open: per host a process, per P a track with a slice for every goroutine
//! run (from `GoStart` to the event that stops it), a GC track with each cycle, and flow arrows
//! from the goroutine that readied another (`GoUnblock`) to that goroutine's next run.
//!
//! It reads the run's event log, so the run must keep one (`EventLog::All` in its `SimOptions`;
//! `costream run FILE --trace out.json` does this).

use crate::goruntime::trace::TraceEv;
use crate::world::Sim;
use std::collections::BTreeMap;

/// The GC track's thread id (Ps use their index).
pub const GC_TID: u64 = 10_000;
/// The track of stop-the-world pauses and stalls.
pub const STW_TID: u64 = 10_001;

fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The trace as JSON text. `None` if the run kept no event log.
pub fn chrome_trace(sim: &Sim) -> Option<String> {
    let mut out = Vec::new();
    match write_chrome_trace(sim, &mut out) {
        Ok(true) => Some(String::from_utf8(out).expect("the trace is UTF-8")),
        _ => None,
    }
}

/// Writes the trace to `w` as it is made, so that a large trace is never held as text in
/// memory beside the event log. `Ok(false)` if the run kept no event log.
pub fn write_chrome_trace(sim: &Sim, w: &mut dyn std::io::Write) -> std::io::Result<bool> {
    sim.with_events(|log| {
        if log.is_empty() {
            return Ok(false);
        }
        trace_of(sim, log, w)?;
        Ok(true)
    })
}

fn trace_of(sim: &Sim, log: &[[u64; 4]], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let names = sim.goroutine_names();
    w.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")?;
    let mut first = true;
    // The first write error; later writes are skipped and it is returned at the end.
    let mut failed: Option<std::io::Error> = None;
    let mut push = |s: String| {
        if failed.is_some() {
            return;
        }
        let sep: &[u8] = if first { b"" } else { b",\n" };
        first = false;
        if let Err(e) = w.write_all(sep).and_then(|()| w.write_all(s.as_bytes())) {
            failed = Some(e);
        }
    };
    // Open runs: (host, goid) → (P, start ns); the goroutine running on each (host, P).
    let mut running: BTreeMap<(u64, u64), (u64, u64)> = BTreeMap::new();
    let mut on_p: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut pending_flow: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut tracks: BTreeMap<(u64, u64), ()> = BTreeMap::new();
    let mut gc_start: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut flow_id = 0u64;
    let mut end_ns = 0u64;
    let name_of = |host: u64, goid: u64| -> String {
        names
            .get(&(host as u32, goid))
            .map_or_else(|| format!("goroutine {goid}"), |n| n.to_string())
    };
    let close = |push: &mut dyn FnMut(String),
                 running: &mut BTreeMap<(u64, u64), (u64, u64)>,
                 on_p: &mut BTreeMap<(u64, u64), u64>,
                 host: u64,
                 goid: u64,
                 at: u64,
                 why: &str| {
        if let Some((p, start)) = running.remove(&(host, goid)) {
            on_p.remove(&(host, p));
            push(format!(
                "{{\"name\":\"{}\",\"cat\":\"goroutine\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{host},\"tid\":{p},\"args\":{{\"goid\":{goid},\"end\":\"{why}\"}}}}",
                esc(&name_of(host, goid)),
                us(start),
                us(at.saturating_sub(start))
            ));
        }
    };
    for &[at, kind, a, b] in log {
        end_ns = end_ns.max(at);
        let (host, ev) = (kind >> 8, (kind & 0xff) as u8);
        let (name, _) = TraceEv::describe(ev);
        match name {
            "GoStart" => {
                let (goid, p) = (a, b);
                tracks.insert((host, p), ());
                // A P starts a goroutine only after the previous one stopped.
                if let Some(prev) = on_p.get(&(host, p)).copied() {
                    close(
                        &mut push,
                        &mut running,
                        &mut on_p,
                        host,
                        prev,
                        at,
                        "switched",
                    );
                }
                running.insert((host, goid), (p, at));
                on_p.insert((host, p), goid);
                if let Some(id) = pending_flow.remove(&(host, goid)) {
                    push(format!(
                        "{{\"name\":\"ready\",\"cat\":\"flow\",\"ph\":\"f\",\"bp\":\"e\",\"id\":{id},\"ts\":{},\"pid\":{host},\"tid\":{p}}}",
                        us(at)
                    ));
                }
            }
            "GoBlock" | "GoSched" | "GoPreempt" | "GoEnd" => {
                close(&mut push, &mut running, &mut on_p, host, a, at, name);
            }
            // Readied by whatever runs on P b now: an arrow to the woken goroutine's next run.
            "GoUnblock"
                if b != u64::MAX
                    && on_p.contains_key(&(host, b))
                    && !pending_flow.contains_key(&(host, a)) =>
            {
                flow_id += 1;
                pending_flow.insert((host, a), flow_id);
                push(format!(
                    "{{\"name\":\"ready\",\"cat\":\"flow\",\"ph\":\"s\",\"id\":{flow_id},\"ts\":{},\"pid\":{host},\"tid\":{b}}}",
                    us(at)
                ));
            }
            "GCBegin" => {
                gc_start.insert(host, (a, at));
            }
            "GCEnd" => {
                if let Some((cycle, start)) = gc_start.remove(&host) {
                    push(format!(
                        "{{\"name\":\"GC cycle {cycle}\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{host},\"tid\":{GC_TID},\"args\":{{\"heap_marked\":{b}}}}}",
                        us(start),
                        us(at.saturating_sub(start))
                    ));
                }
            }
            _ => {}
        }
    }
    // Runs still open at the end, and flows that never landed, are closed at the last event.
    let open: Vec<(u64, u64)> = running.keys().copied().collect();
    for (host, goid) in open {
        close(
            &mut push,
            &mut running,
            &mut on_p,
            host,
            goid,
            end_ns,
            "run ended",
        );
    }
    for ((host, _), id) in pending_flow {
        push(format!(
            "{{\"name\":\"ready\",\"cat\":\"flow\",\"ph\":\"f\",\"bp\":\"e\",\"id\":{id},\"ts\":{},\"pid\":{host},\"tid\":{GC_TID}}}",
            us(end_ns)
        ));
    }
    // Every stop of the world (GC phases, host stalls, cgroup throttling, GOMAXPROCS).
    for (host, freezes) in sim.freezes() {
        for (at, d, cause) in freezes {
            push(format!(
                "{{\"name\":\"{cause:?}\",\"cat\":\"stw\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{host},\"tid\":{STW_TID}}}",
                us(at.as_nanos()),
                us(d.as_nanos())
            ));
        }
    }
    let hosts: Vec<u64> = tracks.keys().map(|k| k.0).collect();
    for ((host, p), ()) in &tracks {
        push(format!(
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{host},\"tid\":{p},\"args\":{{\"name\":\"P{p}\"}}}}"
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for host in hosts {
        if seen.insert(host) {
            push(format!(
                "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{host},\"args\":{{\"name\":\"host {host} (Go runtime)\"}}}}"
            ));
            push(format!(
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{host},\"tid\":{GC_TID},\"args\":{{\"name\":\"GC\"}}}}"
            ));
            push(format!(
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{host},\"tid\":{STW_TID},\"args\":{{\"name\":\"stop-the-world and stalls\"}}}}"
            ));
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    w.write_all(b"\n]}\n")
}
