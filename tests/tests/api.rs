//! The submissions API's happy paths, on SQLite and on PostgreSQL.

use darkroom_tests::fixtures;
use darkroom_tests::registry::{publish, pushed};
use darkroom_tests::{Backend, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: Option<&str> = Some(darkroom_tests::ADMIN_TOKEN);

on_both_backends!(
    health_and_readiness,
    organizer_creates_and_updates_a_challenge,
    participants_see_public_views_only,
    submit_follow_and_cancel,
    tarball_upload_is_stored_by_hash,
    quotas_are_enforced_with_the_next_slot,
    a_daily_quota_alone_counts_only_the_last_24_hours,
    participants_only_see_their_own_submissions,
    me_tells_organizer_from_participant,
    organizer_lists_every_submission_of_a_challenge,
    organizer_shows_and_cancels_any_submission,
    dataset_listings_are_stored_and_refreshed_by_the_organizer,
    a_note_is_the_participants_own_words_for_them_and_the_organizer,
    announcements_are_the_organizers_word_to_everyone,
);

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, b) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["database"], "ok");
}

async fn organizer_creates_and_updates_a_challenge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let (s, b) = app.call(Method::GET, "/api/v1/challenges?status=open", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b[0]["slug"], "nuclei");
    assert_eq!(b[0]["current_phase"], "dev");

    let mut spec = fixtures::spec(&app.data_dir(), &slug);
    spec["title"] = json!("Nuclei, second edition");
    let (s, b) = app.call(Method::PUT, "/api/v1/challenges/nuclei", ADMIN, Some(spec.clone())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, b) = app.call(Method::GET, "/api/v1/challenges/nuclei", None, None).await;
    assert_eq!(b["title"], "Nuclei, second edition");

    // PUT of a new slug creates it.
    spec["slug"] = json!("nuclei-2");
    let (s, _) = app.call(Method::PUT, "/api/v1/challenges/nuclei-2", ADMIN, Some(spec)).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, b) = app.call(Method::GET, "/api/v1/challenges", None, None).await;
    assert_eq!(b.as_array().unwrap().len(), 2);
}

async fn participants_see_public_views_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let (s, b) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}"), None, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = b.to_string();
    assert!(!text.contains(app.data_dir().to_str().unwrap()), "host paths leaked: {text}");
    assert!(!text.contains("darkroom-eval"), "evaluation image leaked: {text}");
    assert_eq!(b["rank_by"], "accuracy");

    let (s, b) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/dataset"), None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["file_count"], 2);
    assert_eq!(b["files"][0]["path"], "README.txt");
    assert_eq!(b["files"][1]["path"], "train/labels.csv");
    assert_eq!(b["files"][1]["size_bytes"], 15);
    assert!(!b.to_string().contains("20x"), "file contents leaked");

    let (s, b) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/spec"), ADMIN, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["evaluation"]["image"], "darkroom-demo-eval:1");
    assert!(b["evaluation"]["image_id"].as_str().is_some_and(|id| id.starts_with("sha256:")), "pinned: {b}");

    let (s, b) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/leaderboard"), None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["phase"].as_str(), b["direction"].as_str()), (Some("dev"), Some("higher_is_better")));
    assert_eq!(b["entries"], json!([]));
}

