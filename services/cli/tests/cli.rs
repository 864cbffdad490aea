//! The `darkroom` binary against the real service: both roles end to end, and every failure is
//! one `error: …` line with a non-zero exit.

use std::process::Output;

use darkroom_core::config::RunnerBackend;
use darkroom_tests::registry::pushed;
use darkroom_tests::{ADMIN_TOKEN, Backend, Stack, TestApp, fixtures};

async fn darkroom(app: &TestApp, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_darkroom"));
    cmd.args(args).env("DARKROOM_SERVER", &app.addr).env_remove("DARKROOM_TOKEN");
    if let Some(t) = token {
        cmd.env("DARKROOM_TOKEN", t);
    }
    cmd.output().await.expect("darkroom runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a failure printed exactly one line that starts with `error:` and contains `says`.
fn assert_one_line_error(o: &Output, says: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure, got success: {}", stdout(o));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains(says), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizer_and_participant_flow() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let spec_json = fixtures::spec(dir.path(), "cli-challenge");
    let spec_path = dir.path().join("challenge.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec_json).unwrap()).unwrap();
    let spec = spec_path.to_str().unwrap();

    let o = darkroom(&app, Some(ADMIN_TOKEN), &["challenge", "create", spec]).await;
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("challenge 'cli-challenge' saved"));
    let o = darkroom(&app, None, &["challenge", "list"]).await;
    assert!(stdout(&o).contains("cli-challenge") && stdout(&o).contains("open"), "{}", stdout(&o));

    let token_file = dir.path().join("token");
    let o = darkroom(&app, None, &["register", "Ada", "--save-token", token_file.to_str().unwrap()]).await;
    assert!(o.status.success(), "{o:?}");
    let token = std::fs::read_to_string(&token_file).unwrap().trim().to_owned();
    assert!(stdout(&o).contains(&token), "the token is shown once");

    let tar = dir.path().join("image.tar");
    std::fs::write(&tar, fixtures::image_archive()).unwrap();
    // Not joined yet: the refusal says how; without a terminal, joining needs --yes.
    let o = darkroom(&app, Some(&token), &["submit", "cli-challenge", "--tar", tar.to_str().unwrap()]).await;
    assert_one_line_error(&o, "darkroom join cli-challenge");
    let o = darkroom(&app, Some(&token), &["join", "cli-challenge"]).await;
    assert_one_line_error(&o, "pass --yes to accept the rules of 'cli-challenge'");
    let o = darkroom(&app, None, &["challenge", "show", "cli-challenge"]).await;
    assert!(stdout(&o).contains("Joining: open (darkroom join cli-challenge)"), "{}", stdout(&o));
    let o = darkroom(&app, Some(&token), &["join", "cli-challenge", "--yes"]).await;
    assert!(o.status.success() && stdout(&o).contains("joined 'cli-challenge'"), "{o:?}");
    // A bad note is refused here, before the archive is even opened.
    let o = darkroom(&app, Some(&token), &["submit", "cli-challenge", "--tar", "/no/such.tar", "--note", "a\tb"]).await;
    assert_one_line_error(&o, "--note holds U+0009");
    let tar = tar.to_str().unwrap();
    let o =
        darkroom(&app, Some(&token), &["--json", "submit", "cli-challenge", "--tar", tar, "--note", "baseline"]).await;
    assert!(o.status.success(), "{o:?}");
    let sub: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((sub["state"].as_str(), sub["note"].as_str()), (Some("QUEUED"), Some("baseline")));
    let id = sub["id"].as_str().unwrap();
    let o = darkroom(&app, Some(&token), &["quota", "cli-challenge"]).await;
    assert_eq!(
        stdout(&o),
        "phase 'dev' of 'cli-challenge': 4 submissions left now\n  last 24 hours: 1 of 5 used, 4 left\n  whole phase: 1 of 20 used, 19 left\n",
        "{o:?}"
    );
    assert_one_line_error(&darkroom(&app, None, &["quota", "cli-challenge"]).await, "DARKROOM_TOKEN");

    let o = darkroom(&app, Some(&token), &["status"]).await;
    assert!(stdout(&o).contains(id) && stdout(&o).contains("\n  note: baseline\n"), "{}", stdout(&o));
    let o = darkroom(&app, Some(&token), &["note", id, "baseline, threshold 0.4"]).await;
    assert!(stdout(&o).contains("  note: baseline, threshold 0.4\n"), "{o:?}");
    assert_one_line_error(&darkroom(&app, Some(&token), &["note", id, &"x".repeat(201)]).await, "at most 200");
    let o = darkroom(&app, Some(&token), &["note", id, ""]).await;
    assert!(o.status.success() && !stdout(&o).contains("note:"), "{o:?}");
    let o = darkroom(&app, Some(&token), &["cancel", id]).await;
    assert!(stdout(&o).contains("CANCELLED"), "{o:?}");
    let o = darkroom(&app, Some(&token), &["status", "--state", "cancelled"]).await;
    assert!(stdout(&o).contains(id), "{}", stdout(&o));
    let o = darkroom(&app, Some(&token), &["status", "--state", "queued", "--challenge", "cli-challenge"]).await;
    assert!(o.status.success() && !stdout(&o).contains(id), "{}", stdout(&o));
    assert_one_line_error(
        &darkroom(&app, Some(&token), &["status", "--state", "done"]).await,
        "expected one of QUEUED",
    );
    // --wait returns at once on a terminal state, exiting 2 because it did not complete.
    let o = darkroom(&app, Some(&token), &["status", id, "--wait"]).await;
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stdout(&o).contains("QUEUED → CANCELLED"), "{}", stdout(&o));

    let o = darkroom(&app, None, &["leaderboard", "cli-challenge"]).await;
    assert!(stdout(&o).contains("no scores yet"), "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_one_clear_line() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "slug = 'x'\ntitel = 'oops'\n").unwrap();
    let bad_dates = dir.path().join("spec.yaml");
    let mut spec = fixtures::spec(dir.path(), "bad-dates");
    spec["phases"][0]["ends_at"] = spec["phases"][0]["starts_at"].clone();
    std::fs::write(&bad_dates, serde_json::to_string(&spec).unwrap()).unwrap(); // JSON is YAML
    let bad_dates = bad_dates.to_str().unwrap().to_owned();

    let cases: Vec<(Option<&str>, Vec<&str>, &str)> = vec![
        (Some(ADMIN_TOKEN), vec!["challenge", "create", typo.to_str().unwrap()], "titel"),
        (Some(ADMIN_TOKEN), vec!["challenge", "create", "/no/such/spec.toml"], "cannot read spec"),
        (Some(ADMIN_TOKEN), vec!["challenge", "create", &bad_dates], "phases[0].ends_at"),
        (None, vec!["challenge", "create", &bad_dates], "needs a token"),
        (Some("drp_wrong"), vec!["status"], "unknown participant token"),
        (
            None,
            vec!["leaderboard", "no-such-challenge"],
            "no challenge 'no-such-challenge'; list them with darkroom challenge list",
        ),
        (Some("drp_x"), vec!["submit", "nope", "--tar", "/no/such.tar"], "cannot open '/no/such.tar'"),
        (None, vec!["--server", "ftp://x", "challenge", "list"], "must start with http://"),
    ];
    for (token, args, says) in cases {
        let o = darkroom(&app, token, &args).await;
        assert_one_line_error(&o, says);
    }
    // No server at all.
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_darkroom"))
        .args(["--server", "http://127.0.0.1:9", "challenge", "list"])
        .output()
        .await
        .unwrap();
    assert_one_line_error(&o, "cannot reach the Darkroom server");
}

/// `status` prints what each COMPLETE submission scored, in the phase's feedback mode (here the
/// Ladder, whose second, identical submission keeps the first's score with the note), and
/// what its run used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_the_feedback_score_and_the_ladder_note() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack
        .challenge("cli-ladder", |s| {
            s["phases"][0]["private_split"] = serde_json::json!(true);
            s["phases"][0]["feedback"] = serde_json::json!("ladder");
        })
        .await;
    let token = stack.app.register("Ada").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, s) = stack.app.submit(&slug, &token, &pushed("darkroom-demo-weak:1")).await;
        let id = s["id"].as_str().unwrap().to_owned();
        assert_eq!(stack.finished(&id, &token, 240).await["state"], "COMPLETE");
        ids.push(id);
    }
    let first = stdout(&darkroom(&stack.app, Some(&token), &["status", &ids[0]]).await);
    let score_line = first.lines().find(|l| l.trim_start().starts_with("score: accuracy ")).expect(&first).to_owned();
    assert!(!score_line.contains("no significant improvement"), "{first}");
    assert!(first.lines().any(|l| l.trim_start().starts_with("run: ran ")), "what the run used: {first}");
    let second = stdout(&darkroom(&stack.app, Some(&token), &["status", &ids[1]]).await);
    assert!(second.contains(&format!("{score_line}  (no significant improvement)")), "{second}");
    let list = stdout(&darkroom(&stack.app, Some(&token), &["status"]).await);
    assert!(list.lines().next().is_some_and(|h| h.ends_with("SCORE")), "{list}");
    assert_eq!(list.matches("(no significant improvement)").count(), 1, "{list}");
}

