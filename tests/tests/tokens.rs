//! Scoped tokens (issue 18) against the real service and PostgreSQL: a participant's `read`
//! token reads but cannot submit, a `submit` token submits; the organizer's read-only token lets
//! a co-organizer follow a challenge without changing it; expiry, revocation and a rotated admin
//! token end a token; and nothing scoped can mint, open a session, or outgrow its scopes. A
//! participant's own token, replaced by them or the organizer, takes everything it made with it.

use darkroom_tests::{ADMIN_TOKEN, Backend, TestApp};
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

async fn mint(app: &TestApp, holder: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/v1/tokens", Some(holder), Some(body)).await
}

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_tokens_do_what_their_scopes_say_until_they_expire_or_are_revoked() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let slug = app.create_challenge("scoped", |_| {}).await;
    let ada = app.register("Ada").await;
    app.join(&slug, &ada).await;
    let image = darkroom_tests::registry::publish("scoped-model:1").await;

    // A participant's read token reads, and is refused every write, naming the scope.
    let (s, read) = mint(&app, &ada, json!({ "scopes": ["read"], "expires_in_hours": 2, "label": "dashboard" })).await;
    assert_eq!(s, StatusCode::CREATED, "{read}");
    let read_token = read["token"].as_str().unwrap().to_owned();
    assert!(read_token.starts_with("drt_"), "{read}");
    assert_eq!((read["scopes"].clone(), read["organizer"].clone()), (json!(["read"]), json!(false)));
    let (s, me) = app.call(Method::GET, "/api/v1/me", Some(&read_token), None).await;
    assert_eq!((s, me["name"].as_str()), (StatusCode::OK, Some("Ada")), "{me}");
    let (s, refused) = app.submit(&slug, &read_token, &image).await;
    assert_eq!((s, code(&refused)), (StatusCode::FORBIDDEN, Some("token_scope")), "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("needs 'submit'"), "{refused}");
    // A submit token submits (and reads what it submitted only with read too).
    let (_, submit) = mint(&app, &ada, json!({ "scopes": ["submit", "read"] })).await;
    let submit_token = submit["token"].as_str().unwrap().to_owned();
    let (s, sub) = app.submit(&slug, &submit_token, &image).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sub}");
    let (s, _) = app
        .call(Method::GET, &format!("/api/v1/submissions/{}", sub["id"].as_str().unwrap()), Some(&read_token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "the read token reads its holder's submission");

    // Nothing scoped (or a session) mints, lists or opens a session.
    for bearer in [&read_token, &submit_token] {
        let (s, body) = mint(&app, bearer, json!({ "scopes": ["read"] })).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        let (s, body) = app.call(Method::POST, "/api/v1/sessions", Some(bearer), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    }
    let (_, session) = app.call(Method::POST, "/api/v1/sessions", Some(&ada), None).await;
    let (s, _) = mint(&app, session["secret"].as_str().unwrap(), json!({ "scopes": ["read"] })).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a session does not mint");

    // What may not be minted, each said.
    for (holder, body, says) in [
        (&ada, json!({ "scopes": ["organize"] }), "cannot mint a 'organize' token"),
        (&ada, json!({ "scopes": [] }), "at least one scope"),
        (&ada, json!({ "scopes": ["read"], "expires_in_hours": 0 }), "between 1 and 8760"),
        (&ada, json!({ "scopes": ["read"], "expires_in_hours": 9000 }), "between 1 and 8760"),
        (&ada, json!({ "scopes": ["admin"] }), "scopes"),
    ] {
        let (s, body) = mint(&app, holder, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{says}: {body}");
    }
    let (s, body) = mint(&app, ADMIN_TOKEN, json!({ "scopes": ["submit"] })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the organizer does not submit: {body}");

    // The organizer's read-only token: a co-organizer follows the challenge and changes nothing.
    let (s, co) = mint(&app, ADMIN_TOKEN, json!({ "scopes": ["read"], "label": "co-organizer Bob" })).await;
    assert_eq!(s, StatusCode::CREATED, "{co}");
    let co_token = co["token"].as_str().unwrap().to_owned();
    let (s, list) =
        app.call(Method::GET, &format!("/api/v1/challenges/{slug}/submissions"), Some(&co_token), None).await;
    assert_eq!((s, list.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{list}");
    let (s, spec) = app.call(Method::GET, &format!("/api/v1/challenges/{slug}/spec"), Some(&co_token), None).await;
    assert_eq!(s, StatusCode::OK, "{spec}");
    let (s, body) = app.call(Method::PUT, &format!("/api/v1/challenges/{slug}"), Some(&co_token), Some(spec)).await;
    assert_eq!((s, code(&body)), (StatusCode::FORBIDDEN, Some("token_scope")), "{body}");
    let (s, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/submissions/{}/cancel", sub["id"].as_str().unwrap()),
            Some(&co_token),
            None,
        )
        .await;
    assert_eq!((s, code(&body)), (StatusCode::FORBIDDEN, Some("token_scope")), "{body}");

    // Listed without secrets; revoked, a token is unknown.
    let (_, mine) = app.call(Method::GET, "/api/v1/tokens", Some(&ada), None).await;
    let mine = mine.as_array().unwrap().clone();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(mine.iter().all(|t| t.get("token").is_none()), "{mine:?}");
    let (s, _) =
        app.call(Method::DELETE, &format!("/api/v1/tokens/{}", read["id"].as_str().unwrap()), Some(&ada), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = app.call(Method::GET, "/api/v1/me", Some(&read_token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, _) =
        app.call(Method::DELETE, &format!("/api/v1/tokens/{}", co["id"].as_str().unwrap()), Some(&ada), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "someone else's token is not yours to revoke");

    // Expired: refused, saying so.
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    db.execute_unprepared("UPDATE api_tokens SET expires_at = now() - interval '1 minute'").await.unwrap();
    let (s, body) = app.call(Method::GET, "/api/v1/me", Some(&submit_token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");
    let (_, mine) = app.call(Method::GET, "/api/v1/tokens", Some(&ada), None).await;
    assert_eq!(mine, json!([]), "expired tokens are not listed");
}

/// `GET /tokens/current` says what the request's own credential is, to any of them whatever
/// its scopes (a submit-only token may not read `/me`, yet may ask what it is); a revoked or
/// unknown one gets the same 401 as everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_can_ask_what_it_is() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.register("Ada").await;
    let current = |token: String| {
        let app = &app;
        async move { app.call(Method::GET, "/api/v1/tokens/current", Some(&token), None).await }
    };
    assert_eq!(current(ada.clone()).await, (StatusCode::OK, json!({ "kind": "own" })));
    assert_eq!(current(ADMIN_TOKEN.into()).await, (StatusCode::OK, json!({ "kind": "own" })));

    let (_, submit_only) = mint(&app, &ada, json!({ "scopes": ["submit"], "label": "ci" })).await;
    let token = submit_only["token"].as_str().unwrap().to_owned();
    let (s, me) = app.call(Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!((s, code(&me)), (StatusCode::FORBIDDEN, Some("token_scope")), "{me}");
    let (s, what) = current(token.clone()).await;
    assert_eq!(s, StatusCode::OK, "{what}");
    assert_eq!((what["kind"].as_str(), what["label"].as_str()), (Some("scoped"), Some("ci")), "{what}");
    assert_eq!((what["scopes"].clone(), what["id"].clone()), (json!(["submit"]), submit_only["id"].clone()));
    assert!(what.get("token").is_none(), "never the secret: {what}");

    let (_, session) = app.call(Method::POST, "/api/v1/sessions", Some(&ada), None).await;
    let (s, what) = current(session["secret"].as_str().unwrap().to_owned()).await;
    assert_eq!((s, what["kind"].as_str()), (StatusCode::OK, Some("session")), "{what}");
    assert_eq!(what["expires_at"], session["expires_at"]);

    let id = submit_only["id"].as_str().unwrap();
    let (s, _) = app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&ada), None).await;
    assert!(s.is_success(), "{s}");
    for gone in [token, "drp_unknown".to_owned(), "drt_unknown".to_owned()] {
        let (s, e) = current(gone).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{e}");
    }
}

fn says(answer: &(StatusCode, Value), status: StatusCode, text: &str) {
    let (s, body) = answer;
    assert_eq!(*s, status, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(text), "'{message}' does not say '{text}'");
}

/// What a credential opens or mints: a web session's secret and a scoped token's.
async fn session_and_scoped(app: &TestApp, holder: &str) -> (String, String) {
    let (s, session) = app.call(Method::POST, "/api/v1/sessions", Some(holder), None).await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let (s, scoped) = mint(app, holder, json!({ "scopes": ["read", "submit"] })).await;
    assert_eq!(s, StatusCode::CREATED, "{scoped}");
    (session["secret"].as_str().unwrap().to_owned(), scoped["token"].as_str().unwrap().to_owned())
}

async fn me(app: &TestApp, bearer: &str) -> (StatusCode, Value) {
    app.call(Method::GET, "/api/v1/me", Some(bearer), None).await
}

/// A leaked token is replaced by its holder, a lost one by the organizer: the old token, every
/// session it opened and every scoped token it minted stop at once (whoever copied it is out,
/// with whatever they made from it), while the participant keeps who they are. Nothing but
/// the token itself may replace it: not a session (a stolen cookie would lock its owner out),
/// not a scoped token, and for someone else's only the admin token, not a co-organizer's.
async fn replacing_a_token_ends_everything_the_old_one_made(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = app.create_challenge("replace", |_| {}).await;
    let ada = app.register("Ada").await;
    let bo = app.register("Bo").await;
    app.join(&slug, &ada).await;
    let (_, ada_me) = me(&app, &ada).await;
    let (ada_session, ada_scoped) = session_and_scoped(&app, &ada).await;
    let (bo_session, bo_scoped) = session_and_scoped(&app, &bo).await;
    let replace_own = |bearer: Option<String>| {
        let app = &app;
        async move { app.call(Method::POST, "/api/v1/me/token", bearer.as_deref(), None).await }
    };

    // Only the token itself replaces it.
    says(&replace_own(Some(ada_session.clone())).await, StatusCode::FORBIDDEN, "with your own token only");
    says(&replace_own(Some(ada_scoped.clone())).await, StatusCode::FORBIDDEN, "with your own token only");
    says(&replace_own(Some(ADMIN_TOKEN.into())).await, StatusCode::FORBIDDEN, "submissions.admin_token");
    says(&replace_own(None).await, StatusCode::UNAUTHORIZED, "Authorization");
    says(&replace_own(Some("drp_nobody".into())).await, StatusCode::UNAUTHORIZED, "unknown participant token");
    assert_eq!(me(&app, &ada).await.0, StatusCode::OK, "a refused replacement changed nothing");

    // Ada's token leaked: she replaces it.
    let (s, replaced) = replace_own(Some(ada.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{replaced}");
    let new_ada = replaced["token"].as_str().unwrap().to_owned();
    assert!(new_ada.starts_with("drp_") && new_ada != ada, "{replaced}");
    assert_eq!(replaced["id"], ada_me["id"], "{replaced}");
    assert_eq!((replaced["ended_sessions"].as_u64(), replaced["revoked_tokens"].as_u64()), (Some(1), Some(1)));
    says(&me(&app, &ada).await, StatusCode::UNAUTHORIZED, "replaced with the token itself on");
    says(&me(&app, &ada_session).await, StatusCode::UNAUTHORIZED, "sign in again");
    says(&me(&app, &ada_scoped).await, StatusCode::UNAUTHORIZED, "");
    says(&app.call(Method::POST, "/api/v1/sessions", Some(&ada), None).await, StatusCode::UNAUTHORIZED, "replaced");
    // She is who she was: same id, still enrolled.
    let (s, now) = me(&app, &new_ada).await;
    assert_eq!((s, now["id"].clone()), (StatusCode::OK, ada_me["id"].clone()), "{now}");
    let (s, enrollment) =
        app.call(Method::GET, &format!("/api/v1/challenges/{slug}/enrollment"), Some(&new_ada), None).await;
    assert_eq!((s, enrollment["state"].as_str()), (StatusCode::OK, Some("active")), "{enrollment}");
    // Bo's session and scoped token were not hers.
    assert_eq!(me(&app, &bo_session).await.0, StatusCode::OK);
    assert_eq!(me(&app, &bo_scoped).await.0, StatusCode::OK);

    // The owner and whoever copied the token race to replace it: one wins, the other is told.
    let (first, second) = tokio::join!(replace_own(Some(new_ada.clone())), replace_own(Some(new_ada.clone())));
    let won: Vec<_> = [&first, &second].into_iter().filter(|(s, _)| *s == StatusCode::CREATED).collect();
    assert_eq!(won.len(), 1, "exactly one replacement wins: {first:?} {second:?}");
    let lost = if first.0 == StatusCode::CREATED { &second } else { &first };
    assert!(
        matches!(lost.0, StatusCode::CONFLICT | StatusCode::UNAUTHORIZED),
        "the other is refused, not handed a second token: {lost:?}"
    );
    let winner = won[0].1["token"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &winner).await.0, StatusCode::OK);
    assert_eq!(me(&app, &new_ada).await.0, StatusCode::UNAUTHORIZED);

    // An upload let in before the replacement stores nothing after it: whoever copied the token
    // was mid-upload when Ada replaced it.
    let (body_tx, body_rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let archive = darkroom_tests::fixtures::image_archive();
    let (head, tail) = archive.split_at(archive.len() / 2);
    body_tx.send(Ok(head.to_vec())).await.unwrap();
    let upload = tokio::spawn({
        let (url, bearer) = (app.url(&format!("/api/v1/challenges/{slug}/submissions/tarball")), winner.clone());
        let chunks = futures::stream::unfold(body_rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        let body = reqwest::Body::wrap_stream(chunks);
        async move {
            let answer = reqwest::Client::new()
                .post(url)
                .bearer_auth(bearer)
                .header("content-type", "application/x-tar")
                .body(body)
                .send()
                .await
                .unwrap();
            (answer.status(), answer.json::<Value>().await.unwrap())
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (s, replaced) = replace_own(Some(winner.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{replaced}");
    let mut current = replaced["token"].as_str().unwrap().to_owned();
    body_tx.send(Ok(tail.to_vec())).await.unwrap();
    drop(body_tx);
    let stopped = upload.await.unwrap();
    says(&stopped, StatusCode::UNAUTHORIZED, "nothing was submitted: this token was replaced");
    let (_, mine) = app.call(Method::GET, "/api/v1/submissions", Some(&current), None).await;
    assert_eq!(mine, json!([]), "the stopped upload left a submission");

    // Five of her own replacements a day (this is her fourth and fifth), then 429 saying when;
    // the organizer's replacement is not refused by her allowance.
    for _ in 0..2 {
        let (s, replaced) = replace_own(Some(current.clone())).await;
        assert_eq!(s, StatusCode::CREATED, "{replaced}");
        current = replaced["token"].as_str().unwrap().to_owned();
    }
    let refused = replace_own(Some(current.clone())).await;
    says(&refused, StatusCode::TOO_MANY_REQUESTS, "5 times in the last 24 hours");
    assert_eq!(code(&refused.1), Some("rate_limited"), "{}", refused.1);
    assert_eq!(me(&app, &current).await.0, StatusCode::OK, "a refused replacement changed nothing");
    let for_ada = format!("/api/v1/participants/{}/token", ada_me["id"].as_str().unwrap());
    let (s, replaced) = app.call(Method::POST, &for_ada, Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::CREATED, "{replaced}");
    says(&me(&app, &current).await, StatusCode::UNAUTHORIZED, "replaced by the organizer on");
    let ada_now = replaced["token"].as_str().unwrap().to_owned();

    // Bo lost his token: the organizer replaces it, with the admin token and nothing less.
    let (_, bo_me) = me(&app, &bo).await;
    let for_bo = format!("/api/v1/participants/{}/token", bo_me["id"].as_str().unwrap());
    let (_, co) = mint(&app, ADMIN_TOKEN, json!({ "scopes": ["read", "organize"], "label": "co-organizer" })).await;
    let (_, admin_session) = app.call(Method::POST, "/api/v1/sessions", Some(ADMIN_TOKEN), None).await;
    for bearer in [co["token"].as_str().unwrap(), admin_session["secret"].as_str().unwrap()] {
        says(&app.call(Method::POST, &for_bo, Some(bearer), None).await, StatusCode::FORBIDDEN, "own token only");
    }
    says(&app.call(Method::POST, &for_bo, Some(&ada_now), None).await, StatusCode::FORBIDDEN, "only the organizer");
    for nobody in ["/api/v1/participants/0192f1c4-0000-7000-8000-000000000000/token", "/api/v1/participants/bo/token"] {
        says(&app.call(Method::POST, nobody, Some(ADMIN_TOKEN), None).await, StatusCode::NOT_FOUND, "no participant");
    }
    assert_eq!(me(&app, &bo).await.0, StatusCode::OK, "refused replacements changed nothing");
    let (s, replaced) = app.call(Method::POST, &for_bo, Some(ADMIN_TOKEN), None).await;
    assert_eq!(s, StatusCode::CREATED, "{replaced}");
    assert_eq!((replaced["name"].as_str(), replaced["revoked_tokens"].as_u64()), (Some("Bo"), Some(1)));
    says(&me(&app, &bo).await, StatusCode::UNAUTHORIZED, "replaced by the organizer on");
    says(&me(&app, &bo_session).await, StatusCode::UNAUTHORIZED, "sign in again");
    assert_eq!(me(&app, &bo_scoped).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, replaced["token"].as_str().unwrap()).await.0, StatusCode::OK);
    // The organizer's own credentials were not touched by either.
    assert_eq!(me(&app, co["token"].as_str().unwrap()).await.0, StatusCode::OK);
    assert_eq!(me(&app, admin_session["secret"].as_str().unwrap()).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_token_ends_everything_the_old_one_made_on_sqlite() {
    replacing_a_token_ends_everything_the_old_one_made(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_token_ends_everything_the_old_one_made_on_postgres() {
    replacing_a_token_ends_everything_the_old_one_made(Backend::Postgres).await;
}
