//! The pipeline's decisions: from an order (its view and `OrderReceived`)
//! and the pipeline configuration it was ingested with, the order's next
//! event. The plugins it calls sit behind [`Plugins`], so the decisions
//! need no engine, registry or store, and every branch is unit-tested.
//!
//! - `received` → `validate` (JSON Schema) and `semantic` (the validator
//!   plugin) → the mode → `OrderValidated` or `OrderValidationFailed`;
//! - `validated` / `overridden`, when the configuration dispatches → `map`
//!   (the mapper plugin) → the reference → `dispatch` (the warehouse
//!   plugin, transient errors retried with backoff) →
//!   `OrderSentToWarehouse` or `OrderDispatchFailed`;
//! - any other state: nothing to do.

use std::time::Duration;

use serde_json::Value;

use super::config::{PipelineConfig, Step};
use crate::engine::{OrderInput, WarehouseDocument};
use crate::events::{Actor, NewEvent};
use crate::orders::events::{DispatchFailure, OrderEvent, Received, Sent, Validation};
use crate::orders::validation::{Verdict, judge, resolve_mode};
use crate::orders::{Finding, OrderState, OrderView, Severity};
use crate::plugins::manifest::ValidationMode;
use crate::store::StoreError;

/// Why a plugin call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// No plugin of that id and kind is installed for the tenant.
    NotInstalled,
    /// Unavailable for now (busy, timed out, a transient failure): try later.
    Transient(String),
    /// The plugin failed; the message is what the operator reads.
    Failed(String),
}

/// A warehouse's acceptance of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    pub warehouse_order_id: Option<String>,
    pub message: String,
    pub plugin_version: String,
    pub invocation: String,
}

/// What the decisions need from outside: the tenant's plugins, its order
/// schema and the reference index.
#[async_trait::async_trait]
pub trait Plugins: Send + Sync {
    /// The validation mode the order's source plugin declares, if its
    /// source is a source plugin that declares one.
    fn source_mode(&self, company: &str, source: &str) -> Option<ValidationMode>;
    /// The tenant's order schema's findings on `order`.
    fn schema_findings(&self, company: &str, order: &Value) -> Vec<Finding>;
    async fn validate(&self, company: &str, validator: &str, input: &OrderInput) -> Result<Vec<Finding>, PluginError>;
    async fn map(&self, company: &str, mapper: &str, input: &OrderInput) -> Result<WarehouseDocument, PluginError>;
    /// The order's warehouse-facing reference (the same one every time).
    async fn reference(&self, company: &str, order_id: &str) -> Result<String, StoreError>;
    async fn dispatch(
        &self,
        company: &str,
        warehouse: &str,
        document: &WarehouseDocument,
        reference: &str,
    ) -> Result<Dispatched, PluginError>;
}

/// Why no decision was made now.
#[derive(Debug, thiserror::Error)]
pub enum Undecided {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin is unavailable for now; the order is tried again later.
    #[error("{0}")]
    Later(String),
}

/// The order decided on: its state, its `OrderReceived`, and the order as
/// it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    pub view: &'a OrderView,
    pub received: &'a Received,
    pub payload: &'a Value,
}

/// The order's next event, or `None` when there is nothing to do now.
pub async fn next_event(
    plugins: &dyn Plugins,
    company: &str,
    order: &Order<'_>,
    pipeline: &PipelineConfig,
) -> Result<Option<NewEvent>, Undecided> {
    let Order { view, received, payload } = *order;
    let order = Deciding { plugins, company, view, received, payload, pipeline };
    match view.state {
        OrderState::Received => Ok(Some(order.validation().await?)),
        OrderState::Validated | OrderState::Overridden if pipeline.steps.contains(&Step::Dispatch) => {
            Ok(Some(order.delivery().await?))
        }
        _ => Ok(None),
    }
}

/// One order being decided on, with what the decisions need.
struct Deciding<'a> {
    plugins: &'a dyn Plugins,
    company: &'a str,
    view: &'a OrderView,
    received: &'a Received,
    payload: &'a Value,
    pipeline: &'a PipelineConfig,
}

