//! The order pipeline set up over the real API, and helpers to follow orders.

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use super::ftp;
use super::server::Portitor;
use super::tenant::Tenant;
use super::warehouse::{WMS_PASSWORD, WMS_USER};

pub const SHOPIFY_SECRET: &str = "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";
pub const ADMIN_TOKEN: &str = "shpat_demo_admin_token_0001";

/// `shopify-orders` verifying Shopify's signature, de-duplicating on its
/// webhook id: the demo's manifest, so that the tests exercise it.
pub const SHOPIFY_MANIFEST: &str = portitor::demo::SHOPIFY_WEBHOOK_MANIFEST;

/// Shopify's `X-Shopify-Hmac-Sha256` for `body` under [`SHOPIFY_SECRET`].
pub fn shopify_signature(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SHOPIFY_SECRET.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Sends `body` to `server`'s `acme` tenant as Shopify's signed
/// `orders/create` webhook.
pub async fn send_shopify_order(server: &Portitor, body: &str) -> reqwest::Response {
    Portitor::client()
        .post(format!("{}/acme/webhooks/shopify/orders", server.url))
        .header("X-Shopify-Hmac-Sha256", shopify_signature(body))
        .header("X-Shopify-Topic", "orders/create")
        .body(body.to_string())
        .send()
        .await
        .expect("webhook")
}

/// A clean order in Portitor's order model (Sweden to Sweden).
pub fn good_order(number: &str) -> Value {
    json!({
        "orderNumber": number, "orderDate": "2026-03-14T10:22:31+01:00", "currency": "SEK",
        "customer": {"name": "Ingrid Lund", "email": "ingrid.lund@example.se", "phone": "+46701234567"},
        "shippingAddress": {"name": "Ingrid Lund", "address1": "Storgatan 12", "postalCode": "41301", "city": "Göteborg", "countryCode": "SE"},
        "lineItems": [{"lineNumber": 1, "sku": "NV-HAT-MER-GRY", "quantity": 1, "unitPrice": "299.00", "weightGrams": 120}],
        "totals": {"subtotal": "299.00", "total": "299.00"}
    })
}

pub async fn post_order(server: &Portitor, envelope: Value) -> String {
    let token = Portitor::token("acme", &["source-adapter"]);
    let response = Portitor::client()
        .post(format!("{}/acme/order", server.url))
        .bearer_auth(token)
        .json(&envelope)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string()
}

pub async fn order(tenant: &Tenant<'_>, id: &str) -> Value {
    tenant.get(&format!("/{}/order/{id}", tenant.company)).await
}

pub async fn wait_for_state(tenant: &Tenant<'_>, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = order(tenant, id).await;
        if view["state"] == state {
            return view;
        }
        assert!(Instant::now() < deadline, "order {id} never reached `{state}`: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A list (`path`, e.g. `/acme/orders?state=unhandled`) once `holds`
/// says so: the lists follow the log within moments (they are derived from
/// it after the change). After 5 s, the list as it is, for the caller's
/// assertion to report.
pub async fn wait_for_list(tenant: &Tenant<'_>, path: &str, holds: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list: Value = tenant.get(path).await;
        if holds(&list) || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Installs the pipeline's plugins and configuration for tenant `acme`.
pub async fn set_up(tenant: &Tenant<'_>, wms_url: &str, webshop_url: &str, ftp_port: u16) {
    tenant.secret("ongoing-password", WMS_PASSWORD).await;
    tenant.secret("shopify-webhook-secret", SHOPIFY_SECRET).await;
    tenant.secret("shopify-admin-token", ADMIN_TOKEN).await;
    tenant.secret("warehouse-ftp-password", ftp::PASSWORD).await;
    tenant.install("rules-validator", "rules-validator", "kind = \"validator\"").await;
    tenant.install("ongoing-mapper", "ongoing-mapper", "kind = \"mapper\"\n[config]\ngoods-owner-id = \"214\"\n").await;
    tenant
        .install(
            "ongoing-wms",
            "ongoing-wms",
            &format!(
                "kind = \"warehouse\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\n[http.connections.ongoing]\nbase_url = \"{wms_url}/nordlager/api/v1\"\nauth = {{ type = \"basic\", username = \"{WMS_USER}\", password_secret = \"ongoing-password\" }}\n"
            ),
        )
        .await;
    tenant
        .install(
            "warehouse-ftp",
            "warehouse-ftp",
            &format!(
                "kind = \"warehouse\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\n[ftp.connections.warehouse]\nhost = \"127.0.0.1\"\nport = {ftp_port}\nusername = \"{}\"\npassword_secret = \"warehouse-ftp-password\"\n",
                ftp::USER
            ),
        )
        .await;
    tenant
        .install(
            "shopify-orders",
            "shopify-orders",
            &format!(
                r#"{SHOPIFY_MANIFEST}
[network]
private_hosts = ["127.0.0.1"]
[http.connections.shopify-admin]
base_url = "{webshop_url}"
auth = {{ type = "header", name = "X-Shopify-Access-Token", secret = "shopify-admin-token" }}
[config]
admin-connection = "shopify-admin"
"#
            ),
        )
        .await;
    let response = Portitor::client()
        .put(format!("{}/acme/config/pipeline", tenant.server.url))
        .bearer_auth(&tenant.admin)
        .json(&json!({
            "validator": "rules-validator", "mapper": "ongoing-mapper", "warehouse": "ongoing-wms",
            "warehouses": {"ftp-dk": "warehouse-ftp"},
            "dispatch": {"attempts": 4, "initialBackoffMs": 50}
        }))
        .send()
        .await
        .expect("pipeline config");
    assert_eq!(response.status(), StatusCode::OK);
}
