//! Shared harness for the host tests: the engine, the plugins built by
//! `build.rs`, and real peers on loopback (an FTP server, partner HTTP
//! servers) that each test starts and that stop when dropped.

#![allow(dead_code, unreachable_pub)]

pub mod ftp;
pub mod nats;
pub mod orders;
pub mod partner;
pub mod prime_cargo;
pub mod s3;
pub mod server;
pub mod sftp;
pub mod tenant;
pub mod warehouse;

use std::sync::Arc;

use portitor::engine::{Engine, EngineConfig, LoadedPlugin};
use portitor::host::egress::EgressGrants;
use portitor::plugins::manifest::Manifest;
use portitor::security::secrets::{SecretSource, StaticSecrets};

/// The bytes of plugin `name`, built from `plugins/`: a test plugin
/// (`test-loop`, from the `test-programs` crate) or an example
/// (`shopify-orders`, built by the runtime's own build script).
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = portitor_test_programs::path(name).unwrap_or_else(|| {
        std::path::Path::new(env!("WASM_PLUGIN_DIR")).join(format!("{}.wasm", name.replace('-', "_")))
    });
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An engine with a small pool, as the tests need, whose operator grants
/// every tenant loopback (where the tests' partners listen).
pub fn engine() -> Engine {
    let egress = EgressGrants { private_hosts: vec!["127.0.0.1".into()], ..EgressGrants::default() };
    Engine::new(EngineConfig { max_concurrent_instances: 32, egress, ..EngineConfig::default() }).expect("engine")
}

/// Loads plugin `name` for tenant `acme` with `manifest` (TOML) and `secrets`.
pub fn load(engine: &Engine, name: &str, manifest: &str, secrets: StaticSecrets) -> LoadedPlugin {
    let manifest = Manifest::parse(manifest).expect("manifest");
    let secrets: Arc<dyn SecretSource> = Arc::new(secrets);
    engine.load("acme", name, &plugin_bytes(name), manifest, secrets).expect("load")
}

/// A free TCP port on loopback (bound, then released for the peer to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}
