//! The `validate` step: JSON Schema validation of the order model, with
//! Portitor's schema (`runtime/schemas/order.schema.json`) or the tenant's
//! own (`{company}/config/order-schema.json`). Each schema error becomes a
//! finding whose field is the JSON path of the offending value.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde_json::Value;

use crate::events::keys;
use crate::orders::{Finding, Severity};
use crate::store::{ObjectStore, StoreError};

/// Portitor's order model schema.
pub const ORDER_SCHEMA: &str = include_str!("../../schemas/order.schema.json");

/// Why a schema was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// Not JSON, or not a JSON Schema (the text of jsonschema's error,
    /// which borrows the schema it describes).
    #[error("the schema is not a valid JSON Schema: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The compiled schemas: Portitor's, and tenants' replacements.
#[derive(Debug)]
pub struct Schemas {
    store: Arc<dyn ObjectStore>,
    default: Arc<jsonschema::Validator>,
    tenants: RwLock<HashMap<String, Arc<jsonschema::Validator>>>,
    /// The entity tag of each tenant's schema as last compiled, so that
    /// loading again (several nodes re-read every few seconds) compiles
    /// only what changed.
    compiled: RwLock<HashMap<String, String>>,
}

fn compile(schema: &Value) -> Result<jsonschema::Validator, SchemaError> {
    jsonschema::validator_for(schema).map_err(|e| SchemaError::Invalid(e.to_string()))
}

fn parse_and_compile(body: &[u8]) -> Result<jsonschema::Validator, SchemaError> {
    let schema: Value = serde_json::from_slice(body).map_err(|e| SchemaError::Invalid(e.to_string()))?;
    compile(&schema)
}

impl Schemas {
    pub fn new(store: Arc<dyn ObjectStore>) -> Result<Self, SchemaError> {
        Ok(Self {
            store,
            default: Arc::new(parse_and_compile(ORDER_SCHEMA.as_bytes())?),
            tenants: RwLock::default(),
            compiled: RwLock::default(),
        })
    }

    /// Loads the replacement schemas of the store's tenants `companies`.
    pub async fn load(&self, companies: &[String]) -> Result<(), StoreError> {
        for company in companies {
            let company = company.clone();
            let key = keys::config_key(&company, "order-schema");
            let Some(object) = self.store.get(&key).await? else { continue };
            let known = self.compiled.read().unwrap_or_else(|p| p.into_inner()).get(&company) == Some(&object.etag);
            if known {
                continue;
            }
            self.compiled.write().unwrap_or_else(|p| p.into_inner()).insert(company.clone(), object.etag.clone());
            match parse_and_compile(&object.body) {
                Ok(validator) => {
                    self.tenants.write().unwrap_or_else(|p| p.into_inner()).insert(company, Arc::new(validator));
                }
                Err(e) => tracing::error!(%key, error = %e, "a stored order schema is invalid; Portitor's applies"),
            }
        }
        Ok(())
    }

    /// Replaces `company`'s schema (checked to be a valid JSON Schema first).
    pub async fn set(&self, company: &str, schema: &Value) -> Result<(), SchemaError> {
        let validator = compile(schema)?;
        let etag = self.store.put(&keys::config_key(company, "order-schema"), Bytes::from(schema.to_string())).await?;
        self.compiled.write().unwrap_or_else(|p| p.into_inner()).insert(company.to_string(), etag);
        self.tenants.write().unwrap_or_else(|p| p.into_inner()).insert(company.to_string(), Arc::new(validator));
        Ok(())
    }

    /// The findings of validating `order` against `company`'s schema.
    pub fn validate(&self, company: &str, order: &Value) -> Vec<Finding> {
        let validator = self
            .tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(company)
            .cloned()
            .unwrap_or_else(|| self.default.clone());
        validator.iter_errors(order).map(|error| finding(&error)).collect()
    }
}

/// A schema error as a finding. A missing required property is named
/// itself, with no value (the error's own location is the object that
/// lacks it, which would send the reader to the wrong field).
fn finding(error: &jsonschema::ValidationError<'_>) -> Finding {
    let at = error.instance_path().to_string();
    let (field, value) = match error.kind() {
        jsonschema::error::ValidationErrorKind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_string);
            (json_path(&format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"))), String::new())
        }
        _ => (json_path(&at), clip(&error.instance().to_string())),
    };
    Finding { field, value, severity: Severity::Error, message: error.to_string() }
}

