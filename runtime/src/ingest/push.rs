//! A partner's request to a push plugin, as a use case: authenticated per
//! the plugin's manifest (a platform JWT, which the HTTP layer verified; a
//! built-in signature scheme; the tenant's `auth` plugin; or the plugin
//! itself), claimed on the partner's delivery id, handed to the plugin, its
//! events ingested in the tenant of the path — never one a plugin names.
//! A plugin that fails leaves the raw request as a dead letter, its
//! credentials and signatures redacted, and the partner is told to retry;
//! an operator replays the letter through the active version later
//! ([`Pushes::replay`]).
//! The HTTP handler (`api/push.rs`) maps requests and answers only.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};

use super::deliveries::{Claim, Deliveries, Delivery};
use super::{Ingest, IngestError, Origin};
use crate::engine::{
    CallOptions, CallerIdentity, InvokeError, PartnerRequest, PartnerResponse, PluginFailure, Verdict, WhenBusy,
};
use crate::events::keys;
use crate::host::LogSink;
use crate::ops::activity::PluginActivity;
use crate::plugins::manifest::{PluginKind, WebhookAuth};
use crate::plugins::registry::{ActivePlugin, Registry};
use crate::replay::{Recorder, outcome};
use crate::security::redact;
use crate::security::secrets::SecretVault;
use crate::security::webhooks::{self, Refused};
use crate::store::{ObjectStore, StoreError};

/// What a push call needs of the runtime.
#[derive(Debug)]
pub struct Pushes<'a> {
    pub ingest: &'a Ingest,
    pub registry: &'a Registry,
    pub vault: &'a Arc<SecretVault>,
    pub activity: &'a PluginActivity,
    pub store: &'a Arc<dyn ObjectStore>,
    pub log_sink: Option<Arc<dyn LogSink>>,
    /// Keeps partners' pushes as recordings, and copies them to shadows.
    pub recorder: &'a Recorder,
}

/// One partner request to `plugin`.
#[derive(Debug)]
pub struct Push<'a> {
    pub plugin: &'a Arc<ActivePlugin>,
    pub request: PartnerRequest,
    /// Every header as received, for the signature schemes.
    pub headers: &'a [(String, String)],
    /// The platform JWT's subject, when the manifest asks for one (the HTTP
    /// layer verified the token; `None` if it was not asked to).
    pub jwt_subject: Option<String>,
    pub request_id: &'a str,
}

/// What became of a push.
#[derive(Debug)]
pub enum Pushed {
    /// The delivery id was handled before: nothing ran.
    Duplicate { delivery_id: String },
    /// The plugin ran; its events are durable.
    Handled { created: bool, events: Vec<Value>, response: Option<PartnerResponse> },
}

/// Why a push was not handled.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Unauthorized(String),
    /// Nothing ran: the tenant is at its share of plugin calls.
    #[error("{0}")]
    TenantBusy(String),
    /// A plugin the request needs is missing, disabled or unavailable now.
    #[error("{0}")]
    PluginUnavailable(String),
    /// The plugin refused the input (the message names the dead letter).
    #[error("{0}")]
    BadRequest(String),
    /// The plugin failed with `status` (the message names the dead letter).
    #[error("{message}")]
    PluginFailed { status: u16, message: String },
    /// Part of it is done and durable, the rest is not yet: retry.
    #[error("{0}")]
    RetryLater(String),
    /// A dead letter to replay is not there.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A push plugin's manifest without `webhook` takes a platform JWT.
pub static DEFAULT_AUTH: WebhookAuth = WebhookAuth::Jwt;

