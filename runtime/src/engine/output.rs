//! What plugins return, checked and turned into plain Rust: events with a
//! valid kind, a bounded external id and a JSON payload under the plugin's
//! caps. Nothing a plugin returns reaches ingest unchecked.

use serde_json::Value;
use serde_json::value::RawValue;
use thiserror::Error;

use crate::engine::bindings::types;
use crate::orders::{Finding, Severity};
use crate::plugins::manifest::{Limits, ValidationMode};

/// An event a plugin produced, checked. The payload stays the JSON text
/// the plugin wrote (checked to be an object) and is stored as it is.
#[derive(Debug, Clone)]
pub struct PluginEvent {
    pub kind: String,
    pub external_id: String,
    pub payload: Box<RawValue>,
    pub validation_mode: Option<ValidationMode>,
    pub warehouse_id: Option<String>,
}

impl PluginEvent {
    /// The payload built into a JSON tree, for callers that look inside.
    pub fn payload_json(&self) -> Value {
        serde_json::from_str(self.payload.get()).unwrap_or(Value::Null)
    }
}

/// Equal when every field is, the payload compared as the text it is.
impl PartialEq for PluginEvent {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.external_id == other.external_id
            && self.payload.get() == other.payload.get()
            && self.validation_mode == other.validation_mode
            && self.warehouse_id == other.warehouse_id
    }
}

/// What a push plugin made of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOutput {
    pub events: Vec<PluginEvent>,
    pub response: Option<PartnerResponse>,
}

/// The response a push plugin wants the partner to get.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a pull plugin fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOutput {
    pub events: Vec<PluginEvent>,
    pub next_cursor: String,
    pub has_more: bool,
}

/// An order in a warehouse's format, from a mapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseDocument {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A warehouse's answer to a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchReceipt {
    pub warehouse_order_id: Option<String>,
    pub message: String,
}

/// Findings from a validator, checked: at most `max_events` of them, each
/// field and message bounded.
pub(crate) fn findings_from_wit(findings: Vec<types::Finding>, limits: &Limits) -> Result<Vec<Finding>, OutputError> {
    if findings.len() > limits.max_events {
        return Err(OutputError::TooManyEvents { actual: findings.len(), limit: limits.max_events });
    }
    let clip = |s: String, n: usize| if s.chars().count() > n { s.chars().take(n).collect() } else { s };
    Ok(findings
        .into_iter()
        .map(|f| Finding {
            field: clip(f.field, 200),
            value: clip(f.value, 500),
            severity: match f.severity {
                types::Severity::Info => Severity::Info,
                types::Severity::Warning => Severity::Warning,
                types::Severity::Error => Severity::Error,
            },
            message: clip(f.message, 1000),
        })
        .collect())
}

/// An error the plugin itself reported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PluginFailure {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("transient: {0}")]
    Transient(String),
    #[error("fatal: {0}")]
    Fatal(String),
}

impl From<types::PluginError> for PluginFailure {
    fn from(e: types::PluginError) -> Self {
        match e {
            types::PluginError::InvalidInput(m) => Self::InvalidInput(m),
            types::PluginError::Unauthorized(m) => Self::Unauthorized(m),
            types::PluginError::Transient(m) => Self::Transient(m),
            types::PluginError::Fatal(m) => Self::Fatal(m),
        }
    }
}

/// Why a plugin's output was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OutputError {
    #[error("returned {actual} events, over its cap of {limit}")]
    TooManyEvents { actual: usize, limit: usize },
    #[error("event {index}: payload of {actual} bytes is over the cap of {limit}")]
    PayloadTooLarge { index: usize, actual: usize, limit: usize },
    #[error("event {index}: {reason}")]
    InvalidEvent { index: usize, reason: String },
    #[error("response: {0}")]
    InvalidResponse(String),
    #[error("identity: {0}")]
    InvalidIdentity(String),
    #[error("cursor of {actual} bytes is over the cap of {limit}")]
    CursorTooLarge { actual: usize, limit: usize },
}

const MAX_EXTERNAL_ID_CHARS: usize = 256;
const MAX_KIND_CHARS: usize = 64;

