//! The drop folder's cursor: what was seen of each file still in the folder.

use std::collections::BTreeMap;

use portitor_guest::PluginError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct FolderCursor {
    files: BTreeMap<String, FileRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub(crate) size: u64,
    pub(crate) modified: Option<u64>,
    pub(crate) sha256: String,
    /// False while the file's time was the newest in the listing: it could
    /// still be rewritten within the same second, so it is hashed again.
    pub(crate) settled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

impl FolderCursor {
    pub(crate) fn parse(cursor: Option<&str>) -> Result<Self, PluginError> {
        match cursor {
            None | Some("") => Ok(Self::default()),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| PluginError::Fatal(format!("the cursor is not a bring-ftp cursor: {e}"))),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Forgets files that are no longer in the folder.
    pub(crate) fn retain_listed<'a>(&mut self, listed: impl Iterator<Item = &'a str>) {
        let listed: std::collections::BTreeSet<&str> = listed.collect();
        self.files.retain(|name, _| listed.contains(name.as_str()));
    }

    pub(crate) fn needs_reading(&self, name: &str, size: u64, modified: Option<u64>) -> bool {
        match self.files.get(name) {
            None => true,
            Some(seen) => seen.size != size || seen.modified != modified || modified.is_none() || !seen.settled,
        }
    }

    /// Whether `sha256` differs from what was last read of `name`.
    pub(crate) fn content_changed(&self, name: &str, sha256: &str) -> bool {
        self.files.get(name).is_none_or(|seen| seen.sha256 != sha256)
    }

    pub(crate) fn record(&mut self, name: &str, record: FileRecord) {
        self.files.insert(name.to_string(), record);
    }

    pub(crate) fn forget(&mut self, name: &str) {
        self.files.remove(name);
    }
}
