//! The server's configuration: a TOML file (`--config`), overlaid by
//! `PORTITOR_*` environment variables (nested keys joined by `__`, e.g.
//! `PORTITOR_STORE__S3__BUCKET`), overlaid by command-line flags. Every key
//! is checked: an unknown one is an error that names it.
//!
//! With nothing set, Portitor runs on the embedded default: the `fs` store
//! under `./data`, the in-process queue, `127.0.0.1:8080`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::host::egress::EgressGrants;
use crate::plugins::manifest::LimitCaps;
use crate::store::s3::S3Config;

/// Environment variables that configure the `portitor plugin` client, not
/// the server; the server ignores them.
const CLIENT_VARIABLES: &[&str] = &["PORTITOR_URL", "PORTITOR_TOKEN"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// How many runtime nodes share the store (docs/DESIGN.md §11). More than one
    /// requires a store with conditional writes.
    #[serde(default = "default_nodes")]
    pub nodes: u32,
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub engine: EngineSettings,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub pipeline: PipelineSettings,
    /// Private networks the operator grants tenants' plugins (none unless set).
    #[serde(default)]
    pub egress: EgressGrants,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub recordings: RecordingsConfig,
}

/// How many live invocations are kept per plugin for replay (docs/DESIGN.md §10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingsConfig {
    /// Recordings kept per plugin, the oldest deleted past it; 0 records nothing.
    #[serde(default = "default_keep_per_plugin")]
    pub keep_per_plugin: usize,
    /// Per tenant, in place of `keep_per_plugin`.
    #[serde(default)]
    pub tenants: std::collections::BTreeMap<String, usize>,
    /// The most invocations of one plugin recorded per second on a node
    /// (a sample under load: 1,000 recordings of one second's traffic
    /// would say less than 1,000 of ten); 0 records every invocation.
    #[serde(default = "default_sample_per_second")]
    pub sample_per_second: u32,
    /// Recordings older than this many days are deleted (a partner's order
    /// is not kept for ever because its plugin went quiet); 0 keeps them
    /// until `keep_per_plugin` newer ones replace them.
    #[serde(default = "default_max_age_days")]
    pub max_age_days: u32,
}

impl Default for RecordingsConfig {
    fn default() -> Self {
        Self {
            keep_per_plugin: default_keep_per_plugin(),
            tenants: Default::default(),
            sample_per_second: default_sample_per_second(),
            max_age_days: default_max_age_days(),
        }
    }
}

impl RecordingsConfig {
    /// Recordings kept per plugin of `company`.
    pub fn keep_for(&self, company: &str) -> usize {
        self.tenants.get(company).copied().unwrap_or(self.keep_per_plugin)
    }

    /// How old a recording may grow, if there is a limit.
    pub fn max_age(&self) -> Option<std::time::Duration> {
        (self.max_age_days > 0).then(|| std::time::Duration::from_secs(u64::from(self.max_age_days) * 86_400))
    }
}

fn default_keep_per_plugin() -> usize {
    1_000
}

fn default_sample_per_second() -> u32 {
    100
}

fn default_max_age_days() -> u32 {
    30
}

/// Who may read `/metrics` (docs/DESIGN.md §8: nothing internal to strangers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Require a platform-wide `platform-operator` token.
    #[serde(default)]
    pub require_token: bool,
    /// Serve `/metrics` on this address only (e.g. a private interface for
    /// the scraper), not on the public listener.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

/// This node's part in the order pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// Orders worked on at once; 0 makes this an ingest-only node (another
    /// node, or this one after a restart, picks the orders up). An order
    /// being worked mostly waits — for the store's flushes, a partner's
    /// answer, a plugin instance of its tenant's share — so this follows
    /// how many writes the store can have in flight, not the cores: the
    /// CPU work is bounded by the engine's instances
    /// (`engine.max_instances_per_tenant`), not by this.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How many of one tenant's orders are worked at once (docs/DESIGN.md §3);
    /// unset: three quarters of the workers.
    #[serde(default)]
    pub workers_per_tenant: Option<usize>,
    /// How often the sweeper looks for orders unfinished for as long, in
    /// seconds.
    #[serde(default = "default_sweep_secs")]
    pub sweep_secs: u64,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self { workers: default_workers(), workers_per_tenant: None, sweep_secs: default_sweep_secs() }
    }
}

fn default_sweep_secs() -> u64 {
    30
}

/// Enough orders in flight that a journal flush covers many of them
/// (BENCHMARKS.md, "What bounds the pipeline").
fn default_workers() -> usize {
    256
}

