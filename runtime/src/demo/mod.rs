//! `portitor serve --demo`: the `demo` tenant with every example plugin and
//! local partner simulators, so that each flow can be tried with curl alone.
//!
//! - `shopify-orders` behind Shopify's HMAC scheme: a signed sample webhook
//!   is written next to the data, with the curl command that sends it;
//! - `prime-cargo` behind `prime-cargo-auth`, an auth plugin that verifies
//!   Prime Cargo's callback JWT: a sample callback and a fresh token are
//!   written likewise;
//! - `bring-ftp` polling a local FTP drop folder (pyftpdlib, when Python has
//!   it) every 30 s; a sample ORDERS file is dropped in at start;
//! - `postnord-tracking` polling a PostNord simulator every 20 s;
//! - the pipeline: `rules-validator`, `ongoing-mapper` and `ongoing-wms`
//!   dispatching to a WMS simulator, which reports each order packed 10 s
//!   later through `prime-cargo` (the order becomes `shipped`), and
//!   Shopify's admin API simulator hearing what became of each Shopify
//!   order.
//!
//! The plugins are installed through the same registry as
//! `PUT /{company}/plugins/{id}`: nothing here is a shortcut.

mod partners;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::api::AppState;
use crate::security::auth::Role;

pub const COMPANY: &str = "demo";
const SHOPIFY_SECRET: &str = "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";
/// How `shopify-orders` checks Shopify's webhooks: its signature and its
/// delivery id (the demo adds its network and admin connection; the tests
/// use it as it is).
pub const SHOPIFY_WEBHOOK_MANIFEST: &str = r#"
kind = "push-source"
[webhook]
scheme = "hmac-sha256"
header = "X-Shopify-Hmac-Sha256"
secret = "shopify-webhook-secret"
encoding = "base64"
delivery_id_header = "X-Shopify-Webhook-Id"
"#;
const PRIME_CARGO_SECRET: &str = "pc-demo-callback-secret-2026-xyz";
const SHOPIFY_ORDER: &str = include_str!("../../../tests/fixtures/shopify-orders-create.json");
const PRIME_CARGO_PACKED: &str = include_str!("../../../tests/fixtures/prime-cargo-pick-order-packed.json");
const BRING_FILE: &str = include_str!("../../../tests/fixtures/ORD_NVNO_20260314T101500Z_000042.csv");
const FTP_SERVER: &str = include_str!("../../../tests/peers/ftp_server.py");
/// How long after the WMS simulator takes an order it reports it packed.
const PACKED_AFTER: Duration = Duration::from_secs(10);

/// What the demo started; the FTP server stops when this is dropped.
#[derive(Debug)]
pub struct Demo {
    pub instructions: String,
    _ftp: Option<tokio::process::Child>,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    crate::security::webhooks::hmac_sha256(key, &[data])
}

