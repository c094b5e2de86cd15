//! `costream conformance`: each Go program on the model against real Go, recorded or fresh
//! (`--real`).

/// Prints the comparison table; returns the number of disagreements.
pub(crate) fn conformance_cmd(
    only: Option<&str>,
    dir: Option<&str>,
    real: Option<usize>,
    record: bool,
) -> Result<usize, String> {
    use costream_model::conformance::{render, run_suite, Arm};
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
    Ok(run.disagreements() + run.errors.len())
}
