//! {{name}}: a partner's order webhook into Portitor's order model.
//!
//! The runtime has checked the request's signature (see plugin.toml) before
//! `handle` sees it; `handle` turns it into events.

use portitor_guest::{Event, HttpRequest, Identity, PluginError, PushOutcome, PushSource};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct PartnerOrder {
    id: Option<String>,
    currency: String,
    #[serde(default)]
    lines: Vec<PartnerLine>,
}

#[derive(Deserialize)]
struct PartnerLine {
    sku: String,
    quantity: u32,
    price: String,
}

struct {{type}};

impl PushSource for {{type}} {
    fn path() -> String {
        "/webhooks/{{name}}".into()
    }

    fn handle(request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let order: PartnerOrder = request.json()?;
        let id = order.id.ok_or_else(|| PluginError::InvalidInput("the order has no `id`".into()))?;
        portitor_guest::info!("order {id} received");
        let lines: Vec<_> = order
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                json!({ "lineNumber": i + 1, "sku": line.sku, "quantity": line.quantity, "unitPrice": line.price })
            })
            .collect();
        let payload = json!({ "orderNumber": id, "currency": order.currency, "lineItems": lines });
        Ok(PushOutcome::events(vec![Event::order(id, &payload)?]))
    }
}

portitor_guest::export_push_source!({{type}});
