//! Scenario files: TOML, validated, with `--set key=value` overrides.
//!
//! Every error names the file, the field and the problem, and says how to fix it. Nothing here
//! panics on bad input.

mod diag;
mod schema;
mod validate;
pub mod workload;

pub use schema::*;
pub use workload::{Items, Measured, Metric, Ran, Registry, Section, SectionSpec, Workload};

use std::fmt;

/// A problem with a scenario, located by file and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `--set` argument) the problem is in.
    pub file: String,
    /// Dotted path of the field, e.g. `server.gomaxprocs`; `(syntax)` for parse errors.
    pub field: String,
    /// What is wrong with the value, in a sentence ("must be at least 1").
    pub problem: String,
    /// How to fix it, shown on a `hint:` line after the problem; `None` when there is no advice.
    pub hint: Option<String>,
    /// The offending line of the file (or of the `--set` argument) with a caret under the
    /// value, rustc-style; `None` when the field is not written anywhere.
    pub snippet: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: field `{}`: {}", self.file, self.field, self.problem)?;
        if let Some(sn) = &self.snippet {
            write!(f, "\n{}", sn.trim_end())?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

pub use crate::units::{bytes, dur, parse_bytes};

/// One scenario to run: from a plain file, or one point of its `[matrix]`.
pub struct Variant {
    /// The matrix overrides that made it ("server.gogc=50, burst.pool=true"); empty otherwise.
    pub label: String,
    /// The scenario with the file, its `--set` overrides and this point's matrix values applied.
    pub scenario: Scenario,
}

/// Where a scenario's values were written, to point at them in errors.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
    overrides: &'a [String],
    /// The `[matrix]` keys this variant sets.
    matrix: &'a [String],
}

impl Source<'_> {
    /// The snippet for `field`: the `--set` that wrote it, its `[matrix]` entry, or its line
    /// in the file; `want_key` marks the key rather than the value (an unknown field).
    fn snippet(&self, field: &str, want_key: bool, label: &str) -> Option<String> {
        let set = self.overrides.iter().rev().find(|o| {
            o.split_once('=')
                .is_some_and(|(k, _)| !k.trim().is_empty() && within(field, k.trim()))
        });
        if let Some(o) = set {
            return Some(set_snippet(o, label));
        }
        if let Some(k) = self.matrix.iter().find(|k| within(field, k)) {
            let path = [diag::Seg::Key("matrix".into()), diag::Seg::Key(k.clone())];
            if let Some((sp, _)) = diag::locate(self.text, &path, false) {
                return Some(diag::render(self.file, self.text, sp, label));
            }
        }
        let Some((sp, found)) = diag::locate(self.text, &diag::parse_path(field), want_key) else {
            // A cross-field rule broken by a --set of a neighbour (`receiver.max_delay` for
            // `receiver.min_delay`): show that --set.
            let section = field.split(['.', '[']).next().unwrap_or(field);
            let near = self.overrides.iter().rev().find(|o| {
                o.split_once('=')
                    .is_some_and(|(k, _)| k.trim().split('.').next() == Some(section))
            })?;
            return Some(set_snippet(near, "set here"));
        };
        let label = match found {
            diag::Found::Section => {
                format!("`{field}` is not written here, so its default applies")
            }
            _ => label.to_string(),
        };
        Some(diag::render(self.file, self.text, sp, &label))
    }
}

/// Whether the field path `field` is `key` or lies inside it (`receiver.max_delay` inside
/// `receiver`, `network.faults[0].from` inside `network.faults`).
fn within(field: &str, key: &str) -> bool {
    field
        .strip_prefix(key)
        .is_some_and(|r| r.is_empty() || r.starts_with('.') || r.starts_with('['))
}

/// `--set KEY=VALUE` drawn with a caret under the value.
fn set_snippet(o: &str, label: &str) -> String {
    let arg = format!("--set {o}");
    let start = arg.find('=').map_or(6, |i| i + 1);
    diag::render("command line", &arg, start..arg.len(), label)
}

/// A short caret label: the problem itself when it is short.
fn label(problem: &str) -> &str {
    if problem.len() <= 60 && !problem.contains('\n') {
        problem
    } else {
        "here"
    }
}

