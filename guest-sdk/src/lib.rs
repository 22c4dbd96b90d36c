//! # portitor-guest: write Portitor plugins in Rust
//!
//! A Portitor plugin is a WebAssembly component that the runtime runs in a
//! sandbox. This crate is all a plugin author depends on: implement the
//! trait of your plugin's kind, export it with one macro, and build for
//! `wasm32-wasip2`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! portitor-guest = "0.1"
//! ```
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2
//! ```
//!
//! A component exports the world of one kind; the runtime refuses one whose
//! exports don't match the kind its manifest declares. (The export macro
//! carries the description of its world into the component, so using one
//! macro exports exactly one world.)
//!
//! The sandbox gives a plugin only what its manifest grants: outbound HTTP to
//! allowed hosts ([`http`]), FTP on named connections ([`ftp`]), its cursor
//! ([`cursor`], pull plugins), its configuration ([`config`]), logging
//! ([`log`]) and MACs with keys it cannot read ([`crypto`]). Credentials of
//! named connections are attached by the host: the plugin never sees them.
//!
//! ## A complete push plugin
//!
//! A webhook from a partner arrives at `/{company}/webhooks/acme/orders`; the
//! runtime authenticates it, then calls `handle`, which turns it into events.
//!
//! ```rust
//! use portitor_guest::{Event, HttpRequest, Identity, PluginError, PushOutcome, PushSource};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize)]
//! struct AcmeOrder {
//!     id: u64,
//!     currency: String,
//! }
//!
//! struct AcmeOrders;
//!
//! impl PushSource for AcmeOrders {
//!     fn path() -> String {
//!         "/webhooks/acme/orders".into()
//!     }
//!
//!     fn handle(request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
//!         let order: AcmeOrder = request.json()?;
//!         portitor_guest::info!("order {} received", order.id);
//!         let payload = json!({ "orderNumber": order.id.to_string(), "currency": order.currency });
//!         let event = Event::order(order.id.to_string(), &payload)?;
//!         Ok(PushOutcome::events(vec![event]))
//!     }
//! }
//!
//! portitor_guest::export_push_source!(AcmeOrders);
//! # fn main() {}
//! ```
//!
//! ## A complete pull plugin
//!
//! The runtime calls `fetch` on the plugin's schedule with the cursor it
//! stored after the previous batch, and stores the returned cursor only once
//! every event of the batch is durable.
//!
//! ```rust
//! use portitor_guest::{config, http, Batch, Event, PluginError, PullSource};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Page {
//!     items: Vec<serde_json::Value>,
//!     next: Option<String>,
//! }
//!
//! struct AcmeTracking;
//!
//! impl PullSource for AcmeTracking {
//!     fn schedule() -> String {
//!         "*/5 * * * *".into()
//!     }
//!
//!     fn cursor_key() -> String {
//!         "cursor".into()
//!     }
//!
//!     fn fetch(cursor: Option<String>) -> Result<Batch, PluginError> {
//!         let page_size = config::get("page-size").unwrap_or_else(|| "50".into());
//!         let from = cursor.unwrap_or_default();
//!         // `acme` is a connection in the manifest: the host adds its API key.
//!         let page: Page = http::Request::get(format!("/events?after={from}&limit={page_size}"))
//!             .via("acme")
//!             .send()?
//!             .error_for_status()?
//!             .json()?;
//!         let mut events = Vec::new();
//!         for item in &page.items {
//!             let id = item["id"].as_str().unwrap_or_default();
//!             events.push(Event::new("tracking", id, item)?);
//!         }
//!         let has_more = page.next.is_some();
//!         Ok(Batch::new(events, page.next.unwrap_or(from), has_more))
//!     }
//! }
//!
//! portitor_guest::export_pull_source!(AcmeTracking);
//! # fn main() {}
//! ```

