//! Pinning a submitted image name to a digest through the registry's HTTP API (v2).
//!
//! This service has no Docker socket, and must not: it asks the registry itself for the
//! manifest, `HEAD /v2/<repository>/manifests/<tag>`, and keeps the `Docker-Content-Digest` it
//! answers (or the sha256 of the manifest body). A registry that wants a token answers 401 with
//! `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; we fetch one from the realm (with the
//! challenge's login, if any) and ask again. Only hosts in `submissions.registries` are ever
//! contacted for manifests, redirects are not followed, and a token realm must be HTTPS (or
//! loopback), so a participant cannot point the service at an arbitrary address.
//! (About 350 lines of code; the tests below serve real HTTP on loopback.)

use std::time::Duration;

use darkroom_core::backoff::Backoff;
use darkroom_core::domain::image::ImageReference;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use sha2::{Digest, Sha256};

/// Every manifest kind an engine can pull: Docker v2, manifest list, OCI manifest, OCI index.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// How often a manifest read that the registry failed (5xx) is tried in all.
const SERVER_ERROR_ATTEMPTS: u32 = 3;

/// The most manifest bytes read when the registry sends no digest header.
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// A login to present to the registry (from the challenge spec).
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The registry has no such repository or tag.
    #[error("no such image '{reference}' in registry {registry}; push it first (docker push {reference})")]
    NotFound { reference: String, registry: String },
    /// The registry refused our credentials (or wanted some the challenge has none of).
    #[error(
        "registry {registry} refused access to '{reference}' ({detail}); make the repository public or ask the organizer to configure a registry login for this challenge"
    )]
    Denied { reference: String, registry: String, detail: RegistryProblem },
    /// The registry could not be reached or answered with an error of its own.
    #[error(
        "registry {registry} could not be asked for '{reference}' ({detail}); retry later, or push to another allowed registry"
    )]
    Unreachable { reference: String, registry: String, detail: RegistryProblem },
}

/// What went wrong in the exchange with a registry: the detail of a [`PinError`], in words
/// that complete "registry X could not be asked (…)" or "refused access (…)".
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
    #[error("it kept asking for credentials")]
    KeptAsking,
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
    #[error("its manifest is larger than 4 MiB")]
    ManifestTooLarge,
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

/// Talks to allowed registries.
#[derive(Clone)]
pub struct Registries {
    client: reqwest::Client,
    allowed: Vec<String>,
}

impl Registries {
    pub fn new(allowed: &[String], timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("darkroom/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, allowed: allowed.iter().map(|h| h.to_ascii_lowercase()).collect() })
    }

    /// The registries names may come from, for error messages.
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    pub fn is_allowed(&self, image: &ImageReference) -> bool {
        self.allowed.contains(&image.registry)
    }

    /// The digest (`sha256:…`) the registry serves for `image` now.
    pub async fn pin(&self, image: &ImageReference, login: Option<&Login>) -> Result<String, PinError> {
        let shown = format!("{}/{}:{}", image.registry, image.repository, image.manifest_reference());
        let unreachable = |detail: RegistryProblem| PinError::Unreachable {
            reference: shown.clone(),
            registry: image.registry.clone(),
            detail,
        };
        if !self.is_allowed(image) {
            // Callers check first; this keeps the no-arbitrary-hosts rule in one place anyway.
            return Err(unreachable(RegistryProblem::NotAllowed));
        }
        let url = format!("{}/v2/{}/manifests/{}", image.api_base(), image.repository, image.manifest_reference());
        let mut auth: Option<String> = None;
        for round in 0..2 {
            let response = self
                .head_manifest(&url, auth.as_deref())
                .await
                .map_err(|e| unreachable(RegistryProblem::transport(e)))?;
            match response.status() {
                s if s.is_success() => {
                    if let Some(digest) = digest_header(response.headers()) {
                        return Ok(digest);
                    }
                    return self.digest_of_body(&url, auth.as_deref()).await.map_err(unreachable);
                }
                StatusCode::NOT_FOUND => {
                    return Err(PinError::NotFound { reference: shown.clone(), registry: image.registry.clone() });
                }
                StatusCode::UNAUTHORIZED if round == 0 => {
                    let challenge =
                        response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("");
                    auth = Some(self.authorization(image, challenge, login).await.map_err(|detail| {
                        PinError::Denied { reference: shown.clone(), registry: image.registry.clone(), detail }
                    })?);
                }
                s @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                    return Err(PinError::Denied {
                        reference: shown.clone(),
                        registry: image.registry.clone(),
                        detail: RegistryProblem::Answered(s),
                    });
                }
                s => return Err(unreachable(RegistryProblem::Answered(s))),
            }
        }
        Err(unreachable(RegistryProblem::KeptAsking))
    }

