//! Score receipts end to end (issue 17): a scored submission has a signed receipt in its
//! challenge's chain that the key at `/api/v1/keys` verifies and the board and its export
//! carry; concurrent evaluators append one linear chain; a receipt lost to a crash is appended
//! on redelivery, never twice; and tampering with MongoDB afterwards (a board value, a receipt,
//! a removed receipt) is caught by the checks `darkroom verify` runs, naming what failed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use darkroom_api::{ExportedBoard, Leaderboard, ReceiptChainPage, ReceiptKeys, SignedReceipt};
use darkroom_core::config::{MongoConfig, RunnerBackend};
use darkroom_core::digest::sha256_hex;
use darkroom_core::domain::Direction;
use darkroom_core::domain::receipt::{self, KeyRing, ReceiptSigner, Values, VerifyError};
use darkroom_core::scores::{PendingReceipt, Recorded, ScoreDocument, ScoreStore, Sealed, to_bson_time};
use darkroom_tests::registry::pushed;
use darkroom_tests::scoring::pending_receipt;
use darkroom_tests::{Stack, mongo_url};
use mongodb::bson::doc;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

const SCORE: &str = r#"{"accuracy": 0.625, "roc_auc": 0.546875}"#;

async fn get<T: DeserializeOwned>(stack: &Stack, path: &str, token: Option<&str>) -> T {
    let (s, body) = stack.app.call(Method::GET, path, token, None).await;
    assert_eq!(s, StatusCode::OK, "{path}: {body}");
    serde_json::from_value(body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What `darkroom verify --board` checks: the keys the server lists, the whole chain, the board.
async fn verify_board(stack: &Stack, slug: &str) -> Result<usize, VerifyError> {
    let keys: ReceiptKeys = get(stack, "/api/v1/keys", None).await;
    let ring = KeyRing::new(&keys.keys)?;
    let board: Leaderboard = get(stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    let page: ReceiptChainPage = get(stack, &format!("/api/v1/challenges/{slug}/receipts"), None).await;
    let chain = receipt::verify_chain(slug, page.receipts, &ring)?;
    receipt::verify_board(&board, &chain, Values::Exact)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scored_submission_has_a_receipt_that_verifies_and_tampering_is_named() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let truth = stack.app.dir.path().join("truth");
    std::fs::create_dir_all(truth.join("eval-output")).unwrap();
    std::fs::write(truth.join("eval-output/score.json"), SCORE).unwrap();
    let slug = stack
        .challenge("receipted", |s| {
            s["ground_truth"]["host_path"] = json!(truth);
            s["evaluation"]["image"] = json!("darkroom-test-eval:copy");
        })
        .await;
    // Three scores of two participants, evaluated two at a time.
    let (ada, bob) = (stack.app.register("Ada Lab").await, stack.app.register("Bob Lab").await);
    let mut ids = Vec::new();
    for token in [&ada, &bob, &ada] {
        let (s, sub) = stack.app.submit(&slug, token, &pushed("darkroom-test-hostile:ok")).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
        ids.push((sub["id"].as_str().unwrap().to_owned(), token.clone()));
    }
    for (id, token) in &ids {
        let done = stack.finished(id, token, 180).await;
        assert_eq!(done["state"], "COMPLETE", "{done}");
    }

    // The receipt, for its owner; the key the server lists verifies it.
    let (id, _) = &ids[0];
    let signed: SignedReceipt = get(&stack, &format!("/api/v1/submissions/{id}/receipt"), Some(&ada)).await;
    let keys: ReceiptKeys = get(&stack, "/api/v1/keys", None).await;
    assert_eq!(keys.keys.len(), 1, "{keys:?}");
    receipt::verify_receipt(&signed, &KeyRing::new(&keys.keys).unwrap()).expect("the receipt verifies");
    let c = &signed.receipt.claims;
    assert_eq!((c.submission_id.to_string(), c.phase.as_str(), c.attempt), (id.clone(), "dev", 1));
    assert_eq!(c.score_json_sha256.as_deref(), Some(sha256_hex(SCORE.as_bytes()).as_str()), "score.json's hash");
    assert_eq!(c.metrics, BTreeMap::from([("accuracy".into(), "0.625".into()), ("roc_auc".into(), "0.546875".into())]));
    assert_eq!(c.output_archive_sha256.len(), 64);
    assert!(c.image_digest.as_deref().is_some_and(|d| d.starts_with("sha256:")), "{c:?}");
    assert!(c.evaluation_image_id.as_deref().is_some_and(|d| d.starts_with("sha256:")), "{c:?}");
    assert_eq!(c.runner.as_deref(), Some(stack.runner_config.runner.runner_id.as_str()));
    assert_eq!(c.evaluator, stack.runner_config.evaluator.evaluator_id);
    assert_eq!(c.sandbox_policy, darkroom_core::sandbox::POLICY_VERSION);
    assert_eq!((c.limits.cpus.as_str(), c.limits.memory_mb, c.limits.pids), ("1.0", 256, 64));
    assert_eq!(c.sealed, None, "nothing sealed in a raw phase without a private split");
    // The dataset's fingerprint as applied (public on the challenge); the ground truth's only as
    // the commitment keyed by the evaluator's key, never its plain digest.
    let (_, public) = stack.app.call(Method::GET, &format!("/api/v1/challenges/{slug}"), None, None).await;
    let applied = public["dataset_fingerprint"]["digest"].as_str().expect("the challenge was fingerprinted");
    assert_eq!(c.dataset_fingerprint.as_deref(), Some(applied), "{c:?}");
    let (_, spec) = stack
        .app
        .call(Method::GET, &format!("/api/v1/challenges/{slug}/spec"), Some(darkroom_tests::ADMIN_TOKEN), None)
        .await;
    let truth_digest =
        spec["ground_truth"]["fingerprint"]["digest"].as_str().expect("the ground truth was fingerprinted");
    let key = ReceiptSigner::from_file(&stack.runner_config.evaluator.receipt_key_file).unwrap().ground_truth_key();
    let committed = receipt::ground_truth_commitment(&key, &slug, truth_digest);
    assert_eq!(c.ground_truth_fingerprint.as_deref(), Some(committed.as_str()), "{c:?}");
    assert!(!serde_json::to_string(&signed).unwrap().contains(truth_digest), "the plain digest stays out");
    // Someone else's receipt is as hidden as their submission.
    let (s, _) = stack.app.call(Method::GET, &format!("/api/v1/submissions/{id}/receipt"), Some(&bob), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The chain: three receipts, linked, the board's head its last.
    assert_eq!(verify_board(&stack, &slug).await, Ok(2), "two participants' best rows");
    let page: ReceiptChainPage = get(&stack, &format!("/api/v1/challenges/{slug}/receipts"), None).await;
    assert_eq!(page.receipts.iter().map(|r| r.receipt.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    // One ground truth, one commitment, in every receipt of the chain.
    assert!(page.receipts.iter().all(|r| r.receipt.claims.ground_truth_fingerprint == c.ground_truth_fingerprint));
    assert!(page.receipts.contains(&signed));
    let board: Leaderboard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard"), None).await;
    assert_eq!(board.chain, page.head);
    assert_eq!(board.chain.as_ref().map(|h| h.length), Some(3));
    let later: ReceiptChainPage =
        get(&stack, &format!("/api/v1/challenges/{slug}/receipts?after=2&limit=5"), None).await;
    assert_eq!(later.receipts, page.receipts[2..]);

    // The export: each row with its receipt's hash, as JSON and CSV.
    let exported: ExportedBoard = get(&stack, &format!("/api/v1/challenges/{slug}/leaderboard/export"), None).await;
    assert_eq!(exported.rows.len(), 2);
    for row in &exported.rows {
        let backing = page.receipts.iter().find(|r| r.receipt.claims.submission_id == row.submission_id).unwrap();
        assert_eq!(row.receipt_hash.as_deref(), Some(backing.hash.as_str()));
    }
    let csv = stack
        .app
        .http
        .get(stack.app.url(&format!("/api/v1/challenges/{slug}/leaderboard/export?format=csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "rank,participant,team,submission_id,accuracy,roc_auc,submissions,submitted_at,scored_at,receipt_hash"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].ends_with(exported.rows[0].receipt_hash.as_deref().unwrap()), "{csv}");

    // Tampering in MongoDB, as someone with the database but not the key would.
    let db = mongodb::Client::with_uri_str(mongo_url()).await.unwrap().database(&stack.runner_config.mongodb.database);
    let boards = db.collection::<mongodb::bson::Document>("boards");
    let receipts = db.collection::<mongodb::bson::Document>("receipts");
    let versions = db.collection::<mongodb::bson::Document>("board_versions");
    let bump = || async {
        // A new version, so the service renders the board again instead of serving it cached.
        versions.update_many(doc! {}, doc! { "$inc": { "version": 1_i64 } }).await.unwrap();
    };
    // A board value.
    let row = &board.entries[0];
    boards
        .update_one(
            doc! { "submission_id": row.submission_id.to_string() },
            doc! { "$set": { "metrics": { "accuracy": 0.875, "roc_auc": 0.546875 } } },
        )
        .await
        .unwrap();
    bump().await;
    let e = verify_board(&stack, &slug).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("board row 1 ({}): board shows accuracy = 0.875, the receipt says 0.625", row.submission_id)
    );
    boards
        .update_one(
            doc! { "submission_id": row.submission_id.to_string() },
            doc! { "$set": { "metrics": { "accuracy": 0.625, "roc_auc": 0.546875 } } },
        )
        .await
        .unwrap();
    bump().await;
    assert_eq!(verify_board(&stack, &slug).await, Ok(2), "restored");

    // A receipt's content, with its stored hash left alone or recomputed: either way named.
    let second = &page.receipts[1];
    let stored = receipts.find_one(doc! { "seq": 2_i64 }).await.unwrap().unwrap();
    let text = stored.get_str("receipt").unwrap().to_owned();
    let altered = text.replace(r#""accuracy":"0.625""#, r#""accuracy":"0.925""#);
    assert_ne!(altered, text);
    receipts.update_one(doc! { "seq": 2_i64 }, doc! { "$set": { "receipt": &altered } }).await.unwrap();
    let e = verify_board(&stack, &slug).await.unwrap_err();
    assert!(matches!(e, VerifyError::Hash { seq: 2, .. }), "{e}");
    receipts
        .update_one(doc! { "seq": 2_i64 }, doc! { "$set": { "hash": sha256_hex(altered.as_bytes()) } })
        .await
        .unwrap();
    let e = verify_board(&stack, &slug).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("receipt #2 ({}): signature does not verify", second.receipt.claims.submission_id)
    );
    receipts.replace_one(doc! { "seq": 2_i64 }, &stored).await.unwrap();
    assert_eq!(verify_board(&stack, &slug).await, Ok(2), "restored");

    // A receipt removed.
    receipts.delete_one(doc! { "seq": 2_i64 }).await.unwrap();
    assert_eq!(verify_board(&stack, &slug).await, Err(VerifyError::Gap { seq: 2, found: 3 }));
}

fn claims(n: usize, participant: &str) -> (ScoreDocument, PendingReceipt) {
    let t = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap() + chrono::Duration::seconds(n as i64);
    let value = 0.5 + n as f64 / 1000.0;
    let doc = ScoreDocument {
        submission_id: uuid::Uuid::now_v7().to_string(),
        challenge: "chain".into(),
        phase: "dev".into(),
        participant_id: participant.into(),
        attempt: 1,
        metrics: BTreeMap::from([("accuracy".to_owned(), value)]),
        rank_value: value,
        direction: Direction::HigherIsBetter,
        submitted_at: to_bson_time(t),
        scored_at: to_bson_time(t),
        image_digest: None,
        evaluation_image: "eval:1".into(),
        evaluation_image_digest: None,
    };
    let pending = pending_receipt(&doc, None);
    (doc, pending)
}

/// Four evaluators (each its own client) record 40 scores of one challenge at once, each
/// twice (a redelivery): one receipt per score, numbered 1..=40 with every link intact.
/// And a score whose receipt a crash kept from being appended gets it on redelivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_evaluators_append_one_linear_chain_and_a_crash_loses_no_receipt() {
    let database = format!("darkroom_receipts_{}", uuid::Uuid::new_v4().simple());
    let signer = Arc::new(ReceiptSigner::from_seed([5; 32]));
    let mut stores = Vec::new();
    let config = MongoConfig { url: mongo_url(), database: database.clone(), ..MongoConfig::default() };
    for _ in 0..4 {
        let store = ScoreStore::new(&config).await.unwrap().with_signer(signer.clone());
        store.ensure_indexes().await.unwrap();
        stores.push(store);
    }
    let participant = uuid::Uuid::now_v7().to_string();
    let scores: Vec<_> = (0..40).map(|n| claims(n, &participant)).collect();
    let mut tasks = Vec::new();
    for (n, (doc, pending)) in scores.iter().cloned().enumerate() {
        let store = stores[n % 4].clone();
        let again = stores[(n + 1) % 4].clone();
        tasks.push(tokio::spawn(async move {
            let first = store.record_evaluation(&doc, Sealed { receipt: Some(&pending), ..Sealed::default() });
            let second = again.record_evaluation(&doc, Sealed { receipt: Some(&pending), ..Sealed::default() });
            let (a, b) = tokio::join!(first, second);
            (a.unwrap(), b.unwrap())
        }));
    }
    for t in tasks {
        let outcomes = t.await.unwrap();
        assert!(matches!(
            outcomes,
            (Recorded::New, Recorded::AlreadyScored) | (Recorded::AlreadyScored, Recorded::New)
        ));
    }
    let store = &stores[0];
    let chain = store.chain("chain", 0, 1000).await.unwrap();
    assert_eq!(chain.len(), 40);
    assert!(store.receipt_keys().await.unwrap().is_empty(), "no key listed until publish_key");
    store.publish_key().await.unwrap();
    let ring = KeyRing::new(&store.receipt_keys().await.unwrap()).unwrap();
    let verified = receipt::verify_chain("chain", chain, &ring).expect("one linear chain");
    for (doc, _) in &scores {
        assert!(verified.receipt_of(doc.submission_id.parse().unwrap()).is_some());
    }
    assert_eq!(store.chain_head("chain").await.unwrap(), verified.head());

    // A crash between the score and its receipt: a store without the key stands for the
    // evaluator that died after storing the score (with its claims) and before appending.
    let (doc, pending) = claims(99, &participant);
    let crashed = ScoreStore::new(&config).await.unwrap();
    assert_eq!(
        crashed.record_evaluation(&doc, Sealed { receipt: Some(&pending), ..Sealed::default() }).await.unwrap(),
        Recorded::New
    );
    assert_eq!(store.receipt(&doc.submission_id).await.unwrap(), None);
    // The redelivery finds the score and appends the receipt from the stored claims, once.
    for _ in 0..2 {
        assert_eq!(store.record(&doc).await.unwrap(), Recorded::AlreadyScored);
    }
    let appended = store.receipt(&doc.submission_id).await.unwrap().expect("appended on redelivery");
    assert_eq!((appended.receipt.seq, &appended.receipt.claims), (41, &pending.claims));
    let chain = store.chain("chain", 0, 1000).await.unwrap();
    assert_eq!(receipt::verify_chain("chain", chain, &ring).unwrap().len(), 41);
}

/// The chain head an append starts from is one document per challenge, moved only after its
/// receipt is stored. A head that lags (a crash between the two) or is missing (a chain
/// appended before heads were kept) costs a lost place, never a fork or a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_or_missing_chain_head_never_forks_the_chain() {
    let database = format!("darkroom_receipts_{}", uuid::Uuid::new_v4().simple());
    let config = MongoConfig { url: mongo_url(), database: database.clone(), ..MongoConfig::default() };
    let store = ScoreStore::new(&config).await.unwrap().with_signer(Arc::new(ReceiptSigner::from_seed([6; 32])));
    store.ensure_indexes().await.unwrap();
    let heads = mongodb::Client::with_uri_str(mongo_url())
        .await
        .unwrap()
        .database(&database)
        .collection::<mongodb::bson::Document>("receipt_chain_heads");
    let head_length = || async {
        let d = heads.find_one(doc! { "_id": "chain" }).await.unwrap().expect("the chain's head");
        d.get_i64("length").or_else(|_| d.get_i32("length").map(i64::from)).unwrap()
    };
    let participant = uuid::Uuid::now_v7().to_string();
    let record = |n: usize| {
        let (doc, pending) = claims(n, &participant);
        let store = store.clone();
        async move {
            let recorded =
                store.record_evaluation(&doc, Sealed { receipt: Some(&pending), ..Sealed::default() }).await.unwrap();
            assert_eq!(recorded, Recorded::New);
        }
    };
    for n in 1..=3 {
        record(n).await;
    }
    assert_eq!(head_length().await, 3, "the head follows each append");
    // Lagging: back at place 1, as after a crash that stored receipts 2 and 3 but not the head.
    let first = store.chain("chain", 0, 1).await.unwrap().remove(0);
    heads.update_one(doc! { "_id": "chain" }, doc! { "$set": { "length": 1_i64, "hash": &first.hash } }).await.unwrap();
    record(4).await;
    assert_eq!(head_length().await, 4);
    // Missing.
    heads.delete_one(doc! { "_id": "chain" }).await.unwrap();
    record(5).await;
    assert_eq!(head_length().await, 5);
    store.publish_key().await.unwrap();
    let ring = KeyRing::new(&store.receipt_keys().await.unwrap()).unwrap();
    let chain = store.chain("chain", 0, 1000).await.unwrap();
    let verified = receipt::verify_chain("chain", chain, &ring).expect("one linear chain");
    assert_eq!(verified.len(), 5);
    assert_eq!(store.chain_head("chain").await.unwrap(), verified.head());
}
