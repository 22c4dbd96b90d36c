//! `POST /{company}/order`'s body: any bytes give an envelope or an error
//! naming the problem, and an accepted envelope keeps its promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portitor::events::keys;
use portitor::ingest::OrderEnvelope;

fuzz_target!(|body: &[u8]| {
    if let Ok(envelope) = OrderEnvelope::parse(body) {
        // The source becomes a key segment: it must be one.
        assert!(keys::check_segment("source", &envelope.source).is_ok(), "{:?}", envelope.source);
        assert!(!envelope.external_id.is_empty() && envelope.external_id.len() <= 256);
        // The order is stored as sent, and is a JSON object.
        let order: serde_json::Value = serde_json::from_str(envelope.order.get()).expect("the order is JSON");
        assert!(order.is_object());
    }
});
