//! Plugins written in JavaScript (ComponentizeJS) and Python
//! (componentize-py), built from source here by the toolchains `just setup`
//! installs. End to end through the real binary: they answer webhooks, and
//! their hostile modes (a loop, a memory bomb, a forbidden host) are
//! contained like a Rust plugin's — the call fails, the request is kept as a
//! dead letter, the forbidden host is never reached, the server goes on. In
//! the engine: `shopify-orders` in TypeScript and `bring-ftp` in Python make
//! the same events (and cursor) as the Rust plugins from the same input; through
//! the binary, a Shopify webhook stores the same order either way, and the
//! Python `bring-ftp` pulls with its cursor across a restart. Plugins build
//! with the SDKs' one-command builds (`guest-sdk/typescript`, `guest-sdk/python`),
//! and the projects `portitor plugin new` writes build and pass their fixture
//! in every language.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use portitor::engine::{CallOptions, CallerIdentity, PartnerRequest};
use portitor::plugins::manifest::Manifest;
use portitor::security::secrets::{SecretSource, StaticSecrets};

use reqwest::StatusCode;
use serde_json::Value;
use support::ftp::{self, FtpServer};
use support::partner::Partner;
use support::server::{Portitor, files_under};
use support::tenant::Tenant;

/// The repository's root (tests run from `runtime/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("runtime/ has a parent").to_path_buf()
}

/// Runs a toolchain's build; its output on failure.
fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot start ({e}); run `./justw setup`"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The npm packages `just setup` installs (ComponentizeJS, TypeScript, jco,
/// rolldown), for the TypeScript SDK's build.
fn js_tools() -> String {
    std::env::var("PLUGIN_JS_TOOLS")
        .expect("PLUGIN_JS_TOOLS names the npm tools' node_modules; run the tests with `./justw test`")
}

/// A TypeScript or JavaScript project (`plugin.ts` or `plugin.js`) built
/// for `world` by the SDK's one-command build.
fn build_typescript_project(project: &Path, world: &str, out: &Path) -> Vec<u8> {
    let name = project.file_name().expect("a project directory").to_string_lossy().into_owned();
    let wasm = out.join(format!("{name}.wasm"));
    let mut command = Command::new("node");
    command
        .env("PLUGIN_JS_TOOLS", js_tools())
        .arg(root().join("guest-sdk/typescript/build.mjs"))
        .args(["--kind", world, "--project"])
        .arg(project)
        .arg("--wit")
        .arg(root().join("wit"))
        .arg("--types")
        .arg(out.join(format!("{name}-types")))
        .arg("--out")
        .arg(&wasm);
    run(command, &format!("building the TypeScript plugin {name}"));
    std::fs::read(wasm).expect("built")
}

/// A Python project (`app.py`) built for `world` by the SDK's one-command build.
fn build_python_project(project: &Path, world: &str, out: &Path) -> Vec<u8> {
    let name = project.file_name().expect("a project directory").to_string_lossy().into_owned();
    let wasm = out.join(format!("{name}.wasm"));
    let mut command = Command::new("python3");
    command
        .current_dir(out)
        .arg(root().join("guest-sdk/python/build.py"))
        .args(["--kind", world, "--project"])
        .arg(project)
        .arg("--wit")
        .arg(root().join("wit"))
        .arg("--bindings")
        .arg(out.join(format!("{name}-bindings")))
        .arg("--out")
        .arg(&wasm);
    run(command, &format!("building the Python plugin {name}"));
    std::fs::read(wasm).expect("built")
}

/// `plugins/languages/{plugin}` built for `world`.
fn build_javascript(plugin: &str, world: &str, out: &Path) -> Vec<u8> {
    build_typescript_project(&root().join("plugins/languages").join(plugin), world, out)
}

/// `plugins/languages/{plugin}/app.py` built for `world`.
fn build_python(plugin: &str, world: &str, out: &Path) -> Vec<u8> {
    build_python_project(&root().join("plugins/languages").join(plugin), world, out)
}

