//! Rule 4: weights and values.
//!
//! Per line: `weightGrams` and `customsValue`, when present, must be > 0 and
//! `unitPrice` must not be negative (errors). Per order: `totals.subtotal`
//! must equal Σ quantity × unitPrice, and `totals.total` must equal
//! subtotal + shipping + tax (tax only when `taxesIncluded` is not true) −
//! discount, both within 0.01 (warnings). All sums are exact: money is
//! counted in integer 1/10 000 units (see [`crate::decimal`]).
//!
//! Absent `shipping`, `tax` and `discount` count as zero; an absent
//! `taxesIncluded` counts as false.
//!
//! Some shops (Shopify among them) send a subtotal that already has the
//! discount taken off. So a subtotal equal to Σ lines − discount is accepted
//! too, and then the total is expected to be subtotal + shipping + tax,
//! without taking the discount off a second time.

use crate::decimal::{self, CENT};
use portitor_guest::Finding;
use serde_json::Value;

/// The findings about line weights, customs values, prices and the totals.
pub fn check(model: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let lines_total = model.get("lineItems").and_then(Value::as_array).map(|lines| check_lines(lines, &mut findings));
    if let Some(totals) = model.get("totals").filter(|t| t.is_object()) {
        let taxes_included = model.get("taxesIncluded").and_then(Value::as_bool).unwrap_or(false);
        check_totals(totals, taxes_included, lines_total, &mut findings);
    }
    findings
}

/// Why Σ quantity × unitPrice could not be computed.
enum LinesTotal {
    Known(i128),
    Unknown(String),
}

/// Checks each line's weight, customs value and price; returns Σ quantity ×
/// unitPrice, or why it cannot be computed.
fn check_lines(lines: &[Value], findings: &mut Vec<Finding>) -> LinesTotal {
    let mut sum: Option<i128> = Some(0);
    let mut unknown = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(weight) = line.get("weightGrams") {
            let not_positive = match weight {
                Value::Number(n) => n.as_i64().map_or_else(|| n.as_f64().is_some_and(|f| f <= 0.0), |w| w <= 0),
                _ => false,
            };
            if not_positive {
                findings.push(Finding::error(
                    &format!("lineItems[{i}].weightGrams"),
                    weight,
                    "the weight must be greater than 0 grams",
                ));
            }
        }
        if let Some(raw) = line.get("customsValue")
            && let Some(value) = decimal::money(raw).filter(|v| *v <= 0)
        {
            findings.push(Finding::error(
                &format!("lineItems[{i}].customsValue"),
                text(raw),
                format!("the customs value must be greater than 0, not {}", decimal::format(value)),
            ));
        }
        let price = line.get("unitPrice").and_then(decimal::money);
        if let Some(price) = price.filter(|p| *p < 0) {
            findings.push(Finding::error(
                &format!("lineItems[{i}].unitPrice"),
                line.get("unitPrice").map(text).unwrap_or_default(),
                format!("the unit price must not be negative, not {}", decimal::format(price)),
            ));
        }
        let quantity = line.get("quantity").and_then(Value::as_i64);
        match (quantity, price) {
            (Some(quantity), Some(price)) => {
                sum = sum.and_then(|s| i128::from(quantity).checked_mul(price).and_then(|p| s.checked_add(p)));
            }
            (None, _) => {
                unknown.get_or_insert_with(|| format!("lineItems[{i}] has no integer quantity"));
            }
            (_, None) => {
                unknown.get_or_insert_with(|| format!("lineItems[{i}] has no decimal unitPrice"));
            }
        }
    }
    match (unknown, sum) {
        (Some(reason), _) => LinesTotal::Unknown(reason),
        (None, Some(sum)) => LinesTotal::Known(sum),
        (None, None) => LinesTotal::Unknown("the line amounts are too large to add up".into()),
    }
}

