//! Teams, on SQLite and on PostgreSQL: forming them by code, one quota for the whole team
//! (under concurrent submits from every member), members fixed from the first submission, the
//! merge rule both ways, the leaderboard's team lines, and the organizer's duplicate-image flag.

use chrono::{Duration, Utc};
use darkroom_tests::registry::publish;
use darkroom_tests::scoring::{Evaluation, complete};
use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    teams_form_by_code_and_share_one_quota,
    members_change_only_before_the_first_submission,
    merges_follow_the_submission_count_rule_and_the_deadline,
    the_board_shows_teams_and_the_organizer_sees_shared_images,
    a_team_selects_its_finals_together_and_has_one_private_line,
);

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, path, Some(token), Some(body)).await
}

fn refused(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!((answer.0, answer.1["error"]["code"].as_str()), (status, Some(code)), "{}", answer.1);
}

/// Creates a team; returns its code.
async fn team(app: &TestApp, slug: &str, captain: &str, name: &str) -> String {
    app.join(slug, captain).await;
    let (s, b) = post(app, &format!("/api/v1/challenges/{slug}/teams"), captain, json!({ "name": name })).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["members"].as_array().unwrap().len(), 1, "{b}");
    b["code"].as_str().expect("the code, once").to_owned()
}

async fn join_team(app: &TestApp, slug: &str, token: &str, code: &str) -> (StatusCode, Value) {
    app.join(slug, token).await;
    post(app, &format!("/api/v1/challenges/{slug}/teams/join"), token, json!({ "code": code })).await
}

async fn teams_form_by_code_and_share_one_quota(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The fixture's quota: 5 per day.
    let slug = app.create_challenge("team-quota", |s| s["max_team_size"] = json!(3)).await;
    let solo = app.create_challenge("solo-only", |_| {}).await;
    let names = ["Ada", "Bo", "Cy", "Dee"];
    let mut t = Vec::new();
    for n in names {
        t.push(app.register(n).await);
    }
    let code = team(&app, &slug, &t[0], "Lab A").await;
    for member in &t[1..3] {
        let (s, b) = join_team(&app, &slug, member, &code).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    refused(&join_team(&app, &slug, &t[3], &code).await, StatusCode::CONFLICT, "team_too_large");
    refused(&join_team(&app, &slug, &t[3], "drt_nope").await, StatusCode::FORBIDDEN, "team_code_invalid");
    refused(&join_team(&app, &slug, &t[1], &code).await, StatusCode::CONFLICT, "already_in_team");
    app.join(&solo, &t[0]).await;
    let (s, b) = post(&app, &format!("/api/v1/challenges/{solo}/teams"), &t[0], json!({ "name": "X" })).await;
    refused(&(s, b), StatusCode::FORBIDDEN, "teams_disabled");
    // Not joined: no team either.
    let late = app.register("Late").await;
    let answer = post(&app, &format!("/api/v1/challenges/{slug}/teams"), &late, json!({ "name": "Late Lab" })).await;
    refused(&answer, StatusCode::FORBIDDEN, "not_enrolled");
    let answer = post(&app, &format!("/api/v1/challenges/{slug}/teams"), &t[3], json!({ "name": "Lab A" })).await;
    refused(&answer, StatusCode::CONFLICT, "team_name_taken");

    // 20 submits at once from the three members: exactly the team's 5 are accepted.
    let image = publish("team-model:1").await;
    let path = format!("/api/v1/challenges/{slug}/submissions");
    let submits = (0..20).map(|i| {
        let (token, path, image) = (t[i % 3].clone(), path.clone(), image.clone());
        let app = &app;
        async move { app.call(Method::POST, &path, Some(&token), Some(json!({ "image": image }))).await }
    });
    let answers = futures::future::join_all(submits).await;
    let accepted = answers.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).count();
    assert_eq!(accepted, 5, "{answers:?}");
    for (s, b) in answers.iter().filter(|(s, _)| *s != StatusCode::ACCEPTED) {
        assert_eq!(*s, StatusCode::TOO_MANY_REQUESTS, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("your team has used the 5 submissions"), "{b}");
    }
    // Outside the team, the quota is Dee's own.
    let (s, b) = app.submit(&slug, &t[3], &image).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");

    let (s, mine) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/team"), Some(&t[1]), None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(mine["name"], "Lab A");
    assert_eq!(mine["has_submitted"], true);
    assert!(mine.get("code").is_none(), "the code is shown to nobody after creation: {mine}");
    let captains: Vec<bool> = mine["members"].as_array().unwrap().iter().map(|m| m["captain"] == true).collect();
    assert_eq!(captains, [true, false, false]);
}

