//! The `fs` backend: a directory, the embedded default for one machine.
//!
//! Durability: every write goes to a temporary file that is fsynced, then
//! moved into place (`rename` for `put`, `link` for `create_once`, which
//! fails atomically if the key exists), then the directory is fsynced —
//! and so is the parent of every directory created on the way. A write
//! that returned survives a crash or power loss.
//!
//! Entity tags are the SHA-256 of the content. Compare-and-swap holds a
//! lock on the key for its read-compare-write; one process owns a data
//! directory at a time (an exclusive lock on `.lock`), so these in-process
//! locks are enough.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{
    CasOutcome, ConditionalWrites, CreateOutcome, Object, ObjectMeta, ObjectStore, StoreError, validate_key,
    validate_prefix,
};

/// Stripes of key locks for compare-and-swap.
const LOCK_STRIPES: usize = 256;
const TMP_DIR: &str = ".tmp";
const LOCK_FILE: &str = ".lock";

#[derive(Debug, Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    tmp: PathBuf,
    stripes: Vec<Mutex<()>>,
    /// Held for the life of the store: one process per data directory.
    _lock: File,
}

impl FsStore {
    /// Opens (creating if needed) the store in `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let unavailable = |what: &str, e: io::Error| StoreError::Unavailable(format!("{what} {}: {e}", root.display()));
        fs::create_dir_all(&root).map_err(|e| unavailable("cannot create", e))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join(LOCK_FILE))
            .map_err(|e| unavailable("cannot open the lock file in", e))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Unavailable(format!(
                "another Portitor process is using the data directory {}",
                root.display()
            )));
        }
        let tmp = root.join(TMP_DIR);
        // Leftovers of writes a crash interrupted were never acknowledged.
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| unavailable("cannot create the temporary directory in", e))?;
        let stripes = (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect();
        Ok(Self { inner: Arc::new(Inner { root, tmp, stripes, _lock: lock }) })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

fn etag_of(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn io_error(key: &str, e: io::Error) -> StoreError {
    StoreError::Unavailable(format!("{key}: {e}"))
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Inner {
    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn stripe(&self, key: &str) -> &Mutex<()> {
        let hash = Sha256::digest(key.as_bytes());
        &self.stripes[usize::from(hash[0]) % LOCK_STRIPES]
    }

    /// Creates `dir` and any missing parents, fsyncing each new entry.
    fn ensure_dir(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let parent = dir.parent().ok_or_else(|| io::Error::other("no parent directory"))?;
        self.ensure_dir(parent)?;
        match fs::create_dir(dir) {
            Ok(()) => fsync_dir(parent),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes `body` to a fresh temporary file and fsyncs it.
    fn write_temp(&self, body: &[u8]) -> io::Result<PathBuf> {
        let tmp = self.tmp.join(uuid::Uuid::new_v4().to_string());
        let mut file = File::create_new(&tmp)?;
        file.write_all(body)?;
        file.sync_data()?;
        Ok(tmp)
    }

    fn put(&self, key: &str, body: &[u8]) -> Result<String, StoreError> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        let write = || -> io::Result<()> {
            self.ensure_dir(&parent)?;
            let tmp = self.write_temp(body)?;
            fs::rename(&tmp, &path)?;
            fsync_dir(&parent)
        };
        write().map_err(|e| io_error(key, e))?;
        Ok(etag_of(body))
    }

    fn create_once(&self, key: &str, body: &[u8]) -> Result<CreateOutcome, StoreError> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        if path.exists() {
            return Ok(CreateOutcome::Exists);
        }
        let result = (|| -> io::Result<CreateOutcome> {
            self.ensure_dir(&parent)?;
            let tmp = self.write_temp(body)?;
            let linked = fs::hard_link(&tmp, &path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    fsync_dir(&parent)?;
                    Ok(CreateOutcome::Created { etag: etag_of(body) })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(CreateOutcome::Exists),
                Err(e) => Err(e),
            }
        })();
        result.map_err(|e| io_error(key, e))
    }

    fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        match fs::read(self.path(key)) {
            Ok(body) => Ok(Some(Object { etag: etag_of(&body), body: Bytes::from(body) })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // A key whose "parent" is a file: nothing is stored there.
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(io_error(key, e)),
        }
    }

    fn compare_and_swap(&self, key: &str, expected: Option<&str>, body: &[u8]) -> Result<CasOutcome, StoreError> {
        let _guard = self.stripe(key).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.get(key)?;
        let matches = match (&current, expected) {
            (None, None) => true,
            (Some(object), Some(etag)) => object.etag == etag,
            _ => false,
        };
        if !matches {
            return Ok(CasOutcome::Conflict);
        }
        let etag = self.put(key, body)?;
        Ok(CasOutcome::Swapped { etag })
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => {
                let parent = path.parent().unwrap_or(&self.root);
                fsync_dir(parent).map_err(|e| io_error(key, e))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(key, e)),
        }
    }

    fn list_children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = if prefix.is_empty() { self.root.clone() } else { self.root.join(prefix.trim_end_matches('/')) };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(io_error(prefix, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(prefix, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && (name == TMP_DIR || name == LOCK_FILE) {
                continue;
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let start = if dir_part.is_empty() { self.root.clone() } else { self.root.join(dir_part) };
        let mut found = Vec::new();
        let mut pending = vec![start];
        while let Some(dir) = pending.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                    continue;
                }
                Err(e) => return Err(io_error(prefix, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_error(prefix, e))?;
                let path = entry.path();
                let Ok(relative) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = relative.to_string_lossy().replace('\\', "/");
                if key == TMP_DIR || key == LOCK_FILE {
                    continue;
                }
                let file_type = entry.file_type().map_err(|e| io_error(prefix, e))?;
                if file_type.is_dir() {
                    // Only descend where keys under the prefix can be.
                    if key.starts_with(prefix) || prefix.starts_with(&format!("{key}/")) {
                        pending.push(path);
                    }
                } else if key.starts_with(prefix) {
                    let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    found.push(ObjectMeta { key, size });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }
}

#[async_trait]
impl ObjectStore for FsStore {
    async fn put(&self, key: &str, body: Bytes) -> Result<String, StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.blocking(move |inner| inner.put(&key, &body)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.blocking(move |inner| inner.get(&key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        validate_prefix(prefix)?;
        let prefix = prefix.to_string();
        self.blocking(move |inner| inner.list(&prefix)).await
    }

    async fn list_children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if !prefix.is_empty() {
            validate_prefix(prefix)?;
        }
        let prefix = prefix.to_string();
        self.blocking(move |inner| inner.list_children(&prefix)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.blocking(move |inner| inner.delete(&key)).await
    }

    async fn create_once(&self, key: &str, body: Bytes) -> Result<CreateOutcome, StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.blocking(move |inner| inner.create_once(&key, &body)).await
    }

    async fn compare_and_swap(&self, key: &str, expected: Option<&str>, body: Bytes) -> Result<CasOutcome, StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        let expected = expected.map(str::to_string);
        self.blocking(move |inner| inner.compare_and_swap(&key, expected.as_deref(), &body)).await
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::Native
    }

    fn describe(&self) -> String {
        format!("fs:{}", self.inner.root.display())
    }
}
