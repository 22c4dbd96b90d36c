//! `http`: outbound requests under the plugin's egress policy.
//!
//! Without a connection a request may go to the manifest's allowed hosts.
//! Through a named connection it must stay below the connection's base URL,
//! and the host attaches the connection's credentials (header, basic auth or
//! query parameter) — the guest never sees them. Every resolved address is
//! checked by [`PolicyResolver`]; IP literals are checked before sending.
//! Redirects are not followed (each hop must pass the policy as a request of
//! its own), proxies from the environment are ignored, and both bodies are
//! capped. Offline (`portitor plugin test`, a replay), a request that has
//! passed the policy is answered by [`HostAnswers`] instead of the
//! network; a recorded invocation keeps every exchange on its tape.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;
use wasmtime::component::{HasSelf, Linker};

use super::HostState;
use super::answers::{HostAnswers, Outbound, OutgoingRequest};
use super::egress::EgressPolicy;
use crate::engine::bindings::http::{self, HttpError, Request, Response};
use crate::engine::plugin::PluginShared;
use crate::plugins::manifest::ConnectionAuth;
use crate::replay::fixture::HostFailure;

/// Resolves host names and refuses addresses the plugin's policy forbids.
#[derive(Debug)]
struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

/// The error a refused address surfaces as, found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct EgressDenied(String);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                policy.check_address(&host, addr.ip()).map_err(EgressDenied)?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of one plugin version: its own connection pool, its
/// policy in the resolver, no redirects, no proxies.
pub(crate) fn client_for(policy: Arc<EgressPolicy>) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PolicyResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("portitor/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Headers the host owns: the guest may not set them.
const HOST_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te"];

/// A request that passed the policy, ready to send or to answer offline.
struct Prepared {
    method: reqwest::Method,
    url: Url,
    auth: Option<ConnectionAuth>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_ms: Option<u32>,
}

/// Sends `request` under the invocation's egress policy, within its
/// deadline — or asks its answers, offline — and keeps the exchange on its
/// tape when it is recorded: the one path every outbound HTTP request of a
/// guest takes, through Portitor's `http` interface or `wasi:http`.
pub(crate) async fn send(outbound: &Outbound, request: Request) -> Result<Response, HttpError> {
    let prepared = prepare(&outbound.plugin, request)?;
    let kept = outbound.tape.as_ref().map(|_| OutgoingRequest {
        method: prepared.method.to_string(),
        url: prepared.url.to_string(),
        headers: prepared.headers.clone(),
        body: prepared.body.clone(),
    });
    let answer = match &outbound.answers {
        Some(answers) => answered(&outbound.plugin, answers.as_ref(), prepared),
        None => over_network(&outbound.plugin, outbound.deadline, prepared).await,
    };
    if let (Some(tape), Some(request)) = (&outbound.tape, kept) {
        tape.http(&outbound.plugin, &request, &answer);
    }
    answer
}

/// Checks `request` against the plugin's policy and caps.
fn prepare(plugin: &PluginShared, request: Request) -> Result<Prepared, HttpError> {
    let limits = &plugin.limits;
    let (url, auth) = match &request.connection {
        Some(name) => {
            let connection =
                plugin.manifest.http.connections.get(name).ok_or_else(|| HttpError::UnknownConnection(name.clone()))?;
            (connection_url(name, &connection.base_url, &request.url)?, connection.auth.clone())
        }
        None => {
            let url = Url::parse(&request.url)
                .map_err(|e| HttpError::InvalidRequest(format!("`{}` is not an absolute URL: {e}", request.url)))?;
            let host = url.host_str().unwrap_or_default();
            if !plugin.egress.host_allowed(host, url.port_or_known_default()) {
                return Err(HttpError::Denied(format!("{host} is not in the manifest's network.allowed_hosts")));
            }
            (url, None)
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpError::InvalidRequest(format!("scheme `{}` is not http(s)", url.scheme())));
    }
    if let Some(host) = url.host_str()
        && let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>()
    {
        plugin.egress.check_address(host, ip).map_err(HttpError::Denied)?;
    }
    if request.body.len() > limits.max_http_request_bytes {
        return Err(HttpError::TooLarge(format!(
            "request body of {} bytes is over the cap of {}",
            request.body.len(),
            limits.max_http_request_bytes
        )));
    }
    let method = match request.method.to_ascii_uppercase().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => {
            reqwest::Method::from_bytes(m.as_bytes()).map_err(|e| HttpError::InvalidRequest(e.to_string()))?
        }
        other => {
            return Err(HttpError::InvalidRequest(format!("method `{other}` is not supported")));
        }
    };
    Ok(Prepared { method, url, auth, headers: request.headers, body: request.body, timeout_ms: request.timeout_ms })
}