/// select, leaderboard --private, phase close / reveal and verify-board against the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_selections_close_reveal_and_verify() {
    use darkroom_tests::scoring::{Evaluation, complete};
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_challenge("cli-final", |s| {
        s["phases"][0]["name"] = "main".into();
        s["phases"][0]["private_split"] = true.into();
        s["phases"][0]["reveal"] = "manual".into();
    })
    .await;
    let token = app.register("Ada").await;
    let image = darkroom_tests::registry::publish("cli-final-model:1").await;
    let (_, sub) = app.submit("cli-final", &token, &image).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    complete(&app, &token, &id, &Evaluation { public: 0.81, private: 0.777123, private_cases: None }).await;

    let o = darkroom(&app, Some(&token), &["select", &id]).await;
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("final selections in phase 'main' of 'cli-final': 1 of at most 2"), "{}", stdout(&o));
    assert!(stdout(&o).contains(&id));
    let o = darkroom(&app, Some(&token), &["select", &id, "0190a7c2-5b1e-7c3d-8e4f-0123456789ab"]).await;
    assert_one_line_error(&o, "no submission");
    let o = darkroom(&app, None, &["leaderboard", "cli-final", "--private"]).await;
    assert!(stdout(&o).contains("private board: open until"), "{o:?}");
    let o = darkroom(&app, Some(&token), &["phase", "close", "cli-final", "main"]).await;
    assert_one_line_error(&o, "admin token");

    let o = darkroom(&app, Some(ADMIN_TOKEN), &["phase", "close", "cli-final", "main"]).await;
    assert!(stdout(&o).contains("sealed until reveal") && stdout(&o).contains("organizer's view"), "{o:?}");
    let o = darkroom(&app, Some(&token), &["leaderboard", "cli-final", "--private"]).await;
    let out = stdout(&o);
    assert!(out.contains("sealed until reveal") && out.contains("commitment "), "{out}");
    assert!(!out.contains("0.7771"), "a participant sees no private value before the reveal: {out}");
    let o = darkroom(&app, None, &["verify-board", "cli-final", "main"]).await;
    assert_one_line_error(&o, "sealed, not revealed");
    let o = darkroom(&app, Some(&token), &["select", &id]).await;
    assert_one_line_error(&o, "selections can no longer change");

    let o = darkroom(&app, Some(ADMIN_TOKEN), &["phase", "reveal", "cli-final", "main"]).await;
    assert!(o.status.success(), "{o:?}");
    let o = darkroom(&app, None, &["leaderboard", "cli-final", "--phase", "main", "--private"]).await;
    let out = stdout(&o);
    assert!(out.contains("Ada") && out.contains("0.7771") && out.contains("salt "), "{out}");
    let o = darkroom(&app, None, &["verify-board", "cli-final", "main"]).await;
    assert!(o.status.success() && stdout(&o).starts_with("OK: 1 rows"), "{o:?}");
}