/// Provisions the demo tenant on a server that will listen at `addr`.
pub async fn provision(state: &AppState, data_dir: &Path, addr: SocketAddr) -> anyhow::Result<Demo> {
    let dir = data_dir.join("demo-partners");
    std::fs::create_dir_all(dir.join("ftp/in")).with_context(|| format!("creating {}", dir.display()))?;
    let ftp_password =
        hex::encode(&Sha256::digest(format!("{}{:?}", dir.display(), std::time::SystemTime::now()))[..12]);
    let postnord_key = hex::encode(&Sha256::digest(ftp_password.as_bytes())[..16]);
    for (name, value) in [
        ("shopify-webhook-secret", SHOPIFY_SECRET),
        ("callback-secret", PRIME_CARGO_SECRET),
        ("bring-ftp-password", ftp_password.as_str()),
        ("postnord-api-key", postnord_key.as_str()),
        ("ongoing-password", ftp_password.as_str()),
        ("shopify-admin-token", postnord_key.as_str()),
    ] {
        state.vault.put(COMPANY, name, value).await?;
    }
    let install = |id: &'static str, manifest: String| async move {
        let component = crate::examples::component(id).with_context(|| format!("example plugin {id} is not built"))?;
        state
            .registry
            .install(COMPANY, id, component, &manifest, "demo")
            .await
            .with_context(|| format!("installing {id}"))?;
        anyhow::Ok(())
    };

    let packing = partners::Packing {
        callback: format!("http://{addr}/{COMPANY}/webhooks/prime-cargo"),
        after: PACKED_AFTER,
        token: prime_cargo_token,
    };
    let wms = partners::start_wms("WSI_demo".into(), ftp_password.clone(), packing).await?;
    let webshop = partners::start_webshop(postnord_key.clone()).await?;
    install(
        "shopify-orders",
        format!(
            r#"{SHOPIFY_WEBHOOK_MANIFEST}[network]
private_hosts = ["127.0.0.1"]
[http.connections.shopify-admin]
base_url = "http://{webshop}"
auth = {{ type = "header", name = "X-Shopify-Access-Token", secret = "shopify-admin-token" }}
[config]
admin-connection = "shopify-admin"
"#
        ),
    )
    .await?;
    install("rules-validator", "kind = \"validator\"".into()).await?;
    install("ongoing-mapper", "kind = \"mapper\"\n[config]\ngoods-owner-id = \"214\"\n".into()).await?;
    install(
        "ongoing-wms",
        format!(
            r#"
kind = "warehouse"
[network]
private_hosts = ["127.0.0.1"]
[http.connections.ongoing]
base_url = "http://{wms}/demo-warehouse/api/v1"
auth = {{ type = "basic", username = "WSI_demo", password_secret = "ongoing-password" }}
"#
        ),
    )
    .await?;
    let pipeline = serde_json::from_value(serde_json::json!({
        "validator": "rules-validator", "mapper": "ongoing-mapper", "warehouse": "ongoing-wms"
    }))?;
    state.configs.set_pipeline(COMPANY, pipeline).await?;
    install(
        "prime-cargo-auth",
        r#"
kind = "auth"
[secrets]
keys = ["callback-secret"]
[config]
issuer = "primecargo-demo"
audience = "nordic-runtime"
"#
        .into(),
    )
    .await?;
    install(
        "prime-cargo",
        r#"
kind = "push-source"
webhook = { scheme = "plugin", plugin = "prime-cargo-auth" }
"#
        .into(),
    )
    .await?;

    let postnord = partners::start_postnord(postnord_key.clone()).await?;
    install(
        "postnord-tracking",
        format!(
            r#"
kind = "pull-source"
schedule = "*/20 * * * * *"
[network]
private_hosts = ["127.0.0.1"]
[http.connections.postnord]
base_url = "http://{postnord}/rest/shipment"
auth = {{ type = "query", param = "apikey", secret = "postnord-api-key" }}
[config]
item-ids = "00373500489001234567, 00373500489001234568, 00373500489001234569"
page-size = "2"
"#
        ),
    )
    .await?;

    let ftp = start_ftp(&dir, &ftp_password).await;
    let mut ftp_note = String::new();
    let ftp_child = match ftp {
        Ok((port, child)) => {
            std::fs::write(dir.join("ftp/in/ORD_NVNO_20260314T101500Z_000042.csv"), BRING_FILE)?;
            install(
                "bring-ftp",
                format!(
                    r#"
kind = "pull-source"
schedule = "*/30 * * * * *"
[network]
private_hosts = ["127.0.0.1"]
[ftp.connections.drop-folder]
host = "127.0.0.1"
port = {port}
username = "bring"
password_secret = "bring-ftp-password"
"#
                ),
            )
            .await?;
            let _ = write!(
                ftp_note,
                "FTP drop folder (bring-ftp polls it every 30 s; a sample file is already there):\n  cp my-orders.csv {}/\n",
                dir.join("ftp/in").display()
            );
            Some(child)
        }
        Err(e) => {
            let _ = write!(
                ftp_note,
                "bring-ftp is not installed: {e:#}\n  (`pip install pyftpdlib` gives the demo its FTP drop folder)\n"
            );
            None
        }
    };
    state.scheduler.sync();

    let source = state.auth.mint("demo-webshop", COMPANY, &[Role::SourceAdapter], 24 * 3600)?;
    let admin = state.auth.mint("demo-admin", COMPANY, &[Role::TenantAdmin, Role::PlatformOperator], 24 * 3600)?;
    let shopify_file = dir.join("shopify-orders-create.json");
    std::fs::write(&shopify_file, SHOPIFY_ORDER)?;
    let shopify_signature = STANDARD.encode(hmac(SHOPIFY_SECRET.as_bytes(), SHOPIFY_ORDER.as_bytes()));
    let prime_file = dir.join("prime-cargo-pick-order-packed.json");
    std::fs::write(&prime_file, PRIME_CARGO_PACKED)?;
    let prime_token = prime_cargo_token(PRIME_CARGO_PACKED)?;

    let instructions = format!(
        r#"
The `demo` tenant is ready, with the example plugins installed. Tokens (valid 24 h):
  source-adapter: {source}
  admin:          {admin}

The operator dashboard (sign in with the admin token):
  http://{addr}/demo/dashboard

Send an order through the order API (it is incomplete: it fails validation,
lands in the failed queue, and an operator can force it):
  curl -s -X POST http://{addr}/demo/order -H "Authorization: Bearer {source}" \
    -d '{{"source":"woo-no","externalId":"10042","order":{{"orderNumber":"10042","currency":"NOK"}}}}'
  curl -s http://{addr}/demo/orders?state=failed -H "Authorization: Bearer {admin}"
  curl -s -X POST http://{addr}/demo/order/<id>/force -H "Authorization: Bearer {admin}" -d '{{"reason":"checked by hand"}}'

Send Shopify's orders/create webhook, signed as Shopify signs it:
  curl -s -X POST http://{addr}/demo/webhooks/shopify/orders --data-binary @{shopify} \
    -H 'X-Shopify-Topic: orders/create' -H 'X-Shopify-Hmac-Sha256: {shopify_signature}' -H 'X-Shopify-Webhook-Id: demo-1'

Send Prime Cargo's PickOrderPacked callback (the `prime-cargo-auth` plugin checks
the JWT over the body; the same callback twice is stored once):
  curl -s -X POST http://{addr}/demo/webhooks/prime-cargo --data-binary @{prime} -H 'Authorization: Bearer {prime_token}'

