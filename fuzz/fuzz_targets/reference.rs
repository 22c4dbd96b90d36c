//! Order references, as `GET /refs/{reference}` receives them: whatever
//! passes as one of Portitor's is safe as a key segment, and every
//! reference Portitor makes passes and names its tenant.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use portitor::pipeline::reference::{reference, tenant_code, tenant_code_of};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    given: &'a str,
    company: &'a str,
    order: [u8; 16],
    attempt: u8,
}

fuzz_target!(|input: Input<'_>| {
    if let Some(code) = tenant_code_of(input.given) {
        assert_eq!(code.len(), 5);
        assert!(input.given.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'));
    }
    let attempt = u32::from(input.attempt % 100);
    let made = reference(input.company, &uuid::Uuid::from_bytes(input.order), attempt);
    assert_eq!(tenant_code_of(&made), Some(tenant_code(input.company).as_str()), "{made}");
});
