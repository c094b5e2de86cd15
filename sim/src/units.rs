//! Units people write in scenario files: durations with a unit (`"20ms"`) and byte sizes
//! (`1460`, `"64KiB"`), as serde helpers. The bottom of the model: every layer's config uses
//! them, and they use nothing but the kernel's time types.

/// Serde helpers for durations written as strings ("20ms").
pub mod dur {
    use crate::SimDuration;
    use serde::{Deserialize, Deserializer};

    /// A duration: a string with a unit (`"20ms"`), or 0.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SimDuration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum DurationInput {
            S(String),
            I(i64),
            F(f64),
        }
        match DurationInput::deserialize(d)? {
            DurationInput::S(s) => SimDuration::parse(&s).map_err(serde::de::Error::custom),
            DurationInput::I(0) => Ok(SimDuration::ZERO),
            DurationInput::I(n) if n < 0 => Err(serde::de::Error::custom(format!(
                "duration {n} is negative; durations must be >= 0 and carry a unit, e.g. \"20ms\""
            ))),
            DurationInput::I(n) => Err(serde::de::Error::custom(format!(
                "duration {n} has no unit; write it as a string with a unit, e.g. \"{n}ms\""
            ))),
            DurationInput::F(x) => Err(serde::de::Error::custom(format!(
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

    /// A size in bytes: an integer, or a string with a unit (`"64KiB"`).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum SizeInput {
            S(String),
            I(i64),
        }
        match SizeInput::deserialize(d)? {
            SizeInput::S(s) => super::parse_bytes(&s).map_err(serde::de::Error::custom),
            SizeInput::I(n) if n < 0 => {
                Err(serde::de::Error::custom(format!("size {n} is negative")))
            }
            SizeInput::I(n) => Ok(n as u64),
        }
    }
}
