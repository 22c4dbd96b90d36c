//! The warehouse-facing reference: what the warehouse knows an order by.
//!
//! `P` + a 5-character code of the tenant + `-` + 14 characters of the
//! order id, in Crockford base32 (no I, L, O, U): 21 characters, within
//! the 35 warehouse systems accept, readable over the phone. The tenant code
//! lets the platform find the company from the reference alone, and the
//! index `{company}/refs/{reference}` gives the order — no scan either way.
//! A collision within a tenant (70 bits of the order id) is detected when
//! the index is written and resolved with a suffix.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The longest reference Portitor makes (warehouse systems take 35).
pub const MAX_LEN: usize = 35;

fn base32(bytes: &[u8], chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        if out.len() == chars {
            break;
        }
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 && out.len() < chars {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    out
}

/// The tenant's 5-character code.
pub fn tenant_code(company: &str) -> String {
    base32(&Sha256::digest(company.as_bytes()), 5)
}

/// The reference of `order_id` in `company`; `attempt` > 0 after a collision.
pub fn reference(company: &str, order_id: &uuid::Uuid, attempt: u32) -> String {
    let mut reference = format!("P{}-{}", tenant_code(company), base32(order_id.as_bytes(), 14));
    if attempt > 0 {
        reference.push_str(&format!("-{attempt}"));
    }
    reference
}

/// The tenant code a reference carries, if it is one of Portitor's: the
/// whole string is checked, so a reference that passes is also safe as a
/// key segment.
pub fn tenant_code_of(reference: &str) -> Option<&str> {
    let rest = reference.strip_prefix('P')?;
    let (code, order) = rest.split_once('-')?;
    let valid = |s: &str| s.bytes().all(|b| ALPHABET.contains(&b));
    let (order, suffix) = match order.split_once('-') {
        Some((order, suffix)) => (order, Some(suffix)),
        None => (order, None),
    };
    let suffix_ok = suffix.is_none_or(|s| (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()));
    (code.len() == 5 && valid(code) && order.len() == 14 && valid(order) && suffix_ok).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_short_stable_and_carry_the_tenant() {
        let id = uuid::Uuid::parse_str("0b9f6a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b").expect("uuid");
        let reference = reference("nordvik-outdoor", &id, 0);
        assert_eq!(reference, super::reference("nordvik-outdoor", &id, 0));
        assert!(reference.len() <= MAX_LEN && reference.len() == 21, "{reference}");
        assert!(reference.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'));
        assert_eq!(tenant_code_of(&reference), Some(tenant_code("nordvik-outdoor").as_str()));
        assert_ne!(tenant_code("nordvik-outdoor"), tenant_code("acme"));
        assert_eq!(tenant_code_of(&super::reference("acme", &id, 2)), Some(tenant_code("acme").as_str()));
        assert_eq!(tenant_code_of("NV-1042"), None);
        for not_ours in
            [format!("{reference}/../x"), format!("{reference}-"), format!("{reference}-123"), format!("{reference}X")]
        {
            assert_eq!(tenant_code_of(&not_ours), None, "{not_ours}");
        }
    }
}
