//! The [`Workload`] trait: a program a scenario runs, with its own scenario sections. It lives
//! with the scenario because a scenario names its workload (`workload = "burst"`) and holds its
//! sections, and a workload reads the scenario; the built-in workloads are in the `workload` module,
//! a user's are in the user's crate, and both reach the scenario loader the same way: as a
//! registry (`&[&dyn Workload]`) handed to [`super::load_with`].

use super::{Invalid, Scenario, Stage};
use crate::world::{RunOutcome, Sim, SimOptions};
use costream_sim::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

/// What a workload measured: its own metrics type, read back with [`Ran::measured`].
pub type Measured = Box<dyn Any>;

/// A finished run.
pub struct Ran {
    /// The simulation after the run, to read the runtime's statistics and the event log from.
    pub sim: Sim,
    /// How the run ended, when (virtual time), and its event count and digest.
    pub out: RunOutcome,
    /// What the workload measured (see [`Ran::measured`]).
    pub measured: Measured,
    /// Which workload ran, so readers of the run ask it for its metrics and its report.
    pub workload: &'static dyn Workload,
}

impl Ran {
    /// What the workload measured, as the type its [`Workload::run`] returned; `None` for
    /// another type (another workload's run).
    pub fn measured<T: 'static>(&self) -> Option<&T> {
        self.measured.downcast_ref()
    }
}

/// A metric a workload measures: its name in `--until` conditions and sweeps, and what it is.
pub type Metric = (&'static str, &'static str);

/// Items of one kind in a memory estimate: how many, what they are, bytes each.
pub type Items = (u64, &'static str, u64);

/// A scenario table that belongs to a workload (`[burst]`): serde reads it, with the defaults
/// of [`Default`] for what the file leaves out, and [`Workload::validate`] checks its ranges.
pub trait Section: DeserializeOwned + Default + 'static {
    /// The table's name in a scenario file.
    const NAME: &'static str;
}

/// A [`Section`] as a workload registers it: its name, and how the loader type-checks it.
#[derive(Clone, Copy)]
pub struct SectionSpec {
    /// The table's name in a scenario file ([`Section::NAME`]).
    pub name: &'static str,
    pub(super) check: fn(toml::Value) -> Result<(), serde_path_to_error::Error<toml::de::Error>>,
}

impl SectionSpec {
    /// The registration of section type `T`.
    pub const fn of<T: Section>() -> Self {
        fn check<T: Section>(
            v: toml::Value,
        ) -> Result<(), serde_path_to_error::Error<toml::de::Error>> {
            serde_path_to_error::deserialize::<_, T>(v).map(drop)
        }
        SectionSpec {
            name: T::NAME,
            check: check::<T>,
        }
    }
}

impl Scenario {
    /// The workload's section `T`: as the file wrote it (type-checked when it loaded), or its
    /// defaults when the file has no such table.
    pub fn section<T: Section>(&self) -> T {
        match self.sections.get(T::NAME) {
            None => T::default(),
            Some(v) => T::deserialize(v.clone())
                .unwrap_or_else(|e| panic!("[{}] was type-checked at load: {e}", T::NAME)),
        }
    }

    /// The workload the scenario runs (its `workload` key, resolved in the registry it was
    /// loaded with).
    pub fn workload(&self) -> &'static dyn Workload {
        self.program
            .expect("a Scenario comes from scenario::load, which resolves its workload")
    }
}

/// One program a scenario can run. Each workload's file holds all of it: its sections, how it
/// runs, what it measures, how its sections are checked and what its reports say; the rest of
/// costream reaches it only through this trait, so a new workload is one file and one entry in
/// a registry.
pub trait Workload: Sync {
    /// Its name in a scenario's `workload = "..."` key.
    fn name(&self) -> &'static str;

    /// The scenario tables it reads with [`Scenario::section`].
    fn sections(&self) -> &'static [SectionSpec] {
        &[]
    }

    /// Builds the workload's goroutines on a simulation from `workload::new_sim` and
    /// runs it; returns what it measured, for [`Ran::measured`].
    fn run(
        &self,
        sc: &Scenario,
        seed: u64,
        opts: &SimOptions,
        progress: &mut dyn FnMut(SimTime, u64),
    ) -> (Sim, RunOutcome, Measured);

    /// The metrics only this workload measures (every workload measures the common ones).
    fn metrics(&self) -> &'static [Metric] {
        &[]
    }

    /// The metrics a table of many runs (a sweep's) shows for this workload, before the
    /// runtime's: by default the first two of [`Self::metrics`].
    fn key_metrics(&self) -> Vec<&'static str> {
        self.metrics().iter().take(2).map(|m| m.0).collect()
    }

    /// The values of [`Self::metrics`] for a finished run; one it could not measure (no audio
    /// was received) is left out.
    fn measure(&self, _ran: &Ran, _m: &mut BTreeMap<&'static str, f64>) {}

    /// Refuses a metric of this workload that `sc` does not measure (video with no video).
    fn check_metric(&self, _sc: &Scenario, _cond: &str, _metric: &str) -> Result<(), String> {
        Ok(())
    }

    /// Checks this workload's own sections, at each `stage` of [`Scenario::validate`].
    fn validate(&self, _sc: &Scenario, _stage: Stage) -> Result<(), Invalid> {
        Ok(())
    }

    /// The shortest run that measures anything, and why: a shorter one reports nothing, or
    /// nonsense (a P busy for 12,500 % of a 1 ns run).
    fn min_duration(&self, sc: &Scenario) -> (SimDuration, String);

    /// The memory this workload holds, as (how many, what, bytes each), and how many events
    /// it will handle before `run.max_events` caps them: the inputs of budget.rs's estimate.
    fn estimate(&self, sc: &Scenario) -> (Vec<Items>, f64);

    /// What the workload ran, from the effective scenario, for the report's header.
    fn summary(&self, sc: &Scenario, ran: &Ran) -> Vec<String>;

    /// The report's section of what the workload measured, before the runtime's sections.
    fn report(&self, _s: &mut String, _sc: &Scenario, _ran: &Ran) {}

    /// The HTML report's headline plots, the workload's main result, into `s`; returns what
    /// they show, for the report's heading.
    fn headline(&self, sc: &Scenario, ran: &Ran, s: &mut String) -> &'static str;

    /// The counts `shrink` may halve while a violation still holds, each with its floor
    /// (`("rooms.count", 1)`): what makes this workload's runs smaller.
    fn shrink_halving(&self) -> &'static [(&'static str, i64)] {
        &[]
    }

    /// Whether [`Self::headline`] already plots the heap, so the runtime's plots leave it out.
    fn heap_in_headline(&self) -> bool {
        false
    }

    /// For a matrix's comparison table: the latency the workload is judged by (end to end as
    /// it defines it) and what it lost.
    fn comparison(&self, _ran: &Ran) -> (Option<Histogram<u64>>, String) {
        (None, "-".into())
    }
}

impl fmt::Debug for dyn Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The workloads a scenario may name, the first being the default: `workload::BUILTIN`,
/// or a user's list that adds their own.
pub type Registry = [&'static dyn Workload];
