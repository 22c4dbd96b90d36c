//! `wasi:http` for components whose toolchain imports it — a TypeScript
//! plugin's `fetch()` built with componentize-js, a library in any language
//! that speaks `wasi:http/outgoing-handler`. The runtime links it so that such
//! components load, and sends every request they make through the same path
//! as Portitor's own `http` interface ([`super::http::send`]): the manifest's
//! allowed hosts, the operator's address rules, the size caps and the
//! invocation's time-outs. A URL below one of the manifest's named connections
//! goes through that connection, its credentials attached by the host; the
//! guest never sees them. Nothing else of `wasi:http` reaches the network.
//! Because its requests and responses live in the host, outside the guest's
//! memory limit, an invocation holds at most [`MAX_HELD`] of them at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::answers::Outbound;
use super::http::{connection_for, send};
use super::log::{LogLevel, LogLine, LogSink};
use crate::engine::bindings::http::{HttpError, Request, Response};
use crate::engine::plugin::PluginShared;

/// The future `wasi:http` hands a response's I/O errors to: nothing is
/// left to report once the whole body was read (as here, before answering).
type IoDone = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

/// The most denials one invocation reports in the plugin's log (a guest
/// that keeps asking would otherwise write past its log budget).
const DENIALS_LOGGED: usize = 10;

/// The most `wasi:http` requests one invocation holds at once, counting a
/// response until its body is dropped. Portitor's `http` interface is one
/// request at a time, its response copied into the guest's memory (under
/// its limit); `wasi:http` futures and bodies live in the host, so without
/// this a guest could keep any number of connections and response bodies
/// (each up to the response cap) outside its memory limit.
pub(crate) const MAX_HELD: usize = 8;

/// The hooks of one invocation's `wasi:http`: how its calls go out, and
/// where a denial is reported so that the tenant sees why.
pub(crate) struct EgressHooks {
    outbound: Outbound,
    sink: Option<Arc<dyn LogSink>>,
    invocation: String,
    /// Made at the first request: most invocations make none.
    shared: Option<Arc<Shared>>,
}

/// What an invocation's requests share: the count of what they hold, and
/// the denials reported.
struct Shared {
    held: Arc<Semaphore>,
    log: DenialLog,
}

/// Reports denied requests in the plugin's log (the tenant's view), a few
/// per invocation.
struct DenialLog {
    sink: Option<Arc<dyn LogSink>>,
    invocation: String,
    logged: AtomicUsize,
}

impl EgressHooks {
    pub(crate) fn new(outbound: Outbound, sink: Option<Arc<dyn LogSink>>, invocation: String) -> Self {
        Self { outbound, sink, invocation, shared: None }
    }

    fn shared(&mut self) -> Arc<Shared> {
        let (sink, invocation) = (&self.sink, &self.invocation);
        self.shared
            .get_or_insert_with(|| {
                Arc::new(Shared {
                    held: Arc::new(Semaphore::new(MAX_HELD)),
                    log: DenialLog { sink: sink.clone(), invocation: invocation.clone(), logged: AtomicUsize::new(0) },
                })
            })
            .clone()
    }
}

impl DenialLog {
    fn denied(&self, plugin: &PluginShared, reason: &str) {
        let label = &plugin.label;
        tracing::info!(company = %label.company, plugin = %label.plugin, %reason, "a wasi:http request was denied");
        let Some(sink) = &self.sink else { return };
        if self.logged.fetch_add(1, Ordering::Relaxed) >= DENIALS_LOGGED {
            return;
        }
        sink.record(LogLine {
            at: chrono::Utc::now(),
            level: LogLevel::Warn,
            company: label.company.clone(),
            plugin: label.plugin.clone(),
            version: label.version.clone(),
            invocation: self.invocation.clone(),
            message: plugin.scrub(&format!("wasi:http: request denied: {reason}")),
        });
    }
}

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_io: IoDone,
    ) -> Box<dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, IoDone)>> + Send> {
        let (outbound, shared) = (self.outbound.clone(), self.shared());
        let plugin = outbound.plugin.clone();
        let Ok(held) = shared.held.clone().try_acquire_owned() else {
            shared.log.denied(&plugin, &format!("more than {MAX_HELD} requests and responses held at once"));
            return Box::new(async { Err(wasmtime_wasi_http::Error::ConnectionLimitReached) });
        };
        Box::new(async move {
            let request = portitor_request(&plugin, request).await?;
            let response = send(&outbound, request).await.map_err(|error| wasi_error(&plugin, &shared.log, error))?;
            let done: IoDone = Box::new(async { Ok(()) });
            Ok((wasi_response(response, held)?, done))
        })
    }
}

/// The request as Portitor's `http` interface takes it: the body read
/// whole (refused once past the manifest's cap), the connection the URL is
/// below, if any.
async fn portitor_request(
    plugin: &PluginShared,
    request: http::Request<WasiBody>,
) -> wasmtime_wasi_http::Result<Request> {
    let (parts, mut body) = request.into_parts();
    let cap = plugin.limits.max_http_request_bytes;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if bytes.len() + data.len() > cap {
                return Err(wasmtime_wasi_http::Error::HttpRequestBodySize(Some(cap as u64)));
            }
            bytes.extend_from_slice(&data);
        }
    }
    let url = parts.uri.to_string();
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let value = value.to_str().map_err(|_| {
            wasmtime_wasi_http::Error::InternalError(Some(format!("header `{name}` is not visible ASCII")))
        })?;
        headers.push((name.as_str().to_string(), value.to_string()));
    }
    Ok(Request {
        method: parts.method.as_str().to_string(),
        connection: connection_for(plugin, &url),
        url,
        headers,
        body: bytes,
        timeout_ms: None,
    })
}

/// The response as `wasi:http` serves it; its body keeps `held` until the
/// guest drops it.
fn wasi_response(
    response: Response,
    held: OwnedSemaphorePermit,
) -> wasmtime_wasi_http::Result<http::Response<WasiBody>> {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = HeldBody { body: Full::new(Bytes::from(response.body)), _held: held };
    let body = body.map_err(Into::into).boxed_unsync();
    builder.body(body).map_err(|e| wasmtime_wasi_http::Error::InternalError(Some(e.to_string())))
}

/// A response body that counts against the invocation's [`MAX_HELD`]
/// until it is dropped.
struct HeldBody {
    body: Full<Bytes>,
    _held: OwnedSemaphorePermit,
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// What the guest sees of a refusal or a failure. A denial is
/// `HTTP-request-denied`, its reason written to the plugin's log (the
/// guest's error code has no room for it); the others keep their text.
fn wasi_error(plugin: &PluginShared, log: &DenialLog, error: HttpError) -> wasmtime_wasi_http::Error {
    match error {
        HttpError::Denied(reason) => {
            log.denied(plugin, &reason);
            wasmtime_wasi_http::Error::HttpRequestDenied
        }
        HttpError::Timeout => wasmtime_wasi_http::Error::ConnectionTimeout,
        HttpError::UnknownConnection(message)
        | HttpError::InvalidRequest(message)
        | HttpError::TooLarge(message)
        | HttpError::Transport(message) => wasmtime_wasi_http::Error::InternalError(Some(message)),
    }
}
