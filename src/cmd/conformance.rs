//! `costream conformance`: each Go program on the model against real Go, recorded or fresh
//! (`--real`).

/// Prints the comparison table; returns the number of disagreements (of exact keys only,
/// with `exact_only`) plus programs that could not run.
pub(crate) fn conformance_cmd(
    only: Option<&str>,
    dir: Option<&str>,
    real: Option<usize>,
    record: bool,
    exact_only: bool,
) -> Result<usize, String> {
    use costream_model::conformance::{render, run_suite, Arm, Check, Verdict};
    let arm = match real {
        Some(repeat) => Arm::Real { repeat },
        None => Arm::Recorded,
    };
    let run = run_suite(only, dir.map(std::path::Path::new), arm, record, |m| {
        eprintln!("· {m}")
    })?;
    print!("{}", render(&run.rows, &run.go_label));
    for e in &run.errors {
        eprintln!("error: {e}");
    }
    let failing = if exact_only {
        let timing = run
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Disagree && r.check != Check::Exact)
            .count();
        if timing > 0 {
            eprintln!(
                "note: {timing} timing key(s) disagree on this machine (printed above, not failed \
                 on: --exact-only)"
            );
        }
        run.disagreements() - timing
    } else {
        run.disagreements()
    };
    Ok(failing + run.errors.len())
}
