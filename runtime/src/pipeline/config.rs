//! A tenant's pipeline configuration: which steps, in which order, with
//! which plugins (`{company}/config/pipeline.json`). A bad order of steps is
//! refused when it is set. Each order carries a copy of the configuration
//! it was ingested with, so changing it never changes an order in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::events::keys;
use crate::store::{ObjectStore, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// JSON Schema against the order model.
    Validate,
    /// The tenant's `validator` plugin.
    Semantic,
    /// The `mapper` plugin, then the warehouse-facing reference.
    Map,
    /// The `warehouse` plugin.
    Dispatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PipelineConfig {
    #[serde(default = "default_steps")]
    pub steps: Vec<Step>,
    /// The `validator` plugin of the `semantic` step.
    #[serde(default)]
    pub validator: Option<String>,
    /// The `mapper` plugin; without one the order model itself is sent.
    #[serde(default)]
    pub mapper: Option<String>,
    /// The `warehouse` plugin orders go to, unless their `warehouseId` names another.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// `warehouseId` (from the envelope) → warehouse plugin.
    #[serde(default)]
    pub warehouses: BTreeMap<String, String>,
    #[serde(default)]
    pub dispatch: DispatchPolicy,
}

/// Retries of transient dispatch errors, with exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DispatchPolicy {
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    #[serde(default = "default_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
}

impl Default for DispatchPolicy {
    fn default() -> Self {
        Self {
            attempts: default_attempts(),
            initial_backoff_ms: default_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

fn default_steps() -> Vec<Step> {
    vec![Step::Validate, Step::Semantic, Step::Map, Step::Dispatch]
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff_ms() -> u64 {
    200
}
fn default_max_backoff_ms() -> u64 {
    10_000
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            steps: default_steps(),
            validator: None,
            mapper: None,
            warehouse: None,
            warehouses: BTreeMap::new(),
            dispatch: DispatchPolicy::default(),
        }
    }
}

impl PipelineConfig {
    /// Parses and checks a configuration.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let config: Self =
            serde_json::from_slice(body).map_err(|e| format!("the pipeline configuration is invalid: {e}"))?;
        config.check()?;
        Ok(config)
    }

    /// Steps at most once each, validation before mapping, mapping before dispatch.
    pub fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("the pipeline needs at least one step".into());
        }
        let position = |step: Step| self.steps.iter().position(|s| *s == step);
        for (i, step) in self.steps.iter().enumerate() {
            if self.steps[..i].contains(step) {
                return Err(format!("step `{}` appears twice", step_name(*step)));
            }
        }
        if let Some(dispatch) = position(Step::Dispatch)
            && position(Step::Map).is_none_or(|map| map >= dispatch)
        {
            return Err("`dispatch` needs `map` before it (the reference is assigned when mapping)".into());
        }
        if let Some(map) = position(Step::Map) {
            for validation in [Step::Validate, Step::Semantic] {
                if position(validation).is_some_and(|v| v > map) {
                    return Err(format!(
                        "`{}` must come before `map`: an order is validated before it is mapped",
                        step_name(validation)
                    ));
                }
            }
        }
        if self.dispatch.attempts == 0 || self.dispatch.attempts > 20 {
            return Err("dispatch.attempts must be 1 to 20".into());
        }
        for plugin in self.validator.iter().chain(&self.mapper).chain(&self.warehouse).chain(self.warehouses.values()) {
            keys::check_segment("plugin id", plugin).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The warehouse plugin for an order with `warehouse_id`.
    pub fn warehouse_for(&self, warehouse_id: Option<&str>) -> Option<&str> {
        warehouse_id.and_then(|id| self.warehouses.get(id)).or(self.warehouse.as_ref()).map(String::as_str)
    }
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Validate => "validate",
        Step::Semantic => "semantic",
        Step::Map => "map",
        Step::Dispatch => "dispatch",
    }
}

/// Tenants' pipeline configurations, cached in memory and kept in the store.
#[derive(Debug)]
pub struct TenantConfigs {
    store: Arc<dyn ObjectStore>,
    pipelines: RwLock<HashMap<String, PipelineConfig>>,
}

impl TenantConfigs {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store, pipelines: RwLock::default() }
    }

    /// Loads the configurations of the store's tenants `companies`.
    pub async fn load(&self, companies: &[String]) -> Result<(), StoreError> {
        for company in companies {
            let company = company.clone();
            let key = keys::config_key(&company, "pipeline");
            if let Some(object) = self.store.get(&key).await? {
                match PipelineConfig::parse(&object.body) {
                    Ok(config) => {
                        self.pipelines.write().unwrap_or_else(|p| p.into_inner()).insert(company, config);
                    }
                    Err(e) => {
                        tracing::error!(%key, error = %e, "a stored pipeline configuration is invalid; the default applies")
                    }
                }
            }
        }
        Ok(())
    }

    /// The configuration orders of `company` are ingested with now.
    pub fn pipeline(&self, company: &str) -> PipelineConfig {
        self.pipelines.read().unwrap_or_else(|p| p.into_inner()).get(company).cloned().unwrap_or_default()
    }

    /// Checks and stores a new configuration for orders ingested from now on.
    pub async fn set_pipeline(&self, company: &str, config: PipelineConfig) -> Result<(), StoreError> {
        let body = serde_json::to_vec_pretty(&config)
            .map_err(|e| StoreError::Corrupt { key: company.into(), reason: e.to_string() })?;
        self.store.put(&keys::config_key(company, "pipeline"), Bytes::from(body)).await?;
        self.pipelines.write().unwrap_or_else(|p| p.into_inner()).insert(company.to_string(), config);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_orders_are_checked() {
        let parse = |steps: &str| PipelineConfig::parse(format!(r#"{{"steps": {steps}}}"#).as_bytes());
        assert!(parse(r#"["validate","semantic","map","dispatch"]"#).is_ok());
        assert!(parse(r#"["semantic","validate","map"]"#).is_ok());
        assert!(parse(r#"["validate"]"#).is_ok());
        assert!(parse(r#"["map","validate"]"#).expect_err("map first").contains("before `map`"));
        assert!(parse(r#"["validate","dispatch"]"#).expect_err("no map").contains("needs `map`"));
        assert!(parse(r#"["validate","dispatch","map"]"#).expect_err("order").contains("needs `map`"));
        assert!(parse(r#"["validate","validate"]"#).expect_err("twice").contains("twice"));
        assert!(parse(r#"[]"#).is_err());
        assert!(parse(r#"["validate","ship"]"#).is_err());
        assert!(PipelineConfig::parse(br#"{"stpes": []}"#).expect_err("typo").contains("unknown field"));
    }

    #[test]
    fn orders_go_to_their_named_warehouse() {
        let config = PipelineConfig::parse(br#"{"warehouse": "ongoing-wms", "warehouses": {"dk": "warehouse-ftp"}}"#)
            .expect("valid");
        assert_eq!(config.warehouse_for(Some("dk")), Some("warehouse-ftp"));
        assert_eq!(config.warehouse_for(Some("other")), Some("ongoing-wms"));
        assert_eq!(config.warehouse_for(None), Some("ongoing-wms"));
    }
}
