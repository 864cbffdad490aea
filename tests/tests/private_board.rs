//! Final selections, the phase's close (by the organizer, and by the platform at `ends_at`),
//! the sealed private board and its reveal, against the real service, NATS, SQL and the
//! MongoDB wire server. Scores are written as the evaluator writes them (no Docker).

use std::time::Duration;

use chrono::Utc;
use darkroom_core::domain::commitment::{self, Commitment, CommitmentError, Salt};
use darkroom_tests::registry::publish;
use darkroom_tests::scoring::{Evaluation, complete, start};
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Private values whose digits appear nowhere else. Ada's best public submission (the first)
/// is her worst private one, her worst public (the third) her best private.
const ADA_PRIVATE: [f64; 3] = [0.653127, 0.753137, 0.917311];
const BOB_PRIVATE: f64 = 0.628419;

async fn submitted(app: &TestApp, slug: &str, token: &str, image: &str) -> String {
    let (status, sub) = app.submit(slug, token, &publish(image).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
    sub["id"].as_str().unwrap().to_owned()
}

fn private_board_path(slug: &str) -> String {
    format!("/api/v1/challenges/{slug}/phases/main/private-board")
}

/// The raw text of a GET, for leak checks.
async fn raw(app: &TestApp, path: &str, token: Option<&str>) -> String {
    let mut req = reqwest::Client::new().get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.text().await.unwrap()
}

fn assert_no_private_value(text: &str, route: &str) {
    for v in ADA_PRIVATE.iter().chain([&BOB_PRIVATE]) {
        assert!(!text.contains(&format!("{v}")), "{route} leaks the private value {v}: {text}");
    }
}

/// Checks a revealed answer against its commitment, from the raw board JSON as served.
fn verify(answer: &Value) -> Result<(), CommitmentError> {
    let board: darkroom_api::FinalBoard = serde_json::from_value(answer["board"].clone()).unwrap();
    let salt: Salt = answer["salt"].as_str().unwrap().parse().unwrap();
    let commitment: Commitment = answer["commitment"].as_str().unwrap().parse().unwrap();
    commitment::verify(&board, &salt, &commitment)
}

async fn selections_sealed_board_and_manual_reveal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app
        .create_challenge("final", |s| {
            let now = Utc::now();
            s["phases"] = json!([{
                "name": "main", "starts_at": now - chrono::Duration::days(1), "ends_at": now + chrono::Duration::days(1),
                "private_split": true, "reveal": "manual"
            }]);
        })
        .await;
    let (ada, bob) = (app.register("Ada").await, app.register("Bob").await);
    let selections = format!("/api/v1/challenges/{slug}/phases/main/selections");

    // Ada: three scored submissions and one still queued; Bob: one. Ada's best public (a1) is
    // her worst private.
    let mut a = Vec::new();
    for (i, (public, private)) in
        [(0.95, ADA_PRIVATE[0]), (0.90, ADA_PRIVATE[1]), (0.70, ADA_PRIVATE[2])].into_iter().enumerate()
    {
        let id = submitted(&app, &slug, &ada, &format!("ada-model:{i}")).await;
        let cases: Vec<f64> = (0..40).map(|c| if c < (private * 40.0).round() as usize { 1.0 } else { 0.0 }).collect();
        complete(&app, &ada, &id, &Evaluation { public, private, private_cases: Some(cases) }).await;
        a.push(id);
    }
    let queued = submitted(&app, &slug, &ada, "ada-model:q").await;
    let b1 = submitted(&app, &slug, &bob, "bob-model:1").await;
    // Bob is right on 25 of the 40 cases, not the same ones as Ada (30 of 40 on her a2).
    let cases: Vec<f64> = (0..40).map(|c| if (10..35).contains(&c) { 1.0 } else { 0.0 }).collect();
    complete(&app, &bob, &b1, &Evaluation { public: 0.93, private: BOB_PRIVATE, private_cases: Some(cases) }).await;

    // Limits: N + 1, someone else's, not COMPLETE; then a valid set, which replaces.
    let (status, body) = app.call(Method::PUT, &selections, Some(&ada), Some(json!({ "submissions": a }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("too_many_selections")), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2 final selections in phase 'main'; unselect one first"),
        "{body}"
    );
    let (status, body) = app.call(Method::PUT, &selections, Some(&ada), Some(json!({ "submissions": [b1] }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.call(Method::PUT, &selections, Some(&ada), Some(json!({ "submissions": [queued] }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_complete")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("is QUEUED; only COMPLETE"), "{body}");
    let (status, body) =
        app.call(Method::PUT, &selections, Some(&ada), Some(json!({ "submissions": [a[0], a[2]] }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        app.call(Method::PUT, &selections, Some(&ada), Some(json!({ "submissions": [a[1], a[0]] }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, mine) = app.call(Method::GET, &selections, Some(&ada), None).await;
    assert_eq!(mine["submissions"], json!([a[1], a[0]]), "{mine}");
    assert_eq!((mine["limit"].as_u64(), mine["closed"].as_bool()), (Some(2), Some(false)));
    let (_, theirs) = app.call(Method::GET, &selections, Some(&bob), None).await;
    assert_eq!(theirs["submissions"], json!([]), "selections are per participant");
    let (_, open) = app.call(Method::GET, &private_board_path(&slug), None, None).await;
    assert_eq!(open["state"], "open", "{open}");

    // Only the organizer closes; the board is sealed for everyone else.
    let close = format!("/api/v1/challenges/{slug}/phases/main/close");
    let (status, _) = app.call(Method::POST, &close, Some(&ada), Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Two closes at once (as two instances would race): one row wins, both answer it.
    let ((status, sealed), (other_status, other)) = tokio::join!(
        app.call(Method::POST, &close, Some(ADMIN_TOKEN), Some(json!({}))),
        app.call(Method::POST, &close, Some(ADMIN_TOKEN), Some(json!({})))
    );
    assert_eq!((status, other_status), (StatusCode::OK, StatusCode::OK), "{sealed} {other}");
    assert_eq!(sealed["state"], "sealed", "{sealed}");
    assert_eq!(sealed, other, "one close wins");
    let commitment = sealed["commitment"].as_str().unwrap().to_owned();
    assert_eq!(commitment.len(), 64);
    // The organizer sees the board: Ada's line is a2 (her best selected privately; a3 was
    // better but not selected), ahead of Bob.
    let rows = &sealed["board"]["rows"];
    assert_eq!(
        (rows[0]["participant"].as_str(), rows[0]["submission_id"].as_str()),
        (Some("Ada"), Some(a[1].as_str())),
        "{sealed}"
    );
    assert_eq!((rows[0]["rank"].as_u64(), rows[0]["public_rank"].as_u64()), (Some(1), Some(1)), "{sealed}");
    assert_eq!((rows[1]["participant"].as_str(), rows[1]["public_rank"].as_u64()), (Some("Bob"), Some(2)), "{sealed}");
    let (_, again) = app.call(Method::POST, &close, Some(ADMIN_TOKEN), Some(json!({}))).await;
    assert_eq!(again["commitment"], commitment.as_str(), "closing twice changes nothing");

    // Nothing private reaches a participant or the public before the reveal.
    for (who, token) in [("anonymous", None), ("Ada", Some(ada.as_str())), ("Bob", Some(bob.as_str()))] {
        let text = raw(&app, &private_board_path(&slug), token).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["state"], "sealed", "{who}: {text}");
        assert_eq!(v["commitment"], commitment.as_str());
        assert!(v.get("board").is_none() && v.get("salt").is_none(), "{who}: {text}");
        assert_no_private_value(&text, &format!("private-board as {who}"));
    }
    for path in [
        format!("/api/v1/challenges/{slug}/leaderboard"),
        "/api/v1/submissions".into(),
        format!("/api/v1/submissions/{}", a[1]),
        selections.clone(),
    ] {
        assert_no_private_value(&raw(&app, &path, Some(&ada)).await, &path);
    }

    // Closed: selections and submissions are refused.
    let (status, body) = app.call(Method::PUT, &selections, Some(&ada), Some(json!({ "submissions": [a[2]] }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("phase_closed")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("phase 'main' closed at ") && message.ends_with("; selections can no longer change"),
        "{message}"
    );
    let (status, body) = app.submit(&slug, &bob, &publish("bob-model:2").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("closed by the organizer"), "{body}");
    // Whatever the quotas would leave, the standing says what the submit said.
    let (status, body) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/quota"), Some(&bob), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("closed by the organizer"), "{body}");

    // The reveal: only the organizer; then everyone sees board and salt, and they verify.
    let reveal = format!("/api/v1/challenges/{slug}/phases/main/reveal");
    let (status, _) = app.call(Method::POST, &reveal, Some(&bob), Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.call(Method::POST, &reveal, Some(ADMIN_TOKEN), Some(json!({}))).await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("revealed")), "{body}");
    let text = raw(&app, &private_board_path(&slug), None).await;
    let revealed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(revealed["state"], "revealed", "{text}");
    assert_eq!(revealed["commitment"], commitment.as_str());
    assert_eq!(revealed["board"], sealed["board"], "the revealed board is the one sealed at the close");
    assert_eq!(verify(&revealed), Ok(()));
    // Intervals from the per-case values: Ada 0.75 vs Bob 0.625 on 40 cases are not separable.
    let intervals = revealed["intervals"].as_array().expect("intervals");
    assert_eq!(intervals.len(), 2, "{text}");
    assert!(intervals[0]["low"].as_f64().unwrap() < 0.75 && 0.75 < intervals[0]["high"].as_f64().unwrap(), "{text}");
    assert_eq!(intervals[1]["tied_with_first"], true, "{text}");

    // One byte changed anywhere in the board breaks the check: a name, a digit of a metric.
    let board_text = serde_json::to_string(&revealed["board"]).unwrap();
    for (from, to) in [("\"Bob\"", "\"Bob \""), ("0.753137", "0.753138"), ("\"public_rank\":2", "\"public_rank\":1")] {
        assert!(board_text.contains(from), "{board_text}");
        let mut tampered = revealed.clone();
        tampered["board"] = serde_json::from_str(&board_text.replacen(from, to, 1)).unwrap();
        assert_eq!(verify(&tampered), Err(CommitmentError::Mismatch), "{from} → {to}");
    }
    let (_, twice) = app.call(Method::POST, &reveal, Some(ADMIN_TOKEN), Some(json!({}))).await;
    assert_eq!(twice["revealed_at"], revealed["revealed_at"], "revealing twice changes nothing");
}

darkroom_tests::on_both_backends!(selections_sealed_board_and_manual_reveal);

/// The platform closes a phase at `ends_at` by itself; a submission running at the deadline
/// holds the close until it finishes, and counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_phase_closes_itself_after_the_submissions_in_flight_and_reveals_at_close() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.submissions.watchdog_interval_seconds = 1).await;
    let ends_at = Utc::now() + chrono::Duration::seconds(8);
    let slug = app
        .create_challenge("short", |s| {
            s["phases"] = json!([{
                "name": "main", "starts_at": Utc::now() - chrono::Duration::days(1), "ends_at": ends_at,
                "private_split": true
            }]);
        })
        .await;
    let (ada, bob) = (app.register("Ada").await, app.register("Bob").await);
    let b1 = submitted(&app, &slug, &bob, "bob-model:1").await;
    complete(&app, &bob, &b1, &Evaluation { public: 0.9, private: BOB_PRIVATE, private_cases: None }).await;
    let a1 = submitted(&app, &slug, &ada, "ada-model:1").await;
    start(&app, &a1).await;
    app.wait_for(&a1, &ada, |b| b["state"] == "RUNNING").await;

    // Past ends_at: new submissions are refused by the window; the board waits for Ada's run.
    let wait = (ends_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(3);
    tokio::time::sleep(wait).await;
    let (status, _) = app.submit(&slug, &bob, &publish("bob-model:2").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, board) = app.call(Method::GET, &private_board_path(&slug), None, None).await;
    assert_eq!(board["state"], "open", "closed while a submission accepted before ends_at was running: {board}");
    let selections = format!("/api/v1/challenges/{slug}/phases/main/selections");
    let (status, body) = app.call(Method::PUT, &selections, Some(&bob), Some(json!({ "submissions": [b1] }))).await;
    assert_eq!(status, StatusCode::CONFLICT, "selections freeze at ends_at: {body}");

    complete(&app, &ada, &a1, &Evaluation { public: 0.5, private: ADA_PRIVATE[0], private_cases: None }).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let revealed = loop {
        let (_, board) = app.call(Method::GET, &private_board_path(&slug), None, None).await;
        if board["state"] != "open" {
            break board;
        }
        assert!(tokio::time::Instant::now() < deadline, "the phase never closed: {board}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // reveal = at_close (the default): published at once.
    assert_eq!(revealed["state"], "revealed", "{revealed}");
    assert_eq!(revealed["closed_at"], revealed["revealed_at"]);
    let rows = revealed["board"]["rows"].as_array().unwrap();
    let lines: Vec<(&str, u64, u64)> = rows
        .iter()
        .map(|r| (r["participant"].as_str().unwrap(), r["rank"].as_u64().unwrap(), r["public_rank"].as_u64().unwrap()))
        .collect();
    assert_eq!(lines, [("Ada", 1, 2), ("Bob", 2, 1)], "the run in flight at ends_at counts: {revealed}");
    assert_eq!(rows[0]["metrics"]["accuracy"], ADA_PRIVATE[0]);
    assert_eq!(verify(&revealed), Ok(()));
    assert!(revealed.get("intervals").is_none(), "no per-case values, no intervals: {revealed}");
}

/// The leaderboard page's Private tab: open, then sealed with the commitment (no private value,
/// even to the organizer's session), then the revealed board beside the public ranks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_private_tab_shows_the_commitment_then_the_board() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = darkroom_tests::web::WebServer::spawn(&app.config, &app.addr).await;
    let slug = app
        .create_challenge("tabs", |s| {
            s["phases"][0]["name"] = json!("main");
            s["phases"][0]["private_split"] = json!(true);
            s["phases"][0]["reveal"] = json!("manual");
        })
        .await;
    let ada = app.register("Ada").await;
    let a1 = submitted(&app, &slug, &ada, "tabs-model:1").await;
    complete(&app, &ada, &a1, &Evaluation { public: 0.8, private: ADA_PRIVATE[1], private_cases: None }).await;
    let (ada_visit, organizer) = (web.sign_in(&ada).await, web.sign_in(ADMIN_TOKEN).await);
    let page = |cookie: Option<&str>| {
        let mut req =
            reqwest::Client::new().get(web.url(&format!("/challenges/{slug}/leaderboard?phase=main&board=private")));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let html = page(None).await;
    assert!(html.contains("data-state=\"open\"") && html.contains(">Private</a>"), "{html}");
    // The participant's page lists their selections per phase.
    let me = || async { web.get("/me", Some(&ada_visit.cookie)).await.1 };
    assert!(me().await.contains("none selected: your 2 best by public score count"));
    let selections = format!("/api/v1/challenges/{slug}/phases/main/selections");
    app.call(Method::PUT, &selections, Some(&ada), Some(json!({ "submissions": [a1] }))).await;
    let html = me().await;
    assert!(html.contains("id=\"final-selections\"") && html.contains(&format!("1 of at most 2: {a1}")), "{html}");

    let (_, sealed) = app
        .call(Method::POST, &format!("/api/v1/challenges/{slug}/phases/main/close"), Some(ADMIN_TOKEN), Some(json!({})))
        .await;
    for cookie in [None, Some(ada_visit.cookie.as_str()), Some(organizer.cookie.as_str())] {
        let html = page(cookie).await;
        assert!(
            html.contains("data-state=\"sealed\"") && html.contains(sealed["commitment"].as_str().unwrap()),
            "{html}"
        );
        assert_no_private_value(&html, "the private tab before the reveal");
        assert!(!html.contains("0.7531"), "the private score as the page would print it: {html}");
    }
    app.call(
        Method::POST,
        &format!("/api/v1/challenges/{slug}/phases/main/reveal"),
        Some(ADMIN_TOKEN),
        Some(json!({})),
    )
    .await;
    let html = page(None).await;
    assert!(html.contains("data-state=\"revealed\"") && html.contains("data-participant=\"Ada\""), "{html}");
    assert!(html.contains("0.7531"), "the revealed private score: {html}");
}

/// The checkboxes on the participant's page, posted as a browser without scripts posts them:
/// ticking saves, un-ticking clears, and every choice the API refuses (a rival's submission,
/// too many, not an id, no session, a closed phase) changes nothing and is not a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_tick_their_finals_on_their_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = darkroom_tests::web::WebServer::spawn(&app.config, &app.addr).await;
    let slug = app
        .create_challenge("ticks", |s| {
            s["phases"][0]["name"] = json!("main");
            s["phases"][0]["private_split"] = json!(true);
            s["phases"][0]["final_selections"] = json!(1);
            s["phases"][0]["reveal"] = json!("manual");
        })
        .await;
    let (ada, bob) = (app.register("Ada").await, app.register("Bob").await);
    let mut mine = Vec::new();
    for i in 0..2 {
        let id = submitted(&app, &slug, &ada, &format!("ticks-model:{i}")).await;
        complete(&app, &ada, &id, &Evaluation { public: 0.8, private: 0.7, private_cases: None }).await;
        mine.push(id);
    }
    let rival = submitted(&app, &slug, &bob, "ticks-rival:1").await;
    complete(&app, &bob, &rival, &Evaluation { public: 0.9, private: 0.9, private_cases: None }).await;
    let queued = submitted(&app, &slug, &ada, "ticks-model:q").await;

    let (ada_visit, bob_visit) = (web.sign_in(&ada).await, web.sign_in(&bob).await);
    let html = |visit: darkroom_tests::web::Visit| {
        let web = &web;
        async move { web.get("/me", Some(&visit.cookie)).await.1 }
    };
    // The `<input …>` tag of the checkbox for `id`, if the page has one.
    let checkbox = |html: &str, id: &str| -> Option<String> {
        html.split("<input")
            .skip(1)
            .map(|tag| tag[..tag.find('>').unwrap_or(tag.len())].to_owned())
            .find(|tag| tag.contains("type=\"checkbox\"") && tag.contains(&format!("value=\"{id}\"")))
    };
    let page = html(ada_visit.clone()).await;
    for id in &mine {
        let input = checkbox(&page, id).unwrap_or_else(|| panic!("no checkbox for {id}: {page}"));
        assert!(input.contains("type=\"checkbox\"") && !input.contains("checked"), "{input}");
    }
    assert!(checkbox(&page, &queued).is_none(), "only COMPLETE submissions can be selected: {page}");
    assert!(checkbox(&page, &rival).is_none(), "a rival's submission is never offered: {page}");
    assert!(page.contains("Select up to 1") && page.contains("Save final selections"), "{page}");

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers([(reqwest::header::ACCEPT, "text/html".parse().unwrap())].into_iter().collect())
        .build()
        .unwrap();
    // As a browser posts the form: the session cookie, and the CSRF token read from the page.
    let post = |visit: Option<&darkroom_tests::web::Visit>, ticked: Vec<(String, String)>| {
        let mut form = vec![("challenge".to_owned(), slug.clone()), ("phase".to_owned(), "main".to_owned())];
        form.extend(ticked);
        let mut req = http.post(web.url("/fn/select")).header("referer", web.url("/me"));
        let visit = visit.cloned();
        let web = &web;
        async move {
            if let Some(v) = &visit {
                let page = web.get("/me", Some(&v.cookie)).await.1;
                let csrf = darkroom_tests::web::csrf_field(&page).expect("a CSRF field on the participant's page");
                form.push(("csrf".to_owned(), csrf));
                req = req.header("cookie", &v.cookie);
            }
            let req = req.form(&form);
            let resp = req.send().await.unwrap();
            (resp.status(), resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned())
        }
    };
    let selected = || async {
        let path = format!("/api/v1/challenges/{slug}/phases/main/selections");
        let (_, s) = app.call(Method::GET, &path, Some(&ada), None).await;
        s["submissions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    // Tick the second box (the form numbers each box; an unticked one is simply absent).
    let (status, location) = post(Some(&ada_visit), vec![("submissions[1]".into(), mine[1].clone())]).await;
    assert!(status.is_redirection() && location == "/me", "{status} {location}");
    assert_eq!(selected().await, vec![mine[1].clone()]);
    let page = html(ada_visit.clone()).await;
    assert!(checkbox(&page, &mine[1]).is_some_and(|i| i.contains("checked")), "{page}");
    assert!(page.contains(&format!("1 of at most 1: {}", mine[1])), "{page}");

    // Refused, and nothing changes: a rival's submission, one too many, not an id, a queued
    // one, no session. The form comes back with the API's reason on it.
    for (visit, ticked, reason) in [
        (Some(&ada_visit), vec![rival.clone()], "you have no submission"),
        (Some(&ada_visit), mine.clone(), "at most 1 final selections"),
        (Some(&ada_visit), vec!["../../admin".to_owned()], "is not a submission id"),
        (Some(&ada_visit), vec![queued.clone()], "only COMPLETE submissions can be selected"),
        (None, vec![mine[0].clone()], "sign in first"),
        (Some(&bob_visit), vec![mine[0].clone()], "you have no submission"),
    ] {
        let form = ticked.into_iter().enumerate().map(|(i, id)| (format!("submissions[{i}]"), id)).collect();
        let (status, location) = post(visit, form).await;
        assert!(location.contains("__err="), "{reason}: a refusal must not look like a success ({status} {location})");
        assert_eq!(selected().await, vec![mine[1].clone()], "'{reason}' changed Ada's selections");
        if let Some(visit) = visit {
            let req = reqwest::Client::new().get(&location).header("cookie", &visit.cookie);
            let page = req.send().await.unwrap().text().await.unwrap();
            let shown = page.find("id=\"select-error\"").map(|at| &page[at..at + 400.min(page.len() - at)]);
            assert!(shown.is_some_and(|e| e.contains(reason)), "the page does not say '{reason}': {shown:?}");
        }
    }
    // Nothing ticked clears them: her best by public score count again.
    let (status, location) = post(Some(&ada_visit), vec![]).await;
    assert!(status.is_redirection() && location == "/me", "{status} {location}");
    assert!(selected().await.is_empty());
    assert!(html(ada_visit.clone()).await.contains("none selected: your 1 best by public score count"));

    // Closed: the boxes are disabled, there is no save button, and a post is refused.
    let close = format!("/api/v1/challenges/{slug}/phases/main/close");
    let (status, _) = app.call(Method::POST, &close, Some(ADMIN_TOKEN), Some(json!({}))).await;
    assert!(status.is_success(), "{status}");
    let page = html(ada_visit.clone()).await;
    assert!(page.contains("<fieldset disabled") && !page.contains("Save final selections"), "{page}");
    let (status, location) = post(Some(&ada_visit), vec![("submissions[0]".into(), mine[0].clone())]).await;
    assert_ne!(location, "/me", "a selection after the close must be refused ({status})");
    assert!(selected().await.is_empty());
}
