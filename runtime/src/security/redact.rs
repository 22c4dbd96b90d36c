//! What Portitor never keeps of a request it stores for later — a dead
//! letter, a recorded invocation: credential and signature headers, query
//! parameters that carry a credential. Operators read what is kept, and a
//! kept signature would be a ready replay of the request.

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Whether a header or query parameter name carries a credential or a
/// signature.
pub fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie" | "set-cookie")
        || ["token", "secret", "key", "password", "auth", "signature", "hmac", "sig"]
            .iter()
            .any(|word| name.contains(word))
}

/// Headers with every credential's value redacted.
pub fn headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers.iter().map(|(n, v)| (n.clone(), if is_credential(n) { REDACTED.into() } else { v.clone() })).collect()
}

/// `a=1&api_key=s3cr3t` → `a=1&api_key=[redacted]`.
pub fn query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_credential(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A URL with its query's credentials redacted.
pub fn url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, rest)) => {
            let (q, fragment) = rest.split_once('#').map_or((rest, None), |(q, f)| (q, Some(f)));
            let mut out = format!("{base}?{}", query(q));
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(fragment);
            }
            out
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_recognised_by_name() {
        for name in [
            "Authorization",
            "cookie",
            "Set-Cookie",
            "X-Api-Key",
            "x-auth-token",
            "X-Webhook-Secret",
            "X-Shopify-Hmac-Sha256",
            "Stripe-Signature",
            "webhook-signature",
            "X-Hub-Signature-256",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in ["content-type", "x-shopify-topic", "x-request-id"] {
            assert!(!is_credential(name), "{name}");
        }
        assert_eq!(query("page=2&apikey=s3cr3t&token=t"), "page=2&apikey=[redacted]&token=[redacted]");
        assert_eq!(url("https://a.example/x?id=1&api_key=s#f"), "https://a.example/x?id=1&api_key=[redacted]#f");
        assert_eq!(url("https://a.example/x"), "https://a.example/x");
    }
}
