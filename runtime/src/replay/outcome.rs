//! What an invocation gave, as the JSON a fixture's `expect` is written
//! in — the same for a live invocation being recorded and for a replay, so
//! that the two compare as values.

use serde_json::{Map, Value, json};

use super::fixture::body_value;
use crate::engine::{BatchOutput, InvokeError, PluginEvent, PluginFailure, PushOutput};

pub(crate) fn events_json(events: &[PluginEvent]) -> Vec<Value> {
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

/// A push plugin's events and the response it gave the partner.
pub(crate) fn push_json(output: &PushOutput) -> Value {
    let mut value = json!({ "events": events_json(&output.events) });
    if let Some(response) = &output.response {
        value["response"] = json!({
            "status": response.status,
            "headers": response
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect::<Map<String, Value>>(),
            "body": body_value(&response.body),
        });
    }
    value
}

/// A pull plugin's batch, with the checkpoints it made on the way.
pub(crate) fn batch_json(output: &BatchOutput, checkpoints: Vec<Value>) -> Value {
    let mut value = json!({
        "events": events_json(&output.events),
        "cursor": output.next_cursor,
        "has_more": output.has_more,
    });
    if !checkpoints.is_empty() {
        value["checkpoints"] = Value::Array(checkpoints);
    }
    value
}

/// A failed invocation: `{ "error": { "kind", "message" } }`.
pub(crate) fn error_json(error: &InvokeError) -> Value {
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
        InvokeError::Busy { .. } | InvokeError::TenantBusy { .. } => ("busy", error.to_string()),
        InvokeError::WrongCall { .. } => ("runtime", error.to_string()),
    };
    json!({ "error": { "kind": kind, "message": message } })
}