/// The organizer admits participants from the CLI: an approval challenge's pending list,
/// approve and reject; an invite code minted, shown once, and used to join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizer_admits_participants_from_the_cli() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let approval = app.create_challenge("cli-approval", |s| s["enrollment"] = serde_json::json!("approval")).await;
    let invite = app.create_challenge("cli-invite", |s| s["enrollment"] = serde_json::json!("invite")).await;
    let (ada, bo) = (app.register("Ada").await, app.register("Bo").await);

    let o = darkroom(&app, Some(&ada), &["join", &approval, "--yes"]).await;
    assert!(o.status.success() && stdout(&o).contains("pending until the organizer approves"), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["enrollment", "list", &approval, "--state", "pending"]).await;
    let listed = stdout(&o);
    assert!(listed.contains("Ada") && listed.contains("pending"), "{listed}");
    let ada_id = listed.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().to_owned();
    let o = darkroom(&app, Some(&ada), &["enrollment", "approve", &approval, &ada_id]).await;
    assert_one_line_error(&o, "admin token");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["enrollment", "approve", &approval, &ada_id]).await;
    assert!(stdout(&o).contains("is now active"), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["enrollment", "reject", &approval, "not-an-id"]).await;
    assert_one_line_error(&o, "not");

    // Disqualified with a reason she reads; an empty reason is refused on one line.
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["enrollment", "disqualify", &approval, &ada_id, "--reason", " "]).await;
    assert_one_line_error(&o, "reason");
    let why = "two accounts: rules, section 3";
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["enrollment", "disqualify", &approval, &ada_id, "--reason", why]).await;
    assert_eq!(stdout(&o), format!("participant {ada_id} is disqualified from 'cli-approval': {why}\n"), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["enrollment", "list", &approval]).await;
    let listed = stdout(&o);
    assert!(listed.contains(" disqualified ") && listed.contains("Ada disqualified at "), "{listed}");
    assert!(listed.ends_with(&format!(": {why}\n")), "{listed}");
    let o = darkroom(&app, Some(&ada), &["join", &approval, "--yes"]).await;
    assert!(stdout(&o).contains("disqualified you on ") && stdout(&o).contains(why), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["enrollment", "reinstate", &approval, &ada_id]).await;
    assert!(stdout(&o).contains("is now active"), "{o:?}");

    let o = darkroom(&app, Some(&bo), &["join", &invite, "--yes"]).await;
    assert_one_line_error(&o, "--code");
    let o =
        darkroom(&app, Some(ADMIN_TOKEN), &["invite", "create", &invite, "--uses", "1", "--expires-in-hours", "24"])
            .await;
    let minted = stdout(&o);
    let code =
        minted.lines().find(|l| l.starts_with("dri_")).unwrap_or_else(|| panic!("no code in {minted}")).to_owned();
    let o = darkroom(&app, Some(&bo), &["join", &invite, "--yes", "--code", &code]).await;
    assert!(o.status.success() && stdout(&o).contains("joined 'cli-invite'"), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["invite", "list", &invite]).await;
    assert!(stdout(&o).contains("     1      1") && !stdout(&o).contains(&code), "{}", stdout(&o));
}

/// Teams from the CLI: the captain's code, shown once, lets another participant in; leaving
/// before any submission works, and every refusal is one line naming the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_form_teams_from_the_cli() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let slug = app.create_challenge("cli-teams", |s| s["max_team_size"] = serde_json::json!(2)).await;
    let (ada, bo, cy) = (app.register("Ada").await, app.register("Bo").await, app.register("Cy").await);
    for t in [&ada, &bo, &cy] {
        app.join(&slug, t).await;
    }
    let o = darkroom(&app, Some(&ada), &["team", "create", &slug, "Lab Ada"]).await;
    let created = stdout(&o);
    let code = created
        .lines()
        .find_map(|l| l.strip_prefix("code (shown once): "))
        .unwrap_or_else(|| panic!("no code in {created}"))
        .to_owned();
    let o = darkroom(&app, Some(&bo), &["team", "join", &slug, &code]).await;
    assert!(o.status.success(), "{o:?}");
    let o = darkroom(&app, Some(&cy), &["team", "join", &slug, &code]).await;
    assert_one_line_error(&o, "allows at most 2 (max_team_size)");
    let o = darkroom(&app, Some(&bo), &["team", "show", &slug]).await;
    let shown = stdout(&o);
    assert!(shown.contains("2 of at most 2") && shown.contains("Ada (captain)") && !shown.contains(&code), "{shown}");
    let o = darkroom(&app, Some(&bo), &["team", "leave", &slug]).await;
    assert!(stdout(&o).contains("you left your team"), "{o:?}");
    let o = darkroom(&app, Some(&bo), &["team", "show", &slug]).await;
    assert_one_line_error(&o, "you are in no team");
}