pub(crate) fn events_from_wit(events: Vec<types::Event>, limits: &Limits) -> Result<Vec<PluginEvent>, OutputError> {
    if events.len() > limits.max_events {
        return Err(OutputError::TooManyEvents { actual: events.len(), limit: limits.max_events });
    }
    events.into_iter().enumerate().map(|(index, event)| event_from_wit(index, event, limits)).collect()
}

fn event_from_wit(index: usize, event: types::Event, limits: &Limits) -> Result<PluginEvent, OutputError> {
    let invalid = |reason: String| OutputError::InvalidEvent { index, reason };
    if event.payload.len() > limits.max_event_bytes {
        return Err(OutputError::PayloadTooLarge { index, actual: event.payload.len(), limit: limits.max_event_bytes });
    }
    let kind_ok = !event.kind.is_empty()
        && event.kind.len() <= MAX_KIND_CHARS
        && event.kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !kind_ok {
        return Err(invalid(format!("kind `{}` must be lowercase letters, digits and hyphens", event.kind)));
    }
    let id = event.external_id.trim();
    if id.is_empty() || id.chars().count() > MAX_EXTERNAL_ID_CHARS || id.chars().any(char::is_control) {
        return Err(invalid(format!("external id must be 1 to {MAX_EXTERNAL_ID_CHARS} printable characters")));
    }
    let payload = RawValue::from_string(event.payload).map_err(|e| invalid(format!("payload is not JSON: {e}")))?;
    if let Err(problem) = crate::ingest::envelope::readable_object(&payload) {
        return Err(invalid(format!("payload {problem}")));
    }
    if let Some(warehouse) = &event.warehouse_id
        && (warehouse.is_empty() || warehouse.len() > 64)
    {
        return Err(invalid("warehouse id must be 1 to 64 characters".into()));
    }
    Ok(PluginEvent {
        kind: event.kind,
        external_id: id.to_string(),
        payload,
        validation_mode: event.validation_mode.map(|m| match m {
            types::ValidationMode::Strict => ValidationMode::Strict,
            types::ValidationMode::Lenient => ValidationMode::Lenient,
        }),
        warehouse_id: event.warehouse_id,
    })
}

/// The largest cursor a plugin may return.
const MAX_CURSOR_BYTES: usize = 1024 * 1024;

pub(crate) fn batch_from_wit(batch: types::Batch, limits: &Limits) -> Result<BatchOutput, OutputError> {
    if batch.next_cursor.len() > MAX_CURSOR_BYTES {
        return Err(OutputError::CursorTooLarge { actual: batch.next_cursor.len(), limit: MAX_CURSOR_BYTES });
    }
    Ok(BatchOutput {
        events: events_from_wit(batch.events, limits)?,
        next_cursor: batch.next_cursor,
        has_more: batch.has_more,
    })
}

pub(crate) fn push_from_wit(outcome: types::PushOutcome, limits: &Limits) -> Result<PushOutput, OutputError> {
    let response = match outcome.response {
        None => None,
        Some(r) => {
            if !(200..600).contains(&r.status) {
                return Err(OutputError::InvalidResponse(format!("status {} is not an HTTP status", r.status)));
            }
            if r.body.len() > limits.max_event_bytes {
                return Err(OutputError::InvalidResponse("body over the event size cap".into()));
            }
            Some(PartnerResponse { status: r.status, headers: r.headers, body: r.body })
        }
    };
    Ok(PushOutput { events: events_from_wit(outcome.events, limits)?, response })
}

/// What an auth plugin decided about a partner's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Verified: the subject and the delivery id to replay-protect, as the plugin says.
    Verified { subject: Option<String>, delivery_id: Option<String> },
    /// Refused, with the reason the partner gets.
    Refused { reason: String },
    /// The plugin cannot verify anything now, with the reason for the tenant.
    Unavailable { reason: String },
}

const MAX_IDENTITY_CHARS: usize = 256;
const MAX_REJECTION_CHARS: usize = 1_000;

