//! Who may do what (docs/DESIGN.md §8): bearer JWTs with `sub`, `company` (or `*`
//! for a platform-wide operator) and `roles`; `exp` required; `iss` and
//! `aud` checked when configured. No or a bad token is 401; a token for
//! another company, or without a role the route needs, is 403.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::AuthConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    SourceAdapter,
    WarehouseAdapter,
    TenantAdmin,
    PlatformOperator,
}

impl Role {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "source-adapter" => Some(Self::SourceAdapter),
            "warehouse-adapter" => Some(Self::WarehouseAdapter),
            "tenant-admin" => Some(Self::TenantAdmin),
            "platform-operator" => Some(Self::PlatformOperator),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SourceAdapter => "source-adapter",
            Self::WarehouseAdapter => "warehouse-adapter",
            Self::TenantAdmin => "tenant-admin",
            Self::PlatformOperator => "platform-operator",
        }
    }
}

/// The claims Portitor reads and `portitor token` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub company: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// For a `source-adapter`: the order sources it may post and read
    /// (docs/DESIGN.md §8). Absent: any source that no plugin of the tenant owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    /// `None` for a platform-wide token (`company: "*"`).
    pub company: Option<String>,
    pub roles: Vec<Role>,
    /// The token's `sources` claim: the only order sources it may use.
    pub sources: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
}

