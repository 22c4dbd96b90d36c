//! A tenant-admin's manifest in TOML: any text parses to a checked
//! manifest or an error; a manifest accepted once is accepted again in the
//! JSON form the store keeps, and its limits stay within the caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portitor::plugins::manifest::{LimitCaps, Manifest};

fuzz_target!(|text: &str| {
    if text.trim_start().starts_with('{') {
        return; // manifest_json's
    }
    check(text);
});

fn check(text: &str) {
    let Ok(manifest) = Manifest::parse(text) else { return };
    let stored = manifest.to_json();
    let again = Manifest::parse(&stored).expect("the stored form of an accepted manifest is accepted");
    assert_eq!(again.to_json(), stored);
    let caps = LimitCaps::default();
    let limits = manifest.limits_within(&caps);
    let _ = (limits, manifest.secret_names());
}
