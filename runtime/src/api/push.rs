//! `/{company}{path}`: partners' requests to push plugins.
//!
//! Authenticated per the plugin's manifest (a platform JWT by default, a
//! built-in signature scheme, the tenant's `auth` plugin, or the plugin
//! itself), de-duplicated on the partner's delivery id, handed to the
//! plugin, and its events ingested in the tenant of the path — never one a
//! plugin names. A plugin that fails
//! answers 5xx, so the partner retries, and the raw request is kept in the
//! dead-letter prefix for replay.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use serde_json::json;

use super::orders::body;
use super::{ApiError, AppState, RequestId, authorize};
use crate::auth::Role;
use crate::engine::{
    CallOptions, CallerIdentity, InvokeError, PartnerRequest, PartnerResponse, PluginFailure, Verdict, WhenBusy,
};
use crate::events::keys;
use crate::ingest::deliveries::{Claim, Deliveries, Delivery};
use crate::ingest::{IngestError, Origin};
use crate::manifest::{PluginKind, WebhookAuth};
use crate::registry::ActivePlugin;
use crate::webhooks;

/// Every answer on a push path — the plugin's or an error — is inert on
/// the platform's origin: no page, no script, no sniffing (DESIGN §8).
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
    let scheme = plugin.plugin.manifest().webhook.as_ref().unwrap_or(&DEFAULT_AUTH);
    // A platform JWT is Portitor's credential, not the partner's: the plugin never sees it.
    let forwarded: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !(*scheme == WebhookAuth::Jwt && *name == axum::http::header::AUTHORIZATION))
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let request = PartnerRequest {
        method: method.to_string(),
        path,
        query: uri.query().map(str::to_string),
        headers: forwarded,
        body: payload.to_vec(),
    };
    let identity = authenticate(&state, &plugin, scheme, &headers, &request, &request_id).await?;
    let Some(id) = identity.delivery_id.clone() else {
        return run_and_ingest(&state, &plugin, &request, &identity, &request_id).await;
    };

    // The delivery is claimed before the plugin runs: a concurrent delivery
    // of the same id waits its turn, a handled one is a duplicate, and a
    // failed one is released for the partner's retry.
    let delivery = Delivery { company, plugin: &plugin.key.plugin, id: &id, request_id: &request_id.0 };
    let deliveries = Deliveries::new(state.store.clone());
    let stale_after = plugin.plugin.limits().timeout + Duration::from_secs(60);
    match deliveries.claim(&delivery, stale_after).await? {
        Claim::Done => {
            return Ok((StatusCode::OK, Json(json!({ "duplicate": true, "deliveryId": id }))).into_response());
        }
        Claim::InProgress => {
            return Err(ApiError::RetryLater(format!(
                "delivery `{id}` is being handled by another request; retry later"
            )));
        }
        Claim::Claimed => {}
    }
    let answer = run_and_ingest(&state, &plugin, &request, &identity, &request_id).await;
    let settled = match &answer {
        Ok(_) => deliveries.done(&delivery).await,
        Err(_) => deliveries.release(&delivery).await,
    };
    if let Err(error) = settled {
        // Claimed, not settled: a retry takes the claim over once it is stale.
        tracing::warn!(%company, plugin = %plugin.key.plugin, delivery = %id, %error, "could not settle a delivery's claim");
    }
    answer
}

/// Runs the push plugin on an authenticated request and ingests its events.
async fn run_and_ingest(
    state: &AppState,
    plugin: &Arc<ActivePlugin>,
    request: &PartnerRequest,
    identity: &CallerIdentity,
    request_id: &RequestId,
) -> Result<Response, ApiError> {
    let company = plugin.key.company.as_str();
    let handled = plugin.plugin.handle(request, identity, partner_call(state, request_id)).await;
    let error = handled.as_ref().err().map(ToString::to_string);
    state.activity.record(company, &plugin.key.plugin, error.as_deref());
    let handled = match handled {
        Ok(handled) => handled,
        // Nothing ran: no dead letter; the partner retries when the tenant has room.
        Err(busy @ InvokeError::TenantBusy { .. }) => return Err(ApiError::TooManyRequests(busy.to_string())),
        Err(error) => {
            return Err(failed(state, plugin, request, request_id, &error.to_string(), status_of(&error)).await);
        }
    };

    let origin = Origin::Push {
        plugin: plugin.key.plugin.clone(),
        version: plugin.version.clone(),
        request_id: request_id.0.clone(),
    };
    let mut created = false;
    let mut ingested = Vec::new();
    for event in &handled.output.events {
        match state.ingest.plugin_event(company, &plugin.key.plugin, event, &origin).await {
            Ok(done) => {
                created |= done.created;
                let mut answer = json!({ "kind": event.kind, "id": done.id, "duplicate": !done.created });
                if let Some(order) = done.order {
                    answer["order"] = order.into();
                }
                ingested.push(answer);
            }
            Err(IngestError::Store(e)) => return Err(e.into()),
            Err(unlinked @ IngestError::Unlinked { .. }) => return Err(ApiError::RetryLater(unlinked.to_string())),
            Err(IngestError::Envelope(e)) => {
                let message = format!("event `{}`: {e}", event.external_id);
                return Err(
                    failed(state, plugin, request, request_id, &message, StatusCode::INTERNAL_SERVER_ERROR).await
                );
            }
        }
    }
    Ok(match handled.output.response {
        Some(custom) => partner_response(custom),
        None => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(json!({ "events": ingested }))).into_response()
        }
    })
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

