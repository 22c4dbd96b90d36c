//! Builds every plugin in `plugins/` for `wasm32-wasip2` (as wasmtime's
//! test-programs do), so that the runtime embeds the example plugins for
//! `portitor serve --demo` and the tests run real components built from
//! source. Nothing built here is committed.
//!
//! Emits `WASM_PLUGIN_DIR` (where the `.wasm` files are) and
//! `$OUT_DIR/plugins.rs` (the example plugins, embedded).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example plugins: embedded in the binary, installed by `portitor serve --demo`.
const EXAMPLES: &[&str] = &[
    "shopify-orders",
    "prime-cargo",
    "prime-cargo-auth",
    "bring-ftp",
    "postnord-tracking",
    "rules-validator",
    "ongoing-mapper",
    "ongoing-wms",
    "warehouse-ftp",
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("runtime/ has a parent").to_path_buf();
    let out_dir = PathBuf::from(env("OUT_DIR"));
    for watched in ["plugins", "guest-sdk", "wit"] {
        watch(&root.join(watched));
    }

    // <target>/<profile>/build/portitor-<hash>/out → <target>/wasm-plugins
    let target_dir = out_dir.ancestors().nth(4).expect("OUT_DIR is inside the target dir").join("wasm-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root.join("plugins"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--workspace", "--target-dir"])
        .arg(&target_dir);
    // This build script's environment describes the host build; the plugin
    // build must not inherit it.
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

    let wasm_dir = target_dir.join("wasm32-wasip2").join("release");
    println!("cargo:rustc-env=WASM_PLUGIN_DIR={}", wasm_dir.display());
    let mut generated = String::from(
        "/// The example plugins, built from `plugins/` by `build.rs`: (plugin id, component).\n\
         pub static EXAMPLES: &[(&str, &[u8])] = &[\n",
    );
    for name in EXAMPLES {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(file.exists(), "{} was not built", file.display());
        generated.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string()));
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("plugins.rs"), generated).expect("write plugins.rs");
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is set by cargo"))
}

/// Re-runs the build script when anything under `dir` changes (but not
/// build outputs or lock files the nested build itself writes).
fn watch(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