/// Checks `totals.subtotal` against the lines and `totals.total` against its parts.
fn check_totals(totals: &Value, taxes_included: bool, lines: Option<LinesTotal>, findings: &mut Vec<Finding>) {
    let amount = |name: &str| totals.get(name).and_then(decimal::money);
    let (shipping, tax, discount) =
        (amount("shipping").unwrap_or(0), amount("tax").unwrap_or(0), amount("discount").unwrap_or(0));
    let Some(subtotal) = amount("subtotal") else {
        return;
    };
    let close = |a: i128, b: i128| (a - b).abs() <= CENT;

    // Whether the subtotal is after the discount (see the module doc).
    let mut subtotal_net_of_discount = false;
    match lines {
        Some(LinesTotal::Known(sum)) => {
            if close(subtotal, sum) {
                // The subtotal is the plain sum of the lines.
            } else if discount != 0 && close(subtotal, sum - discount) {
                subtotal_net_of_discount = true;
            } else {
                let after_discount = if discount != 0 {
                    format!(" ({} after the discount)", decimal::format(sum - discount))
                } else {
                    String::new()
                };
                findings.push(Finding::warning(
                    "totals.subtotal",
                    decimal::format(subtotal),
                    format!(
                        "the subtotal {} does not match the line items: Σ quantity × unitPrice is {}{after_discount}",
                        decimal::format(subtotal),
                        decimal::format(sum),
                    ),
                ));
            }
        }
        Some(LinesTotal::Unknown(reason)) => findings.push(Finding::info(
            "totals.subtotal",
            decimal::format(subtotal),
            format!("subtotal not checked against the line items: {reason}"),
        )),
        None => {}
    }

    let Some(total) = amount("total") else {
        return;
    };
    let tax_added = if taxes_included { 0 } else { tax };
    let discount_taken = if subtotal_net_of_discount { 0 } else { discount };
    let expected = subtotal + shipping + tax_added - discount_taken;
    if !close(total, expected) {
        let tax_part = if taxes_included {
            "tax included in the prices".to_string()
        } else {
            format!("tax {}", decimal::format(tax))
        };
        let discount_part = if subtotal_net_of_discount {
            "discount already in the subtotal".to_string()
        } else {
            format!("discount {}", decimal::format(discount))
        };
        findings.push(Finding::warning(
            "totals.total",
            decimal::format(total),
            format!(
                "the total {} does not add up: expected {} (subtotal {} + shipping {} + {tax_part} − {discount_part})",
                decimal::format(total),
                decimal::format(expected),
                decimal::format(subtotal),
                decimal::format(shipping),
            ),
        ));
    }
}

