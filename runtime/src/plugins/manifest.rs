//! The plugin manifest: what a plugin is and what its sandbox grants it.
//!
//! A tenant uploads a manifest (TOML or JSON) next to each component. Every
//! key is checked: an unknown key is an error that names it, and limits
//! default to safe values. The manifest never holds a secret's value, only
//! secret names that the runtime resolves for the tenant.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The kinds of plugin, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    PushSource,
    PullSource,
    Validator,
    Mapper,
    Warehouse,
    /// Verifies partner requests for push plugins whose scheme the runtime
    /// does not know.
    Auth,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PushSource => "push-source",
            Self::PullSource => "pull-source",
            Self::Validator => "validator",
            Self::Mapper => "mapper",
            Self::Warehouse => "warehouse",
            Self::Auth => "auth",
        }
    }

    /// Whether plugins of this kind bring orders in (and have a default validation mode).
    pub fn is_source(self) -> bool {
        matches!(self, Self::PushSource | Self::PullSource)
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `strict` or `lenient`; see docs/DESIGN.md §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    Strict,
    Lenient,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub kind: PluginKind,
    /// Overrides the cron schedule a pull plugin exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The validation mode of orders from this source that carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_mode: Option<ValidationMode>,
    #[serde(default)]
    pub limits: LimitsSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub http: HttpSpec,
    #[serde(default)]
    pub ftp: FtpSpec,
    #[serde(default)]
    pub secrets: SecretsSpec,
    /// How the runtime authenticates partner requests to a push plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookAuth>,
    /// Non-secret configuration values the plugin reads through `config`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// Resource limits; every one has a safe default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    pub memory_mib: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub fuel: Option<u64>,
    pub max_events: Option<u32>,
    pub max_event_bytes: Option<u64>,
    pub max_log_bytes: Option<u64>,
    pub max_http_request_bytes: Option<u64>,
    pub max_http_response_bytes: Option<u64>,
    pub http_timeout_ms: Option<u64>,
    pub max_ftp_file_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Hosts the plugin may call without a connection: `api.example.com`,
    /// `*.example.com`, optionally with `:port`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Hosts the plugin needs to reach at private, loopback, link-local or
    /// other non-public addresses (refused for every other host, after DNS
    /// resolution). Only what the platform's operator granted the tenant
    /// may be listed here (`[egress]` in the server configuration).
    #[serde(default)]
    pub private_hosts: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    #[serde(default)]
    pub connections: BTreeMap<String, HttpConnection>,
}

/// A partner API the plugin reaches with credentials it never sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConnection {
    /// Requests through the connection must stay below this URL.
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ConnectionAuth>,
}

