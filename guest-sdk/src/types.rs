//! The shared WIT types, with the constructors and accessors plugins need most.

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::__bindings::portitor::plugin::types::{
    Batch, Event, Finding, HttpRequest, HttpResponse, Identity, Order, PluginError, PushOutcome, Receipt, Rejection,
    Severity, StatusUpdate, ValidationMode, WarehouseOrder,
};

impl Event {
    /// An event of `kind` (`order`, `shipment`, `tracking`, ...) with its
    /// payload serialized to JSON.
    pub fn new(kind: &str, external_id: impl Into<String>, payload: &impl Serialize) -> Result<Self, PluginError> {
        let payload = serde_json::to_string(payload)
            .map_err(|e| PluginError::Fatal(format!("event payload is not serializable: {e}")))?;
        Ok(Self {
            kind: kind.to_string(),
            external_id: external_id.into(),
            payload,
            validation_mode: None,
            warehouse_id: None,
        })
    }

    /// An `order` event; `payload` follows Portitor's order model.
    pub fn order(external_id: impl Into<String>, payload: &impl Serialize) -> Result<Self, PluginError> {
        Self::new("order", external_id, payload)
    }

    /// A `shipment` event. If `payload` has `orderReference`, the
    /// warehouse-facing reference the order was sent under (the order number
    /// Portitor gave the warehouse), the runtime records the order as
    /// shipped, which takes it out of the unhandled orders.
    pub fn shipment(external_id: impl Into<String>, payload: &impl Serialize) -> Result<Self, PluginError> {
        Self::new("shipment", external_id, payload)
    }

    /// A `tracking` event.
    pub fn tracking(external_id: impl Into<String>, payload: &impl Serialize) -> Result<Self, PluginError> {
        Self::new("tracking", external_id, payload)
    }

    /// Asks for this validation mode for the order, over the plugin's default.
    pub fn with_validation_mode(mut self, mode: ValidationMode) -> Self {
        self.validation_mode = Some(mode);
        self
    }

    /// Names the warehouse the order should go to.
    pub fn with_warehouse(mut self, warehouse_id: impl Into<String>) -> Self {
        self.warehouse_id = Some(warehouse_id.into());
        self
    }
}

impl PushOutcome {
    /// These events, and the runtime's default response to the partner.
    pub fn events(events: Vec<Event>) -> Self {
        Self { events, response: None }
    }

    /// No events, and this response (for example a verification challenge).
    pub fn respond(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            events: Vec::new(),
            response: Some(HttpResponse {
                status,
                headers: vec![("content-type".into(), content_type.into())],
                body: body.into(),
            }),
        }
    }
}

impl Batch {
    /// `events`, the cursor after them, and whether the partner has more now.
    pub fn new(events: Vec<Event>, next_cursor: impl Into<String>, has_more: bool) -> Self {
        Self { events, next_cursor: next_cursor.into(), has_more }
    }
}

impl HttpRequest {
    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; malformed JSON is the partner's fault.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::InvalidInput(format!("request body is not the expected JSON: {e}")))
    }
}

impl Identity {
    /// What an auth plugin answers for a request it verified: who sent it
    /// and the partner's delivery id, which the runtime replay-protects.
    /// (The runtime sets `company` and `scheme` itself.)
    pub fn verified(subject: Option<String>, delivery_id: Option<String>) -> Self {
        Self { company: String::new(), scheme: "plugin".into(), subject, delivery_id }
    }
}

impl Rejection {
    /// The credentials are missing or wrong; the partner gets 401 with `reason`.
    pub fn refused(reason: impl Into<String>) -> Self {
        Self::Refused(reason.into())
    }

    /// Nothing can be verified now (configuration or a secret missing); the
    /// partner gets 503 and retries, and `reason` goes to the plugin's log.
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::Unavailable(reason.into())
    }
}

/// In an auth plugin, a request the partner got wrong (unauthorized, or
/// input that does not parse) is refused; a [`config`](crate::config) or
/// [`crypto`](crate::crypto) error is the tenant's set-up, not the partner's
/// fault, so nothing can be verified until it is fixed.
impl From<PluginError> for Rejection {
    fn from(error: PluginError) -> Self {
        match error {
            PluginError::Unauthorized(reason) | PluginError::InvalidInput(reason) => Self::Refused(reason),
            other => Self::Unavailable(other.message().to_string()),
        }
    }
}

impl PluginError {
    /// The message, whatever the variant.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidInput(m) | Self::Unauthorized(m) | Self::Transient(m) | Self::Fatal(m) => m,
        }
    }
}

impl Order {
    /// The order model parsed as `T` (or as `serde_json::Value`).
    pub fn model<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_str(&self.payload)
            .map_err(|e| PluginError::InvalidInput(format!("the order is not the expected order model: {e}")))
    }
}

impl Finding {
    fn new(severity: Severity, field: &str, value: impl ToString, message: impl Into<String>) -> Self {
        Self { field: field.to_string(), value: value.to_string(), severity, message: message.into() }
    }

    /// An `error` finding (a `warning` in lenient mode).
    pub fn error(field: &str, value: impl ToString, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, field, value, message)
    }

    /// A `warning` finding (an `error` in strict mode).
    pub fn warning(field: &str, value: impl ToString, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, field, value, message)
    }

    /// An `info` finding: never halts an order.
    pub fn info(field: &str, value: impl ToString, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, field, value, message)
    }
}

impl WarehouseOrder {
    /// A JSON document for the warehouse.
    pub fn json(body: &impl Serialize) -> Result<Self, PluginError> {
        let body = serde_json::to_vec(body).map_err(|e| PluginError::Fatal(format!("not serializable: {e}")))?;
        Ok(Self { content_type: "application/json".into(), body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auth_plugin_refuses_the_partners_mistakes_and_is_unavailable_for_its_own() {
        let refused = |e: PluginError| matches!(Rejection::from(e), Rejection::Refused(_));
        assert!(refused(PluginError::Unauthorized("bad signature".into())));
        assert!(refused(PluginError::InvalidInput("request body is not the expected JSON".into())));
        let unavailable = |e: PluginError| matches!(Rejection::from(e), Rejection::Unavailable(_));
        assert!(unavailable(PluginError::Fatal("configuration value `issuer` is not set".into())));
        assert!(unavailable(PluginError::Transient("later".into())));
    }
}
