//! The `fs` store's write-ahead journal (`store.fs_sync = "journal"`, the
//! default: docs/decisions/0037-fs-journal.md says what it was measured
//! against).
//!
//! A durable write appends a record (key and new content, or a deletion)
//! to the journal, waits until the journal has been flushed past its
//! record, then puts the change in place without syncing it: what is in
//! place is always durable. One flusher
//! thread writes every record that arrived since its last flush to the
//! current segment and syncs that one file (`fdatasync`): writers that
//! arrive together share one flush of one file, so more writers in flight
//! means more records per flush, and a writer waits at most for the flush
//! under way and its own. Per-file fsync paid two to four syncs per write
//! (the file, its directory, every directory created for it).
//!
//! The changes in place become durable at the next **checkpoint**: about
//! once a second the journal moves on to a new segment, waits until every
//! change recorded in the old one is in place, runs `syncfs` on the data
//! directory, and deletes the old segment. Opening the store **replays**
//! the segments left by a crash, in order, so that every change recorded
//! is in place again, whole (one that the crash tore, or that was not
//! placed yet, is written again from its record). A record is checksummed; replay stops
//! at the first that is cut short or damaged — the tail of a flush that a
//! crash interrupted, whose writers were never answered.
//!
//! A write that fails to reach the journal (the disk is full, failing)
//! leaves the journal refusing writes until the store is opened again:
//! what follows a damaged record could not be replayed.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

/// The journal's directory under the data directory.
pub(super) const JOURNAL_DIR: &str = ".journal";
/// How often the changes in place are made durable and the journal
/// segments that recorded them deleted.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Bytes before a record's content: its length and checksum.
const HEADER: usize = 8;
const PUT: u8 = 1;
const DELETE: u8 = 2;

/// A change as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// The object at the key is this content.
    Put(Vec<u8>),
    /// There is no object at the key.
    Delete,
}

/// A recorded change, as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub key: String,
    pub change: Change,
}

#[derive(Debug)]
pub(super) struct Journal {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    /// The data directory, for `syncfs`.
    root: File,
    state: Mutex<State>,
    /// Records are waiting (to the flusher), or the journal is stopping.
    work: Condvar,
    /// A flush ended, or a change was put in place (to the checkpoint
    /// waiting for one of them).
    progress: Condvar,
    /// While set, the flusher waits before each flush (tests).
    #[cfg(test)]
    held: std::sync::atomic::AtomicBool,
    /// The checkpoint's wake-up, or the journal is stopping.
    tick: Condvar,
    /// Held by the checkpoint under way.
    checkpointing: Mutex<()>,
}

#[derive(Debug)]
struct State {
    /// Records appended and not yet written.
    pending: Vec<u8>,
    /// The last record appended (records are numbered from 1).
    appended: u64,
    /// Every record up to this one is written and synced, or failed.
    flushed: u64,
    /// Writers waiting for the flush past their record, by record: a
    /// flush wakes only those it covers (waking every writer at every
    /// flush cost more than the flushes with hundreds in flight).
    waiting: BTreeMap<u64, Vec<Waker>>,
    /// The segment new records go to.
    segment: Segment,
    /// Per segment, the writers whose change is not yet in place.
    placing: BTreeMap<u64, usize>,
    /// Set by the first write that failed: (first record affected, error).
    broken: Option<(u64, String)>,
    flusher_idle: bool,
    checkpoint_waiting: bool,
    stopping: bool,
    /// How many flushes ran (for tests and benchmarks).
    flushes: u64,
}

#[derive(Debug)]
struct Segment {
    number: u64,
    file: Arc<File>,
    /// The last record appended to it (0: none yet).
    last: u64,
}

/// A record appended, until its change is in place (or given up): the
/// checkpoint that deletes its segment waits for that.
#[must_use = "a journaled change is acknowledged only once durable"]
pub(super) struct Entry {
    shared: Arc<Shared>,
    record: u64,
    segment: u64,
}

