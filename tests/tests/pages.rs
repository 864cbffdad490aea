//! Server-side rendering of every page, read as plain HTML (no scripts run): the real frontend
//! against the real submissions service, NATS, SQLite and the MongoDB wire server.

use chrono::{Duration, Utc};
use darkroom_core::scores::{ScoreDocument, ScoreStore};
use darkroom_tests::registry::publish;
use darkroom_tests::web::{Visit, WebServer, no_redirects};
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// GETs a page, as the signed-in visitor if given.
async fn page(web: &WebServer, path: &str, visit: Option<&Visit>) -> (StatusCode, String) {
    web.get(path, visit.map(|v| v.cookie.as_str())).await
}

/// `needle`'s position in `html`, failing with the page when it is absent.
fn at(html: &str, needle: &str) -> usize {
    html.find(needle).unwrap_or_else(|| panic!("'{needle}' not on the page:\n{html}"))
}

/// The leaderboard row marked as the visitor's, whole (`<tr …>` to `</tr>`).
fn marked_row(html: &str) -> &str {
    let start = html[..at(html, "class=\"yours\"")].rfind("<tr").expect("the mark is on a row");
    &html[start..start + html[start..].find("</tr>").expect("the row ends")]
}

async fn participant_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(token), None).await;
    me["id"].as_str().expect("participant id").to_owned()
}

