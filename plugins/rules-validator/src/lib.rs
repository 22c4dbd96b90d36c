//! A rule-based semantic validator for orders in Portitor's order model.
//!
//! The JSON Schema step checks an order's shape; this validator checks what
//! the values mean:
//!
//! 1. [`hs`]: every `lineItems[i].hsCode` is 6, 8 or 10 digits in an
//!    existing HS chapter (01-97, not 77).
//! 2. [`vat`]: `customer.vatNumber` has the format and check digits of its
//!    country (NO, SE, DK, FI, DE, NL, FR, GB/XI; the format only for the
//!    other EU countries and CH).
//! 3. [`iso`]: `currency` is an ISO 4217 code, every country an ISO 3166-1
//!    alpha-2 code.
//! 4. [`amounts`]: weights and customs values are positive, prices not
//!    negative, and the subtotal and total add up.
//! 5. [`customs`]: cross-border orders carry HS code, origin and customs
//!    value on every line.
//!
//! Errors are for what is wrong, warnings for what looks wrong, info
//! findings for notes; the runtime applies the validation mode. Every rule
//! checks only what is present and never panics on the order's data.

mod amounts;
mod customs;
mod decimal;
mod hs;
mod iso;
mod vat;

use portitor_guest::{Finding, Order, Validator};
use serde_json::Value;

struct RulesValidator;

impl Validator for RulesValidator {
    fn validate(order: Order) -> Vec<Finding> {
        match order.model::<Value>() {
            Ok(model) => check_order(&model),
            Err(e) => vec![Finding::error("order", "", e.message())],
        }
    }
}

portitor_guest::export_validator!(RulesValidator);

/// All rules' findings about one order model, rule by rule.
pub fn check_order(model: &Value) -> Vec<Finding> {
    if !model.is_object() {
        return vec![Finding::error("order", "", "the order model must be a JSON object")];
    }
    let mut findings = hs::check(model);
    findings.extend(vat::check(model));
    findings.extend(iso::check(model));
    findings.extend(amounts::check(model));
    findings.extend(customs::check(model));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use portitor_guest::Severity;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "orderNumber": "1001",
            "currency": "NOK",
            "taxesIncluded": false,
            "customer": {"name": "Kari Nordmann", "vatNumber": "NO974760673MVA"},
            "billingAddress": {"name": "Kari", "address1": "Gate 1", "postalCode": "0150", "city": "Oslo", "countryCode": "NO"},
            "shippingAddress": {"name": "Kari", "address1": "Gate 1", "postalCode": "0150", "city": "Oslo", "countryCode": "NO"},
            "lineItems": [
                {"lineNumber": 1, "sku": "TS-1", "quantity": 2, "unitPrice": "199.00", "weightGrams": 250,
                 "hsCode": "6109.10", "countryOfOrigin": "PT", "customsValue": "150.00"},
                {"lineNumber": 2, "sku": "MUG-1", "quantity": 1, "unitPrice": "99.50", "weightGrams": 400,
                 "hsCode": "691200", "countryOfOrigin": "CN", "customsValue": "40.00"}
            ],
            "totals": {"subtotal": "497.50", "shipping": "79.00", "tax": "144.13", "discount": "0.00", "total": "720.63"}
        })
    }

    #[test]
    fn a_clean_cross_border_order_has_no_findings() {
        let findings = check_order(&sample());
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn each_rule_contributes_its_findings() {
        let mut model = sample();
        model["currency"] = json!("NKR");
        model["customer"]["vatNumber"] = json!("NO974760674");
        model["lineItems"][0]["hsCode"] = json!("7701.00");
        model["lineItems"][1]["weightGrams"] = json!(-1);
        model["lineItems"][1]["customsValue"] = Value::Null;
        model["totals"]["subtotal"] = json!("500.00");
        let findings = check_order(&model);
        let got: Vec<(&str, Severity)> = findings.iter().map(|f| (f.field.as_str(), f.severity)).collect();
        assert_eq!(
            got,
            [
                ("lineItems[0].hsCode", Severity::Error),
                ("customer.vatNumber", Severity::Error),
                ("currency", Severity::Error),
                ("lineItems[1].weightGrams", Severity::Error),
                ("totals.subtotal", Severity::Warning),
                ("totals.total", Severity::Warning),
                ("lineItems[1].customsValue", Severity::Error),
            ]
        );
    }

    #[test]
    fn a_domestic_order_gets_one_customs_info() {
        let mut model = sample();
        for line in model["lineItems"].as_array_mut().expect("lines") {
            line["countryOfOrigin"] = json!("NO");
        }
        let findings = check_order(&model);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!((findings[0].field.as_str(), findings[0].severity), ("customs", Severity::Info));
    }

    #[test]
    fn a_model_that_is_not_an_object_is_an_error() {
        let findings = check_order(&json!([1, 2]));
        assert_eq!(findings[0].severity, Severity::Error);
    }

    #[test]
    fn validate_reads_the_payload() {
        let order = Order {
            id: "o-1".into(),
            company: "acme".into(),
            source: "test".into(),
            external_id: "1001".into(),
            payload: sample().to_string(),
        };
        assert!(RulesValidator::validate(order).is_empty());
        let broken = Order {
            id: "o-2".into(),
            company: "acme".into(),
            source: "test".into(),
            external_id: "1002".into(),
            payload: "{not json".into(),
        };
        let findings = RulesValidator::validate(broken);
        assert_eq!((findings[0].field.as_str(), findings[0].severity), ("order", Severity::Error));
    }
}
