//! A warehouse's shipment recorded on the order it ships.
//!
//! A `shipment` event's payload may name, as `orderReference`, the
//! warehouse-facing reference its order was sent under. The reference resolves through `{company}/refs/` of the
//! tenant the event came in for — never another's — and the order gets
//! `OrderShipped`, once per shipment, which takes it out of the unhandled
//! orders; the order's source plugin is told, as after the pipeline's
//! changes. The shipment is stored first, so nothing is lost when the
//! reference resolves to nothing (a pick order Portitor did not send): the
//! shipment stays, unlinked. When the link cannot be written now, the caller
//! answers "retry"; the retry is a duplicate for the shipment and finishes
//! the link.

use std::time::Duration;

use serde_json::Value;

use super::{Ingest, IngestError, Origin};
use crate::events::keys;
use crate::orders::book::Change;
use crate::orders::event_types;
use crate::orders::events::{OrderEvent, ShipmentRef, Shipped};
use crate::pipeline::reference;
use crate::queue::Pointer;

/// How long a shipment waits for the pipeline to finish with its order (a
/// dispatch being retried) before the partner is asked to retry.
const WAIT_FOR_THE_ORDER: Duration = Duration::from_secs(5);

/// Appends tried when someone else keeps taking the next version.
const ATTEMPTS: usize = 3;

/// The longest order reference looked up.
const MAX_REFERENCE_CHARS: usize = 100;

/// The `orderReference` a shipment's payload names, if any.
pub(super) fn order_reference(payload: &serde_json::value::RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Named {
        order_reference: Option<String>,
    }
    let reference = serde_json::from_str::<Named>(payload.get()).ok()?.order_reference?;
    (!reference.is_empty() && reference.chars().count() <= MAX_REFERENCE_CHARS).then_some(reference)
}

/// The stored shipment an order is linked to.
pub(super) struct Shipment<'a> {
    pub aggregate_type: &'a str,
    pub id: &'a str,
    pub external_id: &'a str,
    pub source: &'a str,
}

impl Ingest {
    /// Records `shipment` on the order `reference` names in `company`;
    /// the order's id, or `None` when the reference names none of its orders.
    pub(super) async fn record_shipped(
        &self,
        company: &str,
        reference: &str,
        shipment: &Shipment<'_>,
        origin: &Origin,
    ) -> Result<Option<String>, IngestError> {
        let unlinked = |reason: String| {
            tracing::warn!(%company, %reference, shipment = %shipment.id, %reason, "a shipment is stored but not yet recorded on its order");
            IngestError::Unlinked { reference: reference.to_string() }
        };
        // Only one of this tenant's references can name one of its orders
        // (and only a well-formed one is used in a key).
        if reference::tenant_code_of(reference) != Some(reference::tenant_code(company).as_str()) {
            return Ok(None);
        }
        let indexed = self.book.log().store().get(&keys::reference_key(company, reference)).await;
        let Some(index) = indexed.map_err(|e| unlinked(e.to_string()))? else {
            return Ok(None);
        };
        let owner: Value = serde_json::from_slice(&index.body).unwrap_or(Value::Null);
        let Some(order_id) = owner["orderId"].as_str() else {
            return Ok(None);
        };
        let held = self.book.hold_within(company, order_id, WAIT_FOR_THE_ORDER).await;
        let mut order = held
            .map_err(|e| unlinked(e.to_string()))?
            .ok_or_else(|| unlinked("the order is being worked on".into()))?;
        if order.view().map_err(|e| unlinked(e.to_string()))?.is_none() {
            return Ok(None);
        }
        for _ in 0..ATTEMPTS {
            let recorded = order.events().iter().any(|e| {
                matches!(OrderEvent::read(e), Ok(OrderEvent::Shipped(shipped)) if shipped.shipment.id == shipment.id)
            });
            if recorded {
                return Ok(Some(order_id.to_string()));
            }
            let event = OrderEvent::Shipped(Shipped {
                reference: reference.to_string(),
                shipment: ShipmentRef {
                    aggregate_type: shipment.aggregate_type.to_string(),
                    id: shipment.id.to_string(),
                    external_id: shipment.external_id.to_string(),
                    source: shipment.source.to_string(),
                },
            })
            .by(origin.actor());
            match order.append(event).await.map_err(|e| unlinked(e.to_string()))? {
                Change::Appended { key } => {
                    order.settle().await;
                    // The pipeline tells the order's source, as after its own changes.
                    self.queue.enqueue(Pointer { key, company: company.into(), event: event_types::SHIPPED.into() });
                    tracing::info!(%company, order = %order_id, %reference, shipment = %shipment.id, "order shipped");
                    return Ok(Some(order_id.to_string()));
                }
                // Another node appended first: the events are read again.
                Change::Raced => {}
            }
        }
        Err(unlinked("the order kept changing".into()))
    }
}
