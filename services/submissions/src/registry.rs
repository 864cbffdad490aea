//! Pinning a submitted image name to a digest, in the allowed registries only.
//!
//! This service has no Docker socket, and must not: it asks the registry itself for the
//! manifest, `HEAD /v2/<repository>/manifests/<tag>`, and keeps the `Docker-Content-Digest` it
//! answers (or the sha256 of the manifest body), through [`darkroom_core::registry`]. Only
//! hosts in `submissions.registries` are ever contacted, so a participant cannot point the
//! service at an arbitrary address.

use std::time::Duration;

use darkroom_core::domain::image::ImageReference;
use darkroom_core::registry::{self, Client, Login, MAX_MANIFEST_BYTES, RegistryProblem, SessionError};
use reqwest::{Method, StatusCode};

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

/// Talks to allowed registries.
#[derive(Clone)]
pub struct Registries {
    client: Client,
    allowed: Vec<String>,
    /// The most a pin may take in all (the client bounds each wait for bytes): a participant's
    /// submit waits for it, and a registry that drips its answer must not hold it.
    timeout: Duration,
}

impl Registries {
    pub fn new(allowed: &[String], timeout: Duration) -> Result<Self, reqwest::Error> {
        let allowed = allowed.iter().map(|h| h.to_ascii_lowercase()).collect();
        Ok(Self { client: Client::new(timeout)?, allowed, timeout })
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
        match tokio::time::timeout(self.timeout, self.ask(image, login)).await {
            Ok(answer) => answer,
            Err(_) => Err(PinError::Unreachable {
                reference: format!("{}/{}:{}", image.registry, image.repository, image.manifest_reference()),
                registry: image.registry.clone(),
                detail: RegistryProblem::TimedOut,
            }),
        }
    }

    async fn ask(&self, image: &ImageReference, login: Option<&Login>) -> Result<String, PinError> {
        let shown = format!("{}/{}:{}", image.registry, image.repository, image.manifest_reference());
        let unreachable = |detail: RegistryProblem| PinError::Unreachable {
            reference: shown.clone(),
            registry: image.registry.clone(),
            detail,
        };
        let denied = |detail: RegistryProblem| PinError::Denied {
            reference: shown.clone(),
            registry: image.registry.clone(),
            detail,
        };
        if !self.is_allowed(image) {
            // Callers check first; this keeps the no-arbitrary-hosts rule in one place anyway.
            return Err(unreachable(RegistryProblem::NotAllowed));
        }
        let url = format!("{}/v2/{}/manifests/{}", image.api_base(), image.repository, image.manifest_reference());
        let mut session = self.client.session(image, login);
        let asked = |e: SessionError| match e {
            SessionError::Unreachable(p) => unreachable(p),
            SessionError::Denied(p) => denied(p),
        };
        let response = session.send(Method::HEAD, &url).await.map_err(asked)?;
        match response.status() {
            s if s.is_success() => {
                if let Some(digest) = registry::digest_header(response.headers()) {
                    return Ok(digest);
                }
                // No digest header: hash the manifest itself.
                let response = session.send(Method::GET, &url).await.map_err(asked)?;
                if !response.status().is_success() {
                    return Err(unreachable(RegistryProblem::AnsweredGet(response.status())));
                }
                let (_, digest) = registry::read_limited(response, MAX_MANIFEST_BYTES).await.map_err(unreachable)?;
                Ok(digest)
            }
            StatusCode::NOT_FOUND => {
                Err(PinError::NotFound { reference: shown.clone(), registry: image.registry.clone() })
            }
            s @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => Err(denied(RegistryProblem::Answered(s))),
            s => Err(unreachable(RegistryProblem::Answered(s))),
        }
    }
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
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 3, "three reads in all");
    }

    #[tokio::test]
    async fn a_pin_takes_at_most_the_timeout_in_all() {
        // Each answer comes within the timeout, but the retries together would not.
        let app = axum::Router::new().route(
            "/v2/team/model/manifests/v1",
            axum::routing::head(|| async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = Registries::new(std::slice::from_ref(&host), Duration::from_secs(1)).unwrap();
        let image = ImageReference::parse(&format!("{host}/team/model:v1")).unwrap();
        let started = std::time::Instant::now();
        let e = client.pin(&image, None).await.unwrap_err().to_string();
        assert!(e.contains("did not answer in time"), "{e}");
        assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
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
}
