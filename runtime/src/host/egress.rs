//! The egress policy: which hosts a plugin may reach, and which of them may
//! resolve to addresses outside the public internet.
//!
//! Checked twice: the host name against the allow-list before a request,
//! and every resolved address after DNS resolution (so that a public name
//! pointing at `127.0.0.1` or `169.254.169.254` is refused too). The address
//! that was checked is the one connected to.
//!
//! Who may open what is split on purpose (docs/DESIGN.md §3): a tenant's manifest
//! lists the hosts its plugin calls (`network.allowed_hosts`) and the ones
//! it needs on a private network (`network.private_hosts`), but only the
//! platform's operator grants private networks, in the server's
//! configuration ([`EgressGrants`]). A manifest asking for a private host
//! the operator has not granted its tenant is refused at upload.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::plugins::manifest::Manifest;

/// The operator's grants of private networks (server configuration,
/// `[egress]`): hosts whose addresses may be private, loopback, link-local
/// or otherwise special, for every tenant or for one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressGrants {
    /// Host patterns (`wms.internal`, `*.corp.example`, `10.1.2.3`) every
    /// tenant's plugins may reach at such addresses.
    #[serde(default)]
    pub private_hosts: Vec<String>,
    /// Grants for one tenant, by company.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantGrants>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantGrants {
    #[serde(default)]
    pub private_hosts: Vec<String>,
}

impl EgressGrants {
    /// Checks every pattern; a port is refused (a grant is about addresses).
    pub fn check(&self) -> Result<(), String> {
        let all = self.private_hosts.iter().map(|p| ("egress.private_hosts".to_string(), p));
        let per_tenant = self.tenants.iter().flat_map(|(company, grants)| {
            grants.private_hosts.iter().map(move |p| (format!("egress.tenants.{company}.private_hosts"), p))
        });
        for (setting, pattern) in all.chain(per_tenant) {
            check_pattern(pattern).map_err(|e| format!("{setting}: {e}"))?;
            if HostRule::parse(pattern).port.is_some() {
                return Err(format!("{setting}: `{pattern}` has a port; a grant names hosts only"));
            }
        }
        Ok(())
    }

    /// The host rules granted to `company`'s plugins.
    fn granted_to(&self, company: &str) -> Vec<HostRule> {
        let tenant = self.tenants.get(company).map(|t| t.private_hosts.as_slice()).unwrap_or_default();
        self.private_hosts.iter().chain(tenant).map(|p| HostRule::parse(p)).collect()
    }

    /// The settings an operator changes to grant `company` a private host.
    fn settings_for(company: &str) -> String {
        format!("egress.private_hosts or egress.tenants.{company}.private_hosts")
    }
}

/// Whether `pattern` reads as a host rule: a host or `*.domain`, optionally `:port`.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty()
        || pattern.contains('/')
        || pattern.contains('@')
        || pattern.contains(char::is_whitespace)
    {
        return Err(format!("`{pattern}` is not a host pattern (host, *.domain, optionally :port)"));
    }
    Ok(())
}

/// A host pattern: `api.example.com`, `*.example.com`, either with an
/// optional `:port`. Without a port a rule allows 80 and 443 only.
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

impl HostMatch {
    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => h == host,
            Self::Subdomain(suffix) => host.ends_with(suffix.as_str()),
        }
    }

    /// Whether every host `other` matches is matched by `self` too.
    fn covers(&self, other: &HostMatch) -> bool {
        match (self, other) {
            (Self::Exact(a), Self::Exact(b)) => a == b,
            (Self::Subdomain(suffix), Self::Exact(host)) => host.ends_with(suffix.as_str()),
            (Self::Subdomain(a), Self::Subdomain(b)) => b.ends_with(a.as_str()),
            (Self::Exact(_), Self::Subdomain(_)) => false,
        }
    }
}

/// The ports a rule without one allows: the web's.
const DEFAULT_PORTS: [u16; 2] = [80, 443];

impl HostRule {
    fn parse(pattern: &str) -> Self {
        let pattern = pattern.trim().to_ascii_lowercase();
        let (host, port) = split_port(&pattern);
        let host = normalize(host);
        let host = match host.strip_prefix("*.") {
            Some(domain) => HostMatch::Subdomain(format!(".{domain}")),
            None => HostMatch::Exact(host),
        };
        Self { host, port }
    }

