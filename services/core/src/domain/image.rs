//! Docker image references, checked before they reach the engine.
//!
//! A small hand-written check of Docker's reference grammar
//! (`[host[:port]/]path[:tag][@algo:hex]`): pulling in a regex engine for one pattern is not
//! worth its build time, and the grammar is stable.

/// The namespace of every image the platform holds for a submission
/// (`darkroom-submission/<id>:<attempt>`): participants may never name it.
pub const SUBMISSION_NAMESPACE: &str = "darkroom-submission";

/// What is wrong with an image reference. The text is the problem reported on the field that
/// holds it (`image`, `evaluation.image`), so it does not repeat the reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageReferenceError {
    #[error("is empty")]
    Empty,
    #[error("is {0} characters long; Docker allows 255")]
    TooLong(usize),
    #[error("digest '{0}' lacks 'algorithm:'")]
    DigestWithoutAlgorithm(String),
    #[error("digest '{0}' is not sha256 followed by 64 lowercase hex digits")]
    BadDigest(String),
    #[error("tag '{0}' may only hold letters, digits, '_', '.' and '-' (at most 128)")]
    BadTag(String),
    #[error("registry host '{0}' is not a host name")]
    BadHost(String),
    #[error("registry port '{0}' is not a port number")]
    BadPort(String),
    #[error(
        "'{0}' is not a valid name component: use lowercase letters and digits, separated by '.', '_', '__' or '-'"
    )]
    BadComponent(String),
}

/// Checks a reference such as `eval:1.0`, `registry:5000/team/model@sha256:…`.
pub fn validate_image_reference(reference: &str) -> Result<(), ImageReferenceError> {
    if reference.is_empty() {
        return Err(ImageReferenceError::Empty);
    }
    if reference.len() > 255 {
        return Err(ImageReferenceError::TooLong(reference.len()));
    }
    let (name_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let (algo, hex) = d.split_once(':').ok_or_else(|| ImageReferenceError::DigestWithoutAlgorithm(d.to_owned()))?;
        if algo != "sha256" || hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(ImageReferenceError::BadDigest(d.to_owned()));
        }
    }
    // The tag is after the last ':' that follows the last '/', so a registry port is not a tag.
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (&name_tag[..last_slash + i], Some(&name_tag[last_slash + i + 1..])),
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Err(ImageReferenceError::BadTag(tag.to_owned()));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // A first part with '.' or ':' or equal to "localhost" is a registry host.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = host.split_once(':').map_or((host, None), |(h, p)| (h, Some(p)));
        let edges_ok =
            h.starts_with(|c: char| c.is_ascii_alphanumeric()) && h.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !edges_ok || h.contains("..") || !h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')) {
            return Err(ImageReferenceError::BadHost(host.to_owned()));
        }
        if let Some(p) = port
            && p.parse::<u16>().is_err()
        {
            return Err(ImageReferenceError::BadPort(p.to_owned()));
        }
    }
    if let Some(part) = parts.into_iter().find(|part| !valid_path_component(part)) {
        return Err(ImageReferenceError::BadComponent(part.to_owned()));
    }
    Ok(())
}

/// Docker Hub's name as participants write it, and the host its API actually answers on.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A reference split into where it lives and what it names, after Docker's normalisation: no
/// host means Docker Hub, and a one-component Hub name lives under `library/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// The registry as written (`127.0.0.1:5000`, `ghcr.io`), or [`DOCKER_HUB`]; lowercase.
    pub registry: String,
    /// The repository path inside the registry, e.g. `team/model` or `library/alpine`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:…` when the reference is already pinned.
    pub digest: Option<String>,
    /// Speak plain HTTP to this registry although it is not on loopback: only for the
    /// platform's own registry when its configuration says `http://` (never from a name).
    pub plain_http: bool,
}

impl ImageReference {
    /// Checks the grammar ([`validate_image_reference`]) and splits the reference.
    pub fn parse(reference: &str) -> Result<Self, ImageReferenceError> {
        validate_image_reference(reference)?;
        let (name_tag, digest) = match reference.split_once('@') {
            Some((n, d)) => (n, Some(d.to_owned())),
            None => (reference, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (&name_tag[..last_slash + i], Some(name_tag[last_slash + i + 1..].to_owned())),
            None => (name_tag, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_ascii_lowercase(), rest)
            }
            _ => (DOCKER_HUB.to_owned(), name),
        };
        let registry = if registry == "index.docker.io" { DOCKER_HUB.to_owned() } else { registry };
        let repository =
            if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path.to_owned() };
        Ok(Self { registry, repository, tag, digest, plain_http: false })
    }

    /// The host (and port) the registry's HTTP API answers on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_API } else { &self.registry }
    }

    /// Whether the registry is on this machine; Docker talks plain HTTP to those, and so do we.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => self.registry.split(':').next().unwrap_or(""),
        };
        matches!(host, "localhost" | "127.0.0.1" | "::1")
    }

    /// `https://host` or, for a loopback (or [`Self::plain_http`]) registry, `http://host`.
    pub fn api_base(&self) -> String {
        let scheme = if self.is_loopback() || self.plain_http { "http" } else { "https" };
        format!("{scheme}://{}", self.api_host())
    }

    /// What the manifest is asked for by: the digest if pinned, else the tag (`latest` if none).
    pub fn manifest_reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The repository path without Docker Hub's implicit `library/`, for comparing names.
    pub fn short_path(&self) -> &str {
        if self.registry == DOCKER_HUB {
            self.repository.strip_prefix("library/").unwrap_or(&self.repository)
        } else {
            &self.repository
        }
    }

    /// `registry/repository@digest`: exactly one image, whatever the tag points at later.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}/{}@{digest}", self.registry, self.repository)
    }
}

