//! The Compose `monitoring` profile (compose/monitoring/): Compose accepts it, it adds exactly
//! Prometheus and Grafana, Prometheus scrapes every Darkroom service where that service serves
//! `/metrics` on a network both share, and the dashboard charts every metric Darkroom records
//! and nothing it does not. (The images are not pulled here: no public registry is reachable;
//! the stack test scrapes the runner and the evaluator over the profile's network.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn compose_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("compose")
}

/// `docker-compose config` of compose.yml, as YAML parsed to JSON, with `profile` if given.
fn resolved(profile: Option<&str>) -> Value {
    let env = tempfile::NamedTempFile::new().unwrap();
    let example = std::fs::read_to_string(compose_dir().join("example.env")).unwrap();
    // The passwords setup.sh would fill in.
    let filled: String =
        example
            .lines()
            .map(|l| {
                if l.starts_with("DARKROOM_") && l.ends_with("_PASSWORD=") {
                    format!("{l}x\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
    std::fs::write(env.path(), filled).unwrap();
    let mut cmd = Command::new("docker-compose");
    cmd.current_dir(compose_dir()).arg("--env-file").arg(env.path()).args(["-f", "compose.yml"]);
    if let Some(p) = profile {
        cmd.args(["--profile", p]);
    }
    let out = cmd.arg("config").output().expect("docker-compose runs (scripts/setup.sh installs it)");
    assert!(out.status.success(), "docker-compose config: {}", String::from_utf8_lossy(&out.stderr));
    serde_norway::from_slice(&out.stdout).expect("Compose prints YAML")
}

fn services(config: &Value) -> BTreeSet<String> {
    config["services"].as_object().unwrap().keys().cloned().collect()
}

fn networks(config: &Value, service: &str) -> BTreeSet<String> {
    match &config["services"][service]["networks"] {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
        other => panic!("{service}'s networks: {other}"),
    }
}

fn env(config: &Value, service: &str, key: &str) -> String {
    config["services"][service]["environment"][key]
        .as_str()
        .unwrap_or_else(|| panic!("{service} has no {key}"))
        .to_owned()
}

#[test]
fn the_profile_adds_prometheus_and_grafana_and_nothing_else() {
    // Compose 1.29's `config` prints every service, each with the profiles it belongs to; a
    // service with none starts on a plain `up`.
    let config = resolved(Some("monitoring"));
    let in_profile: BTreeSet<String> = services(&config)
        .into_iter()
        .filter(|s| match &config["services"][s.as_str()]["profiles"] {
            Value::Null => false,
            Value::Array(p) => {
                assert_eq!(p, &vec![Value::from("monitoring")], "{s}'s profiles");
                true
            }
            other => panic!("{s}'s profiles: {other}"),
        })
        .collect();
    assert_eq!(in_profile, ["grafana", "prometheus"].map(String::from).into());
    assert_eq!(services(&resolved(None)).len(), 9, "the seven services of the stack and the two of the profile");
}

#[test]
fn prometheus_scrapes_every_service_where_it_serves_metrics() {
    let config = resolved(Some("monitoring"));
    let scrape: Value =
        serde_norway::from_str(&std::fs::read_to_string(compose_dir().join("monitoring/prometheus.yml")).unwrap())
            .unwrap();
    let targets: BTreeSet<String> = scrape["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|job| job["static_configs"].as_array().unwrap().iter())
        .flat_map(|c| c["targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()))
        .collect();
    // Where each Darkroom service serves /metrics, read from its own configuration.
    let port = |listen: String| listen.rsplit_once(':').unwrap().1.to_owned();
    let expected: BTreeSet<String> = [
        ("submissions", port(env(&config, "submissions", "DARKROOM_SUBMISSIONS__LISTEN"))),
        ("frontend", port(env(&config, "frontend", "DARKROOM_FRONTEND__LISTEN"))),
        ("swarm-runner", port(env(&config, "swarm-runner", "DARKROOM_RUNNER__HEALTH_LISTEN"))),
        ("evaluator", port(env(&config, "evaluator", "DARKROOM_EVALUATOR__HEALTH_LISTEN"))),
    ]
    .into_iter()
    .map(|(s, p)| format!("{s}:{p}"))
    .collect();
    assert_eq!(targets, expected);
    // A health listener on loopback would be out of Prometheus's reach.
    for (service, key) in
        [("swarm-runner", "DARKROOM_RUNNER__HEALTH_LISTEN"), ("evaluator", "DARKROOM_EVALUATOR__HEALTH_LISTEN")]
    {
        assert!(env(&config, service, key).starts_with("0.0.0.0:"), "{service} listens only on loopback");
    }
    let prometheus = networks(&config, "prometheus");
    for target in &targets {
        let service = target.split(':').next().unwrap();
        assert!(!networks(&config, service).is_disjoint(&prometheus), "Prometheus shares no network with {service}");
    }
    // Grafana reads Prometheus, and nothing but the profile joins `monitoring` besides the two
    // services whose health listeners it exposes.
    assert!(!networks(&config, "grafana").is_disjoint(&prometheus));
    let on_monitoring: BTreeSet<String> =
        services(&config).into_iter().filter(|s| networks(&config, s).contains("monitoring")).collect();
    assert_eq!(on_monitoring, ["evaluator", "grafana", "prometheus", "swarm-runner"].map(String::from).into());
}

#[test]
fn the_dashboard_charts_every_metric_darkroom_records() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(compose_dir().join("monitoring/grafana/dashboards/darkroom.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let datasource: Value = serde_norway::from_str(
        &std::fs::read_to_string(compose_dir().join("monitoring/grafana/provisioning/datasources/prometheus.yml"))
            .unwrap(),
    )
    .unwrap();
    let uid = datasource["datasources"][0]["uid"].as_str().unwrap();
    let mut charted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap();
        assert_eq!(panel["datasource"]["uid"], uid, "{title} reads another data source");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr} reads no Darkroom metric");
            charted.extend(names);
        }
    }
    let recorded: BTreeSet<String> = darkroom_core::metrics::NAMES.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(charted, recorded, "the dashboard and services/core/src/metrics.rs disagree");
}

/// The metric families an expression reads: `darkroom_…` names, a histogram's `_bucket`
/// series counted as the histogram.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("darkroom_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let name = &tail[..end];
        names.insert(name.strip_suffix("_bucket").unwrap_or(name).to_owned());
        rest = &tail[end..];
    }
    names
}
