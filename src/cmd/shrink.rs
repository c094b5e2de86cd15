//! `costream shrink`: the smallest scenario whose replay still violates its condition.

use super::*;

pub(crate) fn shrink_cmd(
    workloads: &Registry,
    file: &str,
    out: Option<String>,
    max_runs: usize,
    max_memory: Option<&str>,
) -> Result<(), String> {
    let r = read_replay(workloads, file)?;
    let path = out.unwrap_or_else(|| shrunk_path(file, r.seed));
    costream_model::explore::check_writable(&path, "shrunk replay file")?;
    let sc = costream_model::explore::load_one(workloads, &r.source, &r.scenario, &r.sets)?;
    admit_jobs(file, &[], &sc, false, 1, max_memory)?;
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (small, steps) =
        costream_model::shrink::shrink(workloads, file, &r, max_runs, |runs, kept| {
            if bar {
                eprint!("\rshrinking: {runs} runs, {kept} edits kept");
            }
        })?;
    if bar {
        eprint!("\r{:50}\r", "");
    }
    let c = small
        .condition
        .as_ref()
        .expect("shrink keeps the condition");
    println!(
        "shrunk seed {} of {}: {} edits kept; `{c}` still holds ({} = {:.3}); {} → {} events",
        r.seed,
        r.source,
        steps.len(),
        c.metric,
        small.value.unwrap_or(f64::NAN),
        r.events,
        small.events
    );
    for s in &steps {
        println!("  {}  ({} = {:.3})", s.edit, c.metric, s.value);
    }
    std::fs::write(&path, small.to_toml())
        .map_err(|e| format!("{path}: cannot write the replay file: {e}"))?;
    println!("saved {path}\n  replay: {} replay {path}", bin());
    Ok(())
}

/// `costream-shrunk-seed<N>.toml` beside `file`: a name the documented
/// `costream replay costream-replay-seed*.toml` does not also match.
pub(crate) fn shrunk_path(file: &str, seed: u64) -> String {
    let p = std::path::Path::new(file);
    let mut out = p.with_file_name(format!("costream-shrunk-seed{seed}.toml"));
    if out == p {
        // Shrinking a shrunk file again keeps the first.
        out = p.with_file_name(format!("costream-shrunk-seed{seed}-2.toml"));
    }
    out.to_string_lossy().into_owned()
}
