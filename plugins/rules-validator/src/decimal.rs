//! Exact decimal money: amounts as integers of 1/10 000 of the currency unit.
//!
//! The order model writes money as decimal strings with at most four
//! decimals (`"1899.00"`, `"-5.5"`, `"0.1234"`), so four decimals hold every
//! amount exactly and sums never go through floating point.

use serde_json::Value;

/// Units per currency unit: amounts are counted in 1/10 000.
pub const SCALE: i128 = 10_000;

/// One cent (0.01) in [`SCALE`] units: the tolerance of the totals checks.
pub const CENT: i128 = SCALE / 100;

/// The most integer digits accepted, so that products stay far from overflow.
const MAX_INTEGER_DIGITS: usize = 18;

/// Parses a decimal string (`-?digits(.digits{1,4})?`) into 1/10 000 units;
/// `None` when it is not one.
pub fn parse_decimal(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, fraction),
        None => (unsigned, ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.is_empty()
        || integer.len() > MAX_INTEGER_DIGITS
        || fraction.len() > 4
        || !digits_only(integer)
        || !digits_only(fraction)
        || (unsigned.contains('.') && fraction.is_empty())
    {
        return None;
    }
    let mut units: i128 = 0;
    for b in integer.bytes() {
        units = units * 10 + i128::from(b - b'0');
    }
    let mut frac: i128 = 0;
    for i in 0..4 {
        let digit = fraction.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
        frac = frac * 10 + digit;
    }
    let value = units * SCALE + frac;
    Some(if negative { -value } else { value })
}

/// A money value of the model (a decimal string; a JSON number is tolerated
/// if its text is a decimal with at most four decimals) in 1/10 000 units.
pub fn money(value: &Value) -> Option<i128> {
    match value {
        Value::String(s) => parse_decimal(s),
        Value::Number(n) => parse_decimal(&n.to_string()),
        _ => None,
    }
}

/// Formats 1/10 000 units as a decimal string with two to four decimals.
pub fn format(units: i128) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let scale = SCALE.unsigned_abs();
    let mut fraction = format!("{:04}", abs % scale);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("{sign}{}.{fraction}", abs / scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_model_money() {
        assert_eq!(parse_decimal("1899.00"), Some(18_990_000));
        assert_eq!(parse_decimal("0.1234"), Some(1234));
        assert_eq!(parse_decimal("-5.5"), Some(-55_000));
        assert_eq!(parse_decimal("7"), Some(70_000));
        assert_eq!(money(&json!("12.30")), Some(123_000));
        assert_eq!(money(&json!(12)), Some(120_000));
    }

    #[test]
    fn rejects_what_is_not_a_decimal() {
        for bad in ["", "-", "1.", ".5", "1.23456", "1,50", "abc", "1e3", "12.3.4", "1234567890123456789"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        assert_eq!(money(&json!(null)), None);
        assert_eq!(money(&json!(0.30000000000000004)), None);
    }

    #[test]
    fn formats_with_two_to_four_decimals() {
        assert_eq!(format(18_990_000), "1899.00");
        assert_eq!(format(1234), "0.1234");
        assert_eq!(format(-55_000), "-5.50");
        assert_eq!(format(0), "0.00");
    }
}