impl Journal {
    /// Replays what a crash left in `root`'s journal through `apply`,
    /// makes it durable, and starts a new journal.
    pub(super) fn open(root: &Path, mut apply: impl FnMut(Record) -> io::Result<()>) -> io::Result<Self> {
        let dir = root.join(JOURNAL_DIR);
        fs::create_dir_all(&dir)?;
        let left = segments(&dir)?;
        let root_dir = File::open(root)?;
        if !left.is_empty() {
            for (_, path) in &left {
                let mut bytes = Vec::new();
                File::open(path)?.read_to_end(&mut bytes)?;
                decode(&bytes).into_iter().try_for_each(&mut apply)?;
            }
            rustix::fs::syncfs(&root_dir)?;
            for (_, path) in &left {
                fs::remove_file(path)?;
            }
        }
        let number = left.last().map_or(1, |(number, _)| number + 1);
        let segment = Segment { number, file: Arc::new(new_segment(&dir, number)?), last: 0 };
        let shared = Arc::new(Shared {
            dir,
            root: root_dir,
            state: Mutex::new(State {
                pending: Vec::new(),
                appended: 0,
                flushed: 0,
                waiting: BTreeMap::new(),
                segment,
                placing: BTreeMap::new(),
                broken: None,
                flusher_idle: false,
                checkpoint_waiting: false,
                stopping: false,
                flushes: 0,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            #[cfg(test)]
            held: std::sync::atomic::AtomicBool::new(false),
            tick: Condvar::new(),
            checkpointing: Mutex::new(()),
        });
        let threads = vec![
            spawn("portitor-journal-flush", shared.clone(), Shared::flush_loop)?,
            spawn("portitor-journal-checkpoint", shared.clone(), Shared::checkpoint_loop)?,
        ];
        Ok(Self { shared, threads })
    }

    /// Records `change` to `key`. The caller waits for the flush past the
    /// entry's record ([`Self::flushed_past`]), then makes the change
    /// in place and drops the entry; it holds the key's lock from before
    /// this call until its change is in place, so that the journal orders
    /// one key's changes as they were made.
    pub(super) fn append(&self, key: &str, change: &Change) -> io::Result<Entry> {
        let mut state = self.shared.lock();
        if let Some((_, error)) = &state.broken {
            return Err(broken(error));
        }
        encode(&mut state.pending, key, change);
        state.appended += 1;
        let record = state.appended;
        state.segment.last = record;
        let segment = state.segment.number;
        *state.placing.entry(segment).or_default() += 1;
        if state.flusher_idle {
            state.flusher_idle = false;
            self.shared.work.notify_one();
        }
        Ok(Entry { shared: self.shared.clone(), record, segment })
    }

    /// Resolves once the journal is flushed past `record`, to whether that
    /// record is durable. The writer's thread is free meanwhile: the
    /// flusher wakes the task, not a thread parked for it.
    pub(super) fn flushed_past(&self, record: u64) -> impl Future<Output = io::Result<()>> + '_ {
        std::future::poll_fn(move |cx| {
            let mut state = self.shared.lock();
            if state.flushed >= record || state.stopping {
                drop(state);
                return Poll::Ready(self.shared.outcome(record));
            }
            state.waiting.entry(record).or_default().push(cx.waker().clone());
            Poll::Pending
        })
    }

    /// Holds every flush back until the guard is dropped.
    #[cfg(test)]
    pub(super) fn hold_flushes(&self) -> HeldFlushes<'_> {
        self.shared.held.store(true, std::sync::atomic::Ordering::SeqCst);
        HeldFlushes(&self.shared)
    }

    /// Makes everything in place durable now and deletes the segments
    /// that recorded it: a store closing cleanly leaves nothing to replay.
    pub(super) fn checkpoint(&self) -> io::Result<()> {
        self.shared.checkpoint()
    }

    /// (records appended, flushes run).
    pub(super) fn counts(&self) -> (u64, u64) {
        let state = self.shared.lock();
        (state.appended, state.flushes)
    }
}

/// Flushes held back while alive ([`Journal::hold_flushes`]).
#[cfg(test)]
pub(super) struct HeldFlushes<'j>(&'j Shared);

#[cfg(test)]
impl Drop for HeldFlushes<'_> {
    fn drop(&mut self) {
        self.0.held.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Journal {
    /// Flushes what is pending and stops the threads; the segments stay
    /// for the next open to replay.
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.work.notify_all();
        self.shared.tick.notify_all();
        self.shared.progress.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // Anyone still waiting learns the outcome now.
        let waiting = std::mem::take(&mut self.shared.lock().waiting);
        waiting.into_values().flatten().for_each(Waker::wake);
    }
}

impl Entry {
    /// Its number, for [`Journal::flushed_past`].
    pub(super) fn record(&self) -> u64 {
        self.record
    }
}

