//! Secrets by name, for one tenant. A value is only ever handed to the host
//! code that attaches it to a connection or computes a MAC with it; its
//! `Debug` form is redacted so that it cannot reach a log by accident.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A secret's value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Arc<str>);

impl SecretValue {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// The value, for the host code that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

/// Where a plugin's secrets come from: one tenant's secrets.
pub trait SecretSource: Send + Sync + fmt::Debug {
    fn get(&self, name: &str) -> Option<SecretValue>;
}

/// Secrets held in memory: development, the demo and tests.
#[derive(Debug, Clone, Default)]
pub struct StaticSecrets {
    values: HashMap<String, SecretValue>,
}

impl StaticSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values
            .insert(name.to_string(), SecretValue::new(value));
        self
    }
}

impl SecretSource for StaticSecrets {
    fn get(&self, name: &str) -> Option<SecretValue> {
        self.values.get(name).cloned()
    }
}
