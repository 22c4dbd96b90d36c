//! The cursor of the current pull run.

use crate::__bindings::portitor::plugin::cursor;
use crate::{Event, PluginError};

/// The cursor this run started from, or the last checkpoint of this run.
pub fn current() -> Option<String> {
    cursor::current()
}

/// Makes `events` durable and then moves the cursor to `next`. Use it in
/// long backfills, and before anything destructive (archiving or deleting a
/// partner's file) so that nothing is lost if the run dies afterwards.
pub fn checkpoint(events: &[Event], next: &str) -> Result<(), PluginError> {
    cursor::checkpoint(events, next).map_err(|e| PluginError::Transient(format!("checkpoint failed: {e}")))
}