/// Checks an auth plugin's answer. The runtime ignores the `company` and
/// `scheme` a plugin returns: it sets them itself.
pub(crate) fn verdict_from_wit(answer: Result<types::Identity, types::Rejection>) -> Result<Verdict, OutputError> {
    let reason = |reason: String| -> String {
        let reason: String = reason.chars().take(MAX_REJECTION_CHARS).collect();
        if reason.trim().is_empty() { "no reason given".to_string() } else { reason }
    };
    let identity = match answer {
        Ok(identity) => identity,
        Err(types::Rejection::Refused(why)) => return Ok(Verdict::Refused { reason: reason(why) }),
        Err(types::Rejection::Unavailable(why)) => return Ok(Verdict::Unavailable { reason: reason(why) }),
    };
    for (what, value) in [("subject", &identity.subject), ("delivery id", &identity.delivery_id)] {
        if let Some(value) = value
            && (value.is_empty() || value.chars().count() > MAX_IDENTITY_CHARS)
        {
            return Err(OutputError::InvalidIdentity(format!("{what} must be 1 to {MAX_IDENTITY_CHARS} characters")));
        }
    }
    Ok(Verdict::Verified { subject: identity.subject, delivery_id: identity.delivery_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::manifest::Manifest;

    fn limits() -> Limits {
        let mut limits = Manifest::parse("kind = \"push-source\"").expect("manifest").limits();
        limits.max_events = 2;
        limits.max_event_bytes = 64;
        limits
    }

    fn event(kind: &str, id: &str, payload: &str) -> types::Event {
        types::Event {
            kind: kind.into(),
            external_id: id.into(),
            payload: payload.into(),
            validation_mode: None,
            warehouse_id: None,
        }
    }

    #[test]
    fn an_auth_verdict_keeps_subject_and_delivery_id_and_caps_what_it_returns() {
        let identity = |subject: Option<&str>, delivery: Option<&str>| types::Identity {
            company: "someone-else".into(),
            scheme: "anything".into(),
            subject: subject.map(str::to_string),
            delivery_id: delivery.map(str::to_string),
        };
        assert_eq!(
            verdict_from_wit(Ok(identity(Some("primecargo"), Some("evt_1")))),
            Ok(Verdict::Verified { subject: Some("primecargo".into()), delivery_id: Some("evt_1".into()) })
        );
        let long = "x".repeat(MAX_IDENTITY_CHARS + 1);
        assert!(matches!(verdict_from_wit(Ok(identity(None, Some(&long)))), Err(OutputError::InvalidIdentity(_))));
        assert!(matches!(verdict_from_wit(Ok(identity(Some(""), None))), Err(OutputError::InvalidIdentity(_))));
        let refused = verdict_from_wit(Err(types::Rejection::Refused("y".repeat(5_000)))).expect("a verdict");
        assert_eq!(refused, Verdict::Refused { reason: "y".repeat(MAX_REJECTION_CHARS) });
        let blank = verdict_from_wit(Err(types::Rejection::Refused(" ".into()))).expect("a verdict");
        assert_eq!(blank, Verdict::Refused { reason: "no reason given".into() });
        let unavailable = verdict_from_wit(Err(types::Rejection::Unavailable("no secret".into()))).expect("a verdict");
        assert_eq!(unavailable, Verdict::Unavailable { reason: "no secret".into() });
    }

    #[test]
    fn valid_events_pass() {
        let events = events_from_wit(vec![event("order", "1042", r#"{"a":1}"#)], &limits()).expect("valid");
        assert_eq!(events[0].payload_json()["a"], 1);
    }

    #[test]
    fn caps_and_shapes_are_enforced() {
        let many = vec![event("order", "1", "{}"), event("order", "2", "{}"), event("order", "3", "{}")];
        assert_eq!(events_from_wit(many, &limits()), Err(OutputError::TooManyEvents { actual: 3, limit: 2 }));
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(100));
        assert!(matches!(
            events_from_wit(vec![event("order", "1", &big)], &limits()),
            Err(OutputError::PayloadTooLarge { .. })
        ));
        for (kind, id, payload) in
            [("Order", "1", "{}"), ("order", " ", "{}"), ("order", "1", "[1]"), ("order", "1", "{")]
        {
            assert!(
                matches!(
                    events_from_wit(vec![event(kind, id, payload)], &limits()),
                    Err(OutputError::InvalidEvent { .. })
                ),
                "{kind} {id} {payload}"
            );
        }
    }
}
