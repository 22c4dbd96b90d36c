//! The HTTP surface (docs/DESIGN.md §8), built in one function, [`app`], so tests
//! can call it directly as well as over a socket.
//!
//! Every tenant route is `/{company}/…`. Each handler authenticates first
//! (401), then authorizes the company and role (403), then does its work.

mod admission;
mod config;
mod dashboard;
mod deadletters;
mod error;
mod health;
mod openapi;
mod orders;
mod plugins;
mod push;
mod replays;
mod secrets;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};

pub use self::admission::Admission;
pub use self::error::ApiError;
use crate::events::keys;
use crate::host::LogSink;
use crate::ingest::Ingest;
use crate::ops::activity::PluginActivity;
use crate::ops::audit::Audit;
use crate::ops::metrics::Metrics;
use crate::ops::plugin_logs::PluginLogs;
use crate::pipeline::Pipeline;
use crate::pipeline::config::TenantConfigs;
use crate::pipeline::schema::Schemas;
use crate::plugins::registry::Registry;
use crate::projections::Projections;
use crate::queue::PointerQueue;
use crate::scheduler::Scheduler;
use crate::security::auth::{Authenticator, Principal, Role};
use crate::security::secrets::SecretVault;
use crate::store::ObjectStore;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
pub struct Shared {
    pub ingest: Ingest,
    pub auth: Authenticator,
    pub store: Arc<dyn ObjectStore>,
    pub queue: PointerQueue,
    pub metrics: Metrics,
    /// Who may read `/metrics`, and where.
    pub metrics_access: crate::config::MetricsConfig,
    pub max_body_bytes: usize,
    /// The largest plugin upload (component and manifest).
    pub max_upload_bytes: usize,
    pub registry: Arc<Registry>,
    pub scheduler: Arc<Scheduler>,
    pub vault: Arc<SecretVault>,
    pub log_sink: Option<Arc<dyn LogSink>>,
    pub plugin_logs: Arc<PluginLogs>,
    pub audit: Audit,
    pub activity: Arc<PluginActivity>,
    pub pipeline: Arc<Pipeline>,
    pub projections: Arc<Projections>,
    pub configs: Arc<TenantConfigs>,
    pub schemas: Arc<Schemas>,
    /// Requests in flight, overall and per tenant (429 past the limits).
    pub admission: Arc<Admission>,
    /// The server's background tasks (a refused body's drain among them).
    pub tasks: crate::tasks::Tasks,
    /// Keeps live invocations for replay and copies them to shadows.
    pub recorder: Arc<crate::replay::Recorder>,
    pub shadows: Arc<crate::replay::shadow::Shadows>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self { inner: Arc::new(shared) }
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.inner
    }
}

/// `/metrics` alone, for `metrics.listen` (an address of its own).
pub fn metrics_app(state: AppState) -> Router {
    Router::new().route("/metrics", get(health::metrics_on_own_address)).with_state(state)
}

/// The request id of a request (from `x-request-id`, or a new one).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    let max_body = state.max_body_bytes;
    // Routes that take a body check the token before they read it
    // (docs/DESIGN.md §8): a stranger cannot make the server buffer a body it would refuse.
    let token_first = || middleware::from_fn_with_state(state.clone(), token_before_body);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/{company}/order", post(orders::create).route_layer(token_first()))
        .route("/{company}/order/{id}", get(orders::get))
        .route("/{company}/order/{id}/force", post(orders::force).route_layer(token_first()))
        .route("/{company}/orders", get(orders::list))
        .route(
            "/{company}/config/pipeline",
            get(config::get_pipeline).put(config::put_pipeline).route_layer(token_first()),
        )
        .route("/{company}/config/order-schema", put(config::put_order_schema).route_layer(token_first()))
        .route("/refs/{reference}", get(orders::resolve_reference))
        .route("/{company}/plugins", get(plugins::list))
        .route(
            "/{company}/plugins/{plugin}",
            put(plugins::install)
                .layer(DefaultBodyLimit::max(state.max_upload_bytes))
                .get(plugins::get)
                .delete(plugins::delete)
                .route_layer(token_first()),
        )
        .route("/{company}/plugins/{plugin}/run", post(plugins::run_now))
        .route("/{company}/plugins/{plugin}/runs", get(plugins::runs))
        .route("/{company}/plugins/{plugin}/versions", get(plugins::versions))
        .route("/{company}/plugins/{plugin}/activate", post(plugins::activate))
        .route("/{company}/plugins/{plugin}/enable", post(plugins::enable))
        .route("/{company}/plugins/{plugin}/disable", post(plugins::disable))
        .route("/{company}/plugins/{plugin}/logs", get(plugins::logs))
        .route("/{company}/plugins/{plugin}/recordings", get(replays::recordings))
        .route("/{company}/plugins/{plugin}/replay", post(replays::replay).get(replays::last_replay))
        .route(
            "/{company}/plugins/{plugin}/shadow",
            get(replays::shadow).put(replays::set_shadow).delete(replays::clear_shadow),
        )
        .route(
            "/{company}/plugins/{plugin}/cursor",
            get(plugins::get_cursor).put(plugins::set_cursor).delete(plugins::reset_cursor).route_layer(token_first()),
        )
        .route("/{company}/audit", get(audit_log))
        .route("/{company}/stats/hourly", get(dashboard::hourly))
        .route("/{company}/deadletters", get(deadletters::list))
        .route("/{company}/deadletters/{plugin}/{id}", get(deadletters::get))
        .route("/{company}/deadletters/{plugin}/{id}/replay", post(deadletters::replay_one))
        .route("/{company}/deadletters/{plugin}/replay", post(deadletters::replay_all))
        .route("/{company}/dashboard", get(dashboard::page))
        .route("/{company}/dashboard/app.js", get(dashboard::script))
        .route("/{company}/dashboard/style.css", get(dashboard::style))
        .route("/{company}/secrets", get(secrets::list))
        .route("/{company}/secrets/{name}", put(secrets::put).route_layer(token_first()))
        .fallback(push::webhook)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), admission::admit))
        .layer(middleware::from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}