/// How the host attaches a connection's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConnectionAuth {
    /// `name: {prefix}{secret}`, e.g. `Authorization: Bearer …` or an API-key header.
    Header {
        name: String,
        secret: String,
        #[serde(default)]
        prefix: String,
    },
    /// HTTP Basic with a fixed user name and a secret password.
    Basic { username: String, password_secret: String },
    /// A query parameter, e.g. PostNord's `apikey`.
    Query { param: String, secret: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpSpec {
    #[serde(default)]
    pub connections: BTreeMap<String, FtpConnection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpConnection {
    /// `ftp` (the default) or `sftp`; plugins use both through the same `ftp` interface.
    #[serde(default)]
    pub protocol: FileProtocol,
    pub host: String,
    /// 21 for FTP and 22 for SFTP unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub username: String,
    /// The secret holding the password; anonymous FTP servers need none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
    /// SFTP: the server's public host key as OpenSSH writes it
    /// (`ssh-ed25519 AAAA…`, as in `known_hosts`). Required: a server that
    /// presents another key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    /// SFTP: the secret holding a private key (OpenSSH format) to log in
    /// with, instead of or before a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_secret: Option<String>,
}

/// How a file connection talks to its server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileProtocol {
    #[default]
    Ftp,
    Sftp,
}

impl FtpConnection {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.protocol {
            FileProtocol::Ftp => 21,
            FileProtocol::Sftp => 22,
        })
    }

    fn check(&self, name: &str) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(format!("ftp connection `{name}`: {m}")));
        match self.protocol {
            FileProtocol::Ftp if self.host_key.is_some() || self.private_key_secret.is_some() => {
                invalid("`host_key` and `private_key_secret` apply only to `protocol = \"sftp\"`".into())
            }
            FileProtocol::Ftp => Ok(()),
            FileProtocol::Sftp if self.password_secret.is_none() && self.private_key_secret.is_none() => {
                invalid("an SFTP connection needs `private_key_secret` or `password_secret`".into())
            }
            FileProtocol::Sftp => match &self.host_key {
                None => invalid("an SFTP connection needs the server's `host_key` (`ssh-ed25519 AAAA…`)".into()),
                Some(key) => match russh::keys::PublicKey::from_openssh(key) {
                    Ok(_) => Ok(()),
                    Err(e) => invalid(format!("`host_key` is not an OpenSSH public key: {e}")),
                },
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSpec {
    /// Secrets the plugin may use as `crypto` keys by name; their values never
    /// enter the sandbox.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Secrets readable through `config.get` — an explicit opt-in.
    #[serde(default)]
    pub expose: Vec<String>,
}

/// How partner requests to a push plugin are authenticated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WebhookAuth {
    /// A platform JWT with the `source-adapter` role.
    Jwt,
    /// HMAC-SHA256 of the raw body in a header, hex or base64 (Shopify, GitHub).
    HmacSha256 {
        header: String,
        secret: String,
        encoding: SignatureEncoding,
        /// Header carrying the delivery id, for replay protection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_id_header: Option<String>,
    },
    /// Stripe's `Stripe-Signature: t=…,v1=…`.
    Stripe {
        secret: String,
        #[serde(default = "default_tolerance")]
        tolerance_secs: u64,
    },
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    StandardWebhooks {
        secret: String,
        #[serde(default = "default_tolerance")]
        tolerance_secs: u64,
    },
    /// The tenant's `auth` plugin of this id verifies the request first.
    Plugin { plugin: String },
    /// No runtime check: the plugin authenticates the request itself.
    None,
}

fn default_tolerance() -> u64 {
    300
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    Hex,
    Base64,
}

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("manifest is not valid TOML: {0}")]
    Toml(String),
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("manifest is invalid: {0}")]
    Invalid(String),
}

/// Limits resolved from a manifest and the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: usize,
    pub timeout: Duration,
    pub fuel: u64,
    pub max_events: usize,
    pub max_event_bytes: usize,
    pub max_log_bytes: usize,
    pub max_http_request_bytes: usize,
    pub max_http_response_bytes: usize,
    pub http_timeout: Duration,
    pub max_ftp_file_bytes: usize,
}

const MIB: u64 = 1024 * 1024;

/// The platform's maximum for every limit a manifest may set (the server
/// configuration's `[engine.caps]`, same names as a manifest's `[limits]`).
/// A manifest above one is refused at upload, naming the cap; a default
/// above one is lowered to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitCaps {
    pub memory_mib: u32,
    pub timeout_ms: u64,
    pub fuel: u64,
    pub max_events: u32,
    pub max_event_bytes: u64,
    pub max_log_bytes: u64,
    pub max_http_request_bytes: u64,
    pub max_http_response_bytes: u64,
    pub http_timeout_ms: u64,
    pub max_ftp_file_bytes: u64,
}

impl Default for LimitCaps {
    fn default() -> Self {
        Self {
            memory_mib: 512,
            timeout_ms: 120_000,
            // No practical cap by default: the time-out is what stops a
            // loop, fuel is for accounting; an operator may set one.
            fuel: u64::MAX / 2,
            max_events: 10_000,
            max_event_bytes: 8 * MIB,
            max_log_bytes: MIB,
            max_http_request_bytes: 32 * MIB,
            max_http_response_bytes: 64 * MIB,
            http_timeout_ms: 120_000,
            max_ftp_file_bytes: 256 * MIB,
        }
    }
}

