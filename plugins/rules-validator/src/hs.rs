//! Rule 1: HS (Harmonized System) commodity codes of the line items.
//!
//! An HS code is 6 digits (the international HS subheading), 8 (e.g. the
//! EU's Combined Nomenclature) or 10 (e.g. TARIC or a national tariff
//! number); dots and spaces are accepted as separators (`6101.20.10`). The
//! first two digits are the chapter: 01-97, where chapter 77 is reserved for
//! future use and 98/99 are not part of the international nomenclature.

use portitor_guest::Finding;
use serde_json::Value;

/// Checks one HS code: `Ok` with its digits, or `Err` with why it is invalid.
pub fn check_code(raw: &str) -> Result<String, String> {
    let digits: String = raw.chars().filter(|c| *c != '.' && !c.is_whitespace()).collect();
    if digits.is_empty() {
        return Err("the HS code is empty".into());
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an HS code has only digits (dots and spaces may separate them)".into());
    }
    if !matches!(digits.len(), 6 | 8 | 10) {
        return Err(format!("an HS code has 6, 8 or 10 digits, this one has {}", digits.len()));
    }
    let bytes = digits.as_bytes();
    let chapter = (bytes[0] - b'0') * 10 + (bytes[1] - b'0');
    match chapter {
        77 => Err("HS chapter 77 is reserved for future use and holds no goods".into()),
        1..=97 => Ok(digits),
        _ => Err(format!("HS chapter {chapter:02} does not exist (chapters are 01-97)")),
    }
}

/// An error finding for every line item whose `hsCode` is present but invalid.
pub fn check(model: &Value) -> Vec<Finding> {
    let Some(lines) = model.get("lineItems").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let field = format!("lineItems[{i}].hsCode");
        match line.get("hsCode") {
            None | Some(Value::Null) => {}
            Some(Value::String(code)) => {
                if let Err(reason) = check_code(code) {
                    findings.push(Finding::error(&field, code, format!("invalid HS code: {reason}")));
                }
            }
            Some(other) => findings.push(Finding::error(
                &field,
                other,
                "invalid HS code: it must be a string of digits (a number loses leading zeros)",
            )),
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use portitor_guest::Severity;
    use serde_json::json;

    #[test]
    fn accepts_6_8_and_10_digit_codes() {
        assert_eq!(check_code("610120"), Ok("610120".into()));
        assert_eq!(check_code("6101.20.10"), Ok("61012010".into()));
        assert_eq!(check_code("8517 13 00 00"), Ok("8517130000".into()));
        assert_eq!(check_code("010121"), Ok("010121".into()));
        assert_eq!(check_code("970110"), Ok("970110".into()));
    }

    #[test]
    fn rejects_bad_lengths_and_characters() {
        for bad in ["", " . ", "6101", "6101201", "610120100", "61012010001", "6101-20", "61O120", "ABCDEF"] {
            assert!(check_code(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn rejects_chapters_that_do_not_exist() {
        assert!(check_code("000000").unwrap_err().contains("chapter 00"));
        assert!(check_code("770100").unwrap_err().contains("reserved"));
        assert!(check_code("980000").unwrap_err().contains("chapter 98"));
        assert!(check_code("99000000").unwrap_err().contains("chapter 99"));
    }

    #[test]
    fn reports_each_invalid_line() {
        let model = json!({"lineItems": [
            {"sku": "a", "hsCode": "610120"},
            {"sku": "b", "hsCode": "7701"},
            {"sku": "c"},
            {"sku": "d", "hsCode": 610120},
            {"sku": "e", "hsCode": "770100"}
        ]});
        let findings = check(&model);
        let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["lineItems[1].hsCode", "lineItems[3].hsCode", "lineItems[4].hsCode"]);
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        assert_eq!(findings[0].value, "7701");
        assert!(findings[0].message.contains("6, 8 or 10 digits"));
    }

    #[test]
    fn no_line_items_no_findings() {
        assert!(check(&json!({})).is_empty());
        assert!(check(&json!({"lineItems": "nope"})).is_empty());
    }
}
