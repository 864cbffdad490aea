//! The server functions' bodies (see [`crate::api`]): API calls made with the visitor's session
//! (its secret is the bearer credential), shaped into page data, with the HTTP status the page
//! should carry. Every action checks the form's CSRF token first ([`session::check_csrf`]).

use axum::http::StatusCode;
use chrono::Utc;
use darkroom_api::{
    Announcement, BoardHistory, ChallengeSummary, CreateTeam, DatasetListing, DisqualifyRequest, DuplicateImage,
    Enrollment, EnrollmentDecision, JoinRequest, Leaderboard, Me, OrganizerEnrollment, OrganizerSubmissionView,
    PostAnnouncement, PrivateBoard, PublicChallenge, QuotaStanding, ReplacedToken, RunLogView, Selections,
    SelectionsRequest, SessionCreated, SessionsEnded, SubmissionId, SubmissionNoteUpdate, SubmissionView, Team,
    TeamCode, ViewedSubmission, WebhookDelivery, WebhookView,
};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use super::client::{ApiClient, ApiError};
use super::session;
use crate::api::{
    AnnouncementHtml, ChallengePage, Fetched, LeaderboardPage, MyPage, OrganizerPage, ParticipantStanding, Ranking,
    SubmissionPage, Visitor, WebhookLog,
};

fn api() -> Result<ApiClient, ServerFnError> {
    use_context::<ApiClient>().ok_or_else(|| ServerFnError::new("the page server was started without its API client"))
}

fn set_status(status: StatusCode) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.set_status(status);
    }
}

/// Path segments come from URLs; percent-encode them so none can reach another endpoint.
pub(crate) fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why a page has no data, whatever its type.
enum Absent {
    NotFound(String),
    SignedOut(String),
    Refused(String),
}

impl<T> From<Absent> for Fetched<T> {
    fn from(absent: Absent) -> Self {
        match absent {
            Absent::NotFound(m) => Fetched::NotFound(m),
            Absent::SignedOut(m) => Fetched::SignedOut(m),
            Absent::Refused(m) => Fetched::Refused(m),
        }
    }
}

/// Sorts an API answer into data, an absence the page explains, or a platform failure; and
/// sets the status code the page is served with.
fn fetched<T>(result: Result<T, ApiError>) -> Result<Result<T, Absent>, ServerFnError> {
    let (status, absent) = match result {
        Ok(value) => return Ok(Ok(value)),
        Err(ApiError::NotFound(m)) => (StatusCode::NOT_FOUND, Absent::NotFound(m)),
        Err(ApiError::Unauthorized(m)) => (StatusCode::UNAUTHORIZED, Absent::SignedOut(m)),
        Err(ApiError::Forbidden(m) | ApiError::Refused(m)) => (StatusCode::FORBIDDEN, Absent::Refused(m)),
        Err(ApiError::Unavailable(m)) => {
            set_status(StatusCode::SERVICE_UNAVAILABLE);
            return Err(ServerFnError::new(m));
        }
    };
    set_status(status);
    Ok(Err(absent))
}

fn signed_out<T>() -> Result<Fetched<T>, ServerFnError> {
    set_status(StatusCode::UNAUTHORIZED);
    Ok(Fetched::SignedOut("sign in with the token you were given when you registered".into()))
}

pub async fn list_challenges() -> Result<Vec<ChallengeSummary>, ServerFnError> {
    api()?.get("/challenges", None).await.map_err(|e| {
        set_status(StatusCode::SERVICE_UNAVAILABLE);
        ServerFnError::new(e.to_string())
    })
}