impl LimitCaps {
    /// Refuses a manifest that sets a limit above its cap, naming both.
    pub fn check(&self, manifest: &Manifest) -> Result<(), ManifestError> {
        let l = &manifest.limits;
        let checks: [(&str, Option<u64>, u64); 10] = [
            ("memory_mib", l.memory_mib.map(u64::from), u64::from(self.memory_mib)),
            ("timeout_ms", l.timeout_ms, self.timeout_ms),
            ("fuel", l.fuel, self.fuel),
            ("max_events", l.max_events.map(u64::from), u64::from(self.max_events)),
            ("max_event_bytes", l.max_event_bytes, self.max_event_bytes),
            ("max_log_bytes", l.max_log_bytes, self.max_log_bytes),
            ("max_http_request_bytes", l.max_http_request_bytes, self.max_http_request_bytes),
            ("max_http_response_bytes", l.max_http_response_bytes, self.max_http_response_bytes),
            ("http_timeout_ms", l.http_timeout_ms, self.http_timeout_ms),
            ("max_ftp_file_bytes", l.max_ftp_file_bytes, self.max_ftp_file_bytes),
        ];
        for (name, set, cap) in checks {
            if let Some(set) = set
                && set > cap
            {
                return Err(ManifestError::Invalid(format!(
                    "limits.{name} = {set} is over the platform's cap engine.caps.{name} = {cap}"
                )));
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// Parses a manifest in TOML or JSON (a document starting with `{`).
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| ManifestError::Toml(e.to_string()))?
        };
        manifest.check()?;
        Ok(manifest)
    }

