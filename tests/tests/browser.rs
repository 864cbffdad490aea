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
    // And what her run used.
    let usage = c.find(Locator::Css("#run-usage")).await.unwrap().text().await.unwrap();
    assert!(usage.starts_with("Run: ran "), "{usage}");
    browser.screenshot("5-submission-timeline").await;

    // Her token leaked: she replaces it from her page, with the page's scripts. The new one is
    // shown once, without a reload, and she stays signed in; the old one is dead.
    c.goto(&web.url("/me")).await.unwrap();
    browser.wait_until("the page's scripts", "document.documentElement.hasAttribute('data-hydrated')", 15).await;
    browser.eval("(window.__stillHere = true)").await;
    browser.eval("document.querySelector('#replace-token').scrollIntoView()").await;
    browser.screenshot("5a-replace-token").await;
    c.find(Locator::Css("#current-token")).await.unwrap().send_keys(&first).await.unwrap();
    c.find(Locator::Css("#replace-token-form button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_until("the new token shown", "document.querySelector('#new-token')", 15).await;
    assert_eq!(browser.eval("window.__stillHere === true").await, serde_json::json!(true), "the page reloaded");
    let shown = browser.eval("document.querySelector('#new-token').textContent").await;
    let new_token = shown.as_str().unwrap_or_default().trim().to_owned();
    assert!(new_token.starts_with("drp_") && new_token != first, "{shown}");
    browser.screenshot("5b-new-token").await;
    // Leaving the page takes the token off it, so the Back button's copy does not show it.
    browser.eval("window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }))").await;
    browser
        .wait_until(
            "the token taken off the page",
            "!document.querySelector('#new-token') && !!document.querySelector('#new-token-taken')",
            5,
        )
        .await;
    let main = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(!main.contains(&new_token), "the token is still on the page: {main}");
    let me = |token: String| {
        let app = &stack.app;
        async move { app.call(reqwest::Method::GET, "/api/v1/me", Some(&token), None).await.0 }
    };
    assert_eq!(me(first.clone()).await, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(me(new_token).await, reqwest::StatusCode::OK);
    c.goto(&web.url("/me")).await.unwrap();
    browser.wait_until("still signed in", "document.querySelector('#submissions')", 15).await;
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

/// Saves `name` at desktop (1280 px) and phone (390 px) width, checking at phone width that
/// nothing makes the page wider than the screen; back to desktop width after.
async fn at_both_widths(browser: &Browser, name: &str) {
    let c = &browser.client;
    c.set_window_size(1280, 900).await.unwrap();
    browser.screenshot(&format!("{name}-1280")).await;
    c.set_window_size(390, 844).await.unwrap();
    browser.screenshot(&format!("{name}-390")).await;
    let overflow = browser.eval("document.documentElement.scrollWidth > window.innerWidth").await;
    // What sticks out, to say what to fix.
    let wide = "Array.from(document.querySelectorAll('body *')).filter(e => !e.parentElement?.closest('.table-scroll') && e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40))";
    let culprits = if overflow == serde_json::json!(true) { browser.eval(wide).await } else { serde_json::json!([]) };
    assert_eq!(overflow, serde_json::json!(false), "{name}: the page is wider than a phone: {culprits}");
    c.set_window_size(1280, 900).await.unwrap();
}

/// The pictures and the descriptions in a real browser, and every page at desktop and phone
/// width (screenshots under `<target>/test-output/screenshots/pages/`, which `.ci/run` keeps):
/// the leaderboard's chart has a series per line and gains one live when a new participant
/// scores; the participant's chart marks their best; a description's `<script>` and `onerror`
/// never run; the dataset's folders open with a click.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_descriptions_and_the_dataset_tree_in_a_browser_at_two_widths() {
    use darkroom_tests::scoring::{Evaluation, complete};
    use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp};
    assert!(
        site_root().join("pkg/darkroom_bg.wasm").is_file(),
        "no browser code in {}: run scripts/build-frontend.sh first",
        site_root().display()
    );
    let app = TestApp::spawn(Backend::Sqlite).await;
    let web = WebServer::spawn(&app.config, &app.addr).await;
    let slug = app
        .create_challenge("pictures", |s| {
            s["title"] = serde_json::json!("Pictured Nuclei");
            s["description"] = serde_json::json!(
                "## Task\n\nTell **20X** from 40X.\n\n<script>window.__xss = 1</script>\n\n<img src=x onerror=\"window.__xss = 2\">"
            );
            let data = std::path::PathBuf::from(s["dataset"]["host_path"].as_str().unwrap());
            std::fs::create_dir_all(data.join("train/images")).unwrap();
            std::fs::write(data.join("train/images/a.png"), [0u8; 1024]).unwrap();
        })
        .await;
    let score = |token: String, accuracy: f64| {
        let (app, slug) = (&app, slug.clone());
        async move {
            let (_, sub) = app.submit(&slug, &token, &darkroom_tests::registry::publish("pictured:1").await).await;
            let id = sub["id"].as_str().unwrap().to_owned();
            complete(app, &token, &id, &Evaluation { public: accuracy, private: accuracy, private_cases: None }).await;
            id
        }
    };
    let (ada, bob, cy) = (app.register("Ada Lab").await, app.register("Bob Lab").await, app.register("Cy Lab").await);
    score(ada.clone(), 0.6).await;
    let best = score(ada.clone(), 0.82).await;
    score(ada.clone(), 0.7).await;
    score(bob.clone(), 0.75).await;

    let news = serde_json::json!({
        "title": "Deadline moved to Friday",
        "body": "The **test split** opens a day later.\n\n<script>window.__xss = 3</script>",
    });
    let (s, _) = app
        .call(reqwest::Method::POST, &format!("/api/v1/challenges/{slug}/announcements"), Some(ADMIN_TOKEN), Some(news))
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED);

    let browser = Browser::start("pages").await;
    let c = &browser.client;
    c.goto(&web.url("/")).await.unwrap();
    browser.wait_until("challenge list", "document.querySelector('#challenges-open')", 10).await;
    at_both_widths(&browser, "1-challenges").await;

    // The challenge: the description's markup without its script; the tree opens with a click.
    c.goto(&web.url(&format!("/challenges/{slug}"))).await.unwrap();
    browser.wait_until("challenge page", "document.querySelector('#description h4')", 10).await;
    let hydrated = "document.querySelector('#phases .countdown').textContent";
    let shown = browser.eval(hydrated).await;
    browser.wait_until("hydrated (countdown ticks)", &format!("{hydrated} !== {shown}"), 5).await;
    assert_eq!(browser.eval("window.__xss === undefined").await, serde_json::json!(true), "a script ran");
    assert_eq!(browser.eval("document.querySelectorAll('#description script, #description img').length").await, 0);
    // The organizer's announcement, above the description, its Markdown without its script.
    let strong = "document.querySelector('#announcements .announcement strong')?.textContent";
    assert_eq!(browser.eval(strong).await, serde_json::json!("test split"));
    assert_eq!(browser.eval("document.querySelectorAll('#announcements script').length").await, 0);
    let above =
        "document.querySelector('#announcements').compareDocumentPosition(document.querySelector('#description'))";
    assert_eq!(browser.eval(above).await, serde_json::json!(4), "the announcements come before the description");
    at_both_widths(&browser, "2a-challenge-announcements").await;
    let train = "#file-tree details[data-path='train/']";
    assert_eq!(browser.eval(&format!("document.querySelector(\"{train}\").open")).await, false);
    let labels =
        "Array.from(document.querySelectorAll('#file-tree li.file code')).find(c => c.textContent === 'labels.csv')";
    assert_eq!(browser.eval(&format!("{labels}.checkVisibility()")).await, false, "closed folders hide files");
    c.find(Locator::Css(&format!("{train} > summary"))).await.unwrap().click().await.unwrap();
    browser.wait_until("the folder opens", &format!("document.querySelector(\"{train}\").open"), 5).await;
    assert_eq!(browser.eval(&format!("{labels}.checkVisibility()")).await, true, "an open folder shows files");
    at_both_widths(&browser, "2-challenge").await;

    // The leaderboard: a series per line; a third participant's score adds one, live.
    let series = "document.querySelectorAll('#board-chart svg g.series').length";
    c.goto(&web.url(&format!("/challenges/{slug}/leaderboard"))).await.unwrap();
    browser.wait_until("live", "document.querySelector('#live-status')?.dataset.live === 'live'", 20).await;
    assert_eq!(browser.eval(series).await, 2);
    let titles = "Array.from(document.querySelectorAll('#board-chart g.series > title')).map(t => t.textContent)";
    assert_eq!(
        browser.eval(titles).await,
        serde_json::json!(["#1 Ada Lab: accuracy 0.8200", "#2 Bob Lab: accuracy 0.7500"])
    );
    browser.eval("(window.__stillHere = true)").await;
    score(cy.clone(), 0.9).await;
    browser.wait_until("the chart gains a series live", &format!("{series} === 3"), 20).await;
    assert_eq!(browser.eval("window.__stillHere === true").await, true, "the page was reloaded");
    assert_eq!(browser.eval("document.querySelectorAll('#export a.button').length").await, 2);
    at_both_widths(&browser, "3-leaderboard").await;
    c.goto(&web.url(&format!("/challenges/{slug}/leaderboard?phase=dev&board=private"))).await.unwrap();
    browser.wait_until("private board", "document.querySelector('#private-state')", 10).await;
    at_both_widths(&browser, "4-private-board").await;

    // Ada's page: her three scores, the best marked.
    c.goto(&web.url("/sign-in")).await.unwrap();
    browser.wait_until("sign-in form", "document.querySelector('#token')", 10).await;
    at_both_widths(&browser, "5-sign-in").await;
    c.find(Locator::Css("#token")).await.unwrap().send_keys(&ada).await.unwrap();
    c.find(Locator::Css("#sign-in button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_until("her chart", "document.querySelector('#my-charts svg')", 15).await;
    assert_eq!(browser.eval("document.querySelectorAll('#my-charts g.series').length").await, 1);
    assert_eq!(browser.eval("document.querySelectorAll('#my-charts circle.point').length").await, 3);
    let marked = browser.eval("document.querySelector('#my-charts .best > title').textContent").await;
    assert!(marked.as_str().is_some_and(|t| t.starts_with("Current best: 0.8200")), "{marked}");
    at_both_widths(&browser, "6-my-submissions").await;
    c.goto(&web.url(&format!("/submissions/{best}"))).await.unwrap();
    browser.wait_until("timeline", "document.querySelector('.timeline li')", 10).await;
    // She writes what it tried in the page's form; it is hers and the organizer's to read.
    let note = "small CNN, lr 1e-3";
    c.find(Locator::Css("#note-text")).await.unwrap().send_keys(note).await.unwrap();
    c.find(Locator::Css("#note button[type=submit]")).await.unwrap().click().await.unwrap();
    let path = format!("/api/v1/submissions/{best}");
    let mut saved = serde_json::Value::Null;
    for _ in 0..50 {
        saved = app.call(reqwest::Method::GET, &path, Some(&ada), None).await.1["note"].clone();
        if saved == note {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(saved, note, "the form did not save the note");
    c.goto(&web.url(&format!("/submissions/{best}"))).await.unwrap();
    let shown = format!("document.querySelector('td.image .submission-note')?.textContent === '{note}'");
    browser.wait_until("the note under the image", &shown, 10).await;
    at_both_widths(&browser, "7-submission").await;
    // On the board, her line is marked and her place said, also once the page is live.
    c.goto(&web.url(&format!("/challenges/{slug}/leaderboard"))).await.unwrap();
    browser.wait_until("live", "document.querySelector('#live-status')?.dataset.live === 'live'", 20).await;
    assert_eq!(browser.eval("document.querySelector('tr.yours')?.dataset.participant").await, "Ada Lab");
    let place = browser.eval("document.querySelector('#your-line').textContent").await;
    assert_eq!(place, "You are #2 of 3 on this board.");
    at_both_widths(&browser, "7b-leaderboard-yours").await;

    // The organizer's page.
    c.find(Locator::Css("#sign-out button")).await.unwrap().click().await.unwrap();
    browser.wait_until("signed out", "!document.querySelector('#sign-out')", 10).await;
    c.goto(&web.url("/sign-in")).await.unwrap();
    browser.wait_until("sign-in form", "document.querySelector('#token')", 10).await;
    c.find(Locator::Css("#token")).await.unwrap().send_keys(ADMIN_TOKEN).await.unwrap();
    c.find(Locator::Css("#sign-in button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait_until("organizer signed in", "document.querySelector('header .who')", 15).await;
    c.goto(&web.url(&format!("/challenges/{slug}/submissions"))).await.unwrap();
    browser.wait_until("all submissions", "document.querySelector('#submissions')", 10).await;
    browser.wait_until("her note in the organizer's list", &shown, 10).await;
    at_both_widths(&browser, "8-organizer").await;
    // The organizer posts a second announcement from the page; the list under the form shows it
    // (the page's data reloads), and the challenge's page has it on top.
    c.find(Locator::Css("#announcement-title")).await.unwrap().send_keys("Final phase opens Monday").await.unwrap();
    c.find(Locator::Css("#announcement-body")).await.unwrap().send_keys("Bring your **best** model.").await.unwrap();
    c.find(Locator::Css("form.announce button[type=submit]")).await.unwrap().click().await.unwrap();
    browser
        .wait_until(
            "the post listed",
            "document.querySelectorAll('#announcements li[data-announcement]').length === 2",
            15,
        )
        .await;
    let emptied = "document.querySelector('#announcement-title').value === '' && document.querySelector('#announcement-body').value === ''";
    browser.wait_until("the form emptied", emptied, 5).await;
    browser.eval("document.querySelector('#announcements').scrollIntoView()").await;
    at_both_widths(&browser, "8b-organizer-announcements").await;
    c.goto(&web.url(&format!("/challenges/{slug}"))).await.unwrap();
    let newest =
        "document.querySelector('#announcements .announcement h3')?.textContent === 'Final phase opens Monday'";
    browser.wait_until("the newest on the challenge's page", newest, 10).await;
    // Its feed link, clicked on the live page, reaches the feed, not the router's own 404.
    let hydrated = "document.querySelector('#phases .countdown').textContent";
    let shown = browser.eval(hydrated).await;
    browser.wait_until("hydrated (countdown ticks)", &format!("{hydrated} !== {shown}"), 5).await;
    c.find(Locator::Css("#announcements a[type='application/atom+xml']")).await.unwrap().click().await.unwrap();
    // Chromium shows a feed as plain text: the XML itself, with the newest title.
    let feed = "location.pathname.endsWith('/announcements.atom') && ['<feed xmlns=\"http://www.w3.org/2005/Atom\">', '<title>Final phase opens Monday</title>'].every(t => document.body.textContent.includes(t))";
    browser.wait_until("the feed, as the browser reads it", feed, 10).await;
    browser.close().await;
}
