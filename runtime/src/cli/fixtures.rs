//! `portitor plugin test`: runs a component in the engine, offline, over
//! fixture files and says for each whether it gave what the fixture expects.
//!
//! A fixture is one JSON file: one invocation's input (by plugin kind: a
//! partner `request`, a pull `cursor`, an `order`, a warehouse `document`),
//! the answers to the HTTP requests it makes (`http`, served after the
//! egress policy, never from the network), and what it must give (`expect`).
//! Only the keys present in `expect` are compared, so a fixture can pin the
//! events and leave the partner's response alone. `--bless` writes what the
//! component gave into `expect`, for a fixture's first run.
//!
//! The engine is the server's, with the manifest's limits and policy: a
//! plugin that passes here fails in production only on what the fixtures
//! do not show.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::engine::{
    CallOptions, CallerIdentity, Engine, EngineConfig, InvokeError, LoadedPlugin, OrderInput, PartnerRequest,
    PluginEvent, PluginFailure, Verdict, WarehouseDocument,
};
use crate::host::{HttpAnswers, LogLine, LogSink, OutgoingRequest, RecordedResponse};
use crate::plugins::manifest::{Manifest, PluginKind};
use crate::security::secrets::StaticSecrets;

/// The tenant and plugin id offline runs use.
const COMPANY: &str = "local";
const PLUGIN: &str = "plugin";

/// What `portitor plugin test` runs.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub component: PathBuf,
    pub manifest: PathBuf,
    /// A fixture file or a directory of them (`*.json`).
    pub fixtures: PathBuf,
    /// Secrets the manifest names, as `NAME=VALUE`.
    pub secrets: Vec<(String, String)>,
    /// Writes what the component gives into each fixture's `expect`.
    pub bless: bool,
}

/// How one fixture went.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureResult {
    pub path: PathBuf,
    /// Each difference between `expect` and what the component gave; none
    /// when it passed (or was blessed).
    pub differences: Vec<String>,
    /// The plugin's log lines, for a failure's context.
    pub log: Vec<String>,
}

impl FixtureResult {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Loads the component and runs every fixture; an error only when nothing
/// could run (an unreadable file, a component the engine refuses).
pub async fn run(test: &TestRun) -> anyhow::Result<Vec<FixtureResult>> {
    let manifest_text =
        std::fs::read_to_string(&test.manifest).with_context(|| format!("reading {}", test.manifest.display()))?;
    let manifest = Manifest::parse(&manifest_text).with_context(|| format!("{}", test.manifest.display()))?;
    let component = std::fs::read(&test.component).with_context(|| format!("reading {}", test.component.display()))?;
    let secrets = test.secrets.iter().fold(StaticSecrets::new(), |secrets, (name, value)| secrets.with(name, value));
    let engine = Engine::new(EngineConfig { max_concurrent_instances: 4, ..EngineConfig::default() })?;
    let plugin = engine.load(COMPANY, PLUGIN, &component, manifest, Arc::new(secrets))?;

    let mut results = Vec::new();
    for path in fixture_files(&test.fixtures)? {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut document: Map<String, Value> =
            serde_json::from_str(&text).with_context(|| format!("{} is not a JSON object", path.display()))?;
        let fixture: Fixture = serde_json::from_value(Value::Object(document.clone()))
            .with_context(|| format!("{} is not a fixture", path.display()))?;
        let log = Arc::new(CollectedLog::default());
        let actual = invoke(&plugin, &fixture, log.clone()).await?;
        let differences = if test.bless {
            document.insert("expect".to_string(), actual);
            std::fs::write(&path, serde_json::to_string_pretty(&document)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            Vec::new()
        } else {
            compare(&fixture.expect, &actual)
        };
        results.push(FixtureResult { path, differences, log: log.lines() });
    }
    Ok(results)
}

/// `path` itself, or the `*.json` files in it, sorted.
fn fixture_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no fixture (*.json)", path.display());
    }
    Ok(files)
}

/// One fixture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    #[allow(dead_code, reason = "for the reader of the fixture")]
    description: Option<String>,
    /// Push and auth plugins: the partner's request.
    #[serde(default)]
    request: Option<FixtureRequest>,
    /// Pull plugins: the cursor the run starts from.
    #[serde(default)]
    cursor: Option<String>,
    /// Validators and mappers: the order model.
    #[serde(default)]
    order: Option<Value>,
    #[serde(default)]
    external_id: Option<String>,
    /// Warehouse plugins: the mapped order and its reference.
    #[serde(default)]
    document: Option<FixtureDocument>,
    #[serde(default)]
    reference: Option<String>,
    /// The answers to the component's HTTP requests, each used once.
    #[serde(default)]
    http: Vec<Exchange>,
    #[serde(default)]
    expect: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureRequest {
    #[serde(default = "post")]
    method: String,
    path: String,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    headers: Map<String, Value>,
    /// A string is sent as it is; any other JSON value as its JSON text.
    #[serde(default)]
    body: Value,
}

