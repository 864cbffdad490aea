//! Submitting images, following them, cancelling them. Following and cancelling also take the
//! organizer's token, for any submission.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use chrono::Utc;
use std::collections::HashMap;

use darkroom_api::{
    Direction, QuotaHolder, QuotaStanding, SubmissionId, SubmissionListQuery, SubmissionNoteUpdate, SubmissionState,
    SubmissionView, SubmitImage, TarballQuery, ViewedSubmission,
};
use darkroom_core::domain::image::{ImageReference, SUBMISSION_NAMESPACE, looks_like_image_id};
use darkroom_core::domain::{ChallengeSpec, ImageSource, SubmissionNote};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::challenges::load;
use super::openapi::{self as doc, SlugPath, SubmissionPath};
use super::views::{for_participant, organizer_view, submission_view};
use crate::db::entities::{participant, submission, transition};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller, Viewer};
use crate::feedback::{self, Mode};
use crate::lifecycle::{self, CancelOutcome, CancelledBy};
use crate::quota::{DAILY_WINDOW, check_quota, open_phase, standing};
use crate::registry::PinError;
use crate::state::AppState;
use crate::tarball;
use darkroom_core::registry::Login;

/// Turns a submitted name into the one image it names now: refuses what a participant may not
/// run (ids, the platform's names, the evaluation image, registries not allowed) and pins the
/// rest by digest through the registry's API.
async fn pin(state: &AppState, spec: &ChallengeSpec, name: &str) -> ApiResult<ImageSource> {
    let push_hint = |allowed: &[String]| {
        format!(
            "push your image to one of the allowed registries ({}) and submit its full name, e.g. '{}/you/model:1', or upload a 'docker save' archive",
            allowed.join(", "),
            allowed.first().map_or("registry.example.org", String::as_str)
        )
    };
    let allowed = state.registries.allowed();
    if looks_like_image_id(name) {
        return Err(ApiError::field("image", format!("'{name}' is an image id, not a name"), push_hint(allowed)));
    }
    let image = ImageReference::parse(name)
        .map_err(|problem| ApiError::field("image", problem.to_string(), push_hint(allowed)))?;
    if image.short_path().split('/').next() == Some(SUBMISSION_NAMESPACE) {
        return Err(ApiError::field(
            "image",
            format!(
                "'{name}' is in Darkroom's own namespace '{SUBMISSION_NAMESPACE}/', which holds other submissions' images"
            ),
            push_hint(allowed),
        ));
    }
    // Compared by path whatever the registry: the evaluation image is never a participant's.
    if let Ok(eval) = ImageReference::parse(&spec.evaluation.image)
        && eval.short_path() == image.short_path()
    {
        return Err(ApiError::field(
            "image",
            format!("'{name}' names this challenge's evaluation image, which participants may not run"),
            push_hint(allowed),
        ));
    }
    if !state.registries.is_allowed(&image) {
        let written = if name.starts_with(&image.registry) {
            String::new()
        } else {
            " (a name without a host means Docker Hub)".into()
        };
        return Err(ApiError::field(
            "image",
            format!("registry '{}' of '{name}' is not one this service pulls from{written}", image.registry),
            push_hint(allowed),
        ));
    }
    let login = match &spec.registry {
        Some(creds) => {
            let password = creds.resolve_password().map_err(|e| {
                tracing::error!(challenge = %spec.slug, error = %e, "registry login unusable");
                ApiError::Unavailable(
                    "this challenge's registry login is misconfigured; the organizer has been told, please retry later"
                        .into(),
                )
            })?;
            Some(Login { username: creds.username.clone(), password })
        }
        None => None,
    };
    let digest = match state.registries.pin(&image, login.as_ref()).await {
        Ok(d) => d,
        Err(e @ PinError::NotFound { .. }) => return Err(ApiError::field("image", e.to_string(), push_hint(allowed))),
        Err(e @ PinError::Denied { .. }) => return Err(ApiError::denied("registry_denied", e.to_string())),
        Err(e @ PinError::Unreachable { .. }) => {
            tracing::warn!(registry = %image.registry, error = %e, "registry unreachable while pinning");
            return Err(ApiError::BadGateway { code: "registry_unreachable", message: e.to_string() });
        }
    };
    if let Some(wanted) = &image.digest
        && *wanted != digest
    {
        return Err(ApiError::field(
            "image",
            format!("registry {} serves {digest} for '{name}', not the digest you named", image.registry),
            "submit the digest 'docker push' printed, or the tag alone",
        ));
    }
    Ok(ImageSource::Reference { name: image.pinned(&digest), digest: Some(digest), requested: Some(name.to_owned()) })
}

