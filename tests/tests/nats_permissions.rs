//! The Compose stack's NATS users (compose/nats/nats.conf), on a real `nats-server` reading that
//! very file: each service may publish all but the events another service owns, the page
//! server may only listen to the score feed, and nobody connects without a user. (The Compose
//! test runs the whole pipeline with these users.)

use std::path::Path;
use std::time::Duration;

use async_nats::ConnectOptions;
use darkroom_tests::NatsServer;
use futures::StreamExt;

const USERS: [(&str, &str, &str); 4] = [
    ("submissions", "DARKROOM_NATS_SUBMISSIONS_PASSWORD", "pw-submissions"),
    ("runner", "DARKROOM_NATS_RUNNER_PASSWORD", "pw-runner"),
    ("evaluator", "DARKROOM_NATS_EVALUATOR_PASSWORD", "pw-evaluator"),
    ("frontend", "DARKROOM_NATS_FRONTEND_PASSWORD", "pw-frontend"),
];

fn server() -> NatsServer {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose/nats/nats.conf");
    let env: Vec<(&str, &str)> = USERS.iter().map(|(_, var, pw)| (*var, *pw)).collect();
    NatsServer::start_with_config(&config, &env)
}

/// A client as `user`, and the server errors (permission violations) it is told about.
async fn client(server: &NatsServer, user: &str) -> (async_nats::Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let password = USERS.iter().find(|u| u.0 == user).map(|u| u.2).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = ConnectOptions::with_user_and_password(user.into(), password.into())
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event.to_string());
            }
        })
        .connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"));
    (client, rx)
}

/// Publishes and waits for the server's verdict: the violation it reported, if any.
async fn publish(
    client: &async_nats::Client,
    errors: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    subject: &str,
) -> Option<String> {
    client.publish(subject.to_owned(), "forged".into()).await.expect("sent");
    client.flush().await.expect("flushed");
    tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            match errors.recv().await {
                Some(e) if e.to_lowercase().contains("permissions violation") => return e,
                Some(_) => continue,
                None => std::future::pending::<()>().await,
            }
        }
    })
    .await
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_publishes_only_its_own_events_and_the_pages_only_listen() {
    let server = server();
    let (frontend, mut frontend_errors) = client(&server, "frontend").await;
    let (runner, mut runner_errors) = client(&server, "runner").await;
    let (evaluator, mut evaluator_errors) = client(&server, "evaluator").await;
    let (submissions, mut submissions_errors) = client(&server, "submissions").await;

    // The page server: no publishing at all, not even a run's result; the score feed it may hear.
    let mut feed = frontend.subscribe("darkroom.score.recorded.v1").await.unwrap();
    frontend.flush().await.unwrap();
    for subject in ["darkroom.run.finished.v1", "darkroom.score.recorded.v1", "darkroom.submission.created.v1"] {
        let refused = publish(&frontend, &mut frontend_errors, subject).await;
        assert!(refused.is_some_and(|e| e.contains(subject)), "the frontend published {subject}");
    }
    let _spy = frontend.subscribe("darkroom.run.finished.v1").await.unwrap();
    frontend.flush().await.unwrap();
    let refused = tokio::time::timeout(Duration::from_millis(500), frontend_errors.recv()).await;
    assert!(
        refused.ok().flatten().is_some_and(|e| e.contains("Subscription to \"darkroom.run.finished.v1\"")),
        "the frontend may not listen to runs"
    );

    // The owners publish their events; the others cannot forge them.
    assert_eq!(publish(&evaluator, &mut evaluator_errors, "darkroom.score.recorded.v1").await, None);
    let heard = tokio::time::timeout(Duration::from_secs(2), feed.next()).await.expect("the feed hears the score");
    assert_eq!(heard.unwrap().payload.as_ref(), b"forged");
    assert_eq!(publish(&runner, &mut runner_errors, "darkroom.run.finished.v1").await, None);
    assert_eq!(publish(&submissions, &mut submissions_errors, "darkroom.submission.created.v1").await, None);
    // Rescore items: the submissions service (a request) and the evaluator (late scores) only.
    assert_eq!(publish(&submissions, &mut submissions_errors, "darkroom.rescore.item.v1").await, None);
    assert_eq!(publish(&evaluator, &mut evaluator_errors, "darkroom.rescore.item.v1").await, None);
    assert!(publish(&runner, &mut runner_errors, "darkroom.rescore.item.v1").await.is_some(), "runner rescored");
    // The hint that a board changed without a score: the submissions service's, heard by the pages.
    let mut hints = frontend.subscribe("live.board.changed.v1").await.unwrap();
    frontend.flush().await.unwrap();
    assert_eq!(publish(&submissions, &mut submissions_errors, "live.board.changed.v1").await, None);
    let heard = tokio::time::timeout(Duration::from_secs(2), hints.next()).await.expect("the pages hear the hint");
    assert_eq!(heard.unwrap().payload.as_ref(), b"forged");
    assert!(publish(&runner, &mut runner_errors, "live.board.changed.v1").await.is_some(), "runner hinted");
    assert!(publish(&evaluator, &mut evaluator_errors, "live.board.changed.v1").await.is_some(), "evaluator hinted");
    let forgeries = [
        ("runner", ["darkroom.score.recorded.v1", "darkroom.submission.created.v1"]),
        ("evaluator", ["darkroom.run.finished.v1", "darkroom.submission.cancelled.v1"]),
        ("submissions", ["darkroom.run.finished.v1", "darkroom.score.recorded.v1"]),
    ];
    for (who, subjects) in forgeries {
        let (client, errors) = match who {
            "runner" => (&runner, &mut runner_errors),
            "evaluator" => (&evaluator, &mut evaluator_errors),
            _ => (&submissions, &mut submissions_errors),
        };
        for forged in subjects {
            assert!(publish(client, errors, forged).await.is_some(), "{who} published {forged}");
        }
    }

    // Nobody connects without a user, or with another's password.
    let anonymous = ConnectOptions::new().connect(server.url()).await;
    assert!(anonymous.is_err(), "an anonymous client connected");
    let wrong =
        ConnectOptions::with_user_and_password("runner".into(), "pw-frontend".into()).connect(server.url()).await;
    assert!(wrong.is_err(), "the runner connected with the frontend's password");
}