/// Encryption of tenants' secrets at rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// 32 random bytes, base64. Unset: a key generated at the first start
    /// into the data directory (one node only).
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default)]
    pub backend: StoreBackend,
    /// How the `fs` backend makes writes durable: `each` (fsync each file
    /// and directory, the default), `journal` (writers share flushes of a
    /// write-ahead journal) or `group` (writers share one `syncfs`; for a
    /// data directory on its own volume).
    #[serde(default)]
    pub fs_sync: crate::store::fs::FsSync,
    #[serde(default)]
    pub s3: Option<S3Config>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[default]
    Fs,
    S3,
}

/// JWT verification (docs/DESIGN.md §8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `HS256`, `RS256`, `ES256` or `EdDSA`.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// The HS256 shared secret (at least 32 characters). Unset: a key
    /// generated at the first start into the data directory (one node only).
    #[serde(default)]
    pub hs256_secret: Option<String>,
    /// A PEM file with the public key for RS256, ES256 or EdDSA.
    #[serde(default)]
    pub public_key_pem: Option<PathBuf>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { algorithm: default_algorithm(), hs256_secret: None, public_key_pem: None, issuer: None, audience: None }
    }
}

/// The HTTP server's limits (docs/decisions/0010-connections.md); every one has a
/// default safe for a server on the internet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Request bodies over this are refused with 413.
    pub max_body_bytes: usize,
    /// How long a graceful shutdown waits for requests in flight.
    pub shutdown_grace_secs: u64,
    /// How long a client has to send a request's headers: from connecting
    /// (first request) or from the first byte of the head (later ones).
    pub header_read_timeout_secs: u64,
    /// How long a connection may sit idle between requests.
    pub keep_alive_idle_secs: u64,
    /// How long a request's body has to arrive once its headers are in
    /// (408 after). The server's own work on a request is not limited.
    pub request_timeout_secs: u64,
    /// The most connections open at once (lowered to what the process's
    /// file-descriptor limit allows). A client arriving at the limit takes
    /// the place of the longest-idle connection.
    pub max_connections: usize,
    /// The most requests the server works on at once; past it, 429 with
    /// `Retry-After` (health and metrics are always answered).
    pub max_requests_in_flight: usize,
    /// The most requests for one tenant (the path's first segment) at once;
    /// past it, 429 with `Retry-After`, so one tenant's flood leaves room
    /// for the others.
    pub max_requests_per_tenant: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            header_read_timeout_secs: 10,
            keep_alive_idle_secs: 60,
            request_timeout_secs: 60,
            max_connections: 4096,
            max_requests_in_flight: 1024,
            max_requests_per_tenant: 256,
        }
    }
}

/// The platform's limits on plugins (each manifest sets its own within them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    #[serde(default = "default_instances")]
    pub max_concurrent_instances: u32,
    /// How many of one tenant's plugin calls run at once (docs/DESIGN.md §3: one
    /// tenant's flood never starves another); a partner's request past it
    /// is answered 429, other calls wait.
    #[serde(default = "default_instances_per_tenant")]
    pub max_instances_per_tenant: u32,
    /// The largest plugin component accepted, in MiB.
    #[serde(default = "default_max_component_mib")]
    pub max_component_mib: u32,
    /// The most the disk cache of compiled components holds, in MiB
    /// (least recently used out).
    #[serde(default = "default_compile_cache_mib")]
    pub compile_cache_mib: u64,
    /// The maximum of each limit a manifest may set (`[engine.caps]`,
    /// named as in a manifest's `[limits]`).
    #[serde(default)]
    pub caps: LimitCaps,
    /// Earlier name of `engine.caps.memory_mib`; read into it.
    #[serde(default, skip_serializing)]
    pub max_memory_mib: Option<u32>,
    /// Earlier switch that refused private networks whatever manifests said;
    /// now they are refused unless `[egress]` grants them, so `true` needs no
    /// grants and contradicts any.
    #[serde(default, skip_serializing)]
    pub deny_private_networks: Option<bool>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            max_concurrent_instances: default_instances(),
            max_instances_per_tenant: default_instances_per_tenant(),
            max_component_mib: default_max_component_mib(),
            compile_cache_mib: default_compile_cache_mib(),
            caps: LimitCaps::default(),
            max_memory_mib: None,
            deny_private_networks: None,
        }
    }
}

fn default_max_component_mib() -> u32 {
    32
}

fn default_instances_per_tenant() -> u32 {
    // Enough to keep two cores busy with one tenant's calls, few enough that
    // its loops leave time for everyone else's (BENCHMARKS "One tenant's flood").
    4
}

