//! Tenants' plugins as the platform knows them: the manifest (what a
//! plugin is and what its sandbox grants) and the registry of versions.
//! Running them is the engine's.

pub mod manifest;
pub mod registry;
