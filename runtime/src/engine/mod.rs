//! The sandboxed engine: loads plugin components and runs their calls.
//!
//! One long-lived wasmtime [`wasmtime::Engine`] with the pooling allocator,
//! fuel metering and epoch interruption. Loading a plugin checks the bytes
//! are a component of the kind its manifest declares, compiles it (or takes
//! it from the disk cache) and pre-instantiates it once: a [`LoadedPlugin`]
//! holds one `InstancePre` per version. Every call gets a fresh `Store`
//! with the plugin's memory limit, fuel, an epoch deadline and a wall-clock
//! timeout around the whole call; nothing survives from one call to the next.
//!
//! A call's outcome is either the plugin's checked output with its
//! [`InvocationStats`], or an [`InvokeError`] that names the plugin and says
//! what happened (timed out, out of memory, trapped, returned too much...).
//! A failing call never affects another.

pub(crate) mod bindings;
mod cache;
mod input;
mod kind;
pub(crate) mod limits;
pub mod output;
pub(crate) mod plugin;
mod shares;
mod ticker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use thiserror::Error;
use wasmtime::component::Linker;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap, UpdateDeadline};

use self::bindings::types::Rejection;
pub use self::cache::CompileSource;
pub use self::input::{CallerIdentity, OrderInput, OrderStatusUpdate, PartnerRequest};
pub use self::output::{
    BatchOutput, DispatchReceipt, OutputError, PartnerResponse, PluginEvent, PluginFailure, PushOutput, Verdict,
    WarehouseDocument,
};
pub use self::plugin::PluginLabel;
use self::plugin::PluginShared;
pub use self::shares::WhenBusy;
use crate::host::egress::{EgressGrants, EgressPolicy};
use crate::host::log::LogBudget;
use crate::host::{Checkpointer, CursorAccess, HostState, InvocationState, LogSink};
use crate::orders::Finding;
use crate::plugins::manifest::{LimitCaps, Limits, Manifest, PluginKind};
use crate::security::secrets::SecretSource;

/// Platform-wide engine settings (the per-plugin ones are in manifests).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where compiled components are cached; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
    /// How many plugin instances may run at once.
    pub max_concurrent_instances: u32,
    /// How many of one tenant's may run at once.
    pub max_instances_per_tenant: u32,
    /// The largest component accepted.
    pub max_component_bytes: usize,
    /// The most the disk cache of compiled components may hold.
    pub compile_cache_bytes: u64,
    /// The platform's maximum for each limit a manifest may set.
    pub caps: LimitCaps,
    /// The private networks the operator grants tenants' plugins.
    pub egress: EgressGrants,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_concurrent_instances: 256,
            max_instances_per_tenant: 4,
            max_component_bytes: 32 * 1024 * 1024,
            compile_cache_bytes: 1024 * 1024 * 1024,
            caps: LimitCaps::default(),
            egress: EgressGrants::default(),
        }
    }
}

/// The engine: cheap to clone, shared by every plugin.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: Arc<wasmtime::Engine>,
    linker: Linker<HostState>,
    cache: cache::CompileCache,
    shares: shares::TenantShares,
    config: EngineConfig,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// Why a component could not be loaded; each names the plugin.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{label}: the component is {size} bytes, over the limit of {limit}")]
    TooLarge { label: PluginLabel, size: usize, limit: usize },
    #[error("{label}: {reason}")]
    NotAComponent { label: PluginLabel, reason: String },
    #[error("{label}: {reason}")]
    WrongKind { label: PluginLabel, reason: String },
    #[error("{label}: the manifest is not acceptable: {reason}")]
    Manifest { label: PluginLabel, reason: String },
    #[error("{label}: the component does not compile: {reason}")]
    Compile { label: PluginLabel, reason: String },
    #[error("{label}: the component imports something Portitor does not provide: {reason}")]
    Imports { label: PluginLabel, reason: String },
}

