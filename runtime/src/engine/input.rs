//! What the runtime passes into push plugins, as plain Rust.

use super::bindings::types;
use crate::orders::{Finding, Severity};

/// A partner's request to a push plugin's path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerRequest {
    pub method: String,
    /// The path below the tenant prefix.
    pub path: String,
    pub query: Option<String>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// How the runtime authenticated the caller of a push plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub company: String,
    /// `jwt`, `hmac`, `stripe`, `standard-webhooks`, `plugin` or `none`.
    pub scheme: String,
    pub subject: Option<String>,
    pub delivery_id: Option<String>,
}

impl PartnerRequest {
    pub(crate) fn to_wit(&self) -> types::HttpRequest {
        types::HttpRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: self.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect(),
            body: self.body.clone(),
        }
    }
}

impl CallerIdentity {
    pub(crate) fn to_wit(&self) -> types::Identity {
        types::Identity {
            company: self.company.clone(),
            scheme: self.scheme.clone(),
            subject: self.subject.clone(),
            delivery_id: self.delivery_id.clone(),
        }
    }
}

/// An order as the pipeline's plugins see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderInput {
    pub id: String,
    pub company: String,
    pub source: String,
    pub external_id: String,
    /// The order model.
    pub payload: serde_json::Value,
}

/// What became of an order, for its source plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderStatusUpdate {
    pub order_id: String,
    pub external_id: String,
    pub state: String,
    pub findings: Vec<Finding>,
    pub reference: Option<String>,
}

impl OrderInput {
    pub(crate) fn to_wit(&self) -> types::Order {
        types::Order {
            id: self.id.clone(),
            company: self.company.clone(),
            source: self.source.clone(),
            external_id: self.external_id.clone(),
            payload: self.payload.to_string(),
        }
    }
}

impl OrderStatusUpdate {
    pub(crate) fn to_wit(&self) -> types::StatusUpdate {
        types::StatusUpdate {
            order_id: self.order_id.clone(),
            external_id: self.external_id.clone(),
            state: self.state.clone(),
            findings: self.findings.iter().map(finding_to_wit).collect(),
            reference: self.reference.clone(),
        }
    }
}

pub(crate) fn finding_to_wit(finding: &Finding) -> types::Finding {
    types::Finding {
        field: finding.field.clone(),
        value: finding.value.clone(),
        severity: match finding.severity {
            Severity::Info => types::Severity::Info,
            Severity::Warning => types::Severity::Warning,
            Severity::Error => types::Severity::Error,
        },
        message: finding.message.clone(),
    }
}
