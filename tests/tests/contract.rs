//! Evaluation contract v2 end to end: an evaluation that writes a split `score.json` and
//! `cases.csv` is stored with its sealed private values and its cases, which no participant
//! route shows; an evaluation whose output breaks the contract fails the submission with the
//! reason for the organizer. The evaluation image is `darkroom-test-eval:copy`, which writes
//! whatever the challenge's ground truth holds in `eval-output/` (scripts/build-images.sh).

use darkroom_core::config::RunnerBackend;
use darkroom_core::scores::{Recorded, ScoreStore, Sealed};
use darkroom_tests::Stack;
use darkroom_tests::registry::pushed;
use reqwest::{Method, StatusCode};
use serde_json::json;

const ADMIN: Option<&str> = Some(darkroom_tests::ADMIN_TOKEN);

/// A challenge evaluated by the copying image, whose evaluation writes `score` and `cases`.
async fn challenge_writing(stack: &Stack, slug: &str, score: &str, cases: Option<&str>, private_split: bool) -> String {
    let truth = stack.app.dir.path().join(format!("truth-{slug}"));
    std::fs::create_dir_all(truth.join("eval-output")).unwrap();
    std::fs::write(truth.join("eval-output/score.json"), score).unwrap();
    if let Some(cases) = cases {
        std::fs::write(truth.join("eval-output/cases.csv"), cases).unwrap();
    }
    stack
        .challenge(slug, |s| {
            s["ground_truth"]["host_path"] = json!(truth);
            s["evaluation"]["image"] = json!("darkroom-test-eval:copy");
            s["phases"][0]["private_split"] = json!(private_split);
        })
        .await
}

/// `n` cases of `split` of which `ones` are 1 and the rest 0.
fn cases(split: &str, n: usize, ones: usize) -> String {
    (0..n).map(|i| format!("{split},{split}-{i},{}\n", u8::from(i < ones))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_score_is_stored_sealed_with_its_cases() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    // Public 5/8 = 0.625, private 13/16 = 0.8125: numbers that appear nowhere else.
    let score = r#"{"public": {"accuracy": 0.625, "roc_auc": 0.546875},
                    "private": {"accuracy": 0.8125, "roc_auc": 0.4296875}}"#;
    let csv = format!("split,case_id,value\n{}{}", cases("public", 8, 5), cases("private", 16, 13));
    let slug = challenge_writing(&stack, "sealed", score, Some(&csv), true).await;
    let token = stack.app.register("Probe Lab").await;
    let (s, sub) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:ok")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    let done = stack.finished(&id, &token, 120).await;
    assert_eq!(done["state"], "COMPLETE", "{done}");

    // Stored: the private split beside the public one, and every case.
    let config = &stack.runner_config.mongodb;
    let store = ScoreStore::new(config).await.unwrap();
    let sealed = store.private_scores(&slug, "dev").await.unwrap();
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    let mine = &sealed.values().next().unwrap()[0];
    assert_eq!((mine.submission_id.as_str(), mine.metrics["accuracy"]), (id.as_str(), 0.625));
    assert_eq!(mine.private_metrics.as_ref().unwrap()["accuracy"], 0.8125);
    let stored = store.cases(&id).await.unwrap().expect("cases stored");
    assert_eq!((stored.public.len(), stored.private.len()), (8, 16));
    assert_eq!((stored.private[0].id.as_str(), stored.private[15].value), ("private-0", 0.0));
    // The public read has no private field at all.
    let public = store.get(&id).await.unwrap().unwrap();
    assert_eq!(public.metrics["accuracy"], 0.625);

    // A redelivered evaluation writes nothing twice.
    let again = store
        .record_evaluation(
            &public,
            Sealed { private_metrics: mine.private_metrics.as_ref(), cases: Some(&stored), ..Sealed::default() },
        )
        .await
        .unwrap();
    assert_eq!(again, Recorded::AlreadyScored);
    assert_eq!(store.cases(&id).await.unwrap().unwrap(), stored);

    // No participant route shows a private value.
    let routes = [
        (format!("/api/v1/challenges/{slug}/leaderboard"), None),
        (format!("/api/v1/challenges/{slug}/leaderboard"), Some(token.as_str())),
        (format!("/api/v1/submissions/{id}"), Some(token.as_str())),
        ("/api/v1/submissions".to_owned(), Some(token.as_str())),
        (format!("/api/v1/challenges/{slug}"), None),
    ];
    for (path, who) in routes {
        let (s, body) = stack.app.call(Method::GET, &path, who, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {body}");
        let text = body.to_string();
        for private in ["0.8125", "0.4296875", "private-"] {
            assert!(!text.contains(private), "{path} shows the private {private}: {text}");
        }
        if path.ends_with("leaderboard") {
            assert!(text.contains("0.625"), "{path} lost the public score: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_that_break_the_contract_fail_with_the_reason_for_the_organizer() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let split = r#"{"public": {"accuracy": 0.5, "roc_auc": 0.5}, "private": {"accuracy": 0.75, "roc_auc": 0.5}}"#;
    let good_cases = format!("split,case_id,value\n{}{}", cases("public", 4, 2), cases("private", 4, 3));
    let bad: [(&str, &str, Option<String>, &str); 6] = [
        (
            "no-case-column",
            split,
            Some("split,value\npublic,1\n".into()),
            "must start with the header 'split,case_id,value'",
        ),
        (
            "not-a-number",
            split,
            Some(good_cases.replace("public,public-0,1", "public,public-0,yes")),
            "value 'yes' is not a number",
        ),
        (
            "unknown-split",
            split,
            Some(good_cases.replace("private,private-3", "holdout,private-3")),
            "split 'holdout' is neither 'public' nor 'private'",
        ),
        (
            "duplicate-case",
            split,
            Some(good_cases.replace("public-1", "public-0")),
            "case 'public-0' is listed twice in the public split",
        ),
        (
            "mean-mismatch",
            split,
            Some(good_cases.replace("public,public-2,0", "public,public-2,1")),
            "cases.csv's public mean 0.75 ≠ score.json's 0.5",
        ),
        (
            "private-lacks-metric",
            r#"{"public": {"accuracy": 0.5, "roc_auc": 0.5}, "private": {"accuracy": 0.75}}"#,
            None,
            "score.json's private split lacks metric 'roc_auc'",
        ),
    ];
    let token = stack.app.register("Honest Lab").await;
    let mut submitted = Vec::new();
    for (slug, score, cases, says) in &bad {
        let slug = challenge_writing(&stack, slug, score, cases.as_deref(), true).await;
        let (s, sub) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:ok")).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
        submitted.push((slug, sub["id"].as_str().unwrap().to_owned(), *says));
    }
    for (slug, id, says) in submitted {
        let done = stack.finished(&id, &token, 180).await;
        assert_eq!(done["state"], "FAILED", "{slug}: {done}");
        let (_, list) =
            stack.app.call(Method::GET, &format!("/api/v1/challenges/{slug}/submissions"), ADMIN, None).await;
        let detail = list[0]["failure_detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{slug}: the organizer reads '{detail}', not '{says}': {}", list[0]);
    }
}
