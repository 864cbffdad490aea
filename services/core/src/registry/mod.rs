//! Talking to image registries over their HTTP API (v2), so that no engine ever pulls a
//! participant's name: the submissions service pins a submitted name to a digest
//! ([`Session::send`] of a manifest `HEAD`), and the runner fetches exactly that digest
//! ([`resolve`], then [`download`]) into an archive it rebuilds like an upload.
//!
//! A registry that wants a token answers 401 with
//! `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; a [`Session`] fetches one from the realm
//! (with the login, if any) and asks again. Redirects are not followed, except a blob's to its
//! storage; a token realm and a storage redirect must be HTTPS (or loopback for a loopback
//! registry), so a participant's registry cannot point a service at an arbitrary address.
//! Which hosts may be asked at all is the caller's rule (`submissions.registries`, checked when
//! a name is pinned).

pub mod fetch;

pub use fetch::{FetchError, Resolved, download, fetch, resolve};

use std::time::Duration;

use crate::backoff::Backoff;
use crate::domain::image::ImageReference;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use sha2::{Digest, Sha256};

/// Every manifest kind an engine can pull: Docker v2, manifest list, OCI manifest, OCI index.
pub const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// How often a manifest read that the registry failed (5xx) is tried in all.
const SERVER_ERROR_ATTEMPTS: u32 = 3;

/// The most bytes of a manifest (or an image config) read into memory.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// A login to present to a registry (the challenge's, or the runner's for that host).
pub struct Login {
    pub username: String,
    pub password: String,
}

/// What went wrong in the exchange with a registry, in words that complete "registry X could
/// not be asked (…)" or "refused access (…)".
#[derive(Debug, thiserror::Error)]
pub enum RegistryProblem {
    #[error("not an allowed registry")]
    NotAllowed,
    #[error("{}", describe(.0))]
    Transport(reqwest::Error),
    #[error("it answered {0}")]
    Answered(StatusCode),
    #[error("it answered {0} to GET")]
    AnsweredGet(StatusCode),
    #[error("it wants a login and the challenge has none")]
    NoLogin,
    #[error("it wants credentials of a kind Darkroom does not speak")]
    UnknownScheme,
    #[error("its token realm is not a URL")]
    RealmNotUrl,
    #[error("its token realm is not HTTPS")]
    RealmNotHttps,
    #[error("its token service: {}", describe(.0))]
    TokenService(reqwest::Error),
    #[error("its token service answered {0}")]
    TokenServiceAnswered(StatusCode),
    #[error("its token answer: {0}")]
    TokenAnswer(reqwest::Error),
    #[error("its token answer holds no token")]
    NoToken,
    #[error("it did not answer in time")]
    TimedOut,
    #[error("its answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("it redirected to a place other than HTTPS (or loopback for a loopback registry)")]
    BadRedirect,
}

impl RegistryProblem {
    fn transport(e: reqwest::Error) -> Self {
        RegistryProblem::Transport(e.without_url())
    }

    fn token_service(e: reqwest::Error) -> Self {
        RegistryProblem::TokenService(e.without_url())
    }
}

/// A token request as the registry describes it in its 401 answer.
#[derive(Debug, PartialEq, Eq)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Parses `Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"`.
/// Values may be quoted (commas inside quotes stay) or bare. Returns `None` for other schemes.
pub fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let (mut realm, mut service, mut scope) = (None, None, None);
    let mut chars = rest.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim().to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect::<String>().trim().to_owned();
        }
        match key.as_str() {
            "realm" => realm = Some(value),
            "service" => service = Some(value),
            "scope" => scope = Some(value),
            _ => {}
        }
    }
    Some(BearerChallenge { realm: realm.filter(|r| !r.is_empty())?, service, scope })
}

/// An HTTP client for registries: timeouts, no redirects, our user agent.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Resolutions by pinned reference and size bound ([`fetch::resolve`]): what a digest names
    /// never changes, so another attempt, or another participant submitting the same image,
    /// skips the registry's round trips.
    resolved: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<(String, u64), fetch::Resolved>>>,
}

impl Client {
    /// `timeout` bounds connecting and each wait for bytes, not a whole download: a large layer
    /// read at a steady pace is never cut.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .read_timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("darkroom/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, resolved: Default::default() })
    }

    /// A conversation about one repository; it logs in once and keeps the token.
    pub fn session<'a>(&'a self, image: &'a ImageReference, login: Option<&'a Login>) -> Session<'a> {
        Session { http: &self.http, image, login, auth: None }
    }
}

