//! The egress policy: which hosts a plugin may reach, and which of them may
//! resolve to private, loopback or link-local addresses.
//!
//! Checked twice: the host name against the allow-list before a request,
//! and every resolved address after DNS resolution (so that a public name
//! pointing at `127.0.0.1` or `169.254.169.254` is refused too). The address
//! that was checked is the one connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::manifest::Manifest;

/// A host pattern from a manifest: `api.example.com`, `*.example.com`,
/// either with an optional `:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostRule {
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// `*.example.com` matches `api.example.com`, not `example.com`.
    Subdomain(String),
}

impl HostRule {
    fn parse(pattern: &str) -> Self {
        let pattern = pattern.trim().to_ascii_lowercase();
        let (host, port) = split_port(&pattern);
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let host = match host.strip_prefix("*.") {
            Some(domain) => HostMatch::Subdomain(format!(".{domain}")),
            None => HostMatch::Exact(host),
        };
        Self { host, port }
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let port_ok = match (self.port, port) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            (Some(_), None) => true,
        };
        port_ok
            && match &self.host {
                HostMatch::Exact(h) => h == host,
                HostMatch::Subdomain(suffix) => host.ends_with(suffix.as_str()),
            }
    }
}

/// `host:port` → (`host`, Some(port)); IPv6 literals keep their colons.
fn split_port(pattern: &str) -> (&str, Option<u16>) {
    if let Some((host, tail)) = pattern.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host, port);
    }
    match pattern.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (pattern, None),
        },
        _ => (pattern, None),
    }
}

/// A plugin's egress policy.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allowed: Vec<HostRule>,
    private: Vec<HostRule>,
    /// The platform refuses private addresses whatever manifests say.
    deny_private_networks: bool,
}

impl EgressPolicy {
    /// The policy of `manifest`: its allowed hosts, plus the hosts of its
    /// named connections (reachable only through those connections).
    pub fn from_manifest(manifest: &Manifest, deny_private_networks: bool) -> Self {
        Self {
            allowed: manifest.network.allowed_hosts.iter().map(|p| HostRule::parse(p)).collect(),
            private: manifest.network.private_hosts.iter().map(|p| HostRule::parse(p)).collect(),
            deny_private_networks,
        }
    }

    /// Whether `host` may be called without a connection.
    pub fn host_allowed(&self, host: &str, port: Option<u16>) -> bool {
        let host = normalize(host);
        self.allowed.iter().any(|rule| rule.matches(&host, port))
    }

    /// Whether `host`, resolved to `addr`, may be connected to.
    pub fn check_address(&self, host: &str, addr: IpAddr) -> Result<(), String> {
        let Some(class) = special_class(addr) else {
            return Ok(());
        };
        if class == AddressClass::Never {
            return Err(format!("{host} resolves to {addr}, which is never reachable"));
        }
        let host = normalize(host);
        if !self.deny_private_networks && self.private.iter().any(|rule| rule.matches(&host, None)) {
            return Ok(());
        }
        Err(format!(
            "{host} resolves to {addr}, a {} address; only hosts the manifest lists in network.private_hosts may",
            class.describe()
        ))
    }
}

fn normalize(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    /// Unspecified, broadcast, multicast: no plugin has business there.
    Never,
}

impl AddressClass {
    fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Never => "reserved",
        }
    }
}

fn special_class(addr: IpAddr) -> Option<AddressClass> {
    match addr {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_class(v4),
            None => v6_class(v6),
        },
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some(AddressClass::Never)
    } else if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if ip.is_link_local() {
        Some(AddressClass::LinkLocal)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) || a == 0 || (a == 198 && (b == 18 || b == 19)) {
        // RFC 1918, carrier-grade NAT, "this network", benchmarking.
        Some(AddressClass::Private)
    } else {
        None
    }
}

fn v6_class(ip: Ipv6Addr) -> Option<AddressClass> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if (first & 0xffc0) == 0xfe80 {
        Some(AddressClass::LinkLocal)
    } else if (first & 0xfe00) == 0xfc00 {
        Some(AddressClass::Private)
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some(AddressClass::Never)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], private: &[&str]) -> EgressPolicy {
        let mut manifest = Manifest::parse("kind = \"pull-source\"").expect("manifest");
        manifest.network.allowed_hosts = allowed.iter().map(|s| s.to_string()).collect();
        manifest.network.private_hosts = private.iter().map(|s| s.to_string()).collect();
        EgressPolicy::from_manifest(&manifest, false)
    }

    #[test]
    fn hosts_match_exactly_or_as_subdomains() {
        let p = policy(&["api2.postnord.com", "*.shopify.com", "partner.example:8443"], &[]);
        assert!(p.host_allowed("api2.postnord.com", None));
        assert!(p.host_allowed("API2.postnord.com.", Some(443)));
        assert!(!p.host_allowed("evil-api2.postnord.com", None));
        assert!(p.host_allowed("nordvik.shopify.com", None));
        assert!(!p.host_allowed("shopify.com", None));
        assert!(!p.host_allowed("shopify.com.evil.example", None));
        assert!(p.host_allowed("partner.example", Some(8443)));
        assert!(!p.host_allowed("partner.example", Some(443)));
    }

    #[test]
    fn private_loopback_and_link_local_addresses_are_refused_unless_named() {
        let p = policy(&["api.example.com"], &["wms.internal"]);
        for addr in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            let ip: IpAddr = addr.parse().expect("ip");
            assert!(p.check_address("api.example.com", ip).is_err(), "{addr} must be refused");
            assert!(p.check_address("wms.internal", ip).is_ok(), "{addr} is allowed for a named private host");
        }
        assert!(p.check_address("api.example.com", "93.184.216.34".parse().expect("ip")).is_ok());
        assert!(p.check_address("wms.internal", "0.0.0.0".parse().expect("ip")).is_err());
    }

    #[test]
    fn the_platform_can_refuse_private_networks_whatever_the_manifest_says() {
        let mut manifest = Manifest::parse("kind = \"pull-source\"").expect("manifest");
        manifest.network.private_hosts = vec!["127.0.0.1".into()];
        let p = EgressPolicy::from_manifest(&manifest, true);
        assert!(p.check_address("127.0.0.1", "127.0.0.1".parse().expect("ip")).is_err());
    }
}
