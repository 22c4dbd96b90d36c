//! FTP or SFTP on connections named in the manifest (`protocol = "sftp"`
//! on the connection; the plugin's code is the same); the host holds the
//! server's address and credentials.
//!
//! ```no_run
//! # fn demo() -> Result<(), portitor_guest::PluginError> {
//! use portitor_guest::ftp::Connection;
//! let drop_folder = Connection::named("bring");
//! for entry in drop_folder.list("/in")? {
//!     if entry.name.ends_with(".csv") {
//!         let bytes = drop_folder.retrieve(&format!("/in/{}", entry.name))?;
//! #       let _ = bytes;
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::__bindings::portitor::plugin::ftp as wit;
use crate::PluginError;

pub use wit::{Entry, FtpError};

/// A named FTP connection from the manifest.
#[derive(Debug, Clone)]
pub struct Connection {
    name: String,
}

impl Connection {
    /// The manifest's connection `name`.
    pub fn named(name: &str) -> Self {
        Self { name: name.to_string() }
    }

    /// The entries of directory `dir`, with size and modification time.
    pub fn list(&self, dir: &str) -> Result<Vec<Entry>, FtpError> {
        wit::list(&self.name, dir)
    }

    /// The contents of the file at `path`.
    pub fn retrieve(&self, path: &str) -> Result<Vec<u8>, FtpError> {
        wit::retrieve(&self.name, path)
    }

    /// Writes `data` to `path`, replacing the file if it exists.
    pub fn store(&self, path: &str, data: &[u8]) -> Result<(), FtpError> {
        wit::store(&self.name, path, data)
    }

    /// Renames `from` to `to` (also how files move to an archive folder).
    pub fn rename(&self, from: &str, to: &str) -> Result<(), FtpError> {
        wit::rename(&self.name, from, to)
    }

    /// Deletes the file at `path`.
    pub fn delete(&self, path: &str) -> Result<(), FtpError> {
        wit::delete(&self.name, path)
    }

    /// Creates directory `path`; an existing directory is not an error.
    pub fn make_dir(&self, path: &str) -> Result<(), FtpError> {
        wit::make_dir(&self.name, path)
    }
}

impl From<FtpError> for PluginError {
    fn from(e: FtpError) -> Self {
        match e {
            FtpError::Denied(m) => PluginError::Fatal(format!("FTP denied by the sandbox: {m}")),
            FtpError::UnknownConnection(m) => PluginError::Fatal(format!("unknown FTP connection `{m}`")),
            FtpError::NotFound(m) => PluginError::Fatal(format!("FTP file not found: {m}")),
            FtpError::TooLarge(m) => PluginError::Fatal(format!("FTP file too large: {m}")),
            FtpError::Timeout => PluginError::Transient("FTP server timed out".into()),
            FtpError::Transport(m) => PluginError::Transient(format!("FTP server unreachable: {m}")),
            FtpError::Refused(m) => PluginError::Transient(format!("FTP server refused: {m}")),
        }
    }
}
