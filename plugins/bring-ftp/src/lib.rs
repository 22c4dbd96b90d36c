//! ORDERS CSV v1 files in an FTP drop folder (Bring-style) → `order` events.
//!
//! Each `*.csv` file in the folder holds one or more complete orders, one
//! row per order line (`;`-separated, RFC 4180 quoting). Each order becomes
//! one `order` event whose external id is its `order_number`.
//!
//! # What the cursor remembers
//!
//! FTP modification times have one-second resolution, so "newer than the
//! last time seen" would skip a second file written in the same second, and
//! miss a file rewritten within the second it was read. The cursor instead
//! records every file still in the folder: its size, modification time and
//! SHA-256. A file is read when it is new, when its size or time changed,
//! or when it was *unsettled* last time — its time was the newest in the
//! listing, so it could still be rewritten within that same second. A file
//! read again whose content hash is unchanged yields no events. Files that
//! left the folder drop out of the cursor, so it stays as small as the folder.
//!
//! # Configuration
//! - `connection`: the manifest's FTP connection (default `drop-folder`)
//! - `folder`: the folder to poll (default `/in`)
//! - `max-files`: files read per batch (default 50); the rest follow at once
//! - `archive-folder`: when set, each file is moved there after its orders
//!   are durable (a checkpoint), never before
//!
//! A file that cannot be parsed is logged at error level and remembered, so
//! it is not retried until it changes.

mod csv;
mod cursor;
mod orders;

use portitor_guest::ftp::Connection;
use portitor_guest::{Batch, Event, PluginError, PullSource, config, crypto};

use crate::cursor::{FileRecord, FolderCursor};

struct BringFtp;

impl PullSource for BringFtp {
    fn schedule() -> String {
        "0 */5 * * * *".into()
    }

    fn cursor_key() -> String {
        "cursor".into()
    }

    fn fetch(cursor: Option<String>) -> Result<Batch, PluginError> {
        let connection = Connection::named(&config::get("connection").unwrap_or_else(|| "drop-folder".into()));
        let folder = config::get("folder").unwrap_or_else(|| "/in".into());
        let folder = folder.trim_end_matches('/');
        let max_files: usize = config::parse_or("max-files", 50)?;
        let archive = config::get("archive-folder");
        let mut state = FolderCursor::parse(cursor.as_deref())?;

        let mut files: Vec<_> = connection
            .list(folder)?
            .into_iter()
            .filter(|e| !e.is_dir && e.name.to_ascii_lowercase().ends_with(".csv"))
            .collect();
        files.sort_by(|a, b| (a.modified, &a.name).cmp(&(b.modified, &b.name)));
        let newest = files.iter().filter_map(|f| f.modified).max();
        state.retain_listed(files.iter().map(|f| f.name.as_str()));

        let mut events: Vec<Event> = Vec::new();
        let mut read = 0;
        let mut has_more = false;
        for file in &files {
            if !state.needs_reading(&file.name, file.size, file.modified) {
                continue;
            }
            if read == max_files {
                has_more = true;
                break;
            }
            read += 1;
            let path = format!("{folder}/{}", file.name);
            let data = connection.retrieve(&path)?;
            let sha256 = hex(&crypto::sha256(&data));
            let changed = state.content_changed(&file.name, &sha256);
            let mut file_events = Vec::new();
            let mut error = None;
            if changed {
                match orders::from_csv(&file.name, &data) {
                    Ok(parsed) => file_events = parsed,
                    Err(e) => {
                        portitor_guest::error!("{path}: {e}; the file is skipped until it changes");
                        error = Some(e);
                    }
                }
            }
            portitor_guest::info!("{path}: {} orders", file_events.len());
            let settled = matches!((file.modified, newest), (Some(m), Some(n)) if m < n);
            state.record(&file.name, FileRecord { size: file.size, modified: file.modified, sha256, settled, error });
            match &archive {
                Some(archive) if !file_events.is_empty() => {
                    // Durable first, then the partner's file moves.
                    let mut pending = std::mem::take(&mut events);
                    pending.extend(file_events);
                    portitor_guest::cursor::checkpoint(&pending, &state.to_json())?;
                    connection.make_dir(archive)?;
                    connection.rename(&path, &format!("{}/{}", archive.trim_end_matches('/'), file.name))?;
                    state.forget(&file.name);
                }
                _ => events.extend(file_events),
            }
        }
        Ok(Batch::new(events, state.to_json(), has_more))
    }
}

portitor_guest::export_pull_source!(BringFtp);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
