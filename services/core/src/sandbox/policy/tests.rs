//! The policy's renderings compared field by field, and what each refuses.

use std::time::Duration;

use serde_json::Value;

use darkroom_api::SubmissionId;

use super::*;
use crate::sandbox::Limits;

fn spec(gpus: u32) -> RunSpec {
    RunSpec {
        name: "n".into(),
        image: "i".into(),
        labels: HashMap::from([("darkroom.owner".to_owned(), "t".to_owned())]),
        inputs: vec![("/srv/data".into(), "/data".into())],
        output: "/srv/out".into(),
        limits: Limits {
            cpus: 1.5,
            memory_mb: 512,
            pids: 64,
            gpus,
            tmp_size_mb: 32,
            output_max_mb: 8,
            wall_clock: Duration::from_secs(5),
        },
        seed: 7,
    }
}

fn image(user: Option<&str>, volumes: &[&str]) -> ImageInfo {
    ImageInfo {
        id: "sha256:x".into(),
        user: user.map(str::to_owned),
        has_entrypoint: true,
        volumes: volumes.iter().map(|v| (*v).to_owned()).collect(),
    }
}

#[test]
fn thread_pools_are_sized_to_the_cpu_limit_rounded_up() {
    let env = thread_env(1.5);
    assert!(env.contains(&"DARKROOM_CPUS=1.5".to_owned()));
    assert!(env.contains(&"RAYON_NUM_THREADS=2".to_owned()));
    assert!(env.contains(&"OMP_NUM_THREADS=2".to_owned()));
    assert!(thread_env(0.25).contains(&"RAYON_NUM_THREADS=1".to_owned()));
}

#[test]
fn gpus_become_an_nvidia_device_request() {
    let r = gpu_device_requests(2).unwrap();
    assert_eq!(r[0].driver.as_deref(), Some("nvidia"));
    assert_eq!(r[0].count, Some(2));
    assert_eq!(r[0].capabilities, Some(vec![vec!["gpu".to_owned()]]));
    assert!(gpu_device_requests(0).is_none());
    assert!(gpu_generic_resources(0).is_none());
}

#[test]
fn root_or_unknown_users_become_nobody_unless_the_challenge_allows_root() {
    for user in [None, Some(""), Some("root"), Some("0"), Some("0:0"), Some("root:wheel"), Some("00"), Some("app")] {
        assert_eq!(resolve_user(user, false), DEFAULT_USER, "{user:?}");
    }
    assert_eq!(resolve_user(Some("1000:1000"), false), "1000:1000");
    assert_eq!(resolve_user(Some("1000"), false), "1000:65534", "no gid would mean gid 0");
    assert_eq!(resolve_user(Some("1000:0"), false), "1000:65534");
    assert_eq!(resolve_user(Some("1000:root"), false), "1000:65534");
    assert_eq!(resolve_user(None, true), "0:0");
    assert_eq!(resolve_user(Some("root"), true), "root");
}

#[test]
fn engine_rendering_is_hardened() {
    let h = Hardening::new(&spec(0), &image(Some("root"), &["/scratch/", "/tmp", "/output"]), false).unwrap();
    let body = h.to_container_body();
    assert_eq!(body.user.as_deref(), Some(DEFAULT_USER));
    assert_eq!(body.network_disabled, Some(true));
    let hc = body.host_config.unwrap();
    assert_eq!(hc.network_mode.as_deref(), Some("none"));
    assert_eq!(hc.readonly_rootfs, Some(true));
    assert_eq!(hc.cap_drop, Some(vec!["ALL".to_owned()]));
    assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_owned()]));
    assert_eq!(hc.memory, Some(512 << 20));
    assert_eq!(hc.memory_swap, hc.memory, "no swap beyond the memory limit");
    assert_eq!(hc.nano_cpus, Some(1_500_000_000));
    assert_eq!(hc.pids_limit, Some(64));
    assert!(hc.device_requests.is_none());
    let ulimits: Vec<_> = hc.ulimits.unwrap().into_iter().map(|u| (u.name.unwrap(), u.soft, u.hard)).collect();
    assert_eq!(ulimits, [("core".into(), Some(0), Some(0)), ("nofile".into(), Some(1024), Some(1024))]);
    let log = hc.log_config.unwrap();
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    assert_eq!(log.config.unwrap().get("max-size").map(String::as_str), Some(LOG_MAX_SIZE));
    let mounts = hc.mounts.unwrap();
    let find = |t: &str| mounts.iter().find(|m| m.target.as_deref() == Some(t)).cloned();
    assert_eq!(find("/data").unwrap().read_only, Some(true));
    assert_eq!(find("/output").unwrap().read_only, Some(false));
    assert_eq!(find("/output").unwrap().typ, Some(MountType::BIND), "a volume never hides /output");
    let scratch = find("/scratch").expect("a tmpfs over the declared volume");
    assert_eq!(scratch.tmpfs_options.unwrap().size_bytes, Some(32 << 20));
    assert_eq!(mounts.iter().filter(|m| m.target.as_deref() == Some("/tmp")).count(), 1);
}

#[test]
fn declared_volumes_are_cleaned_like_the_engine_does() {
    let h = Hardening::new(&spec(0), &image(None, &["/output/.", "//data", "/x/../output", "/scratch/", "rel"]), false)
        .unwrap();
    let body = serde_json::to_value(h.to_container_body()).unwrap();
    let targets: Vec<&str> =
        body["HostConfig"]["Mounts"].as_array().unwrap().iter().filter_map(|m| m["Target"].as_str()).collect();
    assert_eq!(targets.iter().filter(|t| **t == "/output").count(), 1, "{targets:?}");
    assert_eq!(targets.iter().filter(|t| **t == "/data").count(), 1, "{targets:?}");
    assert!(targets.contains(&"/scratch") && !targets.iter().any(|t| t.contains("rel")), "{targets:?}");
}

