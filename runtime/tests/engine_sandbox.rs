//! The sandbox rules, tested with hostile plugins built from source: each
//! fails its own invocation with a specific error within its limit, and the
//! next call of a well-behaved plugin succeeds.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use portitor::engine::{
    CallOptions, CallerIdentity, Engine, InvokeError, LoadError, LoadedPlugin, OutputError, PartnerRequest,
    PluginFailure,
};
use portitor::plugins::manifest::Manifest;
use portitor::security::secrets::{SecretSource, StaticSecrets};
use support::partner::Partner;

fn request(body: &str) -> PartnerRequest {
    PartnerRequest { method: "POST".into(), path: "/test".into(), body: body.as_bytes().to_vec(), ..Default::default() }
}

fn identity() -> CallerIdentity {
    CallerIdentity { company: "acme".into(), scheme: "none".into(), subject: None, delivery_id: None }
}

/// A call of the well-behaved counter plugin, which must succeed after any hostile one.
async fn well_behaved_call_succeeds(engine: &Engine) {
    let counter = support::load(engine, "test-counter", "kind = \"push-source\"", StaticSecrets::new());
    let done = counter.handle(&request("after"), &identity(), CallOptions::default()).await.expect("healthy call");
    assert_eq!(done.output.events.len(), 1);
    assert_eq!(done.output.events[0].external_id, "after");
}

async fn handle(
    plugin: &LoadedPlugin,
) -> Result<portitor::engine::Invocation<portitor::engine::PushOutput>, InvokeError> {
    plugin.handle(&request("x"), &identity(), CallOptions::default()).await
}

#[tokio::test]
async fn an_infinite_loop_stops_at_its_timeout() {
    let engine = support::engine();
    let spin =
        support::load(&engine, "test-loop", "kind = \"push-source\"\n[limits]\ntimeout_ms = 300", StaticSecrets::new());
    let started = Instant::now();
    let error = handle(&spin).await.expect_err("the loop must not finish");
    let elapsed = started.elapsed();
    assert!(matches!(&error, InvokeError::Timeout { limit, .. } if *limit == Duration::from_millis(300)), "{error}");
    assert!(error.to_string().contains("acme/test-loop"), "the error names the plugin: {error}");
    assert!(elapsed < Duration::from_millis(1_500), "stopped after {elapsed:?}");
    well_behaved_call_succeeds(&engine).await;
}

#[tokio::test]
async fn fuel_limits_stop_a_loop_deterministically() {
    let engine = support::engine();
    let spin =
        support::load(&engine, "test-loop", "kind = \"push-source\"\n[limits]\nfuel = 5000000", StaticSecrets::new());
    let error = handle(&spin).await.expect_err("the loop must not finish");
    assert!(matches!(error, InvokeError::FuelExhausted { limit: 5_000_000, .. }), "{error}");
    well_behaved_call_succeeds(&engine).await;
}

#[tokio::test]
async fn a_memory_bomb_is_refused_at_the_memory_limit() {
    let engine = support::engine();
    let bomb = support::load(
        &engine,
        "test-memory-bomb",
        "kind = \"push-source\"\n[limits]\nmemory_mib = 16",
        StaticSecrets::new(),
    );
    let error = handle(&bomb).await.expect_err("the bomb must not finish");
    match &error {
        InvokeError::MemoryExhausted { limit, requested, .. } => {
            assert_eq!(*limit, 16 * 1024 * 1024);
            assert!(*requested > *limit, "asked for {requested}");
        }
        other => panic!("expected MemoryExhausted, got {other}"),
    }
    well_behaved_call_succeeds(&engine).await;
}