/// The offline answer to a prepared request, under the response cap.
/// The URL is matched as recordings keep it: scrubbed of the version's secrets.
fn answered(plugin: &PluginShared, answers: &dyn HostAnswers, prepared: Prepared) -> Result<Response, HttpError> {
    let outgoing = OutgoingRequest {
        method: prepared.method.to_string(),
        url: plugin.scrub(prepared.url.as_str()),
        headers: prepared.headers,
        body: prepared.body,
    };
    let answer = answers
        .http(&outgoing)
        .ok_or_else(|| HttpError::Transport(format!("no recorded answer for {} {}", outgoing.method, outgoing.url)))?
        .map_err(http_error)?;
    let cap = plugin.limits.max_http_response_bytes;
    if answer.body.len() > cap {
        return Err(HttpError::TooLarge(format!("response body is over the cap of {cap} bytes")));
    }
    Ok(Response { status: answer.status, headers: answer.headers, body: answer.body })
}

/// A recorded failure as the error the plugin got.
fn http_error(failure: HostFailure) -> HttpError {
    match failure.kind.as_str() {
        "denied" => HttpError::Denied(failure.message),
        "unknown-connection" => HttpError::UnknownConnection(failure.message),
        "invalid-request" => HttpError::InvalidRequest(failure.message),
        "too-large" => HttpError::TooLarge(failure.message),
        "timeout" => HttpError::Timeout,
        _ => HttpError::Transport(failure.message),
    }
}

/// An HTTP error as a recording keeps it.
pub(crate) fn host_failure(error: &HttpError) -> HostFailure {
    let (kind, message) = match error {
        HttpError::Denied(m) => ("denied", m.clone()),
        HttpError::UnknownConnection(m) => ("unknown-connection", m.clone()),
        HttpError::InvalidRequest(m) => ("invalid-request", m.clone()),
        HttpError::TooLarge(m) => ("too-large", m.clone()),
        HttpError::Timeout => ("timeout", String::new()),
        HttpError::Transport(m) => ("transport", m.clone()),
    };
    HostFailure { kind: kind.to_string(), message }
}

