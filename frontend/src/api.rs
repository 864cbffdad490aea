//! Server functions: what the pages may ask for. Each runs on the server, calls the
//! submissions API with the visitor's session (its secret in an HttpOnly cookie set by
//! [`SignIn`]; the token itself is never kept) and returns
//! only what that visitor may see. The browser calls the same functions over HTTP when it
//! re-fetches (a live leaderboard refresh, an organizer's action).
//!
//! What they return is the API's own shapes (`darkroom_api`), grouped per page by the structs
//! below: these are the pages' contract with their server, not the HTTP API's.

use chrono::{DateTime, Utc};
use darkroom_api::{
    Announcement, AnnouncementHeadline, BoardHistory, ChallengeSummary, DatasetListing, Direction, DuplicateImage,
    Enrollment, Leaderboard, Me, Metric, OrganizerEnrollment, OrganizerSubmissionView, PrivateBoard, PublicChallenge,
    QuotaStanding, RunLogView, Selections, SubmissionId, SubmissionView, Team, ViewedSubmission, WebhookDelivery,
    WebhookView,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A challenge page's data, fetched in one round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengePage {
    /// The challenge, its `description` and `dataset_description` emptied: the page carries
    /// them as HTML below instead.
    pub challenge: PublicChallenge,
    /// The challenge's description (Markdown) as sanitised HTML, rendered on the server (see
    /// `server::markdown`): the browser sets this same string, it never renders Markdown.
    pub description_html: String,
    /// The dataset's description, likewise.
    pub dataset_html: String,
    /// None when the dataset cannot be listed right now; the page says so. Its `description`
    /// is emptied too (it is `dataset_html`).
    pub dataset: Option<DatasetListing>,
    /// The organizer's announcements, newest first, their bodies as sanitised HTML. Empty too
    /// when they cannot be read right now: the challenge is still worth showing.
    pub announcements: Vec<AnnouncementHtml>,
    /// Where the visitor stands with the challenge, if they are a signed-in participant.
    pub participant: Option<ParticipantStanding>,
    /// The server's clock when the page was made, so countdowns agree before the browser ticks.
    pub now: DateTime<Utc>,
}

/// An announcement ready to show: its Markdown rendered and sanitised on the server (see
/// `server::markdown`), like the challenge's description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnouncementHtml {
    pub id: String,
    pub title: String,
    pub body_html: String,
    pub posted_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// A signed-in participant's enrollment in the challenge they look at (None: not joined), their
/// team there (None: in none, or the challenge has no teams), and where they stand against its
/// quotas (None: not joined, or no phase open).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantStanding {
    pub enrollment: Option<Enrollment>,
    pub team: Option<Team>,
    pub quota: Option<QuotaStanding>,
}

/// A leaderboard page: the board plus what the page needs around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardPage {
    pub title: String,
    pub metrics: Vec<Metric>,
    pub phases: Vec<String>,
    pub board: Leaderboard,
    /// The phase's private board as the public sees it (open, sealed, revealed); None when it
    /// cannot be read right now.
    pub private: Option<PrivateBoard>,
    /// The best score over time of the board's top lines, read with the board (so a live
    /// refresh redraws the chart too); None when it cannot be read right now.
    pub history: Option<BoardHistory>,
    /// The organizer's newest announcement, linked above the board (read with the challenge, so
    /// a live refresh brings a new one too).
    pub latest_announcement: Option<AnnouncementHeadline>,
    /// The signed-in participant's line: `Some(None)` when they have none on this board yet;
    /// `None` for everyone else (signed out, the organizer).
    pub yours: Option<Option<SubmissionId>>,
}

/// One submission with what its owner (or the organizer) may see of its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionPage {
    pub submission: ViewedSubmission,
    /// None where the organizer keeps logs private.
    pub logs: Option<RunLogView>,
    pub organizer: bool,
}

/// A participant's own page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyPage {
    pub name: String,
    pub team: Option<String>,
    pub submissions: Vec<SubmissionView>,
    /// How each challenge the participant submitted to ranks (for the charts of their scores).
    pub ranking: Vec<Ranking>,
    /// The final selections of each phase the participant submitted to.
    pub selections: Vec<Selections>,
}

/// What a challenge ranks by: the metric and which way it improves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    pub challenge: String,
    pub rank_by: String,
    pub direction: Direction,
}