/// Why an invocation failed; each names the plugin. The runtime and every
/// other invocation are unaffected.
#[derive(Debug, Error)]
pub enum InvokeError {
    #[error("{label}: timed out after {} ms", limit.as_millis())]
    Timeout { label: PluginLabel, limit: Duration },
    #[error("{label}: ran out of memory: asked for {requested} bytes, its limit is {limit}")]
    MemoryExhausted { label: PluginLabel, limit: usize, requested: usize },
    #[error("{label}: used up its fuel limit of {limit}")]
    FuelExhausted { label: PluginLabel, limit: u64 },
    #[error("{label}: trapped: {message}")]
    Trapped { label: PluginLabel, message: String },
    #[error("{label}: returned an invalid result: {error}")]
    InvalidOutput { label: PluginLabel, error: OutputError },
    #[error("{label}: reported an error: {failure}")]
    Plugin { label: PluginLabel, failure: PluginFailure },
    #[error("{label}: is a {kind} plugin and has no `{call}`")]
    WrongCall { label: PluginLabel, kind: PluginKind, call: &'static str },
    #[error("{label}: no instance slot is free; retry shortly")]
    Busy { label: PluginLabel },
    #[error("{label}: its tenant already runs {share} invocations at once, its share; retry shortly")]
    TenantBusy { label: PluginLabel, share: usize },
}

impl InvokeError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Busy { .. } | Self::TenantBusy { .. } => true,
            Self::Plugin { failure, .. } => matches!(failure, PluginFailure::Transient(_)),
            _ => false,
        }
    }
}

/// What one invocation cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationStats {
    pub invocation_id: String,
    pub fuel_consumed: u64,
    pub duration: Duration,
    pub memory_peak_bytes: usize,
}

/// An invocation's checked output and its cost.
#[derive(Debug, Clone)]
pub struct Invocation<T> {
    pub output: T,
    pub stats: InvocationStats,
}

/// Per-call settings from the caller.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Where the plugin's log lines go besides `tracing`.
    pub log_sink: Option<Arc<dyn LogSink>>,
    /// Used as the invocation id when set (e.g. the request id).
    pub invocation_id: Option<String>,
    /// Whether to wait when the tenant is at its share of the pool.
    pub when_busy: WhenBusy,
    /// Offline runs (`portitor plugin test`, replay, shadow): outgoing
    /// calls are answered by this instead of the network, after the egress
    /// policy.
    pub answers: Option<Arc<dyn crate::host::HostAnswers>>,
    /// Recorded runs: every host call and its answer is kept here.
    pub tape: Option<Arc<crate::replay::Tape>>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions").field("invocation_id", &self.invocation_id).finish_non_exhaustive()
    }
}

/// Linear memory kept mapped between instances of a pool slot (see
/// [`Engine::new`]); a typical plugin call touches far less.
const KEEP_RESIDENT_BYTES: usize = 2 * 1024 * 1024;
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 * 1024;

