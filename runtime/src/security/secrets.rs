//! Secrets by name, per tenant. A value is only ever handed to the host
//! code that attaches it to a connection, checks a webhook signature or
//! computes a MAC with it; its `Debug` form is redacted so that it cannot
//! reach a log by accident.
//!
//! [`SecretVault`] keeps tenants' secrets encrypted at rest
//! (`{company}/secrets/{name}.json`, AES-256-GCM with the server's key, the
//! company and name bound in as associated data so a blob cannot be moved
//! to another tenant or name) and decrypted in memory for the host. No API
//! returns a value: secrets are write-only.
//!
//! The server's key is configured (`secrets.key`) or generated at the first
//! start (`platform_keys`). Earlier versions, unconfigured, sealed secrets
//! with a key derived from a constant; [`SecretVault::load_all`] opens such
//! a blob with that key once and seals it again under the server's key, so
//! upgrading loses nothing and leaves nothing under a key anyone can read.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::events::keys;
use crate::store::{ObjectStore, StoreError};

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
        self.values.insert(name.to_string(), SecretValue::new(value));
        self
    }
}

impl SecretSource for StaticSecrets {
    fn get(&self, name: &str) -> Option<SecretValue> {
        self.values.get(name).cloned()
    }
}

/// The tenants' secrets: encrypted in the store, decrypted in memory.
pub struct SecretVault {
    store: Arc<dyn ObjectStore>,
    key: LessSafeKey,
    values: RwLock<HashMap<String, HashMap<String, SecretValue>>>,
}

impl fmt::Debug for SecretVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVault").finish_non_exhaustive()
    }
}

/// What earlier versions derived their unconfigured key from. Only ever
/// used to open a blob sealed with it, which is then sealed again.
const LEGACY_KEY_SEED: &[u8] = b"portitor development secrets key";

fn legacy_key() -> Option<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, &Sha256::digest(LEGACY_KEY_SEED)).ok().map(LessSafeKey::new)
}

/// What [`SecretVault::load_all`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    pub secrets: usize,
    /// Sealed under the legacy key and sealed again under the server's.
    pub resealed: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct SealedSecret {
    alg: String,
    nonce: String,
    ciphertext: String,
}

/// Why a secret could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("secrets.key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error(transparent)]
    Name(#[from] keys::InvalidSegment),
    #[error("a secret value must be 1 to 65536 bytes")]
    BadValue,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn aad(company: &str, name: &str) -> String {
    format!("portitor-secret:{company}/{name}")
}

impl SecretVault {
    /// A vault with `key` (base64 of 32 bytes).
    pub fn new(store: Arc<dyn ObjectStore>, key: &str) -> Result<Self, VaultError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| VaultError::BadKey)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| VaultError::BadKey)?;
        Ok(Self { store, key: LessSafeKey::new(unbound), values: RwLock::default() })
    }

    /// Stores (or replaces) a tenant's secret.
    pub async fn put(&self, company: &str, name: &str, value: &str) -> Result<(), VaultError> {
        keys::check_segment("company", company)?;
        keys::check_segment("secret name", name)?;
        if value.is_empty() || value.len() > 65_536 {
            return Err(VaultError::BadValue);
        }
        self.seal_and_store(company, name, value).await?;
        let mut values = self.values.write().unwrap_or_else(|p| p.into_inner());
        values.entry(company.to_string()).or_default().insert(name.to_string(), SecretValue::new(value));
        Ok(())
    }

    async fn seal_and_store(&self, company: &str, name: &str, value: &str) -> Result<(), VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| VaultError::Store(StoreError::Unavailable("no randomness".into())))?;
        let mut sealed = value.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(company, name).as_bytes()),
                &mut sealed,
            )
            .map_err(|_| VaultError::Store(StoreError::Unavailable("encryption failed".into())))?;
        let blob = SealedSecret {
            alg: "AES-256-GCM".into(),
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(sealed),
        };
        let body = serde_json::to_vec(&blob)
            .map_err(|e| StoreError::Corrupt { key: keys::secret_key(company, name), reason: e.to_string() })?;
        self.store.put(&keys::secret_key(company, name), Bytes::from(body)).await?;
        Ok(())
    }

    /// The names of a tenant's secrets (never their values).
    pub fn names(&self, company: &str) -> Vec<String> {
        let values = self.values.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = values.get(company).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        names.sort();
        names
    }

    /// Loads and decrypts every tenant's secrets; a secret still sealed
    /// under the legacy key is sealed again under this vault's key.
    pub async fn load_all(&self) -> Result<Loaded, VaultError> {
        self.load(&keys::companies(self.store.as_ref()).await?).await
    }

    /// [`SecretVault::load_all`] for the tenants `companies` (the store's,
    /// listed once by a caller that loads more than secrets).
    pub async fn load(&self, companies: &[String]) -> Result<Loaded, VaultError> {
        let mut loaded = Loaded::default();
        let legacy = legacy_key();
        for company in companies {
            let company = company.clone();
            for object in self.store.list(&keys::secrets_prefix(&company)).await? {
                let Some(name) = object.key.rsplit('/').next().and_then(|n| n.strip_suffix(".json")) else {
                    continue;
                };
                let Some(stored) = self.store.get(&object.key).await? else {
                    continue;
                };
                let mut value = open(&self.key, &company, name, &stored.body);
                if value.is_none()
                    && let Some(old) = legacy.as_ref().and_then(|key| open(key, &company, name, &stored.body))
                {
                    self.seal_and_store(&company, name, old.expose()).await?;
                    tracing::info!(key = %object.key, "a secret sealed under the legacy built-in key is now sealed under this server's key");
                    loaded.resealed += 1;
                    value = Some(old);
                }
                match value {
                    Some(value) => {
                        let mut values = self.values.write().unwrap_or_else(|p| p.into_inner());
                        values.entry(company.clone()).or_default().insert(name.to_string(), value);
                        loaded.secrets += 1;
                    }
                    None => {
                        tracing::error!(key = %object.key, "a stored secret cannot be decrypted with this server's secrets.key")
                    }
                }
            }
        }
        Ok(loaded)
    }

    /// The secrets of one tenant, as plugins' hosts see them.
    pub fn tenant(self: &Arc<Self>, company: &str) -> Arc<dyn SecretSource> {
        Arc::new(TenantSecrets { vault: self.clone(), company: company.to_string() })
    }

    fn get(&self, company: &str, name: &str) -> Option<SecretValue> {
        let values = self.values.read().unwrap_or_else(|p| p.into_inner());
        values.get(company).and_then(|m| m.get(name)).cloned()
    }
}

