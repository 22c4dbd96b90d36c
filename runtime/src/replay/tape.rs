//! A live invocation's host calls as they happen: each HTTP exchange, each
//! FTP operation, each checkpoint — what its recording keeps so that any
//! version can be re-run on it. Kept as the fixture format holds them,
//! credentials redacted and the tenant's secret values scrubbed from
//! everything, within a byte budget: an invocation that moves more than
//! [`Tape::BUDGET`] is not recorded at all (a partial recording could not
//! be replayed exactly).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::fixture::{Exchange, ExchangeRequest, ExchangeResponse, FtpExchange, body_fields, header_map};
use super::outcome::events_json;
use crate::engine::PluginEvent;
use crate::engine::bindings::http::{HttpError, Response};
use crate::engine::plugin::PluginShared;
use crate::host::OutgoingRequest;
use crate::security::redact;

/// What a listed FTP entry costs the budget besides its name.
const ENTRY_OVERHEAD: usize = 48;

/// The host calls of one invocation.
#[derive(Debug, Default)]
pub struct Tape {
    calls: Mutex<Calls>,
    bytes: AtomicUsize,
    overflowed: AtomicBool,
    /// What a live invocation's tape is for: its recording, a copy to the
    /// plugin's shadow, or both.
    pub(crate) record: bool,
    pub(crate) copy_to_shadow: bool,
}

/// What a tape holds.
#[derive(Debug, Default, Clone)]
pub struct Calls {
    pub http: Vec<Exchange>,
    pub ftp: Vec<FtpExchange>,
    /// Each mid-run checkpoint: `{ "events": [...], "cursor": "..." }`.
    pub checkpoints: Vec<Value>,
}

impl Tape {
    /// A live invocation's tape, for its recording and/or its shadow's copy.
    pub(crate) fn live(record: bool, copy_to_shadow: bool) -> Self {
        Self { record, copy_to_shadow, ..Self::default() }
    }

    /// The most bytes one recorded invocation keeps: URLs, headers,
    /// bodies, files, listings and checkpointed events.
    pub const BUDGET: usize = 4 * 1024 * 1024;

    /// An HTTP exchange that passed the policy: the request as the guest
    /// sent it (credentials redacted), the answer or the failure it got.
    pub(crate) fn http(&self, plugin: &PluginShared, request: &OutgoingRequest, answer: &Result<Response, HttpError>) {
        let headers = |pairs: &[(String, String)]| pairs.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
        let size = request.url.len()
            + headers(&request.headers)
            + request.body.len()
            + answer.as_ref().map_or(0, |response| headers(&response.headers) + response.body.len());
        if !self.spend(size) {
            return;
        }
        let (body, _) = body_fields(&request.body);
        let request = ExchangeRequest {
            method: request.method.clone(),
            url: plugin.scrub(&redact::url(&request.url)),
            headers: header_map(&scrubbed_headers(plugin, &request.headers)),
            body: scrub_value(plugin, body),
        };
        let exchange = match answer {
            Ok(response) => {
                let (body, body_base64) = body_fields(&response.body);
                Exchange {
                    request,
                    response: Some(ExchangeResponse {
                        status: response.status,
                        headers: header_map(&scrubbed_headers(plugin, &response.headers)),
                        body: scrub_value(plugin, body),
                        body_base64,
                    }),
                    error: None,
                }
            }
            Err(error) => {
                let mut failure = crate::host::http::host_failure(error);
                failure.message = plugin.scrub(&failure.message);
                Exchange { request, response: None, error: Some(failure) }
            }
        };
        self.lock().http.push(exchange);
    }

    /// An FTP or SFTP operation and its outcome.
    pub(crate) fn ftp(&self, plugin: &PluginShared, mut exchange: FtpExchange) {
        let listed = exchange.entries.iter().flatten().map(|entry| entry.name.len() + ENTRY_OVERHEAD).sum::<usize>();
        let size = exchange.path.len()
            + listed
            + exchange.data.as_ref().map_or(0, String::len)
            + exchange.data_base64.as_ref().map_or(0, String::len);
        if !self.spend(size) {
            return;
        }
        if let Some(data) = exchange.data.take() {
            exchange.data = Some(plugin.scrub(&data));
        }
        if let Some(error) = exchange.error.as_mut() {
            error.message = plugin.scrub(&error.message);
        }
        self.lock().ftp.push(exchange);
    }

    /// A checkpoint the plugin made: its events and the cursor it moved to.
    pub(crate) fn checkpoint(&self, events: &[PluginEvent], next: &str) {
        let size = events.iter().map(|event| event.payload.get().len()).sum();
        if !self.spend(size) {
            return;
        }
        self.lock().checkpoints.push(json!({ "events": events_json(events), "cursor": next }));
    }

    /// Whether the invocation moved more than the budget (and so is not recorded).
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// What the tape holds.
    pub fn calls(&self) -> Calls {
        self.lock().clone()
    }

    fn spend(&self, bytes: usize) -> bool {
        if self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes > Self::BUDGET {
            self.overflowed.store(true, Ordering::Relaxed);
            return false;
        }
        !self.overflowed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn scrubbed_headers(plugin: &PluginShared, headers: &[(String, String)]) -> Vec<(String, String)> {
    redact::headers(headers).into_iter().map(|(name, value)| (name, plugin.scrub(&value))).collect()
}

fn scrub_value(plugin: &PluginShared, value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(plugin.scrub(&text)),
        other => other,
    }
}
