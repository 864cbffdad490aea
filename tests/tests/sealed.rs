//! Sealed private scores and the public feedback modes (issue 15), end to end: the submissions
//! service, the swarm runner and the evaluator on the real Docker engine, the demo's evaluation
//! image `darkroom-demo-eval:1` (split `score.json` and `cases.csv`), MongoDB, NATS and the
//! web pages. Needs `scripts/build-images.sh`.
//!
//! After COMPLETE submissions in phases with a private split, every route a participant or an
//! anonymous visitor can reach is read (listed in [`participant_reachable`]) and no private value
//! may appear in any answer, as the API prints it (serde_json) or as the pages print it (four
//! decimals). Then `rounded` shows no digit past its decimals and `ladder` keeps the released
//! score with its note for a submission that does not improve, and the raw board carries
//! bootstrap intervals.

use std::time::Duration;

use darkroom_core::config::RunnerBackend;
use darkroom_core::domain::rounding::round_to;
use darkroom_tests::registry::pushed;
use darkroom_tests::web::WebServer;
use darkroom_tests::{ADMIN_TOKEN, Stack};
use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const WEAK: &str = "darkroom-demo-weak:1";
const DECIMALS: u32 = 2;

/// One answer a participant or a visitor can read: what was asked, its status and its body.
struct Answer {
    what: String,
    status: StatusCode,
    body: String,
}

async fn get(http: &reqwest::Client, url: String, bearer: Option<&str>, cookie: Option<&str>) -> (StatusCode, String) {
    let mut req = http.get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(t) = cookie {
        req = req.header("cookie", t);
    }
    let resp = req.send().await.expect("request sent");
    (resp.status(), resp.text().await.expect("body read"))
}

/// The stored score of a submission: public metrics, private metrics.
async fn stored(stack: &Stack, id: &str) -> (Document, Document) {
    let d = stack.scores().await.find_one(doc! { "submission_id": id }).await.unwrap().expect("a stored score");
    (d.get_document("metrics").unwrap().clone(), d.get_document("private_metrics").expect("a private split").clone())
}

fn values(d: &Document) -> Vec<f64> {
    d.values().filter_map(mongodb::bson::Bson::as_f64).collect()
}

/// The forms a value takes where people can read it: the API's JSON and the pages' four decimals.
fn printed(v: f64) -> [String; 2] {
    [serde_json::to_string(&v).unwrap(), format!("{v:.4}")]
}

/// Whether `needle` (a number) appears in `hay` as a whole number, not inside a longer one.
fn has_number(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit() || c == 'e' || c == 'E')
    })
}