/// Text from the server that would steer a terminal (an escape sequence clearing the screen
/// and retitling the window, a carriage return, a one-character CSI, a bidirectional override)
/// is printed as visible `\uXXXX`, in tables and in JSON alike, and the JSON still reads back
/// to what the server sent. Names holding such characters are refused at registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_the_server_cannot_steer_the_terminal() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let hostile = "Fine print\x1b[2J\x1b]0;owned\x07\rhidden\u{9b}31m \u{202e}gnp.exe";
    let slug = app.create_challenge("cli-hostile", |s| s["description"] = serde_json::json!(hostile)).await;
    let steers = |text: &str| text.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202e}');

    let table = darkroom(&app, None, &["challenge", "show", &slug]).await;
    assert!(table.status.success(), "{table:?}");
    let shown = stdout(&table);
    assert!(!steers(&shown), "{shown:?}");
    assert!(shown.contains(r"Fine print\u001b[2J\u001b]0;owned\u0007\u000dhidden\u009b31m \u202egnp.exe"), "{shown}");

    let json = darkroom(&app, None, &["--json", "challenge", "show", &slug]).await;
    let shown = stdout(&json);
    assert!(!steers(&shown), "{shown:?}");
    let read: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
    assert_eq!(read["description"], hostile);

    let o = darkroom(&app, None, &["register", "Ada\u{202e}ecalevoL"]).await;
    assert_one_line_error(&o, "U+202E");
    assert!(!steers(&String::from_utf8_lossy(&o.stderr)), "{o:?}");
}