/// Loads a scenario and expands its `[matrix]` table: each key is a field path, each value a
/// list; every combination (in key order) becomes one variant. Without a matrix, one variant.
/// A `--set` on a key the matrix varies is refused: the matrix would overwrite it.
/// `workloads` is the registry `workload = "..."` names one of; the first is the default.
pub fn load_variants_with(
    workloads: &Registry,
    file: &str,
    text: &str,
    overrides: &[String],
) -> Result<Vec<Variant>, ScenarioError> {
    let (mut value, origin) = parse_with_overrides(file, text, overrides)?;
    let src = Source {
        file,
        text,
        overrides,
        matrix: &[],
    };
    let matrix = value.as_table_mut().and_then(|t| t.remove("matrix"));
    let Some(matrix) = matrix else {
        let mut scenario = finish(workloads, &origin, value, &src)?;
        scenario.overrides = overrides.to_vec();
        return Ok(vec![Variant {
            label: String::new(),
            scenario,
        }]);
    };
    let bad = |field: String, problem: &str| ScenarioError {
        file: origin.clone(),
        field: field.clone(),
        problem: problem.to_string(),
        hint: Some("write [matrix] entries as \"section.field\" = [value, value, ...]".to_string()),
        snippet: src.snippet(&field, false, label(problem)),
    };
    let table = matrix
        .as_table()
        .ok_or_else(|| bad("matrix".into(), "must be a table"))?;
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (k, v) in table {
        let list = v
            .as_array()
            .ok_or_else(|| bad(format!("matrix.{k}"), "must be a list of values"))?;
        if list.is_empty() {
            return Err(bad(format!("matrix.{k}"), "is an empty list"));
        }
        axes.push((k.clone(), list.clone()));
    }
    for o in overrides {
        let key = o.split_once('=').map_or(o.as_str(), |(k, _)| k).trim();
        let hit = axes.iter().find(|(mk, _)| within(key, mk));
        if let Some((mk, vals)) = hit {
            let vals: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
            let at = diag::locate(
                text,
                &[diag::Seg::Key("matrix".into()), diag::Seg::Key(mk.clone())],
                true,
            );
            return Err(ScenarioError {
                file: format!("--set {o}"),
                field: mk.clone(),
                problem: format!(
                    "the scenario's [matrix] varies `{mk}` over [{}], and would overwrite this --set in every variant",
                    vals.join(", ")
                ),
                hint: Some(format!(
                    "drop the --set to run every variant, or remove `{mk}` from [matrix] in {file} to fix its value"
                )),
                snippet: at.map(|(sp, _)| diag::render(file, text, sp, "varied here")),
            });
        }
    }
    let total = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.1.len()))
        .unwrap_or(usize::MAX);
    if total > 1000 {
        return Err(bad("matrix".into(), "has more than 1000 combinations"));
    }
    let keys: Vec<String> = axes.iter().map(|a| a.0.clone()).collect();
    let src = Source {
        matrix: &keys,
        ..src
    };
    let mut out = Vec::with_capacity(total);
    for i in 0..total {
        let mut v = value.clone();
        let mut rest = i;
        let mut label = Vec::new();
        for (k, vals) in axes.iter().rev() {
            let x = &vals[rest % vals.len()];
            rest /= vals.len();
            let text = x.to_string();
            apply_override(&mut v, &format!("{k}={text}")).map_err(|mut e| {
                e.file = format!("{file} [matrix]");
                e
            })?;
            label.push(format!("{k}={}", text.trim_matches('"')));
        }
        label.reverse();
        let label = label.join(", ");
        let mut sc = finish(workloads, &format!("{origin} [{label}]"), v, &src)?;
        sc.overrides = overrides.to_vec();
        out.push(Variant {
            label,
            scenario: sc,
        });
    }
    Ok(out)
}