fn post() -> String {
    "POST".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureDocument {
    content_type: String,
    body: Value,
}

/// One recorded HTTP exchange: the request it answers and the answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    request: ExchangeRequest,
    response: ExchangeResponse,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeRequest {
    #[serde(default = "get")]
    method: String,
    /// The full URL, after the connection's base URL is applied.
    url: String,
}

fn get() -> String {
    "GET".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeResponse {
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    body: Value,
}

fn ok() -> u16 {
    200
}

/// Serves a fixture's exchanges: the first unused one with the request's
/// method and URL.
struct FixtureAnswers {
    unused: Mutex<Vec<Exchange>>,
}

impl HttpAnswers for FixtureAnswers {
    fn answer(&self, request: &OutgoingRequest) -> Option<RecordedResponse> {
        let mut unused = self.unused.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = unused.iter().position(|exchange| {
            exchange.request.method.eq_ignore_ascii_case(&request.method) && exchange.request.url == request.url
        })?;
        let response = unused.remove(at).response;
        Some(RecordedResponse {
            status: response.status,
            headers: header_pairs(&response.headers),
            body: body_bytes(&response.body),
        })
    }
}

/// A plugin's log lines, kept to show beside a failure.
#[derive(Debug, Default)]
struct CollectedLog(Mutex<Vec<String>>);

impl CollectedLog {
    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|lines| lines.clone()).unwrap_or_default()
    }
}

impl LogSink for CollectedLog {
    fn record(&self, line: LogLine) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!("{:?}: {}", line.level, line.message));
        }
    }
}

fn header_pairs(headers: &Map<String, Value>) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (name.to_ascii_lowercase(), value.as_str().map_or_else(|| value.to_string(), str::to_string))
        })
        .collect()
}