//!
//! ## A complete auth plugin
//!
//! For a partner whose signature scheme the runtime has no verifier for: the
//! runtime calls `verify` before the push plugin that names this one in its
//! manifest (`webhook = { scheme = "plugin", plugin = "acme-auth" }`). The
//! MAC is computed by the host with a secret the plugin cannot read.
//!
//! ```rust
//! use portitor_guest::crypto::{self, Key};
//! use portitor_guest::{Auth, HttpRequest, Identity, Rejection};
//!
//! struct AcmeAuth;
//!
//! impl Auth for AcmeAuth {
//!     fn verify(request: HttpRequest) -> Result<Identity, Rejection> {
//!         let signature = request.header("x-acme-signature").ok_or_else(|| Rejection::refused("no signature"))?;
//!         let mac = decode_hex(signature).ok_or_else(|| Rejection::refused("the signature is not hex"))?;
//!         let delivery = request.header("x-acme-delivery").ok_or_else(|| Rejection::refused("no delivery id"))?;
//!         // The MAC covers the delivery id and the body, so a captured
//!         // request cannot be replayed under a new delivery id.
//!         let signed = [delivery.as_bytes(), b".", &request.body].concat();
//!         // A secret the manifest does not grant is the tenant's set-up:
//!         // `?` makes it `Rejection::Unavailable` (503, the partner retries).
//!         if !crypto::verify_hmac_sha256(&Key::secret("acme-secret"), &signed, &mac)? {
//!             return Err(Rejection::refused("bad signature"));
//!         }
//!         // The runtime replay-protects the delivery id.
//!         Ok(Identity::verified(Some("acme".into()), Some(delivery.to_string())))
//!     }
//! }
//!
//! fn decode_hex(text: &str) -> Option<Vec<u8>> {
//!     (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
//! }
//!
//! portitor_guest::export_auth!(AcmeAuth);
//! # fn main() {}
//! ```

extern crate self as portitor_guest;

#[doc(hidden)]
pub use wit_bindgen::rt as __rt;

/// Bindings of every host interface and the shared types, generated from `wit/`.
#[doc(hidden)]
#[allow(unsafe_code, unreachable_pub, missing_debug_implementations, clippy::all)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "host",
        runtime_path: "::portitor_guest::__rt",
    });
}

/// The bindings of one kind world and the macro that exports it, with the
/// host interfaces and shared types taken from [`__bindings`].
macro_rules! kind_world {
    ($module:ident, $world:literal, $export_macro:literal, $bindings_module:literal) => {
        #[doc(hidden)]
        #[allow(unsafe_code, unreachable_pub, missing_debug_implementations, clippy::all)]
        pub mod $module {
            wit_bindgen::generate!({
                path: "../wit",
                world: $world,
                runtime_path: "::portitor_guest::__rt",
                with: {
                    "portitor:plugin/types@0.1.0": crate::__bindings::portitor::plugin::types,
                    "portitor:plugin/http@0.1.0": crate::__bindings::portitor::plugin::http,
                    "portitor:plugin/ftp@0.1.0": crate::__bindings::portitor::plugin::ftp,
                    "portitor:plugin/cursor@0.1.0": crate::__bindings::portitor::plugin::cursor,
                    "portitor:plugin/log@0.1.0": crate::__bindings::portitor::plugin::log,
                    "portitor:plugin/config@0.1.0": crate::__bindings::portitor::plugin::config,
                    "portitor:plugin/crypto@0.1.0": crate::__bindings::portitor::plugin::crypto,
                },
                pub_export_macro: true,
                export_macro_name: $export_macro,
                default_bindings_module: $bindings_module,
            });
        }
    };
}

kind_world!(__push, "push-source", "__export_push_source", "::portitor_guest::__push");
kind_world!(__pull, "pull-source", "__export_pull_source", "::portitor_guest::__pull");
kind_world!(__auth, "auth", "__export_auth", "::portitor_guest::__auth");
kind_world!(__validator, "validator", "__export_validator", "::portitor_guest::__validator");
kind_world!(__mapper, "mapper", "__export_mapper", "::portitor_guest::__mapper");
kind_world!(__warehouse, "warehouse", "__export_warehouse", "::portitor_guest::__warehouse");
kind_world!(__status, "order-status-sink", "__export_order_status", "::portitor_guest::__status");