/// Why a request in a [`Session`] got no answer worth reading.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The registry could not be reached or failed.
    #[error("{0}")]
    Unreachable(RegistryProblem),
    /// Logging in as the registry asked failed.
    #[error("{0}")]
    Denied(RegistryProblem),
}

/// Requests about one repository, answering a registry's 401 by logging in (once).
pub struct Session<'a> {
    http: &'a reqwest::Client,
    image: &'a ImageReference,
    login: Option<&'a Login>,
    auth: Option<String>,
}

impl Session<'_> {
    /// Sends `method url` (asking again after a short wait when the registry answers 5xx: a
    /// registry can fail a read while a push to the same tag is under way, as Distribution's
    /// filesystem store does), logging in when it answers 401. Any other answer is returned
    /// for the caller to judge, including a second 401.
    pub async fn send(&mut self, method: reqwest::Method, url: &str) -> Result<reqwest::Response, SessionError> {
        for round in 0..2 {
            let response = self.send_retrying(&method, url).await.map_err(SessionError::Unreachable)?;
            if response.status() != StatusCode::UNAUTHORIZED || round == 1 {
                return Ok(response);
            }
            let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("");
            self.auth =
                Some(authorization(self.http, self.image, challenge, self.login).await.map_err(SessionError::Denied)?);
        }
        unreachable!("the second round returns")
    }

    async fn send_retrying(&self, method: &reqwest::Method, url: &str) -> Result<reqwest::Response, RegistryProblem> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        let mut attempt = 1;
        loop {
            let mut request = self.http.request(method.clone(), url).header(ACCEPT, MANIFEST_TYPES);
            if let Some(a) = &self.auth {
                request = request.header(AUTHORIZATION, a);
            }
            let response = request.send().await.map_err(RegistryProblem::transport)?;
            if !response.status().is_server_error() || attempt == SERVER_ERROR_ATTEMPTS {
                return Ok(response);
            }
            tracing::warn!(url, status = %response.status(), "registry failed a read; asking again");
            tokio::time::sleep(backoff.next()).await;
            attempt += 1;
        }
    }

    /// GETs a blob, following the registry's redirect to its storage (HTTPS, or loopback for a
    /// loopback registry) without our login, as storage URLs carry their own signature.
    pub async fn blob(&mut self, digest: &str) -> Result<reqwest::Response, SessionError> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.image.api_base(), self.image.repository);
        let mut response = self.send(reqwest::Method::GET, &url).await?;
        for _ in 0..MAX_BLOB_REDIRECTS {
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
            let target = location
                .and_then(|l| reqwest::Url::parse(&url).ok()?.join(l).ok())
                .ok_or(SessionError::Unreachable(RegistryProblem::BadRedirect))?;
            if !allowed_url(&target, self.image) {
                return Err(SessionError::Unreachable(RegistryProblem::BadRedirect));
            }
            response = self
                .http
                .get(target)
                .send()
                .await
                .map_err(|e| SessionError::Unreachable(RegistryProblem::transport(e)))?;
        }
        Err(SessionError::Unreachable(RegistryProblem::BadRedirect))
    }
}

impl Client {
    /// Deletes the manifest `image` is pinned to (`repository@sha256:…`); one already gone is
    /// fine. A registry without deletes enabled answers 405: [`RegistryProblem::Answered`].
    pub async fn delete_manifest(&self, image: &ImageReference, login: Option<&Login>) -> Result<(), SessionError> {
        let digest = image.digest.as_deref().unwrap_or_default();
        let url = format!("{}/v2/{}/manifests/{digest}", image.api_base(), image.repository);
        let response = self.session(image, login).send(reqwest::Method::DELETE, &url).await?;
        match response.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(SessionError::Unreachable(RegistryProblem::Answered(s))),
        }
    }
}

/// How many redirects a blob download follows (registries send one, to their storage).
const MAX_BLOB_REDIRECTS: usize = 3;

/// HTTPS anywhere, or plain HTTP on loopback when the registry itself is on loopback: a token
/// realm or a blob's storage must not turn a registry into a way to reach other addresses.
fn allowed_url(url: &reqwest::Url, image: &ImageReference) -> bool {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    url.scheme() == "https" || (url.scheme() == "http" && loopback && image.is_loopback())
}

