//! Plugins' recent log lines, kept in a bounded buffer per plugin for
//! `GET /{company}/plugins/{id}/logs`. Lines arrive already scrubbed of the
//! plugin's secrets (`host::log`).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::host::{LogLine, LogSink};
use crate::ops::per_plugin::PerPlugin;

/// Lines kept per plugin.
const LINES_PER_PLUGIN: usize = 1_000;

#[derive(Debug, Default)]
pub struct PluginLogs {
    lines: Mutex<PerPlugin<VecDeque<LogLine>>>,
}

impl PluginLogs {
    /// The newest `limit` lines of `company`'s `plugin`, oldest first.
    pub fn recent(&self, company: &str, plugin: &str, limit: usize) -> Vec<LogLine> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let Some(buffer) = lines.get(company, plugin) else { return Vec::new() };
        buffer.iter().skip(buffer.len().saturating_sub(limit)).cloned().collect()
    }

    /// Forgets a deleted plugin's lines: a new plugin with the same id
    /// does not show them.
    pub fn forget(&self, company: &str, plugin: &str) {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).forget(company, plugin);
    }
}

impl LogSink for PluginLogs {
    fn record(&self, line: LogLine) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = lines.entry(&line.company, &line.plugin);
        if buffer.len() == LINES_PER_PLUGIN {
            buffer.pop_front();
        }
        buffer.push_back(line);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::host::LogLevel;

    fn line(company: &str, plugin: &str, message: &str) -> LogLine {
        LogLine {
            at: Utc::now(),
            level: LogLevel::Info,
            company: company.into(),
            plugin: plugin.into(),
            version: "v1".into(),
            invocation: "i1".into(),
            message: message.into(),
        }
    }

    #[test]
    fn lines_are_kept_per_tenant_bounded_and_forgotten_on_delete() {
        let logs = PluginLogs::default();
        for n in 0..LINES_PER_PLUGIN + 5 {
            logs.record(line("acme", "shop", &format!("line {n}")));
        }
        logs.record(line("globex", "shop", "theirs"));
        let recent = logs.recent("acme", "shop", 2000);
        assert_eq!(recent.len(), LINES_PER_PLUGIN);
        assert_eq!(recent.last().map(|l| l.message.as_str()), Some(format!("line {}", LINES_PER_PLUGIN + 4).as_str()));
        assert_eq!(recent[0].message, "line 5", "the oldest lines went first");
        logs.forget("acme", "shop");
        assert!(logs.recent("acme", "shop", 10).is_empty());
        assert_eq!(logs.recent("globex", "shop", 10).len(), 1, "another tenant's plugin of the same id is kept");
    }
}
