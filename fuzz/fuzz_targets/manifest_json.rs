//! A tenant-admin's manifest in JSON (the API's other form, and the form
//! the store keeps): parsed, checked, and stable through a store round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portitor::plugins::manifest::{LimitCaps, Manifest};

fuzz_target!(|text: &str| {
    // Every input is tried as JSON, whatever its first character.
    let text = if text.trim_start().starts_with('{') { text.to_string() } else { format!("{{{text}") };
    let Ok(manifest) = Manifest::parse(&text) else { return };
    let stored = manifest.to_json();
    let again = Manifest::parse(&stored).expect("the stored form of an accepted manifest is accepted");
    assert_eq!(again.to_json(), stored);
    let _ = manifest.limits_within(&LimitCaps::default());
});
