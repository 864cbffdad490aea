//! The sender: POSTs due deliveries from the delivery table, signs them, and records each
//! attempt's outcome, retrying with [`Backoff`] up to `webhooks.max_attempts`.
//!
//! Retries run from the table rather than by holding or nak-ing JetStream messages: a row
//! knows its own next attempt, survives restarts, is what the organizer's delivery log shows,
//! and one receiver's minutes of retries never sit in the consumer's in-flight window.
//!
//! Fairness: at most one attempt per webhook is in flight (a slow receiver holds one slot, for
//! at most `timeout_seconds`), and at most `concurrency` in all; a failing receiver's rows move
//! later with each failure, so other webhooks and challenges go first.
//!
//! Crash safety: an attempt first claims its row by moving its next attempt past the request's
//! timeout (a lease, taken only if the row is still due, so two senders never both take it).
//! A crash between the POST and recording its outcome leaves the row pending; the lease runs
//! out and it is POSTed again with the same `X-Darkroom-Delivery` id and body, by which the
//! receiver dedupes (at least once, never lost).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use darkroom_api::DeliveryState;
use darkroom_api::webhook::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use darkroom_core::backoff::Backoff;
use darkroom_core::config::WebhooksConfig;
use hmac::{Hmac, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore};

use super::target::{self, PrivateTarget};
use crate::db::entities::{webhook, webhook_delivery};

/// How much of a failing answer's body is kept in the delivery log; the rest is never read.
const BODY_SNIPPET: usize = 512;

/// `sha256=` and the hex HMAC-SHA256 keyed with `secret` of `timestamp`, `.` and `body`: the
/// `X-Darkroom-Signature` header.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait after the `failures`-th failed attempt: the backoff's `failures`-th delay.
pub fn retry_delay(config: &WebhooksConfig, failures: u32) -> Duration {
    let mut backoff = Backoff::new(
        Duration::from_millis(config.retry_initial_ms),
        Duration::from_secs(config.retry_max_seconds).max(Duration::from_millis(config.retry_initial_ms)),
    );
    let mut delay = backoff.next();
    for _ in 1..failures {
        delay = backoff.next();
    }
    delay
}

/// The client every POST goes through: no redirects, a timeout per request, and, unless
/// private targets are allowed, a resolver that hands out public addresses only.
pub fn client(config: &WebhooksConfig) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(config.timeout_seconds))
        .user_agent(concat!("Darkroom-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !config.allow_private_targets {
        builder = builder.dns_resolver(Arc::new(target::PublicOnly));
    }
    builder.build()
}

/// Delivers forever: woken by `wakeup` when deliveries are recorded or an attempt ends, and
/// at least every `retry_initial_ms` (at most a second), for the retries that come due.
pub async fn run(db: DatabaseConnection, config: WebhooksConfig, wakeup: Arc<Notify>) {
    let http = match client(&config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks are not delivered");
            return;
        }
    };
    let sender = Arc::new(Sender { db, http, config, wakeup, busy: Mutex::default() });
    let permits = Arc::new(Semaphore::new(sender.config.concurrency));
    let poll =
        Duration::from_millis(sender.config.retry_initial_ms).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        let mut wait = poll;
        match sender.start_due(&permits).await {
            Ok(()) => backoff.reset(),
            Err(e) => {
                wait = backoff.next();
                tracing::warn!(error = %e, retry_in = ?wait, "cannot read due webhook deliveries");
            }
        }
        let _ = tokio::time::timeout(wait, sender.wakeup.notified()).await;
    }
}

struct Sender {
    db: DatabaseConnection,
    http: reqwest::Client,
    config: WebhooksConfig,
    wakeup: Arc<Notify>,
    /// Webhooks with an attempt in flight.
    busy: Mutex<HashSet<String>>,
}

/// How an attempt ended, short of success.
struct Failure {
    status: Option<u16>,
    error: String,
    /// Trying again cannot help (a target the platform may not reach).
    permanent: bool,
}

impl Sender {
    /// Starts an attempt for every due delivery whose webhook is idle, while slots last.
    async fn start_due(self: &Arc<Self>, permits: &Arc<Semaphore>) -> Result<(), DbErr> {
        if permits.available_permits() == 0 {
            return Ok(());
        }
        let now = Utc::now();
        // Rows of webhooks with an attempt in flight are left out, so they cannot crowd the page.
        let busy: Vec<String> = self.busy.lock().expect("not poisoned").iter().cloned().collect();
        let due = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
            .filter(webhook_delivery::Column::WebhookId.is_not_in(busy))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .limit(u64::try_from(self.config.concurrency.saturating_mul(4)).unwrap_or(u64::MAX))
            .all(&self.db)
            .await?;
        for row in due {
            if self.busy.lock().expect("not poisoned").contains(&row.webhook_id) {
                continue;
            }
            let Ok(permit) = permits.clone().try_acquire_owned() else { break };
            if !self.claim(&row.id).await? {
                continue;
            }
            self.busy.lock().expect("not poisoned").insert(row.webhook_id.clone());
            let sender = self.clone();
            tokio::spawn(async move {
                let hook = row.webhook_id.clone();
                if let Err(e) = sender.attempt(row).await {
                    // The lease runs out and the row is tried again.
                    tracing::warn!(webhook = %hook, error = %e, "webhook attempt not recorded");
                }
                sender.busy.lock().expect("not poisoned").remove(&hook);
                drop(permit);
                sender.wakeup.notify_one();
            });
        }
        Ok(())
    }

