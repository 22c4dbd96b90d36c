//! Every order event, typed: the one place its stored form is defined.
//! Writers build an [`OrderEvent`] and turn it into a [`NewEvent`];
//! readers turn a [`StoredEvent`] into one with [`OrderEvent::read`]. An
//! event that does not read as its type is [`Unreadable`] — never quietly a
//! default. The stored JSON is what it has always been (camelCase fields in
//! the event's `data`).
//!
//! `OrderReceived` is written by ingest from the envelope it checked, the
//! order kept as the JSON text it arrived as ([`ReceivedWrite`]); it reads
//! back as [`Received`] without the order, which [`received_order`] gives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::validation::ModeSource;
use super::{Finding, OrderState, event_types};
use crate::events::{Actor, NewEvent, StoredEvent};
use crate::pipeline::config::PipelineConfig;
use crate::plugins::manifest::ValidationMode;

/// An order event, as written and as read.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Received(Received),
    Validated(Validation),
    ValidationFailed(Validation),
    ValidationOverridden(Overridden),
    SentToWarehouse(Sent),
    DispatchFailed(DispatchFailure),
    Shipped(Shipped),
}

/// `OrderReceived`, as read: the envelope's fields, how it came, and the
/// pipeline configuration the order keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub source: String,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_mode: Option<ValidationMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_via: Option<String>,
    /// Absent only in orders stored before orders kept their configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineConfig>,
}

/// `OrderReceived`, as ingest writes it: the checked envelope, borrowed, the
/// order as the JSON text it arrived as.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedWrite<'a> {
    pub source: &'a str,
    pub external_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_mode: Option<ValidationMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<&'a str>,
    pub order: &'a RawValue,
    pub received_via: &'static str,
    pub pipeline: PipelineConfig,
}

/// `OrderValidated` and `OrderValidationFailed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    pub mode: ValidationMode,
    pub mode_source: ModeSource,
    pub findings: Vec<Finding>,
}

/// `OrderValidationOverridden`: an operator forced the order on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overridden {
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub overridden_findings: Vec<Finding>,
    pub previous_state: OrderState,
}

/// `OrderSentToWarehouse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub reference: String,
    pub warehouse: String,
    pub warehouse_order_id: Option<String>,
    pub message: String,
    pub attempts: u32,
}

/// `OrderDispatchFailed`: why, and the reference if one was assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchFailure {
    pub findings: Vec<Finding>,
    pub reference: Option<String>,
}

/// `OrderShipped`: the warehouse's shipment naming the order's reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shipped {
    pub reference: String,
    pub shipment: ShipmentRef,
}

/// The stored shipment an `OrderShipped` points to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentRef {
    #[serde(rename = "type")]
    pub aggregate_type: String,
    pub id: String,
    pub external_id: String,
    pub source: String,
}

/// An order event that does not read as its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order event `{event_type}` at version {version} is unreadable: {reason}")]
pub struct Unreadable {
    pub event_type: String,
    pub version: u64,
    pub reason: String,
}

impl OrderEvent {
    /// The event's type, as stored in its key and record.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Received(_) => event_types::RECEIVED,
            Self::Validated(_) => event_types::VALIDATED,
            Self::ValidationFailed(_) => event_types::VALIDATION_FAILED,
            Self::ValidationOverridden(_) => event_types::VALIDATION_OVERRIDDEN,
            Self::SentToWarehouse(_) => event_types::SENT_TO_WAREHOUSE,
            Self::DispatchFailed(_) => event_types::DISPATCH_FAILED,
            Self::Shipped(_) => event_types::SHIPPED,
        }
    }

    /// Reads a stored order event.
    pub fn read(event: &StoredEvent) -> Result<Self, Unreadable> {
        fn data<'a, T: Deserialize<'a>>(event: &'a StoredEvent) -> Result<T, Unreadable> {
            T::deserialize(&event.data).map_err(|e| unreadable(event, e.to_string()))
        }
        Ok(match event.event_type.as_str() {
            event_types::RECEIVED => Self::Received(data(event)?),
            event_types::VALIDATED => Self::Validated(data(event)?),
            event_types::VALIDATION_FAILED => Self::ValidationFailed(data(event)?),
            event_types::VALIDATION_OVERRIDDEN => Self::ValidationOverridden(data(event)?),
            event_types::SENT_TO_WAREHOUSE => Self::SentToWarehouse(data(event)?),
            event_types::DISPATCH_FAILED => Self::DispatchFailed(data(event)?),
            event_types::SHIPPED => Self::Shipped(data(event)?),
            other => return Err(unreadable(event, format!("`{other}` is not an order event"))),
        })
    }

    /// The event to append, by `actor`.
    pub fn by(self, actor: Actor) -> NewEvent {
        NewEvent { event_type: self.event_type().to_string(), actor, data: self.data() }
    }

    /// The event's data as stored.
    pub fn data(&self) -> Value {
        let data = match self {
            Self::Received(data) => serde_json::to_value(data),
            Self::Validated(data) | Self::ValidationFailed(data) => serde_json::to_value(data),
            Self::ValidationOverridden(data) => serde_json::to_value(data),
            Self::SentToWarehouse(data) => serde_json::to_value(data),
            Self::DispatchFailed(data) => serde_json::to_value(data),
            Self::Shipped(data) => serde_json::to_value(data),
        };
        // These types serialize to JSON objects whatever they hold.
        data.unwrap_or(Value::Null)
    }
}

