//! The SSRF guard: an endpoint may not make the platform call into its own network.
//!
//! Refused, for the URL's literal address and for **every address its host resolves to** at
//! the moment of sending (so a name re-pointed after validation gains nothing): loopback,
//! private (RFC 1918, IPv6 unique local), link-local (including the cloud metadata address
//! 169.254.169.254), carrier-grade NAT (RFC 6598), unspecified, broadcast, multicast,
//! documentation and benchmarking ranges, and IPv4-mapped forms of all of these. An operator's
//! allow-list (`WEBHOOK_ALLOWED_NETWORKS`) admits chosen networks (tests allow `127.0.0.0/8`).
//! The HTTP client resolves names through [`GuardedResolver`], follows no redirects and uses
//! no proxy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::WebhookError;

/// Which addresses endpoints may reach beyond the public internet.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Networks admitted although they are not public.
    pub allowed: Vec<IpNet>,
}

impl AddressPolicy {
    /// A policy admitting `allowed`.
    #[must_use]
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Whether an endpoint may be sent to `ip`.
    #[must_use]
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        is_public(ip) || self.allowed.iter().any(|n| n.contains(&ip))
    }

    /// Checks an endpoint URL: `https://` or `http://`, a host, no credentials, at most 2,000
    /// characters, and a literal address (if it is one) permitted. Names are checked when sent.
    ///
    /// # Errors
    /// [`WebhookError::Invalid`] for a malformed URL; [`WebhookError::ForbiddenAddress`] for a
    /// literal address the policy refuses.
    pub fn check_url(&self, raw: &str) -> Result<url::Url, WebhookError> {
        let invalid = |why: &str| WebhookError::Invalid(format!("url: {why}"));
        if raw.len() > 2000 {
            return Err(invalid("longer than 2000 characters"));
        }
        let url = url::Url::parse(raw).map_err(|_| invalid("not a URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid("must be https:// or http://"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not carry credentials"));
        }
        let literal = match url.host() {
            None => return Err(invalid("has no host")),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                if name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost") {
                    return Err(WebhookError::ForbiddenAddress(name.to_owned()));
                }
                None
            }
        };
        match literal {
            Some(ip) if !self.permits(ip) => Err(WebhookError::ForbiddenAddress(ip.to_string())),
            _ => Ok(url),
        }
    }
}

/// An IPv4-mapped or IPv4-compatible IPv6 address as the IPv4 address it stands for.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // RFC 6598 shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // RFC 6890 IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // RFC 2544 benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 to any IPv4
}

/// A DNS resolver for the delivery client that resolves with the system resolver and drops
/// every address the [`AddressPolicy`] refuses; a name left with none fails to resolve, so no
/// connection is made.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    #[must_use]
    pub fn new(policy: Arc<AddressPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(
                    format!("{host} resolves only to addresses that are not allowed").into(),
                );
            }
            let addrs: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_are_refused() {
        let policy = AddressPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!policy.permits(ip.parse().unwrap()), "{ip} permitted");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(policy.permits(ip.parse().unwrap()), "{ip} refused");
        }
    }

    #[test]
    fn urls_are_checked_and_the_allow_list_admits_chosen_networks() {
        let strict = AddressPolicy::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/hook",
            "http://api.localhost/hook",
        ] {
            assert!(
                matches!(
                    strict.check_url(url),
                    Err(WebhookError::ForbiddenAddress(_))
                ),
                "{url}"
            );
        }
        for url in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert!(
                matches!(strict.check_url(url), Err(WebhookError::Invalid(_))),
                "{url}"
            );
        }
        assert!(strict.check_url("https://crm.example.com/hooks").is_ok());
        let tests = AddressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(tests.check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(tests.check_url("http://10.0.0.1/hook").is_err());
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use reqwest::dns::Resolve as _;
        let strict = GuardedResolver::new(Arc::new(AddressPolicy::default()));
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(strict.resolve(name).await.is_err());
        let allowing = GuardedResolver::new(Arc::new(AddressPolicy::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ])));
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(allowing.resolve(name).await.is_ok());
    }
}
