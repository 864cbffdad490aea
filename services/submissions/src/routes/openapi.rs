//! The API's OpenAPI 3.1 document, generated from the code: the shapes are `darkroom-api`'s
//! types (`ToSchema`, behind its `openapi` feature) and the challenge spec's, each handler
//! carries a `#[utoipa::path]` (method, path, parameters, body, every answer with its status,
//! and who may call it), and [`ApiDoc`] collects them. Served at `GET /api/v1/openapi.json` and
//! checked in as `docs/openapi.json`.
//!
//! - Paths are written as in [`super::router`]'s `.route(…)` calls; the document's one server is
//!   `/api/v1`, where they are nested.
//! - Security: one `bearer` scheme (a token, a web session's secret or a scoped token). As
//!   OpenAPI 3.1 allows for non-OAuth schemes, each requirement lists the role it needs:
//!   `["organizer"]`, `["participant"]`, or two alternatives where either role may call; an
//!   operation without `security` needs no credential, and `{}` among the alternatives means the
//!   credential is optional (the organizer sees more).
//! - Errors: every error status answers the one shape, `darkroom_api::ErrorBody`; the statuses
//!   are reusable responses here ([`Unauthorized`], [`NotFound`], …), and `500` is added to
//!   every operation by [`InternalErrors`], since any handler can fail on our side.
//!
//! # Adding a route
//!
//! Put a `#[utoipa::path(…)]` on the handler (copy a neighbour's: `operation_id`, the path
//! exactly as in `.route(…)`, `params(…)` from the path structs below, `responses(…)`,
//! `security(…)`), add the handler to `paths(…)` of [`ApiDoc`], then regenerate the checked-in
//! document:
//!
//! ```text
//! DARKROOM_BLESS_OPENAPI=1 cargo test -p darkroom-submissions --lib openapi
//! ```
//!
//! The tests below fail when the checked-in document differs from the generated one, and when
//! the routes `router()` declares and the document's differ (either way); the integration test
//! `tests/tests/openapi.rs` checks the same against the running service.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use darkroom_api::{ErrorBody, ParticipantId, SubmissionId, VerificationId};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse, ToSchema};

use super::{
    announcements, board_history, challenges, enrollment, final_board, leaderboard, logs, organizer, participants,
    receipts, rescores, sessions, submissions, teams, tokens, verifications, webhooks,
};

/// The document's description of the API as a whole.
const DESCRIPTION: &str = "Darkroom runs machine-learning competitions on hidden data: organizers \
publish challenges, participants submit container images, the platform runs and scores them and \
keeps the leaderboards. JSON in and out. Credentials go in `Authorization: Bearer …`: a token \
(the organizer's admin token, or a participant's from registration), a web session's secret \
(`drs_…`), or a scoped token (`drt_…`, which may only read (`GET`) or write what its scopes \
say). Every error is `{\"error\": {\"code\", \"message\", \"details\"?, \"retry_at\"?}}`: `code` \
is a stable word to branch on, `message` says what is wrong and how to fix it.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Darkroom API", description = DESCRIPTION),
    servers((url = "/api/v1", description = "Every path below is under /api/v1")),
    paths(
        challenges::list,
        challenges::create,
        challenges::show,
        challenges::upsert,
        challenges::spec,
        challenges::dataset,
        challenges::refresh_dataset,
        leaderboard::show,
        receipts::export,
        board_history::show,
        receipts::chain,
        receipts::keys,
        organizer::list,
        submissions::submit_image,
        submissions::submit_tarball,
        submissions::quota,
        final_board::show_selections,
        final_board::put_selections,
        final_board::close,
        rescores::list,
        rescores::request,
        final_board::reveal,
        final_board::private_board,
        enrollment::join,
        enrollment::mine,
        enrollment::list,
        enrollment::approve,
        enrollment::reject,
        enrollment::disqualify,
        enrollment::reinstate,
        enrollment::invites,
        enrollment::mint,
        teams::create,
        teams::join,
        teams::mine,
        teams::leave,
        teams::renew_code,
        teams::merge,
        teams::remove,
        teams::duplicates,
        participants::register,
        participants::me,
        participants::replace_own_token,
        participants::replace_participant_token,
        sessions::open,
        sessions::revoke,
        sessions::end_all,
        tokens::mint,
        tokens::list,
        tokens::current,
        tokens::revoke,
        submissions::list,
        submissions::show,
        submissions::cancel,
        submissions::set_note,
        organizer::rerun,
        logs::show,
        receipts::of_submission,
        verifications::start,
        verifications::show,
        announcements::list,
        announcements::post,
        announcements::edit,
        announcements::remove,
        webhooks::create,
        webhooks::list,
        webhooks::remove,
        webhooks::deliveries,
        serve,
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            Gone,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            TooManyRequests,
            InternalError,
            BadGateway,
            Unavailable,
        )
    ),
    modifiers(&BearerScheme, &InternalErrors)
)]
pub struct ApiDoc;

