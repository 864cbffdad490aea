//! Submissions: the states they move through, how their owner and the organizer see them, and
//! what a participant sends.
//!
//! ```text
//! QUEUED ──▶ PENDING ──▶ RUNNING ──▶ EVALUATING ──▶ COMPLETE
//!   │  ▲        │  │        │  │          │  │
//!   │  └────────┘  │        │  │          │  └──▶ FAILED
//!   │  (retry after a      │  └──▶ FAILED  └─────▶ QUEUED (platform retry)
//!   │   platform failure)  └─────▶ QUEUED (platform retry)
//!   └──▶ RUNNING, FAILED, CANCELLED;  PENDING ──▶ QUEUED, FAILED, CANCELLED
//! ```
//! COMPLETE, FAILED and CANCELLED are terminal. The transitions are pure rules of the state
//! itself, so they live with it: clients ask [`SubmissionState::is_cancellable`] and
//! [`SubmissionState::is_terminal`] of the same table the service enforces.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ParticipantId, SubmissionId};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubmissionState {
    /// Accepted and waiting for a runner.
    Queued,
    /// Taken by a runner but waiting for capacity (a node of the right type, free slots).
    Pending,
    Running,
    Evaluating,
    Complete,
    Failed,
    Cancelled,
}

use SubmissionState::{Cancelled, Complete, Evaluating, Failed, Pending, Queued, Running};

impl SubmissionState {
    pub const ALL: [SubmissionState; 7] = [Queued, Pending, Running, Evaluating, Complete, Failed, Cancelled];

    /// The word, as on the wire and in the database: `QUEUED`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Queued => "QUEUED",
            Pending => "PENDING",
            Running => "RUNNING",
            Evaluating => "EVALUATING",
            Complete => "COMPLETE",
            Failed => "FAILED",
            Cancelled => "CANCELLED",
        }
    }

    /// COMPLETE, FAILED or CANCELLED: nothing happens to it any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Complete | Failed | Cancelled)
    }

    /// Whether its owner or the organizer may still cancel it (no runner has started it).
    pub fn is_cancellable(self) -> bool {
        self.can_become(Cancelled)
    }

    /// Whether the state machine allows `self → to`.
    pub fn can_become(self, to: SubmissionState) -> bool {
        matches!(
            (self, to),
            (Queued, Pending | Running | Failed | Cancelled)
                | (Pending, Queued | Running | Failed | Cancelled)
                | (Running, Evaluating | Failed | Queued)
                | (Evaluating, Complete | Failed | Queued)
        )
    }

    /// The checked transition.
    pub fn transition(self, to: SubmissionState) -> Result<SubmissionState, TransitionError> {
        if self.can_become(to) { Ok(to) } else { Err(TransitionError { from: self, to }) }
    }

    /// How far along the happy path a state is; used to recognise stale, redelivered events.
    pub fn progress(self) -> u8 {
        match self {
            Queued => 0,
            Pending => 1,
            Running => 2,
            Evaluating => 3,
            Complete | Failed | Cancelled => 4,
        }
    }
}

