//! The built-in signature schemes on hostile headers, bodies and clocks:
//! no input panics or overflows, and none verifies without the secret.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use portitor::plugins::manifest::{SignatureEncoding, WebhookAuth};
use portitor::security::secrets::SecretValue;
use portitor::security::webhooks::verify;

#[derive(Debug, Arbitrary)]
struct Delivery {
    scheme: u8,
    tolerance_secs: u64,
    now: i64,
    signature: String,
    id: String,
    timestamp: String,
    body: Vec<u8>,
}

fuzz_target!(|d: Delivery| {
    let auth = match d.scheme % 4 {
        0 => WebhookAuth::HmacSha256 {
            header: "x-signature".into(),
            secret: "s".into(),
            encoding: SignatureEncoding::Hex,
            delivery_id_header: Some("x-delivery".into()),
        },
        1 => WebhookAuth::HmacSha256 {
            header: "x-signature".into(),
            secret: "s".into(),
            encoding: SignatureEncoding::Base64,
            delivery_id_header: None,
        },
        2 => WebhookAuth::Stripe { secret: "s".into(), tolerance_secs: d.tolerance_secs },
        _ => WebhookAuth::StandardWebhooks { secret: "s".into(), tolerance_secs: d.tolerance_secs },
    };
    let header = |name: &str| match name {
        "x-signature" | "stripe-signature" | "webhook-signature" => Some(d.signature.clone()),
        "x-delivery" | "webhook-id" => Some(d.id.clone()),
        "webhook-timestamp" => Some(d.timestamp.clone()),
        _ => None,
    };
    // A secret the input cannot know: nothing it sends may verify.
    let secret = SecretValue::new("whsec_c2VjcmV0LW5vLWZ1enplci1rbm93cw==\nan-old-key-no-fuzzer-knows");
    let verified = verify(&auth, header, &d.body, Some(secret), d.now);
    assert!(verified.is_err(), "verified without the secret: {d:?}");
    // And without a secret configured, every scheme refuses.
    assert!(verify(&auth, header, &d.body, None, d.now).is_err());
});
