//! Outbound HTTP, to the hosts the manifest allows.
//!
//! ```no_run
//! # fn demo() -> Result<(), portitor_guest::PluginError> {
//! use portitor_guest::http::Request;
//! // Through a named connection: the host attaches its credentials.
//! let shipments: serde_json::Value = Request::get("/v7/trackandtrace/id/RR123456785SE/public")
//!     .via("postnord")
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # let _ = shipments; Ok(()) }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__bindings::portitor::plugin::http as wit;
use crate::PluginError;

pub use wit::HttpError;

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Request {
    inner: wit::Request,
}

impl Request {
    /// A request with `method` to `url` (absolute, or relative to a connection's base URL).
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            inner: wit::Request {
                method: method.to_string(),
                url: url.into(),
                headers: Vec::new(),
                body: Vec::new(),
                connection: None,
                timeout_ms: None,
            },
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// Sends the request through the manifest's connection `name`.
    pub fn via(mut self, connection: &str) -> Self {
        self.inner.connection = Some(connection.to_string());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.inner.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.inner.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(mut self, body: &impl Serialize) -> Result<Self, PluginError> {
        self.inner.body = serde_json::to_vec(body)
            .map_err(|e| PluginError::Fatal(format!("request body is not serializable: {e}")))?;
        Ok(self.header("content-type", "application/json"))
    }

    /// Gives up after `ms` milliseconds (the manifest's limit still applies).
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.inner.timeout_ms = Some(ms);
        self
    }

    /// Sends the request. Any status is a response; see [`Response::error_for_status`].
    pub fn send(self) -> Result<Response, HttpError> {
        wit::send(&self.inner).map(|r| Response { status: r.status, headers: r.headers, body: r.body })
    }
}

/// A partner's response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response, or a [`PluginError`] that says whether retrying can help:
    /// 408, 429 and 5xx are transient, 401 and 403 unauthorized, other 4xx fatal.
    pub fn error_for_status(self) -> Result<Self, PluginError> {
        let status = self.status;
        let snippet = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned();
        match status {
            200..=399 => Ok(self),
            408 | 429 | 500..=599 => Err(PluginError::Transient(format!("partner answered {status}: {snippet}"))),
            401 | 403 => Err(PluginError::Unauthorized(format!("partner answered {status}: {snippet}"))),
            _ => Err(PluginError::Fatal(format!("partner answered {status}: {snippet}"))),
        }
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::Fatal(format!("partner's response is not the expected JSON: {e}")))
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl From<HttpError> for PluginError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Denied(m) => PluginError::Fatal(format!("request denied by the sandbox: {m}")),
            HttpError::UnknownConnection(m) => PluginError::Fatal(format!("unknown connection `{m}`")),
            HttpError::InvalidRequest(m) => PluginError::Fatal(format!("invalid request: {m}")),
            HttpError::TooLarge(m) => PluginError::Fatal(format!("too large: {m}")),
            HttpError::Timeout => PluginError::Transient("partner timed out".into()),
            HttpError::Transport(m) => PluginError::Transient(format!("partner unreachable: {m}")),
        }
    }
}