/// The order an `OrderReceived` carries, as it arrived.
pub fn received_order(received: &StoredEvent) -> Result<&Value, Unreadable> {
    match received.data.get("order") {
        Some(order) if received.event_type == event_types::RECEIVED && order.is_object() => Ok(order),
        _ => Err(unreadable(received, "no order object".into())),
    }
}

/// To callers that read orders from the store, an unreadable event is a
/// corrupt record.
impl From<Unreadable> for crate::store::StoreError {
    fn from(e: Unreadable) -> Self {
        Self::Corrupt { key: format!("{} at version {}", e.event_type, e.version), reason: e.reason }
    }
}

fn unreadable(event: &StoredEvent, reason: String) -> Unreadable {
    Unreadable { event_type: event.event_type.clone(), version: event.version, reason }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::orders::Severity;

    fn stored(event: NewEvent, version: u64) -> StoredEvent {
        StoredEvent {
            id: uuid::Uuid::nil(),
            event_type: event.event_type,
            aggregate_type: "orders".into(),
            aggregate_id: "o-1".into(),
            version,
            company: "acme".into(),
            occurred_at: Utc::now(),
            actor: event.actor,
            data: event.data,
        }
    }

    #[test]
    fn every_event_reads_back_as_written() {
        let finding = Finding { field: "f".into(), value: "v".into(), severity: Severity::Error, message: "m".into() };
        let events = [
            OrderEvent::Validated(Validation {
                mode: ValidationMode::Lenient,
                mode_source: ModeSource::Order,
                findings: vec![finding.clone()],
            }),
            OrderEvent::ValidationOverridden(Overridden {
                by: "op".into(),
                reason: "checked by phone".into(),
                at: Utc::now(),
                overridden_findings: vec![finding.clone()],
                previous_state: OrderState::Failed,
            }),
            OrderEvent::SentToWarehouse(Sent {
                reference: "PABCDE-0123456789ABCD".into(),
                warehouse: "wms".into(),
                warehouse_order_id: None,
                message: "ok".into(),
                attempts: 2,
            }),
            OrderEvent::DispatchFailed(DispatchFailure { findings: vec![finding], reference: None }),
            OrderEvent::Shipped(Shipped {
                reference: "PABCDE-0123456789ABCD".into(),
                shipment: ShipmentRef {
                    aggregate_type: "shipments".into(),
                    id: "s-1".into(),
                    external_id: "1".into(),
                    source: "wms".into(),
                },
            }),
        ];
        for (version, event) in events.into_iter().enumerate() {
            let read = OrderEvent::read(&stored(event.clone().by(Actor::system("test")), version as u64 + 2));
            assert_eq!(read.as_ref(), Ok(&event));
        }
    }

    #[test]
    fn an_event_that_does_not_read_as_its_type_is_unreadable_not_a_default() {
        let bad = NewEvent {
            event_type: event_types::VALIDATION_FAILED.into(),
            actor: Actor::system("test"),
            data: json!({"mode": "strict", "modeSource": "platform", "findings": "not a list"}),
        };
        let error = OrderEvent::read(&stored(bad, 2)).expect_err("unreadable");
        assert_eq!(error.event_type, event_types::VALIDATION_FAILED);
        assert_eq!(error.version, 2);
        let unknown = NewEvent { event_type: "OrderTeleported".into(), actor: Actor::system("t"), data: json!({}) };
        assert!(OrderEvent::read(&stored(unknown, 3)).is_err());
    }
}
