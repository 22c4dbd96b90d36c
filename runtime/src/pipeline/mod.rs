//! The order pipeline (docs/DESIGN.md §7): every stored order ends in a visible
//! state — sent to the warehouse, or failed with the reason and a way out.
//!
//! The worker takes pointers off the queue and holds each order it works
//! in the [`OrderBook`] (one writer per order). Each step decides the next
//! event from the order's state and the pipeline configuration the order
//! was ingested with, and appends it as the next version; if someone else
//! appended first it decides again on what the order is now. At start every
//! order without a terminal event is picked up again.
//!
//! What the next event is, is [`decide`]'s (a function of the order and
//! its configuration, the plugins behind a trait this module implements).
//! After each change the order's source plugin is told, if it listens.

pub mod config;
pub mod decide;
mod lanes;
pub mod reference;
pub mod schema;
pub mod sweep_claims;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use self::config::TenantConfigs;
use self::decide::{Dispatched, PluginError, Plugins, Undecided};
use self::schema::Schemas;
use crate::engine::{CallOptions, InvokeError, OrderInput, OrderStatusUpdate, WarehouseDocument};
use crate::events::{Actor, StoredEvent, keys};
use crate::host::LogSink;
use crate::ops::activity::PluginActivity;
use crate::orders::book::{Change, HeldOrder, OrderBook};
use crate::orders::events::{OrderEvent, Overridden, received_order};
use crate::orders::{self, Finding, OrderState, OrderView, event_types};
use crate::plugins::manifest::{PluginKind, ValidationMode};
use crate::plugins::registry::{ActivePlugin, Registry};
use crate::projections::Projections;
use crate::queue::{Pointer, PointerQueue};
use crate::store::{CreateOutcome, StoreError};
use crate::tasks::Tasks;

/// Steps of one order in one go, a guard against a loop that never settles.
const MAX_STEPS: usize = 16;

#[derive(Debug)]
pub struct Pipeline {
    book: Arc<OrderBook>,
    registry: Arc<Registry>,
    configs: Arc<TenantConfigs>,
    schemas: Arc<Schemas>,
    queue: PointerQueue,
    permits: Arc<Semaphore>,
    /// Each tenant's share of the workers.
    lanes: lanes::Lanes,
    /// Orders worked on at once; 0 on an ingest-only node.
    workers: usize,
    log_sink: Option<Arc<dyn LogSink>>,
    activity: Arc<PluginActivity>,
    /// Where its work runs: stopped and waited for at shutdown.
    tasks: Tasks,
    /// With several nodes: an unfinished order is picked up by one of them.
    claims: Option<sweep_claims::SweepClaims>,
    /// How often the sweeper looks, and how long an order must have sat
    /// still to be picked up.
    sweep_every: Duration,
}

/// One admitted order's turn in its tenant's lane. When the order is done
/// (or its work panicked), the lane's next order starts. When its task is
/// dropped unfinished (the runtime is shutting down) the turn is only given
/// back: starting the next there would be dropped at once in turn, lane
/// after lane; the orders are durable and picked up at the next start.
struct Turn {
    pipeline: Arc<Pipeline>,
    company: String,
    id: String,
    /// Set once the order was worked (a `Cell`: read only by `drop`).
    done: std::cell::Cell<bool>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !self.done.get() {
            self.pipeline.lanes.give_back(&self.company, &self.id);
        } else if let Some(next) = self.pipeline.lanes.finish(&self.company, &self.id) {
            self.pipeline.start(self.company.clone(), next);
        }
    }
}

/// A tenant's share of `workers` unless configured: most of them, so one
/// tenant alone keeps most of the throughput and others still find room.
pub fn default_tenant_share(workers: usize) -> usize {
    (workers - workers / 4).max(1)
}

/// What one step did.
enum Progress {
    /// An event was appended (or someone else's was): look again.
    Continue,
    /// Nothing more to do now.
    Done,
}

