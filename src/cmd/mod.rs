//! The subcommands, one file each; `common` holds what they share.

mod calibrate;
mod common;
mod conformance;
mod explore;
mod replay;
mod run;
mod shrink;
mod sweep;

pub(crate) use calibrate::*;
pub(crate) use common::*;
pub(crate) use conformance::*;
pub(crate) use explore::*;
pub(crate) use replay::*;
pub(crate) use run::*;
pub(crate) use shrink::*;
pub(crate) use sweep::*;

pub(crate) use costream_model::report::{comparison, report};
pub(crate) use costream_model::scenario::{self, Registry, ScenarioError};
pub(crate) use costream_model::workload;
pub(crate) use costream_model::world::{EventLog, SimOptions};
