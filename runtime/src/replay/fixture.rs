//! The one file format of an invocation kept outside the plugin: a fixture
//! a tenant writes for `portitor plugin test`, and a recording the server
//! keeps of a live invocation (docs/DESIGN.md §10) — the same thing, a
//! recording only carrying more of it.
//!
//! A fixture holds one invocation's input (by plugin kind: a partner
//! `request` and the `identity` it was authenticated as, a pull `cursor`,
//! an `order`, a warehouse `document`), the answers to the host calls it
//! made (`http`, `ftp`), and what the plugin gave (`expect`). Bodies are
//! text when they are UTF-8 and `body_base64` when they are not, so that a
//! recorded request is replayed byte for byte.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One invocation: its input, the answers its host calls got, and what it gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where a recording came from; absent in a hand-written fixture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingInfo>,
    /// Push and auth plugins: the partner's request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<FixtureRequest>,
    /// Push plugins: who the request was authenticated as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<FixtureIdentity>,
    /// Pull plugins: the cursor the run starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Validators and mappers: the order model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Warehouse plugins: the mapped order and its reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<FixtureDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The answers to the component's HTTP requests, each used once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<Exchange>,
    /// The answers to its FTP and SFTP operations, each used once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ftp: Vec<FtpExchange>,
    /// The configuration the recorded version saw (secrets it exposes
    /// shown as `[secret]`): for the reader; a replay runs with the
    /// configuration of the version it replays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    #[serde(default)]
    pub expect: Value,
}

/// Which live invocation a recording is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordingInfo {
    pub id: String,
    pub plugin: String,
    /// The version that ran live.
    pub version: String,
    /// `push` or `pull`.
    pub trigger: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// The request id of a push, the run id of a pull.
    pub invocation: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureRequest {
    #[serde(default = "post")]
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// A string is sent as it is; any other JSON value as its JSON text.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub body: Value,
    /// A body that is not UTF-8, in standard base64 (wins over `body`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

fn post() -> String {
    "POST".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureIdentity {
    pub scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureDocument {
    pub content_type: String,
    pub body: Value,
}

/// One HTTP exchange: the request it answers and the answer (or the
/// failure the host gave the plugin instead).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub request: ExchangeRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ExchangeResponse>,
    /// A transport failure or a time-out the plugin got instead of an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<HostFailure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    #[serde(default = "get")]
    pub method: String,
    /// The full URL, after the connection's base URL is applied.
    pub url: String,
    /// What the plugin sent (credentials redacted), for the reader.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub headers: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub body: Value,
}

fn get() -> String {
    "GET".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeResponse {
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub body: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

fn ok() -> u16 {
    200
}

/// A host call's failure as the plugin saw it: the WIT variant's name and
/// its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFailure {
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

/// One FTP or SFTP operation and what it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpExchange {
    /// `list`, `retrieve`, `store`, `rename`, `delete` or `make-dir`.
    pub op: String,
    pub connection: String,
    pub path: String,
    /// `rename`'s target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `list`'s entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<FtpEntry>>,
    /// `retrieve`'s file: text when UTF-8, else `data_base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<HostFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpEntry {
    pub name: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<u64>,
    #[serde(default)]
    pub is_dir: bool,
}

/// The headers of a fixture as pairs, names lower-cased; a non-string
/// value is its JSON text.
pub fn header_pairs(headers: &Map<String, Value>) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (name.to_ascii_lowercase(), value.as_str().map_or_else(|| value.to_string(), str::to_string))
        })
        .collect()
}

/// Pairs as a fixture's header map: a repeated name's values joined by `, `.
pub fn header_map(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        match map.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                map.insert(name, Value::String(value.clone()));
            }
        }
    }
    map
}

/// A body's bytes: from `body_base64` when given, else from `body`.
pub fn body_bytes(body: &Value, base64: Option<&str>) -> Vec<u8> {
    if let Some(encoded) = base64
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded)
    {
        return bytes;
    }
    match body {
        Value::Null => Vec::new(),
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

/// Bytes as `(body, body_base64)`: the text itself when UTF-8, so that the
/// replayed bytes are the recorded ones.
pub fn body_fields(bytes: &[u8]) -> (Value, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok("") => (Value::Null, None),
        Ok(text) => (Value::String(text.to_string()), None),
        Err(_) => (Value::Null, Some(base64::engine::general_purpose::STANDARD.encode(bytes))),
    }
}

/// The body as JSON when it is JSON, else as text: how `expect` shows a body.
pub fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_byte_for_byte() {
        for bytes in [b"{\"a\": 1 }".to_vec(), vec![0xff, 0x00, 0x10], Vec::new(), "åäö".as_bytes().to_vec()] {
            let (body, base64) = body_fields(&bytes);
            assert_eq!(body_bytes(&body, base64.as_deref()), bytes);
        }
    }

    #[test]
    fn repeated_headers_are_joined() {
        let map = header_map(&[("Accept".into(), "a".into()), ("accept".into(), "b".into())]);
        assert_eq!(header_pairs(&map), vec![("accept".to_string(), "a, b".to_string())]);
    }
}
