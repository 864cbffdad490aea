//! Joining challenges, on SQLite and on PostgreSQL: open, by invite code (expired, used up,
//! another challenge's, raced by many), and by the organizer's approval (pending, rejected);
//! nobody submits without an active enrollment, and only the organizer admits.

use chrono::Utc;
use darkroom_tests::registry::publish;
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: Option<&str> = Some(ADMIN_TOKEN);

on_both_backends!(
    open_challenges_need_a_join_that_accepts_the_rules,
    invite_codes_admit_exactly_whom_they_should,
    approval_holds_participants_until_the_organizer_decides,
);

async fn join(app: &TestApp, slug: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, &format!("/api/v1/challenges/{slug}/join"), Some(token), Some(body)).await
}

/// A submit straight to the API (the test helper's `submit` joins first).
async fn raw_submit(app: &TestApp, slug: &str, token: &str, image: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/challenges/{slug}/submissions");
    app.call(Method::POST, &path, Some(token), Some(json!({ "image": image }))).await
}

/// Mints an invite as the organizer; returns its code.
async fn mint(app: &TestApp, path: &str, body: Value) -> String {
    let (s, b) = app.call(Method::POST, path, ADMIN, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["code"].as_str().expect("the code, shown once").to_owned()
}

fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, code: &str, says: &str) {
    let (s, body) = answer;
    assert_eq!(*s, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "'{message}' does not say '{says}'");
}

async fn open_challenges_need_a_join_that_accepts_the_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("open-doors", |s| s["rules"] = json!("Be kind. One account each.")).await;
    let (_, shown) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}"), None, None).await;
    assert_eq!(
        (shown["enrollment"].as_str(), shown["rules"].as_str()),
        (Some("open"), Some("Be kind. One account each."))
    );
    let ada = app.register("Ada").await;
    let image = publish("open-model:1").await;

    let refused = raw_submit(&app, &slug, &ada, &image).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "not_enrolled", "darkroom join open-doors");
    let (s, mine) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/enrollment"), Some(&ada), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{mine}");

    // Joining is accepting the rules: without saying so, nothing happens.
    for body in [json!({}), json!({ "accept_rules": false })] {
        let (s, b) = join(&app, &slug, &ada, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["error"]["details"][0]["field"], "accept_rules", "{b}");
    }
    let (s, b) = join(&app, &slug, &ada, json!({ "accept_rule": true })).await;
    assert!(s.is_client_error() && b["error"]["message"].as_str().unwrap().contains("accept_rule"), "{b}");
    assert_eq!(raw_submit(&app, &slug, &ada, &image).await.0, StatusCode::FORBIDDEN);

    let (s, joined) = join(&app, &slug, &ada, json!({ "accept_rules": true })).await;
    assert_eq!((s, joined["state"].as_str()), (StatusCode::OK, Some("active")), "{joined}");
    let (s, again) = join(&app, &slug, &ada, json!({ "accept_rules": true, "code": "ignored" })).await;
    assert_eq!((s, &again), (StatusCode::OK, &joined), "joining twice changes nothing");
    let (s, sub) = raw_submit(&app, &slug, &ada, &image).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");

    // The organizer's token is no participant's; a bad token is nobody.
    assert_eq!(join(&app, &slug, ADMIN_TOKEN, json!({ "accept_rules": true })).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(join(&app, &slug, "drp_nobody", json!({ "accept_rules": true })).await.0, StatusCode::UNAUTHORIZED);
    let (s, b) = join(&app, "no-such-challenge", &ada, json!({ "accept_rules": true })).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");

    // A spec with an unknown mode names the field.
    let (s, b) = app
        .call(
            Method::POST,
            "/api/v1/challenges",
            ADMIN,
            Some({
                let mut spec = darkroom_tests::fixtures::spec(&app.data_dir(), "odd-doors");
                spec["enrollment"] = json!("lottery");
                spec
            }),
        )
        .await;
    assert!(s.is_client_error() && b.to_string().contains("lottery"), "{s} {b}");
}