pub mod config;
pub mod crypto;
pub mod cursor;
pub mod ftp;
pub mod http;
pub mod log;
mod types;

pub use types::{
    Batch, Event, Finding, HttpRequest, HttpResponse, Identity, Order, PluginError, PushOutcome, Receipt, Rejection,
    Severity, StatusUpdate, ValidationMode, WarehouseOrder,
};

/// A webhook handler: implement it, then export it with [`export_push_source!`].
///
/// `path` is where the runtime serves the plugin below `/{company}`;
/// `handle` turns one authenticated partner request into events.
pub use __push::exports::portitor::plugin::push_handler::Guest as PushSource;

/// A poller: implement it, then export it with [`export_pull_source!`].
///
/// `schedule` is a cron expression, `cursor_key` names the cursor, and
/// `fetch` returns what is new since the cursor plus the next cursor.
pub use __pull::exports::portitor::plugin::pull_handler::Guest as PullSource;

/// Exports a [`PushSource`] implementation as this component's push handler.
#[macro_export]
macro_rules! export_push_source {
    ($plugin:ident) => {
        $crate::__push::__export_push_source!($plugin with_types_in $crate::__push);
    };
}

/// Exports a [`PullSource`] implementation as this component's pull handler.
#[macro_export]
macro_rules! export_pull_source {
    ($plugin:ident) => {
        $crate::__pull::__export_pull_source!($plugin with_types_in $crate::__pull);
    };
}

/// A verifier of partners' requests for push plugins: implement it, then
/// export it with [`export_auth!`]. A push plugin whose manifest says
/// `webhook = { scheme = "plugin", plugin = "<this plugin's id>" }` is
/// called only for requests `verify` accepts; compute MACs with
/// [`crypto`], whose secret keys never enter the sandbox.
pub use __auth::exports::portitor::plugin::auth_handler::Guest as Auth;

/// Exports an [`Auth`] implementation.
#[macro_export]
macro_rules! export_auth {
    ($plugin:ident) => {
        $crate::__auth::__export_auth!($plugin with_types_in $crate::__auth);
    };
}

/// A validator: implement it, then export it with [`export_validator!`].
pub use __validator::exports::portitor::plugin::validator_handler::Guest as Validator;

/// A mapper (order model → a warehouse's format): export it with [`export_mapper!`].
pub use __mapper::exports::portitor::plugin::mapper_handler::Guest as Mapper;

/// A warehouse dispatcher: export it with [`export_warehouse!`].
pub use __warehouse::exports::portitor::plugin::warehouse_handler::Guest as Warehouse;

/// A source plugin's status receiver: export it with [`export_order_status!`]
/// next to the plugin's handler, so the runtime can tell the webshop what
/// became of each order.
pub use __status::exports::portitor::plugin::order_status::Guest as OrderStatus;

/// Exports a [`Validator`] implementation.
#[macro_export]
macro_rules! export_validator {
    ($plugin:ident) => {
        $crate::__validator::__export_validator!($plugin with_types_in $crate::__validator);
    };
}

/// Exports a [`Mapper`] implementation.
#[macro_export]
macro_rules! export_mapper {
    ($plugin:ident) => {
        $crate::__mapper::__export_mapper!($plugin with_types_in $crate::__mapper);
    };
}

/// Exports a [`Warehouse`] implementation.
#[macro_export]
macro_rules! export_warehouse {
    ($plugin:ident) => {
        $crate::__warehouse::__export_warehouse!($plugin with_types_in $crate::__warehouse);
    };
}

/// Exports an [`OrderStatus`] implementation beside a source plugin's handler.
#[macro_export]
macro_rules! export_order_status {
    ($plugin:ident) => {
        $crate::__status::__export_order_status!($plugin with_types_in $crate::__status);
    };
}
