//! The local image registry `scripts/setup.sh` starts (`DARKROOM_TEST_REGISTRY` overrides it),
//! and a way to publish a name there without Docker.
//!
//! Submitting by name pins the name in a registry, so every API test that submits needs the
//! name to exist there. [`publish`] pushes a tiny config-only image over the registry's HTTP API
//! in milliseconds; tests that run an image use the real ones `scripts/build-images.sh` pushes.

use sha2::{Digest, Sha256};

/// `host:port` of the test registry.
pub fn registry() -> String {
    std::env::var("DARKROOM_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".to_owned())
}

/// `registry/name`, for images `scripts/build-images.sh` pushed.
pub fn pushed(name: &str) -> String {
    format!("{}/{name}", registry())
}

/// Publishes `repository:tag` (an image with no layers, never run) and returns the full name
/// to submit. Different names get different configs, so their digests differ.
pub async fn publish(name: &str) -> String {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"darkroom.test":"{name}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    );
    publish_image(name, config.as_bytes(), &[]).await
}

/// Publishes `repository:tag` as an OCI image of `config` and `layers` (blobs as given, sent
/// over the registry's HTTP API, so a test can push what `docker push` never would, such as a
/// decompression bomb) and returns the full name to submit.
pub async fn publish_image(name: &str, config: &[u8], layers: &[Vec<u8>]) -> String {
    // One push at a time per test binary: Distribution's filesystem store fails concurrent
    // pushes of the same blob and tag ("DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN"), and parallel
    // tests publish the same names.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let (repo, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
    let base = format!("http://{}", registry());
    let http = crate::http_client().build().expect("an HTTP client");
    let push_blob = |blob: Vec<u8>| {
        let (http, base) = (&http, &base);
        async move {
            let digest = format!("sha256:{}", hex(&Sha256::digest(&blob)));
            let start = http.post(format!("{base}/v2/{repo}/blobs/uploads/")).send().await.unwrap_or_else(|e| {
                panic!("the registry at {base} is not reachable ({e}): start it with scripts/setup.sh or set DARKROOM_TEST_REGISTRY")
            });
            assert!(start.status().is_success(), "blob upload start: {}", start.status());
            let location = start.headers()["location"].to_str().expect("a location").to_owned();
            let location = if location.starts_with("http") { location } else { format!("{base}{location}") };
            let sep = if location.contains('?') { '&' } else { '?' };
            let size = blob.len();
            let put = http.put(format!("{location}{sep}digest={digest}")).body(blob).send().await.expect("blob put");
            assert!(put.status().is_success(), "blob put: {}", put.status());
            format!(r#"{{"digest":"{digest}","size":{size}"#)
        }
    };
    let config_descriptor = push_blob(config.to_vec()).await;
    let mut layer_descriptors = Vec::new();
    for layer in layers {
        let d = push_blob(layer.clone()).await;
        layer_descriptors.push(format!(r#"{d},"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip"}}"#));
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{config_descriptor},"mediaType":"application/vnd.oci.image.config.v1+json"}},"layers":[{}]}}"#,
        layer_descriptors.join(",")
    );
    let put = http
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .expect("manifest put");
    assert!(put.status().is_success(), "manifest put: {} {}", put.status(), put.text().await.unwrap_or_default());
    format!("{}/{repo}:{tag}", registry())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A registry of its own (Debian's `docker-registry`, which `scripts/setup.sh` installs) on
/// `ip` and a free port, storing in a temporary folder with deletes enabled; stopped and
/// removed on drop.
pub struct Ephemeral {
    /// `ip:port`.
    pub addr: String,
    process: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Ephemeral {
    pub fn start(ip: &str) -> Self {
        let dir = tempfile::tempdir().expect("a registry folder");
        let port = std::net::TcpListener::bind((ip, 0)).expect("a free port").local_addr().unwrap().port();
        let addr = format!("{ip}:{port}");
        let config = dir.path().join("config.yml");
        let store = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                store.display()
            ),
        )
        .expect("the registry's config is written");
        let process = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry starts (scripts/setup.sh installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self { addr, process, _dir: dir }
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
