//! The model's fingerprint: a hash of the source that decides how a run goes (this crate's and
//! the kernel's sources, and the lock file that pins the random generators' crates). Replay
//! files record it, so a replay that diverges deterministically can say whether a different
//! build of the model recorded it.

use std::path::{Path, PathBuf};

/// FNV-1a, 64 bits: fixed and simple; the fingerprint only has to differ when the source does.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let sources = [here.join("src"), here.join("../sim/src")];
    let lock = here.join("../Cargo.lock");
    let mut all = Vec::new();
    for dir in &sources {
        println!("cargo:rerun-if-changed={}", dir.display());
        files(dir, &mut all);
    }
    println!("cargo:rerun-if-changed={}", lock.display());
    all.push(lock);
    // By path relative to the workspace, so the fingerprint does not depend on where it is
    // checked out.
    let root = here.parent().unwrap_or(&here).to_path_buf();
    let mut named: Vec<(String, PathBuf)> = all
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap_or(&p).to_string_lossy();
            (rel.replace('\\', "/"), p)
        })
        .collect();
    named.sort();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (rel, p) in &named {
        if let Ok(bytes) = std::fs::read(p) {
            fnv(&mut h, rel.as_bytes());
            fnv(&mut h, &(bytes.len() as u64).to_le_bytes());
            fnv(&mut h, &bytes);
        }
    }
    println!("cargo:rustc-env=COSTREAM_MODEL_FINGERPRINT={h:016x}");
}
