//! {{name}}: semantic checks of an order. Each finding names its field as a
//! JSON Pointer; the runtime applies the validation mode to the severities.

use portitor_guest::{Finding, Order, Validator};
use serde_json::Value;

struct {{type}};

impl Validator for {{type}} {
    fn validate(order: Order) -> Vec<Finding> {
        let Ok(model) = order.model::<Value>() else {
            return vec![Finding::error("", "", "the order is not JSON")];
        };
        let mut findings = Vec::new();
        let currency = model["currency"].as_str().unwrap_or_default();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            findings.push(Finding::error("/currency", currency, "not an ISO 4217 code such as EUR"));
        }
        for (i, line) in model["lineItems"].as_array().into_iter().flatten().enumerate() {
            if line["quantity"].as_u64().unwrap_or(0) == 0 {
                findings.push(Finding::error(
                    &format!("/lineItems/{i}/quantity"),
                    &line["quantity"],
                    "a line needs a quantity of at least 1",
                ));
            }
        }
        findings
    }
}

portitor_guest::export_validator!({{type}});
