//! Requests the URL in its configuration `target` through the standard
//! `wasi:http/outgoing-handler` — what a TypeScript plugin's `fetch()`
//! imports — instead of Portitor's `http` interface, setting the header
//! `x-api-key: from-the-guest` (a connection's credential must win). On an
//! answer it returns one event with the status and the body; on a refusal
//! it fails with the error code the host gave.

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
        let (status, body) = get(&target).map_err(|e| PluginError::Fatal(format!("wasi:http: {e}")))?;
        let payload = serde_json::json!({ "status": status, "body": String::from_utf8_lossy(&body) });
        Ok(PushOutcome::events(vec![Event::new("fetched", "fetch", &payload)?]))
    }
}

fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let (scheme, rest) = url.split_once("://").ok_or("the target has no scheme")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let headers = Fields::from_list(&[("x-api-key".to_string(), b"from-the-guest".to_vec())])
        .map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| describe(&e))?;
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

fn describe(code: &ErrorCode) -> String {
    match code {
        ErrorCode::HttpRequestDenied => "HttpRequestDenied".into(),
        ErrorCode::InternalError(Some(message)) => format!("InternalError: {message}"),
        other => format!("{other:?}"),
    }
}

portitor_guest::export_push_source!(Fetch);