/// `darkroom verify`: a submission's receipt and a whole board check out, as a line or JSON;
/// a key that did not sign them, or a board value changed in MongoDB, fails in one line naming
/// what failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_receipts_and_names_what_failed() {
    use darkroom_tests::scoring::{Evaluation, complete};
    use mongodb::bson::{Document, doc};
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_challenge("cli-receipts", |s| s["phases"][0]["name"] = "main".into()).await;
    let token = app.register("Ada").await;
    let image = darkroom_tests::registry::publish("cli-receipts-model:1").await;
    let (_, sub) = app.submit("cli-receipts", &token, &image).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    complete(&app, &token, &id, &Evaluation { public: 0.81, private: 0.7, private_cases: None }).await;

    let o = darkroom(&app, Some(&token), &["verify", &id]).await;
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).starts_with(&format!("OK: receipt of {id} verifies")), "{}", stdout(&o));
    assert!(stdout(&o).contains("chain of 1 receipts") && stdout(&o).contains("board row 1"), "{}", stdout(&o));
    let o = darkroom(&app, None, &["verify", "--board", "cli-receipts"]).await;
    assert!(stdout(&o).starts_with("OK: cli-receipts main: chain of 1 receipts"), "{o:?}");
    let o = darkroom(&app, None, &["verify", "--board", "cli-receipts", "--phase", "main", "--json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!((report["ok"].as_bool(), report["board_rows_checked"].as_u64()), (Some(true), Some(1)), "{report}");
    // Not a participant's: the submission's receipt needs a token.
    let o = darkroom(&app, None, &["verify", &id]).await;
    assert_one_line_error(&o, "needs a token");

    // A pinned key that did not sign.
    let other = darkroom_core::domain::receipt::ReceiptSigner::from_seed([1; 32]).public_key().public_key.clone();
    let o = darkroom(&app, None, &["verify", "--board", "cli-receipts", "--key", &other]).await;
    assert_one_line_error(&o, &format!("verification failed: receipt #1 ({id}): signed by key"));

    // A board value changed behind the service's back.
    let db = mongodb::Client::with_uri_str(darkroom_tests::mongo_url())
        .await
        .unwrap()
        .database(&app.config.mongodb.database);
    db.collection::<Document>("boards")
        .update_one(doc! { "submission_id": &id }, doc! { "$set": { "metrics": { "accuracy": 0.9, "roc_auc": 0.5 } } })
        .await
        .unwrap();
    db.collection::<Document>("board_versions")
        .update_many(doc! {}, doc! { "$inc": { "version": 1_i64 } })
        .await
        .unwrap();
    let o = darkroom(&app, None, &["verify", "--board", "cli-receipts"]).await;
    assert_one_line_error(
        &o,
        &format!("verification failed: board row 1 ({id}): board shows accuracy = 0.9, the receipt says 0.81"),
    );
    let o = darkroom(&app, Some(&token), &["verify", &id]).await;
    assert_one_line_error(&o, "board shows accuracy = 0.9");
}

/// `verify --rerun` (issue 17): the demo's CNN, seeded with `DARKROOM_SEED`, re-runs to the very
/// same `score.json` bytes, private split included (sealed in its receipt); a participant whose
/// predictions are random is reported, metric by metric, as not reproduced. Neither re-run
/// touches the submission, its receipt or the board, and only the organizer may start one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_rerun_reproduces_the_demo_cnn_and_names_what_a_noisy_run_changed() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack
        .challenge("cli-rerun", |s| {
            s["phases"][0]["private_split"] = serde_json::json!(true);
            s["resources"]["memory_mb"] = serde_json::json!(512);
        })
        .await;
    let token = stack.app.register("Ada").await;
    let other = stack.app.register("Bob").await;
    let (_, cnn) = stack.app.submit(&slug, &token, &pushed("darkroom-demo-baseline:1")).await;
    let (_, noisy) = stack.app.submit(&slug, &other, &pushed("darkroom-test-hostile:noisy")).await;
    let (cnn, noisy) = (cnn["id"].as_str().unwrap().to_owned(), noisy["id"].as_str().unwrap().to_owned());
    assert_eq!(stack.finished(&cnn, &token, 240).await["state"], "COMPLETE");
    assert_eq!(stack.finished(&noisy, &other, 240).await["state"], "COMPLETE");
    let chain_before = stdout(&darkroom(&stack.app, None, &["verify", "--board", &slug]).await);
    assert!(chain_before.starts_with(&format!("OK: {slug} dev: chain of 2 receipts")), "{chain_before}");

    // Only the organizer re-runs.
    let o = darkroom(&stack.app, Some(&token), &["verify", &cnn, "--rerun"]).await;
    assert_one_line_error(&o, "403");

    let o = darkroom(&stack.app, Some(ADMIN_TOKEN), &["verify", &cnn, "--rerun"]).await;
    let out = stdout(&o);
    assert!(o.status.success(), "{o:?}");
    assert!(out.contains(&format!("re-run of {cnn}: REPRODUCED: score.json is byte for byte the same")), "{out}");
    assert!(out.contains(" private ") && !out.contains("  NO\n"), "both splits compared, all equal: {out}");

    let o = darkroom(&stack.app, Some(ADMIN_TOKEN), &["verify", &noisy, "--rerun", "--json"]).await;
    assert!(!o.status.success(), "{o:?}");
    assert_one_line_error(&o, "verification failed: the re-run's metrics differ: ");
    let both: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let report = &both["rerun"]["report"];
    assert_eq!(report["verdict"], "different", "{both}");
    assert_eq!(report["score_json_identical"], false);
    assert!(report["conditions"].as_array().unwrap().iter().all(|c| c["same"] == true), "{report}");
    let metrics = report["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 4, "accuracy and roc_auc in both splits: {report}");
    assert!(metrics.iter().any(|m| m["within"] == false && m["difference"].as_f64().unwrap() > 0.0), "{report}");

    // A check, not a score: the board, its chain and the submissions are as they were.
    let chain_after = stdout(&darkroom(&stack.app, None, &["verify", "--board", &slug]).await);
    assert_eq!(chain_after, chain_before);
    assert_eq!(stack.scores().await.count_documents(mongodb::bson::doc! {}).await.unwrap(), 2);
    for (id, t) in [(&cnn, &token), (&noisy, &other)] {
        let sub = stack.finished(id, t, 5).await;
        assert_eq!(sub["history"].as_array().unwrap().len(), 4, "no new state: {sub}");
    }
    // Neither the runs nor the re-runs leave a tag of theirs on the engine.
    for id in [&cnn, &noisy] {
        let tags = std::process::Command::new("docker")
            .args(["images", "-q", &format!("darkroom-submission/{id}")])
            .output()
            .expect("docker runs");
        assert_eq!(String::from_utf8_lossy(&tags.stdout).trim(), "", "{id} left a tag");
    }
    stack.wait_for_containers(0, Stack::runner_containers).await;
    stack.wait_for_containers(0, Stack::evaluator_containers).await;
}

/// The organizer's everyday commands (issue 18): `logs --follow` prints a run's lines as they
/// come and ends with the submission; `submissions` lists a challenge's with whose and why;
/// `rerun` queues one again; `completions` prints each shell's script. Participants are refused
/// the organizer's commands in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizer_follows_logs_lists_and_reruns_from_the_cli() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack.challenge("cli-ops", |_| {}).await;
    let token = stack.app.register("Ada").await;
    let (_, failing) = stack.app.submit(&slug, &token, &pushed("darkroom-test-hostile:fail")).await;
    let failing = failing["id"].as_str().unwrap().to_owned();
    // Followed from before it runs to its end, by its owner (the challenge shows logs).
    let follow = tokio::process::Command::new(env!("CARGO_BIN_EXE_darkroom"))
        .args(["logs", &failing, "--follow"])
        .env("DARKROOM_SERVER", &stack.app.addr)
        .env("DARKROOM_TOKEN", &token)
        .output();
    let followed = tokio::time::timeout(std::time::Duration::from_secs(180), follow)
        .await
        .expect("--follow ends when the submission does")
        .unwrap();
    assert!(followed.status.success(), "{followed:?}");
    let lines: Vec<String> = stdout(&followed).lines().map(str::to_owned).collect();
    let steps: Vec<&String> = lines.iter().filter(|l| l.contains("step ")).collect();
    assert_eq!(steps, ["[attempt 1] step 1 of 3", "[attempt 1] step 2 of 3", "[attempt 1] step 3 of 3"], "{lines:?}");
    // One JSON object per line. The engine copies stdout and stderr on separate pipes, so only
    // each stream's own order is certain: the steps (stdout) in order, the stderr line anywhere.
    let o = darkroom(&stack.app, Some(&token), &["--json", "logs", &failing]).await;
    let json: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect();
    let said = |v: &serde_json::Value| (v["attempt"].as_u64(), v["line"].as_str().map(str::to_owned));
    let steps: Vec<_> =
        json.iter().filter(|v| v["line"].as_str().is_some_and(|l| l.starts_with("step "))).map(said).collect();
    assert_eq!(steps, (1..=3).map(|i| (Some(1), Some(format!("step {i} of 3")))).collect::<Vec<_>>(), "{json:?}");
    assert!(json.iter().any(|v| v["line"] == "something broke in the participant's code"), "{json:?}");

    let (_, good) = stack.app.submit(&slug, &token, &pushed("darkroom-demo-weak:1")).await;
    let good = good["id"].as_str().unwrap().to_owned();
    assert_eq!(stack.finished(&good, &token, 180).await["state"], "COMPLETE");

    let o = darkroom(&stack.app, Some(ADMIN_TOKEN), &["submissions", &slug]).await;
    let table = stdout(&o);
    assert!(o.status.success(), "{o:?}");
    let row =
        |id: &str| table.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id}: {table}")).to_owned();
    assert!(row(&failing).contains("Ada") && row(&failing).contains("FAILED"), "{table}");
    assert!(row(&good).contains("COMPLETE") && row(&good).contains("accuracy"), "{table}");
    let o = darkroom(&stack.app, Some(ADMIN_TOKEN), &["--json", "submissions", &slug, "--state", "failed"]).await;
    let only: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(only.iter().map(|s| s["id"].as_str().unwrap()).collect::<Vec<_>>(), [failing.as_str()]);
    assert!(only[0]["failure_detail"].is_string(), "the organizer reads the detail: {}", only[0]);
    assert_one_line_error(
        &darkroom(&stack.app, Some(ADMIN_TOKEN), &["submissions", &slug, "--state", "done"]).await,
        "COMPLETE",
    );
    assert_one_line_error(&darkroom(&stack.app, Some(&token), &["submissions", &slug]).await, "403");

    assert_one_line_error(&darkroom(&stack.app, Some(&token), &["rerun", &failing]).await, "403");
    let o = darkroom(&stack.app, Some(ADMIN_TOKEN), &["--json", "rerun", &failing]).await;
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_ne!(again["id"].as_str(), Some(failing.as_str()), "a new submission: {again}");
    assert_eq!(again["state"], "QUEUED");
    assert!(stack.finished(again["id"].as_str().unwrap(), &token, 180).await["state"] == "FAILED");

    for (shell, says) in [("bash", "_darkroom()"), ("zsh", "#compdef darkroom"), ("fish", "complete -c darkroom")] {
        let o = darkroom(&stack.app, None, &["completions", shell]).await;
        assert!(o.status.success() && stdout(&o).contains(says), "{shell}: {}", stdout(&o));
        assert!(stdout(&o).contains("verify") && stdout(&o).contains("logs"), "{shell}: every command");
    }
}

