//! Checking that a component is what its manifest says: a component (not a
//! core module), exporting the handler interface of its kind with the
//! functions the runtime calls. Errors say what is missing.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::bindings::{
    AUTH_HANDLER, MAPPER_HANDLER, ORDER_STATUS, PULL_HANDLER, PUSH_HANDLER, VALIDATOR_HANDLER, WAREHOUSE_HANDLER,
};
use crate::plugins::manifest::PluginKind;

/// The export a kind requires, with its functions.
fn required_export(kind: PluginKind) -> (&'static str, &'static [&'static str], &'static str) {
    match kind {
        PluginKind::PushSource => (PUSH_HANDLER, &["path", "handle"], "portitor_guest::export_push_source!"),
        PluginKind::PullSource => {
            (PULL_HANDLER, &["schedule", "cursor-key", "fetch"], "portitor_guest::export_pull_source!")
        }
        PluginKind::Validator => (VALIDATOR_HANDLER, &["validate"], "portitor_guest::export_validator!"),
        PluginKind::Mapper => (MAPPER_HANDLER, &["map"], "portitor_guest::export_mapper!"),
        PluginKind::Warehouse => (WAREHOUSE_HANDLER, &["dispatch"], "portitor_guest::export_warehouse!"),
        PluginKind::Auth => (AUTH_HANDLER, &["verify"], "portitor_guest::export_auth!"),
    }
}

const KINDS: [PluginKind; 6] = [
    PluginKind::PushSource,
    PluginKind::PullSource,
    PluginKind::Validator,
    PluginKind::Mapper,
    PluginKind::Warehouse,
    PluginKind::Auth,
];

/// Whether `component` also exports the order-status interface.
pub(crate) fn exports_status(engine: &Engine, component: &Component) -> bool {
    component.component_type().exports(engine).any(|(name, _)| name == ORDER_STATUS)
}

/// Why bytes are not a WebAssembly component, if they are not.
pub(crate) fn check_component_header(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err("not a WebAssembly file (no `\\0asm` header)".into());
    }
    match bytes[4..8] {
        [0x01, 0x00, 0x00, 0x00] => {
            Err("a core WebAssembly module, not a component: build the plugin for the `wasm32-wasip2` target".into())
        }
        [_, _, 0x01, 0x00] => Ok(()),
        _ => Err("an unsupported WebAssembly binary version".into()),
    }
}

/// Checks that `component` exports what `kind` requires.
pub(crate) fn check_exports(engine: &Engine, component: &Component, kind: PluginKind) -> Result<(), String> {
    let (required, functions, macro_name) = required_export(kind);
    let ty = component.component_type();
    let exports: Vec<(String, ComponentItem)> =
        ty.exports(engine).map(|(name, item)| (name.to_string(), item.ty)).collect();
    let Some((_, item)) = exports.iter().find(|(name, _)| name == required) else {
        let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
        let other = KINDS.into_iter().find(|k| *k != kind && names.contains(&required_export(*k).0));
        let hint = match other {
            Some(other) => {
                format!(" It exports the {other} handler: is the manifest's kind wrong?")
            }
            None => format!(" Export it with `{macro_name}`."),
        };
        return Err(format!(
            "a {kind} plugin must export `{required}`; this component exports {}.{hint}",
            if names.is_empty() { "nothing".to_string() } else { format!("`{}`", names.join("`, `")) }
        ));
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return Err(format!("`{required}` must be an exported interface"));
    };
    let present: Vec<String> = instance.exports(engine).map(|(name, _)| name.to_string()).collect();
    let missing: Vec<&str> = functions.iter().copied().filter(|f| !present.iter().any(|p| p == f)).collect();
    if missing.is_empty() { Ok(()) } else { Err(format!("`{required}` lacks `{}`", missing.join("`, `"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_modules_components_and_garbage_apart() {
        assert!(check_component_header(b"\0asm\x0d\x00\x01\x00").is_ok());
        let module = check_component_header(b"\0asm\x01\x00\x00\x00").expect_err("module");
        assert!(module.contains("core WebAssembly module"), "{module}");
        let garbage = check_component_header(b"PK\x03\x04zipfile").expect_err("zip");
        assert!(garbage.contains("not a WebAssembly file"), "{garbage}");
    }
}
