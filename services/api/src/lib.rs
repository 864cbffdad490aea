//! The shapes of Darkroom's HTTP API (`/api/v1`), defined once for everyone who speaks it: the
//! submissions service serialises them, the web pages (on the server and in the browser's wasm),
//! the `darkroom` CLI and the integration tests deserialise them.
//!
//! - [`ids`]: [`SubmissionId`] and [`ParticipantId`], typed UUIDs that parse fallibly.
//! - [`announcement`]: what an organizer tells a challenge's participants.
//! - [`challenge`]: a challenge as the public sees it and the value types of its spec (metrics
//!   and their direction, phases, quotas, resources, node type), its dataset listing.
//! - [`submission`]: the submission state machine, submissions as their owner and as the
//!   organizer see them, the image and timeline views, the submit body and list queries.
//! - [`leaderboard`]: a phase's ranking and the live feed's score update.
//! - [`board_history`]: the best score over time of a board's top lines, for charts.
//! - [`final_board`]: final selections, and the private board sealed until the reveal.
//! - [`receipt`]: score receipts, their signing keys, a challenge's chain and board exports.
//! - [`participant`]: registration, `/me` and web sessions.
//! - [`quota`]: where a participant stands against a challenge's submission quotas.
//! - [`enrollment`]: joining a challenge (open, by invite code, or by approval), invites and the
//!   organizer's approval list.
//! - [`team`]: teams within a challenge, and images two teams both submitted.
//! - [`logs`]: a run's log lines.
//! - [`token`]: scoped, expiring tokens a holder mints for scripts and co-organizers.
//! - [`verification`]: an organizer's re-run of a scored submission and how it compares.
//! - [`webhook`]: URLs the organizer registers to be told of a challenge's changes, and what
//!   they are sent.
//! - [`error`]: the one error body every 4xx and 5xx carries.
//!
//! # What may be a dependency
//!
//! serde and chrono, which every shape needs, and `uuid` (without default features: no RNG, no
//! `std`), because ids are part of the API's shapes: a [`SubmissionId`] is a UUID on the wire,
//! and parsing it here is what makes an unparsable id an error instead of a default. uuid builds
//! for `wasm32-unknown-unknown` without an RNG as long as no `v4`/`v7` generator is enabled;
//! services mint ids with their own uuid (`SubmissionId::from(Uuid::now_v7())`). Anything more
//! (HTTP, databases, configuration) belongs to the services, so that CI can build this crate for
//! wasm (`cargo build -p darkroom-api --target wasm32-unknown-unknown`).
//!
//! The one exception is behind the `openapi` feature, off by default: `utoipa`'s `ToSchema` on
//! every shape (and `IntoParams` on the query strings), from which the submissions service
//! derives the API's OpenAPI document (`services/submissions/src/routes/openapi.rs`). Only that
//! service turns it on, so the wasm and the CLI never build it.
//!
//! # The wire format
//!
//! Field names, enum spellings and which optional fields are omitted rather than `null` are the
//! API's contract; the integration tests check them as raw JSON, and this crate's unit tests pin
//! a few spellings. Shapes built by the server never deny unknown fields unless they are also
//! request bodies (request bodies and the spec's value types do: a typo is named, not ignored).
//!
//! # What is not here, and why
//!
//! - The challenge spec itself (`darkroom_core::domain::ChallengeSpec`, the body of
//!   `POST`/`PUT /challenges` and the answer of `GET /challenges/{slug}/spec`): it is an
//!   organizer's document with host paths and registry credentials, parsed from TOML or YAML and
//!   validated against the host's filesystem, and nobody reads it field by field as a client.
//!   It is built from this crate's value types ([`Metric`], [`Phase`], [`Quotas`],
//!   [`Resources`], [`NodeType`]), so those are written once.
//! - A `ChallengeSlug` newtype: a challenge's only identifier is its slug, a plain string in
//!   URLs, events and score documents. Its rules are checked by the spec's validation, which
//!   reports every problem of a spec at once; a validating newtype would fail deserialisation
//!   at the first bad slug instead, and a non-validating one would only rename `String`.
//! - The health endpoints (`/healthz`, `/readyz`): every service binary serves them, not only
//!   the API, and their bodies are read by people, not clients.

