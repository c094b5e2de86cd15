//! Workloads: model programs that run on the Go runtime model.

pub mod room;