impl Deciding<'_> {
    /// `validate` and `semantic`, then the mode: the validation event.
    async fn validation(&self) -> Result<NewEvent, Undecided> {
        let Self { plugins, company, view, received, payload: order, pipeline } = *self;
        let (mode, mode_source) = resolve_mode(received.validation_mode, plugins.source_mode(company, &view.source));
        let mut findings = Vec::new();
        for step in &pipeline.steps {
            match step {
                Step::Validate => findings.extend(plugins.schema_findings(company, order)),
                Step::Semantic => findings.extend(self.semantic(order).await?),
                Step::Map | Step::Dispatch => {}
            }
        }
        let event = match judge(mode, findings) {
            Verdict::Validated(findings) => OrderEvent::Validated(Validation { mode, mode_source, findings }),
            Verdict::Failed(findings) => OrderEvent::ValidationFailed(Validation { mode, mode_source, findings }),
        };
        Ok(event.by(Actor::system("pipeline")))
    }

    /// The validator plugin's findings; a transient failure decides later.
    async fn semantic(&self, order: &Value) -> Result<Vec<Finding>, Undecided> {
        let Self { plugins, company, view, pipeline, .. } = *self;
        let Some(validator) = &pipeline.validator else {
            return Ok(vec![info("semantic", "", "no validator plugin is configured; semantic checks skipped")]);
        };
        match plugins.validate(company, validator, &input(company, view, order)).await {
            Ok(findings) => Ok(findings),
            Err(PluginError::NotInstalled) => {
                Ok(vec![error("semantic", validator, &format!("the validator plugin `{validator}` is not installed"))])
            }
            Err(PluginError::Transient(message)) => Err(Undecided::Later(message)),
            Err(PluginError::Failed(message)) => {
                Ok(vec![error("semantic", validator, &format!("the validator failed: {message}"))])
            }
        }
    }

    /// `map`, the reference, `dispatch`: the delivery event.
    async fn delivery(&self) -> Result<NewEvent, Undecided> {
        let Self { plugins, company, view, received, payload: order, pipeline } = *self;
        let failed = |field: &str, value: &str, message: String, reference: Option<&str>| {
            let findings = vec![error(field, value, &message)];
            OrderEvent::DispatchFailed(DispatchFailure { findings, reference: reference.map(str::to_string) })
                .by(Actor::system("pipeline"))
        };

        let document = match pipeline.steps.contains(&Step::Map).then_some(pipeline.mapper.as_ref()).flatten() {
            None => WarehouseDocument { content_type: "application/json".into(), body: order.to_string().into_bytes() },
            Some(mapper) => match plugins.map(company, mapper, &input(company, view, order)).await {
                Ok(document) => document,
                Err(PluginError::NotInstalled) => {
                    return Ok(failed("map", mapper, format!("the mapper plugin `{mapper}` is not installed"), None));
                }
                Err(PluginError::Transient(message)) => return Err(Undecided::Later(message)),
                Err(PluginError::Failed(message)) => {
                    return Ok(failed("map", mapper, format!("mapping failed: {message}"), None));
                }
            },
        };
        let reference = plugins.reference(company, &view.id).await?;

        let warehouse_id = received.warehouse_id.as_deref();
        let Some(warehouse) = pipeline.warehouse_for(warehouse_id) else {
            let message = match warehouse_id {
                Some(id) => format!("no warehouse plugin is configured for warehouse `{id}`"),
                None => "no warehouse plugin is configured".to_string(),
            };
            return Ok(failed("dispatch", warehouse_id.unwrap_or_default(), message, Some(&reference)));
        };
        let policy = &pipeline.dispatch;
        let mut backoff = Duration::from_millis(policy.initial_backoff_ms);
        for attempt in 1..=policy.attempts {
            match plugins.dispatch(company, warehouse, &document, &reference).await {
                Ok(done) => {
                    let actor = Actor {
                        kind: "plugin".into(),
                        id: warehouse.to_string(),
                        plugin_version: Some(done.plugin_version),
                        invocation: Some(done.invocation),
                    };
                    let sent = Sent {
                        reference,
                        warehouse: warehouse.to_string(),
                        warehouse_order_id: done.warehouse_order_id,
                        message: done.message,
                        attempts: attempt,
                    };
                    return Ok(OrderEvent::SentToWarehouse(sent).by(actor));
                }
                Err(PluginError::NotInstalled) => {
                    let message = format!("the warehouse plugin `{warehouse}` is not installed");
                    return Ok(failed("dispatch", warehouse, message, Some(&reference)));
                }
                Err(PluginError::Transient(message)) if attempt < policy.attempts => {
                    tracing::info!(%company, order = %view.id, %reference, attempt, error = %message, "dispatch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(policy.max_backoff_ms));
                }
                Err(PluginError::Transient(message) | PluginError::Failed(message)) => {
                    let message = format!("dispatch failed after {attempt} attempt(s): {message}");
                    return Ok(failed("dispatch", warehouse, message, Some(&reference)));
                }
            }
        }
        Ok(failed("dispatch", warehouse, "no dispatch attempt was made".into(), Some(&reference)))
    }
}