async fn submit_follow_and_cancel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let token = app.register("Ada").await;
    let (s, me) = app.call(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!((s, me["name"].as_str()), (StatusCode::OK, Some("Ada")));

    let name = publish("team/model:1").await;
    let (s, sub) = app.submit(&slug, &token, &name).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
    assert_eq!(sub["state"], "QUEUED");
    assert_eq!(sub["phase"], "dev");
    // What runs is the name pinned by digest at submit time; what was asked for is kept beside it.
    assert_eq!(
        (sub["image"]["kind"].as_str(), sub["image"]["requested"].as_str()),
        (Some("reference"), Some(name.as_str()))
    );
    assert!(sub["image"]["name"].as_str().unwrap().starts_with(&format!("{}@sha256:", pushed("team/model"))), "{sub}");
    let id = sub["id"].as_str().unwrap();

    let (s, list) = app.call(Method::GET, "/api/v1/submissions", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (s, c) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(&token), None).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("CANCELLED")), "{c}");
    let (_, shown) = app.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(&token), None).await;
    let states: Vec<&str> = shown["history"].as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap()).collect();
    assert_eq!(states, ["QUEUED", "CANCELLED"]);
    assert_eq!(shown["counts_against_quota"], false);

    // Listed by state, in any case; a word that is no state is answered with the right ones.
    for (state, n) in [("cancelled", 1), ("QUEUED", 0)] {
        let (s, list) = app.call(Method::GET, &format!("/api/v1/submissions?state={state}"), Some(&token), None).await;
        assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(n)), "{state}: {list}");
    }
    let (s, e) = app.call(Method::GET, "/api/v1/submissions?state=done", Some(&token), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("expected one of QUEUED"), "{e}");

    // A second cancel is refused with the reason.
    let (s, e) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(&token), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(e["error"]["message"].as_str().unwrap().contains("CANCELLED"), "{e}");
}

async fn tarball_upload_is_stored_by_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let token = app.register("Grace").await;
    let archive = fixtures::image_archive();
    let (s, b) = app.upload(&slug, &token, "application/x-tar", archive.clone()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["image"]["kind"], "tarball");
    assert_eq!(b["image"]["size_bytes"], archive.len());
    let sha = b["image"]["sha256"].as_str().unwrap();
    let stored = app.data_dir().join("data/uploads").join(format!("sha256-{sha}.tar"));
    assert_eq!(std::fs::read(&stored).unwrap(), archive, "stored bytes differ");
    assert!(!b.to_string().contains("uploads"), "the server-side path leaked: {b}");
}

async fn quotas_are_enforced_with_the_next_slot(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |s| s["quotas"] = json!({ "per_day": 2, "total": 3 })).await;
    let token = app.register("Linus").await;
    // Where the participant stands, before they spend a slot finding out; only for a participant
    // who joined, and only their own.
    let quota_path = format!("/api/v1/challenges/{slug}/quota");
    let standing = |token: Option<String>| {
        let (app, path) = (&app, quota_path.clone());
        async move { app.call(Method::GET, &path, token.as_deref(), None).await }
    };
    let (s, b) = standing(Some(token.clone())).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("not_enrolled")), "{b}");
    assert_eq!(standing(None).await.0, StatusCode::UNAUTHORIZED);
    let (s, b) = standing(ADMIN.map(str::to_owned)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the organizer has no quota: {b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("use a participant token"), "{b}");
    let (s, _) = app.call(Method::GET, "/api/v1/challenges/nope/quota", Some(&token), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for _ in 0..2 {
        assert_eq!(app.submit(&slug, &token, &publish("m:1").await).await.0, StatusCode::ACCEPTED);
    }
    let (s, spent) = standing(Some(token.clone())).await;
    assert_eq!(s, StatusCode::OK, "{spent}");
    assert_eq!(
        (&spent["challenge"], &spent["phase"], &spent["counted_for"], &spent["left"]),
        (&json!(slug), &json!("dev"), &json!("participant"), &json!(0)),
        "{spent}"
    );
    assert_eq!(spent["total"], json!({ "limit": 3, "used": 2, "left": 1 }));
    assert_eq!((&spent["per_day"]["used"], &spent["per_day"]["left"]), (&json!(2), &json!(0)), "{spent}");
    let (s, b) = app.submit(&slug, &token, &publish("m:1").await).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    let retry_at: chrono::DateTime<chrono::Utc> = b["error"]["retry_at"].as_str().unwrap().parse().unwrap();
    let wait = retry_at - chrono::Utc::now();
    assert!(wait > chrono::Duration::hours(23) && wait <= chrono::Duration::hours(24), "{wait}");
    let next: chrono::DateTime<chrono::Utc> = spent["per_day"]["next_slot_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, retry_at, "the standing names the slot the refusal names");

    // A cancelled submission gives its slot back.
    let (_, list) = app.call(Method::GET, "/api/v1/submissions", Some(&token), None).await;
    let id = list[0]["id"].as_str().unwrap();
    app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(&token), None).await;
    let (_, freed) = standing(Some(token.clone())).await;
    assert_eq!((&freed["left"], &freed["per_day"].get("next_slot_at")), (&json!(1), &None), "{freed}");
    assert_eq!(app.submit(&slug, &token, &publish("m:1").await).await.0, StatusCode::ACCEPTED);
    let (_, last) = standing(Some(token.clone())).await;
    // The cancelled one counts against neither quota.
    assert_eq!((&last["left"], &last["total"]["left"]), (&json!(0), &json!(1)), "{last}");

    // Concurrent submits cannot overrun the quota.
    let other = app.register("Margaret").await;
    let m2 = publish("m:2").await;
    let attempts = futures::future::join_all((0..6).map(|_| app.submit(&slug, &other, &m2))).await;
    let accepted = attempts.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).count();
    assert_eq!(accepted, 2, "{attempts:?}");
}

