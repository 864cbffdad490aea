//! The score store against the MongoDB wire-protocol server: the leaderboard lines kept at
//! each record, their idempotence under redelivery, and the version readers cache by.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use darkroom_core::config::MongoConfig;
use darkroom_core::domain::Direction;
use darkroom_core::scores::{Recorded, ScoreDocument, ScoreStore, Sealed, to_bson_time};
use darkroom_tests::mongo_url;

async fn store() -> (ScoreStore, String) {
    let database = format!("darkroom_scores_{}", uuid::Uuid::new_v4().simple());
    let config = MongoConfig { url: mongo_url(), database: database.clone(), ..MongoConfig::default() };
    let store = ScoreStore::new(&config).await.expect("client");
    store.ensure_indexes().await.expect("indexes");
    (store, database)
}

fn score(submission: &str, participant: &str, value: f64, direction: Direction, minutes: i64) -> ScoreDocument {
    let t = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes);
    ScoreDocument {
        submission_id: submission.into(),
        challenge: "c".into(),
        phase: "dev".into(),
        participant_id: participant.into(),
        attempt: 1,
        metrics: BTreeMap::from([("loss".to_owned(), value)]),
        rank_value: value,
        direction,
        submitted_at: to_bson_time(t),
        scored_at: to_bson_time(t + Duration::minutes(1)),
        image_digest: None,
        evaluation_image: "eval:1".into(),
        evaluation_image_digest: None,
    }
}

async fn board(store: &ScoreStore) -> Vec<(String, String, u32)> {
    let rows = store.leaderboard("c", "dev", 100).await.expect("leaderboard");
    rows.into_iter().map(|b| (b.participant_id, b.submission_id, b.submissions)).collect()
}