/// A call on a partner's behalf: answered 429 at once rather than queued
/// when the tenant is at its share of the pool.
fn partner_call(state: &AppState, request_id: &RequestId) -> CallOptions {
    CallOptions {
        log_sink: state.log_sink.clone(),
        invocation_id: Some(request_id.0.clone()),
        when_busy: WhenBusy::Refuse,
    }
}

/// A push plugin's manifest without `webhook` takes a platform JWT.
static DEFAULT_AUTH: WebhookAuth = WebhookAuth::Jwt;

/// Who sent the request, per the plugin's manifest; 401 with the reason if not verified.
async fn authenticate(
    state: &AppState,
    plugin: &ActivePlugin,
    scheme: &WebhookAuth,
    headers: &HeaderMap,
    request: &PartnerRequest,
    request_id: &RequestId,
) -> Result<CallerIdentity, ApiError> {
    let company = plugin.key.company.clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    match scheme {
        WebhookAuth::Jwt => {
            let principal = authorize(state, headers, &company, &[Role::SourceAdapter])?;
            Ok(CallerIdentity {
                company,
                scheme: "jwt".into(),
                subject: Some(principal.subject),
                delivery_id: header("idempotency-key"),
            })
        }
        WebhookAuth::None => Ok(CallerIdentity { company, scheme: "none".into(), subject: None, delivery_id: None }),
        WebhookAuth::Plugin { plugin: verifier } => {
            verify_with_plugin(state, company, verifier, request, request_id).await
        }
        auth => {
            let secret_name = match auth {
                WebhookAuth::HmacSha256 { secret, .. }
                | WebhookAuth::Stripe { secret, .. }
                | WebhookAuth::StandardWebhooks { secret, .. } => secret.as_str(),
                WebhookAuth::Jwt | WebhookAuth::Plugin { .. } | WebhookAuth::None => "",
            };
            let secret = state.vault.tenant(&company).get(secret_name);
            let verified = webhooks::verify(auth, header, &request.body, secret, Utc::now().timestamp())
                .map_err(|reason| ApiError::Unauthorized(format!("webhook signature refused: {reason}")))?;
            Ok(CallerIdentity {
                company,
                scheme: verified.scheme.into(),
                subject: None,
                delivery_id: verified.delivery_id,
            })
        }
    }
}

