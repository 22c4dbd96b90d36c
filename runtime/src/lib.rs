//! Portitor: a WebAssembly-sandboxed integration runtime.
//!
//! See `ARCHITECTURE.md` at the repository root for the modules and how a
//! call flows through them.

pub mod activity;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod events;
pub mod host;
pub mod ingest;
pub mod manifest;
pub mod metrics;
pub mod node_sync;
pub mod order_book;
mod order_locks;
pub mod orders;
pub mod per_plugin;
pub mod pipeline;
pub mod platform_keys;
pub mod plugin_logs;
pub mod projections;
pub mod queue;
pub mod registry;
pub mod scheduler;
pub mod secrets;
pub mod server;
pub mod shared_queue;
pub mod store;
pub mod tasks;
pub mod webhooks;

/// Entry points for `cargo fuzz` (FUZZING.md) to parsers that are not
/// public API; built only under the fuzzer's `--cfg fuzzing`.
#[cfg(fuzzing)]
pub mod fuzzing;

/// The example plugins, built from `plugins/` by `build.rs` and embedded.
pub mod examples {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

    /// The component of example plugin `id`.
    pub fn component(id: &str) -> Option<&'static [u8]> {
        EXAMPLES.iter().find(|(name, _)| *name == id).map(|(_, bytes)| *bytes)
    }
}