/// Two instances of the service on one PostgreSQL database, as replicas behind a load balancer
/// run: a participant firing at both at once gets no more than the quota, each refusal a 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_hold_across_two_instances_of_the_service() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let slug = app.create_challenge("replicas", |s| s["quotas"] = json!({ "per_day": 3, "total": 3 })).await;
    let token = app.register("Ada").await;
    app.join(&slug, &token).await;
    let (second, _server) = app.another_instance().await;
    let body = json!({ "image": publish("m:1").await });
    let attempts = futures::future::join_all((0..16).map(|i| {
        let base = if i % 2 == 0 { app.addr.clone() } else { second.clone() };
        let url = format!("{base}/api/v1/challenges/{slug}/submissions");
        darkroom_tests::api::call(&app.http, Method::POST, url, Some(&token), Some(body.clone()))
    }))
    .await;
    let accepted = attempts.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).count();
    assert_eq!(accepted, 3, "the quota is 3: {attempts:?}");
    assert!(
        attempts.iter().all(|(s, b)| *s == StatusCode::ACCEPTED || b["error"]["code"] == "quota_exceeded"),
        "{attempts:?}"
    );
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&token), None).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(3), "{mine}");
}

/// With a daily quota and no total, only the last 24 hours are read and counted: a submission
/// moved 25 hours back frees its slot; one 23 hours back does not.
async fn a_daily_quota_alone_counts_only_the_last_24_hours(backend: Backend) {
    use darkroom_submissions::db::entities::submission;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |s| s["quotas"] = json!({ "per_day": 1 })).await;
    let token = app.register("Grace").await;
    let image = publish("m:1").await;
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let move_back = |id: String, hours: i64| {
        let db = db.clone();
        async move {
            let mut row: submission::ActiveModel =
                submission::Entity::find_by_id(id).one(&db).await.unwrap().unwrap().into();
            row.created_at = Set(chrono::Utc::now() - chrono::Duration::hours(hours));
            row.update(&db).await.unwrap();
        }
    };
    let (s, first) = app.submit(&slug, &token, &image).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{first}");
    assert_eq!(app.submit(&slug, &token, &image).await.0, StatusCode::TOO_MANY_REQUESTS);
    move_back(first["id"].as_str().unwrap().to_owned(), 23).await;
    let (s, b) = app.submit(&slug, &token, &image).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "23 hours ago is inside the window: {b}");
    move_back(first["id"].as_str().unwrap().to_owned(), 25).await;
    let (s, second) = app.submit(&slug, &token, &image).await;
    assert_eq!(s, StatusCode::ACCEPTED, "25 hours ago is outside the window: {second}");
    assert_eq!(app.submit(&slug, &token, &image).await.0, StatusCode::TOO_MANY_REQUESTS, "the new one counts");
}

