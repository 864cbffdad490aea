//! Re-scoring a phase with a new evaluation image (issue 17, "Re-score"), end to end on the
//! real NATS, MongoDB, Docker and services: 20 COMPLETE submissions scored by one evaluation
//! image are evaluated again by another that scores differently; a reader polling the board
//! meanwhile sees only wholly-old or wholly-new boards; the evaluator is killed half-way and
//! restarted, and still every submission ends with exactly one score in the new generation;
//! the board switches, the old one stays readable with `?evaluator=1`, both verify against
//! their receipts; a run finished after the switch is scored by the new image. And the
//! refusals: a participant gets 403, an unknown image a clear 422, a second rescore while one
//! runs a 409.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use darkroom_api::{Leaderboard, ReceiptChainPage, ReceiptKeys, RescoreList, RescoreProgress, RescoreState};
use darkroom_core::config::RunnerBackend;
use darkroom_core::domain::receipt::{self, KeyRing, Values};
use darkroom_tests::registry::pushed;
use darkroom_tests::{ADMIN_TOKEN, Stack};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

/// What the original evaluation image (`darkroom-test-eval:copy`) writes here.
const OLD: f64 = 0.625;
const SCORE: &str = r#"{"accuracy": 0.625, "roc_auc": 0.546875}"#;
/// What the new one (`darkroom-test-eval:slow`, 3 s each) writes.
const NEW: f64 = 0.5;
const NEW_IMAGE: &str = "darkroom-test-eval:slow";
const SUBMISSIONS: usize = 20;