fn parse(file: &str, text: &str) -> Result<toml::Value, ScenarioError> {
    toml::from_str(text).map_err(|e| {
        let problem = e.message().trim().to_string();
        let (hint, snippet) = match e.span() {
            Some(sp) => {
                let line = text[..sp.start.min(text.len())].matches('\n').count() + 1;
                (
                    format!("the TOML syntax error is on line {line}"),
                    Some(diag::render(file, text, sp, label(&problem))),
                )
            }
            None => ("check the file's TOML syntax".to_string(), None),
        };
        ScenarioError {
            file: file.to_string(),
            field: "(syntax)".to_string(),
            problem,
            hint: Some(hint),
            snippet,
        }
    })
}

/// Loads a scenario from TOML text, applies `--set` overrides, and validates it. A `[matrix]`
/// table is refused here: use [`load_variants_with`]. `workloads` is the registry
/// `workload = "..."` names one of; the first is the default.
pub fn load_with(
    workloads: &Registry,
    file: &str,
    text: &str,
    overrides: &[String],
) -> Result<Scenario, ScenarioError> {
    let (value, origin) = parse_with_overrides(file, text, overrides)?;
    let src = Source {
        file,
        text,
        overrides,
        matrix: &[],
    };
    let mut sc = finish(workloads, &origin, value, &src)?;
    sc.overrides = overrides.to_vec();
    Ok(sc)
}

/// The scenario's TOML tree with the `--set` overrides applied (not yet validated).
pub fn tree(file: &str, text: &str, overrides: &[String]) -> Result<toml::Value, ScenarioError> {
    parse_with_overrides(file, text, overrides).map(|(v, _)| v)
}

/// Parses the text and applies `--set` overrides; returns the tree and how to name its origin
/// in errors.
fn parse_with_overrides(
    file: &str,
    text: &str,
    overrides: &[String],
) -> Result<(toml::Value, String), ScenarioError> {
    let mut value = parse(file, text)?;
    for o in overrides {
        apply_override(&mut value, o)?;
    }
    let origin = if overrides.is_empty() {
        file.to_string()
    } else {
        format!("{file} (with --set)")
    };
    include_costs_file(file, &origin, &mut value)?;
    Ok((value, origin))
}

/// `[server] costs_file`: a costs file (`costream calibrate --out FILE`), relative to the
/// scenario's folder, read into `[server.costs]`; costs the scenario sets itself win.
fn include_costs_file(
    file: &str,
    origin: &str,
    value: &mut toml::Value,
) -> Result<(), ScenarioError> {
    let Some(server) = value.get_mut("server").and_then(|s| s.as_table_mut()) else {
        return Ok(());
    };
    let Some(path) = server.remove("costs_file") else {
        return Ok(());
    };
    let err = |problem: String, hint: &str| ScenarioError {
        file: origin.to_string(),
        snippet: None,
        field: "server.costs_file".into(),
        problem,
        hint: Some(hint.to_string()),
    };
    let Some(path) = path.as_str() else {
        return Err(err(
            format!("expected a file name (a string), found {path}"),
            "write costs_file = \"costs.toml\"",
        ));
    };
    let full = std::path::Path::new(file)
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .join(path);
    let text = std::fs::read_to_string(&full).map_err(|e| {
        err(
            format!("cannot read {}: {e}", full.display()),
            "write it with `costream calibrate --out FILE`, or fix the path (it is relative \
             to the scenario file's folder)",
        )
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        err(
            format!("{} is not TOML: {}", full.display(), e.message()),
            "a costs file holds `name = \"duration\"` lines, as `costream calibrate` writes them",
        )
    })?;
    let costs = server
        .entry("costs")
        .or_insert_with(|| toml::Value::Table(Default::default()));
    let Some(costs) = costs.as_table_mut() else {
        return Err(err(
            "server.costs is not a table".into(),
            "write [server.costs] as a table",
        ));
    };
    for (k, v) in table {
        costs.entry(k).or_insert(v);
    }
    Ok(())
}