async fn participants_only_see_their_own_submissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let alice = app.register("Alice").await;
    let bob = app.register("Bob").await;
    let (_, sub) = app.submit(&slug, &alice, &publish("m:1").await).await;
    let id = sub["id"].as_str().unwrap();
    let (s, _) = app.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(&bob), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(&bob), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.call(Method::GET, "/api/v1/submissions", Some(&bob), None).await;
    assert_eq!(list, json!([]));
}

async fn me_tells_organizer_from_participant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.register("Ada").await;
    let (s, me) = app.call(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!((me["role"].as_str(), me["name"].as_str()), (Some("participant"), Some("Ada")));
    assert!(me["id"].is_string() && me["created_at"].is_string(), "{me}");
    let (s, me) = app.call(Method::GET, "/api/v1/me", ADMIN, None).await;
    assert_eq!((s, me), (StatusCode::OK, json!({ "role": "organizer" })));
    let (s, e) = app.call(Method::GET, "/api/v1/me", Some("drp_unknown"), None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{e}");
}

/// Fails a submission as an evaluator would, with a detail for the organizer only.
async fn fail_with_detail(app: &TestApp, id: &str, token: &str, detail: &str) {
    use darkroom_core::domain::FailureKind;
    use darkroom_core::events::SubmissionFailed;
    let failed = SubmissionFailed {
        event_id: format!("failed-{id}"),
        kind: FailureKind::Evaluation,
        detail: Some(detail.into()),
        ..darkroom_tests::fixtures::run_failed(
            id.parse().unwrap(),
            1,
            "the evaluation could not score the output",
            false,
        )
    };
    app.publish(&failed).await;
    app.wait_for(id, token, |b| b["state"] == "FAILED").await;
}

async fn organizer_lists_every_submission_of_a_challenge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let other = app.create_challenge("other", |_| {}).await;
    let (s, b) =
        app.call(Method::POST, "/api/v1/participants", None, Some(json!({ "name": "Alice", "team": "Lab A" }))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let alice = b["token"].as_str().unwrap().to_owned();
    let bob = app.register("Bob").await;
    let (_, a1) = app.submit(&slug, &alice, &publish("alice/model:1").await).await;
    let (_, b1) = app.submit(&slug, &bob, &publish("bob/model:1").await).await;
    let (_, a2) = app.submit(&slug, &alice, &publish("alice/model:2").await).await;
    app.submit(&other, &bob, &publish("bob/model:9").await).await;
    let b1_id = b1["id"].as_str().unwrap();
    fail_with_detail(&app, b1_id, &bob, "score.json lacks 'roc_auc'").await;

    let path = format!("/api/v1/challenges/{slug}/submissions");
    let (s, list) = app.call(Method::GET, &path, ADMIN, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [a2["id"].as_str().unwrap(), b1_id, a1["id"].as_str().unwrap()],
        "newest first, this challenge only"
    );
    assert_eq!(list[0]["participant"]["name"], "Alice");
    assert_eq!(list[0]["participant"]["team"], "Lab A");
    assert_eq!(list[1]["participant"], json!({ "id": list[1]["participant"]["id"], "name": "Bob", "team": null }));
    assert_eq!(list[1]["state"], "FAILED");
    assert_eq!(list[1]["failure_detail"], "score.json lacks 'roc_auc'");
    assert_eq!(list[1]["failure_reason"], "the evaluation could not score the output");
    assert_eq!(list[0]["failure_detail"], Value::Null);
    assert_eq!(list[0]["image"]["requested"].as_str(), Some(pushed("alice/model:2").as_str()));
    assert!(list[0].get("history").is_none(), "the list carries no history: {}", list[0]);

    // Filters: a state (any case), a limit.
    let (_, failed) = app.call(Method::GET, &format!("{path}?state=FAILED"), ADMIN, None).await;
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["id"], b1_id);
    let (_, queued) = app.call(Method::GET, &format!("{path}?state=queued&limit=1"), ADMIN, None).await;
    assert_eq!(queued.as_array().unwrap().len(), 1);
    assert_eq!(queued[0]["id"], a2["id"]);

    // Participants get neither the list nor the detail.
    let (s, e) = app.call(Method::GET, &path, Some(&alice), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (_, own) = app.call(Method::GET, &format!("/api/v1/submissions/{b1_id}"), Some(&bob), None).await;
    assert_eq!(own["state"], "FAILED");
    assert!(!own.to_string().contains("roc_auc"), "the organizer's detail leaked: {own}");
    assert!(own.get("participant").is_none(), "{own}");
}

async fn organizer_shows_and_cancels_any_submission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("nuclei", |_| {}).await;
    let alice = app.register("Alice").await;
    let (_, sub) = app.submit(&slug, &alice, &publish("m:1").await).await;
    let id = sub["id"].as_str().unwrap();

    let (s, shown) = app.call(Method::GET, &format!("/api/v1/submissions/{id}"), ADMIN, None).await;
    assert_eq!(s, StatusCode::OK, "{shown}");
    assert_eq!((shown["state"].as_str(), shown["participant"]["name"].as_str()), (Some("QUEUED"), Some("Alice")));
    assert_eq!(shown["history"].as_array().unwrap().len(), 1);

    let (s, c) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), ADMIN, None).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("CANCELLED")), "{c}");
    let (_, seen) = app.call(Method::GET, &format!("/api/v1/submissions/{id}"), Some(&alice), None).await;
    assert_eq!(seen["state"], "CANCELLED");
    assert_eq!(seen["counts_against_quota"], false);
    assert_eq!(seen["history"][1]["reason"], "cancelled by the organizer");

    let unknown = uuid::Uuid::now_v7();
    let (s, e) = app.call(Method::GET, &format!("/api/v1/submissions/{unknown}"), ADMIN, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, e) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), ADMIN, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("CANCELLED"), "{e}");
}