impl Principal {
    /// Allows the call if the token is for `company` (or all companies)
    /// and carries one of `roles`.
    pub fn authorize(&self, company: &str, roles: &[Role]) -> Result<(), AuthError> {
        if let Some(own) = &self.company
            && own != company
        {
            return Err(AuthError::Forbidden(format!("this token is for company `{own}`, not `{company}`")));
        }
        if !roles.iter().any(|role| self.roles.contains(role)) {
            let needed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            return Err(AuthError::Forbidden(format!("this needs the role {}", needed.join(" or "))));
        }
        Ok(())
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the token may use order source `source` (its `sources`
    /// claim, if it has one, names it).
    pub fn may_use_source(&self, source: &str) -> bool {
        self.sources.as_ref().is_none_or(|sources| sources.iter().any(|s| s == source))
    }
}

/// Verifies tokens (and, with a shared secret, mints them).
pub struct Authenticator {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    algorithm: Algorithm,
    issuer: Option<String>,
    audience: Option<String>,
    verified: VerifiedTokens,
}

/// Tokens whose signature and claims were already checked, so a client
/// that sends one bearer token with every request pays for the check once.
/// Keyed by the whole token: the same bytes verify the same way, except
/// for expiry, which is checked again on every use. Bounded: emptied
/// when full.
#[derive(Default)]
struct VerifiedTokens {
    tokens: RwLock<HashMap<String, (Principal, u64)>>,
}

const MAX_VERIFIED_TOKENS: usize = 4096;

impl VerifiedTokens {
    fn get(&self, token: &str, now: u64, leeway: u64) -> Option<Principal> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let (principal, exp) = tokens.get(token)?;
        (now <= exp.saturating_add(leeway)).then(|| principal.clone())
    }

    fn insert(&self, token: &str, principal: &Principal, exp: u64) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= MAX_VERIFIED_TOKENS {
            tokens.clear();
        }
        tokens.insert(token.to_string(), (principal.clone(), exp));
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// Why the `[auth]` configuration cannot make an authenticator.
#[derive(Debug, Error)]
pub enum AuthConfigError {
    #[error("auth.algorithm `{0}` is not one of HS256, RS256, ES256, EdDSA")]
    UnknownAlgorithm(String),
    #[error("auth.hs256_secret is not set")]
    MissingSecret,
    #[error("auth.hs256_secret must be at least 32 characters")]
    ShortSecret,
    #[error("auth.algorithm {0} needs auth.public_key_pem")]
    MissingPublicKey(String),
    #[error("cannot read {path}")]
    ReadKey {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable public key")]
    BadKey {
        path: std::path::PathBuf,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
}

/// Why a token could not be minted.
#[derive(Debug, Error)]
pub enum MintError {
    #[error("tokens can only be minted with an HS256 secret; use your identity provider for RS256/ES256/EdDSA")]
    NoSigningKey,
    #[error("signing the token")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

impl Authenticator {
    /// The authenticator `config` describes. An HS256 key must be set:
    /// `platform_keys::complete` fills it in from the data directory when
    /// the configuration does not; no key is built in.
    pub fn from_config(config: &AuthConfig) -> Result<Self, AuthConfigError> {
        let algorithm = match config.algorithm.as_str() {
            "HS256" => Algorithm::HS256,
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            "EdDSA" => Algorithm::EdDSA,
            other => return Err(AuthConfigError::UnknownAlgorithm(other.to_string())),
        };
        let (decoding, encoding) = if algorithm == Algorithm::HS256 {
            let secret = match &config.hs256_secret {
                Some(secret) if secret.len() >= 32 => secret,
                Some(_) => return Err(AuthConfigError::ShortSecret),
                None => return Err(AuthConfigError::MissingSecret),
            };
            (DecodingKey::from_secret(secret.as_bytes()), Some(EncodingKey::from_secret(secret.as_bytes())))
        } else {
            let path = config
                .public_key_pem
                .as_ref()
                .ok_or_else(|| AuthConfigError::MissingPublicKey(config.algorithm.clone()))?;
            let pem = std::fs::read(path).map_err(|source| AuthConfigError::ReadKey { path: path.clone(), source })?;
            let key = match algorithm {
                Algorithm::RS256 => DecodingKey::from_rsa_pem(&pem),
                Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
                _ => DecodingKey::from_ed_pem(&pem),
            }
            .map_err(|source| AuthConfigError::BadKey { path: path.clone(), source })?;
            (key, None)
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 30;
        match &config.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Self {
            decoding,
            encoding,
            validation,
            algorithm,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            verified: VerifiedTokens::default(),
        })
    }

    /// The caller behind an `Authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let value = header.ok_or(AuthError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| AuthError::Invalid("the Authorization header is not `Bearer <token>`".into()))?;
        self.verify(token.trim())
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if let Some(principal) = self.verified.get(token, now, self.validation.leeway) {
            return Ok(principal);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let company = match claims.company.as_str() {
            "*" => None,
            company => Some(company.to_string()),
        };
        let principal = Principal {
            subject: claims.sub,
            company,
            roles: claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            sources: claims.sources,
        };
        self.verified.insert(token, &principal, claims.exp);
        Ok(principal)
    }

    /// A token for `company` with `roles`, valid for `ttl_secs`.
    pub fn mint(&self, subject: &str, company: &str, roles: &[Role], ttl_secs: u64) -> Result<String, MintError> {
        self.mint_with_sources(subject, company, roles, &[], ttl_secs)
    }

    /// [`Authenticator::mint`], limited to order `sources` when there are any.
    pub fn mint_with_sources(
        &self,
        subject: &str,
        company: &str,
        roles: &[Role],
        sources: &[String],
        ttl_secs: u64,
    ) -> Result<String, MintError> {
        let key = self.encoding.as_ref().ok_or(MintError::NoSigningKey)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let claims = Claims {
            sub: subject.to_string(),
            company: company.to_string(),
            roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
            sources: (!sources.is_empty()).then(|| sources.to_vec()),
            exp: now + ttl_secs,
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        Ok(jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a-test-key-of-at-least-32-characters";

    fn authenticator() -> Authenticator {
        Authenticator::from_config(&AuthConfig { hs256_secret: Some(KEY.into()), ..AuthConfig::default() })
            .expect("auth")
    }

    #[test]
    fn no_key_is_built_in() {
        let error = Authenticator::from_config(&AuthConfig::default()).expect_err("no key configured");
        assert!(matches!(error, AuthConfigError::MissingSecret), "{error}");
        // The key earlier versions built in signs nothing this accepts.
        let legacy = "portitor-development-key-do-not-use-in-production";
        let claims = Claims {
            sub: "x".into(),
            company: "*".into(),
            roles: vec!["platform-operator".into()],
            sources: None,
            exp: u64::MAX / 4,
            iat: None,
            iss: None,
            aud: None,
        };
        let forged =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(legacy.as_bytes()))
                .expect("encode");
        assert!(matches!(authenticator().verify(&forged), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn minted_tokens_verify_and_authorize_by_company_and_role() {
        let auth = authenticator();
        let token = auth.mint("shop", "acme", &[Role::SourceAdapter], 60).expect("mint");
        let principal = auth.verify_header(Some(&format!("Bearer {token}"))).expect("valid");
        assert_eq!(principal.company.as_deref(), Some("acme"));
        assert!(principal.authorize("acme", &[Role::SourceAdapter]).is_ok());
        let other = principal.authorize("globex", &[Role::SourceAdapter]).expect_err("other company");
        assert!(other.to_string().contains("not `globex`"), "{other}");
        assert!(matches!(principal.authorize("acme", &[Role::PlatformOperator]), Err(AuthError::Forbidden(_))));

        let operator = auth.mint("ops", "*", &[Role::PlatformOperator], 60).expect("mint");
        let operator = auth.verify(&operator).expect("valid");
        assert!(operator.authorize("globex", &[Role::PlatformOperator]).is_ok());
    }

    #[test]
    fn bad_tokens_are_refused() {
        let auth = authenticator();
        assert_eq!(auth.verify_header(None), Err(AuthError::Missing));
        assert!(matches!(auth.verify_header(Some("Basic abc")), Err(AuthError::Invalid(_))));
        assert!(matches!(auth.verify("not.a.token"), Err(AuthError::Invalid(_))));
        let other = Authenticator::from_config(&AuthConfig {
            hs256_secret: Some("another-secret-of-at-least-32-characters".into()),
            ..AuthConfig::default()
        })
        .expect("auth");
        let foreign = other.mint("x", "acme", &[Role::TenantAdmin], 60).expect("mint");
        assert!(matches!(auth.verify(&foreign), Err(AuthError::Invalid(_))));
        let past = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() - 3600;
        let claims = Claims {
            sub: "x".into(),
            company: "acme".into(),
            roles: vec![],
            sources: None,
            exp: past,
            iat: None,
            iss: None,
            aud: None,
        };
        let expired =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(KEY.as_bytes()))
                .expect("encode");
        let error = auth.verify(&expired).expect_err("expired");
        assert!(error.to_string().contains("ExpiredSignature"), "{error}");
    }

    #[test]
    fn a_sources_claim_limits_the_sources_a_token_may_use() {
        let auth = authenticator();
        let limited =
            auth.mint_with_sources("erp", "acme", &[Role::SourceAdapter], &["erp-orders".into()], 60).expect("mint");
        let limited = auth.verify(&limited).expect("valid");
        assert!(limited.may_use_source("erp-orders"));
        assert!(!limited.may_use_source("woo-no"));
        let open = auth.verify(&auth.mint("shop", "acme", &[Role::SourceAdapter], 60).expect("mint")).expect("valid");
        assert_eq!(open.sources, None);
        assert!(open.may_use_source("woo-no"));
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let auth = authenticator();
        let token = auth.mint("x", "acme", &[Role::TenantAdmin], 60).expect("mint");
        let first = auth.verify(&token).expect("valid");
        assert_eq!(auth.verify(&token).expect("remembered"), first);
        let exp = auth.verified.tokens.read().expect("lock")[&token].1;
        let leeway = auth.validation.leeway;
        assert!(auth.verified.get(&token, exp + leeway, leeway).is_some(), "valid up to exp + leeway");
        assert!(auth.verified.get(&token, exp + leeway + 1, leeway).is_none(), "expired once past it");
        // A token differing in one byte is checked afresh, not looked up.
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(matches!(auth.verify(&tampered), Err(AuthError::Invalid(_))));
    }
}