fn default_compile_cache_mib() -> u64 {
    1024
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    #[serde(default = "default_queue_capacity")]
    pub capacity: usize,
    /// A NATS server with JetStream (`nats://host:4222`): the pointer queue
    /// shared by the nodes (docs/DESIGN.md §11). Without it each node works the
    /// orders it ingested.
    #[serde(default)]
    pub nats_url: Option<String>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { capacity: default_queue_capacity(), nats_url: None }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_nodes() -> u32 {
    1
}
fn default_log_format() -> String {
    "text".into()
}
fn default_algorithm() -> String {
    "HS256".into()
}
fn default_instances() -> u32 {
    256
}
fn default_queue_capacity() -> usize {
    100_000
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            data_dir: default_data_dir(),
            nodes: default_nodes(),
            log_format: default_log_format(),
            store: StoreConfig::default(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            engine: EngineSettings::default(),
            queue: QueueConfig::default(),
            secrets: SecretsConfig::default(),
            pipeline: PipelineSettings::default(),
            egress: EgressGrants::default(),
            metrics: MetricsConfig::default(),
            recordings: RecordingsConfig::default(),
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl Config {
    /// Loads the file at `path` (if any), then the `PORTITOR_*` variables
    /// among `env`.
    pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut table = match path {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.into(), error })?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| ConfigError::Invalid { origin: path.display().to_string(), message: e.to_string() })?
            }
            None => toml::Table::new(),
        };
        let mut from_env = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("PORTITOR_") else {
                continue;
            };
            if CLIENT_VARIABLES.contains(&name.as_str()) {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut table, &path, parse_value(&value))
                .map_err(|message| ConfigError::Invalid { origin: name.clone(), message })?;
            from_env.push(name);
        }
        let origin = match (path, from_env.is_empty()) {
            (Some(path), true) => path.display().to_string(),
            (Some(path), false) => format!("{} and {}", path.display(), from_env.join(", ")),
            (None, false) => from_env.join(", "),
            (None, true) => "defaults".to_string(),
        };
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid { origin: origin.clone(), message: e.to_string() })?;
        if let Some(memory_mib) = config.engine.max_memory_mib.take() {
            config.engine.caps.memory_mib = memory_mib;
        }
        config.check().map_err(|message| ConfigError::Invalid { origin, message })?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(format!("log_format must be \"text\" or \"json\", not {:?}", self.log_format));
        }
        if self.store.backend == StoreBackend::S3 && self.store.s3.is_none() {
            return Err("store.backend = \"s3\" needs a [store.s3] section (bucket, endpoint, ...)".into());
        }
        if self.nodes == 0 {
            return Err("nodes must be at least 1".into());
        }
        if self.nodes > 1 {
            // A key generated into one node's data directory is no other node's.
            let mut missing = Vec::new();
            if self.auth.algorithm == "HS256" && self.auth.hs256_secret.is_none() {
                missing.push("auth.hs256_secret (or auth.algorithm with auth.public_key_pem)");
            }
            if self.secrets.key.is_none() {
                missing.push("secrets.key");
            }
            if !missing.is_empty() {
                return Err(format!(
                    "{} nodes share the store, so the keys must be configured, the same on every node: set {}",
                    self.nodes,
                    missing.join(" and ")
                ));
            }
        }
        self.egress.check()?;
        let grants =
            !self.egress.private_hosts.is_empty() || self.egress.tenants.values().any(|t| !t.private_hosts.is_empty());
        if self.engine.deny_private_networks == Some(true) && grants {
            return Err("engine.deny_private_networks = true contradicts the [egress] grants; private networks are \
                 now refused unless [egress] grants them: remove engine.deny_private_networks"
                .into());
        }
        if self.queue.nats_url.is_some() && self.nodes < 2 {
            return Err("queue.nats_url shares the pointer queue between several nodes: set nodes (2 or more) too, \
                 which turns on what several nodes need (schedule leases, appends checked across nodes, reading \
                 other nodes' changes)"
                .into());
        }
        Ok(())
    }
}

