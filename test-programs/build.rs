//! Builds every package under `plugins/test-plugins/` for `wasm32-wasip2`
//! into a directory of its own beside the host's target dir, and emits
//! `TEST_PLUGIN_DIR` (where the `.wasm` files are).

use std::path::PathBuf;

#[path = "../plugins/build_wasm.rs"]
mod build_wasm;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("test-programs/ has a parent").to_path_buf();
    let plugins = root.join("plugins");
    let sources = plugins.join("test-plugins");
    for watched in [&sources, &root.join("guest-sdk"), &root.join("wit")] {
        build_wasm::watch(watched);
    }
    for file in ["Cargo.toml", "build_wasm.rs"] {
        println!("cargo:rerun-if-changed={}", plugins.join(file).display());
    }

    // Each directory is a package of the same name (`test-loop`, …).
    let mut packages: Vec<String> = std::fs::read_dir(&sources)
        .expect("plugins/test-plugins/ exists")
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    let target_dir = build_wasm::beside_host_target(&out_dir, "wasm-test-plugins");
    let wasm_dir = build_wasm::build(&plugins, &packages, &target_dir);
    for package in &packages {
        let file = build_wasm::component_file(&wasm_dir, package);
        assert!(file.exists(), "{} was not built", file.display());
    }
    println!("cargo:rustc-env=TEST_PLUGIN_DIR={}", wasm_dir.display());
}
