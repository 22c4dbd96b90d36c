//! The built-in webhook signature schemes (docs/DESIGN.md §8): HMAC-SHA256 of the
//! raw body in a header, hex or base64 (Shopify, GitHub); Stripe's
//! `Stripe-Signature`; Standard Webhooks. All compare in constant time, all
//! check the raw bytes before anything parses them, and the timestamped
//! ones refuse signatures outside their tolerance. A secret may hold several
//! keys, one per line, so a partner's key rotation needs no downtime.
//!
//! Plain Rust: the HTTP layer passes headers, body, the secret and the time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::plugins::manifest::{SignatureEncoding, WebhookAuth};
use crate::security::secrets::SecretValue;

/// A verified request: how, and the partner's delivery id if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub scheme: &'static str,
    pub delivery_id: Option<String>,
}

/// Why a request's signature was refused. Every case answers the partner
/// 401; [`Refused::MissingSecret`] is the tenant's misconfiguration (the
/// secret its manifest names is not in its vault), which the caller also
/// reports to the tenant's operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not a signature scheme")]
    NotASignatureScheme,
    #[error("the webhook secret `{0}` is not set for this tenant")]
    MissingSecret(String),
    #[error("missing `{0}` header")]
    MissingHeader(String),
    #[error("{0}")]
    Malformed(&'static str),
    #[error("the signature's timestamp is {0} the tolerance of {1} s")]
    OutsideTolerance(&'static str, u64),
    #[error("bad signature")]
    BadSignature,
}

/// HMAC-SHA256 of `parts` one after another under `key` (any length): the
/// one helper the webhook schemes, the `crypto` host interface and the demo's
/// partners use.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn keys(secret: &SecretValue) -> impl Iterator<Item = &str> {
    secret.expose().lines().map(str::trim).filter(|k| !k.is_empty())
}

/// Verifies a request under a built-in scheme. `header` looks a header up
/// case-insensitively; `now` is Unix seconds.
pub fn verify(
    auth: &WebhookAuth,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    secret: Option<SecretValue>,
    now: i64,
) -> Result<Verified, Refused> {
    let missing_secret = |name: &str| Refused::MissingSecret(name.to_string());
    let missing_header = |name: &str| Refused::MissingHeader(name.to_string());
    match auth {
        WebhookAuth::Jwt | WebhookAuth::Plugin { .. } | WebhookAuth::None => Err(Refused::NotASignatureScheme),
        WebhookAuth::HmacSha256 { header: name, secret: secret_name, encoding, delivery_id_header } => {
            let secret = secret.ok_or_else(|| missing_secret(secret_name))?;
            let given = header(name).ok_or_else(|| missing_header(name))?;
            let given = given.trim();
            let given = given.strip_prefix("sha256=").unwrap_or(given);
            let given = match encoding {
                SignatureEncoding::Base64 => STANDARD.decode(given).ok(),
                SignatureEncoding::Hex => hex::decode(given.to_ascii_lowercase()).ok(),
            }
            .ok_or(Refused::Malformed("the signature is not validly encoded"))?;
            let matches = keys(&secret).any(|key| bool::from(hmac_sha256(key.as_bytes(), &[body]).ct_eq(&given)));
            if !matches {
                return Err(Refused::BadSignature);
            }
            Ok(Verified { scheme: "hmac", delivery_id: delivery_id_header.as_ref().and_then(|h| header(h)) })
        }
        WebhookAuth::Stripe { secret: secret_name, tolerance_secs } => {
            let secret = secret.ok_or_else(|| missing_secret(secret_name))?;
            let value = header("stripe-signature").ok_or_else(|| missing_header("Stripe-Signature"))?;
            let mut timestamp = None;
            let mut signatures = Vec::new();
            for pair in value.split(',') {
                match pair.trim().split_once('=') {
                    Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                    Some(("v1", sig)) => signatures.extend(hex::decode(sig).ok()),
                    _ => {}
                }
            }
            let t = timestamp.ok_or(Refused::Malformed("`Stripe-Signature` has no timestamp"))?;
            // abs_diff: no arithmetic a partner's timestamp can overflow.
            if t < now && now.abs_diff(t) > *tolerance_secs {
                return Err(Refused::OutsideTolerance("older than", *tolerance_secs));
            }
            let prefix = format!("{t}.");
            let matches = keys(&secret).any(|key| {
                let expected = hmac_sha256(key.as_bytes(), &[prefix.as_bytes(), body]);
                signatures.iter().any(|sig| bool::from(expected.ct_eq(sig)))
            });
            if !matches {
                return Err(Refused::BadSignature);
            }
            // Stripe has no delivery-id header: the event id is in the body.
            let delivery_id = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_string));
            Ok(Verified { scheme: "stripe", delivery_id })
        }
        WebhookAuth::StandardWebhooks { secret: secret_name, tolerance_secs } => {
            let secret = secret.ok_or_else(|| missing_secret(secret_name))?;
            let id = header("webhook-id").ok_or_else(|| missing_header("webhook-id"))?;
            let timestamp = header("webhook-timestamp").ok_or_else(|| missing_header("webhook-timestamp"))?;
            let signatures = header("webhook-signature").ok_or_else(|| missing_header("webhook-signature"))?;
            if id.contains('.') || timestamp.contains('.') {
                return Err(Refused::Malformed("`webhook-id` and `webhook-timestamp` must not contain `.`"));
            }
            let ts: i64 =
                timestamp.trim().parse().map_err(|_| Refused::Malformed("`webhook-timestamp` is not a number"))?;
            if now.abs_diff(ts) > *tolerance_secs {
                return Err(Refused::OutsideTolerance("outside", *tolerance_secs));
            }
            let given: Vec<Vec<u8>> = signatures
                .split(' ')
                .filter_map(|entry| entry.split_once(','))
                .filter(|(version, _)| *version == "v1")
                .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
                .collect();
            let content = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
            let matches = keys(&secret).any(|key| {
                let Ok(key) = STANDARD.decode(key.strip_prefix("whsec_").unwrap_or(key)) else {
                    return false;
                };
                let expected = hmac_sha256(&key, &content);
                given.iter().any(|sig| bool::from(expected.ct_eq(sig)))
            });
            if !matches {
                return Err(Refused::BadSignature);
            }
            Ok(Verified { scheme: "standard-webhooks", delivery_id: Some(id) })
        }
    }
}