/// A JSON value as text: strings without their quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portitor_guest::Severity;
    use serde_json::json;

    fn order(lines: Value, totals: Value) -> Value {
        json!({"currency": "NOK", "taxesIncluded": false, "lineItems": lines, "totals": totals})
    }

    fn fields(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn consistent_order_has_no_findings() {
        let model = order(
            json!([
                {"sku": "a", "quantity": 2, "unitPrice": "100.00", "weightGrams": 500, "customsValue": "80.00"},
                {"sku": "b", "quantity": 3, "unitPrice": "0.3333", "weightGrams": 1}
            ]),
            json!({"subtotal": "201.00", "shipping": "49.00", "tax": "62.50", "discount": "12.50", "total": "300.00"}),
        );
        assert!(check(&model).is_empty(), "{:?}", check(&model));
    }

    #[test]
    fn negative_or_zero_weight_and_customs_value_are_errors() {
        let model = order(
            json!([
                {"sku": "a", "quantity": 1, "unitPrice": "10.00", "weightGrams": -5},
                {"sku": "b", "quantity": 1, "unitPrice": "10.00", "weightGrams": 0, "customsValue": "0.00"},
                {"sku": "c", "quantity": 1, "unitPrice": "10.00", "customsValue": "-1"},
                {"sku": "d", "quantity": 1, "unitPrice": "10.00", "weightGrams": 1, "customsValue": "0.01"}
            ]),
            json!({}),
        );
        let findings = check(&model);
        assert_eq!(
            fields(&findings),
            [
                "lineItems[0].weightGrams",
                "lineItems[1].weightGrams",
                "lineItems[1].customsValue",
                "lineItems[2].customsValue"
            ]
        );
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        assert_eq!(findings[0].value, "-5");
        assert_eq!(findings[3].value, "-1");
    }

    #[test]
    fn negative_unit_price_is_an_error_zero_is_fine() {
        let model = order(
            json!([
                {"sku": "a", "quantity": 1, "unitPrice": "-10.00"},
                {"sku": "gift", "quantity": 1, "unitPrice": "0.00"}
            ]),
            json!({}),
        );
        let findings = check(&model);
        assert_eq!(fields(&findings), ["lineItems[0].unitPrice"]);
        assert_eq!(findings[0].severity, Severity::Error);
    }

    #[test]
    fn subtotal_mismatch_is_a_warning() {
        let lines = json!([{"sku": "a", "quantity": 2, "unitPrice": "10.00"}, {"sku": "b", "quantity": 1, "unitPrice": "5.55"}]);
        let findings = check(&order(lines.clone(), json!({"subtotal": "26.55"})));
        assert_eq!(fields(&findings), ["totals.subtotal"]);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(findings[0].message.contains("25.55"), "{}", findings[0].message);

        // Within 0.01 is equal.
        assert!(check(&order(lines.clone(), json!({"subtotal": "25.56"}))).is_empty());
        assert!(check(&order(lines.clone(), json!({"subtotal": "25.54"}))).is_empty());
        assert_eq!(check(&order(lines, json!({"subtotal": "25.53"}))).len(), 1);
    }

    #[test]
    fn subtotal_after_discount_is_accepted() {
        // Shopify-style: subtotal 90 = lines 100 − discount 10; total 90 + 10 shipping.
        let lines = json!([{"sku": "a", "quantity": 1, "unitPrice": "100.00"}]);
        let totals =
            json!({"subtotal": "90.00", "shipping": "10.00", "tax": "18.00", "discount": "10.00", "total": "100.00"});
        let model = json!({"taxesIncluded": true, "lineItems": lines, "totals": totals});
        assert!(check(&model).is_empty(), "{:?}", check(&model));
    }

    #[test]
    fn total_mismatch_is_a_warning() {
        let lines = json!([{"sku": "a", "quantity": 1, "unitPrice": "100.00"}]);
        let totals =
            json!({"subtotal": "100.00", "shipping": "10.00", "tax": "25.00", "discount": "5.00", "total": "135.00"});
        let findings = check(&order(lines.clone(), totals));
        assert_eq!(fields(&findings), ["totals.total"]);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(findings[0].message.contains("expected 130.00"), "{}", findings[0].message);

        // Taxes included: the tax is not added again.
        let totals =
            json!({"subtotal": "100.00", "shipping": "10.00", "tax": "20.00", "discount": "5.00", "total": "105.00"});
        let included = json!({"taxesIncluded": true, "lineItems": lines, "totals": totals});
        assert!(check(&included).is_empty());
    }

    #[test]
    fn subtotal_unknown_when_a_line_lacks_a_price() {
        let lines = json!([{"sku": "a", "quantity": 1}]);
        let findings = check(&order(lines, json!({"subtotal": "1.00", "total": "1.00"})));
        assert_eq!(fields(&findings), ["totals.subtotal"]);
        assert_eq!(findings[0].severity, Severity::Info);
    }

    #[test]
    fn nothing_to_check_nothing_found() {
        assert!(check(&json!({})).is_empty());
        assert!(check(&json!({"totals": "x", "lineItems": {}})).is_empty());
        assert!(
            check(&order(json!([{"quantity": "x", "unitPrice": ["y"], "weightGrams": "z"}]), json!({}))).is_empty()
        );
    }
}
