//! The order envelope (DESIGN §5): what `POST /{company}/order` takes and
//! what the runtime builds from a plugin's `order` event. Checking it is
//! the only refusal ingest makes: malformed JSON or a missing or mistyped
//! envelope field, each with a message that says which.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::events::keys;
use crate::manifest::ValidationMode;

#[derive(Debug, Clone, PartialEq)]
pub struct OrderEnvelope {
    pub source: String,
    pub external_id: String,
    pub validation_mode: Option<ValidationMode>,
    pub warehouse_id: Option<String>,
    pub order: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("the body must be a JSON object (the order envelope)")]
    NotAnObject,
    #[error("missing envelope field `{0}`")]
    Missing(&'static str),
    #[error("envelope field `{field}` {problem}")]
    Invalid { field: &'static str, problem: String },
    #[error("unknown envelope field `{0}`; the envelope has source, externalId, order, validationMode and warehouseId")]
    Unknown(String),
}

const FIELDS: &[&str] = &["source", "externalId", "order", "validationMode", "warehouseId"];
const MAX_EXTERNAL_ID: usize = 256;

impl OrderEnvelope {
    /// Parses and checks an envelope from a request body.
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| EnvelopeError::MalformedJson(e.to_string()))?;
        let Value::Object(mut fields) = value else {
            return Err(EnvelopeError::NotAnObject);
        };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(EnvelopeError::Unknown(unknown.chars().take(64).collect()));
        }
        let source = required_string(&mut fields, "source")?;
        keys::check_segment("source", &source)
            .map_err(|e| EnvelopeError::Invalid { field: "source", problem: format!("is invalid: {e}") })?;
        let external_id = required_string(&mut fields, "externalId")?;
        if external_id.trim().is_empty()
            || external_id.chars().count() > MAX_EXTERNAL_ID
            || external_id.chars().any(char::is_control)
        {
            return Err(EnvelopeError::Invalid {
                field: "externalId",
                problem: format!("must be 1 to {MAX_EXTERNAL_ID} printable characters"),
            });
        }
        let order = match fields.remove("order") {
            None | Some(Value::Null) => return Err(EnvelopeError::Missing("order")),
            Some(Value::Object(order)) => order,
            Some(_) => {
                return Err(EnvelopeError::Invalid { field: "order", problem: "must be a JSON object".into() });
            }
        };
        let validation_mode = match fields.remove("validationMode") {
            None | Some(Value::Null) => None,
            Some(Value::String(mode)) if mode == "strict" => Some(ValidationMode::Strict),
            Some(Value::String(mode)) if mode == "lenient" => Some(ValidationMode::Lenient),
            Some(_) => {
                return Err(EnvelopeError::Invalid {
                    field: "validationMode",
                    problem: "must be \"strict\" or \"lenient\"".into(),
                });
            }
        };
        let warehouse_id = match fields.remove("warehouseId") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) if !id.is_empty() && id.len() <= 64 => Some(id),
            Some(_) => {
                return Err(EnvelopeError::Invalid {
                    field: "warehouseId",
                    problem: "must be a string of 1 to 64 characters".into(),
                });
            }
        };
        Ok(Self { source, external_id, validation_mode, warehouse_id, order })
    }

    /// The envelope as stored in `OrderReceived`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("source".into(), Value::String(self.source.clone()));
        out.insert("externalId".into(), Value::String(self.external_id.clone()));
        if let Some(mode) = self.validation_mode {
            out.insert("validationMode".into(), serde_json::to_value(mode).unwrap_or(Value::Null));
        }
        if let Some(warehouse) = &self.warehouse_id {
            out.insert("warehouseId".into(), Value::String(warehouse.clone()));
        }
        out.insert("order".into(), Value::Object(self.order.clone()));
        Value::Object(out)
    }
}

fn required_string(fields: &mut Map<String, Value>, field: &'static str) -> Result<String, EnvelopeError> {
    match fields.remove(field) {
        None | Some(Value::Null) => Err(EnvelopeError::Missing(field)),
        Some(Value::String(s)) if s.is_empty() => Err(EnvelopeError::Missing(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(EnvelopeError::Invalid { field, problem: "must be a string".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_envelope_parses() {
        let envelope = OrderEnvelope::parse(
            br#"{"source":"woo-no","externalId":"10042","validationMode":"lenient","warehouseId":"ongoing-main","order":{"orderNumber":"10042"}}"#,
        )
        .expect("valid");
        assert_eq!(envelope.source, "woo-no");
        assert_eq!(envelope.validation_mode, Some(ValidationMode::Lenient));
        assert_eq!(envelope.to_json()["order"]["orderNumber"], "10042");
    }

    #[test]
    fn each_problem_has_its_own_message() {
        let cases: &[(&[u8], &str)] = &[
            (b"{not json", "malformed JSON"),
            (b"[1]", "must be a JSON object"),
            (br#"{"externalId":"1","order":{}}"#, "missing envelope field `source`"),
            (br#"{"source":"s","order":{}}"#, "missing envelope field `externalId`"),
            (br#"{"source":"s","externalId":"1"}"#, "missing envelope field `order`"),
            (br#"{"source":"s","externalId":"1","order":[]}"#, "`order` must be a JSON object"),
            (br#"{"source":"s","externalId":1,"order":{}}"#, "`externalId` must be a string"),
            (br#"{"source":"S s","externalId":"1","order":{}}"#, "`source` is invalid"),
            (br#"{"source":"s","externalId":"1","order":{},"validationMode":"loose"}"#, "\"strict\" or \"lenient\""),
            (
                br#"{"source":"s","externalId":"1","order":{},"validationmode":"strict"}"#,
                "unknown envelope field `validationmode`",
            ),
        ];
        for (body, expected) in cases {
            let error = OrderEnvelope::parse(body).expect_err("invalid").to_string();
            assert!(error.contains(expected), "{}: {error}", String::from_utf8_lossy(body));
        }
    }
}