async fn get<T: DeserializeOwned>(stack: &Stack, path: &str, token: Option<&str>) -> T {
    let (s, body) = stack.app.call(Method::GET, path, token, None).await;
    assert_eq!(s, StatusCode::OK, "{path}: {body}");
    serde_json::from_value(body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What `darkroom verify --board SLUG [--evaluator N]` checks.
async fn verify_board(stack: &Stack, slug: &str, evaluator: Option<u32>) -> usize {
    let keys: ReceiptKeys = get(stack, "/api/v1/keys", None).await;
    let ring = KeyRing::new(&keys.keys).unwrap();
    let query = evaluator.map(|n| format!("?evaluator={n}")).unwrap_or_default();
    let board: Leaderboard = get(stack, &format!("/api/v1/challenges/{slug}/leaderboard{query}"), None).await;
    let page: ReceiptChainPage = get(stack, &format!("/api/v1/challenges/{slug}/receipts"), None).await;
    let chain = receipt::verify_chain(slug, page.receipts, &ring).expect("the chain verifies");
    receipt::verify_board(&board, &chain, Values::Exact).expect("every row is backed by its generation's receipt")
}

/// The board's generation, the set of ranking values it shows and how many rows.
fn values(board: &Leaderboard) -> (u32, BTreeSet<String>, usize) {
    (
        board.generation(),
        board.entries.iter().map(|e| format!("{}", e.metrics["accuracy"])).collect(),
        board.entries.len(),
    )
}

async fn progress(stack: &Stack, slug: &str) -> RescoreProgress {
    let list: RescoreList =
        get(stack, &format!("/api/v1/challenges/{slug}/phases/dev/rescores"), Some(ADMIN_TOKEN)).await;
    list.rescores.into_iter().last().expect("a rescore is listed")
}

async fn collection(stack: &Stack, name: &str) -> mongodb::Collection<Document> {
    let client = mongodb::Client::with_uri_str(&stack.runner_config.mongodb.url).await.unwrap();
    client.database(&stack.runner_config.mongodb.database).collection(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rescore_switches_the_board_atomically_keeps_the_old_one_and_survives_a_kill() {
    let mut stack = Stack::spawn(RunnerBackend::Engine).await;
    let truth = stack.app.dir.path().join("truth");
    std::fs::create_dir_all(truth.join("eval-output")).unwrap();
    std::fs::write(truth.join("eval-output/score.json"), SCORE).unwrap();
    let slug = stack
        .challenge("rescored", |s| {
            s["ground_truth"]["host_path"] = json!(truth);
            s["evaluation"]["image"] = json!("darkroom-test-eval:copy");
        })
        .await;
    let rescores = format!("/api/v1/challenges/{slug}/phases/dev/rescores");

    // Nothing scored yet: nothing to rescore.
    let (s, body) = stack
        .app
        .call(Method::POST, &rescores, Some(ADMIN_TOKEN), Some(json!({ "evaluation_image": NEW_IMAGE })))
        .await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_to_rescore")), "{body}");

    // 20 COMPLETE submissions of 10 participants, scored by the original image.
    let mut tokens = Vec::new();
    for i in 0..SUBMISSIONS / 2 {
        tokens.push(stack.app.register(&format!("Lab {i}")).await);
    }
    let mut ids = Vec::new();
    for i in 0..SUBMISSIONS {
        let token = &tokens[i % tokens.len()];
        let (s, sub) = stack.app.submit(&slug, token, &pushed("darkroom-test-hostile:ok")).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
        ids.push((sub["id"].as_str().unwrap().to_owned(), token.clone()));
    }
    for (id, token) in &ids {
        let done = stack.finished(id, token, 300).await;
        assert_eq!(done["state"], "COMPLETE", "{done}");
    }
    let before: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    assert_eq!(values(&before), (1, BTreeSet::from([OLD.to_string()]), SUBMISSIONS / 2));
    assert_eq!(before.entries.len(), SUBMISSIONS / 2);
    assert!(before.generations.is_empty(), "one generation only: {:?}", before.generations);

    // The refusals: a participant; an image the evaluators' engine does not have.
    let (s, body) =
        stack.app.call(Method::POST, &rescores, Some(&tokens[0]), Some(json!({ "evaluation_image": NEW_IMAGE }))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = stack.app.call(Method::GET, &rescores, Some(&tokens[0]), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = stack
        .app
        .call(
            Method::POST,
            &rescores,
            Some(ADMIN_TOKEN),
            Some(json!({ "evaluation_image": "darkroom-no-such-eval:9" })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("is not on the evaluators' Docker engine"), "{body}");

    // A reader polls the board the whole time: every board it sees is wholly one generation.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (http, url, stop) =
            (stack.app.http.clone(), stack.app.url(&format!("/api/v1/challenges/{slug}/leaderboard")), stop.clone());
        tokio::spawn(async move {
            let mut seen: Vec<(u32, BTreeSet<String>, usize)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let board: Leaderboard = http.get(&url).send().await.unwrap().json().await.unwrap();
                seen.push(values(&board));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            seen
        })
    };

    let started = Instant::now();
    let (s, body) = stack
        .app
        .call(Method::POST, &rescores, Some(ADMIN_TOKEN), Some(json!({ "evaluation_image": NEW_IMAGE })))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let requested: RescoreProgress = serde_json::from_value(body).unwrap();
    assert_eq!((requested.generation, requested.from_generation, requested.total), (2, 1, SUBMISSIONS as u64));
    assert!(requested.evaluation_image_id.starts_with("sha256:"), "{requested:?}");
    // A second rescore while this one runs is refused.
    let (s, body) = stack
        .app
        .call(
            Method::POST,
            &rescores,
            Some(ADMIN_TOKEN),
            Some(json!({ "evaluation_image": "darkroom-test-eval:copy" })),
        )
        .await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("rescore_running")), "{body}");

    // Half-way, the evaluator dies as SIGKILL would leave it, and comes back.
    let killed_at = loop {
        let p = progress(&stack, &slug).await;
        assert_eq!(p.state, RescoreState::Running, "{p:?}");
        if p.scored >= SUBMISSIONS as u64 / 2 {
            break p.scored;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "the rescore stalled: {p:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stack.kill_evaluator().await;
    let board: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    assert_eq!(values(&board), (1, BTreeSet::from([OLD.to_string()]), SUBMISSIONS / 2), "not switched half-way");
    stack.start_evaluator().await;

    let done = loop {
        let p = progress(&stack, &slug).await;
        if p.state != RescoreState::Running {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(420), "the rescore never finished: {p:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let took = started.elapsed();
    // Let the reader see the switched board a few times before it stops.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = reader.await.unwrap();
    eprintln!(
        "rescore of {SUBMISSIONS} submissions took {:.1} s, evaluator killed after {killed_at} were scored; the \
         reader saw {} boards",
        took.as_secs_f64(),
        seen.len()
    );
    assert_eq!(done.state, RescoreState::Switched, "{done:?}");
    assert_eq!((done.total, done.scored, done.failed.len()), (SUBMISSIONS as u64, SUBMISSIONS as u64, 0), "{done:?}");
    assert!(done.switched_at.is_some());

    // No reader saw a mix: each board wholly the old image's values or wholly the new one's.
    let old = (1, BTreeSet::from([OLD.to_string()]), SUBMISSIONS / 2);
    let new = (2, BTreeSet::from([NEW.to_string()]), SUBMISSIONS / 2);
    let mixed: Vec<_> = seen.iter().filter(|b| **b != old && **b != new).collect();
    assert!(mixed.is_empty(), "boards mixing generations: {mixed:?}");
    assert!(seen.contains(&old) && seen.contains(&new), "the reader saw the old board, then the new one");
    // Once switched, never back.
    let first_new = seen.iter().position(|b| *b == new);
    if let Some(i) = first_new {
        assert!(seen[i..].iter().all(|b| *b == new), "the board went back to the old generation");
    }

    // Exactly one score per submission in the new generation, none skipped; the old ones kept.
    let scores_g2 = collection(&stack, "scores_g2").await;
    let docs: Vec<Document> = scores_g2.find(doc! { "challenge": &slug }).await.unwrap().try_collect().await.unwrap();
    let rescored: HashSet<String> = docs.iter().map(|d| d.get_str("submission_id").unwrap().to_owned()).collect();
    assert_eq!(docs.len(), SUBMISSIONS, "one score each in generation 2");
    assert_eq!(rescored, ids.iter().map(|(id, _)| id.clone()).collect::<HashSet<_>>());
    assert!(docs.iter().all(|d| d.get_document("metrics").unwrap().get_f64("accuracy").unwrap() == NEW));
    let originals = stack.scores().await.count_documents(doc! { "challenge": &slug }).await.unwrap();
    assert_eq!(originals, SUBMISSIONS as u64, "the original scores stay");

    // The board shows the new generation and lists both; the old stays readable.
    let board: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    assert_eq!(values(&board), new);
    let states: Vec<(u32, &str, u64)> =
        board.generations.iter().map(|g| (g.generation, g.state.as_str(), g.scored)).collect();
    assert_eq!(states, vec![(1, "previous", SUBMISSIONS as u64), (2, "current", SUBMISSIONS as u64)]);
    assert_eq!(board.generations[1].evaluation_image.as_deref(), Some(NEW_IMAGE));
    let previous: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard?evaluator=1"), None).await;
    assert_eq!(values(&previous), old);
    assert_eq!(previous.entries.len(), SUBMISSIONS / 2);
    let (s, body) =
        stack.app.call(Method::GET, &format!("/api/v1/challenges/{slug}/leaderboard?evaluator=7"), None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");

    // Both boards verify against their own generation's receipts, in the one chain.
    assert_eq!(verify_board(&stack, &slug, None).await, SUBMISSIONS / 2);
    assert_eq!(verify_board(&stack, &slug, Some(1)).await, SUBMISSIONS / 2);
    let page: ReceiptChainPage = get(&stack, &format!("/api/v1/challenges/{slug}/receipts"), None).await;
    assert_eq!(page.receipts.len(), 2 * SUBMISSIONS, "one new receipt per rescored submission");
    let second: Vec<_> = page.receipts.iter().filter(|r| r.receipt.claims.generation == Some(2)).collect();
    assert_eq!(second.len(), SUBMISSIONS);
    assert!(second.iter().all(|r| r.receipt.claims.evaluation_image == NEW_IMAGE));
    let receipts = collection(&stack, "receipts").await;
    let (id0, _) = &ids[0];
    assert!(receipts.find_one(doc! { "_id": format!("{id0}@2") }).await.unwrap().is_some());
    assert!(receipts.find_one(doc! { "_id": id0 }).await.unwrap().is_some(), "the original receipt stays");

    // A submission after the switch is scored by the new image, into the board it shows.
    let (s, sub) = stack.app.submit(&slug, &tokens[0], &pushed("darkroom-test-hostile:ok")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
    let late = sub["id"].as_str().unwrap().to_owned();
    let finished = stack.finished(&late, &tokens[0], 180).await;
    assert_eq!(finished["state"], "COMPLETE", "{finished}");
    assert!(scores_g2.find_one(doc! { "submission_id": &late }).await.unwrap().is_some(), "scored in generation 2");
    let board: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    assert_eq!(values(&board), new);
    assert_eq!(verify_board(&stack, &slug, None).await, SUBMISSIONS / 2);
}

/// A rescore whose image fails every evaluation lists each submission with its reason, never
/// switches the board, and a later rescore (the next generation, from the board's head) can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rescores_are_listed_with_their_reason_and_keep_the_board() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let truth = stack.app.dir.path().join("truth");
    std::fs::create_dir_all(truth.join("eval-output")).unwrap();
    std::fs::write(truth.join("eval-output/score.json"), SCORE).unwrap();
    let slug = stack
        .challenge("rescore-fails", |s| {
            s["ground_truth"]["host_path"] = json!(truth);
            s["evaluation"]["image"] = json!("darkroom-test-eval:copy");
        })
        .await;
    let rescores = format!("/api/v1/challenges/{slug}/phases/dev/rescores");
    let token = stack.app.register("Ada Lab").await;
    let mut ids = HashSet::new();
    for _ in 0..3 {
        let (s, sub) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:ok")).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
        let id = sub["id"].as_str().unwrap().to_owned();
        assert_eq!(stack.finished(&id, &token, 180).await["state"], "COMPLETE");
        ids.insert(id);
    }

    // An "evaluation image" that writes predictions, not a score.json: every evaluation fails.
    let (s, body) = stack
        .app
        .call(
            Method::POST,
            &rescores,
            Some(ADMIN_TOKEN),
            Some(json!({ "evaluation_image": "darkroom-test-hostile:ok" })),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let started = Instant::now();
    let failed = loop {
        let p = progress(&stack, &slug).await;
        if p.state != RescoreState::Running {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the rescore never finished: {p:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(failed.state, RescoreState::Incomplete, "{failed:?}");
    assert_eq!((failed.total, failed.scored), (3, 0), "{failed:?}");
    let listed: HashSet<String> = failed.failed.iter().map(|f| f.submission_id.to_string()).collect();
    assert_eq!(listed, ids, "every submission listed");
    assert!(
        failed.failed.iter().all(|f| f.reason.contains("evaluation error") && f.reason.contains("score.json")),
        "{failed:?}"
    );
    let board: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    assert_eq!(values(&board), (1, BTreeSet::from([OLD.to_string()]), 1), "the board stayed");
    assert_eq!(board.generations.iter().map(|g| g.state.as_str()).collect::<Vec<_>>(), ["current", "incomplete"]);

    // A new rescore starts from the board's head into the next generation, and switches.
    let (s, body) = stack
        .app
        .call(Method::POST, &rescores, Some(ADMIN_TOKEN), Some(json!({ "evaluation_image": NEW_IMAGE })))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let next: RescoreProgress = serde_json::from_value(body).unwrap();
    assert_eq!((next.generation, next.from_generation), (3, 1));
    let switched = loop {
        let p = progress(&stack, &slug).await;
        if p.state != RescoreState::Running {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the rescore never finished: {p:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!((switched.state, switched.scored), (RescoreState::Switched, 3), "{switched:?}");
    let board: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    assert_eq!(values(&board), (3, BTreeSet::from([NEW.to_string()]), 1));
    assert_eq!(verify_board(&stack, &slug, None).await, 1);
}