pub async fn load_challenge(slug: String) -> Result<Fetched<ChallengePage>, ServerFnError> {
    let api = api()?;
    let path = format!("/challenges/{}", segment(&slug));
    let challenge = match fetched(api.get::<PublicChallenge>(&path, None).await)? {
        Ok(c) => c,
        Err(absent) => return Ok(absent.into()),
    };
    // The page is still worth showing when the dataset can't be listed (a worker's disk away).
    let (dataset_path, announcements_path) = (format!("{path}/dataset"), format!("{path}/announcements"));
    let (dataset, announcements) = tokio::join!(
        api.get::<DatasetListing>(&dataset_path, None),
        api.get::<Vec<Announcement>>(&announcements_path, None),
    );
    let dataset = dataset.ok();
    let announcements = announcements
        .unwrap_or_default()
        .into_iter()
        .map(|a| AnnouncementHtml {
            body_html: super::markdown::announcement_html(&a.body),
            id: a.id,
            title: a.title,
            posted_at: a.posted_at,
            edited_at: a.edited_at,
        })
        .collect();
    // A participant's own enrollment and team; the organizer (401 here) and visitors have none.
    let participant = match session::secret() {
        Some(token) => match api.get::<Enrollment>(&format!("{path}/enrollment"), Some(&token)).await {
            Ok(e) => {
                let active = e.may_submit();
                let teams = challenge.max_team_size > 1 && active;
                // 404: in no team yet, which the page offers to change. 403 for the quota: no
                // phase open now, which the phases below say.
                let (team, quota) = tokio::join!(
                    async {
                        match teams {
                            true => api.get::<Team>(&format!("{path}/team"), Some(&token)).await.ok(),
                            false => None,
                        }
                    },
                    async {
                        match active {
                            true => api.get::<QuotaStanding>(&format!("{path}/quota"), Some(&token)).await.ok(),
                            false => None,
                        }
                    },
                );
                Some(ParticipantStanding { enrollment: Some(e), team, quota })
            }
            Err(ApiError::NotFound(_)) => Some(ParticipantStanding { enrollment: None, team: None, quota: None }),
            Err(_) => None,
        },
        None => None,
    };
    let mut challenge = challenge;
    // The HTML replaces the Markdown in the page's data: the browser never needs the raw text,
    // and it is not sent twice.
    let description_html = super::markdown::to_html(&std::mem::take(&mut challenge.description));
    let dataset_html = super::markdown::to_html(&std::mem::take(&mut challenge.dataset_description));
    let mut dataset = dataset;
    if let Some(listing) = dataset.as_mut() {
        listing.description.clear();
    }
    Ok(Fetched::Found(ChallengePage {
        challenge,
        description_html,
        dataset_html,
        dataset,
        announcements,
        participant,
        now: Utc::now(),
    }))
}

pub async fn load_leaderboard(slug: String, phase: Option<String>) -> Result<Fetched<LeaderboardPage>, ServerFnError> {
    let api = api()?;
    let path = format!("/challenges/{}", segment(&slug));
    let challenge = match fetched(api.get::<PublicChallenge>(&path, None).await)? {
        Ok(c) => c,
        Err(absent) => return Ok(absent.into()),
    };
    let query = phase.filter(|p| !p.is_empty()).map(|p| format!("?phase={}", segment(&p))).unwrap_or_default();
    let board = match fetched(api.get::<Leaderboard>(&format!("{path}/leaderboard{query}"), None).await)? {
        Ok(b) => b,
        Err(absent) => return Ok(absent.into()),
    };
    // Asked without the visitor's token: the page shows what the public may see, even to the
    // organizer (whose sealed board stays in the API and the CLI).
    let private_path = format!("{path}/phases/{}/private-board", segment(&board.phase));
    let private = api.get::<PrivateBoard>(&private_path, None).await.ok();
    // The chart beside the board; the board stands alone when its history cannot be read.
    let history_path = format!("{path}/leaderboard/history?phase={}", segment(&board.phase));
    let history = api.get::<BoardHistory>(&history_path, None).await.ok();
    let yours = match session::secret() {
        Some(token) => your_line(&api, &path, &token, &board, challenge.max_team_size > 1).await,
        None => None,
    };
    Ok(Fetched::Found(LeaderboardPage {
        title: challenge.title,
        metrics: challenge.metrics,
        phases: challenge.phases.into_iter().map(|p| p.name).collect(),
        board,
        private,
        history,
        latest_announcement: challenge.latest_announcement,
        yours,
    }))
}