async fn record_score(app: &TestApp, submission: &str, participant: &str, accuracy: f64) {
    let store = ScoreStore::new(&app.config.mongodb).await.expect("mongo");
    let now = Utc::now();
    let doc = ScoreDocument {
        submission_id: submission.to_owned(),
        challenge: "pages".into(),
        phase: "dev".into(),
        participant_id: participant.to_owned(),
        attempt: 1,
        metrics: [("accuracy".to_owned(), accuracy), ("roc_auc".to_owned(), accuracy / 2.0)].into(),
        rank_value: accuracy,
        direction: darkroom_core::domain::Direction::HigherIsBetter,
        submitted_at: darkroom_core::scores::to_bson_time(now),
        scored_at: darkroom_core::scores::to_bson_time(now),
        image_digest: None,
        evaluation_image: "darkroom-eval:1".into(),
        evaluation_image_digest: None,
    };
    store.record(&doc).await.expect("score recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_list_groups_open_upcoming_and_closed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("now-open", |s| s["title"] = json!("Open Now")).await;
    app.create_challenge("later", |s| {
        s["title"] = json!("Coming Later");
        let start = Utc::now() + Duration::days(3);
        s["phases"] = json!([{ "name": "dev", "starts_at": start, "ends_at": start + Duration::days(5) }]);
    })
    .await;
    app.create_challenge("over", |s| {
        s["title"] = json!("All Over");
        let start = Utc::now() - Duration::days(9);
        s["phases"] = json!([{ "name": "dev", "starts_at": start, "ends_at": start + Duration::days(2) }]);
    })
    .await;

    let (status, html) = page(&web, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    let (open, upcoming, closed) = (
        at(&html, "id=\"challenges-open\""),
        at(&html, "id=\"challenges-upcoming\""),
        at(&html, "id=\"challenges-closed\""),
    );
    let (a, b, c) = (at(&html, "Open Now"), at(&html, "Coming Later"), at(&html, "All Over"));
    assert!(open < a && a < upcoming && upcoming < b && b < closed && closed < c, "grouping wrong:\n{html}");
    assert!(html.contains("href=\"/challenges/now-open/leaderboard\""));
    // The page is hydrated in the browser: the scripts are referenced.
    assert!(html.contains("/pkg/darkroom.js"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_page_shows_phases_dataset_metrics_rules_and_no_secrets() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;

    let (status, html) = page(&web, "/challenges/pages", None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for needle in [
        "Nuclei magnification",
        "Tell 20X from 40X.",
        "closes in 29 d",
        "opens in 30 d",
        "train/labels.csv",
        "README.txt",
        "accuracy",
        "higher is better",
        "ranks the leaderboard",
        "5 per rolling 24 hours",
        "20 in the whole phase",
        "512 MiB memory",
        "You can read your own run",
    ] {
        at(&html, needle);
    }
    // Never the host paths of the data or ground truth, nor the evaluation image.
    let dir = app.data_dir().display().to_string();
    assert!(!html.contains(&dir), "a host path leaked:\n{html}");
    assert!(!html.contains("darkroom-demo-eval:1"), "the evaluation image leaked:\n{html}");
    // The dataset's fingerprint is shown; the evaluation image id and the ground truth's
    // fingerprint are not.
    let (_, spec) = app.call(Method::GET, "/api/v1/challenges/pages/spec", Some(ADMIN_TOKEN), None).await;
    at(&html, &format!("sha256:{}", spec["dataset"]["fingerprint"]["digest"].as_str().unwrap()));
    let image_id = spec["evaluation"]["image_id"].as_str().unwrap();
    assert!(!html.contains(image_id.trim_start_matches("sha256:")), "the evaluation image id leaked:\n{html}");
    let truth = spec["ground_truth"]["fingerprint"]["digest"].as_str().unwrap();
    assert!(!html.contains(truth), "the ground truth's fingerprint leaked:\n{html}");
    assert!(!html.contains("All submissions"), "a visitor sees the organizer's link");

    let organizer = web.sign_in(ADMIN_TOKEN).await;
    let (status, html) = page(&web, "/challenges/pages", Some(&organizer)).await;
    assert_eq!(status, StatusCode::OK);
    at(&html, "href=\"/challenges/pages/submissions\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_and_a_dead_api_get_clear_pages_with_their_status() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    for path in ["/challenges/nope", "/challenges/nope/leaderboard", "/no/such/page"] {
        let (status, html) = page(&web, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {html}");
        at(&html, "No such");
    }
    app.create_challenge("pages", |_| {}).await;
    let (status, html) = page(&web, "/challenges/pages/leaderboard?phase=nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    at(&html, "has no phase");

    // A frontend whose API is down says so, with 503, instead of an empty page.
    let dead = WebServer::spawn(&app.config, "http://127.0.0.1:9").await;
    for path in ["/", "/challenges/pages", "/challenges/pages/leaderboard"] {
        let (status, html) = page(&dead, path, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {html}");
        at(&html, "Something went wrong on our side");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaderboard_page_ranks_best_scores_with_every_metric() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let (_, empty) = page(&web, "/challenges/pages/leaderboard", None).await;
    at(&empty, "No scores yet");

    let mut tokens = Vec::new();
    for (name, accuracy) in [("Low Lab", 0.61), ("High Lab", 0.93), ("Mid Lab", 0.75)] {
        let token = app.register(name).await;
        let (_, sub) = app.submit("pages", &token, &publish("some-model:1").await).await;
        record_score(&app, sub["id"].as_str().unwrap(), &participant_id(&app, &token).await, accuracy).await;
        tokens.push(token);
    }
    let (status, html) = page(&web, "/challenges/pages/leaderboard", None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let (high, mid, low) = (at(&html, "High Lab"), at(&html, "Mid Lab"), at(&html, "Low Lab"));
    assert!(high < mid && mid < low, "not ranked by accuracy:\n{html}");
    for needle in ["0.9300", "0.4650", "roc_auc", "ranked by accuracy (higher is better)", "Phase dev"] {
        at(&html, needle);
    }
    // Both phases are offered.
    at(&html, "href=\"/challenges/pages/leaderboard?phase=final\"");
    // Signed out: no line is anyone's.
    assert!(!html.contains("your-line") && !html.contains("class=\"yours\""), "{html}");

    // Signed in, a participant finds their own line marked and their place said; one without a
    // score is told so; the organizer is no one on the board.
    let low_lab = web.sign_in(&tokens[0]).await;
    let (_, html) = page(&web, "/challenges/pages/leaderboard", Some(&low_lab)).await;
    at(&html, "You are <strong>#3</strong> of 3 on this board.");
    let row = marked_row(&html);
    assert!(row.contains("data-participant=\"Low Lab\"") && row.contains("aria-current=\"true\""), "{row}");
    assert_eq!(html.matches("class=\"yours\"").count(), 1, "{html}");
    let newcomer = web.sign_in(&app.register("New Lab").await).await;
    let (_, html) = page(&web, "/challenges/pages/leaderboard", Some(&newcomer)).await;
    at(&html, "You have no score on this board yet.");
    assert!(!html.contains("class=\"yours\""), "{html}");
    let organizer = web.sign_in(ADMIN_TOKEN).await;
    let (_, html) = page(&web, "/challenges/pages/leaderboard", Some(&organizer)).await;
    assert!(!html.contains("your-line") && !html.contains("class=\"yours\""), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_see_only_their_own_submissions_and_organizers_see_all() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let alice = app.register("Alice").await;
    let bob = app.register("Bob").await;
    let (_, a) = app.submit("pages", &alice, &publish("alice-model:1").await).await;
    let (_, b) = app.submit("pages", &bob, &publish("bob-model:7").await).await;
    let (a, b) = (a["id"].as_str().unwrap().to_owned(), b["id"].as_str().unwrap().to_owned());
    let (alice, organizer) = (web.sign_in(&alice).await, web.sign_in(ADMIN_TOKEN).await);

    // Signed out: a clear request to sign in, with 401.
    let (status, html) = page(&web, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    at(&html, "Sign in to see this page");

    let (status, html) = page(&web, "/me", Some(&alice)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    at(&html, &a);
    at(&html, "alice-model@sha256:"); // the pinned name is what the participant sees
    assert!(!html.contains(&b) && !html.contains("bob-model"), "Alice sees Bob's submission:\n{html}");

    // Her submission's page: timeline and state; Bob's is not found for her.
    let (status, html) = page(&web, &format!("/submissions/{a}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    at(&html, "Timeline");
    at(&html, "QUEUED");
    let (status, _) = page(&web, &format!("/submissions/{b}"), Some(&alice)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The organizer's view lists both with their owners; a participant is refused.
    let (status, html) = page(&web, "/challenges/pages/submissions", Some(&organizer)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for needle in [&a, &b, "Alice", "Bob", "Cancel"] {
        at(&html, needle);
    }
    let (status, html) = page(&web, "/challenges/pages/submissions", Some(&alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(!html.contains(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_work_without_scripts_sign_in_cancel_and_rerun() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let alice = app.register("Alice").await;
    let (_, a) = app.submit("pages", &alice, &publish("alice-model:1").await).await;
    let a = a["id"].as_str().unwrap().to_owned();

    // Sign-in: a wrong token is refused and sets no session; the right one sets an HttpOnly,
    // SameSite=Strict cookie (not Secure over http) holding a session, and goes to /me.
    let wrong = web.try_sign_in("not-a-token").await;
    assert!(wrong.visit.is_none(), "{:?}", wrong.set_cookie);
    let signed = web.try_sign_in(&alice).await;
    assert!(signed.status.is_redirection(), "{}", signed.status);
    assert_eq!(signed.location, "/me");
    let cookie = signed.set_cookie.iter().find(|c| c.starts_with("darkroom_session=")).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure") && !cookie.contains(&alice), "{cookie}");
    let alice_visit = signed.visit.expect("signed in");
    let organizer = web.sign_in(ADMIN_TOKEN).await;

    // Cancel from her page (a plain form post), then the organizer re-runs it.
    let (status, _) = post_form(&web, "/fn/cancel", Some(&alice_visit), "/me", &[("id", &a), ("back", "/me")]).await;
    assert!(status.is_redirection(), "{status}");
    let sub = app.wait_for(&a, &alice, |s| s["state"] == "CANCELLED").await;
    assert_eq!(sub["state"], "CANCELLED");

    let from = "/challenges/pages/submissions";
    let rerun = [("id", a.as_str()), ("back", "//evil.example/\r\nx")];
    let (status, location) = post_form(&web, "/fn/rerun", Some(&organizer), from, &rerun).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(location, "/", "an off-site 'back' must not be followed");
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&alice), None).await;
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 2, "the re-run is a new submission: {mine:?}");
    assert!(mine.iter().any(|s| s["state"] == "QUEUED" && s["counts_against_quota"] == false));

    // A participant cannot re-run: the API refuses and nothing new appears.
    let (status, location) =
        post_form(&web, "/fn/rerun", Some(&alice_visit), "/me", &[("id", &a), ("back", "/me")]).await;
    assert_ne!(location, "/me", "a refused re-run must not look like a success ({status})");
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&alice), None).await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
}

/// In a team challenge the marked line is the team's, whichever member's score it shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_members_leaderboard_marks_the_teams_line() {
    use darkroom_tests::scoring::{Evaluation, complete};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let slug = app.create_challenge("team-pages", |s| s["max_team_size"] = json!(2)).await;
    let (ada, bo, cy) = (app.register("Ada").await, app.register("Bo").await, app.register("Cy").await);
    app.join(&slug, &ada).await;
    let teams = format!("/api/v1/challenges/{slug}/teams");
    let (_, team) = app.call(Method::POST, &teams, Some(&ada), Some(json!({ "name": "Lab A" }))).await;
    app.join(&slug, &bo).await;
    let code = json!({ "code": team["code"] });
    let (s, _) = app.call(Method::POST, &format!("{teams}/join"), Some(&bo), Some(code)).await;
    assert_eq!(s, StatusCode::OK);
    for (token, accuracy) in [(&bo, 0.9), (&cy, 0.95)] {
        let (_, sub) = app.submit(&slug, token, &publish("team-model:1").await).await;
        let id = sub["id"].as_str().unwrap().to_owned();
        complete(&app, token, &id, &Evaluation { public: accuracy, private: accuracy, private_cases: None }).await;
    }
    let ada_visit = web.sign_in(&ada).await;
    let (_, html) = page(&web, &format!("/challenges/{slug}/leaderboard"), Some(&ada_visit)).await;
    at(&html, "You are <strong>#2</strong> of 2 on this board.");
    let row = marked_row(&html);
    assert!(row.contains("data-participant=\"Bo\"") && row.contains("Lab A"), "{row}");
}

/// A participant's note: shown under the image in their list and the organizer's, as text (no
/// markup of theirs survives), written from the submission's page by its owner only; a bad one
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_writes_their_submissions_note_from_its_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let (alice, bob) = (app.register("Alice").await, app.register("Bob").await);
    app.join("pages", &alice).await;
    let body = json!({ "image": publish("alice-model:1").await, "note": "<b>big</b> & <script>alert(1)</script>" });
    let (_, a) = app.call(Method::POST, "/api/v1/challenges/pages/submissions", Some(&alice), Some(body)).await;
    let a = a["id"].as_str().unwrap().to_owned();
    let (alice_visit, bob_visit, organizer) =
        (web.sign_in(&alice).await, web.sign_in(&bob).await, web.sign_in(ADMIN_TOKEN).await);

    let escaped = "&lt;b&gt;big&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;";
    for (path, visit) in [("/me", &alice_visit), ("/challenges/pages/submissions", &organizer)] {
        let (_, html) = page(&web, path, Some(visit)).await;
        at(&html, &format!(r#"<span class="submission-note">{escaped}</span>"#));
        assert!(!html.contains("<script>alert(1)") && !html.contains("<b>big"), "markup survived on {path}:\n{html}");
    }
    let here = format!("/submissions/{a}");
    let (_, html) = page(&web, &here, Some(&alice_visit)).await;
    at(&html, r#"id="note-text""#);
    at(&html, &format!(r#"value="{escaped}""#));

    let note = || async {
        app.call(Method::GET, &format!("/api/v1/submissions/{a}"), Some(&alice), None).await.1["note"].clone()
    };
    let (status, location) =
        post_form(&web, "/fn/note", Some(&alice_visit), &here, &[("id", &a), ("note", "resnet50")]).await;
    assert!(status.is_redirection() && location == here, "{status} {location}");
    assert_eq!(note().await, "resnet50");
    // Refused: too long, and from someone else's session. Neither looks like a success.
    let long = "x".repeat(201);
    let (_, location) = post_form(&web, "/fn/note", Some(&alice_visit), &here, &[("id", &a), ("note", &long)]).await;
    assert_ne!(location, here, "a refused note must not look saved");
    let (_, location) = post_form(&web, "/fn/note", Some(&bob_visit), "/me", &[("id", &a), ("note", "Bob's")]).await;
    assert_ne!(location, here);
    assert_eq!(note().await, "resnet50");

    // The organizer reads it on the page, without the form.
    let (_, html) = page(&web, &here, Some(&organizer)).await;
    at(&html, "resnet50");
    assert!(!html.contains(r#"id="note-text""#), "{html}");
}

/// The cookie holds a session, never the token: the API takes the session's secret in place of
/// the token, but no forged one, and none once signed out (replaying the old cookie included);
/// a session cannot open another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stand_in_for_the_token_until_signed_out() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let alice = app.register("Alice").await;
    let (_, a) = app.submit("pages", &alice, &publish("alice-model:1").await).await;
    let a = a["id"].as_str().unwrap().to_owned();
    let visit = web.sign_in(&alice).await;
    let secret = visit.secret().to_owned();
    assert!(secret.starts_with("drs_") && secret.len() == 68, "{secret}");
    assert!(!visit.cookie.contains(&alice) && !alice.contains(&secret), "the cookie carries the token");

    // The API accepts the session as it would the token; a forged session and the token's
    // hash are unknown.
    let (status, me) = app.call(Method::GET, "/api/v1/me", Some(&secret), None).await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Alice")), "{me}");
    let forged = format!("drs_{}", "ab".repeat(32));
    let (status, body) = app.call(Method::GET, "/api/v1/me", Some(&forged), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("sign in again"), "{body}");
    let (status, _) = web.get("/me", Some(&format!("darkroom_session={forged}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app.call(Method::POST, "/api/v1/sessions", Some(&secret), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a session opened another: {body}");

    // Signing out (the header's form) revokes it and clears the cookie.
    let http = no_redirects();
    let answer = http
        .post(web.url("/fn/sign-out"))
        .header("accept", "text/html")
        .header("referer", web.url("/me"))
        .header("cookie", &visit.cookie)
        .form(&[("csrf", visit.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    assert_eq!(answer.headers()["location"], "/");
    let cleared: Vec<_> = answer.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("darkroom_session=;") && c.contains("Max-Age=0")), "{cleared:?}");
    let (status, body) = app.call(Method::GET, "/api/v1/me", Some(&secret), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked session still works: {body}");

    // The old cookie replayed: signed out on the pages, and its forms change nothing.
    let (status, html) = page(&web, "/me", Some(&visit)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    at(&html, "Sign in to see this page");
    let replay = [("id", a.as_str()), ("back", "/me"), ("csrf", visit.csrf.as_str())];
    let (_, location) = post(&web, "/fn/cancel", Some(&visit.cookie), "/me", &replay).await;
    assert!(location.contains("__err="), "{location}");
    let (_, sub) = app.call(Method::GET, &format!("/api/v1/submissions/{a}"), Some(&alice), None).await;
    assert_eq!(sub["state"], "QUEUED");
    // The token itself still works, and signs in again.
    assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&alice), None).await.0, StatusCode::OK);
    let again = web.sign_in(&alice).await;
    assert_ne!(again.secret(), secret);

    // Her token leaked and she replaced it: the browser it signed in is signed out, the old
    // token signs in nowhere and the form says why, the new one signs in.
    let (status, replaced) = app.call(Method::POST, "/api/v1/me/token", Some(&alice), None).await;
    assert_eq!(status, StatusCode::CREATED, "{replaced}");
    let (status, html) = page(&web, "/me", Some(&again)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    at(&html, "Sign in to see this page");
    let old = web.try_sign_in(&alice).await;
    assert!(old.visit.is_none(), "{:?}", old.set_cookie);
    let (_, form) = web.get(old.location.trim_start_matches(&web.url("")), None).await;
    at(&form, "this token was replaced with the token itself on");
    let renewed = web.sign_in(replaced["token"].as_str().unwrap()).await;
    let (status, html) = page(&web, "/me", Some(&renewed)).await;
    assert_eq!(status, StatusCode::OK);
    at(&html, "Alice");
}

/// An organizer's session lasts `organizer_session_seconds` (at most 12 hours): after it, the
/// API and the pages refuse it, saying it expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizer_sessions_expire() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.submissions.organizer_session_seconds = 2).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let alice = app.register("Alice").await;
    let (organizer, participant) = (web.sign_in(ADMIN_TOKEN).await, web.sign_in(&alice).await);
    let (status, body) =
        app.call(Method::GET, "/api/v1/challenges/pages/submissions", Some(organizer.secret()), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, body) =
        app.call(Method::GET, "/api/v1/challenges/pages/submissions", Some(organizer.secret()), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");
    let (status, html) = page(&web, "/challenges/pages/submissions", Some(&organizer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{html}");
    // The participant's session (30 days by default) is unaffected.
    let (status, _) = page(&web, "/me", Some(&participant)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Every state-changing form carries a CSRF token: a post without it, or with another
/// session's, is refused and changes nothing; the page's own succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_their_csrf_token_change_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let (alice, bob) = (app.register("Alice").await, app.register("Bob").await);
    let (_, a) = app.submit("pages", &alice, &publish("alice-model:1").await).await;
    let a = a["id"].as_str().unwrap().to_owned();
    let (alice_visit, bob_visit) = (web.sign_in(&alice).await, web.sign_in(&bob).await);
    let state = || async { app.call(Method::GET, &format!("/api/v1/submissions/{a}"), Some(&alice), None).await.1 };

    // The form on her page carries her session's token, and it is not her session's secret.
    let (_, html) = page(&web, "/me", Some(&alice_visit)).await;
    let field = darkroom_tests::web::csrf_field(&html).expect("a CSRF field");
    assert_eq!(field, alice_visit.csrf);
    assert!(!html.contains(alice_visit.secret()), "the page shows the session secret");

    let cancel = |csrf: Option<&str>| {
        let mut form = vec![("id", a.as_str()), ("back", "/me")];
        form.extend(csrf.map(|c| ("csrf", c)));
        let form: Vec<(String, String)> = form.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let (web, cookie) = (&web, alice_visit.cookie.clone());
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post(web, "/fn/cancel", Some(&cookie), "/me", &form).await
        }
    };
    for (csrf, why) in [(None, "without its CSRF token"), (Some(bob_visit.csrf.as_str()), "is not your session")] {
        let (_, location) = cancel(csrf).await;
        assert!(location.contains("__err="), "a post {why} looked like a success: {location}");
        let shown = web.get(&location.replace(&web.url(""), ""), Some(&alice_visit.cookie)).await.1;
        assert!(shown.contains(why), "the page does not say the form {why}");
        assert_eq!(state().await["state"], "QUEUED", "a post {why} cancelled the submission");
    }
    let (status, location) = cancel(Some(&alice_visit.csrf)).await;
    assert!(status.is_redirection() && location == "/me", "{status} {location}");
    app.wait_for(&a, &alice, |s| s["state"] == "CANCELLED").await;

    // Sign-in (no session yet) repeats the CSRF cookie in its form: without the cookie, or
    // with a field that does not match it, nobody is signed in.
    let (_, html) = web.get("/sign-in", None).await;
    let field = darkroom_tests::web::csrf_field(&html).expect("a CSRF field on the sign-in form");
    let without_cookie = [("token", alice.as_str()), ("csrf", field.as_str())];
    let (_, location) = post(&web, "/fn/sign-in", None, "/sign-in", &without_cookie).await;
    assert!(location.contains("__err="), "{location}");
    let zeros = "0".repeat(64);
    let mismatched = [("token", alice.as_str()), ("csrf", zeros.as_str())];
    let (_, location) =
        post(&web, "/fn/sign-in", Some(&format!("darkroom_csrf={field}")), "/sign-in", &mismatched).await;
    assert!(location.contains("__err="), "{location}");

    // Sign-out without the token leaves the session alive.
    let (_, location) = post(&web, "/fn/sign-out", Some(&bob_visit.cookie), "/", &[]).await;
    assert!(location.contains("__err="), "{location}");
    assert_eq!(app.call(Method::GET, "/api/v1/me", Some(bob_visit.secret()), None).await.0, StatusCode::OK);
}

/// The live feed admits `live_max_per_client` feeds per client address and `live_max_total` in
/// all; the next is refused with 429 or 503 and a message; a closed feed frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_caps_subscribers_per_address_and_in_total() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn_configured(&app.config, &app.addr, |c| {
        c.frontend.live_max_per_client = 2;
        c.frontend.live_max_total = 3;
    })
    .await;
    app.create_challenge("pages", |_| {}).await;
    let url = web.url("/live/pages");
    // Each client its own loopback address (Linux routes all of 127/8 to the loopback device).
    let from = |address: &str| {
        reqwest::Client::builder().local_address(address.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
    };
    let open = |client: reqwest::Client| {
        let url = url.clone();
        async move { client.get(url).send().await.expect("live feed request") }
    };
    let (one, two) = (from("127.0.0.1"), from("127.0.0.2"));
    let first = open(one.clone()).await;
    let second = open(one.clone()).await;
    for feed in [&first, &second] {
        assert_eq!(feed.status(), StatusCode::OK);
        assert_eq!(feed.headers()["content-type"], "text/event-stream");
    }
    let refused = open(one.clone()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let message = refused.text().await.unwrap();
    assert!(message.contains("live_max_per_client") && message.contains("re-reads the board"), "{message}");

    // Another address is still admitted, up to the total.
    let third = open(two.clone()).await;
    assert_eq!(third.status(), StatusCode::OK);
    let refused = open(from("127.0.0.3")).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let message = refused.text().await.unwrap();
    assert!(message.contains("live_max_total"), "{message}");

    // A feed that closes frees its place (once the server notices the connection is gone).
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let again = open(one.clone()).await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a closed feed never freed its place: {}", again.status());
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    drop((second, third));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_names_who_is_signed_in_on_every_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let alice = app.register("Alice").await;
    let (_, a) = app.submit("pages", &alice, &publish("alice-model:1").await).await;
    let a = a["id"].as_str().unwrap().to_owned();
    let alice = web.sign_in(&alice).await;
    for path in ["/", "/me", "/challenges/pages", "/challenges/pages/leaderboard", &format!("/submissions/{a}")] {
        let (status, html) = page(&web, path, Some(&alice)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        let header = &html[..html.find("</header>").unwrap_or_else(|| panic!("{path} has no header:\n{html}"))];
        assert!(header.contains("Signed in as Alice"), "{path}'s header does not say who is signed in:\n{header}");
        assert!(!header.contains("href=\"/sign-in\""), "{path}'s header offers to sign in:\n{header}");
    }
}

/// A plain form post as a browser without scripts sends it (HTML accepted, redirects not
/// followed, the page it came from as Referer), with `cookie` (`name=value`) and exactly the
/// fields given; returns the status and where it redirects.
async fn post(
    web: &WebServer,
    path: &str,
    cookie: Option<&str>,
    from: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut req =
        no_redirects().post(web.url(path)).header("accept", "text/html").header("referer", web.url(from)).form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
    (resp.status(), location)
}

/// [`post`] as a signed-in visitor's browser sends a form of the page `from`: with the session
/// cookie and the CSRF token read from that page's form.
async fn post_form(
    web: &WebServer,
    path: &str,
    visit: Option<&Visit>,
    from: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut fields = form.to_vec();
    let csrf = match visit {
        Some(v) => {
            let (_, html) = page(web, from, Some(v)).await;
            Some(darkroom_tests::web::csrf_field(&html).unwrap_or_else(|| panic!("no CSRF field on {from}:\n{html}")))
        }
        None => None,
    };
    if let Some(c) = &csrf {
        fields.push(("csrf", c));
    }
    post(web, path, visit.map(|v| v.cookie.as_str()), from, &fields).await
}

/// Joining from the challenge's page, and the organizer approving from theirs: the forms work
/// without scripts, a form without the rules ticked or with a bad code joins nobody and shows
/// why, and a participant's post to the organizer's form changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_join_and_the_organizer_approves_from_the_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let invite = app.create_challenge("page-invite", |s| s["enrollment"] = json!("invite")).await;
    let approval = app
        .create_challenge("page-approval", |s| {
            s["enrollment"] = json!("approval");
            s["rules"] = json!("No sharing of predictions between teams.");
        })
        .await;
    let (ada_token, bo_token) = (app.register("Ada").await, app.register("Bo").await);
    let (ada, bo, organizer) =
        (web.sign_in(&ada_token).await, web.sign_in(&bo_token).await, web.sign_in(ADMIN_TOKEN).await);
    let app = &app;
    let enrollment = |slug: String, token: String| async move {
        app.call(Method::GET, &format!("/api/v1/challenges/{slug}/enrollment"), Some(&token), None).await
    };

    // Visitors are asked to sign in; a participant gets the form (with a code field where needed).
    let (_, html) = page(&web, &format!("/challenges/{approval}"), None).await;
    assert!(html.contains("as a participant to join") && !html.contains("id=\"join\""), "{html}");
    let (_, html) = page(&web, &format!("/challenges/{approval}"), Some(&ada)).await;
    at(&html, "id=\"join\"");
    at(&html, "No sharing of predictions between teams.");
    assert!(!html.contains("name=\"code\""), "{html}");
    let (_, html) = page(&web, &format!("/challenges/{invite}"), Some(&ada)).await;
    at(&html, "name=\"code\"");

    // Refused: the rules not ticked; a wrong code. Nobody joined, and the page says why.
    let from = format!("/challenges/{invite}");
    let (_, location) =
        post_form(&web, "/fn/join", Some(&ada), &from, &[("slug", &invite), ("code", "dri_wrong")]).await;
    assert!(location.contains("__err="), "{location}");
    let (_, location) = post_form(
        &web,
        "/fn/join",
        Some(&ada),
        &from,
        &[("slug", &invite), ("code", "dri_wrong"), ("accept_rules", "true")],
    )
    .await;
    let (_, shown) = web.get(&location.replace(&web.url(""), ""), Some(&ada.cookie)).await;
    assert!(shown.contains("id=\"join-error\"") && shown.contains("not an invite code"), "{shown}");
    assert_eq!(enrollment(invite.clone(), ada_token.clone()).await.0, StatusCode::NOT_FOUND);

    // Asking to join the approval challenge: pending, shown on the page.
    let from = format!("/challenges/{approval}");
    let (status, location) =
        post_form(&web, "/fn/join", Some(&ada), &from, &[("slug", &approval), ("accept_rules", "true")]).await;
    assert!(status.is_redirection() && location == from, "{status} {location}");
    let (_, html) = page(&web, &from, Some(&ada)).await;
    at(&html, "data-state=\"pending\"");
    assert!(!html.contains("id=\"quota\""), "no quota before she may submit: {html}");

    // The organizer's page lists her; a participant's post of the organizer's form is refused.
    let organizer_page = format!("/challenges/{approval}/submissions");
    let (_, html) = page(&web, &organizer_page, Some(&organizer)).await;
    at(&html, "id=\"pending-enrollments\"");
    let ada_id = participant_id(app, &ada_token).await;
    at(&html, &format!("data-participant=\"{ada_id}\""));
    let decide = [("slug", approval.as_str()), ("participant", ada_id.as_str()), ("verb", "approve")];
    let (_, location) = post_form(&web, "/fn/decide", Some(&bo), &organizer_page, &decide).await;
    assert!(location.contains("__err="), "{location}");
    let odd = [("slug", approval.as_str()), ("participant", ada_id.as_str()), ("verb", "delete")];
    let (_, location) = post_form(&web, "/fn/decide", Some(&organizer), &organizer_page, &odd).await;
    assert!(location.contains("__err="), "{location}");
    assert_eq!(enrollment(approval.clone(), ada_token.clone()).await.1["state"], "pending");

    let (status, location) = post_form(&web, "/fn/decide", Some(&organizer), &organizer_page, &decide).await;
    assert!(status.is_redirection() && location == organizer_page, "{status} {location}");
    assert_eq!(enrollment(approval.clone(), ada_token.clone()).await.1["state"], "active");
    let (_, html) = page(&web, &from, Some(&ada)).await;
    at(&html, "data-state=\"active\"");
    // Once she may submit, what the quotas leave her, counted as a submit counts it.
    let line = "You have 5 submissions left in phase dev (0 of 5 used in the last 24 hours, 0 of 20 in the phase).";
    at(&html, &format!("<p id=\"quota\" class=\"quota\">{line}</p>"));
    assert_eq!(app.submit(&approval, &ada_token, &publish("ada-model:1").await).await.0, StatusCode::ACCEPTED);
    let (_, html) = page(&web, &from, Some(&ada)).await;
    at(&html, "You have 4 submissions left in phase dev (1 of 5 used in the last 24 hours, 1 of 20 in the phase).");
    let (_, html) = page(&web, &organizer_page, Some(&organizer)).await;
    assert!(!html.contains("id=\"pending-enrollments\""), "nobody waits any more: {html}");
}

/// The organizer disqualifies a participant from their page, without scripts: only they may;
/// an empty reason is refused and changes nothing; the participant reads the reason on the
/// challenge's page, their teammate reads that the team is out (not why), the public board
/// loses the team's line, and the page's Reinstate brings it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organizer_disqualifies_and_reinstates_from_the_pages() {
    use darkroom_tests::scoring::{Evaluation, complete};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let slug = app
        .create_challenge("page-fair", |s| {
            s["quotas"] = json!({});
            s["max_team_size"] = json!(2);
        })
        .await;
    let (ada_token, bo_token, cy_token) =
        (app.register("Ada").await, app.register("Bo").await, app.register("Cy").await);
    // Ada and Cy are team "Lab A".
    app.join(&slug, &ada_token).await;
    let (_, team) = app
        .call(
            Method::POST,
            &format!("/api/v1/challenges/{slug}/teams"),
            Some(&ada_token),
            Some(json!({"name": "Lab A"})),
        )
        .await;
    app.join(&slug, &cy_token).await;
    let join_team = format!("/api/v1/challenges/{slug}/teams/join");
    let (status, b) = app.call(Method::POST, &join_team, Some(&cy_token), Some(json!({ "code": team["code"] }))).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    for (token, image, public) in [(&ada_token, "ada-fair:1", 0.9), (&bo_token, "bo-fair:1", 0.8)] {
        let (status, sub) = app.submit(&slug, token, &publish(image).await).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
        let id = sub["id"].as_str().unwrap();
        complete(&app, token, id, &Evaluation { public, private: public, private_cases: None }).await;
    }
    let (ada, bo, organizer) =
        (web.sign_in(&ada_token).await, web.sign_in(&bo_token).await, web.sign_in(ADMIN_TOKEN).await);
    let ada_id = participant_id(&app, &ada_token).await;
    let disqualified = || async {
        let path = format!("/api/v1/challenges/{slug}/enrollment");
        app.call(Method::GET, &path, Some(&ada_token), None).await.1.get("disqualified").cloned()
    };
    let board = format!("/challenges/{slug}/leaderboard");
    let (_, html) = page(&web, &board, None).await;
    assert!(html.contains("Lab A") && html.contains("Bo"), "{html}");
    let cy = web.sign_in(&cy_token).await;

    // The form offers whoever joined; nobody is disqualified yet.
    let organizer_page = format!("/challenges/{slug}/submissions");
    let (_, html) = page(&web, &organizer_page, Some(&organizer)).await;
    at(&html, "id=\"disqualifications\"");
    at(&html, &format!("<option value=\"{ada_id}\">Ada ("));
    assert!(!html.contains("id=\"disqualified\""), "{html}");

    // Refused: a participant's post of the organizer's form; an empty reason.
    let why = "two accounts: see the rules, section 3";
    let form = [("slug", slug.as_str()), ("participant", ada_id.as_str()), ("reason", why)];
    let (_, location) = post_form(&web, "/fn/disqualify", Some(&bo), &organizer_page, &form).await;
    assert!(location.contains("__err="), "{location}");
    let blank = [("slug", slug.as_str()), ("participant", ada_id.as_str()), ("reason", "  ")];
    let (_, location) = post_form(&web, "/fn/disqualify", Some(&organizer), &organizer_page, &blank).await;
    assert!(location.contains("__err="), "{location}");
    assert_eq!(disqualified().await, None);

    // A viewer's live board is told to read itself again: the board changed without a score.
    let mut feed = reqwest::Client::new().get(web.url(&format!("/live/{slug}"))).send().await.expect("live feed");
    assert_eq!(feed.status(), StatusCode::OK);
    let (status, location) = post_form(&web, "/fn/disqualify", Some(&organizer), &organizer_page, &form).await;
    assert!(status.is_redirection() && location == organizer_page, "{status} {location}");
    assert_eq!(disqualified().await.unwrap()["reason"], why);
    let mut heard = String::new();
    while !heard.contains("event: refresh") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), feed.chunk()).await;
        let chunk = chunk.unwrap_or_else(|_| panic!("no refresh on the live feed within 10 s: {heard:?}"));
        heard.push_str(&String::from_utf8_lossy(&chunk.expect("feed open").expect("feed open")));
    }
    drop(feed);
    let (_, html) = page(&web, &organizer_page, Some(&organizer)).await;
    let listed = &html[at(&html, "id=\"disqualified\"")..];
    assert!(listed.contains(&format!("data-participant=\"{ada_id}\"")) && listed.contains(why), "{listed}");
    assert!(!html.contains(&format!("<option value=\"{ada_id}\"")), "not offered twice: {html}");

    // She reads why; the board no longer shows her.
    let (_, html) = page(&web, &format!("/challenges/{slug}"), Some(&ada)).await;
    at(&html, "data-state=\"disqualified\"");
    at(&html, &format!(": {why}. You cannot submit to it."));
    assert!(!html.contains("id=\"quota\""), "{html}");
    let (_, html) = page(&web, &board, None).await;
    assert!(!html.contains("Lab A") && html.contains("Bo"), "{html}");
    // Her teammate is told the team is out, not why.
    let (_, html) = page(&web, &format!("/challenges/{slug}"), Some(&cy)).await;
    at(&html, "id=\"team-disqualified\"");
    at(&html, "You have joined this challenge, but your team cannot submit to it now");
    assert!(!html.contains("two accounts") && !html.contains("you can submit to it."), "{html}");

    let reinstate = [("slug", slug.as_str()), ("participant", ada_id.as_str()), ("verb", "reinstate")];
    let (status, location) = post_form(&web, "/fn/decide", Some(&organizer), &organizer_page, &reinstate).await;
    assert!(status.is_redirection() && location == organizer_page, "{status} {location}");
    assert_eq!(disqualified().await, None);
    let (_, html) = page(&web, &board, None).await;
    assert!(html.contains("Lab A"), "{html}");
    let (_, html) = page(&web, &format!("/challenges/{slug}"), Some(&cy)).await;
    assert!(!html.contains("id=\"team-disqualified\""), "{html}");
    let (_, html) = page(&web, &format!("/challenges/{slug}"), Some(&ada)).await;
    at(&html, "data-state=\"active\"");
}

/// Teams from the challenge's page, without scripts: a joined participant creates a team, another
/// joins it with the captain's code, the captain sees a removal form the member does not, a
/// wrong code shows why, and leaving works until the team submits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_form_and_leave_teams_from_the_challenge_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let slug = app.create_challenge("page-teams", |s| s["max_team_size"] = json!(3)).await;
    let solo = app.create_challenge("page-solo", |_| {}).await;
    let (ada_token, bo_token) = (app.register("Ada").await, app.register("Bo").await);
    for token in [&ada_token, &bo_token] {
        app.join(&slug, token).await;
        app.join(&solo, token).await;
    }
    let (ada, bo) = (web.sign_in(&ada_token).await, web.sign_in(&bo_token).await);
    let from = format!("/challenges/{slug}");
    let team_of = |token: String| {
        let app = &app;
        let slug = slug.clone();
        async move { app.call(Method::GET, &format!("/api/v1/challenges/{slug}/team"), Some(&token), None).await }
    };

    // No team section where the challenge has no teams; here, the forms to create or join one.
    let (_, html) = page(&web, &format!("/challenges/{solo}"), Some(&ada)).await;
    assert!(!html.contains("id=\"team\""), "{html}");
    let (_, html) = page(&web, &from, Some(&ada)).await;
    at(&html, "id=\"team\"");
    at(&html, "team-create");
    at(&html, "Teams of up to 3 members");

    let (status, _) =
        post_form(&web, "/fn/team", Some(&ada), &from, &[("slug", &slug), ("verb", "create"), ("name", "Owls")]).await;
    assert!(status.is_redirection(), "{status}");
    let (s, team) = team_of(ada_token.clone()).await;
    assert_eq!((s, team["name"].as_str()), (StatusCode::OK, Some("Owls")), "{team}");

    // A wrong code joins nobody and the page says why; the captain's code joins Bo.
    let wrong = [("slug", slug.as_str()), ("verb", "join"), ("code", "nope")];
    let (_, location) = post_form(&web, "/fn/team", Some(&bo), &from, &wrong).await;
    let (_, shown) = web.get(&location.replace(&web.url(""), ""), Some(&bo.cookie)).await;
    assert!(shown.contains("id=\"team-error\""), "{location}\n{shown}");
    assert_eq!(team_of(bo_token.clone()).await.0, StatusCode::NOT_FOUND);
    let (s, renewed) =
        app.call(Method::POST, &format!("/api/v1/challenges/{slug}/team/code"), Some(&ada_token), None).await;
    assert_eq!(s, StatusCode::OK, "{renewed}");
    let code = renewed["code"].as_str().unwrap();
    let (status, _) =
        post_form(&web, "/fn/team", Some(&bo), &from, &[("slug", &slug), ("verb", "join"), ("code", code)]).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(team_of(bo_token.clone()).await.1["members"].as_array().unwrap().len(), 2);

    // The captain has the removal and merge forms; the member only the one to leave.
    let (_, html) = page(&web, &from, Some(&ada)).await;
    for form in ["team-remove", "team-merge", "team-code", "team-leave"] {
        at(&html, form);
    }
    assert_eq!(html.matches("(captain)").count(), 1, "{html}");
    let (_, html) = page(&web, &from, Some(&bo)).await;
    at(&html, "team-leave");
    assert!(!html.contains("team-remove") && !html.contains("team-merge"), "{html}");

    // A member's post of the captain's form is refused by the API; Bo then leaves.
    let bo_id = participant_id(&app, &bo_token).await;
    let remove = [("slug", slug.as_str()), ("verb", "remove"), ("member", bo_id.as_str())];
    let (_, location) = post_form(&web, "/fn/team", Some(&bo), &from, &remove).await;
    assert!(location.contains("__err="), "{location}");
    let (status, _) = post_form(&web, "/fn/team", Some(&bo), &from, &[("slug", &slug), ("verb", "leave")]).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(team_of(bo_token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(team_of(ada_token).await.1["members"].as_array().unwrap().len(), 1);
}

/// The board's download links: the page links both formats, and the page server passes the
/// API's export through (a browser cannot reach the API itself), each row with its receipt
/// hash column; an unknown format or challenge is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaderboard_page_offers_its_board_as_csv_and_json() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let token = app.register("Export Lab").await;
    let (_, sub) = app.submit("pages", &token, &publish("some-model:1").await).await;
    record_score(&app, sub["id"].as_str().unwrap(), &participant_id(&app, &token).await, 0.875).await;

    let (_, html) = page(&web, "/challenges/pages/leaderboard", None).await;
    at(&html, "href=\"/challenges/pages/export/csv?phase=dev\"");
    at(&html, "href=\"/challenges/pages/export/json?phase=dev\"");

    let csv = reqwest::get(web.url("/challenges/pages/export/csv?phase=dev")).await.unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let kind = csv.headers()["content-type"].to_str().unwrap().to_owned();
    let disposition = csv.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/csv") && disposition.contains("pages-dev.csv"), "{kind} {disposition}");
    let text = csv.text().await.unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.contains("receipt_hash") && text.contains("Export Lab") && text.contains("0.875"), "{text}");

    let json: serde_json::Value =
        reqwest::get(web.url("/challenges/pages/export/json")).await.unwrap().json().await.unwrap();
    assert_eq!(json["rows"][0]["participant"], "Export Lab", "{json}");
    for missing in ["/challenges/pages/export/xml", "/challenges/nope/export/csv"] {
        let status = reqwest::get(web.url(missing)).await.unwrap().status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
}

/// The challenge's and the dataset's descriptions are Markdown, rendered on the server and
/// sanitised: headings, lists, code and links stay (links with rel=nofollow), no script, event
/// handler, `javascript:` link or outside image survives. The dataset's files are a tree of
/// folders (`<details>`, so it opens without scripts) each with its count and size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descriptions_are_sanitised_markdown_and_the_dataset_is_a_folder_tree() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |s| {
        s["description"] = json!(
            "# The task\n\nTell **20X** from 40X.\n\n- fast\n- fair\n\n<script>window.__xss = 1</script>\n\n\
             <img src=x onerror=\"window.__xss = 2\">\n\n[rules](https://example.org/rules) [bad](javascript:alert(1))"
        );
        s["dataset"]["description"] =
            json!("Grayscale `64x64` patches:\n\n| split | files |\n|---|---|\n| train | 3 |");
        let data = std::path::PathBuf::from(s["dataset"]["host_path"].as_str().unwrap());
        std::fs::create_dir_all(data.join("train/images")).unwrap();
        std::fs::write(data.join("train/images/a.png"), [0u8; 1024]).unwrap();
        std::fs::write(data.join("train/images/b.png"), [0u8; 2048]).unwrap();
        std::fs::write(data.join("train/notes.bin"), [0u8; 2048]).unwrap();
    })
    .await;

    let (status, html) = page(&web, "/challenges/pages", None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let description = &html[at(&html, "id=\"description\"")..at(&html, "id=\"enrollment\"")];
    for needle in [
        "<h3>The task</h3>",
        "<strong>20X</strong>",
        "<li>fast</li>",
        "href=\"https://example.org/rules\" rel=\"noopener noreferrer nofollow\"",
    ] {
        at(description, needle);
    }
    let lower = html.to_lowercase();
    for gone in ["__xss", "onerror", "javascript:", "<img"] {
        assert!(!lower.contains(gone), "{gone} survived:\n{description}");
    }
    // The only scripts are the page's own (hydration), none from the description.
    assert!(!description.contains("<script"), "{description}");
    let dataset = &html[at(&html, "id=\"dataset\"")..];
    at(dataset, "<code>64x64</code>");
    at(dataset, "<td>train</td>");

    // The tree: train/ holds 4 files (labels.csv, notes.bin and images/ with 2) of 5.0 KiB,
    // images/ 2 files of 3.0 KiB; both closed until opened.
    let tree = &dataset[at(dataset, "id=\"file-tree\"")..];
    assert_eq!(tree.matches("<details").count(), 2, "{tree}");
    assert!(!tree.contains("<details open"), "{tree}");
    let (train, train_counts) = (at(tree, "train/</code>"), at(tree, "4 files, 5.0 KiB"));
    let (images, images_counts) = (at(tree, "images/</code>"), at(tree, "2 files, 3.0 KiB"));
    assert!(train < train_counts && train_counts < images && images < images_counts, "{tree}");
    at(tree, "data-path=\"train/images/\"");
    let (png, readme) = (at(tree, "a.png"), at(tree, "README.txt"));
    assert!(png < readme, "folders come before the root's files:\n{tree}");
}

/// The leaderboard's chart: the API's history of the board's top lines (a point each time a
/// line's best improved, the last one the board's value), drawn on the server as SVG with one
/// series per line. In `rounded` feedback the chart has the board's digits only, and where logs
/// are hidden its times are whole seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaderboard_charts_the_best_score_over_time_as_the_board_shows_it() {
    use darkroom_tests::scoring::{Evaluation, complete};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |s| {
        s["phases"][0]["feedback"] = json!("rounded");
        s["phases"][0]["decimals"] = json!(2);
        s["logs_visible"] = json!(false);
    })
    .await;
    let (_, empty) = app.call(Method::GET, "/api/v1/challenges/pages/leaderboard/history", None, None).await;
    assert_eq!(empty["series"], json!([]), "{empty}");

    // Ada: 0.612, then 0.5 (no better), then 0.8765; Bob: 0.7.
    let (ada, bob) = (app.register("Ada Lab").await, app.register("Bob Lab").await);
    for (token, accuracy) in [(&ada, 0.612), (&bob, 0.7), (&ada, 0.5), (&ada, 0.8765)] {
        let (_, sub) = app.submit("pages", token, &publish("some-model:1").await).await;
        let evaluation = Evaluation { public: accuracy, private: accuracy, private_cases: None };
        complete(&app, token, sub["id"].as_str().unwrap(), &evaluation).await;
    }
    let (status, history) = app.call(Method::GET, "/api/v1/challenges/pages/leaderboard/history", None, None).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!((history["phase"].as_str(), history["decimals"].as_u64()), (Some("dev"), Some(2)), "{history}");
    let series = history["series"].as_array().unwrap();
    let names: Vec<&str> = series.iter().map(|s| s["participant"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ada Lab", "Bob Lab"], "in the board's order");
    let values = |i: usize| -> Vec<f64> {
        series[i]["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect()
    };
    assert_eq!(values(0), [0.61, 0.88], "improvements only, rounded as the board shows them");
    assert_eq!(values(1), [0.7]);
    let (_, board) = app.call(Method::GET, "/api/v1/challenges/pages/leaderboard", None, None).await;
    assert_eq!(board["entries"][0]["metrics"]["accuracy"].as_f64(), Some(0.88), "the last point is the board's");
    for point in series.iter().flat_map(|s| s["points"].as_array().unwrap()) {
        let at: chrono::DateTime<Utc> = point["at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at.timestamp_subsec_nanos(), 0, "finer than a second where logs are hidden: {point}");
    }

    let (status, html) = page(&web, "/challenges/pages/leaderboard", None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let chart = &html[at(&html, "id=\"board-chart\"")..];
    let chart = &chart[..at(chart, "</figure>")];
    assert_eq!(chart.matches("<g class=\"series\"").count(), 2, "{chart}");
    at(chart, "<title>#1 Ada Lab: accuracy 0.88</title>");
    at(chart, "<title>#2 Bob Lab: accuracy 0.70</title>");
    assert!(!chart.contains("0.8765") && !chart.contains("0.612"), "exact values leaked:\n{chart}");
    // Export buttons beside the board.
    for format in ["csv", "json"] {
        at(
            &html,
            &format!(
                "<a href=\"/challenges/pages/export/{format}?phase=dev\" rel=\"external\" download=\"\" class=\"button\">"
            ),
        );
    }
}

/// A participant's page charts their scored submissions over time, one point each, with the
/// current best marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_participant_page_charts_their_scores_with_the_best_marked() {
    use darkroom_tests::scoring::{Evaluation, complete};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let ada = app.register("Ada").await;
    for accuracy in [0.6, 0.91, 0.7] {
        let (_, sub) = app.submit("pages", &ada, &publish("some-model:1").await).await;
        let evaluation = Evaluation { public: accuracy, private: accuracy, private_cases: None };
        complete(&app, &ada, sub["id"].as_str().unwrap(), &evaluation).await;
    }
    // A submission not scored yet is no point.
    app.submit("pages", &ada, &publish("some-model:1").await).await;
    let visit = web.sign_in(&ada).await;
    let (status, html) = page(&web, "/me", Some(&visit)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let chart = &html[at(&html, "id=\"my-charts\"")..];
    let chart = &chart[..at(chart, "</figure>")];
    at(chart, "data-phase=\"pages / dev\"");
    assert_eq!(chart.matches("<g class=\"series\"").count(), 1, "{chart}");
    assert_eq!(chart.matches("class=\"point\"").count(), 3, "{chart}");
    assert_eq!(chart.matches("class=\"best-marker\"").count(), 1, "{chart}");
    at(chart, "<title>Current best: 0.9100 (");
}

/// The organizer's announcements on the challenge's page, above its description: newest first,
/// their Markdown rendered and sanitised (no script or handler survives), an edit marked, the
/// three newest open and the older ones folded; a challenge without any shows no section.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_show_on_the_challenge_page_newest_first_and_sanitised() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let slug = app.create_challenge("pages", |_| {}).await;
    let (_, html) = page(&web, &format!("/challenges/{slug}"), None).await;
    assert!(!html.contains("id=\"announcements\""), "no announcements, no section");

    let path = format!("/api/v1/challenges/{slug}/announcements");
    let post = |title: String, body: &str| {
        let (path, body) = (path.clone(), json!({ "title": title, "body": body }));
        let app = &app;
        async move {
            let (s, a) = app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{a}");
            a["id"].as_str().unwrap().to_owned()
        }
    };
    for n in 1..=3 {
        post(format!("Old news {n}"), "").await;
    }
    let hostile =
        "The **deadline** moves.\n\n<script>window.__xss = 1</script>\n\n<img src=x onerror=\"window.__xss = 2\">";
    let deadline = post("Deadline <moved>".into(), hostile).await;
    let newest = post("Evaluator fixed".into(), "Every score was *re-computed*.").await;
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("{path}/{deadline}"),
            Some(ADMIN_TOKEN),
            Some(json!({ "title": "Deadline <moved>", "body": format!("{hostile}\n\nTo Friday.") })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let (status, html) = page(&web, &format!("/challenges/{slug}"), None).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let section = &html[at(&html, "id=\"announcements\"")..at(&html, "id=\"description\"")];
    let (fixed, moved) = (at(section, "<h3>Evaluator fixed</h3>"), at(section, "<h3>Deadline &lt;moved&gt;</h3>"));
    assert!(fixed < moved, "newest first:\n{section}");
    for needle in ["<em>re-computed</em>", "<strong>deadline</strong>", "<p>To Friday.</p>", " · edited <time"] {
        at(section, needle);
    }
    assert_eq!(section.matches(" · edited ").count(), 1, "only the edited one says so:\n{section}");
    let lower = section.to_lowercase();
    for gone in ["__xss", "onerror", "<img", "<script"] {
        assert!(!lower.contains(gone), "{gone} survived:\n{section}");
    }
    // Three open, the two oldest folded behind one closed <details>.
    let fold = &section[at(section, "<details class=\"earlier-announcements\">")..];
    at(fold, "2 earlier announcements");
    let (open, folded) = (&section[..at(section, "<details")], fold);
    assert_eq!(open.matches("class=\"announcement\"").count(), 3, "{section}");
    assert!(
        folded.contains("Old news 1") && folded.contains("Old news 2") && !open.contains("Old news 2"),
        "{section}"
    );
    at(open, "Old news 3");
    // The leaderboard links the newest, so its viewers hear of it too.
    let (_, board) = page(&web, &format!("/challenges/{slug}/leaderboard"), None).await;
    let line = &board[at(&board, "id=\"latest-announcement\"")..];
    at(line, &format!("href=\"/challenges/{slug}#announcement-{newest}\">Evaluator fixed</a>"));
}

/// The announcements are an Atom feed a reader can follow from before the first one: newest
/// first, each linking its place on the challenge page under the public address, its body the
/// page's sanitised HTML, an edit moving its `updated`, a removal taking it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_are_an_atom_feed_a_reader_can_follow() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn_configured(&app.config, &app.addr, |c| {
        c.frontend.public_url = "https://darkroom.example/".into();
    })
    .await;
    let slug = app.create_challenge("pages", |s| s["title"] = json!("Nuclei & <Friends>")).await;
    let feed_path = format!("/challenges/{slug}/announcements.atom");
    let read = |path: String| {
        let url = web.url(&path);
        async move {
            let response = reqwest::get(url).await.unwrap();
            let (status, kind) = (response.status(), response.headers()[reqwest::header::CONTENT_TYPE].clone());
            (status, kind, response.text().await.unwrap())
        }
    };
    let (_, html) = page(&web, &format!("/challenges/{slug}"), None).await;
    at(
        &html,
        &format!(
            r#"<link href="{feed_path}" rel="alternate" title="Nuclei &amp; &lt;Friends&gt;: announcements" type="application/atom+xml">"#
        ),
    );
    let (status, kind, xml) = read(feed_path.clone()).await;
    assert_eq!((status, kind.to_str().unwrap()), (StatusCode::OK, "application/atom+xml; charset=utf-8"), "{xml}");
    let empty: atom_syndication::Feed = xml.parse().unwrap_or_else(|e| panic!("{e}: {xml}"));
    assert!(empty.entries().is_empty());
    assert_eq!(empty.title().as_str(), "Nuclei & <Friends>: announcements");
    let home = format!("https://darkroom.example/challenges/{slug}");
    assert_eq!(empty.id(), format!("{home}/announcements.atom"));
    let hrefs: Vec<(&str, &str)> = empty.links().iter().map(|l| (l.rel(), l.href())).collect();
    assert_eq!(hrefs, [("self", format!("{home}/announcements.atom").as_str()), ("alternate", home.as_str())]);

    let path = format!("/api/v1/challenges/{slug}/announcements");
    let mut ids = Vec::new();
    let hostile = "Moved to **Friday**.\n\n<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">";
    for (title, body) in [("Deadline <moved> & more", hostile), ("Evaluator fixed", "# Why\n\nA bug.")] {
        let (s, a) =
            app.call(Method::POST, &path, Some(ADMIN_TOKEN), Some(json!({ "title": title, "body": body }))).await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let (s, _) = app
        .call(Method::PUT, &format!("{path}/{}", ids[0]), Some(ADMIN_TOKEN), Some(json!({ "body": "Friday." })))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, html) = page(&web, &format!("/challenges/{slug}"), None).await;
    let section = &html[at(&html, "id=\"announcements\"")..at(&html, "id=\"description\"")];
    at(section, &format!("<a href=\"{feed_path}\" rel=\"alternate external\""));
    let (_, _, xml) = read(feed_path.clone()).await;
    let feed: atom_syndication::Feed = xml.parse().unwrap_or_else(|e| panic!("{e}: {xml}"));
    let titles: Vec<&str> = feed.entries().iter().map(|e| e.title().as_str()).collect();
    assert_eq!(titles, ["Evaluator fixed", "Deadline <moved> & more"], "newest first");
    let (fixed, moved) = (&feed.entries()[0], &feed.entries()[1]);
    assert_eq!(fixed.id(), format!("{home}#announcement-{}", ids[1]));
    assert_eq!(fixed.links()[0].href(), fixed.id(), "each entry links its place on the page");
    assert_eq!(fixed.content().and_then(|c| c.value()), Some("<h4>Why</h4>\n<p>A bug.</p>\n"));
    assert_eq!(fixed.updated(), fixed.published().unwrap(), "not edited");
    assert!(moved.updated() > moved.published().unwrap(), "an edit moves the entry's time");
    assert_eq!(moved.content().and_then(|c| c.value()), Some("<p>Friday.</p>\n"));
    assert_eq!(feed.updated(), moved.updated(), "the feed's time is its newest change");
    assert!(!xml.contains("__xss"), "nothing of the first body survives its edit:\n{xml}");

    // The hostile body, as first posted, reaches readers sanitised as on the page.
    let (s, _) =
        app.call(Method::PUT, &format!("{path}/{}", ids[0]), Some(ADMIN_TOKEN), Some(json!({ "body": hostile }))).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, xml) = read(feed_path.clone()).await;
    let feed: atom_syndication::Feed = xml.parse().unwrap();
    let body = feed.entries()[1].content().and_then(|c| c.value()).unwrap().to_lowercase();
    assert!(body.contains("<strong>friday</strong>"), "{body}");
    for gone in ["__xss", "onerror", "<img", "<script"] {
        assert!(!body.contains(gone), "{gone} survived:\n{body}");
    }

    // Removed: gone from the feed. An unknown challenge: the API's 404, said in words.
    let (s, _) = app.call(Method::DELETE, &format!("{path}/{}", ids[1]), Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, xml) = read(feed_path).await;
    let feed: atom_syndication::Feed = xml.parse().unwrap();
    assert_eq!(feed.entries().len(), 1);
    let (status, _, text) = read("/challenges/no-such-challenge/announcements.atom".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(text.contains("no-such-challenge"), "{text}");
}

/// The organizer posts and removes announcements from their page with plain forms: a post
/// lands on the challenge's page; a bad title changes nothing and does not look posted; a
/// participant's session posts nothing, even with its own CSRF token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organizer_posts_and_removes_announcements_from_their_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let slug = app.create_challenge("pages", |_| {}).await;
    let mine = format!("/challenges/{slug}/submissions");
    let organizer = web.sign_in(ADMIN_TOKEN).await;
    let (_, html) = page(&web, &mine, Some(&organizer)).await;
    at(&html, r#"id="announcement-title""#);
    at(&html, r#"maxlength="120""#);

    let form = |title: &'static str| [("slug", slug.as_str()), ("title", title), ("body", "Now **Friday**.")];
    let (status, location) = post_form(&web, "/fn/announce", Some(&organizer), &mine, &form("Deadline moved")).await;
    assert!(status.is_redirection() && location == mine, "{status} {location}");
    let listed = || async {
        let (_, list) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/announcements"), None, None).await;
        list.as_array().unwrap().clone()
    };
    let list = listed().await;
    assert_eq!((list.len(), list[0]["body"].as_str()), (1, Some("Now **Friday**.")), "{list:?}");
    let (_, html) = page(&web, &format!("/challenges/{slug}"), None).await;
    at(&html, "<h3>Deadline moved</h3>");
    at(&html, "<strong>Friday</strong>");

    // Refused: a title on two lines; a participant's session with its own CSRF token.
    let (_, location) = post_form(&web, "/fn/announce", Some(&organizer), &mine, &form("two\nlines")).await;
    assert_ne!(location, mine, "a refused announcement must not look posted");
    let eve = web.sign_in(&app.register("Eve").await).await;
    let (_, location) = post_form(&web, "/fn/announce", Some(&eve), "/me", &form("Fake news")).await;
    assert_ne!(location, mine);
    let id = list[0]["id"].as_str().unwrap();
    let (_, location) = post_form(&web, "/fn/withdraw", Some(&eve), "/me", &[("slug", &slug), ("id", id)]).await;
    assert_ne!(location, mine);
    let list = listed().await;
    assert_eq!((list.len(), list[0]["id"].as_str()), (1, Some(id)), "nothing posted or removed by them");

    let (_, html) = page(&web, &mine, Some(&organizer)).await;
    at(&html, &format!(r#"data-announcement="{id}""#));
    let (status, location) =
        post_form(&web, "/fn/withdraw", Some(&organizer), &mine, &[("slug", &slug), ("id", id)]).await;
    assert!(status.is_redirection() && location == mine, "{status} {location}");
    assert!(listed().await.is_empty());
}

/// The `Set-Cookie` value of cookie `name` in an answer (attributes included), if it set one.
fn set_cookie(answer: &reqwest::Response, name: &str) -> Option<String> {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A cookie's value from its `Set-Cookie` line.
fn cookie_value(line: &str) -> &str {
    line.split(';').next().and_then(|pair| pair.split_once('=')).map_or("", |(_, v)| v)
}

/// A participant replaces a leaked token from `/me` without scripts: the token pasted to
/// confirm, the new one shown once on `/me/token` (from an HttpOnly cookie cleared as it is
/// shown, on a page never cached), this browser signed in with it and the old token, its
/// session and the session of any other browser out. Another's token pasted, none, a form
/// without its CSRF token and the organizer change nothing, each saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_replaces_a_leaked_token_from_their_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let (alice, bob) = (app.register("Alice").await, app.register("Bob").await);
    let (visit, elsewhere) = (web.sign_in(&alice).await, web.sign_in(&alice).await);
    let (status, html) = page(&web, "/me", Some(&visit)).await;
    assert_eq!(status, StatusCode::OK);
    at(&html, "id=\"replace-token-form\"");

    let organizer = web.sign_in(ADMIN_TOKEN).await;
    for (who, token, csrf, says) in [
        (&visit, bob.as_str(), visit.csrf.as_str(), "that is not your token"),
        (&visit, "", visit.csrf.as_str(), "paste your token"),
        (&visit, alice.as_str(), "", "without its CSRF token"),
    ] {
        let form = [("token", token), ("csrf", csrf)];
        let (_, location) = post(&web, "/fn/replace-token", Some(&who.cookie), "/me", &form).await;
        assert!(location.contains("__err="), "{says}: {location}");
        let (_, shown) = web.get(location.trim_start_matches(&web.url("")), Some(&who.cookie)).await;
        at(&shown, says);
    }
    // The organizer has no such form (their token is configuration); a post of it is refused,
    // saying so (asked as a script would, so the answer is the message itself).
    let refused = no_redirects()
        .post(web.url("/fn/replace-token"))
        .header("cookie", &organizer.cookie)
        .form(&[("token", ADMIN_TOKEN), ("csrf", organizer.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(!refused.status().is_success(), "{}", refused.status());
    let says = refused.text().await.unwrap();
    assert!(says.contains("submissions.admin_token"), "{says}");
    for token in [&alice, &bob] {
        assert_eq!(app.call(Method::GET, "/api/v1/me", Some(token), None).await.0, StatusCode::OK, "changed");
    }
    assert_eq!(
        page(&web, "/me", Some(&organizer)).await.0,
        StatusCode::FORBIDDEN,
        "the organizer is still signed in (refused a participant's page, not signed out)"
    );

    let answer = no_redirects()
        .post(web.url("/fn/replace-token"))
        .header("accept", "text/html")
        .header("referer", web.url("/me"))
        .header("cookie", &visit.cookie)
        .form(&[("token", alice.as_str()), ("csrf", visit.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    assert_eq!(answer.headers()["location"], "/me/token");
    let held = set_cookie(&answer, "darkroom_new_token").expect("the new token held for the next page");
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=120"] {
        assert!(held.contains(attribute), "{attribute} missing: {held}");
    }
    let new_token = cookie_value(&held).to_owned();
    assert!(new_token.starts_with("drp_") && new_token != alice, "{held}");
    let session = set_cookie(&answer, "darkroom_session").expect("a new session");
    let new_session = format!("darkroom_session={}", cookie_value(&session));
    assert_ne!(new_session, visit.cookie);

    assert!(held.contains("Path=/me/token;"), "sent only to the page that shows it: {held}");

    // Shown once, never cached, and cleared as it is shown: the browser drops it on Max-Age=0,
    // and without it the page has nothing to show.
    let shown = no_redirects()
        .get(web.url("/me/token"))
        .header("cookie", format!("{new_session}; darkroom_new_token={new_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let cleared = set_cookie(&shown, "darkroom_new_token").expect("the held token cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let html = shown.text().await.unwrap();
    at(&html, "id=\"new-token\"");
    at(&html, &new_token);
    let (_, again) = web.get("/me/token", Some(&new_session)).await;
    at(&again, "id=\"no-new-token\"");
    assert!(!again.contains(&new_token), "shown twice");

    // This browser is signed in with it; the old token and every browser it signed in are out.
    let (status, html) = web.get("/me", Some(&new_session)).await;
    assert_eq!(status, StatusCode::OK);
    at(&html, "Alice");
    for old in [&visit, &elsewhere] {
        assert_eq!(page(&web, "/me", Some(old)).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&alice), None).await.0, StatusCode::UNAUTHORIZED);
    let (status, me) = app.call(Method::GET, "/api/v1/me", Some(&new_token), None).await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("Alice")), "{me}");
}

/// "Sign out everywhere" on `/me`, without scripts: every browser the token signed in is signed
/// out (this one's cookie cleared), the token keeps working and signs in again; a post without
/// the form's CSRF token changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_signs_out_everywhere_from_their_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let (alice, bob) = (app.register("Alice").await, app.register("Bob").await);
    let (here, shared_computer, bobs) = (web.sign_in(&alice).await, web.sign_in(&alice).await, web.sign_in(&bob).await);
    let (_, html) = page(&web, "/me", Some(&here)).await;
    at(&html, "id=\"sign-out-everywhere\"");

    let (_, location) = post(&web, "/fn/sign-out-everywhere", Some(&here.cookie), "/me", &[("csrf", "")]).await;
    assert!(location.contains("__err="), "{location}");
    assert_eq!(page(&web, "/me", Some(&shared_computer)).await.0, StatusCode::OK, "a refused post signed out");

    let answer = no_redirects()
        .post(web.url("/fn/sign-out-everywhere"))
        .header("accept", "text/html")
        .header("referer", web.url("/me"))
        .header("cookie", &here.cookie)
        .form(&[("csrf", here.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    assert_eq!(answer.headers()["location"], "/");
    let cleared = set_cookie(&answer, "darkroom_session").expect("the session cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    for gone in [&here, &shared_computer] {
        assert_eq!(page(&web, "/me", Some(gone)).await.0, StatusCode::UNAUTHORIZED, "a browser is still signed in");
    }
    assert_eq!(page(&web, "/me", Some(&bobs)).await.0, StatusCode::OK, "another participant was signed out");
    assert_eq!(app.call(Method::GET, "/api/v1/me", Some(&alice), None).await.0, StatusCode::OK);
    let (status, html) = page(&web, "/me", Some(&web.sign_in(&alice).await)).await;
    assert_eq!(status, StatusCode::OK);
    at(&html, "Alice");
}
