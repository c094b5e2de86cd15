//! `costream replay`: re-run a replay file exactly, checking every digest checkpoint; `--record`
//! writes it anew.

use super::*;

pub(crate) fn replay_cmd(
    workloads: &Registry,
    file: &str,
    events: usize,
    html: Option<&str>,
    trace: Option<&str>,
    record: Option<&str>,
    max_memory: Option<&str>,
) -> Result<(), String> {
    use costream_model::explore::{load_one, measure};
    if let Some(out) = record {
        return record_cmd(workloads, file, out);
    }
    let r = read_replay(workloads, file)?;
    for (flag, path) in [("--trace", trace), ("--html", html)] {
        if let Some(p) = path {
            check_output(flag, p)?;
        }
    }
    let sc = load_one(workloads, &r.source, &r.scenario, &r.sets)?;
    admit_jobs(file, &[], &sc, trace.is_some(), 1, max_memory)?;
    let log = if trace.is_some() {
        EventLog::All
    } else {
        EventLog::Last(events)
    };
    let ran = r.replay(workloads, file, log)?;
    if let Some(path) = trace {
        write_trace(path, &ran)?;
    }
    if let Some(path) = html {
        let sc = load_one(workloads, &r.source, &r.scenario, &r.sets)?;
        write_html(path, &sc, r.seed, &format!("replay of {file}"), &ran)?;
    }
    println!(
        "replayed seed {} of {} identically: {} events, digest {}, {} checkpoints every {} ms agree",
        r.seed,
        r.source,
        r.events,
        r.digest,
        r.checkpoints.len(),
        r.checkpoint_every_ms
    );
    if let Some(c) = &r.condition {
        let v = measure(&ran).get(c.metric.as_str()).copied();
        println!(
            "  {} = {} (recorded {}; condition `{c}` {})",
            c.metric,
            v.map_or("-".into(), |v| format!("{v:.3}")),
            r.value.map_or("-".into(), |v| format!("{v:.3}")),
            if v.is_some_and(|v| c.holds(v)) {
                "holds"
            } else {
                "does not hold"
            }
        );
    }
    let last = ran.sim.last_events(events);
    println!("  last {} events:", last.len());
    for e in last {
        println!("    {e}");
    }
    Ok(())
}

/// `costream replay FILE --record OUT`: the file's scenario and seed recorded again with this
/// build (the file may have been edited; its version must still be this one).
pub(crate) fn record_cmd(workloads: &Registry, file: &str, out: &str) -> Result<(), String> {
    use costream_model::explore::{check_writable, Replay};
    let text = read_replay_text(file)?;
    let old = Replay::parse_edited(workloads, file, &text)?;
    check_writable(out, "replay file")?;
    let (new, value) = old.record_again(workloads)?;
    std::fs::write(out, new.to_toml())
        .map_err(|e| format!("{out}: cannot write the replay file: {e}"))?;
    println!(
        "recorded seed {} of {} again with this build into {out}: {} events, digest {} (the file had {} events, digest {})",
        new.seed, new.source, new.events, new.digest, old.events, old.digest
    );
    if let Some(c) = &new.condition {
        println!(
            "  {} = {} (condition `{c}` {})",
            c.metric,
            value.map_or("-".into(), |v| format!("{v:.3}")),
            if value.is_some_and(|v| c.holds(v)) {
                "holds"
            } else {
                "does not hold"
            }
        );
    }
    println!("  replay: {} replay {out}", bin());
    Ok(())
}

pub(crate) fn read_replay(
    workloads: &Registry,
    file: &str,
) -> Result<costream_model::explore::Replay, String> {
    costream_model::explore::Replay::parse(workloads, file, &read_replay_text(file)?)
}

pub(crate) fn read_replay_text(file: &str) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| {
        format!("{file}: cannot read the replay file: {e}\n  hint: replay files are written by `costream explore` (costream-replay-seed<N>.toml) and `costream shrink` (costream-shrunk-seed<N>.toml)")
    })
}