impl Drop for Entry {
    /// The change is in place, or will not be (a write that failed or was
    /// given up; its record, if durable and replayed, makes a write of
    /// unknown outcome happen).
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if let Some(count) = state.placing.get_mut(&self.segment) {
            *count -= 1;
            if *count == 0 {
                state.placing.remove(&self.segment);
            }
        }
        if state.checkpoint_waiting {
            self.shared.progress.notify_all();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `record` is durable.
    fn outcome(&self, record: u64) -> io::Result<()> {
        let state = self.lock();
        match &state.broken {
            Some((first, error)) if *first <= record => Err(broken(error)),
            _ if state.flushed < record => Err(io::Error::other("the journal stopped before this write was flushed")),
            _ => Ok(()),
        }
    }

    /// Writes and syncs whatever records are pending, until stopped with
    /// none pending.
    fn flush_loop(&self) {
        let mut spare = Vec::new();
        let mut state = self.lock();
        loop {
            while state.pending.is_empty() && !state.stopping {
                state.flusher_idle = true;
                state = self.work.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.flusher_idle = false;
            if state.pending.is_empty() {
                return;
            }
            let mut bytes = std::mem::replace(&mut state.pending, std::mem::take(&mut spare));
            let (first, last) = (state.flushed + 1, state.appended);
            let file = state.segment.file.clone();
            drop(state);
            #[cfg(test)]
            while self.held.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let written = (&*file).write_all(&bytes).and_then(|()| file.sync_data());
            bytes.clear();
            spare = bytes;
            state = self.lock();
            if let Err(error) = written
                && state.broken.is_none()
            {
                state.broken = Some((first, error.to_string()));
            }
            state.flushed = last;
            state.flushes += 1;
            let later = state.waiting.split_off(&(last + 1));
            let covered = std::mem::replace(&mut state.waiting, later);
            drop(state);
            covered.into_values().flatten().for_each(Waker::wake);
            self.progress.notify_all();
            state = self.lock();
        }
    }

    /// About once a second, if the current segment holds records, a
    /// [checkpoint](Self::checkpoint).
    fn checkpoint_loop(&self) {
        loop {
            let state = self.lock();
            let state = self.tick.wait_timeout(state, CHECKPOINT_EVERY).unwrap_or_else(|p| p.into_inner()).0;
            if state.stopping {
                return;
            }
            let due = state.segment.last > 0 && state.broken.is_none();
            drop(state);
            // A checkpoint that fails is tried again at the next tick; the
            // segments stay meanwhile.
            if due {
                let _ = self.checkpoint();
            }
        }
    }

    /// Moves on to a new segment if the current one holds records, waits
    /// until every change recorded in the old one is in place, makes
    /// everything in place durable (`syncfs`) and deletes the old segment.
    fn checkpoint(&self) -> io::Result<()> {
        let _one_at_a_time = self.checkpointing.lock().unwrap_or_else(|p| p.into_inner());
        let (number, rotate) = {
            let state = self.lock();
            if let Some((_, error)) = &state.broken {
                return Err(broken(error));
            }
            (state.segment.number + 1, state.segment.last > 0)
        };
        let mut old = None;
        if rotate {
            let file = new_segment(&self.dir, number)?;
            let mut state = self.lock();
            let segment = std::mem::replace(&mut state.segment, Segment { number, file: Arc::new(file), last: 0 });
            state.checkpoint_waiting = true;
            while !state.stopping && (state.flushed < segment.last || state.placing.contains_key(&segment.number)) {
                state = self.progress.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.checkpoint_waiting = false;
            if state.stopping {
                return Ok(());
            }
            old = Some(segment.number);
        }
        rustix::fs::syncfs(&self.root)?;
        if let Some(number) = old {
            // Not synced: a segment replayed again only rewrites what is
            // already in place, and the next checkpoint's syncfs makes
            // this deletion durable.
            fs::remove_file(segment_path(&self.dir, number))?;
        }
        Ok(())
    }
}

fn broken(error: &str) -> io::Error {
    io::Error::other(format!("the journal could not be written ({error}); writes are refused until restart"))
}

fn spawn(name: &str, shared: Arc<Shared>, run: fn(&Shared)) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_string()).spawn(move || run(&shared))
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}"))
}

