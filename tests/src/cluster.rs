//! Several Docker engines on this host, each in a container of its own (docker-in-docker, image
//! `darkroom-test-node:1` from `tests/cluster/node-image.sh`), on a bridge network of their
//! own, optionally joined into a Swarm; plus a registry they pull from.
//!
//! The nodes see this machine's temporary folder at the same path (as a shared filesystem
//! would give real nodes), so a stack's datasets and run folders mount on any node. The
//! registry listens on the bridge's gateway address, the one address both the nodes and the
//! runner (on the host) reach; the nodes trust it without TLS. Everything is removed on drop.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListNodesOptions, ListServicesOptions, ListTasksOptions};

pub const NODE_IMAGE: &str = "darkroom-test-node:1";

/// One engine of the cluster.
pub struct Node {
    /// The node's container on the host engine.
    pub container: String,
    pub hostname: String,
    /// Its engine's API as the host reaches it: `tcp://127.0.0.1:PORT`.
    pub host: String,
    /// Its address on the cluster's network.
    pub ip: String,
}

pub struct Cluster {
    pub network: String,
    pub nodes: Vec<Node>,
    /// On the network's gateway: the registry every node pulls from, and the runner pushes to.
    pub registry: crate::registry::Ephemeral,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?} cannot start: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn docker(args: &[&str]) -> String {
    run(Command::new("docker").args(args))
}

impl Node {
    /// The docker CLI against this node's engine.
    pub fn docker(&self, args: &[&str]) -> String {
        run(Command::new("docker").arg("-H").arg(&self.host).args(args))
    }

    pub fn client(&self) -> Docker {
        Docker::connect_with_host(&self.host).expect("a client for the node's engine")
    }

    /// How many containers the node's engine has, running or not.
    pub fn containers(&self) -> usize {
        self.docker(&["ps", "-aq"]).lines().count()
    }

    /// Records the name of every container this node's engine starts, until dropped.
    pub fn watch_starts(&self) -> Starts {
        let client = self.client();
        let names = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = names.clone();
        let task = tokio::spawn(async move {
            let filters: HashMap<&str, Vec<&str>> =
                HashMap::from([("type", vec!["container"]), ("event", vec!["start"])]);
            let options = bollard::query_parameters::EventsOptionsBuilder::default().filters(&filters).build();
            let mut events = client.events(Some(options));
            while let Some(Ok(event)) = futures::StreamExt::next(&mut events).await {
                if let Some(name) = event.actor.and_then(|a| a.attributes).and_then(|a| a.get("name").cloned()) {
                    record.lock().unwrap().push(name);
                }
            }
        });
        Starts { names, task }
    }

    /// Kills the node's engine and everything it runs at once, as a power cut would.
    pub fn kill(&self) {
        docker(&["kill", &self.container]);
    }
}