async fn dataset_listings_are_stored_and_refreshed_by_the_organizer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("listed", |_| {}).await;
    let dataset = format!("/api/v1/challenges/{slug}/dataset");
    let refresh = format!("/api/v1/challenges/{slug}/dataset/refresh");
    let data = app.data_dir().join(format!("{slug}-data"));
    let (s, listed) = app.call(Method::GET, &dataset, None, None).await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    assert_eq!(listed["file_count"], 2);

    // The files change: readers keep the listing made when the challenge was applied.
    std::fs::write(data.join("train/more.csv"), "id,label\n2,40x\n").unwrap();
    std::fs::remove_file(data.join("README.txt")).unwrap();
    let (s, b) = app.call(Method::GET, &dataset, None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, listed, "an anonymous request walked the dataset again");

    // Only the organizer may refresh it; then everyone reads the new listing.
    let participant = app.register("Curious").await;
    let (s, b) = app.call(Method::POST, &refresh, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    let (s, b) = app.call(Method::POST, &refresh, Some(&participant), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, refreshed) = app.call(Method::POST, &refresh, ADMIN, None).await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    let paths: Vec<&str> = refreshed["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["train/labels.csv", "train/more.csv"]);
    assert_eq!(refreshed["description"], "grayscale patches");
    let (s, b) = app.call(Method::GET, &dataset, None, None).await;
    assert_eq!((s, &b), (StatusCode::OK, &refreshed));

    // A dataset that cannot be listed: readers get 503, the organizer's refresh says why.
    std::fs::remove_dir_all(&data).unwrap();
    let (s, b) = app.call(Method::POST, &refresh, ADMIN, None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["details"][0]["field"], "dataset.host_path", "{b}");
    let (s, b) = app.call(Method::GET, &dataset, None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert!(!b.to_string().contains(data.to_str().unwrap()), "the host path leaked: {b}");

    // Applying the spec again (which writes the fixture's two files anew) lists it again.
    let spec = fixtures::spec(&app.data_dir(), &slug);
    let (s, b) = app.call(Method::PUT, &format!("/api/v1/challenges/{slug}"), ADMIN, Some(spec)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app.call(Method::GET, &dataset, None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, listed);
}

/// A participant's note on a submission: written when submitting (by name or archive) or later,
/// cleared by an empty one, read by its owner and the organizer, written by nobody else; a bad
/// one is refused with its field and changes nothing, an archive's before its upload.
async fn a_note_is_the_participants_own_words_for_them_and_the_organizer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("notes", |_| {}).await;
    let (ada, bob) = (app.register("Ada").await, app.register("Bob").await);
    app.join(&slug, &ada).await;
    let image = publish("notes/model:1").await;
    let submit = |note: Value| json!({ "image": image, "note": note });
    let markup = "resnet50, lr 1e-3 <script>alert(1)</script>";
    let path = format!("/api/v1/challenges/{slug}/submissions");
    let (s, sub) = app.call(Method::POST, &path, Some(&ada), Some(submit(json!(format!("  {markup} "))))).await;
    assert_eq!((s, sub["note"].as_str()), (StatusCode::ACCEPTED, Some(markup)), "trimmed, kept as text: {sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&ada), None).await;
    assert_eq!(mine[0]["note"], markup);

    let note_path = format!("/api/v1/submissions/{id}/note");
    let set = |token: &str, note: Value| {
        let (path, token) = (note_path.clone(), token.to_owned());
        let app = &app;
        async move { app.call(Method::PUT, &path, Some(&token), Some(json!({ "note": note }))).await }
    };
    let (s, v) = set(&ada, json!("resnet50, lr 3e-4")).await;
    assert_eq!((s, v["note"].as_str()), (StatusCode::OK, Some("resnet50, lr 3e-4")), "{v}");
    let (_, shown) = app.call(Method::GET, &format!("/api/v1/submissions/{id}"), ADMIN, None).await;
    assert_eq!(shown["note"], "resnet50, lr 3e-4", "the organizer reads it: {shown}");
    let (_, all) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/submissions"), ADMIN, None).await;
    assert_eq!(all[0]["note"], "resnet50, lr 3e-4");

    // Nobody else writes it: another participant is told it does not exist, the organizer and
    // a read-only token are refused.
    let (s, _) = set(&bob, json!("mine now")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = set(darkroom_tests::ADMIN_TOKEN, json!("organizer's words")).await;
    assert!(s.is_client_error(), "{s}");
    let (_, minted) = app.call(Method::POST, "/api/v1/tokens", Some(&ada), Some(json!({ "scopes": ["read"] }))).await;
    let (s, e) = set(minted["token"].as_str().unwrap(), json!("from a read token")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    // Bad notes: refused with the field, nothing changed, no submission made.
    for bad in ["x".repeat(201), "two\nlines".into(), "looks\u{202E}reversed".into(), "tab\there".into()] {
        let (s, e) = set(&ada, json!(bad)).await;
        assert_eq!(
            (s, e["error"]["details"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("note")),
            "{e}"
        );
        let (s, e) = app.call(Method::POST, &path, Some(&ada), Some(submit(json!(bad)))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    }
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&ada), None).await;
    assert_eq!((mine.as_array().unwrap().len(), mine[0]["note"].as_str()), (1, Some("resnet50, lr 3e-4")));

    // An archive's note comes in the query; a bad one is refused before the body is read.
    let upload = |note: &str| {
        let url = app.url(&format!("/api/v1/challenges/{slug}/submissions/tarball"));
        let (token, note) = (ada.clone(), note.to_owned());
        async move {
            let resp = reqwest::Client::new()
                .post(url)
                .query(&[("note", note)])
                .bearer_auth(token)
                .header("content-type", "application/x-tar")
                .body(fixtures::image_archive())
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, e) = upload(&"y".repeat(300)).await;
    assert_eq!(
        (s, e["error"]["details"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("note")),
        "{e}"
    );
    let (s, b) = upload("the same model, saved").await;
    assert_eq!((s, b["note"].as_str()), (StatusCode::ACCEPTED, Some("the same model, saved")), "{b}");

    // Empty or null clears it; a re-run keeps the original's.
    for clear in [json!(""), json!("   "), Value::Null] {
        set(&ada, json!("again")).await;
        let (s, v) = set(&ada, clear).await;
        assert_eq!(s, StatusCode::OK);
        assert!(v.get("note").is_none(), "{v}");
    }
    set(&ada, json!("kept by the re-run")).await;
    app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(&ada), None).await;
    let (s, rerun) = app.call(Method::POST, &format!("/api/v1/submissions/{id}/rerun"), ADMIN, None).await;
    assert!(s.is_success(), "{rerun}");
    let rerun_id = rerun["id"].as_str().or(rerun["submission"]["id"].as_str()).expect("the re-run's id").to_owned();
    let (_, shown) = app.call(Method::GET, &format!("/api/v1/submissions/{rerun_id}"), Some(&ada), None).await;
    assert_eq!(shown["note"], "kept by the re-run");
}

/// The organizer's announcements: posted, edited (and marked so; what an edit leaves out stays)
/// and removed by the organizer only, read by anyone newest first, the Markdown kept as written
/// (the pages sanitise it); a bad title or body is refused with every field at once and changes
/// nothing; another challenge's announcement is not found through this one; at most 200.
async fn announcements_are_the_organizers_word_to_everyone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("news", |_| {}).await;
    let other = app.create_challenge("olds", |_| {}).await;
    let ada = app.register("Ada").await;
    let path = format!("/api/v1/challenges/{slug}/announcements");
    let (s, list) = app.call(Method::GET, &path, None, None).await;
    assert_eq!((s, list), (StatusCode::OK, json!([])));

    let markdown = "The **deadline** moves to Friday.\n\n<script>alert(1)</script>";
    let (s, first) =
        app.call(Method::POST, &path, ADMIN, Some(json!({ "title": " Deadline moved ", "body": markdown }))).await;
    assert_eq!(
        (s, first["title"].as_str(), first["body"].as_str()),
        (StatusCode::CREATED, Some("Deadline moved"), Some(markdown)),
        "{first}"
    );
    assert!(first.get("edited_at").is_none(), "{first}");
    let (s, second) = app.call(Method::POST, &path, ADMIN, Some(json!({ "title": "Evaluator fixed" }))).await;
    assert_eq!((s, second["body"].as_str()), (StatusCode::CREATED, Some("")), "{second}");
    let (_, list) = app.call(Method::GET, &path, Some(&ada), None).await;
    let titles: Vec<_> = list.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Evaluator fixed", "Deadline moved"], "newest first, for anyone: {list}");
    // The challenge names its newest one, for pages and scripts that only read the challenge.
    let (_, challenge) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}"), None, None).await;
    assert_eq!(
        challenge["latest_announcement"],
        json!({ "id": second["id"], "title": "Evaluator fixed", "posted_at": second["posted_at"] })
    );
    let (_, quiet) = app.call(Method::GET, &format!("/api/v1/challenges/{other}"), None, None).await;
    assert!(quiet.get("latest_announcement").is_none(), "none, no field: {quiet}");

    // Only the organizer writes: a participant, a read-only co-organizer token and nobody.
    let (_, co) = app.call(Method::POST, "/api/v1/tokens", ADMIN, Some(json!({ "scopes": ["read"] }))).await;
    let co = co["token"].as_str().unwrap().to_owned();
    let first_id = first["id"].as_str().unwrap();
    let one = format!("{path}/{first_id}");
    for token in [Some(ada.as_str()), Some(co.as_str()), None] {
        let (s, e) = app.call(Method::POST, &path, token, Some(json!({ "title": "fake news" }))).await;
        assert!(matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{s} {e}");
        let (s, _) = app.call(Method::PUT, &one, token, Some(json!({ "title": "changed" }))).await;
        assert!(matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{s}");
        let (s, _) = app.call(Method::DELETE, &one, token, None).await;
        assert!(matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{s}");
    }

    // Bad text: every field named, nothing posted or changed.
    let bad = json!({ "title": "two\nlines", "body": format!("{}\u{202E}", "b".repeat(10)) });
    for (method, at) in [(Method::POST, &path), (Method::PUT, &one)] {
        let (s, e) = app.call(method, at, ADMIN, Some(bad.clone())).await;
        let fields: Vec<_> = e["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].clone()).collect();
        assert_eq!((s, fields), (StatusCode::UNPROCESSABLE_ENTITY, vec![json!("title"), json!("body")]), "{e}");
    }
    let (s, e) = app.call(Method::POST, &path, ADMIN, Some(json!({ "title": "x".repeat(121) }))).await;
    assert_eq!(
        (s, e["error"]["details"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("title")),
        "{e}"
    );
    let (s, e) = app.call(Method::POST, &path, ADMIN, Some(json!({ "title": "t", "text": "b" }))).await;
    assert!(s.is_client_error() && e.to_string().contains("text"), "an unknown field is named: {s} {e}");
    let (_, list) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[1]["title"], "Deadline moved");

    // Edited: in place, marked; what the edit leaves out stays; the same text again changes
    // nothing.
    let (s, edited) = app.call(Method::PUT, &one, ADMIN, Some(json!({ "title": "Deadline moved to Friday" }))).await;
    assert_eq!((s, edited["body"].as_str()), (StatusCode::OK, Some(markdown)), "a new title keeps the body: {edited}");
    let edited_at = edited["edited_at"].as_str().expect("marked as edited").to_owned();
    let (_, again) = app.call(Method::PUT, &one, ADMIN, Some(json!({ "title": "Deadline moved to Friday" }))).await;
    assert_eq!(again["edited_at"].as_str(), Some(edited_at.as_str()));
    let (_, list) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(
        (list[1]["title"].as_str(), list[1]["posted_at"].clone()),
        (Some("Deadline moved to Friday"), first["posted_at"].clone())
    );
    let (_, emptied) = app.call(Method::PUT, &one, ADMIN, Some(json!({ "body": "" }))).await;
    assert_eq!((emptied["title"].as_str(), emptied["body"].as_str()), (Some("Deadline moved to Friday"), Some("")));
    assert!(emptied["edited_at"].as_str().unwrap() > edited_at.as_str(), "{emptied}");
    let (s, e) = app.call(Method::PUT, &one, ADMIN, Some(json!({ "title": "" }))).await;
    assert_eq!(
        (s, e["error"]["details"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("title")),
        "{e}"
    );

    // Through another challenge, or unknown: 404 with where to look.
    let elsewhere = format!("/api/v1/challenges/{other}/announcements/{first_id}");
    let (s, e) = app.call(Method::DELETE, &elsewhere, ADMIN, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(e["error"]["message"].as_str().unwrap().contains("darkroom announcement list olds"), "{e}");
    let (s, _) = app.call(Method::GET, "/api/v1/challenges/nope/announcements", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app.call(Method::PUT, &format!("{path}/no-such-id"), ADMIN, Some(bad.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "what is edited is found first: {e}");

    let (s, _) = app.call(Method::DELETE, &one, ADMIN, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(Method::DELETE, &one, ADMIN, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "removed for good");
    let second_path = format!("{path}/{}", second["id"].as_str().unwrap());
    let (s, _) = app.call(Method::DELETE, &second_path, ADMIN, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, challenge) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}"), None, None).await;
    assert!(challenge.get("latest_announcement").is_none(), "the newest removed, none left: {challenge}");
    let (_, list) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");

    // At most 200 per challenge: the 201st is refused and says how to make room.
    for n in 0..200 {
        let (s, e) = app.call(Method::POST, &path, ADMIN, Some(json!({ "title": format!("note {n}") }))).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
    }
    let (s, e) = app.call(Method::POST, &path, ADMIN, Some(json!({ "title": "one too many" }))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("announcement_limit")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("remove old ones first"), "{e}");
    let (_, list) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(list.as_array().unwrap().len(), 200);
}