    /// The manifest as JSON, the form the store keeps.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    fn check(&self) -> Result<(), ManifestError> {
        let invalid = |m: String| Err(ManifestError::Invalid(m));
        if self.kind != PluginKind::PullSource && self.schedule.is_some() {
            return invalid("`schedule` applies only to pull-source plugins".into());
        }
        if self.kind != PluginKind::PushSource && self.webhook.is_some() {
            return invalid("`webhook` applies only to push-source plugins".into());
        }
        if let Some(WebhookAuth::Plugin { plugin }) = &self.webhook {
            check_name("auth plugin", plugin)?;
        }
        if !self.kind.is_source() && self.validation_mode.is_some() {
            return invalid("`validation_mode` applies only to source plugins".into());
        }
        for (name, conn) in &self.http.connections {
            check_name("http connection", name)?;
            let url = url::Url::parse(&conn.base_url)
                .map_err(|e| ManifestError::Invalid(format!("http connection `{name}`: base_url: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return invalid(format!("http connection `{name}`: base_url must be an http(s) URL with a host"));
            }
        }
        for (name, connection) in &self.ftp.connections {
            check_name("ftp connection", name)?;
            connection.check(name)?;
        }
        for pattern in self.network.allowed_hosts.iter().chain(&self.network.private_hosts) {
            crate::host::egress::check_pattern(pattern).map_err(ManifestError::Invalid)?;
        }
        let limits = &self.limits;
        if limits.memory_mib == Some(0) || limits.timeout_ms == Some(0) || limits.max_events == Some(0) {
            return invalid("limits must be greater than zero".into());
        }
        Ok(())
    }

    /// The limits of this plugin, from the manifest and the defaults,
    /// without a platform's caps (see [`Manifest::limits_within`]).
    pub fn limits(&self) -> Limits {
        self.limits_within(&LimitCaps::default())
    }

    /// The limits of this plugin under the platform's `caps`: what the
    /// manifest sets (which [`LimitCaps::check`] has kept within them),
    /// else the default, lowered to the cap where the cap is lower.
    pub fn limits_within(&self, caps: &LimitCaps) -> Limits {
        let l = &self.limits;
        let default_timeout_ms = match self.kind {
            PluginKind::PushSource | PluginKind::Validator | PluginKind::Mapper | PluginKind::Auth => 5_000,
            PluginKind::PullSource | PluginKind::Warehouse => 60_000,
        };
        let pick = |set: Option<u64>, default: u64, cap: u64| set.unwrap_or(default).min(cap);
        Limits {
            memory_bytes: (pick(l.memory_mib.map(u64::from), 64, u64::from(caps.memory_mib)) * MIB) as usize,
            timeout: Duration::from_millis(pick(l.timeout_ms, default_timeout_ms, caps.timeout_ms)),
            fuel: pick(l.fuel, u64::MAX / 2, caps.fuel),
            max_events: pick(l.max_events.map(u64::from), 1_000, u64::from(caps.max_events)) as usize,
            max_event_bytes: pick(l.max_event_bytes, MIB, caps.max_event_bytes) as usize,
            max_log_bytes: pick(l.max_log_bytes, 64 * 1024, caps.max_log_bytes) as usize,
            max_http_request_bytes: pick(l.max_http_request_bytes, 4 * MIB, caps.max_http_request_bytes) as usize,
            max_http_response_bytes: pick(l.max_http_response_bytes, 16 * MIB, caps.max_http_response_bytes) as usize,
            http_timeout: Duration::from_millis(pick(l.http_timeout_ms, 30_000, caps.http_timeout_ms)),
            max_ftp_file_bytes: pick(l.max_ftp_file_bytes, 32 * MIB, caps.max_ftp_file_bytes) as usize,
        }
    }

    /// Every secret name the manifest refers to.
    pub fn secret_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for conn in self.http.connections.values() {
            match &conn.auth {
                Some(ConnectionAuth::Header { secret, .. }) | Some(ConnectionAuth::Query { secret, .. }) => {
                    names.push(secret)
                }
                Some(ConnectionAuth::Basic { password_secret, .. }) => names.push(password_secret),
                None => {}
            }
        }
        for connection in self.ftp.connections.values() {
            names.extend(connection.password_secret.as_deref());
            names.extend(connection.private_key_secret.as_deref());
        }
        names.extend(self.secrets.keys.iter().map(String::as_str));
        names.extend(self.secrets.expose.iter().map(String::as_str));
        if let Some(auth) = &self.webhook {
            match auth {
                WebhookAuth::HmacSha256 { secret, .. }
                | WebhookAuth::Stripe { secret, .. }
                | WebhookAuth::StandardWebhooks { secret, .. } => names.push(secret),
                WebhookAuth::Jwt | WebhookAuth::Plugin { .. } | WebhookAuth::None => {}
            }
        }
        names.sort_unstable();
        names.dedup();
        names
    }
}

