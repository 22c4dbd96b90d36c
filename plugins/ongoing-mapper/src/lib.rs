//! Portitor's order model → an Ongoing WMS outbound order, the body of
//! `PUT /api/v1/orders` (see the Ongoing partner notes).
//!
//! The order number Ongoing keys its upsert on is set by the warehouse
//! plugin to Portitor's warehouse-facing reference; the webshop's own order
//! number goes in `referenceNumber`. Configuration: `goods-owner-id` (the
//! integer Ongoing issues), optionally `way-of-delivery` to override the
//! delivery code.

use portitor_guest::{Mapper, Order, PluginError, WarehouseOrder, config};
use serde_json::{Map, Value, json};

struct OngoingMapper;

impl Mapper for OngoingMapper {
    fn map(order: Order) -> Result<WarehouseOrder, PluginError> {
        let model: Value = order.model()?;
        let goods_owner: i64 = config::require("goods-owner-id")?
            .parse()
            .map_err(|_| PluginError::Fatal("goods-owner-id must be an integer".into()))?;
        WarehouseOrder::json(&to_ongoing(&model, goods_owner, config::get("way-of-delivery")))
    }
}

portitor_guest::export_mapper!(OngoingMapper);

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn to_ongoing(model: &Value, goods_owner: i64, way_of_delivery: Option<String>) -> Value {
    let address = &model["shippingAddress"];
    let customer = &model["customer"];
    let mut consignee = Map::new();
    for (to, from) in [
        ("name", &address["name"]),
        ("address1", &address["address1"]),
        ("address2", &address["address2"]),
        ("postCode", &address["postalCode"]),
        ("city", &address["city"]),
        ("countryCode", &address["countryCode"]),
        ("vatNumber", &customer["vatNumber"]),
    ] {
        if let Some(value) = text(from) {
            consignee.insert(to.into(), json!(value));
        }
    }
    let lines: Vec<Value> = model["lineItems"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut line = json!({
                        "rowNumber": item["lineNumber"].as_u64().unwrap_or(i as u64 + 1).to_string(),
                        "articleNumber": item["sku"],
                        "numberOfItems": item["quantity"],
                    });
                    if let Some(value) = text(&item["customsValue"]) {
                        line["lineTotalCustomsValue"] = json!(value);
                    }
                    line
                })
                .collect()
        })
        .unwrap_or_default();
    let method = &model["shippingMethod"];
    let mut body = json!({
        "goodsOwnerId": goods_owner,
        "referenceNumber": model["orderNumber"],
        "deliveryDate": model["orderDate"].as_str().unwrap_or_default(),
        "consignee": Value::Object(consignee),
        "orderLines": lines,
    });
    if let Some(code) = way_of_delivery.or_else(|| text(&method["code"])) {
        body["wayOfDelivery"] = json!({ "code": code, "name": method["name"].as_str().unwrap_or_default() });
    }
    if let Some(point) = text(&method["pickupPointId"]) {
        body["servicePointCode"] = json!(point);
    }
    if let Some(instruction) = text(&model["deliveryInstruction"]) {
        body["deliveryInstruction"] = json!(instruction);
    }
    if let Some(email) = text(&customer["email"]) {
        body["emailNotification"] = json!({ "toBeNotified": true, "value": email });
    }
    if let Some(phone) = text(&customer["phone"]) {
        body["smsNotification"] = json!({ "toBeNotified": true, "value": phone });
    }
    body
}
