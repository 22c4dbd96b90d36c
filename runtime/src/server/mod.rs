//! `portitor serve`: opens the store, wires ingest, the queue and the API,
//! and serves until the shutdown signal. Shutdown is a parameter: the
//! server stops accepting, lets requests in flight finish (up to the grace
//! period) and only then returns — an acknowledged order is already durable.
//! [`connections`] serves the sockets within `[http]`'s limits.

pub mod connections;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::connections::{ConnectionLimits, Shed};
use crate::api::{self, AppState, Shared};
use crate::cluster::lease::ScheduleLeases;
use crate::cluster::node_sync::NodeSync;
use crate::cluster::shared_queue::SharedQueue;
use crate::config::{Config, HttpConfig, StoreBackend};
use crate::engine::{Engine, EngineConfig};
use crate::events::{EventLog, keys};
use crate::ingest::Ingest;
use crate::ops::activity::PluginActivity;
use crate::ops::audit::Audit;
use crate::ops::metrics::Metrics;
use crate::ops::plugin_logs::PluginLogs;
use crate::orders::book::OrderBook;
use crate::pipeline::Pipeline;
use crate::pipeline::config::TenantConfigs;
use crate::pipeline::schema::Schemas;
use crate::pipeline::sweep_claims::SweepClaims;
use crate::plugins::registry::{GuestCalls, PluginKey, Registry};
use crate::projections::Projections;
use crate::queue;
use crate::replay::Recorder;
use crate::replay::shadow::Shadows;
use crate::scheduler::{Runner, Scheduler};
use crate::security::auth::Authenticator;
use crate::security::platform_keys::{self, Generate};
use crate::security::secrets::SecretVault;
use crate::store::fs::FsStore;
use crate::store::s3::S3Store;
use crate::store::{ConditionalWrites, ObjectStore};
use crate::tasks::Tasks;

/// Opens the configured store; refuses a multi-node deployment on a store
/// without conditional writes.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let store: Arc<dyn ObjectStore> = match config.store.backend {
        StoreBackend::Fs => Arc::new(FsStore::open_with(&config.data_dir, config.store.fs_sync)?),
        StoreBackend::S3 => {
            let s3 = config.store.s3.as_ref().context("store.backend = \"s3\" needs [store.s3]")?;
            Arc::new(S3Store::connect(s3).await?)
        }
    };
    if config.nodes > 1 && store.conditional_writes() == ConditionalWrites::EmulatedSingleNode {
        bail!(
            "the configuration says {} nodes share the store, but {} does not support conditional writes \
             (If-None-Match / If-Match on PUT), which several nodes need to append events safely; \
             use a store that does (AWS S3, MinIO, R2) or run one node",
            config.nodes,
            store.describe()
        );
    }
    Ok(store)
}

/// Everything a running server is made of, before it listens.
#[derive(Debug)]
pub struct Runtime {
    pub state: AppState,
    pub config: Config,
    /// Plugins to load once the server listens (their code must be asked first).
    deferred: Vec<PluginKey>,
    /// Every background task, stopped and waited for at shutdown.
    tasks: Tasks,
}

