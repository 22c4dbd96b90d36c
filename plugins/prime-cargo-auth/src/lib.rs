//! Prime Cargo's callback signature, which no built-in scheme covers:
//! `Authorization: Bearer <JWT>`, HS256 with a per-owner shared secret,
//! whose `body_sha256` claim binds the token to the raw body and whose `jti`
//! is the event id (`docs/partners.md`, "Prime Cargo").
//!
//! An `auth` plugin: the runtime calls `verify` before the push plugin that
//! names it (`webhook = { scheme = "plugin", plugin = "prime-cargo-auth" }`)
//! and replay-protects the `jti` it returns as the delivery id. The HMAC is
//! computed by the host with the secret named `callback-secret` in this
//! plugin's manifest; the secret never enters the sandbox. Configuration:
//! `issuer`, `audience`, optionally `leeway-seconds` (default 60).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portitor_guest::crypto::{self, Key};
use portitor_guest::{Auth, HttpRequest, Identity, Rejection, config};
use serde::Deserialize;
use serde_json::Value;

struct PrimeCargoAuth;

impl Auth for PrimeCargoAuth {
    fn verify(request: HttpRequest) -> Result<Identity, Rejection> {
        let claims = verify_token(&request)?;
        Ok(Identity::verified(Some(claims.iss), Some(claims.jti)))
    }
}

portitor_guest::export_auth!(PrimeCargoAuth);

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    exp: u64,
    #[serde(default)]
    iat: u64,
    jti: String,
    body_sha256: String,
}

/// Checks the bearer token: signature, issuer, audience, expiry and the body hash.
fn verify_token(request: &HttpRequest) -> Result<Claims, Rejection> {
    let header = request.header("authorization").ok_or_else(|| Rejection::refused("no Authorization header"))?;
    let token =
        header.strip_prefix("Bearer ").ok_or_else(|| Rejection::refused("Authorization is not a bearer token"))?;
    let mut parts = token.split('.');
    let (Some(head), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::refused("the token is not a JWT"));
    };
    let header_json: Value = decode_json(head).ok_or_else(|| Rejection::refused("the token header is not valid"))?;
    if header_json["alg"] != "HS256" {
        return Err(Rejection::refused("the token must be signed with HS256"));
    }
    let signature =
        URL_SAFE_NO_PAD.decode(signature).map_err(|_| Rejection::refused("the token signature is not base64url"))?;
    let signing_input = format!("{head}.{payload}");
    // A secret or setting that is missing is the tenant's to fix: `?` turns
    // those errors into `Rejection::Unavailable` (503, and the partner retries).
    let valid = crypto::verify_hmac_sha256(&Key::secret("callback-secret"), signing_input.as_bytes(), &signature)?;
    if !valid {
        return Err(Rejection::refused("bad token signature"));
    }
    let claims: Claims = decode_json(payload).ok_or_else(|| Rejection::refused("the token claims are not valid"))?;
    if claims.iss != config::require("issuer")? || claims.aud != config::require("audience")? {
        return Err(Rejection::refused("the token's issuer or audience is not the configured one"));
    }
    let leeway: u64 = config::parse_or("leeway-seconds", 60)?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    if claims.exp + leeway < now {
        return Err(Rejection::refused("token expired"));
    }
    if claims.iat > now + leeway {
        return Err(Rejection::refused("token issued in the future"));
    }
    let digest = to_hex(&crypto::sha256(&request.body));
    if !crypto::constant_time_equal(digest.as_bytes(), claims.body_sha256.to_ascii_lowercase().as_bytes()) {
        return Err(Rejection::refused("the token does not belong to this body"));
    }
    Ok(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(segment: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
