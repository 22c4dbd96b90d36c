//! Prime Cargo `PickOrderPacked` callbacks → `shipment` events.
//!
//! Prime Cargo signs callbacks with a JWT over the body, a scheme the runtime
//! has no built-in verifier for: the `prime-cargo-auth` plugin verifies it,
//! named in this plugin's manifest as
//! `webhook = { scheme = "plugin", plugin = "prime-cargo-auth" }`. The runtime
//! calls this plugin only for requests that plugin accepted, with the token's
//! `jti` (the event id) as the delivery id, which it replay-protects.

use portitor_guest::{Event, HttpRequest, Identity, PluginError, PushOutcome, PushSource};
use serde::Deserialize;
use serde_json::{Value, json};

struct PrimeCargo;

impl PushSource for PrimeCargo {
    fn path() -> String {
        "/webhooks/prime-cargo".into()
    }

    fn handle(request: HttpRequest, identity: Identity) -> Result<PushOutcome, PluginError> {
        if identity.scheme != "plugin" {
            return Err(PluginError::Unauthorized(
                "Prime Cargo callbacks must be verified: set `webhook = { scheme = \"plugin\", plugin = \"prime-cargo-auth\" }`".into(),
            ));
        }
        let packed: PickOrderPacked = request.json()?;
        if packed.event_type != "PickOrderPacked" {
            return Err(PluginError::InvalidInput(format!(
                "event type `{}` is not handled; only PickOrderPacked",
                packed.event_type
            )));
        }
        if identity.delivery_id.as_deref() != Some(packed.event_id.as_str()) {
            return Err(PluginError::Unauthorized("token jti does not match the event id".into()));
        }
        portitor_guest::info!("order {} packed in pick order {}", packed.order_number, packed.pick_order_header_id);
        let event = Event::shipment(packed.pick_order_header_id.to_string(), &shipment_model(&packed))?;
        Ok(PushOutcome::events(vec![event]))
    }
}

portitor_guest::export_push_source!(PrimeCargo);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PickOrderPacked {
    event_type: String,
    event_id: String,
    occurred_at: Option<String>,
    owner_code: Option<String>,
    pick_order_header_id: u64,
    order_number: String,
    carrier: Option<String>,
    ship_date: Option<String>,
    shipping_product_id: Option<u64>,
    receiver: Option<Value>,
    #[serde(default)]
    cartons: Vec<Carton>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Carton {
    carton_number: Option<u32>,
    carton_tracking_number: Option<String>,
    waybill: Option<String>,
    #[serde(rename = "weight_g")]
    weight_g: Option<u64>,
    #[serde(rename = "width_mm")]
    width_mm: Option<u32>,
    #[serde(rename = "height_mm")]
    height_mm: Option<u32>,
    #[serde(rename = "depth_mm")]
    depth_mm: Option<u32>,
    #[serde(default)]
    lines: Vec<CartonLine>,
}

#[derive(Deserialize)]
struct CartonLine {
    sku: Option<String>,
    qty: u64,
}

fn shipment_model(packed: &PickOrderPacked) -> Value {
    let parcels: Vec<Value> = packed
        .cartons
        .iter()
        .map(|c| {
            json!({
                "parcelNumber": c.carton_number,
                "trackingNumber": c.carton_tracking_number,
                "waybill": c.waybill,
                "weightGrams": c.weight_g,
                "dimensionsMm": { "width": c.width_mm, "height": c.height_mm, "depth": c.depth_mm },
                "lines": c.lines.iter().map(|l| json!({ "sku": l.sku, "quantity": l.qty })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "status": "packed",
        "orderNumber": packed.order_number,
        // The order number the pick order was created with: Portitor's
        // warehouse-facing reference when Portitor sent it, which closes it.
        "orderReference": packed.order_number,
        "warehouseOrderId": packed.pick_order_header_id.to_string(),
        "owner": packed.owner_code,
        "packedAt": packed.occurred_at,
        "shipDate": packed.ship_date,
        "carrier": packed.carrier,
        "carrierProductId": packed.shipping_product_id,
        "receiver": packed.receiver,
        "parcels": parcels,
        "partnerEventId": packed.event_id,
    })
}
