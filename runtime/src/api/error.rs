//! The API's one error type: JSON `{"error": {"code", "message"}}`. A 4xx
//! says what was wrong; a 5xx says nothing internal (the cause is logged
//! with the request id).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::security::auth::AuthError;
use crate::server::connections::BodyTimedOut;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is over the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    TooLarge(String),
    /// The store cannot be reached: nothing was stored, retry later.
    #[error("the store is unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    /// A plugin a request needs is disabled or not installed (503: the
    /// partner retries, and succeeds once the tenant fixes it).
    #[error("{0}")]
    PluginUnavailable(String),
    /// A push plugin could not handle a partner's request (a 5xx, so the
    /// partner retries); the message names the dead letter, nothing internal.
    #[error("{1}")]
    PluginFailed(StatusCode, String),
    /// Part of the work is done and durable, the rest is not yet: the
    /// message says which; repeating the request finishes it.
    #[error("{0}")]
    RetryLater(String),
    /// An admin change was made but is missing from the audit trail.
    #[error("{0}")]
    AuditFailed(String),
    /// The caller's tenant (or the server) is at its share: nothing was
    /// done; retry after the `Retry-After` seconds.
    #[error("{0}")]
    TooManyRequests(String),
    /// The request's body did not arrive in time (`http.request_timeout_secs`).
    #[error("{0}")]
    RequestTimeout(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::PayloadTooLarge(_) | Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::PluginUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "plugin_unavailable"),
            Self::PluginFailed(status, _) => (*status, "plugin_failed"),
            Self::RetryLater(_) => (StatusCode::SERVICE_UNAVAILABLE, "retry_later"),
            Self::AuditFailed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "audit_failed"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "store unavailable");
                "the store is unavailable; nothing was stored — retry later".to_string()
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl ApiError {
    /// A body that could not be read: 408 if it came too slowly, else
    /// `otherwise` (which says what was wrong with it).
    pub(crate) fn unread_body(cause: &(dyn std::error::Error + 'static), otherwise: Self) -> Self {
        let mut source = Some(cause);
        while let Some(error) = source {
            if let Some(late) = error.downcast_ref::<BodyTimedOut>() {
                return Self::RequestTimeout(late.to_string());
            }
            source = error.source();
        }
        otherwise
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::InvalidKey(key) => Self::BadRequest(format!("invalid identifier in `{key}`")),
            corrupt @ StoreError::Corrupt { .. } => Self::Internal(corrupt.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing | AuthError::Invalid(_) => Self::Unauthorized(e.to_string()),
            AuthError::Forbidden(m) => Self::Forbidden(m),
        }
    }
}