/// The name every operation's `security` refers to.
pub(super) const BEARER: &str = "bearer";

/// Declares the `bearer` security scheme.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(
            "The organizer's admin token, a participant's token, a web session's secret (`drs_…`, \
             POST /sessions) or a scoped token (`drt_…`, POST /tokens). Each operation's \
             requirement names the role it needs: `organizer` or `participant`.",
        ));
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme.build()));
    }
}

/// Adds `500` ([`InternalError`]) to every operation: any handler can fail on our side, and
/// saying so once keeps the annotations to what differs between handlers.
struct InternalErrors;

impl Modify for InternalErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("500".to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name("InternalError")));
            }
        }
    }
}

/// The document as served and checked in: pretty-printed, with a trailing newline. Rendered
/// once; the order of keys is the derive's (maps are sorted), so the text is stable.
pub fn document() -> &'static str {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        let mut text = ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document is plain data");
        text.push('\n');
        text
    });
    &DOCUMENT
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object, content_type = "application/json")),
)]
pub(super) async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document())
}

// The path parameters, each described once. Only their descriptions are used: axum extracts the
// values itself, so these are never built.

/// `{slug}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct SlugPath {
    /// The challenge's slug.
    slug: String,
}

/// `{slug}` and `{phase}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct PhasePath {
    /// The challenge's slug.
    slug: String,
    /// The phase's name, as in the challenge's `phases`.
    phase: String,
}

/// `{slug}` and `{participant}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct MemberPath {
    /// The challenge's slug.
    slug: String,
    /// The participant's id.
    participant: ParticipantId,
}

/// `{id}` of a submission.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct SubmissionPath {
    /// The submission's id.
    id: SubmissionId,
}

/// `{id}` of a verification re-run.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct VerificationPath {
    /// The verification's id, from `POST /submissions/{id}/verifications`.
    id: VerificationId,
}

/// `{participant}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct ParticipantPath {
    /// The participant's id (from the organizer's enrollment list).
    participant: ParticipantId,
}

/// `{id}` of a scoped token.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct TokenPath {
    /// The token's id, from `GET /tokens` (never its secret).
    id: String,
}

/// `{slug}` and `{id}` of an announcement.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct AnnouncementPath {
    /// The challenge's slug.
    slug: String,
    /// The announcement's id, from `GET /challenges/{slug}/announcements`.
    id: String,
}

/// `{slug}` and `{id}` of a webhook.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct WebhookPath {
    /// The challenge's slug.
    slug: String,
    /// The webhook's id, from `GET /challenges/{slug}/webhooks`.
    id: String,
}

/// An image archive's bytes, as `docker save` writes them (the tarball submission's body).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub(super) struct ImageArchive(Vec<u8>);

// The error answers, each the one error shape. Only their descriptions are used.

