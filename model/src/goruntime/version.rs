//! The Go release the model follows. Behaviours that changed between Go 1.19 and 1.27 are
//! keyed on it, each where it is modelled, citing both versions' source; docs/model.md has
//! the table. The model covers 1.19 (Debian's golang-1.19) to 1.27 (the newest, the default).

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A Go 1.x release, 1.19 to 1.27. Only the minor version matters to the runtime's
/// behaviour; a patch (`1.27.3`) is accepted and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoVersion {
    minor: u8,
}

impl GoVersion {
    /// Go 1.19: the oldest release modelled.
    pub const GO1_19: GoVersion = GoVersion { minor: 19 };
    /// Go 1.21: `wakep` takes a P for the spinning M (`needspinning`); tracebacks print
    /// "created by F in goroutine N".
    pub const GO1_21: GoVersion = GoVersion { minor: 21 };
    /// Go 1.23: timer channels are synchronous and receive the due time.
    pub const GO1_23: GoVersion = GoVersion { minor: 23 };
    /// Go 1.24: sync primitives park with their own wait reasons ("sync.WaitGroup.Wait").
    pub const GO1_24: GoVersion = GoVersion { minor: 24 };
    /// Go 1.25: container-aware GOMAXPROCS and its updater goroutine.
    pub const GO1_25: GoVersion = GoVersion { minor: 25 };
    /// Go 1.26: the Green Tea garbage collector by default.
    pub const GO1_26: GoVersion = GoVersion { minor: 26 };
    /// Go 1.27: the newest release modelled, and the default.
    pub const GO1_27: GoVersion = GoVersion { minor: 27 };
    /// The oldest release modelled.
    pub const OLDEST: GoVersion = Self::GO1_19;
    /// The newest release modelled.
    pub const NEWEST: GoVersion = Self::GO1_27;

    /// Whether this release has what `v` introduced.
    pub fn at_least(self, v: GoVersion) -> bool {
        self >= v
    }

    /// GOMAXPROCS when the program does not set it, on a machine of `ncpu` CPUs whose CPU
    /// cgroup allows `cgroup_limit` CPUs (quota / period), if limited. Go 1.19 `schedinit`:
    /// `procs := ncpu`. From Go 1.25 `defaultGOMAXPROCS` (cgroup_linux.go,
    /// `adjustCgroupGOMAXPROCS`): the limit rounded up, and at least 2, when that is lower.
    pub fn default_gomaxprocs(self, ncpu: u32, cgroup_limit: Option<f64>) -> u32 {
        let ncpu = ncpu.max(1);
        match cgroup_limit {
            Some(l) if self.at_least(Self::GO1_25) && l.is_finite() && l > 0.0 => {
                let limit = (l.ceil() as u32).max(2);
                ncpu.min(limit)
            }
            _ => ncpu,
        }
    }

    /// The release's minor version (19 for Go 1.19).
    pub fn minor(self) -> u8 {
        self.minor
    }

    /// Parses `1.27`, `1.27.3` or `go1.27` (as `go version` prints it); refuses a release the
    /// model does not cover.
    pub fn parse(s: &str) -> Result<GoVersion, String> {
        let t = s.trim();
        let t = t.strip_prefix("go").unwrap_or(t);
        let mut parts = t.split('.');
        let (major, minor) = (parts.next(), parts.next());
        let patch_ok =
            parts.next().is_none_or(|p| p.parse::<u32>().is_ok()) && parts.next().is_none();
        let minor = match (major, minor.map(str::parse::<u8>)) {
            (Some("1"), Some(Ok(m))) if patch_ok => m,
            _ => {
                return Err(format!(
                    "`{s}` is not a Go version; write it as \"1.27\" (a string: 1.20 as a TOML number would read as 1.2)"
                ))
            }
        };
        let v = GoVersion { minor };
        if v < Self::OLDEST || v > Self::NEWEST {
            return Err(format!(
                "Go {s} is not modelled; use {} to {} (docs/model.md lists what differs between them)",
                Self::OLDEST,
                Self::NEWEST
            ));
        }
        Ok(v)
    }
}

impl Default for GoVersion {
    fn default() -> Self {
        Self::NEWEST
    }
}

impl fmt::Display for GoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.minor)
    }
}

impl<'de> Deserialize<'de> for GoVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = GoVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Go version as a string, such as \"1.27\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<GoVersion, E> {
                GoVersion::parse(s).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<GoVersion, E> {
                Err(E::custom(format!(
                    "{x} is a number; write the Go version as a string, such as \"1.27\" (as a number 1.20 reads as 1.2)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn default_gomaxprocs_follows_the_cgroup_from_1_25() {
        let (old, new) = (GoVersion::GO1_19, GoVersion::GO1_27);
        assert_eq!(old.default_gomaxprocs(16, Some(1.5)), 16);
        assert_eq!(new.default_gomaxprocs(16, Some(1.5)), 2);
        assert_eq!(new.default_gomaxprocs(16, Some(0.5)), 2);
        assert_eq!(new.default_gomaxprocs(16, Some(3.2)), 4);
        assert_eq!(new.default_gomaxprocs(2, Some(3.2)), 2);
        assert_eq!(new.default_gomaxprocs(1, Some(0.5)), 1);
        assert_eq!(new.default_gomaxprocs(8, None), 8);
        assert_eq!(GoVersion::GO1_24.default_gomaxprocs(16, Some(1.5)), 16);
    }

    use super::*;

    #[test]
    fn parses_what_people_and_go_version_write() {
        assert_eq!(GoVersion::parse("1.19"), Ok(GoVersion::GO1_19));
        assert_eq!(GoVersion::parse("1.27.3"), Ok(GoVersion::GO1_27));
        assert_eq!(GoVersion::parse("go1.23"), Ok(GoVersion::GO1_23));
        assert_eq!(GoVersion::parse("1.22").unwrap().to_string(), "1.22");
        assert!(GoVersion::parse("1.18")
            .unwrap_err()
            .contains("use 1.19 to 1.27"));
        assert!(GoVersion::parse("1.28")
            .unwrap_err()
            .contains("not modelled"));
        for bad in ["2.0", "1", "1.x", "1.21.a", "1.21.1.1", ""] {
            assert!(
                GoVersion::parse(bad)
                    .unwrap_err()
                    .contains("not a Go version"),
                "{bad}"
            );
        }
    }

    #[test]
    fn orders_by_release() {
        assert!(GoVersion::GO1_27.at_least(GoVersion::GO1_23));
        assert!(!GoVersion::GO1_19.at_least(GoVersion::GO1_21));
        assert_eq!(GoVersion::default(), GoVersion::NEWEST);
    }

    #[test]
    fn a_toml_number_is_refused_with_the_reason() {
        #[derive(Deserialize, Debug)]
        struct S {
            #[allow(dead_code)]
            v: GoVersion,
        }
        let e = toml::from_str::<S>("v = 1.20").unwrap_err().to_string();
        assert!(e.contains("as a string"), "{e}");
        let s: S = toml::from_str("v = \"1.21\"").unwrap();
        assert_eq!(s.v, GoVersion::GO1_21);
    }
}
