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

pub(crate) mod push {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/push-source",
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

pub(crate) mod pull {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/pull-source",
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

pub(crate) mod validator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/validator",
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

pub(crate) mod mapper {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/mapper",
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

pub(crate) mod warehouse {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/warehouse",
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

pub(crate) mod auth {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/auth",
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

pub(crate) mod status {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "portitor:plugin/order-status-sink",
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

/// The export a component of each kind must have, in WIT's naming.
pub(crate) const PUSH_HANDLER: &str = "portitor:plugin/push-handler@0.1.0";
pub(crate) const PULL_HANDLER: &str = "portitor:plugin/pull-handler@0.1.0";
pub(crate) const VALIDATOR_HANDLER: &str = "portitor:plugin/validator-handler@0.1.0";
pub(crate) const MAPPER_HANDLER: &str = "portitor:plugin/mapper-handler@0.1.0";
pub(crate) const WAREHOUSE_HANDLER: &str = "portitor:plugin/warehouse-handler@0.1.0";
pub(crate) const AUTH_HANDLER: &str = "portitor:plugin/auth-handler@0.1.0";
/// The optional status export of source plugins.
pub(crate) const ORDER_STATUS: &str = "portitor:plugin/order-status@0.1.0";