/// Where `who` stands now against the quotas of the phase open now: refused as a submit would
/// be when no phase is open (first: joining would not help) or they have not joined.
async fn quota_standing(state: &AppState, who: &participant::Model, spec: &ChallengeSpec) -> ApiResult<QuotaStanding> {
    let now = Utc::now();
    let phase = open_phase(spec, now)?;
    let enrollment = crate::enrollment::admit(&state.db, spec, &who.id).await?;
    // A team's members share its quota.
    let members = crate::teams::members_of(&state.db, &enrollment).await?;
    // Only what a quota counts is read, so a participant's history never makes a submit slower:
    // nothing without quotas, the last 24 hours for a daily one alone, and with a total every
    // counted row, which the total bounds (a team's merged members or a lowered total can
    // exceed it, and are refused).
    let counted: Vec<_> = match (spec.quotas.total, spec.quotas.per_day) {
        (None, None) => Vec::new(),
        (total, _) => {
            let mut find = submission::Entity::find()
                .select_only()
                .column(submission::Column::CreatedAt)
                .filter(submission::Column::ParticipantId.is_in(members.iter().map(String::as_str)))
                .filter(submission::Column::Challenge.eq(&spec.slug))
                .filter(submission::Column::Phase.eq(&phase.name))
                .filter(submission::Column::CountsAgainstQuota.eq(true));
            if total.is_none() {
                find = find.filter(submission::Column::CreatedAt.gt(now - DAILY_WINDOW));
            }
            find.into_tuple::<chrono::DateTime<Utc>>().all(&state.db).await?
        }
    };
    let holder = if members.len() > 1 { QuotaHolder::Team } else { QuotaHolder::Participant };
    Ok(standing(&spec.slug, &spec.quotas, phase, counted, holder, now))
}

/// Checks that the challenge accepts a submission from `who` now: phase open, joined, quota
/// left, the phase's final board not closed. Returns the phase.
async fn check_admission(state: &AppState, who: &participant::Model, spec: &ChallengeSpec) -> ApiResult<String> {
    let standing = quota_standing(state, who, spec).await?;
    check_quota(&standing)?;
    super::final_board::check_not_closed(state, &spec.slug, &standing.phase).await?;
    Ok(standing.phase)
}

