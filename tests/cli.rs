//! End to end: `portitor serve` and `portitor token` as docs/DESIGN.md §9 says.

#[path = "support/mod.rs"]
mod support;

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::{Options, Portitor, binary, serve_refused, token_with_env};

#[tokio::test]
async fn serve_with_no_arguments_runs_the_embedded_default() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let server =
        Portitor::start_with(Options { cwd: Some(cwd.path().to_path_buf()), keep_listen: true, ..Options::default() });
    assert_eq!(server.url, "http://127.0.0.1:8080");
    let ready: Value = Portitor::client()
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["store"]["conditionalWrites"], "native");
    assert_eq!(ready["store"]["state"], "reachable");
    assert!(!ready.to_string().contains("./data"), "/readyz names no path: {ready}");
    assert!(cwd.path().join("data").is_dir(), "the fs store lives under ./data");
}

#[tokio::test]
async fn a_config_file_and_environment_variables_set_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("portitor.toml");
    let port = support::free_port();
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\n[auth]\nhs256_secret = \"a-configured-secret-of-32-characters!\"\n",
            dir.path().join("store").display()
        ),
    )
    .expect("write config");
    let server = Portitor::start_with(Options {
        config: Some(config.clone()),
        keep_listen: true,
        bare: true,
        env: vec![("PORTITOR_HTTP__MAX_BODY_BYTES".into(), "100".into())],
        ..Options::default()
    });
    assert_eq!(server.url, format!("http://127.0.0.1:{port}"));

    // Tokens minted with the configured key work; development ones do not.
    let config_arg = config.display().to_string();
    let output = Command::new(binary())
        .args(["token", "--company", "acme", "--role", "source-adapter", "--config", &config_arg])
        .output()
        .expect("token");
    let token = String::from_utf8(output.stdout).expect("utf-8").trim().to_string();
    let dev_token = Portitor::token("acme", &["source-adapter"]);
    let body = json!({"source": "s", "externalId": "1", "order": {}}).to_string();
    let post = |token: String, body: String| {
        let url = server.url.clone();
        async move {
            Portitor::client()
                .post(format!("{url}/acme/order"))
                .bearer_auth(token)
                .body(body)
                .send()
                .await
                .expect("post")
                .status()
        }
    };
    assert_eq!(post(token.clone(), body.clone()).await, StatusCode::CREATED);
    assert_eq!(post(dev_token, body.clone()).await, StatusCode::UNAUTHORIZED);
    // The environment's body limit applies over the file.
    assert_eq!(post(token, format!("{body:<200}")).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(dir.path().join("store/acme").is_dir(), "data_dir from the file");
}

#[test]
fn unknown_configuration_keys_stop_the_server_with_their_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stderr = serve_refused(dir.path(), &[("PORTITOR_STORE__BAKEND", "s3")]);
    assert!(stderr.contains("unknown field `bakend`") && stderr.contains("PORTITOR_STORE__BAKEND"), "{stderr}");

    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[store]\nbackend = \"fs\"\nbucket = \"x\"\n").expect("write");
    let output = Command::new(binary()).args(["serve", "--config"]).arg(&config).output().expect("serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `bucket`"), "{stderr}");
}

#[test]
fn token_mints_a_jwt_with_the_claims_asked_for() {
    let token = token_with_env("acme", &["tenant-admin", "platform-operator"], &[]);
    let claims = token.split('.').nth(1).expect("payload");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).expect("base64"),
    )
    .expect("json");
    assert_eq!(claims["company"], "acme");
    assert_eq!(claims["roles"], json!(["tenant-admin", "platform-operator"]));
    assert!(claims["exp"].as_u64().expect("exp") > claims["iat"].as_u64().expect("iat"));

    let output =
        Command::new(binary()).args(["token", "--company", "acme", "--role", "admin"]).output().expect("token");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown role `admin`"));
}

#[tokio::test]
async fn demo_shows_every_flow_with_curl_alone() {
    let data = tempfile::tempdir().expect("tempdir");
    // As the README starts it: no keys configured, no network granted but
    // what `--demo` grants its own tenant.
    let server = Portitor::start_with(Options {
        data_dir: Some(data.path().to_path_buf()),
        args: vec!["--demo".into()],
        bare: true,
        ..Options::default()
    });
    // The demo's instructions end with the line about unhandled orders;
    // reading stops there, and a silence of 5 s before it is a failure.
    let mut printed = String::new();
    let mut complete = false;
    while let Ok(line) = server.stdout.recv_timeout(std::time::Duration::from_secs(5)) {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("state=unhandled") {
            complete = true;
            break;
        }
    }
    assert!(complete, "the demo's instructions stopped before their last line:\n{printed}");
    let after = |prefix: &str| -> String {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("the demo prints `{prefix}`:\n{printed}"))
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string()
    };
    let source = after("source-adapter: ");
    let admin = after("admin: ");
    let http = Portitor::client();

    // The order API.
    let response = http
        .post(format!("{}/demo/order", server.url))
        .bearer_auth(&source)
        .body(json!({"source": "woo-no", "externalId": "10042", "order": {"orderNumber": "10042"}}).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::CREATED);

    // Shopify's webhook, with the signature the demo printed.
    let signature = printed
        .split("X-Shopify-Hmac-Sha256: ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the demo prints the signature")
        .to_string();
    let body = std::fs::read(data.path().join("demo-partners/shopify-orders-create.json")).expect("sample written");
    let response = http
        .post(format!("{}/demo/webhooks/shopify/orders", server.url))
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Hmac-Sha256", signature)
        .header("X-Shopify-Webhook-Id", "demo-1")
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(response.status(), StatusCode::CREATED);
    let shopify_order =
        response.json::<serde_json::Value>().await.expect("json")["events"][0]["id"].as_str().expect("id").to_string();

    // Prime Cargo's callback, verified by the demo's auth plugin, with the token the demo printed.
    let token = printed
        .split("/demo/webhooks/prime-cargo")
        .nth(1)
        .and_then(|rest| rest.split("Authorization: Bearer ").nth(1))
        .and_then(|rest| rest.split('\'').next())
        .expect("the demo prints Prime Cargo's token")
        .to_string();
    let body =
        std::fs::read(data.path().join("demo-partners/prime-cargo-pick-order-packed.json")).expect("sample written");
    let response = http
        .post(format!("{}/demo/webhooks/prime-cargo", server.url))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), StatusCode::CREATED);

    // The pulls: the FTP drop folder's sample file and PostNord's simulator.
    for plugin in ["bring-ftp", "postnord-tracking"] {
        let run: Value = http
            .post(format!("{}/demo/plugins/{plugin}/run", server.url))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("run")
            .json()
            .await
            .expect("json");
        assert_eq!(run["error"], Value::Null, "{run}");
    }
    // Whether a scheduled run or ours took them, the events are stored.
    for number in ["NO-30117", "NO-30118"] {
        let id = portitor::orders::order_id("demo", "bring-ftp", number);
        let response =
            http.get(format!("{}/demo/order/{id}", server.url)).bearer_auth(&admin).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK, "order {number} from the drop folder");
    }
    assert!(!support::server::files_under(&data.path().join("demo/events/trackings")).is_empty(), "tracking events");

    // The Shopify order went to the WMS simulator, which reports it packed
    // (as Prime Cargo does) 10 s later: it ends shipped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let order: serde_json::Value = http
            .get(format!("{}/demo/order/{shopify_order}", server.url))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if order["state"] == "shipped" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the demo's Shopify order never shipped: {order}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