/// Creates segment `number`, durable as an empty file before any record
/// in it is acknowledged.
fn new_segment(dir: &Path, number: u64) -> io::Result<File> {
    let file = File::options().append(true).create_new(true).open(segment_path(dir, number))?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(number) = entry.file_name().to_str().and_then(|name| name.parse::<u64>().ok()) {
            found.push((number, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Appends one record: length and CRC-32 of the rest, then the kind, the
/// key's length and the key, then the content of a put.
fn encode(out: &mut Vec<u8>, key: &str, change: &Change) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    let key_len = u16::try_from(key.len()).expect("store keys are at most 1,024 bytes");
    match change {
        Change::Put(body) => {
            out.push(PUT);
            out.extend_from_slice(&key_len.to_le_bytes());
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(body);
        }
        Change::Delete => {
            out.push(DELETE);
            out.extend_from_slice(&key_len.to_le_bytes());
            out.extend_from_slice(key.as_bytes());
        }
    }
    let content = &out[start + HEADER..];
    let len = u32::try_from(content.len()).expect("a record under 4 GiB");
    let crc = crc32fast::hash(content);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// The records in a segment, up to the first cut short or damaged.
fn decode(mut bytes: &[u8]) -> Vec<Record> {
    let mut records = Vec::new();
    while bytes.len() >= HEADER {
        let len = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[4..HEADER].try_into().expect("4 bytes"));
        let Some(content) = bytes.get(HEADER..HEADER + len) else { break };
        if crc32fast::hash(content) != crc {
            break;
        }
        let Some(record) = record_of(content) else { break };
        records.push(record);
        bytes = &bytes[HEADER + len..];
    }
    records
}

fn record_of(content: &[u8]) -> Option<Record> {
    let (&kind, rest) = content.split_first()?;
    let key_len = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as usize;
    let key = std::str::from_utf8(rest.get(2..2 + key_len)?).ok()?.to_string();
    let body = &rest[2 + key_len..];
    let change = match kind {
        PUT => Change::Put(body.to_vec()),
        DELETE if body.is_empty() => Change::Delete,
        _ => return None,
    };
    Some(Record { key, change })
}

/// Records written by hand, for the store's replay tests.
#[cfg(test)]
pub(super) mod tests_support {
    use super::{Change, encode};

    pub(in crate::store::fs) fn encode_put(out: &mut Vec<u8>, key: &str, body: &[u8]) {
        encode(out, key, &Change::Put(body.to_vec()));
    }

    pub(in crate::store::fs) fn encode_delete(out: &mut Vec<u8>, key: &str) {
        encode(out, key, &Change::Delete);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, body: &str) -> Record {
        Record { key: key.to_string(), change: Change::Put(body.as_bytes().to_vec()) }
    }

    #[test]
    fn records_read_back_as_written_up_to_a_tail_cut_short_or_damaged() {
        let written = vec![
            put("acme/events/orders/o-1/0000000001/OrderReceived", "{\"a\":1}"),
            Record { key: "acme/cursors/p".to_string(), change: Change::Delete },
            put("acme/empty", ""),
        ];
        let mut bytes = Vec::new();
        for record in &written {
            encode(&mut bytes, &record.key, &record.change);
        }
        assert_eq!(decode(&bytes), written);

        let whole = bytes.len();
        encode(&mut bytes, "acme/last", &Change::Put(b"cut".to_vec()));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), written, "a record cut short is not read");
        let mut damaged = bytes.clone();
        damaged[whole + HEADER + 3] ^= 0xff;
        assert_eq!(decode(&damaged), written, "a damaged record is not read");
        assert_eq!(decode(&bytes).len(), 4);
    }

    #[test]
    fn records_left_by_a_crash_are_replayed_in_order_and_the_journal_starts_again_empty() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join(JOURNAL_DIR);
        fs::create_dir_all(&dir).expect("dir");
        let mut first = Vec::new();
        encode(&mut first, "k", &Change::Put(b"1".to_vec()));
        encode(&mut first, "k", &Change::Put(b"2".to_vec()));
        let mut second = Vec::new();
        encode(&mut second, "k", &Change::Delete);
        encode(&mut second, "j", &Change::Put(b"3".to_vec()));
        second.extend_from_slice(&[1, 2, 3]);
        fs::write(segment_path(&dir, 7), &first).expect("segment");
        fs::write(segment_path(&dir, 8), &second).expect("segment");

        let mut replayed = Vec::new();
        let journal = Journal::open(root.path(), |record| {
            replayed.push(record);
            Ok(())
        })
        .expect("open");
        assert_eq!(
            replayed,
            vec![put("k", "1"), put("k", "2"), Record { key: "k".to_string(), change: Change::Delete }, put("j", "3")]
        );
        assert_eq!(segments(&dir).expect("segments").iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![9]);
        drop(journal);
        let mut again = Vec::new();
        drop(Journal::open(root.path(), |record| {
            again.push(record);
            Ok(())
        }));
        assert!(again.is_empty(), "nothing was appended: nothing to replay");
    }

    #[test]
    fn writers_in_flight_together_share_flushes_and_each_waits_for_its_own() {
        let root = tempfile::tempdir().expect("tempdir");
        let journal = Arc::new(Journal::open(root.path(), |_| Ok(())).expect("open"));
        let writers: Vec<_> = (0..16)
            .map(|writer| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    for n in 0..50 {
                        let body = format!("{writer}-{n}").into_bytes();
                        let entry = journal.append(&format!("w{writer}/{n}"), &Change::Put(body)).expect("append");
                        let record = entry.record();
                        futures::executor::block_on(journal.flushed_past(record)).expect("durable");
                        assert!(journal.shared.lock().flushed >= record, "returned before its flush");
                        drop(entry);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().expect("writer");
        }
        let (appended, flushes) = journal.counts();
        assert_eq!(appended, 800);
        assert!(flushes < appended, "{flushes} flushes for {appended} records: none shared");
    }
}
