//! Prime Cargo's callback signature for the tests: a JWT (HS256) over the
//! body, as `docs/partners.md` ("Prime Cargo") describes it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The demo owner's shared secret (the partner document's test vector).
pub const SECRET: &str = "pc-demo-callback-secret-2026-xyz";

/// The partner's `PickOrderPacked` callback.
pub const PACKED: &str = include_str!("../fixtures/prime-cargo-pick-order-packed.json");

/// The `prime-cargo-auth` manifest the tests install: the secret granted,
/// the issuer and audience of the partner document.
pub const AUTH_MANIFEST: &str = r#"
kind = "auth"
[secrets]
keys = ["callback-secret"]
[config]
issuer = "primecargo-demo"
audience = "nordic-runtime"
"#;

/// A token for `body` with event id `jti`, expiring `exp_offset` seconds from now.
pub fn token(body: &str, jti: &str, exp_offset: i64, secret: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "iss": "primecargo-demo", "aud": "nordic-runtime", "iat": now, "exp": now + exp_offset,
        "jti": jti, "body_sha256": hex::encode(Sha256::digest(body.as_bytes())),
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{header}.{claims}").as_bytes());
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}
