//! What each plugin has been doing, for operators: calls, failures, the
//! last call and the last error. Counted in memory since the process
//! started (a restart begins again); the run history and dead letters in
//! the store keep the lasting record.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub calls: u64,
    pub failures: u64,
    pub last_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
pub struct PluginActivity {
    plugins: Mutex<HashMap<(String, String), Activity>>,
}

impl PluginActivity {
    /// Counts a call of `company`'s `plugin` (a webhook handled, a run done).
    pub fn record(&self, company: &str, plugin: &str, error: Option<&str>) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|p| p.into_inner());
        let activity = plugins.entry((company.to_string(), plugin.to_string())).or_default();
        activity.calls += 1;
        activity.last_at = Some(Utc::now());
        if let Some(error) = error {
            activity.failures += 1;
            activity.last_error = Some(error.chars().take(500).collect());
        }
    }

    pub fn get(&self, company: &str, plugin: &str) -> Activity {
        let plugins = self.plugins.lock().unwrap_or_else(|p| p.into_inner());
        plugins.get(&(company.to_string(), plugin.to_string())).cloned().unwrap_or_default()
    }
}
