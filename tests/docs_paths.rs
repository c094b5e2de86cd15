//! Every repository file the README, docs/ and the code's comments name exists: a doc that
//! cites `model/src/world.rs` or `tests/fuzz.rs` sends a reader to a real file.

use std::path::{Path, PathBuf};

const ROOTS: [&str; 12] = [
    "model/",
    "sim/",
    "src/",
    "tests/",
    "scenarios/",
    "docs/",
    "conformance/",
    "benches/",
    "madsim-bridge/",
    "bench-madsim/",
    ".ci/",
    "examples/",
];

/// Repository paths in `text`: a known top folder, then path characters, ending in a file
/// extension. Globs and placeholders (`*`, `<N>`) are not files and are skipped.
fn cited(text: &str) -> Vec<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut out = Vec::new();
    for root in ROOTS {
        for (i, _) in text.match_indices(root) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| ok(c) || c == '<' || c == '*') {
                continue; // inside a longer path or a placeholder
            }
            let rest = &text[i..];
            let end = rest.find(|c: char| !ok(c)).unwrap_or(rest.len());
            let after = rest[end..].chars().next();
            if after.is_some_and(|c| c == '*' || c == '<' || c == '{') {
                continue;
            }
            let p = rest[..end].trim_end_matches(['.', '-']);
            let file = p.rsplit('/').next().unwrap_or("");
            if file.contains('.') && !file.starts_with('.') {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// Every crate's sources.
const SOURCES: [&str; 7] = [
    "src",
    "model/src",
    "sim/src",
    "media/src",
    "net/src",
    "madsim-bridge/src",
    "examples/custom-sfu/src",
];

/// The files with one of `exts` under the folders `dirs` of `root`, at any depth.
fn files_under(root: &Path, dirs: &[&str], exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| root.join(d)).collect();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("a folder") {
            let p = e.expect("an entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn the_docs_cite_only_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md")];
    docs.extend(files_under(root, &["docs"], &["md"]));
    // Comments in the code cite files too.
    docs.extend(files_under(root, &SOURCES, &["rs"]));
    docs.extend(files_under(root, &["tests", "benches"], &["rs"]));
    docs.sort();
    let mut missing = Vec::new();
    for d in &docs {
        let text = std::fs::read_to_string(d).expect("readable doc");
        let text = if d.extension().is_some_and(|x| x == "rs") {
            // Only comments: string literals hold test inputs, not citations.
            text.lines()
                .filter_map(|l| l.trim_start().strip_prefix("//"))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            text
        };
        for p in cited(&text) {
            // Outputs the docs tell people to write are not in the repository; Go's own
            // sources (`src/runtime/mgc.go`) are golang/go's; `NAME` is a placeholder.
            let placeholder = p
                .split('/')
                .any(|seg| seg.len() > 1 && seg.bytes().all(|b| b.is_ascii_uppercase()));
            if p.starts_with("target/")
                || p.ends_with(".jsonl")
                || p.ends_with(".html")
                || (p.starts_with("src/") && p.ends_with(".go"))
                || placeholder
            {
                continue;
            }
            if !root.join(&p).exists() {
                missing.push(format!("{}: {p}", d.strip_prefix(root).unwrap().display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the docs cite files the repository does not contain:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn paths_are_found_in_prose() {
    let t = "see `model/src/world.rs`, tests/fuzz.rs. and costream-replay-seed*.toml, \
             scenarios/*.toml, docs/<name>.md or xmodel/src/a.rs";
    assert_eq!(cited(t), ["model/src/world.rs", "tests/fuzz.rs"]);
}

/// The article's chapters are "§2.5", never "seed 2.5": readers take a seed for an RNG seed.
#[test]
fn chapters_of_the_article_are_sections_not_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    files.extend(files_under(
        root,
        &["docs", "scenarios"],
        &["rs", "md", "toml"],
    ));
    files.extend(files_under(root, &SOURCES, &["rs", "md", "toml"]));
    files.sort();
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let l = line.to_lowercase();
            let chapter = l.match_indices("seed ").any(|(i, _)| {
                let rest = &l.as_bytes()[i + 5..];
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                digits > 0
                    && rest.get(digits) == Some(&b'.')
                    && rest.get(digits + 1).is_some_and(|b| b.is_ascii_digit())
            });
            if chapter || l.contains("seed chapter") {
                found.push(format!(
                    "{}:{}: {}",
                    f.strip_prefix(root).unwrap().display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the article's chapters are cited as seeds (write §N.N):\n  {}",
        found.join("\n  ")
    );
}