#[cfg(test)]
mod tests {
    //! The partners' own test vectors (`docs/partners.md`).

    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
        move |name: &str| map.get(&name.to_ascii_lowercase()).cloned()
    }

    const SHOPIFY_BODY: &str = r##"{"id":5813370225002,"name":"#1042","order_number":1042,"email":"ingrid.lund@example.se","currency":"SEK","total_price":"748.00"}"##;

    fn shopify() -> WebhookAuth {
        WebhookAuth::HmacSha256 {
            header: "X-Shopify-Hmac-Sha256".into(),
            secret: "shopify".into(),
            encoding: SignatureEncoding::Base64,
            delivery_id_header: Some("X-Shopify-Webhook-Id".into()),
        }
    }

    #[test]
    fn shopify_vector_verifies_and_a_changed_body_does_not() {
        let secret = Some(SecretValue::new("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"));
        let headers = lookup(&[
            ("x-shopify-hmac-sha256", "rGBuSk0NbsuPdjDb28WH57Cx6YOcbNNGs7J8uR2Y3wU="),
            ("x-shopify-webhook-id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        ]);
        let verified = verify(&shopify(), &headers, SHOPIFY_BODY.as_bytes(), secret.clone(), 0).expect("valid");
        assert_eq!(verified.delivery_id.as_deref(), Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"));
        let tampered = SHOPIFY_BODY.replace("748.00", "7.48");
        assert_eq!(verify(&shopify(), &headers, tampered.as_bytes(), secret.clone(), 0), Err(Refused::BadSignature));
        // During a rotation, the old and the new key both pass.
        let rotating = Some(SecretValue::new("shpss_new_key\n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"));
        assert!(verify(&shopify(), &headers, SHOPIFY_BODY.as_bytes(), rotating, 0).is_ok());
        assert_eq!(
            verify(&shopify(), lookup(&[]), SHOPIFY_BODY.as_bytes(), secret.clone(), 0),
            Err(Refused::MissingHeader("X-Shopify-Hmac-Sha256".into()))
        );
        assert_eq!(
            verify(&shopify(), &headers, SHOPIFY_BODY.as_bytes(), None, 0),
            Err(Refused::MissingSecret("shopify".into()))
        );
    }

    #[test]
    fn hex_signatures_github_style() {
        let auth = WebhookAuth::HmacSha256 {
            header: "X-Hub-Signature-256".into(),
            secret: "gh".into(),
            encoding: SignatureEncoding::Hex,
            delivery_id_header: None,
        };
        let signature = hex::encode(hmac_sha256(b"It's a Secret to Everybody", &[b"Hello, World!"]));
        assert_eq!(signature, "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
        let headers = lookup(&[("x-hub-signature-256", &format!("sha256={signature}"))]);
        assert!(
            verify(&auth, &headers, b"Hello, World!", Some(SecretValue::new("It's a Secret to Everybody")), 0).is_ok()
        );
    }

    const SW_BODY: &str = r#"{"type":"shipment.delivered","timestamp":"2026-01-01T00:00:00Z","data":{"shipment_id":"00370726201234567894","carrier":"postnord"}}"#;

    fn standard_webhooks() -> WebhookAuth {
        WebhookAuth::StandardWebhooks { secret: "sw".into(), tolerance_secs: 300 }
    }

    #[test]
    fn standard_webhooks_vector_rotation_and_tolerance() {
        let secret = Some(SecretValue::new("whsec_bm9yZGljLWRlbW8tc2lnbmluZy1rZXktMzItYnl0ZXM="));
        let signed = |signature: &str| {
            lookup(&[
                ("webhook-id", "msg_2q7NordicDemo0001"),
                ("webhook-timestamp", "1767225600"),
                ("webhook-signature", signature),
            ])
        };
        let one = signed("v1,KYOEsRXDn+N9iAN5IhqIUROqPaSc1otzVGdbpUCvMuU=");
        let verified =
            verify(&standard_webhooks(), &one, SW_BODY.as_bytes(), secret.clone(), 1_767_225_600).expect("valid");
        assert_eq!(verified.delivery_id.as_deref(), Some("msg_2q7NordicDemo0001"));
        let two =
            signed("v1,KYOEsRXDn+N9iAN5IhqIUROqPaSc1otzVGdbpUCvMuU= v1,Uv1QlBJ29ON89MGPn/XR/QD0xfUqOz86us+k5rT7V3g=");
        assert!(verify(&standard_webhooks(), &two, SW_BODY.as_bytes(), secret.clone(), 1_767_225_600).is_ok());
        let old_only = Some(SecretValue::new("whsec_cHJldmlvdXMtcm90YXRlZC1rZXktZm9yLWRlbW8tMDE="));
        assert!(verify(&standard_webhooks(), &two, SW_BODY.as_bytes(), old_only.clone(), 1_767_225_600).is_ok());
        assert!(verify(&standard_webhooks(), &one, SW_BODY.as_bytes(), old_only, 1_767_225_600).is_err());
        for now in [1_767_225_600 + 301, 1_767_225_600 - 301] {
            let error =
                verify(&standard_webhooks(), &one, SW_BODY.as_bytes(), secret.clone(), now).expect_err("outside");
            assert_eq!(error, Refused::OutsideTolerance("outside", 300));
        }
    }

    #[test]
    fn extreme_timestamps_are_refused_not_overflowed() {
        let secret = Some(SecretValue::new("whsec_bm9yZGljLWRlbW8tc2lnbmluZy1rZXktMzItYnl0ZXM="));
        for timestamp in [i64::MIN.to_string(), i64::MAX.to_string(), "-9223372036854775808".into()] {
            let headers = lookup(&[
                ("webhook-id", "msg_1"),
                ("webhook-timestamp", &timestamp),
                ("webhook-signature", "v1,KYOEsRXDn+N9iAN5IhqIUROqPaSc1otzVGdbpUCvMuU="),
            ]);
            let error =
                verify(&standard_webhooks(), &headers, b"{}", secret.clone(), 1_767_225_600).expect_err("refused");
            assert!(matches!(error, Refused::OutsideTolerance(..)), "{timestamp}: {error}");
            let stripe = WebhookAuth::Stripe { secret: "stripe".into(), tolerance_secs: u64::MAX };
            let header = format!("t={timestamp},v1=00");
            let headers = lookup(&[("stripe-signature", &header)]);
            assert!(verify(&stripe, &headers, b"{}", secret.clone(), i64::MAX).is_err(), "{timestamp}");
        }
    }

    #[test]
    fn stripe_vector_and_past_only_tolerance() {
        let auth = WebhookAuth::Stripe { secret: "stripe".into(), tolerance_secs: 300 };
        let secret = Some(SecretValue::new("whsec_NordicDemoStripeSecret7Kq2"));
        let body = r#"{"id":"evt_1QNordicDemo0001","object":"event","type":"checkout.session.completed"}"#;
        let headers = lookup(&[(
            "stripe-signature",
            "t=1767225600,v1=86d72f1d7e5f1dcb4225765ff99cb608cd41da103bae2f85e50557f8e8153cf8",
        )]);
        let verified = verify(&auth, &headers, body.as_bytes(), secret.clone(), 1_767_225_600).expect("valid");
        assert_eq!(verified.delivery_id.as_deref(), Some("evt_1QNordicDemo0001"));
        assert!(
            verify(&auth, &headers, body.as_bytes(), secret.clone(), 1_767_225_600 - 3600).is_ok(),
            "future timestamps pass"
        );
        let error = verify(&auth, &headers, body.as_bytes(), secret, 1_767_225_600 + 301).expect_err("too old");
        assert_eq!(error.to_string(), "the signature's timestamp is older than the tolerance of 300 s");
    }
}