    /// Takes the lease on a due row; false when another sender took it first.
    async fn claim(&self, id: &str) -> Result<bool, DbErr> {
        let now = Utc::now();
        let lease = now + Duration::from_secs(self.config.timeout_seconds + 60);
        let taken = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(lease))
            .filter(webhook_delivery::Column::Id.eq(id))
            .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .exec(&self.db)
            .await?;
        Ok(taken.rows_affected == 1)
    }

    /// POSTs one delivery and records how it went.
    async fn attempt(&self, row: webhook_delivery::Model) -> Result<(), DbErr> {
        let outcome = match webhook::Entity::find_by_id(row.webhook_id.clone()).one(&self.db).await? {
            Some(hook) => self.post(&hook, &row).await,
            None => Err(Failure { status: None, error: "the webhook was removed".into(), permanent: true }),
        };
        let attempts = row.attempts.saturating_add(1);
        let now = Utc::now();
        let (state, status, error, next) = match outcome {
            Ok(status) => {
                darkroom_core::metrics::webhook_attempt("delivered");
                (DeliveryState::Delivered, Some(status), None, None)
            }
            Err(f) if f.permanent || u32::try_from(attempts).unwrap_or(u32::MAX) >= self.config.max_attempts => {
                darkroom_core::metrics::webhook_attempt("failed");
                tracing::warn!(delivery = %row.id, webhook = %row.webhook_id, attempts, error = %f.error, "webhook delivery failed for good");
                (DeliveryState::Failed, f.status, Some(f.error), None)
            }
            Err(f) => {
                darkroom_core::metrics::webhook_attempt("retrying");
                let delay = retry_delay(&self.config, u32::try_from(attempts).unwrap_or(u32::MAX));
                tracing::debug!(delivery = %row.id, attempts, error = %f.error, retry_in = ?delay, "webhook attempt failed");
                (DeliveryState::Pending, f.status, Some(f.error), Some(now + delay))
            }
        };
        webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::State, Expr::value(state.as_str()))
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
            .col_expr(webhook_delivery::Column::LastStatus, Expr::value(status.map(i32::from)))
            .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.eq(&row.id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// One signed POST of the stored body; the receiver's status when it is 2xx.
    async fn post(&self, hook: &webhook::Model, row: &webhook_delivery::Model) -> Result<u16, Failure> {
        let failure = |error: String, permanent| Failure { status: None, error, permanent };
        let url =
            url::Url::parse(&hook.url).map_err(|e| failure(format!("the stored URL does not parse: {e}"), true))?;
        // An address in the URL asks no resolver: checked here, as the resolver checks names.
        if let Some(ip) = target::ip_literal(&url)
            && !self.config.allow_private_targets
            && !target::is_public(ip)
        {
            return Err(failure(
                format!(
                    "{ip} is a loopback, private or link-local address; set webhooks.allow_private_targets = true to allow it"
                ),
                true,
            ));
        }
        let timestamp = Utc::now().timestamp().to_string();
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(&hook.secret, &timestamp, row.payload.as_bytes()))
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(DELIVERY_HEADER, &row.id)
            .header(EVENT_HEADER, &row.event)
            .body(row.payload.clone())
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                let permanent = chain(&e).any(|s| s.downcast_ref::<PrivateTarget>().is_some());
                return Err(failure(describe(&e, self.config.timeout_seconds), permanent));
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        // A little of the answer, for the log; never more than BODY_SNIPPET bytes are read.
        let mut snippet = Vec::new();
        while snippet.len() < BODY_SNIPPET {
            match response.chunk().await {
                Ok(Some(bytes)) => snippet.extend_from_slice(&bytes[..bytes.len().min(BODY_SNIPPET - snippet.len())]),
                _ => break,
            }
        }
        let text = String::from_utf8_lossy(&snippet).trim().to_owned();
        let mut error = format!("HTTP {}", status.as_u16());
        if status.is_redirection() {
            error.push_str(": redirects are not followed; register the URL it points to");
        } else if !text.is_empty() {
            error.push_str(&format!(": {text}"));
        }
        Err(Failure { status: Some(status.as_u16()), error, permanent: false })
    }
}

/// An error and its sources, outermost first.
fn chain<'a>(e: &'a (dyn std::error::Error + 'static)) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// A request error in one line: the timeout said as such, else each cause once.
fn describe(e: &reqwest::Error, timeout_seconds: u64) -> String {
    if e.is_timeout() {
        return format!("no answer within {timeout_seconds} s (webhooks.timeout_seconds)");
    }
    let mut parts: Vec<String> = Vec::new();
    for cause in chain(e) {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = sign("whsec_k", "1700000000", b"{\"a\":1}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, sign("whsec_k", "1700000001", b"{\"a\":1}"));
        assert_ne!(a, sign("whsec_k", "1700000000", b"{\"a\":2}"));
        assert_ne!(a, sign("whsec_other", "1700000000", b"{\"a\":1}"));
    }

    #[test]
    fn retries_wait_longer_each_time_up_to_the_cap() {
        let config = WebhooksConfig { retry_initial_ms: 100, retry_max_seconds: 1, ..WebhooksConfig::default() };
        let ms = Duration::from_millis;
        let delays: Vec<_> = (1..=5).map(|n| retry_delay(&config, n)).collect();
        assert_eq!(delays, [ms(100), ms(200), ms(400), ms(800), ms(1000)]);
    }
}
