//! {{name}}: sends a mapped order to the warehouse's API, once per reference.

use portitor_guest::{PluginError, Receipt, Warehouse, WarehouseOrder, http};
use serde::Deserialize;

#[derive(Deserialize)]
struct Created {
    id: String,
}

struct {{type}};

impl Warehouse for {{type}} {
    fn dispatch(order: WarehouseOrder, reference: String) -> Result<Receipt, PluginError> {
        // `warehouse` is a connection in plugin.toml: the host adds its
        // credentials. The reference makes a retried dispatch harmless.
        let created: Created = http::Request::post("/orders")
            .via("warehouse")
            .header("content-type", order.content_type)
            .header("idempotency-key", reference)
            .body(order.body)
            .send()?
            .error_for_status()?
            .json()?;
        Ok(Receipt { warehouse_order_id: Some(created.id), message: "accepted by the warehouse".into() })
    }
}

portitor_guest::export_warehouse!({{type}});
