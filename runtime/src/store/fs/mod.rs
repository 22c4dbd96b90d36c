//! The `fs` backend: a directory, the embedded default for one machine.
//!
//! Durability: every write goes to a temporary file, then is moved into
//! place (`rename` for `put`, `link` for `create_once`, which fails
//! atomically if the key exists). A write that returned survives a crash
//! or power loss, made so in one of three ways ([`FsSync`]):
//! - `journal` (the default, docs/decisions/0037-fs-journal.md): the
//!   change is recorded in a write-ahead journal and put in place,
//!   unsynced, once the journal is flushed past it; writers in flight
//!   together share one flush of one file, and opening the store replays
//!   what a crash left ([`journal`], [`FsStore::journaled`]);
//! - `each`: the temporary file is fsynced, then the directory it was
//!   moved into, and the parent of every directory created on the way;
//! - `group`: no per-file fsync; the write waits for a `syncfs` of the
//!   data directory's filesystem that started after it. Concurrent writers
//!   share one `syncfs` (group commit); on a filesystem shared with busy
//!   neighbours it also flushes their data, so it is opt-in.
//!
//! The [relaxed](ObjectStore::relaxed) view, for derived state, skips
//! both: its writes are in place when they return and durable at the next
//! `syncfs` ([`ObjectStore::flush`]).
//!
//! Threads: in `journal` mode, what syncs nothing and touches a few
//! small objects or directory entries (reading an object, a relaxed
//! write, a journaled write's record and placement) runs on the runtime's
//! threads, in the calling task or one of its own — on a local disk these
//! are page-cache operations of microseconds, cheaper than the handoff to
//! another thread and back that they used to cost (decision 0037). What
//! may take long runs on the blocking pool: a `fsync` or `syncfs` (every
//! durable write in the other modes), listings, which read whole
//! directories (a list of every order a tenant had), contents over
//! 256 KiB (a plugin's component, a recording) and batches of more than
//! 64 reads or relaxed writes. The store
//! therefore assumes a local filesystem; on a network one, a slow read
//! would hold a runtime thread.
//!
//! A `create_once` that finds the key taken waits for durability too: the
//! object it found may have been linked a moment ago by a writer still
//! waiting for its fsync, and "already stored" must mean stored.
//!
//! Keys in the store's own files (`.tmp/`, `.journal/`, `.lock`) are
//! refused.
//!
//! Entity tags are the SHA-256 of the content. Compare-and-swap holds a
//! lock on the key for its read-compare-write; one process owns a data
//! directory at a time (an exclusive lock on `.lock`), so these in-process
//! locks are enough.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use self::journal::{Change, JOURNAL_DIR, Journal, Record};
use super::{
    CasOutcome, ConditionalWrites, CreateOutcome, Object, ObjectMeta, ObjectStore, StoreError, Swap, Window,
    validate_key, validate_prefix,
};

mod journal;

/// Stripes of key locks: compare-and-swap, and every durable write in
/// `journal` mode.
const LOCK_STRIPES: usize = 256;
/// Stripes of `journal` mode's key locks (more than [`LOCK_STRIPES`]: they
/// are held across a flush, so two keys sharing one wait for each other).
const KEY_LOCKS: usize = 4096;
/// Contents up to this size are read and written on the caller's thread;
/// larger ones (a plugin's component, a recording) on the blocking pool.
const INLINE_UP_TO: usize = 256 * 1024;
/// Batches of reads and relaxed writes up to this many keys run on the
/// caller's thread; larger ones (the markers closed in a second) on the
/// pool.
const INLINE_KEYS: usize = 64;
const TMP_DIR: &str = ".tmp";
const LOCK_FILE: &str = ".lock";

/// How the `fs` store makes a write durable before it returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsSync {
    /// fsync each file and each directory it changed.
    Each,
    /// A write-ahead journal whose flushes writers share.
    #[default]
    Journal,
    /// One `syncfs` shared by the writes that wait for it.
    Group,
}

#[derive(Debug, Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
    /// Whether this view's writes return before they are durable
    /// ([`ObjectStore::relaxed`]).
    wait: Wait,
}

/// Whether a write waits until it is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Durable,
    /// In place and readable on return; durable at the next `syncfs`
    /// ([`ObjectStore::flush`]).
    Relaxed,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    tmp: PathBuf,
    stripes: Vec<Mutex<()>>,
    /// The file every empty object of a relaxed view is a hard link to
    /// (see [`Inner::link_empty`]).
    empty: Mutex<PathBuf>,
    /// Present in `group` mode.
    group: Option<GroupCommit>,
    /// Present in `journal` mode.
    journal: Option<Journal>,
    /// `journal` mode's key locks, held across a write's flush (none in
    /// the other modes).
    key_locks: Vec<Arc<tokio::sync::Mutex<()>>>,
    /// Names of temporary files: `.tmp` is emptied when the store opens
    /// and one process owns it, so a counter is enough.
    next_temp: std::sync::atomic::AtomicU64,
    /// Held for the life of the store: one process per data directory.
    _lock: File,
}

/// Group commit: writers take a ticket once their write is in place, and
/// one of them at a time runs `syncfs` for every ticket issued before it
/// started; the others wait for a round that covers theirs.
#[derive(Debug)]
struct GroupCommit {
    root: File,
    state: Mutex<CommitState>,
    synced: Condvar,
}

