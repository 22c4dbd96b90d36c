//! Rule 5: customs data.
//!
//! When goods cross a border — some line's `countryOfOrigin` differs from
//! `shippingAddress.countryCode` — every line needs `hsCode`,
//! `countryOfOrigin` and `customsValue` (an error for each one missing), and
//! the customs values must add up to more than 0. Otherwise exactly one
//! `info` finding on `customs` says why the checks were skipped: origin and
//! destination are the same, or the route is unknown (no line has a
//! `countryOfOrigin`, or there is no destination country).
//!
//! Simplification: the rule compares countries only. It does not know
//! customs unions, so a shipment from DE to FR (both in the EU customs
//! union, where no customs declaration is needed) counts as crossing a
//! border just like one from CN or from NO, CH or GB (which are outside the
//! EU customs union). The worst case is asking for customs data a shipment
//! inside the EU does not strictly need.

use crate::decimal;
use portitor_guest::Finding;
use serde_json::Value;

/// The fields every line needs when the goods cross a border.
const REQUIRED: [&str; 3] = ["hsCode", "countryOfOrigin", "customsValue"];

/// The customs findings: errors for missing customs data on a cross-border
/// order, or one info finding saying why the checks were skipped.
pub fn check(model: &Value) -> Vec<Finding> {
    let lines: &[Value] = model.get("lineItems").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let destination = model.get("shippingAddress").and_then(|a| a.get("countryCode")).and_then(country);
    let origins: Vec<String> = lines.iter().filter_map(|l| l.get("countryOfOrigin")).filter_map(country).collect();

    let Some(destination) = destination else {
        return vec![skipped("", "customs checks skipped: route unknown (no shippingAddress.countryCode)")];
    };
    if origins.is_empty() {
        return vec![skipped(
            &destination,
            "customs checks skipped: route unknown (no line item has a countryOfOrigin)",
        )];
    }
    let Some(foreign) = origins.iter().find(|o| **o != destination) else {
        return vec![skipped(
            &destination,
            format!("customs checks skipped: origin and destination are the same ({destination})"),
        )];
    };

    let route = format!("{foreign} → {destination}");
    let mut findings = Vec::new();
    let mut total: i128 = 0;
    let mut any_value = false;
    for (i, line) in lines.iter().enumerate() {
        for field in REQUIRED {
            if !present(line.get(field)) {
                findings.push(Finding::error(
                    &format!("lineItems[{i}].{field}"),
                    "",
                    format!("{field} is required for customs: the goods cross a border ({route})"),
                ));
            }
        }
        if let Some(value) = line.get("customsValue").and_then(decimal::money) {
            any_value = true;
            total = total.saturating_add(value);
        }
    }
    if any_value && total <= 0 {
        findings.push(Finding::error(
            "customs",
            decimal::format(total),
            format!(
                "the customs values add up to {}; a declaration needs a total greater than 0",
                decimal::format(total)
            ),
        ));
    }
    findings
}

/// The one info finding of a skipped customs check.
fn skipped(value: &str, message: impl Into<String>) -> Finding {
    Finding::info("customs", value, message)
}

/// A country code as given (trimmed, upper-cased), if it is a non-empty string.
fn country(value: &Value) -> Option<String> {
    value.as_str().map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty())
}

/// Whether a field is present: not absent, not null and not an empty string.
fn present(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portitor_guest::Severity;
    use serde_json::json;

    fn order(destination: &str, lines: Value) -> Value {
        json!({"shippingAddress": {"countryCode": destination}, "lineItems": lines})
    }

    #[test]
    fn cross_border_needs_customs_data_on_every_line() {
        let model = order(
            "NO",
            json!([
                {"sku": "a", "hsCode": "610120", "countryOfOrigin": "CN", "customsValue": "100.00"},
                {"sku": "b", "countryOfOrigin": "NO"},
                {"sku": "c", "hsCode": "", "customsValue": "5.00"}
            ]),
        );
        let findings = check(&model);
        let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            ["lineItems[1].hsCode", "lineItems[1].customsValue", "lineItems[2].hsCode", "lineItems[2].countryOfOrigin"]
        );
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        assert!(findings[0].message.contains("CN → NO"), "{}", findings[0].message);
    }

    #[test]
    fn complete_cross_border_order_has_no_findings() {
        let model = order(
            "NO",
            json!([
                {"sku": "a", "hsCode": "610120", "countryOfOrigin": "SE", "customsValue": "100.00"},
                {"sku": "b", "hsCode": "6101.20", "countryOfOrigin": "NO", "customsValue": "1"}
            ]),
        );
        assert!(check(&model).is_empty(), "{:?}", check(&model));
    }

    #[test]
    fn customs_total_must_be_positive() {
        let model = order(
            "GB",
            json!([
                {"sku": "a", "hsCode": "610120", "countryOfOrigin": "DE", "customsValue": "0.00"},
                {"sku": "b", "hsCode": "610120", "countryOfOrigin": "DE", "customsValue": "0"}
            ]),
        );
        let findings = check(&model);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].field, "customs");
        assert_eq!(findings[0].severity, Severity::Error);
        assert_eq!(findings[0].value, "0.00");
    }

    #[test]
    fn same_country_is_one_info_finding() {
        let model = order("SE", json!([{"sku": "a", "countryOfOrigin": "SE"}, {"sku": "b"}]));
        let findings = check(&model);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].field, "customs");
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0].message.contains("origin and destination are the same"));
    }

    #[test]
    fn unknown_route_is_one_info_finding() {
        for model in [
            order("SE", json!([{"sku": "a"}])),
            json!({"lineItems": [{"sku": "a", "countryOfOrigin": "CN"}]}),
            json!({}),
        ] {
            let findings = check(&model);
            assert_eq!(findings.len(), 1, "{findings:?}");
            assert_eq!(findings[0].field, "customs");
            assert_eq!(findings[0].severity, Severity::Info);
            assert!(findings[0].message.contains("route unknown"));
        }
    }
}