const WEBHOOK: &str = "webhook = { scheme = \"none\" }\n";

/// Posts `body` to the tenant's `path`; the status and the JSON answer.
async fn post(server: &Portitor, path: &str, body: &str) -> (StatusCode, Value) {
    let response = Portitor::client()
        .post(format!("{}/acme{path}", server.url))
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The dead letters' errors of plugin `id`.
fn dead_letters(data: &Path, id: &str) -> Vec<String> {
    let dir = data.join("acme/deadletter").join(id);
    files_under(&dir)
        .iter()
        .map(|name| {
            let letter: Value = serde_json::from_slice(&std::fs::read(dir.join(name)).expect("read")).expect("json");
            letter["error"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

async fn behaves_and_is_contained(language: &str, component: Vec<u8>, path: &str) {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let forbidden = Partner::anything().await;
    let install = |id: &'static str, manifest: String| {
        let (tenant, component) = (&tenant, component.clone());
        async move {
            let (status, body) = tenant.try_install_bytes(id, component, &manifest).await;
            assert_eq!(status, StatusCode::CREATED, "{language} {id}: {body}");
        }
    };

    // Well-behaved: a webhook becomes a stored event with what was sent.
    install("echo", format!("kind = \"push-source\"\n{WEBHOOK}")).await;
    let (status, answer) = post(&server, &format!("{path}/echo"), "{\"hello\": 1}").await;
    assert_eq!(status, StatusCode::CREATED, "{language}: {answer}");
    let id = answer["events"][0]["id"].as_str().expect("event id").to_string();
    let order = tenant.get(&format!("/acme/order/{id}?payload=true")).await;
    assert_eq!(order["order"]["seen"], "{\"hello\": 1}", "{language}: {order}");
    assert_eq!(order["order"]["company"], "acme", "{language}: {order}");
    assert_eq!(order["order"]["language"], language.to_lowercase(), "{order}");

    // Hostile: each fails its own call within its limit and keeps the request.
    let mut hostile = vec![
        ("loop", "[limits]\ntimeout_ms = 1000\n[config]\nmode = \"loop\"\n".to_string(), "timed out"),
        ("bomb", "[limits]\nmemory_mib = 128\n[config]\nmode = \"bomb\"\n".to_string(), "memory"),
        (
            "forbidden",
            format!("[config]\nmode = \"forbidden\"\ntarget = \"{}/steal\"\n", forbidden.url()),
            "not in the manifest's network.allowed_hosts",
        ),
    ];
    if language == "TypeScript" {
        // The standard `fetch()`, through `wasi:http`: the same policy.
        let manifest = format!("[config]\nmode = \"fetch\"\ntarget = \"{}/steal\"\n", forbidden.url());
        hostile.push(("fetch", manifest, "fetch refused"));
    }
    for (id, manifest, cause) in hostile {
        install(id, format!("kind = \"push-source\"\n{WEBHOOK}{manifest}")).await;
        let started = std::time::Instant::now();
        let (status, answer) = post(&server, &format!("{path}/{id}"), id).await;
        assert!(status.is_server_error(), "{language} {id}: {status} {answer}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{language} {id}: {:?}", started.elapsed());
        let letters = dead_letters(data.path(), id);
        assert_eq!(letters.len(), 1, "{language} {id}: {letters:?}");
        assert!(letters[0].contains(cause), "{language} {id}: `{}` does not say {cause}", letters[0]);
    }
    assert!(forbidden.requests().is_empty(), "{language}: the forbidden host was reached");
    if language == "TypeScript" {
        let logs = tenant.get("/acme/plugins/fetch/logs").await.to_string();
        assert!(logs.contains("wasi:http: request denied"), "the tenant is not told why: {logs}");
    }

    // The server goes on: the well-behaved plugin answers again.
    let (status, answer) = post(&server, &format!("{path}/echo"), "again").await;
    assert_eq!(status, StatusCode::CREATED, "{language}: {answer}");
}

#[tokio::test]
async fn a_typescript_plugin_built_with_componentize_js_answers_webhooks_and_is_contained() {
    let out = tempfile::tempdir().expect("tempdir");
    let component = build_javascript("js-probe", "push-source", out.path());
    behaves_and_is_contained("TypeScript", component, "/probe/js").await;
}

#[tokio::test]
async fn a_python_plugin_built_with_componentize_py_answers_webhooks_and_is_contained() {
    let out = tempfile::tempdir().expect("tempdir");
    let component = build_python("python-probe", "push-source", out.path());
    behaves_and_is_contained("Python", component, "/probe/python").await;
}

/// The events `component` makes of a Shopify webhook with `body`, as
/// (kind, external id, payload as JSON).
async fn shopify_events(
    engine: &portitor::engine::Engine,
    id: &str,
    component: &[u8],
    body: &[u8],
) -> Vec<(String, String, Value)> {
    let manifest = Manifest::parse("kind = \"push-source\"").expect("manifest");
    let secrets: Arc<dyn SecretSource> = Arc::new(StaticSecrets::new());
    let plugin = engine.load("acme", id, component, manifest, secrets).expect("load");
    let request = PartnerRequest {
        method: "POST".into(),
        path: "/webhooks/shopify/orders".into(),
        headers: vec![("x-shopify-topic".into(), "orders/create".into())],
        body: body.to_vec(),
        ..Default::default()
    };
    let identity = CallerIdentity { company: "acme".into(), scheme: "hmac".into(), subject: None, delivery_id: None };
    let done = plugin.handle(&request, &identity, CallOptions::default()).await.unwrap_or_else(|e| panic!("{id}: {e}"));
    done.output
        .events
        .iter()
        .map(|event| {
            let payload = serde_json::from_str(event.payload.get()).expect("payload");
            (event.kind.clone(), event.external_id.clone(), payload)
        })
        .collect()
}

#[tokio::test]
async fn shopify_orders_in_typescript_makes_the_same_events_as_in_rust() {
    let out = tempfile::tempdir().expect("tempdir");
    let typescript = build_javascript("shopify-orders-ts", "push-source", out.path());
    let rust = support::plugin_bytes("shopify-orders");
    let engine = support::engine();
    let fixture: Value =
        serde_json::from_slice(include_bytes!("fixtures/shopify-orders-create.json")).expect("fixture");
    // Shopify's own example, and the same order with what a real one may
    // lack: no customer, no shipping address or lines, a line without SKU,
    // weight or tax lines.
    let mut sparse = fixture.clone();
    sparse["customer"] = Value::Null;
    sparse["shipping_address"] = Value::Null;
    sparse["shipping_lines"] = serde_json::json!([]);
    let line = &mut sparse["line_items"][0];
    line["sku"] = Value::Null;
    line.as_object_mut().expect("a line").remove("grams");
    line["tax_lines"] = serde_json::json!([]);
    for (case, order) in [("Shopify's example", fixture), ("a sparse order", sparse)] {
        let body = serde_json::to_vec(&order).expect("json");
        let from_rust = shopify_events(&engine, "shopify-orders", &rust, &body).await;
        let from_typescript = shopify_events(&engine, "shopify-orders-ts", &typescript, &body).await;
        assert_eq!(from_rust.len(), 1, "{case}: {from_rust:?}");
        assert_eq!(from_typescript, from_rust, "{case}: TypeScript and Rust disagree");
    }
}

/// A `bring-ftp` manifest (with `extra` lines) on the test FTP server's `port`.
fn bring_manifest(port: u16, extra: &str) -> String {
    format!(
        "kind = \"pull-source\"\n{extra}[network]\nprivate_hosts = [\"127.0.0.1\"]\n[ftp.connections.drop-folder]\n\
         host = \"127.0.0.1\"\nport = {port}\nusername = \"{}\"\npassword_secret = \"bring-ftp-password\"\n",
        ftp::USER
    )
}

/// A batch as (events as (kind, external id, payload), the next cursor as JSON, more waiting).
type Fetched = (Vec<(String, String, Value)>, Value, bool);

async fn bring_fetch(plugin: &portitor::engine::LoadedPlugin, cursor: Option<String>) -> (Fetched, String) {
    let batch = plugin.fetch(cursor, None, CallOptions::default()).await.expect("fetch").output;
    let events = batch
        .events
        .iter()
        .map(|e| (e.kind.clone(), e.external_id.clone(), serde_json::from_str(e.payload.get()).expect("payload")))
        .collect();
    let cursor: Value = serde_json::from_str(&batch.next_cursor).expect("cursor is JSON");
    ((events, cursor, batch.has_more), batch.next_cursor)
}

#[tokio::test]
async fn bring_ftp_in_python_makes_the_same_events_and_cursor_as_in_rust() {
    let out = tempfile::tempdir().expect("tempdir");
    let python = build_python("bring-ftp-py", "pull-source", out.path());
    let rust = support::plugin_bytes("bring-ftp");
    let engine = support::engine();
    let server = FtpServer::start();
    let bring_file = include_str!("fixtures/ORD_NVNO_20260314T101500Z_000042.csv");
    let now = ftp::now_secs();
    // The partner's file, a later one repeating an order with another
    // price, one that cannot be read, and one still being written (newest).
    server.put("in/ORD_NVNO_20260314T101500Z_000042.csv", bring_file, now - 300);
    let header = bring_file.lines().next().expect("header");
    let repeat = format!(
        "{header}\nNO-30117;2026-03-14T11:02:45+01:00;NVNO;NOK;1;NV-JKT-SHL-M;3;1999.5;25;Kari Nordmann;;Karl Johans gate 22;;0159;Oslo;NO;;;BRING_5800;;\n"
    );
    server.put("in/ORD_NVNO_20260314T111500Z_000043.csv", &repeat, now - 200);
    server.put("in/ORD_NVNO_20260314T121500Z_000044.csv", "order_number;sku\nNO-1;\"open\n", now - 100);
    server.put("in/ORD_NVNO_20260314T131500Z_000045.csv", &format!("{header}\n"), now - 10);
    server.put("in/notes.txt", "not an order file", now - 50);
    let manifest = bring_manifest(server.port, "");
    let load = |id: &str, component: &[u8]| {
        let secrets: Arc<dyn SecretSource> = Arc::new(StaticSecrets::new().with("bring-ftp-password", ftp::PASSWORD));
        let manifest = Manifest::parse(&manifest).expect("manifest");
        engine.load("acme", id, component, manifest, secrets).expect("load")
    };
    let (from_rust, from_python) = (load("bring-ftp", &rust), load("bring-ftp-py", &python));

    let (rust_first, rust_cursor) = bring_fetch(&from_rust, None).await;
    let (python_first, python_cursor) = bring_fetch(&from_python, None).await;
    assert_eq!(rust_first.0.len(), 3, "{:?}", rust_first.0);
    assert!(rust_first.1["files"]["ORD_NVNO_20260314T121500Z_000044.csv"]["error"].is_string(), "{}", rust_first.1);
    assert_eq!(python_first, rust_first, "the first fetch: Python and Rust disagree");

    // Again from each one's own cursor: only the file still being written
    // is read again (it has no orders), and the cursors still agree.
    let (rust_again, _) = bring_fetch(&from_rust, Some(rust_cursor)).await;
    let (python_again, _) = bring_fetch(&from_python, Some(python_cursor)).await;
    assert!(rust_again.0.is_empty(), "{:?}", rust_again.0);
    assert_eq!(python_again, rust_again, "the next fetch: Python and Rust disagree");
}

/// The ids of the orders received for `acme`, each checked to be received once.
fn received_orders(data: &Path) -> std::collections::BTreeSet<String> {
    let mut ids = std::collections::BTreeSet::new();
    for key in files_under(&data.join("acme/events/orders")).iter().filter(|key| key.ends_with("/OrderReceived")) {
        let id = key.split('/').next().expect("an order id").to_string();
        assert!(ids.insert(id.clone()), "order {id} received twice");
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bring_ftp_in_python_pulls_through_the_binary_and_its_cursor_survives_a_restart() {
    let out = tempfile::tempdir().expect("tempdir");
    let python = build_python("bring-ftp-py", "pull-source", out.path());
    let ftp_server = FtpServer::start();
    let bring_file = include_str!("fixtures/ORD_NVNO_20260314T101500Z_000042.csv");
    let header = bring_file.lines().next().expect("header");
    let orders = |numbers: &[&str]| {
        let mut csv = format!("{header}\n");
        for number in numbers {
            csv.push_str(&format!(
                "{number};2026-03-14T11:02:45+01:00;NVNO;NOK;1;NV-JKT-SHL-M;1;1899.00;0.25;Kari Nordmann;;Karl Johans gate 22;;0159;Oslo;NO;;;BRING_5800;;\n"
            ));
        }
        csv
    };
    let t0 = ftp::now_secs() - 120;
    ftp_server.put("in/ORD_1.csv", &orders(&["NO-1", "NO-2", "NO-3"]), t0);
    ftp_server.put("in/ORD_2.csv", &orders(&["NO-4", "NO-5"]), t0 + 10);
    // Run by hand only: the schedule is once a year.
    let manifest = bring_manifest(ftp_server.port, "schedule = \"0 0 0 1 1 *\"\n");
    let expected = |numbers: &[&str]| -> std::collections::BTreeSet<String> {
        numbers.iter().map(|n| portitor::orders::order_id("acme", "bring-py", n).to_string()).collect()
    };

    let data = tempfile::tempdir().expect("tempdir");
    let mut server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("bring-ftp-password", ftp::PASSWORD).await;
    let (status, body) = tenant.try_install_bytes("bring-py", python, &manifest).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let run = tenant.run("bring-py").await;
    assert_eq!((run["error"].clone(), run["created"].clone()), (Value::Null, Value::from(5)), "{run}");
    assert_eq!(received_orders(data.path()), expected(&["NO-1", "NO-2", "NO-3", "NO-4", "NO-5"]));
    assert!(server.terminate());

    // After a restart the stored cursor is where the run starts: nothing
    // again, and only the new file's orders.
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let run = tenant.run("bring-py").await;
    assert_eq!((run["error"].clone(), run["created"].clone()), (Value::Null, Value::from(0)), "{run}");
    assert!(run["cursorBefore"].is_string(), "the cursor survived the restart: {run}");
    ftp_server.put("in/ORD_3.csv", &orders(&["NO-6", "NO-7"]), t0 + 20);
    let run = tenant.run("bring-py").await;
    assert_eq!((run["error"].clone(), run["created"].clone()), (Value::Null, Value::from(2)), "{run}");
    assert_eq!(received_orders(data.path()), expected(&["NO-1", "NO-2", "NO-3", "NO-4", "NO-5", "NO-6", "NO-7"]));
}

#[tokio::test]
async fn a_shopify_webhook_through_the_typescript_plugin_stores_the_order_the_rust_one_stores() {
    let out = tempfile::tempdir().expect("tempdir");
    let typescript = build_javascript("shopify-orders-ts", "push-source", out.path());
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    // One path per tenant: acme runs the Rust plugin, globex the TypeScript one.
    let manifest = format!("kind = \"push-source\"\n{WEBHOOK}");
    let rust_tenant = Tenant::new(&server, "acme");
    rust_tenant.install("shopify-orders", "shopify-orders", &manifest).await;
    let ts_tenant = Tenant::new(&server, "globex");
    let (status, body) = ts_tenant.try_install_bytes("shopify-orders", typescript, &manifest).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let fixture = include_str!("fixtures/shopify-orders-create.json");
    let mut stored = Vec::new();
    for tenant in [&rust_tenant, &ts_tenant] {
        let response = Portitor::client()
            .post(format!("{}/{}/webhooks/shopify/orders", server.url, tenant.company))
            .header("x-shopify-topic", "orders/create")
            .body(fixture)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED, "{}", tenant.company);
        let answer: Value = response.json().await.expect("json");
        let id = answer["events"][0]["id"].as_str().expect("event id").to_string();
        let order = tenant.get(&format!("/{}/order/{id}?payload=true", tenant.company)).await;
        stored.push((order["externalId"].clone(), order["order"].clone()));
    }
    assert!(stored[0].1.is_object(), "{:?}", stored[0]);
    assert_eq!(stored[1], stored[0], "the TypeScript plugin stored another order than the Rust one");
}

// Projects from `portitor plugin new`: every kind in every language builds
// with the command its README gives and passes its fixture through
// `portitor plugin test` — the same fixture in all three languages, so the
// three templates of a kind make the same events.

const KINDS: [&str; 5] = ["push-source", "pull-source", "validator", "mapper", "warehouse"];

/// Runs the real binary with `args` in `dir`; its output.
fn portitor_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(support::server::binary()).current_dir(dir).args(args).output().expect("portitor runs")
}

fn new_projects_build_and_pass_their_fixtures(language: &str) {
    // A fixed place, so that a rerun builds the Rust projects incrementally.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-projects").join(language);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("projects directory");
    for kind in KINDS {
        let name = format!("acme-{kind}");
        let created = portitor_in(&dir, &["plugin", "new", &name, "--kind", kind, "--lang", language]);
        assert!(created.status.success(), "plugin new: {}", String::from_utf8_lossy(&created.stderr));
        let project = dir.join(&name);
        let component = match language {
            "rust" => {
                let mut command = Command::new("cargo");
                command.current_dir(&project).env("CARGO_TARGET_DIR", dir.join("target")).args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                ]);
                run(command, &format!("cargo build of {name}"));
                dir.join("target/wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")))
            }
            "python" => {
                let mut command = Command::new("python3");
                command.current_dir(&project).arg("sdk/python/build.py");
                run(command, &format!("the Python build of {name}"));
                project.join("plugin.wasm")
            }
            _ => {
                let mut command = Command::new("node");
                command.current_dir(&project).env("PLUGIN_JS_TOOLS", js_tools()).arg("sdk/typescript/build.mjs");
                run(command, &format!("the TypeScript build of {name}"));
                project.join("plugin.wasm")
            }
        };
        let component = component.to_str().expect("a UTF-8 path");
        let test = ["plugin", "test", "--component", component, "--manifest", "plugin.toml"];
        let tested = portitor_in(&project, &test);
        let stdout = String::from_utf8_lossy(&tested.stdout);
        assert!(tested.status.success(), "{name} in {language}: {stdout}{}", String::from_utf8_lossy(&tested.stderr));
        assert!(stdout.contains("1 fixtures: 1 passed, 0 failed"), "{stdout}");

        // The check can fail: an expectation the plugin does not meet is reported.
        let fixture = project.join("fixtures/example.json");
        let mut document: Value = serde_json::from_slice(&std::fs::read(&fixture).expect("fixture")).expect("JSON");
        document["expect"]["events"] = serde_json::json!([{ "kind": "order", "external_id": "other" }]);
        document["expect"]["findings"] = serde_json::json!([]);
        std::fs::write(&fixture, document.to_string()).expect("fixture written");
        let failed = portitor_in(&project, &test);
        assert!(!failed.status.success(), "{name}: a wrong expectation passed");
        assert!(String::from_utf8_lossy(&failed.stdout).contains("FAILED  fixtures/example.json"));
    }
}

#[test]
fn plugin_new_projects_in_rust_build_and_pass_their_fixtures() {
    new_projects_build_and_pass_their_fixtures("rust");
}

#[test]
fn plugin_new_projects_in_python_build_and_pass_their_fixtures() {
    new_projects_build_and_pass_their_fixtures("python");
}

#[test]
fn plugin_new_projects_in_typescript_build_and_pass_their_fixtures() {
    new_projects_build_and_pass_their_fixtures("typescript");
}