/// `GET /challenges/{slug}/quota`: where the caller (and their team) stands against the quotas
/// of the phase open now, counted exactly as a submit would count it; refused, as a submit
/// is, when no phase is open, the caller has not joined, or the organizer closed the phase.
#[utoipa::path(
    get,
    path = "/challenges/{slug}/quota",
    operation_id = "my_quota",
    summary = "The caller's standing against the open phase's quotas",
    params(SlugPath),
    responses(
        (status = 200, description = "Used and left of each quota, and when the next daily slot opens", body = QuotaStanding),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn quota(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<QuotaStanding>> {
    let spec = load(&state, &slug).await?;
    let standing = quota_standing(&state, &who, &spec).await?;
    // A phase the organizer closed takes nothing whatever its quotas say: refused as a submit is.
    super::final_board::check_not_closed(&state, &spec.slug, &standing.phase).await?;
    Ok(Json(standing))
}

/// What a participant sent: a pinned name, or an upload not yet moved into the store.
enum Incoming {
    Pinned(ImageSource),
    Upload(tarball::Received),
}

/// Re-checks admission and stores the submission under the submit lock, so concurrent submits
/// cannot both take the last slot, and the upload sweep (which takes the same lock) never sees
/// an upload stored but not yet referenced. A refused upload's temporary file is dropped.
async fn accept(
    state: &AppState,
    who: &participant::Model,
    spec: &ChallengeSpec,
    incoming: Incoming,
    note: Option<SubmissionNote>,
) -> ApiResult<(StatusCode, Json<SubmissionView>)> {
    let row = {
        let _guard = state.submit_lock.turn().await?;
        // Let in with a token that may have been replaced since (an upload takes minutes).
        crate::token_replacement::check_current(&state.db, who).await?;
        let phase = check_admission(state, who, spec).await?;
        let image = match incoming {
            Incoming::Pinned(image) => image,
            Incoming::Upload(received) => {
                let stored = received.store().await?;
                tracing::info!(sha256 = %stored.sha256, bytes = stored.size_bytes, tags = ?stored.repo_tags, "tarball stored");
                ImageSource::Tarball {
                    path: stored.path.display().to_string(),
                    sha256: stored.sha256,
                    size_bytes: stored.size_bytes,
                }
            }
        };
        lifecycle::accept(&state.db, spec, &phase, who.participant_id()?, image, note).await?
    };
    state.outbox_wakeup.notify_one();
    super::record_submission(&row.id);
    tracing::info!(submission = %row.id, challenge = %row.challenge, participant = %who.id, "submission accepted");
    Ok((StatusCode::ACCEPTED, Json(submission_view(row, None)?)))
}

#[utoipa::path(
    post,
    path = "/challenges/{slug}/submissions",
    operation_id = "submit_image",
    summary = "Submit an image by name",
    params(SlugPath),
    request_body = SubmitImage,
    responses(
        (status = 202, description = "Accepted and queued: the name pinned by digest", body = SubmissionView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
        (status = 502, response = doc::BadGateway),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn submit_image(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<SubmitImage>,
) -> ApiResult<(StatusCode, Json<SubmissionView>)> {
    let note = note(body.note.as_deref())?;
    let spec = load(&state, &slug).await?;
    // Refuse a closed phase or a spent quota before asking a registry anything.
    check_admission(&state, &who, &spec).await?;
    let image = pin(&state, &spec, body.image.trim()).await?;
    if let ImageSource::Reference { name, .. } = &image {
        tracing::info!(challenge = %spec.slug, requested = %body.image.trim(), pinned = %name, "image name pinned");
    }
    accept(&state, &who, &spec, Incoming::Pinned(image), note).await
}

/// A note as the participant sent it, checked ([`SubmissionNote`]); an empty one is none.
fn note(sent: Option<&str>) -> ApiResult<Option<SubmissionNote>> {
    Ok(sent.map(|n| SubmissionNote::parse("note", n)).transpose().map_err(|e| ApiError::Invalid(vec![e]))?.flatten())
}

/// The body is the raw `docker save` archive (`Content-Type: application/x-tar`).
#[utoipa::path(
    post,
    path = "/challenges/{slug}/submissions/tarball",
    operation_id = "submit_tarball",
    summary = "Submit an image as a `docker save` archive",
    params(SlugPath, TarballQuery),
    request_body(content = inline(doc::ImageArchive), description = "The output of `docker save`", content_type = "application/x-tar"),
    responses(
        (status = 202, description = "Accepted and queued", body = SubmissionView),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, response = doc::Unprocessable),
        (status = 429, response = doc::TooManyRequests),
        (status = 503, response = doc::Unavailable),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn submit_tarball(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<TarballQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<SubmissionView>)> {
    // Refused before the upload, like everything that does not need the archive.
    let note = note(q.note.as_deref())?;
    let spec = load(&state, &slug).await?;
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !matches!(content_type, "application/x-tar" | "application/octet-stream") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "'{content_type}' is not an image archive: send the output of 'docker save' with 'Content-Type: application/x-tar'"
        )));
    }
    // Refuse early, before the participant uploads gigabytes for nothing.
    check_admission(&state, &who, &spec).await?;
    let _slot = state.uploads.take(&who.id)?;
    let body: Body = request.into_body();
    let uploads = state.config.data_dir.join("uploads");
    let received = tarball::receive(body, &uploads, state.config.max_upload_bytes).await?;
    accept(&state, &who, &spec, Incoming::Upload(received), note).await
}

