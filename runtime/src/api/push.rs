//! `/{company}{path}`: partners' requests to push plugins, over HTTP. The
//! route picks the plugin; a platform JWT, when the manifest asks for one,
//! is verified here; the rest — signatures, the delivery claim, the plugin
//! call, ingest, dead letters — is the use case in `ingest/push.rs`. This
//! maps its outcome to an answer, and keeps every answer inert (below).

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::orders::body;
use super::{ApiError, AppState, RequestId, authorize};
use crate::engine::{PartnerRequest, PartnerResponse};
use crate::ingest::push::{DEFAULT_AUTH, Push, PushError, Pushed, Pushes};
use crate::plugins::manifest::WebhookAuth;
use crate::security::auth::Role;

/// Every answer on a push path — the plugin's or an error — is inert on
/// the platform's origin: no page, no script, no sniffing (docs/DESIGN.md §8).
pub(super) async fn webhook(
    state: State<AppState>,
    request_id: Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Response {
    let mut response = match handle(state, request_id, method, uri, headers, payload).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

async fn handle(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("nothing is served at {}", uri.path()));
    let (company, path) = uri.path().trim_start_matches('/').split_once('/').ok_or_else(not_found)?;
    let path = format!("/{path}");
    let plugin = state.registry.route(company, &path).ok_or_else(not_found)?;
    if !plugin.enabled {
        return Err(ApiError::PluginUnavailable(format!("plugin `{}` is disabled", plugin.key.plugin)));
    }
    let payload = body(&state, payload)?;
    let jwt = plugin.plugin.manifest().webhook.as_ref().unwrap_or(&DEFAULT_AUTH) == &WebhookAuth::Jwt;
    let jwt_subject = match jwt {
        true => Some(authorize(&state, &headers, company, &[Role::SourceAdapter])?.subject),
        false => None,
    };
    let received: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    // A platform JWT is Portitor's credential, not the partner's: the plugin never sees it.
    let forwarded = received.iter().filter(|(name, _)| !(jwt && name == "authorization")).cloned().collect();
    let request = PartnerRequest {
        method: method.to_string(),
        path,
        query: uri.query().map(str::to_string),
        headers: forwarded,
        body: payload.to_vec(),
    };
    let push = Push { plugin: &plugin, request, headers: &received, jwt_subject, request_id: &request_id.0 };
    Ok(match pushes(&state).push(push).await? {
        Pushed::Duplicate { delivery_id } => {
            (StatusCode::OK, Json(json!({ "duplicate": true, "deliveryId": delivery_id }))).into_response()
        }
        Pushed::Handled { response: Some(custom), .. } => partner_response(custom),
        Pushed::Handled { created, events, response: None } => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(json!({ "events": events }))).into_response()
        }
    })
}

/// The push use case over the server's parts.
pub(super) fn pushes(state: &AppState) -> Pushes<'_> {
    Pushes {
        ingest: &state.ingest,
        registry: &state.registry,
        vault: &state.vault,
        activity: &state.activity,
        store: &state.store,
        log_sink: state.log_sink.clone(),
        recorder: &state.recorder,
    }
}

impl From<PushError> for ApiError {
    fn from(error: PushError) -> Self {
        match error {
            PushError::Unauthorized(message) => Self::Unauthorized(message),
            PushError::TenantBusy(message) => Self::TooManyRequests(message),
            PushError::PluginUnavailable(message) => Self::PluginUnavailable(message),
            PushError::BadRequest(message) => Self::BadRequest(message),
            PushError::PluginFailed { status, message } => {
                Self::PluginFailed(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), message)
            }
            PushError::RetryLater(message) => Self::RetryLater(message),
            PushError::NotFound(message) => Self::NotFound(message),
            PushError::Store(error) => error.into(),
        }
    }
}

/// Headers a plugin may set on its answer to a partner; others are dropped.
/// `x-hook-secret` is the handshake some partners (Asana) verify.
const PARTNER_HEADERS: &[&str] = &["cache-control", "etag", "last-modified", "retry-after", "x-hook-secret"];

/// A plugin's answer to its partner, as the platform lets it out: a JSON,
/// XML or plain-text content type (anything else is served as plain
/// text), headers from [`PARTNER_HEADERS`] only.
fn partner_response(custom: PartnerResponse) -> Response {
    let content_type = custom
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str())
        .filter(|value| is_data_content_type(value))
        .and_then(|value| HeaderValue::from_str(value).ok())
        .unwrap_or_else(|| HeaderValue::from_static("text/plain; charset=utf-8"));
    // A final status only: a 1xx (`101 Switching Protocols`) could turn a
    // proxy in front into a tunnel the platform never agreed to.
    let status = StatusCode::from_u16(custom.status).ok().filter(|s| (200..600).contains(&s.as_u16()));
    let mut response = (status.unwrap_or(StatusCode::OK), custom.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    for (name, value) in custom.headers {
        let name = name.to_ascii_lowercase();
        if !PARTNER_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    response
}

/// JSON, XML or plain text, with any parameters (`; charset=utf-8`).
fn is_data_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let structured_suffix = essence.strip_prefix("application/").is_some_and(|subtype| {
        (subtype.ends_with("+json") || subtype.ends_with("+xml"))
            && subtype != "xhtml+xml"
            && subtype.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
    });
    structured_suffix || matches!(essence.as_str(), "application/json" | "application/xml" | "text/xml" | "text/plain")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_answers_partners_with_data_never_pages_or_scripts() {
        let custom = PartnerResponse {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "text/html".into()),
                ("Service-Worker-Allowed".into(), "/".into()),
                ("Set-Cookie".into(), "session=stolen".into()),
                ("Location".into(), "https://evil.example".into()),
                ("Content-Security-Policy".into(), "default-src *".into()),
                ("Retry-After".into(), "5".into()),
                ("X-Hook-Secret".into(), "handshake".into()),
            ],
            body: b"<script>alert(1)</script>".to_vec(),
        };
        let response = partner_response(custom);
        let headers = response.headers();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        for dropped in ["service-worker-allowed", "set-cookie", "location", "content-security-policy"] {
            assert!(!headers.contains_key(dropped), "{dropped} must be dropped");
        }
        assert_eq!(headers["retry-after"], "5");
        assert_eq!(headers["x-hook-secret"], "handshake");

        let switching =
            PartnerResponse { status: 101, headers: vec![("upgrade".into(), "websocket".into())], body: vec![] };
        let response = partner_response(switching);
        assert_eq!(response.status(), StatusCode::OK, "no 1xx on the platform's behalf");
        assert!(!response.headers().contains_key("upgrade"));

        for allowed in [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/xml",
            "text/xml; charset=iso-8859-1",
            "application/problem+json",
            "application/soap+xml",
        ] {
            assert!(is_data_content_type(allowed), "{allowed}");
        }
        for refused in [
            "text/html",
            "application/javascript",
            "text/javascript",
            "image/svg+xml",
            "application/xhtml+xml",
            "multipart/form-data",
            "application/x-shockwave-flash",
            "",
        ] {
            assert!(!is_data_content_type(refused), "{refused}");
        }
    }
}