async fn members_change_only_before_the_first_submission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("team-moves", |s| s["max_team_size"] = json!(4)).await;
    let (ada, bo, cy) = (app.register("Ada").await, app.register("Bo").await, app.register("Cy").await);
    let code = team(&app, &slug, &ada, "Movers").await;
    let base = format!("/api/v1/challenges/{slug}");
    for member in [&bo, &cy] {
        assert_eq!(join_team(&app, &slug, member, &code).await.0, StatusCode::OK);
    }
    let ids: Vec<String> = {
        let (_, t) = app.call(Method::GET, &format!("{base}/team"), Some(&ada), None).await;
        t["members"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
    };
    // Before any submission: leave, removal by the captain only, the captain last.
    assert_eq!(post(&app, &format!("{base}/team/leave"), &cy, json!({})).await.0, StatusCode::NO_CONTENT);
    let remove = |who: &str, token: &str| {
        let path = format!("{base}/team/members/{who}");
        let (app, token) = (&app, token.to_owned());
        async move { app.call(Method::DELETE, &path, Some(&token), None).await }
    };
    refused(&remove(&ids[0], &bo).await, StatusCode::FORBIDDEN, "not_captain");
    refused(
        &post(&app, &format!("{base}/team/leave"), &ada, json!({})).await,
        StatusCode::CONFLICT,
        "captain_leaves_last",
    );
    let (s, b) = remove(&ids[1], &ada).await;
    assert_eq!((s, b["members"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{b}");
    // A renewed code: the old one admits nobody.
    let (s, renewed) = post(&app, &format!("{base}/team/code"), &ada, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{renewed}");
    refused(&join_team(&app, &slug, &bo, &code).await, StatusCode::FORBIDDEN, "team_code_invalid");
    refused(&post(&app, &format!("{base}/team/code"), &cy, json!({})).await, StatusCode::NOT_FOUND, "not_found");
    let code = renewed["code"].as_str().unwrap().to_owned();
    assert_eq!(join_team(&app, &slug, &bo, &code).await.0, StatusCode::OK);

    // After the team's first submission nobody leaves or is removed.
    let (s, b) = app.submit(&slug, &bo, &publish("movers:1").await).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    refused(
        &post(&app, &format!("{base}/team/leave"), &bo, json!({})).await,
        StatusCode::CONFLICT,
        "team_has_submitted",
    );
    refused(&remove(&ids[1], &ada).await, StatusCode::CONFLICT, "team_has_submitted");
    let (_, t) = app.call(Method::GET, &format!("{base}/team"), Some(&ada), None).await;
    assert_eq!(t["members"].as_array().unwrap().len(), 2, "{t}");
}

async fn merges_follow_the_submission_count_rule_and_the_deadline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now();
    // Day 2 of the phase with 2 per day: a merged team may have made at most 4 submissions.
    let slug = app
        .create_challenge("team-merge", |s| {
            s["max_team_size"] = json!(3);
            s["quotas"] = json!({ "per_day": 2 });
            s["phases"] =
                json!([{ "name": "dev", "starts_at": now - Duration::hours(30), "ends_at": now + Duration::days(5) }]);
        })
        .await;
    let closed = app
        .create_challenge("team-merge-closed", |s| {
            s["max_team_size"] = json!(3);
            s["merge_deadline"] = json!(now - Duration::hours(1));
        })
        .await;
    let t: Vec<String> = futures::future::join_all(["Ada", "Bo", "Cy", "Dee"].map(|n| app.register(n))).await;
    let base = format!("/api/v1/challenges/{slug}");
    let image = publish("merge-model:1").await;
    let a = team(&app, &slug, &t[0], "Team A").await;
    let b = team(&app, &slug, &t[1], "Team B").await;
    let _c = team(&app, &slug, &t[2], "Team C").await;
    for (token, n) in [(&t[0], 2), (&t[1], 2), (&t[2], 1)] {
        for _ in 0..n {
            assert_eq!(app.submit(&slug, token, &image).await.0, StatusCode::ACCEPTED);
        }
    }
    // B (2) into A (2): 4 ≤ 2 per day × 2 days — allowed. Then C (1) into A: 5 > 4 — refused,
    // saying why.
    let (s, merged) = post(&app, &format!("{base}/team/merge"), &t[1], json!({ "code": a })).await;
    assert_eq!(s, StatusCode::OK, "{merged}");
    assert_eq!(merged["members"].as_array().unwrap().len(), 2);
    // A team shares one quota: Bo's standing counts Ada's submissions too.
    let (s, standing) = app.call(Method::GET, &format!("{base}/quota"), Some(&t[1]), None).await;
    assert_eq!(s, StatusCode::OK, "{standing}");
    assert_eq!(
        (&standing["counted_for"], &standing["per_day"]["used"], &standing["left"]),
        (&json!("team"), &json!(4), &json!(0)),
        "{standing}"
    );
    let answer = post(&app, &format!("{base}/team/merge"), &t[2], json!({ "code": a })).await;
    refused(&answer, StatusCode::CONFLICT, "merge_too_many_submissions");
    let message = answer.1["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("together you made 5 submissions") && message.contains("per_day (2) × 2 day(s)"),
        "{message}"
    );
    // B is gone; its code admits nobody. A member who is no captain cannot merge.
    refused(&join_team(&app, &slug, &t[3], &b).await, StatusCode::FORBIDDEN, "team_code_invalid");
    refused(
        &post(&app, &format!("{base}/team/merge"), &t[1], json!({ "code": a })).await,
        StatusCode::FORBIDDEN,
        "not_captain",
    );
    // Dee (no submissions) may still join A: 3 members, 4 submissions.
    assert_eq!(join_team(&app, &slug, &t[3], &a).await.0, StatusCode::OK);

    // Past the merge deadline nothing merges or joins.
    let code = team(&app, &closed, &t[0], "Late A").await;
    refused(&join_team(&app, &closed, &t[1], &code).await, StatusCode::CONFLICT, "merge_deadline_passed");
}

async fn the_board_shows_teams_and_the_organizer_sees_shared_images(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("team-board", |s| s["max_team_size"] = json!(2)).await;
    let (ada, bo, cy) = (app.register("Ada").await, app.register("Bo").await, app.register("Cy").await);
    let code = team(&app, &slug, &ada, "Lab A").await;
    assert_eq!(join_team(&app, &slug, &bo, &code).await.0, StatusCode::OK);
    let shared = publish("shared-model:1").await;
    let own = publish("cy-model:1").await;
    let mut scored = Vec::new();
    for (token, image, accuracy) in [(&ada, &shared, 0.7), (&bo, &shared, 0.9), (&cy, &shared, 0.8), (&cy, &own, 0.6)] {
        let (s, sub) = app.submit(&slug, token, image).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
        let id = sub["id"].as_str().unwrap().to_owned();
        complete(&app, token, &id, &Evaluation { public: accuracy, private: accuracy, private_cases: None }).await;
        scored.push(id);
    }
    let (_, board) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/leaderboard"), None, None).await;
    let lines: Vec<(String, Option<String>, u64, f64)> = board["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["participant"].as_str().unwrap().to_owned(),
                e["team"].as_str().map(str::to_owned),
                e["submissions"].as_u64().unwrap(),
                e["metrics"]["accuracy"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![("Bo".to_owned(), Some("Lab A".to_owned()), 2, 0.9), ("Cy".to_owned(), None, 2, 0.8)],
        "one line per team, its best member's score and all its submissions: {board}"
    );

    // The shared image: Lab A (two members, one entrant) and Cy — flagged once, with both.
    let path = format!("/api/v1/challenges/{slug}/duplicate-images");
    let (s, flags) = app.call(Method::GET, &path, Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "{flags}");
    let flags = flags.as_array().unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    let entrants: Vec<(&str, usize)> = flags[0]["entrants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["submissions"].as_array().unwrap().len()))
        .collect();
    assert!(entrants.contains(&("Lab A", 2)) && entrants.contains(&("Cy", 1)) && entrants.len() == 2, "{entrants:?}");
    assert_eq!(app.call(Method::GET, &path, Some(&ada), None).await.0, StatusCode::FORBIDDEN);

    // The organizer's page flags it too; the public board page names the team.
    let web = darkroom_tests::web::WebServer::spawn(&app.config, &app.addr).await;
    let organizer = web.sign_in(ADMIN_TOKEN).await;
    let (_, html) = web.get(&format!("/challenges/{slug}/submissions"), Some(&organizer.cookie)).await;
    assert!(html.contains("id=\"shared-images\"") && html.contains("Cy (1), Lab A (2)"), "{html}");
    let (_, html) = web.get(&format!("/challenges/{slug}/leaderboard"), None).await;
    assert!(html.contains("Lab A (Bo)"), "{html}");
}

async fn a_team_selects_its_finals_together_and_has_one_private_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app
        .create_challenge("team-finals", |s| {
            s["max_team_size"] = json!(2);
            s["phases"][0]["name"] = json!("main");
            s["phases"][0]["private_split"] = json!(true);
            s["phases"][0]["reveal"] = json!("manual");
        })
        .await;
    let (ada, bo, cy) = (app.register("Ada").await, app.register("Bo").await, app.register("Cy").await);
    let code = team(&app, &slug, &ada, "Lab A").await;
    assert_eq!(join_team(&app, &slug, &bo, &code).await.0, StatusCode::OK);
    let mut ids = Vec::new();
    for (token, public, private) in [(&ada, 0.9, 0.6), (&ada, 0.8, 0.7), (&bo, 0.7, 0.95), (&cy, 0.85, 0.8)] {
        let (s, sub) = app.submit(&slug, token, &publish("finals-model:1").await).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
        let id = sub["id"].as_str().unwrap().to_owned();
        complete(&app, token, &id, &Evaluation { public, private, private_cases: None }).await;
        ids.push(id);
    }
    let path = format!("/api/v1/challenges/{slug}/phases/main/selections");
    let selected = |token: String| {
        let (app, path) = (&app, path.clone());
        async move {
            let (_, s) = app.call(Method::GET, &path, Some(&token), None).await;
            s["submissions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    // Bo selects his teammate's submission and his own: the team's choice, seen by Ada too.
    let (s, b) = app.call(Method::PUT, &path, Some(&bo), Some(json!({ "submissions": [ids[1], ids[2]] }))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(selected(ada.clone()).await, vec![ids[1].clone(), ids[2].clone()]);
    // The limit is the team's, not each member's; Cy's submission is not theirs to select.
    let (s, b) =
        app.call(Method::PUT, &path, Some(&ada), Some(json!({ "submissions": [ids[0], ids[1], ids[2]] }))).await;
    refused(&(s, b), StatusCode::CONFLICT, "too_many_selections");
    let (s, b) = app.call(Method::PUT, &path, Some(&ada), Some(json!({ "submissions": [ids[3]] }))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");

    let close = format!("/api/v1/challenges/{slug}/phases/main/close");
    let (s, closed) = app.call(Method::POST, &close, Some(ADMIN_TOKEN), Some(json!({}))).await;
    assert!(s.is_success(), "{closed}");
    let (_, board) = app
        .call(Method::GET, &format!("/api/v1/challenges/{slug}/phases/main/private-board"), Some(ADMIN_TOKEN), None)
        .await;
    let rows: Vec<(String, String)> = board["board"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["participant"].as_str().unwrap().to_owned(), r["submission_id"].as_str().unwrap().to_owned()))
        .collect();
    // One line for Lab A (its best selected: Bo's 0.95), one for Cy.
    assert_eq!(rows, vec![("Lab A".to_owned(), ids[2].clone()), ("Cy".to_owned(), ids[3].clone())], "{board}");
}
