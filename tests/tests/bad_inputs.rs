//! Bad input of every kind gets a clear 4xx JSON error — never a panic, never a 5xx — on both
//! database backends. Each case names what it sends and the status it expects.

use darkroom_tests::fixtures;
use darkroom_tests::registry::{publish, pushed, registry};
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(every_bad_input_gets_a_clear_error);

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    body: Body,
    status: StatusCode,
    /// A fragment the error message must contain, so the message says what is wrong.
    says: &'static str,
}

fn spec_with(app: &TestApp, slug: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut s = fixtures::spec(&app.data_dir(), slug);
    change(&mut s);
    s
}

async fn every_bad_input_gets_a_clear_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |s| s["quotas"] = json!({ "per_day": 1 })).await;
    let closed = app
        .create_challenge("closed", |s| {
            s["phases"] =
                json!([{ "name": "old", "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z" }])
        })
        .await;
    let upcoming = app
        .create_challenge("upcoming", |s| {
            s["phases"] =
                json!([{ "name": "later", "starts_at": "2099-01-01T00:00:00Z", "ends_at": "2099-02-01T00:00:00Z" }])
        })
        .await;
    let alice = app.register("Alice").await;
    let bob = app.register("Bob").await;
    let quota_user = app.register("Quota").await;
    let (s, b) = app.submit(&slug, &quota_user, &publish("m:1").await).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let queued_sub = b["id"].as_str().unwrap().to_owned();
    let quiet = app.create_challenge("quiet", |s| s["logs_visible"] = json!(false)).await;
    let (_, b) = app.submit(&quiet, &bob, &publish("m:1").await).await;
    let bobs_quiet_sub = b["id"].as_str().unwrap().to_owned();
    let (_, alices) = app.submit(&slug, &alice, &publish("m:1").await).await;
    app.join(&slug, &bob).await;
    let alice_sub = alices["id"].as_str().unwrap().to_owned();

    let admin = || Some(ADMIN_TOKEN.to_owned());
    let create = |v: Value| Body::Json(v);
    let spec_case = |name, field_change: Box<dyn FnOnce(&mut Value)>, says| Case {
        name,
        method: Method::POST,
        path: "/api/v1/challenges".into(),
        token: admin(),
        body: create(spec_with(&app, "fresh", field_change)),
        status: StatusCode::UNPROCESSABLE_ENTITY,
        says,
    };
    let submit_path = format!("/api/v1/challenges/{slug}/submissions");
    let reg = registry();
    let pinned_m1 = pushed("m");
    let submit_name = |name: &'static str, image: String, says: &'static str| Case {
        name,
        method: Method::POST,
        path: submit_path.clone(),
        token: Some(bob.clone()),
        body: Body::Json(json!({ "image": image })),
        status: StatusCode::UNPROCESSABLE_ENTITY,
        says,
    };
    let tar_path = format!("/api/v1/challenges/{slug}/submissions/tarball");
    let valid_archive = fixtures::image_archive();
    let truncated = valid_archive[..valid_archive.len() / 2].to_vec();

    let cases = vec![
        // Transport and shape.
        Case {
            name: "malformed JSON",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Raw("application/json", b"{\"name\": ".to_vec()),
            status: StatusCode::BAD_REQUEST,
            says: "not valid JSON",
        },
        Case {
            name: "JSON array instead of object",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Json(json!([1, 2])),
            status: StatusCode::BAD_REQUEST,
            says: "expected",
        },
        Case {
            name: "wrong type for a field",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Json(json!({ "name": 42 })),
            status: StatusCode::BAD_REQUEST,
            says: "name",
        },
        Case {
            name: "unknown field",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Json(json!({ "name": "Zed", "nickname": "z" })),
            status: StatusCode::BAD_REQUEST,
            says: "nickname",
        },
        Case {
            name: "missing field",
            method: Method::POST,
            path: submit_path.clone(),
            token: Some(alice.clone()),
            body: Body::Json(json!({})),
            status: StatusCode::BAD_REQUEST,
            says: "image",
        },
        Case {
            name: "wrong content type",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Raw("text/plain", b"name=Zed".to_vec()),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            says: "application/json",
        },
        Case {
            name: "oversized JSON body",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Json(json!({ "name": "x".repeat(100_000) })),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            says: "larger",
        },
        Case {
            name: "unknown route",
            method: Method::GET,
            path: "/api/v1/nothing-here".into(),
            token: None,
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no route",
        },
        Case {
            name: "wrong method",
            method: Method::DELETE,
            path: "/api/v1/challenges".into(),
            token: None,
            body: Body::None,
            status: StatusCode::BAD_REQUEST,
            says: "not allowed",
        },
        Case {
            name: "bad query parameter",
            method: Method::GET,
            path: "/api/v1/challenges?status=sideways".into(),
            token: None,
            body: Body::None,
            status: StatusCode::BAD_REQUEST,
            says: "status",
        },
        // Identity.
        Case {
            name: "missing token",
            method: Method::GET,
            path: "/api/v1/submissions".into(),
            token: None,
            body: Body::None,
            status: StatusCode::UNAUTHORIZED,
            says: "Authorization",
        },
        Case {
            name: "unknown participant token",
            method: Method::GET,
            path: "/api/v1/submissions".into(),
            token: Some("drp_nope".into()),
            body: Body::None,
            status: StatusCode::UNAUTHORIZED,
            says: "register",
        },
        Case {
            name: "participant token on organizer endpoint",
            method: Method::POST,
            path: "/api/v1/challenges".into(),
            token: Some(alice.clone()),
            body: create(spec_with(&app, "fresh", |_| {})),
            status: StatusCode::FORBIDDEN,
            says: "admin token",
        },
        Case {
            name: "another participant's submission",
            method: Method::GET,
            path: format!("/api/v1/submissions/{alice_sub}"),
            token: Some(bob.clone()),
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no submission",
        },
        Case {
            name: "submission id that is not a UUID",
            method: Method::GET,
            path: "/api/v1/submissions/..%2F..%2Fetc".into(),
            token: Some(bob.clone()),
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no submission",
        },
        Case {
            name: "duplicate participant name",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Json(json!({ "name": "Alice" })),
            status: StatusCode::CONFLICT,
            says: "taken",
        },
        Case {
            name: "participant name with a path",
            method: Method::POST,
            path: "/api/v1/participants".into(),
            token: None,
            body: Body::Json(json!({ "name": "../../etc/passwd" })),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: "name",
        },
        // Challenges.
        Case {
            name: "unknown challenge",
            method: Method::GET,
            path: "/api/v1/challenges/no-such".into(),
            token: None,
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no challenge 'no-such'",
        },
        Case {
            name: "path traversal in a challenge slug",
            method: Method::GET,
            path: "/api/v1/challenges/..%2F..%2Fetc%2Fpasswd/dataset".into(),
            token: None,
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no challenge",
        },
        Case {
            name: "unknown phase on the leaderboard",
            method: Method::GET,
            path: format!("/api/v1/challenges/{slug}/leaderboard?phase=nope"),
            token: None,
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "dev, final",
        },
        Case {
            name: "challenge exists already",
            method: Method::POST,
            path: "/api/v1/challenges".into(),
            token: admin(),
            body: create(spec_with(&app, "nuclei", |_| {})),
            status: StatusCode::CONFLICT,
            says: "exists",
        },
        Case {
            name: "slug differs from URL",
            method: Method::PUT,
            path: "/api/v1/challenges/other".into(),
            token: admin(),
            body: create(spec_with(&app, "nuclei", |_| {})),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: "slug",
        },
        spec_case("spec: bad slug", Box::new(|s| s["slug"] = json!("Bad Slug!")), "slug"),
        spec_case(
            "spec: missing dataset path",
            Box::new(|s| s["dataset"]["host_path"] = json!("/nonexistent/data")),
            "dataset.host_path",
        ),
        spec_case("spec: relative dataset path", Box::new(|s| s["dataset"]["host_path"] = json!("data")), "absolute"),
        spec_case(
            "spec: ground truth inside the dataset",
            Box::new(|s| {
                let d = s["dataset"]["host_path"].as_str().unwrap().to_owned();
                s["ground_truth"]["host_path"] = json!(format!("{d}/train"));
            }),
            "ground_truth.host_path",
        ),
        spec_case(
            "spec: overlapping phases",
            Box::new(|s| s["phases"][1]["starts_at"] = s["phases"][0]["starts_at"].clone()),
            "overlaps",
        ),
        spec_case(
            "spec: phase ends before it starts",
            Box::new(|s| s["phases"][0]["ends_at"] = s["phases"][0]["starts_at"].clone()),
            "phases[0].ends_at",
        ),
        spec_case("spec: zero memory", Box::new(|s| s["resources"]["memory_mb"] = json!(0)), "resources.memory_mb"),
        spec_case(
            "spec: zero wall clock",
            Box::new(|s| s["resources"]["wall_clock_seconds"] = json!(0)),
            "resources.wall_clock_seconds",
        ),
        spec_case("spec: rank_by names no metric", Box::new(|s| s["rank_by"] = json!("f1")), "rank_by"),
        spec_case(
            "spec: bad evaluation image",
            Box::new(|s| s["evaluation"]["image"] = json!("Not An Image")),
            "evaluation.image",
        ),
        spec_case("spec: GPUs on a CPU node", Box::new(|s| s["resources"]["gpus"] = json!(2)), "node_type"),
        spec_case("spec: zero daily quota", Box::new(|s| s["quotas"]["per_day"] = json!(0)), "quotas.per_day"),
        Case {
            name: "spec: unknown direction",
            method: Method::POST,
            path: "/api/v1/challenges".into(),
            token: admin(),
            body: create(spec_with(&app, "fresh", |s| s["metrics"][0]["direction"] = json!("bigger"))),
            status: StatusCode::BAD_REQUEST,
            says: "metrics[0].direction",
        },
        Case {
            name: "spec: misspelt field",
            method: Method::POST,
            path: "/api/v1/challenges".into(),
            token: admin(),
            body: create(spec_with(&app, "fresh", |s| {
                s["quota"] = json!({});
            })),
            status: StatusCode::BAD_REQUEST,
            says: "quota",
        },
        Case {
            name: "spec: date that is not a date",
            method: Method::POST,
            path: "/api/v1/challenges".into(),
            token: admin(),
            body: create(spec_with(&app, "fresh", |s| s["phases"][0]["starts_at"] = json!("next tuesday"))),
            status: StatusCode::BAD_REQUEST,
            says: "phases[0].starts_at",
        },
        // Submitting.
        Case {
            name: "submit to an unknown challenge",
            method: Method::POST,
            path: "/api/v1/challenges/no-such/submissions".into(),
            token: Some(bob.clone()),
            body: Body::Json(json!({ "image": "m:1" })),
            status: StatusCode::NOT_FOUND,
            says: "no challenge",
        },
        Case {
            name: "image name with path traversal",
            method: Method::POST,
            path: submit_path.clone(),
            token: Some(bob.clone()),
            body: Body::Json(json!({ "image": "../../etc/passwd" })),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            says: "image",
        },
        // Submitting by name: only a name pinned from an allowed registry may run.
        submit_name(
            "a rival's image in Darkroom's namespace",
            format!("{reg}/darkroom-submission/{alice_sub}:1"),
            "Darkroom's own namespace",
        ),
        submit_name(
            "a runner's hold on an image, in the same namespace",
            format!("{reg}/darkroom-submission/hold/runner-1-0a1b2c3d:{}", "ab".repeat(32)),
            "Darkroom's own namespace",
        ),
        submit_name(
            "the namespace without a registry",
            format!("darkroom-submission/{alice_sub}:1"),
            "Darkroom's own namespace",
        ),
        submit_name("an image id", format!("sha256:{}", "ab".repeat(32)), "is an image id"),
        submit_name("a short image id", "0123456789ab".into(), "is an image id"),
        submit_name("the evaluation image's name", "darkroom-demo-eval:1".into(), "evaluation image"),
        submit_name(
            "the evaluation image's name in the registry",
            format!("{reg}/darkroom-demo-eval:1"),
            "evaluation image",
        ),
        submit_name("a registry that is not allowed", "ghcr.io/team/model:1".into(), "not one this service pulls from"),
        submit_name(
            "an internal address",
            "169.254.169.254:80/latest/meta:1".into(),
            "not one this service pulls from",
        ),
        submit_name("a name that merely exists on the engine", "darkroom-test-hostile:ok".into(), "means Docker Hub"),
        submit_name("a tag never pushed", format!("{reg}/never-pushed/model:1"), "push it first"),
        submit_name(
            "a digest the registry does not serve",
            format!("{pinned_m1}@sha256:{}", "0".repeat(64)),
            "no such image",
        ),
        Case {
            name: "quota exceeded",
            method: Method::POST,
            path: submit_path.clone(),
            token: Some(quota_user.clone()),
            body: Body::Json(json!({ "image": "m:2" })),
            status: StatusCode::TOO_MANY_REQUESTS,
            says: "next slot opens",
        },
        Case {
            name: "challenge closed",
            method: Method::POST,
            path: format!("/api/v1/challenges/{closed}/submissions"),
            token: Some(bob.clone()),
            body: Body::Json(json!({ "image": "m:1" })),
            status: StatusCode::FORBIDDEN,
            says: "closed",
        },
        Case {
            name: "challenge not open yet",
            method: Method::POST,
            path: format!("/api/v1/challenges/{upcoming}/submissions"),
            token: Some(bob.clone()),
            body: Body::Json(json!({ "image": "m:1" })),
            status: StatusCode::FORBIDDEN,
            says: "opens at",
        },
        Case {
            name: "cancel a cancelled submission",
            method: Method::POST,
            path: format!("/api/v1/submissions/{alice_sub}/cancel"),
            token: Some(alice.clone()),
            body: Body::None,
            status: StatusCode::OK,
            says: "",
        },
        Case {
            name: "cancel it again",
            method: Method::POST,
            path: format!("/api/v1/submissions/{alice_sub}/cancel"),
            token: Some(alice.clone()),
            body: Body::None,
            status: StatusCode::CONFLICT,
            says: "only QUEUED or PENDING",
        },
        // The organizer's views of submissions, re-runs and logs.
        Case {
            name: "organizer list with limit=0",
            method: Method::GET,
            path: format!("/api/v1/challenges/{slug}/submissions?limit=0"),
            token: admin(),
            body: Body::None,
            status: StatusCode::BAD_REQUEST,
            says: "between 1 and 1000",
        },
        Case {
            name: "organizer list with a limit that is not a number",
            method: Method::GET,
            path: format!("/api/v1/challenges/{slug}/submissions?limit=lots"),
            token: admin(),
            body: Body::None,
            status: StatusCode::BAD_REQUEST,
            says: "limit",
        },
        Case {
            name: "organizer list with an unknown state",
            method: Method::GET,
            path: format!("/api/v1/challenges/{slug}/submissions?state=DONE"),
            token: admin(),
            body: Body::None,
            status: StatusCode::BAD_REQUEST,
            says: "QUEUED, PENDING, RUNNING, EVALUATING, COMPLETE, FAILED, CANCELLED",
        },
        Case {
            name: "organizer list with an unknown parameter",
            method: Method::GET,
            path: format!("/api/v1/challenges/{slug}/submissions?participant=Alice"),
            token: admin(),
            body: Body::None,
            status: StatusCode::BAD_REQUEST,
            says: "participant",
        },
        Case {
            name: "organizer list of an unknown challenge",
            method: Method::GET,
            path: "/api/v1/challenges/no-such/submissions".into(),
            token: admin(),
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no challenge 'no-such'",
        },
        Case {
            name: "participant token on the organizer's list",
            method: Method::GET,
            path: format!("/api/v1/challenges/{slug}/submissions"),
            token: Some(alice.clone()),
            body: Body::None,
            status: StatusCode::FORBIDDEN,
            says: "admin token",
        },
        Case {
            name: "participant token on a re-run",
            method: Method::POST,
            path: format!("/api/v1/submissions/{alice_sub}/rerun"),
            token: Some(alice.clone()),
            body: Body::None,
            status: StatusCode::FORBIDDEN,
            says: "admin token",
        },
        Case {
            name: "re-run of an unknown submission",
            method: Method::POST,
            path: format!("/api/v1/submissions/{}/rerun", uuid::Uuid::now_v7()),
            token: admin(),
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no submission",
        },
        Case {
            name: "re-run of an id that is not a UUID",
            method: Method::POST,
            path: "/api/v1/submissions/..%2F..%2Fetc/rerun".into(),
            token: admin(),
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no submission",
        },
        Case {
            name: "re-run of a queued submission",
            method: Method::POST,
            path: format!("/api/v1/submissions/{queued_sub}/rerun"),
            token: admin(),
            body: Body::None,
            status: StatusCode::CONFLICT,
            says: "only finished submissions",
        },
        Case {
            name: "unknown token on /me",
            method: Method::GET,
            path: "/api/v1/me".into(),
            token: Some("drp_nope".into()),
            body: Body::None,
            status: StatusCode::UNAUTHORIZED,
            says: "register",
        },
        Case {
            name: "organizer shows an unknown submission",
            method: Method::GET,
            path: format!("/api/v1/submissions/{}", uuid::Uuid::now_v7()),
            token: admin(),
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no submission",
        },
        Case {
            name: "logs of another participant's submission",
            method: Method::GET,
            path: format!("/api/v1/submissions/{alice_sub}/logs"),
            token: Some(bob.clone()),
            body: Body::None,
            status: StatusCode::NOT_FOUND,
            says: "no submission",
        },
        Case {
            name: "logs the organizer keeps private",
            method: Method::GET,
            path: format!("/api/v1/submissions/{bobs_quiet_sub}/logs"),
            token: Some(bob.clone()),
            body: Body::None,
            status: StatusCode::FORBIDDEN,
            says: "keeps run logs private",
        },
        Case {
            name: "logs without a token",
            method: Method::GET,
            path: format!("/api/v1/submissions/{bobs_quiet_sub}/logs"),
            token: None,
            body: Body::None,
            status: StatusCode::UNAUTHORIZED,
            says: "Authorization",
        },
        // Uploads.
        Case {
            name: "corrupt tarball",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw(
                "application/x-tar",
                b"this is not a tar archive at all, just text padding it out".repeat(20),
            ),
            status: StatusCode::BAD_REQUEST,
            says: "docker save",
        },
        Case {
            name: "truncated tarball",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", truncated),
            status: StatusCode::BAD_REQUEST,
            says: "docker save",
        },
        Case {
            name: "empty upload",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", Vec::new()),
            status: StatusCode::BAD_REQUEST,
            says: "empty",
        },
        Case {
            name: "upload with the wrong content type",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("image/png", valid_archive.clone()),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            says: "docker save",
        },
        Case {
            name: "upload over the size cap",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", vec![0u8; 5 << 20]),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            says: "larger than",
        },
        Case {
            name: "tar entry climbing out with ..",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", fixtures::archive_with_raw_name("../../etc/cron.d/evil")),
            status: StatusCode::BAD_REQUEST,
            says: "contains '..'",
        },
        Case {
            name: "tar entry with an absolute path",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", fixtures::archive_with_raw_name("/etc/passwd")),
            status: StatusCode::BAD_REQUEST,
            says: "absolute",
        },
        Case {
            name: "tar symlink leaving the archive",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", fixtures::archive_with_symlink()),
            status: StatusCode::BAD_REQUEST,
            says: "is a link",
        },
        Case {
            name: "tar without manifest",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", fixtures::archive_without_manifest()),
            status: StatusCode::BAD_REQUEST,
            says: "manifest.json",
        },
        Case {
            name: "manifest naming a missing layer",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw(
                "application/x-tar",
                fixtures::archive_with_manifest(r#"[{"Config":"gone.json","Layers":["gone/layer.tar"]}]"#),
            ),
            status: StatusCode::BAD_REQUEST,
            says: "lacks",
        },
        Case {
            name: "manifest that is not JSON",
            method: Method::POST,
            path: tar_path.clone(),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", fixtures::archive_with_manifest("{{{")),
            status: StatusCode::BAD_REQUEST,
            says: "manifest.json does not parse",
        },
        Case {
            name: "upload to a closed challenge",
            method: Method::POST,
            path: format!("/api/v1/challenges/{closed}/submissions/tarball"),
            token: Some(bob.clone()),
            body: Body::Raw("application/x-tar", valid_archive.clone()),
            status: StatusCode::FORBIDDEN,
            says: "closed",
        },
    ];

    let mut failures = Vec::new();
    let total = cases.len();
    for case in cases {
        let send = || {
            let mut req = app.http.request(case.method.clone(), app.url(&case.path));
            if let Some(t) = &case.token {
                req = req.bearer_auth(t);
            }
            match case.body.clone() {
                Body::None => req,
                Body::Json(v) => req.json(&v),
                Body::Raw(ct, bytes) => req.header("content-type", ct).body(bytes),
            }
            .send()
        };
        // An upload refused before its body is read (no token, wrong type, no quota) closes
        // the connection unread, by design; the client can then see the pipe break before it
        // reads the answer. Such a request is sent again: the answer is what is checked.
        let mut resp = send().await;
        for _ in 0..3 {
            match &resp {
                Err(e) if e.is_request() => resp = send().await,
                _ => break,
            }
        }
        let resp = resp.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = body["error"]["message"].as_str().unwrap_or("");
        let ok = status == case.status
            && (status.is_success() || (body["error"]["code"].is_string() && message.contains(case.says)));
        if !ok {
            failures.push(format!(
                "{}: expected {} containing {:?}, got {status} {text}",
                case.name, case.status, case.says
            ));
        }
    }
    assert!(total >= 50, "the table shrank to {total} cases");
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));

    // Nothing refused left a file behind, and the service still answers.
    let uploads = app.data_dir().join("data/uploads");
    let leftovers: Vec<_> =
        std::fs::read_dir(&uploads).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(leftovers.is_empty(), "refused uploads left files: {leftovers:?}");
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.0, StatusCode::OK);
}
