//! End to end: the tenant boundary against a hostile tenant-admin (who
//! writes its own manifest) and an outsider, on servers started the way the
//! README starts them (`bare`: no keys, no network grants configured).

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portitor::security::secrets::SecretVault;
use portitor::store::ObjectStore;
use portitor::store::fs::FsStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::orders::{SHOPIFY_SECRET, good_order, shopify_signature};
use support::server::{Options, Portitor, binary, serve_refused};
use support::tenant::Tenant;

/// `portitor serve` as the README runs it, on `data`.
fn bare(data: &Path, env: &[(&str, &str)]) -> Portitor {
    Portitor::start_with(Options {
        data_dir: Some(data.to_path_buf()),
        bare: true,
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Options::default()
    })
}

/// `portitor token` for the server on `data`, as an operator would run it.
fn token_for(data: &Path, company: &str, roles: &[&str], sources: &[&str]) -> String {
    let mut command = Command::new(binary());
    command.args(["token", "--company", company, "--data-dir"]).arg(data);
    for role in roles {
        command.args(["--role", role]);
    }
    for source in sources {
        command.args(["--source", source]);
    }
    let output = command.output().expect("portitor token");
    assert!(output.status.success(), "portitor token: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8").trim().to_string()
}

/// A tenant on a bare server, with an admin token from that server's key.
fn tenant<'a>(server: &'a Portitor, data: &Path, company: &str) -> Tenant<'a> {
    Tenant { server, company: company.to_string(), admin: token_for(data, company, &["tenant-admin"], &[]) }
}

async fn get(server: &Portitor, path: &str, token: &str) -> reqwest::Response {
    Portitor::client().get(format!("{}{path}", server.url)).bearer_auth(token).send().await.expect("get")
}

async fn error_message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("json");
    body["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// The JWT earlier versions accepted from anyone who read the source.
fn token_signed_with_the_old_built_in_key() -> String {
    let claims = json!({"sub": "attacker", "company": "*", "roles": ["platform-operator"], "exp": 4_000_000_000u64});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"portitor-development-key-do-not-use-in-production"),
    )
    .expect("encode")
}

// 1. No key anyone can read.

#[tokio::test]
async fn no_key_is_built_in_and_the_generated_ones_stay_with_their_data_directory() {
    let data = tempfile::tempdir().expect("tempdir");
    // What an earlier, unconfigured version left: a secret sealed under the built-in key.
    let open_store = || -> Arc<dyn ObjectStore> { Arc::new(FsStore::open(data.path()).expect("store")) };
    let legacy_key = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        <sha2::Sha256 as sha2::Digest>::digest(b"portitor development secrets key"),
    );
    SecretVault::new(open_store(), &legacy_key)
        .expect("vault")
        .put("acme", "api-key", "kept-across-the-upgrade")
        .await
        .expect("legacy secret");

    let server = bare(data.path(), &[]);
    let forged = token_signed_with_the_old_built_in_key();
    assert_eq!(get(&server, "/acme/secrets", &forged).await.status(), StatusCode::UNAUTHORIZED);

    // The first start generated its keys, readable by their owner only.
    for key in [".keys/jwt-hs256.key", ".keys/secrets.key"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(data.path().join(key)).expect("key file").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    // `portitor token` signs with the same key when given the data directory...
    let operator = token_for(data.path(), "acme", &["platform-operator"], &[]);
    let secrets = get(&server, "/acme/secrets", &operator).await;
    assert_eq!(secrets.status(), StatusCode::OK);
    let names: Value = secrets.json().await.expect("json");
    assert!(names.to_string().contains("api-key"), "the legacy secret is still there: {names}");
    // ...and a token from another data directory's key is worth nothing here.
    let other = tempfile::tempdir().expect("tempdir");
    drop(bare(other.path(), &[]));
    let foreign = token_for(other.path(), "acme", &["platform-operator"], &[]);
    assert_eq!(get(&server, "/acme/secrets", &foreign).await.status(), StatusCode::UNAUTHORIZED);
    drop(server);
    let store = open_store();

    // The legacy secret is sealed again under the generated key: nothing lost, nothing left under the old key.
    let generated = std::fs::read_to_string(data.path().join(".keys/secrets.key")).expect("key");
    let now = SecretVault::new(store.clone(), generated.trim()).expect("vault").load_all().await.expect("load");
    assert_eq!((now.secrets, now.resealed), (1, 0), "{now:?}");
    let old = SecretVault::new(store, &legacy_key).expect("vault").load_all().await.expect("load");
    assert_eq!(old.secrets, 0, "still readable with the built-in key");
}

