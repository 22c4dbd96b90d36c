//! Runs one fixture's invocation on a loaded plugin, offline: its input
//! given to the plugin, its recorded answers served in place of the
//! network (after the plugin's own egress policy), checkpoints kept rather
//! than made durable. Nothing it does leaves the call: the result is what
//! the plugin gave, as `expect` is written.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::Tape;
use super::fixture::{Exchange, Fixture, FixtureRequest, FtpExchange, body_bytes, body_value, header_pairs};
use super::outcome::{batch_json, error_json, push_json};
use crate::engine::{
    CallOptions, CallerIdentity, LoadedPlugin, OrderInput, PartnerRequest, PluginEvent, Verdict, WarehouseDocument,
};
use crate::host::{Checkpointer, FtpCall, HostAnswers, OutgoingRequest, RecordedResponse};
use crate::plugins::manifest::PluginKind;
use crate::security::redact;

/// Why a fixture cannot run at all (not a plugin's failure, which is a result).
#[derive(Debug, thiserror::Error)]
#[error("a {kind} plugin's fixture needs `{field}`")]
pub struct MissingInput {
    kind: PluginKind,
    field: &'static str,
}

/// Runs `fixture` on `plugin` in tenant `company`; `options` carries the
/// log sink and the invocation id (its answers and tape are set here).
pub async fn invoke(
    plugin: &LoadedPlugin,
    fixture: &Fixture,
    company: &str,
    options: CallOptions,
) -> Result<Value, MissingInput> {
    let tape = Arc::new(Tape::default());
    let options = CallOptions {
        answers: Some(Arc::new(RecordedAnswers::new(fixture.http.clone(), fixture.ftp.clone()))),
        tape: Some(tape.clone()),
        ..options
    };
    let kind = plugin.kind();
    let needs = |field: &'static str| MissingInput { kind, field };
    let source = plugin.label().plugin.clone();
    let order = || -> Result<OrderInput, MissingInput> {
        Ok(OrderInput {
            id: "fixture-order".to_string(),
            company: company.to_string(),
            source: source.clone(),
            external_id: fixture.external_id.clone().unwrap_or_else(|| "fixture".to_string()),
            payload: fixture.order.clone().ok_or_else(|| needs("order"))?,
        })
    };
    let outcome = match kind {
        PluginKind::PushSource => {
            let request = partner_request(fixture.request.as_ref().ok_or_else(|| needs("request"))?);
            let identity = match &fixture.identity {
                Some(identity) => CallerIdentity {
                    company: company.to_string(),
                    scheme: identity.scheme.clone(),
                    subject: identity.subject.clone(),
                    delivery_id: identity.delivery_id.clone(),
                },
                None => {
                    CallerIdentity { company: company.to_string(), scheme: "none".into(), subject: None, delivery_id: None }
                }
            };
            plugin.handle(&request, &identity, options).await.map(|done| push_json(&done.output))
        }
        PluginKind::PullSource => plugin
            .fetch(fixture.cursor.clone(), Some(Arc::new(KeptCheckpoints)), options)
            .await
            .map(|done| batch_json(&done.output, tape.calls().checkpoints)),
        PluginKind::Validator => plugin.validate(&order()?, options).await.map(|done| {
            json!({ "findings": serde_json::to_value(&done.output).unwrap_or(Value::Null) })
        }),
        PluginKind::Mapper => plugin.map(&order()?, options).await.map(|done| {
            json!({ "document": { "content_type": done.output.content_type, "body": body_value(&done.output.body) } })
        }),
        PluginKind::Warehouse => {
            let document = fixture.document.as_ref().ok_or_else(|| needs("document"))?;
            let document =
                WarehouseDocument { content_type: document.content_type.clone(), body: body_bytes(&document.body, None) };
            let reference = fixture.reference.clone().unwrap_or_else(|| "fixture-reference".to_string());
            plugin.dispatch(&document, &reference, options).await.map(|done| {
                json!({ "receipt": {
                    "warehouse_order_id": done.output.warehouse_order_id,
                    "message": done.output.message,
                } })
            })
        }
        PluginKind::Auth => {
            let request = partner_request(fixture.request.as_ref().ok_or_else(|| needs("request"))?);
            plugin.verify(&request, options).await.map(|done| match done.output {
                Verdict::Verified { subject, delivery_id } => {
                    json!({ "verified": { "subject": subject, "delivery_id": delivery_id } })
                }
                Verdict::Refused { reason } => json!({ "refused": reason }),
                Verdict::Unavailable { reason } => json!({ "unavailable": reason }),
            })
        }
    };
    Ok(outcome.unwrap_or_else(|error| error_json(&error)))
}

