//! ORDERS CSV v1 rows → Portitor order model, one event per order.

use std::collections::BTreeMap;

use portitor_guest::Event;
use serde_json::{Map, Value, json};

const REQUIRED: &[&str] = &[
    "order_number",
    "order_date",
    "shop_code",
    "currency",
    "line_no",
    "sku",
    "quantity",
    "unit_price",
    "recipient_name",
    "address1",
    "postal_code",
    "city",
    "country_code",
];

pub(crate) fn from_csv(file: &str, data: &[u8]) -> Result<Vec<Event>, String> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8".to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = crate::csv::parse(text)?;
    let Some((header, rows)) = rows.split_first() else {
        return Err("empty file".into());
    };
    let column: BTreeMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h.trim(), i)).collect();
    if let Some(missing) = REQUIRED.iter().find(|c| !column.contains_key(*c)) {
        return Err(format!("the header lacks column `{missing}`"));
    }
    let get = |row: &[String], name: &str| -> String {
        column.get(name).and_then(|&i| row.get(i)).map(|v| v.trim().to_string()).unwrap_or_default()
    };

    // Orders in file order, each with its rows.
    let mut order_numbers: Vec<String> = Vec::new();
    let mut lines: BTreeMap<String, Vec<&[String]>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        if row.len() != header.len() {
            return Err(format!("row {}: {} fields, the header has {}", i + 2, row.len(), header.len()));
        }
        let number = get(row, "order_number");
        if number.is_empty() {
            return Err(format!("row {}: order_number is empty", i + 2));
        }
        if !lines.contains_key(&number) {
            order_numbers.push(number.clone());
        }
        lines.entry(number).or_default().push(row);
    }

    let mut events = Vec::new();
    for number in order_numbers {
        let rows = &lines[&number];
        let first = rows[0];
        let mut line_items = Vec::new();
        let mut subtotal_cents: i64 = 0;
        for row in rows {
            let quantity: u64 = get(row, "quantity")
                .parse()
                .map_err(|_| format!("order {number}: quantity `{}` is not a whole number", get(row, "quantity")))?;
            let line_no: u64 = get(row, "line_no")
                .parse()
                .map_err(|_| format!("order {number}: line_no `{}` is not a whole number", get(row, "line_no")))?;
            let unit_price = get(row, "unit_price");
            let cents = cents(&unit_price)
                .ok_or_else(|| format!("order {number}: unit_price `{unit_price}` is not a decimal"))?;
            subtotal_cents += cents * quantity as i64;
            let mut line = Map::new();
            line.insert("lineNumber".into(), json!(line_no));
            line.insert("sku".into(), json!(get(row, "sku")));
            line.insert("quantity".into(), json!(quantity));
            line.insert("unitPrice".into(), json!(unit_price));
            if let Ok(rate) = get(row, "vat_rate").parse::<f64>() {
                line.insert("vatRate".into(), json!(rate));
            }
            line_items.push(Value::Object(line));
        }
        let mut address = Map::new();
        for (key, column) in [
            ("name", "recipient_name"),
            ("company", "recipient_company"),
            ("address1", "address1"),
            ("address2", "address2"),
            ("postalCode", "postal_code"),
            ("city", "city"),
            ("countryCode", "country_code"),
            ("phone", "phone"),
            ("email", "email"),
        ] {
            let value = get(first, column);
            if !value.is_empty() {
                address.insert(key.into(), json!(value));
            }
        }
        let mut model = Map::new();
        model.insert("orderNumber".into(), json!(number));
        model.insert("orderDate".into(), json!(get(first, "order_date")));
        model.insert("currency".into(), json!(get(first, "currency")));
        model.insert("taxesIncluded".into(), json!(true));
        let mut customer = Map::new();
        customer.insert("name".into(), json!(get(first, "recipient_name")));
        for (key, column) in [("email", "email"), ("phone", "phone")] {
            let value = get(first, column);
            if !value.is_empty() {
                customer.insert(key.into(), json!(value));
            }
        }
        model.insert("customer".into(), Value::Object(customer));
        model.insert("shippingAddress".into(), Value::Object(address));
        model.insert("lineItems".into(), Value::Array(line_items));
        model.insert(
            "totals".into(),
            json!({ "subtotal": format_cents(subtotal_cents), "total": format_cents(subtotal_cents) }),
        );
        let service = get(first, "carrier_service");
        if !service.is_empty() {
            let (carrier, product) = service.split_once('_').unwrap_or((service.as_str(), ""));
            let mut method = Map::new();
            method.insert("code".into(), json!(service));
            method.insert("carrier".into(), json!(carrier));
            if !product.is_empty() {
                method.insert("service".into(), json!(product));
            }
            let pickup = get(first, "pickup_point_id");
            if !pickup.is_empty() {
                method.insert("pickupPointId".into(), json!(pickup));
            }
            model.insert("shippingMethod".into(), Value::Object(method));
        }
        let instruction = get(first, "delivery_instruction");
        if !instruction.is_empty() {
            model.insert("deliveryInstruction".into(), json!(instruction));
        }
        model.insert("metadata".into(), json!({ "shopCode": get(first, "shop_code"), "sourceFile": file }));
        events.push(Event::order(number.clone(), &Value::Object(model)).map_err(|e| e.to_string())?);
    }
    Ok(events)
}

/// `"1899.00"` → 189900.
fn cents(decimal: &str) -> Option<i64> {
    let (whole, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
    if fraction.len() > 2 || whole.is_empty() {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<2}").parse().ok()? };
    Some(whole * 100 + if whole < 0 { -fraction } else { fraction })
}

fn format_cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}
