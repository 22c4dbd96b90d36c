//! Ingest: the one path by which anything enters Portitor — the order API,
//! push plugins and pull runs alike (DESIGN §5).
//!
//! 1. the envelope was checked by the caller ([`OrderEnvelope::parse`], or
//!    the engine's checks of a plugin's events);
//! 2. `OrderReceived` is written as version 1 of the order — the durable
//!    moment, a create-once write, so a duplicate finds it already there;
//! 3. a pointer goes on the queue;
//! 4. the caller answers. A store error is returned before anything is
//!    acknowledged: an order that was not stored is never acknowledged.

pub mod envelope;

use serde_json::{Value, json};

pub use self::envelope::{EnvelopeError, OrderEnvelope};
use crate::engine::PluginEvent;
use crate::events::{Actor, Appended, EventLog, NewEvent, keys};
use std::sync::Arc;

use crate::orders::{self, event_types};
use crate::pipeline::config::TenantConfigs;
use crate::projections::Projections;
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

/// What ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub aggregate_type: String,
    pub id: String,
    /// False when the same thing had been ingested before (nothing written).
    pub created: bool,
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct Ingest {
    log: EventLog,
    queue: PointerQueue,
    configs: Arc<TenantConfigs>,
    projections: Arc<Projections>,
}

impl Ingest {
    pub fn new(log: EventLog, queue: PointerQueue, configs: Arc<TenantConfigs>, projections: Arc<Projections>) -> Self {
        Self { log, queue, configs, projections }
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Stores an order as `OrderReceived` and queues a pointer to it.
    pub async fn order(
        &self,
        company: &str,
        envelope: &OrderEnvelope,
        origin: &Origin,
    ) -> Result<Ingested, StoreError> {
        let id = orders::order_id(company, &envelope.source, &envelope.external_id).to_string();
        let mut data = envelope.to_json();
        data["receivedVia"] = Value::String(origin.via().into());
        // The order keeps the pipeline it was ingested with.
        data["pipeline"] = serde_json::to_value(self.configs.pipeline(company)).unwrap_or(Value::Null);
        let event = NewEvent { event_type: event_types::RECEIVED.into(), actor: origin.actor(), data };
        let key = keys::event_key(company, orders::AGGREGATE, &id, 1, event_types::RECEIVED);
        let created = match self.log.append(company, orders::AGGREGATE, &id, 1, event).await? {
            Appended::Stored { event, .. } => {
                self.projections.apply(company, std::slice::from_ref(&*event));
                self.queue.enqueue(Pointer {
                    key: key.clone(),
                    company: company.into(),
                    event: event_types::RECEIVED.into(),
                });
                true
            }
            Appended::VersionTaken => false,
        };
        Ok(Ingested { aggregate_type: orders::AGGREGATE.into(), id, created, key })
    }

    /// Ingests an event a plugin of `company` produced. `order` events
    /// become orders with the plugin as their source; other kinds (a
    /// `shipment`, a `tracking` scan) are stored as `{Kind}Received`
    /// version 1 of their own aggregate, with the same duplicate rule.
    pub async fn plugin_event(
        &self,
        company: &str,
        plugin: &str,
        event: &PluginEvent,
        origin: &Origin,
    ) -> Result<Ingested, IngestError> {
        if event.kind == "order" {
            let order = match &event.payload {
                Value::Object(order) => order.clone(),
                _ => {
                    return Err(
                        EnvelopeError::Invalid { field: "order", problem: "must be a JSON object".into() }.into()
                    );
                }
            };
            let envelope = OrderEnvelope {
                source: plugin.to_string(),
                external_id: event.external_id.clone(),
                validation_mode: event.validation_mode,
                warehouse_id: event.warehouse_id.clone(),
                order,
            };
            return Ok(self.order(company, &envelope, origin).await?);
        }
        let aggregate_type = format!("{}s", event.kind);
        let event_type = format!("{}Received", pascal_case(&event.kind));
        let id = orders::order_id(company, &format!("{plugin}/{}", event.kind), &event.external_id).to_string();
        let data = json!({
            "source": plugin,
            "externalId": event.external_id,
            "payload": event.payload,
            "receivedVia": origin.via(),
        });
        let key = keys::event_key(company, &aggregate_type, &id, 1, &event_type);
        let stored = NewEvent { event_type: event_type.clone(), actor: origin.actor(), data };
        let created = match self.log.append(company, &aggregate_type, &id, 1, stored).await? {
            Appended::Stored { .. } => {
                self.queue.enqueue(Pointer { key: key.clone(), company: company.into(), event: event_type });
                true
            }
            Appended::VersionTaken => false,
        };
        Ok(Ingested { aggregate_type, id, created, key })
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