/// `darkroom token create|list|revoke`: the secret printed once, listed without it, revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_minted_listed_and_revoked_from_the_cli() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.register("Ada").await;
    let o = darkroom(&app, Some(&token), &["token", "create", "--scope", "read", "--label", "ci job"]).await;
    assert!(o.status.success(), "{o:?}");
    let scoped = stdout(&o).lines().next().unwrap().to_owned();
    assert!(scoped.starts_with("drt_") && stdout(&o).contains("may read"), "{}", stdout(&o));
    let o = darkroom(&app, Some(&token), &["--json", "token", "list"]).await;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!((list.len(), list[0]["label"].as_str()), (1, Some("ci job")));
    assert!(!stdout(&o).contains(&scoped), "never listed with its secret");
    // The scoped token reads but neither mints nor submits.
    assert!(darkroom(&app, Some(&scoped), &["status"]).await.status.success());
    assert_one_line_error(&darkroom(&app, Some(&scoped), &["token", "list"]).await, "your own token only");
    let id = list[0]["id"].as_str().unwrap();
    let o = darkroom(&app, Some(&token), &["token", "revoke", id]).await;
    assert!(stdout(&o).contains("revoked"), "{o:?}");
    assert_one_line_error(&darkroom(&app, Some(&scoped), &["status"]).await, "revoked or never existed");
}

/// `darkroom token replace`: a participant replaces their own token (into the file they keep
/// it in), the organizer a participant's lost one; the old token and a scoped one it minted
/// stop, each refusal one line. `darkroom sessions end` signs out every browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_replaced_from_the_cli() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let o = darkroom(&app, None, &["register", "Ada", "--save-token", file.to_str().unwrap()]).await;
    assert!(o.status.success(), "{o:?}");
    let old = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    let o = darkroom(&app, Some(&old), &["token", "create", "--scope", "read"]).await;
    let scoped = stdout(&o).lines().next().unwrap().to_owned();
    assert_one_line_error(&darkroom(&app, Some(&scoped), &["token", "replace"]).await, "your own token only");
    // A browser left signed in is signed out without replacing the token.
    app.call(reqwest::Method::POST, "/api/v1/sessions", Some(&old), None).await;
    let o = darkroom(&app, Some(&old), &["sessions", "end"]).await;
    assert_eq!(stdout(&o), "signed out everywhere: 1 web session(s) ended\n", "{o:?}");
    assert_one_line_error(&darkroom(&app, Some(&scoped), &["sessions", "end"]).await, "scoped token cannot");

    // A token file someone made readable is narrowed again when the new token goes in.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = darkroom(&app, Some(&old), &["token", "replace", "--save-token", file.to_str().unwrap()]).await;
    assert!(o.status.success(), "{o:?}");
    let new = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(new != old && stdout(&o).contains(&new), "printed and saved: {}", stdout(&o));
    assert!(stdout(&o).contains("1 scoped token(s) it had minted"), "{}", stdout(&o));
    assert_one_line_error(&darkroom(&app, Some(&old), &["whoami"]).await, "replaced with the token itself on");
    assert_one_line_error(&darkroom(&app, Some(&scoped), &["whoami"]).await, "");
    let o = darkroom(&app, Some(&new), &["--json", "whoami"]).await;
    assert!(o.status.success(), "{o:?}");
    let id = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["me"]["id"].as_str().unwrap().to_owned();

    // Ada lost it: the organizer replaces it; she cannot replace someone else's.
    let bo = app.register("Bo").await;
    let o = darkroom(&app, Some(&bo), &["token", "replace", "--participant", &id]).await;
    assert_one_line_error(&o, "only the organizer");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["token", "replace", "--participant", "ada"]).await;
    assert_one_line_error(&o, "--participant");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["--json", "token", "replace", "--participant", &id]).await;
    assert!(o.status.success(), "{o:?}");
    let given = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["token"].as_str().unwrap().to_owned();
    assert_one_line_error(&darkroom(&app, Some(&new), &["whoami"]).await, "replaced by the organizer on");
    assert!(darkroom(&app, Some(&given), &["whoami"]).await.status.success());
}