/// A TOML value from an environment variable: a number, boolean or array
/// when it reads as one, else the string itself.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut current = table;
    for part in parents {
        let entry = current.entry(part.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| format!("`{part}` is not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn nothing_set_is_the_embedded_default() {
        let config = Config::load(None, env(&[("HOME", "/root")])).expect("defaults");
        assert_eq!(config, Config::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.store.backend, StoreBackend::Fs);
    }

    #[test]
    fn environment_variables_set_nested_keys() {
        let config = Config::load(
            None,
            env(&[
                ("PORTITOR_LISTEN", "0.0.0.0:9000"),
                ("PORTITOR_STORE__BACKEND", "s3"),
                ("PORTITOR_STORE__S3__BUCKET", "orders"),
                ("PORTITOR_STORE__S3__PATH_STYLE", "false"),
                ("PORTITOR_HTTP__MAX_BODY_BYTES", "2048"),
                ("PORTITOR_TOKEN", "client-side, ignored"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.store.backend, StoreBackend::S3);
        let s3 = config.store.s3.expect("s3");
        assert_eq!(s3.bucket, "orders");
        assert!(!s3.path_style);
        assert_eq!(config.http.max_body_bytes, 2048);
    }

    #[test]
    fn a_shared_queue_needs_several_nodes() {
        let nats = ("PORTITOR_QUEUE__NATS_URL", "nats://127.0.0.1:4222");
        let error = Config::load(None, env(&[nats])).expect_err("one node");
        assert!(error.to_string().contains("set nodes"), "{error}");
        let keys = [
            ("PORTITOR_AUTH__HS256_SECRET", "a-configured-secret-of-32-characters!"),
            ("PORTITOR_SECRETS__KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ];
        let config = Config::load(None, env(&[nats, ("PORTITOR_NODES", "2"), keys[0], keys[1]])).expect("two nodes");
        assert_eq!(config.queue.nats_url.as_deref(), Some("nats://127.0.0.1:4222"));
    }

    #[test]
    fn several_nodes_need_configured_keys_and_are_told_which() {
        let error = Config::load(None, env(&[("PORTITOR_NODES", "2")])).expect_err("no keys");
        assert!(
            error.to_string().contains("auth.hs256_secret") && error.to_string().contains("secrets.key"),
            "{error}"
        );
        let half = Config::load(
            None,
            env(&[("PORTITOR_NODES", "2"), ("PORTITOR_AUTH__HS256_SECRET", "a-configured-secret-of-32-characters!")]),
        )
        .expect_err("no secrets key");
        assert!(!half.to_string().contains("auth.hs256_secret") && half.to_string().contains("secrets.key"), "{half}");
        let config = Config::load(
            None,
            env(&[
                ("PORTITOR_NODES", "2"),
                ("PORTITOR_AUTH__HS256_SECRET", "a-configured-secret-of-32-characters!"),
                ("PORTITOR_SECRETS__KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ]),
        )
        .expect("both keys");
        assert_eq!(config.nodes, 2);
    }

    #[test]
    fn the_keys_of_earlier_versions_still_read() {
        let config = Config::load(
            None,
            env(&[("PORTITOR_ENGINE__MAX_MEMORY_MIB", "256"), ("PORTITOR_ENGINE__DENY_PRIVATE_NETWORKS", "true")]),
        )
        .expect("old keys");
        assert_eq!(config.engine.caps.memory_mib, 256);
        let error = Config::load(
            None,
            env(&[
                ("PORTITOR_ENGINE__DENY_PRIVATE_NETWORKS", "true"),
                ("PORTITOR_EGRESS__PRIVATE_HOSTS", "[\"wms.internal\"]"),
            ]),
        )
        .expect_err("contradiction");
        assert!(error.to_string().contains("remove engine.deny_private_networks"), "{error}");
    }

    #[test]
    fn egress_grants_are_read_per_tenant_and_checked() {
        let config = Config::load(
            None,
            env(&[
                ("PORTITOR_EGRESS__PRIVATE_HOSTS", "[\"wms.internal\"]"),
                ("PORTITOR_EGRESS__TENANTS__DEMO__PRIVATE_HOSTS", "[\"127.0.0.1\"]"),
            ]),
        )
        .expect("grants");
        assert_eq!(config.egress.private_hosts, ["wms.internal"]);
        assert_eq!(config.egress.tenants["demo"].private_hosts, ["127.0.0.1"]);
        let error =
            Config::load(None, env(&[("PORTITOR_EGRESS__PRIVATE_HOSTS", "[\"10.0.0.0/8\"]")])).expect_err("a CIDR");
        assert!(error.to_string().contains("egress.private_hosts"), "{error}");
    }

    #[test]
    fn unknown_keys_are_errors_that_name_them() {
        let error = Config::load(None, env(&[("PORTITOR_LISTN", "x")])).expect_err("typo");
        assert!(error.to_string().contains("unknown field `listn`"), "{error}");
        assert!(error.to_string().contains("PORTITOR_LISTN"), "{error}");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("portitor.toml");
        std::fs::write(&file, "[http]\nmax_body = 5\n").expect("write");
        let error = Config::load(Some(&file), env(&[])).expect_err("typo");
        assert!(error.to_string().contains("unknown field `max_body`"), "{error}");
    }
}
