//! Ingest: the one path by which anything enters Portitor — the order API,
//! push plugins and pull runs alike (docs/DESIGN.md §5).
//!
//! 1. the envelope was checked by the caller ([`OrderEnvelope::parse`], or
//!    the engine's checks of a plugin's events);
//! 2. `OrderReceived` is written as version 1 of the order — the durable
//!    moment, a create-once write, so a duplicate finds it already there;
//! 3. a pointer goes on the queue;
//! 4. the caller answers. A store error is returned before anything is
//!    acknowledged: an order that was not stored is never acknowledged.

pub mod deliveries;
pub mod envelope;
pub mod push;
mod shipped;

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

pub use self::envelope::{EnvelopeError, OrderEnvelope};
use crate::engine::PluginEvent;
use crate::events::{Actor, Appended, EventLog, NewEvent, StoredEvent, keys};
use crate::orders::book::OrderBook;
use crate::orders::events::ReceivedWrite;
use crate::orders::{self, event_types};
use crate::pipeline::config::TenantConfigs;
use crate::plugins::manifest::ValidationMode;
use crate::projections::OrderSummary;
use crate::queue::{Pointer, PointerQueue};
use crate::store::StoreError;

/// How something arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `POST /{company}/order`, by the token's subject.
    Api { subject: String, request_id: String },
    /// A push plugin handling a partner's request.
    Push { plugin: String, version: String, request_id: String },
    /// A pull plugin's run.
    Pull { plugin: String, version: String, run_id: String },
}

impl Origin {
    fn via(&self) -> &'static str {
        match self {
            Self::Api { .. } => "api",
            Self::Push { .. } => "push",
            Self::Pull { .. } => "pull",
        }
    }

    fn actor(&self) -> Actor {
        match self {
            Self::Api { subject, request_id } => Actor {
                kind: "api".into(),
                id: subject.clone(),
                plugin_version: None,
                invocation: Some(request_id.clone()),
            },
            Self::Push { plugin, version, request_id: invocation }
            | Self::Pull { plugin, version, run_id: invocation } => Actor {
                kind: "plugin".into(),
                id: plugin.clone(),
                plugin_version: Some(version.clone()),
                invocation: Some(invocation.clone()),
            },
        }
    }
}

/// A checked envelope, borrowed: from the order API's body or a plugin's event.
#[derive(Debug)]
struct Arrival<'a> {
    source: &'a str,
    external_id: &'a str,
    validation_mode: Option<ValidationMode>,
    warehouse_id: Option<&'a str>,
    order: &'a RawValue,
}

/// The data of `{Kind}Received` for a plugin's other events.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct OtherReceived<'a> {
    source: &'a str,
    external_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_reference: Option<&'a str>,
    payload: &'a RawValue,
    received_via: &'static str,
}

/// What ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub aggregate_type: String,
    pub id: String,
    /// False when the same thing had been ingested before (nothing written).
    pub created: bool,
    pub key: String,
    /// The order a shipment was recorded on (by its order reference).
    pub order: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The event is stored, but recording it on its order did not finish
    /// (the cause is logged, not told); a retry is a duplicate for the
    /// event and finishes it.
    #[error("the shipment is stored, but recording it on the order with reference `{reference}` did not finish; retry")]
    Unlinked { reference: String },
}

#[derive(Debug, Clone)]
pub struct Ingest {
    book: Arc<OrderBook>,
    queue: PointerQueue,
    configs: Arc<TenantConfigs>,
}

impl Ingest {
    pub fn new(book: Arc<OrderBook>, queue: PointerQueue, configs: Arc<TenantConfigs>) -> Self {
        Self { book, queue, configs }
    }

    pub fn log(&self) -> &EventLog {
        self.book.log()
    }

    /// Stores an order as `OrderReceived` and queues a pointer to it.
    pub async fn order(
        &self,
        company: &str,
        envelope: &OrderEnvelope,
        origin: &Origin,
    ) -> Result<Ingested, StoreError> {
        let arrival = Arrival {
            source: &envelope.source,
            external_id: &envelope.external_id,
            validation_mode: envelope.validation_mode,
            warehouse_id: envelope.warehouse_id.as_deref(),
            order: &envelope.order,
        };
        self.received(company, arrival, origin).await
    }

