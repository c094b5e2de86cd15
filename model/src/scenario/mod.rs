//! Scenario files: TOML, validated, with `--set key=value` overrides.
//!
//! Every error names the file, the field and the problem, and says how to fix it. Nothing here
//! panics on bad input.

mod schema;

pub use schema::*;

use std::fmt;

/// A problem with a scenario, located by file and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or `--set` argument) the problem is in.
    pub file: String,
    /// Dotted path of the field, e.g. `server.gomaxprocs`; `(syntax)` for parse errors.
    pub field: String,
    pub problem: String,
    pub hint: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: field `{}`: {}", self.file, self.field, self.problem)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Serde helpers for durations written as strings ("20ms").
pub mod dur {
    use costream_sim::SimDuration;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SimDuration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            F(f64),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => SimDuration::parse(&s).map_err(serde::de::Error::custom),
            Raw::I(0) => Ok(SimDuration::ZERO),
            Raw::I(n) if n < 0 => Err(serde::de::Error::custom(format!(
                "duration {n} is negative; durations must be >= 0 and carry a unit, e.g. \"20ms\""
            ))),
            Raw::I(n) => Err(serde::de::Error::custom(format!(
                "duration {n} has no unit; write it as a string with a unit, e.g. \"{n}ms\""
            ))),
            Raw::F(x) => Err(serde::de::Error::custom(format!(
                "duration {x} has no unit; write it as a string with a unit, e.g. \"{x}ms\""
            ))),
        }
    }
}

/// Parses byte sizes: `1460`, `"64KiB"`, `"16MiB"`, `"4GiB"`, `"1.5GB"`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("size {s:?} does not start with a number"))?;
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0f64.powi(4),
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => {
            return Err(format!(
                "size {s:?} has an unknown unit; use B, KiB, MiB, GiB (or KB, MB, GB)"
            ))
        }
    };
    let b = v * scale;
    if !b.is_finite() || b > (1u64 << 62) as f64 {
        return Err(format!("size {s:?} is too large"));
    }
    Ok(b.round() as u64)
}

/// Serde helpers for byte sizes written as integers or strings with units.
pub mod bytes {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => super::parse_bytes(&s).map_err(serde::de::Error::custom),
            Raw::I(n) if n < 0 => Err(serde::de::Error::custom(format!("size {n} is negative"))),
            Raw::I(n) => Ok(n as u64),
        }
    }
}

/// One scenario to run: from a plain file, or one point of its `[matrix]`.
pub struct Variant {
    /// The matrix overrides that made it ("server.gogc=50, burst.pool=true"); empty otherwise.
    pub label: String,
    pub scenario: Scenario,
}

/// Loads a scenario and expands its `[matrix]` table: each key is a field path, each value a
/// list; every combination (in key order) becomes one variant. Without a matrix, one variant.
pub fn load_variants(
    file: &str,
    text: &str,
    overrides: &[String],
) -> Result<Vec<Variant>, ScenarioError> {
    let (mut value, origin) = parse_with_overrides(file, text, overrides)?;
    let matrix = value.as_table_mut().and_then(|t| t.remove("matrix"));
    let Some(matrix) = matrix else {
        let mut scenario = finish(&origin, value)?;
        scenario.overrides = overrides.to_vec();
        return Ok(vec![Variant {
            label: String::new(),
            scenario,
        }]);
    };
    let bad = |field: String, problem: &str| ScenarioError {
        file: origin.clone(),
        field,
        problem: problem.to_string(),
        hint: Some("write [matrix] entries as \"section.field\" = [value, value, ...]".to_string()),
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
    let total: usize = axes.iter().map(|a| a.1.len()).product();
    if total > 1000 {
        return Err(bad("matrix".into(), "has more than 1000 combinations"));
    }
    let mut out = Vec::with_capacity(total);
    for i in 0..total {
        let mut v = value.clone();
        let mut rest = i;
        let mut label = Vec::new();
        for (k, vals) in axes.iter().rev() {
            let x = &vals[rest % vals.len()];
            rest /= vals.len();
            let text = x.to_string();
            apply_override(&mut v, &format!("{k}={text}"))?;
            label.push(format!("{k}={}", text.trim_matches('"')));
        }
        label.reverse();
        let label = label.join(", ");
        let mut sc = finish(&format!("{origin} [{label}]"), v)?;
        sc.overrides = overrides.to_vec();
        out.push(Variant {
            label,
            scenario: sc,
        });
    }
    Ok(out)
}

fn parse(file: &str, text: &str) -> Result<toml::Value, ScenarioError> {
    toml::from_str(text).map_err(|e| ScenarioError {
        file: file.to_string(),
        field: "(syntax)".to_string(),
        problem: e.message().to_string(),
        hint: Some(match e.span() {
            Some(sp) => {
                let line = text[..sp.start.min(text.len())].matches('\n').count() + 1;
                format!("the TOML syntax error is on line {line}")
            }
            None => "check the file's TOML syntax".to_string(),
        }),
    })
}

/// Loads a scenario from TOML text, applies `--set` overrides, and validates it. A `[matrix]`
/// table is refused here: use [`load_variants`].
pub fn load(file: &str, text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    let (value, origin) = parse_with_overrides(file, text, overrides)?;
    let mut sc = finish(&origin, value)?;
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
    Ok((value, origin))
}

fn finish(origin: &str, value: toml::Value) -> Result<Scenario, ScenarioError> {
    let origin = origin.to_string();
    let sc: Scenario = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        let hint = if inner.contains("unknown field") {
            Some(
                "remove the field or fix its spelling; docs/scenarios.md lists every field"
                    .to_string(),
            )
        } else if inner.contains("missing field") {
            Some("add the field; docs/scenarios.md lists every field with its default".to_string())
        } else {
            None
        };
        ScenarioError {
            file: origin.clone(),
            field: if field == "." {
                "(top level)".into()
            } else {
                field
            },
            problem: inner,
            hint,
        }
    })?;
    sc.validate()
        .map_err(|(field, problem, hint)| ScenarioError {
            file: origin,
            field: field.to_string(),
            problem,
            hint: Some(hint),
        })?;
    Ok(sc)
}

/// Applies one `key.path=value` override. The value is read as TOML (`4`, `"20ms"`, `true`),
/// or as a plain string if it is not valid TOML (`20ms`).
pub fn apply_override(root: &mut toml::Value, o: &str) -> Result<(), ScenarioError> {
    let bad = |problem: String| ScenarioError {
        file: format!("--set {o}"),
        field: o.split('=').next().unwrap_or("").trim().to_string(),
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

#[cfg(test)]
mod tests;