{ftp_note}PostNord tracking is polled every 20 s from a local simulator; see the runs:
  curl -s http://{addr}/demo/plugins/postnord-tracking/runs -H "Authorization: Bearer {admin}"

Look at an order (the id comes back from the calls above): its events, its
findings, and once sent, its warehouse reference. The WMS simulator reports
each order it takes packed 10 s later, as Prime Cargo does, naming the
reference: the order becomes `shipped` and leaves the unhandled orders.
  curl -s http://{addr}/demo/order/<id> -H "Authorization: Bearer {admin}"
  curl -s http://{addr}/demo/orders?state=unhandled -H "Authorization: Bearer {admin}"
"#,
        shopify = shopify_file.display(),
        prime = prime_file.display(),
    );
    Ok(Demo { instructions, _ftp: ftp_child })
}

/// A Prime Cargo callback token for `body`, valid for a day.
fn prime_cargo_token(body: &str) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let event: serde_json::Value = serde_json::from_str(body)?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": "primecargo-demo", "aud": "nordic-runtime", "iat": now, "exp": now + 24 * 3600,
        "jti": event["eventId"], "body_sha256": hex::encode(Sha256::digest(body.as_bytes())),
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature =
        URL_SAFE_NO_PAD.encode(hmac(PRIME_CARGO_SECRET.as_bytes(), format!("{header}.{claims}").as_bytes()));
    Ok(format!("{header}.{claims}.{signature}"))
}

/// Starts pyftpdlib on the demo's drop folder; its port and process.
async fn start_ftp(dir: &Path, password: &str) -> anyhow::Result<(u16, tokio::process::Child)> {
    let script: PathBuf = dir.join("ftp_server.py");
    std::fs::write(&script, FTP_SERVER)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = tokio::process::Command::new("python3")
        .arg(&script)
        .args(["--user", "bring", "--password", password, "--port", &port.to_string(), "--root"])
        .arg(dir.join("ftp"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("python3 is not available")?;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok((port, child));
        }
        if let Ok(Some(_)) = child.try_wait() {
            anyhow::bail!("the FTP server did not start (is pyftpdlib installed?)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the FTP server did not start within 5 s")
}
