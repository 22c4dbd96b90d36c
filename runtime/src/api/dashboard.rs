//! `GET /{company}/dashboard`: the operator dashboard, one page served by
//! Portitor itself (assets embedded in the binary). It asks for a token,
//! keeps it for the tab only, and uses the same API as everyone else — so
//! the server, not the page, decides what a token may see and do.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, AppState, authorize};
use crate::events::keys;
use crate::security::auth::Role;

const INDEX: &str = include_str!("dashboard/index.html");
const STYLE: &str = include_str!("dashboard/style.css");
const SCRIPT: &str = include_str!("dashboard/app.js");

/// The page talks to this server only and runs only its own script: no
/// inline code, so text that slipped into the DOM as HTML could not run.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
                      base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page (`{company}` is a checked key segment: lowercase letters, digits, `-`).
pub(super) async fn page(Path(company): Path<String>) -> Result<Response, ApiError> {
    keys::check_segment("company", &company).map_err(|e| ApiError::NotFound(e.to_string()))?;
    Ok(asset("text/html; charset=utf-8", INDEX.replace("{{company}}", &company)))
}

pub(super) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub(super) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// `body`: the page with its company filled in, or an embedded asset served
/// as it is (a `&'static str` is not copied).
fn asset(content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct HourlyQuery {
    #[serde(default = "day")]
    hours: usize,
}

fn day() -> usize {
    24
}

/// `GET /{company}/stats/hourly?hours=24`: orders ingested and failed per hour.
pub(super) async fn hourly(
    State(state): State<AppState>,
    Path(company): Path<String>,
    Query(query): Query<HourlyQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, &[Role::TenantAdmin, Role::PlatformOperator])?;
    Ok(Json(state.projections.hourly(&company, query.hours.clamp(1, 24 * 14)).await?))
}
