//! What every service binary shares as a process: the `healthcheck` subcommand, the
//! liveness/readiness endpoints of the services that serve no HTTP otherwise, and the signals
//! that stop them.
//!
//! Darkroom's images hold one static binary and nothing else (no shell, no curl), so a
//! container healthcheck runs the service's own binary: `darkroom-<service> healthcheck` asks
//! the running process's `/readyz` (or `/healthz`) on loopback and exits 0 or 1.
//! `docker stop` sends SIGTERM, which a process that only waits for Ctrl-C would ignore as
//! PID 1 until it is killed; [`shutdown_signal`] waits for either.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What a service binary was asked to do by its command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// No arguments: run the service.
    Serve,
    /// `healthcheck`: probe the running service and exit 0 (healthy) or 1.
    Healthcheck,
}

impl Command {
    /// Reads the process's arguments; anything but nothing or `healthcheck` is an error that
    /// says what is accepted (configuration comes from the file and environment, not flags).
    pub fn from_args() -> Result<Self, HealthError> {
        Self::parse(std::env::args().skip(1))
    }

    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, HealthError> {
        let command = match args.next().as_deref() {
            None => Self::Serve,
            Some("healthcheck") => Self::Healthcheck,
            Some(other) => return Err(HealthError::Usage(other.to_owned())),
        };
        match args.next() {
            None => Ok(command),
            Some(extra) => Err(HealthError::Usage(extra)),
        }
    }
}

/// What goes wrong around a service's health: its command line, a probe of it, binding its
/// endpoints.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(
        "unknown argument '{0}': run with no arguments to serve, or 'healthcheck' to probe a running \
         instance; configuration comes from darkroom.toml and DARKROOM_* variables (see darkroom.example.toml)"
    )]
    Usage(String),
    #[error("{key} is empty, so there is nothing to probe: set it (e.g. 127.0.0.1:9090) to serve health endpoints")]
    NotServed { key: &'static str },
    #[error("{key} = '{value}' is not an address: {problem}")]
    BadAddress { key: &'static str, value: String, problem: String },
    #[error("unhealthy: {0}")]
    Unhealthy(ProbeError),
    /// The health endpoints' address cannot be bound at start-up.
    #[error("{key}: cannot listen on '{listen}': {error}")]
    Bind { key: &'static str, listen: String, error: std::io::Error },
}

/// Why one probe of a health endpoint did not get a 200.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot connect to {addr}: {error}")]
    Connect { addr: SocketAddr, error: std::io::Error },
    /// The socket refused its timeouts.
    #[error(transparent)]
    Socket(std::io::Error),
    #[error("cannot send to {addr}: {error}")]
    Send { addr: SocketAddr, error: std::io::Error },
    #[error("no answer from {addr}{path}: {error}")]
    NoAnswer { addr: SocketAddr, path: String, error: std::io::Error },
    #[error("{addr}{path} answered {code}: {body}")]
    Status { addr: SocketAddr, path: String, code: String, body: String },
    #[error("{addr}{path} answered something that is not HTTP: '{status_line}'")]
    NotHttp { addr: SocketAddr, path: String, status_line: String },
}

/// Probes `path` on the address a service listens on (`key` names the setting, for errors).
/// An unspecified listen address (`0.0.0.0:8080`) is probed on loopback.
pub fn healthcheck(key: &'static str, listen: &str, path: &str) -> Result<(), HealthError> {
    if listen.trim().is_empty() {
        return Err(HealthError::NotServed { key });
    }
    let bad = |problem: String| HealthError::BadAddress { key, value: listen.to_owned(), problem };
    let mut addr: SocketAddr = listen
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("resolves to nothing".into()))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    probe(addr, path, Duration::from_secs(3)).map_err(HealthError::Unhealthy)
}