#[tokio::test]
async fn a_host_that_is_not_allowed_is_never_reached() {
    let engine = support::engine();
    let target = Partner::anything().await;

    // Not in the allow-list at all.
    let manifest = format!("kind = \"push-source\"\n[config]\ntarget = \"{}/x\"", target.url());
    let plugin = support::load(&engine, "test-forbidden-host", &manifest, StaticSecrets::new());
    let error = handle(&plugin).await.expect_err("must be denied");
    assert!(
        matches!(&error, InvokeError::Plugin { failure: PluginFailure::Fatal(m), .. } if m.contains("not in the manifest's network.allowed_hosts")),
        "{error}"
    );

    // Allowed by name, but the name resolves to loopback, which the manifest does not grant.
    let manifest = format!(
        "kind = \"push-source\"\n[network]\nallowed_hosts = [\"localhost:{0}\"]\n[config]\ntarget = \"http://localhost:{0}/x\"",
        target.addr.port()
    );
    let plugin = support::load(&engine, "test-forbidden-host", &manifest, StaticSecrets::new());
    let error = handle(&plugin).await.expect_err("must be denied after resolution");
    assert!(
        matches!(&error, InvokeError::Plugin { failure: PluginFailure::Fatal(m), .. } if m.contains("a loopback address")),
        "{error}"
    );

    // An IP literal in the allow-list is still checked as an address: not
    // listed (and granted) as a private host, the manifest is refused at load.
    let manifest = format!(
        "kind = \"push-source\"\n[network]\nallowed_hosts = [\"127.0.0.1\"]\n[config]\ntarget = \"{}/x\"",
        target.url()
    );
    let error = load_err(&engine, &support::plugin_bytes("test-forbidden-host"), &manifest);
    assert!(error.to_string().contains("a loopback address"), "{error}");

    assert!(target.requests().is_empty(), "the forbidden host was reached: {:?}", target.requests());
    well_behaved_call_succeeds(&engine).await;
}

/// A push plugin's manifest with connection `partner` to `partner`'s `/api`
/// (its key, secret `partner-api-key`, in header `x-api-key`) and `config`.
fn partner_connection_manifest(partner: &Partner, config: &str) -> String {
    format!(
        r#"
        kind = "push-source"
        [network]
        private_hosts = ["127.0.0.1"]
        [http.connections.partner]
        base_url = "{}/api"
        auth = {{ type = "header", name = "x-api-key", secret = "partner-api-key" }}
        [config]
        {config}
        "#,
        partner.url()
    )
}

#[tokio::test]
async fn a_connection_secret_never_reaches_the_plugin_or_another_host() {
    const SECRET: &str = "pk_live_7d1e5c0a9b";
    let engine = support::engine();
    let partner = Partner::anything().await;
    let attacker = Partner::anything().await;
    let manifest = partner_connection_manifest(&partner, &format!("attacker = \"{}\"", attacker.url()));
    let plugin =
        support::load(&engine, "test-secret-probe", &manifest, StaticSecrets::new().with("partner-api-key", SECRET));
    let error = handle(&plugin).await.expect_err("the probe reports by failing");
    let report = error.to_string();
    assert!(report.contains("probe report"), "{report}");
    assert!(!report.contains(SECRET), "the plugin saw the secret: {report}");
    assert!(report.contains("outside connection `partner`"), "escapes from the base URL are denied: {report}");
    assert!(attacker.requests().is_empty(), "the attacker's host was reached: {:?}", attacker.requests());
    // The credential went only where the connection points, attached by the host.
    let to_partner = partner.requests();
    assert!(!to_partner.is_empty());
    assert!(to_partner.iter().all(|r| r.path.starts_with("/api/")));
    assert!(to_partner.iter().all(|r| r.headers.contains(&("x-api-key".into(), SECRET.into()))));
    well_behaved_call_succeeds(&engine).await;
}

#[tokio::test]
async fn a_panic_fails_with_its_message() {
    let engine = support::engine();
    let plugin = support::load(&engine, "test-panic", "kind = \"push-source\"", StaticSecrets::new());
    let error = handle(&plugin).await.expect_err("panics");
    assert!(
        matches!(&error, InvokeError::Trapped { message, .. } if message.contains("deliberate panic in handle")),
        "{error}"
    );
    well_behaved_call_succeeds(&engine).await;
}

#[tokio::test]
async fn an_oversized_batch_is_refused_whole() {
    let engine = support::engine();
    let plugin = support::load(
        &engine,
        "test-oversized-batch",
        "kind = \"pull-source\"\n[limits]\nmemory_mib = 128",
        StaticSecrets::new(),
    );
    let error = plugin.fetch(None, None, CallOptions::default()).await.expect_err("over the cap");
    assert!(
        matches!(
            &error,
            InvokeError::InvalidOutput { error: OutputError::TooManyEvents { actual: 100_000, limit: 1_000 }, .. }
        ),
        "{error}"
    );
    well_behaved_call_succeeds(&engine).await;
}