/// Whether `s` is an image id rather than a name: `sha256:…` or a bare 12–64 hex string, which
/// the engine would resolve to whatever local image has that id.
pub fn looks_like_image_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    (s.starts_with("sha256:") || (12..=64).contains(&hex.len()))
        && !hex.is_empty()
        && hex.chars().all(|c| c.is_ascii_hexdigit())
}

fn valid_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    if !part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')) {
        return false;
    }
    // Separators: '.', '_', '__' or one or more '-'; never two different ones in a row.
    !part.contains("..") && !part.contains("___") && !part.contains("._") && !part.contains("_.")
}

#[cfg(test)]
mod tests {
    use super::validate_image_reference as check;
    use super::{ImageReference, looks_like_image_id};

    fn split(r: &str) -> (String, String, Option<String>, Option<String>) {
        let p = ImageReference::parse(r).unwrap();
        (p.registry, p.repository, p.tag, p.digest)
    }

    #[test]
    fn splits_host_repository_tag_and_digest() {
        let s = |x: &str| x.to_owned();
        assert_eq!(split("alpine"), (s("docker.io"), s("library/alpine"), None, None));
        assert_eq!(split("team/model:v2"), (s("docker.io"), s("team/model"), Some(s("v2")), None));
        assert_eq!(split("127.0.0.1:5000/m:1"), (s("127.0.0.1:5000"), s("m"), Some(s("1")), None));
        assert_eq!(split("localhost/a/b"), (s("localhost"), s("a/b"), None, None));
        assert_eq!(split("index.docker.io/x:1").0, "docker.io");
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(split(&format!("ghcr.io/o/m:t@{d}")), (s("ghcr.io"), s("o/m"), Some(s("t")), Some(d.clone())));
        let hub = ImageReference::parse("alpine:3").unwrap();
        assert_eq!(
            (hub.api_base(), hub.manifest_reference(), hub.short_path()),
            (s("https://registry-1.docker.io"), "3", "alpine")
        );
        assert_eq!(hub.pinned(&d), format!("docker.io/library/alpine@{d}"));
        let local = ImageReference::parse("localhost:5000/m").unwrap();
        assert_eq!((local.api_base(), local.manifest_reference()), (s("http://localhost:5000"), "latest"));
        assert!(!ImageReference::parse("127.0.0.1.example.com/m").unwrap().is_loopback());
        assert!(ImageReference::parse("Bad/Name").is_err());
    }

    #[test]
    fn image_ids_are_recognised() {
        for id in [format!("sha256:{}", "a".repeat(64)), "0123456789ab".into(), "f".repeat(64)] {
            assert!(looks_like_image_id(&id), "{id}");
        }
        for name in ["model:1", "abc", "deadbeef", "0123456789abz", "sha256:"] {
            assert!(!looks_like_image_id(name), "{name}");
        }
    }

    #[test]
    fn accepts_common_references() {
        for r in [
            "eval",
            "eval:1.0",
            "team/model:v2",
            "localhost:5000/model",
            "registry.example.org/a/b:latest",
            "darkroom-demo-baseline:1",
            &format!("model@sha256:{}", "a".repeat(64)),
        ] {
            assert_eq!(check(r), Ok(()), "{r}");
        }
    }

    #[test]
    fn problems_read_as_before() {
        assert_eq!(check("").unwrap_err().to_string(), "is empty");
        assert_eq!(
            check("a:b!").unwrap_err().to_string(),
            "tag 'b!' may only hold letters, digits, '_', '.' and '-' (at most 128)"
        );
        assert_eq!(check("h:x/m").unwrap_err().to_string(), "registry port 'x' is not a port number");
        assert_eq!(
            check("UPPER").unwrap_err().to_string(),
            "'UPPER' is not a valid name component: use lowercase letters and digits, separated by '.', '_', '__' or '-'"
        );
    }

    #[test]
    fn rejects_bad_references() {
        for r in
            ["", "UPPER", "a:", "a:b/c", "../etc", "a b", "a@sha256:xyz", "host:port/x", "-a", "a..b", &"a".repeat(300)]
        {
            assert!(check(r).is_err(), "{r} should be rejected");
        }
    }
}
