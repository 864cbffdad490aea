//! Server-side rendering of every page, read as plain HTML (no scripts run): the real frontend
//! against the real submissions service, NATS, SQLite and the MongoDB wire server.

use chrono::{Duration, Utc};
use darkroom_core::scores::{ScoreDocument, ScoreStore};
use darkroom_tests::registry::publish;
use darkroom_tests::web::WebServer;
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// GETs a page, with the visitor's token as the session cookie if given.
async fn page(web: &WebServer, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(web.url(path));
    if let Some(t) = token {
        req = req.header("cookie", format!("darkroom_token={t}"));
    }
    let resp = req.send().await.expect("page request");
    (resp.status(), resp.text().await.expect("page body"))
}

/// `needle`'s position in `html`, failing with the page when it is absent.
fn at(html: &str, needle: &str) -> usize {
    html.find(needle).unwrap_or_else(|| panic!("'{needle}' not on the page:\n{html}"))
}

async fn participant_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app.call(Method::GET, "/api/v1/me", Some(token), None).await;
    me["id"].as_str().expect("participant id").to_owned()
}

async fn record_score(app: &TestApp, submission: &str, participant: &str, accuracy: f64) {
    let store = ScoreStore::new(&app.config.mongodb.url, &app.config.mongodb.database).await.expect("mongo");
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
    assert!(!html.contains("sha256:"), "the evaluation image id leaked:\n{html}");
    assert!(!html.contains("All submissions"), "a visitor sees the organizer's link");

    let (status, html) = page(&web, "/challenges/pages", Some(ADMIN_TOKEN)).await;
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

    for (name, accuracy) in [("Low Lab", 0.61), ("High Lab", 0.93), ("Mid Lab", 0.75)] {
        let token = app.register(name).await;
        let (_, sub) = app.submit("pages", &token, &publish("some-model:1").await).await;
        record_score(&app, sub["id"].as_str().unwrap(), &participant_id(&app, &token).await, accuracy).await;
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
    let (status, html) = page(&web, "/challenges/pages/submissions", Some(ADMIN_TOKEN)).await;
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
    // A browser without scripts: plain form posts that accept HTML, redirects not followed.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("accept", "text/html".parse().unwrap());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();

    // Sign-in: a wrong token is refused; the right one sets an HttpOnly cookie and goes to /me.
    let resp = http.post(web.url("/fn/sign-in")).form(&[("token", "not-a-token")]).send().await.unwrap();
    assert!(!resp.headers().contains_key("set-cookie"));
    let resp = http.post(web.url("/fn/sign-in")).form(&[("token", alice.as_str())]).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert_eq!(resp.headers()["location"], "/me");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("darkroom_token={alice}")) && cookie.contains("HttpOnly"), "{cookie}");

    // Cancel from her page (a plain form post), then the organizer re-runs it.
    let cancel = http
        .post(web.url("/fn/cancel"))
        .header("cookie", format!("darkroom_token={alice}"))
        .form(&[("id", a.as_str()), ("back", "/me")])
        .send()
        .await
        .unwrap();
    assert!(cancel.status().is_redirection(), "{}", cancel.status());
    let sub = app.wait_for(&a, &alice, |s| s["state"] == "CANCELLED").await;
    assert_eq!(sub["state"], "CANCELLED");

    let rerun = http
        .post(web.url("/fn/rerun"))
        .header("cookie", format!("darkroom_token={ADMIN_TOKEN}"))
        .form(&[("id", a.as_str()), ("back", "//evil.example/\r\nx")])
        .send()
        .await
        .unwrap();
    assert!(rerun.status().is_redirection(), "{}", rerun.status());
    assert_eq!(rerun.headers()["location"], "/", "an off-site 'back' must not be followed");
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&alice), None).await;
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 2, "the re-run is a new submission: {mine:?}");
    assert!(mine.iter().any(|s| s["state"] == "QUEUED" && s["counts_against_quota"] == false));

    // A participant cannot re-run: the API refuses and nothing new appears.
    let refused = http
        .post(web.url("/fn/rerun"))
        .header("cookie", format!("darkroom_token={alice}"))
        .form(&[("id", a.as_str()), ("back", "/me")])
        .send()
        .await
        .unwrap();
    let location = refused.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
    assert_ne!(location, "/me", "a refused re-run must not look like a success ({})", refused.status());
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&alice), None).await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_names_who_is_signed_in_on_every_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    app.create_challenge("pages", |_| {}).await;
    let alice = app.register("Alice").await;
    let (_, a) = app.submit("pages", &alice, &publish("alice-model:1").await).await;
    let a = a["id"].as_str().unwrap().to_owned();
    for path in ["/", "/me", "/challenges/pages", "/challenges/pages/leaderboard", &format!("/submissions/{a}")] {
        let (status, html) = page(&web, path, Some(&alice)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        let header = &html[..html.find("</header>").unwrap_or_else(|| panic!("{path} has no header:\n{html}"))];
        assert!(header.contains("Signed in as Alice"), "{path}'s header does not say who is signed in:\n{header}");
        assert!(!header.contains("href=\"/sign-in\""), "{path}'s header offers to sign in:\n{header}");
    }
}