impl Engine {
    pub fn new(config: EngineConfig) -> anyhow::Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        let instances = config.max_concurrent_instances;
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(8))
            .max_core_instances_per_component(16)
            .total_memories(instances.saturating_mul(2))
            .total_tables(instances.saturating_mul(8))
            .total_stacks(instances)
            .max_memory_size(config.caps.memory_mib as usize * 1024 * 1024)
            // A slot's memory is reset for its next instance either way; the
            // question is how. With `madvise` every call pays page faults
            // and TLB shootdowns across cores; instead, keep the first
            // pages resident and reset only those the call dirtied (found
            // with the PAGEMAP_SCAN ioctl where the kernel has it, 6.7+).
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
            .pagemap_scan(wasmtime::Enabled::Auto);

        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let wasmtime = Arc::new(wasmtime::Engine::new(&wasm)?);
        ticker::spawn(Arc::downgrade(&wasmtime));
        let linker = crate::host::linker(&wasmtime)?;
        let cache = cache::CompileCache::new(&wasmtime, config.cache_dir.clone(), config.compile_cache_bytes);
        let shares = shares::TenantShares::new(config.max_instances_per_tenant);
        Ok(Self { inner: Arc::new(EngineInner { wasmtime, linker, cache, shares, config }) })
    }

    /// The largest component this engine accepts.
    pub fn max_component_bytes(&self) -> usize {
        self.inner.config.max_component_bytes
    }

    /// Loads version `component` of `company`'s plugin `plugin`: checks,
    /// compiles (or takes from the cache) and pre-instantiates it.
    pub fn load(
        &self,
        company: &str,
        plugin: &str,
        component: &[u8],
        manifest: Manifest,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<LoadedPlugin, LoadError> {
        let version = hex::encode(Sha256::digest(component));
        let label = PluginLabel::new(company, plugin, version.clone());
        let config = &self.inner.config;
        if component.len() > config.max_component_bytes {
            return Err(LoadError::TooLarge { label, size: component.len(), limit: config.max_component_bytes });
        }
        kind::check_component_header(component)
            .map_err(|reason| LoadError::NotAComponent { label: label.clone(), reason })?;
        config
            .caps
            .check(&manifest)
            .map_err(|e| LoadError::Manifest { label: label.clone(), reason: e.to_string() })?;
        let egress = EgressPolicy::for_plugin(company, &manifest, &config.egress)
            .map_err(|e| LoadError::Manifest { label: label.clone(), reason: e.0 })?;
        let limits = manifest.limits_within(&config.caps);

        let engine = &self.inner.wasmtime;
        let (compiled, source) = self
            .inner
            .cache
            .load(engine, &version, component)
            .map_err(|e| LoadError::Compile { label: label.clone(), reason: format!("{e:#}") })?;
        kind::check_exports(engine, &compiled, manifest.kind)
            .map_err(|reason| LoadError::WrongKind { label: label.clone(), reason })?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&compiled)
            .map_err(|e| LoadError::Imports { label: label.clone(), reason: format!("{e:#}") })?;
        let wrong_kind = |e: wasmtime::Error| LoadError::WrongKind { label: label.clone(), reason: format!("{e:#}") };
        let status = if manifest.kind.is_source() && kind::exports_status(engine, &compiled) {
            Some(bindings::status::OrderStatusSinkPre::new(pre.clone()).map_err(wrong_kind)?)
        } else {
            None
        };
        let handler = match manifest.kind {
            PluginKind::PushSource => bindings::push::PushSourcePre::new(pre).map(Handler::Push),
            PluginKind::PullSource => bindings::pull::PullSourcePre::new(pre).map(Handler::Pull),
            PluginKind::Validator => bindings::validator::ValidatorPre::new(pre).map(Handler::Validator),
            PluginKind::Mapper => bindings::mapper::MapperPre::new(pre).map(Handler::Mapper),
            PluginKind::Warehouse => bindings::warehouse::WarehousePre::new(pre).map(Handler::Warehouse),
            PluginKind::Auth => bindings::auth::AuthPre::new(pre).map(Handler::Auth),
        }
        .map_err(wrong_kind)?;
        if source == CompileSource::Compiled {
            self.inner.cache.remember(&version, &compiled);
        }

        let egress = Arc::new(egress);
        let http_client = crate::host::http::client_for(egress.clone()).map_err(|e| LoadError::Manifest {
            label: label.clone(),
            reason: format!("cannot build the HTTP client: {e}"),
        })?;
        let shared = Arc::new(PluginShared::new(label, manifest, limits, egress, http_client, secrets));
        Ok(LoadedPlugin {
            inner: Arc::new(LoadedInner { engine: self.inner.clone(), shared, handler, status, source }),
        })
    }
}

/// A plugin version ready to run: cheap to clone, safe to call concurrently.
#[derive(Clone)]
pub struct LoadedPlugin {
    inner: Arc<LoadedInner>,
}

struct LoadedInner {
    engine: Arc<EngineInner>,
    shared: Arc<PluginShared>,
    handler: Handler,
    /// A source plugin's optional `order-status` export.
    status: Option<bindings::status::OrderStatusSinkPre<HostState>>,
    source: CompileSource,
}

enum Handler {
    Push(bindings::push::PushSourcePre<HostState>),
    Pull(bindings::pull::PullSourcePre<HostState>),
    Validator(bindings::validator::ValidatorPre<HostState>),
    Mapper(bindings::mapper::MapperPre<HostState>),
    Warehouse(bindings::warehouse::WarehousePre<HostState>),
    Auth(bindings::auth::AuthPre<HostState>),
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("label", self.label()).finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    pub fn label(&self) -> &PluginLabel {
        &self.inner.shared.label
    }

    pub fn kind(&self) -> PluginKind {
        self.inner.shared.manifest.kind
    }

    pub fn manifest(&self) -> &Manifest {
        &self.inner.shared.manifest
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.shared.limits
    }

    /// Whether loading took the compiled code from the cache.
    pub fn compile_source(&self) -> CompileSource {
        self.inner.source
    }

