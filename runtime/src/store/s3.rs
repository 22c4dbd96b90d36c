//! The `s3` backend: any S3-compatible store through `aws-sdk-s3` (AWS S3,
//! MinIO, R2, Garage, Scaleway, Hetzner), with a custom endpoint and
//! path-style or virtual-host addressing.
//!
//! `create_once` is a PUT with `If-None-Match: *`, `compare_and_swap` a PUT
//! with `If-Match: <etag>`. Not every S3 implementation honours these
//! (Garage 2.5 ignores both and overwrites), so [`S3Store::connect`] probes:
//! it creates a probe key twice. Where the second write also succeeds, the
//! store runs with writers of a key serialized inside this process —
//! correct for one node only — and says so in the log and in `/readyz`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region, timeout::TimeoutConfig};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{
    CasOutcome, ConditionalWrites, CreateOutcome, Object, ObjectMeta, ObjectStore, StoreError, Window, validate_key,
    validate_prefix,
};

/// Settings of the `s3` backend (`[store.s3]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// E.g. `http://127.0.0.1:3900`; AWS's own endpoint when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`), which most
    /// self-hosted stores need.
    #[serde(default = "default_true")]
    pub path_style: bool,
    /// Static credentials; without them the usual AWS chain is used
    /// (environment, profile, instance metadata).
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// A prefix for every key, to share a bucket.
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Per-operation timeout in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_true() -> bool {
    true
}

fn default_timeout_ms() -> u64 {
    10_000
}

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    key_prefix: String,
    endpoint: String,
    mode: ConditionalWrites,
    /// Serializes writers of a key when the store lacks conditional writes.
    stripes: Arc<Vec<Mutex<()>>>,
}

const LOCK_STRIPES: usize = 1024;

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

fn status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

fn unavailable<E: std::error::Error + 'static>(op: &str, key: &str, error: SdkError<E, HttpResponse>) -> StoreError {
    let status = status(&error).map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    let detail = aws_sdk_s3::error::DisplayErrorContext(&error);
    StoreError::Unavailable(format!("{op} {key}{status}: {detail}"))
}

impl S3Store {
    /// Connects, checks the bucket is reachable and probes for conditional writes.
    pub async fn connect(config: &S3Config) -> Result<Self, StoreError> {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_timeout(Duration::from_millis(config.timeout_ms))
            .build();
        let mut builder = match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => aws_sdk_s3::config::Builder::new()
                .behavior_version(BehaviorVersion::latest())
                .credentials_provider(Credentials::new(id, secret, None, None, "portitor-config")),
            _ => {
                let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
                aws_sdk_s3::config::Builder::from(&shared)
            }
        };
        builder = builder
            .region(Region::new(config.region.clone()))
            .force_path_style(config.path_style)
            .timeout_config(timeouts)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(2));
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let client = Client::from_conf(builder.build());
        let mut store = Self {
            client,
            bucket: config.bucket.clone(),
            key_prefix: config.key_prefix.clone().map(|p| format!("{}/", p.trim_matches('/'))).unwrap_or_default(),
            endpoint: config.endpoint.clone().unwrap_or_else(|| "aws".into()),
            mode: ConditionalWrites::Native,
            stripes: Arc::new((0..LOCK_STRIPES).map(|_| Mutex::new(())).collect()),
        };
        store.mode = store.probe().await?;
        if store.mode == ConditionalWrites::EmulatedSingleNode {
            tracing::warn!(
                store = %store.describe(),
                "the S3 store ignores conditional writes (If-None-Match / If-Match); writers are serialized in this process, which is safe for a single node only"
            );
        }
        Ok(store)
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    fn stripe(&self, key: &str) -> &Mutex<()> {
        let hash = key.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        &self.stripes[hash % LOCK_STRIPES]
    }

    /// Creates a probe key twice: a store that honours `If-None-Match`
    /// refuses the second write.
    async fn probe(&self) -> Result<ConditionalWrites, StoreError> {
        let key = format!(".portitor-probe/{}", uuid::Uuid::new_v4());
        let first = self.native_put(&key, Bytes::from_static(b"1"), Precondition::Absent).await?;
        let second = self.native_put(&key, Bytes::from_static(b"2"), Precondition::Absent).await?;
        let stale = self.native_put(&key, Bytes::from_static(b"3"), Precondition::Matches("\"0000\"")).await?;
        self.delete(&key).await?;
        Ok(match (first, second, stale) {
            (Some(_), None, None) => ConditionalWrites::Native,
            _ => ConditionalWrites::EmulatedSingleNode,
        })
    }

    /// A PUT with a precondition left to the store: `Some(etag)` when it
    /// wrote, `None` when the store refused the precondition.
    async fn native_put(
        &self,
        key: &str,
        body: Bytes,
        precondition: Precondition<'_>,
    ) -> Result<Option<String>, StoreError> {
        let mut request =
            self.client.put_object().bucket(&self.bucket).key(self.full_key(key)).body(ByteStream::from(body));
        request = match precondition {
            Precondition::None => request,
            Precondition::Absent => request.if_none_match("*"),
            Precondition::Matches(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(output) => Ok(Some(output.e_tag().unwrap_or_default().to_string())),
            // 412: the precondition failed. 409: a concurrent conditional
            // write to the same key is in progress, and it will win or lose
            // on its own: either way this write did not happen.
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(None),
            Err(e) => Err(unavailable("PUT", key, e)),
        }
    }

    async fn conditional_put(
        &self,
        key: &str,
        body: Bytes,
        precondition: Precondition<'_>,
    ) -> Result<Option<String>, StoreError> {
        if self.mode == ConditionalWrites::Native {
            return self.native_put(key, body, precondition).await;
        }
        let _guard = self.stripe(key).lock().await;
        let current = self.get(key).await?;
        let holds = match (precondition, &current) {
            (Precondition::None, _) => true,
            (Precondition::Absent, current) => current.is_none(),
            (Precondition::Matches(etag), Some(object)) => object.etag == etag,
            (Precondition::Matches(_), None) => false,
        };
        if !holds {
            return Ok(None);
        }
        self.native_put(key, body, Precondition::None).await
    }
}

