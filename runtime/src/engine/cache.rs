//! The disk cache of compiled components, keyed by the component's SHA-256
//! and the engine's compatibility fingerprint: loading a plugin that was
//! compiled before skips Cranelift entirely.
//!
//! Entries are written to a temporary file and renamed into place, so a
//! reader never sees half an entry. An entry that fails to load (corrupt,
//! or from another engine build) is compiled again and replaced.
//!
//! Only a component that passed its kind check is kept ([`CompileCache::remember`]
//! after the engine's checks), so uploads that are refused cannot fill the
//! disk; and the cache is bounded: past its size the least recently used
//! entries go (a hit refreshes an entry's modification time).

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Debug, Clone)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    fingerprint: String,
    max_bytes: u64,
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    Cache,
    Compiled,
}

impl CompileCache {
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>, max_bytes: u64) -> Self {
        // SipHash with fixed keys: stable for a given build of Portitor, which
        // is all that matters since a different build gets a different hash.
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self { dir, fingerprint: format!("{:016x}", hasher.finish()), max_bytes }
    }

    fn path(&self, dir: &std::path::Path, sha256: &str) -> PathBuf {
        dir.join(format!("{sha256}-{}.cwasm", self.fingerprint))
    }

    /// The component for `bytes` (whose SHA-256 is `sha256`), from the cache
    /// when present, else compiled (and not yet kept: see [`Self::remember`]).
    pub(crate) fn load(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CompileSource)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, bytes)?, CompileSource::Compiled));
        };
        let path = self.path(dir, sha256);
        if path.exists() {
            // SAFETY: the cache directory belongs to the runtime (plugins
            // cannot write there) and entries are only ever written whole by
            // `store` below from `Component::serialize` of this engine build,
            // which the fingerprint in the file name pins.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    // Recently used: the last to go when the cache is full.
                    let _ = std::fs::File::open(&path).and_then(|f| f.set_modified(std::time::SystemTime::now()));
                    return Ok((component, CompileSource::Cache));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "compiled component unusable; compiling again")
                }
            }
        }
        Ok((Component::new(engine, bytes)?, CompileSource::Compiled))
    }

    /// Keeps a compiled component that passed its checks, then trims the
    /// cache to its size, least recently used first.
    pub(crate) fn remember(&self, sha256: &str, component: &Component) {
        let Some(dir) = &self.dir else { return };
        let path = self.path(dir, sha256);
        if let Err(e) = store(&path, component) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled component");
            return;
        }
        if let Err(e) = trim(dir, self.max_bytes) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not trim the compile cache");
        }
    }
}

/// Deletes the least recently used entries until `dir` holds at most `max_bytes`.
fn trim(dir: &std::path::Path, max_bytes: u64) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_entry = entry.file_name().to_str().is_some_and(|name| name.ends_with(".cwasm"));
        let metadata = entry.metadata()?;
        if is_entry && metadata.is_file() {
            entries.push((metadata.modified()?, metadata.len(), entry.path()));
        }
    }
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    entries.sort();
    for (_, len, path) in entries {
        if total <= max_bytes {
            break;
        }
        std::fs::remove_file(&path)?;
        total -= len;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_the_most_recently_used_entries_within_its_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, len: usize, age_secs: u64| {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![0u8; len]).expect("write");
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
            std::fs::File::options().write(true).open(&path).expect("open").set_modified(when).expect("mtime");
        };
        write("old.cwasm", 400, 300);
        write("used.cwasm", 400, 100);
        write("new.cwasm", 400, 0);
        write("unrelated.txt", 5000, 500);
        trim(dir.path(), 900).expect("trim");
        assert!(!dir.path().join("old.cwasm").exists(), "least recently used goes first");
        assert!(dir.path().join("used.cwasm").exists() && dir.path().join("new.cwasm").exists());
        assert!(dir.path().join("unrelated.txt").exists(), "only cache entries are counted and removed");
    }
}
