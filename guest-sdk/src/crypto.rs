//! Digests and MACs. A [`Key::secret`] names a secret the manifest grants;
//! the host computes with it and its value never enters the sandbox.

use crate::__bindings::portitor::plugin::crypto;
use crate::PluginError;

pub use crypto::Key;

impl Key {
    /// A secret held by the host, by name.
    pub fn secret(name: &str) -> Self {
        Key::Secret(name.to_string())
    }
}

fn unknown(e: crypto::CryptoError) -> PluginError {
    match e {
        crypto::CryptoError::UnknownSecret(name) => {
            PluginError::Fatal(format!("the manifest grants no secret named `{name}`"))
        }
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    crypto::sha256(data)
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &Key, data: &[u8]) -> Result<Vec<u8>, PluginError> {
    crypto::hmac_sha256(key, data).map_err(unknown)
}

/// Whether `mac` is the HMAC-SHA256 of `data` under `key`, compared in constant time.
pub fn verify_hmac_sha256(key: &Key, data: &[u8], mac: &[u8]) -> Result<bool, PluginError> {
    crypto::verify_hmac_sha256(key, data, mac).map_err(unknown)
}

/// Compares `a` and `b` in constant time.
pub fn constant_time_equal(a: &[u8], b: &[u8]) -> bool {
    crypto::constant_time_equal(a, b)
}
