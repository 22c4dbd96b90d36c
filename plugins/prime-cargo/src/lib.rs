//! Prime Cargo `PickOrderPacked` callbacks → `shipment` events.
//!
//! Prime Cargo signs callbacks with `Authorization: Bearer <JWT>` (HS256,
//! per-owner shared secret) whose `body_sha256` claim binds the token to the
//! raw body and whose `jti` is the event id. The plugin verifies the token
//! itself through the host's `crypto` interface with the secret named
//! `callback-secret` in its manifest: the HMAC is computed by the host and
//! the secret never enters the sandbox. Configuration: `issuer`, `audience`,
//! optionally `leeway-seconds` (default 60).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portitor_guest::crypto::{self, Key};
use portitor_guest::{Event, HttpRequest, Identity, PluginError, PushOutcome, PushSource, config};
use serde::Deserialize;
use serde_json::{Value, json};

struct PrimeCargo;

impl PushSource for PrimeCargo {
    fn path() -> String {
        "/webhooks/prime-cargo".into()
    }

    fn handle(request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let claims = verify_token(&request)?;
        let packed: PickOrderPacked = request.json()?;
        if packed.event_type != "PickOrderPacked" {
            return Err(PluginError::InvalidInput(format!(
                "event type `{}` is not handled; only PickOrderPacked",
                packed.event_type
            )));
        }
        if claims.jti != packed.event_id {
            return Err(PluginError::Unauthorized("token jti does not match the event id".into()));
        }
        portitor_guest::info!("order {} packed in pick order {}", packed.order_number, packed.pick_order_header_id);
        let event = Event::shipment(packed.pick_order_header_id.to_string(), &shipment_model(&packed))?;
        Ok(PushOutcome::events(vec![event]))
    }
}

portitor_guest::export_push_source!(PrimeCargo);

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    exp: u64,
    #[serde(default)]
    iat: u64,
    jti: String,
    body_sha256: String,
}

/// Checks the bearer token: signature, issuer, audience, expiry and the body hash.
fn verify_token(request: &HttpRequest) -> Result<Claims, PluginError> {
    let unauthorized = |m: &str| PluginError::Unauthorized(m.to_string());
    let header = request.header("authorization").ok_or_else(|| unauthorized("no Authorization header"))?;
    let token = header.strip_prefix("Bearer ").ok_or_else(|| unauthorized("Authorization is not a bearer token"))?;
    let mut parts = token.split('.');
    let (Some(head), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(unauthorized("the token is not a JWT"));
    };
    let header_json: Value = decode_json(head).ok_or_else(|| unauthorized("the token header is not valid"))?;
    if header_json["alg"] != "HS256" {
        return Err(unauthorized("the token must be signed with HS256"));
    }
    let signature =
        URL_SAFE_NO_PAD.decode(signature).map_err(|_| unauthorized("the token signature is not base64url"))?;
    let signing_input = format!("{head}.{payload}");
    if !crypto::verify_hmac_sha256(&Key::secret("callback-secret"), signing_input.as_bytes(), &signature)? {
        return Err(unauthorized("bad token signature"));
    }
    let claims: Claims = decode_json(payload).ok_or_else(|| unauthorized("the token claims are not valid"))?;
    let issuer = config::require("issuer")?;
    let audience = config::require("audience")?;
    if claims.iss != issuer || claims.aud != audience {
        return Err(unauthorized("the token's issuer or audience is not the configured one"));
    }
    let leeway: u64 = config::parse_or("leeway-seconds", 60)?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    if claims.exp + leeway < now {
        return Err(unauthorized("token expired"));
    }
    if claims.iat > now + leeway {
        return Err(unauthorized("token issued in the future"));
    }
    let digest = to_hex(&crypto::sha256(&request.body));
    if !crypto::constant_time_equal(digest.as_bytes(), claims.body_sha256.to_ascii_lowercase().as_bytes()) {
        return Err(unauthorized("the token does not belong to this body"));
    }
    Ok(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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
