//! Darkroom on more than one machine: Docker engines in containers on this host
//! ([`darkroom_tests::cluster`]), as a three-node Swarm and as two engines with a runner each.
//!
//! The submissions service, the evaluator and the runners run on the host, as in the other
//! stack tests; the runner drives the Swarm manager (or its node's engine) through
//! `runner.docker_host`, and images reach the nodes through the cluster's registry. The runs'
//! folders are shared with the nodes as a shared filesystem would (`runner.output_tmpfs`
//! off: a tmpfs mounted on the runner's host is not seen on a node).

use std::time::Duration;

use darkroom_core::config::RunnerBackend;
use darkroom_core::domain::NodeType;
use darkroom_tests::Stack;
use darkroom_tests::cluster::Cluster;
use darkroom_tests::registry::pushed;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn submit(stack: &Stack, slug: &str, participant: &str, image: &str) -> (String, String) {
    let token = stack.app.register(participant).await;
    let (status, sub) = stack.app.submit(slug, &token, &pushed(image)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
    (sub["id"].as_str().unwrap().to_owned(), token)
}

fn assert_complete(sub: &Value) {
    assert_eq!(sub["state"], "COMPLETE", "{sub}");
}

/// Waits up to 20 s for no container on any live node and no service on the manager.
async fn assert_nothing_left(cluster: &Cluster, live: &[&str]) {
    for _ in 0..100 {
        let containers: usize = live.iter().map(|n| cluster.node(n).containers()).sum();
        let services = cluster.manager().docker(&["service", "ls", "-q"]);
        if containers == 0 && services.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in live {
        eprintln!("{n}: {}", cluster.node(n).docker(&["ps", "-a"]));
    }
    panic!("containers or services are left on the cluster");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_node_swarm_places_runs_by_node_type_and_retries_a_lost_node() {
    let cluster = Cluster::start(3).await;
    // The manager is the high-memory node; both workers are CPU nodes, so losing one leaves
    // one of its type.
    cluster.swarm(&["highmem", "highcpu", "highcpu"]);
    let placements = cluster.watch_placements();
    let (manager, registry) = (cluster.manager().host.clone(), cluster.registry.addr.clone());
    let stack = Stack::spawn_configured(RunnerBackend::Swarm, |c| {
        c.runner.docker_host = manager.clone();
        c.runner.output_tmpfs = false;
        // Plain HTTP off loopback, as a registry on a private network may be.
        c.runner.image_registry = format!("http://{registry}");
        c.runner.placement_timeout_seconds = 15;
        c.runner.concurrency = 3;
    })
    .await;

    // The demo challenge on the CPU nodes, a high-memory challenge on the manager.
    let demo = stack.challenge("cluster-demo", |s| s["node_type"] = json!("highcpu")).await;
    let highmem = stack.challenge("cluster-highmem", |s| s["node_type"] = json!("highmem")).await;
    let runs = [
        (submit(&stack, &demo, "Baseline Lab", "darkroom-demo-baseline:1").await, "highcpu"),
        (submit(&stack, &demo, "Quick Guess", "darkroom-demo-weak:1").await, "highcpu"),
        (submit(&stack, &highmem, "Memory Lab", "darkroom-demo-weak:1").await, "highmem"),
    ];
    let mut table = Vec::new();
    for ((id, token), node_type) in &runs {
        let sub = stack.finished(id, token, 240).await;
        assert_complete(&sub);
        assert_eq!(sub["attempt"], 1, "{sub}");
        let nodes = placements.of(id);
        assert_eq!(nodes.len(), 1, "one task for {id}: {nodes:?}");
        let wanted: &[&str] = if *node_type == "highcpu" { &["node2", "node3"] } else { &["node1"] };
        assert!(wanted.contains(&nodes[0].as_str()), "{node_type} run {id} placed on {}", nodes[0]);
        table.push(format!("{node_type} → {}", nodes[0]));
    }
    eprintln!("placements: {table:?}");
    for (slug, n) in [(&demo, 2), (&highmem, 1)] {
        let (s, board) =
            stack.app.call(reqwest::Method::GET, &format!("/api/v1/challenges/{slug}/leaderboard"), None, None).await;
        assert_eq!(s, StatusCode::OK, "{board}");
        assert_eq!(board["entries"].as_array().unwrap().len(), n, "{board}");
    }
    assert_nothing_left(&cluster, &["node1", "node2", "node3"]).await;
    // Each attempt's image went from the platform's registry when the attempt ended.
    let http = darkroom_tests::http_client().build().unwrap();
    for ((id, _), _) in &runs {
        let tags = format!("http://{}/v2/darkroom-submission/{id}/tags/list", cluster.registry.addr);
        let listed: Value = http.get(&tags).send().await.unwrap().json().await.unwrap();
        assert!(listed["tags"].as_array().is_none_or(Vec::is_empty), "{id} is still in the registry: {listed}");
    }

    // A worker lost mid-run: the run is retried on the other CPU node and not charged. The
    // evaluation image scores anything 0.5, so the slow participant completes.
    let loss = stack
        .challenge("cluster-loss", |s| {
            s["node_type"] = json!("highcpu");
            s["evaluation"]["image"] = json!("darkroom-test-eval:slow");
        })
        .await;
    let (id, token) = submit(&stack, &loss, "Slow Thinker", "darkroom-test-hostile:slow").await;
    let first = placements.wait_for(&id, 1, 60).await;
    assert!(first == "node2" || first == "node3", "placed on {first}");
    // Well into its 8 s of thinking.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lost_at = std::time::Instant::now();
    cluster.node(&first).kill();
    let sub = stack.finished(&id, &token, 180).await;
    let recovered_in = lost_at.elapsed();
    assert_complete(&sub);
    assert_eq!(sub["attempt"], 2, "one retry after the loss: {sub}");
    assert_eq!(sub["counts_against_quota"], false, "a run the platform lost is never charged: {sub}");
    let second = placements.wait_for(&id, 2, 5).await;
    let other = if first == "node2" { "node3" } else { "node2" };
    assert_eq!(second, other, "the retry runs on the healthy CPU node");
    eprintln!("lost {first} mid-run; retried on {second}; COMPLETE {:.1} s after the loss", recovered_in.as_secs_f64());

    // No CPU node left: the run fails after the placement timeout, not charged.
    cluster.node(other).kill();
    let (id, token) = submit(&stack, &loss, "Late Thinker", "darkroom-test-hostile:slow").await;
    let sub = stack.finished(&id, &token, 120).await;
    assert_eq!(sub["state"], "FAILED", "{sub}");
    let reason = sub["failure_reason"].as_str().unwrap();
    assert!(reason.contains("no node of type 'highcpu'"), "{reason}");
    assert_eq!(sub["counts_against_quota"], false, "{sub}");
    assert_nothing_left(&cluster, &["node1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_runner_per_node_takes_its_own_type_and_passes_the_others_on() {
    let cluster = Cluster::start(2).await;
    let (cpu_node, mem_node) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (cpu_starts, mem_starts) = (cpu_node.watch_starts(), mem_node.watch_starts());
    let cpu_host = cpu_node.host.clone();
    let mut stack = Stack::spawn_configured(RunnerBackend::Engine, |c| {
        c.runner.docker_host = cpu_host.clone();
        c.runner.output_tmpfs = false;
        c.runner.node_types = vec![NodeType::Highcpu];
    })
    .await;
    let mem_host = mem_node.host.clone();
    stack
        .add_runner(|c| {
            c.runner.docker_host = mem_host;
            c.runner.node_types = vec![NodeType::Highmem];
            c.runner.runner_id = format!("{}-highmem", c.runner.runner_id);
        })
        .await;
    let cpu = stack.challenge("per-node-cpu", |s| s["node_type"] = json!("highcpu")).await;
    let mem = stack.challenge("per-node-mem", |s| s["node_type"] = json!("highmem")).await;
    let mut runs = Vec::new();
    for (i, slug) in [&cpu, &mem, &cpu, &mem].into_iter().enumerate() {
        runs.push((submit(&stack, slug, &format!("Participant {i}"), "darkroom-demo-weak:1").await, *slug == cpu));
    }
    for ((id, token), on_cpu) in &runs {
        let sub = stack.finished(id, token, 180).await;
        assert_complete(&sub);
        assert_eq!(sub["attempt"], 1, "{sub}");
        let (mine, other) = if *on_cpu { (&cpu_starts, &mem_starts) } else { (&mem_starts, &cpu_starts) };
        assert_eq!(mine.count(id), 1, "{id} ran exactly once on its node");
        assert_eq!(other.count(id), 0, "{id} never ran on the other node");
    }
    for node in &cluster.nodes {
        assert_eq!(node.containers(), 0, "no container left on {}", node.hostname);
    }
}
