//! Who may do what, and the keys it rests on: bearer tokens and roles,
//! the platform's own keys, tenants' secrets, and the webhook signature
//! schemes partners sign with.

pub mod auth;
pub mod platform_keys;
pub mod redact;
pub mod secrets;
pub mod webhooks;