/// Every route a participant (`token`) or an anonymous visitor reaches about `slug` and the
/// participant's submission `id`, read now: the API (including its error answers) and the pages.
async fn participant_reachable(
    stack: &Stack,
    web: &WebServer,
    slug: &str,
    id: &str,
    token: &str,
    other: &str,
) -> Vec<Answer> {
    let http = reqwest::Client::new();
    let api = |p: &str| stack.app.url(&format!("/api/v1{p}"));
    let mut out = Vec::new();
    let mut push = |what: String, (status, body): (StatusCode, String)| out.push(Answer { what, status, body });
    for (path, who) in [
        // Anonymous.
        ("/challenges".to_owned(), None),
        (format!("/challenges/{slug}"), None),
        (format!("/challenges/{slug}/dataset"), None),
        (format!("/challenges/{slug}/leaderboard"), None),
        (format!("/challenges/{slug}/leaderboard?phase=dev"), None),
        (format!("/challenges/{slug}/leaderboard?phase=final"), None),
        (format!("/challenges/{slug}/leaderboard?phase=nope"), None),
        (format!("/challenges/{slug}/spec"), None),
        (format!("/challenges/{slug}/submissions"), None),
        // Receipts: the chain and the export are public, as the board is.
        (format!("/challenges/{slug}/receipts"), None),
        (format!("/challenges/{slug}/leaderboard/export"), None),
        (format!("/challenges/{slug}/leaderboard/export?format=csv"), None),
        ("/keys".to_owned(), None),
        (format!("/submissions/{id}/receipt"), None),
        (format!("/submissions/{id}"), None),
        (format!("/submissions/{id}/logs"), None),
        ("/me".to_owned(), None),
        // The participant.
        ("/me".to_owned(), Some(token)),
        ("/submissions".to_owned(), Some(token)),
        (format!("/submissions?challenge={slug}"), Some(token)),
        (format!("/submissions/{id}"), Some(token)),
        (format!("/submissions/{id}/logs"), Some(token)),
        (format!("/submissions/{id}/receipt"), Some(token)),
        (format!("/challenges/{slug}/leaderboard"), Some(token)),
        (format!("/challenges/{slug}/spec"), Some(token)),
        (format!("/challenges/{slug}/submissions"), Some(token)),
        (format!("/submissions/{id}/rerun"), Some(token)),
        // Another participant, about the first one's submission.
        (format!("/submissions/{id}"), Some(other)),
        (format!("/submissions/{id}/logs"), Some(other)),
        ("/submissions".to_owned(), Some(other)),
    ] {
        let who_label = match who {
            None => "anonymous",
            Some(t) if t == token => "participant",
            Some(_) => "other participant",
        };
        push(format!("API GET {path} ({who_label})"), get(&http, api(&path), who, None).await);
    }
    // Error answers of the writes a participant may try.
    let (status, body) =
        stack.app.call(Method::POST, &format!("/api/v1/submissions/{id}/cancel"), Some(token), None).await;
    push(format!("API POST /submissions/{id}/cancel (participant)"), (status, body.to_string()));
    let (status, body) =
        stack.app.call(Method::POST, &format!("/api/v1/submissions/{id}/rerun"), Some(token), None).await;
    push(format!("API POST /submissions/{id}/rerun (participant)"), (status, body.to_string()));
    // The pages as each participant's browser sees them once signed in (the cookie: a session).
    let (mine, theirs) = (web.sign_in(token).await, web.sign_in(other).await);
    let (token, other) = (mine.cookie.as_str(), theirs.cookie.as_str());
    for (path, cookie) in [
        ("/".to_owned(), None),
        (format!("/challenges/{slug}"), None),
        (format!("/challenges/{slug}/leaderboard"), None),
        (format!("/submissions/{id}"), None),
        ("/me".to_owned(), None),
        ("/".to_owned(), Some(token)),
        (format!("/challenges/{slug}"), Some(token)),
        (format!("/challenges/{slug}/leaderboard"), Some(token)),
        ("/me".to_owned(), Some(token)),
        (format!("/submissions/{id}"), Some(token)),
        (format!("/submissions/{id}"), Some(other)),
        ("/no-such-page".to_owned(), Some(token)),
    ] {
        let who = if cookie.is_some() { "signed in" } else { "anonymous" };
        push(format!("page {path} ({who})"), get(&http, web.url(&path), None, cookie).await);
    }
    out
}

/// Reads a challenge's live feed (`/live/{slug}`) until `wanted` score events arrived or 240 s.
fn follow_live(web: &WebServer, slug: &str, wanted: usize) -> tokio::task::JoinHandle<String> {
    let url = web.url(&format!("/live/{slug}"));
    tokio::spawn(async move {
        let mut resp = reqwest::Client::new().get(url).send().await.expect("live feed");
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
        while text.matches("event: score").count() < wanted {
            match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                _ => break,
            }
        }
        text
    })
}