/// The wire word; honours width and alignment (`{:<11}`).
impl fmt::Display for SubmissionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A word that is no [`SubmissionState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown state '{}'; expected one of QUEUED, PENDING, RUNNING, EVALUATING, COMPLETE, FAILED, CANCELLED",
            self.0
        )
    }
}

impl std::error::Error for UnknownState {}

/// Case-insensitive: `?state=failed` reads as FAILED.
impl FromStr for SubmissionState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionError {
    pub from: SubmissionState,
    pub to: SubmissionState,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a submission cannot go from {} to {}", self.from, self.to)
    }
}

impl std::error::Error for TransitionError {}

/// The longest note a participant may write on a submission, in characters.
pub const MAX_NOTE_CHARS: usize = 200;

/// `POST /challenges/{slug}/submissions`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitImage {
    /// An image in an allowed registry, e.g. `ghcr.io/team/model:1`.
    pub image: String,
    /// Your own words about it ("resnet50, lr 1e-3"): one line, at most 200 characters, shown
    /// to you and the organizer, never on a board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `POST /challenges/{slug}/submissions/tarball?note=`: the archive is the body, so its note
/// comes in the query.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TarballQuery {
    /// As [`SubmitImage::note`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `PUT /submissions/{id}/note`: replaces the note of one of your submissions, in any state;
/// `null` or an empty one removes it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionNoteUpdate {
    pub note: Option<String>,
}

/// `GET /submissions[?challenge=&state=&limit=]`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    /// As [`OrganizerListQuery::state`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// 1 to 1000; 100 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// `GET /challenges/{slug}/submissions[?state=&limit=]` (organizer).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizerListQuery {
    /// A [`SubmissionState`], in any case; read with its `FromStr` so a wrong word is answered
    /// with the list of right ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// 1 to 1000; 200 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// A submission as its owner sees it (and, inside [`OrganizerSubmissionView`], the organizer).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionView {
    pub id: SubmissionId,
    pub challenge: String,
    pub phase: String,
    pub state: SubmissionState,
    pub failure_reason: Option<String>,
    pub image: ImageView,
    pub image_digest: Option<String>,
    pub attempt: i32,
    pub counts_against_quota: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its participant's note ([`SubmitImage::note`]), if they wrote one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Only in the answer about one submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<TransitionView>>,
    /// What a COMPLETE submission scored, as its phase's feedback mode shows it (absent
    /// otherwise). Public split only: no private value is ever in a submission's view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<FeedbackScore>,
    /// What the current attempt's run used, once it finished (absent before, and when the run
    /// itself failed or was stopped; present when only its evaluation failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunUsage>,
}

/// What a finished run used, to size the next one against the challenge's `resources`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunUsage {
    /// How long the participant's container ran, start to exit (to the whole second in its
    /// participant's view where the challenge hides logs, as every time there is).
    pub duration_ms: u64,
    /// The most memory the engine reported the container using (its samples come about once
    /// a second: absent for a run too short to be sampled). In its participant's view only
    /// where the challenge shows them their logs: with logs hidden, nothing the program
    /// chooses leaves but its score, and a memory figure it sets could carry hidden data out.
    /// The organizer always sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
}

/// `ran 12.3 s, peak memory 143 MiB` (the CLI's and the pages' one wording).
impl std::fmt::Display for RunUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = self.duration_ms / 100;
        let (minutes, seconds) = (tenths / 600, tenths % 600);
        if minutes >= 60 {
            write!(f, "ran {} h {:02} min", minutes / 60, minutes % 60)?;
        } else if minutes > 0 {
            write!(f, "ran {minutes} min {:02} s", seconds / 10)?;
        } else {
            write!(f, "ran {}.{} s", seconds / 10, seconds % 10)?;
        }
        match self.peak_memory_bytes {
            Some(bytes) => write!(f, ", peak memory {} MiB", bytes.div_ceil(1 << 20)),
            None => Ok(()),
        }
    }
}

/// A submission's public score in its phase's feedback mode: `raw` the metrics as the
/// evaluation wrote them, `rounded` each rounded on the server to the phase's `decimals`,
/// `ladder` the participant's released ladder score after this submission, with the note
/// "no significant improvement" when this one's own score was not released.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackScore {
    pub metrics: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// In `rounded` feedback, the phase's decimals: the values have at most this many, and
    /// clients print exactly this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
}

/// The image as the participant gave it; the server-side tarball path stays private.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageView {
    /// `name` is the pinned `registry/repository@sha256:…` that runs; `requested` is what was
    /// submitted.
    Reference {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requested: Option<String>,
    },
    Tarball {
        sha256: String,
        size_bytes: u64,
    },
    /// What the service stored cannot be read back (it never shows the raw record).
    Unknown,
}

impl ImageView {
    /// For people: the name that runs, or the upload's short digest.
    pub fn label(&self) -> String {
        match self {
            ImageView::Reference { name, .. } => name.clone(),
            ImageView::Tarball { sha256, .. } => format!("upload sha256:{}", short_hex(sha256)),
            ImageView::Unknown => "(unknown)".into(),
        }
    }

    /// For a table's narrow column: [`label`](Self::label) with a pinned digest cut to 12 hex
    /// digits, as `docker images` prints ids (the page puts the whole label in a tooltip).
    pub fn short_label(&self) -> String {
        let label = self.label();
        match label.split_once("@sha256:") {
            Some((name, digest)) => format!("{name}@sha256:{}", short_hex(digest)),
            None => label,
        }
    }
}

/// A digest's first 12 characters (by character: the text comes from a server, never sliced
/// where it could panic).
fn short_hex(digest: &str) -> String {
    digest.chars().take(12).collect()
}

/// One line of a submission's history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionView {
    /// None on the first line (accepted).
    pub from: Option<SubmissionState>,
    pub to: SubmissionState,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// A submission as the organizer sees it: the participant's view, plus whose it is and the
/// failure detail participants never see.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizerSubmissionView {
    #[serde(flatten)]
    pub submission: SubmissionView,
    pub participant: ParticipantRef,
    pub failure_detail: Option<String>,
}

/// Whose a submission is, in the organizer's views.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantRef {
    pub id: ParticipantId,
    /// `(unknown)` when the participant's record is gone.
    pub name: String,
    pub team: Option<String>,
}

/// `GET /submissions/{id}`: what the viewer may see of a submission. The organizer's answer is
/// a superset of the owner's, so a client tells them apart by the `participant` field.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ViewedSubmission {
    // First: an untagged enum takes the first variant that reads, and an organizer's answer
    // would also read as the participant's.
    Organizer(OrganizerSubmissionView),
    Participant(SubmissionView),
}

impl ViewedSubmission {
    /// The fields both views share.
    pub fn submission(&self) -> &SubmissionView {
        match self {
            ViewedSubmission::Organizer(o) => &o.submission,
            ViewedSubmission::Participant(s) => s,
        }
    }

    /// Whose it is: the organizer's view only.
    pub fn participant(&self) -> Option<&ParticipantRef> {
        match self {
            ViewedSubmission::Organizer(o) => Some(&o.participant),
            ViewedSubmission::Participant(_) => None,
        }
    }

    /// The failure's detail: the organizer's view only.
    pub fn failure_detail(&self) -> Option<&str> {
        match self {
            ViewedSubmission::Organizer(o) => o.failure_detail.as_deref(),
            ViewedSubmission::Participant(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_complete_failed_and_cancelled_are_terminal_and_go_nowhere() {
        let terminal: Vec<_> = SubmissionState::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [Complete, Failed, Cancelled]);
        for from in terminal {
            for to in SubmissionState::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
        let cancellable: Vec<_> = SubmissionState::ALL.into_iter().filter(|s| s.is_cancellable()).collect();
        assert_eq!(cancellable, [Queued, Pending]);
    }

    #[test]
    fn happy_path_and_failures() {
        let mut s = Queued;
        for to in [Pending, Running, Evaluating, Complete] {
            s = s.transition(to).unwrap();
        }
        for from in [Queued, Pending, Running, Evaluating] {
            assert!(from.can_become(Failed));
        }
        assert!(Running.transition(Cancelled).is_err(), "only queued work may be cancelled");
        assert!(Queued.transition(Complete).is_err());
        assert_eq!(
            Evaluating.transition(Running).unwrap_err().to_string(),
            "a submission cannot go from EVALUATING to RUNNING"
        );
    }

    #[test]
    fn states_parse_in_any_case_and_serialise_in_capitals() {
        for s in SubmissionState::ALL {
            assert_eq!(s.as_str().parse::<SubmissionState>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert_eq!("failed".parse::<SubmissionState>(), Ok(Failed));
        assert_eq!(format!("[{Queued:<8}]"), "[QUEUED  ]");
        let e = "DONE".parse::<SubmissionState>().unwrap_err().to_string();
        assert!(e.starts_with("unknown state 'DONE'; expected one of QUEUED"), "{e}");
    }

    fn view(history: Option<Vec<TransitionView>>) -> SubmissionView {
        let at: DateTime<Utc> = "2028-01-02T03:04:05.678Z".parse().unwrap();
        SubmissionView {
            id: "0190a7c2-5b1e-7c3d-8e4f-0123456789ab".parse().unwrap(),
            challenge: "c".into(),
            phase: "dev".into(),
            state: Queued,
            failure_reason: None,
            image: ImageView::Reference { name: "r/m@sha256:ab".into(), requested: None },
            image_digest: None,
            attempt: 1,
            counts_against_quota: true,
            created_at: at,
            updated_at: at,
            note: None,
            history,
            score: None,
            run: None,
        }
    }

    #[test]
    fn a_run_reads_in_the_unit_its_length_needs() {
        let run = |duration_ms, peak_memory_bytes| RunUsage { duration_ms, peak_memory_bytes }.to_string();
        assert_eq!(run(12_345, Some(150 << 20)), "ran 12.3 s, peak memory 150 MiB");
        assert_eq!(run(999, Some(1)), "ran 0.9 s, peak memory 1 MiB");
        assert_eq!(run(125_000, None), "ran 2 min 05 s");
        assert_eq!(run(3_723_000, None), "ran 1 h 02 min");
    }

    #[test]
    fn a_submission_keeps_its_wire_spelling() {
        let json = serde_json::to_string(&view(None)).unwrap();
        assert_eq!(
            json,
            r#"{"id":"0190a7c2-5b1e-7c3d-8e4f-0123456789ab","challenge":"c","phase":"dev","state":"QUEUED","failure_reason":null,"image":{"kind":"reference","name":"r/m@sha256:ab"},"image_digest":null,"attempt":1,"counts_against_quota":true,"created_at":"2028-01-02T03:04:05.678Z","updated_at":"2028-01-02T03:04:05.678Z"}"#
        );
        assert_eq!(serde_json::from_str::<SubmissionView>(&json).unwrap(), view(None));
        let mut scored = view(None);
        scored.score = Some(FeedbackScore {
            metrics: BTreeMap::from([("accuracy".into(), 0.5)]),
            note: Some("no significant improvement".into()),
            decimals: None,
        });
        let json = serde_json::to_string(&scored).unwrap();
        assert!(
            json.ends_with(r#","score":{"metrics":{"accuracy":0.5},"note":"no significant improvement"}}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<SubmissionView>(&json).unwrap(), scored);
        let tar = ImageView::Tarball { sha256: "0123456789abcdef".into(), size_bytes: 5 };
        assert_eq!(
            serde_json::to_string(&tar).unwrap(),
            r#"{"kind":"tarball","sha256":"0123456789abcdef","size_bytes":5}"#
        );
        assert_eq!(tar.label(), "upload sha256:0123456789ab");
        assert_eq!(tar.short_label(), tar.label());
    }

    #[test]
    fn a_tables_image_label_cuts_the_pinned_digest_to_twelve_digits() {
        let digest = "2abe122256b5027acdca10cdcf3c514587480d2c185704c67b375d88d74f8514e";
        let pinned = ImageView::Reference { name: format!("127.0.0.1:5000/pictured@sha256:{digest}"), requested: None };
        assert_eq!(pinned.label(), format!("127.0.0.1:5000/pictured@sha256:{digest}"));
        assert_eq!(pinned.short_label(), "127.0.0.1:5000/pictured@sha256:2abe122256b5");
        let tagged = ImageView::Reference { name: "r/m:1".into(), requested: None };
        assert_eq!(tagged.short_label(), "r/m:1");
        // Whatever a server sends, nothing is cut inside a character.
        let odd = ImageView::Tarball { sha256: "ééééééééééééé".into(), size_bytes: 1 };
        assert_eq!(odd.short_label(), "upload sha256:éééééééééééé");
        assert_eq!(ImageView::Unknown.short_label(), "(unknown)");
    }

    #[test]
    fn the_organizers_view_flattens_and_reads_back_as_the_organizers() {
        let at = view(None).created_at;
        let history = vec![TransitionView { from: None, to: Queued, reason: Some("accepted".into()), at }];
        let organizer = ViewedSubmission::Organizer(OrganizerSubmissionView {
            submission: view(Some(history)),
            participant: ParticipantRef {
                id: "0190a7c2-0000-7000-8000-000000000001".parse().unwrap(),
                name: "Ada".into(),
                team: None,
            },
            failure_detail: None,
        });
        let json = serde_json::to_value(&organizer).unwrap();
        assert_eq!(json["participant"]["name"], "Ada");
        assert_eq!(json["history"][0]["from"], serde_json::Value::Null);
        assert_eq!(json["history"][0]["to"], "QUEUED");
        assert!(json.get("failure_detail").is_some_and(serde_json::Value::is_null));
        let back: ViewedSubmission = serde_json::from_value(json).unwrap();
        assert_eq!(back, organizer);
        assert_eq!(back.participant().map(|p| p.name.as_str()), Some("Ada"));
        let owner: ViewedSubmission = serde_json::from_value(serde_json::to_value(view(None)).unwrap()).unwrap();
        assert!(matches!(owner, ViewedSubmission::Participant(_)) && owner.failure_detail().is_none());
    }
}