/// The `Authorization` value that answers a 401's challenge.
async fn authorization(
    http: &reqwest::Client,
    image: &ImageReference,
    challenge: &str,
    login: Option<&Login>,
) -> Result<String, RegistryProblem> {
    if challenge.trim_start().get(..5).is_some_and(|s| s.eq_ignore_ascii_case("basic")) {
        let login = login.ok_or(RegistryProblem::NoLogin)?;
        let basic = format!("{}:{}", login.username, login.password);
        return Ok(format!("Basic {}", base64(basic.as_bytes())));
    }
    let bearer = parse_bearer_challenge(challenge).ok_or(RegistryProblem::UnknownScheme)?;
    let realm = reqwest::Url::parse(&bearer.realm).map_err(|_| RegistryProblem::RealmNotUrl)?;
    if !allowed_url(&realm, image) {
        return Err(RegistryProblem::RealmNotHttps);
    }
    let scope = bearer.scope.unwrap_or_else(|| format!("repository:{}:pull", image.repository));
    let mut query: Vec<(&str, &str)> = vec![("scope", &scope)];
    if let Some(service) = &bearer.service {
        query.push(("service", service));
    }
    let mut request = http.get(realm).query(&query);
    if let Some(l) = login {
        request = request.basic_auth(&l.username, Some(&l.password));
    }
    let response = request.send().await.map_err(RegistryProblem::token_service)?;
    let status = response.status();
    if !status.is_success() {
        return Err(RegistryProblem::TokenServiceAnswered(status));
    }
    #[derive(serde::Deserialize)]
    struct Token {
        token: Option<String>,
        access_token: Option<String>,
    }
    let token: Token = response.json().await.map_err(RegistryProblem::TokenAnswer)?;
    let token = token.token.or(token.access_token).ok_or(RegistryProblem::NoToken)?;
    Ok(format!("Bearer {token}"))
}

/// Reads a body of at most `limit` bytes; returns it with its `sha256:…` digest.
pub async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<(Vec<u8>, String), RegistryProblem> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(RegistryProblem::transport)? {
        if body.len() + chunk.len() > limit {
            return Err(RegistryProblem::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    Ok((body, digest))
}

/// A well-formed `Docker-Content-Digest`, or none.
pub fn digest_header(headers: &HeaderMap) -> Option<String> {
    let d = headers.get("docker-content-digest")?.to_str().ok()?.trim();
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())).then(|| d.to_owned())
}

/// A transport error in a sentence. [`RegistryProblem::transport`] and
/// [`RegistryProblem::token_service`] strip the URL first: its query may hold a scope or token.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "it did not answer in time".into()
    } else if e.is_connect() {
        "it refused the connection or could not be found".into()
    } else {
        e.to_string()
    }
}

/// Standard base64 for a Basic login; one small function instead of a dependency.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_parse() {
        let c = parse_bearer_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            BearerChallenge {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            }
        );
        let bare = parse_bearer_challenge("bearer realm=https://ghcr.io/token, service=ghcr.io").unwrap();
        assert_eq!(
            (bare.realm.as_str(), bare.service.as_deref(), bare.scope),
            ("https://ghcr.io/token", Some("ghcr.io"), None)
        );
        assert_eq!(parse_bearer_challenge(r#"Basic realm="x""#), None);
        assert_eq!(parse_bearer_challenge(r#"Bearer service="x""#), None, "a challenge without a realm is useless");
        assert_eq!(parse_bearer_challenge("Bearer"), None);
        assert_eq!(parse_bearer_challenge(r#"Bearer realm="unterminated"#).unwrap().realm, "unterminated");
    }

    #[test]
    fn digests_and_logins_are_encoded() {
        let mut h = HeaderMap::new();
        h.insert("docker-content-digest", format!("sha256:{}", "a".repeat(64)).parse().unwrap());
        assert!(digest_header(&h).is_some());
        h.insert("docker-content-digest", "sha256:zz".parse().unwrap());
        assert_eq!(digest_header(&h), None);
        assert_eq!(base64(b"user:pa"), "dXNlcjpwYQ==");
        assert_eq!(base64(b"user:pas"), "dXNlcjpwYXM=");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn realms_and_storage_are_https_or_loopback_for_a_loopback_registry() {
        let remote = ImageReference::parse("ghcr.io/team/model:1").unwrap();
        let local = ImageReference::parse("127.0.0.1:5000/team/model:1").unwrap();
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert!(allowed_url(&url("https://storage.example/blob"), &remote));
        assert!(!allowed_url(&url("http://storage.example/blob"), &remote));
        assert!(!allowed_url(&url("http://127.0.0.1:9000/blob"), &remote), "a remote registry cannot reach loopback");
        assert!(allowed_url(&url("http://127.0.0.1:9000/blob"), &local));
        assert!(!allowed_url(&url("http://10.0.0.1/blob"), &local));
    }
}
