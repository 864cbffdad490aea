//! The pages in a real browser: headless Chromium (Debian's) through chromedriver, against the
//! whole pipeline on the real Docker engine. Needs `scripts/build-images.sh` (the demo images)
//! and `scripts/build-frontend.sh` (the wasm the pages hydrate with). Screenshots land in
//! `<target>/test-output/screenshots/`.

use darkroom_core::config::RunnerBackend;
use darkroom_tests::Stack;
use darkroom_tests::registry::pushed;
use darkroom_tests::web::{Browser, WebServer, site_root};
use fantoccini::Locator;

/// The names in the leaderboard table's rows, top first.
const RANKING: &str = "Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(r => r.dataset.participant)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_watches_the_leaderboard_update_live_and_participants_see_only_their_own() {
    assert!(
        site_root().join("pkg/darkroom_bg.wasm").is_file(),
        "no browser code in {}: run scripts/build-frontend.sh first",
        site_root().display()
    );
    let stack = Stack::spawn(RunnerBackend::Engine).await;
    let slug = stack.challenge("live", |s| s["title"] = serde_json::json!("Live Nuclei")).await;
    let web = WebServer::spawn(&stack.app.config, &stack.app.addr).await;
    let first = stack.app.register("First Lab").await;
    let second = stack.app.register("Second Lab").await;
    let (_, a) = stack.app.submit(&slug, &first, &pushed("darkroom-demo-weak:1")).await;
    let a = stack.finished(a["id"].as_str().unwrap(), &first, 120).await;
    assert_eq!(a["state"], "COMPLETE", "{a}");

    let browser = Browser::start("live-leaderboard").await;
    let c = &browser.client;

    // The challenge list, then into the challenge by its link.
    c.goto(&web.url("/")).await.unwrap();
    browser.wait_until("challenge list rendered", "document.querySelector('#challenges-open')", 10).await;
    browser.screenshot("1-challenges").await;
    let open = c.find(Locator::Css("#challenges-open")).await.unwrap().text().await.unwrap();
    assert!(open.contains("Live Nuclei"), "{open}");
    c.find(Locator::LinkText("Leaderboard")).await.unwrap().click().await.unwrap();

    // The leaderboard: one row; wait for hydration to open the live feed.
    browser.wait_until("leaderboard shown", "document.querySelector('#leaderboard')", 10).await;
    browser
        .wait_until("live feed connected", "document.querySelector('#live-status')?.dataset.live === 'live'", 20)
        .await;
    assert_eq!(browser.eval(RANKING).await, serde_json::json!(["First Lab"]));
    browser.screenshot("2-leaderboard-one-row").await;

    // A marker on the window proves the page is never reloaded while the new score arrives.
    browser.eval("(window.__stillHere = true)").await;
    let (_, b) = stack.app.submit(&slug, &second, &pushed("darkroom-demo-weak:1")).await;
    let b = stack.finished(b["id"].as_str().unwrap(), &second, 120).await;
    assert_eq!(b["state"], "COMPLETE", "{b}");
    browser.wait_until("second score appears live", &format!("{RANKING}.length === 2"), 20).await;
    assert_eq!(browser.eval("window.__stillHere === true").await, serde_json::json!(true), "the page was reloaded");
    let ranking = browser.eval(RANKING).await;
    let names: Vec<&str> = ranking.as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(names.contains(&"First Lab") && names.contains(&"Second Lab"), "{ranking}");
    let ranks =
        browser.eval("Array.from(document.querySelectorAll('#leaderboard td.rank')).map(t => t.textContent)").await;
    assert_eq!(ranks, serde_json::json!(["1", "2"]));
    browser.screenshot("3-leaderboard-updated-live").await;
    // The same board on a phone-sized window: the table scrolls sideways, nothing overflows.
    c.set_window_size(390, 844).await.unwrap();
    let overflow = browser.eval("document.documentElement.scrollWidth > window.innerWidth").await;
    assert_eq!(overflow, serde_json::json!(false), "the page is wider than a phone");
    browser.screenshot("3b-leaderboard-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // The challenge page: phases with a countdown that ticks once hydrated.
    c.goto(&web.url(&format!("/challenges/{slug}"))).await.unwrap();
    browser.wait_until("challenge page", "document.querySelector('#phases .countdown')", 10).await;
    let shown = browser.eval("document.querySelector('#phases .countdown').textContent").await;
    browser
        .wait_until(
            "countdown ticks",
            &format!("document.querySelector('#phases .countdown').textContent !== {shown}"),
            5,
        )
        .await;
    browser.screenshot("3c-challenge").await;

    // The first participant signs in with the form and sees only their own submission.
    c.goto(&web.url("/sign-in")).await.unwrap();
    browser.wait_until("sign-in form", "document.querySelector('#token')", 10).await;
    c.find(Locator::Css("#token")).await.unwrap().send_keys(&first).await.unwrap();
    c.find(Locator::Css("#sign-in button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_until("my submissions", "document.querySelector('#submissions')", 15).await;
    // The header follows the sign-in, which navigated without reloading the page.
    browser
        .wait_until(
            "header names who signed in",
            "document.querySelector('header .who')?.textContent.startsWith('Signed in as')",
            5,
        )
        .await;
    let mine = browser
        .eval("Array.from(document.querySelectorAll('#submissions tbody tr')).map(r => r.dataset.submission)")
        .await;
    assert_eq!(mine, serde_json::json!([a["id"]]), "only the first participant's own submission");
    let text = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!text.contains(b["id"].as_str().unwrap()), "another participant's submission is visible");
    browser.screenshot("4-my-submissions").await;

    // She ticks her submission as a final selection and saves, with the page's scripts.
    let id = a["id"].as_str().unwrap();
    c.find(Locator::Css(&format!("#final-selections input[value='{id}']"))).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#final-selections button[type=submit]")).await.unwrap().click().await.unwrap();
    browser
        .wait_until(
            "the selection is saved",
            &format!("document.querySelector('.selection-summary')?.textContent.includes('1 of at most 2: {id}')"),
            15,
        )
        .await;
    let checked =
        browser.eval(&format!("document.querySelector(\"#final-selections input[value='{id}']\").checked")).await;
    assert_eq!(checked, serde_json::json!(true));
    browser.screenshot("4b-final-selection").await;

    // She joins another challenge from its page: ticks the rules, clicks Join, and the page
    // says she has joined, without a reload.
    let other = stack.challenge("joinable", |s| s["title"] = serde_json::json!("Joinable")).await;
    c.goto(&web.url(&format!("/challenges/{other}"))).await.unwrap();
    browser.wait_until("join form", "document.querySelector('#join input[name=accept_rules]')", 10).await;
    browser.eval("(window.__stillHere = true)").await;
    c.find(Locator::Css("#join input[name=accept_rules]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#join button[type=submit]")).await.unwrap().click().await.unwrap();
    browser
        .wait_until("joined", "document.querySelector('#enrollment [data-state]')?.dataset.state === 'active'", 15)
        .await;
    browser.screenshot("4c-joined").await;

    // Her submission's page: the state timeline.
    c.goto(&web.url(&format!("/submissions/{}", a["id"].as_str().unwrap()))).await.unwrap();
    browser.wait_until("timeline", "document.querySelector('.timeline li')", 10).await;
    let timeline = c.find(Locator::Css(".timeline")).await.unwrap().text().await.unwrap();
    for state in ["QUEUED", "RUNNING", "EVALUATING", "COMPLETE"] {
        assert!(timeline.contains(state), "{timeline}");
    }
    browser.screenshot("5-submission-timeline").await;
    browser.close().await;
}

/// A leaderboard the live feed refuses (its cap reached) says so and re-reads the board on a
/// timer instead: a new score appears without a reload, within the polling interval (30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaderboard_refused_the_live_feed_polls_instead() {
    use darkroom_core::scores::{ScoreDocument, ScoreStore, to_bson_time};
    use darkroom_tests::{Backend, TestApp};
    assert!(
        site_root().join("pkg/darkroom_bg.wasm").is_file(),
        "no browser code in {}: run scripts/build-frontend.sh first",
        site_root().display()
    );
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn_configured(&app.config, &app.addr, |c| c.frontend.live_max_total = 0).await;
    let slug = app.create_challenge("polled", |_| {}).await;
    let browser = Browser::start("polling-leaderboard").await;
    let c = &browser.client;
    c.goto(&web.url(&format!("/challenges/{slug}/leaderboard"))).await.unwrap();
    browser.wait_until("board shown", "document.querySelector('#leaderboard-empty')", 10).await;
    browser
        .wait_until("falls back to polling", "document.querySelector('#live-status')?.dataset.live === 'polling'", 20)
        .await;
    let status = browser.eval("document.querySelector('#live-status').textContent").await;
    assert!(status.as_str().is_some_and(|s| s.contains("every 30 seconds")), "{status}");
    browser.eval("(window.__stillHere = true)").await;

    // A score recorded now (as an evaluator records it) shows up at the next poll.
    let token = app.register("Polled Lab").await;
    let (_, sub) = app.submit(&slug, &token, &darkroom_tests::registry::publish("polled-model:1").await).await;
    let (_, me) = app.call(reqwest::Method::GET, "/api/v1/me", Some(&token), None).await;
    let store = ScoreStore::new(&app.config.mongodb).await.expect("mongo");
    let now = to_bson_time(chrono::Utc::now());
    store
        .record(&ScoreDocument {
            submission_id: sub["id"].as_str().unwrap().to_owned(),
            challenge: slug.clone(),
            phase: "dev".into(),
            participant_id: me["id"].as_str().unwrap().to_owned(),
            attempt: 1,
            metrics: [("accuracy".to_owned(), 0.9), ("roc_auc".to_owned(), 0.8)].into(),
            rank_value: 0.9,
            direction: darkroom_core::domain::Direction::HigherIsBetter,
            submitted_at: now,
            scored_at: now,
            image_digest: None,
            evaluation_image: "darkroom-eval:1".into(),
            evaluation_image_digest: None,
        })
        .await
        .expect("score recorded");
    browser.wait_until("the polled board shows the score", &format!("{RANKING}.length === 1"), 45).await;
    assert_eq!(browser.eval("window.__stillHere === true").await, serde_json::json!(true), "the page was reloaded");
    browser.screenshot("polling-board").await;
    browser.close().await;
}