fn body_bytes(body: &Value) -> Vec<u8> {
    match body {
        Value::Null => Vec::new(),
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

/// The body as JSON when it is JSON, else as text.
fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Runs the fixture's invocation; what the component gave, as the JSON `expect` is written in.
async fn invoke(plugin: &LoadedPlugin, fixture: &Fixture, log: Arc<CollectedLog>) -> anyhow::Result<Value> {
    let options = CallOptions {
        log_sink: Some(log),
        http_answers: Some(Arc::new(FixtureAnswers { unused: Mutex::new(fixture.http.clone()) })),
        ..CallOptions::default()
    };
    let needs = |what: &str| format!("a {} plugin's fixture needs `{what}`", plugin.kind());
    let order = || -> anyhow::Result<OrderInput> {
        Ok(OrderInput {
            id: "fixture-order".to_string(),
            company: COMPANY.to_string(),
            source: PLUGIN.to_string(),
            external_id: fixture.external_id.clone().unwrap_or_else(|| "fixture".to_string()),
            payload: fixture.order.clone().with_context(|| needs("order"))?,
        })
    };
    let outcome = match plugin.kind() {
        PluginKind::PushSource => {
            let request = partner_request(fixture.request.as_ref().with_context(|| needs("request"))?);
            let identity = CallerIdentity {
                company: COMPANY.to_string(),
                scheme: "none".to_string(),
                subject: None,
                delivery_id: None,
            };
            plugin.handle(&request, &identity, options).await.map(|done| {
                let mut output = json!({ "events": events_json(&done.output.events) });
                if let Some(response) = done.output.response {
                    output["response"] = json!({
                        "status": response.status,
                        "headers": response.headers.into_iter().map(|(name, value)| (name, Value::String(value))).collect::<Map<String, Value>>(),
                        "body": body_value(&response.body),
                    });
                }
                output
            })
        }
        PluginKind::PullSource => plugin.fetch(fixture.cursor.clone(), None, options).await.map(|done| {
            json!({
                "events": events_json(&done.output.events),
                "cursor": done.output.next_cursor,
                "has_more": done.output.has_more,
            })
        }),
        PluginKind::Validator => plugin.validate(&order()?, options).await.map(|done| {
            json!({ "findings": serde_json::to_value(&done.output).unwrap_or(Value::Null) })
        }),
        PluginKind::Mapper => plugin.map(&order()?, options).await.map(|done| {
            json!({ "document": { "content_type": done.output.content_type, "body": body_value(&done.output.body) } })
        }),
        PluginKind::Warehouse => {
            let document = fixture.document.as_ref().with_context(|| needs("document"))?;
            let document =
                WarehouseDocument { content_type: document.content_type.clone(), body: body_bytes(&document.body) };
            let reference = fixture.reference.clone().unwrap_or_else(|| "fixture-reference".to_string());
            plugin.dispatch(&document, &reference, options).await.map(|done| {
                json!({ "receipt": {
                    "warehouse_order_id": done.output.warehouse_order_id,
                    "message": done.output.message,
                } })
            })
        }
        PluginKind::Auth => {
            let request = partner_request(fixture.request.as_ref().with_context(|| needs("request"))?);
            plugin.verify(&request, options).await.map(|done| match done.output {
                Verdict::Verified { subject, delivery_id } => {
                    json!({ "verified": { "subject": subject, "delivery_id": delivery_id } })
                }
                Verdict::Refused { reason } => json!({ "refused": reason }),
                Verdict::Unavailable { reason } => json!({ "unavailable": reason }),
            })
        }
    };
    Ok(outcome.unwrap_or_else(|error| json!({ "error": error_json(&error) })))
}

fn partner_request(request: &FixtureRequest) -> PartnerRequest {
    PartnerRequest {
        method: request.method.to_ascii_uppercase(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: header_pairs(&request.headers),
        body: body_bytes(&request.body),
    }
}

fn events_json(events: &[PluginEvent]) -> Vec<Value> {
    events
        .iter()
        .map(|event| {
            let mut value = json!({
                "kind": event.kind,
                "external_id": event.external_id,
                "payload": event.payload_json(),
            });
            if let Some(mode) = &event.validation_mode {
                value["validation_mode"] = serde_json::to_value(mode).unwrap_or(Value::Null);
            }
            if let Some(warehouse) = &event.warehouse_id {
                value["warehouse_id"] = Value::String(warehouse.clone());
            }
            value
        })
        .collect()
}

/// A failed invocation as `expect` names it: the kind of failure and its message.
fn error_json(error: &InvokeError) -> Value {
    let (kind, message) = match error {
        InvokeError::Plugin { failure, .. } => match failure {
            PluginFailure::InvalidInput(message) => ("invalid-input", message.clone()),
            PluginFailure::Unauthorized(message) => ("unauthorized", message.clone()),
            PluginFailure::Transient(message) => ("transient", message.clone()),
            PluginFailure::Fatal(message) => ("fatal", message.clone()),
        },
        InvokeError::Timeout { .. } => ("timeout", error.to_string()),
        InvokeError::MemoryExhausted { .. } => ("memory-exhausted", error.to_string()),
        InvokeError::FuelExhausted { .. } => ("fuel-exhausted", error.to_string()),
        InvokeError::Trapped { .. } => ("trapped", error.to_string()),
        InvokeError::InvalidOutput { .. } => ("invalid-output", error.to_string()),
        InvokeError::WrongCall { .. } | InvokeError::Busy { .. } | InvokeError::TenantBusy { .. } => {
            ("runtime", error.to_string())
        }
    };
    json!({ "kind": kind, "message": message })
}

/// The differences between `expect` and `actual`, key by key of `expect`.
fn compare(expect: &Value, actual: &Value) -> Vec<String> {
    let Value::Object(expected) = expect else {
        return vec!["the fixture has no `expect` object; run with --bless to write what the component gives".into()];
    };
    expected
        .iter()
        .filter_map(|(key, want)| {
            let got = actual.get(key).unwrap_or(&Value::Null);
            (got != want).then(|| format!("`{key}`: expected {}, got {}", clip(want), clip(got)))
        })
        .chain(
            actual
                .get("error")
                .filter(|_| !expected.contains_key("error"))
                .map(|error| format!("the invocation failed: {}", clip(error))),
        )
        .collect()
}

/// Compact JSON, cut at a length a terminal shows.
fn clip(value: &Value) -> String {
    const MAX: usize = 2_000;
    let text = value.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_expected_keys_are_compared_and_a_failure_is_always_reported() {
        let actual = json!({ "events": [1], "response": { "status": 200 } });
        assert!(compare(&json!({ "events": [1] }), &actual).is_empty());
        let differences = compare(&json!({ "events": [2] }), &actual);
        assert_eq!(differences, vec!["`events`: expected [2], got [1]".to_string()]);

        let failed = json!({ "error": { "kind": "fatal", "message": "boom" } });
        let differences = compare(&json!({ "events": [] }), &failed);
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[1].contains("boom"));
        assert!(compare(&json!({ "error": { "kind": "fatal", "message": "boom" } }), &failed).is_empty());
        assert_eq!(compare(&Value::Null, &actual).len(), 1, "a fixture without `expect` fails");
    }

    #[test]
    fn exchanges_answer_once_each_by_method_and_url() {
        let exchange = |url: &str, body: Value| Exchange {
            request: ExchangeRequest { method: "GET".into(), url: url.into() },
            response: ExchangeResponse { status: 200, headers: Map::new(), body },
        };
        let answers = FixtureAnswers {
            unused: Mutex::new(vec![
                exchange("https://a.example/x", json!(1)),
                exchange("https://a.example/x", json!(2)),
            ]),
        };
        let request = |method: &str, url: &str| OutgoingRequest {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        assert!(answers.answer(&request("POST", "https://a.example/x")).is_none());
        assert!(answers.answer(&request("GET", "https://a.example/y")).is_none());
        assert_eq!(answers.answer(&request("get", "https://a.example/x")).map(|r| r.body), Some(b"1".to_vec()));
        assert_eq!(answers.answer(&request("GET", "https://a.example/x")).map(|r| r.body), Some(b"2".to_vec()));
        assert!(answers.answer(&request("GET", "https://a.example/x")).is_none());
    }
}