/// Gives each request an id (echoed in `x-request-id`), a tracing span,
/// and counts its response.
async fn request_context(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    state.metrics.count_status(response.status().as_u16());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Checks the bearer token — and that it is for the path's company — before
/// the handler reads the body: 401 or 403 at once, the body never read.
/// The handler then checks the role as before.
async fn token_before_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let header = request.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match state.auth.verify_header(header) {
        Ok(principal) => principal,
        Err(error) => return refuse(&state, request, ApiError::from(error)),
    };
    let company = request.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
    if let Some(own) = &principal.company
        && own != company
    {
        let refused = ApiError::Forbidden(format!("this token is for company `{own}`, not `{company}`"));
        return refuse(&state, request, refused);
    }
    next.run(request).await
}

/// Answers a refused request at once, and lets whatever body the client is
/// still sending run out in the background — discarded, at most `limit`
/// bytes and 5 s (a lingering close, as nginx does): without it, closing the
/// connection on a client mid-upload makes it see a broken pipe, not the 401.
fn refuse(state: &AppState, request: Request, error: ApiError) -> Response {
    let body = request.into_body();
    let limit = state.max_upload_bytes;
    state.tasks.spawn("api: drain a refused body", async move {
        let mut stream = body.into_data_stream();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut seen = 0usize;
            while let Some(Ok(chunk)) = futures::StreamExt::next(&mut stream).await {
                seen += chunk.len();
                if seen > limit {
                    break;
                }
            }
        })
        .await;
    });
    axum::response::IntoResponse::into_response(error)
}

/// Authenticates the caller and authorizes `roles` on `company`.
pub(crate) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    company: &str,
    roles: &[Role],
) -> Result<Principal, ApiError> {
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = state.auth.verify_header(header)?;
    principal.authorize(company, roles)?;
    keys::check_segment("company", company).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(principal)
}

/// Records an admin action in the audit trail, once the change is made. If
/// the trail cannot take the entry, the change stands: the answer says so
/// (500 `audit_failed`, so that nobody repeats it thinking it was lost) and
/// the whole entry goes to the server log.
pub(crate) async fn audited(
    state: &AppState,
    company: &str,
    who: &str,
    action: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    state.audit.record(company, who, action, details.clone()).await.map_err(|error| {
        tracing::error!(%company, %who, %action, %details, %error, "an admin action is not in the audit trail");
        ApiError::AuditFailed(format!(
            "`{action}` was done, but the audit trail could not record it; the entry is in the server log"
        ))
    })
}

#[derive(Debug, serde::Deserialize)]
struct AuditQuery {
    day: Option<String>,
}

/// `GET /{company}/audit?day=YYYY-MM-DD`: a day's admin actions (today by default).
async fn audit_log(
    State(state): State<AppState>,
    axum::extract::Path(company): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<AuditQuery>,
    headers: HeaderMap,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers, &company, &[Role::TenantAdmin, Role::PlatformOperator])?;
    let day = query.day.unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
    if chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").is_err() {
        return Err(ApiError::BadRequest(format!("`{day}` is not a day (YYYY-MM-DD)")));
    }
    let events = state.audit.day(&company, &day).await?;
    let actions: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::json!({"at": e.occurred_at, "action": e.event_type, "by": e.actor.id, "details": e.data}))
        .collect();
    Ok(axum::Json(serde_json::json!({ "day": day, "actions": actions })))
}