    /// `port` is the request's port (the scheme's default when it names none).
    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let port_ok = match (self.port, port) {
            (Some(want), Some(got)) => want == got,
            (None, Some(got)) => DEFAULT_PORTS.contains(&got),
            (_, None) => true,
        };
        port_ok && self.host.matches(host)
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
    /// The manifest's private hosts that the operator granted its tenant.
    private: Vec<HostRule>,
}

/// A manifest that asks for more than the platform grants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotGranted(pub String);

impl EgressPolicy {
    /// The policy of `company`'s plugin with `manifest`: its allowed hosts
    /// (plus, through `http`/`ftp`, the hosts of its named connections),
    /// and the private hosts it asks for — each of which the operator must
    /// have granted the tenant, or the manifest is refused, naming the
    /// setting. So are connection hosts and allowed hosts written as
    /// addresses outside the public internet that the manifest does not
    /// list as private hosts.
    pub fn for_plugin(company: &str, manifest: &Manifest, grants: &EgressGrants) -> Result<Self, NotGranted> {
        let granted = grants.granted_to(company);
        let mut private = Vec::new();
        for pattern in &manifest.network.private_hosts {
            let rule = HostRule::parse(pattern);
            if !granted.iter().any(|grant| grant.host.covers(&rule.host)) {
                return Err(NotGranted(format!(
                    "network.private_hosts asks for `{pattern}`, which this platform does not grant tenant \
                     `{company}`: private networks are the operator's to grant ({})",
                    EgressGrants::settings_for(company)
                )));
            }
            private.push(rule);
        }
        let policy =
            Self { allowed: manifest.network.allowed_hosts.iter().map(|p| HostRule::parse(p)).collect(), private };
        for host in literal_hosts(manifest) {
            if let Ok(ip) = host.parse::<IpAddr>() {
                policy.check_address(&host, ip).map_err(|reason| {
                    NotGranted(format!("{reason} ({} grants it)", EgressGrants::settings_for(company)))
                })?;
            }
        }
        Ok(policy)
    }

    /// Whether `host` may be called without a connection on `port` (the
    /// URL's port, or its scheme's default).
    pub fn host_allowed(&self, host: &str, port: Option<u16>) -> bool {
        let host = normalize(host);
        self.allowed.iter().any(|rule| rule.matches(&host, port))
    }

    /// Whether `host`, resolved to `addr`, may be connected to.
    pub fn check_address(&self, host: &str, addr: IpAddr) -> Result<(), String> {
        let Some(class) = special_class(addr) else {
            return Ok(());
        };
        let host = normalize(host);
        if class == AddressClass::Never {
            return Err(format!("{host} resolves to {addr}, a {} address, which is never reachable", class.describe()));
        }
        if self.private.iter().any(|rule| rule.host.matches(&host)) {
            return Ok(());
        }
        Err(format!(
            "{host} resolves to {addr}, a {} address; only hosts in network.private_hosts that the operator granted may",
            class.describe()
        ))
    }
}

/// The hosts a manifest names outright: allowed hosts and connection hosts.
fn literal_hosts(manifest: &Manifest) -> Vec<String> {
    let allowed = manifest.network.allowed_hosts.iter().map(|p| {
        let pattern = p.trim().to_ascii_lowercase();
        normalize(split_port(&pattern).0)
    });
    let http =
        manifest.http.connections.values().filter_map(|c| url::Url::parse(&c.base_url).ok()?.host_str().map(normalize));
    let ftp = manifest.ftp.connections.values().map(|c| normalize(&c.host));
    allowed.chain(http).chain(ftp).collect()
}

fn normalize(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

/// Why an address is not a public one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    CarrierGradeNat,
    UniqueLocal,
    /// NAT64, 6to4, Teredo, IPv4-compatible and -mapped IPv6: an IPv4
    /// address in IPv6 clothing, which could be any of the others.
    Translated,
    Documentation,
    Benchmarking,
    /// "This network", IETF protocol assignments, the reserved 240/4.
    Reserved,
    /// Unspecified, broadcast, multicast: no plugin has business there.
    Never,
}

