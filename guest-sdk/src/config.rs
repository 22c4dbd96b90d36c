//! The plugin's configuration values from its manifest (never secrets,
//! unless the manifest explicitly exposes one).

use crate::__bindings::portitor::plugin::config;
use crate::PluginError;

/// The value of `key`, if the manifest sets it.
pub fn get(key: &str) -> Option<String> {
    config::get(key)
}

/// The value of `key`, or a fatal error naming the missing key.
pub fn require(key: &str) -> Result<String, PluginError> {
    get(key).ok_or_else(|| PluginError::Fatal(format!("configuration value `{key}` is not set")))
}

/// The value of `key` parsed as `T`, or `default` when it is not set.
pub fn parse_or<T: std::str::FromStr>(key: &str, default: T) -> Result<T, PluginError> {
    match get(key) {
        None => Ok(default),
        Some(raw) => {
            raw.parse().map_err(|_| PluginError::Fatal(format!("configuration value `{key}` = `{raw}` is not valid")))
        }
    }
}

/// Every configuration value, as (key, value) pairs.
pub fn all() -> Vec<(String, String)> {
    config::all()
}