/// One `GET` over HTTP/1.0 to a loopback service, healthy on a 200. Written out rather than
/// taken from an HTTP client crate: it is one request on loopback, and the submissions service,
/// the runners and the evaluator would otherwise each link a client only for this.
pub fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), ProbeError> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|error| ProbeError::Connect { addr, error })?;
    stream.set_read_timeout(Some(timeout)).map_err(ProbeError::Socket)?;
    stream.set_write_timeout(Some(timeout)).map_err(ProbeError::Socket)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
        .map_err(|error| ProbeError::Send { addr, error })?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer).map_err(|error| ProbeError::NoAnswer {
        addr,
        path: path.to_owned(),
        error,
    })?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.trim()).unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => {
            Err(ProbeError::Status { addr, path: path.to_owned(), code: code.to_owned(), body: body.to_owned() })
        }
        None => Err(ProbeError::NotHttp { addr, path: path.to_owned(), status_line: status.to_owned() }),
    }
}

#[cfg(feature = "health")]
pub use serve::{Check, Endpoints, Readiness, shutdown_signal};

/// Ready while the client is connected to NATS.
#[cfg(all(feature = "health", feature = "nats"))]
pub fn nats_check(client: async_nats::Client) -> Check {
    std::sync::Arc::new(move || {
        let state = client.connection_state();
        Box::pin(async move {
            match state {
                async_nats::connection::State::Connected => Ok(()),
                other => Err(format!("not connected ({other})")),
            }
        })
    })
}

/// Ready while the Docker engine answers a ping.
#[cfg(all(feature = "health", feature = "docker"))]
pub fn docker_check(sandbox: crate::sandbox::Sandbox) -> Check {
    std::sync::Arc::new(move || {
        let sandbox = sandbox.clone();
        Box::pin(async move { sandbox.docker().ping().await.map(|_| ()).map_err(|e| e.to_string()) })
    })
}

#[cfg(feature = "health")]
mod serve {
    use std::sync::Arc;

    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::get;
    use futures::future::BoxFuture;
    use serde_json::{Map, Value, json};

    /// One dependency check: `Ok` or what is wrong.
    pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

    /// The named checks `/readyz` runs; ready when all pass.
    #[derive(Clone, Default)]
    pub struct Readiness {
        checks: Vec<(&'static str, Check)>,
    }

    impl Readiness {
        pub fn check(mut self, name: &'static str, check: Check) -> Self {
            self.checks.push((name, check));
            self
        }

        /// Every check's outcome and whether all passed.
        pub async fn run(&self) -> (bool, Map<String, Value>) {
            let mut ready = true;
            let mut report = Map::new();
            for (name, check) in &self.checks {
                let outcome = check().await;
                ready &= outcome.is_ok();
                report
                    .insert((*name).to_owned(), Value::String(outcome.map(|()| "ok".to_owned()).unwrap_or_else(|e| e)));
            }
            (ready, report)
        }
    }

    /// Run before `/metrics` renders, to refresh what is measured at scrape time (consumer lag).
    pub type Scrape = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

    /// A service's `/healthz` (the process answers), `/readyz` (every check passes) and
    /// `/metrics` (Prometheus, [`crate::metrics`]), bound at start-up so a taken port is a
    /// startup error rather than a silent one, and served once the service runs.
    pub struct Endpoints {
        listener: tokio::net::TcpListener,
        readiness: Readiness,
        scrape: Option<Scrape>,
    }

    impl Endpoints {
        /// Binds `listen` (the setting `key`, for errors); an empty address serves none.
        pub async fn bind(
            key: &'static str,
            listen: &str,
            readiness: Readiness,
        ) -> Result<Option<Self>, super::HealthError> {
            if listen.is_empty() {
                return Ok(None);
            }
            let listener = tokio::net::TcpListener::bind(listen).await.map_err(|error| super::HealthError::Bind {
                key,
                listen: listen.to_owned(),
                error,
            })?;
            crate::metrics::install();
            Ok(Some(Self { listener, readiness, scrape: None }))
        }

        pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
            self.listener.local_addr().ok()
        }

