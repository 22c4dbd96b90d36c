//! {{name}}: Portitor's order model into the warehouse's JSON.

use portitor_guest::{Mapper, Order, PluginError, WarehouseOrder, config};
use serde_json::{Value, json};

struct {{type}};

impl Mapper for {{type}} {
    fn map(order: Order) -> Result<WarehouseOrder, PluginError> {
        let model: Value = order.model()?;
        let lines: Vec<_> = model["lineItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|line| json!({ "article": line["sku"], "count": line["quantity"] }))
            .collect();
        WarehouseOrder::json(&json!({
            "goodsOwner": config::require("goods-owner")?,
            "reference": model["orderNumber"],
            "lines": lines,
        }))
    }
}

portitor_guest::export_mapper!({{type}});