/// The value in a sealed blob, if `key` opens it.
fn open(key: &LessSafeKey, company: &str, name: &str, body: &[u8]) -> Option<SecretValue> {
    let blob: SealedSecret = serde_json::from_slice(body).ok()?;
    let nonce: [u8; NONCE_LEN] = STANDARD.decode(blob.nonce).ok()?.try_into().ok()?;
    let mut sealed = STANDARD.decode(blob.ciphertext).ok()?;
    let plain = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad(company, name).as_bytes()), &mut sealed)
        .ok()?;
    Some(SecretValue::new(std::str::from_utf8(plain).ok()?))
}

/// One tenant's view of the vault: it can never read another tenant's secrets.
#[derive(Debug)]
struct TenantSecrets {
    vault: Arc<SecretVault>,
    company: String,
}

impl SecretSource for TenantSecrets {
    fn get(&self, name: &str) -> Option<SecretValue> {
        self.vault.get(&self.company, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::FsStore;

    #[tokio::test]
    async fn secrets_are_encrypted_at_rest_and_scoped_to_their_tenant() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let key = STANDARD.encode([7u8; 32]);
        let vault = Arc::new(SecretVault::new(store.clone(), &key).expect("vault"));
        vault.put("acme", "api-key", "s3cr3t-value-123").await.expect("put");

        let stored = std::fs::read(dir.path().join("acme/secrets/api-key.json")).expect("stored");
        assert!(!String::from_utf8_lossy(&stored).contains("s3cr3t-value-123"), "stored in plain text");
        assert_eq!(
            vault.tenant("acme").get("api-key").map(|v| v.expose().to_string()).as_deref(),
            Some("s3cr3t-value-123")
        );
        assert!(vault.tenant("globex").get("api-key").is_none());
        assert_eq!(vault.names("acme"), ["api-key"]);

        // A fresh vault with the same key reads it back; another key cannot.
        drop(vault);
        let reloaded = Arc::new(SecretVault::new(store.clone(), &key).expect("vault"));
        assert_eq!(reloaded.load_all().await.expect("load").secrets, 1);
        assert!(reloaded.tenant("acme").get("api-key").is_some());
        let wrong = Arc::new(SecretVault::new(store.clone(), &STANDARD.encode([8u8; 32])).expect("vault"));
        assert_eq!(wrong.load_all().await.expect("load").secrets, 0);

        // A blob moved to another tenant does not decrypt there.
        std::fs::create_dir_all(dir.path().join("globex/secrets")).expect("mkdir");
        std::fs::write(dir.path().join("globex/secrets/api-key.json"), &stored).expect("copy");
        let moved = Arc::new(SecretVault::new(store, &key).expect("vault"));
        assert_eq!(moved.load_all().await.expect("load").secrets, 1, "only acme's copy decrypts");
        assert!(moved.tenant("globex").get("api-key").is_none());
    }

    #[tokio::test]
    async fn secrets_sealed_under_the_legacy_key_are_sealed_again_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        // What an earlier, unconfigured server wrote.
        let legacy = STANDARD.encode(Sha256::digest(LEGACY_KEY_SEED));
        let old = SecretVault::new(store.clone(), &legacy).expect("vault");
        old.put("acme", "api-key", "kept-across-the-upgrade").await.expect("put");

        let key = STANDARD.encode([9u8; 32]);
        let vault = SecretVault::new(store.clone(), &key).expect("vault");
        assert_eq!(vault.load_all().await.expect("load"), Loaded { secrets: 1, resealed: 1 });
        assert_eq!(
            vault.get("acme", "api-key").map(|v| v.expose().to_string()).as_deref(),
            Some("kept-across-the-upgrade")
        );
        // Sealed under the new key now: the legacy key opens nothing, a second start reseals nothing.
        let stored = store.get("acme/secrets/api-key.json").await.expect("get").expect("kept");
        assert!(open(&legacy_key().expect("legacy"), "acme", "api-key", &stored.body).is_none());
        let again = SecretVault::new(store, &key).expect("vault");
        assert_eq!(again.load_all().await.expect("load"), Loaded { secrets: 1, resealed: 0 });
    }
}
