//! Requests the URL in its configuration `target` through the standard
//! `wasi:http/outgoing-handler` — what a TypeScript plugin's `fetch()`
//! imports — instead of Portitor's `http` interface, setting the header
//! `x-api-key: from-the-guest` (a connection's credential must win). On an
//! answer it returns one event with the status and the body; on a refusal
//! it fails with the error code the host gave. With `parallel = N` it starts
//! N requests at once and keeps every response, reporting how many answered.

use portitor_guest::{Event, HttpRequest, Identity, PluginError, PushOutcome, PushSource, config};
use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

struct Fetch;

impl PushSource for Fetch {
    fn path() -> String {
        "/test/fetch".into()
    }

    fn handle(_request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let target = config::require("target")?;
        if let Some(count) = config::get("parallel") {
            let count: usize = count.parse().map_err(|_| PluginError::Fatal("parallel: not a number".into()))?;
            let payload = hold_many(&target, count).map_err(|e| PluginError::Fatal(format!("wasi:http: {e}")))?;
            return Ok(PushOutcome::events(vec![Event::new("held", "fetch", &payload)?]));
        }
        let (status, body) = get(&target).map_err(|e| PluginError::Fatal(format!("wasi:http: {e}")))?;
        let payload = serde_json::json!({ "status": status, "body": String::from_utf8_lossy(&body) });
        Ok(PushOutcome::events(vec![Event::new("fetched", "fetch", &payload)?]))
    }
}

/// Sends a GET of `url` with the header `x-api-key: from-the-guest`.
fn start(url: &str) -> Result<wasi::http::types::FutureIncomingResponse, String> {
    let (scheme, rest) = url.split_once("://").ok_or("the target has no scheme")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let headers = Fields::from_list(&[("x-api-key".to_string(), b"from-the-guest".to_vec())])
        .map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "path")?;
    outgoing_handler::handle(request, None).map_err(|e| describe(&e))
}

fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let pending = start(url)?;
    pending.subscribe().block();
    let response =
        pending.get().ok_or("no response")?.map_err(|()| "the response was taken")?.map_err(|e| describe(&e))?;
    let status = response.status();
    let incoming = response.consume().map_err(|()| "no body")?;
    let stream = incoming.stream().map_err(|()| "no body stream")?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
        }
    }
    drop(stream);
    drop(incoming);
    Ok((status, body))
}

/// Starts `count` requests before waiting for any and keeps every response
/// (a hostile guest holding connections and bodies): how many answered, and
/// the error codes of the others.
fn hold_many(url: &str, count: usize) -> Result<serde_json::Value, String> {
    let pending: Vec<_> = (0..count).map(|_| start(url)).collect::<Result<_, _>>()?;
    let mut responses = Vec::new();
    let mut refused = Vec::new();
    for future in &pending {
        future.subscribe().block();
        match future.get().ok_or("no response")?.map_err(|()| "the response was taken")? {
            Ok(response) => responses.push(response),
            Err(code) => refused.push(describe(&code)),
        }
    }
    Ok(serde_json::json!({ "answered": responses.len(), "refused": refused }))
}

fn describe(code: &ErrorCode) -> String {
    match code {
        ErrorCode::HttpRequestDenied => "HttpRequestDenied".into(),
        ErrorCode::InternalError(Some(message)) => format!("InternalError: {message}"),
        other => format!("{other:?}"),
    }
}

portitor_guest::export_push_source!(Fetch);
