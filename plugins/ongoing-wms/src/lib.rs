//! Puts orders into Ongoing WMS: `PUT /api/v1/orders`, an upsert keyed on
//! `orderNumber` — here Portitor's warehouse-facing reference, so sending an
//! order twice (a retry, a restart mid-dispatch) updates rather than
//! duplicates it. HTTP Basic credentials come from the `ongoing` connection
//! (base URL `https://api.ongoingsystems.se/{warehouse}/api/v1`), attached
//! by the host. 429 and 5xx are transient (the runtime retries with
//! backoff); other refusals are failures with Ongoing's message.

use portitor_guest::{PluginError, Receipt, Warehouse, WarehouseOrder, http};
use serde_json::Value;

struct OngoingWms;

impl Warehouse for OngoingWms {
    fn dispatch(order: WarehouseOrder, reference: String) -> Result<Receipt, PluginError> {
        let mut body: Value = serde_json::from_slice(&order.body).map_err(|e| {
            PluginError::Fatal(format!("the mapped order is not JSON (is the ongoing-mapper configured?): {e}"))
        })?;
        body["orderNumber"] = Value::String(reference.clone());
        let response = http::Request::put("/orders").via("ongoing").json(&body)?.send()?.error_for_status()?;
        let answer: Value = response.json().unwrap_or(Value::Null);
        portitor_guest::info!("order {reference} is in Ongoing as {}", answer["orderId"]);
        Ok(Receipt {
            warehouse_order_id: answer["orderId"].as_i64().map(|id| id.to_string()),
            message: answer["message"].as_str().unwrap_or("accepted").to_string(),
        })
    }
}

portitor_guest::export_warehouse!(OngoingWms);