impl Pushes<'_> {
    /// Authenticates, claims, runs and ingests one push.
    pub async fn push(&self, push: Push<'_>) -> Result<Pushed, PushError> {
        let plugin = push.plugin;
        let scheme = plugin.plugin.manifest().webhook.as_ref().unwrap_or(&DEFAULT_AUTH);
        let identity = self.authenticate(&push, scheme).await?;
        let Some(id) = identity.delivery_id.clone() else {
            return self.run_and_ingest(&push, &identity).await;
        };
        // The delivery is claimed before the plugin runs: a concurrent
        // delivery of the same id waits its turn, a handled one is a
        // duplicate, and a failed one is released for the partner's retry.
        let company = plugin.key.company.as_str();
        let delivery = Delivery { company, plugin: &plugin.key.plugin, id: &id, request_id: push.request_id };
        let deliveries = Deliveries::new(self.store.clone());
        let stale_after = plugin.plugin.limits().timeout + Duration::from_secs(60);
        match deliveries.claim(&delivery, stale_after).await? {
            Claim::Done => return Ok(Pushed::Duplicate { delivery_id: id }),
            Claim::InProgress => {
                return Err(PushError::RetryLater(format!(
                    "delivery `{id}` is being handled by another request; retry later"
                )));
            }
            Claim::Claimed => {}
        }
        let pushed = self.run_and_ingest(&push, &identity).await;
        let settled = match &pushed {
            Ok(_) => deliveries.done(&delivery).await,
            Err(_) => deliveries.release(&delivery).await,
        };
        if let Err(error) = settled {
            // Claimed, not settled: a retry takes the claim over once it is stale.
            tracing::warn!(%company, plugin = %plugin.key.plugin, delivery = %id, %error, "could not settle a delivery's claim");
        }
        pushed
    }

    /// Runs the push plugin on an authenticated request and ingests its
    /// events; a failure keeps the request as a dead letter.
    async fn run_and_ingest(&self, push: &Push<'_>, identity: &CallerIdentity) -> Result<Pushed, PushError> {
        let tape = self.recorder.tape(push.plugin);
        let options = CallOptions { tape: tape.clone(), ..self.partner_call(push.request_id) };
        let handled = self.handle_and_ingest(push.plugin, &push.request, identity, push.request_id, options).await?;
        match handled {
            Ok(pushed) => Ok(pushed),
            Err(unhandled) => Err(self.dead_letter(push, identity, &unhandled).await),
        }
    }

    /// Runs `plugin` on `request` and ingests its events in the plugin's
    /// tenant. `Ok(Err(_))` when the plugin left the request unhandled:
    /// what to keep it for.
    async fn handle_and_ingest(
        &self,
        plugin: &Arc<ActivePlugin>,
        request: &PartnerRequest,
        identity: &CallerIdentity,
        request_id: &str,
        options: CallOptions,
    ) -> Result<Result<Pushed, Unhandled>, PushError> {
        let company = plugin.key.company.as_str();
        let tape = options.tape.clone();
        let handled = plugin.plugin.handle(request, identity, options).await;
        if let Some(tape) = tape
            && !matches!(handled, Err(InvokeError::TenantBusy { .. }))
        {
            let outcome = match &handled {
                Ok(done) => outcome::push_json(&done.output),
                Err(error) => outcome::error_json(error),
            };
            self.recorder.push(plugin, request_id, request, identity, &tape, outcome);
        }
        let error = handled.as_ref().err().map(ToString::to_string);
        self.activity.record(company, &plugin.key.plugin, error.as_deref());
        let handled = match handled {
            Ok(handled) => handled,
            // Nothing ran: no dead letter; the partner retries when the tenant has room.
            Err(busy @ InvokeError::TenantBusy { .. }) => return Err(PushError::TenantBusy(busy.to_string())),
            Err(error) => return Ok(Err(Unhandled { error: error.to_string(), status: status_of(&error) })),
        };
        let origin = Origin::Push {
            plugin: plugin.key.plugin.clone(),
            version: plugin.version.clone(),
            request_id: request_id.to_string(),
        };
        let mut created = false;
        let mut events = Vec::new();
        for event in &handled.output.events {
            match self.ingest.plugin_event(company, &plugin.key.plugin, event, &origin).await {
                Ok(done) => {
                    created |= done.created;
                    let mut answer = json!({ "kind": event.kind, "id": done.id, "duplicate": !done.created });
                    if let Some(order) = done.order {
                        answer["order"] = order.into();
                    }
                    events.push(answer);
                }
                Err(IngestError::Store(e)) => return Err(e.into()),
                Err(unlinked @ IngestError::Unlinked { .. }) => {
                    return Err(PushError::RetryLater(unlinked.to_string()));
                }
                Err(IngestError::Envelope(e)) => {
                    let error = format!("event `{}`: {e}", event.external_id);
                    return Ok(Err(Unhandled { error, status: 500 }));
                }
            }
        }
        Ok(Ok(Pushed::Handled { created, events, response: handled.output.response }))
    }

    /// Replays dead letter `letter` of `plugin` through its active
    /// version: the kept request (its credentials redacted) with the
    /// identity it was authenticated as when it arrived — only
    /// authenticated requests become dead letters. Its events are ingested
    /// as a push's are, so a letter replayed again makes no second order.
    /// The letter stays, with what its last replay gave.
    pub async fn replay(
        &self,
        plugin: &Arc<ActivePlugin>,
        letter: &str,
        request_id: &str,
    ) -> Result<Result<Pushed, Unhandled>, PushError> {
        let key = keys::deadletter_key(&plugin.key.company, &plugin.key.plugin, letter);
        let stored =
            self.store.get(&key).await?.ok_or_else(|| PushError::NotFound(format!("no dead letter `{letter}`")))?;
        let mut kept: Value = serde_json::from_slice(&stored.body)
            .map_err(|e| PushError::NotFound(format!("dead letter `{letter}` is not readable: {e}")))?;
        let (request, identity) = kept_request(&kept, &plugin.key.company)
            .map_err(|e| PushError::NotFound(format!("dead letter `{letter}` is not readable: {e}")))?;
        let options = CallOptions {
            log_sink: self.log_sink.clone(),
            invocation_id: Some(request_id.to_string()),
            ..CallOptions::default()
        };
        let replayed = self.handle_and_ingest(plugin, &request, &identity, request_id, options).await?;
        let mut outcome = json!({ "at": Utc::now(), "version": plugin.version, "requestId": request_id });
        match &replayed {
            Ok(Pushed::Handled { events, .. }) => {
                outcome["events"] = Value::Array(events.clone());
                kept["replayedAt"] = outcome["at"].clone();
            }
            Ok(Pushed::Duplicate { .. }) => {}
            Err(unhandled) => outcome["error"] = Value::String(unhandled.error.clone()),
        }
        kept["lastReplay"] = outcome;
        self.store.put(&key, Bytes::from(kept.to_string())).await?;
        Ok(replayed)
    }

    /// A call on a partner's behalf: refused at once rather than queued
    /// when the tenant is at its share of the pool.
    fn partner_call(&self, request_id: &str) -> CallOptions {
        CallOptions {
            log_sink: self.log_sink.clone(),
            invocation_id: Some(request_id.to_string()),
            when_busy: WhenBusy::Refuse,
            ..CallOptions::default()
        }
    }

    /// Who sent the request, per the plugin's manifest.
    async fn authenticate(&self, push: &Push<'_>, scheme: &WebhookAuth) -> Result<CallerIdentity, PushError> {
        let company = push.plugin.key.company.clone();
        let header = |name: &str| {
            push.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, value)| value.clone())
        };
        match scheme {
            WebhookAuth::Jwt => {
                let subject = push
                    .jwt_subject
                    .clone()
                    .ok_or_else(|| PushError::Unauthorized("this webhook takes a platform token".into()))?;
                Ok(CallerIdentity {
                    company,
                    scheme: "jwt".into(),
                    subject: Some(subject),
                    delivery_id: header("idempotency-key"),
                })
            }
            WebhookAuth::None => {
                Ok(CallerIdentity { company, scheme: "none".into(), subject: None, delivery_id: None })
            }
            WebhookAuth::Plugin { plugin: verifier } => self.verify_with_plugin(company, verifier, push).await,
            auth => {
                let secret_name = match auth {
                    WebhookAuth::HmacSha256 { secret, .. }
                    | WebhookAuth::Stripe { secret, .. }
                    | WebhookAuth::StandardWebhooks { secret, .. } => secret.as_str(),
                    WebhookAuth::Jwt | WebhookAuth::Plugin { .. } | WebhookAuth::None => "",
                };
                let secret = self.vault.tenant(&company).get(secret_name);
                let verified = webhooks::verify(auth, header, &push.request.body, secret, Utc::now().timestamp())
                    .map_err(|refused| {
                        if let Refused::MissingSecret(secret) = &refused {
                            // Not the partner's fault: every webhook is refused
                            // until the tenant stores the secret.
                            tracing::warn!(%company, plugin = %push.plugin.key.plugin, %secret, "a webhook was refused: the secret the manifest names is not in the tenant's vault");
                        }
                        PushError::Unauthorized(format!("webhook signature refused: {refused}"))
                    })?;
                Ok(CallerIdentity {
                    company,
                    scheme: verified.scheme.into(),
                    subject: None,
                    delivery_id: verified.delivery_id,
                })
            }
        }
    }

    /// Asks the tenant's auth plugin `verifier` about the request. Its
    /// failure leaves no dead letter: the request is not authenticated, and
    /// the partner's retry is what recovers it.
    async fn verify_with_plugin(
        &self,
        company: String,
        verifier: &str,
        push: &Push<'_>,
    ) -> Result<CallerIdentity, PushError> {
        let active = self.registry.get(&company, verifier).filter(|active| active.plugin.kind() == PluginKind::Auth);
        let Some(active) = active else {
            return Err(PushError::PluginUnavailable(format!(
                "the auth plugin `{verifier}` this webhook names is not installed"
            )));
        };
        if !active.enabled {
            return Err(PushError::PluginUnavailable(format!("the auth plugin `{verifier}` is disabled")));
        }
        let verdict = active.plugin.verify(&push.request, self.partner_call(push.request_id)).await;
        self.activity.record(&company, verifier, verdict.as_ref().err().map(ToString::to_string).as_deref());
        match verdict.map(|invocation| invocation.output) {
            Ok(Verdict::Verified { subject, delivery_id }) => {
                Ok(CallerIdentity { company, scheme: "plugin".into(), subject, delivery_id })
            }
            Ok(Verdict::Refused { reason }) => {
                Err(PushError::Unauthorized(format!("refused by the auth plugin `{verifier}`: {reason}")))
            }
            // The reason is in the plugin's log (the engine wrote it there); the partner is told to retry.
            Ok(Verdict::Unavailable { .. }) => Err(PushError::PluginUnavailable(format!(
                "the auth plugin `{verifier}` cannot verify requests now; retry later"
            ))),
            Err(busy @ InvokeError::TenantBusy { .. }) => Err(PushError::TenantBusy(busy.to_string())),
            Err(error) => {
                tracing::warn!(%company, plugin = %verifier, %error, "auth plugin failed");
                let message = format!("the auth plugin `{verifier}` failed; retry later");
                Err(match status_of(&error) {
                    503 => PushError::PluginUnavailable(message),
                    _ => PushError::PluginFailed { status: 500, message },
                })
            }
        }
    }

    /// Keeps the raw request, its credentials redacted, in the dead-letter
    /// prefix; the error the partner is answered with.
    async fn dead_letter(&self, push: &Push<'_>, identity: &CallerIdentity, unhandled: &Unhandled) -> PushError {
        let (plugin, request) = (push.plugin, &push.request);
        let Unhandled { error, status } = unhandled;
        let status = *status;
        // Time-ordered, so that listing sorts letters by their keys alone.
        let id = uuid::Uuid::now_v7().to_string();
        let key = keys::deadletter_key(&plugin.key.company, &plugin.key.plugin, &id);
        let headers = redact::headers(&request.headers);
        let query = request.query.as_deref().map(redact::query);
        let letter = json!({
            "id": id,
            "requestId": push.request_id,
            "receivedAt": Utc::now(),
            "plugin": plugin.key.plugin,
            "version": plugin.version,
            "method": request.method,
            "path": request.path,
            "query": query,
            "headers": headers,
            "bodyBase64": base64::engine::general_purpose::STANDARD.encode(&request.body),
            // How it was authenticated, for a replay to pass on.
            "identity": {
                "scheme": identity.scheme,
                "subject": identity.subject,
                "deliveryId": identity.delivery_id,
            },
            "error": error,
            "status": status,
        });
        if let Err(e) = self.store.put(&key, Bytes::from(letter.to_string())).await {
            tracing::error!(%key, error = %e, "could not keep the failed request as a dead letter");
            return PushError::Store(e);
        }
        tracing::warn!(company = %plugin.key.company, plugin = %plugin.key.plugin, dead_letter = %id, %error, "push plugin failed");
        let message = format!(
            "plugin `{}` could not handle the request; it was kept for replay as dead letter {id}",
            plugin.key.plugin
        );
        match status {
            400 => PushError::BadRequest(format!("{message}: {error}")),
            401 => PushError::Unauthorized(message),
            status => PushError::PluginFailed { status, message },
        }
    }
}