impl Cluster {
    /// Starts `n` engines (not yet in a Swarm) and the registry they pull from.
    pub async fn start(n: usize) -> Self {
        let image = Command::new("docker").args(["image", "inspect", NODE_IMAGE]).output().expect("docker runs");
        assert!(image.status.success(), "no {NODE_IMAGE} image: build it with scripts/build-images.sh");
        let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let network = format!("darkroom-cluster-{id}");
        docker(&["network", "create", "--label", "darkroom.test=cluster", &network]);
        let gateway = docker(&["network", "inspect", &network, "--format", "{{(index .IPAM.Config 0).Gateway}}"]);
        let registry = crate::registry::Ephemeral::start(&gateway);
        let shared = std::env::temp_dir().canonicalize().unwrap().display().to_string();
        // Built before the nodes start, so a failure part-way still removes what was started.
        let mut cluster = Cluster { network, nodes: Vec::new(), registry };
        let (network, registry) = (cluster.network.clone(), cluster.registry.addr.clone());
        for i in 1..=n {
            let container = format!("darkroom-node{i}-{id}");
            let hostname = format!("node{i}");
            let mount = format!("{shared}:{shared}");
            docker(&[
                "run",
                "-d",
                "--name",
                &container,
                "--hostname",
                &hostname,
                "--network",
                &network,
                "--label",
                "darkroom.test=cluster",
                // --privileged asks for capabilities this machine's bounding set lacks.
                "--cap-add",
                "ALL",
                "--cap-drop",
                "SYS_RESOURCE",
                "--security-opt",
                "seccomp=unconfined",
                "--security-opt",
                "apparmor=unconfined",
                "--security-opt",
                "systempaths=unconfined",
                "--tmpfs",
                "/run:exec",
                "--tmpfs",
                "/var/lib/docker:exec,size=2g",
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup",
                "-v",
                &mount,
                "-p",
                "127.0.0.1::2375",
                NODE_IMAGE,
                "dockerd",
                "--storage-driver=vfs",
                "--iptables=false",
                "--insecure-registry",
                &registry,
                "-H",
                "unix:///run/docker.sock",
                "-H",
                "tcp://0.0.0.0:2375",
                "--tls=false",
            ]);
            cluster.nodes.push(Node { container: container.clone(), hostname, host: String::new(), ip: String::new() });
            let port = docker(&["port", &container, "2375"]);
            let port = port.lines().next().expect("a published port").to_owned();
            let ip = docker(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &container]);
            let node = cluster.nodes.last_mut().expect("just pushed");
            (node.host, node.ip) = (format!("tcp://{port}"), ip);
        }
        for node in &cluster.nodes {
            let client = node.client();
            let mut tries = 0;
            while client.ping().await.is_err() {
                tries += 1;
                assert!(tries < 150, "the engine of {} never answered", node.hostname);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        cluster
    }

    /// Makes the first node the Swarm's manager and the others its workers (nodes lost within
    /// about two seconds: a one-second heartbeat), labelling node `i` `darkroom.node=labels[i]`.
    pub fn swarm(&self, labels: &[&str]) {
        let manager = &self.nodes[0];
        manager.docker(&["swarm", "init", "--advertise-addr", &manager.ip, "--dispatcher-heartbeat", "1s"]);
        let token = manager.docker(&["swarm", "join-token", "-q", "worker"]);
        for node in &self.nodes[1..] {
            node.docker(&[
                "swarm",
                "join",
                "--advertise-addr",
                &node.ip,
                "--token",
                &token,
                &format!("{}:2377", manager.ip),
            ]);
        }
        for (node, label) in self.nodes.iter().zip(labels) {
            manager.docker(&["node", "update", "--label-add", &format!("darkroom.node={label}"), &node.hostname]);
        }
    }

    pub fn manager(&self) -> &Node {
        &self.nodes[0]
    }

    pub fn node(&self, hostname: &str) -> &Node {
        self.nodes.iter().find(|n| n.hostname == hostname).unwrap_or_else(|| panic!("no node {hostname}"))
    }

    /// Records, from the manager, the node every task of every service ran on, until dropped.
    pub fn watch_placements(&self) -> Placements {
        let client = self.manager().client();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, Vec<String>>::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let nodes = client.list_nodes(None::<ListNodesOptions>).await.unwrap_or_default();
                let names: HashMap<String, String> =
                    nodes.into_iter().filter_map(|n| Some((n.id?, n.description?.hostname?))).collect();
                let services = client.list_services(None::<ListServicesOptions>).await.unwrap_or_default();
                let submissions: HashMap<String, String> = services
                    .into_iter()
                    .filter_map(|s| Some((s.id?, s.spec?.labels?.get("darkroom.submission")?.clone())))
                    .collect();
                for t in client.list_tasks(None::<ListTasksOptions>).await.unwrap_or_default() {
                    let submission = t.service_id.as_ref().and_then(|s| submissions.get(s).cloned());
                    let (Some(submission), Some(task_id), Some(node)) =
                        (submission, t.id, t.node_id.and_then(|n| names.get(&n).cloned()))
                    else {
                        continue;
                    };
                    let mut seen = record.lock().unwrap();
                    let entry = seen.entry(submission).or_default();
                    let key = format!("{task_id} {node}");
                    if !entry.contains(&key) {
                        entry.push(key);
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Placements { seen, task }
    }
}

/// Which nodes each submission's tasks were placed on, in order.
pub struct Placements {
    seen: std::sync::Arc<std::sync::Mutex<HashMap<String, Vec<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Placements {
    /// The nodes the submission's tasks ran on so far, one per task, in the order seen.
    pub fn of(&self, submission: &str) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.get(submission)
            .map(|tasks| tasks.iter().map(|t| t.split_once(' ').unwrap().1.to_owned()).collect())
            .unwrap_or_default()
    }

    /// Waits up to `secs` for the submission's `n`th task to be placed; returns its node.
    pub async fn wait_for(&self, submission: &str, n: usize, secs: u64) -> String {
        for _ in 0..secs * 10 {
            if let Some(node) = self.of(submission).get(n - 1) {
                return node.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("task {n} of {submission} was never placed: {:?}", self.of(submission));
    }
}

/// The containers a node's engine started, in order.
pub struct Starts {
    names: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Starts {
    /// How many started containers' names contain `part` (a submission id).
    pub fn count(&self, part: &str) -> usize {
        self.names.lock().unwrap().iter().filter(|n| n.contains(part)).count()
    }
}

impl Drop for Starts {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Drop for Placements {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            let _ = Command::new("docker").args(["rm", "-f", "-v", &node.container]).output();
        }
        let _ = Command::new("docker").args(["network", "rm", &self.network]).output();
    }
}
