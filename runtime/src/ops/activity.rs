//! What each plugin has been doing, for operators: calls, failures, the
//! last call and the last error. Counted in memory since the process
//! started (a restart begins again); the run history and dead letters in
//! the store keep the lasting record.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ops::per_plugin::PerPlugin;

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
    plugins: Mutex<PerPlugin<Activity>>,
}

impl PluginActivity {
    /// Counts a call of `company`'s `plugin` (a webhook handled, a run done).
    pub fn record(&self, company: &str, plugin: &str, error: Option<&str>) {
        let mut plugins = self.plugins.lock().unwrap_or_else(|p| p.into_inner());
        let activity = plugins.entry(company, plugin);
        activity.calls += 1;
        activity.last_at = Some(Utc::now());
        if let Some(error) = error {
            activity.failures += 1;
            activity.last_error = Some(error.chars().take(500).collect());
        }
    }

    pub fn get(&self, company: &str, plugin: &str) -> Activity {
        let plugins = self.plugins.lock().unwrap_or_else(|p| p.into_inner());
        plugins.get(company, plugin).cloned().unwrap_or_default()
    }

    /// Forgets a deleted plugin: a new plugin with the same id starts afresh.
    pub fn forget(&self, company: &str, plugin: &str) {
        self.plugins.lock().unwrap_or_else(|p| p.into_inner()).forget(company, plugin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_failures_are_counted_per_tenant_and_forgotten_on_delete() {
        let activity = PluginActivity::default();
        activity.record("acme", "shop", None);
        activity.record("acme", "shop", Some("boom"));
        activity.record("globex", "shop", None);
        let acme = activity.get("acme", "shop");
        assert_eq!((acme.calls, acme.failures, acme.last_error.as_deref()), (2, 1, Some("boom")));
        assert_eq!(activity.get("globex", "shop").calls, 1);
        activity.forget("acme", "shop");
        assert_eq!(activity.get("acme", "shop").calls, 0);
        assert_eq!(activity.get("globex", "shop").calls, 1, "another tenant's plugin of the same id is kept");
    }
}
