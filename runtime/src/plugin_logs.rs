//! Plugins' recent log lines, kept in a bounded buffer per plugin for
//! `GET /{company}/plugins/{id}/logs`. Lines arrive already scrubbed of the
//! plugin's secrets (`host::log`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::host::{LogLine, LogSink};

/// Lines kept per plugin.
const LINES_PER_PLUGIN: usize = 1_000;

#[derive(Debug, Default)]
pub struct PluginLogs {
    lines: Mutex<HashMap<(String, String), VecDeque<LogLine>>>,
}

impl PluginLogs {
    /// The newest `limit` lines of `company`'s `plugin`, oldest first.
    pub fn recent(&self, company: &str, plugin: &str, limit: usize) -> Vec<LogLine> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let Some(buffer) = lines.get(&(company.to_string(), plugin.to_string())) else { return Vec::new() };
        buffer.iter().skip(buffer.len().saturating_sub(limit)).cloned().collect()
    }
}

impl LogSink for PluginLogs {
    fn record(&self, line: LogLine) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = lines.entry((line.company.clone(), line.plugin.clone())).or_default();
        if buffer.len() == LINES_PER_PLUGIN {
            buffer.pop_front();
        }
        buffer.push_back(line);
    }
}
