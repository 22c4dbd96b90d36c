//! The order domain: deterministic order ids, the order's state as a fold
//! over its events, findings — plain Rust, no I/O — and [`book`], the one
//! writer of order events, which holds the I/O.

pub mod book;
pub mod events;
mod locks;
pub mod validation;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::events::{OrderEvent, Unreadable};
use crate::events::StoredEvent;

/// Aggregate type of orders in keys.
pub const AGGREGATE: &str = "orders";

/// Order events (docs/DESIGN.md §7).
pub mod event_types {
    pub const RECEIVED: &str = "OrderReceived";
    pub const VALIDATED: &str = "OrderValidated";
    pub const VALIDATION_FAILED: &str = "OrderValidationFailed";
    pub const VALIDATION_OVERRIDDEN: &str = "OrderValidationOverridden";
    pub const SENT_TO_WAREHOUSE: &str = "OrderSentToWarehouse";
    pub const DISPATCH_FAILED: &str = "OrderDispatchFailed";
    /// The warehouse shipped it (a `shipment` naming its reference); not in
    /// docs/DESIGN.md §7's list, see docs/decisions/0031-shipments-close-the-order.md.
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
    /// Folds an order's events (version order); `None` without
    /// `OrderReceived`, an error if an event does not read as its type.
    pub fn from_events(events: &[StoredEvent]) -> Result<Option<Self>, Unreadable> {
        let Some(first) = events.first().filter(|e| e.event_type == event_types::RECEIVED) else {
            return Ok(None);
        };
        let OrderEvent::Received(received) = OrderEvent::read(first)? else {
            return Ok(None);
        };
        let mut view = Self {
            id: first.aggregate_id.clone(),
            source: received.source,
            external_id: received.external_id,
            state: OrderState::Received,
            findings: Vec::new(),
            reference: None,
        };
        // Findings of failed dispatches stop applying once the order is sent
        // (after an operator forced it out again); the events keep them.
        let mut before_dispatch_failures = None;
        for event in &events[1..] {
            let event = OrderEvent::read(event)?;
            if matches!(event, OrderEvent::DispatchFailed(_)) {
                before_dispatch_failures.get_or_insert(view.findings.len());
            }
            let sent = matches!(event, OrderEvent::SentToWarehouse(_));
            view.apply(event);
            if sent && let Some(len) = before_dispatch_failures.take() {
                view.findings.truncate(len);
            }
        }
        Ok(Some(view))
    }

    fn apply(&mut self, event: OrderEvent) {
        // Once the warehouse has shipped it, a dispatch answer recorded
        // later does not make it less than shipped.
        let shipped = self.state == OrderState::Shipped;
        match event {
            OrderEvent::Validated(validation) => {
                self.state = OrderState::Validated;
                self.findings = validation.findings;
            }
            OrderEvent::ValidationFailed(validation) => {
                self.state = OrderState::Failed;
                self.findings = validation.findings;
            }
            OrderEvent::ValidationOverridden(_) => self.state = OrderState::Overridden,
            OrderEvent::SentToWarehouse(sent) => {
                self.state = OrderState::Sent;
                self.reference = Some(sent.reference);
            }
            OrderEvent::DispatchFailed(failure) => {
                self.state = OrderState::DispatchFailed;
                self.findings.extend(failure.findings);
            }
            OrderEvent::Shipped(shipped) => {
                self.state = OrderState::Shipped;
                self.reference.get_or_insert(shipped.reference);
            }
            // Only ever version 1, which the fold starts from.
            OrderEvent::Received(_) => {}
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