/// Replaces the note of one of the caller's submissions, in any state (a note is about the
/// experiment, which outlives its run). Only its participant writes it; the organizer reads it.
#[utoipa::path(
    put,
    path = "/submissions/{id}/note",
    operation_id = "set_submission_note",
    summary = "Write or clear the note of one of your submissions",
    params(SubmissionPath),
    request_body = SubmissionNoteUpdate,
    responses(
        (status = 200, description = "The submission, as `GET /submissions/{id}` shows it to its owner", body = ViewedSubmission),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 422, response = doc::Unprocessable),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn set_note(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubmissionNoteUpdate>,
) -> ApiResult<Json<ViewedSubmission>> {
    let note = note(body.note.as_deref())?;
    let owner = Viewer::Participant(who);
    let row = visible(&state, &owner, &id).await?;
    submission::Entity::update_many()
        .col_expr(submission::Column::Note, sea_orm::sea_query::Expr::value(note.map(SubmissionNote::into_string)))
        .filter(submission::Column::Id.eq(&row.id))
        .exec(&state.db)
        .await?;
    show(State(state), owner, Path(id)).await
}

#[utoipa::path(
    get,
    path = "/submissions",
    operation_id = "my_submissions",
    summary = "The caller's own submissions",
    params(SubmissionListQuery),
    responses(
        (status = 200, description = "Newest first, each COMPLETE one with its score in the phase's feedback mode", body = Vec<SubmissionView>),
        (status = 400, response = doc::BadRequest),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
    ),
    security(("bearer" = ["participant"])),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<SubmissionListQuery>,
) -> ApiResult<Json<Vec<SubmissionView>>> {
    let (limit, wanted) = list_filter(q.limit, 100, q.state.as_deref())?;
    let mut find = submission::Entity::find().filter(submission::Column::ParticipantId.eq(&who.id));
    if let Some(slug) = &q.challenge {
        find = find.filter(submission::Column::Challenge.eq(slug));
    }
    if let Some(s) = wanted {
        find = find.filter(submission::Column::State.eq(s.as_str()));
    }
    let rows = find.order_by_desc(submission::Column::CreatedAt).limit(limit).all(&state.db).await?;
    // Whether each challenge shows logs decides how precise its times may be.
    let mut logs_visible = std::collections::HashMap::new();
    let mut views = Vec::with_capacity(rows.len());
    for r in rows {
        if !logs_visible.contains_key(&r.challenge) {
            let visible = load(&state, &r.challenge).await.map(|s| s.logs_visible).unwrap_or(false);
            logs_visible.insert(r.challenge.clone(), visible);
        }
        let visible = logs_visible.get(&r.challenge).copied().unwrap_or(false);
        views.push(for_participant(submission_view(r, None)?, visible));
    }
    attach_scores(&state, &mut views, &who.id, false).await;
    Ok(Json(views))
}

/// A list's `limit` (1 to 1000, `default` when absent) and `state` (a [`SubmissionState`] in
/// any case), or a 400 saying what is wrong: one rule for the participant's list and the
/// organizer's.
pub(super) fn list_filter(
    limit: Option<u64>,
    default: u64,
    state: Option<&str>,
) -> ApiResult<(u64, Option<SubmissionState>)> {
    let limit = limit.unwrap_or(default);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("bad_query", format!("limit {limit} is not between 1 and 1000")));
    }
    let state = state.map(str::parse::<SubmissionState>).transpose();
    Ok((limit, state.map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?))
}