    /// The path a push plugin is served at.
    pub async fn path(&self, options: CallOptions) -> Result<Invocation<String>, InvokeError> {
        let Handler::Push(pre) = &self.inner.handler else {
            return Err(self.wrong_call("path"));
        };
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                pre.instantiate_async(&mut *store).await?.portitor_plugin_push_handler().call_path(store).await
            })
            .await;
        call.finish(self, result)
    }

    /// Turns one partner request into events (push plugins).
    pub async fn handle(
        &self,
        request: &PartnerRequest,
        identity: &CallerIdentity,
        options: CallOptions,
    ) -> Result<Invocation<PushOutput>, InvokeError> {
        let Handler::Push(pre) = &self.inner.handler else {
            return Err(self.wrong_call("handle"));
        };
        let request = request.to_wit();
        let identity = identity.to_wit();
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.portitor_plugin_push_handler().call_handle(store, &request, &identity).await
            })
            .await;
        let outcome = call.finish(self, result)?;
        let limits = self.limits();
        outcome.try_map(|result| match result {
            Ok(outcome) => output::push_from_wit(outcome, limits).map_err(|error| self.invalid(error)),
            Err(failure) => Err(self.failed(failure.into())),
        })
    }

    /// Verifies a partner's request before a push plugin sees it (auth plugins).
    pub async fn verify(
        &self,
        request: &PartnerRequest,
        options: CallOptions,
    ) -> Result<Invocation<Verdict>, InvokeError> {
        let Handler::Auth(pre) = &self.inner.handler else {
            return Err(self.wrong_call("verify"));
        };
        let request = request.to_wit();
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                pre.instantiate_async(&mut *store)
                    .await?
                    .portitor_plugin_auth_handler()
                    .call_verify(store, &request)
                    .await
            })
            .await;
        // Why nothing can be verified is the tenant's to fix: it goes to the
        // plugin's log (tagged and scrubbed like its own lines), not to the partner.
        if let Ok(Ok(Err(Rejection::Unavailable(reason)))) = &result {
            call.store.data_mut().write_log(crate::host::LogLevel::Error, &format!("cannot verify requests: {reason}"));
        }
        let outcome = call.finish(self, result)?;
        // Reasons reach the partner and the logs: never a secret the plugin
        // may hold (scrubbed whole, before they are shortened).
        let scrub = |reason: String| self.inner.shared.scrub(&reason);
        outcome.try_map(|answer| {
            let answer = answer.map_err(|rejection| match rejection {
                Rejection::Refused(reason) => Rejection::Refused(scrub(reason)),
                Rejection::Unavailable(reason) => Rejection::Unavailable(scrub(reason)),
            });
            output::verdict_from_wit(answer).map_err(|error| self.invalid(error))
        })
    }

    /// The cron schedule a pull plugin asks for (the manifest may override it).
    pub async fn schedule(&self, options: CallOptions) -> Result<Invocation<String>, InvokeError> {
        let Handler::Pull(pre) = &self.inner.handler else {
            return Err(self.wrong_call("schedule"));
        };
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                pre.instantiate_async(&mut *store).await?.portitor_plugin_pull_handler().call_schedule(store).await
            })
            .await;
        call.finish(self, result)
    }

    /// The name of a pull plugin's cursor.
    pub async fn cursor_key(&self, options: CallOptions) -> Result<Invocation<String>, InvokeError> {
        let Handler::Pull(pre) = &self.inner.handler else {
            return Err(self.wrong_call("cursor-key"));
        };
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                pre.instantiate_async(&mut *store).await?.portitor_plugin_pull_handler().call_cursor_key(store).await
            })
            .await;
        call.finish(self, result)
    }

    /// Fetches what is new since `cursor` (pull plugins). Mid-run
    /// checkpoints go to `checkpointer`; without one the plugin's
    /// checkpoint calls fail.
    pub async fn fetch(
        &self,
        cursor: Option<String>,
        checkpointer: Option<Arc<dyn Checkpointer>>,
        options: CallOptions,
    ) -> Result<Invocation<BatchOutput>, InvokeError> {
        let Handler::Pull(pre) = &self.inner.handler else {
            return Err(self.wrong_call("fetch"));
        };
        let access = CursorAccess::new(cursor.clone(), checkpointer);
        let mut call = self.begin(options, Some(access)).await?;
        let result = call
            .run(async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.portitor_plugin_pull_handler().call_fetch(store, cursor.as_deref()).await
            })
            .await;
        let outcome = call.finish(self, result)?;
        let limits = self.limits();
        outcome.try_map(|result| match result {
            Ok(batch) => output::batch_from_wit(batch, limits).map_err(|error| self.invalid(error)),
            Err(failure) => Err(self.failed(failure.into())),
        })
    }

    /// Semantic findings about an order (validator plugins).
    pub async fn validate(
        &self,
        order: &OrderInput,
        options: CallOptions,
    ) -> Result<Invocation<Vec<Finding>>, InvokeError> {
        let Handler::Validator(pre) = &self.inner.handler else {
            return Err(self.wrong_call("validate"));
        };
        let order = order.to_wit();
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.portitor_plugin_validator_handler().call_validate(store, &order).await
            })
            .await;
        let outcome = call.finish(self, result)?;
        let limits = self.limits();
        outcome.try_map(|findings| output::findings_from_wit(findings, limits).map_err(|error| self.invalid(error)))
    }

    /// The order in a warehouse's format (mapper plugins).
    pub async fn map(
        &self,
        order: &OrderInput,
        options: CallOptions,
    ) -> Result<Invocation<WarehouseDocument>, InvokeError> {
        let Handler::Mapper(pre) = &self.inner.handler else {
            return Err(self.wrong_call("map"));
        };
        let order = order.to_wit();
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.portitor_plugin_mapper_handler().call_map(store, &order).await
            })
            .await;
        let outcome = call.finish(self, result)?;
        let max = self.limits().max_event_bytes;
        outcome.try_map(|result| match result {
            Ok(document) if document.body.len() > max => {
                Err(self.invalid(OutputError::PayloadTooLarge { index: 0, actual: document.body.len(), limit: max }))
            }
            Ok(document) => Ok(WarehouseDocument { content_type: document.content_type, body: document.body }),
            Err(failure) => Err(self.failed(failure.into())),
        })
    }

    /// Sends an order to a warehouse (warehouse plugins).
    pub async fn dispatch(
        &self,
        document: &WarehouseDocument,
        reference: &str,
        options: CallOptions,
    ) -> Result<Invocation<DispatchReceipt>, InvokeError> {
        let Handler::Warehouse(pre) = &self.inner.handler else {
            return Err(self.wrong_call("dispatch"));
        };
        let order = bindings::types::WarehouseOrder {
            content_type: document.content_type.clone(),
            body: document.body.clone(),
        };
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.portitor_plugin_warehouse_handler().call_dispatch(store, &order, reference).await
            })
            .await;
        let outcome = call.finish(self, result)?;
        outcome.try_map(|result| match result {
            Ok(receipt) => {
                Ok(DispatchReceipt { warehouse_order_id: receipt.warehouse_order_id, message: receipt.message })
            }
            Err(failure) => Err(self.failed(failure.into())),
        })
    }

    /// Whether this source plugin wants to hear what became of its orders.
    pub fn receives_status(&self) -> bool {
        self.inner.status.is_some()
    }

    /// Tells a source plugin what became of an order; `Ok(None)` if it does not listen.
    pub async fn notify_status(
        &self,
        update: &OrderStatusUpdate,
        options: CallOptions,
    ) -> Result<Option<Invocation<()>>, InvokeError> {
        let Some(pre) = &self.inner.status else {
            return Ok(None);
        };
        let update = update.to_wit();
        let mut call = self.begin(options, None).await?;
        let result = call
            .run(async |store| {
                let bindings = pre.instantiate_async(&mut *store).await?;
                bindings.portitor_plugin_order_status().call_notify(store, &update).await
            })
            .await;
        let outcome = call.finish(self, result)?;
        outcome.try_map(|result| result.map_err(|failure| self.failed(failure.into()))).map(Some)
    }

    async fn begin(&self, options: CallOptions, cursor: Option<CursorAccess>) -> Result<Call, InvokeError> {
        let engine = &self.inner.engine;
        let Some(slot) = engine.shares.slot(&self.label().company, options.when_busy).await else {
            return Err(InvokeError::TenantBusy { label: self.label().clone(), share: engine.shares.share() });
        };
        let shared = self.inner.shared.clone();
        let limits = shared.limits.clone();
        let started = Instant::now();
        let invocation = InvocationState {
            id: options.invocation_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            deadline: started + limits.timeout,
            cursor,
            log: LogBudget::new(limits.max_log_bytes),
            log_sink: options.log_sink,
            answers: options.answers,
            tape: options.tape,
        };
        let mut store = Store::new(&self.inner.engine.wasmtime, HostState::new(shared, invocation));
        store.limiter(|state| &mut state.limiter);
        // Fuel is for accounting (and a hard stop for manifests that set a
        // limit); consume_fuel is on for the whole engine, so this never fails.
        let _ = store.set_fuel(limits.fuel);
        // Guest code gives the executor back every slice of fuel, so a
        // tenant's busy loop never holds a worker thread for long: another
        // tenant's request waits a slice, not an epoch tick.
        let _ = store.fuel_async_yield_interval(Some(FUEL_SLICE));
        store.set_epoch_deadline(1);
        let timeout = limits.timeout;
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() >= timeout {
                Ok(UpdateDeadline::Interrupt)
            } else {
                // Yield every tick so a busy guest never starves the executor.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok(Call { store, started, limits, _slot: slot })
    }

    fn wrong_call(&self, call: &'static str) -> InvokeError {
        InvokeError::WrongCall { label: self.label().clone(), kind: self.kind(), call }
    }

    fn invalid(&self, error: OutputError) -> InvokeError {
        InvokeError::InvalidOutput { label: self.label().clone(), error }
    }

    fn failed(&self, failure: PluginFailure) -> InvokeError {
        InvokeError::Plugin { label: self.label().clone(), failure }
    }
}

