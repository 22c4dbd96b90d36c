//! Log lines. The host tags each with tenant, plugin, version and invocation,
//! and caps how much one invocation may write.

use crate::__bindings::portitor::plugin::log::{Level, write};

/// Writes `message` at `trace` level.
pub fn trace(message: impl AsRef<str>) {
    write(Level::Trace, message.as_ref());
}

/// Writes `message` at `debug` level.
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message.as_ref());
}

/// Writes `message` at `info` level.
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message.as_ref());
}

/// Writes `message` at `warn` level.
pub fn warn(message: impl AsRef<str>) {
    write(Level::Warn, message.as_ref());
}

/// Writes `message` at `error` level.
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message.as_ref());
}

/// `info!("order {} received", id)`: formats and logs at `info` level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::info(::std::format!($($arg)*)) };
}

/// `warn!(...)`: formats and logs at `warn` level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::warn(::std::format!($($arg)*)) };
}

/// `error!(...)`: formats and logs at `error` level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::error(::std::format!($($arg)*)) };
}

/// `debug!(...)`: formats and logs at `debug` level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::debug(::std::format!($($arg)*)) };
}
