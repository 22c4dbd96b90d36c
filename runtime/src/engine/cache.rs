//! The disk cache of compiled components, keyed by the component's SHA-256
//! and the engine's compatibility fingerprint: loading a plugin that was
//! compiled before skips Cranelift entirely.
//!
//! Entries are written to a temporary file and renamed into place, so a
//! reader never sees half an entry. An entry that fails to load (corrupt,
//! or from another engine build) is compiled again and replaced.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Debug, Clone)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    fingerprint: String,
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    Cache,
    Compiled,
}

impl CompileCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        // SipHash with fixed keys: stable for a given build of Portitor, which
        // is all that matters since a different build gets a different hash.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self { dir, fingerprint: format!("{:016x}", hasher.finish()) }
    }

    /// The component for `bytes` (whose SHA-256 is `sha256`), from the cache
    /// when present, else compiled and stored.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CompileSource)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, CompileSource::Compiled));
        };
        let path = dir.join(format!("{sha256}-{}.cwasm", self.fingerprint));
        if path.exists() {
            // SAFETY: the cache directory belongs to the runtime (plugins
            // cannot write there) and entries are only ever written whole by
            // `store` below from `Component::serialize` of this engine build,
            // which the fingerprint in the file name pins.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CompileSource::Cache)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "compiled component unusable; compiling again")
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = store(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled component");
        }
        Ok((component, CompileSource::Compiled))
    }
}

fn store(path: &std::path::Path, component: &Component) -> anyhow::Result<()> {
    let dir = path.parent().ok_or_else(|| anyhow::anyhow!("cache path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    let tmp = dir.join(format!(".{}.{}.tmp", uuid::Uuid::new_v4(), std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