/// One invocation in progress: its store, when it started, its limits and
/// its slot of the tenant's share.
struct Call {
    store: Store<HostState>,
    started: Instant,
    limits: Limits,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// Fuel between two yields to the executor: a few tens of µs of guest code
/// on this kind of machine; a typical webhook call uses less in all.
const FUEL_SLICE: u64 = 100_000;

impl Call {
    /// Runs `f` on the store under the wall-clock timeout.
    async fn run<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<wasmtime::Result<T>, tokio::time::error::Elapsed> {
        tokio::time::timeout(self.limits.timeout, f(&mut self.store)).await
    }

    /// Turns the raw result into the output or the error that says what happened.
    fn finish<T>(
        mut self,
        plugin: &LoadedPlugin,
        result: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<Invocation<T>, InvokeError> {
        let label = plugin.label().clone();
        let stdio = self.store.data().stdio_text();
        let outcome = match result {
            Err(_) => Err(InvokeError::Timeout { label, limit: self.limits.timeout }),
            Ok(Ok(output)) => Ok(output),
            Ok(Err(error)) => Err(self.classify(label, error, &stdio)),
        };
        if !stdio.is_empty() {
            let level = if outcome.is_ok() { crate::host::LogLevel::Info } else { crate::host::LogLevel::Error };
            self.store.data_mut().write_log(level, &format!("stdout/stderr: {stdio}"));
        }
        if let Err(error) = &outcome {
            tracing::warn!(invocation = %self.store.data().invocation.id, error = %error, "plugin invocation failed");
        }
        let fuel_left = self.store.get_fuel().unwrap_or(0);
        let state = self.store.data();
        let stats = InvocationStats {
            invocation_id: state.invocation.id.clone(),
            fuel_consumed: self.limits.fuel.saturating_sub(fuel_left),
            duration: self.started.elapsed(),
            memory_peak_bytes: state.limiter.peak(),
        };
        outcome.map(|output| Invocation { output, stats })
    }

    fn classify(&self, label: PluginLabel, error: wasmtime::Error, stdio: &str) -> InvokeError {
        if let Some(requested) = self.store.data().limiter.refused() {
            return InvokeError::MemoryExhausted { label, limit: self.limits.memory_bytes, requested };
        }
        if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
            return InvokeError::Busy { label };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => InvokeError::FuelExhausted { label, limit: self.limits.fuel },
            Some(Trap::Interrupt) => InvokeError::Timeout { label, limit: self.limits.timeout },
            Some(trap) => {
                let detail = panic_message(stdio);
                let message = match detail {
                    Some(detail) => format!("{trap} ({detail})"),
                    None => trap.to_string(),
                };
                InvokeError::Trapped { label, message: self.store.data().plugin.scrub(&message) }
            }
            None => InvokeError::Trapped { label, message: self.store.data().plugin.scrub(&format!("{error:#}")) },
        }
    }
}

/// The panic message in a guest's stderr, if it panicked.
fn panic_message(stdio: &str) -> Option<String> {
    let start = stdio.find("panicked at")?;
    let text: String =
        stdio[start..].lines().filter(|line| !line.starts_with("note: run with")).take(3).collect::<Vec<_>>().join(" ");
    Some(text.chars().take(500).collect())
}

impl<T> Invocation<T> {
    fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Invocation<U>, E> {
        Ok(Invocation { output: f(self.output)?, stats: self.stats })
    }
}
