//! Builds the example plugins in `plugins/` for `wasm32-wasip2`, so that the
//! runtime embeds them for `portitor serve --demo` and the tests run real
//! components built from source. The plugins only the tests use (hostile
//! ones among them) are built by the `test-programs` crate, a
//! dev-dependency, and never by a production build. Nothing built here is
//! committed.
//!
//! Emits `WASM_PLUGIN_DIR` (where the `.wasm` files are) and
//! `$OUT_DIR/plugins.rs` (the example plugins, embedded).

use std::path::PathBuf;

#[path = "../plugins/build_wasm.rs"]
mod build_wasm;

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
    let plugins = root.join("plugins");
    for example in EXAMPLES {
        build_wasm::watch(&plugins.join(example));
    }
    for watched in ["guest-sdk", "wit"] {
        build_wasm::watch(&root.join(watched));
    }
    for file in ["Cargo.toml", "build_wasm.rs"] {
        println!("cargo:rerun-if-changed={}", plugins.join(file).display());
    }

    let target_dir = build_wasm::beside_host_target(&out_dir, "wasm-plugins");
    let wasm_dir = build_wasm::build(&plugins, EXAMPLES, &target_dir);
    println!("cargo:rustc-env=WASM_PLUGIN_DIR={}", wasm_dir.display());
    let mut generated = String::from(
        "/// The example plugins, built from `plugins/` by `build.rs`: (plugin id, component).\n\
         pub static EXAMPLES: &[(&str, &[u8])] = &[\n",
    );
    for name in EXAMPLES {
        let file = build_wasm::component_file(&wasm_dir, name);
        assert!(file.exists(), "{} was not built", file.display());
        generated.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string()));
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("plugins.rs"), generated).expect("write plugins.rs");
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is set by cargo"))
}
