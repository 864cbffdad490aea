//! The OpenAPI document (issue 18) against the running service: `GET /api/v1/openapi.json`
//! serves the checked-in `docs/openapi.json`, and the document and the router agree. Each
//! documented operation reaches a handler (not the router's "no route" or "method not allowed"
//! answers), and every other method on a documented path is refused as not allowed, so a method
//! routed but undocumented is caught here too. (A new undocumented *path* is caught by the unit
//! test that reads `router()`, `routes::openapi::tests`.)

use darkroom_tests::{Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// Whether an answer is the router's own for a request no route takes: the fallback's 404 or
/// the 400 `method_not_allowed` (see `routes::not_found` and `routes::method_not_allowed`).
fn routed(status: StatusCode, body: &Value) -> Result<(), String> {
    let message = body["error"]["message"].as_str().unwrap_or_default();
    if status == StatusCode::NOT_FOUND && message.starts_with("no route ") {
        return Err("no route".into());
    }
    if body["error"]["code"] == "method_not_allowed" {
        return Err("method not allowed".into());
    }
    Ok(())
}

/// A documented path with each `{parameter}` filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).expect("a closed parameter");
        out.push_str(&rest[..open]);
        // A UUID fits both the slug-like and the id parameters.
        out.push_str("0190a7c2-5b1e-7c3d-8e4f-0123456789ab");
        rest = &rest[close + 1..];
    }
    out + rest
}

#[tokio::test]
async fn the_served_document_is_the_checked_in_one_and_matches_the_router() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.http.get(app.url("/api/v1/openapi.json")).send().await.expect("request sent");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let served: Value = response.json().await.expect("the document is JSON");
    assert!(served["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", served["openapi"]);
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
        .expect("docs/openapi.json is checked in");
    let checked_in: Value = serde_json::from_str(&file).expect("docs/openapi.json is JSON");
    assert!(
        served == checked_in,
        "the service serves another document than docs/openapi.json; regenerate it with \
         DARKROOM_BLESS_OPENAPI=1 cargo test -p darkroom-submissions --lib openapi"
    );

    let server = served["servers"][0]["url"].as_str().expect("one server");
    assert_eq!(server, "/api/v1");
    let paths = served["paths"].as_object().expect("paths");
    assert!(paths.len() > 30, "only {} paths", paths.len());
    let mut problems = Vec::new();
    let mut probed = 0;
    for (path, item) in paths {
        let url = format!("{server}{}", concrete(path));
        for method in METHODS {
            let documented = item.get(method.to_lowercase()).is_some();
            // No credential and no body: every documented operation answers before doing
            // anything (401, 415, 404 …), so probing changes nothing.
            let (status, body) = app.call(Method::from_bytes(method.as_bytes()).unwrap(), &url, None, None).await;
            match (documented, routed(status, &body)) {
                (true, Err(why)) => problems.push(format!("{method} {path} is documented, but the router says {why}")),
                (false, Ok(())) => problems.push(format!("{method} {path} is routed ({status}) but not documented")),
                _ => {}
            }
            probed += 1;
        }
    }
    assert!(problems.is_empty(), "the document and the router disagree:\n{}", problems.join("\n"));
    assert!(probed > 150, "only {probed} requests probed");

    // The probe can tell: a path nobody routes and a method a route lacks are the router's.
    let (status, body) = app.call(Method::GET, "/api/v1/no-such-thing", None, None).await;
    assert_eq!(routed(status, &body), Err("no route".into()), "{status} {body}");
    let (status, body) = app.call(Method::PATCH, "/api/v1/challenges", None, None).await;
    assert_eq!(routed(status, &body), Err("method not allowed".into()), "{status} {body}");
}