/// The signed-in participant's line on `board` (see [`LeaderboardPage::yours`]): theirs by
/// name, or their team's where the challenge has `teams`. The board itself was read without
/// their token, so what it shows is the public's; this only says which row to mark.
async fn your_line(
    api: &ApiClient,
    path: &str,
    token: &str,
    board: &Leaderboard,
    teams: bool,
) -> Option<Option<SubmissionId>> {
    let Ok(Me::Participant(me)) = who(api, token).await else { return None };
    // Asked only where teams exist (the page is re-read at every new score); 404 outside a
    // team: their own line is the one to find.
    let team = match teams {
        true => api.get::<Team>(&format!("{path}/team"), Some(token)).await.ok().map(|t| t.name),
        false => None,
    };
    let line = board.entries.iter().find(|e| match &team {
        Some(team) => e.team.as_ref() == Some(team),
        None => e.participant == me.name,
    });
    Some(line.map(|e| e.submission_id))
}

async fn who(api: &ApiClient, token: &str) -> Result<Me, ApiError> {
    api.get("/me", Some(token)).await
}

pub async fn current_visitor() -> Result<Visitor, ServerFnError> {
    let csrf = session::csrf_token();
    let Some(secret) = session::secret() else { return Ok(Visitor { me: None, csrf }) };
    match who(&api()?, &secret).await {
        Ok(me) => Ok(Visitor { me: Some(me), csrf }),
        Err(ApiError::Unavailable(m)) => Err(ServerFnError::new(m)),
        Err(_) => Ok(Visitor { me: None, csrf }),
    }
}

pub async fn sign_in(token: String, csrf: String) -> Result<(), ServerFnError> {
    session::check_csrf(&csrf)?;
    let token = token.trim();
    if !session::plausible(token) {
        return Err(ServerFnError::new(
            "that is not a Darkroom token: paste the token 'darkroom register' printed (letters and digits)",
        ));
    }
    let api = api()?;
    let created = match api.post::<SessionCreated>("/sessions", Some(token)).await {
        Ok(created) => created,
        // The API's own words for a token it refuses: unknown, or replaced (when, and by whom).
        Err(ApiError::Unavailable(m) | ApiError::Unauthorized(m)) => return Err(ServerFnError::new(m)),
        Err(_) => {
            return Err(ServerFnError::new(
                "this token does not sign in: use the token 'darkroom register' printed (not a scoped token or a session)",
            ));
        }
    };
    // Signing in over an earlier session ends it rather than leaving it valid in no cookie.
    if let Some(previous) = session::secret() {
        let _ = api.delete("/sessions/current", Some(&previous)).await;
    }
    session::remember(&created.secret, (created.expires_at - Utc::now()).num_seconds());
    leptos_axum::redirect(if created.organizer { "/" } else { "/me" });
    Ok(())
}

pub async fn sign_out(csrf: String) -> Result<(), ServerFnError> {
    session::check_csrf(&csrf)?;
    if let Some(secret) = session::secret() {
        // Revoked in the API, so the cookie is worth nothing even where a copy of it survives.
        match api()?.delete("/sessions/current", Some(&secret)).await {
            Ok(()) | Err(ApiError::Unauthorized(_)) => {}
            Err(e) => return Err(ServerFnError::new(format!("could not sign you out: {e}; try again"))),
        }
    }
    session::forget();
    leptos_axum::redirect("/");
    Ok(())
}