/// `/lineItems/2/hsCode` → `lineItems[2].hsCode`; the root is `order`.
fn json_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    if path.is_empty() { "order".into() } else { path }
}

fn clip(value: &str) -> String {
    if value.chars().count() > 200 { value.chars().take(200).collect::<String>() + "…" } else { value.to_string() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::fs::FsStore;

    fn schemas() -> (tempfile::TempDir, Schemas) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        (dir, Schemas::new(store).expect("schema compiles"))
    }

    fn order() -> Value {
        json!({
            "orderNumber": "1042", "currency": "SEK",
            "shippingAddress": {"name": "Ingrid Lund", "address1": "Storgatan 12", "postalCode": "41301", "city": "Göteborg", "countryCode": "SE"},
            "lineItems": [{"sku": "NV-HAT-MER-GRY", "quantity": 1, "unitPrice": "299.00", "hsCode": "650500"}]
        })
    }

    #[test]
    fn a_good_order_has_no_findings() {
        let (_dir, schemas) = schemas();
        assert_eq!(schemas.validate("acme", &order()), vec![]);
    }

    #[test]
    fn each_schema_error_is_a_finding_with_its_path() {
        let (_dir, schemas) = schemas();
        let mut bad = order();
        bad["lineItems"][0]["quantity"] = json!(0);
        bad["lineItems"][0]["hsCode"] = json!("6505.00");
        bad["currency"] = json!("kr");
        bad["shippingAddress"].as_object_mut().expect("address").remove("city");
        let findings = schemas.validate("acme", &bad);
        let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
        for expected in ["lineItems[0].quantity", "lineItems[0].hsCode", "currency", "shippingAddress.city"] {
            assert!(fields.contains(&expected), "{expected} in {fields:?}");
        }
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        let hs = findings.iter().find(|f| f.field == "lineItems[0].hsCode").expect("hs");
        assert_eq!(hs.value, "\"6505.00\"");
    }

    #[test]
    fn a_missing_required_property_is_named_itself_not_its_parent() {
        let (_dir, schemas) = schemas();
        let mut bad = order();
        bad.as_object_mut().expect("order").remove("orderNumber");
        bad["lineItems"][0].as_object_mut().expect("line").remove("sku");
        let findings = schemas.validate("acme", &bad);
        let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"orderNumber"), "{fields:?}");
        assert!(fields.contains(&"lineItems[0].sku"), "{fields:?}");
        assert!(!fields.contains(&"order") && !fields.contains(&"lineItems[0]"), "{fields:?}");
        let missing = findings.iter().find(|f| f.field == "orderNumber").expect("orderNumber");
        assert_eq!(missing.value, "", "nothing is there to show");
        assert!(missing.message.contains("orderNumber"), "{}", missing.message);
    }

    #[tokio::test]
    async fn a_tenant_can_replace_the_schema() {
        let (_dir, schemas) = schemas();
        let strict_sku = json!({"type": "object", "required": ["orderNumber", "warehouseNote"]});
        schemas.set("acme", &strict_sku).await.expect("valid schema, stored");
        assert_eq!(schemas.validate("acme", &order()).len(), 1);
        assert!(schemas.validate("globex", &order()).is_empty(), "other tenants keep Portitor's");
        let invalid = schemas.set("acme", &json!({"type": 12})).await;
        assert!(matches!(invalid, Err(SchemaError::Invalid(_))), "{invalid:?}");

        // Another node replaces it in the store: loading again picks it up
        // (and loading once more, unchanged, keeps it).
        let lenient = json!({"type": "object"});
        schemas
            .store
            .put(&keys::config_key("acme", "order-schema"), Bytes::from(lenient.to_string()))
            .await
            .expect("put");
        let companies = keys::companies(schemas.store.as_ref()).await.expect("list");
        assert_eq!(companies, ["acme"]);
        schemas.load(&companies).await.expect("load");
        assert!(schemas.validate("acme", &order()).is_empty());
        schemas.load(&companies).await.expect("load again");
        assert!(schemas.validate("acme", &order()).is_empty());
    }
}
