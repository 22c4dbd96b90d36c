//! `crypto`: digests and MACs. Keys may name secrets the manifest grants
//! (`secrets.keys`); the host computes with them inside, so their values
//! never cross into the sandbox.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wasmtime::component::{HasSelf, Linker};

use super::HostState;
use crate::engine::bindings::crypto::{self, CryptoError, Key};

impl HostState {
    fn key_bytes(&self, key: Key) -> Result<Vec<u8>, CryptoError> {
        match key {
            Key::Bytes(bytes) => Ok(bytes),
            Key::Secret(name) => self
                .plugin
                .crypto_key(&name)
                .map(|secret| secret.expose().as_bytes().to_vec())
                .ok_or(CryptoError::UnknownSecret(name)),
        }
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    crate::security::webhooks::hmac_sha256(key, &[data])
}

impl crypto::Host for HostState {
    async fn sha256(&mut self, data: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        Ok(Sha256::digest(&data).to_vec())
    }

    async fn hmac_sha256(&mut self, key: Key, data: Vec<u8>) -> wasmtime::Result<Result<Vec<u8>, CryptoError>> {
        Ok(self.key_bytes(key).map(|key| hmac_sha256(&key, &data)))
    }

    async fn verify_hmac_sha256(
        &mut self,
        key: Key,
        data: Vec<u8>,
        mac: Vec<u8>,
    ) -> wasmtime::Result<Result<bool, CryptoError>> {
        Ok(self.key_bytes(key).map(|key| bool::from(hmac_sha256(&key, &data).ct_eq(&mac))))
    }

    async fn constant_time_equal(&mut self, a: Vec<u8>, b: Vec<u8>) -> wasmtime::Result<bool> {
        Ok(bool::from(a.ct_eq(&b)))
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    crypto::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}
