//! The engine's costs, for BENCHMARKS.md:
//! - one invocation: a fresh store, instantiation from the `InstancePre`
//!   and a small `handle` call on the smallest push plugin;
//! - loading 100 plugins, from the compiled-component cache versus
//!   compiling them with Cranelift.
//!
//! `cargo bench -p portitor --bench engine` (release build).

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portitor::engine::{CallOptions, CallerIdentity, Engine, EngineConfig, PartnerRequest};
use portitor::plugins::manifest::Manifest;
use portitor::security::secrets::{SecretSource, StaticSecrets};

/// An example plugin (built by the runtime's build script) or a test
/// plugin (built by the `test-programs` crate).
fn plugin(name: &str) -> Vec<u8> {
    let path = portitor_test_programs::path(name).unwrap_or_else(|| {
        std::path::Path::new(env!("WASM_PLUGIN_DIR")).join(format!("{}.wasm", name.replace('-', "_")))
    });
    std::fs::read(path).expect("plugin built by a build script")
}

/// `bytes` with a custom section appended: the same plugin with another
/// content hash, as 100 different tenants' plugins would have.
fn variant(bytes: &[u8], n: usize) -> Vec<u8> {
    let name = format!("bench-variant-{n}");
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    let mut size = section.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&section);
    out
}

fn secrets() -> Arc<dyn SecretSource> {
    Arc::new(StaticSecrets::new())
}

fn invocation(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    let manifest = Manifest::parse("kind = \"push-source\"").expect("manifest");
    let counter = engine.load("bench", "test-counter", &plugin("test-counter"), manifest, secrets()).expect("load");
    let request =
        PartnerRequest { method: "POST".into(), path: "/test".into(), body: b"42".to_vec(), ..Default::default() };
    let identity = CallerIdentity { company: "bench".into(), scheme: "none".into(), subject: None, delivery_id: None };
    c.bench_function("invocation/fresh-store+instantiate+handle", |b| {
        b.to_async(&runtime)
            .iter(|| async { counter.handle(&request, &identity, CallOptions::default()).await.expect("handle") })
    });

    // A real webhook: Shopify's orders/create (2.5 KB) mapped to the order model.
    let manifest = Manifest::parse("kind = \"push-source\"").expect("manifest");
    let shopify = engine.load("bench", "shopify-orders", &plugin("shopify-orders"), manifest, secrets()).expect("load");
    let webhook = PartnerRequest {
        method: "POST".into(),
        path: "/webhooks/shopify/orders".into(),
        headers: vec![("x-shopify-topic".into(), "orders/create".into())],
        body: include_bytes!("../../tests/fixtures/shopify-orders-create.json").to_vec(),
        ..Default::default()
    };
    c.bench_function("invocation/shopify-orders-handle-2.5kb", |b| {
        b.to_async(&runtime)
            .iter(|| async { shopify.handle(&webhook, &identity, CallOptions::default()).await.expect("handle") })
    });
}

fn loading(c: &mut Criterion) {
    let original = plugin("test-counter");
    let variants: Vec<Vec<u8>> = (0..100).map(|n| variant(&original, n)).collect();
    let cache = tempfile::tempdir().expect("tempdir");
    let cached = Engine::new(EngineConfig { cache_dir: Some(cache.path().to_path_buf()), ..EngineConfig::default() })
        .expect("engine");
    let uncached = Engine::new(EngineConfig::default()).expect("engine");
    let load_all = |engine: &Engine| {
        for (n, bytes) in variants.iter().enumerate() {
            let manifest = Manifest::parse("kind = \"push-source\"").expect("manifest");
            engine.load("bench", &format!("plugin-{n}"), bytes, manifest, secrets()).expect("load");
        }
    };
    load_all(&cached); // warm the cache

    let mut group = c.benchmark_group("load-100-plugins");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("from-compiled-cache", |b| b.iter(|| load_all(&cached)));
    group.bench_function("compiling", |b| b.iter(|| load_all(&uncached)));
    group.finish();
}

/// Plugins in JavaScript and Python, when `LANGUAGE_PROBES` names a
/// directory holding `js-probe.wasm` and `python-probe.wasm`
/// (`scripts/build-language-probes.sh` builds them): a webhook call of each
/// (a fresh store and instance per call, as always), and loading each from
/// the compile cache, which is what a restart does.
fn languages(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("LANGUAGE_PROBES").map(std::path::PathBuf::from) else {
        eprintln!("languages: LANGUAGE_PROBES is not set; skipped");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let cache = tempfile::tempdir().expect("tempdir");
    let engine = Engine::new(EngineConfig { cache_dir: Some(cache.path().to_path_buf()), ..EngineConfig::default() })
        .expect("engine");
    let identity = CallerIdentity { company: "bench".into(), scheme: "none".into(), subject: None, delivery_id: None };
    for (language, file) in [("javascript", "js-probe.wasm"), ("python", "python-probe.wasm")] {
        let bytes = std::fs::read(dir.join(file)).expect("a probe built by scripts/build-language-probes.sh");
        let started = std::time::Instant::now();
        let manifest = Manifest::parse("kind = \"push-source\"").expect("manifest");
        let plugin = engine.load("bench", language, &bytes, manifest, secrets()).expect("load");
        eprintln!("{language}: {} bytes, compiled and loaded in {:.2?}", bytes.len(), started.elapsed());
        let request = PartnerRequest {
            method: "POST".into(),
            path: "/probe".into(),
            body: b"{\"n\": 1}".to_vec(),
            ..Default::default()
        };
        let first = runtime.block_on(plugin.handle(&request, &identity, CallOptions::default())).expect("handle");
        eprintln!("{language}: a call's peak memory {} bytes", first.stats.memory_peak_bytes);
        c.bench_function(&format!("languages/{language}-handle"), |b| {
            b.to_async(&runtime)
                .iter(|| async { plugin.handle(&request, &identity, CallOptions::default()).await.expect("handle") })
        });
        // A restart: a new engine (an empty memory cache) loads the version
        // from the compile cache on disk.
        let restart = || {
            let fresh =
                Engine::new(EngineConfig { cache_dir: Some(cache.path().to_path_buf()), ..EngineConfig::default() })
                    .expect("engine");
            let manifest = Manifest::parse("kind = \"push-source\"").expect("manifest");
            fresh.load("bench", language, &bytes, manifest, secrets()).expect("load")
        };
        let mut group = c.benchmark_group("languages");
        group.sample_size(10);
        group.bench_function(format!("{language}-restart-load-from-compile-cache"), |b| b.iter(restart));
        group.finish();
    }
}

criterion_group!(benches, invocation, loading, languages);
criterion_main!(benches);
