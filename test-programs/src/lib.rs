//! The plugins only the tests use, as wasmtime keeps its own test programs:
//! hostile ones (a loop, a memory bomb, a forbidden host, a panic, an
//! oversized batch, a secret probe) and small probes (a counter, a relay).
//! Their sources are in `plugins/test-plugins/`; this crate's build script
//! compiles them for `wasm32-wasip2`. It is a dev-dependency of `portitor`,
//! so a production build never compiles them.

use std::path::PathBuf;

/// Where the components are: one `<name>.wasm` per package, `-` written `_`.
pub const WASM_DIR: &str = env!("TEST_PLUGIN_DIR");

/// The component file of test plugin `name` (e.g. `test-loop`), or `None`
/// when no test plugin has that name.
pub fn path(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(WASM_DIR).join(format!("{}.wasm", name.replace('-', "_")));
    path.exists().then_some(path)
}