    async fn received(&self, company: &str, arrival: Arrival<'_>, origin: &Origin) -> Result<Ingested, StoreError> {
        let id = orders::order_id(company, arrival.source, arrival.external_id).to_string();
        let data = ReceivedWrite {
            source: arrival.source,
            external_id: arrival.external_id,
            validation_mode: arrival.validation_mode,
            warehouse_id: arrival.warehouse_id,
            order: arrival.order,
            received_via: origin.via(),
            // The order keeps the pipeline it was ingested with.
            pipeline: self.configs.pipeline(company),
        };
        let event = NewEvent { event_type: event_types::RECEIVED.into(), actor: origin.actor(), data };
        let key = keys::event_key(company, orders::AGGREGATE, &id, 1, event_types::RECEIVED);
        let summary = |event: &StoredEvent<ReceivedWrite<'_>>| {
            OrderSummary::received(&id, event.data.source, event.data.external_id, event.occurred_at)
        };
        let created = self.book.receive(company, &id, event, summary).await?.is_some();
        if created {
            self.queue.enqueue(Pointer {
                key: key.clone(),
                company: company.into(),
                event: event_types::RECEIVED.into(),
            });
        }
        Ok(Ingested { aggregate_type: orders::AGGREGATE.into(), id, created, key, order: None })
    }

    /// Ingests an event a plugin of `company` produced. `order` events
    /// become orders with the plugin as their source; other kinds (a
    /// `shipment`, a `tracking` scan) are stored as `{Kind}Received`
    /// version 1 of their own aggregate, with the same duplicate rule. A
    /// shipment that names its order's reference is then recorded on the
    /// order (a duplicate too, so that a retry finishes the link).
    pub async fn plugin_event(
        &self,
        company: &str,
        plugin: &str,
        event: &PluginEvent,
        origin: &Origin,
    ) -> Result<Ingested, IngestError> {
        if event.kind == "order" {
            if let Err(problem) = envelope::readable_object(&event.payload) {
                return Err(EnvelopeError::Invalid { field: "order", problem }.into());
            }
            let arrival = Arrival {
                source: plugin,
                external_id: &event.external_id,
                validation_mode: event.validation_mode,
                warehouse_id: event.warehouse_id.as_deref(),
                order: &event.payload,
            };
            return Ok(self.received(company, arrival, origin).await?);
        }
        let aggregate_type = format!("{}s", event.kind);
        let event_type = format!("{}Received", pascal_case(&event.kind));
        let id = orders::order_id(company, &format!("{plugin}/{}", event.kind), &event.external_id).to_string();
        let order_reference = (event.kind == "shipment").then(|| shipped::order_reference(&event.payload)).flatten();
        let data = OtherReceived {
            source: plugin,
            external_id: &event.external_id,
            order_reference: order_reference.as_deref(),
            payload: &event.payload,
            received_via: origin.via(),
        };
        let key = keys::event_key(company, &aggregate_type, &id, 1, &event_type);
        let stored = NewEvent { event_type: event_type.clone(), actor: origin.actor(), data };
        let created = match self.book.log().append_first(company, &aggregate_type, &id, stored).await? {
            Appended::Stored { .. } => {
                self.queue.enqueue(Pointer { key: key.clone(), company: company.into(), event: event_type });
                true
            }
            Appended::VersionTaken => false,
        };
        // A shipment sent again is recorded on the order its first copy
        // named, whatever this copy names.
        let order_reference = match (created, order_reference) {
            (false, Some(_)) => {
                let first = self.book.log().read_key(&key).await?;
                first.data["orderReference"].as_str().map(str::to_string)
            }
            (_, reference) => reference,
        };
        let order = match &order_reference {
            Some(reference) => {
                let shipment = shipped::Shipment {
                    aggregate_type: &aggregate_type,
                    id: &id,
                    external_id: &event.external_id,
                    source: plugin,
                };
                self.record_shipped(company, reference, &shipment, origin).await?
            }
            None => None,
        };
        Ok(Ingested { aggregate_type, id, created, key, order })
    }
}

/// `shipment` → `Shipment`, `pick-order` → `PickOrder`.
fn pascal_case(kind: &str) -> String {
    kind.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}
