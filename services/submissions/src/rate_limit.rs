//! Rate limits on the routes a stranger can hammer (registration, submitting, uploading, and
//! any route added later that needs the same): per client address and per bearer token, each a
//! token bucket from `submissions.rate_limit_per_address` / `rate_limit_per_token`. The buckets
//! are `tower_governor`'s keyed limiters; this module supplies the two keys (the client address,
//! see [`client_address`], and the bearer token) and answers a refusal in the API's error shape:
//! 429 `rate_limited` with `Retry-After` and a message saying when to retry.
//!
//! A route takes both limits with one layer: `.route(path, post(handler).layer(limits.by_address_and_token()))`
//! (or [`RateLimits::by_address`] where no token is needed). The address limit sits outside
//! the token limit, so a flood from one address is refused before any per-token state is kept.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use darkroom_core::config::{ConfigError, RateLimit, SubmissionsConfig};
use governor::middleware::NoOpMiddleware;
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower::util::Either;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use crate::error::ApiError;

/// The per-address limit alone, or nothing when it is off.
pub type AddressLimit = Stack<Either<GovernorLayer<ClientAddress, NoOpMiddleware, Body>, Identity>, Identity>;

/// Both limits, the address one outside, each left out when it is off.
pub type AddressAndTokenLimit = Stack<
    Either<GovernorLayer<BearerToken, NoOpMiddleware, Body>, Identity>,
    Stack<Either<GovernorLayer<ClientAddress, NoOpMiddleware, Body>, Identity>, Identity>,
>;

/// The service's two limiters, shared by every route they are put on (a client's requests to
/// any of them count together).
#[derive(Clone)]
pub struct RateLimits {
    address: Option<Limiter<ClientAddress>>,
    token: Option<Limiter<BearerToken>>,
}

#[derive(Clone)]
struct Limiter<K: KeyExtractor> {
    config: Arc<GovernorConfig<K, NoOpMiddleware>>,
    setting: RateLimit,
}

impl RateLimits {
    /// The limits `config` sets; an impossible one (burst 0) is an error naming its key.
    pub fn new(config: &SubmissionsConfig) -> Result<Self, ConfigError> {
        let address = ClientAddress { trusted_proxies: config.trusted_proxies.iter().copied().collect() };
        Ok(Self {
            address: Limiter::new(address, config.rate_limit_per_address, "submissions.rate_limit_per_address")?,
            token: Limiter::new(BearerToken, config.rate_limit_per_token, "submissions.rate_limit_per_token")?,
        })
    }

    /// For routes anyone may call without a token (registration).
    pub fn by_address(&self) -> AddressLimit {
        ServiceBuilder::new().option_layer(self.address.as_ref().map(|l| l.layer("from your address"))).into_inner()
    }

    /// For routes that take a participant's token (submitting, uploading, joining). A request
    /// without a token is answered 401 as the handler would.
    pub fn by_address_and_token(&self) -> AddressAndTokenLimit {
        ServiceBuilder::new()
            .option_layer(self.address.as_ref().map(|l| l.layer("from your address")))
            .option_layer(self.token.as_ref().map(|l| l.layer("with your token")))
            .into_inner()
    }

    /// Drops the buckets of clients quiet long enough to be full again, so addresses and
    /// tokens seen once (made up, most of them, by whoever floods) do not pile up in memory.
    pub async fn forget_idle_clients(self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Some(l) = &self.address {
                l.config.limiter().retain_recent();
            }
            if let Some(l) = &self.token {
                l.config.limiter().retain_recent();
            }
        }
    }
}

impl<K: KeyExtractor + Send + Sync + 'static> Limiter<K> {
    fn new(key: K, setting: RateLimit, name: &str) -> Result<Option<Self>, ConfigError> {
        let Some((burst, period)) = setting.quota(name)? else { return Ok(None) };
        let config = GovernorConfigBuilder::default()
            .key_extractor(key)
            .period(period)
            .burst_size(burst)
            .finish()
            .ok_or_else(|| ConfigError::Invalid(format!("{name}: burst and per_minute must be positive")))?;
        Ok(Some(Self { config: Arc::new(config), setting }))
    }

    fn layer(&self, whose: &'static str) -> GovernorLayer<K, NoOpMiddleware, Body> {
        let RateLimit { burst, per_minute } = self.setting;
        GovernorLayer::new(self.config.clone()).error_handler(move |e| refusal(e, whose, burst, per_minute))
    }
}

