//! What the runtime passes into push plugins, as plain Rust.

use super::bindings::types;

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
    /// `jwt`, `hmac`, `plugin` or `none`.
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
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
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
