//! The egress classifier: an address that is not public stays not public
//! in every IPv6 form that embeds it.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use portitor::fuzzing::address_class;

fuzz_target!(|bytes: [u8; 16]| {
    let v6 = Ipv6Addr::from(bytes);
    let _ = address_class(IpAddr::V6(v6));
    let v4 = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
    if address_class(IpAddr::V4(v4)).is_some() {
        for embedded in [v4.to_ipv6_mapped(), v4.to_ipv6_compatible()] {
            assert!(address_class(IpAddr::V6(embedded)).is_some(), "{v4} as {embedded} passes as public");
        }
    }
});