/// Replaces the signed-in participant's token. The visitor pastes it: a session may not replace
/// the token that opened it (a stolen cookie must not lock its owner out), and it must be the
/// signed-in participant's own. The new token waits in a cookie for `/me/token` to show once;
/// the session ended with the old token, so one is opened with the new token.
pub async fn replace_token(token: String, csrf: String) -> Result<(), ServerFnError> {
    let secret = session_for_form(&csrf)?;
    let token = token.trim();
    if !session::plausible(token) {
        return Err(ServerFnError::new("paste your token (the one 'darkroom register' printed) to replace it"));
    }
    let api = api()?;
    let failed = |e: ApiError| ServerFnError::new(e.to_string());
    let signed_in = match who(&api, &secret).await.map_err(failed)? {
        Me::Participant(p) => p.id,
        Me::Organizer => {
            return Err(ServerFnError::new(
                "the organizer's admin token is replaced in the configuration (submissions.admin_token), not here",
            ));
        }
    };
    match who(&api, token).await.map_err(failed)? {
        Me::Participant(p) if p.id == signed_in => {}
        _ => {
            return Err(ServerFnError::new(
                "that is not your token: paste the token of the participant signed in here",
            ));
        }
    }
    let replaced = match api.post::<ReplacedToken>("/me/token", Some(token)).await {
        Ok(replaced) => replaced,
        // Refused: nothing changed, and the API says why.
        Err(
            e @ (ApiError::Unauthorized(_) | ApiError::Forbidden(_) | ApiError::Refused(_) | ApiError::NotFound(_)),
        ) => {
            return Err(failed(e));
        }
        // The API may have replaced it and its answer been lost on the way.
        Err(e) => {
            return Err(ServerFnError::new(format!(
                "{e}; if your token now says it was replaced, ask the organizer to replace it for you"
            )));
        }
    };
    // Held first: the old token is dead already, so nothing after this may lose the new one.
    if !session::hold_new_token(&replaced.token) {
        return Err(ServerFnError::new(
            "your token was replaced, but the new one could not be kept for this page to show: ask the organizer \
             to replace it for you",
        ));
    }
    match api.post::<SessionCreated>("/sessions", Some(&replaced.token)).await {
        Ok(created) => session::remember(&created.secret, (created.expires_at - Utc::now()).num_seconds()),
        // The page shows the token all the same, and the sign-in link.
        Err(_) => session::forget(),
    }
    leptos_axum::redirect(session::NEW_TOKEN_PATH);
    Ok(())
}

/// The token a replacement just made, once: taking it clears its cookie, and the page that
/// shows it is never cached.
pub async fn take_new_token() -> Result<Option<String>, ServerFnError> {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.insert_header(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    }
    Ok(session::take_new_token())
}

/// Ends every session of the signed-in visitor's token (other browsers left signed in), this
/// one among them, and clears its cookie.
pub async fn sign_out_everywhere(csrf: String) -> Result<(), ServerFnError> {
    let secret = session_for_form(&csrf)?;
    match api()?.delete_for::<SessionsEnded>("/sessions", Some(&secret)).await {
        // Already signed out here: nothing of it is left to end.
        Ok(_) | Err(ApiError::Unauthorized(_)) => {}
        Err(e) => return Err(ServerFnError::new(format!("could not sign you out everywhere: {e}; try again"))),
    }
    session::forget();
    leptos_axum::redirect("/");
    Ok(())
}

