//! What the fuzz targets reach that the crate does not otherwise export:
//! thin wrappers over crate-private parsers, so that fuzzing exercises the
//! code the server runs, not a copy. Compiled only with `--cfg fuzzing`.

use std::net::IpAddr;

/// The egress classifier: the class of an address a plugin's connection
/// resolved to, or `None` for the public internet.
pub fn address_class(addr: IpAddr) -> Option<&'static str> {
    crate::host::egress::special_class(addr).map(|class| class.describe())
}

/// One MLSD line of an FTP directory listing, as the host hands it to a
/// plugin: `(name, size, modified, is_dir)`.
pub fn mlsd_entry(line: &str) -> Option<(String, u64, Option<u64>, bool)> {
    crate::host::ftp::entry_from_mlsd(line).map(|e| (e.name, e.size, e.modified, e.is_dir))
}