/// A plain form post as a browser without scripts sends it (HTML accepted, redirects not
/// followed, the page it came from as Referer); returns the status and where it redirects.
async fn post_form(
    web: &WebServer,
    path: &str,
    token: Option<&str>,
    from: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut req = http.post(web.url(path)).header("accept", "text/html").header("referer", web.url(from)).form(form);
    if let Some(t) = token {
        req = req.header("cookie", format!("darkroom_token={t}"));
    }
    let resp = req.send().await.unwrap();
    let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
    (resp.status(), location)
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
    let (ada, bo) = (app.register("Ada").await, app.register("Bo").await);
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
    let shown = reqwest::Client::new().get(&location).header("cookie", format!("darkroom_token={ada}")).send().await;
    let shown = shown.unwrap().text().await.unwrap();
    assert!(shown.contains("id=\"join-error\"") && shown.contains("not an invite code"), "{shown}");
    assert_eq!(enrollment(invite.clone(), ada.clone()).await.0, StatusCode::NOT_FOUND);

    // Asking to join the approval challenge: pending, shown on the page.
    let from = format!("/challenges/{approval}");
    let (status, location) =
        post_form(&web, "/fn/join", Some(&ada), &from, &[("slug", &approval), ("accept_rules", "true")]).await;
    assert!(status.is_redirection() && location == from, "{status} {location}");
    let (_, html) = page(&web, &from, Some(&ada)).await;
    at(&html, "data-state=\"pending\"");

    // The organizer's page lists her; a participant's post of the organizer's form is refused.
    let organizer_page = format!("/challenges/{approval}/submissions");
    let (_, html) = page(&web, &organizer_page, Some(ADMIN_TOKEN)).await;
    at(&html, "id=\"pending-enrollments\"");
    let ada_id = participant_id(app, &ada).await;
    at(&html, &format!("data-participant=\"{ada_id}\""));
    let decide = [("slug", approval.as_str()), ("participant", ada_id.as_str()), ("verb", "approve")];
    let (_, location) = post_form(&web, "/fn/decide", Some(&bo), &organizer_page, &decide).await;
    assert!(location.contains("__err="), "{location}");
    let odd = [("slug", approval.as_str()), ("participant", ada_id.as_str()), ("verb", "delete")];
    let (_, location) = post_form(&web, "/fn/decide", Some(ADMIN_TOKEN), &organizer_page, &odd).await;
    assert!(location.contains("__err="), "{location}");
    assert_eq!(enrollment(approval.clone(), ada.clone()).await.1["state"], "pending");

    let (status, location) = post_form(&web, "/fn/decide", Some(ADMIN_TOKEN), &organizer_page, &decide).await;
    assert!(status.is_redirection() && location == organizer_page, "{status} {location}");
    assert_eq!(enrollment(approval.clone(), ada.clone()).await.1["state"], "active");
    let (_, html) = page(&web, &from, Some(&ada)).await;
    at(&html, "data-state=\"active\"");
    let (_, html) = page(&web, &organizer_page, Some(ADMIN_TOKEN)).await;
    assert!(!html.contains("id=\"pending-enrollments\""), "nobody waits any more: {html}");
}