pub async fn load_my_submissions() -> Result<Fetched<MyPage>, ServerFnError> {
    let Some(token) = session::secret() else { return signed_out() };
    let api = api()?;
    let (name, team) = match who(&api, &token).await {
        Ok(Me::Participant(p)) => (p.name, p.team),
        Ok(Me::Organizer) => {
            set_status(StatusCode::FORBIDDEN);
            return Ok(Fetched::Refused(
                "you are signed in as the organizer: open a challenge and follow 'All submissions'".into(),
            ));
        }
        Err(e) => {
            return match fetched::<()>(Err(e))? {
                Ok(()) | Err(Absent::SignedOut(_)) => signed_out(),
                Err(absent) => Ok(absent.into()),
            };
        }
    };
    let submissions = match fetched(api.get::<Vec<SubmissionView>>("/submissions?limit=200", Some(&token)).await)? {
        Ok(s) => s,
        Err(absent) => return Ok(absent.into()),
    };
    let mut challenges: Vec<&str> = submissions.iter().map(|s| s.challenge.as_str()).collect();
    challenges.sort_unstable();
    challenges.dedup();
    let mut ranking = Vec::new();
    for slug in challenges {
        // A challenge that cannot be read right now only goes without its chart.
        if let Ok(c) = api.get::<PublicChallenge>(&format!("/challenges/{}", segment(slug)), None).await {
            let direction = c.metrics.iter().find(|m| m.name == c.rank_by).map(|m| m.direction).unwrap_or_default();
            ranking.push(Ranking { challenge: c.slug, rank_by: c.rank_by, direction });
        }
    }
    let mut phases: Vec<(&str, &str)> = submissions.iter().map(|s| (s.challenge.as_str(), s.phase.as_str())).collect();
    phases.sort_unstable();
    phases.dedup();
    let mut selections = Vec::new();
    for (challenge, phase) in phases {
        let path = format!("/challenges/{}/phases/{}/selections", segment(challenge), segment(phase));
        // A phase whose selections cannot be read right now is left out, not the whole page.
        if let Ok(s) = api.get::<Selections>(&path, Some(&token)).await {
            selections.push(s);
        }
    }
    Ok(Fetched::Found(MyPage { name, team, submissions, ranking, selections }))
}

pub async fn load_submission(id: String) -> Result<Fetched<SubmissionPage>, ServerFnError> {
    let Some(token) = session::secret() else { return signed_out() };
    let api = api()?;
    let path = format!("/submissions/{}", segment(&id));
    let submission = match fetched(api.get::<ViewedSubmission>(&path, Some(&token)).await)? {
        Ok(s) => s,
        Err(absent) => return Ok(absent.into()),
    };
    // The API adds the owner's name only for the organizer: no second call to ask who this is.
    let organizer = matches!(submission, ViewedSubmission::Organizer(_));
    // Hidden logs (403) simply leave the section out; any other failure leaves it out too,
    // rather than failing the whole page.
    let logs = api.get::<RunLogView>(&format!("{path}/logs"), Some(&token)).await.ok();
    Ok(Fetched::Found(SubmissionPage { submission, logs, organizer }))
}

pub async fn load_all_submissions(slug: String) -> Result<Fetched<OrganizerPage>, ServerFnError> {
    let Some(token) = session::secret() else { return signed_out() };
    let api = api()?;
    let path = format!("/challenges/{}", segment(&slug));
    let challenge = match fetched(api.get::<PublicChallenge>(&path, None).await)? {
        Ok(c) => c,
        Err(absent) => return Ok(absent.into()),
    };
    let submissions = match fetched(
        api.get::<Vec<OrganizerSubmissionView>>(&format!("{path}/submissions?limit=1000"), Some(&token)).await,
    )? {
        Ok(s) => s,
        Err(absent) => return Ok(absent.into()),
    };
    let enrollments =
        match fetched(api.get::<Vec<OrganizerEnrollment>>(&format!("{path}/enrollments"), Some(&token)).await)? {
            Ok(p) => p,
            Err(absent) => return Ok(absent.into()),
        };
    let duplicates =
        match fetched(api.get::<Vec<DuplicateImage>>(&format!("{path}/duplicate-images"), Some(&token)).await)? {
            Ok(d) => d,
            Err(absent) => return Ok(absent.into()),
        };
    let announcements_path = format!("{path}/announcements");
    let (webhooks, announcements) =
        tokio::join!(webhook_logs(&api, &path, &token), api.get::<Vec<Announcement>>(&announcements_path, None),);
    let announcements = announcements.ok();
    Ok(Fetched::Found(OrganizerPage {
        slug: challenge.slug,
        title: challenge.title,
        submissions,
        enrollments,
        duplicates,
        webhooks,
        announcements,
    }))
}