async fn submit_and_finish(stack: &Stack, slug: &str, token: &str) -> (String, Value) {
    let (status, s) = stack.app.submit(slug, token, &pushed(WEAK)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{s}");
    let id = s["id"].as_str().unwrap().to_owned();
    let done = stack.finished(&id, token, 240).await;
    assert_eq!(done["state"], "COMPLETE", "{done}");
    (id, done)
}

/// Every number under a `metrics` key, anywhere in `v`.
fn metric_numbers(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "metrics" {
                    out.extend(x.as_object().into_iter().flatten().filter_map(|(_, n)| n.as_f64()));
                } else {
                    metric_numbers(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| metric_numbers(x, out)),
        _ => {}
    }
}

/// The fixture's open phase with a private split and `feedback`.
fn phase(feedback: &'static str) -> impl FnOnce(&mut Value) {
    move |s: &mut Value| {
        s["phases"][0]["private_split"] = json!(true);
        s["phases"][0]["feedback"] = json!(feedback);
        if feedback == "rounded" {
            s["phases"][0]["decimals"] = json!(DECIMALS);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_sealed_reaches_a_participant_and_feedback_modes_hold() {
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let raw = stack.challenge("sealed", phase("raw")).await;
    let rounded = stack.challenge("rounded", phase("rounded")).await;
    let ladder = stack.challenge("ladder", phase("ladder")).await;
    let web = WebServer::spawn(&stack.app.config, &stack.app.addr).await;
    let live = follow_live(&web, &raw, 1);
    let ada = stack.app.register("Ada").await;
    let bob = stack.app.register("Bob").await;
    // Cy submits to the rounded phase alone: the raw phases show the same image's values unrounded.
    let cy = stack.app.register("Cy").await;

    let started = std::time::Instant::now();
    let ((raw_id, _), (rounded_id, _), (ladder_first, _)) = tokio::join!(
        submit_and_finish(&stack, &raw, &ada),
        submit_and_finish(&stack, &rounded, &cy),
        submit_and_finish(&stack, &ladder, &ada),
    );
    // Scored after the first: the same image, so no improvement at all.
    let (ladder_second, _) = submit_and_finish(&stack, &ladder, &ada).await;
    eprintln!("4 submissions scored in {:.1} s", started.elapsed().as_secs_f64());
    let feed = live.await.unwrap();
    assert!(feed.contains("event: score"), "no score event on the live feed: {feed}");

    // The needles: every private value of every submission, as the API and the pages print it,
    // except forms that are also some public value (those say nothing about the private one).
    let mut public_forms = Vec::new();
    let mut private_values = Vec::new();
    for id in [&raw_id, &rounded_id, &ladder_first, &ladder_second] {
        let (public, private) = stored(&stack, id).await;
        for v in values(&public) {
            public_forms.extend(printed(v));
            public_forms.extend(printed(round_to(v, DECIMALS)));
        }
        private_values.extend(values(&private));
    }
    let mut needles: Vec<String> =
        private_values.iter().flat_map(|v| printed(*v)).filter(|n| !public_forms.contains(n)).collect();
    needles.sort();
    needles.dedup();
    // Both metrics, in both forms: the demo's private half scores apart from its public half.
    assert!(needles.len() >= 4, "too few private values tell apart from public ones: {needles:?}");

    let mut answers = Vec::new();
    for (slug, id, token) in [(&raw, &raw_id, &ada), (&rounded, &rounded_id, &cy), (&ladder, &ladder_second, &ada)] {
        answers.extend(participant_reachable(&stack, &web, slug, id, token, &bob).await);
    }
    answers.push(Answer { what: format!("live feed /live/{raw}"), status: StatusCode::OK, body: feed });
    for a in &answers {
        for n in &needles {
            assert!(!has_number(&a.body, n), "{} ({}) shows the private value {n}:\n{}", a.what, a.status, a.body);
        }
    }
    eprintln!("{} answers checked for {} private forms: {needles:?}", answers.len(), needles.len());

    // The participant sees the public score of each COMPLETE submission (raw: as written).
    let (public, _) = stored(&stack, &raw_id).await;
    let (_, view) = stack.app.call(Method::GET, &format!("/api/v1/submissions/{raw_id}"), Some(&ada), None).await;
    assert_eq!(view["score"]["metrics"]["accuracy"].as_f64(), public.get_f64("accuracy").ok(), "{view}");
    assert!(view["score"].get("note").is_none(), "{view}");

    // Rounded: no digit past the decimals in any API answer or page the participant reads.
    let (public, _) = stored(&stack, &rounded_id).await;
    for path in [
        format!("/api/v1/submissions/{rounded_id}"),
        "/api/v1/submissions".to_owned(),
        format!("/api/v1/challenges/{rounded}/leaderboard"),
    ] {
        let (_, body) = stack.app.call(Method::GET, &path, Some(&cy), None).await;
        let mut numbers = Vec::new();
        metric_numbers(&body, &mut numbers);
        assert!(!numbers.is_empty(), "{path}: no score shown: {body}");
        for n in numbers {
            assert_eq!(round_to(n, DECIMALS), n, "{path} shows {n}, more than {DECIMALS} decimals: {body}");
        }
    }
    let unrounded: Vec<String> = values(&public)
        .into_iter()
        .filter(|v| round_to(*v, DECIMALS) != *v)
        .flat_map(|v| {
            let r = round_to(v, DECIMALS);
            printed(v).into_iter().filter(move |f| !printed(r).contains(f))
        })
        .collect();
    assert!(!unrounded.is_empty(), "the public values are already rounded: the test proves nothing");
    // Pages print exactly the decimals: 0.56, never 0.5600.
    let padded: Vec<String> = values(&public).into_iter().map(|v| format!("{:.4}", round_to(v, DECIMALS))).collect();
    let mut pages_with_score = 0;
    for a in participant_reachable(&stack, &web, &rounded, &rounded_id, &cy, &bob).await {
        for n in unrounded.iter().chain(&padded) {
            assert!(!has_number(&a.body, n), "{} shows {n}, past {DECIMALS} decimals:\n{}", a.what, a.body);
        }
        let accuracy = format!("{:.2}", round_to(public.get_f64("accuracy").unwrap(), DECIMALS));
        pages_with_score += usize::from(a.what.starts_with("page") && has_number(&a.body, &accuracy));
    }
    // The leaderboard (anonymous and signed in), My submissions, the submission page.
    assert!(pages_with_score >= 4, "the rounded score is on {pages_with_score} pages only");

    // The organizer's list shows the exact public score, never rounded: the one the row kept
    // when it was scored, without reading the score store; and for a row that kept none (scored
    // before rows kept one) or an unreadable one, the store's, as before.
    let exact = public.get_f64("accuracy").unwrap();
    let listed = || async {
        let path = format!("/api/v1/challenges/{rounded}/submissions");
        let (status, list) = stack.app.call(Method::GET, &path, Some(ADMIN_TOKEN), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let row = list.as_array().unwrap().iter().find(|r| r["id"] == rounded_id.as_str()).cloned();
        row.unwrap_or_else(|| panic!("{rounded_id} not listed: {list}"))["score"]["metrics"]["accuracy"].as_f64()
    };
    assert_eq!(listed().await, Some(exact), "the organizer reads the exact score");
    let db = sea_orm::Database::connect(&stack.app.database_url).await.unwrap();
    let kept = format!("SELECT public_score FROM submissions WHERE id = '{rounded_id}'");
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), kept)).await.unwrap();
    let kept: String = row.unwrap().try_get("", "public_score").unwrap();
    assert_eq!(serde_json::from_str::<Value>(&kept).unwrap()["accuracy"].as_f64(), Some(exact), "{kept}");
    for older in ["NULL", "'{not json'"] {
        let set = format!("UPDATE submissions SET public_score = {older} WHERE id = '{rounded_id}'");
        db.execute_unprepared(&set).await.unwrap();
        assert_eq!(listed().await, Some(exact), "with public_score {older}, the store's score is listed");
    }

    // Ladder: the second submission did not improve: the released score and the note.
    let (_, first) =
        stack.app.call(Method::GET, &format!("/api/v1/submissions/{ladder_first}"), Some(&ada), None).await;
    let (_, second) =
        stack.app.call(Method::GET, &format!("/api/v1/submissions/{ladder_second}"), Some(&ada), None).await;
    assert!(first["score"].get("note").is_none(), "{first}");
    assert_eq!(second["score"]["metrics"], first["score"]["metrics"], "{second}");
    assert_eq!(second["score"]["note"], "no significant improvement", "{second}");
    let (_, board) = stack.app.call(Method::GET, &format!("/api/v1/challenges/{ladder}/leaderboard"), None, None).await;
    assert_eq!(board["entries"][0]["submission_id"], ladder_first.as_str(), "{board}");
    assert_eq!(board["entries"][0]["submissions"], 2, "{board}");
    assert_eq!(board["entries"][0]["metrics"], first["score"]["metrics"], "{board}");
    let ada_visit = web.sign_in(&ada).await;
    let (_, page) = web.get(&format!("/submissions/{ladder_second}"), Some(&ada_visit.cookie)).await;
    assert!(page.contains("no significant improvement"), "the submission page lacks the note:\n{page}");

    // Raw, with cases: a second participant with the same predictions is tied with #1, and both
    // rows carry their 95 % bootstrap interval (from the public cases: public accuracy inside).
    submit_and_finish(&stack, &raw, &bob).await;
    let (_, board) = stack.app.call(Method::GET, &format!("/api/v1/challenges/{raw}/leaderboard"), None, None).await;
    let entries = board["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{board}");
    for e in entries {
        let (low, high, accuracy) =
            (e["interval"]["low"].as_f64(), e["interval"]["high"].as_f64(), e["metrics"]["accuracy"].as_f64());
        assert!(low <= accuracy && accuracy <= high, "{board}");
    }
    assert_eq!(
        (&entries[0]["interval"]["tied_with_first"], &entries[1]["interval"]["tied_with_first"]),
        (&json!(false), &json!(true)),
        "{board}"
    );
    let (_, page) = get(&reqwest::Client::new(), web.url(&format!("/challenges/{raw}/leaderboard")), None, None).await;
    assert!(page.contains("tied with #1"), "the leaderboard page lacks the tie:\n{page}");
}