#[derive(Debug, Default)]
struct CommitState {
    /// The last ticket issued.
    issued: u64,
    /// Every ticket up to this one is durable (or failed, see `failures`).
    synced_upto: u64,
    running: bool,
    /// How many `syncfs` rounds ran.
    rounds: u64,
    /// Recent rounds that failed: (first ticket, last ticket, error).
    failures: std::collections::VecDeque<(u64, u64, String)>,
}

const KEPT_FAILURES: usize = 64;

impl GroupCommit {
    /// Returns once everything written before the call is durable.
    fn wait(&self) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.issued += 1;
        let ticket = state.issued;
        while state.synced_upto < ticket {
            if state.running {
                state = self.synced.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Lead a round for every ticket issued so far: their writes
            // were in place before their tickets were taken.
            state.running = true;
            let (first, last) = (state.synced_upto + 1, state.issued);
            drop(state);
            let result = rustix::fs::syncfs(&self.root);
            state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.running = false;
            state.synced_upto = last;
            state.rounds += 1;
            if let Err(e) = result {
                if state.failures.len() == KEPT_FAILURES {
                    state.failures.pop_front();
                }
                state.failures.push_back((first, last, e.to_string()));
            }
            self.synced.notify_all();
        }
        match state.failures.iter().find(|(first, last, _)| (*first..=*last).contains(&ticket)) {
            Some((_, _, error)) => Err(io::Error::other(format!("syncfs failed: {error}"))),
            None => Ok(()),
        }
    }
}

