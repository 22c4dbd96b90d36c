//! The one owner of `bindgen!` on the host: Rust bindings for every world
//! in `wit/`, generated from the same folder the guest SDK uses.
//!
//! The host interfaces are generated once (world `host`); the kind worlds
//! reuse them through `with`, so a host module implements each interface once.

#![allow(missing_debug_implementations, unreachable_pub, clippy::all)]

pub mod host_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/host",
        imports: { default: async | trappable },
    });
}

pub use host_world::portitor::plugin::{config, crypto, cursor, ftp, http, log, types};

/// The bindings of one kind world: its export, with the host interfaces
/// and shared types taken from [`host_world`] rather than generated again.
macro_rules! kind_world {
    ($module:ident, $world:literal) => {
        pub(crate) mod $module {
            wasmtime::component::bindgen!({
                path: "../wit",
                world: $world,
                imports: { default: async | trappable },
                exports: { default: async },
                with: {
                    "portitor:plugin/types": super::types,
                    "portitor:plugin/http": super::http,
                    "portitor:plugin/ftp": super::ftp,
                    "portitor:plugin/cursor": super::cursor,
                    "portitor:plugin/log": super::log,
                    "portitor:plugin/config": super::config,
                    "portitor:plugin/crypto": super::crypto,
                },
            });
        }
    };
}

kind_world!(push, "portitor:plugin/push-source");
kind_world!(pull, "portitor:plugin/pull-source");
kind_world!(validator, "portitor:plugin/validator");
kind_world!(mapper, "portitor:plugin/mapper");
kind_world!(warehouse, "portitor:plugin/warehouse");
kind_world!(auth, "portitor:plugin/auth");
kind_world!(status, "portitor:plugin/order-status-sink");

/// The export a component of each kind must have, in WIT's naming.
pub(crate) const PUSH_HANDLER: &str = "portitor:plugin/push-handler@0.1.0";
pub(crate) const PULL_HANDLER: &str = "portitor:plugin/pull-handler@0.1.0";
pub(crate) const VALIDATOR_HANDLER: &str = "portitor:plugin/validator-handler@0.1.0";
pub(crate) const MAPPER_HANDLER: &str = "portitor:plugin/mapper-handler@0.1.0";
pub(crate) const WAREHOUSE_HANDLER: &str = "portitor:plugin/warehouse-handler@0.1.0";
pub(crate) const AUTH_HANDLER: &str = "portitor:plugin/auth-handler@0.1.0";
/// The optional status export of source plugins.
pub(crate) const ORDER_STATUS: &str = "portitor:plugin/order-status@0.1.0";