/// A submission the viewer may see: the organizer any, a participant their own. Anyone else's
/// is reported as not found, so ids leak nothing.
pub(super) async fn visible(state: &AppState, viewer: &Viewer, id: &str) -> ApiResult<submission::Model> {
    let not_found = || match viewer {
        Viewer::Participant(_) => ApiError::NotFound(format!(
            "you have no submission '{id}'; list yours with darkroom status (GET /api/v1/submissions)"
        )),
        Viewer::Organizer => ApiError::NotFound(format!(
            "no submission '{id}'; list a challenge's with darkroom submissions SLUG (GET /api/v1/challenges/{{slug}}/submissions)"
        )),
    };
    // Text that is no submission id names no submission: the same answer as someone else's.
    let Ok(submission_id) = id.parse::<SubmissionId>() else {
        return Err(not_found());
    };
    super::record_submission(submission_id);
    submission::Entity::find_by_id(submission_id.to_string())
        .one(&state.db)
        .await?
        .filter(|s| match viewer {
            Viewer::Organizer => true,
            Viewer::Participant(who) => s.participant_id == who.id,
        })
        .ok_or_else(not_found)
}

/// One submission with its history; the organizer's answer also names the participant and
/// carries the failure detail.
#[utoipa::path(
    get,
    path = "/submissions/{id}",
    operation_id = "show_submission",
    summary = "One submission with its state history",
    params(SubmissionPath),
    responses(
        (status = 200, description = "The owner's view, or the organizer's (with `participant` and `failure_detail`)", body = ViewedSubmission),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<ViewedSubmission>> {
    let row = visible(&state, &viewer, &id).await?;
    let history = transition::Entity::find()
        .filter(transition::Column::SubmissionId.eq(&row.id))
        .order_by_asc(transition::Column::Id)
        .all(&state.db)
        .await?;
    let owner_id = row.participant_id.clone();
    Ok(Json(match viewer {
        Viewer::Participant(_) => {
            let logs_visible = load(&state, &row.challenge).await.map(|s| s.logs_visible).unwrap_or(false);
            let mut views = [for_participant(submission_view(row, Some(history))?, logs_visible)];
            attach_scores(&state, &mut views, &owner_id, false).await;
            let [view] = views;
            ViewedSubmission::Participant(view)
        }
        Viewer::Organizer => {
            let owner = participant::Entity::find_by_id(row.participant_id.clone()).one(&state.db).await?;
            let mut view = organizer_view(row, Some(history), owner.as_ref())?;
            attach_scores(&state, std::slice::from_mut(&mut view.submission), &owner_id, true).await;
            ViewedSubmission::Organizer(view)
        }
    }))
}

/// Sets each COMPLETE view's `score`: the participant's feedback in the phase's mode (each
/// challenge and phase read once), or for the organizer (`raw_public`) the public metrics as
/// written. Never a private value: the reads fetch the public split only. Scores that cannot be
/// read right now leave `score` absent rather than failing the view.
async fn attach_scores(state: &AppState, views: &mut [SubmissionView], participant_id: &str, raw_public: bool) {
    let mut phases: Vec<(String, String)> = views
        .iter()
        .filter(|v| v.state == SubmissionState::Complete)
        .map(|v| (v.challenge.clone(), v.phase.clone()))
        .collect();
    phases.sort();
    phases.dedup();
    let mut shown = HashMap::new();
    for (slug, phase_name) in phases {
        let Ok(spec) = load(state, &slug).await else { continue };
        let Some(phase) = spec.phase(&phase_name) else { continue };
        let mode = if raw_public { Mode::Raw } else { Mode::of(phase) };
        let direction = spec.metric(&spec.rank_by).map(|m| m.direction).unwrap_or(Direction::HigherIsBetter);
        // A team climbs one Ladder: its members' scores are read and replayed together.
        let members = match crate::teams::entrant_members(&state.db, &slug, participant_id).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(challenge = %slug, error = %e, "team unreadable; submissions shown without scores");
                continue;
            }
        };
        let entrant = |p: &str| if members.iter().any(|m| m == p) { String::new() } else { p.to_owned() };
        // The phase's current evaluator generation (see crate::rescore).
        let store = match crate::rescore::current(&state.scores, &slug, &phase_name).await {
            Ok(store) => store,
            Err(e) => {
                tracing::warn!(challenge = %slug, error = %e, "scores unreadable; submissions shown without");
                continue;
            }
        };
        let read = feedback::read(
            store.as_ref(),
            mode,
            &slug,
            &phase_name,
            &spec.rank_by,
            direction,
            Some(&members),
            &entrant,
        );
        match read.await {
            Ok((_, scores)) => shown.extend(scores),
            Err(e) => tracing::warn!(challenge = %slug, error = %e, "scores unreadable; submissions shown without"),
        }
    }
    for view in views.iter_mut().filter(|v| v.state == SubmissionState::Complete) {
        view.score = shown.remove(&view.id.to_string());
    }
}