/// The partner request a fixture describes.
pub fn partner_request(request: &FixtureRequest) -> PartnerRequest {
    PartnerRequest {
        method: request.method.to_ascii_uppercase(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: header_pairs(&request.headers),
        body: body_bytes(&request.body, request.body_base64.as_deref()),
    }
}

/// Checkpoints of a replayed pull run: accepted, and kept only on the
/// run's tape, never made durable.
struct KeptCheckpoints;

impl Checkpointer for KeptCheckpoints {
    fn checkpoint(&self, _events: Vec<PluginEvent>, _next: String) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// Serves a fixture's exchanges: for each request the first unused one
/// with its method and URL (credentials in the query compared redacted,
/// as recordings keep them); for each FTP operation the first unused one
/// with its operation, connection and paths.
#[derive(Debug)]
pub struct RecordedAnswers {
    http: Mutex<Vec<Exchange>>,
    ftp: Mutex<Vec<FtpExchange>>,
}

impl RecordedAnswers {
    pub fn new(http: Vec<Exchange>, ftp: Vec<FtpExchange>) -> Self {
        Self { http: Mutex::new(http), ftp: Mutex::new(ftp) }
    }
}

impl HostAnswers for RecordedAnswers {
    fn http(&self, request: &OutgoingRequest) -> Option<Result<RecordedResponse, super::fixture::HostFailure>> {
        let mut unused = self.http.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let url = redact::url(&request.url);
        let at = unused.iter().position(|exchange| {
            exchange.request.method.eq_ignore_ascii_case(&request.method) && redact::url(&exchange.request.url) == url
        })?;
        let exchange = unused.remove(at);
        Some(match (exchange.response, exchange.error) {
            (_, Some(failure)) => Err(failure),
            (Some(response), None) => Ok(RecordedResponse {
                status: response.status,
                headers: header_pairs(&response.headers),
                body: body_bytes(&response.body, response.body_base64.as_deref()),
            }),
            (None, None) => Ok(RecordedResponse { status: 200, headers: Vec::new(), body: Vec::new() }),
        })
    }

    fn ftp(&self, call: &FtpCall) -> Option<FtpExchange> {
        let mut unused = self.ftp.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = unused.iter().position(|exchange| {
            exchange.op == call.op
                && exchange.connection == call.connection
                && exchange.path == call.path
                && exchange.to == call.to
        })?;
        Some(unused.remove(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::fixture::{ExchangeRequest, ExchangeResponse};
    use serde_json::Map;

    #[test]
    fn exchanges_answer_once_each_by_method_and_url() {
        let exchange = |url: &str, body: Value| Exchange {
            request: ExchangeRequest { method: "GET".into(), url: url.into(), headers: Map::new(), body: Value::Null },
            response: Some(ExchangeResponse { status: 200, headers: Map::new(), body, body_base64: None }),
            error: None,
        };
        let answers = RecordedAnswers::new(
            vec![
                exchange("https://a.example/x", json!(1)),
                exchange("https://a.example/x", json!(2)),
                exchange("https://a.example/k?id=1&api_key=[redacted]", json!(3)),
            ],
            Vec::new(),
        );
        let request = |method: &str, url: &str| OutgoingRequest {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let body = |answer: Option<Result<RecordedResponse, _>>| answer.and_then(Result::ok).map(|r| r.body);
        assert!(answers.http(&request("POST", "https://a.example/x")).is_none());
        assert!(answers.http(&request("GET", "https://a.example/y")).is_none());
        assert_eq!(body(answers.http(&request("get", "https://a.example/x"))), Some(b"1".to_vec()));
        assert_eq!(body(answers.http(&request("GET", "https://a.example/x"))), Some(b"2".to_vec()));
        assert!(answers.http(&request("GET", "https://a.example/x")).is_none());
        assert_eq!(
            body(answers.http(&request("GET", "https://a.example/k?id=1&api_key=s3cr3t"))),
            Some(b"3".to_vec()),
            "a credential in the query is compared redacted"
        );
    }
}