/// A serde error at `prefix` + its path (`burst.interval`), as a located [`ScenarioError`].
fn de_error(
    origin: &str,
    src: &Source,
    prefix: &str,
    e: serde_path_to_error::Error<toml::de::Error>,
) -> ScenarioError {
    let path = e.path().to_string();
    let field = match (prefix, path.as_str()) {
        ("", ".") => "(top level)".to_string(),
        ("", _) => path,
        (_, ".") => prefix.to_string(),
        _ => format!("{prefix}.{path}"),
    };
    let inner = e.into_inner().to_string();
    // toml appends its own "in `field`" line: the field is named already.
    let inner = inner
        .split("\nin `")
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let unknown = inner.contains("unknown field");
    let (problem, hint) = if unknown {
        (
            inner,
            Some(
                "remove the field or fix its spelling; docs/scenarios.md lists every field"
                    .to_string(),
            ),
        )
    } else if inner.contains("missing field") {
        (
            inner,
            Some("add the field; docs/scenarios.md lists every field with its default".to_string()),
        )
    } else {
        diag::humanise(&field, &inner).unwrap_or((inner, None))
    };
    ScenarioError {
        file: origin.to_string(),
        snippet: src.snippet(&field, unknown, label(&problem)),
        field,
        problem,
        hint,
    }
}

/// Resolves the `workload` key in `workloads`, takes out and type-checks every registered
/// workload's sections, reads the rest as a [`Scenario`] and validates it.
fn finish(
    workloads: &Registry,
    origin: &str,
    mut value: toml::Value,
    src: &Source,
) -> Result<Scenario, ScenarioError> {
    let located = |field: &str, problem: String, hint: String| ScenarioError {
        file: origin.to_string(),
        snippet: src.snippet(field, false, label(&problem)),
        field: field.to_string(),
        problem,
        hint: Some(hint),
    };
    let known = || {
        let names: Vec<&str> = workloads.iter().map(|w| w.name()).collect();
        names.join(", ")
    };
    let table = value.as_table_mut();
    let named = table.as_ref().and_then(|t| t.get("workload")).cloned();
    let program = match named {
        None => *workloads
            .first()
            .expect("a workload registry is never empty"),
        Some(toml::Value::String(n)) => {
            *workloads.iter().find(|w| w.name() == n).ok_or_else(|| {
                located(
                    "workload",
                    format!("unknown workload `{n}`"),
                    format!("use one of: {}", known()),
                )
            })?
        }
        Some(other) => {
            return Err(located(
                "workload",
                format!("expected a workload's name, found {}", other.type_str()),
                format!("write workload = \"{}\"", workloads[0].name()),
            ))
        }
    };
    let mut sections = std::collections::BTreeMap::new();
    if let Some(t) = table {
        t.remove("workload");
        for spec in workloads.iter().flat_map(|w| w.sections()) {
            if let Some(v) = t.remove(spec.name) {
                (spec.check)(v.clone()).map_err(|e| de_error(origin, src, spec.name, e))?;
                sections.insert(spec.name, v);
            }
        }
    }
    let mut sc: Scenario =
        serde_path_to_error::deserialize(value).map_err(|e| de_error(origin, src, "", e))?;
    sc.program = Some(program);
    sc.sections = sections;
    sc.server.resolve_gomaxprocs();
    sc.validate()
        .map_err(|(field, problem, hint)| located(&field, problem, hint))?;
    Ok(sc)
}

/// Applies one `key.path=value` override. The value is read as TOML (`4`, `"20ms"`, `true`),
/// or as a plain string if it is not valid TOML (`20ms`).
pub fn apply_override(root: &mut toml::Value, o: &str) -> Result<(), ScenarioError> {
    let bad = |problem: String| ScenarioError {
        file: format!("--set {o}"),
        field: o.split('=').next().unwrap_or("").trim().to_string(),
        snippet: Some(set_snippet(o, label(&problem))),
        problem,
        hint: Some("write --set section.field=value, e.g. --set server.gomaxprocs=4".to_string()),
    };
    let (key, raw) = o
        .split_once('=')
        .ok_or_else(|| bad("no `=` in override".to_string()))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(bad("empty key".to_string()));
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed"),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let mut cur = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let table = cur
            .as_table_mut()
            .ok_or_else(|| bad(format!("`{}` is not a section", parts[..i].join("."))))?;
        if i == parts.len() - 1 {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        cur = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    unreachable!("loop returns on the last part")
}

/// The scenario compiled into the binary: `scenarios/quickstart.toml`.
pub const QUICKSTART: &str = include_str!("../../../scenarios/quickstart.toml");
