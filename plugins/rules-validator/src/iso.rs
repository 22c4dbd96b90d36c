//! Rule 3: ISO codes. `currency` must be an active ISO 4217 alphabetic code;
//! `billingAddress.countryCode`, `shippingAddress.countryCode` and every
//! `lineItems[i].countryOfOrigin` must be an ISO 3166-1 alpha-2 code.
//!
//! The lists are embedded (no lookups at run time). A currency that was
//! withdrawn recently (HRK, ANG, BGN, ...) gets a warning naming its
//! replacement rather than an error, so orders in transition are flagged
//! without being rejected outright in lenient mode.

use portitor_guest::Finding;
use serde_json::Value;

/// ISO 3166-1 alpha-2: the 249 officially assigned codes, sorted.
const COUNTRIES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", //
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW",
    "BY", "BZ", //
    "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY",
    "CZ", //
    "DE", "DJ", "DK", "DM", "DO", "DZ", //
    "EC", "EE", "EG", "EH", "ER", "ES", "ET", //
    "FI", "FJ", "FK", "FM", "FO", "FR", //
    "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW",
    "GY", //
    "HK", "HM", "HN", "HR", "HT", "HU", //
    "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", //
    "JE", "JM", "JO", "JP", //
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", //
    "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", //
    "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV",
    "MW", "MX", "MY", "MZ", //
    "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", //
    "OM", //
    "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", //
    "QA", //
    "RE", "RO", "RS", "RU", "RW", //
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX",
    "SY", "SZ", //
    "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", //
    "UA", "UG", "UM", "US", "UY", "UZ", //
    "VA", "VC", "VE", "VG", "VI", "VN", "VU", //
    "WF", "WS", //
    "YE", "YT", //
    "ZA", "ZM", "ZW",
];

/// ISO 4217 alphabetic codes in the active list (list one), sorted: national
/// currencies, funds codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW),
/// precious metals, SDR and the other X codes.
const CURRENCIES: [&str; 177] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", //
    "BAM", "BBD", "BDT", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", //
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", //
    "DJF", "DKK", "DOP", "DZD", //
    "EGP", "ERN", "ETB", "EUR", //
    "FJD", "FKP", //
    "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", //
    "HKD", "HNL", "HTG", "HUF", //
    "IDR", "ILS", "INR", "IQD", "IRR", "ISK", //
    "JMD", "JOD", "JPY", //
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", //
    "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", //
    "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", //
    "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", //
    "OMR", //
    "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", //
    "QAR", //
    "RON", "RSD", "RUB", "RWF", //
    "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", //
    "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", //
    "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", //
    "VED", "VES", "VND", "VUV", //
    "WST", //
    "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS",
    "XUA", "XXX", //
    "YER", //
    "ZAR", "ZMW", "ZWG",
];

/// Recently withdrawn ISO 4217 codes and what replaced them.
const WITHDRAWN_CURRENCIES: [(&str, &str); 13] = [
    ("ANG", "XCG"),
    ("BGN", "EUR"),
    ("BYR", "BYN"),
    ("CUC", "CUP"),
    ("EEK", "EUR"),
    ("HRK", "EUR"),
    ("LTL", "EUR"),
    ("LVL", "EUR"),
    ("MRO", "MRU"),
    ("SLL", "SLE"),
    ("STD", "STN"),
    ("VEF", "VES"),
    ("ZWL", "ZWG"),
];

/// Whether `code` is an ISO 3166-1 alpha-2 country code (upper case).
pub fn is_country(code: &str) -> bool {
    COUNTRIES.binary_search(&code).is_ok()
}

/// Whether `code` is an active ISO 4217 alphabetic currency code (upper case).
pub fn is_currency(code: &str) -> bool {
    CURRENCIES.binary_search(&code).is_ok()
}

/// The replacement of a recently withdrawn ISO 4217 code, if `code` is one.
pub fn withdrawn_currency(code: &str) -> Option<&'static str> {
    WITHDRAWN_CURRENCIES.iter().find(|(old, _)| *old == code).map(|(_, new)| *new)
}

/// The findings about the currency and every country code of the order.
pub fn check(model: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(currency) = model.get("currency") {
        check_currency(currency, &mut findings);
    }
    for address in ["billingAddress", "shippingAddress"] {
        if let Some(code) = model.get(address).and_then(|a| a.get("countryCode")) {
            check_country(&format!("{address}.countryCode"), code, &mut findings);
        }
    }
    if let Some(lines) = model.get("lineItems").and_then(Value::as_array) {
        for (i, line) in lines.iter().enumerate() {
            if let Some(code) = line.get("countryOfOrigin") {
                check_country(&format!("lineItems[{i}].countryOfOrigin"), code, &mut findings);
            }
        }
    }
    findings
}

