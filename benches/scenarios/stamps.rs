//! The stamp file every restart-latency target writes through `stamp`: `PID REALTIME_NS` lines,
//! read as they are appended.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The stamps read so far.
pub struct Stamps {
    path: PathBuf,
    file: Option<File>,
    partial: Vec<u8>,
    by_pid: HashMap<i32, u64>,
    /// The pid of the last line read.
    pub newest: Option<i32>,
}

impl Stamps {
    pub fn new(path: PathBuf) -> Stamps {
        Stamps {
            path,
            file: None,
            partial: Vec::new(),
            by_pid: HashMap::new(),
            newest: None,
        }
    }

    fn poll(&mut self) {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = &mut self.file else { return };
        let mut chunk = Vec::new();
        if file.read_to_end(&mut chunk).is_err() {
            return;
        }
        self.partial.extend_from_slice(&chunk);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        for line in String::from_utf8_lossy(&complete).lines() {
            let mut parts = line.split_whitespace();
            if let (Some(Ok(pid)), Some(Ok(ns))) = (
                parts.next().map(str::parse::<i32>),
                parts.next().map(str::parse::<u64>),
            ) {
                self.by_pid.insert(pid, ns);
                self.newest = Some(pid);
            }
        }
    }

    /// The first stamp of a pid other than `old` (any pid when `None`): pid and time, waiting for
    /// it at most `timeout`.
    pub fn next_after(&mut self, old: Option<i32>, timeout: Duration) -> Option<(i32, u64)> {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll();
            if let Some(pid) = self.newest.filter(|&pid| Some(pid) != old) {
                return Some((pid, self.by_pid[&pid]));
            }
            if Instant::now() >= deadline {
                return None;
            }
            // The stamp holds its own time: reading it late does not change the measurement,
            // and a tight poll would take a CPU from the very child being measured.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