impl AddressClass {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::CarrierGradeNat => "carrier-grade NAT",
            Self::UniqueLocal => "unique-local",
            Self::Translated => "translated (IPv4 embedded in IPv6)",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
            Self::Never => "multicast, broadcast or unspecified",
        }
    }
}

/// The class of `addr`, or `None` for an address on the public internet.
pub(crate) fn special_class(addr: IpAddr) -> Option<AddressClass> {
    match addr {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = ip.octets();
    let class = if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        AddressClass::Never
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_private() {
        AddressClass::Private
    } else if a == 100 && (64..128).contains(&b) {
        AddressClass::CarrierGradeNat
    } else if (a, b, c) == (192, 0, 2) || (a, b, c) == (198, 51, 100) || (a, b, c) == (203, 0, 113) {
        AddressClass::Documentation
    } else if a == 198 && (b == 18 || b == 19) {
        AddressClass::Benchmarking
    } else if a == 0 || a >= 240 || (a, b, c) == (192, 0, 0) || (a, b, c) == (192, 88, 99) {
        AddressClass::Reserved
    } else {
        return None;
    };
    Some(class)
}

fn v6_class(ip: Ipv6Addr) -> Option<AddressClass> {
    let s = ip.segments();
    let class = if ip.is_unspecified() || ip.is_multicast() {
        AddressClass::Never
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if (s[0] & 0xfe00) == 0xfc00 {
        AddressClass::UniqueLocal
    } else if ip.to_ipv4_mapped().is_some()
        // IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48),
        // 6to4 (2002::/16) and Teredo (2001::/32).
        || s[..6] == [0; 6]
        || s[..6] == [0, 0, 0, 0, 0xffff, 0]
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
        || s[0] == 0x2002
        || s[..2] == [0x2001, 0]
    {
        AddressClass::Translated
    } else if s[..2] == [0x2001, 0x0db8] || s[0] == 0x3fff && s[1] < 0x1000 {
        AddressClass::Documentation
    } else if s[..3] == [0x2001, 0x0002, 0] {
        AddressClass::Benchmarking
    } else if (s[0] & 0xffc0) == 0xfec0 || s[..2] == [0x0100, 0] && s[2] == 0 && s[3] == 0 {
        // Site-local (deprecated, still routed privately) and the discard prefix.
        AddressClass::Reserved
    } else {
        return None;
    };
    Some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(allowed: &[&str], private: &[&str]) -> Manifest {
        let mut manifest = Manifest::parse("kind = \"pull-source\"").expect("manifest");
        manifest.network.allowed_hosts = allowed.iter().map(|s| s.to_string()).collect();
        manifest.network.private_hosts = private.iter().map(|s| s.to_string()).collect();
        manifest
    }

    fn grants(all: &[&str], acme: &[&str]) -> EgressGrants {
        let mut grants =
            EgressGrants { private_hosts: all.iter().map(|s| s.to_string()).collect(), ..EgressGrants::default() };
        grants
            .tenants
            .insert("acme".into(), TenantGrants { private_hosts: acme.iter().map(|s| s.to_string()).collect() });
        grants
    }

    fn policy(allowed: &[&str], private: &[&str]) -> EgressPolicy {
        EgressPolicy::for_plugin("acme", &manifest(allowed, private), &grants(&[], private)).expect("granted")
    }

    #[test]
    fn hosts_match_exactly_or_as_subdomains() {
        let p = policy(&["api2.postnord.com", "*.shopify.com", "partner.example:8443"], &[]);
        assert!(p.host_allowed("api2.postnord.com", Some(443)));
        assert!(p.host_allowed("API2.postnord.com.", Some(443)));
        assert!(!p.host_allowed("evil-api2.postnord.com", Some(443)));
        assert!(p.host_allowed("nordvik.shopify.com", Some(80)));
        assert!(!p.host_allowed("shopify.com", Some(443)));
        assert!(!p.host_allowed("shopify.com.evil.example", Some(443)));
        assert!(p.host_allowed("partner.example", Some(8443)));
        assert!(!p.host_allowed("partner.example", Some(443)));
    }

    #[test]
    fn a_rule_without_a_port_allows_the_web_ports_only() {
        let p = policy(&["api.example.com"], &[]);
        assert!(p.host_allowed("api.example.com", Some(80)));
        assert!(p.host_allowed("api.example.com", Some(443)));
        for port in [22, 25, 6379, 8080, 9000] {
            assert!(!p.host_allowed("api.example.com", Some(port)), "port {port}");
        }
    }

    #[test]
    fn every_address_outside_the_public_internet_is_refused_unless_granted() {
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.2.10",
            "198.51.100.1",
            "203.0.113.7",
            "198.18.0.1",
            "0.1.2.3",
            "240.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "::7f00:1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:8.8.8.8",
            "::ffff:0:7f00:1",
            "2001:db8::1",
            "2001:2::1",
        ];
        let p = policy(&["api.example.com"], &["wms.internal"]);
        for addr in refused {
            let ip: IpAddr = addr.parse().expect("ip");
            assert!(p.check_address("api.example.com", ip).is_err(), "{addr} must be refused");
            assert!(p.check_address("wms.internal", ip).is_ok(), "{addr} is reachable for a granted private host");
        }
        for never in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1"] {
            let ip: IpAddr = never.parse().expect("ip");
            assert!(p.check_address("wms.internal", ip).is_err(), "{never} is never reachable");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2a00:1450:4001::64"] {
            let ip: IpAddr = public.parse().expect("ip");
            assert!(p.check_address("api.example.com", ip).is_ok(), "{public} is public");
        }
    }

    #[test]
    fn a_manifest_cannot_grant_itself_a_private_network() {
        let asking = manifest(&["api.example.com"], &["127.0.0.1"]);
        let error = EgressPolicy::for_plugin("acme", &asking, &EgressGrants::default()).expect_err("not granted");
        assert!(error.0.contains("egress.tenants.acme.private_hosts"), "{error}");
        // Another tenant's grant is not acme's.
        let mut globex = EgressGrants::default();
        globex.tenants.insert("globex".into(), TenantGrants { private_hosts: vec!["127.0.0.1".into()] });
        assert!(EgressPolicy::for_plugin("acme", &asking, &globex).is_err());
        // Granted for all tenants, or for acme: accepted.
        assert!(EgressPolicy::for_plugin("acme", &asking, &grants(&["127.0.0.1"], &[])).is_ok());
        assert!(EgressPolicy::for_plugin("acme", &asking, &grants(&[], &["127.0.0.1"])).is_ok());
        // A wildcard grant covers the names below it, not the domain itself.
        let named = manifest(&[], &["wms.corp.example"]);
        assert!(EgressPolicy::for_plugin("acme", &named, &grants(&["*.corp.example"], &[])).is_ok());
        let wider = manifest(&[], &["*.example"]);
        assert!(EgressPolicy::for_plugin("acme", &wider, &grants(&["*.corp.example"], &[])).is_err());
    }

    #[test]
    fn an_address_named_outright_needs_a_grant_too() {
        let mut direct = manifest(&["169.254.169.254"], &[]);
        let error = EgressPolicy::for_plugin("acme", &direct, &EgressGrants::default()).expect_err("metadata");
        assert!(error.0.contains("link-local") && error.0.contains("egress.private_hosts"), "{error}");
        direct.network.allowed_hosts.clear();
        direct.ftp.connections.insert(
            "drop".into(),
            crate::plugins::manifest::FtpConnection {
                protocol: crate::plugins::manifest::FileProtocol::Ftp,
                host: "10.0.0.5".into(),
                port: None,
                username: "u".into(),
                password_secret: None,
                host_key: None,
                private_key_secret: None,
            },
        );
        assert!(EgressPolicy::for_plugin("acme", &direct, &EgressGrants::default()).is_err());
    }

    #[test]
    fn grants_name_hosts_without_ports() {
        assert!(grants(&["127.0.0.1"], &["*.corp.example"]).check().is_ok());
        let error = grants(&["127.0.0.1:8080"], &[]).check().expect_err("port");
        assert!(error.contains("egress.private_hosts"), "{error}");
        assert!(grants(&[], &["10.0.0.0/8"]).check().expect_err("cidr").contains("egress.tenants.acme"));
    }
}