    /// HEADs a manifest, asking again after a short wait when the registry answers 5xx: a
    /// registry can fail a read while a push to the same tag is under way (Distribution's
    /// filesystem store does), and a participant should not see that as a refusal.
    async fn head_manifest(&self, url: &str, auth: Option<&str>) -> Result<reqwest::Response, reqwest::Error> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        let mut attempt = 1;
        loop {
            let mut request = self.client.head(url).header(ACCEPT, MANIFEST_TYPES);
            if let Some(a) = auth {
                request = request.header(AUTHORIZATION, a);
            }
            let response = request.send().await?;
            if !response.status().is_server_error() || attempt == SERVER_ERROR_ATTEMPTS {
                return Ok(response);
            }
            tracing::warn!(url, status = %response.status(), "registry failed a manifest read; asking again");
            tokio::time::sleep(backoff.next()).await;
            attempt += 1;
        }
    }

    /// The `Authorization` value that answers a 401's challenge.
    async fn authorization(
        &self,
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
        let loopback = matches!(realm.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if realm.scheme() != "https" && !(realm.scheme() == "http" && loopback && image.is_loopback()) {
            return Err(RegistryProblem::RealmNotHttps);
        }
        let scope = bearer.scope.unwrap_or_else(|| format!("repository:{}:pull", image.repository));
        let mut query: Vec<(&str, &str)> = vec![("scope", &scope)];
        if let Some(service) = &bearer.service {
            query.push(("service", service));
        }
        let mut request = self.client.get(realm).query(&query);
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

    /// Fetches the manifest and hashes it, for registries that send no digest header.
    async fn digest_of_body(&self, url: &str, auth: Option<&str>) -> Result<String, RegistryProblem> {
        let mut request = self.client.get(url).header(ACCEPT, MANIFEST_TYPES);
        if let Some(a) = auth {
            request = request.header(AUTHORIZATION, a);
        }
        let mut response = request.send().await.map_err(RegistryProblem::transport)?;
        if !response.status().is_success() {
            return Err(RegistryProblem::AnsweredGet(response.status()));
        }
        let mut hasher = Sha256::new();
        let mut read = 0;
        while let Some(chunk) = response.chunk().await.map_err(RegistryProblem::transport)? {
            read += chunk.len();
            if read > MAX_MANIFEST_BYTES {
                return Err(RegistryProblem::ManifestTooLarge);
            }
            hasher.update(&chunk);
        }
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    }
}

/// A well-formed `Docker-Content-Digest`, or none.
fn digest_header(headers: &HeaderMap) -> Option<String> {
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

    /// A registry on loopback that fails the first `failures` manifest reads with 500.
    async fn flaky_registry(failures: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let reads = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let app = axum::Router::new().route(
            "/v2/team/model/manifests/v1",
            axum::routing::head(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < failures {
                        (StatusCode::INTERNAL_SERVER_ERROR, [("docker-content-digest", "")])
                    } else {
                        (
                            StatusCode::OK,
                            [(
                                "docker-content-digest",
                                "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                            )],
                        )
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr.to_string(), reads)
    }

    #[tokio::test]
    async fn a_registry_failing_a_read_is_asked_again_a_bounded_number_of_times() {
        let (host, reads) = flaky_registry(2).await;
        let client = Registries::new(std::slice::from_ref(&host), Duration::from_secs(5)).unwrap();
        let image = ImageReference::parse(&format!("{host}/team/model:v1")).unwrap();
        assert!(client.pin(&image, None).await.unwrap().starts_with("sha256:1111"));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 3);

        let (host, reads) = flaky_registry(usize::MAX).await;
        let client = Registries::new(std::slice::from_ref(&host), Duration::from_secs(5)).unwrap();
        let image = ImageReference::parse(&format!("{host}/team/model:v1")).unwrap();
        let e = client.pin(&image, None).await.unwrap_err().to_string();
        assert!(e.contains("answered 500 Internal Server Error") && e.contains("retry later"), "{e}");
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), SERVER_ERROR_ATTEMPTS as usize);
    }

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
    fn problems_complete_the_pin_error_sentence() {
        let e = PinError::Unreachable {
            reference: "r.example/m:1".into(),
            registry: "r.example".into(),
            detail: RegistryProblem::AnsweredGet(StatusCode::BAD_GATEWAY),
        };
        assert_eq!(
            e.to_string(),
            "registry r.example could not be asked for 'r.example/m:1' (it answered 502 Bad Gateway to GET); retry \
             later, or push to another allowed registry"
        );
        assert_eq!(RegistryProblem::NoLogin.to_string(), "it wants a login and the challenge has none");
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
}