pub mod announcement;
pub mod board_history;
pub mod challenge;
pub mod enrollment;
pub mod error;
pub mod final_board;
pub mod ids;
pub mod leaderboard;
pub mod logs;
pub mod participant;
pub mod quota;
pub mod receipt;
pub mod rescore;
pub mod submission;
pub mod team;
pub mod token;
pub mod verification;
pub mod webhook;

pub use announcement::{
    Announcement, AnnouncementHeadline, EditAnnouncement, MAX_ANNOUNCEMENT_BODY_CHARS, MAX_ANNOUNCEMENT_TITLE_CHARS,
    MAX_ANNOUNCEMENTS_PER_CHALLENGE, PostAnnouncement,
};
pub use board_history::{BoardHistory, HISTORY_TOP, HistoryPoint, HistorySeries};
pub use challenge::{
    Aggregate, ChallengeListQuery, ChallengeStatus, ChallengeSummary, DEFAULT_FINAL_SELECTIONS,
    DEFAULT_OUTPUT_MAX_DEPTH, DEFAULT_OUTPUT_MAX_FILES, DatasetFile, DatasetListing, Direction, Feedback, Metric,
    NodeType, Phase, PublicChallenge, Quotas, Resources, Reveal, TreeFingerprint,
};
pub use enrollment::{
    Disqualification, DisqualifyRequest, Enrollment, EnrollmentDecision, EnrollmentListQuery, EnrollmentMode,
    EnrollmentState, Invite, InviteRequest, JoinRequest, MAX_DISQUALIFICATION_REASON_CHARS, OrganizerEnrollment,
};
pub use error::{ErrorBody, ErrorDetail, FieldError};
pub use final_board::{FinalBoard, FinalBoardRow, PrivateBoard, RowInterval, Selections, SelectionsRequest};
pub use ids::{ParseIdError, ParticipantId, SubmissionId, VerificationId};
pub use leaderboard::{Leaderboard, LeaderboardEntry, LeaderboardQuery, ScoreInterval, ScoreUpdate};
pub use logs::{LogLine, LogsQuery, RunLogView};
pub use participant::{Me, Profile, Registered, Registration, SessionCreated, SessionsEnded};
pub use quota::{DailyStanding, QuotaHolder, QuotaStanding, TotalStanding};
pub use receipt::{
    ChainHead, ExportFormat, ExportQuery, ExportedBoard, ExportedRow, GENESIS_HASH, MAX_CHAIN_PAGE, RECEIPT_FORMAT,
    Receipt, ReceiptChainPage, ReceiptChainQuery, ReceiptClaims, ReceiptKey, ReceiptKeys, ReceiptLimits, SealedValues,
    SignedReceipt,
};
pub use rescore::{BoardGeneration, RescoreFailure, RescoreList, RescoreProgress, RescoreRequest, RescoreState};
pub use submission::{
    FeedbackScore, ImageView, MAX_NOTE_CHARS, OrganizerListQuery, OrganizerSubmissionView, ParticipantRef, RunUsage,
    SubmissionListQuery, SubmissionNoteUpdate, SubmissionState, SubmissionView, SubmitImage, TarballQuery,
    TransitionError, TransitionView, UnknownState, ViewedSubmission,
};
pub use team::{CreateTeam, DuplicateEntrant, DuplicateImage, Team, TeamCode, TeamMember};
pub use token::{
    CurrentCredential, DEFAULT_TOKEN_HOURS, MAX_TOKEN_HOURS, MintToken, MintedToken, ReplacedToken, TokenScope,
    TokenView,
};
pub use verification::{Condition, MetricComparison, RerunReport, RerunVerdict, Verification, VerificationState};
pub use webhook::{
    BoardChange, CreateWebhook, CreatedWebhook, DeliveriesQuery, DeliveryState, SubmissionChange, WebhookData,
    WebhookDelivery, WebhookEvent, WebhookPayload, WebhookView,
};