fn check_name(what: &str, name: &str) -> Result<(), ManifestError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ManifestError::Invalid(format!("{what} name `{name}` must be lowercase letters, digits and hyphens")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_toml_manifest() {
        let manifest = Manifest::parse(
            r#"
            kind = "pull-source"
            schedule = "*/5 * * * *"
            validation_mode = "lenient"
            [limits]
            memory_mib = 32
            timeout_ms = 2000
            [network]
            allowed_hosts = ["api2.postnord.com"]
            [http.connections.postnord]
            base_url = "https://api2.postnord.com"
            auth = { type = "query", param = "apikey", secret = "postnord-key" }
            [ftp.connections.bring]
            host = "ftp.bring.example"
            username = "nordvik"
            password_secret = "bring-password"
            [config]
            locale = "sv"
            "#,
        )
        .expect("valid manifest");
        assert_eq!(manifest.kind, PluginKind::PullSource);
        assert_eq!(manifest.limits().memory_bytes, 32 * 1024 * 1024);
        assert_eq!(manifest.limits().timeout, Duration::from_secs(2));
        assert_eq!(manifest.ftp.connections["bring"].port(), 21);
        assert_eq!(manifest.secret_names(), vec!["bring-password", "postnord-key"]);
    }

    #[test]
    fn sftp_connections_pin_the_host_key() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let sftp = |extra: &str| {
            Manifest::parse(&format!(
                "kind = \"pull-source\"\n[ftp.connections.drop]\nprotocol = \"sftp\"\nhost = \"sftp.example\"\nusername = \"u\"\n{extra}"
            ))
        };
        let manifest = sftp(&format!("host_key = \"{key}\"\nprivate_key_secret = \"drop-key\"\n")).expect("valid");
        assert_eq!(manifest.ftp.connections["drop"].port(), 22);
        assert_eq!(manifest.secret_names(), vec!["drop-key"]);
        let missing = sftp("password_secret = \"pw\"\n").expect_err("no host key");
        assert!(missing.to_string().contains("needs the server's `host_key`"), "{missing}");
        let garbage = sftp("password_secret = \"pw\"\nhost_key = \"ssh-ed25519 not-base64\"\n").expect_err("bad key");
        let anonymous = sftp(&format!("host_key = \"{key}\"\n")).expect_err("no credential");
        assert!(anonymous.to_string().contains("needs `private_key_secret` or `password_secret`"), "{anonymous}");
        assert!(garbage.to_string().contains("not an OpenSSH public key"), "{garbage}");
        let ftp = Manifest::parse(&format!(
            "kind = \"pull-source\"\n[ftp.connections.drop]\nhost = \"h\"\nusername = \"u\"\nhost_key = \"{key}\"\n"
        ))
        .expect_err("host key on FTP");
        assert!(ftp.to_string().contains("apply only to `protocol = \"sftp\"`"), "{ftp}");
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = Manifest::parse("kind = \"push-source\"\nmemory = 5\n").expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `memory`"), "{err}");
        let err = Manifest::parse("kind = \"push-source\"\n[limits]\nmemory = 5\n").expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `memory`"), "{err}");
    }

    #[test]
    fn json_manifests_are_accepted_and_round_trip() {
        let manifest = Manifest::parse(r#"{"kind": "push-source", "config": {"a": "b"}}"#).expect("valid");
        assert_eq!(Manifest::parse(&manifest.to_json()).expect("round trip"), manifest);
    }

    #[test]
    fn kind_specific_keys_are_checked() {
        let err = Manifest::parse("kind = \"push-source\"\nschedule = \"* * * * *\"\n").expect_err("push schedule");
        assert!(err.to_string().contains("only to pull-source"), "{err}");
        let err = Manifest::parse("kind = \"pull-source\"\n[http.connections.Bad]\nbase_url = \"https://x\"\n")
            .expect_err("bad name");
        assert!(err.to_string().contains("lowercase"), "{err}");
    }

    #[test]
    fn limits_above_the_platform_caps_are_refused_naming_the_cap() {
        let caps = LimitCaps { timeout_ms: 10_000, fuel: 1_000_000, ..LimitCaps::default() };
        let over = Manifest::parse("kind = \"push-source\"\n[limits]\ntimeout_ms = 600000\n").expect("parses");
        let error = caps.check(&over).expect_err("over the cap");
        assert!(error.to_string().contains("engine.caps.timeout_ms = 10000"), "{error}");
        for limit in ["fuel = 1000001", "max_log_bytes = 1073741824", "max_ftp_file_bytes = 1099511627776"] {
            let manifest = Manifest::parse(&format!("kind = \"pull-source\"\n[limits]\n{limit}\n")).expect("parses");
            assert!(caps.check(&manifest).is_err(), "{limit}");
        }
        let within = Manifest::parse("kind = \"push-source\"\n[limits]\ntimeout_ms = 2000\n").expect("parses");
        assert!(caps.check(&within).is_ok());
        // Defaults above a cap come down to it.
        let defaults = Manifest::parse("kind = \"pull-source\"").expect("parses").limits_within(&caps);
        assert_eq!(defaults.timeout, Duration::from_secs(10));
        assert_eq!(defaults.fuel, 1_000_000);
    }

    #[test]
    fn defaults_are_safe() {
        let limits = Manifest::parse("kind = \"push-source\"").expect("valid").limits();
        assert_eq!(limits.memory_bytes, 64 * 1024 * 1024);
        assert_eq!(limits.timeout, Duration::from_secs(5));
        assert_eq!(limits.max_events, 1000);
    }
}
