//! `log`: a plugin's log lines, tagged with tenant, plugin, version and
//! invocation, capped per invocation, and scrubbed of the plugin's secrets.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use wasmtime::component::{HasSelf, Linker};

use super::HostState;
use crate::engine::bindings::log::{self, Level};

/// A log level, as plugins and operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One line a plugin wrote.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub company: String,
    pub plugin: String,
    pub version: String,
    pub invocation: String,
    pub message: String,
}

/// Where plugin log lines go besides `tracing` (e.g. a bounded buffer the
/// admin API serves).
pub trait LogSink: Send + Sync + std::fmt::Debug {
    fn record(&self, line: LogLine);
}

/// How much one invocation may still log.
#[derive(Debug)]
pub(crate) struct LogBudget {
    remaining: usize,
    truncated: bool,
}

impl LogBudget {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self { remaining: max_bytes, truncated: false }
    }
}

const REDACTED: &str = "[redacted]";

impl HostState {
    /// Records a line from the plugin (or about it) if the budget allows.
    pub(crate) fn write_log(&mut self, level: LogLevel, message: &str) {
        let budget = &mut self.invocation.log;
        if budget.truncated {
            return;
        }
        let message = if message.len() > budget.remaining {
            budget.truncated = true;
            "log budget of this invocation exhausted; further lines dropped".to_string()
        } else {
            budget.remaining -= message.len();
            self.plugin.scrub(message)
        };
        let label = &self.plugin.label;
        let invocation = &self.invocation.id;
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "plugin", company = %label.company, plugin = %label.plugin, version = %label.short_version(), invocation = %invocation, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "plugin", company = %label.company, plugin = %label.plugin, version = %label.short_version(), invocation = %invocation, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "plugin", company = %label.company, plugin = %label.plugin, version = %label.short_version(), invocation = %invocation, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "plugin", company = %label.company, plugin = %label.plugin, version = %label.short_version(), invocation = %invocation, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "plugin", company = %label.company, plugin = %label.plugin, version = %label.short_version(), invocation = %invocation, "{message}")
            }
        }
        if let Some(sink) = &self.invocation.log_sink {
            sink.record(LogLine {
                at: Utc::now(),
                level,
                company: label.company.clone(),
                plugin: label.plugin.clone(),
                version: label.version.clone(),
                invocation: invocation.clone(),
                message,
            });
        }
    }
}

/// Replaces each of `secrets` in `text` with a marker.
pub(crate) fn scrub(text: &str, secrets: &[Arc<str>]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        // Very short values would redact innocent text and reveal little anyway.
        if secret.len() >= 4 && out.contains(&**secret) {
            out = out.replace(&**secret, REDACTED);
        }
    }
    out
}

impl log::Host for HostState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.write_log(level, &message);
        Ok(())
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    log::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_replaces_every_secret() {
        let secrets: Vec<Arc<str>> = vec!["s3cr3t-key".into(), "ab".into()];
        assert_eq!(scrub("key=s3cr3t-key&x=s3cr3t-key ab", &secrets), "key=[redacted]&x=[redacted] ab");
    }
}