/// `darkroom webhook`: the organizer adds a webhook (its secret printed once), lists it
/// without the secret, reads its empty delivery log and removes it; a participant and a
/// private target are refused in one line each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_added_listed_and_removed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let slug = app.create_challenge("cli-hooks", |_| {}).await;
    let url = "https://hooks.example.org/darkroom";
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["--json", "webhook", "add", &slug, url, "--events", "board"]).await;
    assert!(o.status.success(), "{o:?}");
    let created: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let (id, secret) = (created["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    assert_eq!(created["events"], serde_json::json!(["board"]));
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["webhook", "add", &slug, "https://hooks.example.org/all"]).await;
    assert!(o.status.success() && stdout(&o).contains("signing secret (shown once): whsec_"), "{o:?}");
    assert!(stdout(&o).contains("submission+board"), "{}", stdout(&o));

    let o = darkroom(&app, Some(ADMIN_TOKEN), &["webhook", "list", &slug]).await;
    let list = stdout(&o);
    assert!(list.contains(id) && list.contains(url) && list.contains("board"), "{list}");
    assert!(!list.contains(secret) && !list.contains("whsec_"), "{list}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["webhook", "deliveries", &slug, id]).await;
    assert!(o.status.success() && stdout(&o).contains("no deliveries yet"), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["--json", "webhook", "deliveries", &slug, id]).await;
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(), serde_json::json!([]));

    let participant = app.register("Eve").await;
    let o = darkroom(&app, Some(&participant), &["webhook", "add", &slug, url]).await;
    assert_one_line_error(&o, "organizer's admin token");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["webhook", "add", &slug, "http://127.0.0.1:9/hook"]).await;
    assert_one_line_error(&o, "webhooks.allow_private_targets");
    let o = darkroom(&app, None, &["webhook", "list", &slug]).await;
    assert_one_line_error(&o, "needs a token");

    let o = darkroom(&app, Some(ADMIN_TOKEN), &["webhook", "remove", &slug, id]).await;
    assert!(o.status.success() && stdout(&o).contains(&format!("webhook {id} removed")), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["webhook", "remove", &slug, id]).await;
    assert_one_line_error(&o, "has no webhook");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["webhook", "list", &slug]).await;
    assert!(!stdout(&o).contains(id), "{}", stdout(&o));
}

/// Announcements: the organizer posts one with a Markdown body from a file and another with
/// `--body`, anyone lists them newest first with the body under its title, an edit is marked,
/// and a removal is final; a bad title or an oversized file is refused before any request, and
/// a participant's post by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_are_posted_read_edited_and_removed_from_the_cli() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let slug = app.create_challenge("cli-news", |_| {}).await;
    let o = darkroom(&app, None, &["announcement", "list", &slug]).await;
    assert_eq!(stdout(&o), "no announcements yet\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("news.md");
    std::fs::write(&file, "The **deadline** moves to Friday.\n\n- submissions stay open\n").unwrap();
    let file = file.to_str().unwrap();
    let args = ["--json", "announcement", "post", &slug, "--title", "Deadline moved", "--body-file", file];
    let o = darkroom(&app, Some(ADMIN_TOKEN), &args).await;
    assert!(o.status.success(), "{o:?}");
    let first: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["body"], "The **deadline** moves to Friday.\n\n- submissions stay open");
    let args = ["announcement", "post", &slug, "--title", "Evaluator fixed", "--body", "Every score was re-computed."];
    let o = darkroom(&app, Some(ADMIN_TOKEN), &args).await;
    assert!(
        stdout(&o).starts_with("announcement ") && stdout(&o).ends_with(" posted in 'cli-news': Evaluator fixed\n"),
        "{o:?}"
    );

    let list = stdout(&darkroom(&app, None, &["announcement", "list", &slug]).await);
    let newest = list.find("Evaluator fixed\n  posted ").expect("the newest, titled");
    let older = list.find("Deadline moved\n  posted ").expect("the older, titled");
    assert!(newest < older, "{list}");
    assert!(
        list.contains(&format!(" · id {id}\n  The **deadline** moves to Friday.\n\n  - submissions stay open\n")),
        "{list}"
    );

    let args = ["announcement", "edit", &slug, id, "--title", "Deadline moved to Friday"];
    let o = darkroom(&app, Some(ADMIN_TOKEN), &args).await;
    assert!(stdout(&o).contains(&format!("announcement {id} edited in 'cli-news'")), "{o:?}");
    let list = stdout(&darkroom(&app, None, &["announcement", "list", &slug]).await);
    assert!(list.contains("Deadline moved to Friday\n  posted ") && list.contains(", edited "), "{list}");
    assert!(list.contains("  The **deadline** moves to Friday.\n"), "a new title keeps the body: {list}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["announcement", "edit", &slug, id]).await;
    assert_one_line_error(&o, "say what to change");
    let shown = stdout(&darkroom(&app, None, &["challenge", "show", &slug]).await);
    assert!(shown.contains("\nLatest announcement: Evaluator fixed (20"), "{shown}");
    assert!(shown.contains("; all: darkroom announcement list cli-news)\n"), "{shown}");

    // Refused: a title on two lines (by the server, in one line); a file longer than any body
    // (here, before it is read whole).
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["announcement", "post", &slug, "--title", "two\nlines"]).await;
    assert_one_line_error(&o, "title: holds U+000A");
    let big = dir.path().join("big.md");
    std::fs::write(&big, "x".repeat(40_001)).unwrap();
    let args = ["announcement", "post", &slug, "--title", "t", "--body-file", big.to_str().unwrap()];
    assert_one_line_error(&darkroom(&app, Some(ADMIN_TOKEN), &args).await, "longer than a body may be");
    let args = ["announcement", "post", &slug, "--title", "t", "--body", "b", "--body-file", file];
    assert!(!darkroom(&app, Some(ADMIN_TOKEN), &args).await.status.success(), "one body or the other");
    // Refused by the server: a participant, and nobody.
    let eve = app.register("Eve").await;
    let o = darkroom(&app, Some(&eve), &["announcement", "post", &slug, "--title", "fake news"]).await;
    assert_one_line_error(&o, "organizer's admin token");
    let o = darkroom(&app, None, &["announcement", "remove", &slug, id]).await;
    assert_one_line_error(&o, "needs a token");

    let o = darkroom(&app, Some(ADMIN_TOKEN), &["announcement", "remove", &slug, id]).await;
    assert!(o.status.success() && stdout(&o).contains(&format!("announcement {id} removed")), "{o:?}");
    let o = darkroom(&app, Some(ADMIN_TOKEN), &["announcement", "remove", &slug, id]).await;
    assert_one_line_error(&o, "has no announcement");
    let list = stdout(&darkroom(&app, None, &["announcement", "list", &slug]).await);
    assert!(!list.contains("Deadline") && list.contains("Evaluator fixed"), "{list}");
}