/// Why a plugin left a request unhandled: what its dead letter records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unhandled {
    pub error: String,
    /// The HTTP status the failure is answered with.
    pub status: u16,
}

/// The request and identity a dead letter kept.
fn kept_request(letter: &Value, company: &str) -> Result<(PartnerRequest, CallerIdentity), String> {
    let text = |field: &str| letter[field].as_str().map(str::to_string).ok_or_else(|| format!("no `{field}`"));
    let headers = letter["headers"]
        .as_array()
        .ok_or("no `headers`")?
        .iter()
        .filter_map(|pair| Some((pair[0].as_str()?.to_string(), pair[1].as_str()?.to_string())))
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(letter["bodyBase64"].as_str().ok_or("no `bodyBase64`")?)
        .map_err(|e| format!("`bodyBase64`: {e}"))?;
    let request = PartnerRequest {
        method: text("method")?,
        path: text("path")?,
        query: letter["query"].as_str().map(str::to_string),
        headers,
        body,
    };
    let kept = &letter["identity"];
    let identity = CallerIdentity {
        company: company.to_string(),
        // Letters kept before identities were have none to pass on.
        scheme: kept["scheme"].as_str().unwrap_or("replay").to_string(),
        subject: kept["subject"].as_str().map(str::to_string),
        delivery_id: kept["deliveryId"].as_str().map(str::to_string),
    };
    Ok((request, identity))
}

/// The HTTP status a plugin's failure is answered with.
fn status_of(error: &InvokeError) -> u16 {
    match error {
        InvokeError::Plugin { failure: PluginFailure::InvalidInput(_), .. } => 400,
        InvokeError::Plugin { failure: PluginFailure::Unauthorized(_), .. } => 401,
        error if error.is_transient() => 503,
        _ => 500,
    }
}
