//! {{name}}: polls the partner's order API from a durable cursor.
//!
//! The runtime calls `fetch` on the schedule with the cursor it stored
//! after the last batch, and stores the new one only once every event of
//! the batch is durable.

use portitor_guest::{Batch, Event, PluginError, PullSource, http};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Page {
    orders: Vec<PartnerOrder>,
    next: String,
    more: bool,
}

#[derive(Deserialize)]
struct PartnerOrder {
    id: String,
    currency: String,
}

struct {{type}};

impl PullSource for {{type}} {
    fn schedule() -> String {
        "0 */5 * * * *".into()
    }

    fn cursor_key() -> String {
        "cursor".into()
    }

    fn fetch(cursor: Option<String>) -> Result<Batch, PluginError> {
        let after = cursor.unwrap_or_else(|| "0".into());
        // `partner` is a connection in plugin.toml: the host adds its token.
        let page: Page =
            http::Request::get(format!("/orders?after={after}")).via("partner").send()?.error_for_status()?.json()?;
        portitor_guest::info!("{} orders after {after}", page.orders.len());
        let events = page
            .orders
            .iter()
            .map(|order| Event::order(&order.id, &json!({ "orderNumber": order.id, "currency": order.currency })))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Batch::new(events, page.next, page.more))
    }
}

portitor_guest::export_pull_source!({{type}});