/// Opens the store and wires the runtime: secrets, the engine, the plugin
/// registry (every tenant's active plugins loaded), ingest, the scheduler.
pub async fn build(mut config: Config) -> anyhow::Result<Runtime> {
    for generated in platform_keys::complete(&mut config, Generate::IfMissing)? {
        tracing::info!(path = %generated.display(), "generated a key (readable by this user only); configure keys to choose your own");
    }
    let store = open_store(&config).await?;
    let auth = Authenticator::from_config(&config.auth)?;
    let secrets_key = config.secrets.key.as_deref().context("secrets.key is not set")?;
    let vault = Arc::new(SecretVault::new(store.clone(), secrets_key)?);
    // The tenants, listed once for everything loaded below: on S3 a listing
    // is a round trip (and on some servers a scan of the whole bucket).
    let companies = keys::companies(store.as_ref()).await.context("listing the tenants")?;
    let loaded = vault.load(&companies).await.context("loading tenants' secrets")?;
    tracing::info!(secrets = loaded.secrets, resealed = loaded.resealed, "tenants' secrets loaded");
    let engine = Engine::new(EngineConfig {
        cache_dir: Some(config.data_dir.join(".compiled")),
        max_concurrent_instances: config.engine.max_concurrent_instances,
        max_instances_per_tenant: config.engine.max_instances_per_tenant,
        max_component_bytes: config.engine.max_component_mib as usize * 1024 * 1024,
        compile_cache_bytes: config.engine.compile_cache_mib * 1024 * 1024,
        caps: config.engine.caps.clone(),
        egress: config.egress.clone(),
    })?;
    let registry = Arc::new(Registry::new(engine, store.clone(), vault.clone()));
    // No guest code before listening: versions whose code must be asked
    // for their path or schedule load once the server serves.
    let refreshed =
        registry.refresh_among(&companies, GuestCalls::Deferred).await.context("loading the active plugins")?;
    tracing::info!(plugins = refreshed.changed, deferred = refreshed.deferred.len(), "plugins loaded");

    let configs = Arc::new(TenantConfigs::new(store.clone()));
    configs.load(&companies).await.context("loading tenants' pipeline configurations")?;
    let schemas = Arc::new(Schemas::new(store.clone())?);
    schemas.load(&companies).await.context("loading tenants' order schemas")?;
    let log = EventLog::new(store.clone()).across_nodes(config.nodes > 1);
    let projections = Arc::new(Projections::new(log.clone()));
    // Alone on the store, no change of another node can be under way: every
    // marker a crash left is repaired now; with several, the old ones.
    let grace = (config.nodes > 1).then_some(crate::projections::MARKER_GRACE);
    let repaired =
        projections.repair_among(&companies, grace).await.context("repairing the projections after a crash")?;
    if repaired > 0 {
        tracing::info!(orders = repaired, "projections repaired where a crash had left them behind the log");
    }

    let plugin_logs = Arc::new(PluginLogs::default());
    let log_sink: Arc<dyn crate::host::LogSink> = plugin_logs.clone();
    let (queue, pointers) = queue::channel(config.queue.capacity);
    let tasks = Tasks::new();
    projections.spawn_upkeep(&tasks);
    let book = Arc::new(OrderBook::new(log.clone(), projections.clone()));
    let ingest = Ingest::new(book.clone(), queue.clone(), configs.clone());
    let activity = Arc::new(PluginActivity::default());
    // This process among the nodes (schedule leases, the shared queue).
    let node = uuid::Uuid::new_v4().to_string();
    let pointers = match &config.queue.nats_url {
        Some(url) => {
            // Short: what waits here is acknowledged and out of other nodes' reach.
            let (to_pipeline, from_shared) = tokio::sync::mpsc::channel(config.pipeline.workers.clamp(1, 64));
            let shared =
                SharedQueue { url: url.clone(), node: node.clone(), works_orders: config.pipeline.workers > 0 };
            shared.start(pointers, to_pipeline, &tasks).await?;
            from_shared
        }
        None => pointers,
    };
    let mut pipeline = Pipeline::new(
        book,
        registry.clone(),
        configs.clone(),
        schemas.clone(),
        queue.clone(),
        Some(log_sink.clone()),
        activity.clone(),
        config.pipeline.workers,
        tasks.clone(),
    )
    .with_tenant_share(
        config.pipeline.workers_per_tenant.unwrap_or(crate::pipeline::default_tenant_share(config.pipeline.workers)),
    )
    .with_sweep_every(Duration::from_secs(config.pipeline.sweep_secs.max(1)));
    if config.nodes > 1 {
        pipeline = pipeline.with_sweep_claims(SweepClaims::new(store.clone(), node.clone()));
    }
    let pipeline = Arc::new(pipeline);
    pipeline.spawn(pointers);
    // With several nodes on one store, each tick of a schedule is leased to one of them.
    let leases = (config.nodes > 1).then(|| {
        tracing::info!(%node, nodes = config.nodes, "several nodes share the store: schedules are leased per tick");
        ScheduleLeases::new(store.clone(), node.clone())
    });
    let shadows = Shadows::new(store.clone(), registry.clone(), tasks.clone());
    let recorder = Recorder::start(store.clone(), config.recordings.clone(), Some(shadows.clone()), &tasks);
    let scheduler = Scheduler::new(
        Runner::new(ingest.clone(), store.clone(), Some(log_sink.clone()), activity.clone(), recorder.clone()),
        registry.clone(),
        leases,
    );
    let audit = Audit::new(EventLog::new(store.clone()).across_nodes(config.nodes > 1));
    let state = AppState::new(Shared {
        ingest,
        auth,
        store,
        queue,
        metrics: Metrics::default(),
        metrics_access: config.metrics.clone(),
        max_body_bytes: config.http.max_body_bytes,
        max_upload_bytes: (config.engine.max_component_mib as usize + 1) * 1024 * 1024,
        registry,
        scheduler,
        vault,
        log_sink: Some(log_sink),
        plugin_logs,
        audit,
        activity,
        pipeline,
        projections,
        configs,
        schemas,
        admission: Arc::new(api::Admission::new(
            config.http.max_requests_in_flight,
            config.http.max_requests_per_tenant,
        )),
        tasks: tasks.clone(),
        recorder,
        shadows,
    });
    Ok(Runtime { state, config, deferred: refreshed.deferred, tasks })
}

