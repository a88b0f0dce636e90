//! Supervisor's edges, as a library so that the binary, the benchmarks and the fuzz targets
//! share them: the command line, the registry, the control plane, logging and the daemon's
//! wiring. Nothing here decides a restart: that is the `actors` crate.

#![forbid(unsafe_code)]

pub mod accept;
pub mod background;
pub mod check;
pub mod cli;
pub mod control;
pub mod daemon;
pub mod docs;
pub mod guardian;
pub mod http;
pub mod limits;
pub mod logfile;
pub mod logging;
pub mod logs;
pub mod metrics;
pub mod moves;
pub mod preflight;
pub mod registry;
pub mod rundir;
pub mod sdnotify;
pub mod signals;
pub mod status;
pub mod suggest;
pub mod upgrade;
pub mod verbs;
