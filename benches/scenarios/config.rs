//! The scenario benchmark's knobs, from the environment (see `benches/README.md`).

use std::time::Duration;

/// Counts and sizes for one run.
pub struct Config {
    pub quick: bool,
    /// Kills per restart-latency target (the floor and the supervisor).
    pub kills: usize,
    /// Kills per peer supervisor (they wait about a second before each restart).
    pub peer_kills: usize,
    /// Time between a replacement's stamp and the next kill.
    pub gap: Duration,
    /// Idle components beside the one that is killed.
    pub siblings: Vec<usize>,
    pub crash_components: usize,
    pub crash_window: Duration,
    pub lifecycle_sizes: Vec<usize>,
    pub idle: Duration,
    pub only: Option<Vec<String>>,
}

impl Config {
    pub fn from_env() -> Config {
        let quick = std::env::var("SCENARIO_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let pick = |full: usize, short: usize| if quick { short } else { full };
        Config {
            quick,
            kills: number("SCENARIO_KILLS").map_or(pick(300, 50), |n| n as usize),
            peer_kills: number("SCENARIO_PEER_KILLS").map_or(pick(20, 5), |n| n as usize),
            gap: Duration::from_millis(30),
            siblings: sizes("SCENARIO_SIBLINGS").unwrap_or_else(|| vec![0, 100]),
            crash_components: 100,
            crash_window: Duration::from_secs(pick(10, 3) as u64),
            lifecycle_sizes: sizes("SCENARIO_LIFECYCLE_SIZES")
                .unwrap_or_else(|| vec![pick(1000, 100), pick(10_000, 1000)]),
            idle: Duration::from_secs_f64(number("SCENARIO_IDLE_SECS").unwrap_or(10.0)),
            only: std::env::var("SCENARIO_ONLY")
                .ok()
                .map(|list| list.split(',').map(|s| s.trim().to_string()).collect()),
        }
    }

    /// Whether `scenario` is to run (`SCENARIO_ONLY`).
    pub fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == scenario))
    }
}

/// A non-negative number from the environment variable `name`.
fn number(name: &str) -> Option<f64> {
    let value = std::env::var(name).ok()?;
    match value.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Some(n),
        _ => panic!("{name}={value:?} is not a number"),
    }
}

/// A comma-separated list of sizes from the environment variable `name`.
fn sizes(name: &str) -> Option<Vec<usize>> {
    let list = std::env::var(name).ok()?;
    Some(
        list.split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={list:?}: not a list of numbers"))
            })
            .collect(),
    )
}