fn check_currency(value: &Value, findings: &mut Vec<Finding>) {
    const FIELD: &str = "currency";
    let code = match value {
        Value::Null => return,
        Value::String(code) => code.as_str(),
        other => {
            findings.push(Finding::error(FIELD, other, "the currency must be an ISO 4217 code such as EUR"));
            return;
        }
    };
    if is_currency(code) {
        return;
    }
    let upper = code.trim().to_ascii_uppercase();
    if let Some(replacement) = withdrawn_currency(&upper) {
        findings.push(Finding::warning(
            FIELD,
            code,
            format!("currency {upper} has been withdrawn from ISO 4217; it was replaced by {replacement}"),
        ));
    } else if is_currency(&upper) {
        findings.push(Finding::error(FIELD, code, format!("ISO 4217 codes are upper case: {upper}")));
    } else {
        findings.push(Finding::error(FIELD, code, format!("`{code}` is not an ISO 4217 currency code")));
    }
}

fn check_country(field: &str, value: &Value, findings: &mut Vec<Finding>) {
    let code = match value {
        Value::Null => return,
        Value::String(code) => code.as_str(),
        other => {
            findings.push(Finding::error(field, other, "a country must be an ISO 3166-1 alpha-2 code such as NO"));
            return;
        }
    };
    if is_country(code) {
        return;
    }
    let upper = code.trim().to_ascii_uppercase();
    let message = match upper.as_str() {
        _ if is_country(&upper) => format!("ISO 3166-1 codes are upper case: {upper}"),
        "UK" => "`UK` is not an ISO 3166-1 code; the United Kingdom is GB".to_string(),
        "EL" => "`EL` is the EU's code for Greece; in ISO 3166-1 it is GR".to_string(),
        "XK" => "`XK` (Kosovo) is a user-assigned code, not part of ISO 3166-1".to_string(),
        _ => format!("`{code}` is not an ISO 3166-1 alpha-2 country code"),
    };
    findings.push(Finding::error(field, code, message));
}

#[cfg(test)]
mod tests {
    use super::*;
    use portitor_guest::Severity;
    use serde_json::json;

    #[test]
    fn lists_are_sorted_and_unique() {
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert!(COUNTRIES.iter().all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
        assert!(CURRENCIES.iter().all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())));
        assert!(WITHDRAWN_CURRENCIES.iter().all(|(old, new)| !is_currency(old) && is_currency(new)));
    }

    #[test]
    fn known_codes() {
        for c in ["NO", "SE", "DK", "FI", "DE", "NL", "FR", "GB", "US", "CN", "AX", "SJ", "ZW", "AD"] {
            assert!(is_country(c), "{c}");
        }
        for c in ["UK", "EU", "XK", "EL", "AN", "ZZ", "no", "", "NOR"] {
            assert!(!is_country(c), "{c}");
        }
        for c in ["NOK", "SEK", "DKK", "EUR", "GBP", "USD", "CHF", "ISK", "PLN", "JPY", "AED", "ZWG", "XCG"] {
            assert!(is_currency(c), "{c}");
        }
        for c in ["NKR", "EURO", "eur", "XYZ", "HRK", "DEM", ""] {
            assert!(!is_currency(c), "{c}");
        }
    }

    #[test]
    fn valid_order_has_no_findings() {
        let model = json!({
            "currency": "NOK",
            "billingAddress": {"countryCode": "NO"},
            "shippingAddress": {"countryCode": "SE"},
            "lineItems": [{"countryOfOrigin": "CN"}, {"sku": "x"}]
        });
        assert!(check(&model).is_empty());
        assert!(check(&json!({})).is_empty());
    }

    #[test]
    fn bad_currency() {
        let findings = check(&json!({"currency": "NKR"}));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].field, "currency");
        assert_eq!(findings[0].value, "NKR");
        assert_eq!(findings[0].severity, Severity::Error);

        let lower = check(&json!({"currency": "eur"}));
        assert!(lower[0].message.contains("upper case"));

        let withdrawn = check(&json!({"currency": "HRK"}));
        assert_eq!(withdrawn[0].severity, Severity::Warning);
        assert!(withdrawn[0].message.contains("EUR"));

        assert_eq!(check(&json!({"currency": 578}))[0].severity, Severity::Error);
    }

    #[test]
    fn bad_countries() {
        let model = json!({
            "currency": "EUR",
            "billingAddress": {"countryCode": "UK"},
            "shippingAddress": {"countryCode": "XX"},
            "lineItems": [{"countryOfOrigin": "DE"}, {"countryOfOrigin": "de"}]
        });
        let findings = check(&model);
        let fields: Vec<&str> = findings.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            ["billingAddress.countryCode", "shippingAddress.countryCode", "lineItems[1].countryOfOrigin"]
        );
        assert!(findings.iter().all(|f| f.severity == Severity::Error));
        assert!(findings[0].message.contains("GB"));
        assert!(findings[2].message.contains("upper case"));
    }
}
