//! Portitor: a WebAssembly-sandboxed integration runtime.
//!
//! See `ARCHITECTURE.md` at the repository root for the modules and how a
//! call flows through them.

pub mod engine;
pub mod host;
pub mod manifest;
pub mod secrets;

/// The example plugins, built from `plugins/` by `build.rs` and embedded.
pub mod examples {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

    /// The component of example plugin `id`.
    pub fn component(id: &str) -> Option<&'static [u8]> {
        EXAMPLES
            .iter()
            .find(|(name, _)| *name == id)
            .map(|(_, bytes)| *bytes)
    }
}