/// A limiter's refusal as the API answers every error.
fn refusal(error: GovernorError, whose: &str, burst: u32, per_minute: u32) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            // governor rounds the wait down to whole seconds; one more lets the client in.
            let retry_after = Duration::from_secs(wait_time + 1);
            ApiError::RateLimited {
                message: format!(
                    "too many requests {whose}: at most {burst} at once, then {per_minute} a minute; \
                     retry in {} s",
                    retry_after.as_secs()
                ),
                retry_after,
            }
            .into_response()
        }
        GovernorError::Other { code: StatusCode::UNAUTHORIZED, msg: Some(message), .. } => {
            ApiError::Unauthorized(message).into_response()
        }
        other => ApiError::Internal(anyhow::anyhow!("rate limiter: {other}")).into_response(),
    }
}

/// Keys requests by [`client_address`]; needs the TCP peer (`ConnectInfo<SocketAddr>`), which
/// `darkroom_core::http::serve` puts on every request.
#[derive(Debug, Clone)]
pub struct ClientAddress {
    trusted_proxies: Arc<[IpAddr]>,
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let ConnectInfo(peer) =
            req.extensions().get::<ConnectInfo<SocketAddr>>().ok_or(GovernorError::UnableToExtractKey)?;
        Ok(client_address(peer.ip(), req.headers(), &self.trusted_proxies))
    }
}

/// Who a request comes from, as far as this service can trust: the TCP peer, unless the peer
/// is a trusted proxy; then the last `X-Forwarded-For` entry that is not a trusted proxy
/// (entries further left were written by the client and prove nothing). An IPv6 address counts
/// as its /64, which one subscriber usually holds whole.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let mut client = peer.to_canonical();
    if trusted_proxies.contains(&client) {
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for entry in forwarded.into_iter().rev() {
            let Ok(hop) = entry.parse::<IpAddr>() else { break };
            client = hop.to_canonical();
            if !trusted_proxies.contains(&client) {
                break;
            }
        }
    }
    match client {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// Keys requests by their bearer token; a request without one is refused 401 with the message
/// the handlers' extractors give.
#[derive(Debug, Clone, Copy)]
pub struct BearerToken;

impl KeyExtractor for BearerToken {
    type Key = String;

    fn extract<T>(&self, req: &Request<T>) -> Result<String, GovernorError> {
        crate::extract::bearer(req.headers()).map(str::to_owned).map_err(|e| GovernorError::Other {
            code: StatusCode::UNAUTHORIZED,
            msg: Some(e.to_string()),
            headers: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = [ip("10.0.0.2")];
        let spoofed = forwarded("1.2.3.4");
        assert_eq!(client_address(ip("192.0.2.7"), &spoofed, &[]), ip("192.0.2.7"));
        assert_eq!(client_address(ip("192.0.2.7"), &spoofed, &proxy), ip("192.0.2.7"));
        assert_eq!(client_address(ip("10.0.0.2"), &spoofed, &proxy), ip("1.2.3.4"));
        // The client may write entries of its own to the left; the proxy appends the real one.
        assert_eq!(client_address(ip("10.0.0.2"), &forwarded("1.2.3.4, 198.51.100.9"), &proxy), ip("198.51.100.9"));
        // A chain of trusted proxies is walked back to the first address that is not one.
        let chain = [ip("10.0.0.2"), ip("10.0.0.3")];
        assert_eq!(client_address(ip("10.0.0.2"), &forwarded("198.51.100.9, 10.0.0.3"), &chain), ip("198.51.100.9"));
        // Nothing usable forwarded: the proxy itself.
        assert_eq!(client_address(ip("10.0.0.2"), &HeaderMap::new(), &proxy), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), &forwarded("garbage"), &proxy), ip("10.0.0.2"));
    }

    #[test]
    fn ipv6_clients_count_by_their_64_prefix() {
        let a = client_address("2001:db8:1:2:aaaa::1".parse().unwrap(), &HeaderMap::new(), &[]);
        let b = client_address("2001:db8:1:2:bbbb::9".parse().unwrap(), &HeaderMap::new(), &[]);
        let c = client_address("2001:db8:1:3::1".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = client_address("::ffff:192.0.2.7".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(mapped, "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_burst_of_zero_is_refused_naming_the_key() {
        let config = SubmissionsConfig {
            rate_limit_per_token: RateLimit { burst: 0, per_minute: 5 },
            ..SubmissionsConfig::default()
        };
        let e = RateLimits::new(&config).err().expect("refused").to_string();
        assert!(e.contains("submissions.rate_limit_per_token.burst"), "{e}");
    }
}
