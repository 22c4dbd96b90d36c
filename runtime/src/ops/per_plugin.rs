//! In-memory state kept per tenant and plugin id (activity counters, recent
//! log lines), looked up by `&str` so that the hot path allocates no key
//! once a plugin has been seen, and forgotten with the plugin.

use std::collections::HashMap;

#[derive(Debug)]
pub struct PerPlugin<V> {
    tenants: HashMap<String, HashMap<String, V>>,
}

impl<V> Default for PerPlugin<V> {
    fn default() -> Self {
        Self { tenants: HashMap::new() }
    }
}

impl<V: Default> PerPlugin<V> {
    /// `company`'s `plugin`'s value, created empty on first use.
    pub fn entry(&mut self, company: &str, plugin: &str) -> &mut V {
        // Looked up before inserting, so that a known key is not allocated.
        if !self.tenants.contains_key(company) {
            self.tenants.insert(company.to_string(), HashMap::new());
        }
        let plugins = self.tenants.get_mut(company).unwrap_or_else(|| unreachable!("inserted above"));
        if !plugins.contains_key(plugin) {
            plugins.insert(plugin.to_string(), V::default());
        }
        plugins.get_mut(plugin).unwrap_or_else(|| unreachable!("inserted above"))
    }
}

impl<V> PerPlugin<V> {
    pub fn get(&self, company: &str, plugin: &str) -> Option<&V> {
        self.tenants.get(company)?.get(plugin)
    }

    /// Forgets a deleted plugin: a new plugin with the same id starts afresh.
    pub fn forget(&mut self, company: &str, plugin: &str) {
        if let Some(plugins) = self.tenants.get_mut(company) {
            plugins.remove(plugin);
            if plugins.is_empty() {
                self.tenants.remove(company);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_per_tenant_and_forgotten_with_their_plugin() {
        let mut counts = PerPlugin::<u32>::default();
        *counts.entry("acme", "shop") += 2;
        *counts.entry("globex", "shop") += 1;
        assert_eq!(counts.get("acme", "shop"), Some(&2));
        counts.forget("acme", "shop");
        assert_eq!(counts.get("acme", "shop"), None);
        assert_eq!(counts.get("globex", "shop"), Some(&1), "another tenant's plugin of the same id is kept");
        assert!(!counts.tenants.contains_key("acme"), "an empty tenant is dropped");
    }
}