        /// Runs `scrape` before each `/metrics` answer.
        pub fn on_scrape(mut self, scrape: Scrape) -> Self {
            self.scrape = Some(scrape);
            self
        }

        /// Serves the endpoints in the background until the process ends.
        pub fn spawn(self) {
            tokio::spawn(serve(self.listener, self.readiness, self.scrape));
        }
    }

    async fn serve(listener: tokio::net::TcpListener, readiness: Readiness, scrape: Option<Scrape>) {
        let readiness = Arc::new(readiness);
        let metrics = get(move || {
            let scrape = scrape.clone();
            async move {
                if let Some(scrape) = scrape {
                    scrape().await;
                }
                crate::metrics::render()
            }
        });
        let app = axum::Router::new()
            .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
            .route(
                "/readyz",
                get(move || {
                    let readiness = readiness.clone();
                    async move {
                        let (ready, mut report) = readiness.run().await;
                        report
                            .insert("status".into(), Value::String(if ready { "ready" } else { "unavailable" }.into()));
                        let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                        (code, Json(Value::Object(report)))
                    }
                }),
            )
            .route("/metrics", metrics);
        crate::http::serve(listener, app, &crate::config::HttpConfig::default(), std::future::pending()).await;
    }

    /// Resolves on Ctrl-C or SIGTERM (what `docker stop` and Swarm send).
    pub async fn shutdown_signal() {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        tracing::info!("stop signal received; shutting down");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn args(a: &[&str]) -> impl Iterator<Item = String> {
        a.iter().map(ToString::to_string).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn arguments_are_nothing_or_healthcheck() {
        assert_eq!(Command::parse(args(&[])).unwrap(), Command::Serve);
        assert_eq!(Command::parse(args(&["healthcheck"])).unwrap(), Command::Healthcheck);
        let e = Command::parse(args(&["--port", "80"])).unwrap_err().to_string();
        assert!(e.contains("'--port'") && e.contains("DARKROOM_"), "{e}");
        assert!(Command::parse(args(&["healthcheck", "x"])).is_err());
    }

    /// A one-shot server answering every connection with `answer`.
    fn answering(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                // Read the whole request first: closing a socket with unread bytes sends a
                // reset, which the client may see before the answer.
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn.write_all(answer.as_bytes());
                let _ = conn.shutdown(std::net::Shutdown::Write);
            }
        });
        addr
    }

    #[test]
    fn a_200_is_healthy_anything_else_says_why_not() {
        let ok = answering("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert!(healthcheck("x.listen", &ok.to_string(), "/readyz").is_ok());
        let unready = answering("HTTP/1.1 503 Service Unavailable\r\n\r\n{\"nats\":\"disconnected\"}");
        let e = healthcheck("x.listen", &unready.to_string(), "/readyz").unwrap_err().to_string();
        assert!(e.contains("503") && e.contains("disconnected"), "{e}");
        let garbage = answering("SSH-2.0-OpenSSH\r\n");
        assert!(healthcheck("x.listen", &garbage.to_string(), "/").unwrap_err().to_string().contains("not HTTP"));
    }

    #[test]
    fn unspecified_addresses_are_probed_on_loopback() {
        let ok = answering("HTTP/1.0 200 OK\r\n\r\n");
        assert!(healthcheck("x.listen", &format!("0.0.0.0:{}", ok.port()), "/healthz").is_ok());
    }

    #[test]
    fn nothing_listening_or_nothing_configured_is_unhealthy() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = healthcheck("x.listen", &format!("127.0.0.1:{port}"), "/healthz").unwrap_err().to_string();
        assert!(e.contains("cannot connect"), "{e}");
        let e = healthcheck("runner.health_listen", "", "/readyz").unwrap_err().to_string();
        assert!(e.contains("runner.health_listen is empty"), "{e}");
        assert!(matches!(healthcheck("x", "not an address", "/"), Err(HealthError::BadAddress { .. })));
    }
}