/// Asks the tenant's auth plugin `verifier` about the request. Its failure
/// answers 5xx without a dead letter: the request is not authenticated, and
/// the partner's retry is what recovers it.
async fn verify_with_plugin(
    state: &AppState,
    company: String,
    verifier: &str,
    request: &PartnerRequest,
    request_id: &RequestId,
) -> Result<CallerIdentity, ApiError> {
    let active = state.registry.get(&company, verifier).filter(|active| active.plugin.kind() == PluginKind::Auth);
    let Some(active) = active else {
        return Err(ApiError::PluginUnavailable(format!(
            "the auth plugin `{verifier}` this webhook names is not installed"
        )));
    };
    if !active.enabled {
        return Err(ApiError::PluginUnavailable(format!("the auth plugin `{verifier}` is disabled")));
    }
    let verdict = active.plugin.verify(request, partner_call(state, request_id)).await;
    state.activity.record(&company, verifier, verdict.as_ref().err().map(ToString::to_string).as_deref());
    match verdict.map(|invocation| invocation.output) {
        Ok(Verdict::Verified { subject, delivery_id }) => {
            Ok(CallerIdentity { company, scheme: "plugin".into(), subject, delivery_id })
        }
        Ok(Verdict::Refused { reason }) => {
            Err(ApiError::Unauthorized(format!("refused by the auth plugin `{verifier}`: {reason}")))
        }
        // The reason is in the plugin's log (the engine wrote it there); the partner is told to retry.
        Ok(Verdict::Unavailable { .. }) => Err(ApiError::PluginUnavailable(format!(
            "the auth plugin `{verifier}` cannot verify requests now; retry later"
        ))),
        Err(busy @ InvokeError::TenantBusy { .. }) => Err(ApiError::TooManyRequests(busy.to_string())),
        Err(error) => {
            tracing::warn!(%company, plugin = %verifier, %error, "auth plugin failed");
            let message = format!("the auth plugin `{verifier}` failed; retry later");
            Err(match status_of(&error) {
                StatusCode::SERVICE_UNAVAILABLE => ApiError::PluginUnavailable(message),
                _ => ApiError::PluginFailed(StatusCode::INTERNAL_SERVER_ERROR, message),
            })
        }
    }
}

fn status_of(error: &InvokeError) -> StatusCode {
    match error {
        InvokeError::Plugin { failure: PluginFailure::InvalidInput(_), .. } => StatusCode::BAD_REQUEST,
        InvokeError::Plugin { failure: PluginFailure::Unauthorized(_), .. } => StatusCode::UNAUTHORIZED,
        error if error.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

const REDACTED: &str = "[redacted]";

/// Whether a header or query parameter name carries a credential or a
/// signature, which a dead letter must not keep: operators read dead
/// letters, and a kept signature would be a ready replay of the request.
fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie")
        || ["token", "secret", "key", "password", "auth", "signature", "hmac", "sig"]
            .iter()
            .any(|word| name.contains(word))
}

/// `a=1&api_key=s3cr3t` → `a=1&api_key=[redacted]`.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_credential(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Keeps the raw request in the dead-letter prefix and answers for the plugin.
async fn failed(
    state: &AppState,
    plugin: &Arc<ActivePlugin>,
    request: &PartnerRequest,
    request_id: &RequestId,
    error: &str,
    status: StatusCode,
) -> ApiError {
    // Time-ordered, so that listing sorts letters by their keys alone.
    let id = uuid::Uuid::now_v7().to_string();
    let key = keys::deadletter_key(&plugin.key.company, &plugin.key.plugin, &id);
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), if is_credential(n) { REDACTED.into() } else { v.clone() }))
        .collect();
    let query = request.query.as_deref().map(redact_query);
    let letter = json!({
        "id": id,
        "requestId": request_id.0,
        "receivedAt": Utc::now(),
        "plugin": plugin.key.plugin,
        "version": plugin.version,
        "method": request.method,
        "path": request.path,
        "query": query,
        "headers": headers,
        "bodyBase64": base64::engine::general_purpose::STANDARD.encode(&request.body),
        "error": error,
        "status": status.as_u16(),
    });
    if let Err(e) = state.store.put(&key, Bytes::from(letter.to_string())).await {
        tracing::error!(%key, error = %e, "could not keep the failed request as a dead letter");
        return ApiError::Unavailable(e.to_string());
    }
    tracing::warn!(company = %plugin.key.company, plugin = %plugin.key.plugin, dead_letter = %id, %error, "push plugin failed");
    let message = format!(
        "plugin `{}` could not handle the request; it was kept for replay as dead letter {id}",
        plugin.key.plugin
    );
    match status {
        StatusCode::BAD_REQUEST => ApiError::BadRequest(format!("{message}: {error}")),
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(message),
        status => ApiError::PluginFailed(status, message),
    }
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

    #[test]
    fn dead_letters_keep_no_credentials() {
        for name in [
            "Authorization",
            "cookie",
            "X-Api-Key",
            "x-auth-token",
            "X-Webhook-Secret",
            "X-Shopify-Hmac-Sha256",
            "Stripe-Signature",
            "webhook-signature",
            "X-Hub-Signature-256",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in ["content-type", "x-shopify-topic", "x-request-id"] {
            assert!(!is_credential(name), "{name}");
        }
        assert_eq!(redact_query("page=2&apikey=s3cr3t&token=t"), "page=2&apikey=[redacted]&token=[redacted]");
    }
}
