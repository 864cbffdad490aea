//! Where a webhook may POST: the URL's rules, checked when it is registered, and the addresses
//! a POST may connect to, checked at every attempt on the address actually resolved for it
//! (so a name that resolves to a public address at registration and to the platform's own
//! network later, DNS rebinding, is refused too).
//!
//! The address classes are a few std predicates plus the ranges std has not stabilised
//! (shared, benchmarking, reserved; unique-local and link-local IPv6): a dozen lines, where a
//! crate (`ipnet`) would only supply the same constants.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use darkroom_api::webhook::MAX_WEBHOOK_URL_LEN;
use url::{Host, Url};

/// Why a URL cannot be a webhook, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRefused {
    pub problem: String,
    pub fix: String,
}

fn refused(problem: impl Into<String>, fix: impl Into<String>) -> UrlRefused {
    UrlRefused { problem: problem.into(), fix: fix.into() }
}

const PRIVATE_FIX: &str = "use an address reachable on the internet, or set webhooks.allow_private_targets = true \
                           where the receiver runs beside the platform (tests, a single host)";

/// The URL a webhook may be registered with (its fragment, which is never sent, dropped).
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, UrlRefused> {
    let raw = raw.trim();
    if raw.len() > MAX_WEBHOOK_URL_LEN {
        return Err(refused(
            format!("is {} characters long", raw.len()),
            format!("use a URL of at most {MAX_WEBHOOK_URL_LEN} characters"),
        ));
    }
    let mut url = Url::parse(raw).map_err(|e| {
        refused(format!("is not a URL ({e})"), "write it in full, e.g. https://hooks.example.org/darkroom")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused(
            format!("uses the '{}' scheme", url.scheme()),
            "only http:// and https:// URLs are delivered to",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(
            "carries a user name or password",
            "leave credentials out of the URL: a receiver authenticates deliveries by their X-Darkroom-Signature",
        ));
    }
    match url.host() {
        None => return Err(refused("names no host", "write it in full, e.g. https://hooks.example.org/darkroom")),
        Some(Host::Domain(d)) if !allow_private && is_localhost(d) => {
            return Err(refused(format!("points at '{d}', this machine"), PRIVATE_FIX));
        }
        Some(_) => {}
    }
    if let Some(ip) = ip_literal(&url)
        && !allow_private
        && !is_public(ip)
    {
        return Err(refused(format!("points at {ip}, a loopback, private or link-local address"), PRIVATE_FIX));
    }
    url.set_fragment(None);
    Ok(url)
}

fn is_localhost(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    d == "localhost" || d.ends_with(".localhost")
}

/// The URL's host when it is an address rather than a name: a POST to it asks no resolver, so
/// the sender checks it itself.
pub fn ip_literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Whether a webhook may reach `ip` without `allow_private_targets`: not loopback, private,
/// link-local, unspecified, shared (CGNAT), multicast, broadcast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7])));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || s[0] & 0xfe00 == 0xfc00 // unique local
                || s[0] & 0xffc0 == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && b & 0xc0 == 64) // shared address space (CGNAT), 100.64.0.0/10
        || (a == 198 && b & 0xfe == 18) // benchmarking, 198.18.0.0/15
        || a >= 240) // reserved
}

/// A resolved name none of whose addresses a webhook may reach; the sender gives the delivery
/// up at once rather than retrying it.
#[derive(Debug, thiserror::Error)]
#[error(
    "'{host}' resolves only to addresses webhooks may not reach ({addresses}); use a public address, or set \
     webhooks.allow_private_targets = true"
)]
pub struct PrivateTarget {
    pub host: String,
    pub addresses: String,
}

/// The HTTP client's resolver when private targets are refused: it resolves as the system
/// does and keeps only the public addresses, so the connection can only go where it was
/// checked to go.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let addresses = all.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ");
                return Err(Box::new(PrivateTarget { host, addresses }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} counted as public");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} counted as private");
        }
    }

    /// A name is checked on what it resolves to when the POST is made, whatever it was when
    /// registered: `localhost` resolves to loopback everywhere, so nothing is handed out.
    #[tokio::test]
    async fn the_resolver_hands_out_no_private_address() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let Err(e) = PublicOnly.resolve(name).await else { panic!("localhost resolved to a public address") };
        let refused = e.downcast_ref::<PrivateTarget>().expect("refused as a private target");
        assert_eq!(refused.host, "localhost");
        assert!(refused.addresses.contains("127.0.0.1") || refused.addresses.contains("::1"), "{refused}");
    }

    #[test]
    fn urls_are_refused_with_what_is_wrong() {
        let problem = |u: &str| check_url(u, false).unwrap_err().problem;
        assert!(problem("ftp://example.org/x").contains("'ftp' scheme"));
        assert!(problem("https://user:pw@example.org/").contains("user name or password"));
        assert!(problem("not a url").contains("is not a URL"));
        assert!(problem("http://127.0.0.1:9/hook").contains("127.0.0.1"));
        assert!(problem("http://[::1]/hook").contains("::1"));
        assert!(problem("http://localhost:8080/").contains("this machine"));
        assert!(problem(&format!("https://example.org/{}", "a".repeat(MAX_WEBHOOK_URL_LEN))).contains("characters"));
        assert_eq!(check_url("https://example.org/h#frag", false).unwrap().as_str(), "https://example.org/h");
        assert!(check_url("http://127.0.0.1:9/hook", true).is_ok());
    }
}