fn line(p: &str, s: &str, n: u32) -> (String, String, u32) {
    (p.into(), s.into(), n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_keeps_each_participants_best_and_counts_each_score_once() {
    let (store, _) = store().await;
    let hi = Direction::HigherIsBetter;
    assert_eq!(store.board_version("c", "dev").await.unwrap(), 0);
    assert_eq!(store.record(&score("a1", "alice", 0.5, hi, 0)).await.unwrap(), Recorded::New);
    assert_eq!(store.record(&score("b1", "bob", 0.7, hi, 1)).await.unwrap(), Recorded::New);
    store.record(&score("a2", "alice", 0.4, hi, 2)).await.unwrap(); // worse: kept a1
    assert_eq!(board(&store).await, vec![line("bob", "b1", 1), line("alice", "a1", 2)]);
    store.record(&score("a3", "alice", 0.9, hi, 3)).await.unwrap(); // better: replaces a1
    store.record(&score("b2", "bob", 0.7, hi, 4)).await.unwrap(); // as good but later: kept b1
    assert_eq!(board(&store).await, vec![line("alice", "a3", 3), line("bob", "b1", 2)]);
    // A redelivered evaluation stores nothing and counts nothing again.
    assert_eq!(store.record(&score("a3", "alice", 0.9, hi, 3)).await.unwrap(), Recorded::AlreadyScored);
    assert_eq!(board(&store).await, vec![line("alice", "a3", 3), line("bob", "b1", 2)]);
    // Every record moves the phase's version, the redelivered one included.
    let v = store.board_version("c", "dev").await.unwrap();
    assert!(v >= 6, "six records, six versions at least: {v}");
    store.record(&score("a3", "alice", 0.9, hi, 3)).await.unwrap();
    assert!(store.board_version("c", "dev").await.unwrap() > v);
    assert_eq!(store.board_version("c", "final").await.unwrap(), 0, "phases are apart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_is_better_ranks_the_smallest_first_and_ties_go_to_the_earlier_submission() {
    let (store, _) = store().await;
    let lo = Direction::LowerIsBetter;
    store.record(&score("a1", "alice", 0.3, lo, 5)).await.unwrap();
    store.record(&score("b1", "bob", 0.3, lo, 1)).await.unwrap();
    store.record(&score("c1", "carol", 0.1, lo, 9)).await.unwrap();
    store.record(&score("c2", "carol", 0.2, lo, 10)).await.unwrap();
    assert_eq!(board(&store).await, vec![line("carol", "c1", 2), line("bob", "b1", 1), line("alice", "a1", 1)]);
    let limited = store.leaderboard("c", "dev", 1).await.unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].metrics["loss"], 0.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_missing_from_an_older_database_are_rebuilt_from_its_scores() {
    let (store, database) = store().await;
    let hi = Direction::HigherIsBetter;
    // Scores as an older version wrote them: in `scores` only, with no direction field.
    let client = mongodb::Client::with_uri_str(mongo_url()).await.unwrap();
    let raw = client.database(&database).collection::<mongodb::bson::Document>("scores");
    for (s, p, v, m) in [("a1", "alice", 0.5, 0), ("a2", "alice", 0.8, 1), ("b1", "bob", 0.6, 2)] {
        let mut doc = mongodb::bson::to_document(&score(s, p, v, hi, m)).unwrap();
        doc.remove("direction");
        raw.insert_one(doc).await.unwrap();
    }
    assert!(board(&store).await.is_empty());
    assert_eq!(store.rebuild_boards_if_missing().await.unwrap(), 3);
    assert_eq!(board(&store).await, vec![line("alice", "a2", 2), line("bob", "b1", 1)]);
    assert_eq!(store.rebuild_boards_if_missing().await.unwrap(), 0, "only when the boards are missing");
    assert_eq!(board(&store).await, vec![line("alice", "a2", 2), line("bob", "b1", 1)]);
}

/// Contract v2: the private split is stored sealed (the public read type has no field for it),
/// many cases span chunks and read back in order, and a second record writes nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_score_keeps_its_private_split_and_its_cases_in_chunks() {
    use darkroom_core::domain::{Case, Cases};
    let (store, _) = store().await;
    let hi = Direction::HigherIsBetter;
    let n = darkroom_core::scores::CASES_PER_CHUNK * 2 + 7;
    let case = |i: usize| Case { id: format!("case-{i}"), value: (i % 4) as f64 / 4.0 };
    let cases = Cases { public: (0..n).map(case).collect(), private: (0..3).map(case).collect() };
    let private = BTreeMap::from([("loss".to_owned(), 0.123)]);
    let a = score("a1", "alice", 0.5, hi, 0);
    let sealed = Sealed {
        private_metrics: Some(&private),
        cases: Some(&cases),
        receipt: None,
        run_finished: Some(r#"{"run":"a1"}"#),
    };
    assert_eq!(store.record_evaluation(&a, sealed).await.unwrap(), Recorded::New);
    store.record(&score("a2", "alice", 0.25, hi, 1)).await.unwrap(); // flat: no private split
    let again = Sealed { run_finished: Some(r#"{"run":"a1, again"}"#), ..sealed };
    assert_eq!(store.record_evaluation(&a, again).await.unwrap(), Recorded::AlreadyScored);
    // The run is kept by the score's own insert, and a later record keeps it. A score stored
    // without one (here the flat one, as scores were stored before runs went into the insert)
    // has none until it is recorded again with one, or `keep_run` adds it.
    let kept = |runs: Vec<(String, Option<String>)>| runs.into_iter().collect::<BTreeMap<_, _>>();
    let runs = kept(store.kept_runs("c", "dev").await.unwrap());
    assert_eq!(runs["a1"].as_deref(), Some(r#"{"run":"a1"}"#), "the run it was evaluated from, not a later one");
    assert_eq!(runs["a2"], None);
    let flat = score("a2", "alice", 0.25, hi, 1);
    let with_run = Sealed { run_finished: Some(r#"{"run":"a2"}"#), ..Sealed::default() };
    assert_eq!(store.record_evaluation(&flat, with_run).await.unwrap(), Recorded::AlreadyScored);
    assert_eq!(kept(store.kept_runs("c", "dev").await.unwrap())["a2"].as_deref(), Some(r#"{"run":"a2"}"#));
    store.keep_run("a3", r#"{"run":"a3"}"#).await.unwrap(); // no such score: nothing to keep it with
    assert!(!kept(store.kept_runs("c", "dev").await.unwrap()).contains_key("a3"));

    assert_eq!(store.cases("a1").await.unwrap().as_ref(), Some(&cases));
    assert_eq!(store.cases("a2").await.unwrap(), None);
    let sealed = store.private_scores("c", "dev").await.unwrap();
    let alice = &sealed["alice"];
    assert_eq!(alice.iter().map(|s| s.submission_id.as_str()).collect::<Vec<_>>(), ["a1", "a2"]);
    assert_eq!((alice[0].private_metrics.as_ref(), alice[1].private_metrics.as_ref()), (Some(&private), None));
    assert_eq!(alice[0].metrics["loss"], 0.5);
    // Public reads: the score as before, the board with the public value only.
    assert_eq!(store.get("a1").await.unwrap(), Some(a));
    let lines = store.leaderboard("c", "dev", 10).await.unwrap();
    assert!(!format!("{lines:?}").contains("0.123"), "{lines:?}");
    assert_eq!(lines[0].submissions, 2);
}

/// An attempt that stored more chunks of cases and died before its score (the row deleted here
/// stands for the insert it never made) leaves nothing behind once a shorter evaluation of the
/// same submission is recorded: not with the chunk mark this version keeps, nor with chunks an
/// older version wrote without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_evaluation_replaces_every_chunk_a_longer_earlier_attempt_left() {
    use darkroom_core::domain::{Case, Cases};
    use darkroom_core::scores::CASES_PER_CHUNK;
    let (store, database) = store().await;
    let client = mongodb::Client::with_uri_str(mongo_url()).await.unwrap();
    let raw = client.database(&database);
    let case = |i: usize, v: f64| Case { id: format!("case-{i}"), value: v };
    let long = Cases {
        public: (0..CASES_PER_CHUNK * 2 + 1).map(|i| case(i, 0.25)).collect(),
        private: (0..CASES_PER_CHUNK + 1).map(|i| case(i, 0.25)).collect(),
    };
    let short = Cases { public: (0..3).map(|i| case(i, 0.75)).collect(), private: vec![case(0, 0.75)] };
    let chunks = |id: &'static str| {
        let cases = raw.collection::<mongodb::bson::Document>("cases");
        async move { cases.count_documents(mongodb::bson::doc! { "submission_id": id }).await.unwrap() }
    };
    for (id, older_version) in [("marked", false), ("unmarked", true)] {
        let doc = score(id, "alice", 0.5, Direction::HigherIsBetter, 0);
        assert_eq!(
            store.record_evaluation(&doc, Sealed { cases: Some(&long), ..Sealed::default() }).await.unwrap(),
            Recorded::New
        );
        assert_eq!(chunks(id).await, 5, "3 public and 2 private chunks");
        // The crash before the score: the evaluation is redelivered and scored again.
        raw.collection::<mongodb::bson::Document>("scores")
            .delete_one(mongodb::bson::doc! { "submission_id": id })
            .await
            .unwrap();
        if older_version {
            raw.collection::<mongodb::bson::Document>("cases")
                .delete_one(mongodb::bson::doc! { "_id": format!("{id}/chunks") })
                .await
                .unwrap();
        }
        assert_eq!(
            store.record_evaluation(&doc, Sealed { cases: Some(&short), ..Sealed::default() }).await.unwrap(),
            Recorded::New
        );
        assert_eq!(store.cases(id).await.unwrap().as_ref(), Some(&short), "{id}: only the second attempt's cases");
        assert_eq!(chunks(id).await, 2, "{id}: one chunk per split");
        // The mark a next attempt starts from says what is there now.
        let mark = raw
            .collection::<mongodb::bson::Document>("cases")
            .find_one(mongodb::bson::doc! { "_id": format!("{id}/chunks") })
            .await
            .unwrap()
            .expect("the chunk mark");
        let count = |split: &str| mark.get_i64(split).or_else(|_| mark.get_i32(split).map(i64::from)).unwrap();
        assert_eq!((count("public"), count("private")), (1, 1), "{id}: {mark}");
    }
    // An older version's chunks of a split the new evaluation has no cases for go too.
    let doc = score("emptied", "alice", 0.5, Direction::HigherIsBetter, 0);
    assert_eq!(
        store.record_evaluation(&doc, Sealed { cases: Some(&long), ..Sealed::default() }).await.unwrap(),
        Recorded::New
    );
    let raw_of = |name: &str| raw.collection::<mongodb::bson::Document>(name);
    raw_of("scores").delete_one(mongodb::bson::doc! { "submission_id": "emptied" }).await.unwrap();
    raw_of("cases").delete_one(mongodb::bson::doc! { "_id": "emptied/chunks" }).await.unwrap();
    let public_only = Cases { public: short.public.clone(), private: Vec::new() };
    assert_eq!(
        store.record_evaluation(&doc, Sealed { cases: Some(&public_only), ..Sealed::default() }).await.unwrap(),
        Recorded::New
    );
    assert_eq!(chunks("emptied").await, 1, "the old private chunks are gone");
    assert_eq!(store.cases("emptied").await.unwrap().as_ref(), Some(&public_only));
}

/// Once a score is stored, a redelivered evaluation changes none of its cases, whatever it
/// brings: other cases, cases where the stored attempt wrote none, cases beside an older
/// version's unmarked chunks (whose mark stays missing), or a split left empty; and cases
/// beside a score stored with cases are never removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_score_keeps_its_cases_whatever_a_redelivered_evaluation_brings() {
    use darkroom_core::domain::{Case, Cases};
    use mongodb::bson::{Document, doc};
    let (store, database) = store().await;
    let client = mongodb::Client::with_uri_str(mongo_url()).await.unwrap();
    let raw = client.database(&database).collection::<Document>("cases");
    let case = |i: usize, v: f64| Case { id: format!("case-{i}"), value: v };
    let first = Cases { public: (0..3).map(|i| case(i, 0.25)).collect(), private: vec![case(0, 0.25)] };
    let other = Cases { public: (0..5).map(|i| case(i, 0.75)).collect(), private: vec![case(0, 0.75), case(1, 0.75)] };
    let public_only = Cases { public: other.public.clone(), private: Vec::new() };
    async fn record(store: &ScoreStore, id: &str, cases: Option<&Cases>) -> Recorded {
        let doc = score(id, "alice", 0.5, Direction::HigherIsBetter, 0);
        store.record_evaluation(&doc, Sealed { cases, ..Sealed::default() }).await.unwrap()
    }
    let mark = |id: &str| raw.find_one(doc! { "_id": format!("{id}/chunks") });

    for (id, again) in [("other", &other), ("emptied", &public_only)] {
        assert_eq!(record(&store, id, Some(&first)).await, Recorded::New);
        assert_eq!(record(&store, id, Some(again)).await, Recorded::AlreadyScored);
        assert_eq!(store.cases(id).await.unwrap().as_ref(), Some(&first), "{id}: the stored attempt's cases");
    }

    assert_eq!(record(&store, "none", None).await, Recorded::New);
    assert_eq!(record(&store, "none", Some(&other)).await, Recorded::AlreadyScored);
    assert_eq!(store.cases("none").await.unwrap(), None, "no cases beside a score stored without any");
    assert_eq!(raw.count_documents(doc! { "submission_id": "none" }).await.unwrap(), 0);
    assert!(mark("none").await.unwrap().is_none());

    // The race it must not lose: another attempt's score, stored with cases, won while this
    // attempt's one insert went in (stood for by removing the mark and chunks before it).
    assert_eq!(record(&store, "raced", Some(&first)).await, Recorded::New);
    raw.delete_many(doc! { "$or": [{ "_id": "raced/chunks" }, { "submission_id": "raced" }] }).await.unwrap();
    assert_eq!(record(&store, "raced", Some(&other)).await, Recorded::AlreadyScored);
    assert!(store.cases("raced").await.unwrap().is_some(), "cases beside a score stored with cases stay");

    assert_eq!(record(&store, "unmarked", Some(&first)).await, Recorded::New);
    raw.delete_one(doc! { "_id": "unmarked/chunks" }).await.unwrap(); // as an older version left it
    assert_eq!(record(&store, "unmarked", Some(&other)).await, Recorded::AlreadyScored);
    assert_eq!(store.cases("unmarked").await.unwrap().as_ref(), Some(&first));
    assert!(mark("unmarked").await.unwrap().is_none(), "the mark the refused insert added is gone again");
}

/// What the feedback modes read: a phase's scores in scoring order without the sealed split,
/// and many submissions' public cases in one call without the private ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_reads_see_the_public_split_only() {
    use darkroom_core::domain::{Case, Cases};
    let (store, _) = store().await;
    let cases = |public: f64, private: f64| Cases {
        public: (0..3).map(|i| Case { id: format!("c{i}"), value: public }).collect(),
        private: (0..3).map(|i| Case { id: format!("c{i}"), value: private }).collect(),
    };
    let private = BTreeMap::from([("loss".to_owned(), 0.987)]);
    // Scored out of submission order: b (minute 0) before a (minute 5).
    for (s, who, minutes, c) in
        [("b", "p", 0, Some(cases(0.5, 0.987))), ("a", "p", 5, Some(cases(0.25, 0.987))), ("q1", "q", 1, None)]
    {
        let doc = score(s, who, 0.5, Direction::LowerIsBetter, minutes);
        store
            .record_evaluation(&doc, Sealed { private_metrics: Some(&private), cases: c.as_ref(), ..Sealed::default() })
            .await
            .expect("recorded");
    }
    let all = store.phase_scores("c", "dev", None).await.unwrap();
    assert_eq!(all.iter().map(|s| s.submission_id.as_str()).collect::<Vec<_>>(), ["b", "q1", "a"]);
    let p = store.phase_scores("c", "dev", Some("p")).await.unwrap();
    assert_eq!(p.iter().map(|s| s.submission_id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    assert!(all.iter().all(|s| s.metrics["loss"] == 0.5), "public metrics only");

    let ids = ["a", "b", "q1", "nope"].map(String::from);
    let found = store.public_cases(&ids).await.unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found["a"].public.iter().all(|c| c.value == 0.25) && found["a"].public.len() == 3);
    assert!(found.values().all(|c| c.private.is_empty()), "the private split is never fetched");
    assert_eq!(store.cases("b").await.unwrap().unwrap(), cases(0.5, 0.987), "the sealed read has both");
}

/// The change log readers bring a kept board up to date from (issue 18): one entry per bump,
/// written with it, restarted by a rebuild and by a version document from before the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bump_logs_its_participant_and_a_rebuild_or_an_old_document_restarts_the_log() {
    let (store, database) = store().await;
    let hi = Direction::HigherIsBetter;
    let fresh = store.board_changes("c", "dev").await.unwrap();
    assert_eq!((fresh.version, fresh.since(0).map(<[String]>::len)), (0, Some(0)));
    store.record(&score("a1", "alice", 0.5, hi, 0)).await.unwrap();
    store.record(&score("b1", "bob", 0.7, hi, 1)).await.unwrap();
    store.record(&score("a2", "alice", 0.9, hi, 2)).await.unwrap();
    let changes = store.board_changes("c", "dev").await.unwrap();
    assert_eq!(changes.version, 3);
    assert_eq!(changes.since(1).unwrap(), ["bob", "alice"]);
    // The named lines, read by id, carry the key the board is sorted by.
    let lines = store.board_lines("c", "dev", &["alice".into(), "nobody".into()]).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0].key, lines[0].best.submission_id.as_str(), lines[0].best.submissions), (0.9, "a2", 2));
    let ranked = store.ranked_leaderboard("c", "dev", 10).await.unwrap();
    let order: Vec<&str> = ranked.iter().map(|l| l.best.participant_id.as_str()).collect();
    assert_eq!(order, ["alice", "bob"]);
    // A rebuild may change any line: nothing before it can be brought up to date.
    store.rebuild_boards().await.unwrap();
    let changes = store.board_changes("c", "dev").await.unwrap();
    assert_eq!((changes.version, changes.since(3)), (4, None));
    assert_eq!(changes.since(4).map(<[String]>::len), Some(0));
    // A version moved by a writer without the log reads as incomplete, until the next record
    // restarts the log at its version.
    let client = mongodb::Client::with_uri_str(mongo_url()).await.unwrap();
    let versions = client.database(&database).collection::<mongodb::bson::Document>("board_versions");
    versions
        .update_one(mongodb::bson::doc! { "_id": "c/dev" }, mongodb::bson::doc! { "$inc": { "version": 1_i64 } })
        .await
        .unwrap();
    assert_eq!(store.board_changes("c", "dev").await.unwrap().since(4), None);
    store.record(&score("b2", "bob", 0.95, hi, 3)).await.unwrap();
    let changes = store.board_changes("c", "dev").await.unwrap();
    assert_eq!((changes.version, changes.since(5)), (6, None), "the gap stays unexplained");
    store.record(&score("c1", "carol", 0.1, hi, 4)).await.unwrap();
    assert_eq!(store.board_changes("c", "dev").await.unwrap().since(6).unwrap(), ["carol"]);
}
