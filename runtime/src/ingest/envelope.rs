//! The order envelope (docs/DESIGN.md §5): what `POST /{company}/order` takes and
//! what the runtime builds from a plugin's `order` event. Checking it is
//! the only refusal ingest makes: malformed JSON or a missing or mistyped
//! envelope field, each with a message that says which.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;
use thiserror::Error;

use crate::events::keys;
use crate::plugins::manifest::ValidationMode;

/// An order envelope, checked. The order itself stays the JSON text it
/// arrived as — checked to be a well-formed object, never built into a
/// tree — so ingest stores exactly what was sent, at the cost of one scan.
#[derive(Debug, Clone)]
pub struct OrderEnvelope {
    pub source: String,
    pub external_id: String,
    pub validation_mode: Option<ValidationMode>,
    pub warehouse_id: Option<String>,
    pub order: Box<RawValue>,
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

/// The envelope's fields, each still JSON text borrowed from the body.
type RawFields<'a> = BTreeMap<Cow<'a, str>, &'a RawValue>;

impl OrderEnvelope {
    /// Parses and checks an envelope from a request body.
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let mut fields: RawFields<'_> = match serde_json::from_slice(body) {
            Ok(fields) => fields,
            // Well-formed JSON that is not an object, or malformed JSON.
            Err(e) => {
                return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                    Ok(_) => EnvelopeError::NotAnObject,
                    Err(_) => EnvelopeError::MalformedJson(e.to_string()),
                });
            }
        };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_ref())) {
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
            None => return Err(EnvelopeError::Missing("order")),
            Some(raw) if raw.get() == "null" => return Err(EnvelopeError::Missing("order")),
            Some(raw) => match readable_object(raw) {
                Ok(()) => raw.to_owned(),
                Err(problem) => return Err(EnvelopeError::Invalid { field: "order", problem }),
            },
        };
        let validation_mode = match small_value(&mut fields, "validationMode") {
            Value::Null => None,
            Value::String(mode) if mode == "strict" => Some(ValidationMode::Strict),
            Value::String(mode) if mode == "lenient" => Some(ValidationMode::Lenient),
            _ => {
                return Err(EnvelopeError::Invalid {
                    field: "validationMode",
                    problem: "must be \"strict\" or \"lenient\"".into(),
                });
            }
        };
        let warehouse_id = match small_value(&mut fields, "warehouseId") {
            Value::Null => None,
            Value::String(id) if !id.is_empty() && id.len() <= 64 => Some(id),
            _ => {
                return Err(EnvelopeError::Invalid {
                    field: "warehouseId",
                    problem: "must be a string of 1 to 64 characters".into(),
                });
            }
        };
        Ok(Self { source, external_id, validation_mode, warehouse_id, order })
    }
}

/// Checks that well-formed JSON text is an object that reads back as it
/// will be read once stored: as a `serde_json::Value`, where a number
/// beyond `f64`'s range is an error. Such an object, stored, would be an
/// order nobody can read again — the pipeline, the lists, a restart — so it
/// is refused here (found by the `order_envelope` fuzz target). The walk
/// builds nothing.
pub(crate) fn readable_object(raw: &RawValue) -> Result<(), String> {
    // The parser trims whitespace: an object starts with `{`.
    if !raw.get().starts_with('{') {
        return Err("must be a JSON object".into());
    }
    serde_json::from_str::<Readable>(raw.get()).map(|_| ()).map_err(|e| format!("is not readable JSON: {e}"))
}

/// Any JSON value, walked as `serde_json::Value` would parse it, kept as nothing.
struct Readable;

impl<'de> serde::Deserialize<'de> for Readable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadableVisitor)
    }
}

struct ReadableVisitor;

impl<'de> serde::de::Visitor<'de> for ReadableVisitor {
    type Value = Readable;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_str<E>(self, _: &str) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_unit<E>(self) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Readable, A::Error> {
        while items.next_element::<Readable>()?.is_some() {}
        Ok(Readable)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut fields: A) -> Result<Readable, A::Error> {
        while fields.next_entry::<serde::de::IgnoredAny, Readable>()?.is_some() {}
        Ok(Readable)
    }
}

/// A field that is absent or JSON `null` is `Value::Null`. Only the small
/// envelope fields go through here, never the order.
fn small_value(fields: &mut RawFields<'_>, field: &str) -> Value {
    fields.remove(field).and_then(|raw| serde_json::from_str(raw.get()).ok()).unwrap_or(Value::Null)
}

fn required_string(fields: &mut RawFields<'_>, field: &'static str) -> Result<String, EnvelopeError> {
    match small_value(fields, field) {
        Value::Null => Err(EnvelopeError::Missing(field)),
        Value::String(s) if s.is_empty() => Err(EnvelopeError::Missing(field)),
        Value::String(s) => Ok(s),
        _ => Err(EnvelopeError::Invalid { field, problem: "must be a string".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `order_envelope` fuzz target: an order with a number
    /// beyond f64's range was accepted and stored, and then no read of the
    /// order could parse it again — the pipeline, the lists, a restart.
    #[test]
    fn an_order_that_would_not_read_back_is_refused() {
        let body = br#"{"source": "woo-no", "externalId": "oslo", "order": {"lineItems": [{"quantity": 2153257926892.0425838e379}]}}"#;
        let refused = OrderEnvelope::parse(body).expect_err("refused");
        assert!(refused.to_string().contains("`order` is not readable JSON"), "{refused}");
        let fine = br#"{"source": "s", "externalId": "1", "order": {"n": 1.5e300, "big": 18446744073709551616, "deep": [[{"a": null}]]}}"#;
        let envelope = OrderEnvelope::parse(fine).expect("numbers within range");
        let stored: Value = serde_json::from_str(envelope.order.get()).expect("reads back");
        assert!(stored["big"].is_number());
    }

    #[test]
    fn a_complete_envelope_parses() {
        let envelope = OrderEnvelope::parse(
            br#"{"source":"woo-no","externalId":"10042","validationMode":"lenient","warehouseId":"ongoing-main","order":{"orderNumber":"10042"}}"#,
        )
        .expect("valid");
        assert_eq!(envelope.source, "woo-no");
        assert_eq!(envelope.validation_mode, Some(ValidationMode::Lenient));
        let order: Value = serde_json::from_str(envelope.order.get()).expect("JSON");
        assert_eq!(order["orderNumber"], "10042");
    }

    #[test]
    fn the_order_is_kept_as_the_text_that_was_sent() {
        let order = r#"{ "z": 1,  "a": [1.50, "\u00e6"], "nested": {"b": null} }"#;
        let body = format!(r#"{{"source":"woo-no","externalId":"1","order": {order} }}"#);
        let envelope = OrderEnvelope::parse(body.as_bytes()).expect("valid");
        assert_eq!(envelope.order.get(), order, "key order, spacing, number form and escapes untouched");
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