/// The challenge's webhooks with their latest deliveries; None when any of it cannot be read.
async fn webhook_logs(api: &ApiClient, challenge_path: &str, token: &str) -> Option<Vec<WebhookLog>> {
    let hooks = api.get::<Vec<WebhookView>>(&format!("{challenge_path}/webhooks"), Some(token)).await.ok()?;
    let mut logs = Vec::with_capacity(hooks.len());
    for webhook in hooks {
        let deliveries =
            format!("{challenge_path}/webhooks/{}/deliveries?limit={}", segment(&webhook.id), WebhookLog::SHOWN);
        let deliveries = api.get::<Vec<WebhookDelivery>>(&deliveries, Some(token)).await.ok()?;
        logs.push(WebhookLog { webhook, deliveries });
    }
    Some(logs)
}

/// Only same-site paths (and only header-safe characters) are followed back after an action.
fn back_to(back: &str) -> &str {
    let same_site = back.starts_with('/') && !back.starts_with("//") && !back.starts_with("/\\");
    if same_site && back.len() <= 512 && back.bytes().all(|b| b.is_ascii_graphic()) { back } else { "/" }
}

async fn act(id: &str, action: &str, back: &str, csrf: &str) -> Result<(), ServerFnError> {
    let token = session_for_form(csrf)?;
    // Both actions answer with the submission as it is now.
    api()?
        .post::<SubmissionView>(&format!("/submissions/{}/{action}", segment(id)), Some(&token))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    leptos_axum::redirect(back_to(back));
    Ok(())
}

pub async fn cancel_submission(id: String, back: String, csrf: String) -> Result<(), ServerFnError> {
    act(&id, "cancel", &back, &csrf).await
}

pub async fn rerun_submission(id: String, back: String, csrf: String) -> Result<(), ServerFnError> {
    act(&id, "rerun", &back, &csrf).await
}

pub async fn set_submission_note(id: String, note: String, csrf: String) -> Result<(), ServerFnError> {
    let token = session_for_form(&csrf)?;
    // The API checks the note (length, one line, nothing invisible) and says what is wrong.
    api()?
        .put::<ViewedSubmission, _>(
            &format!("/submissions/{}/note", segment(&id)),
            Some(&token),
            &SubmissionNoteUpdate { note: Some(note) },
        )
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    leptos_axum::redirect(&format!("/submissions/{}", segment(&id)));
    Ok(())
}