/// The request is malformed: a query string (`bad_query`) or JSON body (`bad_json`) that does
/// not parse, or a value the operation refuses; `message` says which and how to fix it.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct BadRequest(ErrorBody);

/// No `Authorization: Bearer …` header, or a credential nobody holds: an unknown token, an
/// expired or revoked session or scoped token (sign in again), or the organizer's credential on
/// a participant's operation.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Unauthorized(ErrorBody);

/// The credential may not do this: `forbidden` (a participant's on an organizer's operation, or
/// the phase is not open), `token_scope` (a scoped token without the scope this needs), or the
/// operation's own reason in `code`.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Forbidden(ErrorBody);

/// No such thing, or not one the caller may see (another participant's submission is not found
/// either).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct NotFound(ErrorBody);

/// The request conflicts with the current state; `code` says how (e.g. `challenge_exists`,
/// `not_cancellable`, `name_taken`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Conflict(ErrorBody);

/// What the operation needs existed once and was removed for good (e.g. an expired upload).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Gone(ErrorBody);

/// The body is larger than this server accepts (`max_json_bytes`, or `max_upload_bytes` for an
/// image archive).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct PayloadTooLarge(ErrorBody);

/// The body's `Content-Type` is not the one the operation reads (`application/json`, or
/// `application/x-tar` for an image archive).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct UnsupportedMediaType(ErrorBody);

/// Invalid fields (`invalid_fields`): `details` lists each, with what is wrong and how to fix it.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Unprocessable(ErrorBody);

/// Too many: `quota_exceeded` (the submission quota; `retry_at` says when the next slot opens),
/// `rate_limited` (too many requests from this address or token), `too_many_uploads` (uploads
/// already in progress).
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds until a retry is let in, where `retry_at` is set")))]
#[allow(dead_code)]
pub(super) struct TooManyRequests(ErrorBody);

/// Something failed on our side; it was logged. Retry later.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct InternalError(ErrorBody);

/// A service this request depends on failed: the participant's registry (`registry_unreachable`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct BadGateway(ErrorBody);

