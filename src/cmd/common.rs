//! What the subcommands share: reading files, checking output paths before work, the memory
//! admission, writing traces and HTML reports.

use super::*;

pub(crate) fn read(file: &str) -> Result<String, String> {
    if file == "quickstart" {
        return Ok(scenario::QUICKSTART.to_string());
    }
    std::fs::read_to_string(file).map_err(|e| {
        format!("{file}: cannot read the scenario file: {e}\n  hint: check the path, or run `costream run quickstart` for the built-in one")
    })
}

/// `path` for variant `i` of `n`: `out.json` becomes `out-2.json` when there are several.
pub(crate) fn variant_path(path: &str, i: usize, n: usize) -> String {
    if n > 1 {
        let (stem, ext) = path.rsplit_once('.').unwrap_or((path, "out"));
        format!("{stem}-{}.{ext}", i + 1)
    } else {
        path.to_string()
    }
}

/// `--jobs`, or every core.
pub(crate) fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(costream_model::parallel::cores)
}

/// Writes the Perfetto trace of a run that kept its events, as it is made.
pub(crate) fn write_trace(path: &str, ran: &workload::Ran) -> Result<(), String> {
    use std::io::Write as _;
    let err = |e: std::io::Error| format!("{path}: cannot write the trace: {e}");
    let file = std::fs::File::create(path).map_err(err)?;
    let mut w = std::io::BufWriter::new(file);
    if !costream_model::trace_export::write_chrome_trace(&ran.sim, &mut w).map_err(err)? {
        w.write_all(b"{\"traceEvents\":[]}\n").map_err(err)?;
    }
    w.flush().map_err(err)?;
    eprintln!("trace written to {path} (open it in https://ui.perfetto.dev)");
    Ok(())
}

/// Fails at once, before any work, when `path` cannot be written: its folder is missing, it
/// is a folder, or it cannot be created. `what` names the flag ("--trace").
pub(crate) fn check_output(what: &str, path: &str) -> Result<(), String> {
    let p = std::path::Path::new(path);
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{what} {path}: the folder {} does not exist\n  hint: create it first, or write the file elsewhere",
            dir.display()
        ));
    }
    if p.is_dir() {
        return Err(format!(
            "{what} {path}: is a folder\n  hint: give a file name, e.g. {}",
            p.join("out").display()
        ));
    }
    let existed = p.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .map_err(|e| {
            format!("{what} {path}: cannot be written: {e}\n  hint: write the file elsewhere")
        })?;
    if !existed {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// `--max-memory`, or the memory this machine has available.
pub(crate) fn memory_limit(
    max_memory: Option<&str>,
) -> Result<costream_model::budget::Limit, String> {
    let flag = match max_memory {
        Some(s) => Some(scenario::parse_bytes(s).map_err(|e| {
            format!("--max-memory {s}: {e}\n  hint: write a size such as 64GiB or 512MiB")
        })?),
        None => None,
    };
    Ok(costream_model::budget::Limit::new(flag))
}

/// Refuses runs of `sc` that cannot fit in memory; returns how many of `jobs` may run at once,
/// saying so when that is fewer.
pub(crate) fn admit_jobs(
    file: &str,
    sets: &[String],
    sc: &scenario::Scenario,
    traced: bool,
    jobs: usize,
    max_memory: Option<&str>,
) -> Result<usize, String> {
    let origin = if sets.is_empty() {
        file.to_string()
    } else {
        format!("{file} (with --set)")
    };
    let limit = memory_limit(max_memory)?;
    let fit = costream_model::budget::admit(&origin, sc, traced, jobs, limit)?;
    if fit < jobs {
        eprintln!(
            "note: {origin}: each run needs about {}, so {fit} of {jobs} threads run at once",
            costream_model::budget::human(costream_model::budget::estimate(sc, traced).total())
        );
    }
    Ok(fit)
}

/// A trace larger than this is announced before the run starts.
pub(crate) const LARGE_TRACE: u64 = 1 << 30;

pub(crate) fn write_html(
    path: &str,
    sc: &scenario::Scenario,
    seed: u64,
    label: &str,
    ran: &workload::Ran,
) -> Result<(), String> {
    std::fs::write(
        path,
        costream_model::html::html_report(sc, seed, label, ran),
    )
    .map_err(|e| format!("{path}: cannot write the HTML report: {e}"))?;
    eprintln!("HTML report written to {path}");
    Ok(())
}

/// The name this command line was started as (`costream`, or a user's binary built on
/// [`crate::main_with`], such as `custom-sfu`), for the commands its hints suggest.
pub(crate) fn bin() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .map_or_else(|| "costream".to_string(), str::to_string)
}
