//! Portitor: a WebAssembly-sandboxed integration runtime.
//!
//! See `ARCHITECTURE.md` at the repository root for the modules and how a
//! call flows through them.

pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod engine;
pub mod errors;
pub mod events;
pub mod host;
pub mod ingest;
pub mod ops;
pub mod orders;
pub mod pipeline;
pub mod plugins;
pub mod projections;
pub mod queue;
pub mod replay;
pub mod scheduler;
pub mod security;
pub mod server;
pub mod store;
pub mod tasks;

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
