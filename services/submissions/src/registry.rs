//! Pinning a submitted image name to a digest through the registry's HTTP API (v2).
//!
//! This service has no Docker socket, and must not: it asks the registry itself for the
//! manifest, `HEAD /v2/<repository>/manifests/<tag>`, and keeps the `Docker-Content-Digest` it
//! answers (or the sha256 of the manifest body). A registry that wants a token answers 401 with
//! `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; we fetch one from the realm (with the
//! challenge's login, if any) and ask again. Only hosts in `submissions.registries` are ever
//! contacted for manifests, redirects are not followed, and a token realm must be HTTPS (or
//! loopback), so a participant cannot point the service at an arbitrary address.

use std::time::Duration;

use darkroom_core::domain::image::ImageReference;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use sha2::{Digest, Sha256};

/// Every manifest kind an engine can pull: Docker v2, manifest list, OCI manifest, OCI index.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

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
    Denied { reference: String, registry: String, detail: String },
    /// The registry could not be reached or answered with an error of its own.
    #[error(
        "registry {registry} could not be asked for '{reference}' ({detail}); retry later, or push to another allowed registry"
    )]
    Unreachable { reference: String, registry: String, detail: String },
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
        let unreachable = |detail: String| PinError::Unreachable {
            reference: shown.clone(),
            registry: image.registry.clone(),
            detail,
        };
        if !self.is_allowed(image) {
            // Callers check first; this keeps the no-arbitrary-hosts rule in one place anyway.
            return Err(unreachable("not an allowed registry".into()));
        }
        let url = format!("{}/v2/{}/manifests/{}", image.api_base(), image.repository, image.manifest_reference());
        let mut auth: Option<String> = None;
        for round in 0..2 {
            let mut request = self.client.head(&url).header(ACCEPT, MANIFEST_TYPES);
            if let Some(a) = &auth {
                request = request.header(AUTHORIZATION, a);
            }
            let response = request.send().await.map_err(|e| unreachable(describe(e)))?;
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
                        detail: format!("it answered {s}"),
                    });
                }
                s => return Err(unreachable(format!("it answered {s}"))),
            }
        }
        Err(unreachable("it kept asking for credentials".into()))
    }

    /// The `Authorization` value that answers a 401's challenge.
    async fn authorization(
        &self,
        image: &ImageReference,
        challenge: &str,
        login: Option<&Login>,
    ) -> Result<String, String> {
        if challenge.trim_start().get(..5).is_some_and(|s| s.eq_ignore_ascii_case("basic")) {
            let login = login.ok_or("it wants a login and the challenge has none")?;
            let basic = format!("{}:{}", login.username, login.password);
            return Ok(format!("Basic {}", base64(basic.as_bytes())));
        }
        let bearer =
            parse_bearer_challenge(challenge).ok_or("it wants credentials of a kind Darkroom does not speak")?;
        let realm = reqwest::Url::parse(&bearer.realm).map_err(|_| "its token realm is not a URL".to_owned())?;
        let loopback = matches!(realm.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if realm.scheme() != "https" && !(realm.scheme() == "http" && loopback && image.is_loopback()) {
            return Err("its token realm is not HTTPS".into());
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
        let response = request.send().await.map_err(|e| format!("its token service: {}", describe(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("its token service answered {status}"));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = response.json().await.map_err(|e| format!("its token answer: {e}"))?;
        let token = token.token.or(token.access_token).ok_or("its token answer holds no token")?;
        Ok(format!("Bearer {token}"))
    }

    /// Fetches the manifest and hashes it, for registries that send no digest header.
    async fn digest_of_body(&self, url: &str, auth: Option<&str>) -> Result<String, String> {
        let mut request = self.client.get(url).header(ACCEPT, MANIFEST_TYPES);
        if let Some(a) = auth {
            request = request.header(AUTHORIZATION, a);
        }
        let mut response = request.send().await.map_err(describe)?;
        if !response.status().is_success() {
            return Err(format!("it answered {} to GET", response.status()));
        }
        let mut hasher = Sha256::new();
        let mut read = 0;
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            read += chunk.len();
            if read > MAX_MANIFEST_BYTES {
                return Err("its manifest is larger than 4 MiB".into());
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

/// A transport error in a sentence, without the URL's query (which may hold a scope or token).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "it did not answer in time".into()
    } else if e.is_connect() {
        "it refused the connection or could not be found".into()
    } else {
        e.without_url().to_string()
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
}
