//! Builds packages of the `plugins/` workspace for `wasm32-wasip2`. Shared
//! by the build scripts of `runtime` (the example plugins it embeds) and
//! `test-programs` (the plugins only the tests use), through `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `packages` of the workspace in `plugins_dir` (release, for
/// `wasm32-wasip2`) into `target_dir`; returns where the `.wasm` files are.
/// Panics with the compiler's output when the build fails.
pub(crate) fn build(plugins_dir: &Path, packages: &[&str], target_dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(plugins_dir)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(target_dir);
    for package in packages {
        command.args(["--package", package]);
    }
    // The calling build script's environment describes the host build; the
    // plugin build must not inherit it.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_MAKEFLAGS"
            || [
                "RUSTFLAGS_HOST",
                "OUT_DIR",
                "TARGET",
                "HOST",
                "OPT_LEVEL",
                "PROFILE",
                "DEBUG",
                "NUM_JOBS",
                "RUSTC_WORKSPACE_WRAPPER",
            ]
            .contains(&key.as_str())
        {
            command.env_remove(&key);
        }
    }
    let output = command.output().expect("cargo runs");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
            "\n\nThe wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`."
        } else {
            ""
        };
        panic!("building the plugins for wasm32-wasip2 failed:\n{stderr}{hint}");
    }
    target_dir.join("wasm32-wasip2").join("release")
}

/// The file a package's component is built to.
pub(crate) fn component_file(wasm_dir: &Path, package: &str) -> PathBuf {
    wasm_dir.join(format!("{}.wasm", package.replace('-', "_")))
}

/// Re-runs the calling build script when anything under `dir` changes,
/// a file added included (cargo scans a watched directory whole; naming
/// each file would miss a new plugin).
pub(crate) fn watch(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
}

/// `<target>/<profile>/build/<package>-<hash>/out` → `<target>/<name>`: a
/// directory of the host build's target dir, kept across builds.
pub(crate) fn beside_host_target(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.ancestors().nth(4).expect("OUT_DIR is inside the target dir").join(name)
}