impl FsStore {
    /// Opens (creating if needed) the store in `root`, its writes made
    /// durable the default way.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::open_with(root, FsSync::default())
    }

    /// Opens (creating if needed) the store in `root` with the given way
    /// of making writes durable.
    pub fn open_with(root: impl Into<PathBuf>, sync: FsSync) -> Result<Self, StoreError> {
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
        let group = match sync {
            FsSync::Each | FsSync::Journal => None,
            FsSync::Group => Some(GroupCommit {
                root: File::open(&root).map_err(|e| unavailable("cannot open", e))?,
                state: Mutex::default(),
                synced: Condvar::new(),
            }),
        };
        let next_temp = std::sync::atomic::AtomicU64::new(0);
        let empty =
            Mutex::new(new_empty_file(&tmp, &next_temp).map_err(|e| unavailable("cannot create a file in", e))?);
        let key_locks = match sync {
            FsSync::Journal => (0..KEY_LOCKS).map(|_| Arc::new(tokio::sync::Mutex::new(()))).collect(),
            FsSync::Each | FsSync::Group => Vec::new(),
        };
        let mut inner = Inner { root, tmp, stripes, empty, group, journal: None, key_locks, next_temp, _lock: lock };
        if sync == FsSync::Journal {
            let replay = |record: Record| inner.apply(&record);
            let journal = Journal::open(&inner.root, replay).map_err(|e| {
                StoreError::Unavailable(format!("cannot replay the journal in {}: {e}", inner.root.display()))
            })?;
            inner.journal = Some(journal);
        }
        Ok(Self { inner: Arc::new(inner), wait: Wait::Durable })
    }

    /// In `journal` mode, (writes recorded, journal flushes run).
    pub fn journal_counts(&self) -> Option<(u64, u64)> {
        self.inner.journal.as_ref().map(Journal::counts)
    }

    /// In `group` mode, (writes made durable, `syncfs` rounds run).
    pub fn group_commit_counts(&self) -> Option<(u64, u64)> {
        let group = self.inner.group.as_ref()?;
        let state = group.state.lock().unwrap_or_else(|p| p.into_inner());
        Some((state.synced_upto, state.rounds))
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Runs a step that may wait on the disk for long (a `fsync`, a
    /// `syncfs`, reading a whole directory) on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Runs a write of `keys` objects and `bytes` of content with this
    /// view's [`Wait`]. A small relaxed one in `journal` mode runs on the
    /// calling thread (it syncs nothing: see the module's docs); anything
    /// else on the blocking pool — a durable write outside `journal` mode
    /// fsyncs or waits for a `syncfs`, and there a relaxed compare-and-swap
    /// can wait for a key's lock that a durable one holds across its sync.
    async fn write<T: Send + 'static>(
        &self,
        keys: usize,
        bytes: usize,
        f: impl FnOnce(&Inner, Wait) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let wait = self.wait;
        let inline =
            wait == Wait::Relaxed && self.inner.journal.is_some() && keys <= INLINE_KEYS && bytes <= INLINE_UP_TO;
        if inline {
            return f(&self.inner, wait);
        }
        self.blocking(move |inner| f(inner, wait)).await
    }

    /// The journal, if this is the durable view of a store in `journal`
    /// mode: then its writes go through [`Self::journaled`].
    fn journal(&self) -> Option<&Journal> {
        self.inner.journal.as_ref().filter(|_| self.wait == Wait::Durable)
    }

    /// A durable write in `journal` mode. Under the key's lock (held
    /// across the flush, so that the journal orders one key's changes as
    /// they are placed, and a create-once decided on a free key stays
    /// decided): `prepare` checks and records the change, its content
    /// written to a temporary file; once the record is durable, the change
    /// is put in place. What is in place is therefore always durable: a
    /// crash cannot leave a torn object that a record does not repair, and
    /// a reader never sees a change that a crash could take back.
    ///
    /// The steps are a task of the runtime's, and the wait for the flush
    /// is the task's, not a thread's (decision 0037): a durable write costs
    /// no handoff to the blocking pool and back, which at 64 connections
    /// cost more of the server's time than the flushes (BENCHMARKS
    /// "Durable writes without handoffs"); only a content over
    /// [`INLINE_UP_TO`] is written to its temporary file on the pool. A
    /// task of its own, so that a change recorded is put in place even if
    /// its caller stopped waiting (a client that hung up) — while the
    /// runtime runs: one shut down mid-write leaves the change to the next
    /// open's replay, or to nothing if the closing checkpoint came first
    /// (a write of unknown outcome, never acknowledged).
    async fn journaled<T: Send + 'static>(
        &self,
        key: &str,
        size: usize,
        prepare: impl FnOnce(&Inner, &Journal) -> Result<Prepared<T>, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        // Locked before the task starts, in the same poll: a caller that
        // stopped waiting for one write and then writes the key again has
        // its writes placed in that order.
        let locked = self.inner.key_locks[stripe_of(key) % KEY_LOCKS].clone().lock_owned().await;
        let inner = self.inner.clone();
        let key = key.to_string();
        tokio::spawn(async move {
            let _key = locked;
            let journal = inner.journal.as_ref().expect("journal mode");
            let prepared = if size > INLINE_UP_TO {
                let pooled = inner.clone();
                tokio::task::spawn_blocking(move || prepare(&pooled, pooled.journal.as_ref().expect("journal mode")))
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
            } else {
                prepare(&inner, journal)
            };
            let (entry, placement, value) = match prepared? {
                Prepared::Unchanged(value) => return Ok(value),
                Prepared::Recorded { entry, placement, value } => (entry, placement, value),
            };
            if let Err(error) = journal.flushed_past(entry.record()).await {
                placement.discard();
                return Err(io_error(&key, error));
            }
            let placed = inner.place(&key, placement).map_err(|e| io_error(&key, e));
            drop(entry);
            placed.map(|()| value)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

/// A durable write in `journal` mode, checked and recorded
/// ([`FsStore::journaled`]).
enum Prepared<T> {
    /// Nothing to change (the key is taken, another version is there, no
    /// object to delete): the answer as it is.
    Unchanged(T),
    /// Recorded; put in place once the record is durable.
    Recorded { entry: journal::Entry, placement: Placement, value: T },
}

/// How a recorded change is put in place.
enum Placement {
    /// The temporary file renamed over the key.
    Replace { tmp: PathBuf },
    /// The temporary file linked at the key, which was free; its
    /// directory was missing when the change was recorded.
    Create { tmp: PathBuf, parent_missing: bool },
    /// The key's file removed.
    Remove,
}

impl Placement {
    /// A change that will not be placed: its temporary file removed.
    fn discard(self) {
        if let Self::Replace { tmp } | Self::Create { tmp, .. } = self {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// A number spreading keys over lock stripes.
fn stripe_of(key: &str) -> usize {
    let hash = Sha256::digest(key.as_bytes());
    usize::from(u16::from_le_bytes([hash[0], hash[1]]))
}

/// Whether a key (or a name at the top of the data directory) is in the
/// store's own files (`.tmp`, `.journal`, `.lock`), not an object.
fn is_own(key: &str) -> bool {
    let first = key.split('/').next().unwrap_or(key);
    [TMP_DIR, JOURNAL_DIR, LOCK_FILE].contains(&first)
}

/// [`validate_key`], refusing the store's own names too.
fn check_key(key: &str) -> Result<(), StoreError> {
    validate_key(key)?;
    if is_own(key) {
        return Err(StoreError::InvalidKey(key.chars().take(200).collect()));
    }
    Ok(())
}

/// [`validate_prefix`], refusing the store's own names too.
fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    validate_prefix(prefix)?;
    if is_own(prefix) {
        return Err(StoreError::InvalidKey(prefix.chars().take(200).collect()));
    }
    Ok(())
}

fn etag_of(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn io_error(key: &str, e: io::Error) -> StoreError {
    StoreError::Unavailable(format!("{key}: {e}"))
}

/// A read that failed: no object at `key`, or an error.
fn absent(key: &str, e: io::Error) -> Result<Option<Object>, StoreError> {
    match e.kind() {
        io::ErrorKind::NotFound => Ok(None),
        // A key whose "parent" is a file, or a directory: nothing is stored there.
        io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => Ok(None),
        _ => Err(io_error(key, e)),
    }
}

/// An object read on the caller's thread, or one too large for it.
enum Small {
    Read(Option<Object>),
    TooLarge,
}

/// A name for a new file in `tmp`.
fn temp_path(tmp: &Path, next: &std::sync::atomic::AtomicU64) -> PathBuf {
    tmp.join(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string())
}

/// A new empty file in `tmp`, for empty objects to be links to.
fn new_empty_file(tmp: &Path, next: &std::sync::atomic::AtomicU64) -> io::Result<PathBuf> {
    let path = temp_path(tmp, next);
    File::create_new(&path)?;
    Ok(path)
}

/// Whether `path` is a file with nothing in it.
fn is_empty_file(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0)
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents, noting in `changed` the parent
/// of each directory it created (unsynced: see [`Inner::in_dir`]).
fn create_dirs(dir: &Path, changed: &mut Vec<PathBuf>) -> io::Result<()> {
    let parent = dir.parent().ok_or_else(|| io::Error::other("no parent directory"))?;
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_dirs(parent, changed)?;
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    changed.push(parent.to_path_buf());
    Ok(())
}

impl Inner {
    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn stripe(&self, key: &str) -> &Mutex<()> {
        &self.stripes[stripe_of(key) % LOCK_STRIPES]
    }

    /// In `each` mode, fsyncs a directory whose entries changed.
    fn sync_dir(&self, dir: &Path, wait: Wait) -> io::Result<()> {
        match (&self.group, &self.journal, wait) {
            (None, None, Wait::Durable) => fsync_dir(dir),
            _ => Ok(()),
        }
    }

    /// Returns once the writes made so far are durable: in `group` mode by
    /// waiting for a shared `syncfs`; in `each` mode they already are, but
    /// `dir` — which holds an entry another writer may not have fsynced
    /// yet — is fsynced once more.
    fn durable(&self, dir: &Path, wait: Wait) -> io::Result<()> {
        match (&self.group, wait) {
            (_, Wait::Relaxed) => Ok(()),
            (None, Wait::Durable) => fsync_dir(dir),
            (Some(group), Wait::Durable) => group.wait(),
        }
    }

    /// Makes every write so far durable: one `syncfs` (shared with the
    /// writers waiting for one in `group` mode; a checkpoint in `journal`
    /// mode, which leaves nothing to replay).
    fn flush(&self) -> io::Result<()> {
        if let Some(journal) = &self.journal {
            return journal.checkpoint();
        }
        match &self.group {
            Some(group) => group.wait(),
            None => rustix::fs::syncfs(File::open(&self.root)?).map_err(io::Error::from),
        }
    }

    /// Runs `step` (which puts an entry into `dir`); if `dir` is missing,
    /// creates it and any missing parents and runs `step` again. Returns
    /// the directories whose entries changed on the way (the parent of
    /// each one created), for the caller to sync after `dir` once its own
    /// entry is in place (the write is acknowledged only then, so syncing
    /// them earlier gains nothing). Trying `step` first spares a `stat` per
    /// level for a write into a directory that exists, the common case.
    fn in_dir<T>(&self, dir: &Path, mut step: impl FnMut() -> io::Result<T>) -> io::Result<(T, Vec<PathBuf>)> {
        match step() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut created = Vec::new();
                create_dirs(dir, &mut created)?;
                Ok((step()?, created))
            }
            result => Ok((result?, Vec::new())),
        }
    }

    /// After an entry was put into `dir`: makes it durable, with the
    /// directories `changed` on the way (see [`Self::in_dir`]).
    fn durable_in(&self, dir: &Path, changed: &[PathBuf], wait: Wait) -> io::Result<()> {
        self.durable(dir, wait)?;
        changed.iter().try_for_each(|parent| self.sync_dir(parent, wait))
    }

    /// Writes `body` to a fresh temporary file (fsynced in `each` mode).
    fn write_temp(&self, body: &[u8], wait: Wait) -> io::Result<PathBuf> {
        let tmp = temp_path(&self.tmp, &self.next_temp);
        let mut file = File::create_new(&tmp)?;
        file.write_all(body)?;
        if self.group.is_none() && wait == Wait::Durable {
            file.sync_data()?;
        }
        Ok(tmp)
    }

    /// Puts an empty object as a hard link to the shared empty file: a
    /// directory entry, no inode. Derived state is mostly empty objects
    /// (list entries, hour and change markers), written and deleted with
    /// every order change; as files of their own each took an inode, and
    /// on ext4 allocating inodes among many recently freed ones dominated
    /// the order API's time (BENCHMARKS "What the projections cost
    /// ingest"). An inode takes at most ~65,000 links: then a new shared
    /// file is started.
    fn link_empty(&self, path: &Path) -> io::Result<()> {
        loop {
            let empty = self.empty.lock().unwrap_or_else(|p| p.into_inner()).clone();
            match fs::hard_link(&empty, path) {
                Ok(()) => return Ok(()),
                // An empty object there already: nothing to change.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && is_empty_file(path) => return Ok(()),
                // Replacing an object: linked beside it, then renamed over it.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let tmp = temp_path(&self.tmp, &self.next_temp);
                    match fs::hard_link(&empty, &tmp) {
                        Ok(()) => return fs::rename(&tmp, path),
                        Err(e) if e.kind() != io::ErrorKind::TooManyLinks => return Err(e),
                        Err(_) => self.next_empty(&empty)?,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::TooManyLinks => self.next_empty(&empty)?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts a new shared empty file, unless another writer already has
    /// since `full` was taken.
    fn next_empty(&self, full: &Path) -> io::Result<()> {
        let mut empty = self.empty.lock().unwrap_or_else(|p| p.into_inner());
        if *empty == full {
            *empty = new_empty_file(&self.tmp, &self.next_temp)?;
        }
        Ok(())
    }

    /// Puts a replayed change in place (see [`journal`]).
    fn apply(&self, record: &Record) -> io::Result<()> {
        let (key, wait) = (record.key.as_str(), Wait::Relaxed);
        let applied = match &record.change {
            Change::Put(body) => self.put(key, body, wait).map(drop),
            Change::Delete => self.delete(key, wait),
        };
        applied.map_err(|e| io::Error::other(e.to_string()))
    }

    /// Records a put of `body` at `key`, its content written to a
    /// temporary file to be placed (unsynced: the record is what is made
    /// durable).
    fn record_put(&self, journal: &Journal, key: &str, body: &[u8]) -> Result<(journal::Entry, PathBuf), StoreError> {
        let tmp = self.write_temp(body, Wait::Relaxed).map_err(|e| io_error(key, e))?;
        match journal.append(key, &Change::Put(body.to_vec())) {
            Ok(entry) => Ok((entry, tmp)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(io_error(key, e))
            }
        }
    }

    fn prepare_put(&self, journal: &Journal, key: &str, body: &[u8]) -> Result<Prepared<String>, StoreError> {
        let (entry, tmp) = self.record_put(journal, key, body)?;
        Ok(Prepared::Recorded { entry, placement: Placement::Replace { tmp }, value: etag_of(body) })
    }

    fn prepare_create(&self, journal: &Journal, key: &str, body: &[u8]) -> Result<Prepared<CreateOutcome>, StoreError> {
        let path = self.path(key);
        // Asking for the directory first: an event's is new with it (the
        // key schema's directory per version), and knowing that spares a
        // failed link and a failed `mkdir` when it is placed.
        let parent_missing = !path.parent().is_some_and(Path::is_dir);
        if !parent_missing && path.exists() {
            return Ok(Prepared::Unchanged(CreateOutcome::Exists));
        }
        let (entry, tmp) = self.record_put(journal, key, body)?;
        Ok(Prepared::Recorded {
            entry,
            placement: Placement::Create { tmp, parent_missing },
            value: CreateOutcome::Created { etag: etag_of(body) },
        })
    }

    fn prepare_swap(
        &self,
        journal: &Journal,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
    ) -> Result<Prepared<CasOutcome>, StoreError> {
        if !self.matches(key, expected)? {
            return Ok(Prepared::Unchanged(CasOutcome::Conflict));
        }
        let (entry, tmp) = self.record_put(journal, key, body)?;
        Ok(Prepared::Recorded {
            entry,
            placement: Placement::Replace { tmp },
            value: CasOutcome::Swapped { etag: etag_of(body) },
        })
    }

    fn prepare_delete(&self, journal: &Journal, key: &str) -> Result<Prepared<()>, StoreError> {
        if !self.path(key).exists() {
            return Ok(Prepared::Unchanged(()));
        }
        let entry = journal.append(key, &Change::Delete).map_err(|e| io_error(key, e))?;
        Ok(Prepared::Recorded { entry, placement: Placement::Remove, value: () })
    }

    /// Puts a recorded change, now durable, in place (unsynced: the
    /// checkpoint syncs it).
    fn place(&self, key: &str, placement: Placement) -> io::Result<()> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        match placement {
            Placement::Replace { tmp } => self.in_dir(&parent, || fs::rename(&tmp, &path)).map(drop),
            Placement::Create { tmp, parent_missing } => {
                let linked = if parent_missing {
                    create_dirs(&parent, &mut Vec::new()).and_then(|()| fs::hard_link(&tmp, &path))
                } else {
                    self.in_dir(&parent, || fs::hard_link(&tmp, &path)).map(drop)
                };
                let _ = fs::remove_file(&tmp);
                match linked {
                    Ok(_) => Ok(()),
                    // Only a writer outside the journal could have taken it.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        Err(io::Error::other("the key was taken outside the journal"))
                    }
                    Err(e) => Err(e),
                }
            }
            Placement::Remove => match fs::remove_file(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                removed => removed,
            },
        }
    }

    /// Whether the object at `key` is the version `expected` (`None`: no
    /// object).
    fn matches(&self, key: &str, expected: Option<&str>) -> Result<bool, StoreError> {
        Ok(match (self.get(key)?, expected) {
            (None, None) => true,
            (Some(object), Some(etag)) => object.etag == etag,
            _ => false,
        })
    }

    fn put(&self, key: &str, body: &[u8], wait: Wait) -> Result<String, StoreError> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        let write = || -> io::Result<()> {
            if body.is_empty() && wait == Wait::Relaxed {
                return self.in_dir(&parent, || self.link_empty(&path)).map(drop);
            }
            let tmp = self.write_temp(body, wait)?;
            let ((), changed) = self.in_dir(&parent, || fs::rename(&tmp, &path))?;
            self.durable_in(&parent, &changed, wait)
        };
        write().map_err(|e| io_error(key, e))?;
        Ok(etag_of(body))
    }

    fn create_once(&self, key: &str, body: &[u8], wait: Wait) -> Result<CreateOutcome, StoreError> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        let result = (|| -> io::Result<CreateOutcome> {
            if path.exists() {
                self.durable(&parent, wait)?;
                return Ok(CreateOutcome::Exists);
            }
            // The content is durable before it appears at its key: a crash
            // leaves the whole object or none.
            let tmp = self.write_temp(body, wait)?;
            let linked = self.in_dir(&parent, || match fs::hard_link(&tmp, &path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            });
            let _ = fs::remove_file(&tmp);
            let (created, changed) = linked?;
            self.durable_in(&parent, &changed, wait)?;
            Ok(if created { CreateOutcome::Created { etag: etag_of(body) } } else { CreateOutcome::Exists })
        })();
        result.map_err(|e| io_error(key, e))
    }

    fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        match fs::read(self.path(key)) {
            Ok(body) => Ok(Some(Object { etag: etag_of(&body), body: Bytes::from(body) })),
            Err(e) => absent(key, e),
        }
    }

    /// [`Self::get`] of an object up to [`INLINE_UP_TO`] bytes; a larger
    /// one is left for the blocking pool to read.
    fn get_small(&self, key: &str) -> Result<Small, StoreError> {
        let mut file = match File::open(self.path(key)) {
            Ok(file) => file,
            Err(e) => return absent(key, e).map(Small::Read),
        };
        let size = file.metadata().map_err(|e| io_error(key, e))?.len();
        if size > INLINE_UP_TO as u64 {
            return Ok(Small::TooLarge);
        }
        let mut body = Vec::with_capacity(size as usize);
        match io::Read::read_to_end(&mut file, &mut body) {
            Ok(_) => Ok(Small::Read(Some(Object { etag: etag_of(&body), body: Bytes::from(body) }))),
            Err(e) => absent(key, e).map(Small::Read),
        }
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
        wait: Wait,
    ) -> Result<CasOutcome, StoreError> {
        let _guard = self.stripe(key).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !self.matches(key, expected)? {
            return Ok(CasOutcome::Conflict);
        }
        let etag = self.put(key, body, wait)?;
        Ok(CasOutcome::Swapped { etag })
    }

    fn delete(&self, key: &str, wait: Wait) -> Result<(), StoreError> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => {
                let parent = path.parent().unwrap_or(&self.root);
                self.durable(parent, wait).map_err(|e| io_error(key, e))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(key, e)),
        }
    }

    fn list_children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        self.each_child(prefix, |name| names.push(name))?;
        names.sort();
        Ok(names)
    }

    fn list_children_page(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let mut window = Window::new(offset, limit);
        self.each_child(prefix, |name| window.push(name))?;
        Ok(window.finish())
    }

    fn list_children_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StoreError> {
        let mut window = Window::new(0, limit.saturating_add(1));
        self.each_child(prefix, |name| {
            if after.is_none_or(|after| name.as_str() > after) {
                window.push(name);
            }
        })?;
        let (_, mut names) = window.finish();
        let more = names.len() > limit;
        names.truncate(limit);
        Ok((names, more))
    }

    /// Calls `f` with each name below `prefix`, in the directory's order.
    fn each_child(&self, prefix: &str, mut f: impl FnMut(String)) -> Result<(), StoreError> {
        let dir = if prefix.is_empty() { self.root.clone() } else { self.root.join(prefix.trim_end_matches('/')) };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(()),
            Err(e) => return Err(io_error(prefix, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_error(prefix, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && is_own(&name) {
                continue;
            }
            f(name);
        }
        Ok(())
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
                if is_own(&key) {
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
        check_key(key)?;
        if self.journal().is_some() {
            let owned = key.to_string();
            return self
                .journaled(key, body.len(), move |inner, journal| inner.prepare_put(journal, &owned, &body))
                .await;
        }
        let key = key.to_string();
        self.write(1, body.len(), move |inner, wait| inner.put(&key, &body, wait)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        check_key(key)?;
        match self.inner.get_small(key)? {
            Small::Read(object) => Ok(object),
            Small::TooLarge => {
                let key = key.to_string();
                self.blocking(move |inner| inner.get(&key)).await
            }
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        check_prefix(prefix)?;
        let prefix = prefix.to_string();
        self.blocking(move |inner| inner.list(&prefix)).await
    }

    async fn list_children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if !prefix.is_empty() {
            check_prefix(prefix)?;
        }
        let prefix = prefix.to_string();
        self.blocking(move |inner| inner.list_children(&prefix)).await
    }

    async fn list_children_page(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<String>), StoreError> {
        if !prefix.is_empty() {
            check_prefix(prefix)?;
        }
        let prefix = prefix.to_string();
        self.blocking(move |inner| inner.list_children_page(&prefix, offset, limit)).await
    }

    async fn list_children_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StoreError> {
        if !prefix.is_empty() {
            check_prefix(prefix)?;
        }
        super::check_start_after(prefix, after)?;
        let (prefix, after) = (prefix.to_string(), after.map(str::to_string));
        self.blocking(move |inner| inner.list_children_after(&prefix, after.as_deref(), limit)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        if self.journal().is_some() {
            let owned = key.to_string();
            return self.journaled(key, 0, move |inner, journal| inner.prepare_delete(journal, &owned)).await;
        }
        let key = key.to_string();
        self.write(1, 0, move |inner, wait| inner.delete(&key, wait)).await
    }

    async fn create_once(&self, key: &str, body: Bytes) -> Result<CreateOutcome, StoreError> {
        check_key(key)?;
        if self.journal().is_some() {
            let owned = key.to_string();
            return self
                .journaled(key, body.len(), move |inner, journal| inner.prepare_create(journal, &owned, &body))
                .await;
        }
        let key = key.to_string();
        self.write(1, body.len(), move |inner, wait| inner.create_once(&key, &body, wait)).await
    }

    async fn compare_and_swap(&self, key: &str, expected: Option<&str>, body: Bytes) -> Result<CasOutcome, StoreError> {
        check_key(key)?;
        let expected = expected.map(str::to_string);
        if self.journal().is_some() {
            let owned = key.to_string();
            return self
                .journaled(key, body.len(), move |inner, journal| {
                    inner.prepare_swap(journal, &owned, expected.as_deref(), &body)
                })
                .await;
        }
        let key = key.to_string();
        let bytes = body.len();
        self.write(1, bytes, move |inner, wait| inner.compare_and_swap(&key, expected.as_deref(), &body, wait)).await
    }

    /// All in one go: derived state writes several empty objects per
    /// order change, and a hand-off to the blocking pool per object cost
    /// more than the writes (BENCHMARKS "What the projections cost
    /// ingest").
    async fn put_empty(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            check_key(key)?;
        }
        if self.journal().is_some() {
            for key in keys {
                self.put(key, Bytes::new()).await?;
            }
            return Ok(());
        }
        let keys = keys.to_vec();
        self.write(keys.len(), 0, move |inner, wait| {
            keys.iter().try_for_each(|key| inner.put(key, &[], wait).map(drop))
        })
        .await
    }

    /// All in one go, as [`Self::put_empty`].
    async fn delete_all(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            check_key(key)?;
        }
        if self.journal().is_some() {
            for key in keys {
                self.delete(key).await?;
            }
            return Ok(());
        }
        let keys = keys.to_vec();
        self.write(keys.len(), 0, move |inner, wait| keys.iter().try_for_each(|key| inner.delete(key, wait))).await
    }

    /// All in one go, as [`Self::put_empty`].
    async fn get_all(&self, keys: &[String]) -> Result<Vec<Option<Object>>, StoreError> {
        for key in keys {
            check_key(key)?;
        }
        if keys.len() > INLINE_KEYS {
            let keys = keys.to_vec();
            return self.blocking(move |inner| keys.iter().map(|key| inner.get(key)).collect()).await;
        }
        let mut objects = Vec::with_capacity(keys.len());
        for key in keys {
            objects.push(match self.inner.get_small(key)? {
                Small::Read(object) => object,
                Small::TooLarge => {
                    let key = key.clone();
                    self.blocking(move |inner| inner.get(&key)).await?
                }
            });
        }
        Ok(objects)
    }

    /// All in one go, as [`Self::put_empty`].
    async fn compare_and_swap_all(&self, swaps: &[Swap]) -> Result<Vec<CasOutcome>, StoreError> {
        for swap in swaps {
            check_key(&swap.key)?;
        }
        if self.journal().is_some() {
            let mut outcomes = Vec::with_capacity(swaps.len());
            for swap in swaps {
                outcomes.push(self.compare_and_swap(&swap.key, swap.expected.as_deref(), swap.body.clone()).await?);
            }
            return Ok(outcomes);
        }
        let bytes = swaps.iter().map(|swap| swap.body.len()).sum();
        let swaps = swaps.to_vec();
        self.write(swaps.len(), bytes, move |inner, wait| {
            swaps
                .iter()
                .map(|swap| inner.compare_and_swap(&swap.key, swap.expected.as_deref(), &swap.body, wait))
                .collect()
        })
        .await
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::Native
    }

    fn describe(&self) -> String {
        format!("fs:{}", self.inner.root.display())
    }

    fn relaxed(&self) -> Arc<dyn ObjectStore> {
        Arc::new(Self { inner: self.inner.clone(), wait: Wait::Relaxed })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.blocking(|inner| inner.flush().map_err(|e| io_error("(syncfs)", e))).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const KEY: &str = "acme/events/orders/o-1/0000000001/OrderReceived";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_is_acknowledged_only_after_the_journal_flush_that_covers_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::open_with(dir.path(), FsSync::Journal).expect("open");
        let journal = store.inner.journal.as_ref().expect("journal mode");
        let held = journal.hold_flushes();
        let create = |store: &FsStore| {
            let store = store.clone();
            tokio::spawn(async move { store.create_once(KEY, Bytes::from_static(b"{\"v\":1}")).await })
        };
        let first = create(&store);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!first.is_finished(), "acknowledged before its flush");
        assert!(store.get(KEY).await.expect("get").is_none(), "in place before it is durable");
        // Another writer of the key may not answer "stored" either.
        let second = create(&store);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "answered 'already stored' before the flush");

        drop(held);
        assert!(matches!(first.await.expect("task").expect("create"), CreateOutcome::Created { .. }));
        assert!(matches!(second.await.expect("task").expect("create"), CreateOutcome::Exists));
    }

    #[tokio::test]
    async fn a_write_recorded_is_put_in_place_even_if_its_caller_stopped_waiting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::open_with(dir.path(), FsSync::Journal).expect("open");
        let held = store.inner.journal.as_ref().expect("journal mode").hold_flushes();
        let writer = {
            let store = store.clone();
            tokio::spawn(async move { store.put(KEY, Bytes::from_static(b"{\"v\":2}")).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The client hung up: its request's task is dropped mid-write.
        writer.abort();
        assert!(writer.await.expect_err("aborted").is_cancelled());
        assert_eq!(store.inner.journal.as_ref().expect("journal").counts().0, 1, "the change was recorded");
        drop(held);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while store.get(KEY).await.expect("get").is_none() {
            assert!(std::time::Instant::now() < deadline, "a recorded change was never put in place");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(store.get(KEY).await.expect("get").expect("object").body, Bytes::from_static(b"{\"v\":2}"));
    }

    /// A caller that gives up on a write and writes the key again ends
    /// with its second content in place: the first write took the key's
    /// lock before its task started, so the second waits for it. (With
    /// the lock taken inside the task, on one worker thread the second
    /// write's task ran first — the newest spawned task is run next — and
    /// the first one's content was placed over it.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn writes_of_one_key_are_placed_in_the_order_their_callers_made_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::open_with(dir.path(), FsSync::Journal).expect("open");
        // On the worker thread, as a request's task would be.
        tokio::spawn(async move {
            for round in 0..10 {
                let (first, second) = (format!("{{\"v\":{round}1}}"), format!("{{\"v\":{round}2}}"));
                // Given up on at once: polled once, then dropped.
                let abandoned = futures::FutureExt::now_or_never(store.put(KEY, Bytes::from(first)));
                assert!(abandoned.is_none(), "the first write was given up on");
                store.put(KEY, Bytes::from(second.clone())).await.expect("put");
                tokio::time::sleep(Duration::from_millis(20)).await;
                let placed = store.get(KEY).await.expect("get").expect("object").body;
                assert_eq!(placed, Bytes::from(second), "round {round}");
            }
        })
        .await
        .expect("rounds");
    }

    /// Contents and batches past what runs on the caller's thread go
    /// through the blocking pool, and come back whole, alone or among
    /// small ones.
    #[tokio::test]
    async fn large_objects_and_batches_are_written_and_read_whole_through_the_pool() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::open_with(dir.path(), FsSync::Journal).expect("open");
        let large = Bytes::from((0..INLINE_UP_TO * 3).map(|n| (n % 251) as u8).collect::<Vec<u8>>());
        let component = "acme/plugins/p/versions/v1/component.wasm";
        let created = store.create_once(component, large.clone()).await.expect("create");
        assert_eq!(created, CreateOutcome::Created { etag: etag_of(&large) });
        store.put(KEY, Bytes::from_static(b"{}")).await.expect("put");
        assert_eq!(store.get(component).await.expect("get").expect("object").body, large);
        let both = store.get_all(&[KEY.to_string(), component.to_string(), "acme/none".to_string()]).await;
        let both: Vec<Option<Bytes>> = both.expect("get_all").into_iter().map(|o| o.map(|o| o.body)).collect();
        assert_eq!(both, vec![Some(Bytes::from_static(b"{}")), Some(large.clone()), None]);
        // A batch past what runs on the caller's thread: read on the pool, in order.
        let mut many: Vec<String> = (0..INLINE_KEYS).map(|n| format!("acme/none-{n}")).collect();
        many.push(component.to_string());
        let read = store.get_all(&many).await.expect("get_all");
        assert_eq!(read.len(), INLINE_KEYS + 1);
        assert!(read[..INLINE_KEYS].iter().all(Option::is_none));
        assert_eq!(read[INLINE_KEYS].as_ref().expect("component").body, large);
        let swapped = store.compare_and_swap(component, Some(&etag_of(&large)), Bytes::from_static(b"x")).await;
        assert!(matches!(swapped.expect("swap"), CasOutcome::Swapped { .. }));
    }

    /// Writes waiting for their flush hold no thread: with a blocking pool
    /// of one thread, a listing (which runs there) still answers while
    /// many writes wait. When each write parked a pool thread until its
    /// flush, the first one took the only thread and the listing waited
    /// for the flush.
    #[test]
    fn writes_waiting_for_their_flush_leave_the_blocking_pool_free() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = FsStore::open_with(dir.path(), FsSync::Journal).expect("open");
            let held = store.inner.journal.as_ref().expect("journal mode").hold_flushes();
            let writers: Vec<_> = (0..8)
                .map(|n| {
                    let store = store.clone();
                    tokio::spawn(
                        async move { store.put(&format!("acme/cursors/p{n}/cursor.json"), Bytes::new()).await },
                    )
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(writers.iter().all(|w| !w.is_finished()), "a write was acknowledged before its flush");
            let listed = tokio::time::timeout(Duration::from_secs(5), store.list_children("acme/cursors/")).await;
            let listed = listed.expect("the listing waited for the writes' flush").expect("list");
            assert!(listed.is_empty(), "nothing is in place before its flush: {listed:?}");
            drop(held);
            for writer in writers {
                writer.await.expect("writer").expect("put");
            }
            assert_eq!(store.list_children("acme/cursors/").await.expect("list").len(), 8);
        });
    }

    #[tokio::test]
    async fn opening_replays_the_journal_over_a_change_a_crash_left_torn_or_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut segment = Vec::new();
        journal::tests_support::encode_put(&mut segment, KEY, b"{\"v\":1}");
        journal::tests_support::encode_put(&mut segment, "acme/cursors/p", b"42");
        journal::tests_support::encode_delete(&mut segment, "acme/deadletter/x");
        fs::create_dir_all(dir.path().join(".journal")).expect("journal dir");
        fs::write(dir.path().join(".journal/00000000000000000003"), &segment).expect("segment");
        // The crash left the event empty, the cursor missing and the
        // dead letter not yet deleted.
        for (key, body) in [(KEY, ""), ("acme/deadletter/x", "old")] {
            let path = dir.path().join(key);
            fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            fs::write(path, body).expect("write");
        }

        let store = FsStore::open_with(dir.path(), FsSync::Journal).expect("open");
        assert_eq!(store.get(KEY).await.expect("get").expect("event").body, Bytes::from_static(b"{\"v\":1}"));
        assert_eq!(store.get("acme/cursors/p").await.expect("get").expect("cursor").body, Bytes::from_static(b"42"));
        assert!(store.get("acme/deadletter/x").await.expect("get").is_none());
        assert_eq!(store.list_children("").await.expect("list"), vec!["acme"], "the journal is not an object");
        assert!(matches!(store.put(".journal/x", Bytes::new()).await, Err(StoreError::InvalidKey(_))));
    }
}