/// A store this request reads (scores, receipts, NATS) or a setting it needs is unavailable
/// right now; retry in a moment.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Unavailable(ErrorBody);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    /// Set to `1` to write the generated document over the checked-in one instead of comparing.
    const BLESS: &str = "DARKROOM_BLESS_OPENAPI";
    const REGENERATE: &str = "DARKROOM_BLESS_OPENAPI=1 cargo test -p darkroom-submissions --lib openapi";

    fn checked_in_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
    }

    /// The first line where two texts differ, with a few lines of each around it.
    fn first_difference(want: &str, got: &str) -> Option<String> {
        let (want, got): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
        let at = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i))?;
        let around = |lines: &[&str]| {
            let from = at.saturating_sub(3);
            (from..lines.len().min(at + 4)).map(|i| format!("{:>6} {}", i + 1, lines[i])).collect::<Vec<_>>().join("\n")
        };
        Some(format!(
            "first difference at line {}:\n--- docs/openapi.json\n{}\n+++ generated\n{}",
            at + 1,
            around(&want),
            around(&got)
        ))
    }

    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let path = checked_in_path();
        if std::env::var(BLESS).is_ok_and(|v| v == "1") {
            std::fs::write(&path, document()).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            eprintln!("wrote {}", path.display());
            return;
        }
        let checked_in = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {} ({e}); generate it with: {REGENERATE}", path.display()));
        // Compared as text with `\r\n` read as `\n`, so a checkout that converts line ends passes.
        let checked_in = checked_in.replace("\r\n", "\n");
        if let Some(difference) = first_difference(&checked_in, document()) {
            panic!(
                "docs/openapi.json is not the document the code generates; if the change is meant, \
                 regenerate it with:\n\n    {REGENERATE}\n\n{difference}"
            );
        }
        assert_eq!(checked_in, document(), "the same lines, yet not the same text (trailing newline?); {REGENERATE}");
    }

    #[test]
    fn a_difference_is_found_and_shown() {
        let shown = first_difference("a\nb\nc\n", "a\nB\nc\n").expect("they differ");
        assert!(shown.starts_with("first difference at line 2:"), "{shown}");
        assert!(shown.contains("     2 b") && shown.contains("     2 B"), "{shown}");
        assert!(first_difference("a\nb\n", "a\nb\nc\n").expect("one is longer").contains("line 3"));
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
    }

    #[test]
    fn the_document_is_openapi_3_1_and_stable() {
        let value: serde_json::Value = serde_json::from_str(document()).expect("the document is JSON");
        assert!(value["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", value["openapi"]);
        assert!(document().ends_with("}\n") && !document().ends_with("\n\n"));
        // Rendered anew, the text is the same: nothing in it depends on the run.
        let again = ApiDoc::openapi().to_pretty_json().expect("renders");
        assert_eq!(format!("{again}\n"), document());
    }

    /// `(METHOD, path)` of every operation the document names, paths as in `.route(…)`.
    fn documented() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in &ApiDoc::openapi().paths.paths {
            let methods = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
                ("HEAD", &item.head),
                ("OPTIONS", &item.options),
                ("TRACE", &item.trace),
            ];
            for (method, operation) in methods {
                if operation.is_some() {
                    out.insert((method.to_owned(), path.clone()));
                }
            }
        }
        out
    }

    /// `(METHOD, path)` of every route of the `/api/v1` router in `router()`'s source: each
    /// `.route("path", …)` call from `let api = Router::new()` to the statement's end, with the
    /// method routers it names (`get(…)`, `.post(…)`, `merge(put(…))`, `routing::delete(…)`).
    /// Read from the source because axum cannot list a router's routes.
    fn declared(source: &str) -> BTreeSet<(String, String)> {
        let start = source.find("let api = Router::new()").expect("router() builds `let api = Router::new()`");
        let body = &source[start..];
        let body = &body[..body.find(";\n").expect("the api router's statement ends")];
        let mut out = BTreeSet::new();
        for call in body.split(".route(").skip(1) {
            let path = call.split('"').nth(1).expect("a route's first argument is its path literal");
            for method in ["get", "post", "put", "delete", "patch", "head", "options", "trace"] {
                let named = call
                    .match_indices(&format!("{method}("))
                    .any(|(at, _)| !call[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                if named {
                    out.insert((method.to_uppercase(), path.to_owned()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_of_the_router_is_documented_and_nothing_else() {
        let declared = declared(include_str!("mod.rs"));
        let documented = documented();
        // A reader that found nothing would agree with an empty document.
        assert!(declared.len() > 40, "only {} routes read from router(): {declared:?}", declared.len());
        let undocumented: Vec<_> = declared.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&declared).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "router() and the OpenAPI document disagree.\n routes with no #[utoipa::path] in ApiDoc: \
             {undocumented:?}\n documented but not routed: {unrouted:?}\nannotate the handler, list it in \
             ApiDoc's paths(…), then: {REGENERATE}"
        );
    }

    #[test]
    fn the_route_reader_sees_every_method_and_only_the_api_router() {
        let source = r#"
            let api = Router::new()
                .route("/a", get(x::list).post(x::create))
                .route("/a/{id}", get(x::show).merge(put(x::put).layer(limit())))
                .route("/b", axum::routing::delete(y::remove))
                .route("/c", post(z::target_ok).layer(by_address_and_token()));
            Router::new().route("/healthz", get(health::healthz))
        "#;
        let found: Vec<_> = declared(source).into_iter().map(|(m, p)| format!("{m} {p}")).collect();
        assert_eq!(found, ["DELETE /b", "GET /a", "GET /a/{id}", "POST /a", "POST /c", "PUT /a/{id}"]);
    }
}