/// Why an order could not be forced.
#[derive(Debug, thiserror::Error)]
pub enum ForceError {
    #[error("no order `{0}`")]
    NotFound(String),
    #[error("the order is {0:?}; only a failed or dispatch-failed order can be forced")]
    NotFailed(OrderState),
    #[error("the order changed meanwhile; reload and retry")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        book: Arc<OrderBook>,
        registry: Arc<Registry>,
        configs: Arc<TenantConfigs>,
        schemas: Arc<Schemas>,
        queue: PointerQueue,
        log_sink: Option<Arc<dyn LogSink>>,
        activity: Arc<PluginActivity>,
        workers: usize,
        tasks: Tasks,
    ) -> Self {
        Self {
            book,
            registry,
            configs,
            schemas,
            queue,
            permits: Arc::new(Semaphore::new(workers)),
            lanes: lanes::Lanes::new(default_tenant_share(workers)),
            workers,
            log_sink,
            activity,
            tasks,
            claims: None,
            sweep_every: Duration::from_secs(30),
        }
    }

    /// With several nodes: claims each unfinished order before picking it up.
    pub fn with_sweep_claims(mut self, claims: sweep_claims::SweepClaims) -> Self {
        self.claims = Some(claims);
        self
    }

    /// Sweeps every `every` for orders unfinished for as long.
    pub fn with_sweep_every(mut self, every: Duration) -> Self {
        self.sweep_every = every;
        self
    }

    /// Whether this node picks up unfinished order `id` (with several
    /// nodes, only the one whose claim succeeds).
    async fn claimed(&self, company: &str, id: &str) -> bool {
        let Some(claims) = &self.claims else { return true };
        match claims.claim(company, id).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%company, order = %id, %error, "could not claim an unfinished order; leaving it for now");
                false
            }
        }
    }

    /// At most `share` of one tenant's orders are worked at once.
    pub fn with_tenant_share(mut self, share: usize) -> Self {
        self.lanes = lanes::Lanes::new(share);
        self
    }

    pub fn projections(&self) -> &Arc<Projections> {
        self.book.projections()
    }

    /// Works the pointers from the queue until it closes (on an ingest-only
    /// node, takes them off the queue and leaves the orders to others).
    pub fn spawn(self: &Arc<Self>, mut pointers: tokio::sync::mpsc::Receiver<Pointer>) {
        let pipeline = self.clone();
        self.tasks.spawn("pipeline: dispatcher", async move {
            while let Some(pointer) = pointers.recv().await {
                match order_of(&pointer) {
                    // Told even on an ingest-only node (with a shared queue, by
                    // whichever node takes the pointer).
                    Some(id) if pointer.event == event_types::SHIPPED => pipeline.announce(pointer.company, id),
                    Some(id) if pipeline.workers > 0 => pipeline.work(pointer.company, id).await,
                    Some(_) => {}
                    None => tracing::trace!(key = %pointer.key, "not an order; no pipeline"),
                }
            }
        });
    }

    /// Picks up every order without a terminal event (after a restart).
    pub async fn recover(self: &Arc<Self>) -> usize {
        if self.workers == 0 {
            return 0;
        }
        let unfinished = match self.projections().unfinished().await {
            Ok(unfinished) => unfinished,
            Err(error) => {
                tracing::error!(%error, "could not list the unfinished orders; the sweeper picks them up");
                return 0;
            }
        };
        let mut count = 0;
        for order in unfinished {
            if self.claimed(&order.company, &order.id).await {
                count += 1;
                self.work(order.company, order.id).await;
            }
        }
        if count > 0 {
            tracing::info!(orders = count, "picked up unfinished orders");
        }
        count
    }

    /// Every `sweep_every` (30 s), picks up orders unfinished for as long
    /// (a pointer dropped by a full queue, a retry that was lost, a node
    /// that died).
    pub fn spawn_sweeper(self: &Arc<Self>) {
        if self.workers == 0 {
            return;
        }
        let pipeline = self.clone();
        self.tasks.spawn("pipeline: sweeper", async move {
            let every = pipeline.sweep_every;
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let stale = chrono::Utc::now() - chrono::TimeDelta::from_std(every).unwrap_or(chrono::TimeDelta::MAX);
                let unfinished = match pipeline.projections().unfinished().await {
                    Ok(unfinished) => unfinished,
                    Err(error) => {
                        tracing::warn!(%error, "could not list the unfinished orders; sweeping again later");
                        continue;
                    }
                };
                for order in unfinished.into_iter().filter(|order| order.updated_at < stale) {
                    if pipeline.claimed(&order.company, &order.id).await {
                        pipeline.work(order.company, order.id).await;
                    }
                }
            }
        });
    }

    /// Works an order in the background, within the concurrency limit and
    /// its tenant's share of it: past the share, it waits in its tenant's
    /// lane, and the tenant's next order starts when one of its own ends.
    /// Never waits itself, so neither the dispatcher nor `recover` can be
    /// held up by a busy tenant.
    async fn work(self: &Arc<Self>, company: String, id: String) {
        if self.lanes.admit(&company, &id) {
            self.start(company, id);
        }
    }

    /// Runs an admitted order when a worker is free. The worker is given
    /// back after each order (waiters take turns, first come first served),
    /// so no tenant keeps workers while its lane drains.
    fn start(self: &Arc<Self>, company: String, id: String) {
        let turn = Turn { pipeline: self.clone(), company, id, done: std::cell::Cell::new(false) };
        self.tasks.spawn("pipeline: order", async move {
            let Ok(_worker) = turn.pipeline.permits.clone().acquire_owned().await else { return };
            let work = std::panic::AssertUnwindSafe(turn.pipeline.process(&turn.company, &turn.id));
            if futures::FutureExt::catch_unwind(work).await.is_err() {
                tracing::error!(company = %turn.company, order = %turn.id, "working the order panicked; the sweeper retries it");
            }
            turn.done.set(true);
        });
    }

    /// Tells an order's source what became of it, for a change the
    /// pipeline did not make (a warehouse's shipment). Not bounded by the
    /// workers: shipments come at the partners' pace, one call each.
    fn announce(self: &Arc<Self>, company: String, id: String) {
        let pipeline = self.clone();
        self.tasks.spawn("pipeline: announce", async move {
            match pipeline.book.log().read(&company, orders::AGGREGATE, &id).await {
                Ok(events) => pipeline.notify_source(&company, &events).await,
                Err(error) => {
                    tracing::warn!(%company, order = %id, %error, "could not read the order to tell its source")
                }
            }
        });
    }

    /// Moves one order as far as it can go now.
    pub async fn process(self: &Arc<Self>, company: &str, id: &str) {
        let mut order = match self.book.hold(company, id).await {
            Ok(order) => order,
            Err(error) => return self.retry_later(company, id, &error.into()),
        };
        let mut outcome = Err(None);
        for _ in 0..MAX_STEPS {
            match self.step(company, &mut order).await {
                Ok(Progress::Continue) => {}
                Ok(Progress::Done) => {
                    outcome = Ok(());
                    break;
                }
                Err(error) => {
                    outcome = Err(Some(error));
                    break;
                }
            }
        }
        // Its lists follow its steps; waits only if derived writes fall behind.
        order.settle_soon().await;
        drop(order);
        match outcome {
            Ok(()) => {}
            Err(Some(error)) => self.retry_later(company, id, &error),
            Err(None) => {
                tracing::error!(%company, order = %id, "the order did not settle; leaving it for the next pick-up")
            }
        }
    }

    /// Puts the order back on the queue in 5 s.
    fn retry_later(&self, company: &str, id: &str, error: &Undecided) {
        tracing::warn!(%company, order = %id, %error, "pipeline step failed; retrying in 5 s");
        let queue = self.queue.clone();
        let pointer = Pointer {
            key: keys::event_key(company, orders::AGGREGATE, id, 1, event_types::RECEIVED),
            company: company.to_string(),
            event: "Retry".into(),
        };
        self.tasks.spawn("pipeline: retry", async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            queue.enqueue(pointer);
        });
    }

    async fn step(&self, company: &str, order: &mut HeldOrder<'_>) -> Result<Progress, Undecided> {
        let Some(view) = order.view()? else {
            return Ok(Progress::Done);
        };
        let event = {
            let first = &order.events()[0];
            let OrderEvent::Received(received) = OrderEvent::read(first).map_err(StoreError::from)? else {
                return Ok(Progress::Done);
            };
            let payload = received_order(first).map_err(StoreError::from)?;
            // Orders stored before they kept their configuration take the tenant's current one.
            let pipeline = received.pipeline.clone().unwrap_or_else(|| self.configs.pipeline(company));
            let order = decide::Order { view: &view, received: &received, payload };
            decide::next_event(self, company, &order, &pipeline).await?
        };
        let Some(event) = event else {
            return Ok(Progress::Done);
        };
        match order.append(event).await? {
            Change::Appended { .. } => {
                self.notify_source(company, order.events()).await;
                Ok(Progress::Continue)
            }
            // Someone else changed the order: decide again on what it is now.
            Change::Raced => Ok(Progress::Continue),
        }
    }

    /// The order's reference, indexed under `{company}/refs/` (create-once).
    async fn assign_reference(&self, company: &str, id: &str) -> Result<String, StoreError> {
        let uuid =
            uuid::Uuid::parse_str(id).map_err(|e| StoreError::Corrupt { key: id.into(), reason: e.to_string() })?;
        for attempt in 0..10 {
            let candidate = reference::reference(company, &uuid, attempt);
            let key = keys::reference_key(company, &candidate);
            let body = Bytes::from(json!({ "orderId": id }).to_string());
            match self.book.log().store().create_once(&key, body).await? {
                CreateOutcome::Created { .. } => return Ok(candidate),
                CreateOutcome::Exists => {
                    let existing = self.book.log().store().get(&key).await?;
                    let owner = existing.and_then(|o| serde_json::from_slice::<Value>(&o.body).ok());
                    if owner.as_ref().and_then(|v| v["orderId"].as_str()) == Some(id) {
                        return Ok(candidate);
                    }
                }
            }
        }
        Err(StoreError::Corrupt { key: id.into(), reason: "no free reference after 10 attempts".into() })
    }

    /// The (company, order id) a reference stands for.
    pub async fn resolve_reference(&self, reference: &str) -> Result<Option<(String, String)>, StoreError> {
        let Some(code) = reference::tenant_code_of(reference) else { return Ok(None) };
        let store = self.book.log().store();
        for company in keys::companies(store.as_ref()).await? {
            if reference::tenant_code(&company) != code {
                continue;
            }
            if let Some(object) = store.get(&keys::reference_key(&company, reference)).await? {
                let owner: Value = serde_json::from_slice(&object.body).unwrap_or(Value::Null);
                if let Some(id) = owner["orderId"].as_str() {
                    return Ok(Some((company, id.to_string())));
                }
            }
        }
        Ok(None)
    }

    /// Forces a failed order past validation (`platform-operator`).
    pub async fn force(
        self: &Arc<Self>,
        company: &str,
        id: &str,
        operator: &str,
        reason: &str,
    ) -> Result<(), ForceError> {
        let mut order = self.book.hold(company, id).await?;
        let view = order.view()?.ok_or_else(|| ForceError::NotFound(id.to_string()))?;
        // A dispatch-failed order is forced the same way: once the
        // warehouse is back, the operator sends it again (same reference,
        // which the warehouse plugin is idempotent on).
        if !matches!(view.state, OrderState::Failed | OrderState::DispatchFailed) {
            return Err(ForceError::NotFailed(view.state));
        }
        let overridden = Overridden {
            by: operator.to_string(),
            reason: reason.to_string(),
            at: chrono::Utc::now(),
            overridden_findings: view.findings,
            previous_state: view.state,
        };
        let actor = Actor { kind: "operator".into(), id: operator.to_string(), plugin_version: None, invocation: None };
        let event = OrderEvent::ValidationOverridden(overridden).by(actor);
        match order.append(event).await? {
            Change::Appended { key } => {
                // The operator's next look at the order shows it forced.
                order.settle().await;
                self.notify_source(company, order.events()).await;
                self.queue.enqueue(Pointer {
                    key,
                    company: company.into(),
                    event: event_types::VALIDATION_OVERRIDDEN.into(),
                });
                Ok(())
            }
            Change::Raced => Err(ForceError::Conflict),
        }
    }

    /// Counts a plugin call for the operators' view of plugin activity.
    fn observe<T>(&self, company: &str, plugin: &str, result: &Result<T, InvokeError>) {
        let error = result.as_ref().err().map(ToString::to_string);
        self.activity.record(company, plugin, error.as_deref());
    }

    fn options(&self) -> CallOptions {
        CallOptions { log_sink: self.log_sink.clone(), ..CallOptions::default() }
    }

    /// Tells the order's source plugin what became of it, if it listens.
    async fn notify_source(&self, company: &str, events: &[StoredEvent]) {
        let view = match OrderView::from_events(events) {
            Ok(Some(view)) => view,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%company, %error, "an order event is unreadable; its source is not told");
                return;
            }
        };
        let Some(source) = self.registry.get(company, &view.source).filter(|p| p.plugin.receives_status()) else {
            return;
        };
        let state =
            serde_json::to_value(view.state).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let update = OrderStatusUpdate {
            order_id: view.id.clone(),
            external_id: view.external_id.clone(),
            state,
            findings: view.findings.clone(),
            reference: view.reference.clone(),
        };
        let notified = source.plugin.notify_status(&update, self.options()).await;
        self.observe(company, &view.source, &notified);
        if let Err(e) = notified {
            tracing::warn!(%company, order = %view.id, error = %e, "the source plugin could not be told the order's status");
        }
    }
}