async fn invite_codes_admit_exactly_whom_they_should(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("by-invite", |s| s["enrollment"] = json!("invite")).await;
    let other = app.create_challenge("elsewhere", |s| s["enrollment"] = json!("invite")).await;
    let invites = format!("/api/v1/challenges/{slug}/invites");
    let single = mint(&app, &invites, json!({})).await;
    let double = mint(&app, &invites, json!({ "uses": 2 })).await;
    let soon = mint(&app, &invites, json!({ "expires_at": Utc::now() + chrono::Duration::seconds(2) })).await;
    let elsewhere = mint(&app, &format!("/api/v1/challenges/{other}/invites"), json!({})).await;
    let names = ["Ada", "Bo", "Cy", "Di", "Ed", "Fay"];
    let mut tokens = Vec::new();
    for name in names {
        tokens.push(app.register(name).await);
    }
    let accept = |code: Option<&str>| json!({ "accept_rules": true, "code": code });

    assert_refused(
        &join(&app, &slug, &tokens[0], accept(None)).await,
        StatusCode::FORBIDDEN,
        "invite_required",
        "--code",
    );
    for wrong in ["dri_00000000000000000000000000000000", elsewhere.as_str(), " "] {
        let answer = join(&app, &slug, &tokens[0], accept(Some(wrong))).await;
        let code = if wrong.trim().is_empty() { "invite_required" } else { "invite_invalid" };
        assert_refused(&answer, StatusCode::FORBIDDEN, code, "");
    }
    // Single use: the first joins, the next is refused.
    let (s, b) = join(&app, &slug, &tokens[0], accept(Some(&single))).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("active")), "{b}");
    assert_refused(
        &join(&app, &slug, &tokens[1], accept(Some(&single))).await,
        StatusCode::FORBIDDEN,
        "invite_used_up",
        "1 participant",
    );
    // Two uses, raced by four participants at once: exactly two get in.
    let raced =
        futures::future::join_all(tokens[1..5].iter().map(|t| join(&app, &slug, t, accept(Some(&double))))).await;
    let admitted = raced.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(admitted, 2, "{raced:?}");
    assert!(
        raced.iter().filter(|(s, _)| *s != StatusCode::OK).all(|(_, b)| b["error"]["code"] == "invite_used_up"),
        "{raced:?}"
    );
    // Expired.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_refused(
        &join(&app, &slug, &tokens[5], accept(Some(&soon))).await,
        StatusCode::FORBIDDEN,
        "invite_expired",
        "expired at",
    );
    // Refused joins did not join anyone; the admitted can submit, the rest cannot.
    let image = publish("invite-model:1").await;
    let (s, b) = raw_submit(&app, &slug, &tokens[0], &image).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_refused(&raw_submit(&app, &slug, &tokens[5], &image).await, StatusCode::FORBIDDEN, "not_enrolled", "join");

    // The organizer's list: use counts, never a code.
    let (s, list) = app.call(Method::GET, &invites, ADMIN, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let used: Vec<(u64, u64)> =
        list.as_array().unwrap().iter().map(|i| (i["used"].as_u64().unwrap(), i["uses"].as_u64().unwrap())).collect();
    assert_eq!(used, vec![(1, 1), (2, 2), (0, 1)]);
    for code in [&single, &double, &soon] {
        assert!(!list.to_string().contains(code.as_str()), "a stored code is listed: {list}");
    }
    let (s, enrolled) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/enrollments"), ADMIN, None).await;
    assert_eq!(s, StatusCode::OK, "{enrolled}");
    assert_eq!(enrolled.as_array().unwrap().len(), 3, "{enrolled}");
    assert!(enrolled.as_array().unwrap().iter().all(|e| e["invite"].as_str().is_some_and(|i| i.starts_with("inv_"))));

    // Refused mints, and participants cannot mint.
    for (body, field) in [
        (json!({ "uses": 0 }), "uses"),
        (json!({ "expires_at": Utc::now() - chrono::Duration::hours(1) }), "expires_at"),
    ] {
        let (s, b) = app.call(Method::POST, &invites, ADMIN, Some(body)).await;
        assert_eq!(
            (s, b["error"]["details"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{b}"
        );
    }
    let (s, b) = app.call(Method::POST, &invites, Some(&tokens[0]), Some(json!({}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, _) = app.call(Method::GET, &invites, Some(&tokens[0]), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn approval_holds_participants_until_the_organizer_decides(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("by-approval", |s| s["enrollment"] = json!("approval")).await;
    let (ada, bo) = (app.register("Ada").await, app.register("Bo").await);
    let image = publish("approval-model:1").await;
    for token in [&ada, &bo] {
        let (s, b) = join(&app, &slug, token, json!({ "accept_rules": true })).await;
        assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("pending")), "{b}");
        assert_refused(
            &raw_submit(&app, &slug, token, &image).await,
            StatusCode::FORBIDDEN,
            "enrollment_pending",
            "approval",
        );
    }
    let pending = format!("/api/v1/challenges/{slug}/enrollments?state=pending");
    let (_, list) = app.call(Method::GET, &pending, ADMIN, None).await;
    let people: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["participant"]["name"].as_str().unwrap().to_owned(), e["participant"]["id"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(people.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["Ada", "Bo"]);
    let decide = |who: &str, verb: &str, token: Option<&str>| {
        let path = format!("/api/v1/challenges/{slug}/enrollments/{who}/{verb}");
        let token = token.map(str::to_owned);
        let app = &app;
        async move { app.call(Method::POST, &path, token.as_deref(), Some(json!({}))).await }
    };
    // A participant cannot approve themselves; nonsense ids are nobody.
    assert_eq!(decide(&people[0].1, "approve", Some(&ada)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(decide("../../participants", "approve", ADMIN).await.0, StatusCode::NOT_FOUND);
    let (s, b) = decide(&uuid_nobody(), "approve", ADMIN).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");

    let (s, b) = decide(&people[0].1, "approve", ADMIN).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("active")), "{b}");
    assert!(b["decided_at"].is_string(), "{b}");
    let (s, b) = raw_submit(&app, &slug, &ada, &image).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let (s, b) = decide(&people[1].1, "reject", ADMIN).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("rejected")), "{b}");
    assert_refused(
        &raw_submit(&app, &slug, &bo, &image).await,
        StatusCode::FORBIDDEN,
        "enrollment_rejected",
        "rejected",
    );
    assert_refused(
        &join(&app, &slug, &bo, json!({ "accept_rules": true })).await,
        StatusCode::FORBIDDEN,
        "enrollment_rejected",
        "does not change",
    );
    let (_, list) = app.call(Method::GET, &pending, ADMIN, None).await;
    assert_eq!(list, json!([]), "nobody pending now");
}

fn uuid_nobody() -> String {
    "01900000-0000-7000-8000-000000000000".to_owned()
}