/// The organizer's view of one challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizerPage {
    pub slug: String,
    pub title: String,
    pub submissions: Vec<OrganizerSubmissionView>,
    /// Everyone who joined or asked to, oldest first: the page shows who waits for approval
    /// and who is disqualified, and offers the others to disqualify.
    pub enrollments: Vec<OrganizerEnrollment>,
    /// Images more than one team (or lone participant) submitted: likely one person behind
    /// several accounts.
    pub duplicates: Vec<DuplicateImage>,
    /// The challenge's webhooks, each with its latest deliveries; None when they cannot be read
    /// right now (the page says so rather than failing).
    pub webhooks: Option<Vec<WebhookLog>>,
    /// The challenge's announcements, newest first (their titles are what this page shows);
    /// None when they cannot be read right now (the page says so; the form to post stays).
    pub announcements: Option<Vec<Announcement>>,
}

/// A webhook and its latest deliveries, newest first (at most [`WebhookLog::SHOWN`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookLog {
    pub webhook: WebhookView,
    pub deliveries: Vec<WebhookDelivery>,
}

impl WebhookLog {
    /// How many deliveries the organizer's page shows per webhook; the CLI lists more.
    pub const SHOWN: u64 = 20;
}

/// Who is visiting, and the CSRF token their forms carry (see `server::session`): one round trip
/// for the header and every form on the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visitor {
    /// Who is signed in (the API's `/me`), if anyone.
    pub me: Option<Me>,
    pub csrf: String,
}

/// A page's data, or why there is none. Failures of the platform itself (the API unreachable)
/// are `Err(ServerFnError)` and render as the server-error page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Fetched<T> {
    Found(T),
    /// No such challenge, phase or submission (for this visitor).
    NotFound(String),
    /// The page needs a token and there is none, or it is no longer valid.
    SignedOut(String),
    /// Signed in, but this visitor may not see it (e.g. a participant on an organizer page).
    Refused(String),
}

#[server(prefix = "/fn", endpoint = "challenges")]
pub async fn list_challenges() -> Result<Vec<ChallengeSummary>, ServerFnError> {
    crate::server::fns::list_challenges().await
}

#[server(prefix = "/fn", endpoint = "challenge")]
pub async fn load_challenge(slug: String) -> Result<Fetched<ChallengePage>, ServerFnError> {
    crate::server::fns::load_challenge(slug).await
}

#[server(prefix = "/fn", endpoint = "leaderboard")]
pub async fn load_leaderboard(slug: String, phase: Option<String>) -> Result<Fetched<LeaderboardPage>, ServerFnError> {
    crate::server::fns::load_leaderboard(slug, phase).await
}

/// Who is signed in, if anyone, and the CSRF token of the visitor's forms.
#[server(prefix = "/fn", endpoint = "viewer")]
pub async fn current_visitor() -> Result<Visitor, ServerFnError> {
    crate::server::fns::current_visitor().await
}

// Every action below takes `csrf`, the hidden field of its form, and refuses to act without the
// visitor's (a missing one reads as empty, so the refusal says what is wrong).

/// Opens a session with the token, keeps the session's secret (never the token) in an HttpOnly
/// cookie and goes to the visitor's page; a wrong token comes back as an error the form shows.
#[server(prefix = "/fn", endpoint = "sign-in")]
pub async fn sign_in(token: String, #[server(default)] csrf: String) -> Result<(), ServerFnError> {
    crate::server::fns::sign_in(token, csrf).await
}

/// Ends the session in the API and clears the cookie.
#[server(prefix = "/fn", endpoint = "sign-out")]
pub async fn sign_out(#[server(default)] csrf: String) -> Result<(), ServerFnError> {
    crate::server::fns::sign_out(csrf).await
}

/// Replaces the signed-in participant's token (pasted to confirm), then goes to `/me/token`,
/// which shows the new one once.
#[server(prefix = "/fn", endpoint = "replace-token")]
pub async fn replace_token(token: String, #[server(default)] csrf: String) -> Result<(), ServerFnError> {
    crate::server::fns::replace_token(token, csrf).await
}

/// Signs out every browser the visitor's token signed in, this one too.
#[server(prefix = "/fn", endpoint = "sign-out-everywhere")]
pub async fn sign_out_everywhere(#[server(default)] csrf: String) -> Result<(), ServerFnError> {
    crate::server::fns::sign_out_everywhere(csrf).await
}

/// The token a replacement just made, if this visitor has one waiting; taking it forgets it.
/// Under `/me/token`, the one path its cookie is sent to.
#[server(prefix = "/me/token", endpoint = "take")]
pub async fn take_new_token() -> Result<Option<String>, ServerFnError> {
    crate::server::fns::take_new_token().await
}

#[server(prefix = "/fn", endpoint = "me")]
pub async fn load_my_submissions() -> Result<Fetched<MyPage>, ServerFnError> {
    crate::server::fns::load_my_submissions().await
}

#[server(prefix = "/fn", endpoint = "submission")]
pub async fn load_submission(id: String) -> Result<Fetched<SubmissionPage>, ServerFnError> {
    crate::server::fns::load_submission(id).await
}

