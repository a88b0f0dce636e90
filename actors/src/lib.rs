//! The supervision tree of Supervisor, as a library: component actors that own real child
//! processes, group actors that apply Erlang/OTP strategies and restart intensity, and the
//! process table that spawns and reaps.
//!
//! No XML, no CLI, no socket here: the tree is built from plain [`spec`] data. The policy is
//! pure ([`policy`]); the actors carry it out; [`process`] is the only place that spawns, waits
//! or signals (and holds the only `unsafe`). See `ARCHITECTURE.md`.

#![deny(missing_docs)]
// Only `process::sys` may use `unsafe` (it says so with an `allow`).
#![deny(unsafe_code)]

pub mod component;
pub mod deferred;
pub mod events;
pub mod group;
pub mod handover;
pub mod ids;
pub mod messages;
pub mod output;
pub mod policy;
pub mod probe;
pub mod process;
pub mod runtime;
pub mod spec;
pub mod status;
pub mod tree;

pub use messages::{ChildExited, GroupGaveUp, Start, StartOutcome, Stop};
