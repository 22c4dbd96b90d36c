//! A stored cursor and the event keys listed from the store: any stored
//! bytes read as a cursor or an error, and event keys round-trip.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use portitor::events::keys;
use portitor::scheduler::run::StoredCursor;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    stored: &'a [u8],
    listed_key: &'a str,
    version: u64,
    event_type: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let _ = serde_json::from_slice::<StoredCursor>(input.stored);
    let prefix = keys::aggregate_prefix("acme", "order", "o-1");
    if let Some((_, event_type)) = keys::parse_event_key(&prefix, input.listed_key) {
        assert!(!event_type.contains('/'));
    }
    if keys::check_event_type(input.event_type).is_ok() && input.version < 10_000_000_000 {
        let key = keys::event_key("acme", "order", "o-1", input.version, input.event_type);
        assert_eq!(keys::parse_event_key(&prefix, &key), Some((input.version, input.event_type)));
    }
});