/// Writes the cancellation where runners and evaluators look before starting work, before the
/// answer goes out: the `submission.cancelled` event (through the outbox) is the durable record,
/// but a runner reads it only when its consumer gets to it. Best effort: with NATS down, the
/// event still arrives later.
/// Cancels every submission of `members` to `slug` still waiting to run (QUEUED or PENDING),
/// as the organizer; returns their ids. A disqualification's: those runs would only score for
/// a board that does not show them.
pub(super) async fn cancel_waiting(state: &AppState, slug: &str, members: &[String]) -> ApiResult<Vec<SubmissionId>> {
    let waiting = submission::Entity::find()
        .filter(submission::Column::Challenge.eq(slug))
        .filter(submission::Column::ParticipantId.is_in(members.iter().map(String::as_str)))
        .filter(submission::Column::State.is_in([SubmissionState::Queued.as_str(), SubmissionState::Pending.as_str()]))
        .order_by_asc(submission::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let mut cancelled = Vec::new();
    for row in waiting {
        let id = row.submission_id()?;
        // One a runner started meanwhile is not cancellable any more: it runs and is scored.
        if let Some(CancelOutcome::Cancelled(_)) = lifecycle::cancel(&state.db, id, CancelledBy::Organizer).await? {
            mark_cancelled_for_runners(state, id).await;
            cancelled.push(id);
        }
    }
    if !cancelled.is_empty() {
        state.outbox_wakeup.notify_one();
        tracing::info!(challenge = %slug, count = cancelled.len(), "waiting submissions of a disqualified entrant cancelled");
    }
    Ok(cancelled)
}

async fn mark_cancelled_for_runners(state: &AppState, id: SubmissionId) {
    let js = async_nats::jetstream::new(state.nats.clone());
    let put = async {
        let runs = darkroom_core::bus::runs_bucket(&js).await?;
        darkroom_core::bus::mark_cancelled(&runs, id).await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), put).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(submission = %id, error = %e, "cancellation not marked for runners yet"),
        Err(_) => tracing::warn!(submission = %id, "cancellation not marked for runners yet (NATS slow)"),
    }
}

#[utoipa::path(
    post,
    path = "/submissions/{id}/cancel",
    operation_id = "cancel_submission",
    summary = "Cancel a submission while QUEUED or PENDING",
    params(SubmissionPath),
    responses(
        (status = 200, description = "Cancelled", body = SubmissionView),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    ),
    security(("bearer" = ["participant"]), ("bearer" = ["organizer"])),
)]
pub async fn cancel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<SubmissionView>> {
    let row = visible(&state, &viewer, &id).await?;
    let by = match viewer {
        Viewer::Organizer => CancelledBy::Organizer,
        Viewer::Participant(_) => CancelledBy::Participant,
    };
    let submission_id = row.submission_id()?;
    match lifecycle::cancel(&state.db, submission_id, by).await? {
        Some(CancelOutcome::Cancelled(row)) => {
            state.outbox_wakeup.notify_one();
            mark_cancelled_for_runners(&state, submission_id).await;
            tracing::info!(submission = %row.id, ?by, "submission cancelled");
            let view = submission_view(*row, None)?;
            Ok(Json(match viewer {
                Viewer::Participant(_) => {
                    let logs_visible = load(&state, &view.challenge).await.map(|s| s.logs_visible).unwrap_or(false);
                    for_participant(view, logs_visible)
                }
                Viewer::Organizer => view,
            }))
        }
        Some(CancelOutcome::NotCancellable(s)) => Err(ApiError::conflict(
            "not_cancellable",
            format!("submission '{id}' is {s}; only QUEUED or PENDING submissions can be cancelled"),
        )),
        None => Err(ApiError::NotFound(format!("no submission '{id}'"))),
    }
}