/// Serves until `shutdown` resolves, then drains and returns.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let runtime = build(config).await?;
    run(runtime, listener, shutdown).await
}

/// Starts the scheduler and serves `runtime` until `shutdown`; then stops
/// accepting, finishes requests and runs in flight, and returns.
pub async fn run(
    runtime: Runtime,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Runtime { state, config, deferred, tasks } = runtime;
    let (projections, store) = (state.projections.clone(), state.store.clone());
    state.scheduler.sync();
    if !deferred.is_empty() {
        let (registry, scheduler) = (state.registry.clone(), state.scheduler.clone());
        tasks.spawn("loads after start", async move {
            let loaded = registry.load_deferred(deferred).await;
            tracing::info!(loaded, "plugins loaded after start");
            scheduler.sync();
        });
    }
    state.pipeline.recover().await;
    state.pipeline.spawn_sweeper();
    if config.nodes > 1 {
        NodeSync {
            store: state.store.clone(),
            registry: state.registry.clone(),
            vault: state.vault.clone(),
            configs: state.configs.clone(),
            schemas: state.schemas.clone(),
            scheduler: state.scheduler.clone(),
            tasks: tasks.clone(),
        }
        .spawn();
    }
    let addr = listener.local_addr()?;
    tracing::info!(%addr, store = %state.store.describe(), "portitor listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    tasks.spawn("shutdown signal", async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let scheduler = state.scheduler.clone();
    let limits = connection_limits(&config.http);
    let on_shed = {
        let state = state.clone();
        move |shed| match shed {
            Shed::Refused => Metrics::inc(&state.metrics.connections_refused),
            Shed::Evicted | Shed::TimedOut => Metrics::inc(&state.metrics.connections_shed),
        }
    };
    // `/metrics` on an address of its own (for the scraper), if configured.
    if let Some(addr) = config.metrics.listen {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("metrics.listen {addr}"))?;
        tracing::info!(addr = %listener.local_addr()?, "metrics served on their own address");
        let serve =
            connections::serve(listener, api::metrics_app(state.clone()), limits, on_shed.clone(), stop_rx.clone());
        tasks.spawn("metrics listener", serve);
    }
    let server = connections::serve(listener, api::app(state), limits, on_shed, stop_rx.clone());
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    tokio::select! {
        () = server => {}
        () = async { stopped(stop_rx).await; tokio::time::sleep(grace).await } => {
            tracing::warn!("the shutdown grace period is over; exiting with requests still in flight");
        }
    }
    scheduler.stop(grace).await;
    match tasks.stop(grace).await {
        0 => tracing::info!("every background task ended"),
        left => tracing::warn!(left, "background tasks still running at exit"),
    }
    // What is left open is repaired at the next start; closed now, it need not be.
    if let Err(error) = projections.close_markers().await {
        tracing::warn!(%error, "closing the last projection markers failed; the next start repairs them");
    }
    // Everything acknowledged is durable already; this leaves a journal
    // (fs) with nothing to replay at the next start.
    if let Err(error) = store.flush().await {
        tracing::warn!(%error, "the last store flush failed; the next start replays its journal");
    }
    tracing::info!("portitor stopped");
    Ok(())
}

/// The connection limits of `[http]`, with `max_connections` lowered to
/// what the process may open (its file-descriptor limit, less room for
/// the store, the plugins' connections and the log).
fn connection_limits(http: &HttpConfig) -> ConnectionLimits {
    const RESERVED_FDS: u64 = 256;
    let mut max_connections = http.max_connections;
    if let Some(fds) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        let allowed = usize::try_from(fds.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
        if allowed < max_connections {
            tracing::warn!(
                configured = max_connections,
                allowed,
                open_files = fds,
                "http.max_connections lowered to fit the process's open-file limit (ulimit -n)"
            );
            max_connections = allowed;
        }
    }
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(http.header_read_timeout_secs.max(1)),
        keep_alive_idle: Duration::from_secs(http.keep_alive_idle_secs.max(1)),
        request_timeout: Duration::from_secs(http.request_timeout_secs.max(1)),
        max_connections,
    }
}

/// The async runtime `portitor serve` runs on: tokio's multi-threaded one,
/// one worker per core, except that a busy worker looks for I/O every 8
/// tasks it runs instead of every 61. With a tenant's looping plugin calls
/// keeping the workers busy (each yields every fuel slice), another tenant's
/// request bytes and answers are then noticed within a few slices, not 61
/// (docs/DESIGN.md §3: one tenant's loop never starves another; BENCHMARKS "One
/// tenant's flood").
pub fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().event_interval(8).build()
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: no new requests; finishing those in flight");
}