pub async fn select_finals(
    challenge: String,
    phase: String,
    submissions: Vec<String>,
    csrf: String,
) -> Result<(), ServerFnError> {
    let token = session_for_form(&csrf)?;
    let submissions = submissions
        .iter()
        .map(|id| id.parse::<SubmissionId>().map_err(|e| ServerFnError::new(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let path = format!("/challenges/{}/phases/{}/selections", segment(&challenge), segment(&phase));
    // The API checks everything else (owner, COMPLETE, phase, limit, closed) and says why.
    api()?
        .put::<Selections, _>(&path, Some(&token), &SelectionsRequest { submissions })
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    leptos_axum::redirect("/me");
    Ok(())
}

/// The session a form acts with, once its CSRF token is checked.
fn session_for_form(csrf: &str) -> Result<String, ServerFnError> {
    let secret = session::secret().ok_or_else(|| ServerFnError::new("sign in first: your session has ended"))?;
    session::check_csrf(csrf)?;
    Ok(secret)
}

pub async fn join_challenge(slug: String, accept_rules: bool, code: String, csrf: String) -> Result<(), ServerFnError> {
    let token = session_for_form(&csrf)?;
    let code = Some(code.trim().to_owned()).filter(|c| !c.is_empty());
    let path = format!("/challenges/{}/join", segment(&slug));
    // The API checks the rules were accepted and the code, and says why not.
    api()?
        .post_json::<Enrollment, _>(&path, Some(&token), &JoinRequest { accept_rules, code })
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    leptos_axum::redirect(&format!("/challenges/{}", segment(&slug)));
    Ok(())
}

pub async fn team_action(
    slug: String,
    verb: String,
    name: String,
    code: String,
    member: String,
    csrf: String,
) -> Result<Option<String>, ServerFnError> {
    let token = session_for_form(&csrf)?;
    let api = api()?;
    let base = format!("/challenges/{}", segment(&slug));
    let token = Some(token.as_str());
    let code = TeamCode { code: code.trim().to_owned() };
    // The API applies the rules (size, deadline, the merge quota, captaincy) and says which one.
    let team: Option<Team> = match verb.as_str() {
        "create" => {
            Some(api.post_json(&format!("{base}/teams"), token, &CreateTeam { name: name.trim().into() }).await)
        }
        "join" => Some(api.post_json(&format!("{base}/teams/join"), token, &code).await),
        "merge" => Some(api.post_json(&format!("{base}/team/merge"), token, &code).await),
        "code" => Some(api.post(&format!("{base}/team/code"), token).await),
        "leave" => api.post::<()>(&format!("{base}/team/leave"), token).await.map(|()| None).transpose(),
        "remove" => Some(api.delete_for(&format!("{base}/team/members/{}", segment(&member)), token).await),
        other => {
            return Err(ServerFnError::new(format!(
                "'{other}' is not a team action: create, join, merge, leave, code or remove"
            )));
        }
    }
    .transpose()
    .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(team.and_then(|t| t.code))
}

pub async fn announce(slug: String, title: String, body: String, csrf: String) -> Result<(), ServerFnError> {
    let token = session_for_form(&csrf)?;
    let path = format!("/challenges/{}/announcements", segment(&slug));
    api()?
        .post_json::<Announcement, _>(&path, Some(&token), &PostAnnouncement { title, body })
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    back_to_organizer_page(&slug);
    Ok(())
}

pub async fn withdraw_announcement(slug: String, id: String, csrf: String) -> Result<(), ServerFnError> {
    let token = session_for_form(&csrf)?;
    let path = format!("/challenges/{}/announcements/{}", segment(&slug), segment(&id));
    api()?.delete(&path, Some(&token)).await.map_err(|e| ServerFnError::new(e.to_string()))?;
    back_to_organizer_page(&slug);
    Ok(())
}

/// Where the organizer's forms return a browser without scripts: their page of `slug`.
fn back_to_organizer_page(slug: &str) {
    leptos_axum::redirect(&format!("/challenges/{}/submissions", segment(slug)));
}

pub async fn decide_enrollment(
    slug: String,
    participant: String,
    verb: String,
    csrf: String,
) -> Result<(), ServerFnError> {
    let token = session_for_form(&csrf)?;
    if !matches!(verb.as_str(), "approve" | "reject" | "reinstate") {
        return Err(ServerFnError::new(format!("'{verb}' is not a decision: approve, reject or reinstate")));
    }
    let path = format!("/challenges/{}/enrollments/{}/{verb}", segment(&slug), segment(&participant));
    api()?
        .post_json::<EnrollmentDecision, _>(&path, Some(&token), &serde_json::json!({}))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    back_to_organizer_page(&slug);
    Ok(())
}

pub async fn disqualify_participant(
    slug: String,
    participant: String,
    reason: String,
    csrf: String,
) -> Result<(), ServerFnError> {
    let token = session_for_form(&csrf)?;
    let path = format!("/challenges/{}/enrollments/{}/disqualify", segment(&slug), segment(&participant));
    api()?
        .post_json::<EnrollmentDecision, _>(&path, Some(&token), &DisqualifyRequest { reason })
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    back_to_organizer_page(&slug);
    Ok(())
}
