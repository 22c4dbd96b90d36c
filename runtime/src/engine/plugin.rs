//! What the host keeps per loaded plugin version and shares with every
//! invocation of it: identity, manifest, limits, egress policy, HTTP client
//! and the tenant's secrets.

use std::fmt;
use std::sync::Arc;

use crate::host::egress::EgressPolicy;
use crate::plugins::manifest::{Limits, Manifest};
use crate::security::secrets::{SecretSource, SecretValue};

/// Which plugin: tenant, plugin id and version (the component's SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginLabel {
    pub company: String,
    pub plugin: String,
    pub version: String,
}

impl PluginLabel {
    pub fn new(company: impl Into<String>, plugin: impl Into<String>, version: impl Into<String>) -> Self {
        Self { company: company.into(), plugin: plugin.into(), version: version.into() }
    }

    /// The first 12 hex digits of the version, for logs and messages.
    pub fn short_version(&self) -> &str {
        &self.version[..self.version.len().min(12)]
    }
}

impl fmt::Display for PluginLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin {}/{}@{}", self.company, self.plugin, self.short_version())
    }
}

pub(crate) struct PluginShared {
    pub(crate) label: PluginLabel,
    pub(crate) manifest: Manifest,
    pub(crate) limits: Limits,
    pub(crate) egress: Arc<EgressPolicy>,
    pub(crate) http_client: reqwest::Client,
    secrets: Arc<dyn SecretSource>,
}

impl PluginShared {
    pub(crate) fn new(
        label: PluginLabel,
        manifest: Manifest,
        limits: Limits,
        egress: Arc<EgressPolicy>,
        http_client: reqwest::Client,
        secrets: Arc<dyn SecretSource>,
    ) -> Self {
        Self { label, manifest, limits, egress, http_client, secrets }
    }

    /// A secret the manifest refers to (connections, webhook auth), for host code.
    pub(crate) fn secret(&self, name: &str) -> Option<SecretValue> {
        if self.manifest.secret_names().contains(&name) { self.secrets.get(name) } else { None }
    }

    /// A secret the plugin may use as a `crypto` key.
    pub(crate) fn crypto_key(&self, name: &str) -> Option<SecretValue> {
        let granted = self.manifest.secrets.keys.iter().chain(&self.manifest.secrets.expose).any(|k| k == name);
        if granted { self.secrets.get(name) } else { None }
    }

    /// A configuration value, or a secret the manifest exposes under its name.
    pub(crate) fn config_value(&self, key: &str) -> Option<String> {
        if let Some(value) = self.manifest.config.get(key) {
            return Some(value.clone());
        }
        if self.manifest.secrets.expose.iter().any(|name| name == key) {
            return self.secrets.get(key).map(|s| s.expose().to_string());
        }
        None
    }

    pub(crate) fn config_values(&self) -> Vec<(String, String)> {
        let mut values: Vec<(String, String)> =
            self.manifest.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for name in &self.manifest.secrets.expose {
            if let Some(secret) = self.secrets.get(name) {
                values.push((name.clone(), secret.expose().to_string()));
            }
        }
        values
    }

    /// `text` with every secret this plugin can reach replaced by a marker.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let values: Vec<Arc<str>> = self
            .manifest
            .secret_names()
            .into_iter()
            .filter_map(|name| self.secrets.get(name))
            .map(|secret| Arc::from(secret.expose()))
            .collect();
        crate::host::log::scrub(text, &values)
    }
}
