//! The organizer's disqualification, on SQLite and on PostgreSQL: only the organizer makes it,
//! with a reason in one line; the participant's submits are refused and their line leaves the
//! board, its chart, its export and the private board sealed while it stands; a team with a
//! disqualified member is out whole and takes nobody in; reinstating puts the line back, and a
//! board sealed before stays as sealed. Scores are written as the evaluator writes them.

use chrono::Utc;
use darkroom_tests::registry::publish;
use darkroom_tests::scoring::{Evaluation, complete, participant_id};
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: Option<&str> = Some(ADMIN_TOKEN);
const SLUG: &str = "fair-play";

on_both_backends!(disqualified_participants_leave_every_board_until_reinstated);

/// A submission of `token`'s, scored `public` (the same on the private split).
async fn scored(app: &TestApp, token: &str, image: &str, public: f64) -> String {
    let (status, sub) = app.submit(SLUG, token, &publish(image).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    complete(app, token, &id, &Evaluation { public, private: public, private_cases: None }).await;
    id
}

/// The public board as (rank, team or participant) pairs.
async fn board(app: &TestApp) -> Vec<(u64, String)> {
    let (status, b) = app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/leaderboard"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["rank"].as_u64().unwrap(), e["team"].as_str().or(e["participant"].as_str()).unwrap().to_owned()))
        .collect()
}

fn line(rank: u64, who: &str) -> (u64, String) {
    (rank, who.to_owned())
}

async fn verb(app: &TestApp, who: &str, verb: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/v1/challenges/{SLUG}/enrollments/{who}/{verb}");
    app.call(Method::POST, &path, token, Some(body)).await
}

fn assert_refused(answer: &(StatusCode, Value), status: StatusCode, code: &str, says: &str) {
    let (s, body) = answer;
    assert_eq!((*s, body["error"]["code"].as_str()), (status, Some(code)), "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "'{message}' does not say '{says}'");
}

async fn text(app: &TestApp, path: &str) -> String {
    let resp = reqwest::Client::new().get(app.url(path)).send().await.expect("request");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.text().await.unwrap()
}

async fn disqualified_participants_leave_every_board_until_reinstated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_challenge(SLUG, |s| {
        let now = Utc::now();
        s["phases"] = json!([{
            "name": "main", "starts_at": now - chrono::Duration::days(1), "ends_at": now + chrono::Duration::days(1),
        }]);
        s["quotas"] = json!({});
        s["max_team_size"] = json!(3);
    })
    .await;
    let [ada, bo, cy, di, eve, fay] = {
        let mut tokens = Vec::new();
        for name in ["Ada", "Bo", "Cy", "Di", "Eve", "Fay"] {
            tokens.push(app.register(name).await);
        }
        tokens.try_into().unwrap()
    };
    let (ada_id, di_id, fay_id) =
        (participant_id(&app, &ada).await, participant_id(&app, &di).await, participant_id(&app, &fay).await);
    // Cy and Di are team "Lab C"; Di's score is the team's lower one.
    app.join(SLUG, &cy).await;
    let (s, team) = app
        .call(Method::POST, &format!("/api/v1/challenges/{SLUG}/teams"), Some(&cy), Some(json!({"name": "Lab C"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    let code = team["code"].as_str().unwrap().to_owned();
    app.join(SLUG, &di).await;
    let join_team = format!("/api/v1/challenges/{SLUG}/teams/join");
    let (s, b) = app.call(Method::POST, &join_team, Some(&di), Some(json!({ "code": code }))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Eve leads team "Lab E", which will try to merge into Lab C once it is out.
    app.join(SLUG, &eve).await;
    let (s, lab_e) = app
        .call(Method::POST, &format!("/api/v1/challenges/{SLUG}/teams"), Some(&eve), Some(json!({"name": "Lab E"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{lab_e}");
    scored(&app, &ada, "ada-model:1", 0.9).await;
    scored(&app, &bo, "bo-model:1", 0.8).await;
    scored(&app, &cy, "cy-model:1", 0.7).await;
    scored(&app, &di, "di-model:1", 0.6).await;
    assert_eq!(board(&app).await, [line(1, "Ada"), line(2, "Bo"), line(3, "Lab C")]);

    // Only the organizer disqualifies, only someone who joined, only with a reason in one line.
    let why = "two accounts: see the rules, section 3";
    assert_eq!(verb(&app, &ada_id, "disqualify", Some(&bo), json!({ "reason": why })).await.0, StatusCode::FORBIDDEN);
    assert_eq!(verb(&app, &ada_id, "disqualify", None, json!({ "reason": why })).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(verb(&app, &ada_id, "reinstate", Some(&ada), json!({})).await.0, StatusCode::FORBIDDEN);
    // A co-organizer's read-only token follows the challenge and changes nothing.
    let (s, co) = app.call(Method::POST, "/api/v1/tokens", ADMIN, Some(json!({ "scopes": ["read"] }))).await;
    assert_eq!(s, StatusCode::CREATED, "{co}");
    let co = co["token"].as_str().unwrap().to_owned();
    assert_eq!(verb(&app, &ada_id, "disqualify", Some(&co), json!({ "reason": why })).await.0, StatusCode::FORBIDDEN);
    let (s, b) =
        verb(&app, "01900000-0000-7000-8000-000000000000", "disqualify", ADMIN, json!({ "reason": why })).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert_refused(
        &verb(&app, &fay_id, "disqualify", ADMIN, json!({ "reason": why })).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "has not joined 'fair-play'",
    );
    let other = app
        .call(
            Method::POST,
            &format!("/api/v1/challenges/nope/enrollments/{ada_id}/disqualify"),
            ADMIN,
            Some(json!({ "reason": why })),
        )
        .await;
    assert_eq!(other.0, StatusCode::NOT_FOUND, "{}", other.1);
    for bad in ["  ", "two\nlines", "over\u{202E}ride", &"x".repeat(301)] {
        let (s, b) = verb(&app, &ada_id, "disqualify", ADMIN, json!({ "reason": bad })).await;
        assert_eq!(
            (s, b["error"]["details"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
            "{b}"
        );
    }
    let (s, b) = verb(&app, &ada_id, "disqualify", ADMIN, json!({})).await;
    assert!(s.is_client_error(), "no reason: {s} {b}");
    // Nobody is looked for before the reason is read: an unknown one is 404 whatever the reason.
    let (s, b) = verb(&app, &fay_id, "disqualify", ADMIN, json!({ "reason": " " })).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(board(&app).await.len(), 3, "no refused request changed the board");

    // What Ada and Cy have waiting to run goes when they are disqualified.
    let waiting_ada = app.submit(SLUG, &ada, &publish("ada-model:w").await).await.1["id"].as_str().unwrap().to_owned();
    let waiting_cy = app.submit(SLUG, &cy, &publish("cy-model:w").await).await.1["id"].as_str().unwrap().to_owned();

    // Ada out: the others move up; nothing of hers, not even the reason, is public.
    let (s, b) = verb(&app, &ada_id, "disqualify", ADMIN, json!({ "reason": why })).await;
    assert_eq!(
        (s, b["state"].as_str(), b["disqualified"]["reason"].as_str()),
        (StatusCode::OK, Some("active"), Some(why)),
        "{b}"
    );
    assert_eq!(b["cancelled"], json!([waiting_ada]), "{b}");
    let (_, sub) = app.call(Method::GET, &format!("/api/v1/submissions/{waiting_ada}"), Some(&ada), None).await;
    assert_eq!(sub["state"], "CANCELLED", "{sub}");
    let at = b["disqualified"]["at"].as_str().unwrap().to_owned();
    assert_eq!(board(&app).await, [line(1, "Bo"), line(2, "Lab C")]);
    for path in
        ["leaderboard", "leaderboard/history", "leaderboard/export?format=csv", "leaderboard/export?format=json"]
    {
        let shown = text(&app, &format!("/api/v1/challenges/{SLUG}/{path}")).await;
        assert!(!shown.contains("Ada") && !shown.contains("two accounts"), "{path}: {shown}");
        assert!(shown.contains("Bo"), "{path}: {shown}");
    }
    // She reads why, in her enrollment and in the refusal of a submit and of her quota.
    let refused = app.submit(SLUG, &ada, &publish("ada-model:2").await).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "disqualified", why);
    let (_, mine) = app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/enrollment"), Some(&ada), None).await;
    assert_eq!(mine["disqualified"]["reason"], why, "{mine}");
    assert_refused(
        &app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/quota"), Some(&ada), None).await,
        StatusCode::FORBIDDEN,
        "disqualified",
        "unless they reinstate you",
    );
    let (_, theirs) = app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/enrollment"), Some(&bo), None).await;
    assert!(theirs.get("disqualified").is_none(), "{theirs}");
    // A new reason keeps the time it was made.
    let (_, b) = verb(&app, &ada_id, "disqualify", ADMIN, json!({ "reason": "two accounts (Ada2 too)" })).await;
    assert_eq!(
        (b["disqualified"]["reason"].as_str(), b["disqualified"]["at"].as_str()),
        (Some("two accounts (Ada2 too)"), Some(at.as_str()))
    );
    let (_, list) = app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/enrollments"), ADMIN, None).await;
    let out: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("disqualified").is_some())
        .map(|e| e["participant"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(out, ["Ada"]);

    // Di out: team Lab C goes whole, though its best is Cy's; Cy may not submit, and is not told
    // Di's reason; nobody joins the team.
    let (s, b) = verb(&app, &di_id, "disqualify", ADMIN, json!({ "reason": "shared the labels" })).await;
    assert_eq!((s, &b["cancelled"]), (StatusCode::OK, &json!([waiting_cy])), "a teammate's waiting run goes too: {b}");
    assert_eq!(board(&app).await, [line(1, "Bo")]);
    assert_refused(
        &app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/quota"), Some(&cy), None).await,
        StatusCode::FORBIDDEN,
        "team_disqualified",
        "a member of your team",
    );
    let merge = app
        .call(Method::POST, &format!("/api/v1/challenges/{SLUG}/team/merge"), Some(&eve), Some(json!({ "code": code })))
        .await;
    assert_refused(&merge, StatusCode::FORBIDDEN, "team_disqualified", "team 'Lab C' is out");
    let refused = app.submit(SLUG, &cy, &publish("cy-model:2").await).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "team_disqualified", "a member of your team");
    assert!(!refused.1.to_string().contains("labels"), "{}", refused.1);
    let gil = app.register("Gil").await;
    app.join(SLUG, &gil).await;
    let refused = app.call(Method::POST, &join_team, Some(&gil), Some(json!({ "code": code }))).await;
    assert_refused(&refused, StatusCode::FORBIDDEN, "team_disqualified", "team 'Lab C' is out");
    let (_, mine) = app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/team"), Some(&cy), None).await;
    assert_eq!(mine["disqualified"], true, "{mine}");

    // Ada reinstated: her line is back where her score puts it, and she submits again.
    let (s, b) = verb(&app, &ada_id, "reinstate", ADMIN, json!({})).await;
    assert_eq!((s, b.get("disqualified")), (StatusCode::OK, None), "{b}");
    assert_eq!(board(&app).await, [line(1, "Ada"), line(2, "Bo")]);
    let (s, b) = app.submit(SLUG, &ada, &publish("ada-model:3").await).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let (s, b) = verb(&app, &ada_id, "reinstate", ADMIN, json!({})).await;
    assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("active")), "reinstating twice is harmless: {b}");

    // The close seals the board as it stands: Lab C is not on it, and reinstating Di after
    // brings the team back to the public board only.
    let close = format!("/api/v1/challenges/{SLUG}/phases/main/close");
    let (s, b) = app.call(Method::POST, &close, ADMIN, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let private = format!("/api/v1/challenges/{SLUG}/phases/main/private-board");
    let sealed: Value = serde_json::from_str(&text(&app, &private).await).unwrap();
    let rows: Vec<&str> =
        sealed["board"]["rows"].as_array().unwrap().iter().map(|r| r["participant"].as_str().unwrap()).collect();
    assert_eq!(rows, ["Ada", "Bo"], "{sealed}");
    verb(&app, &di_id, "reinstate", ADMIN, json!({})).await;
    let (_, mine) = app.call(Method::GET, &format!("/api/v1/challenges/{SLUG}/team"), Some(&cy), None).await;
    assert_eq!(mine["disqualified"], false, "{mine}");
    assert_eq!(board(&app).await, [line(1, "Ada"), line(2, "Bo"), line(3, "Lab C")]);
    let after: Value = serde_json::from_str(&text(&app, &private).await).unwrap();
    assert_eq!(
        (&after["board"], &after["commitment"]),
        (&sealed["board"], &sealed["commitment"]),
        "the sealed board stays"
    );
}

/// Only an admitted participant can be put out; and a board that rounds what it shows drops the
/// disqualified as the raw board does, its chart too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_admitted_are_disqualified_and_a_rounded_board_drops_them() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_challenge(SLUG, |s| {
        s["enrollment"] = json!("approval");
        s["quotas"] = json!({});
        s["phases"][0]["feedback"] = json!("rounded");
        s["phases"][0]["decimals"] = json!(2);
    })
    .await;
    let (ada, bo, cy) = (app.register("Ada").await, app.register("Bo").await, app.register("Cy").await);
    let mut ids = Vec::new();
    for token in [&ada, &bo, &cy] {
        let join = format!("/api/v1/challenges/{SLUG}/join");
        let (s, b) = app.call(Method::POST, &join, Some(token), Some(json!({ "accept_rules": true }))).await;
        assert_eq!((s, b["state"].as_str()), (StatusCode::OK, Some("pending")), "{b}");
        ids.push(participant_id(&app, token).await);
    }
    assert_refused(
        &verb(&app, &ids[2], "disqualify", ADMIN, json!({ "reason": "two accounts" })).await,
        StatusCode::CONFLICT,
        "not_admitted",
        "is pending in 'fair-play', not admitted",
    );
    for id in &ids[..2] {
        assert_eq!(verb(&app, id, "approve", ADMIN, json!({})).await.0, StatusCode::OK);
    }
    // The fixture's first phase is the open one.
    for (token, image, public) in [(&ada, "ada-round:1", 0.912), (&bo, "bo-round:1", 0.801)] {
        let (status, sub) = app.submit(SLUG, token, &publish(image).await).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{sub}");
        let id = sub["id"].as_str().unwrap();
        complete(&app, token, id, &Evaluation { public, private: public, private_cases: None }).await;
    }
    assert_eq!(board(&app).await, [line(1, "Ada"), line(2, "Bo")]);
    assert_eq!(verb(&app, &ids[0], "disqualify", ADMIN, json!({ "reason": "two accounts" })).await.0, StatusCode::OK);
    assert_eq!(board(&app).await, [line(1, "Bo")]);
    let history = text(&app, &format!("/api/v1/challenges/{SLUG}/leaderboard/history")).await;
    assert!(!history.contains("Ada") && history.contains("Bo"), "{history}");
}
