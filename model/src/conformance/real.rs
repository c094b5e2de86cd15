//! The real arm: builds a program with the `go` toolchain and runs it with its GOMAXPROCS.

use super::{Output, Program};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A program that runs longer than this is killed: its row says so instead of hanging CI.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The `go` toolchain: `$GO`, else `go` on the PATH, if it answers `go version`.
pub fn toolchain() -> Option<(PathBuf, String)> {
    let go = std::env::var_os("GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("go"));
    let out = Command::new(&go).arg("version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v = String::from_utf8_lossy(&out.stdout);
    // "go version go1.19.8 linux/amd64" → "go1.19.8"
    let version = v.split_whitespace().nth(2).unwrap_or("go").to_string();
    Some((go, version))
}

/// `conformance/go` of this repository: `dir` if given, else the one next to the sources.
pub fn programs_dir(dir: Option<&Path>) -> PathBuf {
    dir.map(Path::to_path_buf).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("conformance")
            .join("go")
    })
}

/// Builds `p` into `work` and runs it; the output includes the crash keys if it died.
pub fn run(go: &Path, dir: &Path, work: &Path, p: &Program) -> Result<Output, String> {
    let src = dir.join(p.name).join("main.go");
    if !src.exists() {
        return Err(format!(
            "{}: no such program (is --dir the conformance/go folder?)",
            src.display()
        ));
    }
    let bin = work.join(p.name);
    let mut build = Command::new(go);
    build.arg("build").arg("-o").arg(&bin).arg(&src);
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        build.env("GOCACHE", work.join("gocache"));
    }
    let built = build
        .output()
        .map_err(|e| format!("{}: cannot run go build: {e}", src.display()))?;
    if !built.status.success() {
        return Err(format!(
            "{}: go build failed:\n{}",
            src.display(),
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    let mut child = Command::new(&bin)
        .env("GOMAXPROCS", p.gomaxprocs.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: cannot start: {e}", bin.display()))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                return Err(format!(
                    "{}: still running after {} s, killed",
                    p.name,
                    RUN_LIMIT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{}: {e}", p.name)),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", p.name))?;
    let mut o = Output::parse(&String::from_utf8_lossy(&out.stdout));
    let code = out.status.code().unwrap_or(-1);
    if code != 0 {
        o.crash(code, &String::from_utf8_lossy(&out.stderr));
    }
    Ok(o)
}

/// The text of a `go.out` file: the toolchain, then the output.
pub fn record_text(version: &str, o: &Output) -> String {
    let mut s = format!("# {version}\n");
    for (k, v) in &o.0 {
        s.push_str(&format!("{k}={v}\n"));
    }
    s
}

/// The toolchain a recorded output names in its first line.
pub fn recorded_version(recorded: &str) -> &str {
    recorded
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .unwrap_or("recorded")
}