/// `whoami` names the token's holder; `leaderboard --export` prints the board's export exactly
/// as the API serves it (CSV and JSON), of the current or a named evaluator generation; the
/// organizer's `challenge duplicates` names the accounts that submitted the same image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_export_and_duplicate_images_from_the_cli() {
    use darkroom_tests::scoring::{Evaluation, complete};
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_challenge("cli-export", |_| {}).await;
    let image = darkroom_tests::registry::publish("cli-export-model:1").await;
    let mut ids = Vec::new();
    for (name, accuracy) in [("Ada", 0.91), ("Bob", 0.72)] {
        let token = app.register(name).await;
        let (_, sub) = app.submit("cli-export", &token, &image).await;
        let id = sub["id"].as_str().unwrap().to_owned();
        complete(&app, &token, &id, &Evaluation { public: accuracy, private: accuracy, private_cases: None }).await;
        ids.push((token, id));
    }
    let (ada, ada_submission) = &ids[0];

    let out = stdout(&darkroom(&app, Some(ada), &["whoami"]).await);
    assert!(out.starts_with("you are 'Ada' (participant "), "{out}");
    assert!(out.ends_with("\nwith your own token: it may do all you may and does not expire\n"), "{out}");
    let me: serde_json::Value = serde_json::from_slice(&darkroom(&app, Some(ada), &["--json", "whoami"]).await.stdout)
        .expect("whoami --json is the server's JSON");
    assert_eq!((me["me"]["role"].as_str(), me["credential"]["kind"].as_str()), (Some("participant"), Some("own")));
    let out = stdout(&darkroom(&app, Some(ADMIN_TOKEN), &["whoami"]).await);
    assert!(out.starts_with("you are the organizer"), "{out}");
    // A scoped token says what it may do and until when.
    let minted = darkroom(&app, Some(ada), &["--json", "token", "create", "--scope", "read", "--label", "ci"]).await;
    let minted: serde_json::Value = serde_json::from_slice(&minted.stdout).expect("the minted token");
    let scoped = minted["token"].as_str().unwrap();
    let out = stdout(&darkroom(&app, Some(scoped), &["whoami"]).await);
    let expected = format!("\nwith scoped token {} (ci): may read, expires ", minted["id"].as_str().unwrap());
    assert!(out.starts_with("you are 'Ada'") && out.contains(&expected), "{out}");
    assert_one_line_error(&darkroom(&app, None, &["whoami"]).await, "whoami needs a token");
    // Another's submission is not found, and the hint names the command that lists one's own.
    let bob = &ids[1].0;
    assert_one_line_error(
        &darkroom(&app, Some(bob), &["status", ada_submission]).await,
        "list yours with darkroom status (GET /api/v1/submissions)",
    );
    assert_one_line_error(&darkroom(&app, Some("drp_wrong"), &["whoami"]).await, "unknown participant token");

    // The export on stdout is the API's, byte for byte (stdout is a pipe, so nothing is escaped).
    let served = |query: &str| {
        let url = app.url(&format!("/api/v1/challenges/cli-export/leaderboard/export?{query}"));
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let csv = darkroom(&app, None, &["leaderboard", "cli-export", "--export", "csv"]).await;
    assert!(csv.status.success(), "{csv:?}");
    let expected = served("format=csv").await;
    assert_eq!(stdout(&csv), expected);
    let lines: Vec<&str> = expected.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two rows: {expected}");
    assert!(lines[1].contains("Ada") && lines[1].contains(ada_submission.as_str()), "{expected}");
    let exported = darkroom(&app, None, &["leaderboard", "cli-export", "--export", "json", "--evaluator", "1"]).await;
    let exported: serde_json::Value = serde_json::from_slice(&exported.stdout).expect("the export is JSON");
    let expected: serde_json::Value = serde_json::from_str(&served("format=json&evaluator=1").await).unwrap();
    assert_eq!(exported, expected);
    assert_eq!(exported["rows"][0]["participant"], "Ada");
    let o = darkroom(&app, None, &["leaderboard", "cli-export", "--evaluator", "1"]).await;
    assert!(stdout(&o).contains("Ada") && stdout(&o).contains("Bob"), "{o:?}");
    assert_one_line_error(
        &darkroom(&app, None, &["leaderboard", "cli-export", "--evaluator", "7"]).await,
        "no evaluator generation 7",
    );
    // Refused before any request: an unknown format, and an export of the sealed board.
    let o = darkroom(&app, None, &["leaderboard", "cli-export", "--export", "xlsx"]).await;
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("csv or json"), "{o:?}");
    let o = darkroom(&app, None, &["leaderboard", "cli-export", "--export", "csv", "--private"]).await;
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("cannot be used with"), "{o:?}");

    let out = stdout(&darkroom(&app, Some(ADMIN_TOKEN), &["challenge", "duplicates", "cli-export"]).await);
    assert!(out.contains("(2 entrants)"), "{out}");
    for (name, (_, id)) in ["Ada", "Bob"].iter().zip(&ids) {
        assert!(out.contains(&format!("participant '{name}': {id}")), "{out}");
    }
    assert_one_line_error(&darkroom(&app, Some(ada), &["challenge", "duplicates", "cli-export"]).await, "admin");
    // The organizer's list carries each note under its row.
    assert!(darkroom(&app, Some(ada), &["note", ada_submission, "threshold sweep"]).await.status.success());
    let out = stdout(&darkroom(&app, Some(ADMIN_TOKEN), &["submissions", "cli-export"]).await);
    let row = out.lines().position(|l| l.starts_with(ada_submission.as_str())).expect(&out);
    assert_eq!(out.lines().nth(row + 1), Some("  note: threshold sweep"), "{out}");
    assert_one_line_error(&darkroom(&app, None, &["challenge", "duplicates", "cli-export"]).await, "needs a token");
}
