//! A real `nats-server` per test, on a port the server itself picked.
//!
//! Picking a "free" port and handing it to the server races with every other test doing the
//! same: a server that lost the race exits, while the probe connects to the winner, and the test
//! then talks to another test's server until that one is killed (seen in CI as a refused
//! connection in one test and a test hung on reconnects in another). So the server binds port 0
//! itself and reports the port it got in its ports file, which is written only after it listens.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nats-server` with JetStream, on a loopback port of its own, with a private store.
pub struct NatsServer {
    pub port: u16,
    store: tempfile::TempDir,
    ports_dir: tempfile::TempDir,
    child: Option<Child>,
    /// A configuration file (users and permissions) and the environment it reads.
    config: Option<(PathBuf, Vec<(String, String)>)>,
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DARKROOM_NATS_SERVER") {
        return p.into();
    }
    for candidate in ["/usr/local/bin/nats-server", "/opt/darkroom/venv/bin/nats-server"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    "nats-server".into()
}

/// A port that was free a moment ago, for servers that cannot report the port they bound.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl NatsServer {
    pub fn start() -> Self {
        Self::start_configured(None)
    }

    /// A server reading `config` (e.g. compose/nats/nats.conf, its users and permissions), with
    /// `env` set for the variables it names; ports and store as [`NatsServer::start`]'s.
    pub fn start_with_config(config: &Path, env: &[(&str, &str)]) -> Self {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self::start_configured(Some((config.to_path_buf(), env)))
    }

    fn start_configured(config: Option<(PathBuf, Vec<(String, String)>)>) -> Self {
        let mut s = Self {
            port: 0,
            store: tempfile::tempdir().expect("temp dir"),
            ports_dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            config,
        };
        s.port = s.spawn(-1);
        s
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server on `port` (-1: one it picks) and returns the port it listens on.
    fn spawn(&mut self, port: i32) -> u16 {
        let mut command = Command::new(binary());
        if let Some((config, env)) = &self.config {
            command.arg("-c").arg(config).envs(env.iter().map(|(k, v)| (k, v)));
        }
        let mut child = command
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .arg("--ports_file_dir")
            .arg(self.ports_dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs: install it with scripts/setup.sh (or set DARKROOM_NATS_SERVER)");
        let ports_file = self.ports_dir.path().join(format!("nats-server_{}.ports", child.id()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let bound = loop {
            if let Some(port) = listening_port(&ports_file) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nats-server exited ({status}) before listening on port {port}");
            }
            assert!(Instant::now() < deadline, "nats-server did not listen within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        self.child = Some(child);
        bound
    }

    /// Kills the server (as a crash would) and waits until the port is closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.spawn(i32::from(self.port));
        assert_eq!(port, self.port);
    }
}

/// The client port in a ports file (`{"nats":["nats://127.0.0.1:PORT"],…}`), once written whole.
fn listening_port(file: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(file).ok()?;
    let ports: serde_json::Value = serde_json::from_str(&text).ok()?;
    ports["nats"][0].as_str()?.rsplit_once(':')?.1.parse().ok()
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