#[derive(Debug, Clone, Copy)]
enum Precondition<'a> {
    None,
    Absent,
    Matches(&'a str),
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, body: Bytes) -> Result<String, StoreError> {
        validate_key(key)?;
        let etag = if self.mode == ConditionalWrites::Native {
            self.native_put(key, body, Precondition::None).await?
        } else {
            let _guard = self.stripe(key).lock().await;
            self.native_put(key, body, Precondition::None).await?
        };
        Ok(etag.unwrap_or_default())
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        validate_key(key)?;
        let result = self.client.get_object().bucket(&self.bucket).key(self.full_key(key)).send().await;
        match result {
            Ok(output) => {
                let etag = output.e_tag().unwrap_or_default().to_string();
                let body = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("GET {key}: reading the body: {e}")))?
                    .into_bytes();
                Ok(Some(Object { body, etag }))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(unavailable("GET", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        validate_prefix(prefix)?;
        let mut found = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(self.full_key(prefix)).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("LIST", prefix, e))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.key_prefix)) else {
                    continue;
                };
                found.push(ObjectMeta { key: key.to_string(), size: object.size().unwrap_or(0).max(0) as u64 });
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn list_children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if !prefix.is_empty() {
            validate_prefix(prefix)?;
        }
        let full = self.full_key(prefix);
        let mut names = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(&full).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("LIST", prefix, e))?;
            for common in page.common_prefixes() {
                if let Some(name) = common.prefix().and_then(|p| p.strip_prefix(&full)) {
                    names.push(name.trim_end_matches('/').to_string());
                }
            }
            for object in page.contents() {
                if let Some(name) = object.key().and_then(|k| k.strip_prefix(&full)) {
                    names.push(name.to_string());
                }
            }
        }
        names.retain(|n| !n.is_empty() && !n.starts_with(".portitor-probe"));
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn list_children_page(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<String>), StoreError> {
        if !prefix.is_empty() {
            validate_prefix(prefix)?;
        }
        let full = self.full_key(prefix);
        let mut window = Window::new(offset, limit);
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(&full).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("LIST", prefix, e))?;
            let prefixes = page.common_prefixes().iter().filter_map(|c| c.prefix()).map(|p| p.trim_end_matches('/'));
            let objects = page.contents().iter().filter_map(|o| o.key());
            // A name both an object and a prefix would count twice here;
            // Portitor pages only lists of objects.
            for name in prefixes.chain(objects).filter_map(|key| key.strip_prefix(&full)) {
                if !name.is_empty() && !name.starts_with(".portitor-probe") {
                    window.push(name.to_string());
                }
            }
        }
        Ok(window.finish())
    }

    async fn list_children_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StoreError> {
        if !prefix.is_empty() {
            validate_prefix(prefix)?;
        }
        let full = self.full_key(prefix);
        // One name past the page says whether more follow.
        let wanted = limit.saturating_add(1);
        let mut request = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .delimiter("/")
            .max_keys(wanted.min(1000) as i32);
        super::check_start_after(prefix, after)?;
        if let Some(after) = after {
            request = request.start_after(format!("{full}{after}"));
        }
        let mut names = Vec::new();
        let mut pages = request.into_paginator().send();
        while names.len() < wanted {
            let Some(page) = pages.next().await else { break };
            let page = page.map_err(|e| unavailable("LIST", prefix, e))?;
            let prefixes = page.common_prefixes().iter().filter_map(|c| c.prefix()).map(|p| p.trim_end_matches('/'));
            let objects = page.contents().iter().filter_map(|o| o.key());
            let mut found: Vec<String> = prefixes
                .chain(objects)
                .filter_map(|key| key.strip_prefix(&full))
                .filter(|name| !name.is_empty() && !name.starts_with(".portitor-probe"))
                .filter(|name| after.is_none_or(|after| *name > after))
                .map(str::to_string)
                .collect();
            // Within one response prefixes and objects come apart.
            found.sort();
            names.extend(found);
        }
        names.sort();
        names.dedup();
        let more = names.len() > limit;
        names.truncate(limit);
        Ok((names, more))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        match self.client.delete_object().bucket(&self.bucket).key(self.full_key(key)).send().await {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(unavailable("DELETE", key, e)),
        }
    }

    async fn create_once(&self, key: &str, body: Bytes) -> Result<CreateOutcome, StoreError> {
        validate_key(key)?;
        Ok(match self.conditional_put(key, body, Precondition::Absent).await? {
            Some(etag) => CreateOutcome::Created { etag },
            None => CreateOutcome::Exists,
        })
    }

    async fn compare_and_swap(&self, key: &str, expected: Option<&str>, body: Bytes) -> Result<CasOutcome, StoreError> {
        validate_key(key)?;
        let precondition = match expected {
            Some(etag) => Precondition::Matches(etag),
            None => Precondition::Absent,
        };
        Ok(match self.conditional_put(key, body, precondition).await? {
            Some(etag) => CasOutcome::Swapped { etag },
            None => CasOutcome::Conflict,
        })
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        self.mode
    }

    fn relaxed(&self) -> Arc<dyn ObjectStore> {
        Arc::new(self.clone())
    }

    fn describe(&self) -> String {
        format!("s3:{}/{}", self.endpoint, self.bucket)
    }
}