/// Sends a prepared request, the connection's credentials attached.
async fn over_network(plugin: &PluginShared, deadline: Instant, prepared: Prepared) -> Result<Response, HttpError> {
    let limits = &plugin.limits;
    let Prepared { method, mut url, auth, headers, body, timeout_ms } = prepared;
    // The header the connection's credentials go in; the guest may not set it.
    let auth_header = match &auth {
        Some(ConnectionAuth::Header { name, .. }) => Some(name.to_ascii_lowercase()),
        Some(ConnectionAuth::Basic { .. }) => Some("authorization".to_string()),
        Some(ConnectionAuth::Query { param, secret }) => {
            let value = connection_secret(plugin, secret)?;
            url.query_pairs_mut().append_pair(param, value.expose());
            None
        }
        None => None,
    };

    let timeout = [
        timeout_ms.map(|ms| Duration::from_millis(u64::from(ms))),
        Some(limits.http_timeout),
        Some(deadline.saturating_duration_since(Instant::now())),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(limits.http_timeout);

    let mut builder = plugin.http_client.request(method, url).timeout(timeout);
    for (name, value) in &headers {
        let lower = name.to_ascii_lowercase();
        if HOST_HEADERS.contains(&lower.as_str()) || auth_header.as_deref() == Some(lower.as_str()) {
            continue;
        }
        let header_name = reqwest::header::HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("`{name}` is not a header name")))?;
        let header_value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| HttpError::InvalidRequest(format!("header `{name}` has an invalid value")))?;
        builder = builder.header(header_name, header_value);
    }
    if let Some(ConnectionAuth::Header { name, secret, prefix }) = &auth {
        let value = connection_secret(plugin, secret)?;
        let mut header_value = reqwest::header::HeaderValue::from_str(&format!("{prefix}{}", value.expose()))
            .map_err(|_| HttpError::InvalidRequest(format!("connection header `{name}` is not a valid value")))?;
        header_value.set_sensitive(true);
        builder = builder.header(name.as_str(), header_value);
    }
    if let Some(ConnectionAuth::Basic { username, password_secret }) = &auth {
        let password = connection_secret(plugin, password_secret)?;
        builder = builder.basic_auth(username, Some(password.expose()));
    }

    let mut response = builder.body(body).send().await.map_err(|e| classify(plugin, e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let cap = limits.max_http_response_bytes;
    if response.content_length().is_some_and(|len| len > cap as u64) {
        return Err(HttpError::TooLarge(format!("response body is over the cap of {cap} bytes")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(plugin, e))? {
        if body.len() + chunk.len() > cap {
            return Err(HttpError::TooLarge(format!("response body is over the cap of {cap} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { status, headers, body })
}

fn connection_secret(plugin: &PluginShared, name: &str) -> Result<crate::security::secrets::SecretValue, HttpError> {
    plugin
        .secret(name)
        .ok_or_else(|| HttpError::Denied(format!("the connection's secret `{name}` is not set for this tenant")))
}

/// The connection of `plugin` whose base URL `url` is below (the longest
/// base when several are), for a request that names none — a `wasi:http`
/// request, whose credentials the host then attaches as for `http`.
pub(crate) fn connection_for(plugin: &PluginShared, url: &str) -> Option<String> {
    plugin
        .manifest
        .http
        .connections
        .iter()
        .filter(|(name, connection)| connection_url(name, &connection.base_url, url).is_ok())
        .max_by_key(|(_, connection)| connection.base_url.len())
        .map(|(name, _)| name.clone())
}

/// The URL of a request through connection `name`: `target` is a path
/// relative to `base`, or an absolute URL that must stay below it.
fn connection_url(name: &str, base: &str, target: &str) -> Result<Url, HttpError> {
    let base = Url::parse(base).map_err(|e| HttpError::InvalidRequest(format!("connection `{name}`: {e}")))?;
    let url = if target.contains("://") {
        Url::parse(target)
    } else {
        let separator = if target.starts_with('/') || target.starts_with('?') { "" } else { "/" };
        Url::parse(&format!("{}{separator}{target}", base.as_str().trim_end_matches('/')))
    }
    .map_err(|e| HttpError::InvalidRequest(format!("`{target}` is not a valid URL: {e}")))?;
    let base_path = base.path().trim_end_matches('/');
    let below_base = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && (url.path() == base_path || url.path().starts_with(&format!("{base_path}/")) || base_path.is_empty());
    if below_base {
        Ok(url)
    } else {
        Err(HttpError::Denied(format!("`{target}` is outside connection `{name}`'s base URL {base}")))
    }
}

/// Turns a client error into what the guest sees, without the URL (which
/// may carry a query-parameter credential).
fn classify(plugin: &PluginShared, error: reqwest::Error) -> HttpError {
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        if let Some(denied) = e.downcast_ref::<EgressDenied>() {
            return HttpError::Denied(denied.0.clone());
        }
        source = e.source();
    }
    if error.is_timeout() {
        return HttpError::Timeout;
    }
    let error = error.without_url();
    HttpError::Transport(plugin.scrub(&crate::errors::with_causes(&error)))
}

impl http::Host for HostState {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        Ok(send(&self.outbound(), request).await)
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    http::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_urls_stay_below_the_base() {
        let ok = connection_url("pn", "https://api2.postnord.com/rest", "/shipment/v7/x?locale=sv").expect("relative");
        assert_eq!(ok.as_str(), "https://api2.postnord.com/rest/shipment/v7/x?locale=sv");
        assert!(connection_url("pn", "https://api2.postnord.com/rest", "https://api2.postnord.com/rest/a").is_ok());
        for escape in [
            "https://evil.example/rest/a",
            "https://api2.postnord.com/other",
            "/../other",
            "http://api2.postnord.com/rest/a",
            "https://api2.postnord.com:8443/rest/a",
            "https://user@api2.postnord.com/rest/a",
            "https://api2.postnord.com/restless",
        ] {
            assert!(
                matches!(connection_url("pn", "https://api2.postnord.com/rest", escape), Err(HttpError::Denied(_))),
                "{escape} must be refused"
            );
        }
    }
}
