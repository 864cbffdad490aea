//! Web sessions in the API (`POST /sessions`, `DELETE /sessions/current`, `DELETE /sessions`),
//! on SQLite and on PostgreSQL: a session's secret stands in for the token that opened it, on
//! every kind of endpoint, until it is revoked or expires; nothing else opens, uses or revokes
//! one; signing out everywhere ends the holder's sessions and nobody else's.

use darkroom_api::SessionCreated;
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

on_both_backends!(
    sessions_stand_in_for_their_token_until_revoked,
    sessions_expire_after_their_lifetime,
    signing_out_everywhere_ends_the_holders_sessions_and_no_one_elses
);

async fn open(app: &TestApp, token: &str) -> SessionCreated {
    let (status, body) = app.call(Method::POST, "/api/v1/sessions", Some(token), None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    SessionCreated::deserialize(&body).expect("a session")
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

async fn sessions_stand_in_for_their_token_until_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("sessions", |_| {}).await;
    let ada = app.register("Ada").await;
    let session = open(&app, &ada).await;
    assert!(session.secret.starts_with("drs_") && !session.organizer && session.secret != ada);
    let days = (session.expires_at - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&days), "a participant's session lasts 30 days, not {days}");
    let organizer = open(&app, ADMIN_TOKEN).await;
    let hours = (organizer.expires_at - chrono::Utc::now()).num_minutes();
    assert!(organizer.organizer && (11 * 60..=12 * 60).contains(&hours), "{hours} min");

    // The participant's session on a participant's endpoint, /me, and a write (join).
    let (status, me) = app.call(Method::GET, "/api/v1/me", Some(&session.secret), None).await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Ada")), "{me}");
    let join = format!("/api/v1/challenges/{slug}/join");
    let (status, body) =
        app.call(Method::POST, &join, Some(&session.secret), Some(serde_json::json!({ "accept_rules": true }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // It is not the organizer's; the organizer's session is, and is not a participant's.
    let all = format!("/api/v1/challenges/{slug}/submissions");
    assert_eq!(app.call(Method::GET, &all, Some(&session.secret), None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.call(Method::GET, &all, Some(&organizer.secret), None).await.0, StatusCode::OK);
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(&organizer.secret), None).await;
    assert_eq!(me["role"], "organizer");
    let mine = format!("/api/v1/challenges/{slug}/enrollment");
    assert_eq!(app.call(Method::GET, &mine, Some(&organizer.secret), None).await.0, StatusCode::UNAUTHORIZED);

    // Nothing opens a session but a token; a forged secret is nobody's.
    let (status, body) = app.call(Method::POST, "/api/v1/sessions", Some(&session.secret), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.call(Method::POST, "/api/v1/sessions", Some("drp_not-a-token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let forged = format!("drs_{}", "0".repeat(64));
    let (status, body) = app.call(Method::GET, "/api/v1/me", Some(&forged), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("sign in again"), "{body}");

    // Revoked: refused everywhere from then on, and revoking again says there is none. A token
    // cannot be "revoked" this way.
    let (status, body) = app.call(Method::DELETE, "/api/v1/sessions/current", Some(&ada), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app.call(Method::DELETE, "/api/v1/sessions/current", Some(&session.secret), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.call(Method::GET, "/api/v1/me", Some(&session.secret), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        app.call(Method::DELETE, "/api/v1/sessions/current", Some(&session.secret), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The token and the organizer's session are untouched.
    assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&ada), None).await.0, StatusCode::OK);
    assert_eq!(app.call(Method::GET, &all, Some(&organizer.secret), None).await.0, StatusCode::OK);
}

async fn sessions_expire_after_their_lifetime(backend: Backend) {
    let app = TestApp::spawn_configured(backend, |c| {
        c.submissions.organizer_session_seconds = 1;
        c.submissions.participant_session_seconds = 1;
    })
    .await;
    let ada = app.register("Ada").await;
    let (participant, organizer) = (open(&app, &ada).await, open(&app, ADMIN_TOKEN).await);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for (secret, path) in [(&participant.secret, "/api/v1/me"), (&organizer.secret, "/api/v1/challenges/x/spec")] {
        let (status, body) = app.call(Method::GET, path, Some(secret), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert!(message(&body).contains("expired") && message(&body).contains("sign in again"), "{body}");
    }
    // A new session from the token works again.
    let fresh = open(&app, &ada).await;
    assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&fresh.secret), None).await.0, StatusCode::OK);
}

async fn signing_out_everywhere_ends_the_holders_sessions_and_no_one_elses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bo) = (app.register("Ada").await, app.register("Bo").await);
    let (laptop, library) = (open(&app, &ada).await.secret, open(&app, &ada).await.secret);
    let (bos, organizers) = (open(&app, &bo).await.secret, open(&app, ADMIN_TOKEN).await.secret);
    let (_, scoped) =
        app.call(Method::POST, "/api/v1/tokens", Some(&ada), Some(serde_json::json!({ "scopes": ["read"] }))).await;
    let scoped = scoped["token"].as_str().unwrap().to_owned();
    let end_all = |bearer: Option<String>| {
        let app = &app;
        async move { app.call(Method::DELETE, "/api/v1/sessions", bearer.as_deref(), None).await }
    };
    let works = |bearer: String| {
        let app = &app;
        async move { app.call(Method::GET, "/api/v1/me", Some(&bearer), None).await.0 == StatusCode::OK }
    };

    // A scoped token stands for less than its holder, and no credential is nobody.
    let (status, body) = end_all(Some(scoped.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("scoped token cannot sign its holder out"), "{body}");
    assert_eq!(end_all(None).await.0, StatusCode::UNAUTHORIZED);
    assert!(works(laptop.clone()).await, "a refused sign-out ended a session");

    // From the library's browser: both of Ada's sessions end, Bo's and the organizer's stay,
    // and her token and its scoped token keep working.
    let (status, body) = end_all(Some(library.clone())).await;
    assert_eq!((status, body["ended"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
    for gone in [&laptop, &library] {
        assert!(!works(gone.clone()).await, "a session outlived signing out everywhere");
    }
    for kept in [&bos, &organizers, &ada, &scoped] {
        assert!(works(kept.clone()).await, "someone else's credential (or her token) ended");
    }
    let (_, body) = end_all(Some(ada.clone())).await;
    assert_eq!(body["ended"].as_u64(), Some(0), "{body}");

    // The organizer's ends the organizer's sessions only.
    let (_, body) = end_all(Some(ADMIN_TOKEN.to_owned())).await;
    assert_eq!(body["ended"].as_u64(), Some(1), "{body}");
    assert!(!works(organizers).await);
    assert!(works(bos).await);
}