/// The order id of a pointer to an order event.
fn order_of(pointer: &Pointer) -> Option<String> {
    let prefix = keys::aggregate_type_prefix(&pointer.company, orders::AGGREGATE);
    let rest = pointer.key.strip_prefix(&prefix)?;
    rest.split('/').next().map(str::to_string)
}

/// What the operator reads about a failed dispatch.
fn dispatch_message(error: &InvokeError) -> String {
    match error {
        InvokeError::Plugin { failure, .. } => failure.to_string(),
        other => other.to_string(),
    }
}

/// The decisions' plugins: the tenant's installed plugins through the
/// registry and engine (each call counted for the dashboard), its order
/// schema, and the reference index in the store.
#[async_trait::async_trait]
impl Plugins for Pipeline {
    fn source_mode(&self, company: &str, source: &str) -> Option<ValidationMode> {
        self.registry
            .get(company, source)
            .filter(|p| p.plugin.kind().is_source())
            .and_then(|p| p.plugin.manifest().validation_mode)
    }

    fn schema_findings(&self, company: &str, order: &Value) -> Vec<Finding> {
        self.schemas.validate(company, order)
    }

    async fn validate(&self, company: &str, validator: &str, input: &OrderInput) -> Result<Vec<Finding>, PluginError> {
        let plugin = self.installed(company, validator, PluginKind::Validator).await?;
        let validated = plugin.plugin.validate(input, self.options()).await;
        self.observe(company, validator, &validated);
        validated.map(|done| done.output).map_err(|e| plugin_error(&e, e.to_string()))
    }