#[tokio::test]
async fn every_call_gets_a_fresh_store() {
    let engine = support::engine();
    let counter = support::load(&engine, "test-counter", "kind = \"push-source\"", StaticSecrets::new());
    for call in 0..3 {
        let done = counter.handle(&request("n"), &identity(), CallOptions::default()).await.expect("call");
        assert_eq!(done.output.events[0].payload_json()["calls"], 1, "call {call} saw state from an earlier call");
    }
    // Concurrent calls do not share state either.
    let calls = (0..8).map(|_| {
        let counter = counter.clone();
        tokio::spawn(async move { counter.handle(&request("c"), &identity(), CallOptions::default()).await })
    });
    for call in futures::future::join_all(calls).await {
        let done = call.expect("task").expect("call");
        assert_eq!(done.output.events[0].payload_json()["calls"], 1);
        assert!(done.stats.fuel_consumed > 0, "fuel is metered");
    }
}

#[tokio::test]
async fn hostile_calls_running_at_once_do_not_disturb_others() {
    let engine = support::engine();
    let spin = support::load(
        &engine,
        "test-loop",
        "kind = \"push-source\"\n[limits]\ntimeout_ms = 1000",
        StaticSecrets::new(),
    );
    let counter = support::load(&engine, "test-counter", "kind = \"push-source\"", StaticSecrets::new());
    let spinning = tokio::spawn(async move { handle(&spin).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    counter.handle(&request("during"), &identity(), CallOptions::default()).await.expect("healthy call");
    assert!(started.elapsed() < Duration::from_millis(500), "a spinning guest starved the others");
    assert!(matches!(spinning.await.expect("task"), Err(InvokeError::Timeout { .. })));
}

/// The status and body a `test-fetch` call got through `wasi:http`.
fn fetched(invocation: &portitor::engine::Invocation<portitor::engine::PushOutput>) -> serde_json::Value {
    serde_json::from_str(invocation.output.events[0].payload.get()).expect("payload")
}

#[tokio::test]
async fn wasi_http_goes_through_the_same_egress_policy_and_connections() {
    const SECRET: &str = "pk_live_wasi_3f9a";
    let engine = support::engine();
    let partner = Partner::anything().await;
    let elsewhere = Partner::anything().await;
    let port = partner.addr.port();

    // A host the manifest does not allow: denied before anything is sent,
    // and the plugin's log (the tenant's view) says why.
    let manifest = format!("kind = \"push-source\"\n[config]\ntarget = \"{}/x\"", elsewhere.url());
    let plugin = support::load(&engine, "test-fetch", &manifest, StaticSecrets::new());
    let logs = Arc::new(portitor::ops::plugin_logs::PluginLogs::default());
    let options = CallOptions { log_sink: Some(logs.clone()), ..CallOptions::default() };
    let error = plugin.handle(&request("x"), &identity(), options).await.expect_err("must be denied");
    assert!(error.to_string().contains("HttpRequestDenied"), "{error}");
    let lines: Vec<String> = logs.recent("acme", "test-fetch", 10).into_iter().map(|line| line.message).collect();
    assert!(
        lines.iter().any(|line| line.contains("request denied") && line.contains("not in the manifest's network.allowed_hosts")),
        "{lines:?}"
    );

    // Allowed by name, but the name resolves to loopback, which the manifest
    // does not grant: denied after resolution, as for `http`.
    let manifest = format!(
        "kind = \"push-source\"\n[network]\nallowed_hosts = [\"localhost:{port}\"]\n[config]\ntarget = \"http://localhost:{port}/x\""
    );
    let plugin = support::load(&engine, "test-fetch", &manifest, StaticSecrets::new());
    let error = handle(&plugin).await.expect_err("must be denied after resolution");
    assert!(error.to_string().contains("HttpRequestDenied"), "{error}");
    assert!(partner.requests().is_empty() && elsewhere.requests().is_empty(), "a denied request was sent");

    // Below a named connection's base URL: sent, with the connection's
    // credential attached by the host in place of the guest's own header.
    let manifest = partner_connection_manifest(&partner, &format!("target = \"{}/api/orders?page=2\"", partner.url()));
    let plugin = support::load(&engine, "test-fetch", &manifest, StaticSecrets::new().with("partner-api-key", SECRET));
    let done = handle(&plugin).await.expect("sent through the connection");
    assert_eq!(fetched(&done), serde_json::json!({"status": 200, "body": "ok"}));
    let seen = partner.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].path.as_str(), seen[0].query.as_str()), ("/api/orders", "page=2"));
    let keys: Vec<&str> =
        seen[0].headers.iter().filter(|(name, _)| name == "x-api-key").map(|(_, value)| value.as_str()).collect();
    assert_eq!(keys, [SECRET], "the host's credential, once, never the guest's");

    // A guest cannot hold more than a few requests and responses at once
    // (they live outside its memory limit): past them, refused unsent.
    let busy = Partner::anything().await;
    let manifest = format!(
        "kind = \"push-source\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\nallowed_hosts = [\"127.0.0.1:{0}\"]\n\
         [config]\ntarget = \"http://127.0.0.1:{0}/many\"\nparallel = \"12\"",
        busy.addr.port()
    );
    let plugin = support::load(&engine, "test-fetch", &manifest, StaticSecrets::new());
    let done = handle(&plugin).await.expect("holds what it may");
    let held: serde_json::Value = serde_json::from_str(done.output.events[0].payload.get()).expect("payload");
    assert_eq!(held["answered"], 8, "{held}");
    assert_eq!(held["refused"], serde_json::json!(vec!["ErrorCode::ConnectionLimitReached"; 4]), "{held}");
    assert_eq!(busy.requests().len(), 8, "the refused ones were never sent");

    // A response over the manifest's cap is refused, not buffered whole.
    let big = Partner::start(axum::Router::new().fallback(|| async { "x".repeat(64 * 1024) })).await;
    let manifest = format!(
        "kind = \"push-source\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\nallowed_hosts = [\"127.0.0.1:{0}\"]\n\
         [limits]\nmax_http_response_bytes = 1024\n[config]\ntarget = \"http://127.0.0.1:{0}/big\"",
        big.addr.port()
    );
    let plugin = support::load(&engine, "test-fetch", &manifest, StaticSecrets::new());
    let error = handle(&plugin).await.expect_err("over the cap");
    assert!(error.to_string().contains("over the cap of 1024 bytes"), "{error}");
    well_behaved_call_succeeds(&engine).await;
}