#[test]
fn several_nodes_refuse_to_start_without_configured_keys_and_name_them() {
    let data = tempfile::tempdir().expect("tempdir");
    let stderr = serve_refused(data.path(), &[("PORTITOR_NODES", "2")]);
    assert!(stderr.contains("auth.hs256_secret") && stderr.contains("secrets.key"), "{stderr}");
    assert!(!data.path().join(".keys").exists(), "no key generated for several nodes");
}

#[test]
fn token_never_invents_a_key_the_server_does_not_have() {
    let data = tempfile::tempdir().expect("tempdir");
    let output = Command::new(binary())
        .args(["token", "--company", "acme", "--role", "tenant-admin", "--data-dir"])
        .arg(data.path())
        .output()
        .expect("token");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("start `portitor serve` once"));
}

// 2. The network policy is the platform's.

#[tokio::test]
async fn a_manifest_cannot_open_the_private_network_only_the_operator_can() {
    let data = tempfile::tempdir().expect("tempdir");
    // The operator grants globex one host; acme nothing.
    let server = bare(data.path(), &[("PORTITOR_EGRESS__TENANTS__GLOBEX__PRIVATE_HOSTS", "[\"localhost\"]")]);
    let acme = tenant(&server, data.path(), "acme");
    let own_metrics = format!("{}/metrics", server.url.replace("127.0.0.1", "localhost"));
    let port = server.url.rsplit(':').next().expect("port").to_string();

    // The attack: the manifest grants itself loopback to read the server's own /metrics.
    for (asks, network) in [
        ("loopback", "private_hosts = [\"127.0.0.1\"]".to_string()),
        ("loopback by name", "private_hosts = [\"localhost\"]".to_string()),
        ("cloud metadata", "allowed_hosts = [\"169.254.169.254\"]".to_string()),
        ("the private network", "private_hosts = [\"*.internal\", \"10.0.0.1\"]".to_string()),
        ("NAT64 of loopback", "allowed_hosts = [\"[64:ff9b::7f00:1]\"]".to_string()),
    ] {
        let manifest = format!("kind = \"push-source\"\n[network]\n{network}\n[config]\ntarget = \"{own_metrics}\"\n");
        let (status, body) = acme.try_install("probe", "test-forbidden-host", &manifest).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{asks}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("egress.tenants.acme.private_hosts"),
            "{asks}: the answer names the setting: {message}"
        );
    }

    // A name the manifest may call that resolves to loopback is refused after DNS.
    let manifest = format!(
        "kind = \"push-source\"\n[network]\nallowed_hosts = [\"localhost:{port}\"]\n[config]\ntarget = \"{own_metrics}\"\n"
    );
    acme.install("probe", "test-forbidden-host", &manifest).await;
    let response = Portitor::client()
        .post(format!("{}/acme/test/forbidden-host", server.url))
        .bearer_auth(token_for(data.path(), "acme", &["source-adapter"], &[]))
        .body("{}")
        .send()
        .await
        .expect("webhook");
    assert!(response.status().is_server_error(), "{}", response.status());
    let status = acme.get("/acme/plugins/probe").await;
    let error = status["activity"]["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("loopback"), "the plugin was told why: {status}");
    let letters = acme.get("/acme/deadletters").await.to_string();
    assert!(!letters.contains("portitor_"), "the server's metrics reached the plugin: {letters}");

    // What the operator granted globex, globex gets — and only globex.
    let globex = tenant(&server, data.path(), "globex");
    let manifest = format!(
        "kind = \"push-source\"\n[network]\nallowed_hosts = [\"localhost:{port}\"]\nprivate_hosts = [\"localhost\"]\n[config]\ntarget = \"{own_metrics}\"\n"
    );
    globex.install("probe", "test-forbidden-host", &manifest).await;
    let (status, body) = acme.try_install("probe", "test-forbidden-host", &manifest).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn the_demo_grants_loopback_to_its_own_tenant_only() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start_with(Options {
        data_dir: Some(data.path().to_path_buf()),
        args: vec!["--demo".into()],
        bare: true,
        ..Options::default()
    });
    let demo = tenant(&server, data.path(), "demo");
    // Its plugins that reach the simulators on loopback loaded (they are refused without a grant).
    for id in ["postnord-tracking", "ongoing-wms", "shopify-orders"] {
        let plugin = demo.get(&format!("/demo/plugins/{id}")).await;
        assert_eq!(plugin["status"], "loaded", "{plugin}");
    }
    let acme = tenant(&server, data.path(), "acme");
    let (status, body) = acme
        .try_install(
            "probe",
            "test-forbidden-host",
            "kind = \"push-source\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\n",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

// 3. Platform caps on every limit.

#[tokio::test]
async fn manifest_limits_above_the_platform_caps_are_refused_naming_the_cap() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = bare(
        data.path(),
        &[
            ("PORTITOR_ENGINE__CAPS__TIMEOUT_MS", "10000"),
            ("PORTITOR_ENGINE__CAPS__MAX_HTTP_RESPONSE_BYTES", "1048576"),
        ],
    );
    let acme = tenant(&server, data.path(), "acme");
    for (limit, cap) in [
        ("timeout_ms = 3600000", "engine.caps.timeout_ms = 10000"),
        ("max_http_response_bytes = 1073741824", "engine.caps.max_http_response_bytes = 1048576"),
        ("fuel = 18446744073709551615", "engine.caps.fuel"),
        ("max_log_bytes = 1099511627776", "engine.caps.max_log_bytes"),
        ("memory_mib = 65536", "engine.caps.memory_mib"),
    ] {
        let (status, body) =
            acme.try_install("counter", "test-counter", &format!("kind = \"push-source\"\n[limits]\n{limit}\n")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{limit}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(cap), "{limit}: {message}");
    }
    acme.install("counter", "test-counter", "kind = \"push-source\"\n[limits]\ntimeout_ms = 10000\n").await;
}

// 4. One tenant cannot starve the others.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_flood_of_looping_calls_leaves_the_others_served() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = bare(data.path(), &[("PORTITOR_ENGINE__MAX_INSTANCES_PER_TENANT", "4")]);
    let a = tenant(&server, data.path(), "tenant-a");
    let b = tenant(&server, data.path(), "tenant-b");
    let looping = format!("{}[limits]\ntimeout_ms = 2000\n", relay_manifest("/loop", "loop = \"true\"\n"));
    a.install("looper", "test-relay", &looping).await;
    b.install("relay", "test-relay", &relay_manifest("/relay", "")).await;

    let flood: Vec<_> = (0..64)
        .map(|_| {
            let url = format!("{}/tenant-a/loop", server.url);
            tokio::spawn(async move {
                let response = Portitor::client().post(url).body("{}").send().await.expect("flood");
                (response.status(), response.headers().get("retry-after").is_some())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 0..40 {
        let id = format!("B-{n}");
        let response = Portitor::client()
            .post(format!("{}/tenant-b/relay", server.url))
            .json(&json!({"externalId": id, "order": good_order(&id)}))
            .send()
            .await
            .expect("relay");
        assert_eq!(response.status(), StatusCode::CREATED, "tenant B's webhook {n} during A's flood");
    }
    let mut refused = 0;
    for call in flood {
        let (status, retry_after) = call.await.expect("flood task");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(retry_after, "429 says when to retry");
            refused += 1;
        } else {
            assert!(status.is_server_error(), "a looping call ends in its time-out: {status}");
        }
    }
    assert!(refused >= 60 - 4, "past its share of 4, A's calls are refused: {refused} of 64");
}

// 5. Guest code runs only inside an invocation with its limits.

fn relay_manifest(path: &str, extra_config: &str) -> String {
    format!("kind = \"push-source\"\n[webhook]\nscheme = \"none\"\n[config]\npath = \"{path}\"\n{extra_config}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_path_is_refused_at_upload_and_holds_up_nobody_else() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = bare(data.path(), &[]);
    let acme = tenant(&server, data.path(), "acme");
    let globex = tenant(&server, data.path(), "globex");
    // Compiled once, so the uploads below measure the lock, not Cranelift.
    globex.install("warm", "test-relay", &relay_manifest("/warm", "")).await;

    let looping = format!("{}[limits]\ntimeout_ms = 20000\n", relay_manifest("/loops", "path-loops = \"true\"\n"));
    let started = Instant::now();
    let hostile = {
        let (url, admin, manifest) = (server.url.clone(), acme.admin.clone(), looping.clone());
        tokio::spawn(async move {
            let form = reqwest::multipart::Form::new().text("manifest", manifest).part(
                "component",
                reqwest::multipart::Part::bytes(support::plugin_bytes("test-relay")).file_name("component.wasm"),
            );
            let response = Portitor::client()
                .put(format!("{url}/acme/plugins/looper"))
                .bearer_auth(admin)
                .multipart(form)
                .send()
                .await
                .expect("upload");
            (response.status(), response.text().await.unwrap_or_default())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // While acme's path() loops, globex installs and is served.
    globex.install("relay", "test-relay", &relay_manifest("/orders-in", "")).await;
    assert!(!hostile.is_finished(), "the looping upload ended before the other tenant's install");
    let quick = started.elapsed();
    let (status, body) = hostile.await.expect("upload task");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("timed out"), "{body}");
    assert!(quick < Duration::from_secs(15), "the other install waited {quick:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_every_other_plugin_while_one_path_loops() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = bare(data.path(), &[]);
    let acme = tenant(&server, data.path(), "acme");
    acme.install("relay", "test-relay", &relay_manifest("/orders-in", "")).await;
    let installed = acme.install("looper", "test-relay", &relay_manifest("/later", "")).await;
    let version = installed["version"].as_str().expect("version").to_string();
    assert!(server.terminate());

    // The looper's version as an earlier Portitor stored it (no answers kept
    // beside it), with a manifest whose path() now loops.
    let versions = data.path().join(format!("acme/plugins/looper/versions/{version}"));
    std::fs::remove_file(versions.join("described.json")).expect("described.json was kept at upload");
    let manifest = std::fs::read_to_string(versions.join("manifest.json")).expect("manifest");
    let mut manifest: Value = serde_json::from_str(&manifest).expect("json");
    manifest["config"]["path-loops"] = json!("true");
    manifest["limits"]["timeout_ms"] = json!(30_000);
    std::fs::write(versions.join("manifest.json"), manifest.to_string()).expect("write");

    let started = Instant::now();
    let server = bare(data.path(), &[]);
    let listening = started.elapsed();
    let acme = tenant(&server, data.path(), "acme");
    let response = Portitor::client()
        .post(format!("{}/acme/orders-in", server.url))
        .json(&json!({"externalId": "R-1", "order": good_order("R-1")}))
        .send()
        .await
        .expect("relay");
    assert_eq!(response.status(), StatusCode::CREATED, "the other plugin is served at once");
    assert!(listening < Duration::from_secs(10), "listening took {listening:?}, the looping path() holds start-up");

    // Once its time-out has passed, the looper stays unloaded, with its reason.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = acme.get("/acme/plugins/looper").await;
        if status["status"] == "unloaded" {
            break status;
        }
        assert!(Instant::now() < deadline, "never marked unloaded: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(status["reason"].as_str().unwrap_or_default().contains("timed out"), "{status}");
    let ready: Value = Portitor::client()
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["plugins"]["unloaded"], 1, "{ready}");
    assert!(!ready.to_string().contains("looper"), "/readyz names no tenant's plugin: {ready}");
}

#[tokio::test]
async fn a_component_refused_at_upload_never_enters_the_compile_cache() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = bare(data.path(), &[]);
    let acme = tenant(&server, data.path(), "acme");
    // A push component declared as a pull plugin fails its kind check after compiling.
    let (status, body) = acme.try_install("wrong", "test-counter", "kind = \"pull-source\"\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let cached = |dir: &Path| std::fs::read_dir(dir.join(".compiled")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached(data.path()), 0, "a refused component was cached");
    acme.install("right", "test-counter", "kind = \"push-source\"\n").await;
    assert_eq!(cached(data.path()), 1);
}

// 6. A push plugin's response cannot attack the platform's origin.

#[tokio::test]
async fn a_push_plugin_answers_with_data_never_with_a_page_or_a_service_worker() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = bare(data.path(), &[]);
    let acme = tenant(&server, data.path(), "acme");
    acme.install("page", "test-relay", &relay_manifest("/page", "answer = \"html\"\n")).await;
    let response =
        Portitor::client().post(format!("{}/acme/page", server.url)).body("{}").send().await.expect("webhook");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    for dropped in ["service-worker-allowed", "set-cookie"] {
        assert!(!headers.contains_key(dropped), "{dropped} reached the partner");
    }
    assert_eq!(headers["x-hook-secret"], "handshake", "allow-listed headers pass");
    // Errors on a push path are inert too.
    let missing = Portitor::client().post(format!("{}/acme/nothing-here", server.url)).send().await.expect("post");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["content-security-policy"], "sandbox");
}

// 7. A source belongs to one channel.

#[tokio::test]
async fn nobody_can_pre_empt_a_plugins_orders_through_the_order_api() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = bare(data.path(), &[]);
    let acme = tenant(&server, data.path(), "acme");
    acme.secret("shopify-webhook-secret", SHOPIFY_SECRET).await;
    acme.install(
        "shopify-orders",
        "shopify-orders",
        "kind = \"push-source\"\n[webhook]\nscheme = \"hmac-sha256\"\nheader = \"X-Shopify-Hmac-Sha256\"\nsecret = \"shopify-webhook-secret\"\nencoding = \"base64\"\n",
    )
    .await;
    let shopify_order = include_str!("fixtures/shopify-orders-create.json");
    let external_id = "5813370225002";
    let source = token_for(data.path(), "acme", &["source-adapter"], &[]);
    let post = |token: String, envelope: Value| {
        let url = server.url.clone();
        async move {
            Portitor::client()
                .post(format!("{url}/acme/order"))
                .bearer_auth(token)
                .json(&envelope)
                .send()
                .await
                .expect("post")
        }
    };

    // The attack: the plugin's source and the webhook's id, before Shopify sends it.
    let forged = json!({"source": "shopify-orders", "externalId": external_id, "order": good_order("FORGED")});
    let response = post(source.clone(), forged.clone()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(error_message(response).await.contains("belongs to the plugin"));
    let operator = token_for(data.path(), "acme", &["source-adapter", "platform-operator"], &[]);
    assert_eq!(post(operator, forged).await.status(), StatusCode::FORBIDDEN, "no caller at all");

    // Shopify's real webhook then creates the order: not a duplicate, and it is Shopify's.
    let response = Portitor::client()
        .post(format!("{}/acme/webhooks/shopify/orders", server.url))
        .header("X-Shopify-Hmac-Sha256", shopify_signature(shopify_order))
        .header("X-Shopify-Topic", "orders/create")
        .body(shopify_order)
        .send()
        .await
        .expect("webhook");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["events"][0]["duplicate"], false, "{body}");
    let shopify_id = body["events"][0]["id"].as_str().expect("id").to_string();
    let view = acme.get(&format!("/acme/order/{shopify_id}?payload=true")).await;
    assert_eq!(view["order"]["orderNumber"], "1042", "the partner's order, not the attacker's: {view}");

    // A source-adapter reads only its own sources' orders, and never payloads.
    let own = post(source.clone(), json!({"source": "woo-no", "externalId": "W-1", "order": good_order("W-1")})).await;
    assert_eq!(own.status(), StatusCode::CREATED);
    let own_id = own.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();
    assert_eq!(get(&server, &format!("/acme/order/{own_id}"), &source).await.status(), StatusCode::OK);
    assert_eq!(get(&server, &format!("/acme/order/{shopify_id}"), &source).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        get(&server, &format!("/acme/order/{own_id}?payload=true"), &source).await.status(),
        StatusCode::FORBIDDEN
    );

    // A `sources` claim narrows a token further.
    let erp = token_for(data.path(), "acme", &["source-adapter"], &["erp-se"]);
    let envelope = |source: &str, id: &str| json!({"source": source, "externalId": id, "order": good_order(id)});
    assert_eq!(post(erp.clone(), envelope("woo-no", "E-1")).await.status(), StatusCode::FORBIDDEN);
    let created = post(erp.clone(), envelope("erp-se", "E-2")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let erp_id = created.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();
    assert_eq!(get(&server, &format!("/acme/order/{erp_id}"), &erp).await.status(), StatusCode::OK);
    assert_eq!(get(&server, &format!("/acme/order/{own_id}"), &erp).await.status(), StatusCode::NOT_FOUND);
    // A claim naming a plugin's source widens nothing.
    let claims_shopify = token_for(data.path(), "acme", &["source-adapter"], &["shopify-orders"]);
    assert_eq!(post(claims_shopify.clone(), envelope("shopify-orders", "S-1")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&server, &format!("/acme/order/{shopify_id}"), &claims_shopify).await.status(),
        StatusCode::NOT_FOUND
    );

    // A deleted plugin's source stays its own: its orders are still Shopify's.
    let deleted = Portitor::client()
        .delete(format!("{}/acme/plugins/shopify-orders", server.url))
        .bearer_auth(&acme.admin)
        .send()
        .await
        .expect("delete");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(post(source.clone(), envelope("shopify-orders", "S-2")).await.status(), StatusCode::FORBIDDEN);
}
