//! The model's top-level modules form layers: a module may use those below it, never one that
//! uses it back. This test reads `model/src` and finds every import cycle between top-level
//! modules (`crate::X` in the files of module `Y`), Tarjan-style.
//!
//! Issue 15 breaks the cycles that remain: they are listed in `STILL_TANGLED`, a ratchet. A new
//! cycle fails the test, and so does a listed one that is gone (take it off the list).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules still in an import cycle, each group one strongly connected component.
const STILL_TANGLED: &[&[&str]] = &[];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("a source folder") {
        let p = e.expect("an entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level module → the top-level modules its files name as `crate::X`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let mods: Vec<String> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))?;
            Some(l.trim_end_matches(';').trim().to_string())
        })
        .collect();
    let mut g = BTreeMap::new();
    for m in &mods {
        let mut files = Vec::new();
        if src.join(m).is_dir() {
            sources(&src.join(m), &mut files);
        }
        if src.join(format!("{m}.rs")).exists() {
            files.push(src.join(format!("{m}.rs")));
        }
        let mut uses = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable source");
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name != *m && mods.contains(&name) {
                    uses.insert(name);
                }
            }
        }
        g.insert(m.clone(), uses);
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in &t.g[v] {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = BTreeSet::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(w);
                c.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                t.out.push(c);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out.sort();
    t.out
}

#[test]
fn no_new_import_cycle_between_the_models_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("model/src");
    let g = graph(&src);
    let found = cycles(&g);
    let mut known: Vec<BTreeSet<String>> = STILL_TANGLED
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    known.sort();
    let show = |cs: &[BTreeSet<String>]| {
        cs.iter()
            .map(|c| {
                let names: Vec<&str> = c.iter().map(String::as_str).collect();
                let edges: Vec<String> = c
                    .iter()
                    .flat_map(|m| {
                        g[m].iter()
                            .filter(|o| c.contains(*o))
                            .map(move |o| format!("{m}→{o}"))
                    })
                    .collect();
                format!("[{}]: {}", names.join(", "), edges.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    assert_eq!(
        found,
        known,
        "the import cycles between model/src's modules changed.\nnow:\n  {}\nlisted in STILL_TANGLED:\n  {}\n(a new cycle is a layering error: move the shared type down a layer; a cycle that is gone: shrink STILL_TANGLED)",
        show(&found),
        show(&known)
    );
}

#[test]
fn a_cycle_is_found_and_a_layer_is_not() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let c = cycles(&g);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0], ["a", "b", "c"].map(String::from).into());
}