fn load_err(engine: &Engine, bytes: &[u8], manifest: &str) -> LoadError {
    let manifest = Manifest::parse(manifest).expect("manifest");
    let secrets: Arc<dyn SecretSource> = Arc::new(StaticSecrets::new());
    engine.load("acme", "bad", bytes, manifest, secrets).expect_err("must be refused")
}

#[tokio::test]
async fn bad_components_are_refused_with_a_reason() {
    let engine = support::engine();
    let error = load_err(&engine, b"this is not wasm", "kind = \"push-source\"");
    assert!(error.to_string().contains("not a WebAssembly file"), "{error}");
    assert!(error.to_string().contains("acme/bad"), "{error}");

    let core_module = b"\0asm\x01\x00\x00\x00";
    let error = load_err(&engine, core_module, "kind = \"push-source\"");
    assert!(error.to_string().contains("core WebAssembly module, not a component"), "{error}");

    let pull = support::plugin_bytes("test-oversized-batch");
    let error = load_err(&engine, &pull, "kind = \"push-source\"");
    let message = error.to_string();
    assert!(message.contains("must export `portitor:plugin/push-handler@0.1.0`"), "{message}");
    assert!(message.contains("is the manifest's kind wrong?"), "{message}");

    let error = load_err(&engine, &pull, "kind = \"pull-source\"\n[limits]\nmemory_mib = 100000");
    assert!(error.to_string().contains("over the platform's cap engine.caps.memory_mib"), "{error}");

    let error = Manifest::parse("kind = \"push-source\"\nallowed_hosts = []").expect_err("unknown key");
    assert!(error.to_string().contains("unknown field `allowed_hosts`"), "{error}");

    well_behaved_call_succeeds(&engine).await;
}