/// What a plugin is given of an order.
fn input(company: &str, view: &OrderView, order: &Value) -> OrderInput {
    OrderInput {
        id: view.id.clone(),
        company: company.to_string(),
        source: view.source.clone(),
        external_id: view.external_id.clone(),
        payload: order.clone(),
    }
}

fn error(field: &str, value: &str, message: &str) -> Finding {
    Finding { field: field.into(), value: value.into(), severity: Severity::Error, message: message.into() }
}

fn info(field: &str, value: &str, message: &str) -> Finding {
    Finding { field: field.into(), value: value.into(), severity: Severity::Info, message: message.into() }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::orders::event_types;
    use crate::pipeline::config::DispatchPolicy;

    /// Plugins that answer as scripted, and say what they were asked.
    #[derive(Default)]
    struct Scripted {
        source_mode: Option<ValidationMode>,
        schema: Vec<Finding>,
        validate: Option<Result<Vec<Finding>, PluginError>>,
        map: Option<Result<WarehouseDocument, PluginError>>,
        /// One answer per dispatch attempt, in order.
        dispatch: Mutex<VecDeque<Result<Dispatched, PluginError>>>,
        dispatched: Mutex<Vec<(String, String)>>,
    }

    #[async_trait::async_trait]
    impl Plugins for Scripted {
        fn source_mode(&self, _: &str, _: &str) -> Option<ValidationMode> {
            self.source_mode
        }
        fn schema_findings(&self, _: &str, _: &Value) -> Vec<Finding> {
            self.schema.clone()
        }
        async fn validate(&self, _: &str, _: &str, _: &OrderInput) -> Result<Vec<Finding>, PluginError> {
            self.validate.clone().expect("validate was not expected")
        }
        async fn map(&self, _: &str, _: &str, _: &OrderInput) -> Result<WarehouseDocument, PluginError> {
            self.map.clone().expect("map was not expected")
        }
        async fn reference(&self, _: &str, order_id: &str) -> Result<String, StoreError> {
            Ok(format!("REF-{order_id}"))
        }
        async fn dispatch(
            &self,
            _: &str,
            warehouse: &str,
            document: &WarehouseDocument,
            _: &str,
        ) -> Result<Dispatched, PluginError> {
            let body = String::from_utf8_lossy(&document.body).into_owned();
            self.dispatched.lock().expect("lock").push((warehouse.to_string(), body));
            self.dispatch.lock().expect("lock").pop_front().expect("dispatch was not expected")
        }
    }

    /// An order as the pipeline reads it: its `OrderReceived` and the order.
    struct Fixture {
        received: Received,
        payload: Value,
    }

    fn order(extra: Value) -> Fixture {
        let mut data = json!({"source": "shop", "externalId": "1", "order": {"orderNumber": "1"}});
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        let received = serde::Deserialize::deserialize(&data).expect("an OrderReceived");
        Fixture { received, payload: data["order"].clone() }
    }

    async fn next_event(
        plugins: &Scripted,
        company: &str,
        view: &OrderView,
        fixture: &Fixture,
        pipeline: &PipelineConfig,
    ) -> Result<Option<NewEvent>, Undecided> {
        let order = Order { view, received: &fixture.received, payload: &fixture.payload };
        super::next_event(plugins, company, &order, pipeline).await
    }

    fn view(state: OrderState) -> OrderView {
        OrderView {
            id: "o-1".into(),
            source: "shop".into(),
            external_id: "1".into(),
            state,
            findings: Vec::new(),
            reference: None,
        }
    }

    fn config(steps: &[Step]) -> PipelineConfig {
        PipelineConfig {
            steps: steps.to_vec(),
            validator: Some("rules".into()),
            mapper: Some("mapper".into()),
            warehouse: Some("wms".into()),
            warehouses: [("oslo".to_string(), "wms-oslo".to_string())].into(),
            dispatch: DispatchPolicy { attempts: 3, initial_backoff_ms: 1, max_backoff_ms: 2 },
        }
    }

    fn finding(severity: Severity) -> Finding {
        Finding { field: "lineItems[0].sku".into(), value: "".into(), severity, message: "missing".into() }
    }

    fn accepted() -> Dispatched {
        Dispatched {
            warehouse_order_id: Some("W-9".into()),
            message: "accepted".into(),
            plugin_version: "v1".into(),
            invocation: "inv-1".into(),
        }
    }

    const ALL: &[Step] = &[Step::Validate, Step::Semantic, Step::Map, Step::Dispatch];

    async fn decide(plugins: &Scripted, state: OrderState, received: &Fixture, pipeline: &PipelineConfig) -> NewEvent {
        next_event(plugins, "acme", &view(state), received, pipeline).await.expect("decided").expect("an event")
    }

    fn messages(event: &NewEvent) -> Vec<String> {
        let findings: Vec<Finding> = serde_json::from_value(event.data["findings"].clone()).expect("findings");
        findings.into_iter().map(|f| format!("{:?} {}", f.severity, f.message)).collect()
    }

    #[tokio::test]
    async fn a_clean_order_is_validated_in_the_platform_default_mode() {
        let plugins = Scripted { validate: Some(Ok(vec![])), ..Scripted::default() };
        let event = decide(&plugins, OrderState::Received, &order(json!({})), &config(ALL)).await;
        assert_eq!(event.event_type, event_types::VALIDATED);
        assert_eq!(event.data["mode"], "strict");
        assert_eq!(event.data["modeSource"], "platform");
        assert!(messages(&event).is_empty());
    }

    #[tokio::test]
    async fn strict_halts_on_a_finding_and_lenient_goes_on_with_warnings() {
        let plugins =
            Scripted { schema: vec![finding(Severity::Error)], validate: Some(Ok(vec![])), ..Scripted::default() };
        let strict = decide(&plugins, OrderState::Received, &order(json!({})), &config(ALL)).await;
        assert_eq!(strict.event_type, event_types::VALIDATION_FAILED);
        assert_eq!(messages(&strict), ["Error missing"]);
        let lenient = order(json!({"validationMode": "lenient"}));
        let event = decide(&plugins, OrderState::Received, &lenient, &config(ALL)).await;
        assert_eq!(event.event_type, event_types::VALIDATED);
        assert_eq!(event.data["modeSource"], "order");
        assert_eq!(messages(&event), ["Warning missing"]);
    }

    #[tokio::test]
    async fn the_source_plugins_mode_applies_when_the_order_names_none() {
        let plugins = Scripted {
            source_mode: Some(ValidationMode::Lenient),
            validate: Some(Ok(vec![finding(Severity::Error)])),
            ..Scripted::default()
        };
        let event = decide(&plugins, OrderState::Received, &order(json!({})), &config(ALL)).await;
        assert_eq!(event.event_type, event_types::VALIDATED);
        assert_eq!(event.data["modeSource"], "source-plugin");
        let flagged = order(json!({"validationMode": "strict"}));
        let event = decide(&plugins, OrderState::Received, &flagged, &config(ALL)).await;
        assert_eq!(event.event_type, event_types::VALIDATION_FAILED, "the order's flag wins");
    }

    #[tokio::test]
    async fn only_the_configured_validation_steps_run() {
        // The schema's finding counts only with `validate`; the validator is
        // not called without `semantic`.
        let plugins = Scripted { schema: vec![finding(Severity::Error)], ..Scripted::default() };
        let event = decide(&plugins, OrderState::Received, &order(json!({})), &config(&[Step::Dispatch])).await;
        assert_eq!(event.event_type, event_types::VALIDATED);
        assert!(messages(&event).is_empty());
    }

    #[tokio::test]
    async fn semantic_without_a_validator_says_so_and_does_not_halt() {
        let plugins = Scripted::default();
        let mut pipeline = config(&[Step::Semantic]);
        pipeline.validator = None;
        let event = decide(&plugins, OrderState::Received, &order(json!({})), &pipeline).await;
        assert_eq!(event.event_type, event_types::VALIDATED);
        assert_eq!(messages(&event), ["Info no validator plugin is configured; semantic checks skipped"]);
    }

    #[tokio::test]
    async fn a_missing_or_failing_validator_is_a_finding_and_a_busy_one_is_tried_later() {
        let missing = Scripted { validate: Some(Err(PluginError::NotInstalled)), ..Scripted::default() };
        let event = decide(&missing, OrderState::Received, &order(json!({})), &config(ALL)).await;
        assert_eq!(event.event_type, event_types::VALIDATION_FAILED);
        assert_eq!(messages(&event), ["Error the validator plugin `rules` is not installed"]);

        let failing = Scripted { validate: Some(Err(PluginError::Failed("trap".into()))), ..Scripted::default() };
        let event = decide(&failing, OrderState::Received, &order(json!({})), &config(ALL)).await;
        assert_eq!(messages(&event), ["Error the validator failed: trap"]);

        let busy = Scripted { validate: Some(Err(PluginError::Transient("busy".into()))), ..Scripted::default() };
        let later = next_event(&busy, "acme", &view(OrderState::Received), &order(json!({})), &config(ALL)).await;
        assert!(matches!(later, Err(Undecided::Later(ref m)) if m == "busy"), "{later:?}");
    }

    #[tokio::test]
    async fn a_validated_order_is_mapped_and_sent_with_its_reference() {
        let document = WarehouseDocument { content_type: "text/csv".into(), body: b"sku;qty".to_vec() };
        let plugins =
            Scripted { map: Some(Ok(document)), dispatch: Mutex::new([Ok(accepted())].into()), ..Scripted::default() };
        let event = decide(&plugins, OrderState::Validated, &order(json!({})), &config(ALL)).await;
        assert_eq!(event.event_type, event_types::SENT_TO_WAREHOUSE);
        assert_eq!(event.data["reference"], "REF-o-1");
        assert_eq!(event.data["warehouseOrderId"], "W-9");
        assert_eq!(event.data["attempts"], 1);
        assert_eq!(event.actor.id, "wms");
        assert_eq!(event.actor.plugin_version.as_deref(), Some("v1"));
        assert_eq!(plugins.dispatched.lock().expect("lock")[0], ("wms".to_string(), "sku;qty".to_string()));
    }

    #[tokio::test]
    async fn an_overridden_order_without_a_mapper_sends_the_order_model_to_its_warehouse() {
        let plugins = Scripted { dispatch: Mutex::new([Ok(accepted())].into()), ..Scripted::default() };
        let routed = order(json!({"warehouseId": "oslo"}));
        let event = decide(&plugins, OrderState::Overridden, &routed, &config(&[Step::Dispatch])).await;
        assert_eq!(event.event_type, event_types::SENT_TO_WAREHOUSE);
        assert_eq!(event.data["warehouse"], "wms-oslo", "the envelope's warehouseId picks the warehouse");
        let (_, body) = plugins.dispatched.lock().expect("lock")[0].clone();
        assert_eq!(serde_json::from_str::<Value>(&body).expect("json"), json!({"orderNumber": "1"}));
    }

    #[tokio::test]
    async fn a_mapper_that_is_missing_or_fails_fails_the_dispatch_and_a_busy_one_waits() {
        for (answer, expected) in [
            (PluginError::NotInstalled, "Error the mapper plugin `mapper` is not installed"),
            (PluginError::Failed("bad sku".into()), "Error mapping failed: bad sku"),
        ] {
            let plugins = Scripted { map: Some(Err(answer)), ..Scripted::default() };
            let event = decide(&plugins, OrderState::Validated, &order(json!({})), &config(ALL)).await;
            assert_eq!(event.event_type, event_types::DISPATCH_FAILED);
            assert_eq!(messages(&event), [expected]);
            assert_eq!(event.data["reference"], Value::Null, "no reference before mapping");
        }
        let busy = Scripted { map: Some(Err(PluginError::Transient("busy".into()))), ..Scripted::default() };
        let later = next_event(&busy, "acme", &view(OrderState::Validated), &order(json!({})), &config(ALL)).await;
        assert!(matches!(later, Err(Undecided::Later(_))), "{later:?}");
    }

    #[tokio::test]
    async fn no_warehouse_or_a_missing_one_fails_the_dispatch_with_the_reference() {
        let plugins = Scripted::default();
        let mut pipeline = config(&[Step::Dispatch]);
        pipeline.warehouse = None;
        let event = decide(&plugins, OrderState::Validated, &order(json!({})), &pipeline).await;
        assert_eq!(messages(&event), ["Error no warehouse plugin is configured"]);
        let unknown = order(json!({"warehouseId": "bergen"}));
        let event = decide(&plugins, OrderState::Validated, &unknown, &pipeline).await;
        assert_eq!(messages(&event), ["Error no warehouse plugin is configured for warehouse `bergen`"]);
        assert_eq!(event.data["reference"], "REF-o-1");

        let missing = Scripted { dispatch: Mutex::new([Err(PluginError::NotInstalled)].into()), ..Scripted::default() };
        let event = decide(&missing, OrderState::Validated, &order(json!({})), &config(&[Step::Dispatch])).await;
        assert_eq!(event.event_type, event_types::DISPATCH_FAILED);
        assert_eq!(messages(&event), ["Error the warehouse plugin `wms` is not installed"]);
    }

    #[tokio::test]
    async fn transient_dispatch_errors_are_retried_up_to_the_policy_and_permanent_ones_are_not() {
        let transient = || Err(PluginError::Transient("503".into()));
        let recovers = Scripted { dispatch: Mutex::new([transient(), Ok(accepted())].into()), ..Scripted::default() };
        let event = decide(&recovers, OrderState::Validated, &order(json!({})), &config(&[Step::Dispatch])).await;
        assert_eq!(event.event_type, event_types::SENT_TO_WAREHOUSE);
        assert_eq!(event.data["attempts"], 2);

        let down =
            Scripted { dispatch: Mutex::new([transient(), transient(), transient()].into()), ..Scripted::default() };
        let event = decide(&down, OrderState::Validated, &order(json!({})), &config(&[Step::Dispatch])).await;
        assert_eq!(messages(&event), ["Error dispatch failed after 3 attempt(s): 503"]);
        assert_eq!(down.dispatched.lock().expect("lock").len(), 3);

        let refused = Scripted {
            dispatch: Mutex::new([Err(PluginError::Failed("no such sku".into()))].into()),
            ..Scripted::default()
        };
        let event = decide(&refused, OrderState::Validated, &order(json!({})), &config(&[Step::Dispatch])).await;
        assert_eq!(messages(&event), ["Error dispatch failed after 1 attempt(s): no such sku"]);
        assert_eq!(event.data["reference"], "REF-o-1");
    }

    #[tokio::test]
    async fn nothing_to_do_without_dispatch_or_once_settled() {
        let plugins = Scripted::default();
        let received = order(json!({}));
        let pipeline = config(&[Step::Validate]);
        let none = next_event(&plugins, "acme", &view(OrderState::Validated), &received, &pipeline).await;
        assert!(matches!(none, Ok(None)), "validated, no dispatch step: {none:?}");
        for state in [OrderState::Failed, OrderState::Sent, OrderState::DispatchFailed, OrderState::Shipped] {
            let none = next_event(&plugins, "acme", &view(state), &received, &config(ALL)).await;
            assert!(matches!(none, Ok(None)), "{state:?}: {none:?}");
        }
    }
}
