//! Admission: how many requests the server works on at once, overall and
//! for each tenant (`http.max_requests_in_flight`,
//! `http.max_requests_per_tenant`). Past either, a request is answered 429
//! with `Retry-After` before anything is read or stored — the caller's
//! retry is safe, and nothing already acknowledged is affected — instead of
//! queueing without bound behind the store or the plugins.
//!
//! The tenant is the path's first segment, whoever asks: a flood aimed at
//! one tenant's URLs uses that tenant's share, not the others'. Health,
//! readiness, metrics and the API description are always answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// The requests in flight, overall and per tenant.
#[derive(Debug)]
pub struct Admission {
    max_overall: usize,
    max_per_tenant: usize,
    in_flight: Mutex<InFlight>,
}

#[derive(Debug, Default)]
struct InFlight {
    overall: usize,
    /// Only tenants with a request in flight (a stranger's made-up names
    /// leave nothing behind).
    per_tenant: HashMap<String, usize>,
}

/// Routes answered whatever the load: what operators and orchestrators
/// probe to tell an overloaded server from a dead one.
const ALWAYS_ANSWERED: &[&str] = &["healthz", "readyz", "metrics", "openapi.json"];
/// First segments that are not a tenant (they count only overall).
const NOT_A_TENANT: &[&str] = &["refs"];

impl Admission {
    pub fn new(max_overall: usize, max_per_tenant: usize) -> Self {
        Self { max_overall: max_overall.max(1), max_per_tenant: max_per_tenant.max(1), in_flight: Mutex::default() }
    }

    /// A place for a request to `tenant` (none: counted only overall), or
    /// why there is none.
    fn admit(self: &Arc<Self>, tenant: Option<&str>) -> Result<Admitted, ApiError> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if in_flight.overall >= self.max_overall {
            return Err(ApiError::TooManyRequests(
                "the server is at its limit of requests at once; retry shortly".into(),
            ));
        }
        if let Some(tenant) = tenant {
            let count = in_flight.per_tenant.entry(tenant.to_string()).or_default();
            if *count >= self.max_per_tenant {
                return Err(ApiError::TooManyRequests(format!(
                    "`{tenant}` has as many requests in progress as one tenant may; retry shortly"
                )));
            }
            *count += 1;
        }
        in_flight.overall += 1;
        Ok(Admitted { admission: self.clone(), tenant: tenant.map(str::to_string) })
    }
}

/// A request admitted, until its handler returns.
#[derive(Debug)]
struct Admitted {
    admission: Arc<Admission>,
    tenant: Option<String>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut in_flight = self.admission.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        in_flight.overall -= 1;
        if let Some(tenant) = &self.tenant
            && let Some(count) = in_flight.per_tenant.get_mut(tenant)
        {
            *count -= 1;
            if *count == 0 {
                in_flight.per_tenant.remove(tenant);
            }
        }
    }
}

/// The middleware: admits the request or answers 429.
pub(super) async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let first = request.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
    if ALWAYS_ANSWERED.contains(&first) {
        return next.run(request).await;
    }
    let tenant = (!first.is_empty() && !NOT_A_TENANT.contains(&first)).then_some(first);
    match state.admission.admit(tenant) {
        Ok(_admitted) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tenant_has_its_share_within_the_overall_limit() {
        let admission = Arc::new(Admission::new(3, 2));
        let a1 = admission.admit(Some("acme")).expect("first");
        let _a2 = admission.admit(Some("acme")).expect("second");
        assert!(matches!(admission.admit(Some("acme")), Err(ApiError::TooManyRequests(_))), "acme's share is used");
        let g1 = admission.admit(Some("globex")).expect("another tenant still has room");
        assert!(matches!(admission.admit(None), Err(ApiError::TooManyRequests(_))), "the overall limit holds");
        drop(a1);
        let _a3 = admission.admit(Some("acme")).expect("a place given back is taken again");
        drop(g1);
        assert!(!admission.in_flight.lock().expect("lock").per_tenant.contains_key("globex"), "no entry left behind");
    }
}