#[server(prefix = "/fn", endpoint = "organizer")]
pub async fn load_all_submissions(slug: String) -> Result<Fetched<OrganizerPage>, ServerFnError> {
    crate::server::fns::load_all_submissions(slug).await
}

/// Cancels a QUEUED or PENDING submission (its owner or the organizer).
#[server(prefix = "/fn", endpoint = "cancel")]
pub async fn cancel_submission(id: String, back: String, #[server(default)] csrf: String) -> Result<(), ServerFnError> {
    crate::server::fns::cancel_submission(id, back, csrf).await
}

/// Writes (or, empty, clears) the note of one of the signed-in participant's submissions; back to
/// its page.
#[server(prefix = "/fn", endpoint = "note")]
pub async fn set_submission_note(
    id: String,
    #[server(default)] note: String,
    #[server(default)] csrf: String,
) -> Result<(), ServerFnError> {
    crate::server::fns::set_submission_note(id, note, csrf).await
}

/// Joins the challenge for the signed-in participant, who ticked that they accept its rules
/// (and gave the invite code where the challenge needs one); back to the challenge's page.
#[server(prefix = "/fn", endpoint = "join")]
pub async fn join_challenge(
    slug: String,
    #[server(default)] accept_rules: bool,
    #[server(default)] code: String,
    #[server(default)] csrf: String,
) -> Result<(), ServerFnError> {
    crate::server::fns::join_challenge(slug, accept_rules, code, csrf).await
}

/// What a participant does with teams in a challenge, by `verb`: `create` a team (`name`), `join`
/// one or `merge` theirs into one (the other team's `code`), `leave`, or, as captain, `code` (a
/// new invite code; the old one stops working) and `remove` a `member`. Returns the team's
/// invite code where the API shows one (create, code): once, so the page shows it then.
#[server(prefix = "/fn", endpoint = "team")]
pub async fn team_action(
    slug: String,
    verb: String,
    #[server(default)] name: String,
    #[server(default)] code: String,
    #[server(default)] member: String,
    #[server(default)] csrf: String,
) -> Result<Option<String>, ServerFnError> {
    crate::server::fns::team_action(slug, verb, name, code, member, csrf).await
}

/// The organizer posts an announcement to the challenge's participants from their page; back
/// to it. The API checks the title and the Markdown body and says what is wrong.
#[server(prefix = "/fn", endpoint = "announce")]
pub async fn announce(
    slug: String,
    title: String,
    #[server(default)] body: String,
    #[server(default)] csrf: String,
) -> Result<(), ServerFnError> {
    crate::server::fns::announce(slug, title, body, csrf).await
}

/// The organizer removes one of the challenge's announcements; back to their page.
#[server(prefix = "/fn", endpoint = "withdraw")]
pub async fn withdraw_announcement(
    slug: String,
    id: String,
    #[server(default)] csrf: String,
) -> Result<(), ServerFnError> {
    crate::server::fns::withdraw_announcement(slug, id, csrf).await
}

/// The organizer approves (`verb` = `approve`) or rejects (`reject`) a participant's request to
/// join, or reinstates (`reinstate`) a disqualified one; back to the organizer's page.
#[server(prefix = "/fn", endpoint = "decide")]
pub async fn decide_enrollment(
    slug: String,
    participant: String,
    verb: String,
    #[server(default)] csrf: String,
) -> Result<(), ServerFnError> {
    crate::server::fns::decide_enrollment(slug, participant, verb, csrf).await
}

/// The organizer disqualifies a participant, saying why; back to the organizer's page.
#[server(prefix = "/fn", endpoint = "disqualify")]
pub async fn disqualify_participant(
    slug: String,
    participant: String,
    reason: String,
    #[server(default)] csrf: String,
) -> Result<(), ServerFnError> {
    crate::server::fns::disqualify_participant(slug, participant, reason, csrf).await
}

/// Replaces the participant's final selections in a phase with the ticked submissions; none
/// ticked clears them (the platform then counts their N best by public score).
#[server(prefix = "/fn", endpoint = "select")]
pub async fn select_finals(
    challenge: String,
    phase: String,
    #[server(default)] submissions: Vec<String>,
    #[server(default)] csrf: String,
) -> Result<(), ServerFnError> {
    crate::server::fns::select_finals(challenge, phase, submissions, csrf).await
}

/// Queues a finished submission again as a new one (organizer only).
#[server(prefix = "/fn", endpoint = "rerun")]
pub async fn rerun_submission(id: String, back: String, #[server(default)] csrf: String) -> Result<(), ServerFnError> {
    crate::server::fns::rerun_submission(id, back, csrf).await
}