#[test]
fn too_many_volumes_are_refused() {
    let many: Vec<String> = (0..=MAX_VOLUMES).map(|i| format!("/v{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(Hardening::new(&spec(0), &image(None, &refs), false), Err(SandboxError::ImageRefused(_))));
}

/// Each hardening field, as the Engine renders it and as Swarm does. A field missing from
/// this table or differing between the two fails, unless it is a documented gap.
#[test]
fn engine_and_swarm_renderings_agree_field_by_field() {
    for gpus in [0, 2] {
        let h = Hardening::new(&spec(gpus), &image(Some("1000"), &["/scratch"]), false).unwrap();
        let engine = serde_json::to_value(h.to_container_body()).unwrap();
        let swarm = serde_json::to_value(h.to_task_spec()).unwrap();
        let same: &[(&str, &str, &str)] = &[
            ("image", "/Image", "/ContainerSpec/Image"),
            ("labels", "/Labels", "/ContainerSpec/Labels"),
            ("env", "/Env", "/ContainerSpec/Env"),
            ("user", "/User", "/ContainerSpec/User"),
            ("read_only_rootfs", "/HostConfig/ReadonlyRootfs", "/ContainerSpec/ReadOnly"),
            ("cap_drop", "/HostConfig/CapDrop", "/ContainerSpec/CapabilityDrop"),
            ("mounts (binds and tmpfs with sizes)", "/HostConfig/Mounts", "/ContainerSpec/Mounts"),
            ("ulimits", "/HostConfig/Ulimits", "/ContainerSpec/Ulimits"),
            ("memory", "/HostConfig/Memory", "/Resources/Limits/MemoryBytes"),
            ("cpus", "/HostConfig/NanoCpus", "/Resources/Limits/NanoCPUs"),
            ("pids", "/HostConfig/PidsLimit", "/Resources/Limits/Pids"),
            ("log driver", "/HostConfig/LogConfig/Type", "/LogDriver/Name"),
            ("log options", "/HostConfig/LogConfig/Config", "/LogDriver/Options"),
        ];
        for (field, e, s) in same {
            let (ev, sv) = (engine.pointer(e), swarm.pointer(s));
            assert!(ev.is_some_and(|v| !v.is_null()), "{field}: missing from the Engine rendering ({e})");
            assert_eq!(ev, sv, "{field}: Engine {e} and Swarm {s} differ");
        }
        // The documented gaps: rendered on both sides where the API has a field at all.
        let gaps: Vec<&str> = SWARM_GAPS.iter().map(|(f, _)| *f).collect();
        assert_eq!(gaps, ["network", "no_new_privileges", "swap", "gpus"]);
        assert_eq!(engine.pointer("/HostConfig/NetworkMode"), Some(&Value::from("none")));
        assert_eq!(engine.pointer("/HostConfig/SecurityOpt/0"), Some(&Value::from("no-new-privileges")));
        assert_eq!(swarm.pointer("/ContainerSpec/Privileges/NoNewPrivileges"), Some(&Value::from(true)));
        let memory = engine.pointer("/HostConfig/Memory").and_then(Value::as_i64).unwrap();
        assert_eq!(engine.pointer("/HostConfig/MemorySwap").and_then(Value::as_i64), Some(memory));
        assert_eq!(swarm.pointer("/Resources/SwapBytes"), Some(&Value::from(0)));
        let engine_gpus = engine.pointer("/HostConfig/DeviceRequests/0/Count").and_then(Value::as_i64);
        let swarm_gpus = swarm
            .pointer("/Resources/Reservations/GenericResources/0/DiscreteResourceSpec/Value")
            .and_then(Value::as_i64);
        assert_eq!(engine_gpus, swarm_gpus, "gpus");
        assert_eq!(engine_gpus.unwrap_or(0), i64::from(gpus));
        // Every field of the description is compared above: a new field stops this compiling
        // until it is added to the table or to the gaps.
        let Hardening {
            image: _,
            labels: _,
            env: _,
            user: _,
            read_only_rootfs: _,
            cap_drop: _,
            no_new_privileges: _,
            network_none: _,
            memory_bytes: _,
            swap_bytes: _,
            nano_cpus: _,
            pids: _,
            gpus: _,
            binds: _,
            tmpfs: _,
            ulimits: _,
            log_driver: _,
            log_options: _,
        } = &h;
    }
}

#[test]
fn every_run_gets_its_submissions_seed() {
    let hardening = Hardening::new(&spec(0), &image(None, &[]), false).unwrap();
    assert!(hardening.env.contains(&"DARKROOM_SEED=7".to_owned()), "{:?}", hardening.env);
    // Derived from the submission: the same for every attempt, apart for another submission.
    let (a, b) = (SubmissionId::from(uuid::Uuid::new_v4()), SubmissionId::from(uuid::Uuid::new_v4()));
    assert_eq!(crate::sandbox::run_seed(a), crate::sandbox::run_seed(a));
    assert_ne!(crate::sandbox::run_seed(a), crate::sandbox::run_seed(b));
    // The documented derivation, pinned (computed independently: the first 8 bytes of
    // sha256("darkroom-seed:00000000-0000-0000-0000-000000000001") with Python's hashlib).
    let fixed: SubmissionId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
    assert_eq!(crate::sandbox::run_seed(fixed), 0x6347_76d9_0f1c_63fa);
}
