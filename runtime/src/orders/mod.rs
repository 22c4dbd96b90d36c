//! The order domain in plain Rust: deterministic order ids, the order's
//! state as a fold over its events, and findings. No I/O here.

pub mod validation;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::events::StoredEvent;

/// Aggregate type of orders in keys.
pub const AGGREGATE: &str = "orders";

/// Order events (DESIGN §7).
pub mod event_types {
    pub const RECEIVED: &str = "OrderReceived";
    pub const VALIDATED: &str = "OrderValidated";
    pub const VALIDATION_FAILED: &str = "OrderValidationFailed";
    pub const VALIDATION_OVERRIDDEN: &str = "OrderValidationOverridden";
    pub const SENT_TO_WAREHOUSE: &str = "OrderSentToWarehouse";
    pub const DISPATCH_FAILED: &str = "OrderDispatchFailed";
    /// The warehouse shipped it (a `shipment` naming its reference); not in
    /// DESIGN §7's list, see ARCHITECTURE "Shipments".
    pub const SHIPPED: &str = "OrderShipped";
}

/// The namespace of order ids (a fixed, random UUID: changing it would
/// change every order id).
const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_4c2e_93b7_4d58_a0e1_7c3b_9f24_d816);

/// An order's id: UUIDv5 of (company, source, external id). The same order
/// sent twice — or re-fetched by a pull run after a crash — gets the same
/// id and so lands on the same aggregate.
pub fn order_id(company: &str, source: &str, external_id: &str) -> Uuid {
    // Length-prefixed parts, so that ("a", "bc") and ("ab", "c") differ.
    let name = format!("{}:{company}{}:{source}{}:{external_id}", company.len(), source.len(), external_id.len());
    Uuid::new_v5(&ORDER_NAMESPACE, name.as_bytes())
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderState {
    Received,
    Validated,
    Failed,
    Overridden,
    Sent,
    DispatchFailed,
    /// The warehouse reported it shipped: the end of its life here.
    Shipped,
}

/// A validation finding: `{field, value, severity, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub field: String,
    pub value: String,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// What an order's events say about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub id: String,
    pub source: String,
    pub external_id: String,
    pub state: OrderState,
    pub findings: Vec<Finding>,
    pub reference: Option<String>,
}

impl OrderView {
    /// Folds an order's events (version order); `None` without `OrderReceived`.
    pub fn from_events(events: &[StoredEvent]) -> Option<Self> {
        let first = events.first().filter(|e| e.event_type == event_types::RECEIVED)?;
        let mut view = Self {
            id: first.aggregate_id.clone(),
            source: first.data["source"].as_str().unwrap_or_default().to_string(),
            external_id: first.data["externalId"].as_str().unwrap_or_default().to_string(),
            state: OrderState::Received,
            findings: Vec::new(),
            reference: None,
        };
        // Findings of failed dispatches stop applying once the order is sent
        // (after an operator forced it out again); the events keep them.
        let mut before_dispatch_failures = None;
        for event in &events[1..] {
            if event.event_type == event_types::DISPATCH_FAILED {
                before_dispatch_failures.get_or_insert(view.findings.len());
            }
            view.apply(event);
            if event.event_type == event_types::SENT_TO_WAREHOUSE
                && let Some(len) = before_dispatch_failures.take()
            {
                view.findings.truncate(len);
            }
        }
        Some(view)
    }

    fn apply(&mut self, event: &StoredEvent) {
        use event_types::*;
        // Once the warehouse has shipped it, a dispatch answer recorded
        // later does not make it less than shipped.
        let shipped = self.state == OrderState::Shipped;
        let findings =
            |data: &Value| -> Vec<Finding> { serde_json::from_value(data["findings"].clone()).unwrap_or_default() };
        match event.event_type.as_str() {
            VALIDATED => {
                self.state = OrderState::Validated;
                self.findings = findings(&event.data);
            }
            VALIDATION_FAILED => {
                self.state = OrderState::Failed;
                self.findings = findings(&event.data);
            }
            VALIDATION_OVERRIDDEN => self.state = OrderState::Overridden,
            SENT_TO_WAREHOUSE => {
                self.state = OrderState::Sent;
                self.reference = event.data["reference"].as_str().map(str::to_string);
            }
            DISPATCH_FAILED => {
                self.state = OrderState::DispatchFailed;
                self.findings.extend(findings(&event.data));
            }
            SHIPPED => {
                self.state = OrderState::Shipped;
                if self.reference.is_none() {
                    self.reference = event.data["reference"].as_str().map(str::to_string);
                }
            }
            _ => {}
        }
        if shipped {
            self.state = OrderState::Shipped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_deterministic_and_separate_their_parts() {
        assert_eq!(order_id("acme", "shop", "1042"), order_id("acme", "shop", "1042"));
        assert_ne!(order_id("acme", "shop", "1042"), order_id("acme", "shop", "1043"));
        assert_ne!(order_id("acme", "shop", "1042"), order_id("other", "shop", "1042"));
        assert_ne!(order_id("a", "bc", "d"), order_id("ab", "c", "d"));
        assert_eq!(order_id("acme", "shop", "1042").get_version_num(), 5);
    }
}
