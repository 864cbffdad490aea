//! A one-node Docker Swarm for the Swarm backend's tests.

use std::process::Command;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Makes this engine a swarm manager (if it is not one) and labels its node
/// `darkroom.node=<label>`.
pub fn ensure_single_node_swarm(label: &str) {
    if docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]) != "active" {
        let out = Command::new("docker")
            .args(["swarm", "init", "--advertise-addr", "127.0.0.1"])
            .output()
            .expect("docker swarm init");
        assert!(out.status.success(), "docker swarm init failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let node = docker(&["info", "--format", "{{.Swarm.NodeID}}"]);
    // Tests running at once label the node at once, and Swarm refuses an update made against
    // a version another just replaced ("update out of sequence"): read again and retry.
    for attempt in 1.. {
        let out = Command::new("docker")
            .args(["node", "update", "--label-add", &format!("darkroom.node={label}"), &node])
            .output()
            .expect("docker node update");
        if out.status.success() {
            break;
        }
        assert!(attempt < 10, "labelling the node failed: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(std::time::Duration::from_millis(100 * attempt));
    }
}