    async fn map(&self, company: &str, mapper: &str, input: &OrderInput) -> Result<WarehouseDocument, PluginError> {
        let plugin = self.installed(company, mapper, PluginKind::Mapper).await?;
        let mapped = plugin.plugin.map(input, self.options()).await;
        self.observe(company, mapper, &mapped);
        mapped.map(|done| done.output).map_err(|e| plugin_error(&e, e.to_string()))
    }

    async fn reference(&self, company: &str, order_id: &str) -> Result<String, StoreError> {
        self.assign_reference(company, order_id).await
    }

    async fn dispatch(
        &self,
        company: &str,
        warehouse: &str,
        document: &WarehouseDocument,
        reference: &str,
    ) -> Result<Dispatched, PluginError> {
        let plugin = self.installed(company, warehouse, PluginKind::Warehouse).await?;
        let dispatched = plugin.plugin.dispatch(document, reference, self.options()).await;
        self.observe(company, warehouse, &dispatched);
        match dispatched {
            Ok(done) => Ok(Dispatched {
                warehouse_order_id: done.output.warehouse_order_id,
                message: done.output.message,
                plugin_version: plugin.version.clone(),
                invocation: done.stats.invocation_id,
            }),
            Err(e) => Err(plugin_error(&e, dispatch_message(&e))),
        }
    }
}

impl Pipeline {
    /// The tenant's plugin `id`, if one of `kind` is installed (loaded now if need be).
    async fn installed(&self, company: &str, id: &str, kind: PluginKind) -> Result<Arc<ActivePlugin>, PluginError> {
        self.registry
            .get_or_load(company, id)
            .await
            .filter(|p| p.plugin.kind() == kind)
            .ok_or(PluginError::NotInstalled)
    }
}

/// A failed call as the decisions see it; `message` is what the operator reads.
fn plugin_error(error: &InvokeError, message: String) -> PluginError {
    if error.is_transient() { PluginError::Transient(message) } else { PluginError::Failed(message) }
}
